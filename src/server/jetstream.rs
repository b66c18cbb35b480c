//! The JetStream thread: the one owner of the account's [`JetStream`] front and its [`Engine`],
//! fed by every connection.
//!
//! Connections send client publishes that JetStream may want (subjects the engine subscribed,
//! such as `$JS.API.>`, `$JS.ACK.>`, `$JS.FC.>` and its inbox, and stream subjects) over a
//! bounded channel, so a flood of publishes slows its publishers instead of growing memory. The
//! thread takes them in batches: it hands each to [`JetStream::handle`] (which serves `$JS.API`
//! requests and passes the rest to the engine), then calls [`Engine::flush`] once per batch
//! (group commit: one store sync for many publishes and acks, and no PubAck leaves before its
//! data is durable), then routes what [`Engine::poll_outbound`] releases through the
//! [`Router`]. Between batches it sleeps until [`Engine::poll_timeout`] (redeliveries, pull
//! expiry, heartbeats).
//!
//! Push consumers deliver in bursts of `PUSH_BURST` (64 KiB), each routed (its writers woken)
//! before the next is made, so a long push delivery (a mirror catching up) streams out as
//! nats-server's does rather than a whole flow-control window after one engine call. While a
//! delivery goes on with nothing else coming in, the flush waits up to `FLUSH_WHILE_DELIVERING`
//! (20 ms): deliveries of stored messages need none.
//!
//! The engine runs on its own OS thread with a single-threaded runtime: store syncs block, and
//! must not stall the threads serving sockets. While events come close together the thread
//! looks for the next ones for a moment before it parks (`spin.rs`), so a publisher awaiting
//! each PubAck does not pay for waking it.
//!
//! The engine also speaks first: the thread applies its subscription events (local ones to the
//! index [`JsHandle::wants`] reads, link ones to the link's task, see `links.rs`), sends what it
//! addresses to a link over that link, and hands back through the front what it sent to local
//! subjects it subscribed itself (a request to its own API, served by the front, and the reply
//! on its inbox).

mod batch;
mod links;
mod spin;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use super::last_subject::LastSubject;
use super::outbox::FlushList;
use super::router::{MsgView, Router};
use super::storage::Storage;
#[cfg(doc)]
use crate::core::engine::Engine;
use crate::core::engine::{ChangedStreams, EngineEvent, RequestError, RequestId, SubId};
use crate::core::front::JetStream;
use crate::core::message::{Destination, LinkId, Message, Outbound};
use crate::core::subject;
use crate::core::subject_index::SubjectIndex;
use crate::core::time::Nanos;
use crate::server::link::LinkHandle;
pub use batch::PublishBatch;
use batch::Publishes;
pub use links::ApiRename;
use links::{LinkCommand, LinkNews};
use spin::Spin;

/// Most events handled per turn (one flush per turn). A connection's batch of publishes is one
/// event; the budgets below bound how many messages those hold.
const MAX_BATCH: usize = 4096;
/// Depth of the channel from connections to the engine.
const CHANNEL_DEPTH: usize = 16 * 1024;
/// Payload bytes that may wait for the engine at once: with the depth above, this bounds the
/// memory a publish flood can pin (messages may be up to max_payload each).
const QUEUED_BYTES: usize = 64 * 1024 * 1024;
/// What one connection may have waiting for the engine at once, in bytes; each publish also
/// costs [`PUBLISH_OVERHEAD`], so this bounds the count of small ones too. A connection that
/// floods waits on its own budget while the others' publishes still get into the queue.
const CLIENT_BUDGET: usize = 4 * 1024 * 1024;
/// The budget cost of a publish beyond its bytes (about 1,000 small publishes per client).
const PUBLISH_OVERHEAD: usize = 4096;
/// Distinct subjects whose interest changed that may wait for the engine; past this the queue
/// forgets them and the engine re-checks every deliver subject once instead.
const MAX_PENDING_INTEREST: usize = 16 * 1024;
/// Interest changes applied per turn of the engine loop, so publishes interleave with a flood.
const INTEREST_SLICE: usize = 1024;
/// Wildcard interest changes in one slice past which re-checking every deliver subject once is
/// cheaper than matching each wildcard against all of them.
const WILDCARDS_PER_SLICE: usize = 16;
/// Rounds per turn in which messages the engine sent to its own local subscriptions go back
/// into it; what is left waits for the next turn (so a loop cannot hold the thread).
const LOOPBACK_ROUNDS: usize = 8;
/// Bytes a push consumer delivers per turn ([`Engine::set_push_burst`]): each burst is routed
/// and its writers woken before the next is made, so a long push delivery (a mirror catching
/// up, a flow-control window of up to 32 MiB) streams out as nats-server's does instead of
/// reaching the socket a whole window at a time.
const PUSH_BURST: usize = 64 * 1024;
/// While a push consumer is in the middle of a long delivery and nothing else came in, its
/// bursts leave without a flush (deliveries of stored messages need none, and a durable
/// consumer's save would cost a sync per burst); the engine is flushed at least this often.
const FLUSH_WHILE_DELIVERING: Duration = Duration::from_millis(20);

/// Where a publish came from, for the no-responders answer.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The publishing client.
    pub client: u64,
    /// The client asked for a 503 if nobody handles its request, and no subscriber matched.
    pub no_responders: bool,
}

/// A question for the engine from monitoring: runs on the engine thread.
pub type Query = Box<dyn FnOnce(&JetStream, Nanos) -> serde_json::Value + Send>;

enum Event {
    /// One client's publishes, holding its share of [`CLIENT_BUDGET`] and of [`QUEUED_BYTES`]
    /// until handled.
    Publish(Publishes),
    Query(Query, oneshot::Sender<serde_json::Value>),
    /// A request the engine sends (see [`JsHandle::engine_request`]).
    Request {
        dest: Destination,
        msg: Message,
        timeout: Duration,
        done: oneshot::Sender<Result<Message, RequestError>>,
    },
    /// A link's task is ready for the engine's commands; whether the link is connected now.
    AttachLink(LinkId, mpsc::Sender<LinkCommand>, bool),
    /// A JetStream API prefix served over a link.
    RouteApi(String, Destination),
    FromLink(LinkId, LinkNews),
    Stop(oneshot::Sender<()>),
}

/// The connections' side of the JetStream thread.
#[derive(Clone)]
pub struct JsHandle {
    tx: mpsc::Sender<Event>,
    /// Bytes of publishes in flight to the engine (see [`QUEUED_BYTES`]).
    budget: Arc<Semaphore>,
    /// Subjects of all streams, refreshed by the engine thread after each API batch.
    stream_subjects: Arc<RwLock<SubjectIndex<String>>>,
    /// The engine's own local subscriptions, kept by the engine thread from its events.
    engine_subjects: Arc<RwLock<SubjectIndex<SubId>>>,
    /// Whether any stream exists (core NATS traffic skips the index lookup when none does).
    has_streams: Arc<std::sync::atomic::AtomicBool>,
    /// Counts changes of the three above, made by the engine thread after each (see
    /// [`JsHandle::wants_cached`]).
    generation: Arc<AtomicU64>,
    /// Each connection's share of the queue (see [`CLIENT_BUDGET`]), by client id.
    client_budgets: Arc<Mutex<HashMap<u64, Arc<Semaphore>>>>,
}

/// Subjects whose subscription interest changed, waiting for the engine thread. Coalesced by
/// subject (the engine asks the router for the current truth, so a flood of SUB/UNSUB pairs on
/// one subject is one entry) and bounded (past `MAX_PENDING_INTEREST` the entries are dropped
/// for one full re-check). The router's hook calls [`InterestQueue::changed`] without waiting.
#[derive(Default)]
pub struct InterestQueue {
    pending: Mutex<PendingInterest>,
    wake: Notify,
}

#[derive(Default)]
struct PendingInterest {
    subjects: HashSet<Box<str>>,
    /// Too many distinct subjects: re-check every deliver subject.
    overflowed: bool,
}

/// One turn's share of the interest queue.
struct InterestSlice {
    subjects: Vec<Box<str>>,
    recheck_all: bool,
    more: bool,
}

impl InterestQueue {
    /// An empty queue.
    pub fn new() -> Arc<InterestQueue> {
        Arc::new(InterestQueue::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PendingInterest> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A subscription filter gained its first or lost its last subscription.
    pub fn changed(&self, filter: &str) {
        {
            let mut pending = self.lock();
            if pending.overflowed || pending.subjects.contains(filter) {
                return;
            }
            if pending.subjects.len() >= MAX_PENDING_INTEREST {
                pending.subjects = HashSet::new();
                pending.overflowed = true;
            } else {
                pending.subjects.insert(filter.into());
            }
        }
        self.wake.notify_one();
    }

    /// Takes up to `max` subjects (and the re-check flag).
    fn take(&self, max: usize) -> InterestSlice {
        let mut pending = self.lock();
        let recheck_all = std::mem::take(&mut pending.overflowed);
        let subjects: Vec<Box<str>> = if pending.subjects.len() <= max {
            pending.subjects.drain().collect()
        } else {
            let some: Vec<Box<str>> = pending.subjects.iter().take(max).cloned().collect();
            for subject in &some {
                pending.subjects.remove(subject);
            }
            some
        };
        InterestSlice {
            subjects,
            recheck_all,
            more: !pending.subjects.is_empty(),
        }
    }
}

/// A connection's last answer of [`JsHandle::wants_cached`], for the subject it was about.
pub type WantsCache = LastSubject<bool>;

impl JsHandle {
    /// [`JsHandle::wants`], answered from `cache` when the subject is the one asked last and no
    /// stream or engine subscription changed since (a client publishing to one subject again
    /// and again skips two locks and two index walks per message).
    pub fn wants_cached(&self, cache: &mut WantsCache, subject: &str) -> bool {
        // Read before the indexes: a change that lands after this read is seen next time.
        let generation = self.generation.load(Ordering::Acquire);
        *cache.get_or_fill(generation, subject, |wants| *wants = self.wants(subject))
    }

    /// Whether JetStream may want a message published on `subject`.
    pub fn wants(&self, subject: &str) -> bool {
        if self
            .engine_subjects
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .has_match(subject)
        {
            return true;
        }
        if !self.has_streams.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let mut found = false;
        self.stream_subjects
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .for_each_match(subject, |_| found = true);
        found
    }

    fn client_budget(&self, client: u64) -> Arc<Semaphore> {
        self.client_budgets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(client)
            .or_insert_with(|| Arc::new(Semaphore::new(CLIENT_BUDGET)))
            .clone()
    }

    /// Forgets a closed connection's budget (what it still has queued is handled as usual).
    pub fn client_gone(&self, client: u64) {
        self.client_budgets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&client);
    }

    /// Runs `query` against the engine and returns its answer (`Null` if the engine is gone).
    pub async fn query(&self, query: Query) -> serde_json::Value {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Event::Query(query, tx)).await.is_err() {
            return serde_json::Value::Null;
        }
        rx.await.unwrap_or(serde_json::Value::Null)
    }

    /// Has the engine send `msg` as a request to `dest` and waits for the reply (at most
    /// `timeout`, on the engine's timers). A closed engine thread reads as a timeout.
    pub async fn engine_request(
        &self,
        dest: Destination,
        msg: Message,
        timeout: Duration,
    ) -> Result<Message, RequestError> {
        let (done, result) = oneshot::channel();
        let request = Event::Request {
            dest,
            msg,
            timeout,
            done,
        };
        if self.tx.send(request).await.is_err() {
            return Err(RequestError::TimedOut);
        }
        result.await.unwrap_or(Err(RequestError::TimedOut))
    }

    /// Gives the engine a link as [`Destination::Link`]`(id)`: its subscriptions there are made
    /// on it, what it addresses there is published on it, and it learns when the link is up or
    /// down. Call within a tokio runtime (the link's task runs there). The configured links
    /// (`links [...]`, see `remotes.rs`) are attached at start.
    pub async fn attach_link(&self, id: LinkId, link: LinkHandle) {
        self.attach_link_renaming(id, link, None).await;
    }

    /// [`Self::attach_link`], with what the engine sends under one API prefix renamed on the
    /// way out (`$JS.hub.API.…` → `$JS.API.…` for a far server that serves domain `hub` as
    /// its plain API; see `links.rs`).
    pub async fn attach_link_renaming(
        &self,
        id: LinkId,
        link: LinkHandle,
        rename: Option<ApiRename>,
    ) {
        let (commands, command_rx) = mpsc::channel(links::COMMAND_QUEUE);
        // Up in the same event, so a request made once this returns finds the link up.
        let up = link.status().connected;
        let attach = Event::AttachLink(id, commands, up);
        if self.tx.send(attach).await.is_ok() {
            tokio::spawn(links::serve(id, link, command_rx, self.tx.clone(), rename));
        }
    }

    /// Requests to the JetStream API prefix `api` (a source's `external.api`, `$JS.<domain>.API`)
    /// go to `dest`.
    pub async fn route_api(&self, api: &str, dest: Destination) {
        let _ = self.tx.send(Event::RouteApi(api.to_string(), dest)).await;
    }

    /// Asks the engine thread to handle what is queued, flush, and stop; waits until it has.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Event::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The running engine thread.
pub struct JsThread {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JsThread {
    /// Waits for the engine thread to flush and stop (after every [`JsHandle`] is dropped).
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Wall-clock time as the core counts it.
pub fn now() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as Nanos)
        .unwrap_or(0)
}

/// Starts the engine thread. `interest` collects the router's interest changes. The engine is
/// built on the thread by `storage` (restoring streams from disk); a failure to open the storage
/// is returned before anything is served.
pub fn start(
    storage: Storage,
    router: Arc<Router>,
    interest: Arc<InterestQueue>,
) -> std::io::Result<(JsHandle, JsThread)> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let stream_subjects = Arc::new(RwLock::new(SubjectIndex::new()));
    let engine_subjects = Arc::new(RwLock::new(SubjectIndex::new()));
    let has_streams = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let generation = Arc::new(AtomicU64::new(0));
    let handle = JsHandle {
        has_streams: has_streams.clone(),
        generation: generation.clone(),
        tx,
        budget: Arc::new(Semaphore::new(QUEUED_BYTES)),
        stream_subjects: stream_subjects.clone(),
        engine_subjects: engine_subjects.clone(),
        client_budgets: Arc::default(),
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("jetstream".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            {
                Ok(rt) => rt,
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                    return;
                }
            };
            let mut storage = storage;
            let mut engine = match storage.open_engine(now()) {
                Ok(engine) => engine,
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                    return;
                }
            };
            // A push consumer created later asks the router whether its subject has subscribers.
            let oracle_router = router.clone();
            engine
                .set_interest_oracle(Box::new(move |subject| oracle_router.has_interest(subject)));
            engine.set_push_burst(PUSH_BURST);
            let mut task = Task {
                front: JetStream::new(engine),
                storage,
                router,
                stream_subjects,
                has_streams,
                generation,
                known_streams: HashMap::new(),
                interest,
                sync_failures: 0,
                engine_subjects,
                local_subs: HashMap::new(),
                links: HashMap::new(),
                loopback: Vec::new(),
                matched: Vec::new(),
                waiting: HashMap::new(),
                last_flush: std::time::Instant::now(),
            };
            task.refresh_streams();
            // Before any connection asks what the engine wants.
            task.apply_engine_events();
            let _ = ready_tx.send(Ok(()));
            runtime.block_on(task.run(rx));
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((
            handle,
            JsThread {
                thread: Some(thread),
            },
        )),
        Ok(Err(err)) => {
            let _ = thread.join();
            Err(err)
        }
        Err(_) => Err(std::io::Error::other("engine thread died while starting")),
    }
}

struct Task {
    /// Shared with [`JsHandle::wants`]: whether any stream exists.
    has_streams: Arc<std::sync::atomic::AtomicBool>,
    /// Shared with [`JsHandle::wants_cached`]: bumped after each change of `has_streams`,
    /// `stream_subjects` or `engine_subjects`.
    generation: Arc<AtomicU64>,
    /// The account's JetStream: the engine and its `$JS.API` front.
    front: JetStream,
    storage: Storage,
    router: Arc<Router>,
    stream_subjects: Arc<RwLock<SubjectIndex<String>>>,
    /// Subjects of every stream as last put in `stream_subjects`, to update it per change.
    known_streams: HashMap<String, Vec<String>>,
    /// Interest changes from the router.
    interest: Arc<InterestQueue>,
    /// Flushes failed in a row (for the log).
    sync_failures: u64,
    /// Shared with [`JsHandle::wants`]: the engine's local subscriptions.
    engine_subjects: Arc<RwLock<SubjectIndex<SubId>>>,
    /// The subject of each local engine subscription, to remove it from the index.
    local_subs: HashMap<SubId, String>,
    /// The task of each attached link.
    links: HashMap<LinkId, mpsc::Sender<LinkCommand>>,
    /// Messages the engine sent to its own local subscriptions, to hand back to it through
    /// each subscription they matched (by the subject they were sent to, not `msg.subject`).
    loopback: Vec<(SubId, Message)>,
    /// Scratch for [`Task::route`]: the engine subscriptions one message matched.
    matched: Vec<SubId>,
    /// Requests made through [`JsHandle::engine_request`], by the engine's id.
    waiting: HashMap<RequestId, oneshot::Sender<Result<Message, RequestError>>>,
    /// When [`Task::flush_and_route`] last ran (see [`FLUSH_WHILE_DELIVERING`]).
    last_flush: std::time::Instant,
}

impl Task {
    async fn run(&mut self, mut rx: mpsc::Receiver<Event>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let interest = self.interest.clone();
        let mut spin = Spin::default();
        let mut handled = false;
        loop {
            // Asked once per turn (it looks at every stream and consumer); work that events of
            // this turn schedule is due later, and the next turn asks again.
            let deadline = self.front.engine().poll_timeout();
            let sleep = match deadline {
                // Messages the engine sent itself wait: go round at once.
                _ if !self.loopback.is_empty() => Duration::ZERO,
                Some(at) => Duration::from_nanos(at.saturating_sub(now()).max(0) as u64),
                // Nothing scheduled: wake now and then anyway (cheap, and bounds any clock skew).
                None => Duration::from_secs(1),
            };
            // After a busy turn, look for the next events before parking (`spin.rs`); a
            // loopback turn does not wait at all.
            let waiting_since = std::time::Instant::now();
            if spin.should_poll(handled) && self.loopback.is_empty() {
                spin::poll_for(sleep, || !rx.is_empty());
            }
            // What is left of the wait once the poll gave up.
            let sleep = sleep.saturating_sub(waiting_since.elapsed());
            let mut api_seen = false;
            let mut received = false;
            // Not biased: publishes and interest changes take turns, so neither starves.
            tokio::select! {
                _ = interest.wake.notified() => {}
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
                    received = true;
                    spin.waited(waiting_since.elapsed());
                    if n == 0 {
                        // Every connection and the server are gone: flush and stop.
                        self.flush_and_route();
                        return;
                    }
                    let now = now();
                    let mut stop = None;
                    for event in batch.drain(..) {
                        match event {
                            Event::Stop(done) => stop = Some(done),
                            Event::Publish(publishes) => {
                                for (msg, origin) in publishes.msgs {
                                    api_seen |= msg.subject.starts_with("$JS.API.");
                                    self.handle_publish(msg, origin, now);
                                }
                            }
                            Event::Query(query, reply) => {
                                let _ = reply.send(query(&self.front, now));
                            }
                            other => self.handle_other(other, now),
                        }
                    }
                    if let Some(done) = stop {
                        if api_seen {
                            self.refresh_streams();
                        }
                        self.flush_and_route();
                        let _ = done.send(());
                        return;
                    }
                }
                _ = pause(sleep) => {}
            }
            self.apply_interest();
            let now = now();
            if deadline.is_some_and(|at| at <= now) {
                self.front.engine_mut().handle_timeout(now);
            }
            if api_seen {
                // Before the replies leave: a client told its stream exists may publish to it
                // at once, and its config must be on disk.
                self.refresh_streams();
            }
            handled = received;
            if received {
                self.flush_and_route();
            } else {
                self.route_mid_delivery(now);
            }
            self.run_loopback();
            self.answer_requests();
        }
    }

    /// Requests, links and their news.
    fn handle_other(&mut self, event: Event, now: Nanos) {
        match event {
            Event::Request {
                dest,
                msg,
                timeout,
                done,
            } => {
                let timeout = Nanos::try_from(timeout.as_nanos()).unwrap_or(Nanos::MAX);
                let id = self.front.engine_mut().request(dest, msg, timeout, now);
                self.waiting.insert(id, done);
            }
            Event::AttachLink(id, commands, up) => {
                // What the engine subscribed there before the link came.
                for (sid, subject, dest) in self.front.engine().subscriptions() {
                    if dest == Destination::Link(id) {
                        let subject = subject.to_string();
                        let _ = commands.try_send(LinkCommand::Subscribe { sid, subject });
                    }
                }
                self.links.insert(id, commands);
                if up {
                    self.front.engine_mut().link_up(id, now);
                }
            }
            Event::RouteApi(api, dest) => self.front.engine_mut().set_api_route(&api, dest),
            Event::FromLink(id, LinkNews::Up) => self.front.engine_mut().link_up(id, now),
            Event::FromLink(id, LinkNews::Down) => self.front.engine_mut().link_down(id, now),
            Event::FromLink(_, LinkNews::Message { sid, msg }) => {
                self.front.handle_subscribed(sid, msg, now);
            }
            Event::Publish(..) | Event::Query(..) | Event::Stop(_) => {}
        }
    }

    /// Hands the engine what it sent to its own local subscriptions, a few rounds at most.
    fn run_loopback(&mut self) {
        for _ in 0..LOOPBACK_ROUNDS {
            if self.loopback.is_empty() {
                return;
            }
            let now = now();
            let mut api_seen = false;
            for (sid, msg) in std::mem::take(&mut self.loopback) {
                api_seen |= msg.subject.starts_with("$JS.API.");
                self.front.handle_subscribed(sid, msg, now);
            }
            if api_seen {
                self.refresh_streams();
            }
            // Mid-delivery the sync may wait: a mirror of a stream of this engine stores each
            // burst its origin consumer delivers, and need not sync each one at once.
            self.route_mid_delivery(now);
        }
    }

    /// Answers the callers of [`JsHandle::engine_request`] whose requests ended.
    fn answer_requests(&mut self) {
        while let Some(outcome) = self.front.engine_mut().poll_request_outcome() {
            if let Some(done) = self.waiting.remove(&outcome.id) {
                let _ = done.send(outcome.result);
            }
        }
    }

    /// Applies the engine's subscription events: local ones to the index connections read,
    /// link ones to the link's task (those for a link not attached yet are made when it is).
    fn apply_engine_events(&mut self) {
        while let Some(event) = self.front.engine_mut().poll_event() {
            match event {
                EngineEvent::Subscribe {
                    sid,
                    subject,
                    dest: Destination::Local,
                } => {
                    let mut index = self
                        .engine_subjects
                        .write()
                        .unwrap_or_else(|e| e.into_inner());
                    // The engine validated the subject.
                    let _ = index.insert(&subject, sid);
                    drop(index);
                    self.generation.fetch_add(1, Ordering::Release);
                    self.reinterest(&subject);
                    self.local_subs.insert(sid, subject);
                }
                EngineEvent::Unsubscribe {
                    sid,
                    dest: Destination::Local,
                } => {
                    if let Some(subject) = self.local_subs.remove(&sid) {
                        self.engine_subjects
                            .write()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&subject, &sid);
                        self.generation.fetch_add(1, Ordering::Release);
                        self.reinterest(&subject);
                    }
                }
                EngineEvent::Subscribe {
                    sid,
                    subject,
                    dest: Destination::Link(id),
                } => self.to_link(id, LinkCommand::Subscribe { sid, subject }),
                EngineEvent::Unsubscribe {
                    sid,
                    dest: Destination::Link(id),
                } => self.to_link(id, LinkCommand::Unsubscribe { sid }),
            }
        }
    }

    /// Queues a command for link `id`. A link not attached, or too far behind, loses it (a
    /// request then times out on the engine's timers).
    fn to_link(&self, id: LinkId, command: LinkCommand) {
        let Some(link) = self.links.get(&id) else {
            return;
        };
        if link.try_send(command).is_err() {
            tracing::warn!(link = id.0, "link queue full or closed: message dropped");
        }
    }

    /// Applies one slice of queued interest changes; wakes the loop again if more wait.
    fn apply_interest(&mut self) {
        let slice = self.interest.take(INTEREST_SLICE);
        if slice.more {
            self.interest.wake.notify_one();
        }
        let wildcards = slice
            .subjects
            .iter()
            .filter(|s| !subject::is_literal(s))
            .count();
        if slice.recheck_all || wildcards > WILDCARDS_PER_SLICE {
            let all: Vec<String> = self
                .front
                .engine()
                .deliver_subjects()
                .map(str::to_string)
                .collect();
            for deliver in all {
                self.report_interest(&deliver);
            }
            return;
        }
        for filter in slice.subjects {
            // A literal subject costs one lookup; only a wildcard walks the deliver subjects.
            for deliver in self.front.engine().deliver_subjects_matching(&filter) {
                self.report_interest(&deliver);
            }
        }
    }

    /// Tells the engine whether `deliver` has subscribers now. The router's truth, not the
    /// event's flag, so literal and wildcard subscriptions on one subject count together.
    /// The engine subscribed or unsubscribed `filter` itself: push consumers delivering under it
    /// may have gained or lost their only subscriber.
    fn reinterest(&mut self, filter: &str) {
        for deliver in self.front.engine().deliver_subjects_matching(filter) {
            self.report_interest(&deliver);
        }
    }

    fn report_interest(&mut self, deliver: &str) {
        // A client's subscription, or one of the engine's own (a mirror's deliver subject).
        let active =
            self.router.has_interest(deliver) || self.front.engine().subscribed_locally(deliver);
        self.front.engine_mut().set_interest(deliver, active, now());
    }

    fn handle_publish(&mut self, msg: Message, origin: Origin, now: Nanos) {
        // Kept only for a client that wants "no responders" when nothing handles the publish.
        let reply = if origin.no_responders {
            msg.reply.clone()
        } else {
            None
        };
        let handled = self.front.handle(msg, now);
        if !handled && origin.no_responders {
            if let Some(reply) = reply {
                no_responders(&self.router, &reply, origin.client, &mut FlushList::new());
            }
        }
    }

    /// Mid-delivery (a push consumer has its next burst due now) and flushed less than
    /// [`FLUSH_WHILE_DELIVERING`] ago: routes what is ready (the burst just made) and leaves the
    /// flush for later (it comes when the delivery ends, or that long after the last). Else
    /// flushes and routes.
    fn route_mid_delivery(&mut self, now: Nanos) {
        let delivering = self.last_flush.elapsed() < FLUSH_WHILE_DELIVERING
            && self
                .front
                .engine()
                .poll_timeout()
                .is_some_and(|at| at <= now);
        if delivering {
            self.route();
        } else {
            self.flush_and_route();
        }
    }

    /// Group commit: sync the stores once, then release what the batch produced. A stream whose
    /// sync fails holds only its own replies about unsynced writes (the next flush retries);
    /// everything else leaves: other streams' replies, refusals, reads and deliveries of
    /// messages synced before.
    fn flush_and_route(&mut self) {
        self.last_flush = std::time::Instant::now();
        // File and memory stores are durable when their sync returns: the ticket is complete.
        match self.front.engine_mut().flush().result() {
            Ok(()) if self.sync_failures > 0 => {
                tracing::warn!(failures = self.sync_failures, "store sync recovered");
                self.sync_failures = 0;
            }
            Ok(()) => {}
            Err(err) => {
                // Once per failure streak (and every 1000th retry), not once per batch.
                if self.sync_failures % 1000 == 0 {
                    tracing::error!(%err, retries = self.sync_failures, "store sync failed");
                }
                self.sync_failures += 1;
            }
        }
        self.route();
    }

    /// Routes what the engine released: to local subscribers (and back into the engine for its
    /// own subscriptions) or over a link; the writers are woken at the end.
    fn route(&mut self) {
        // Subscriptions first: a request must not leave before its inbox is subscribed.
        self.apply_engine_events();
        let mut flush = FlushList::new();
        while let Some(out) = self.front.engine_mut().poll_outbound() {
            match out.dest {
                Destination::Local => {
                    route(&self.router, &out, &mut flush);
                    let mut matched = std::mem::take(&mut self.matched);
                    self.engine_subjects
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .for_each_match(&out.to, |sid| matched.push(*sid));
                    // Usually one subscription (a mirror's deliver subject): the message moves
                    // to it, cloned only for the others.
                    if let Some((&last, others)) = matched.split_last() {
                        for &sid in others {
                            self.loopback.push((sid, out.msg.clone()));
                        }
                        self.loopback.push((last, out.msg));
                    }
                    matched.clear();
                    self.matched = matched;
                }
                Destination::Link(id) => self.to_link(id, LinkCommand::Publish(out.msg)),
            }
        }
        // This thread is outside the connections' runtime: a PubAck written here leaves now,
        // not after a runtime worker wakes for it (a lone publisher waits for each).
        flush.flush_direct();
    }

    /// Notices created, updated and deleted streams: updates the subjects connections forward
    /// to the engine, and persists stream configs. O(streams changed), not O(streams).
    fn refresh_streams(&mut self) {
        let changed = self.front.engine_mut().take_changed_streams();
        if changed == ChangedStreams::default() {
            return;
        }
        self.storage.save_configs(self.front.engine(), &changed);
        let names: Vec<String> = match &changed {
            ChangedStreams::Some(names) => names.iter().cloned().collect(),
            ChangedStreams::All => {
                let mut all: HashSet<String> = self.known_streams.keys().cloned().collect();
                all.extend(self.front.engine().stream_names(None));
                all.into_iter().collect()
            }
        };
        let mut index = self
            .stream_subjects
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for name in names {
            let now_subjects = self
                .front
                .engine()
                .stream(&name)
                .map(|stream| stream.config().subjects.clone());
            if self.known_streams.get(&name) == now_subjects.as_ref() {
                continue;
            }
            for subject in self.known_streams.remove(&name).unwrap_or_default() {
                index.remove(&subject, &name);
            }
            if let Some(subjects) = now_subjects {
                for subject in &subjects {
                    // Validated by the engine when the stream was made.
                    let _ = index.insert(subject, name.clone());
                }
                self.known_streams.insert(name, subjects);
            }
        }
        drop(index);
        self.has_streams.store(
            !self.known_streams.is_empty(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// Waits `sleep`; when it is zero, only lets the other branches of the loop's select be polled
/// once (a zero tokio sleep would wait for the timer's next millisecond tick, once per burst).
async fn pause(sleep: Duration) {
    if sleep.is_zero() {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(sleep).await;
    }
}

/// Delivers one engine message: to subscribers of `out.to`, shown as `out.msg`.
fn route(router: &Router, out: &Outbound, flush: &mut FlushList) {
    let view = MsgView {
        subject: &out.msg.subject,
        reply: out.msg.reply.as_deref(),
        headers: out.msg.headers.as_deref(),
        payload: &out.msg.payload,
    };
    router.deliver(&out.to, out.group.as_deref(), &view, None, None, flush);
}

/// Status header of the no-responders answer.
const NO_RESPONDERS: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// Answers a request nobody served with a 503 status, to the requesting client only.
pub fn no_responders(router: &Router, reply: &str, client: u64, flush: &mut FlushList) {
    let view = MsgView {
        subject: reply,
        reply: None,
        headers: Some(NO_RESPONDERS),
        payload: b"",
    };
    router.deliver(reply, None, &view, None, Some(client), flush);
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn handle_without_engine() -> (JsHandle, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let handle = JsHandle {
            tx,
            budget: Arc::new(Semaphore::new(QUEUED_BYTES)),
            stream_subjects: Arc::default(),
            engine_subjects: Arc::default(),
            has_streams: Arc::default(),
            generation: Arc::default(),
            client_budgets: Arc::default(),
        };
        (handle, rx)
    }

    async fn publish_from(handle: &JsHandle, client: u64) {
        let msg = Message {
            subject: "s".into(),
            reply: None,
            headers: None,
            payload: bytes::Bytes::from_static(b"x"),
        };
        let origin = Origin {
            client,
            no_responders: false,
        };
        let mut batch = PublishBatch::default();
        batch.push(msg, origin);
        handle.publish(client, &mut batch).await;
    }

    #[tokio::test]
    async fn a_flooding_client_waits_on_its_own_budget_while_others_get_through() {
        let (handle, mut rx) = handle_without_engine();
        let wait = Duration::from_secs(5);
        let fits = CLIENT_BUDGET / (1 + PUBLISH_OVERHEAD);
        for _ in 0..fits {
            tokio::time::timeout(wait, publish_from(&handle, 1))
                .await
                .expect("within the client's budget");
        }
        let mut blocked = Box::pin(publish_from(&handle, 1));
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut blocked)
                .await
                .is_err(),
            "the flooding client waits"
        );
        tokio::time::timeout(wait, publish_from(&handle, 2))
            .await
            .expect("another client still gets through");
        // The engine takes one of the flooder's publishes: its waiting one goes in.
        drop(rx.recv().await);
        tokio::time::timeout(wait, blocked)
            .await
            .expect("budget returned as the engine handles the queue");
    }

    #[test]
    fn a_flood_on_one_subject_is_one_entry() {
        let queue = InterestQueue::new();
        for _ in 0..10_000 {
            queue.changed("inbox.a");
            queue.changed("inbox.a");
        }
        queue.changed("inbox.b");
        let slice = queue.take(INTEREST_SLICE);
        let mut subjects: Vec<&str> = slice.subjects.iter().map(|s| &**s).collect();
        subjects.sort();
        assert_eq!(subjects, ["inbox.a", "inbox.b"]);
        assert!(!slice.recheck_all && !slice.more);
    }

    #[test]
    fn too_many_subjects_become_one_full_recheck() {
        let queue = InterestQueue::new();
        for i in 0..MAX_PENDING_INTEREST + 10 {
            queue.changed(&format!("inbox.{i}"));
        }
        assert!(queue.lock().subjects.len() <= MAX_PENDING_INTEREST);
        let slice = queue.take(INTEREST_SLICE);
        assert!(slice.recheck_all);
    }

    #[test]
    fn slices_are_bounded_and_say_when_more_wait() {
        let queue = InterestQueue::new();
        for i in 0..INTEREST_SLICE + 5 {
            queue.changed(&format!("inbox.{i}"));
        }
        let first = queue.take(INTEREST_SLICE);
        assert_eq!(first.subjects.len(), INTEREST_SLICE);
        assert!(first.more);
        let second = queue.take(INTEREST_SLICE);
        assert_eq!(second.subjects.len(), 5);
        assert!(!second.more);
    }
}
