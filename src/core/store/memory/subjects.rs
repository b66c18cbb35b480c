//! The subjects of the stored messages: each distinct subject is interned once (messages keep a
//! small id, not a `String`) and keeps its own ascending list of sequences, so per-subject
//! questions (`filtered_state(0, "kv.key")`, the last message on a subject, the next one from a
//! start) are answered from that list alone.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use crate::core::store::{Seq, SimpleState};
use crate::core::subject;

/// Index of an interned subject; reused once its subject has no message left.
pub(super) type SubjectId = usize;

/// Compaction of a subject's list waits until it has at least this many dead entries.
const MIN_DEAD_TO_COMPACT: usize = 64;

/// One subject's stored sequences, ascending.
///
/// Removing the oldest or newest pops the deque. Removing one in between would shift up to half
/// the deque, so it is only recorded in `dead` (a sequence is never reused, so it cannot come
/// back); the deque is rebuilt without them once they are half of it, which keeps removal
/// O(log n) amortized and the memory within twice the live count.
#[derive(Debug)]
pub(super) struct SubjectSeqs {
    name: Arc<str>,
    /// Ascending; both ends are always live.
    seqs: VecDeque<Seq>,
    /// Removed sequences still in `seqs`.
    dead: BTreeSet<Seq>,
}

impl SubjectSeqs {
    /// The subject.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The newest sequence.
    pub(super) fn last(&self) -> Option<Seq> {
        self.seqs.back().copied()
    }

    /// Index of the first sequence `>= start`.
    fn position(&self, start: Seq) -> usize {
        // Most lookups start at or before the subject's first message (`filtered_state(0, ..)`,
        // a new consumer): skip the binary search.
        match self.seqs.front() {
            Some(first) if *first >= start => 0,
            _ => self.seqs.partition_point(|s| *s < start),
        }
    }

    /// The first sequence `>= start`.
    pub(super) fn next_from(&self, start: Seq) -> Option<Seq> {
        let from = self.position(start);
        if self.dead.is_empty() {
            return self.seqs.get(from).copied();
        }
        self.seqs
            .range(from..)
            .find(|s| !self.dead.contains(s))
            .copied()
    }

    /// Totals of the sequences `>= start`.
    pub(super) fn state_from(&self, start: Seq) -> SimpleState {
        let from = self.position(start);
        let dead_after = if self.dead.is_empty() || from == 0 {
            self.dead.len()
        } else {
            self.dead.range(start..).count()
        };
        match (self.next_from(start), self.seqs.back()) {
            (Some(first), Some(last)) => SimpleState {
                msgs: (self.seqs.len() - from - dead_after) as u64,
                first,
                last: *last,
            },
            _ => SimpleState::default(),
        }
    }

    /// The oldest sequence.
    pub(super) fn front(&self) -> Option<Seq> {
        self.seqs.front().copied()
    }

    /// How many sequences.
    pub(super) fn len(&self) -> u64 {
        (self.seqs.len() - self.dead.len()) as u64
    }

    /// Forgets `seq`; true when the subject has no sequence left.
    fn remove(&mut self, seq: Seq) -> bool {
        if self.seqs.front() == Some(&seq) {
            self.seqs.pop_front();
            while let Some(front) = self.seqs.front() {
                if !self.dead.remove(front) {
                    break;
                }
                self.seqs.pop_front();
            }
        } else if self.seqs.back() == Some(&seq) {
            self.seqs.pop_back();
            while let Some(back) = self.seqs.back() {
                if !self.dead.remove(back) {
                    break;
                }
                self.seqs.pop_back();
            }
        } else if self.seqs.binary_search(&seq).is_ok() && self.dead.insert(seq) {
            let dead = self.dead.len();
            if dead >= MIN_DEAD_TO_COMPACT && dead * 2 >= self.seqs.len() {
                let dead = std::mem::take(&mut self.dead);
                self.seqs.retain(|s| !dead.contains(s));
            }
        }
        self.seqs.is_empty()
    }
}

/// Slots in the cache of recently stored subjects (a power of two).
const CACHE_SLOTS: usize = 64;

/// All subjects with at least one stored message.
#[derive(Debug)]
pub(super) struct SubjectIndex {
    /// The authoritative map. Its SipHash resists collision attacks from hostile subjects, but
    /// costs more than the rest of a store together, hence `recent` in front of it.
    ids: HashMap<Arc<str>, SubjectId>,
    entries: Vec<Option<SubjectSeqs>>,
    free: Vec<SubjectId>,
    /// Ids of recently stored subjects by a cheap fingerprint of the subject. A hit is confirmed
    /// by comparing names, so a stale or colliding slot only costs a map lookup.
    recent: [SubjectId; CACHE_SLOTS],
}

impl Default for SubjectIndex {
    fn default() -> Self {
        Self {
            ids: HashMap::new(),
            entries: Vec::new(),
            free: Vec::new(),
            recent: [SubjectId::MAX; CACHE_SLOTS],
        }
    }
}

/// A fast, non-cryptographic hash of `subject` reduced to a cache slot.
fn fingerprint(subject: &str) -> usize {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let bytes = subject.as_bytes();
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = chunk.try_into().map_or(0, u64::from_le_bytes);
        h = (h.rotate_left(5) ^ word).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    (h >> 58) as usize % CACHE_SLOTS
}

impl SubjectIndex {
    /// Records that `seq` (above every sequence recorded so far) is on `subject`; returns the id.
    pub(super) fn add(&mut self, subject: &str, seq: Seq) -> SubjectId {
        let slot = fingerprint(subject);
        let cached = self.recent[slot];
        if let Some(Some(entry)) = self.entries.get_mut(cached) {
            if &*entry.name == subject {
                entry.seqs.push_back(seq);
                return cached;
            }
        }
        let id = match self.ids.get(subject) {
            Some(id) => *id,
            None => self.intern(subject),
        };
        if let Some(Some(entry)) = self.entries.get_mut(id) {
            entry.seqs.push_back(seq);
        }
        self.recent[slot] = id;
        id
    }

    fn intern(&mut self, subject: &str) -> SubjectId {
        let name: Arc<str> = Arc::from(subject);
        let entry = SubjectSeqs {
            name: name.clone(),
            seqs: VecDeque::new(),
            dead: BTreeSet::new(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.entries.get_mut(id) {
                    *slot = Some(entry);
                }
                id
            }
            None => {
                self.entries.push(Some(entry));
                self.entries.len() - 1
            }
        };
        self.ids.insert(name, id);
        id
    }

    /// Forgets `seq` on subject `id`; the subject goes when its last sequence does.
    pub(super) fn remove(&mut self, id: SubjectId, seq: Seq) {
        let Some(slot) = self.entries.get_mut(id) else {
            return;
        };
        let Some(entry) = slot else {
            return;
        };
        if entry.remove(seq) {
            self.ids.remove(&entry.name);
            *slot = None;
            self.free.push(id);
        }
    }

    /// How many distinct subjects.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The subject of `id` (`""` for an unknown id, which a consistent store never asks for).
    pub(super) fn name(&self, id: SubjectId) -> &str {
        match self.entries.get(id) {
            Some(Some(entry)) => &entry.name,
            _ => "",
        }
    }

    /// The sequences of subject `id`.
    pub(super) fn by_id(&self, id: SubjectId) -> Option<&SubjectSeqs> {
        self.entries.get(id)?.as_ref()
    }

    /// The sequences of a literal subject.
    pub(super) fn get(&self, subject: &str) -> Option<&SubjectSeqs> {
        if let Some(Some(entry)) = self.entries.get(self.recent[fingerprint(subject)]) {
            if &*entry.name == subject {
                return Some(entry);
            }
        }
        self.by_id(*self.ids.get(subject)?)
    }

    /// The subjects matching `filter` (`""` and `>` match all), with their ids. A literal filter
    /// is one hash lookup; a wildcard visits every subject.
    pub(super) fn matching<'a>(
        &'a self,
        filter: &'a str,
    ) -> impl Iterator<Item = (SubjectId, &'a SubjectSeqs)> + 'a {
        let all = filter.is_empty() || filter == ">";
        let literal = !all && is_literal(filter);
        let single = if literal {
            self.ids
                .get(filter)
                .and_then(|id| Some((*id, self.by_id(*id)?)))
        } else {
            None
        };
        let scanned = if literal { 0 } else { self.entries.len() };
        single.into_iter().chain(
            self.entries
                .iter()
                .take(scanned)
                .enumerate()
                .filter_map(|(id, e)| e.as_ref().map(|e| (id, e)))
                .filter(move |(_, e)| all || subject::matches(filter, &e.name)),
        )
    }

    /// Forgets every subject.
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }
}

/// True when `filter` has no wildcard token: a byte scan first, since most filters have no `*` or
/// `>` at all, and the token check only for those that do (`a*` is literal).
pub(super) fn is_literal(filter: &str) -> bool {
    !filter.bytes().any(|b| b == b'*' || b == b'>') || subject::is_literal(filter)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn seqs(n: Seq) -> SubjectSeqs {
        SubjectSeqs {
            name: Arc::from("s"),
            seqs: (1..=n).collect(),
            dead: BTreeSet::new(),
        }
    }

    #[test]
    fn random_removals_match_a_plain_set() {
        let mut list = seqs(2000);
        let mut live: BTreeSet<Seq> = (1..=2000).collect();
        let mut x: u64 = 88172645463325252;
        for step in 0..1990 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly interior removals, sometimes the ends.
            let seq = match step % 10 {
                0 => *live.first().expect("live"),
                1 => *live.last().expect("live"),
                _ => 1 + x % 2000,
            };
            let was_live = live.remove(&seq);
            let emptied = list.remove(seq);
            assert_eq!(emptied, live.is_empty());
            assert_eq!(list.len(), live.len() as u64, "step {step}");
            assert!(
                list.seqs.len() <= 2 * live.len().max(MIN_DEAD_TO_COMPACT),
                "step {step}"
            );
            assert_eq!(list.front(), live.first().copied());
            assert_eq!(list.last(), live.last().copied());
            if was_live || step % 7 == 0 {
                let start = x % 2100;
                let want: Vec<Seq> = live.range(start..).copied().collect();
                assert_eq!(list.next_from(start), want.first().copied());
                let state = list.state_from(start);
                assert_eq!(state.msgs, want.len() as u64, "step {step} start {start}");
                assert_eq!(state.first, want.first().copied().unwrap_or(0));
            }
        }
    }

    #[test]
    fn a_subject_is_forgotten_with_its_last_sequence() {
        let mut index = SubjectIndex::default();
        let a = index.add("a", 1);
        let b = index.add("b", 2);
        index.add("a", 3);
        index.remove(a, 1);
        index.remove(a, 3);
        assert_eq!(index.len(), 1);
        assert!(index.get("a").is_none());
        // The id is reused by the next new subject, and the stale cache entry is not trusted.
        let c = index.add("c", 4);
        assert_eq!(c, a);
        assert!(index.get("a").is_none());
        assert_eq!(index.get("c").and_then(|s| s.last()), Some(4));
        assert_eq!(index.get("b").and_then(|s| s.front()), Some(2));
        assert_ne!(b, c);
    }
}
