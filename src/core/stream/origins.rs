//! Each upload origin's high-water mark: exactly once past the duplicate window.
//!
//! A Contrail upload (`core::sync::upload`) carries `Contrail-Origin-Seq: <origin>:<stream>:<seq>`
//! (its local stream and sequence) and, on every publish but the first after the uploader
//! (re)started from its cursor, `Contrail-Origin-Prev: <seq>`, the local sequence it sent just
//! before. The stream keeps, per `<origin>:<stream>`, the highest local sequence stored (and the
//! stream sequence it was stored at):
//! - a publish at or below the mark is answered as a duplicate (with the mark's stream
//!   sequence: after the duplicate window the exact one is not known), however long after;
//! - a publish whose `Prev` is above the mark (or that names a `Prev` when there is no mark) is
//!   refused with 10071 "wrong last sequence": an earlier publish of the same window was
//!   refused, and storing this one would put the origin's messages out of order, then make the
//!   earlier one look like a duplicate when it is sent again. The uploader starts again from
//!   its cursor, without `Prev` on the first publish (everything before it is acknowledged).
//!
//! The marks are rebuilt from the stored messages' headers, once, the first time a publish with
//! the header reaches the stream after it was opened (streams that never take uploads never pay
//! for the scan), and again after the store went back to its last sync. A stored message is
//! durable before its PubAck leaves, so the rebuilt marks cover everything acknowledged, kill -9
//! included, while some message of the origin is still stored. For the origins whose messages
//! were removed (limits, purge, delete), the marks are also written through the store when
//! messages went: as a record among the stream's consumer records, named [`RECORD`] (a name no
//! client can give a consumer), saved after a successful sync (so it never claims a message
//! that is not durable; if it is lost in a crash before the next sync, the worst is a repeat
//! stored again, never a message taken for a repeat) and folded into the rebuilt marks when the
//! stream is restored (`engine/restore.rs`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::core::headers::find_header;
use crate::core::store::{Seq, StreamStore};
use crate::core::sync::origin::{self, ORIGIN_PREV_HEADER, ORIGIN_SEQ_HEADER};

/// The consumer-record name the marks are saved under (a `.` makes it no valid consumer name).
pub const RECORD: &str = "_contrail.origins";

/// The highest local sequence of one origin's stream stored here, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Mark {
    local: u64,
    stored_at: Seq,
}

/// What the marks say about one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OriginVerdict {
    /// Not an upload, or a new message in order: store it.
    Store,
    /// At or below the mark: a repeat of what is stored (at this stream sequence, or earlier).
    Duplicate(Seq),
    /// Out of order (its predecessor is not stored): refuse, with the mark.
    OutOfOrder(u64),
}

/// The marks of every origin that uploaded to this stream.
#[derive(Debug, Default)]
pub(super) struct Origins {
    /// Rebuilt from the store since it was opened or went back.
    built: bool,
    marks: HashMap<String, Mark>,
    /// The marks as last saved or restored: the floor of every rebuild.
    saved: HashMap<String, Mark>,
    /// The store's `last_seq - msgs` (how many sequences are not stored: removed or skipped)
    /// when the marks were last saved or judged: it grows exactly when messages go.
    gone: Option<u64>,
}

/// The saved form.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    contrail_origins: HashMap<String, Mark>,
}

impl Origins {
    /// Forgets what it learned from messages; rebuilt from the store (and the saved marks) on
    /// next use.
    pub(super) fn reset(&mut self) {
        self.built = false;
        self.marks = HashMap::new();
    }

    /// Takes the marks saved in the stream's [`RECORD`] (at restore). Unreadable: ignored (the
    /// duplicate window still holds).
    pub(super) fn restore(&mut self, saved: &[u8]) {
        if let Ok(saved) = serde_json::from_slice::<Saved>(saved) {
            self.saved = saved.contrail_origins;
            self.reset();
        }
    }

    /// After a successful sync of `store` (everything stored is durable): the marks to save,
    /// if messages were removed since they were last saved and they changed.
    pub(super) fn take_to_save(&mut self, store: &dyn StreamStore) -> Option<Vec<u8>> {
        if !self.built || self.marks.is_empty() {
            return None;
        }
        let state = store.state();
        let gone = state.last_seq.saturating_sub(state.msgs);
        let before = self.gone.replace(gone);
        if before.is_some_and(|before| gone <= before) || self.marks == self.saved {
            return None;
        }
        self.saved = self.marks.clone();
        serde_json::to_vec(&Saved {
            contrail_origins: self.saved.clone(),
        })
        .ok()
    }

    /// Judges a publish with header block `headers`.
    pub(super) fn check(&mut self, headers: &[u8], store: &dyn StreamStore) -> OriginVerdict {
        let Some(value) = find_header(headers, ORIGIN_SEQ_HEADER) else {
            return OriginVerdict::Store;
        };
        let Some(parsed) = origin::parse(value) else {
            return OriginVerdict::Store;
        };
        self.build(store);
        let mark = self.marks.get(parsed.source);
        if let Some(mark) = mark {
            if parsed.seq <= mark.local {
                return OriginVerdict::Duplicate(mark.stored_at);
            }
        }
        let Some(prev) = find_header(headers, ORIGIN_PREV_HEADER) else {
            return OriginVerdict::Store;
        };
        let prev: u64 = prev.parse().unwrap_or(u64::MAX);
        match mark {
            Some(mark) if prev <= mark.local => OriginVerdict::Store,
            Some(mark) => OriginVerdict::OutOfOrder(mark.local),
            None => OriginVerdict::OutOfOrder(0),
        }
    }

    /// Notes that a publish with `headers` was stored at `seq`.
    pub(super) fn stored(&mut self, headers: &[u8], seq: Seq) {
        if !self.built {
            return; // no upload reached it since it opened; the rebuild will see this one
        }
        self.note(headers, seq);
    }

    fn note(&mut self, headers: &[u8], seq: Seq) {
        let Some(parsed) = find_header(headers, ORIGIN_SEQ_HEADER).and_then(origin::parse) else {
            return;
        };
        let mark = Mark {
            local: parsed.seq,
            stored_at: seq,
        };
        match self.marks.get_mut(parsed.source) {
            Some(old) if old.local >= mark.local => {}
            Some(old) => *old = mark,
            None => {
                self.marks.insert(parsed.source.to_string(), mark);
            }
        }
    }

    /// Reads every stored message's header once (see the module docs).
    fn build(&mut self, store: &dyn StreamStore) {
        if self.built {
            return;
        }
        self.built = true;
        self.marks = self.saved.clone();
        let mut seq = 0;
        // Each step moves past one stored message, so this ends after at most `msgs` steps.
        while let Ok(msg) = store.load_next_msg("", seq) {
            if let Some(headers) = msg.headers.as_deref() {
                self.note(headers, msg.seq);
            }
            seq = msg.seq + 1;
        }
    }
}
