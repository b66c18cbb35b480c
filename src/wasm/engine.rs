//! `Engine` for JavaScript: the core engine plus, in browsers, its IndexedDB database.
//!
//! JavaScript hands in messages with [`JsEngine::handle`], calls [`JsEngine::flush`] and routes
//! what it resolves to; it arms a timer for [`JsEngine::poll_timeout`] and calls
//! [`JsEngine::handle_timeout`] when it fires. With a database, `flush` is the group commit:
//! every write since the last flush goes into ONE `durability: "strict"` transaction, and the
//! replies (PubAcks, ack confirmations) are handed out only after it committed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::error::Error;
use super::idb::codec::{self, SeqState, StreamMeta};
use super::idb::{CommitQueue, Database, IdbStore, Write};
use crate::core::engine::{Engine, EngineConfig, StoreFactory};
use crate::core::message::{Message, Outbound};
use crate::core::stream::StreamConfig;
use crate::core::time::Nanos;

/// Milliseconds since the epoch (JavaScript's clock) to the core's nanoseconds.
fn nanos(ms: f64) -> Nanos {
    (ms * 1_000_000.0) as Nanos
}

/// State shared by the class and the commits it has in flight.
struct Shell {
    engine: RefCell<Engine>,
    db: Option<Database>,
    queue: CommitQueue,
    /// The meta record last written per stream, to write only changed ones.
    metas: RefCell<BTreeMap<String, Vec<u8>>>,
}

/// A JetStream engine in this JavaScript context.
#[wasm_bindgen(js_name = Engine)]
pub struct JsEngine {
    shell: Rc<Shell>,
    warnings: Vec<String>,
}

#[wasm_bindgen(js_class = Engine)]
impl JsEngine {
    /// An engine whose streams live in memory (Node, edge workers, tests).
    #[wasm_bindgen(js_name = inMemory)]
    pub fn in_memory(seed: f64) -> JsEngine {
        JsEngine {
            shell: Rc::new(Shell {
                engine: RefCell::new(Engine::in_memory(seed as u64)),
                db: None,
                queue: CommitQueue::default(),
                metas: RefCell::default(),
            }),
            warnings: Vec::new(),
        }
    }

    /// Opens (or creates) the engine persisted in the IndexedDB database `name`, restoring every
    /// stream and consumer it holds.
    #[wasm_bindgen(js_name = openIndexedDb)]
    pub async fn open_indexed_db(name: String, seed: f64, now_ms: f64) -> Result<JsEngine, Error> {
        let db = Database::open(&name).await?;
        let stored = db.load().await?;
        let queue = CommitQueue::default();
        let factory_queue = queue.clone();
        let factory: StoreFactory = Box::new(move |config: &StreamConfig| {
            Ok(Box::new(IdbStore::new(&config.name, factory_queue.clone())))
        });
        let mut engine = Engine::new(EngineConfig::default(), factory, seed as u64);
        let mut metas = BTreeMap::new();
        let mut warnings = Vec::new();
        let now = nanos(now_ms);
        for (stream, records) in stored {
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
            let config: StreamConfig = serde_json::from_value(meta.config)
                .map_err(|e| restore_err(format!("config: {e}")))?;
            let state: SeqState = match &records.state {
                Some(bytes) => codec::decode_json(bytes)?,
                None => SeqState::default(),
            };
            let store = IdbStore::restore(
                &stream,
                queue.clone(),
                state,
                records.segments,
                records.consumers,
            )?;
            let skipped = engine
                .restore_stream(config, meta.created, Box::new(store), now)
                .map_err(|e| restore_err(e.to_string()))?;
            for s in skipped {
                warnings.push(format!("consumer {stream}/{}: {}", s.name, s.error));
            }
            metas.insert(stream.clone(), meta_bytes);
        }
        Ok(JsEngine {
            shell: Rc::new(Shell {
                engine: RefCell::new(engine),
                db: Some(db),
                queue,
                metas: RefCell::new(metas),
            }),
            warnings,
        })
    }

    /// Deletes the IndexedDB database `name` and everything in it.
    #[wasm_bindgen(js_name = deleteIndexedDb)]
    pub async fn delete_indexed_db(name: String) -> Result<(), Error> {
        Database::delete(&name).await
    }

    /// What opening could not restore (unreadable consumer records, left in place).
    #[wasm_bindgen(getter)]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
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
        self.shell.engine.borrow_mut().handle(msg, nanos(now_ms))
    }

    /// Makes everything handled so far durable (one strict IndexedDB transaction when
    /// persistent), then resolves to the messages released: an array of
    /// `[to, subject, reply, headers, data]` (see [`outbound_to_js`]).
    pub fn flush(&self) -> Promise {
        let shell = self.shell.clone();
        let (out, writes) = match shell.take_batch() {
            Ok(batch) => batch,
            Err(err) => return Promise::reject(&err.into()),
        };
        future_to_promise(async move {
            if let Some(db) = &shell.db {
                db.commit(writes).await?;
            }
            Ok(out.iter().map(outbound_to_js).collect::<Array>().into())
        })
    }

    /// When (milliseconds since the epoch) [`JsEngine::handle_timeout`] next has work.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        let next = self.shell.engine.borrow().poll_timeout()?;
        Some(next as f64 / 1_000_000.0)
    }

    /// Does what is due at `now_ms` (redeliveries, pull expiries, heartbeats, max_age).
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&self, now_ms: f64) {
        self.shell.engine.borrow_mut().handle_timeout(nanos(now_ms));
    }

    /// Tells the engine whether a push consumer's deliver subject has subscribers.
    #[wasm_bindgen(js_name = setInterest)]
    pub fn set_interest(&self, deliver_subject: &str, active: bool, now_ms: f64) {
        self.shell
            .engine
            .borrow_mut()
            .set_interest(deliver_subject, active, nanos(now_ms));
    }

    /// Closes the database connection (commits in flight still finish).
    pub fn close(&self) {
        if let Some(db) = &self.shell.db {
            db.close();
        }
    }
}

impl Shell {
    /// Flushes the engine: the released messages, and the writes to commit before they leave.
    fn take_batch(&self) -> Result<(Vec<Outbound>, Vec<Write>), Error> {
        let mut engine = self.engine.borrow_mut();
        engine.flush()?;
        let mut out = Vec::new();
        while let Some(o) = engine.poll_outbound() {
            out.push(o);
        }
        if self.db.is_none() {
            return Ok((out, Vec::new()));
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
            let meta = StreamMeta {
                config: serde_json::to_value(stream.config()).unwrap_or_default(),
                created: stream.created(),
            };
            let bytes = codec::encode_json(&meta);
            if metas.get(&name) != Some(&bytes) {
                metas.insert(name.clone(), bytes.clone());
                queue.push(Write::PutMeta {
                    stream: name,
                    bytes,
                });
            }
        }
        Ok((out, std::mem::take(&mut *queue)))
    }
}

/// `[to, subject, reply, headers, data]` for JavaScript: one array, no property names, and one
/// string for both `to` and `subject` when they are equal (every PubAck and API reply). Turning a
/// Rust string into a JavaScript one costs a TextDecoder call, which made building objects with
/// named properties a third of the publish path (browser benchmark profile).
fn outbound_to_js(o: &Outbound) -> JsValue {
    let to = JsValue::from_str(&o.to);
    let subject = if o.msg.subject == o.to {
        to.clone()
    } else {
        JsValue::from_str(&o.msg.subject)
    };
    let reply = o
        .msg
        .reply
        .as_deref()
        .map_or(JsValue::UNDEFINED, JsValue::from_str);
    let headers = o
        .msg
        .headers
        .as_ref()
        .map_or(JsValue::UNDEFINED, |h| Uint8Array::from(&h[..]).into());
    let data = Uint8Array::from(&o.msg.payload[..]);
    Array::of5(&to, &subject, &reply, &headers, &data).into()
}
