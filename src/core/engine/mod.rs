//! The engine: every stream and consumer of one JetStream account, behind one sans-IO surface.
//!
//! A shell (the server, the browser binding, a test) drives it like quinn drives a connection:
//!
//! 1. hand it each message a client publishes with [`Engine::handle`] (API requests, acks, flow
//!    control replies and stream captures; it says whether JetStream took the message);
//! 2. call [`Engine::flush`] once per batch: it syncs every store written since the last flush and
//!    only then releases the replies that batch produced (group commit: a PubAck or an ack reply
//!    never leaves before the data it confirms is durable);
//! 3. send what [`Engine::poll_outbound`] yields;
//! 4. call [`Engine::handle_timeout`] when [`Engine::poll_timeout`] says (redelivery, pull request
//!    expiry, heartbeats, max_age), then flush and drain again.
//!
//! Typed methods ([`Engine::create_stream`], [`Engine::publish`], …) serve shells that do not
//! speak JSON; the `$JS.API` layer in [`crate::core::api`] is written on top of them.

mod acks;
mod consumers;
mod resources;
pub use consumers::CreateAction;
mod interest;
pub use interest::InterestOracle;
mod restore;
mod retention;
mod streams;
pub use restore::SkippedConsumer;
pub use streams::stream_meta;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::core::consumer::Consumer;
use crate::core::message::{Message, Outbound};
use crate::core::store::{StoreError, StreamStore};
use crate::core::stream::{Stream, StreamConfig};
use crate::core::subject_index::SubjectIndex;
use crate::core::time::Nanos;

/// Builds the store for a new stream (memory, file or IndexedDB, as the shell decides).
pub type StoreFactory = Box<dyn FnMut(&StreamConfig) -> Result<Box<dyn StreamStore>, StoreError>>;

/// Account-wide limits and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Most streams the account may hold (`None`: unlimited).
    pub max_streams: Option<usize>,
    /// Most consumers across all streams (`None`: unlimited).
    pub max_consumers: Option<usize>,
    /// JetStream domain reported in PubAcks and account info.
    pub domain: Option<String>,
    /// Memory storage limit in bytes (-1: unlimited), reported in account info.
    pub max_memory: i64,
    /// File storage limit in bytes (-1: unlimited), reported in account info.
    pub max_storage: i64,
    /// The server's memory storage limit in bytes (`jetstream { max_memory_store }`, or the
    /// shell's default; -1: unlimited). Enforced with the account's (see `resources.rs`).
    pub server_max_memory: i64,
    /// The server's file storage limit in bytes (`jetstream { max_file_store }`, or the shell's
    /// default; -1: unlimited).
    pub server_max_storage: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_streams: None,
            max_consumers: None,
            domain: None,
            max_memory: -1,
            max_storage: -1,
            server_max_memory: -1,
            server_max_storage: -1,
        }
    }
}

/// One stream and the consumers reading it.
pub(crate) struct StreamSlot {
    pub(crate) stream: Stream,
    pub(crate) consumers: BTreeMap<String, Consumer>,
}

/// Most stream names [`Engine::take_changed_streams`] lists before it says `All` instead.
const MAX_LISTED_CHANGES: usize = 1024;

/// Which streams' configs changed; see [`Engine::take_changed_streams`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedStreams {
    /// These streams (maybe none).
    Some(BTreeSet<String>),
    /// Too many to list: any stream may have changed.
    All,
}

impl Default for ChangedStreams {
    fn default() -> Self {
        ChangedStreams::Some(BTreeSet::new())
    }
}

/// Counters reported in `$JS.API.INFO`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiStats {
    /// API requests handled.
    pub total: u64,
    /// API requests answered with an error.
    pub errors: u64,
}

/// All JetStream state of one account. See the module docs for how a shell drives it.
pub struct Engine {
    config: EngineConfig,
    make_store: StoreFactory,
    pub(crate) streams: BTreeMap<String, StreamSlot>,
    /// Stream subjects → stream name, for routing publishes.
    routes: SubjectIndex<String>,
    /// Push consumers by deliver subject, and which subjects have subscribers.
    interest: interest::PushInterest,
    /// Replies and deliveries in order; only the first `released` may leave.
    outbox: VecDeque<Outbound>,
    released: usize,
    /// Streams written since the last flush.
    dirty: BTreeSet<String>,
    /// Streams whose last sync failed, with the error: publishes to them are refused at once
    /// until a sync succeeds (see [`Engine::flush`]).
    failing: BTreeMap<String, StoreError>,
    /// Replies that describe no unsynced write (refusals, reads while a store is failing): they
    /// leave at once, without waiting for a flush to succeed.
    immediate: VecDeque<Outbound>,
    /// Bytes stored per storage type, as of the last flush plus what was stored since.
    usage: resources::Usage,
    /// Streams created, updated, restored or deleted since [`Engine::take_changed_streams`].
    changed_streams: ChangedStreams,
    pub(crate) api_stats: ApiStats,
    rng: u64,
}

impl Engine {
    /// An engine with no streams. `seed` feeds the generator of ephemeral consumer names and flow
    /// control subjects (the core reads no randomness of its own).
    pub fn new(config: EngineConfig, make_store: StoreFactory, seed: u64) -> Engine {
        Engine {
            config,
            make_store,
            streams: BTreeMap::new(),
            routes: SubjectIndex::new(),
            interest: interest::PushInterest::default(),
            outbox: VecDeque::new(),
            released: 0,
            dirty: BTreeSet::new(),
            failing: BTreeMap::new(),
            immediate: VecDeque::new(),
            usage: resources::Usage::default(),
            changed_streams: ChangedStreams::default(),
            api_stats: ApiStats::default(),
            rng: seed | 1,
        }
    }

    /// An engine whose streams all live in memory, for tests, Node and edge workers.
    pub fn in_memory(seed: u64) -> Engine {
        let factory: StoreFactory =
            Box::new(|_| Ok(Box::new(crate::core::store::memory::MemoryStore::new())));
        Engine::new(EngineConfig::default(), factory, seed)
    }

    /// The account limits this engine enforces.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Takes in a message a client published. Returns `true` when JetStream handled it (an API
    /// request, an ack, a flow-control reply, or a publish a stream captured); the shell still
    /// delivers the message to ordinary subscribers either way, and answers a request that
    /// nothing handled with "no responders".
    pub fn handle(&mut self, msg: Message, now: Nanos) -> bool {
        if msg.subject.starts_with(crate::core::api::API_PREFIX) {
            if self.failing.is_empty() || !resources::is_read_only(&msg.subject) {
                return crate::core::api::dispatch(self, msg, now);
            }
            // A store is failing and flushes hold every reply: a read changes nothing, so its
            // answer need not wait for them.
            let queued = self.outbox.len();
            let handled = crate::core::api::dispatch(self, msg, now);
            let answers = self.outbox.split_off(queued);
            self.immediate.extend(answers);
            return handled;
        }
        if msg.subject.starts_with(acks::ACK_PREFIX) {
            return self.handle_ack(&msg, now);
        }
        if msg.subject.starts_with(acks::FLOW_CONTROL_PREFIX) {
            return self.handle_flow_control(&msg.subject, now);
        }
        self.handle_publish(msg, now)
    }

    /// Syncs every store written since the last flush, then releases the replies and deliveries
    /// queued so far. On a failure nothing is released and the failing stream's error is
    /// returned; every stream not yet synced stays dirty and every consumer not yet saved stays
    /// changed, so the next flush retries them all before it releases anything. Until a sync of
    /// the failing stream succeeds, publishes to it are refused at once (503 / 10023 for a full
    /// medium) and reads are answered at once, so a full disk stops nothing else.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        // Once per batch: what purges, removals and limits freed counts again. (No limit, no
        // need to count.)
        if resources::limited(&self.config) {
            self.usage = resources::Usage::of(self);
        }
        self.save_changed_consumers()?;
        let mut dirty = std::mem::take(&mut self.dirty).into_iter();
        while let Some(name) = dirty.next() {
            if let Some(slot) = self.streams.get_mut(&name) {
                if let Err(err) = slot.stream.store_mut().sync() {
                    // This stream and the ones not reached yet are still unsynced.
                    self.failing.insert(name.clone(), err.clone());
                    self.dirty.insert(name);
                    self.dirty.extend(dirty);
                    return Err(err);
                }
            }
            if !self.failing.is_empty() {
                self.failing.remove(&name);
            }
        }
        self.released = self.outbox.len();
        Ok(())
    }

    /// The next message to send, if any has been released by [`Engine::flush`].
    pub fn poll_outbound(&mut self) -> Option<Outbound> {
        if let Some(out) = self.immediate.pop_front() {
            return Some(out);
        }
        if self.released == 0 {
            return None;
        }
        self.released -= 1;
        self.outbox.pop_front()
    }

    /// The earliest time at which [`Engine::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Nanos> {
        let mut earliest: Option<Nanos> = None;
        let mut consider = |t: Option<Nanos>| {
            if let Some(t) = t {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        };
        for slot in self.streams.values() {
            consider(slot.stream.next_deadline());
            for consumer in slot.consumers.values() {
                consider(consumer.next_deadline());
            }
        }
        earliest
    }

    /// Does everything due at `now`: age-based expiry and dedup-window expiry in streams,
    /// redeliveries, pull request expiry, heartbeats, and removal of inactive ephemeral consumers.
    pub fn handle_timeout(&mut self, now: Nanos) {
        let names: Vec<String> = self.streams.keys().cloned().collect();
        for name in names {
            let expired = match self.streams.get_mut(&name) {
                Some(slot) => slot.stream.expire(now).unwrap_or(0),
                None => continue,
            };
            if expired > 0 {
                self.dirty.insert(name.clone());
            }
            self.remove_inactive_consumers(&name, now);
            self.poll_consumers(&name, now);
        }
    }

    /// The streams whose config changed (created, updated, restored or deleted) since the last
    /// call, so a shell can mirror configs in O(changed). `All` when too many changed to list
    /// (a shell that never asks keeps this bounded): look at every stream.
    pub fn take_changed_streams(&mut self) -> ChangedStreams {
        std::mem::take(&mut self.changed_streams)
    }

    /// Notes that `stream`'s config changed (see [`Engine::take_changed_streams`]).
    pub(crate) fn mark_config_changed(&mut self, stream: &str) {
        if let ChangedStreams::Some(names) = &mut self.changed_streams {
            if names.len() >= MAX_LISTED_CHANGES {
                self.changed_streams = ChangedStreams::All;
            } else {
                names.insert(stream.to_string());
            }
        }
    }

    /// Queues a message; it leaves at the next flush.
    pub(crate) fn send(&mut self, out: Outbound) {
        self.outbox.push_back(out);
    }

    /// Queues a message that describes no unsynced write; it leaves at once.
    pub(crate) fn send_now(&mut self, out: Outbound) {
        self.immediate.push_back(out);
    }

    /// Whether a store failed its last sync (refusals and reads are answered at once then).
    pub(crate) fn store_failing(&self) -> bool {
        !self.failing.is_empty()
    }

    /// Queues many messages; they leave at the next flush.
    pub(crate) fn send_all(&mut self, out: Vec<Outbound>) {
        self.outbox.extend(out);
    }

    /// Marks a stream as written, so the next flush syncs it.
    pub(crate) fn mark_dirty(&mut self, stream: &str) {
        self.dirty.insert(stream.to_string());
    }

    /// A pseudo-random 64-bit value (xorshift64*), from the caller's seed.
    pub(crate) fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
