//! `IdbStore`: a stream store for the browser, resident in memory and persisted to IndexedDB.
//!
//! IndexedDB is async and the [`StreamStore`] trait is not, so the store answers every read from
//! a resident [`MemoryStore`] and turns writes into [`Write`]s on a [`CommitQueue`] the wasm shell
//! shares between all streams of one database. The durability point is the shell's, not the
//! store's: [`StreamStore::sync`] only moves this stream's pending changes onto the queue and
//! says so ([`Synced::Queued`]), so [`crate::core::engine::Engine::flush`] hands out a pending
//! ticket; the shell commits the whole queue as ONE `durability: "strict"` IndexedDB
//! transaction and completes the ticket, and the engine releases PubAcks only then.
//!
//! Persisted layout (see `db.rs`, `codec.rs`): segment records keyed `[stream, key seq]`, each
//! holding the messages from its key up to the next segment's key, and a small state record per
//! stream (first/last sequence, last timestamp, tombstones), rewritten only when something other
//! than an append changed it: a message newer than its `last_seq` is the stream's last, so a
//! commit of appends puts segments alone. A segment's message below the state's
//! `first_seq` is dead: removing from the front (limits, in-order acks, compact, purges of
//! everything) writes only the state record, and segments wholly below `first_seq` go with one
//! key-range delete. What a sync writes, besides:
//! - New messages become new segments (cut at [`SEGMENT_BYTES`]). A segment of at least half that
//!   size is closed: never merged again. The small segments at the tail are merged, together with
//!   the new messages, once they would number [`MERGE_RUN`] or reach half a segment. So a big
//!   flush is written once, a flush of one message usually writes only itself, and what opening
//!   reads is mostly records of 128 to 256 KiB plus a few small ones.
//! - A message removed from the middle (an out-of-order ack in a work-queue stream, a
//!   per-subject limit, a filtered purge) costs a rewrite of its segment (or a delete, when
//!   none is left) only when little of that segment is left ([`REWRITE_CHEAP`]) or a quarter of
//!   it is dead; until then it is a tombstone in the state record (at most [`MAX_DEAD`]). No
//!   other segment is touched.
//!
//! A commit can fail (a full quota, an abort). The store keeps, per sync still queued, what it
//! takes to undo it (the segment entries it changed, the tombstones and state-record position
//! before it, the removals and consumer writes it carried): [`StreamStore::queued_sync_failed`]
//! puts the bookkeeping back to the last commit that completed, so the next sync carries
//! everything since again, and [`StreamStore::discard_unsynced`] then takes back, in memory,
//! the messages appended since that commit, when nothing but appends changed them (a removed
//! message is only in the database now: `Ok(false)`, and the shell rebuilds from it).
//!
//! A store restored from its newest segments only ([`Restorer::finish_tail`], the fast open) is
//! *partial*: it appends and answers for its tail, keeps the persisted `first_seq` in the state
//! it writes, and refuses every removal, since the messages it lacks are still in the database.
//! The shell replaces it with a whole store once it has read everything (`engine.rs`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use super::codec::{self, SegmentWriter, SeqState};
use super::write::{CommitQueue, Write};
use crate::core::store::delegate::delegate_reads;
use crate::core::store::memory::MemoryStore;
use crate::core::store::{ConsumerRecord, Seq, StoreError, StreamState, StreamStore, Synced};
use crate::core::time::Nanos;

/// Segments are cut at this many encoded bytes (or [`SEGMENT_MSGS`]), and closed to merging at
/// half of it. Measured in headless Chromium (random bytes, quiet machine): one `getAll` of
/// 16 MiB takes ~200 ms as 16 or 64 KiB records, ~115 ms as 128 KiB and ~80 ms as 256 KiB or
/// 1 MiB ones; a strict commit rewriting one record costs ~1.5 ms at 16 KiB, ~5 ms at 128 KiB,
/// ~7 ms at 256 KiB and ~16 ms at 1 MiB. A segment that loses a message from its middle is
/// rewritten whole, which keeps them from being much bigger.
pub const SEGMENT_BYTES: usize = 256 * 1024;
/// Segments are also cut at this many messages, which bounds the re-encoding a rewrite costs
/// when messages are tiny.
pub const SEGMENT_MSGS: u32 = 4096;
/// The tail's small segments are merged when a sync would make this many: few enough that
/// opening reads few records (a small record costs ~12 µs there), many enough that a flush of
/// one message usually writes only itself (the merge rewrites the tail about once per this many
/// flushes, which measured at 16 slowed one-message flushes by ~25%).
pub const MERGE_RUN: usize = 32;

/// At most this many tombstones: past it, the segments holding the most are rewritten until half
/// are left. They ride in the state record, written with every flush that removes messages
/// (~8 KiB of JSON at most).
pub const MAX_DEAD: usize = 1000;

/// Appends rewrite the state record once they moved the last sequence past the one it holds by
/// more than an eighth of the stream's span, or by more than this: a commit of appends puts its
/// segment alone (a second record made a raw commit up to 20% slower), and the state still tells
/// opening about where the stream ends (see `Database::load_tail`).
pub const STATE_LAG: Seq = 4096;

/// A segment that lost messages is rewritten at once when less than this is left of it: as
/// cheap to write as a tombstone is to keep.
pub const REWRITE_CHEAP: usize = 32 * 1024;

/// What the store knows of a segment in the database, as last written.
#[derive(Debug, Clone, Copy)]
struct SegmentInfo {
    /// Messages encoded in it (dead ones included).
    msgs: u32,
    /// Its encoded size.
    bytes: usize,
}

impl SegmentInfo {
    fn of(w: &SegmentWriter) -> SegmentInfo {
        SegmentInfo {
            msgs: w.msgs(),
            bytes: w.len(),
        }
    }

    /// Cut here: the next message starts a new segment.
    fn is_full(self) -> bool {
        self.msgs >= SEGMENT_MSGS || self.bytes >= SEGMENT_BYTES
    }

    /// Big enough to be left alone by merges (or to end a merge).
    fn is_closed(self) -> bool {
        self.msgs >= SEGMENT_MSGS / 2 || self.bytes >= SEGMENT_BYTES / 2
    }
}

fn matches_all(filter: &str) -> bool {
    filter.is_empty() || filter == ">"
}

/// A stream store resident in memory whose changes the shell persists to IndexedDB.
pub struct IdbStore {
    stream: String,
    mem: MemoryStore,
    queue: CommitQueue,
    /// The segments in the database, by key.
    segments: BTreeMap<Seq, SegmentInfo>,
    /// Sequences from here on were assigned since the last sync: no segment holds them yet.
    synced_end: Seq,
    /// Segments that lost a message since the last sync.
    lost: BTreeSet<Seq>,
    /// Tombstones: messages removed from segments that still hold them (see the module docs).
    dead: BTreeSet<Seq>,
    /// Consumers changed since the last sync: saved (`true`, the record is in `mem`) or removed.
    consumer_writes: BTreeMap<String, bool>,
    /// Sequence state changed since the last sync, other than by appends.
    state_dirty: bool,
    /// The last sequence the persisted state record holds.
    state_last: Seq,
    /// A partial store (only the newest segments loaded): the stream's real first sequence.
    partial_first: Option<Seq>,
    /// The syncs queued and not yet committed, oldest first, each with what it takes to undo
    /// it (see `rollback` below).
    queued: VecDeque<QueuedSync>,
    /// The previous value of each segment entry the sync under way changed, in change order.
    undo: Vec<(Seq, Option<SegmentInfo>)>,
    /// Messages removed from persisted segments since the last sync.
    removed: Vec<Seq>,
    /// Something other than an append (a removal, purge, compact or skip) changed the
    /// messages since the last sync.
    other_writes: bool,
    /// The stream's state as of the last commit that completed: what the database holds.
    committed: StreamState,
}

/// A sync queued for the shell's commit: what it carried and what the store's bookkeeping was
/// before it, so a failed commit makes everything it carried unsynced again (see
/// [`IdbStore::queued_sync_failed`](StreamStore::queued_sync_failed)).
struct QueuedSync {
    /// The previous value of each segment entry it changed, in change order.
    undo: Vec<(Seq, Option<SegmentInfo>)>,
    /// `synced_end` before it.
    synced_end: Seq,
    /// The tombstones before it.
    dead: BTreeSet<Seq>,
    /// `state_last` before it.
    state_last: Seq,
    /// Whether it wrote the state record because something other than appends changed it.
    took_dirty: bool,
    /// The removals it carried.
    removed: Vec<Seq>,
    /// Whether it carried anything other than appends.
    other_writes: bool,
    /// The consumer writes it carried.
    consumers: BTreeMap<String, bool>,
    /// The stream's state it made durable once committed.
    state: StreamState,
}

impl IdbStore {
    /// An empty store for a new stream.
    pub fn new(stream: &str, queue: CommitQueue) -> IdbStore {
        IdbStore {
            stream: stream.to_string(),
            mem: MemoryStore::new(),
            queue,
            segments: BTreeMap::new(),
            synced_end: 1,
            lost: BTreeSet::new(),
            dead: BTreeSet::new(),
            consumer_writes: BTreeMap::new(),
            state_dirty: true,
            state_last: 0,
            partial_first: None,
            queued: VecDeque::new(),
            undo: Vec::new(),
            removed: Vec::new(),
            other_writes: false,
            committed: StreamState::default(),
        }
    }

    /// Sets (`Some`) or removes the segment entry at `key` during a sync, noting what it was
    /// so a failed commit can put it back.
    fn set_segment(&mut self, key: Seq, info: Option<SegmentInfo>) {
        let was = match info {
            Some(info) => self.segments.insert(key, info),
            None => self.segments.remove(&key),
        };
        self.undo.push((key, was));
    }

    /// Refuses a removal while partial: it could concern a message not loaded yet.
    fn check_whole(&self) -> Result<(), StoreError> {
        match self.partial_first {
            Some(_) => Err(StoreError::Io(format!(
                "stream {}: only its newest messages are loaded yet",
                self.stream
            ))),
            None => Ok(()),
        }
    }

    /// A store rebuilt from what the database holds: its sequence state, its segments (any
    /// order) and its consumer records.
    pub fn restore(
        stream: &str,
        queue: CommitQueue,
        state: SeqState,
        mut segments: Vec<codec::Segment>,
        consumers: Vec<(String, Vec<u8>)>,
    ) -> Result<IdbStore, StoreError> {
        segments.sort_by_key(|s| s.start);
        let mut restorer = IdbStore::restorer(stream, queue, state)?;
        restorer.add(segments)?;
        restorer.finish(consumers)
    }

    /// Starts rebuilding a store from its records; segments follow in batches.
    pub fn restorer(
        stream: &str,
        queue: CommitQueue,
        state: SeqState,
    ) -> Result<Restorer, StoreError> {
        let mut store = IdbStore::new(stream, queue);
        store.state_dirty = false;
        store.state_last = state.last_seq;
        if state.first_seq > 0 {
            store.mem.compact(state.first_seq)?;
        }
        store.dead = state.dead.iter().copied().collect();
        Ok(Restorer {
            store,
            state,
            highest: None,
            newest: None,
        })
    }

    /// The segment holding `seq`, if a sync has written it there.
    fn segment_of(&self, seq: Seq) -> Option<Seq> {
        if seq >= self.synced_end {
            return None;
        }
        self.segments.range(..=seq).next_back().map(|(k, _)| *k)
    }

    /// Notes that a persisted segment lost `seq`: a tombstone until the segment is rewritten.
    fn lose(&mut self, seq: Seq) {
        if let Some(segment) = self.segment_of(seq) {
            self.lost.insert(segment);
            self.dead.insert(seq);
            self.removed.push(seq);
        }
    }

    /// The stored messages from `from` on, packed into segments cut when full; the first one
    /// keyed `key` when given, every other by its first message.
    fn pack_from(&self, from: Seq, key: Option<Seq>) -> Vec<(Seq, SegmentWriter)> {
        let mut packed: Vec<(Seq, SegmentWriter)> = Vec::new();
        // Room for what is coming, from the average stored message: growing by doubling from a
        // small buffer cost ~3% of a publish profile in copies.
        let st = self.mem.state();
        let average = st.bytes / st.msgs.max(1) + 8;
        let coming = st.last_seq.saturating_add(1).saturating_sub(from);
        let room = (coming.saturating_mul(average) as usize).clamp(4096, SEGMENT_BYTES + 16 * 1024);
        self.mem.visit_from(from, |m| {
            let open = packed
                .last_mut()
                .filter(|(_, w)| !SegmentInfo::of(w).is_full());
            let writer = match open {
                Some((_, w)) => w,
                None => {
                    let k = key.filter(|_| packed.is_empty()).unwrap_or(m.seq);
                    packed.push((k, SegmentWriter::with_capacity(&self.stream, k, room)));
                    match packed.last_mut() {
                        Some((_, w)) => w,
                        None => return false,
                    }
                }
            };
            writer.push_ref(m);
            true
        });
        packed
    }

    /// Deletes the segments holding only messages below `first_seq` (all, when empty).
    fn drop_dead_front(&mut self, writes: &mut Vec<Write>) {
        if self.segments.is_empty() {
            return;
        }
        let state = self.mem.state();
        let below = if state.msgs == 0 {
            None
        } else {
            // Every segment before the one holding first_seq is dead.
            let holder = self.segments.range(..=state.first_seq).next_back();
            match holder {
                Some((&key, _)) if self.segments.range(..key).next().is_some() => Some(key),
                _ => return,
            }
        };
        let dead: Vec<Seq> = match below {
            Some(key) => self.segments.range(..key).map(|(k, _)| *k).collect(),
            None => self.segments.keys().copied().collect(),
        };
        for key in dead {
            self.set_segment(key, None);
            self.lost.remove(&key);
        }
        writes.push(Write::DeleteSegments {
            stream: self.stream.clone(),
            from: 0,
            below,
        });
    }

    /// Rewrites the segments that lost messages when that is cheap (little of one is left) or
    /// due (a quarter of it is dead); the others keep their tombstones. Past [`MAX_DEAD`]
    /// tombstones, the segments holding the most are rewritten until half are left. Segments
    /// from `skip_from` on are left to the tail merge.
    fn rewrite_lost(&mut self, skip_from: Option<Seq>, writes: &mut Vec<Write>) {
        // Below first_seq everything is dead without a tombstone (a partial store's real
        // first_seq is the persisted one: its memory starts later).
        let first_seq = self
            .partial_first
            .unwrap_or_else(|| self.mem.state().first_seq);
        let before = self.dead.len();
        self.dead = self.dead.split_off(&first_seq);
        let skip = |key: Seq| skip_from.is_some_and(|s| key >= s);
        let lost = std::mem::take(&mut self.lost);
        for key in lost {
            let Some((end, dead, info)) = self.dead_in(key) else {
                continue;
            };
            let live = (info.msgs as usize).saturating_sub(dead);
            let live_bytes = info.bytes / info.msgs.max(1) as usize * live;
            let due = dead * 4 >= info.msgs as usize || live_bytes < REWRITE_CHEAP;
            if dead > 0 && due && !skip(key) {
                self.rewrite(key, end, writes);
            }
        }
        if self.dead.len() > MAX_DEAD {
            let mut held: BTreeMap<Seq, usize> = BTreeMap::new();
            for &seq in &self.dead {
                if let Some(key) = self.segment_of(seq) {
                    *held.entry(key).or_default() += 1;
                }
            }
            let mut most: Vec<(Seq, usize)> = held.into_iter().filter(|(k, _)| !skip(*k)).collect();
            most.sort_by_key(|&(_, dead)| std::cmp::Reverse(dead));
            for (key, _) in most {
                if self.dead.len() <= MAX_DEAD / 2 {
                    break;
                }
                if let Some((end, _, _)) = self.dead_in(key) {
                    self.rewrite(key, end, writes);
                }
            }
        }
        if self.dead.len() != before {
            self.state_dirty = true;
        }
    }

    /// The segment at `key`: where it ends, how many tombstones it holds, what it was written as.
    fn dead_in(&self, key: Seq) -> Option<(Seq, usize, SegmentInfo)> {
        let info = *self.segments.get(&key)?;
        let end = self
            .segments
            .range(key + 1..)
            .next()
            .map_or(self.synced_end, |(k, _)| *k);
        Some((end, self.dead.range(key..end).count(), info))
    }

    /// Writes the segment at `key` (up to `end`) again with its live messages only, or deletes
    /// it when none is left; its tombstones go.
    fn rewrite(&mut self, key: Seq, end: Seq, writes: &mut Vec<Write>) {
        let mut from_key = self.dead.split_off(&key);
        let mut after = from_key.split_off(&end);
        self.dead.append(&mut after);
        let mut w = SegmentWriter::new(&self.stream, key);
        self.mem.visit_from(key, |m| {
            if m.seq >= end {
                return false;
            }
            w.push_ref(m);
            true
        });
        if w.is_empty() {
            self.set_segment(key, None);
            writes.push(Write::DeleteSegment {
                stream: self.stream.clone(),
                start: key,
            });
            return;
        }
        self.set_segment(key, Some(SegmentInfo::of(&w)));
        writes.push(Write::PutSegment {
            stream: self.stream.clone(),
            start: key,
            bytes: w.finish(),
        });
    }

    /// The first key of the run of small (not closed) segments at the tail, if the messages
    /// stored since the last sync (packed as `fresh`) should be merged with them.
    fn merge_from(&self, fresh: &[(Seq, SegmentWriter)]) -> Option<Seq> {
        let run: Vec<(Seq, SegmentInfo)> = self
            .segments
            .iter()
            .rev()
            .take_while(|(_, info)| !info.is_closed())
            .map(|(k, info)| (*k, *info))
            .collect();
        let first = run.last()?.0;
        let bytes: usize = run.iter().map(|(_, i)| i.bytes).sum::<usize>()
            + fresh.iter().map(|(_, w)| w.len()).sum::<usize>();
        let msgs: u32 = run.iter().map(|(_, i)| i.msgs).sum::<u32>()
            + fresh.iter().map(|(_, w)| w.msgs()).sum::<u32>();
        let total = SegmentInfo { msgs, bytes };
        (run.len() + fresh.len() >= MERGE_RUN || total.is_closed()).then_some(first)
    }

    /// Writes the messages stored since the last sync: as new segments, or merged with the
    /// tail's small segments (see the module docs). `fresh` is their packing.
    fn write_tail(
        &mut self,
        fresh: Vec<(Seq, SegmentWriter)>,
        merge_from: Option<Seq>,
        writes: &mut Vec<Write>,
    ) {
        let packed = match merge_from {
            Some(first) => {
                // The run after its first segment goes with one range delete (a delete per
                // record would cost IndexedDB's per-record overhead each); the merged segments
                // are put after it, the first at the run's key.
                let after: Vec<Seq> = self.segments.range(first + 1..).map(|(k, _)| *k).collect();
                if !after.is_empty() {
                    for key in after {
                        self.set_segment(key, None);
                    }
                    writes.push(Write::DeleteSegments {
                        stream: self.stream.clone(),
                        from: first + 1,
                        below: None,
                    });
                }
                // Rewritten from memory: their tombstones go.
                if !self.dead.split_off(&first).is_empty() {
                    self.state_dirty = true;
                }
                self.pack_from(first, Some(first))
            }
            None => fresh,
        };
        for (key, w) in packed {
            self.set_segment(key, Some(SegmentInfo::of(&w)));
            writes.push(Write::PutSegment {
                stream: self.stream.clone(),
                start: key,
                bytes: w.finish(),
            });
        }
    }

    /// Sequences of the written messages matching `filter` below `below` (0: no bound).
    fn persisted_matching(&self, filter: &str, below: Seq) -> Vec<Seq> {
        let mut out = Vec::new();
        let mut next = 0;
        while let Ok(m) = self.mem.load_next_msg(filter, next) {
            if m.seq >= self.synced_end || (below != 0 && m.seq >= below) {
                break;
            }
            next = m.seq + 1;
            out.push(m.seq);
        }
        out
    }
}

/// A store being rebuilt from its records (see [`IdbStore::restorer`]).
pub struct Restorer {
    store: IdbStore,
    state: SeqState,
    /// The highest sequence (or key) seen so far: every later segment's key is above it.
    highest: Option<Seq>,
    /// The sequence and time of the newest message seen, live or not.
    newest: Option<(Seq, Nanos)>,
}

impl Restorer {
    /// Adds segments, in ascending key order across calls.
    pub fn add(&mut self, segments: Vec<codec::Segment>) -> Result<(), StoreError> {
        let first_seq = self.state.first_seq;
        for segment in segments {
            if segment.stream != self.store.stream {
                return Err(StoreError::Corrupt(format!(
                    "segment {} of stream {:?} stored among another stream's",
                    segment.start, segment.stream
                )));
            }
            if self.highest.is_some_and(|h| segment.start <= h) {
                return Err(StoreError::Corrupt(format!(
                    "segment {} overlaps the one before it",
                    segment.start
                )));
            }
            self.highest = Some(segment.start);
            let mut msgs = 0;
            for m in segment.messages() {
                let m = m?;
                msgs += 1;
                self.highest = Some(m.seq);
                self.newest = Some((m.seq, m.time));
                // Below first_seq is dead: removed from the front after the segment was written;
                // a tombstone marks one removed from the middle.
                if m.seq >= first_seq && !self.store.dead.contains(&m.seq) {
                    self.store
                        .mem
                        .restore_msg(m.seq, m.subject, m.headers, m.payload, m.time)?;
                }
            }
            let info = SegmentInfo {
                msgs,
                bytes: segment.len(),
            };
            self.store.segments.insert(segment.start, info);
        }
        Ok(())
    }

    /// The rebuilt store when only the newest segments were added: partial (see the module
    /// docs), without consumers, its first sequence the persisted one.
    pub fn finish_tail(self) -> Result<IdbStore, StoreError> {
        let first_seq = self.state.first_seq;
        let mut store = self.finish(Vec::new())?;
        store.partial_first = Some(first_seq);
        Ok(store)
    }

    /// The rebuilt store, with its consumers.
    pub fn finish(self, consumers: Vec<(String, Vec<u8>)>) -> Result<IdbStore, StoreError> {
        let mut store = self.store;
        // Appends do not rewrite the state record, so a message above its last sequence was
        // stored after it was written, and is the last; otherwise the record knows better (the
        // last store's time outlives its message).
        let (last_seq, last_ts) = match self.newest {
            Some((seq, time)) if seq > self.state.last_seq => (seq, time),
            _ => (self.state.last_seq, self.state.last_ts),
        };
        store.mem.restore_last(last_seq, last_ts);
        store.committed = store.mem.state();
        store.synced_end = store.committed.last_seq.saturating_add(1);
        for (name, bytes) in consumers {
            store
                .mem
                .save_consumer(&name, codec::decode_consumer(&bytes)?)?;
        }
        Ok(store)
    }
}

impl StreamStore for IdbStore {
    // Every read is answered by the resident memory store.
    delegate_reads!(mem);

    fn store_msg(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Result<Seq, StoreError> {
        // Not `state_dirty`: its segment will hold the message, and with it the new last
        // sequence and time (see `Restorer::finish` and `STATE_LAG`).
        self.mem.store_msg(subject, headers, payload, now)
    }

    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        let seq = self.mem.skip_msg(now)?;
        self.state_dirty = true;
        self.other_writes = true;
        Ok(seq)
    }

    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError> {
        self.check_whole()?;
        let removed = self.mem.remove_msg(seq)?;
        if removed {
            self.lose(seq);
            self.state_dirty = true;
            self.other_writes = true;
        }
        Ok(removed)
    }

    fn purge(&mut self, filter: &str, below_seq: Seq, keep: u64) -> Result<u64, StoreError> {
        self.check_whole()?;
        if matches_all(filter) {
            // Removes only from the front: first_seq in the state record says it all.
            let purged = self.mem.purge(filter, below_seq, keep)?;
            self.state_dirty = true;
            self.other_writes = true;
            return Ok(purged);
        }
        let candidates = self.persisted_matching(filter, below_seq);
        let purged = self.mem.purge(filter, below_seq, keep)?;
        if purged > 0 {
            for seq in candidates {
                if self.mem.load_msg(seq).is_err() {
                    self.lose(seq);
                }
            }
            self.state_dirty = true;
            self.other_writes = true;
        }
        Ok(purged)
    }

    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError> {
        self.check_whole()?;
        // Removes only from the front, like a purge of everything.
        let purged = self.mem.compact(seq)?;
        self.state_dirty = true;
        self.other_writes = true;
        Ok(purged)
    }

    /// Queues this stream's changes for the shell's next commit (see the module docs).
    fn sync(&mut self) -> Result<Synced, StoreError> {
        // Fails only when the store was deleted.
        self.mem.consumers()?;
        let before = (self.synced_end, self.dead.clone(), self.state_last);
        let mut writes = Vec::new();
        if self.partial_first.is_none() {
            self.drop_dead_front(&mut writes);
        }
        let fresh = self.pack_from(self.synced_end, None);
        let merge_from = if fresh.is_empty() {
            None
        } else {
            self.merge_from(&fresh)
        };
        self.rewrite_lost(merge_from, &mut writes);
        if !fresh.is_empty() {
            self.write_tail(fresh, merge_from, &mut writes);
        }
        let st = self.mem.state();
        self.synced_end = st.last_seq.saturating_add(1);
        let stream = &self.stream;
        let first_seq = self.partial_first.unwrap_or(st.first_seq);
        let span = st.last_seq.saturating_sub(first_seq).saturating_add(1);
        let lag = st.last_seq.saturating_sub(self.state_last);
        let took_dirty = std::mem::take(&mut self.state_dirty);
        if took_dirty || lag > (span / 8).min(STATE_LAG) {
            self.state_last = st.last_seq;
            let state = SeqState {
                first_seq,
                last_seq: st.last_seq,
                last_ts: st.last_ts,
                dead: self.dead.iter().copied().collect(),
            };
            writes.push(Write::PutState {
                stream: stream.clone(),
                bytes: codec::encode_json(&state),
            });
        }
        let consumers = std::mem::take(&mut self.consumer_writes);
        for (name, &saved) in &consumers {
            // Encoded from the one copy in memory, as it is now.
            let record = saved.then(|| self.mem.consumer(name)).flatten();
            writes.push(match record {
                Some(r) => Write::PutConsumer {
                    stream: stream.clone(),
                    bytes: codec::encode_consumer(r),
                    name: name.clone(),
                },
                None => Write::DeleteConsumer {
                    stream: stream.clone(),
                    name: name.clone(),
                },
            });
        }
        self.queue.borrow_mut().extend(writes);
        let (synced_end, dead, state_last) = before;
        self.queued.push_back(QueuedSync {
            undo: std::mem::take(&mut self.undo),
            synced_end,
            dead,
            state_last,
            took_dirty,
            removed: std::mem::take(&mut self.removed),
            other_writes: std::mem::take(&mut self.other_writes),
            consumers,
            state: st,
        });
        Ok(Synced::Queued)
    }

    /// The oldest queued sync committed: the database holds the state it carried.
    fn queued_sync_done(&mut self) {
        if let Some(sync) = self.queued.pop_front() {
            self.committed = sync.state;
        }
    }

    /// Every queued sync failed: the bookkeeping goes back to what the database holds (the
    /// segments, tombstones and state record of the last commit that completed), with the
    /// removals and consumer writes they carried pending again, so the next sync carries
    /// everything since that commit. The resident messages stay as they are (see
    /// [`StreamStore::discard_unsynced`] for taking back appends).
    fn queued_sync_failed(&mut self) {
        let Some(oldest) = self.queued.front() else {
            return;
        };
        self.synced_end = oldest.synced_end;
        self.state_last = oldest.state_last;
        self.dead = oldest.dead.clone();
        let mut removed = Vec::new();
        for sync in std::mem::take(&mut self.queued).into_iter().rev() {
            for (key, was) in sync.undo.into_iter().rev() {
                match was {
                    Some(info) => self.segments.insert(key, info),
                    None => self.segments.remove(&key),
                };
            }
            self.state_dirty |= sync.took_dirty;
            self.other_writes |= sync.other_writes;
            removed.extend(sync.removed);
            for (name, saved) in sync.consumers {
                // A write made since is newer.
                self.consumer_writes.entry(name).or_insert(saved);
            }
        }
        // Removals since the last commit are tombstones in the segments it left (those of
        // later segments, undone above, are simply not written again).
        removed.append(&mut self.removed);
        self.lost.clear();
        for seq in removed {
            self.lose(seq);
        }
    }

    /// Takes back the appends made since the last commit that completed, when nothing else
    /// changed the messages since and no commit is in flight (after
    /// [`StreamStore::queued_sync_failed`]): the resident messages, sequences and bookkeeping
    /// are those of that commit again, so the next message gets the sequence after it.
    /// Consumer records are not touched. `Ok(false)` otherwise (nothing changed): a removal
    /// cannot be taken back in memory, the database alone still has the message.
    fn discard_unsynced(&mut self) -> Result<bool, StoreError> {
        self.mem.consumers()?;
        let now = self.mem.state();
        let to = self.committed;
        if !self.queued.is_empty() || self.other_writes || now.last_seq < to.last_seq {
            return Ok(false);
        }
        self.mem.truncate_to(&to);
        self.synced_end = to.last_seq.saturating_add(1);
        Ok(true)
    }

    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.mem.save_consumer(name, record)?;
        self.consumer_writes.insert(name.to_string(), true);
        Ok(())
    }

    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.mem.remove_consumer(name)?;
        self.consumer_writes.insert(name.to_string(), false);
        Ok(())
    }

    /// Forgets the stream at once: the deletion goes on the queue now, since a deleted stream is
    /// never synced again.
    fn delete(&mut self) -> Result<(), StoreError> {
        self.check_whole()?;
        self.mem.delete()?;
        self.segments.clear();
        self.lost.clear();
        self.dead.clear();
        self.consumer_writes.clear();
        self.state_dirty = false;
        self.queued.clear();
        self.undo.clear();
        self.removed.clear();
        self.queue.borrow_mut().push(Write::DeleteStream {
            stream: self.stream.clone(),
        });
        Ok(())
    }
}
