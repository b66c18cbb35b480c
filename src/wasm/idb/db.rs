//! The IndexedDB database of one engine: opening it, reading every stream back, and committing
//! a batch of [`Write`]s as one `durability: "strict"` transaction, scoped to the stores the
//! batch writes and committed explicitly once its requests are placed.
//!
//! Object stores (out-of-line keys, values are `Uint8Array`s):
//! - `meta`: stream name → config and creation time ([`super::codec::StreamMeta`]);
//! - `state`: stream name → sequence state ([`super::codec::SeqState`]);
//! - `segments`: `[stream, key seq]` → packed messages ([`super::codec::Segment`]); the sequence
//!   is 8 big-endian bytes (a binary key: sorts as the number does, exact for every u64), and the
//!   value repeats stream and sequence so opening reads the store with one `getAll` and no keys;
//! - `consumers`: `[stream, consumer]` → consumer record; under the empty stream name (no
//!   stream has it) the package keeps records of its own (pkg/attached.js: `['', api]` → the
//!   API route `attach()` made, JSON), which opening skips.
//!
//! Schema versions: 2 is this layout. Version 1 (segments without a header, numeric keys) came
//! before any release and is refused with [`Error::Schema`] rather than converted: delete it.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use bytes::Bytes;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest,
    IdbVersionChangeEvent,
};

use super::codec::{self, Segment, SeqState};
use super::write::Write;
use crate::core::store::Seq;
use crate::wasm::error::Error;

/// Schema version; see the module docs before bumping it.
const VERSION: u32 = 2;
const META: &str = "meta";
const STATE: &str = "state";
const SEGMENTS: &str = "segments";
const CONSUMERS: &str = "consumers";
const ALL: [&str; 4] = [META, STATE, SEGMENTS, CONSUMERS];

/// Sequences per key range when reading a stream's segments (see [`Database::load`]).
const RANGE_SEQS: u64 = 8192;
/// At most this many key ranges per stream.
const MAX_RANGES: u64 = 16;

/// Everything stored for one stream, as read at open.
#[derive(Default)]
pub struct StoredStream {
    /// Encoded meta record (absent if the stream was never fully written).
    pub meta: Option<Vec<u8>>,
    /// Encoded sequence state.
    pub state: Option<Vec<u8>>,
    /// `(consumer name, encoded record)`.
    pub consumers: Vec<(String, Vec<u8>)>,
    /// Its segments, arriving in batches (none for a stream without a meta record).
    pub segments: SegmentBatches,
    /// Only the newest segments were read ([`Database::load_tail`]): older ones remain.
    pub history: bool,
}

/// A stream's segments, requested as consecutive key ranges all at once: while one batch is
/// decoded, IndexedDB reads the next.
#[derive(Default)]
pub struct SegmentBatches {
    pending: VecDeque<JsFuture>,
}

impl SegmentBatches {
    /// The next batch, in ascending key order across batches; `None` after the last.
    pub async fn next(&mut self) -> Option<Result<Vec<Segment>, Error>> {
        let request = self.pending.pop_front()?;
        Some(decode_segments(request.await))
    }
}

fn decode_segments(values: Result<JsValue, JsValue>) -> Result<Vec<Segment>, Error> {
    let values = Array::from(&values.map_err(Error::idb)?);
    let mut out = Vec::with_capacity(values.length() as usize);
    for value in values.iter() {
        // One copy into wasm memory per segment; messages are slices of it.
        out.push(codec::decode_segment(Bytes::from(value_bytes(&value)?))?);
    }
    Ok(out)
}

/// An open database.
pub struct Database {
    db: IdbDatabase,
}

fn factory() -> Result<IdbFactory, Error> {
    let value = Reflect::get(&js_sys::global(), &"indexedDB".into()).map_err(Error::idb)?;
    value
        .dyn_into::<IdbFactory>()
        .map_err(|_| Error::NoIndexedDb)
}

/// The request's outcome, listened for from now on: create every request's future before
/// awaiting any, or an answer could arrive with no listener.
pub(crate) fn settled(req: &IdbRequest) -> JsFuture {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let req_ = req.clone();
        let on_either = once_either(move |event| {
            let _ = if event.type_() == "success" {
                resolve.call1(&JsValue::NULL, &req_.result().unwrap_or(JsValue::UNDEFINED))
            } else {
                let why = req_.error().ok().flatten().map(JsValue::from);
                reject.call1(&JsValue::NULL, &why.unwrap_or(JsValue::UNDEFINED))
            };
        });
        req.set_onsuccess(Some(on_either.unchecked_ref()));
        req.set_onerror(Some(on_either.unchecked_ref()));
    });
    JsFuture::from(promise)
}

/// One JavaScript function for two events of which exactly one fires (a request's `success`
/// or `error`, a transaction's `complete` or `abort`). A `once_into_js` function is freed by
/// its call and leaks what it holds when never called, so the handlers must not be two.
fn once_either(f: impl FnOnce(web_sys::Event) + 'static) -> JsValue {
    Closure::once_into_js(f)
}

/// Resolves when the request succeeds, with its result.
async fn done(req: &IdbRequest) -> Result<JsValue, Error> {
    settled(req).await.map_err(Error::idb)
}

/// A segment's key: `[stream, seq as 8 big-endian bytes]`.
fn segment_key(stream: &str, seq: Seq) -> JsValue {
    let seq = Uint8Array::from(&seq.to_be_bytes()[..]);
    Array::of2(&stream.into(), &seq).into()
}

/// The keys of `stream`'s records in a `[stream, ...]` keyed store from `lower` (inclusive;
/// the first when `None`) up to `upper` (exclusive; past the last when `None`).
fn stream_range(
    stream: &str,
    lower: Option<JsValue>,
    upper: Option<JsValue>,
) -> Result<JsValue, JsValue> {
    // `[stream]` sorts before every `[stream, x]`, and `[stream, []]` after them (arrays sort
    // after strings and binary keys).
    let lower = lower.unwrap_or_else(|| Array::of1(&stream.into()).into());
    let upper = upper.unwrap_or_else(|| Array::of2(&stream.into(), &Array::new()).into());
    IdbKeyRange::bound_with_lower_open_and_upper_open(&lower, &upper, false, true)
        .map(JsValue::from)
}

/// Test hooks that make IndexedDB commits fail on a schedule. A failing commit places its
/// writes, then aborts its real transaction, so the browser's abort path runs; its error is
/// reported as the DOMException the test named (`"QuotaExceededError"`, `"AbortError"`,
/// `"UnknownError"` for an I/O error). Commits with nothing to write do not count.
#[cfg(test)]
pub mod faults {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// What fails, counted in commits.
    #[derive(Default)]
    struct Plan {
        /// Commits begun so far.
        commits: u64,
        /// Commit number → the error it fails with.
        nth: BTreeMap<u64, &'static str>,
        /// Every commit fails with this, until cleared.
        every: Option<&'static str>,
    }

    thread_local! {
        static PLAN: RefCell<Plan> = RefCell::new(Plan::default());
    }

    /// The next commit fails with the DOMException `name`.
    pub fn fail_next_commit(name: &'static str) {
        fail_nth_commit(1, name);
    }

    /// The `n`th commit from now (1: the next) fails with `name`.
    pub fn fail_nth_commit(n: u64, name: &'static str) {
        PLAN.with(|p| {
            let mut plan = p.borrow_mut();
            let at = plan.commits + n;
            plan.nth.insert(at, name);
        });
    }

    /// Every commit fails with `name` from now on (a full quota); `None` recovers.
    pub fn fail_every_commit(name: Option<&'static str>) {
        PLAN.with(|p| p.borrow_mut().every = name);
    }

    /// Drops the failures planned for commits not begun yet (`fail_every_commit` stays).
    pub fn forget_planned() {
        PLAN.with(|p| p.borrow_mut().nth.clear());
    }

    /// Fails nothing from now on.
    pub fn reset() {
        PLAN.with(|p| {
            let mut plan = p.borrow_mut();
            plan.nth.clear();
            plan.every = None;
        });
    }

    /// Counts a commit; the error it is to fail with, if any.
    pub(super) fn take() -> Option<&'static str> {
        PLAN.with(|p| {
            let mut plan = p.borrow_mut();
            plan.commits += 1;
            let at = plan.commits;
            plan.nth.remove(&at).or(plan.every)
        })
    }
}

impl Database {
    /// Opens (creating or upgrading) the database called `name`.
    pub async fn open(name: &str) -> Result<Database, Error> {
        let req: IdbOpenDbRequest = factory()?
            .open_with_u32(name, VERSION)
            .map_err(Error::idb)?;
        let upgrade_req = req.clone();
        let refused = Rc::new(Cell::new(None));
        let refused_by_upgrade = refused.clone();
        // Dropped (freed) once the open settled: `upgradeneeded` comes before that or never.
        let on_upgrade = Closure::once(move |event: IdbVersionChangeEvent| {
            let old = event.old_version() as u32;
            if old != 0 {
                // An older layout: refuse (see the module docs), leaving it as it is.
                refused_by_upgrade.set(Some(old));
                if let Some(tx) = upgrade_req.transaction() {
                    let _ = tx.abort();
                }
                return;
            }
            if let Ok(db) = upgrade_req
                .result()
                .and_then(|r| r.dyn_into::<IdbDatabase>())
            {
                for store in ALL {
                    let _ = db.create_object_store(store);
                }
            }
        });
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let opened = settled(&req).await;
        req.set_onupgradeneeded(None);
        drop(on_upgrade);
        if let Some(old) = refused.get() {
            return Err(Error::Schema(format!(
                "database {name:?} has schema version {old}, written by an earlier Contrail; \
                 this one reads version {VERSION} and does not convert it: delete the database"
            )));
        }
        let db = opened.map_err(|why| {
            if crate::wasm::error::dom_name(&why).as_deref() == Some("VersionError") {
                Error::Schema(format!(
                    "database {name:?} was written by a newer Contrail (schema above {VERSION})"
                ))
            } else {
                Error::idb(why)
            }
        })?;
        let db = db.dyn_into::<IdbDatabase>().map_err(Error::idb)?;
        Ok(Database { db })
    }

    /// Deletes the database called `name` (for tests and "forget everything").
    pub async fn delete(name: &str) -> Result<(), Error> {
        let req = factory()?.delete_database(name).map_err(Error::idb)?;
        done(&req).await.map(|_| ())
    }

    /// Closes the connection; pending transactions still finish.
    pub fn close(&self) {
        self.db.close();
    }

    /// A transaction over the object `stores`; `readwrite` ones are `durability: "strict"`, so
    /// `complete` comes after an fsync.
    fn transaction(
        &self,
        stores: &[&str],
        readwrite: bool,
    ) -> Result<web_sys::IdbTransaction, Error> {
        let stores: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let mode = if readwrite { "readwrite" } else { "readonly" };
        let options = Object::new();
        if readwrite {
            Reflect::set(&options, &"durability".into(), &"strict".into()).map_err(Error::idb)?;
        }
        // Called through Reflect: web-sys gates the options argument behind unstable APIs.
        let open = Reflect::get(&self.db, &"transaction".into())
            .map_err(Error::idb)?
            .dyn_into::<Function>()
            .map_err(Error::idb)?;
        open.call3(&self.db, &stores, &mode.into(), &options)
            .map_err(Error::idb)?
            .dyn_into::<web_sys::IdbTransaction>()
            .map_err(Error::idb)
    }

    /// Reads every stream's records, in one transaction and without a cursor or a count:
    /// `getAllKeys` and `getAll` on the three small stores, all sent before the first answer is
    /// awaited; then, for each stream with a config, `getAll`s over consecutive key ranges of its
    /// segments (split by the sequence span in its state record), again all sent at once. The
    /// segments' values name their stream and key, so no `getAllKeys` there.
    pub async fn load(&self) -> Result<BTreeMap<String, StoredStream>, Error> {
        self.load_some(None).await
    }

    /// As [`Database::load`], but of a stream whose sequence span exceeds `tail`, only the
    /// segments keyed from `last_seq + 1 - tail` on are read (marked `history`): what a store
    /// needs to take new messages, read in a time that does not grow with the stream. The state
    /// record's `last_seq` may trail the newest message (by `STATE_LAG` at most, see
    /// `store.rs`); the read has no upper bound, so it then takes that much more.
    pub async fn load_tail(&self, tail: u64) -> Result<BTreeMap<String, StoredStream>, Error> {
        self.load_some(Some(tail)).await
    }

    async fn load_some(&self, tail: Option<u64>) -> Result<BTreeMap<String, StoredStream>, Error> {
        let tx = self.transaction(&ALL, false)?;
        let store = |name| tx.object_store(name).map_err(Error::idb);
        let keyed = |name| -> Result<(JsFuture, JsFuture), Error> {
            let s: IdbObjectStore = store(name)?;
            let keys = settled(&s.get_all_keys().map_err(Error::idb)?);
            Ok((keys, settled(&s.get_all().map_err(Error::idb)?)))
        };
        let small = [keyed(META)?, keyed(STATE)?, keyed(CONSUMERS)?];

        let mut streams: BTreeMap<String, StoredStream> = BTreeMap::new();
        for (name, (keys, values)) in [META, STATE, CONSUMERS].into_iter().zip(small) {
            let keys = Array::from(&keys.await.map_err(Error::idb)?);
            let values = Array::from(&values.await.map_err(Error::idb)?);
            for (key, value) in keys.iter().zip(values.iter()) {
                let bytes = value_bytes(&value)?;
                let (stream, sub) = split_key(&key)?;
                let entry = streams.entry(stream).or_default();
                match name {
                    META => entry.meta = Some(bytes),
                    STATE => entry.state = Some(bytes),
                    _ => {
                        let consumer = sub
                            .and_then(|s| s.as_string())
                            .ok_or_else(|| bad_key(&key))?;
                        entry.consumers.push((consumer, bytes));
                    }
                }
            }
        }
        let segments = store(SEGMENTS)?;
        for (stream, entry) in streams.iter_mut().filter(|(_, e)| e.meta.is_some()) {
            let span = match &entry.state {
                Some(bytes) => {
                    let state: SeqState = codec::decode_json(bytes)?;
                    state.first_seq..state.last_seq.saturating_add(1)
                }
                None => 0..0,
            };
            if let Some(tail) = tail {
                let from = span.end.saturating_sub(tail);
                if from > span.start {
                    entry.history = true;
                    let range = stream_range(stream, Some(segment_key(stream, from)), None)
                        .map_err(Error::idb)?;
                    let request = segments.get_all_with_key(&range).map_err(Error::idb)?;
                    entry.segments.pending.push_back(settled(&request));
                    continue;
                }
            }
            let width = span.end.saturating_sub(span.start);
            let ranges = (width / RANGE_SEQS).clamp(1, MAX_RANGES);
            let step = width / ranges;
            let mut lower = None;
            for i in 1..=ranges {
                let upper = (i < ranges).then(|| segment_key(stream, span.start + step * i));
                let range = stream_range(stream, lower, upper.clone()).map_err(Error::idb)?;
                let request = segments.get_all_with_key(&range).map_err(Error::idb)?;
                entry.segments.pending.push_back(settled(&request));
                lower = upper;
            }
        }
        Ok(streams)
    }

    /// Applies the writes, in order, in one strict transaction; resolves once it committed.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), Error> {
        self.begin(writes)?.finished().await
    }

    /// Starts the transaction that applies the writes, in order, now: IndexedDB works on it
    /// while this thread goes on. Transactions commit in the order they were begun.
    pub fn begin(&self, writes: Vec<Write>) -> Result<Commit, Error> {
        if writes.is_empty() {
            return Ok(Commit::default());
        }
        // Scoped to the stores written: a commit of appends is `segments` alone.
        let scope = scope_of(&writes);
        let tx = self.transaction(&scope, true)?;

        let finished = Promise::new(&mut |resolve: Function, reject: Function| {
            let tx_ = tx.clone();
            let on_either = once_either(move |event| {
                let _ = if event.type_() == "complete" {
                    resolve.call0(&JsValue::NULL)
                } else {
                    let why = tx_.error().map(JsValue::from);
                    reject.call1(&JsValue::NULL, &why.unwrap_or(JsValue::UNDEFINED))
                };
            });
            tx.set_oncomplete(Some(on_either.unchecked_ref()));
            tx.set_onabort(Some(on_either.unchecked_ref()));
        });
        // Listened for from now on, before anything can settle it.
        let finished = JsFuture::from(finished);
        for write in writes {
            apply(&write, &tx)
                .inspect_err(|_| {
                    let _ = tx.abort();
                })
                .map_err(Error::idb)?;
        }
        #[cfg(test)]
        let injected = faults::take().map(|name| {
            let _ = tx.abort();
            web_sys::DomException::new_with_message_and_name("failure injected by a test", name)
                .map_or(JsValue::UNDEFINED, JsValue::from)
        });
        #[cfg(not(test))]
        let injected: Option<JsValue> = None;
        // Committed now, not once the puts' success events have come back to this thread: the
        // browser can start writing while JavaScript runs on. Older browsers lack `commit`.
        let commit = Reflect::get(&tx, &"commit".into()).and_then(|f| f.dyn_into::<Function>());
        if let (Ok(commit), None) = (commit, &injected) {
            commit.call0(&tx).map_err(Error::idb)?;
        }
        Ok(Commit {
            finished: Some(finished),
            #[cfg(test)]
            injected,
        })
    }
}

/// A transaction begun by [`Database::begin`].
#[derive(Default)]
pub struct Commit {
    /// Settles when the transaction completes or aborts; `None` when there was nothing to write.
    finished: Option<JsFuture>,
    /// The error a test injected in place of the browser's.
    #[cfg(test)]
    injected: Option<JsValue>,
}

impl Commit {
    /// Resolves once the transaction committed; fails with why it aborted.
    pub async fn finished(self) -> Result<(), Error> {
        let Some(finished) = self.finished else {
            return Ok(());
        };
        let result = finished.await;
        #[cfg(test)]
        let result = result.map_err(|why| self.injected.unwrap_or(why));
        result.map_err(Error::idb)?;
        Ok(())
    }
}

/// The object stores `writes` touch.
fn scope_of(writes: &[Write]) -> Vec<&'static str> {
    let mut scope = Vec::with_capacity(ALL.len());
    for write in writes {
        let store = match write {
            Write::PutSegment { .. }
            | Write::DeleteSegment { .. }
            | Write::DeleteSegments { .. } => SEGMENTS,
            Write::PutState { .. } => STATE,
            Write::PutMeta { .. } => META,
            Write::PutConsumer { .. } | Write::DeleteConsumer { .. } => CONSUMERS,
            Write::DeleteStream { .. } => return ALL.to_vec(),
        };
        if !scope.contains(&store) {
            scope.push(store);
        }
    }
    scope
}

/// Applies one write within `tx`, whose scope holds every store it touches ([`scope_of`]).
fn apply(write: &Write, tx: &web_sys::IdbTransaction) -> Result<(), JsValue> {
    let store = |name| tx.object_store(name);
    let bytes = |b: &[u8]| JsValue::from(Uint8Array::from(b));
    // Not a view of wasm memory: a typed array is cloned with its whole buffer, which for a
    // view is all of the module's memory.
    let pair = |a: &str, b: JsValue| JsValue::from(Array::of2(&a.into(), &b));
    match write {
        Write::PutSegment {
            stream,
            start,
            bytes: b,
        } => store(SEGMENTS)?.put_with_key(&bytes(b), &segment_key(stream, *start))?,
        Write::DeleteSegment { stream, start } => {
            store(SEGMENTS)?.delete(&segment_key(stream, *start))?
        }
        Write::DeleteSegments {
            stream,
            from,
            below,
        } => {
            let upper = below.map(|seq| segment_key(stream, seq));
            store(SEGMENTS)?.delete(&stream_range(
                stream,
                Some(segment_key(stream, *from)),
                upper,
            )?)?
        }
        Write::PutState { stream, bytes: b } => {
            store(STATE)?.put_with_key(&bytes(b), &stream.into())?
        }
        Write::PutMeta { stream, bytes: b } => {
            store(META)?.put_with_key(&bytes(b), &stream.into())?
        }
        Write::PutConsumer {
            stream,
            name,
            bytes: b,
        } => store(CONSUMERS)?.put_with_key(&bytes(b), &pair(stream, name.into()))?,
        Write::DeleteConsumer { stream, name } => {
            store(CONSUMERS)?.delete(&pair(stream, name.into()))?
        }
        Write::DeleteStream { stream } => {
            store(SEGMENTS)?.delete(&stream_range(stream, None, None)?)?;
            store(CONSUMERS)?.delete(&stream_range(stream, None, None)?)?;
            store(STATE)?.delete(&stream.into())?;
            store(META)?.delete(&stream.into())?
        }
    };
    Ok(())
}

/// A stored value's bytes (every value is a `Uint8Array`).
fn value_bytes(value: &JsValue) -> Result<Vec<u8>, Error> {
    value
        .dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .ok_or_else(|| Error::Idb(format!("unexpected value {value:?}")))
}

/// `name` or `[name, sub]` → the stream name and the second part.
fn split_key(key: &JsValue) -> Result<(String, Option<JsValue>), Error> {
    if let Some(name) = key.as_string() {
        return Ok((name, None));
    }
    let parts = key.dyn_ref::<Array>().ok_or_else(|| bad_key(key))?;
    let name = parts.get(0).as_string().ok_or_else(|| bad_key(key))?;
    Ok((name, Some(parts.get(1))))
}

fn bad_key(key: &JsValue) -> Error {
    Error::Idb(format!("unexpected key {key:?}"))
}
