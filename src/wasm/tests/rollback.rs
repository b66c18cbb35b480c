//! `IdbStore` under failed commits, against a [`FakeDb`]: a commit the shell could not make
//! leaves the database as it was, the store hears of it (`queued_sync_failed`) and carries it
//! all again with its next sync, or takes its appends back (`discard_unsynced`). After every
//! commit that succeeds, and after every discard, the store reopened from the database answers
//! exactly as the live one does.

use bytes::Bytes;
use wasm_bindgen_test::wasm_bindgen_test;

use super::fake_db::FakeDb;
use crate::core::store::{ConsumerRecord, Seq, StreamStore, Synced};
use crate::core::time::Nanos;
use crate::wasm::idb::store::SEGMENT_BYTES;
use crate::wasm::idb::{CommitQueue, IdbStore};

/// A store, its commit queue, the database and the syncs queued since the last commit.
struct Harness {
    store: IdbStore,
    queue: CommitQueue,
    db: FakeDb,
    queued: usize,
    clock: Nanos,
}

impl Harness {
    fn new() -> Harness {
        let queue = CommitQueue::default();
        Harness {
            store: IdbStore::new("S", queue.clone()),
            queue,
            db: FakeDb::default(),
            queued: 0,
            clock: 0,
        }
    }

    fn publish(&mut self, subject: &str, size: usize) -> Seq {
        self.clock += 1;
        self.store
            .store_msg(subject, None, Bytes::from(vec![b'x'; size]), self.clock)
            .expect("store")
    }

    /// Queues a sync (a flush whose commit is still to come).
    fn sync(&mut self) {
        assert_eq!(self.store.sync(), Ok(Synced::Queued));
        self.queued += 1;
    }

    /// Syncs, then commits everything queued: applied to the database, or dropped when the
    /// commit fails.
    fn commit(&mut self, ok: bool) {
        self.sync();
        let writes = std::mem::take(&mut *self.queue.borrow_mut());
        let queued = std::mem::take(&mut self.queued);
        if ok {
            self.db.apply(writes);
            for _ in 0..queued {
                self.store.queued_sync_done();
            }
        } else {
            self.store.queued_sync_failed();
        }
    }

    /// Reopens from the database and checks every answer matches the live store's.
    fn check_reopen(&self, when: &str) {
        let reopened = self.check_messages(when);
        assert_eq!(
            reopened.consumers(),
            self.store.consumers(),
            "{when}: consumers"
        );
    }

    /// Reopens from the database and checks its messages and sequences match the live
    /// store's (after a discard, which leaves consumer records alone); returns the reopened store.
    fn check_messages(&self, when: &str) -> IdbStore {
        let reopened = self.db.reopen("S", CommitQueue::default()).expect("reopen");
        assert_eq!(reopened.state(), self.store.state(), "{when}: state");
        assert_eq!(reopened.deleted(), self.store.deleted(), "{when}: deleted");
        let mut next = 0;
        for _ in 0..100_000 {
            let live = self.store.load_next_msg("", next);
            assert_eq!(
                reopened.load_next_msg("", next),
                live,
                "{when}: from {next}"
            );
            match live {
                Ok(m) => next = m.seq + 1,
                Err(_) => return reopened,
            }
        }
        panic!("more messages than the test stores");
    }

    /// The database does not hold what the failed commit carried.
    fn check_reopen_differs(&self) {
        let reopened = self.db.reopen("S", CommitQueue::default()).expect("reopen");
        assert_ne!(reopened.state(), self.store.state());
    }
}

fn consumer(delivered: u64) -> ConsumerRecord {
    let mut record = ConsumerRecord {
        config: br#"{"durable_name":"C"}"#.to_vec(),
        ..ConsumerRecord::default()
    };
    record.state.delivered.stream_seq = delivered;
    record
}

#[wasm_bindgen_test]
fn a_failed_commit_is_carried_again_by_the_next_one() {
    let mut h = Harness::new();
    for _ in 0..40 {
        h.publish("a", 100);
        h.commit(true);
    }
    // Appends (merged with the tail), a removal from the middle, a consumer: all lost.
    for _ in 0..10 {
        h.publish("b", 100);
    }
    assert!(h.store.remove_msg(7).expect("remove"));
    h.store.save_consumer("C", consumer(3)).expect("save");
    h.commit(false);
    h.check_reopen_differs();
    h.publish("c", 100);
    h.commit(true);
    h.check_reopen("after the next commit");
    assert_eq!(h.store.state().msgs, 50);
}

#[wasm_bindgen_test]
fn appends_of_a_failed_commit_are_taken_back_and_sequences_continue_from_the_committed_one() {
    let mut h = Harness::new();
    for _ in 0..5 {
        h.publish("a", 100);
    }
    h.store.save_consumer("C", consumer(5)).expect("save");
    h.commit(true);
    let committed = h.store.state();
    // Two commits in flight, the first fails: both are lost.
    h.publish("b", SEGMENT_BYTES / 2);
    h.sync();
    h.publish("b", 100);
    h.store.save_consumer("C", consumer(7)).expect("save");
    h.commit(false);
    assert_eq!(h.store.discard_unsynced(), Ok(true));
    assert_eq!(h.store.state(), committed);
    assert_eq!(
        h.publish("c", 100),
        6,
        "the sequence after the committed ones"
    );
    h.commit(true);
    h.check_reopen("after the retry");
    let consumers = h.store.consumers().expect("consumers");
    assert_eq!(consumers.get("C"), Some(&consumer(7)), "consumers are kept");
}

#[wasm_bindgen_test]
fn a_removal_since_the_last_commit_cannot_be_taken_back() {
    let mut h = Harness::new();
    for _ in 0..5 {
        h.publish("a", 100);
    }
    h.commit(true);
    assert!(h.store.remove_msg(2).expect("remove"));
    h.publish("a", 100);
    h.commit(false);
    let ahead = h.store.state();
    assert_eq!(h.store.discard_unsynced(), Ok(false));
    assert_eq!(h.store.state(), ahead, "nothing changed");
    h.commit(true);
    h.check_reopen("after the next commit");
}

/// A small deterministic generator (xorshift), so a failing seed can be run again.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[wasm_bindgen_test]
fn random_writes_and_commit_failures_keep_the_database_equal_to_the_store_after_each_commit() {
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut h = Harness::new();
        for step in 0..300 {
            let when = format!("seed {seed}, step {step}");
            let st = h.store.state();
            match rng.below(20) {
                0..=7 => {
                    let subject = ["a", "b", "c"][rng.below(3) as usize];
                    let size = [10, 100, 3000, SEGMENT_BYTES / 3][rng.below(4) as usize];
                    h.publish(subject, size);
                }
                8 | 9 => {
                    let span = st.last_seq.saturating_sub(st.first_seq) + 1;
                    let seq = st.first_seq + rng.below(span);
                    h.store.remove_msg(seq).expect("remove");
                }
                10 => {
                    let subject = ["a", "b", "c"][rng.below(3) as usize];
                    h.store.purge(subject, 0, rng.below(3)).expect("purge");
                }
                11 => {
                    h.store
                        .compact(st.first_seq + rng.below(4))
                        .expect("compact");
                }
                12 => {
                    let record = consumer(rng.below(100));
                    h.store.save_consumer("C", record).expect("save");
                }
                13 => h.store.remove_consumer("C").expect("remove consumer"),
                14 => h.sync(),
                15..=17 => {
                    h.commit(true);
                    h.check_reopen(&when);
                }
                _ => {
                    h.commit(false);
                    if rng.below(2) == 0 && h.store.discard_unsynced() == Ok(true) {
                        h.check_messages(&format!("{when}, discarded"));
                    }
                }
            }
        }
        h.commit(true);
        h.check_reopen(&format!("seed {seed}, at the end"));
    }
}
