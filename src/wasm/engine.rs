//! `Engine` for JavaScript: the core engine behind its JetStream front (which serves `$JS.API`)
//! plus, in browsers, its IndexedDB database.
//!
//! JavaScript hands in messages with [`JsEngine::handle`] (to the front), calls
//! [`JsEngine::flush`] and routes what it resolves to; it arms a timer for
//! [`JsEngine::poll_timeout`] and calls [`JsEngine::handle_timeout`] when it fires. With a
//! database, `flush` is the group commit: every write since the last flush goes into ONE
//! `durability: "strict"` transaction. The IndexedDB stores only queue their syncs, so the
//! core's flush hands out a pending ticket and holds the replies (PubAcks, ack confirmations)
//! itself; this shell commits, completes the ticket ([`Engine::flush_done`]) and hands out what
//! the engine then releases.
//!
//! Commits run one after another, in flush order. When one fails (quota exceeded, abort, I/O
//! error), the engine in memory is ahead of the database. In the common case, a batch of
//! appends, the engine takes it back itself ([`Engine::flush_failed`]): each stream the commit
//! carried has its stores' bookkeeping put back to the last completed commit
//! (`IdbStore::queued_sync_failed`) and the messages stored since dropped
//! (`discard_unsynced`), their PubAcks (and the shell's tickets for them) answered with
//! nats-server's error (10023 for a full quota, 10077 otherwise); what the engine then holds
//! is committed at once, in a second transaction, and the flush resolves to the refusals and
//! that commit's replies. Flushes already queued behind the failed one were built on it: the
//! engine failed their tickets with it, their publishes are refused the same way, and they
//! resolve without committing their writes (the second transaction carries what is left).
//!
//! A batch the engine cannot take back that way (a stream that also acked, removed, purged or
//! made a consumer since its last commit; a stream config written or a stream deleted, in it
//! or in a flush queued behind it; an engine still opening) is rolled back
//! by rebuilding the engine from the database (the last committed state) and replaying the
//! core's [`Journal`] of what was handled since: the failed batch's publishes are refused as
//! above and store nothing, everything else is handled again and committed at once, in a
//! second transaction, with the same resolution. Only when that second commit fails too does
//! the flush reject, with everything since the last commit gone: nothing unacknowledged
//! survives, and no later commit can write state built on it (flushes queued behind it reject
//! with [`Error::RolledBack`]).

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::engine_links::Links;
use super::error::Error;
use super::idb::codec::{self, SeqState, StreamMeta};
use super::idb::db::StoredStream;
use super::idb::{CommitQueue, Database, IdbStore, Write};
use super::link::RemoteLink;
use super::partial::{self, Partial};
use super::released;
use crate::core::engine::{Engine, EngineConfig, FlushTicket, StoreFactory, UNBOUND};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::front::journal::{Input, Journal};
use crate::core::front::JetStream;
use crate::core::message::{Destination, LinkId, Message, Outbound};
use crate::core::stream::StreamConfig;
use crate::core::sync::upload::UploadConfig;
use crate::core::time::{Nanos, MILLIS};

mod commit;

/// A stream spanning more sequences than this opens from its newest segments only (see
/// [`partial`]): ~1 MiB of 128-byte messages, read in a few milliseconds.
const TAIL_SEQS: u64 = 8192;

/// Milliseconds since the epoch (JavaScript's clock) to the core's nanoseconds. The whole
/// milliseconds are multiplied as integers: `ms * 1e6` in floating point exceeds 2^53 and made up
/// nanosecond digits (`...46.699000064Z`) that no clock measured.
fn nanos(ms: f64) -> Nanos {
    let whole = ms.trunc();
    let fraction = ((ms - whole) * 1_000_000.0).round() as Nanos;
    (whole as Nanos)
        .saturating_mul(1_000_000)
        .saturating_add(fraction)
}

/// What one flush takes.
struct Batch {
    /// The engine's ticket when its stores queued their syncs (the messages it holds are
    /// released once the commit completes it).
    ticket: Option<FlushTicket>,
    /// Ticketed publishes' outcomes, released once the commit succeeded.
    acks: Vec<released::TicketAck>,
    /// Messages to release once the commit succeeded.
    out: Vec<Outbound>,
    /// The writes to commit first.
    writes: Vec<Write>,
    /// Whether the writes are all the stores' (no stream meta written or stream deleted by the
    /// shell): a failed commit of them is the engine's to take back (see [`Shell::roll_back`]).
    stores_only: bool,
    /// `Shell::taken_back` when it was taken: a batch taken before a take-back is void.
    epoch: u64,
}

/// A batch queued behind an unsettled flush, as a failed commit before it needs to see it.
struct Waiting {
    /// Its ticketed publishes' outcomes (a rollback refuses those it took back).
    acks: Vec<released::TicketAck>,
    /// See [`Batch::stores_only`].
    stores_only: bool,
}

/// A stream's config and creation time as its meta record last had them.
type WrittenMeta = (StreamConfig, Nanos);

/// State shared by the class and the commits it has in flight.
struct Shell {
    /// The engine and its `$JS.API` front.
    front: RefCell<JetStream>,
    db: Option<Database>,
    queue: CommitQueue,
    /// The meta record last written per stream, to write only changed ones.
    metas: RefCell<BTreeMap<String, WrittenMeta>>,
    /// What the last restore could not bring back.
    warnings: RefCell<Vec<String>>,
    seed: u64,
    /// Counts rollbacks: a batch taken in an older generation belongs to discarded state.
    generation: Cell<u64>,
    /// Counts failed commits the engine took back itself: a batch taken before one carried
    /// writes built on the failed commit, and is not committed.
    taken_back: Cell<u64>,
    /// Numbers flushes, for `waiting`.
    flushes: Cell<u64>,
    /// The batches queued behind an unsettled flush, by flush number.
    waiting: RefCell<BTreeMap<u64, Waiting>>,
    /// Batches of a generation below this lost their inputs in a rollback (not replayed).
    lost_before: Cell<u64>,
    /// What the engine took since the last commit, replayed after a failed one.
    journal: RefCell<Journal>,
    /// A failed commit's rollback is still to do (reading the database back failed too).
    needs_reload: Cell<bool>,
    /// The latest flush: the next commit waits for it to settle.
    last_flush: RefCell<Option<Promise>>,
    /// Flushes not settled yet.
    in_flight: Cell<usize>,
    /// Outcomes of ticketed publishes since the last flush, released with its messages.
    acks: RefCell<Vec<released::TicketAck>>,
    /// The next publish ticket.
    next_ticket: Cell<u32>,
    /// Opened from the newest segments only, until `completeOpen` (see [`partial`]).
    partial: RefCell<Option<Partial>>,
    /// Server connections the engine speaks through (see [`super::engine_links`]).
    links: RefCell<Links>,
    /// The uploads started or bound in this session: started again on an engine rebuilt from
    /// the database (their cursors are in it), on the same link.
    uploads: RefCell<BTreeMap<String, KeptUpload>>,
    /// Filters of local subscriptions that may cover advisories (`setEventInterest`), one entry
    /// per subscription: told again to an engine rebuilt from the database.
    event_filters: RefCell<Vec<String>>,
    /// Rebuilds from the database after a failed commit, for tests to tell the two ways back.
    #[cfg(test)]
    rebuilds: Cell<u64>,
}

/// An upload as the shell started it, to start it again after a rollback.
struct KeptUpload {
    config: UploadConfig,
    /// The origin id it was started with (its consumer's, or the one a lost consumer had).
    origin: String,
    server: Option<String>,
}

/// The reply of a call that needs the whole database while a fast open still reads it.
const OPENING: &str =
    r#"{"error":{"code":503,"err_code":10077,"description":"engine still opening"}}"#;

/// An engine rebuilt from a database, with what the shell keeps beside it.
pub(crate) struct Restored {
    engine: Engine,
    metas: BTreeMap<String, WrittenMeta>,
    warnings: Vec<String>,
    /// Some stream was restored from its newest segments only.
    partial: bool,
}

/// Rebuilds every stream and consumer the database holds into a new engine whose stores put
/// their writes on `queue`. Segments are restored batch by batch as IndexedDB delivers them.
pub(crate) async fn restore(
    stored: BTreeMap<String, StoredStream>,
    queue: &CommitQueue,
    seed: u64,
    now: Nanos,
) -> Result<Restored, Error> {
    let factory_queue = queue.clone();
    let factory: StoreFactory = Box::new(move |config: &StreamConfig| {
        Ok(Box::new(IdbStore::new(&config.name, factory_queue.clone())))
    });
    let mut engine = Engine::new(EngineConfig::default(), factory, seed);
    let mut metas = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut partial = false;
    for (stream, mut records) in stored {
        // No stream has the empty name: records under it are the package's own (the API routes
        // `attach()` recorded, pkg/attached.js), read by JavaScript, not a stream to restore.
        if stream.is_empty() {
            continue;
        }
        let restore_err = |why: String| Error::Restore {
            stream: stream.clone(),
            why,
        };
        let Some(meta_bytes) = records.meta else {
            warnings.push(format!(
                "stream {stream}: records without a config, left alone"
            ));
            continue;
        };
        let meta: StreamMeta = codec::decode_json(&meta_bytes)?;
        let config: StreamConfig =
            serde_json::from_value(meta.config).map_err(|e| restore_err(format!("config: {e}")))?;
        let state: SeqState = match &records.state {
            Some(bytes) => codec::decode_json(bytes)?,
            None => SeqState::default(),
        };
        let mut restorer = IdbStore::restorer(&stream, queue.clone(), state)
            .map_err(|e| restore_err(e.to_string()))?;
        while let Some(batch) = records.segments.next().await {
            restorer
                .add(batch?)
                .map_err(|e| restore_err(e.to_string()))?;
        }
        let store = if records.history {
            partial = true;
            restorer.finish_tail()
        } else {
            restorer.finish(records.consumers)
        };
        let store = store.map_err(|e| restore_err(e.to_string()))?;
        let skipped = engine
            .restore_stream(config, meta.created, Box::new(store), now)
            .map_err(|e| restore_err(e.to_string()))?;
        for s in skipped {
            warnings.push(format!("consumer {stream}/{}: {}", s.name, s.error));
        }
        if let Some(restored) = engine.stream(&stream) {
            metas.insert(
                stream.clone(),
                (restored.config().clone(), restored.created()),
            );
        }
    }
    // Uploads recorded in the database run again, waiting for a link (`bindUploads`).
    engine.restore_uploads();
    Ok(Restored {
        engine,
        metas,
        warnings,
        partial,
    })
}

/// A JetStream engine in this JavaScript context.
#[wasm_bindgen(js_name = Engine)]
pub struct JsEngine {
    shell: Rc<Shell>,
}

#[wasm_bindgen(js_class = Engine)]
impl JsEngine {
    /// An engine whose streams live in memory (Node, edge workers, tests).
    #[wasm_bindgen(js_name = inMemory)]
    pub fn in_memory(seed: f64) -> JsEngine {
        JsEngine::with_shell(
            Engine::in_memory(seed as u64),
            None,
            CommitQueue::default(),
            BTreeMap::new(),
            Vec::new(),
            seed as u64,
        )
    }

    /// Opens (or creates) the engine persisted in the IndexedDB database `name`, restoring every
    /// stream and consumer it holds.
    ///
    /// A long stream is opened from its newest messages only (the engine is `loading`): it
    /// takes publishes that need nothing older right away and defers the rest until
    /// [`JsEngine::complete_open`] has read everything.
    #[wasm_bindgen(js_name = openIndexedDb)]
    pub async fn open_indexed_db(name: String, seed: f64, now_ms: f64) -> Result<JsEngine, Error> {
        JsEngine::open_with_tail(name, seed, now_ms, TAIL_SEQS).await
    }

    /// True from a fast open until [`JsEngine::complete_open`] finished.
    #[wasm_bindgen(getter)]
    pub fn loading(&self) -> bool {
        self.shell.partial.borrow().is_some()
    }

    /// Ends a fast open: commits what the partial engine took (resolving, like
    /// [`JsEngine::flush`], to that release), reads the whole database into a new engine, and
    /// hands it everything deferred meanwhile, in order (flush to release their replies).
    /// Resolves to an empty release when the engine was not loading. On failure the deferred
    /// requests are dropped: fail everything still waiting, as after a failed flush.
    #[wasm_bindgen(js_name = completeOpen)]
    pub fn complete_open(&self) -> Promise {
        let shell = self.shell.clone();
        future_to_promise(async move { shell.complete_open().await })
    }
}

impl JsEngine {
    /// [`JsEngine::open_indexed_db`] with a given tail: streams spanning more than `tail`
    /// sequences open partial.
    pub(crate) async fn open_with_tail(
        name: String,
        seed: f64,
        now_ms: f64,
        tail: u64,
    ) -> Result<JsEngine, Error> {
        let db = Database::open(&name).await?;
        let queue = CommitQueue::default();
        let restored = match db.load_tail(tail).await {
            Ok(stored) => restore(stored, &queue, seed as u64, nanos(now_ms)).await,
            Err(e) => Err(e),
        };
        let restored = restored.inspect_err(|_| db.close())?;
        let partial = restored.partial;
        let engine = JsEngine::with_shell(
            restored.engine,
            Some(db),
            queue,
            restored.metas,
            restored.warnings,
            seed as u64,
        );
        if partial {
            *engine.shell.partial.borrow_mut() = Some(Partial::default());
        }
        // What came due while the page was closed (max_age, message TTLs) goes before anything
        // is read; its removals commit with the next flush. A fast open leaves it to the timers
        // of the whole engine (its stores refuse removals until then).
        engine.handle_timeout(now_ms);
        Ok(engine)
    }
}

#[wasm_bindgen(js_class = Engine)]
impl JsEngine {
    /// Deletes the IndexedDB database `name` and everything in it.
    #[wasm_bindgen(js_name = deleteIndexedDb)]
    pub async fn delete_indexed_db(name: String) -> Result<(), Error> {
        Database::delete(&name).await
    }

    /// What opening could not restore (unreadable consumer records, left in place).
    #[wasm_bindgen(getter)]
    pub fn warnings(&self) -> Vec<String> {
        self.shell.warnings.borrow().clone()
    }

    /// True when streams are persisted to IndexedDB.
    #[wasm_bindgen(getter)]
    pub fn persistent(&self) -> bool {
        self.shell.db.is_some()
    }

    /// Hands the engine a message a client published (API request, publish, ack). Returns
    /// whether JetStream took it; replies wait for the next [`JsEngine::flush`].
    pub fn handle(
        &self,
        subject: String,
        reply: Option<String>,
        headers: Option<Vec<u8>>,
        payload: Vec<u8>,
        now_ms: f64,
    ) -> bool {
        let msg = Message {
            subject,
            reply,
            headers: headers.map(Bytes::from),
            payload: Bytes::from(payload),
        };
        let now = nanos(now_ms);
        if self.shell.db.is_some() {
            let input = Input::Handle(msg.clone(), now);
            self.shell.journal.borrow_mut().push(input);
        }
        let mut front = self.shell.front.borrow_mut();
        match self.shell.partial.borrow_mut().as_mut() {
            Some(partial) => partial.handle(&mut front, msg, now),
            None => front.handle(msg, now),
        }
    }

    /// Publishes into the stream that captures `subject`, as `handle` does a message with a
    /// reply subject, but the outcome comes back as a ticket, not as a PubAck message to an
    /// inbox: the returned ticket's ack (or API error) is in the release of the flush that
    /// commits it (see [`released`]). `undefined` when no stream captures `subject`. For
    /// subjects outside `$JS.`: those are requests, acks and flow control, for `handle`.
    pub fn publish(
        &self,
        subject: &str,
        headers: Option<Vec<u8>>,
        payload: Vec<u8>,
        now_ms: f64,
    ) -> Option<u32> {
        let ticket = self.shell.next_ticket.get();
        let (headers, payload, now) = (
            headers.map(Bytes::from),
            Bytes::from(payload),
            nanos(now_ms),
        );
        let journaled = self
            .shell
            .db
            .is_some()
            .then(|| (headers.clone(), payload.clone()));
        let mut engine = self.shell.engine_mut();
        let result = match self.shell.partial.borrow_mut().as_mut() {
            Some(partial) => {
                match partial.publish(&mut engine, ticket, subject, headers, payload, now) {
                    partial::Publish::NoStream => return None,
                    partial::Publish::Done(result) => Some(result),
                    partial::Publish::Deferred => None,
                }
            }
            None => Some(engine.publish(subject, headers, payload, now)?),
        };
        if let Some((headers, payload)) = journaled {
            let mut journal = self.shell.journal.borrow_mut();
            journal.push_publish(ticket, subject, headers, payload, now);
        }
        self.shell.next_ticket.set(ticket.wrapping_add(1));
        if let Some(result) = result {
            self.shell.acks.borrow_mut().push((ticket, result));
        }
        Some(ticket)
    }

    /// Makes everything handled so far durable (one strict IndexedDB transaction when
    /// persistent), then resolves to what it releases (ticketed PubAcks and messages), packed
    /// in one `Uint8Array` (see [`released`]).
    ///
    /// Commits happen in flush order. When no other flush is in flight, the transaction begins
    /// within this call: the browser commits while JavaScript goes on (no microtask in
    /// between).
    ///
    /// If this one fails, the engine takes the batch back, or is rebuilt from the database with
    /// what it handled since replayed (see the module docs): the promise still resolves, with
    /// this batch's publishes refused (503 / 10023 "insufficient resources" for a full quota,
    /// 10077 otherwise) and everything else answered once a second transaction committed it.
    /// A flush taken before that resolves to its publishes refused the same way (after a
    /// rebuild: to an empty release, its inputs were replayed and are answered by the flush
    /// that replayed them). Only if the second transaction fails as well does the
    /// promise reject (with a `QuotaExceededError` when the quota is full): what was handled
    /// since the last successful commit is gone, so callers should fail every reply they still
    /// wait for; flushes taken before that reject with a "rolled back" `ContrailError`.
    pub fn flush(&self) -> Promise {
        flush(&self.shell)
    }

    /// When (milliseconds since the epoch) [`JsEngine::handle_timeout`] next has work.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        if self.shell.partial.borrow().is_some() {
            return None; // timers wait for the whole engine
        }
        let next = self.shell.engine().poll_timeout()?;
        Some(next as f64 / 1_000_000.0)
    }

    /// Does what is due at `now_ms` (redeliveries, pull expiries, heartbeats, max_age).
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&self, now_ms: f64) {
        if self.shell.partial.borrow().is_some() {
            return;
        }
        if self.shell.db.is_some() {
            let input = Input::Timeout(nanos(now_ms));
            self.shell.journal.borrow_mut().push(input);
        }
        self.shell.engine_mut().handle_timeout(nanos(now_ms));
    }

    /// Tells the engine whether a push consumer's deliver subject has subscribers.
    #[wasm_bindgen(js_name = setInterest)]
    pub fn set_interest(&self, deliver_subject: &str, active: bool, now_ms: f64) {
        if self.shell.db.is_some() {
            let input = Input::Interest(deliver_subject.to_string(), active, nanos(now_ms));
            self.shell.journal.borrow_mut().push(input);
        }
        if let Some(partial) = self.shell.partial.borrow_mut().as_mut() {
            return partial.set_interest(deliver_subject, active, nanos(now_ms));
        }
        self.shell
            .engine_mut()
            .set_interest(deliver_subject, active, nanos(now_ms));
    }

    /// Tells the engine that a local subscription on `filter` started (`active`) or ended:
    /// advisories (`$JS.EVENT.ADVISORY.…`) are built only while one covers their subject.
    #[wasm_bindgen(js_name = setEventInterest)]
    pub fn set_event_interest(&self, filter: &str, active: bool) {
        let mut filters = self.shell.event_filters.borrow_mut();
        if active {
            filters.push(filter.to_string());
        } else if let Some(at) = filters.iter().position(|f| f == filter) {
            filters.swap_remove(at);
        }
        self.shell.engine_mut().set_event_interest(filter, active);
    }

    /// Attaches a server connection (`RemoteLink`) for the engine to speak through; returns its
    /// link id (the same for a link attached before). The engine hears it is up or down and
    /// sends its subscriptions and publishes for that link over it.
    #[wasm_bindgen(js_name = attachLink)]
    pub fn attach_link(&self, link: &RemoteLink) -> u32 {
        let id = self.shell.links.borrow_mut().attach(link.port());
        id.0
    }

    /// Detaches link `id`: the engine hears it is down.
    #[wasm_bindgen(js_name = detachLink)]
    pub fn detach_link(&self, id: u32) {
        self.shell.links.borrow_mut().detach(LinkId(id));
    }

    /// Routes the JetStream API prefix `api` (`$JS.<domain>.API`, or a mirror's
    /// `external.api`) to link `link`, or forgets the route when `link` is undefined: the
    /// engine's own requests to that API (a mirror's consumer create) go over the link, with
    /// the prefix rewritten to `remote_api` when the server answers on another one (`$JS.API`).
    #[wasm_bindgen(js_name = routeApi)]
    pub fn route_api(&self, api: &str, link: Option<u32>, remote_api: Option<String>) {
        let mut engine = self.shell.engine_mut();
        let id = link.map(LinkId);
        self.shell
            .links
            .borrow_mut()
            .route_api(&mut engine, api, id, remote_api.as_deref());
    }

    /// Sets the function called when a link has news for the engine: it should flush soon.
    #[wasm_bindgen(js_name = setWake)]
    pub fn set_wake(&self, wake: Option<js_sys::Function>) {
        self.shell.links.borrow().set_wake(wake);
    }

    /// Hands the engine what its links said since the last call (a mirror's deliveries, replies
    /// to its requests) without flushing: stored, their replies queued behind the writes as
    /// any input's, all made durable by the next [`JsEngine::flush`]. For JavaScript to call
    /// when woken while a commit is in flight: the engine's work on a catch-up's messages then
    /// overlaps IndexedDB's commit of the ones before, instead of waiting for the next flush
    /// and delaying its commit (a mirror catching up spent a quarter of its time in flushes
    /// taking news while no commit was in flight). Nothing during a fast open (the partial
    /// engine takes no link news).
    #[wasm_bindgen(js_name = takeNews)]
    pub fn take_news(&self) {
        if self.shell.partial.borrow().is_some() {
            return;
        }
        let mut front = self.shell.front.borrow_mut();
        let now = nanos(js_sys::Date::now());
        front.engine_mut().set_clock(now);
        self.shell.links.borrow().deliver(&mut front, now);
    }

    /// Starts upload `name` of local stream `stream` to remote stream `to` over link `link`
    /// (see `core::sync::upload`), recording `server` (the connection's URL) so it is bound
    /// again after a reload ([`JsEngine::bind_uploads`]); without a link it is recorded and
    /// waits for one. `prefix` goes before each subject, `window` publishes may await their
    /// PubAck at once, each for `ack_timeout_ms`. `origin` is the origin id used if the
    /// upload's consumer is made now (random, from `crypto.getRandomValues`). Returns the
    /// status as JSON, or `{"error": ApiError}`.
    #[wasm_bindgen(js_name = startUpload)]
    #[allow(clippy::too_many_arguments)]
    pub fn start_upload(
        &self,
        name: &str,
        stream: &str,
        to: &str,
        link: Option<u32>,
        server: Option<String>,
        prefix: Option<String>,
        window: Option<f64>,
        ack_timeout_ms: Option<f64>,
        origin: &str,
        now_ms: f64,
    ) -> String {
        let dest = link.map_or(UNBOUND, |id| Destination::Link(LinkId(id)));
        let mut config = UploadConfig::new(stream, to, dest);
        config.subject_prefix = prefix.filter(|p| !p.is_empty());
        if let Some(window) = window.filter(|w| w.is_finite() && *w >= 1.0) {
            config.window = window as usize;
        }
        if let Some(ms) = ack_timeout_ms.filter(|ms| ms.is_finite() && *ms > 0.0) {
            config.ack_timeout = (ms * MILLIS as f64) as Nanos;
        }
        if self.shell.partial.borrow().is_some() {
            return OPENING.to_string();
        }
        let server = server.filter(|s| !s.is_empty());
        let started = self.shell.engine_mut().start_upload_to(
            name,
            config.clone(),
            server.as_deref(),
            origin,
            nanos(now_ms),
        );
        match started {
            Ok(status) => {
                let kept = KeptUpload {
                    config,
                    origin: status.origin.clone(),
                    server,
                };
                self.shell
                    .uploads
                    .borrow_mut()
                    .insert(name.to_string(), kept);
                self.upload_status(name).unwrap_or_default()
            }
            Err(error) => serde_json::json!({ "error": error }).to_string(),
        }
    }

    /// Sends every upload recorded for `server` (a connection's URL) over link `link` from
    /// now on, each after its cursor. Returns their names as a JSON array, or
    /// `{"error": ApiError}` while the engine is still opening.
    #[wasm_bindgen(js_name = bindUploads)]
    pub fn bind_uploads(&self, server: &str, link: u32, now_ms: f64) -> String {
        if self.shell.partial.borrow().is_some() {
            return OPENING.to_string();
        }
        let dest = Destination::Link(LinkId(link));
        let names = self
            .shell
            .engine_mut()
            .bind_uploads(server, dest, nanos(now_ms));
        let mut kept = self.shell.uploads.borrow_mut();
        for name in &names {
            if let Some(entry) = kept.get_mut(name) {
                entry.config.dest = dest;
            }
        }
        serde_json::to_string(&names).unwrap_or_default()
    }

    /// The names of the uploads running (restored from the database ones included), as a JSON
    /// array.
    #[wasm_bindgen(js_name = uploadNames)]
    pub fn upload_names(&self) -> String {
        serde_json::to_string(&self.shell.engine().upload_names()).unwrap_or_default()
    }

    /// Stops upload `name` for this session (its cursor and record stay in its consumer: the
    /// database opened again runs it); false if none runs.
    #[wasm_bindgen(js_name = stopUpload)]
    pub fn stop_upload(&self, name: &str) -> bool {
        self.shell.uploads.borrow_mut().remove(name);
        self.shell.engine_mut().stop_upload(name)
    }

    /// Stops upload `name` and deletes its consumer (cursor and record) with the next flush.
    /// Returns `{"forgot": bool}` (false: no such upload) or `{"error": ApiError}`.
    #[wasm_bindgen(js_name = forgetUpload)]
    pub fn forget_upload(&self, name: &str, now_ms: f64) -> String {
        if self.shell.partial.borrow().is_some() {
            return OPENING.to_string();
        }
        self.shell.uploads.borrow_mut().remove(name);
        let forgot = self.shell.engine_mut().forget_upload(name, nanos(now_ms));
        match forgot {
            Ok(forgot) => serde_json::json!({ "forgot": forgot }).to_string(),
            Err(error) => serde_json::json!({ "error": error }).to_string(),
        }
    }

    /// Pauses or resumes upload `name` (recorded with it); false if none runs.
    #[wasm_bindgen(js_name = pauseUpload)]
    pub fn pause_upload(&self, name: &str, paused: bool) -> bool {
        self.shell.engine_mut().pause_upload(name, paused)
    }

    /// Upload `name`'s status as JSON (`core::engine::UploadReport`).
    #[wasm_bindgen(js_name = uploadStatus)]
    pub fn upload_status(&self, name: &str) -> Option<String> {
        let status = self.shell.engine().upload_report(name)?;
        serde_json::to_string(&status).ok()
    }

    /// Closes the database connection (commits in flight still finish).
    pub fn close(&self) {
        if let Some(db) = &self.shell.db {
            db.close();
        }
    }
}

impl JsEngine {
    /// How many times a failed commit rebuilt the engine from the database (rather than the
    /// engine taking the batch back itself).
    #[cfg(test)]
    pub(crate) fn rebuilds(&self) -> u64 {
        self.shell.rebuilds.get()
    }

    /// How many failed commits the engine took back itself ([`Engine::flush_failed`]).
    #[cfg(test)]
    pub(crate) fn taken_back(&self) -> u64 {
        self.shell.taken_back.get()
    }

    fn with_shell(
        engine: Engine,
        db: Option<Database>,
        queue: CommitQueue,
        metas: BTreeMap<String, WrittenMeta>,
        warnings: Vec<String>,
        seed: u64,
    ) -> JsEngine {
        JsEngine {
            shell: Rc::new(Shell {
                front: RefCell::new(JetStream::new(engine)),
                db,
                queue,
                metas: RefCell::new(metas),
                warnings: RefCell::new(warnings),
                seed,
                generation: Cell::new(0),
                taken_back: Cell::new(0),
                flushes: Cell::new(0),
                waiting: RefCell::new(BTreeMap::new()),
                lost_before: Cell::new(0),
                journal: RefCell::new(Journal::default()),
                needs_reload: Cell::new(false),
                last_flush: RefCell::new(None),
                in_flight: Cell::new(0),
                acks: RefCell::new(Vec::new()),
                next_ticket: Cell::new(0),
                partial: RefCell::new(None),
                links: RefCell::new(Links::default()),
                uploads: RefCell::new(BTreeMap::new()),
                event_filters: RefCell::new(Vec::new()),
                #[cfg(test)]
                rebuilds: Cell::new(0),
            }),
        }
    }
}

/// The release buffer of `acks` and `out` (see [`released`]); what `out` addresses to a link
/// is published on it now instead.
fn release(shell: &Shell, acks: &[released::TicketAck], out: &[Outbound]) -> JsValue {
    if out.iter().all(|o| o.dest == Destination::Local) {
        return Uint8Array::from(&released::encode(acks, out)[..]).into();
    }
    shell.links.borrow().send_all(out);
    let local: Vec<Outbound> = out
        .iter()
        .filter(|o| o.dest == Destination::Local)
        .cloned()
        .collect();
    Uint8Array::from(&released::encode(acks, &local)[..]).into()
}

/// See [`JsEngine::flush`].
fn flush(shell: &Rc<Shell>) -> Promise {
    let shell = shell.clone();
    let generation = shell.generation.get();
    let end = shell.journal.borrow().end();
    let mut batch = shell.take_batch();
    if let Ok(Batch {
        ticket: Some(_),
        out,
        ..
    }) = &mut batch
    {
        // A batch with a commit to wait for, taken with no earlier flush unsettled: what the
        // engine released already never waits for this commit (what does stays held in the
        // engine until `flush_done`), so what goes to a link leaves now, in the engine's order
        // (nothing earlier is still to be sent). An upload's next publishes (of messages
        // committed before) so overlap the commit of its cursor instead of waiting for it;
        // after a failed commit the rebuilt engine resends from the saved cursor, and the
        // server answers duplicates.
        if out.iter().any(|o| o.dest != Destination::Local) {
            shell.links.borrow().send_all(out.iter());
            out.retain(|o| o.dest == Destination::Local);
        }
    }
    let previous = if shell.in_flight.get() > 0 {
        shell.last_flush.borrow_mut().take()
    } else {
        None
    };
    let number = shell.flushes.get() + 1;
    shell.flushes.set(number);
    if let (Ok(batch), Some(_)) = (&mut batch, &previous) {
        // Its acks are kept where a failed commit before it can reach them.
        let waiting = Waiting {
            acks: std::mem::take(&mut batch.acks),
            stores_only: batch.stores_only,
        };
        shell.waiting.borrow_mut().insert(number, waiting);
    }
    // First in line: the transaction begins in this call, so IndexedDB works on it while
    // JavaScript goes on (a flush behind another begins once that one settled).
    let (batch, begun) = match (batch, &shell.db, &previous) {
        (Ok(mut batch), Some(db), None) if !shell.needs_reload.get() => {
            let writes = std::mem::take(&mut batch.writes);
            (Ok(batch), Some(db.begin(writes)))
        }
        (batch, _, _) => (batch, None),
    };
    shell.in_flight.set(shell.in_flight.get() + 1);
    let promise = future_to_promise({
        let shell = shell.clone();
        async move {
            let result = shell
                .settle(batch, begun, previous, generation, end, number)
                .await;
            shell.in_flight.set(shell.in_flight.get() - 1);
            result
        }
    });
    *shell.last_flush.borrow_mut() = Some(promise.clone());
    promise
}

impl Shell {
    /// The engine, to read (behind its front).
    fn engine(&self) -> Ref<'_, Engine> {
        Ref::map(self.front.borrow(), JetStream::engine)
    }

    /// The engine, to drive or call typed methods on (behind its front).
    fn engine_mut(&self) -> RefMut<'_, Engine> {
        RefMut::map(self.front.borrow_mut(), JetStream::engine_mut)
    }

    /// See [`JsEngine::complete_open`].
    async fn complete_open(self: Rc<Self>) -> Result<JsValue, JsValue> {
        let Some(db) = &self.db else {
            return Ok(Uint8Array::from(&released::encode(&[], &[])[..]).into());
        };
        match self.partial.borrow_mut().as_mut() {
            Some(partial) => partial.completing = true,
            None => return Ok(Uint8Array::from(&released::encode(&[], &[])[..]).into()),
        }
        // From here on everything is deferred; what the partial engine took commits first.
        let released = JsFuture::from(flush(&self)).await?;
        if self.partial.borrow().is_none() {
            // That flush's commit failed and the shell rebuilt the whole engine already.
            return Ok(released);
        }
        // The partial engine takes nothing more, so nothing is discarded: same generation.
        if let Err(err) = self.load_whole(db, self.generation.get()).await {
            self.needs_reload.set(true);
            *self.partial.borrow_mut() = None;
            return Err(err.into());
        }
        // No await from here on: the whole engine takes the deferred messages before any other.
        if let Some(partial) = self.partial.borrow_mut().take() {
            partial.replay(&mut self.front.borrow_mut(), &mut self.acks.borrow_mut());
        }
        Ok(released)
    }

    /// Replaces the engine with the one the database holds: the rollback after a failed commit.
    async fn reload(&self, db: &Database) -> Result<(), Error> {
        let generation = self.generation.get() + 1;
        #[cfg(test)]
        self.rebuilds.set(self.rebuilds.get() + 1);
        self.load_whole(db, generation).await?;
        self.needs_reload.set(false);
        Ok(())
    }

    /// Replaces the engine with one rebuilt from everything the database holds, tagged
    /// `generation` (a new one for a rollback, the same when nothing is discarded).
    async fn load_whole(&self, db: &Database, generation: u64) -> Result<(), Error> {
        let stored = db.load().await?;
        let now = nanos(js_sys::Date::now());
        let restored = restore(stored, &self.queue, self.seed ^ generation, now).await?;
        // No await from here on: nothing can be handled by the old engine in between.
        self.queue.borrow_mut().clear();
        self.acks.borrow_mut().clear();
        let mut engine = restored.engine;
        self.links.borrow_mut().restart(&mut engine, now);
        for (name, kept) in self.uploads.borrow().iter() {
            // Its consumer (the cursor) is in the database unless it was made in the lost
            // batch; then it is made again with the same origin id.
            let config = kept.config.clone();
            let server = kept.server.as_deref();
            let _ = engine.start_upload_to(name, config, server, &kept.origin, now);
        }
        for filter in self.event_filters.borrow().iter() {
            engine.set_event_interest(filter, true);
        }
        // A new front: the API statistics start again with the engine.
        *self.front.borrow_mut() = JetStream::new(engine);
        *self.metas.borrow_mut() = restored.metas;
        *self.warnings.borrow_mut() = restored.warnings;
        self.generation.set(generation);
        Ok(())
    }

    /// Flushes the engine: its ticket when a store queued its sync, the ticketed publishes'
    /// outcomes and the messages it releases now (all of them when nothing was queued or when
    /// no earlier flush is unsettled, and `flush` sends those for a link at once; else they
    /// are taken when the commit completes the ticket), and the writes to commit before the
    /// local ones leave.
    fn take_batch(&self) -> Result<Batch, Error> {
        let mut front = self.front.borrow_mut();
        if self.partial.borrow().is_none() {
            // What the links said since the last flush (replies to the engine's requests).
            let now = nanos(js_sys::Date::now());
            front.engine_mut().set_clock(now);
            self.links.borrow().deliver(&mut front, now);
        }
        let engine = front.engine_mut();
        let ticket = engine.flush();
        ticket.result()?;
        {
            let mut links = self.links.borrow_mut();
            while let Some(event) = engine.poll_event() {
                // Local subscriptions need nothing here: JavaScript hands the engine every
                // `$JS.` message and stream subject itself.
                links.apply(&event);
            }
        }
        // The next batch starts with room for as many acks as this one: growing the vector
        // from empty on every flush was 4% of a publish profile.
        let acks = {
            let mut acks = self.acks.borrow_mut();
            let room = acks.len();
            std::mem::replace(&mut *acks, Vec::with_capacity(room))
        };
        let mut out = Vec::new();
        let ticket = match ticket.is_pending() {
            true if self.in_flight.get() == 0 => {
                // Released already: `flush` sends what goes to a link before the commit.
                drain(engine, &mut out);
                Some(ticket)
            }
            true => Some(ticket),
            false => {
                drain(engine, &mut out);
                None
            }
        };
        if self.db.is_none() {
            return Ok(Batch {
                ticket,
                acks,
                out,
                writes: Vec::new(),
                stores_only: true,
                epoch: self.taken_back.get(),
            });
        }
        let mut metas = self.metas.borrow_mut();
        let mut queue = self.queue.borrow_mut();
        let names = engine.stream_names(None);
        // A stream deleted in this batch loses its meta record, even if recreated after.
        for write in queue.iter() {
            if let Write::DeleteStream { stream } = write {
                metas.remove(stream);
            }
        }
        metas.retain(|name, _| names.contains(name));
        for name in names {
            let Some(stream) = engine.stream(&name) else {
                continue;
            };
            // Compared as structs: encoding every config to JSON on every flush was ~3% of
            // a publish profile.
            let written = metas.get(&name);
            if written.is_some_and(|(c, t)| c == stream.config() && *t == stream.created()) {
                continue;
            }
            let meta = StreamMeta {
                config: serde_json::to_value(stream.config()).unwrap_or_default(),
                created: stream.created(),
            };
            metas.insert(name.clone(), (stream.config().clone(), stream.created()));
            queue.push(Write::PutMeta {
                stream: name,
                bytes: codec::encode_json(&meta),
            });
        }
        let stores_only = !queue
            .iter()
            .any(|w| matches!(w, Write::PutMeta { .. } | Write::DeleteStream { .. }));
        Ok(Batch {
            ticket,
            acks,
            out,
            writes: std::mem::take(&mut *queue),
            stores_only,
            epoch: self.taken_back.get(),
        })
    }
}

/// Moves what the engine released to `out`.
fn drain(engine: &mut Engine, out: &mut Vec<Outbound>) {
    // What goes to a link leaves with the rest, after the commit (see `release`).
    while let Some(o) = engine.poll_outbound() {
        out.push(o);
    }
}

/// The API error nats-server answers a publish with when its store cannot write it:
/// "insufficient resources" for a full quota, "stream store failed" with the reason otherwise.
pub(crate) fn refusal(why: &Error) -> ApiError {
    match why {
        Error::QuotaExceeded => ErrorKind::InsufficientResources.into(),
        other => ApiError::with_detail(ErrorKind::StreamStoreFailed, other),
    }
}
