//! A stream: a JetStream stream config applied to the publishes that reach one store.
//!
//! [`Stream`] owns a [`StreamStore`] and decides what it keeps: it checks the publisher's
//! expectations (`Nats-Expected-*`), drops duplicates (`Nats-Msg-Id`), rolls up (`Nats-Rollup`),
//! enforces the limits with the discard policy, ages messages out, and answers purge, get and
//! delete, all as nats-server's `server/stream.go` and `memstore.go` do, error codes included.
//!
//! Tour: [`config`] is the JSON config and `validate.rs` its rules (create and update);
//! `publish.rs` is the publish pipeline, reading headers with `pub_headers.rs`; `limits.rs` the
//! limits, discard policies and ageing;
//! `ops.rs` purge, get and delete; [`info`] the replies (`PubAck`, `StreamInfo`); `dedup.rs` the
//! duplicate table; `removals.rs` the journal of removed messages the engine passes on to
//! consumers; `transforms.rs` the `subject_transform` of stored subjects and `republish`;
//! `mirrored.rs` storing a mirror's messages at the origin's sequences.
//!
//! Cross-stream rules (subjects overlapping another stream, how many streams) and consumers
//! (interest, work-queue acks) belong to the engine: it tells [`Stream::publish`] whether anyone
//! is interested and calls [`Stream::remove_msg`] when acks release a message.

pub mod config;
mod dedup;
pub mod info;
mod limits;
pub mod mirrored;
mod ops;
mod origins;
pub use origins::RECORD as ORIGINS_RECORD;
mod pub_headers;
mod publish;
mod removals;
mod transforms;
mod ttl;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::core::error::{ApiError, ErrorKind};
use crate::core::headers::{find_header, NATS_MSG_ID};
use crate::core::store::{Seq, StoreError, StreamState, StreamStore};
use crate::core::time::Nanos;

pub use config::{
    DiscardPolicy, PersistMode, Placement, RePublish, RetentionPolicy, StorageType,
    StoreCompression, StreamConfig, StreamConsumerLimits, SubjectTransformConfig,
};
pub use info::{
    ClusterInfo, InfoOptions, PubAck, StreamInfo, StreamStateInfo, SubjectsPaging,
    MAX_SUBJECT_DETAILS,
};
pub use ops::{MsgGetRequest, PurgeRequest};
pub use pub_headers::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, NATS_TTL};
pub use removals::Removal;
pub use ttl::NATS_MARKER_REASON;
pub use validate::{
    is_valid_name, DEFAULT_DUPLICATE_WINDOW, MAX_DESCRIPTION_LEN, MAX_METADATA_LEN, MAX_NAME_LEN,
    MAX_REPLICAS,
};

use dedup::Dedup;

/// One stream: its validated config, its store, and the publish-side state nats-server keeps in
/// memory (the duplicate table and the last message id).
pub struct Stream {
    config: StreamConfig,
    created: Nanos,
    store: Box<dyn StreamStore>,
    dedup: Dedup,
    /// `Nats-Msg-Id` of the last message stored ("" when it had none), for
    /// `Nats-Expected-Last-Msg-Id`.
    last_msg_id: String,
    /// The name every PubAck carries (a name never changes).
    ack_name: Arc<str>,
    /// What was removed since the engine last looked (see `removals.rs`).
    removals: Vec<removals::Removal>,
    /// The compiled `subject_transform` and `republish` (see `transforms.rs`).
    transforms: transforms::Transforms,
    /// The republished copy of the last message stored, until the engine takes it.
    republished: Option<crate::core::message::Outbound>,
    /// Messages with a per-message TTL, by expiry (see `ttl.rs`).
    ttls: ttl::TtlIndex,
    /// Expired messages waiting for their subject delete marker, until the engine takes them.
    markers: std::collections::BTreeMap<Seq, String>,
    /// Every stored message below this sequence says `Nats-TTL: never` (ageing starts here).
    aged_floor: Seq,
    /// Upload origins' high-water marks (see `origins.rs`).
    origins: origins::Origins,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("name", &self.config.name)
            .field("created", &self.created)
            .field("state", &self.store.state())
            .field("dedup_ids", &self.dedup.len())
            .finish()
    }
}

impl Stream {
    /// Creates a stream on a fresh store: validates the config as a stream create does, and
    /// starts the sequence at `first_seq` when the config sets one.
    pub fn create(
        config: StreamConfig,
        mut store: Box<dyn StreamStore>,
        now: Nanos,
    ) -> Result<Stream, ApiError> {
        let config = config.validated()?;
        config.check_create()?;
        let state = store.state();
        if config.first_seq > 0 && state.last_seq == 0 && state.msgs == 0 {
            store
                .compact(config.first_seq)
                .map_err(|e| ApiError::with_detail(ErrorKind::StreamCreate, e))?;
        }
        Ok(Stream {
            created: now,
            store,
            ack_name: config.name.as_str().into(),
            transforms: transforms::Transforms::of(&config, now as u64),
            config,
            dedup: Dedup::default(),
            last_msg_id: String::new(),
            removals: Vec::new(),
            republished: None,
            ttls: ttl::TtlIndex::default(),
            markers: Default::default(),
            aged_floor: 0,
            origins: origins::Origins::default(),
        })
    }

    /// Reopens a stream over a store that already holds its messages, rebuilding the duplicate
    /// table from the messages still inside the duplicate window and the TTL index from the
    /// stored `Nats-TTL` headers (what expired meanwhile is due at once).
    pub fn recover(
        config: StreamConfig,
        created: Nanos,
        store: Box<dyn StreamStore>,
        now: Nanos,
    ) -> Result<Stream, ApiError> {
        let config = config.validated()?;
        let mut stream = Stream {
            ack_name: config.name.as_str().into(),
            transforms: transforms::Transforms::of(&config, now as u64),
            config,
            created,
            store,
            dedup: Dedup::default(),
            last_msg_id: String::new(),
            removals: Vec::new(),
            republished: None,
            ttls: ttl::TtlIndex::default(),
            markers: Default::default(),
            aged_floor: 0,
            origins: origins::Origins::default(),
        };
        stream.rebuild_dedup(now);
        stream.rebuild_ttls();
        Ok(stream)
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The stream's validated config.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// When the stream was created.
    pub fn created(&self) -> Nanos {
        self.created
    }

    /// The store, for reads (consumers load messages through it).
    pub fn store(&self) -> &dyn StreamStore {
        self.store.as_ref()
    }

    /// The store, for writes the stream does not mediate (consumer state, sync).
    pub fn store_mut(&mut self) -> &mut dyn StreamStore {
        self.store.as_mut()
    }

    /// Replaces the config with `new` if the update rules allow it, and applies tighter limits
    /// at once (discard-old trimming, per-subject trimming, ageing).
    pub fn update(&mut self, new: StreamConfig, now: Nanos) -> Result<(), ApiError> {
        let config = self.config.check_update(&new)?;
        let old = std::mem::replace(&mut self.config, config);
        self.compile_transforms();
        if self.config.allow_msg_ttl && !old.allow_msg_ttl {
            self.rebuild_ttls();
        }
        self.enforce_on_update(&old)?;
        if self.config.max_age != 0 {
            self.expire(now)?;
        }
        Ok(())
    }

    /// The store's totals.
    pub fn state(&self) -> StreamState {
        self.store.state()
    }

    /// Rebuilds the duplicate table from the messages stored within the window before `now`.
    /// After its store went back to its last sync (see
    /// [`crate::core::store::StreamStore::discard_unsynced`]): forgets what it knew of the
    /// messages that went (their duplicate ids, the last message id, removals and a republished
    /// copy not yet taken), rebuilding the duplicate table from the store as a recovery does.
    pub(crate) fn forget_discarded(&mut self, now: Nanos) {
        self.dedup = Dedup::default();
        self.last_msg_id.clear();
        self.removals.clear();
        self.republished = None;
        self.markers.clear();
        let last_seq = self.store.state().last_seq;
        self.ttls.forget_after(last_seq);
        // The sequences taken back will be used again, by messages that must age.
        self.aged_floor = self.aged_floor.min(last_seq + 1);
        self.origins.reset();
        self.rebuild_dedup(now);
    }

    /// Takes the upload origins' marks saved in the store (`origins::RECORD`) at restore.
    pub(crate) fn restore_origins(&mut self, saved: &[u8]) {
        self.origins.restore(saved);
    }

    /// After a successful sync: saves the upload origins' marks when messages were removed
    /// since they were last saved (see `origins.rs`); whether it wrote.
    pub(crate) fn save_origins(&mut self) -> Result<bool, StoreError> {
        let Some(config) = self.origins.take_to_save(self.store.as_ref()) else {
            return Ok(false);
        };
        let record = crate::core::store::ConsumerRecord {
            config,
            created: 0,
            state: Default::default(),
        };
        self.store.save_consumer(ORIGINS_RECORD, record)?;
        Ok(true)
    }

    fn rebuild_dedup(&mut self, now: Nanos) {
        let window = self.config.duplicate_window;
        let state = self.store.state();
        if window <= 0 || state.msgs == 0 {
            return;
        }
        let mut seq = seq_from_time(self.store.as_ref(), now.saturating_sub(window));
        // Each step moves past one stored message, so this ends after at most `msgs` steps.
        while let Ok(msg) = self.store.load_next_msg("", seq) {
            let id = msg
                .headers
                .as_deref()
                .and_then(|h| find_header(h, NATS_MSG_ID))
                .unwrap_or("");
            if !id.is_empty() {
                self.dedup.insert(id, msg.seq, msg.time, window);
            }
            if msg.seq == state.last_seq {
                self.last_msg_id = id.to_string();
            }
            seq = msg.seq + 1;
        }
    }
}

/// The sequence of the first message stored at or after `t` (`last_seq + 1` when none), found
/// by bisection so that reopening a large stream reads O(log n) messages, not all of them.
/// Assumes timestamps do not decrease with sequence, as the caller's clock provides them.
pub(crate) fn seq_from_time(store: &dyn StreamStore, t: Nanos) -> Seq {
    let state = store.state();
    if state.msgs == 0 {
        return state.last_seq + 1;
    }
    if t <= state.first_ts {
        return state.first_seq;
    }
    // Invariant: every message below `lo` is older than `t`; the answer is the first message at
    // or after `lo` whose time is >= t, and none in [lo, hi) qualifies unless found.
    let (mut lo, mut hi) = (state.first_seq, state.last_seq + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match store.load_next_msg("", mid) {
            Ok(msg) if msg.seq < hi => {
                if msg.time >= t {
                    hi = msg.seq;
                } else {
                    lo = msg.seq + 1;
                }
            }
            // Nothing stored in [mid, hi): the answer lies below mid, or is hi itself.
            _ => hi = mid,
        }
    }
    match store.load_next_msg("", lo) {
        Ok(msg) if msg.time >= t => msg.seq,
        _ => state.last_seq + 1,
    }
}
