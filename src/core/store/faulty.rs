//! A fault-injecting store wrapper, for tests of what the engine does when a store fails.
//!
//! [`FaultyStore`] wraps any [`StreamStore`] and fails its `sync` and `save_consumer` calls as a
//! shared [`Faults`] plan says: the Nth such call, every call for a while (then recover), or
//! only the calls of some streams. A failed call does not reach the wrapped store.
//!
//! In queued mode ([`Faults::queued_factory`]) it is a store whose sync only queues a commit,
//! as the IndexedDB store's does ([`Synced::Queued`]): `sync` never fails and makes nothing
//! durable; the engine's flush ticket decides, and the store hears of it through
//! [`StreamStore::queued_sync_done`] (the wrapped store syncs then, and what the queued sync
//! covered counts as durable) or [`StreamStore::queued_sync_failed`] (it stays unsynced). So
//! the engine's two-phase flush runs natively against memory and file stores.
//!
//! It also records what each stream has made durable: the stream's `last_seq` at its last
//! successful sync, and every consumer record saved before that sync. A test checks the
//! engine's promise against it: a PubAck, a delivery or an ack reply leaves only for state in
//! that record.
//!
//! Sans-IO like the rest of the core (one engine, one thread: `Rc<RefCell<…>>`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use super::delegate::{delegate_message_writes, delegate_reads};
use super::{ConsumerRecord, Seq, StoreError, StreamStore, Synced};
use crate::core::engine::StoreFactory;
use crate::core::stream::StreamConfig;

/// What a stream has made durable, as the wrapper saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durable {
    /// `last_seq` at the last successful sync (0 before any).
    pub last_seq: Seq,
    /// Consumer records saved before the last successful sync, by name.
    pub consumers: BTreeMap<String, ConsumerRecord>,
    /// Consumers removed before the last successful sync.
    pub removed_consumers: BTreeSet<String>,
}

/// The shared plan: which calls fail, and what each stream made durable.
#[derive(Debug)]
struct Plan {
    /// `sync` and `save_consumer` calls so far, over every wrapped store (the first is 1).
    calls: u64,
    /// Call numbers that fail.
    fail_calls: BTreeSet<u64>,
    /// Streams whose calls all fail while listed.
    failing_streams: BTreeSet<String>,
    /// Every call fails while set.
    fail_all: bool,
    /// The error a failed call returns.
    error: StoreError,
    /// Calls that failed so far.
    failures: u64,
    durable: BTreeMap<String, Durable>,
    /// Consumer records saved since the stream's last successful sync.
    unsynced: BTreeMap<String, BTreeMap<String, Option<ConsumerRecord>>>,
}

/// A handle on the fault plan shared by every [`FaultyStore`] made from it.
#[derive(Debug, Clone)]
pub struct Faults(Rc<RefCell<Plan>>);

impl Default for Faults {
    fn default() -> Self {
        Faults::new()
    }
}

impl Faults {
    /// A plan that fails nothing; failures return [`StoreError::QuotaExceeded`].
    pub fn new() -> Faults {
        Faults(Rc::new(RefCell::new(Plan {
            calls: 0,
            fail_calls: BTreeSet::new(),
            failing_streams: BTreeSet::new(),
            fail_all: false,
            error: StoreError::QuotaExceeded,
            failures: 0,
            durable: BTreeMap::new(),
            unsynced: BTreeMap::new(),
        })))
    }

    /// The error failed calls return from now on.
    pub fn set_error(&self, error: StoreError) {
        self.0.borrow_mut().error = error;
    }

    /// Fails the `n`th `sync`/`save_consumer` call from now (1: the next one).
    pub fn fail_nth(&self, n: u64) {
        let mut plan = self.0.borrow_mut();
        let at = plan.calls + n.max(1);
        plan.fail_calls.insert(at);
    }

    /// Fails every call while `on` (a disk that is full for a while).
    pub fn fail_all(&self, on: bool) {
        self.0.borrow_mut().fail_all = on;
    }

    /// Fails every call of `stream`'s store while `on`.
    pub fn fail_stream(&self, stream: &str, on: bool) {
        let mut plan = self.0.borrow_mut();
        if on {
            plan.failing_streams.insert(stream.to_string());
        } else {
            plan.failing_streams.remove(stream);
        }
    }

    /// Stops every planned failure.
    pub fn recover(&self) {
        let mut plan = self.0.borrow_mut();
        plan.fail_all = false;
        plan.failing_streams.clear();
        plan.fail_calls.clear();
    }

    /// How many calls failed so far.
    pub fn failures(&self) -> u64 {
        self.0.borrow().failures
    }

    /// What `stream` made durable so far.
    pub fn durable(&self, stream: &str) -> Durable {
        self.0
            .borrow()
            .durable
            .get(stream)
            .cloned()
            .unwrap_or_default()
    }

    /// Wraps every store `inner` makes, named after its stream.
    pub fn factory(&self, inner: StoreFactory) -> StoreFactory {
        self.wrapping(inner, false)
    }

    /// Wraps every store `inner` makes in queued mode (see the module docs).
    pub fn queued_factory(&self, inner: StoreFactory) -> StoreFactory {
        self.wrapping(inner, true)
    }

    fn wrapping(&self, mut inner: StoreFactory, queued: bool) -> StoreFactory {
        let faults = self.clone();
        Box::new(move |config: &StreamConfig| {
            let store = inner(config)?;
            let mut store = FaultyStore::new(store, &config.name, faults.clone());
            store.queued = queued.then(VecDeque::new);
            Ok(Box::new(store) as Box<dyn StreamStore>)
        })
    }

    /// Records that `stream` made durable everything up to `last_seq` and the consumer
    /// records `saved` (saved, or removed when `None`).
    fn made_durable(&self, stream: &str, last_seq: Seq, saved: UnsyncedRecords) {
        let mut plan = self.0.borrow_mut();
        let durable = plan.durable.entry(stream.to_string()).or_default();
        durable.last_seq = last_seq;
        for (name, record) in saved {
            match record {
                Some(record) => {
                    durable.removed_consumers.remove(&name);
                    durable.consumers.insert(name, record);
                }
                None => {
                    durable.consumers.remove(&name);
                    durable.removed_consumers.insert(name);
                }
            }
        }
    }

    /// Counts a call of `stream` and says whether it fails.
    fn next_call_fails(&self, stream: &str) -> Result<(), StoreError> {
        let mut plan = self.0.borrow_mut();
        plan.calls += 1;
        let at = plan.calls;
        let fail =
            plan.fail_all || plan.failing_streams.contains(stream) || plan.fail_calls.remove(&at);
        if fail {
            plan.failures += 1;
            return Err(plan.error.clone());
        }
        Ok(())
    }
}

/// Consumer records saved (or removed: `None`) and not yet durable, by name.
type UnsyncedRecords = BTreeMap<String, Option<ConsumerRecord>>;

/// A store whose `sync` and `save_consumer` fail as its [`Faults`] plan says.
pub struct FaultyStore {
    inner: Box<dyn StreamStore>,
    stream: String,
    faults: Faults,
    /// In queued mode: the syncs queued and not yet completed, oldest first, each with the
    /// `last_seq` and the consumer records it covers.
    queued: Option<VecDeque<(Seq, UnsyncedRecords)>>,
}

impl FaultyStore {
    /// Wraps `inner`, the store of `stream`.
    pub fn new(inner: Box<dyn StreamStore>, stream: &str, faults: Faults) -> FaultyStore {
        FaultyStore {
            inner,
            stream: stream.to_string(),
            faults,
            queued: None,
        }
    }
}

impl StreamStore for FaultyStore {
    delegate_reads!(inner);
    delegate_message_writes!(inner);

    fn sync(&mut self) -> Result<Synced, StoreError> {
        let saved = |faults: &Faults, stream: &str| {
            let mut plan = faults.0.borrow_mut();
            plan.unsynced.remove(stream).unwrap_or_default()
        };
        if let Some(queued) = &mut self.queued {
            let last_seq = self.inner.state().last_seq;
            queued.push_back((last_seq, saved(&self.faults, &self.stream)));
            return Ok(Synced::Queued);
        }
        self.faults.next_call_fails(&self.stream)?;
        self.inner.sync()?;
        let last_seq = self.inner.state().last_seq;
        let saved = saved(&self.faults, &self.stream);
        self.faults.made_durable(&self.stream, last_seq, saved);
        Ok(Synced::Durable)
    }

    /// The wrapped store syncs (everything it holds: a sync queued later becomes durable
    /// early, which the record does not claim), and what the oldest queued sync covered is
    /// recorded durable.
    fn queued_sync_done(&mut self) {
        let Some((last_seq, saved)) = self.queued.as_mut().and_then(VecDeque::pop_front) else {
            return;
        };
        if self.inner.sync().is_ok() {
            self.faults.made_durable(&self.stream, last_seq, saved);
        }
    }

    /// Nothing queued became durable: its consumer records are unsynced again (under any
    /// saved since), for the next successful sync.
    fn queued_sync_failed(&mut self) {
        let Some(queued) = &mut self.queued else {
            return;
        };
        let mut plan = self.faults.0.borrow_mut();
        let unsynced = plan.unsynced.entry(self.stream.clone()).or_default();
        for (_, saved) in queued.drain(..).rev() {
            for (name, record) in saved {
                unsynced.entry(name).or_insert(record);
            }
        }
    }

    fn discard_unsynced(&mut self) -> Result<bool, StoreError> {
        self.inner.discard_unsynced()
    }

    fn save_meta(&mut self, meta: &[u8]) -> Result<(), StoreError> {
        self.inner.save_meta(meta)
    }

    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.faults.next_call_fails(&self.stream)?;
        self.inner.save_consumer(name, record.clone())?;
        self.faults
            .0
            .borrow_mut()
            .unsynced
            .entry(self.stream.clone())
            .or_default()
            .insert(name.to_string(), Some(record));
        Ok(())
    }

    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.remove_consumer(name)?;
        self.faults
            .0
            .borrow_mut()
            .unsynced
            .entry(self.stream.clone())
            .or_default()
            .insert(name.to_string(), None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::core::store::memory::MemoryStore;

    fn store(faults: &Faults, name: &str) -> FaultyStore {
        FaultyStore::new(Box::new(MemoryStore::new()), name, faults.clone())
    }

    #[test]
    fn the_nth_call_fails_and_only_it() {
        let faults = Faults::new();
        let mut s = store(&faults, "S");
        faults.fail_nth(2);
        assert_eq!(s.sync(), Ok(Synced::Durable));
        assert_eq!(s.sync(), Err(StoreError::QuotaExceeded));
        assert_eq!(s.sync(), Ok(Synced::Durable));
        assert_eq!(faults.failures(), 1);
    }

    #[test]
    fn one_stream_fails_while_others_sync() {
        let faults = Faults::new();
        let (mut a, mut b) = (store(&faults, "A"), store(&faults, "B"));
        faults.fail_stream("A", true);
        a.store_msg("a", None, Bytes::from_static(b"x"), 1)
            .expect("store");
        b.store_msg("b", None, Bytes::from_static(b"x"), 1)
            .expect("store");
        assert!(a.sync().is_err());
        assert_eq!(b.sync(), Ok(Synced::Durable));
        assert_eq!(
            faults.durable("A").last_seq,
            0,
            "A's message is not durable"
        );
        assert_eq!(faults.durable("B").last_seq, 1);
        faults.fail_stream("A", false);
        assert_eq!(a.sync(), Ok(Synced::Durable));
        assert_eq!(faults.durable("A").last_seq, 1);
    }

    #[test]
    fn a_consumer_record_is_durable_only_after_a_sync_and_a_failed_save_never_is() {
        let faults = Faults::new();
        let mut s = store(&faults, "S");
        let record = ConsumerRecord {
            created: 7,
            ..ConsumerRecord::default()
        };
        s.save_consumer("C", record.clone()).expect("save");
        assert!(faults.durable("S").consumers.is_empty());
        s.sync().expect("sync");
        assert_eq!(faults.durable("S").consumers.get("C"), Some(&record));
        faults.fail_all(true);
        let newer = ConsumerRecord {
            created: 8,
            ..ConsumerRecord::default()
        };
        assert!(s.save_consumer("C", newer).is_err());
        faults.recover();
        s.sync().expect("sync");
        assert_eq!(faults.durable("S").consumers.get("C"), Some(&record));
    }
}
