//! The storage interface every stream store implements: memory, file, IndexedDB.
//!
//! Modelled on nats-server's `StreamStore`/`ConsumerStore` (`server/store.go`): a store keeps the
//! messages of one stream by sequence, answers lookups by sequence and by subject filter, removes
//! and purges, and keeps each consumer's persisted state. It knows nothing of stream policies
//! (limits, dedup, retention): the [`crate::core::stream`] layer decides, the store obeys.
//!
//! The trait is synchronous. A store may buffer writes; [`StreamStore::sync`] is the durability
//! point, and says which of the two kinds it is ([`Synced`]): the memory and file stores are
//! durable when it returns `Ok(Synced::Durable)`; the IndexedDB store only queues a commit
//! (`Ok(Synced::Queued)`) that the browser shell makes later, and the engine waits for the
//! shell's word on it ([`crate::core::engine::Engine::flush_done`] /
//! [`crate::core::engine::Engine::flush_failed`]). Either way the engine releases a PubAck only
//! once its message is durable (the server per batch, the browser per IndexedDB transaction).
//!
//! Every implementation passes the same conformance suite (`conformance.rs`).

pub(crate) mod delegate;
pub mod faulty;
pub mod memory;

#[cfg(test)]
pub(crate) mod conformance;

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::core::time::Nanos;

/// A stream sequence number. The first message of a stream has sequence 1 unless `first_seq` says
/// otherwise; 0 means "none".
pub type Seq = u64;

/// Bytes a message counts for in stream state and limits: subject, headers and payload, plus a
/// fixed 16-byte overhead (sequence and timestamp), the same in every store.
pub fn record_size(subject: &str, headers: Option<&Bytes>, payload: &Bytes) -> u64 {
    (subject.len() + headers.map_or(0, |h| h.len()) + payload.len() + 16) as u64
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    /// The literal subject it was published to.
    pub subject: String,
    /// Its stream sequence.
    pub seq: Seq,
    /// When it was stored (Unix nanoseconds, from the caller's `now`).
    pub time: Nanos,
    /// The raw `NATS/1.0` header block, if any.
    pub headers: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
}

impl StoredMsg {
    /// The bytes this message counts for (see [`record_size`]).
    pub fn size(&self) -> u64 {
        record_size(&self.subject, self.headers.as_ref(), &self.payload)
    }
}

/// Totals of a whole stream.
///
/// An empty stream has `msgs == 0` and `first_seq == last_seq + 1`, except a store that never
/// took a sequence, purge or compact, which reports 0 and 0 (as nats-server does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Messages stored.
    pub msgs: u64,
    /// Bytes stored (sum of [`record_size`]).
    pub bytes: u64,
    /// Sequence of the first stored message; when empty, the sequence the next message will get.
    pub first_seq: Seq,
    /// Time of the first stored message (0 when none).
    pub first_ts: Nanos,
    /// Highest sequence assigned (by a store or a skip, or moved by a compact past the end);
    /// removing or purging messages never lowers it.
    pub last_seq: Seq,
    /// Time of the most recent `store_msg`, kept when that message is later removed or purged;
    /// a `skip_msg` sets it only while it is still 0 (as nats-server does). 0 before any store or
    /// skip.
    pub last_ts: Nanos,
    /// Distinct subjects among the stored messages.
    pub num_subjects: u64,
    /// Sequences between `first_seq` and `last_seq` that hold no message (removed or skipped);
    /// 0 when the stream is empty.
    pub num_deleted: u64,
}

/// Totals of the messages matching a filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimpleState {
    /// Messages matching.
    pub msgs: u64,
    /// First matching sequence (0 when none).
    pub first: Seq,
    /// Last matching sequence (0 when none).
    pub last: Seq,
}

/// A pair of consumer and stream sequences, as in ConsumerInfo's `delivered` and `ack_floor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequencePair {
    /// Consumer sequence (counts deliveries, redeliveries included).
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: Seq,
}

/// A delivered message waiting for its ack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingAck {
    /// Consumer sequence of the latest delivery.
    pub consumer_seq: u64,
    /// When it was last delivered.
    pub timestamp: Nanos,
}

/// What a consumer must persist to resume after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerState {
    /// Highest delivered sequences.
    pub delivered: SequencePair,
    /// Everything at or below these sequences is acknowledged.
    pub ack_floor: SequencePair,
    /// Delivered and not yet acknowledged, by stream sequence.
    pub pending: BTreeMap<Seq, PendingAck>,
    /// Redeliveries (deliveries minus one) of messages delivered more than once, by stream sequence.
    pub redelivered: BTreeMap<Seq, u64>,
}

/// A consumer as the store keeps it: its config (JSON, as the API received it), creation time and
/// state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The consumer's config, serialized as JSON.
    pub config: Vec<u8>,
    /// When the consumer was created.
    pub created: Nanos,
    /// Its delivery and ack state.
    pub state: ConsumerState,
}

/// What a successful [`StreamStore::sync`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Everything stored before the call is durable now (memory, file).
    Durable,
    /// Everything stored before the call is queued for a commit the shell makes later (the
    /// IndexedDB store): durable once the engine's flush ticket that asked for it is done
    /// ([`StreamStore::queued_sync_done`] tells the store).
    Queued,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No message has this sequence (never stored, removed or purged).
    #[error("no message found")]
    NotFound,
    /// No message at or after the start sequence matches the filter.
    #[error("no more messages")]
    Eof,
    /// The store was deleted or closed.
    #[error("store is closed")]
    Closed,
    /// The medium has no room left (disk full, IndexedDB quota).
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// A stored record failed validation (checksum, framing).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The medium failed.
    #[error("storage I/O error: {0}")]
    Io(String),
}

/// The storage of one stream's messages and its consumers' state.
///
/// Conventions shared by every method:
/// - A filter is a subject filter (`*`, `>` wildcards); `""` and `">"` match every message.
///   Filters are assumed valid (the stream layer validates them).
/// - A `start` sequence below `first_seq` (0 included) means "from the first message".
/// - After [`StreamStore::delete`] every method returning `Result` fails with
///   [`StoreError::Closed`]; the others answer as for an empty stream.
pub trait StreamStore {
    /// Stores a message at `last_seq + 1` and returns that sequence. When the stream was empty,
    /// `first_seq` becomes that sequence. Fails with [`StoreError::QuotaExceeded`] when
    /// `last_seq` is already `u64::MAX` (only reachable through a compact to the very end).
    fn store_msg(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Result<Seq, StoreError>;

    /// Takes the next sequence without storing anything. In a non-empty stream the sequence then
    /// counts as deleted; in an empty one `first_seq` moves past it (the stream stays empty).
    /// Fails like [`StreamStore::store_msg`] when the sequence space is exhausted.
    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError>;

    /// The message with this sequence; [`StoreError::NotFound`] when none (never stored, skipped,
    /// removed, purged or compacted away).
    fn load_msg(&self, seq: Seq) -> Result<StoredMsg, StoreError>;

    /// The first message with sequence `>= start` whose subject matches `filter` (`""` or `>` match
    /// all); [`StoreError::Eof`] when there is none.
    fn load_next_msg(&self, filter: &str, start: Seq) -> Result<StoredMsg, StoreError>;

    /// The last message whose subject matches `filter`; [`StoreError::NotFound`] when none.
    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError>;

    /// Removes one message; `Ok(false)` when it was not there. Removing the first message moves
    /// `first_seq` to the next stored one (`last_seq + 1` when none is left); `last_seq` stays.
    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError>;

    /// Removes messages matching `filter` with sequence below `below_seq` (0 = no bound), keeping
    /// the newest `keep` matching messages (0 = keep none; the kept ones are the newest of all
    /// matching, whatever `below_seq`). Returns how many were removed.
    ///
    /// As in nats-server's `PurgeEx`: `below_seq == 1` removes nothing; when the filter matches
    /// everything and `keep == 0`, this is [`StreamStore::compact`]`(below_seq)` (so a `below_seq`
    /// past the end empties the stream and the next message gets `below_seq`), and with
    /// `below_seq == 0` too it empties the stream with `first_seq = last_seq + 1`, sequences
    /// continuing from `last_seq`.
    fn purge(&mut self, filter: &str, below_seq: Seq, keep: u64) -> Result<u64, StoreError>;

    /// Removes every message below `seq` and returns how many. When `seq <= last_seq`,
    /// `first_seq` becomes the first stored sequence `>= seq` (`last_seq + 1` when none). When
    /// `seq > last_seq` the stream becomes empty with `first_seq == seq` and
    /// `last_seq == seq - 1`, so the next message gets `seq` (this is how `first_seq` in a config
    /// is applied). `seq == 0` purges everything, as [`StreamStore::purge`]`("", 0, 0)`; a `seq`
    /// at or below `first_seq` changes nothing.
    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError>;

    /// Totals of the whole stream.
    fn state(&self) -> StreamState;

    /// Totals of the messages with sequence `>= start` matching `filter` (all zero when none).
    fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState;

    /// Per-subject totals (whole stream, no start) of the stored subjects matching `filter`.
    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState>;

    /// Messages with sequence `>= start` matching `filter`; with `last_per_subject`, the number of
    /// matching subjects whose last message is `>= start`.
    fn num_pending(&self, start: Seq, filter: &str, last_per_subject: bool) -> u64;

    /// Sequences between `first_seq` and `last_seq` that hold no message, ascending (empty when
    /// the stream is empty); its length is `state().num_deleted`.
    fn deleted(&self) -> Vec<Seq>;

    /// Makes everything stored so far durable now ([`Synced::Durable`]), or queues it for the
    /// shell's next commit ([`Synced::Queued`]; see the module docs).
    fn sync(&mut self) -> Result<Synced, StoreError>;

    /// The oldest [`Synced::Queued`] sync not yet completed is durable: the shell's commit of
    /// it succeeded. Queued syncs complete in the order they were made. Stores whose shell
    /// commits for them need do nothing (the default).
    fn queued_sync_done(&mut self) {}

    /// Every [`Synced::Queued`] sync not yet completed failed: the shell's commit of the oldest
    /// failed, and the later ones were built on it. What they carried is unsynced again (the
    /// engine rolls it back or syncs it again). The default does nothing.
    fn queued_sync_failed(&mut self) {}

    /// After a failed [`StreamStore::sync`]: drops every message write made since the last
    /// successful sync (stores, removals, purges), so the store holds exactly its durable state
    /// again, on disk and in memory, and nothing dropped can become durable later. Consumer
    /// records are not touched. `Ok(false)` when the store cannot (the default: stores whose
    /// sync never fails); nothing changed then.
    fn discard_unsynced(&mut self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Durably records the stream's identity, `{"config": …, "created": …}` as JSON, before a
    /// create or update is acknowledged; on failure the engine refuses the create or update.
    /// Stores whose shell keeps configs elsewhere (or not at all, as memory streams) accept and
    /// ignore it.
    fn save_meta(&mut self, meta: &[u8]) -> Result<(), StoreError> {
        let _ = meta;
        Ok(())
    }

    /// Persists a consumer (created or changed), replacing any record of the same name.
    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError>;

    /// Persists a consumer whose state nobody waits on (acks without a reply, deliveries): as
    /// [`StreamStore::save_consumer`], except that a store may return before the record is
    /// durable against a power loss, as long as the process being killed loses nothing and a
    /// power loss leaves an earlier record of the consumer, never none (its loss only means
    /// messages delivered again, which at-least-once delivery allows); until
    /// [`StreamStore::sync_consumers`]. The default saves.
    fn write_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.save_consumer(name, record)
    }

    /// Makes every consumer record [`StreamStore::write_consumer`] wrote durable. The default
    /// has nothing to do (its writes are saves).
    fn sync_consumers(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Forgets a consumer; forgetting an unknown one is not an error.
    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError>;

    /// Every persisted consumer, by name.
    fn consumers(&self) -> Result<BTreeMap<String, ConsumerRecord>, StoreError>;

    /// Removes all messages and consumers and releases the storage; the store is closed after
    /// (a second `delete` fails with [`StoreError::Closed`] too).
    fn delete(&mut self) -> Result<(), StoreError>;
}
