//! The commit queue: the changes stores make, waiting for the shell to commit them to IndexedDB
//! in ONE transaction per flush (`db.rs` applies them, in order).

use std::cell::RefCell;
use std::rc::Rc;

use crate::core::store::Seq;

/// One change to the database, applied in queue order inside one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Put a packed segment at `[stream, start]`.
    PutSegment {
        /// Stream name.
        stream: String,
        /// The segment's key sequence.
        start: Seq,
        /// The encoded segment ([`super::codec::SegmentWriter`]).
        bytes: Vec<u8>,
    },
    /// Delete the segment at `[stream, start]`.
    DeleteSegment {
        /// Stream name.
        stream: String,
        /// Its key's sequence.
        start: Seq,
    },
    /// Delete the stream's segments keyed from `from` up to `below` (to the last when `None`),
    /// in one key-range delete.
    DeleteSegments {
        /// Stream name.
        stream: String,
        /// Lowest key deleted.
        from: Seq,
        /// Exclusive upper bound of the keys deleted.
        below: Option<Seq>,
    },
    /// Put the stream's sequence state.
    PutState {
        /// Stream name.
        stream: String,
        /// Encoded [`super::codec::SeqState`].
        bytes: Vec<u8>,
    },
    /// Put the stream's config and creation time (written by the shell).
    PutMeta {
        /// Stream name.
        stream: String,
        /// Encoded [`super::codec::StreamMeta`].
        bytes: Vec<u8>,
    },
    /// Put a consumer record at `[stream, name]`.
    PutConsumer {
        /// Stream name.
        stream: String,
        /// Consumer name.
        name: String,
        /// Encoded record.
        bytes: Vec<u8>,
    },
    /// Delete the consumer record at `[stream, name]`.
    DeleteConsumer {
        /// Stream name.
        stream: String,
        /// Consumer name.
        name: String,
    },
    /// Delete everything of a stream: meta, state, segments, consumers.
    DeleteStream {
        /// Stream name.
        stream: String,
    },
}

/// Writes waiting for the shell's next commit, shared by every store of one database.
pub type CommitQueue = Rc<RefCell<Vec<Write>>>;
