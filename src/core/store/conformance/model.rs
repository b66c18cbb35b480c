//! The randomized half of the conformance suite: a deliberately naive reference store (a `Vec` of
//! messages, every answer computed by brute force straight from the trait's docs) and a seeded
//! loop that applies the same random operations to it and to the store under test, comparing every
//! query after every step.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::core::store::{Seq, SimpleState, StoreError, StoredMsg, StreamState, StreamStore};
use crate::core::subject;
use crate::core::time::Nanos;

/// Operations applied per seed.
const STEPS: usize = 400;

/// Subjects the random operations publish to: overlapping tokens so wildcards have work to do.
const SUBJECTS: &[&str] = &["a", "b", "a.x", "a.y", "b.x", "a.x.z", "c.d.e"];

/// A subject published seldom, so wildcard lookups have to reach far for it.
const RARE: &str = "r.s";

/// Filters the queries are checked with (a few, drawn at random, per step).
const FILTERS: &[&str] = &[
    "", ">", "a", "b", "a.x", "a.*", "*.x", "a.>", "*", "c.>", "*.*.*", "zz", "r.*",
];

/// A tiny deterministic PRNG (xorshift64*): the suite must not depend on outside randomness.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One mutation, applied alike to the model and the store.
#[derive(Debug, Clone)]
enum Op {
    Store(&'static str, Nanos),
    Burst(u64, Nanos),
    Skip(Nanos),
    Remove(Seq),
    Purge(&'static str, Seq, u64),
    Compact(Seq),
}

/// The reference: what the trait's docs say, computed the slowest obvious way.
#[derive(Debug, Default)]
struct Model {
    msgs: Vec<StoredMsg>,
    first: Seq,
    last: Seq,
    last_ts: Nanos,
}

fn matches(filter: &str, subject: &str) -> bool {
    filter.is_empty() || subject::matches(filter, subject)
}

impl Model {
    fn store(&mut self, subject: &str, now: Nanos) -> Seq {
        self.last += 1;
        if self.msgs.is_empty() {
            self.first = self.last;
        }
        self.last_ts = now;
        self.msgs.push(StoredMsg {
            subject: subject.to_string(),
            seq: self.last,
            time: now,
            headers: (self.last % 3 == 0).then(|| Bytes::from_static(b"NATS/1.0\r\nK: v\r\n\r\n")),
            payload: Bytes::from(vec![b'x'; (self.last % 7) as usize]),
        });
        self.last
    }

    fn skip(&mut self, now: Nanos) -> Seq {
        self.last += 1;
        if self.last_ts == 0 {
            self.last_ts = now;
        }
        if self.msgs.is_empty() {
            self.first = self.last + 1;
        }
        self.last
    }

    /// Removes the messages the predicate selects and fixes `first` the way removal does.
    fn remove_where(&mut self, mut gone: impl FnMut(&StoredMsg) -> bool) -> u64 {
        let before = self.msgs.len();
        self.msgs.retain(|m| !gone(m));
        let removed = (before - self.msgs.len()) as u64;
        if removed > 0 {
            self.first = self.msgs.first().map_or(self.last + 1, |m| m.seq);
        }
        removed
    }

    fn purge_all(&mut self) -> u64 {
        let n = self.msgs.len() as u64;
        self.msgs.clear();
        self.first = self.last + 1;
        n
    }

    fn purge(&mut self, filter: &str, below: Seq, keep: u64) -> u64 {
        if below == 1 {
            return 0;
        }
        if (filter.is_empty() || filter == ">") && keep == 0 {
            return if below == 0 {
                self.purge_all()
            } else {
                self.compact(below)
            };
        }
        let matching: Vec<Seq> = self
            .msgs
            .iter()
            .filter(|m| matches(filter, &m.subject))
            .map(|m| m.seq)
            .collect();
        let removable = if keep == 0 {
            matching.len()
        } else {
            matching.len().saturating_sub(keep as usize)
        };
        let doomed: Vec<Seq> = matching[..removable]
            .iter()
            .copied()
            .filter(|s| below == 0 || *s < below)
            .collect();
        self.remove_where(|m| doomed.contains(&m.seq))
    }

    fn compact(&mut self, seq: Seq) -> u64 {
        if seq == 0 {
            return self.purge_all();
        }
        if seq <= self.first {
            return 0;
        }
        if seq > self.last {
            let n = self.msgs.len() as u64;
            self.msgs.clear();
            self.first = seq;
            self.last = seq - 1;
            return n;
        }
        let removed = self.remove_where(|m| m.seq < seq);
        if self.msgs.is_empty() {
            self.first = self.last + 1;
        }
        removed
    }

    fn apply(&mut self, op: &Op) -> Result<u64, StoreError> {
        Ok(match *op {
            Op::Store(subject, now) => self.store(subject, now),
            Op::Burst(n, now) => {
                for i in 0..n {
                    self.store(SUBJECTS[(i % SUBJECTS.len() as u64) as usize], now);
                }
                self.last
            }
            Op::Skip(now) => self.skip(now),
            Op::Remove(seq) => u64::from(self.remove_where(|m| m.seq == seq) > 0),
            Op::Purge(filter, below, keep) => self.purge(filter, below, keep),
            Op::Compact(seq) => self.compact(seq),
        })
    }

    fn state(&self) -> StreamState {
        let mut subjects: Vec<&str> = self.msgs.iter().map(|m| m.subject.as_str()).collect();
        subjects.sort_unstable();
        subjects.dedup();
        let msgs = self.msgs.len() as u64;
        StreamState {
            msgs,
            bytes: self.msgs.iter().map(StoredMsg::size).sum(),
            first_seq: self.first,
            first_ts: self.msgs.first().map_or(0, |m| m.time),
            last_seq: self.last,
            last_ts: self.last_ts,
            num_subjects: subjects.len() as u64,
            num_deleted: if msgs == 0 {
                0
            } else {
                self.last - self.first + 1 - msgs
            },
        }
    }

    fn matching(&self, start: Seq, filter: &str) -> impl Iterator<Item = &StoredMsg> + '_ {
        let filter = filter.to_string();
        self.msgs
            .iter()
            .filter(move |m| m.seq >= start && matches(&filter, &m.subject))
    }

    fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState {
        let seqs: Vec<Seq> = self.matching(start, filter).map(|m| m.seq).collect();
        SimpleState {
            msgs: seqs.len() as u64,
            first: seqs.first().copied().unwrap_or(0),
            last: seqs.last().copied().unwrap_or(0),
        }
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        let mut out: BTreeMap<String, SimpleState> = BTreeMap::new();
        for m in self.matching(0, filter) {
            let e = out.entry(m.subject.clone()).or_default();
            if e.msgs == 0 {
                e.first = m.seq;
            }
            e.msgs += 1;
            e.last = m.seq;
        }
        out
    }

    fn num_pending(&self, start: Seq, filter: &str, last_per_subject: bool) -> u64 {
        if last_per_subject {
            let subjects = self.subjects_state(filter);
            subjects.values().filter(|s| s.last >= start).count() as u64
        } else {
            self.filtered_state(start, filter).msgs
        }
    }

    fn load_msg(&self, seq: Seq) -> Result<StoredMsg, StoreError> {
        self.msgs
            .iter()
            .find(|m| m.seq == seq)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    fn load_next(&self, filter: &str, start: Seq) -> Result<StoredMsg, StoreError> {
        self.matching(start, filter)
            .next()
            .cloned()
            .ok_or(StoreError::Eof)
    }

    fn load_last(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        self.matching(0, filter)
            .last()
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    fn deleted(&self) -> Vec<Seq> {
        if self.msgs.is_empty() {
            return Vec::new();
        }
        (self.first..=self.last)
            .filter(|s| self.msgs.binary_search_by_key(s, |m| m.seq).is_err())
            .collect()
    }
}

fn apply_to_store(store: &mut dyn StreamStore, model: &Model, op: &Op) -> Result<u64, StoreError> {
    match *op {
        Op::Store(subject, now) => {
            // The model decides the body so both sides store the same bytes.
            let probe = model.last + 1;
            let headers = (probe % 3 == 0).then(|| Bytes::from_static(b"NATS/1.0\r\nK: v\r\n\r\n"));
            let payload = Bytes::from(vec![b'x'; (probe % 7) as usize]);
            store.store_msg(subject, headers, payload, now)
        }
        Op::Burst(n, now) => {
            let mut last = 0;
            for i in 0..n {
                let probe = model.last + 1 + i;
                let headers =
                    (probe % 3 == 0).then(|| Bytes::from_static(b"NATS/1.0\r\nK: v\r\n\r\n"));
                let payload = Bytes::from(vec![b'x'; (probe % 7) as usize]);
                let subject = SUBJECTS[(i % SUBJECTS.len() as u64) as usize];
                last = store.store_msg(subject, headers, payload, now)?;
            }
            Ok(last)
        }
        Op::Skip(now) => store.skip_msg(now),
        Op::Remove(seq) => store.remove_msg(seq).map(u64::from),
        Op::Purge(filter, below, keep) => store.purge(filter, below, keep),
        Op::Compact(seq) => store.compact(seq),
    }
}

fn random_op(rng: &mut Rng, model: &Model, step: usize) -> Op {
    let now = 1_000 + step as Nanos;
    // A sequence somewhere around the live range, sometimes just outside it.
    let around = |rng: &mut Rng| {
        let lo = model.first.saturating_sub(2);
        lo + rng.below(model.last.saturating_sub(lo) + 4)
    };
    match rng.below(100) {
        0..=1 => Op::Store(RARE, now),
        2..=44 => Op::Store(rng.pick(SUBJECTS), now),
        45..=47 => Op::Burst(20 + rng.below(300), now),
        48..=52 => Op::Skip(now),
        53..=79 => Op::Remove(around(rng)),
        80..=91 => {
            let filter = rng.pick(FILTERS);
            let below = if rng.below(2) == 0 { 0 } else { around(rng) };
            let keep = if rng.below(2) == 0 { 0 } else { rng.below(6) };
            // Whole-stream purges without keep empty the stream; keep them rare.
            if (filter.is_empty() || filter == ">") && keep == 0 && rng.below(4) != 0 {
                Op::Purge(filter, below, 1 + rng.below(3))
            } else {
                Op::Purge(filter, below, keep)
            }
        }
        92..=97 => Op::Compact(around(rng)),
        _ => Op::Compact(model.last + 1 + rng.below(5)),
    }
}

/// Compares every query of the store with the model.
fn check(store: &dyn StreamStore, model: &Model, rng: &mut Rng, ctx: &str) {
    assert_eq!(store.state(), model.state(), "state {ctx}");
    assert_eq!(store.deleted(), model.deleted(), "deleted {ctx}");

    let lo = model.first.saturating_sub(1);
    let span = model.last + 2 - lo;
    let probes: Vec<Seq> = if span <= 48 {
        (lo..lo + span).collect()
    } else {
        (0..48).map(|_| lo + rng.below(span)).collect()
    };
    for seq in probes {
        assert_eq!(store.load_msg(seq), model.load_msg(seq), "load {seq} {ctx}");
    }

    let starts = [0, lo + rng.below(span), model.last + 1];
    let filters = ["", rng.pick(FILTERS), rng.pick(FILTERS), rng.pick(FILTERS)];
    for filter in filters {
        assert_eq!(
            store.load_last_msg(filter),
            model.load_last(filter),
            "load_last {filter:?} {ctx}"
        );
        assert_eq!(
            store.subjects_state(filter),
            model.subjects_state(filter),
            "subjects_state {filter:?} {ctx}"
        );
        for start in starts {
            let at = format!("{filter:?} from {start} {ctx}");
            assert_eq!(
                store.load_next_msg(filter, start),
                model.load_next(filter, start),
                "load_next {at}"
            );
            assert_eq!(
                store.filtered_state(start, filter),
                model.filtered_state(start, filter),
                "filtered_state {at}"
            );
            for lps in [false, true] {
                assert_eq!(
                    store.num_pending(start, filter, lps),
                    model.num_pending(start, filter, lps),
                    "num_pending lps={lps} {at}"
                );
            }
        }
    }
}

/// Applies a seeded random sequence of stores, bursts, skips, removals, purges and compactions to
/// `store` (fresh and empty) and to the reference model, comparing results and every query after
/// each step.
pub(crate) fn random_ops_match_model(store: &mut dyn StreamStore, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut model = Model::default();
    check(store, &model, &mut rng, &format!("seed {seed} at start"));
    for step in 0..STEPS {
        let op = random_op(&mut rng, &model, step);
        let got = apply_to_store(store, &model, &op);
        let want = model.apply(&op);
        let ctx = format!("seed {seed} step {step} after {op:?}");
        assert_eq!(got, want, "result {ctx}");
        check(store, &model, &mut rng, &ctx);
    }
}
