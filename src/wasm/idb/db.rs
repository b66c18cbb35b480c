//! The IndexedDB database of one engine: opening it, reading every stream back, and committing
//! a batch of [`Write`]s as one `durability: "strict"` transaction.
//!
//! Object stores (out-of-line keys, values are `Uint8Array`s):
//! - `meta`: stream name → config and creation time ([`super::codec::StreamMeta`]);
//! - `state`: stream name → sequence state ([`super::codec::SeqState`]);
//! - `segments`: `[stream, first seq]` → packed messages;
//! - `consumers`: `[stream, consumer]` → consumer record.

use std::collections::BTreeMap;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStore, IdbOpenDbRequest, IdbRequest};

use super::store::Write;
use crate::wasm::error::Error;

/// Schema version; bump with an upgrade step when the layout changes.
const VERSION: u32 = 1;
const META: &str = "meta";
const STATE: &str = "state";
const SEGMENTS: &str = "segments";
const CONSUMERS: &str = "consumers";
const ALL: [&str; 4] = [META, STATE, SEGMENTS, CONSUMERS];

/// Everything stored for one stream, as read at open.
#[derive(Debug, Default)]
pub struct StoredStream {
    /// Encoded meta record (absent if the stream was never fully written).
    pub meta: Option<Vec<u8>>,
    /// Encoded sequence state.
    pub state: Option<Vec<u8>>,
    /// `(first seq, encoded segment)`.
    pub segments: Vec<(u64, Vec<u8>)>,
    /// `(consumer name, encoded record)`.
    pub consumers: Vec<(String, Vec<u8>)>,
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

/// Resolves when the request succeeds, with its result.
async fn done(req: &IdbRequest) -> Result<JsValue, Error> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let ok_req = req.clone();
        let on_ok = Closure::once_into_js(move || {
            let _ = resolve.call1(
                &JsValue::NULL,
                &ok_req.result().unwrap_or(JsValue::UNDEFINED),
            );
        });
        let err_req = req.clone();
        let on_err = Closure::once_into_js(move || {
            let why = err_req.error().ok().flatten().map(JsValue::from);
            let _ = reject.call1(&JsValue::NULL, &why.unwrap_or(JsValue::UNDEFINED));
        });
        req.set_onsuccess(Some(on_ok.unchecked_ref()));
        req.set_onerror(Some(on_err.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(Error::idb)
}

impl Database {
    /// Opens (creating or upgrading) the database called `name`.
    pub async fn open(name: &str) -> Result<Database, Error> {
        let req: IdbOpenDbRequest = factory()?
            .open_with_u32(name, VERSION)
            .map_err(Error::idb)?;
        let upgrade_req = req.clone();
        let on_upgrade = Closure::once_into_js(move || {
            if let Ok(db) = upgrade_req
                .result()
                .and_then(|r| r.dyn_into::<IdbDatabase>())
            {
                let names = db.object_store_names();
                for store in ALL {
                    if !names.contains(store) {
                        let _ = db.create_object_store(store);
                    }
                }
            }
        });
        req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
        let db = done(&req)
            .await?
            .dyn_into::<IdbDatabase>()
            .map_err(Error::idb)?;
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

    /// A transaction over every object store; `strict` asks for an fsync before `complete`.
    fn transaction(&self, readwrite: bool) -> Result<web_sys::IdbTransaction, Error> {
        let stores: Array = ALL.iter().map(|s| JsValue::from_str(s)).collect();
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

    /// Reads every stream's records: four `getAll`/`getAllKeys` pairs, no cursor, no count.
    pub async fn load(&self) -> Result<BTreeMap<String, StoredStream>, Error> {
        let tx = self.transaction(false)?;
        let mut streams: BTreeMap<String, StoredStream> = BTreeMap::new();
        for name in ALL {
            let store = tx.object_store(name).map_err(Error::idb)?;
            let keys = Array::from(&done(&store.get_all_keys().map_err(Error::idb)?).await?);
            let values = Array::from(&done(&store.get_all().map_err(Error::idb)?).await?);
            for (key, value) in keys.iter().zip(values.iter()) {
                let bytes = Uint8Array::new(&value).to_vec();
                let (stream, sub) = split_key(&key)?;
                let entry = streams.entry(stream).or_default();
                match name {
                    META => entry.meta = Some(bytes),
                    STATE => entry.state = Some(bytes),
                    SEGMENTS => {
                        let seq = sub.and_then(|s| s.as_f64()).ok_or_else(|| bad_key(&key))?;
                        entry.segments.push((seq as u64, bytes));
                    }
                    _ => {
                        let consumer = sub
                            .and_then(|s| s.as_string())
                            .ok_or_else(|| bad_key(&key))?;
                        entry.consumers.push((consumer, bytes));
                    }
                }
            }
        }
        Ok(streams)
    }

    /// Applies the writes, in order, in one strict transaction; resolves once it committed.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), Error> {
        if writes.is_empty() {
            return Ok(());
        }
        let tx = self.transaction(true)?;
        let store = |name| tx.object_store(name).map_err(Error::idb);
        let (meta, state, segments, consumers) = (
            store(META)?,
            store(STATE)?,
            store(SEGMENTS)?,
            store(CONSUMERS)?,
        );
        let finished = Promise::new(&mut |resolve: Function, reject: Function| {
            let on_done = Closure::once_into_js(move || {
                let _ = resolve.call0(&JsValue::NULL);
            });
            let err_tx = tx.clone();
            let on_fail = Closure::once_into_js(move || {
                let why = err_tx.error().map(JsValue::from);
                let _ = reject.call1(&JsValue::NULL, &why.unwrap_or(JsValue::UNDEFINED));
            });
            tx.set_oncomplete(Some(on_done.unchecked_ref()));
            tx.set_onabort(Some(on_fail.unchecked_ref()));
        });
        for write in writes {
            apply(&write, &meta, &state, &segments, &consumers)
                .inspect_err(|_| {
                    let _ = tx.abort();
                })
                .map_err(Error::idb)?;
        }
        JsFuture::from(finished).await.map_err(Error::idb)?;
        Ok(())
    }
}

fn apply(
    write: &Write,
    meta: &IdbObjectStore,
    state: &IdbObjectStore,
    segments: &IdbObjectStore,
    consumers: &IdbObjectStore,
) -> Result<(), JsValue> {
    let bytes = |b: &[u8]| JsValue::from(Uint8Array::from(b));
    let pair = |a: &str, b: JsValue| JsValue::from(Array::of2(&a.into(), &b));
    match write {
        Write::PutSegment {
            stream,
            start,
            bytes: b,
        } => segments.put_with_key(&bytes(b), &pair(stream, (*start as f64).into()))?,
        Write::DeleteSegment { stream, start } => {
            segments.delete(&pair(stream, (*start as f64).into()))?
        }
        Write::PutState { stream, bytes: b } => state.put_with_key(&bytes(b), &stream.into())?,
        Write::PutMeta { stream, bytes: b } => meta.put_with_key(&bytes(b), &stream.into())?,
        Write::PutConsumer {
            stream,
            name,
            bytes: b,
        } => consumers.put_with_key(&bytes(b), &pair(stream, name.into()))?,
        Write::DeleteConsumer { stream, name } => consumers.delete(&pair(stream, name.into()))?,
        Write::DeleteStream { stream } => {
            // `[stream]` sorts before every `[stream, x]` and `[stream, []]` after them.
            let all_of = IdbKeyRange::bound(
                &Array::of1(&stream.into()),
                &Array::of2(&stream.into(), &Array::new()),
            )?;
            segments.delete(&all_of)?;
            consumers.delete(&all_of)?;
            state.delete(&stream.into())?;
            meta.delete(&stream.into())?
        }
    };
    Ok(())
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
