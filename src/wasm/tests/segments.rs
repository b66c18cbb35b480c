//! What `IdbStore::sync` writes: the tail merges into few records, a removal from the middle is a
//! tombstone until a quarter of its segment is dead, removals touch only such segments, and
//! appends rewrite the state record only now and then. Every test also reopens the store from what was
//! written and checks it answers as the live one does.

use bytes::Bytes;
use wasm_bindgen_test::wasm_bindgen_test;

use super::fake_db::FakeDb;
use crate::core::store::{Seq, StreamStore};
use crate::core::time::Nanos;
use crate::wasm::idb::store::{MAX_DEAD, MERGE_RUN, SEGMENT_BYTES, STATE_LAG};
use crate::wasm::idb::{CommitQueue, IdbStore, Write};

/// A store, its commit queue and the database its syncs are applied to.
struct Harness {
    store: IdbStore,
    queue: CommitQueue,
    db: FakeDb,
    /// The time of the last publish: each publish one tick later.
    clock: Nanos,
}

impl Harness {
    fn new() -> Harness {
        let queue = CommitQueue::default();
        Harness {
            store: IdbStore::new("S", queue.clone()),
            queue,
            db: FakeDb::default(),
            clock: 0,
        }
    }

    fn publish(&mut self, subject: &str, size: usize) -> Seq {
        self.clock += 1;
        self.store
            .store_msg(subject, None, Bytes::from(vec![7u8; size]), self.clock)
            .expect("store")
    }

    /// Syncs, applies the writes to the database and returns them.
    fn sync(&mut self) -> Vec<Write> {
        self.store.sync().expect("sync");
        let writes = std::mem::take(&mut *self.queue.borrow_mut());
        self.db.apply(writes.clone());
        writes
    }

    /// Reopens from the database and checks every answer matches the live store.
    fn check_reopen(&self) {
        let reopened = self.db.reopen("S", CommitQueue::default()).expect("reopen");
        assert_eq!(reopened.state(), self.store.state());
        let mut next = 0;
        for _ in 0..100_000 {
            let live = self.store.load_next_msg("", next);
            assert_eq!(reopened.load_next_msg("", next), live);
            match live {
                Ok(m) => next = m.seq + 1,
                Err(_) => return,
            }
        }
        panic!("more messages than the test stores");
    }

    /// Keys of the segments in the database, ascending.
    fn keys(&self) -> Vec<Seq> {
        self.db.segment_keys("S")
    }
}

/// A range delete: `(from, below)`.
type Range = (Seq, Option<Seq>);

/// Segment keys put, segment keys deleted, range deletes, and whether the state was written.
fn summary(writes: &[Write]) -> (Vec<Seq>, Vec<Seq>, Vec<Range>, bool) {
    let mut out = (Vec::new(), Vec::new(), Vec::new(), false);
    for w in writes {
        match w {
            Write::PutSegment { start, .. } => out.0.push(*start),
            Write::DeleteSegment { start, .. } => out.1.push(*start),
            Write::DeleteSegments { from, below, .. } => out.2.push((*from, *below)),
            Write::PutState { .. } => out.3 = true,
            _ => {}
        }
    }
    out
}

/// 1000 messages of 1 KiB in one sync: about four full segments and a partial one.
fn five_segments() -> Harness {
    let mut h = Harness::new();
    for _ in 0..1000 {
        h.publish("b", 1024);
    }
    h.sync();
    assert!(h.keys().len() >= 4, "segments {:?}", h.keys());
    h
}

#[wasm_bindgen_test]
fn appends_rewrite_the_state_record_only_now_and_then() {
    let mut h = Harness::new();
    let mut late_states = 0;
    for round in 0..40 {
        for _ in 0..1000 {
            h.publish("s", 16);
        }
        let (puts, _, _, state) = summary(&h.sync());
        assert!(!puts.is_empty());
        if round >= 30 {
            late_states += usize::from(state);
        }
        let behind = h.store.state().last_seq - h.db.state("S").last_seq;
        assert!(behind <= STATE_LAG, "the state record trails by {behind}");
    }
    // A stream past 30,000 messages: about one sync in five rewrites it.
    assert!(
        late_states <= 3,
        "{late_states} of the last 10 syncs wrote the state"
    );
    // The last sequence and time come from the newest message.
    h.check_reopen();
    // Removing the last message writes the state: its sequence and time stay.
    let last = h.store.state().last_seq;
    assert!(h.store.remove_msg(last).expect("remove"));
    assert!(summary(&h.sync()).3);
    h.check_reopen();
    h.publish("s", 16);
    h.sync();
    h.check_reopen();
}

#[wasm_bindgen_test]
fn one_message_per_sync_leaves_few_records() {
    let mut h = Harness::new();
    let mut largest_write = 0;
    for i in 0..3000 {
        h.publish("s", 128);
        let writes = h.sync();
        let (puts, _, _, _) = summary(&writes);
        if i % 100 == 0 {
            assert!(h.keys().len() <= MERGE_RUN + 3, "at {i}");
        }
        largest_write = largest_write.max(puts.len());
    }
    // ~160 B per message: about 1,600 to a full segment.
    let count = h.keys().len();
    assert!(count <= MERGE_RUN + 2, "{count} records for 3000 messages");
    assert!(largest_write <= 2, "a merge wrote {largest_write} segments");
    h.check_reopen();
}

#[wasm_bindgen_test]
fn a_merge_rewrites_the_run_at_its_first_key_and_drops_the_rest_with_one_range() {
    let mut h = Harness::new();
    let mut merged = None;
    for _ in 0..MERGE_RUN + 1 {
        h.publish("s", 64);
        let before = h.keys();
        let (puts, deletes, ranges, _) = summary(&h.sync());
        if !ranges.is_empty() {
            assert_eq!(puts, vec![before[0]]);
            assert_eq!(ranges, vec![(before[0] + 1, None)]);
            assert!(deletes.is_empty());
            merged = Some(h.keys());
        }
    }
    assert_eq!(merged, Some(vec![1]), "one merge into the first key");
    h.check_reopen();
}

#[wasm_bindgen_test]
fn most_single_message_syncs_write_only_the_new_message() {
    let mut h = Harness::new();
    let mut small = 0;
    for _ in 0..200 {
        h.publish("s", 128);
        let writes = h.sync();
        let bytes: usize = writes
            .iter()
            .map(|w| match w {
                Write::PutSegment { bytes, .. } => bytes.len(),
                _ => 0,
            })
            .sum();
        if bytes < 1024 {
            small += 1;
        }
    }
    assert!(small >= 200 - 200 / (MERGE_RUN - 1) - 1, "{small} of 200");
    h.check_reopen();
}

#[wasm_bindgen_test]
fn large_syncs_are_cut_into_full_segments() {
    let mut h = Harness::new();
    for _ in 0..2000 {
        h.publish("s", 1024);
    }
    let sizes: Vec<usize> = h
        .sync()
        .iter()
        .filter_map(|w| match w {
            Write::PutSegment { bytes, .. } => Some(bytes.len()),
            _ => None,
        })
        .collect();
    // ~2 MB: full segments (each just past the size, by less than a message) and the rest.
    assert!(sizes.len() >= 7, "{sizes:?}");
    let (last, full) = sizes.split_last().expect("segments");
    assert!(
        full.iter()
            .all(|&n| (SEGMENT_BYTES..SEGMENT_BYTES + 1100).contains(&n)),
        "{sizes:?}"
    );
    assert!(*last < SEGMENT_BYTES);
    h.check_reopen();
}

#[wasm_bindgen_test]
fn big_flushes_are_written_once() {
    let mut h = Harness::new();
    for _ in 0..10 {
        let first = h.store.state().last_seq + 1;
        // ~200 KiB: past half a segment, so closed at once.
        for _ in 0..200 {
            h.publish("s", 1024);
        }
        let (puts, deletes, ranges, _) = summary(&h.sync());
        assert_eq!(puts, vec![first], "only the new messages are written");
        assert!(deletes.is_empty() && ranges.is_empty());
    }
    h.check_reopen();
}

#[wasm_bindgen_test]
fn a_removal_from_the_middle_is_a_tombstone_until_a_quarter_of_its_segment_is_dead() {
    let mut h = five_segments();
    let keys = h.keys();
    let size = (keys[3] - keys[2]) as usize;
    assert!(h.store.remove_msg(keys[2] + 3).expect("remove"));
    assert_eq!(summary(&h.sync()), (vec![], vec![], vec![], true));
    h.check_reopen();
    // Just under a quarter dead: still only the state record.
    let (mut dead, mut seq) = (1, keys[2] + 4);
    let mut remove_until = |h: &mut Harness, dead_target: usize| {
        while dead < dead_target {
            assert!(h.store.remove_msg(seq).expect("remove"));
            (dead, seq) = (dead + 1, seq + 1);
        }
    };
    remove_until(&mut h, size.div_ceil(4) - 1);
    assert_eq!(summary(&h.sync()), (vec![], vec![], vec![], true));
    h.check_reopen();
    // The removal that makes it a quarter rewrites that segment, and no other.
    remove_until(&mut h, size.div_ceil(4));
    assert_eq!(summary(&h.sync()), (vec![keys[2]], vec![], vec![], true));
    h.check_reopen();
}

#[wasm_bindgen_test]
fn past_the_tombstone_limit_the_segments_holding_most_are_rewritten() {
    let mut h = Harness::new();
    for _ in 0..(MAX_DEAD as u64 * 12) {
        h.publish("b", 8);
    }
    h.sync();
    let keys = h.keys();
    assert!(keys.len() >= 3, "segments {keys:?}");
    // Every tenth message, then every tenth of the last segment's first half too: under the
    // quarter that rewrites a segment, and the last segment holds the most.
    let last = h.store.state().last_seq;
    let mut doomed: Vec<Seq> = (2..=last).step_by(10).collect();
    doomed.extend((keys[keys.len() - 1] + 5..last - 1000).step_by(10));
    let mut removed = 0;
    for seq in doomed {
        assert!(h.store.remove_msg(seq).expect("remove"));
        removed += 1;
        if removed == MAX_DEAD {
            assert_eq!(summary(&h.sync()), (vec![], vec![], vec![], true));
            h.check_reopen();
        }
    }
    let (puts, deletes, ranges, state) = summary(&h.sync());
    assert!((deletes, ranges, state) == (vec![], vec![], true));
    assert!(
        puts.contains(&keys[keys.len() - 1]),
        "the most dead first: {puts:?} of {keys:?}"
    );
    assert!(
        puts.len() < keys.len(),
        "rewrote only enough: {puts:?} of {keys:?}"
    );
    h.check_reopen();
}

#[wasm_bindgen_test]
fn removing_from_the_front_writes_only_the_state() {
    let mut h = five_segments();
    let keys = h.keys();
    for seq in 1..10 {
        assert!(h.store.remove_msg(seq).expect("remove"));
    }
    assert_eq!(summary(&h.sync()), (vec![], vec![], vec![], true));
    h.check_reopen();
    // Once the whole first segment is gone, it is deleted by a key range.
    for seq in 10..keys[1] {
        assert!(h.store.remove_msg(seq).expect("remove"));
    }
    assert_eq!(
        summary(&h.sync()),
        (vec![], vec![], vec![(0, Some(keys[1]))], true)
    );
    assert_eq!(h.keys(), keys[1..]);
    h.check_reopen();
}

#[wasm_bindgen_test]
fn compact_deletes_the_segments_below_with_one_range_and_rewrites_none() {
    let mut h = five_segments();
    let keys = h.keys();
    h.store.compact(keys[3] + 5).expect("compact");
    assert_eq!(
        summary(&h.sync()),
        (vec![], vec![], vec![(0, Some(keys[3]))], true)
    );
    assert_eq!(h.keys(), keys[3..]);
    h.check_reopen();
}

#[wasm_bindgen_test]
fn purging_everything_is_one_range_delete() {
    let mut h = five_segments();
    h.store.purge("", 0, 0).expect("purge");
    assert_eq!(summary(&h.sync()), (vec![], vec![], vec![(0, None)], true));
    assert!(h.keys().is_empty());
    h.check_reopen();
    // Sequences go on after a reopen, into a new segment.
    h.publish("b", 10);
    h.sync();
    h.check_reopen();
}

#[wasm_bindgen_test]
fn filtered_purge_rewrites_only_segments_that_lost_a_quarter() {
    let mut h = Harness::new();
    for i in 1..=1000 {
        let subject = match i {
            10 | 20 => "a",
            _ if i % 3 == 0 && i < 200 => "c",
            _ => "b",
        };
        h.publish(subject, 1024);
    }
    h.sync();
    let keys = h.keys();
    assert!(
        keys[1] > 200,
        "a third of the first segment is on c: {keys:?}"
    );
    assert_eq!(h.store.purge("a", 0, 0).expect("purge"), 2);
    assert_eq!(summary(&h.sync()), (vec![], vec![], vec![], true));
    h.check_reopen();
    assert!(h.store.purge("c", 0, 0).expect("purge") > 60);
    assert_eq!(summary(&h.sync()), (vec![keys[0]], vec![], vec![], true));
    h.check_reopen();
    // A purge that matched nothing writes nothing.
    assert_eq!(h.store.purge("zzz", 0, 0).expect("purge"), 0);
    assert_eq!(summary(&h.sync()), (vec![], vec![], vec![], false));
}

#[wasm_bindgen_test]
fn removals_in_unsynced_messages_and_merges_stay_consistent() {
    let mut h = Harness::new();
    for round in 0..40 {
        for _ in 0..7 {
            h.publish("s", 300);
        }
        let last = h.store.state().last_seq;
        // Remove a fresh message and one already written.
        h.store.remove_msg(last - 1).expect("remove");
        h.store
            .remove_msg(last.saturating_sub(9 + round % 5).max(1))
            .expect("remove");
        h.sync();
        h.check_reopen();
    }
}
