//! The JetStream thread: the one owner of the [`Engine`], fed by every connection.
//!
//! Connections send client publishes that JetStream may want (`$JS.API.>`, `$JS.ACK.>`,
//! `$JS.FC.>`, and stream subjects) over a bounded channel, so a flood of publishes slows its
//! publishers instead of growing memory. The thread takes them in batches: it hands each to
//! [`Engine::handle`], then calls [`Engine::flush`] once per batch (group commit: one store sync
//! for many publishes and acks, and no PubAck leaves before its data is durable), then routes
//! what [`Engine::poll_outbound`] releases through the [`Router`]. Between batches it sleeps until
//! [`Engine::poll_timeout`] (redeliveries, pull expiry, heartbeats).
//!
//! The engine runs on its own OS thread with a single-threaded runtime: store syncs block, and
//! must not stall the threads serving sockets.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::outbox::FlushList;
use super::router::{MsgView, Router};
use super::storage::Storage;
use crate::core::engine::Engine;
use crate::core::message::{Message, Outbound};
use crate::core::subject;
use crate::core::subject_index::SubjectIndex;
use crate::core::time::Nanos;

/// Most events handled per batch (one flush per batch).
const MAX_BATCH: usize = 4096;
/// Depth of the channel from connections to the engine.
const CHANNEL_DEPTH: usize = 16 * 1024;
/// Payload bytes that may wait for the engine at once: with the depth above, this bounds the
/// memory a publish flood can pin (messages may be up to max_payload each).
const QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// Where a publish came from, for the no-responders answer.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    /// The publishing client.
    pub client: u64,
    /// The client asked for a 503 if nobody handles its request, and no subscriber matched.
    pub no_responders: bool,
}

/// A question for the engine from monitoring: runs on the engine thread.
pub type Query = Box<dyn FnOnce(&Engine, Nanos) -> serde_json::Value + Send>;

enum Event {
    /// A publish, holding its share of [`QUEUED_BYTES`] until handled.
    Publish(Message, Origin, OwnedSemaphorePermit),
    Query(Query, oneshot::Sender<serde_json::Value>),
    Stop(oneshot::Sender<()>),
}

/// The connections' side of the JetStream thread.
#[derive(Clone)]
pub struct JsHandle {
    tx: mpsc::Sender<Event>,
    /// Bytes of publishes in flight to the engine (see [`QUEUED_BYTES`]).
    budget: Arc<Semaphore>,
    /// Subjects of all streams, refreshed by the engine thread after each API batch.
    stream_subjects: Arc<RwLock<SubjectIndex<()>>>,
    /// Whether any stream exists (core NATS traffic skips the index lookup when none does).
    has_streams: Arc<std::sync::atomic::AtomicBool>,
}

/// Sender of subscription interest changes (deliver subject, has subscribers) to the engine.
pub type InterestSender = mpsc::UnboundedSender<(String, bool)>;

impl JsHandle {
    /// Whether JetStream may want a message published on `subject`.
    pub fn wants(&self, subject: &str) -> bool {
        if let Some(rest) = subject.strip_prefix("$JS.") {
            return rest.starts_with("API.") || rest.starts_with("ACK.") || rest.starts_with("FC.");
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

    /// Hands a publish to the engine, waiting while the engine is behind.
    pub async fn publish(&self, msg: Message, origin: Origin) {
        // A send fails only when the engine thread is gone (shutdown); the message is dropped.
        let size = msg.payload.len() + msg.headers.as_ref().map_or(0, |h| h.len());
        let permits = size.clamp(1, QUEUED_BYTES) as u32;
        let Ok(permit) = self.budget.clone().acquire_many_owned(permits).await else {
            return;
        };
        let _ = self.tx.send(Event::Publish(msg, origin, permit)).await;
    }

    /// Runs `query` against the engine and returns its answer (`Null` if the engine is gone).
    pub async fn query(&self, query: Query) -> serde_json::Value {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Event::Query(query, tx)).await.is_err() {
            return serde_json::Value::Null;
        }
        rx.await.unwrap_or(serde_json::Value::Null)
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

/// Starts the engine thread. `interest` receives (deliver subject, active) changes from the
/// router. The engine is built on the thread by `storage` (restoring streams from disk); a
/// failure to open the storage is returned before anything is served.
pub fn start(
    storage: Storage,
    router: Arc<Router>,
    interest: mpsc::UnboundedReceiver<(String, bool)>,
) -> std::io::Result<(JsHandle, JsThread)> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let stream_subjects = Arc::new(RwLock::new(SubjectIndex::new()));
    let has_streams = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handle = JsHandle {
        has_streams: has_streams.clone(),
        tx,
        budget: Arc::new(Semaphore::new(QUEUED_BYTES)),
        stream_subjects: stream_subjects.clone(),
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
            let engine = match storage.open_engine(now()) {
                Ok(engine) => engine,
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let mut task = Task {
                engine,
                storage,
                router,
                stream_subjects,
                has_streams,
                known_streams: Vec::new(),
                interest: HashMap::new(),
                sync_failures: 0,
            };
            task.refresh_streams();
            runtime.block_on(task.run(rx, interest));
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
    engine: Engine,
    storage: Storage,
    router: Arc<Router>,
    stream_subjects: Arc<RwLock<SubjectIndex<()>>>,
    /// (name, subjects) of every stream at the last refresh, to notice changes cheaply.
    known_streams: Vec<(String, Vec<String>)>,
    /// Whether each subject was last reported to the engine as having subscribers: push
    /// consumers' deliver subjects, and literal subjects clients subscribed to.
    interest: HashMap<String, bool>,
    /// Flushes failed in a row (for the log).
    sync_failures: u64,
}

impl Task {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Event>,
        mut interest: mpsc::UnboundedReceiver<(String, bool)>,
    ) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut interest_open = true;
        loop {
            let sleep = match self.engine.poll_timeout() {
                Some(at) => Duration::from_nanos(at.saturating_sub(now()).max(0) as u64),
                // Nothing scheduled: wake now and then anyway (cheap, and bounds any clock skew).
                None => Duration::from_secs(1),
            };
            let mut api_seen = false;
            tokio::select! {
                biased;
                change = interest.recv(), if interest_open => match change {
                    Some((filter, _)) => {
                        self.interest_changed(&filter);
                        while let Ok((filter, _)) = interest.try_recv() {
                            self.interest_changed(&filter);
                        }
                    }
                    None => interest_open = false,
                },
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
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
                            Event::Publish(msg, origin, _permit) => {
                                api_seen |= msg.subject.starts_with("$JS.API.");
                                self.handle_publish(msg, origin, now);
                            }
                            Event::Query(query, reply) => {
                                let _ = reply.send(query(&self.engine, now));
                            }
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
                _ = tokio::time::sleep(sleep) => {}
            }
            let now = now();
            if self.engine.poll_timeout().is_some_and(|at| at <= now) {
                self.engine.handle_timeout(now);
            }
            if api_seen {
                // Before the replies leave: a client told its stream exists may publish to it
                // at once, and its config must be on disk.
                self.refresh_streams();
            }
            self.flush_and_route();
        }
    }

    /// A subscription filter gained its first or lost its last subscription. The engine is told
    /// the router's truth (not the event's flag) for every deliver subject the filter matches,
    /// so literal and wildcard subscriptions on one subject count together.
    fn interest_changed(&mut self, filter: &str) {
        let mut affected: Vec<String> = self
            .interest
            .keys()
            .filter(|known| subject::matches(filter, known))
            .cloned()
            .collect();
        if subject::is_literal(filter) && !self.interest.contains_key(filter) {
            affected.push(filter.to_string());
        }
        for deliver in affected {
            self.report_interest(&deliver);
        }
    }

    /// Tells the engine whether `deliver` has subscribers now, if that changed.
    fn report_interest(&mut self, deliver: &str) {
        let active = self.router.has_interest(deliver);
        if self.interest.get(deliver) == Some(&active) {
            return;
        }
        self.engine.set_interest(deliver, active, now());
        if active || self.is_deliver_subject(deliver) {
            self.interest.insert(deliver.to_string(), active);
        } else {
            // Forget subjects nobody delivers to, so the map stays bounded.
            self.interest.remove(deliver);
        }
    }

    fn deliver_subjects(&self) -> Vec<String> {
        let mut out = Vec::new();
        for slot in self.engine.streams.values() {
            for consumer in slot.consumers.values() {
                if let Some(d) = consumer.config().deliver_subject.as_deref() {
                    if !d.is_empty() {
                        out.push(d.to_string());
                    }
                }
            }
        }
        out
    }

    fn is_deliver_subject(&self, subject: &str) -> bool {
        self.engine.streams.values().any(|slot| {
            slot.consumers
                .values()
                .any(|c| c.config().deliver_subject.as_deref() == Some(subject))
        })
    }

    fn handle_publish(&mut self, msg: Message, origin: Origin, now: Nanos) {
        let reply = msg.reply.clone();
        let handled = self.engine.handle(msg, now);
        if !handled && origin.no_responders {
            if let Some(reply) = reply {
                no_responders(&self.router, &reply, origin.client, &mut FlushList::new());
            }
        }
    }

    /// Group commit: sync the stores once, then release what the batch produced. On a failure
    /// the batch's replies stay held (the next flush retries) and only what describes no
    /// unsynced write leaves: refusals of publishes to the failing stream, and reads.
    fn flush_and_route(&mut self) {
        match self.engine.flush() {
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
        let mut flush = FlushList::new();
        while let Some(out) = self.engine.poll_outbound() {
            route(&self.router, &out, &mut flush);
        }
    }

    /// Notices created, updated and deleted streams: refreshes the subjects connections
    /// forward to the engine, and persists stream configs.
    fn refresh_streams(&mut self) {
        let mut current = Vec::new();
        for name in self.engine.stream_names(None) {
            if let Some(stream) = self.engine.stream(&name) {
                current.push((name, stream.config().subjects.clone()));
            }
        }
        self.storage.save_configs(&self.engine);
        // New push consumers may deliver to subjects only wildcard subscriptions cover.
        for deliver in self.deliver_subjects() {
            if !self.interest.contains_key(&deliver) {
                self.report_interest(&deliver);
            }
        }
        if current == self.known_streams {
            return;
        }
        let mut index = SubjectIndex::new();
        for (_, subjects) in &current {
            for subject in subjects {
                let _ = index.insert(subject, ());
            }
        }
        *self
            .stream_subjects
            .write()
            .unwrap_or_else(|e| e.into_inner()) = index;
        self.has_streams
            .store(!current.is_empty(), std::sync::atomic::Ordering::Relaxed);
        self.known_streams = current;
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
