//! Redelivery bookkeeping (nats-server's `trackPending`, `checkPending` and `hasMaxDeliveries`):
//! every delivery awaiting an ack has a deadline (`ack_wait`, or the backoff step for its
//! redelivery count); once it passes, the message queues for redelivery, unless it has been
//! delivered `max_deliver` times, in which case the consumer stops tracking it.

use super::Consumer;
use crate::core::store::{PendingAck, StreamStore};
use crate::core::time::Nanos;

impl Consumer {
    /// Records a delivery awaiting its ack; a redelivery keeps its first consumer sequence.
    pub(super) fn track_pending(&mut self, seq: u64, dseq: u64, now: Nanos) {
        self.pending
            .entry(seq)
            .and_modify(|p| p.timestamp = now)
            .or_insert(PendingAck {
                consumer_seq: dseq,
                timestamp: now,
            });
        if self.acks_time_out() {
            let due = now.saturating_add(self.ack_wait_for(seq));
            self.redeliver_no_later_than(due);
        }
    }

    /// False when a pending delivery waits for its ack for ever (`ack_policy: flow_control`
    /// has no ack wait: what a copy did not confirm is sent again when it comes back).
    pub(super) fn acks_time_out(&self) -> bool {
        self.config.ack_wait > 0 || !self.config.backoff.is_empty()
    }

    /// Queues for redelivery every pending ack whose wait ran out; forgets those the stream no
    /// longer has; stops redelivering those past max_deliver (nats-server's `checkPending`).
    pub(super) fn check_pending(&mut self, store: &dyn StreamStore, now: Nanos) {
        if self.pending.is_empty() {
            self.redeliver_at = None;
            return;
        }
        if self.redeliver_at.is_some_and(|at| now < at) {
            return;
        }
        let first = store.state().first_seq;
        let mut gone = Vec::new();
        let mut expired = Vec::new();
        let mut next: Option<Nanos> = None;
        for (&seq, p) in &self.pending {
            if seq < first || seq <= self.asflr {
                gone.push((seq, p.consumer_seq));
                continue;
            }
            if self.rdq_set.contains(&seq) || !self.acks_time_out() {
                continue;
            }
            let due = p.timestamp.saturating_add(self.ack_wait_for(seq));
            if now >= due {
                expired.push(seq);
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        for (seq, cseq) in gone {
            self.pending.remove(&seq);
            self.rdc.remove(&seq);
            self.remove_from_redeliver_queue(seq);
            self.asflr = self.asflr.max(seq);
            self.adflr = self.adflr.max(cseq);
            self.changed = true;
        }
        for seq in expired {
            let deliveries = self.rdc.get(&seq).copied().unwrap_or(0).saturating_add(1);
            if self.max_deliver_reached(deliveries) {
                self.drop_max_delivered(seq, deliveries, now);
                continue;
            }
            self.add_to_redeliver_queue(seq);
            if let Some(p) = self.pending.get_mut(&seq) {
                p.timestamp = now;
            }
        }
        self.redeliver_at = next;
        if self.pending.is_empty() {
            self.rdq.clear();
            self.rdq_set.clear();
            self.adflr = self.dseq - 1;
            self.asflr = self.sseq - 1;
        }
    }

    /// True when a message delivered `deliveries` times may not be delivered again.
    pub(super) fn max_deliver_reached(&self, deliveries: u64) -> bool {
        let max = self.config.max_deliver;
        max > 0 && deliveries >= max as u64
    }

    /// Stops tracking a message that reached max_deliver; it stays counted as redelivered, which
    /// keeps it in an interest stream until acked (nats-server's `hasMaxDeliveries`).
    pub(super) fn drop_max_delivered(&mut self, seq: u64, deliveries: u64, now: Nanos) {
        if self.max_delivered.len() < super::MAX_DELIVERED_NOTES {
            self.max_delivered.push((seq, deliveries));
        }
        if let Some(p) = self.pending.remove(&seq) {
            self.ldt = now;
            self.move_ack_floor(p.consumer_seq, seq);
        }
        let count = self.rdc.entry(seq).or_insert(0);
        *count = (*count).max(1);
        self.changed = true;
    }

    /// How long a delivery of `seq` waits for its ack: `ack_wait`, or the backoff step for its
    /// redelivery count (the last step repeats).
    pub(super) fn ack_wait_for(&self, seq: u64) -> Nanos {
        let backoff = &self.config.backoff;
        if backoff.is_empty() {
            return self.config.ack_wait;
        }
        let redeliveries = self.rdc.get(&seq).copied().unwrap_or(0);
        let index = usize::try_from(redeliveries)
            .unwrap_or(usize::MAX)
            .min(backoff.len() - 1);
        backoff.get(index).copied().unwrap_or(self.config.ack_wait)
    }

    /// Recomputes the earliest redelivery deadline from every pending ack.
    pub(super) fn recompute_redeliver_at(&mut self) {
        let timed = self.acks_time_out();
        self.redeliver_at = self
            .pending
            .iter()
            .filter(|(seq, _)| timed && !self.rdq_set.contains(seq))
            .map(|(seq, p)| p.timestamp.saturating_add(self.ack_wait_for(*seq)))
            .min();
    }

    /// Lowers the redelivery deadline to `at` if it is earlier.
    pub(super) fn redeliver_no_later_than(&mut self, at: Nanos) {
        self.redeliver_at = Some(self.redeliver_at.map_or(at, |r| r.min(at)));
    }

    pub(super) fn add_to_redeliver_queue(&mut self, seq: u64) {
        if self.rdq_set.insert(seq) {
            self.rdq.push_back(seq);
        }
    }

    pub(super) fn remove_from_redeliver_queue(&mut self, seq: u64) {
        if self.rdq_set.remove(&seq) {
            self.rdq.retain(|s| *s != seq);
        }
    }

    /// Queues every pending message for redelivery at once (a push consumer's deliver subject
    /// changed, so what went to the old one is presumed lost).
    pub(super) fn force_expire_pending(&mut self) {
        let seqs: Vec<u64> = self.pending.keys().copied().collect();
        for seq in seqs {
            self.add_to_redeliver_queue(seq);
        }
    }
}
