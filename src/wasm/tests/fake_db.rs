//! A database in plain Rust maps that applies [`Write`]s as IndexedDB would, so the conformance
//! suite can reopen an `IdbStore` from its persisted form after every change.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::core::store::delegate::delegate_reads;
use crate::core::store::{ConsumerRecord, Seq, StoreError, StreamStore};
use crate::core::time::Nanos;
use crate::wasm::idb::codec::{self, SeqState};
use crate::wasm::idb::{CommitQueue, IdbStore, Write};

/// The records of one stream, keyed as in IndexedDB.
#[derive(Default)]
pub struct FakeDb {
    state: BTreeMap<String, Vec<u8>>,
    segments: BTreeMap<(String, Seq), Vec<u8>>,
    consumers: BTreeMap<(String, String), Vec<u8>>,
}

impl FakeDb {
    /// Applies writes in order.
    pub fn apply(&mut self, writes: Vec<Write>) {
        for w in writes {
            match w {
                Write::PutSegment {
                    stream,
                    start,
                    bytes,
                } => {
                    self.segments.insert((stream, start), bytes);
                }
                Write::DeleteSegment { stream, start } => {
                    self.segments.remove(&(stream, start));
                }
                Write::DeleteSegments {
                    stream,
                    from,
                    below,
                } => {
                    self.segments.retain(|(s, start), _| {
                        s != &stream || *start < from || below.is_some_and(|b| *start >= b)
                    });
                }
                Write::PutState { stream, bytes } => {
                    self.state.insert(stream, bytes);
                }
                Write::PutMeta { .. } => {}
                Write::PutConsumer {
                    stream,
                    name,
                    bytes,
                } => {
                    self.consumers.insert((stream, name), bytes);
                }
                Write::DeleteConsumer { stream, name } => {
                    self.consumers.remove(&(stream, name));
                }
                Write::DeleteStream { stream } => {
                    self.state.remove(&stream);
                    self.segments.retain(|(s, _), _| s != &stream);
                    self.consumers.retain(|(s, _), _| s != &stream);
                }
            }
        }
    }

    /// Keys of the segment records held for `stream`, ascending.
    pub fn segment_keys(&self, stream: &str) -> Vec<Seq> {
        self.segments
            .keys()
            .filter(|(s, _)| s == stream)
            .map(|(_, start)| *start)
            .collect()
    }

    /// The persisted state record of `stream` (the default when there is none).
    pub fn state(&self, stream: &str) -> SeqState {
        self.state
            .get(stream)
            .and_then(|b| codec::decode_json(b).ok())
            .unwrap_or_default()
    }

    /// The store as a reopen would rebuild it.
    pub fn reopen(&self, stream: &str, queue: CommitQueue) -> Result<IdbStore, StoreError> {
        let state: SeqState = match self.state.get(stream) {
            Some(b) => codec::decode_json(b)?,
            None => SeqState::default(),
        };
        let segments = self
            .segments
            .iter()
            .filter(|((s, _), _)| s == stream)
            .map(|((_, start), b)| {
                let segment = codec::decode_segment(Bytes::from(b.clone()))?;
                assert_eq!(
                    (segment.stream.as_str(), segment.start),
                    (stream, *start),
                    "a segment names the key it is stored under"
                );
                Ok(segment)
            })
            .collect::<Result<_, StoreError>>()?;
        let consumers = self
            .consumers
            .iter()
            .filter(|((s, _), _)| s == stream)
            .map(|((_, name), b)| (name.clone(), b.clone()))
            .collect();
        IdbStore::restore(stream, queue, state, segments, consumers)
    }
}

/// An `IdbStore` that, after every change, syncs, persists to a [`FakeDb`] and is replaced by a
/// store reopened from it: every answer the suite checks comes from the persisted form.
pub struct ReopenedEachWrite {
    store: IdbStore,
    queue: CommitQueue,
    db: FakeDb,
    deleted: bool,
}

impl ReopenedEachWrite {
    pub fn new() -> Self {
        let queue = CommitQueue::default();
        ReopenedEachWrite {
            store: IdbStore::new("S", queue.clone()),
            queue,
            db: FakeDb::default(),
            deleted: false,
        }
    }

    fn reopen<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if self.deleted || result.is_err() {
            return result;
        }
        self.store.sync().expect("sync");
        let writes = std::mem::take(&mut *self.queue.borrow_mut());
        self.db.apply(writes);
        self.store = self.db.reopen("S", self.queue.clone()).expect("reopen");
        result
    }
}

impl StreamStore for ReopenedEachWrite {
    delegate_reads!(store);

    fn store_msg(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Result<Seq, StoreError> {
        let r = self.store.store_msg(subject, headers, payload, now);
        self.reopen(r)
    }
    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        let r = self.store.skip_msg(now);
        self.reopen(r)
    }
    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError> {
        let r = self.store.remove_msg(seq);
        self.reopen(r)
    }
    fn purge(&mut self, filter: &str, below_seq: Seq, keep: u64) -> Result<u64, StoreError> {
        let r = self.store.purge(filter, below_seq, keep);
        self.reopen(r)
    }
    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError> {
        let r = self.store.compact(seq);
        self.reopen(r)
    }
    fn sync(&mut self) -> Result<crate::core::store::Synced, StoreError> {
        let r = self.store.sync();
        self.reopen(r)
    }
    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        let r = self.store.save_consumer(name, record);
        self.reopen(r)
    }
    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        let r = self.store.remove_consumer(name);
        self.reopen(r)
    }
    fn delete(&mut self) -> Result<(), StoreError> {
        let r = self.store.delete();
        self.deleted = r.is_ok();
        self.db.apply(std::mem::take(&mut *self.queue.borrow_mut()));
        r
    }
}
