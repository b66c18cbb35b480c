//! What a consumer does when its stream lets go of messages (nats-server's `decStreamPending`,
//! `consumer.purge` and `removeRedeliveredBelow`).
//!
//! A removed message can no longer be acknowledged, so a pending delivery of it must not hold a
//! `max_ack_pending` slot until its ack wait runs out, nor be redelivered: nats-server treats it
//! as terminated at once, moves the ack floor past it and delivers the next message. The engine
//! calls these after every stream operation that removed something (see
//! `stream/removals.rs`); each marks the consumer changed, so the next flush saves its state.

use super::Consumer;
use crate::core::store::StreamStore;
use crate::core::subject;

impl Consumer {
    /// The stream removed message `seq` (a delete, a limit, `max_age`, retention): a pending
    /// delivery of it is terminated as if acknowledged, it leaves the redelivery queue, and the
    /// count of messages left drops (or is recounted when the filter makes that unknowable).
    pub fn on_removed(&mut self, seq: u64) {
        if seq >= self.sseq && seq <= self.npf {
            if self.filters.is_empty() && self.lss.is_none() {
                // Unfiltered, it was surely counted.
                self.npc -= 1;
            } else {
                // Whether it matched is unknown now that it is gone: recount when needed.
                self.npc_stale = true;
            }
        }
        if let Some(p) = self.pending.get(&seq).copied() {
            let mut acked = Vec::new();
            let now = self.lat;
            // As an ack at the last ack time: a removal is no client's ack.
            self.process_ack(seq, p.consumer_seq, now, &mut acked);
            self.changed = true;
        } else if self.rdc.remove(&seq).is_some() {
            self.changed = true;
        }
        self.remove_from_redeliver_queue(seq);
    }

    /// The stream was purged of the messages matching `filter` (`""`: all). The engine passes
    /// only purges that concern this consumer's subjects (see [`Consumer::purge_scope`]):
    /// `start` is where the consumer may resume at the earliest, `last` the stream's last
    /// sequence, and `wider` says the consumer reads more than the purge removed, so pending
    /// messages above `start` are checked one by one against the store.
    pub fn on_purge(&mut self, start: u64, last: u64, wider: bool, store: &dyn StreamStore) {
        // Nothing of the purged subject is left: the consumer resumes past the end.
        let start = if start == 0 && !wider {
            last.saturating_add(1)
        } else {
            start
        };
        if self.sseq < start {
            self.sseq = start;
        }
        if self.asflr < start {
            self.asflr = start - 1;
        }
        // Pending messages at or below the floor went with the purge; with a wider consumer,
        // those above it that the store lost went too. (nats-server checks the latter only when
        // the floor moved, and otherwise terminates them at their redelivery; checking always
        // frees their `max_ack_pending` slots at once.)
        let floor = self.asflr;
        let gone: Vec<(u64, u64)> = self
            .pending
            .iter()
            .filter(|(seq, _)| **seq <= floor || (wider && store.load_msg(**seq).is_err()))
            .map(|(seq, p)| (*seq, p.consumer_seq))
            .collect();
        for (seq, dseq) in gone {
            self.adflr = self.adflr.max(dseq);
            self.pending.remove(&seq);
            self.rdc.remove(&seq);
            self.remove_from_redeliver_queue(seq);
        }
        if self.pending.is_empty() {
            self.rdc.clear();
            self.rdq.clear();
            self.rdq_set.clear();
            self.adflr = self.dseq - 1;
            self.asflr = self.sseq - 1;
        }
        self.forget_redelivered_below(store.state().first_seq);
        // A purge removes many messages at once: count what is left from the store.
        self.npc_stale = true;
        if let Some(lss) = &mut self.lss {
            let sseq = self.sseq;
            lss.seqs.retain(|s| *s >= sseq);
        }
        self.recompute_redeliver_at();
        self.changed = true;
    }

    /// Whether a purge of `filter` concerns this consumer, and how (nats-server's
    /// `purgeLocked`): `Some(false)` when the consumer reads only purged subjects (its filters
    /// are equal to or inside the purge's), `Some(true)` when it reads more than was purged but
    /// some of it (its pending messages are then checked one by one), `None` when it reads none
    /// of the purged subjects.
    pub fn purge_scope(&self, filter: &str) -> Option<bool> {
        if filter.is_empty() || filter == ">" {
            return Some(false);
        }
        if !self.filters.is_empty() && self.filters.iter().any(|f| subject::is_subset(f, filter)) {
            return Some(false);
        }
        // nats-server asks whether the purge's subject is inside a filter; an overlap that is
        // neither (`a.*.c` against `a.b.>`) also removed messages this consumer may hold, so it is
        // treated as wider too rather than left pending.
        let touched =
            self.filters.is_empty() || self.filters.iter().any(|f| subject::overlaps(f, filter));
        touched.then_some(true)
    }

    /// The stream removed more than it could list: every pending message the store no longer
    /// has is terminated, and the count of messages left is recounted.
    pub fn on_removed_many(&mut self, store: &dyn StreamStore) {
        let gone: Vec<u64> = self
            .pending
            .keys()
            .copied()
            .filter(|seq| store.load_msg(*seq).is_err())
            .collect();
        for seq in gone {
            self.on_removed(seq);
        }
        self.forget_redelivered_below(store.state().first_seq);
        self.npc_stale = true;
        self.changed = true;
    }

    /// Redelivery counts of messages below the stream's first sequence are of no use any more.
    fn forget_redelivered_below(&mut self, first: u64) {
        if self.rdc.keys().next().is_some_and(|s| *s < first) {
            self.rdc = self.rdc.split_off(&first);
            self.changed = true;
        }
        let rdq_set = &self.rdq_set;
        if rdq_set.iter().next().is_some_and(|s| *s < first) {
            self.rdq.retain(|s| *s >= first);
            self.rdq_set.retain(|s| *s >= first);
        }
    }
}
