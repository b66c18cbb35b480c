//! Consumers: cursors over one stream that deliver its messages, track acks and redeliver.
//!
//! A [`Consumer`] is driven entirely by its caller. It reads the stream through a
//! [`StreamStore`], takes time as `now`, and hands out what must be sent as [`Outbound`] values:
//! deliveries (to a pull request's inbox or a push consumer's deliver subject, under the
//! message's original subject, with the ack subject as reply) and status messages. The caller
//! calls [`Consumer::poll`] after new messages are stored and whenever [`Consumer::next_deadline`]
//! comes due; nothing happens in between, so ack waits and backoffs are tested in microseconds.
//!
//! Behaviour follows nats-server's `consumer.go`. The pieces:
//! - [`config`]: ConsumerConfig and its JSON; `validate`: its defaults, rules and update rules.
//! - [`ack`]: ack subjects and ack bodies; `acking`: what acks do to the consumer.
//! - [`pull`]: pull request bodies and status replies; `waiting`: the queue of waiting requests;
//!   `abandoned`: requests nobody listens to any more.
//! - [`push`]: heartbeats, flow control and the rate limit.
//! - `start`: where a new consumer starts, and the count of messages left.
//! - `deliver`: the delivery loop; `redeliver`: ack deadlines, redelivery and max_deliver.
//! - `removed`: what messages the stream removed (purge, delete, limits, age) do to pending acks.
//! - [`info`]: the ConsumerInfo reply.

mod abandoned;
pub mod ack;
mod acking;
pub mod config;
mod deliver;
pub mod info;
pub mod pull;
pub mod push;
mod redeliver;
mod removed;
mod start;
mod validate;
mod waiting;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use crate::core::duration::{go_duration, parse_go_duration};
pub use abandoned::{ReplyInterest, SharedOracle};
pub use ack::{ack_stream_seq, ack_subject, parse_ack_subject, AckError, AckKind, AckSubject};
pub use config::{ephemeral_name, AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy};
pub use info::{ConsumerInfo, SequenceInfo};
pub use pull::{PullRequest, PullRequestError};
pub use validate::check_work_queue;

use crate::core::error::{ApiError, ErrorKind};
use crate::core::message::Outbound;
use crate::core::store::{ConsumerRecord, ConsumerState, PendingAck, SequencePair, StreamStore};
use crate::core::subject;
use crate::core::time::Nanos;
use push::{FlowControl, RateLimiter};
use waiting::WaitQueue;

/// What an ack changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Stream sequences newly acknowledged (by an ack or term, or everything at or below an ack
    /// for `ack_policy: all`). An interest or work-queue stream may remove them.
    pub acked: Vec<u64>,
    /// The consumer's persisted state changed.
    pub changed: bool,
}

/// The rest of a `last_per_subject` start: the last message of each subject, then `resume`.
#[derive(Debug, Clone)]
struct SkipList {
    resume: u64,
    seqs: VecDeque<u64>,
}

/// One consumer of one stream.
#[derive(Debug)]
pub struct Consumer {
    stream: String,
    name: String,
    config: ConsumerConfig,
    created: Nanos,
    /// The subject filters (none means every subject).
    filters: Vec<String>,
    /// `$JS.ACK.<stream>.<consumer>.`
    ack_prefix: String,

    /// Next stream sequence to look at.
    sseq: u64,
    /// Next consumer sequence to assign.
    dseq: u64,
    /// Highest delivered sequences, as persisted.
    delivered: SequencePair,
    /// Ack floor: consumer and stream sequences at or below which all is acknowledged.
    adflr: u64,
    asflr: u64,
    /// Delivered and waiting for an ack, by stream sequence.
    pending: BTreeMap<u64, PendingAck>,
    /// Redeliveries so far (deliveries - 1), by stream sequence, as nats-server counts them.
    rdc: BTreeMap<u64, u64>,
    /// Sequences due for redelivery, in order, and the same as a set.
    rdq: VecDeque<u64>,
    rdq_set: BTreeSet<u64>,
    /// `last_per_subject` start still in progress.
    lss: Option<SkipList>,

    /// Messages left to deliver (nats-server's `npc`), counted up to stream sequence `npf`.
    npc: i64,
    npf: u64,
    /// Set when removals made `npc` unreliable; it is recounted from the store.
    npc_stale: bool,

    /// Pull requests waiting for messages.
    waiting: WaitQueue,

    /// Push: the deliver subject has subscribers.
    active: bool,
    /// Push: when interest was last lost.
    inactive_since: Nanos,
    /// Push: next idle heartbeat.
    hb_due: Option<Nanos>,
    fc: FlowControl,
    rate: Option<RateLimiter>,
    rate_due: Option<Nanos>,
    /// Push: the last poll stopped at its burst with more to deliver (see
    /// [`Consumer::poll_burst`]); the next deadline is now.
    more_now: bool,

    /// `replay_policy: original` still replaying stored messages (up to `replay_lseq`).
    replay: bool,
    replay_lseq: Option<u64>,
    /// Stored time of the last message delivered, and when it was delivered.
    replay_lts: Nanos,
    replay_last_at: Nanos,
    replay_due: Option<Nanos>,

    /// Earliest time a pending ack may need redelivery (a lower bound).
    redeliver_at: Option<Nanos>,
    /// Last delivery and last ack times (ConsumerInfo `last_active`).
    ldt: Nanos,
    lat: Nanos,
    /// Last ack of any kind, for the inactivity threshold.
    last_ack_activity: Nanos,
    last_poll: Nanos,
    /// The persisted state changed since [`Consumer::take_changed`].
    changed: bool,
    /// `ack_policy: none`: stream sequences delivered since [`Consumer::take_released`]; a
    /// delivery is their ack, so interest and work-queue streams may let go of them.
    released: Vec<u64>,
    /// Messages that reached max_deliver since [`Consumer::take_max_delivered`]: (stream
    /// sequence, deliveries), at most [`MAX_DELIVERED_NOTES`] (the engine drains them at each
    /// poll, for the advisory).
    max_delivered: Vec<(u64, u64)>,
}

/// Most max_deliver notes a consumer keeps between two polls (more are not reported).
pub const MAX_DELIVERED_NOTES: usize = 1024;

impl Consumer {
    /// Creates a consumer from a validated, named config (see [`ConsumerConfig::validated`] and
    /// [`ConsumerConfig::ensure_name`]) and places it per its deliver policy. Push consumers start
    /// without interest: call [`Consumer::set_push_active`] once the deliver subject has one.
    pub fn create(
        stream: &str,
        config: ConsumerConfig,
        store: &dyn StreamStore,
        now: Nanos,
    ) -> Result<Consumer, ApiError> {
        let mut consumer = Consumer::new(stream, config, now)?;
        let (sseq, lss) = consumer.select_start(store)?;
        consumer.sseq = sseq;
        consumer.lss = lss;
        consumer.dseq = 1;
        consumer.adflr = 0;
        consumer.asflr = sseq.saturating_sub(1);
        consumer.delivered = SequencePair {
            consumer_seq: 0,
            stream_seq: sseq.saturating_sub(1),
        };
        consumer.recount_pending(store);
        if consumer.replay {
            consumer.replay_lseq = Some(store.state().last_seq);
        }
        consumer.changed = true;
        Ok(consumer)
    }

    /// Brings a consumer back from its persisted record, pending acks and redelivery counts intact.
    pub fn restore(stream: &str, record: ConsumerRecord, now: Nanos) -> Result<Consumer, ApiError> {
        let config: ConsumerConfig = serde_json::from_slice(&record.config)
            .map_err(|e| ApiError::with_detail(ErrorKind::InvalidJSON, e))?;
        let mut consumer = Consumer::new(stream, config, now)?;
        let state = record.state;
        consumer.created = record.created;
        consumer.delivered = state.delivered;
        consumer.sseq = state.delivered.stream_seq.saturating_add(1);
        consumer.dseq = state.delivered.consumer_seq.saturating_add(1);
        // A stored floor above what was delivered is corrupt; never trust it past delivered.
        consumer.adflr = state
            .ack_floor
            .consumer_seq
            .min(state.delivered.consumer_seq);
        consumer.asflr = state.ack_floor.stream_seq.min(state.delivered.stream_seq);
        consumer.pending = state.pending;
        consumer
            .pending
            .retain(|seq, _| *seq <= state.delivered.stream_seq);
        consumer.rdc = state.redelivered;
        consumer.npc_stale = true;
        consumer.recompute_redeliver_at();
        Ok(consumer)
    }

    fn new(stream: &str, config: ConsumerConfig, now: Nanos) -> Result<Consumer, ApiError> {
        let name = config
            .effective_name()
            .ok_or_else(|| {
                ApiError::with_detail(ErrorKind::ConsumerCreate, "consumer name required")
            })?
            .to_string();
        let filters: Vec<String> = config.filters().map(str::to_string).collect();
        let max_waiting = usize::try_from(config.max_waiting.max(0)).unwrap_or(usize::MAX);
        let hb = config.idle_heartbeat;
        let push_hb = !config.is_pull() && hb > 0;
        let mut waiting = WaitQueue::new(max_waiting);
        waiting.last = now;
        Ok(Consumer {
            ack_prefix: format!("{}{stream}.{name}.", ack::ACK_PREFIX),
            stream: stream.to_string(),
            name,
            created: now,
            filters,
            sseq: 1,
            dseq: 1,
            delivered: SequencePair::default(),
            adflr: 0,
            asflr: 0,
            pending: BTreeMap::new(),
            rdc: BTreeMap::new(),
            rdq: VecDeque::new(),
            rdq_set: BTreeSet::new(),
            lss: None,
            npc: 0,
            npf: 0,
            npc_stale: false,
            waiting,
            active: false,
            inactive_since: now,
            hb_due: push_hb.then(|| now.saturating_add(hb)),
            fc: FlowControl::new(config.flow_control && !config.is_pull()),
            rate: RateLimiter::new(config.rate_limit_bps, now),
            rate_due: None,
            more_now: false,
            replay: config.replay_policy == ReplayPolicy::Original,
            replay_lseq: None,
            replay_lts: 0,
            replay_last_at: 0,
            replay_due: None,
            redeliver_at: None,
            ldt: 0,
            lat: 0,
            last_ack_activity: 0,
            last_poll: now,
            changed: false,
            released: Vec::new(),
            max_delivered: Vec::new(),
            config,
        })
    }

    /// What must be persisted to resume exactly: config JSON, creation time and state.
    pub fn record(&self) -> ConsumerRecord {
        ConsumerRecord {
            // Serializing plain data to JSON cannot fail.
            config: serde_json::to_vec(&self.config).unwrap_or_default(),
            created: self.created,
            state: ConsumerState {
                delivered: self.delivered,
                ack_floor: SequencePair {
                    consumer_seq: self.adflr,
                    stream_seq: self.asflr,
                },
                pending: self.pending.clone(),
                redelivered: self.rdc.clone(),
            },
        }
    }

    /// After its stream went back to its last sync, which kept the messages up to `last_seq`:
    /// forgets its deliveries of the messages after it (they never left the engine), so it
    /// delivers whatever is stored there next. Its consumer sequence goes back by as many
    /// deliveries when no remaining one is numbered above (else it keeps a gap, as after a
    /// missed message).
    pub(crate) fn forget_after(&mut self, last_seq: u64) {
        // Its record changes only if it delivered past `last_seq`: a record saved again for
        // nothing would be a write the medium that just failed has to take.
        let record_changes = self.delivered.stream_seq > last_seq
            || self.asflr > last_seq
            || self
                .rdc
                .keys()
                .next_back()
                .is_some_and(|seq| *seq > last_seq);
        self.sseq = self.sseq.min(last_seq.saturating_add(1));
        self.asflr = self.asflr.min(last_seq);
        self.rdc.retain(|seq, _| *seq <= last_seq);
        self.rdq.retain(|seq| *seq <= last_seq);
        self.rdq_set.retain(|seq| *seq <= last_seq);
        if self.delivered.stream_seq > last_seq {
            let before = self.pending.len() as u64;
            self.pending.retain(|seq, _| *seq <= last_seq);
            let dropped = before - self.pending.len() as u64;
            self.delivered.stream_seq = last_seq;
            let back = self.delivered.consumer_seq.saturating_sub(dropped);
            let highest_kept = self.pending.values().map(|p| p.consumer_seq).max();
            if highest_kept.unwrap_or(0) <= back && self.adflr <= back {
                self.delivered.consumer_seq = back;
                self.dseq = back.saturating_add(1);
            }
        }
        self.npc_stale = true;
        self.changed |= record_changes;
        self.recompute_redeliver_at();
    }

    /// Goes back to just past its ack floor (nats-server 2.14's `resetStartingSeq(0)`, which a
    /// mirror's or source's durable consumer gets each time the copy asks for it again):
    /// whatever was delivered and not acknowledged, say into a link that went down, is
    /// delivered again, numbered from consumer sequence 1.
    pub fn reset_to_ack_floor(&mut self) {
        let seq = self.asflr.saturating_add(1);
        self.pending.clear();
        self.rdc.clear();
        self.rdq.clear();
        self.rdq_set.clear();
        self.lss = None;
        self.sseq = seq;
        self.dseq = 1;
        self.adflr = 0;
        self.asflr = seq - 1;
        self.delivered = SequencePair {
            consumer_seq: 0,
            stream_seq: seq - 1,
        };
        self.ldt = 0;
        self.lat = 0;
        self.fc.restart();
        self.npc_stale = true;
        self.redeliver_at = None;
        self.changed = true;
    }

    /// The stream sequences an `ack_policy: none` consumer delivered since the last call: each
    /// delivery acknowledged itself (nats-server's `deliverMsg` hands them to the stream's ack
    /// queue on interest and work-queue streams).
    pub fn take_released(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.released)
    }

    /// Whether the persisted state changed since the last [`Consumer::take_changed`] (a flush
    /// clears the flag only once the save went through).
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// The messages that reached max_deliver since the last call: (stream sequence, deliveries).
    pub fn take_max_delivered(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.max_delivered)
    }

    /// True (once) when the persisted state changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stream it reads.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Its config.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// When it was created.
    pub fn created(&self) -> Nanos {
        self.created
    }

    /// Applies an updated (validated) config, if the update is allowed.
    pub fn update(&mut self, new: ConsumerConfig) -> Result<(), ApiError> {
        let new = self.config.check_update(&new)?;
        if !new.is_pull() && new.deliver_subject != self.config.deliver_subject {
            // Another client still listens on the old subject.
            if self.active {
                return Err(ErrorKind::ConsumerNameExist.into());
            }
            self.force_expire_pending();
        }
        let filters: Vec<String> = new.filters().map(str::to_string).collect();
        if filters != self.filters {
            self.filters = filters;
            self.npc_stale = true;
        }
        if new.rate_limit_bps != self.config.rate_limit_bps {
            self.rate = RateLimiter::new(new.rate_limit_bps, self.last_poll);
        }
        self.config = new;
        self.recompute_redeliver_at();
        self.changed = true;
        Ok(())
    }

    /// True when `subject` passes the consumer's filters.
    pub fn filter_matches(&self, subject: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| subject::matches(f, subject))
    }

    /// The shell says whether the push deliver subject has subscribers.
    pub fn set_push_active(&mut self, active: bool, now: Nanos) {
        if self.config.is_pull() || self.active == active {
            return;
        }
        self.active = active;
        if !active {
            self.inactive_since = now;
        }
    }

    /// Keeps only the waiting pull requests whose reply subject still has interest.
    pub fn retain_waiting(&mut self, mut has_interest: impl FnMut(&str) -> bool) {
        self.waiting.queue.retain(|w| has_interest(&w.reply));
    }

    /// The consumer is being deleted: answers every waiting request with `409 Consumer Deleted`.
    pub fn close(&mut self, out: &mut Vec<Outbound>) {
        for wr in self.waiting.queue.drain(..) {
            out.push(pull::status(&wr.reply, 409, "Consumer Deleted"));
        }
    }

    /// True when the consumer has been without interest or activity for its inactive threshold
    /// (ephemerals always have one; durables only if configured), so the caller should delete it.
    pub fn is_inactive(&self, now: Nanos) -> bool {
        if !self.config.is_pull() {
            return self.inactivity_deadline().is_some_and(|d| now >= d);
        }
        // An abandoned request keeps nothing alive (nats-server's `checkWaitingForInterest`).
        if self.any_live_waiting(now) {
            return false;
        }
        self.inactivity_deadline().is_some_and(|d| now >= d)
    }

    /// When the inactive threshold runs out, if nothing happens before.
    fn inactivity_deadline(&self) -> Option<Nanos> {
        let threshold = self.config.inactive_threshold;
        if threshold <= 0 {
            return None;
        }
        if !self.config.is_pull() {
            if self.active {
                return None;
            }
            let since = self.inactive_since.max(self.last_ack_activity);
            return Some(since.saturating_add(threshold));
        }
        // A pull consumer may still be working on what it was given: wait for the last ack wait.
        let last_ack_due = self
            .pending
            .iter()
            .map(|(seq, p)| p.timestamp.saturating_add(self.ack_wait_for(*seq)))
            .max()
            .unwrap_or(i64::MIN);
        Some(
            self.waiting
                .last
                .max(last_ack_due)
                .saturating_add(threshold),
        )
    }

    /// Messages left to deliver, never negative.
    fn num_pending(&self) -> u64 {
        u64::try_from(self.npc).unwrap_or(0)
    }
}
