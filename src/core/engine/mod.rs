//! The engine: every stream and consumer of one JetStream account, behind one sans-IO surface.
//!
//! A shell (the server, the browser binding, a test) drives it like quinn drives a connection:
//!
//! 1. hand it each message a client publishes through its front,
//!    [`crate::core::front::JetStream::handle`], which serves API requests and passes acks,
//!    flow control replies and stream captures to [`Engine::handle`] (it says whether
//!    JetStream took the message);
//! 2. call [`Engine::flush`] once per batch: it syncs every store written since the last flush and
//!    then releases the replies and deliveries whose data is durable (group commit: a PubAck or
//!    an ack reply never leaves before the data it confirms is durable; see `outbox.rs` for what
//!    waits for what). A store that only queues its sync (IndexedDB) makes the returned
//!    [`FlushTicket`] pending: the shell commits and then calls [`Engine::flush_done`] or
//!    [`Engine::flush_failed`] (`flush.rs`);
//! 3. send what [`Engine::poll_outbound`] yields;
//! 4. call [`Engine::handle_timeout`] when [`Engine::poll_timeout`] says (redelivery, pull request
//!    expiry, heartbeats, max_age), then flush and drain again.
//!
//! The engine knows nothing of `$JS.API` routes, JSON or API statistics: its typed methods
//! ([`Engine::create_stream`], [`Engine::publish`], …) are the whole of it, and the JetStream
//! front ([`crate::core::front::JetStream`]) that shells hold is written on top of them (it
//! owns the engine, answers `$JS.API` requests and hands every other message to
//! [`Engine::handle`]), as quinn's endpoint sits on its connections. A request the front serves
//! tells the engine where its replies go with a `ReplyRule` (`outbox.rs`).
//!
//! The engine also speaks first (`surface.rs`): it owns subscriptions the shell applies
//! ([`Engine::poll_event`]), sends requests to local subscribers or over a link
//! ([`Engine::request`], each [`Outbound`] names its [`Destination`]), and learns which links
//! are up ([`Engine::link_up`], [`Engine::link_down`]).

mod acks;
mod advisories;
pub use advisories::ADVISORY_PREFIX;
mod consumers;
mod flush;
pub use flush::FlushTicket;
mod resources;
pub use consumers::CreateAction;
pub use resources::ServerUsage;
mod interest;
pub use interest::InterestOracle;
mod outbox;
pub(crate) use outbox::ReplyRule;
mod restore;
mod retention;
mod rollback;
mod sourcing_actions;
mod sourcing_host;
mod streams;
mod surface;
#[cfg(test)]
pub(crate) mod test_shell;
mod uploads;
pub use restore::SkippedConsumer;
pub use streams::stream_meta;
pub use surface::{EngineEvent, RequestError, RequestId, RequestOutcome, SubId, LOCAL_API};
pub use uploads::{
    UploadReport, ACK_TIMEOUT_METADATA, ORIGIN_METADATA, PAUSED_METADATA, PREFIX_METADATA,
    REMOTE_METADATA, SERVER_METADATA, UNBOUND, WINDOW_METADATA,
};

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::core::consumer::Consumer;
#[cfg(doc)]
use crate::core::message::Destination;
use crate::core::message::{Message, Outbound};
use crate::core::store::{Seq, StoreError, StreamStore};
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
    /// What every engine of the server stores, counted against the server's limits: engines
    /// built from clones of one config (one per account) share it.
    pub server_usage: ServerUsage,
    /// The account's name (`None`: nats-server's global account, `$G`): its mirrors and sources
    /// name it in their origin consumers' hash and metadata, as nats-server does, so edges of
    /// different accounts mirroring same-named streams from one hub ask for different consumers.
    pub account: Option<String>,
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
            server_usage: ServerUsage::default(),
            account: None,
        }
    }
}

/// One stream and the consumers reading it.
pub(crate) struct StreamSlot {
    pub(crate) stream: Stream,
    pub(crate) consumers: BTreeMap<String, Consumer>,
    /// What its last sync covered, and the replies and deliveries waiting for the next.
    pub(crate) durability: outbox::Durability,
    /// Its bytes as last counted in the engine's storage usage.
    pub(crate) counted_bytes: u64,
    /// An ack with a reply came since its consumers were last saved: the next save makes
    /// their state durable before the reply leaves (others only write it; `flush.rs`).
    pub(crate) ack_replies_wait: bool,
}

impl StreamSlot {
    fn new(
        stream: Stream,
        consumers: BTreeMap<String, Consumer>,
        durability: outbox::Durability,
    ) -> Self {
        StreamSlot {
            stream,
            consumers,
            durability,
            counted_bytes: 0,
            ack_replies_wait: false,
        }
    }

    /// Its consumers but the `direct` ones mirrors and sources make: what lists and counts see
    /// (nats-server's `getPublicConsumers`; a copy's durable `sourcing` consumer is listed).
    pub(crate) fn public_consumers(&self) -> impl Iterator<Item = (&String, &Consumer)> {
        self.consumers.iter().filter(|(_, c)| !c.config().direct)
    }

    /// How many of its consumers count against consumer limits: all but the mirrors' and
    /// sources' (`direct` or `sourcing`; nats-server's `numLimitableConsumers`).
    pub(crate) fn limitable_consumers(&self) -> usize {
        self.consumers
            .values()
            .filter(|c| !c.config().is_copy())
            .count()
    }
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

/// What an account holds now (`$JS.API.INFO`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountUsage {
    /// Bytes stored in memory streams.
    pub memory: u64,
    /// Bytes stored in file streams.
    pub storage: u64,
    /// Streams.
    pub streams: usize,
    /// Consumers across all streams.
    pub consumers: usize,
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
    /// Replies and deliveries free to leave, in order.
    ready: VecDeque<Outbound>,
    /// Streams holding replies or deliveries until a sync (see `outbox.rs`).
    holding: BTreeSet<String>,
    /// Streams written since the last flush.
    dirty: BTreeSet<String>,
    /// Streams whose last sync failed, with the error: publishes to them are refused at once
    /// until a sync succeeds (see [`Engine::flush`]).
    failing: BTreeMap<String, StoreError>,
    /// The last flush ticket handed out.
    last_flush: u64,
    /// Flush tickets whose stores queued their syncs, with those streams, until the shell
    /// completes them (see `flush.rs`).
    in_flight: BTreeMap<u64, Vec<String>>,
    /// Where the replies of the request being handled go (see [`Engine::begin_request`]).
    reply_rule: ReplyRule,
    /// The request being handled failed: its replies leave at once, since it wrote nothing
    /// (see [`Engine::request_failed`]).
    request_failed: bool,
    /// Sequence of the message the request being handled read, if any.
    read_seq: Cell<Seq>,
    /// Bytes stored per storage type: counted per stream at each flush, plus what was stored
    /// since.
    usage: resources::Usage,
    /// Streams created, updated, restored or deleted since [`Engine::take_changed_streams`].
    changed_streams: ChangedStreams,
    /// Its own subscriptions, requests in flight and links (see `surface.rs`).
    surface: surface::Surface,
    /// The streams' mirrors and sources (see `sourcing_host.rs`).
    sourcing: sourcing_host::Host,
    rng: u64,
    /// Uploads by name (`uploads.rs`).
    uploads: BTreeMap<String, uploads::HostedUpload>,
    /// The latest `now` a caller handed in, for what [`Engine::flush`] starts (it takes none).
    clock: Nanos,
    /// Who listens to advisories, and their ids (`advisories.rs`).
    advisories: advisories::Advisories,
    /// Bytes a push consumer delivers per poll (see [`Engine::set_push_burst`]).
    push_burst: usize,
    /// Where PubAck bodies are serialized before their exact-size copy (see
    /// `streams::json_body`), kept so a publish allocates no buffer of its own.
    reply_scratch: Vec<u8>,
}

impl Engine {
    /// An engine with no streams. `seed` feeds the generator of ephemeral consumer names and flow
    /// control subjects (the core reads no randomness of its own).
    pub fn new(config: EngineConfig, make_store: StoreFactory, seed: u64) -> Engine {
        let mut engine = Engine {
            config,
            make_store,
            streams: BTreeMap::new(),
            routes: SubjectIndex::new(),
            interest: interest::PushInterest::default(),
            ready: VecDeque::new(),
            reply_scratch: Vec::new(),
            holding: BTreeSet::new(),
            dirty: BTreeSet::new(),
            failing: BTreeMap::new(),
            last_flush: 0,
            in_flight: BTreeMap::new(),
            reply_rule: ReplyRule::Ready,
            request_failed: false,
            read_seq: Cell::new(0),
            usage: resources::Usage::default(),
            changed_streams: ChangedStreams::default(),
            surface: surface::Surface::new(&inbox_token(seed)),
            sourcing: sourcing_host::Host::default(),
            rng: seed | 1,
            uploads: BTreeMap::new(),
            clock: 0,
            advisories: advisories::Advisories::new(seed),
            push_burst: usize::MAX,
        };
        engine.subscribe_standing();
        engine
    }

    /// An engine whose streams all live in memory, for tests, Node and edge workers.
    pub fn in_memory(seed: u64) -> Engine {
        let factory: StoreFactory =
            Box::new(|_| Ok(Box::new(crate::core::store::memory::MemoryStore::new())));
        Engine::new(EngineConfig::default(), factory, seed)
    }

    /// What the account holds now: bytes per storage type, streams and consumers.
    pub fn account_usage(&self) -> AccountUsage {
        let mut usage = AccountUsage {
            streams: self.streams.len(),
            ..AccountUsage::default()
        };
        for slot in self.streams.values() {
            let bytes = slot.stream.state().bytes;
            match slot.stream.config().storage {
                crate::core::stream::StorageType::Memory => usage.memory += bytes,
                crate::core::stream::StorageType::File => usage.storage += bytes,
            }
            usage.consumers += slot.public_consumers().count();
        }
        usage
    }

    /// The account limits this engine enforces.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Takes in a message published locally (by a client, or by the engine itself to a subject
    /// it subscribed) that is not an API request (the front serves those). Returns `true` when
    /// the engine handled it (an ack, a flow-control reply, a reply to the engine's own
    /// request, or a publish a stream captured); the shell still delivers the message to
    /// ordinary subscribers either way, and answers a request that nothing handled with "no
    /// responders".
    pub fn handle(&mut self, msg: Message, now: Nanos) -> bool {
        self.clock = self.clock.max(now);
        if msg.subject.starts_with(acks::ACK_PREFIX) {
            return self.handle_ack(&msg, now);
        }
        if msg.subject.starts_with(acks::FLOW_CONTROL_PREFIX) {
            return self.handle_flow_control(&msg, now);
        }
        if self.surface.owns_inbox_subject(&msg.subject) {
            return self.handle_local_reply(msg);
        }
        // A subject the engine subscribed (a deliver subject) may also be a stream's.
        let received = self.surface.receive_local(&msg);
        let handled = self.handle_publish(msg, now) || received;
        if received {
            self.pump_sourcing(now);
        }
        handled
    }

    /// Whether [`Engine::handle`] takes a message on `subject` as a publish into a stream (not
    /// an ack or a flow-control reply).
    pub fn takes_as_publish(&self, subject: &str) -> bool {
        !subject.starts_with(acks::ACK_PREFIX)
            && !subject.starts_with(acks::FLOW_CONTROL_PREFIX)
            && self.captures(subject)
    }

    /// The next message to send, if any may leave (see [`Engine::flush`]).
    pub fn poll_outbound(&mut self) -> Option<Outbound> {
        self.ready.pop_front()
    }

    /// The earliest time at which [`Engine::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Nanos> {
        let mut earliest: Option<Nanos> = None;
        let mut consider = |t: Option<Nanos>| {
            if let Some(t) = t {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        };
        consider(self.surface.next_deadline());
        consider(self.next_upload_deadline());
        consider(self.sourcing_deadline());
        for slot in self.streams.values() {
            consider(slot.stream.next_deadline());
            for consumer in slot.consumers.values() {
                consider(consumer.next_deadline());
            }
        }
        earliest
    }

    /// Does everything due at `now`: age-based, per-message TTL and dedup-window expiry in
    /// streams (with their subject delete markers),
    /// redeliveries, pull request expiry, heartbeats, removal of inactive ephemeral consumers,
    /// and the engine's own requests that got no reply in time.
    pub fn handle_timeout(&mut self, now: Nanos) {
        self.clock = self.clock.max(now);
        self.surface.expire(now);
        let names: Vec<String> = self.streams.keys().cloned().collect();
        for name in names {
            let expired = match self.streams.get_mut(&name) {
                Some(slot) => slot.stream.expire(now).unwrap_or(0),
                None => continue,
            };
            // Expiry may leave subject delete markers to store (max_age or per-message TTL).
            let marked = self.store_markers(&name, now);
            if expired > 0 || marked {
                self.mark_dirty(&name);
            }
            self.remove_inactive_consumers(&name, now);
            self.poll_consumers(&name, now);
        }
        self.sourcing_timeout(now);
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

    /// Marks a stream as written, so the next flush syncs it and what is queued after waits
    /// for that sync.
    pub(crate) fn mark_dirty(&mut self, stream: &str) {
        if let Some(slot) = self.streams.get_mut(stream) {
            slot.durability.wrote_other();
        }
        if !self.dirty.contains(stream) {
            self.dirty.insert(stream.to_string());
        }
    }

    /// Marks the streams of consumers whose state changed since the last flush (deliveries,
    /// acks): the flush saves those consumers and syncs the stream.
    fn mark_changed_consumers_dirty(&mut self) {
        for (name, slot) in self.streams.iter_mut() {
            if slot.consumers.values().any(Consumer::is_changed) {
                slot.durability.wrote();
                if !self.dirty.contains(name) {
                    self.dirty.insert(name.clone());
                }
            }
        }
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

impl Drop for Engine {
    /// What its streams hold no longer counts against the server's limits.
    fn drop(&mut self) {
        let server = &self.config.server_usage;
        for slot in self.streams.values() {
            let storage = slot.stream.config().storage;
            self.usage.recount(server, storage, slot.counted_bytes, 0);
        }
    }
}

/// The token of an engine's inbox, from its seed but independent of the generator it feeds
/// (splitmix64), so a given seed names the same consumers as before.
fn inbox_token(seed: u64) -> String {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{:016x}", z ^ (z >> 31))
}
