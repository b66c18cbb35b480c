//! One mirror or one source as a sans-IO state machine: it decides everything nats-server
//! decides about following an origin stream (`processInboundMirrorMsg`,
//! `processInboundSourceMsg`, `setupMirrorConsumer`, `trySetupSourceConsumer`), and the engine
//! carries out what it asks.
//!
//! The engine feeds it [`Event`]s (create responses, deliveries and control messages that arrive
//! on its subjects, a link going down or up) with the time, asks [`Sourcing::poll_timeout`] when
//! to call [`Sourcing::handle_timeout`], drains [`Sourcing::poll_action`] after each call, and
//! reports back what became durable ([`Sourcing::durable`]) or failed to store
//! ([`Sourcing::store_failed`]). Randomness (subject tokens, jitter) comes from a seed.
//!
//! Life of a consumer: `Waiting` (a create is scheduled: at least 2 s after the previous one,
//! plus a backoff after failures and 100-200 ms of jitter) → `Requesting` (the create is out;
//! 30 s for an answer) → `Active` (deliveries flow; 10 s of silence, a delivery-sequence gap or a
//! heartbeat naming another delivery sequence sends it back to `Waiting`). A link going down
//! drops the consumer at once; coming back up schedules a new one.

use std::collections::VecDeque;

use bytes::Bytes;
use serde::Deserialize;

use crate::core::error::{ApiError, ErrorKind};
use crate::core::headers::Headers;
use crate::core::time::{Nanos, MILLIS, SECONDS};
use crate::core::transform::SubjectTransform;

use super::config::{StreamSource, StreamSourceInfo};
use super::hash::{random_token, source_consumer_hash, stable_consumer_hash, SplitMix};
use super::request::{
    create_request, deliver_subject, RequestForm, RequestParams, StartAt, HEALTH_CHECK,
};
use super::wire::{
    header_u64, is_control, parse_ack_reply, source_header, CONSUMER_STALLED, LAST_CONSUMER_SEQ,
    LAST_STREAM_SEQ, STREAM_SOURCE,
};

/// Shortest time between two consumer creates (`sourceConsumerRetryThreshold`).
pub const RETRY_THRESHOLD: Nanos = 2 * SECONDS;
/// Longest backoff after failed creates (`retryMaximum`).
pub const RETRY_MAXIMUM: Nanos = 120 * SECONDS;
/// How long a create waits for its answer (`srcConsumerWaitTime`).
pub const CREATE_TIMEOUT: Nanos = 30 * SECONDS;

/// The backoff after `fails` failed creates: 10 s per failure, at most 2 minutes.
pub fn retry_backoff(fails: u32) -> Nanos {
    (10 * SECONDS)
        .saturating_mul(i64::from(fails))
        .min(RETRY_MAXIMUM)
}

/// Mirror or source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The stream is a copy of the origin, at the origin's sequences.
    Mirror,
    /// The origin's messages are added to the stream, with `Nats-Stream-Source`.
    Source,
}

/// Who follows which origin, and from where.
#[derive(Debug, Clone)]
pub struct SourcingSetup {
    /// Mirror or source.
    pub role: Role,
    /// The validated config (domain resolved, see [`super::config::check_sourcing`]).
    pub source: StreamSource,
    /// The local stream's name.
    pub stream: String,
    /// The local account's name.
    pub account: String,
    /// The local server's JetStream domain ("" when none).
    pub domain: String,
    /// For a source: the stream sources the same origin name more than once.
    pub origin_sourced_twice: bool,
    /// Seed of the machine's randomness.
    pub seed: u64,
}

/// What the local stream holds (its `FastState`), for where a mirror starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalState {
    /// Messages stored.
    pub msgs: u64,
    /// First sequence; 0 when the stream never held anything.
    pub first_seq: u64,
    /// Last sequence.
    pub last_seq: u64,
    /// Time of the last message (0 when none).
    pub last_time: Nanos,
}

/// Something arriving for this mirror or source.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A message on a reply inbox this machine subscribed (a consumer create response).
    Response {
        /// The inbox it arrived on.
        subject: &'a str,
        /// The JSON body.
        payload: &'a [u8],
    },
    /// A message on a deliver subject this machine subscribed: a delivery, a flow-control
    /// request or an idle heartbeat.
    Delivery {
        /// The subscription (deliver subject) it arrived through.
        via: &'a str,
        /// The message's subject: the origin's subject for a delivery (a push consumer keeps
        /// it), the deliver subject for control messages.
        subject: &'a str,
        /// Its reply subject (ack reply, or the flow-control reply).
        reply: &'a str,
        /// Its header block (may be empty).
        headers: &'a [u8],
        /// Its payload.
        payload: &'a [u8],
    },
    /// The link to the origin's server went down (never sent for a local origin).
    LinkDown,
    /// The link is back.
    LinkUp,
}

/// Something the engine must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start delivering messages on this subject to [`Sourcing::handle`].
    Subscribe(String),
    /// Stop delivering this subject.
    Unsubscribe(String),
    /// Send a message toward the origin (a consumer create, a flow-control reply).
    Send {
        /// Subject.
        subject: String,
        /// Reply subject, when an answer is awaited.
        reply: Option<String>,
        /// Headers (name, value), if any.
        headers: Vec<(String, String)>,
        /// Payload.
        payload: Bytes,
    },
    /// Mirror: store this message at exactly this sequence and time (the origin's).
    StoreMirrored {
        /// Sequence (the stream's last must be `seq - 1`).
        seq: u64,
        /// Origin timestamp.
        time: Nanos,
        /// Subject (after the mirror's transforms).
        subject: String,
        /// Header block, `Nats-Expected-*` and `Nats-Batch-*` removed.
        headers: Bytes,
        /// Payload.
        payload: Bytes,
        /// Pass to [`Sourcing::durable`] once this is synced.
        ticket: u64,
    },
    /// Mirror: the origin has nothing at `first..=last` any more; advance past them.
    SkipMirrored {
        /// First skipped sequence.
        first: u64,
        /// Last skipped sequence.
        last: u64,
        /// Ticket, as for stores.
        ticket: u64,
    },
    /// Mirror with an empty store: the origin starts later; the next sequence is `next_seq`.
    ResetMirrorFirst {
        /// The stream's new first sequence.
        next_seq: u64,
        /// Ticket, as for stores.
        ticket: u64,
    },
    /// Source: store this message as a new message of the stream.
    StoreSourced {
        /// Subject (after the source's transforms).
        subject: String,
        /// Header block with `Nats-Stream-Source`.
        headers: Bytes,
        /// Payload.
        payload: Bytes,
        /// Ticket, as for stores.
        ticket: u64,
        /// The origin sequence (for the engine's records and errors).
        origin_seq: u64,
    },
}

#[derive(Debug, Clone)]
enum Phase {
    /// Not following (not started, stopped, or the link is down).
    Idle,
    /// A create is due at this time.
    Waiting { at: Nanos },
    /// A create is out.
    Requesting {
        inbox: String,
        deliver: String,
        form: RequestForm,
        deadline: Nanos,
    },
    /// Deliveries flow from this consumer.
    Active { consumer: String, deliver: String },
}

/// A consumer create response, the fields a mirror or source reads.
#[derive(Debug, Default, Deserialize)]
struct CreateResponse {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    config: Option<ResponseConfig>,
    #[serde(default)]
    delivered: Option<Delivered>,
}

#[derive(Debug, Default, Deserialize)]
struct ResponseConfig {
    #[serde(default)]
    deliver_subject: String,
}

#[derive(Debug, Default, Deserialize)]
struct Delivered {
    #[serde(default)]
    stream_seq: u64,
}

/// A mirror or a source, following its origin.
#[derive(Debug)]
pub struct Sourcing {
    role: Role,
    source: StreamSource,
    index_name: String,
    hash: String,
    metadata: Vec<(String, String)>,
    transforms: Vec<SubjectTransform>,
    rng: SplitMix,
    phase: Phase,
    link_up: bool,
    /// Last origin sequence handled (a mirror's is also its local last sequence).
    sseq: u64,
    /// Last delivery sequence handled of the current consumer.
    dseq: u64,
    lag: u64,
    last_contact: Option<Nanos>,
    last_request: Option<Nanos>,
    fails: u32,
    error: Option<ApiError>,
    local: LocalState,
    /// Source: the origin sequence the next consumer starts at (0: from the config).
    next_start: u64,
    next_ticket: u64,
    durable_ticket: u64,
    held_replies: VecDeque<(u64, String, Vec<(String, String)>)>,
    actions: VecDeque<Action>,
}

impl Sourcing {
    /// A machine for one mirror or source; nothing happens until [`Sourcing::start`].
    pub fn new(setup: SourcingSetup) -> Self {
        let stable = stable_consumer_hash(&setup.stream, &setup.account, &setup.domain);
        let index_name = setup.source.index_name();
        let (hash, key) = match setup.role {
            Role::Mirror => (stable, "mirror"),
            Role::Source => (
                source_consumer_hash(&stable, &index_name, setup.origin_sourced_twice),
                "src",
            ),
        };
        let mut metadata = vec![
            (format!("_nats.{key}.stream"), setup.stream.clone()),
            (format!("_nats.{key}.acc"), setup.account.clone()),
        ];
        if !setup.domain.is_empty() {
            metadata.push((format!("_nats.{key}.domain"), setup.domain.clone()));
        }
        // The config was validated, so every transform builds; one that does not is skipped,
        // as nats-server skips a nil transform.
        let transforms = setup
            .source
            .subject_transforms
            .iter()
            .filter_map(|t| SubjectTransform::new(&t.src, &t.dest).ok().flatten())
            .collect();
        Sourcing {
            role: setup.role,
            source: setup.source,
            index_name,
            hash,
            metadata,
            transforms,
            rng: SplitMix::new(setup.seed),
            phase: Phase::Idle,
            link_up: true,
            sseq: 0,
            dseq: 0,
            lag: 0,
            last_contact: None,
            last_request: None,
            fails: 0,
            error: None,
            local: LocalState::default(),
            next_start: 0,
            next_ticket: 0,
            durable_ticket: 0,
            held_replies: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    /// Starts following. `local` is the stream's state; for a source, `resume` is the last
    /// origin sequence it stored (see [`super::wire::resume_points`]), `None` when none.
    pub fn start(&mut self, now: Nanos, local: LocalState, resume: Option<u64>) {
        self.local = local;
        match self.role {
            Role::Mirror => self.sseq = local.last_seq,
            Role::Source => {
                self.sseq = resume.unwrap_or(0);
                self.next_start = self.sseq + 1;
            }
        }
        self.dseq = 0;
        self.schedule(now);
    }

    /// Stops following: the subscriptions go; the origin's consumer ends by its inactivity.
    pub fn stop(&mut self) {
        self.cancel();
        self.phase = Phase::Idle;
    }

    /// The stream's state changed outside this machine (a purge of a mirror, for instance).
    pub fn set_local_state(&mut self, local: LocalState) {
        self.local = local;
    }

    /// The next thing for the engine to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Sourcing::handle_timeout`] wants to be called next.
    pub fn poll_timeout(&self) -> Option<Nanos> {
        match &self.phase {
            Phase::Idle => None,
            Phase::Waiting { at } => Some(*at),
            Phase::Requesting { deadline, .. } => Some(*deadline),
            Phase::Active { .. } => self.last_contact.map(|t| t + HEALTH_CHECK + 1),
        }
    }

    /// Timers: a scheduled create, a create without answer, a silent consumer.
    pub fn handle_timeout(&mut self, now: Nanos) {
        match &self.phase {
            Phase::Waiting { at } if now >= *at => self.send_create(now, RequestForm::Sourcing),
            Phase::Requesting { deadline, .. } if now >= *deadline => {
                self.fails += 1;
                self.retry(now);
            }
            Phase::Active { .. } => {
                let silent = self.last_contact.is_none_or(|t| now - t > HEALTH_CHECK);
                if silent {
                    self.retry(now);
                }
            }
            _ => {}
        }
    }

    /// Everything the stream has synced, up to this ticket, is durable: flow-control replies
    /// waiting for it go out.
    pub fn durable(&mut self, ticket: u64) {
        self.durable_ticket = self.durable_ticket.max(ticket);
        while let Some((t, _, _)) = self.held_replies.front() {
            if *t > self.durable_ticket {
                break;
            }
            if let Some((_, subject, headers)) = self.held_replies.pop_front() {
                self.actions.push_back(Action::Send {
                    subject,
                    reply: None,
                    headers,
                    payload: Bytes::new(),
                });
            }
        }
    }

    /// The last store this machine asked for failed (`origin_seq`: the origin sequence of that
    /// message). `local` is the stream's state now; the consumer is recreated from what is
    /// really stored (mirror) or at the message that failed (source).
    pub fn store_failed(&mut self, now: Nanos, local: LocalState, origin_seq: u64) {
        self.actions.retain(|a| {
            !matches!(
                a,
                Action::StoreMirrored { .. }
                    | Action::StoreSourced { .. }
                    | Action::SkipMirrored { .. }
            )
        });
        self.local = local;
        self.sseq = match self.role {
            Role::Mirror => local.last_seq,
            // Everything before it was handled; the new consumer starts at it.
            Role::Source => origin_seq.saturating_sub(1),
        };
        self.retry(now);
    }

    /// What `StreamInfo` shows for this mirror or source.
    pub fn info(&self, now: Nanos) -> StreamSourceInfo {
        StreamSourceInfo {
            name: self.source.name.clone(),
            external: self.source.external.clone(),
            lag: self.lag,
            active: self.last_contact.map_or(-1, |t| now - t),
            error: self.error.clone(),
            filter_subject: self.source.filter_subject.clone(),
            subject_transforms: self.source.subject_transforms.clone(),
        }
    }

    /// The source's index name (`<name>[:<hash>] <filters> <dests>`).
    pub fn index_name(&self) -> &str {
        &self.index_name
    }

    /// The last origin sequence handled.
    pub fn last_origin_seq(&self) -> u64 {
        self.sseq
    }

    /// Handles one event.
    pub fn handle(&mut self, now: Nanos, event: Event<'_>) {
        match event {
            Event::LinkDown => {
                self.link_up = false;
                self.cancel();
                self.phase = Phase::Idle;
            }
            Event::LinkUp => {
                self.link_up = true;
                if matches!(self.phase, Phase::Idle) {
                    self.fails = 0;
                    self.schedule(now);
                }
            }
            Event::Response { subject, payload } => self.on_response(now, subject, payload),
            Event::Delivery {
                via,
                subject,
                reply,
                headers,
                payload,
            } => self.on_delivery(now, via, subject, reply, headers, payload),
        }
    }

    /// Drops the current consumer's subscriptions; its remaining messages are ignored.
    fn cancel(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Requesting { inbox, deliver, .. } => {
                self.actions.push_back(Action::Unsubscribe(inbox));
                self.actions.push_back(Action::Unsubscribe(deliver));
            }
            Phase::Active { deliver, .. } => {
                self.actions.push_back(Action::Unsubscribe(deliver));
            }
            Phase::Idle | Phase::Waiting { .. } => {}
        }
    }

    /// Drops the consumer and schedules a new one from the last handled sequence + 1.
    fn retry(&mut self, now: Nanos) {
        self.cancel();
        if self.role == Role::Source {
            self.next_start = self.sseq + 1;
        }
        self.schedule(now);
    }

    /// Schedules a create (`setupSourceConsumer`): no sooner than 2 s after the last one, plus
    /// the failure backoff, plus 100-200 ms of jitter.
    fn schedule(&mut self, now: Nanos) {
        if !self.link_up {
            self.phase = Phase::Idle;
            return;
        }
        let mut delay = 0;
        if let Some(last) = self.last_request {
            delay = (RETRY_THRESHOLD - (now - last)).max(0);
            if self.fails > 0 {
                delay += retry_backoff(self.fails);
            }
        }
        let jitter = (self.rng.next_u64() % 100) as Nanos * MILLIS + 100 * MILLIS;
        self.phase = Phase::Waiting {
            at: now + delay + jitter,
        };
    }

    fn start_at(&self) -> StartAt {
        match self.role {
            Role::Mirror => {
                if self.local.msgs == 0 && self.local.first_seq == 0 {
                    if self.source.opt_start_seq > 0 {
                        StartAt::Sequence(self.source.opt_start_seq)
                    } else if let Some(t) = self.source.opt_start_time {
                        StartAt::Time(t)
                    } else {
                        StartAt::All
                    }
                } else {
                    StartAt::Sequence(self.local.last_seq + 1)
                }
            }
            Role::Source => {
                if self.next_start > 1 {
                    StartAt::Sequence(self.next_start)
                } else if self.source.opt_start_seq > 0 {
                    StartAt::Sequence(self.source.opt_start_seq)
                } else if let Some(t) = self.source.opt_start_time {
                    // Never before what the stream already holds.
                    if self.local.last_time != 0 && t < self.local.last_time {
                        StartAt::Time(self.local.last_time)
                    } else {
                        StartAt::Time(t)
                    }
                } else if self.local.first_seq > 1 && self.local.last_time != 0 {
                    StartAt::Time(self.local.last_time)
                } else {
                    StartAt::All
                }
            }
        }
    }

    fn send_create(&mut self, now: Nanos, form: RequestForm) {
        let deliver = match &self.phase {
            Phase::Requesting { deliver, .. } => deliver.clone(),
            _ => {
                let token = random_token(self.rng.next_u64());
                deliver_subject(&self.source, self.role == Role::Mirror, &token)
            }
        };
        let suffix = random_token(self.rng.next_u64());
        let inbox = format!("$JSC.R.{}", random_token(self.rng.next_u64()));
        let request = create_request(&RequestParams {
            source: &self.source,
            is_mirror: self.role == Role::Mirror,
            hash: &self.hash,
            form,
            legacy_suffix: &suffix,
            deliver_subject: &deliver,
            start: self.start_at(),
            metadata: self.metadata.clone(),
        });
        // A fallback keeps the deliver subject and replaces only the inbox.
        if let Phase::Requesting { inbox: old, .. } = &self.phase {
            self.actions.push_back(Action::Unsubscribe(old.clone()));
        } else {
            self.actions.push_back(Action::Subscribe(deliver.clone()));
        }
        self.actions.push_back(Action::Subscribe(inbox.clone()));
        self.actions.push_back(Action::Send {
            subject: request.subject,
            reply: Some(inbox.clone()),
            headers: request.headers.unwrap_or_default(),
            payload: Bytes::from(request.body),
        });
        self.last_request = Some(now);
        self.phase = Phase::Requesting {
            inbox,
            deliver,
            form,
            deadline: now + CREATE_TIMEOUT,
        };
    }

    fn on_response(&mut self, now: Nanos, subject: &str, payload: &[u8]) {
        let Phase::Requesting {
            inbox,
            deliver,
            form,
            ..
        } = &self.phase
        else {
            return;
        };
        if inbox != subject {
            return;
        }
        let (form, deliver) = (*form, deliver.clone());
        let response: CreateResponse = match serde_json::from_slice(payload) {
            Ok(r) => r,
            Err(e) => {
                self.error = Some(ApiError::with_detail(ErrorKind::InvalidJSON, e));
                self.fails += 1;
                self.retry(now);
                return;
            }
        };
        if let Some(err) = response.error {
            let older_origin =
                err.is(ErrorKind::RequiredApiLevel) || err.is(ErrorKind::InvalidJSON);
            if form == RequestForm::Sourcing && older_origin {
                self.send_create(now, RequestForm::Legacy);
                return;
            }
            self.error = Some(err);
            self.fails += 1;
            self.retry(now);
            return;
        }
        let (Some(name), Some(config)) = (response.name, response.config) else {
            let kind = match self.role {
                Role::Mirror => ErrorKind::MirrorConsumerSetupFailed,
                Role::Source => ErrorKind::SourceConsumerSetupFailed,
            };
            self.error = Some(ApiError::with_detail(
                kind,
                "invalid consumer create response",
            ));
            self.fails += 1;
            self.retry(now);
            return;
        };
        let delivered = response.delivered.map_or(0, |d| d.stream_seq);
        let inbox = inbox.clone();
        self.actions.push_back(Action::Unsubscribe(inbox));
        // The consumer sends where its config says; nats-server subscribes to that.
        if !config.deliver_subject.is_empty() && config.deliver_subject != deliver {
            self.actions.push_back(Action::Unsubscribe(deliver.clone()));
            self.actions
                .push_back(Action::Subscribe(config.deliver_subject.clone()));
        }
        let deliver = if config.deliver_subject.is_empty() {
            deliver
        } else {
            config.deliver_subject
        };
        self.error = None;
        self.fails = 0;
        match self.role {
            Role::Mirror => {
                if self.local.last_seq < delivered {
                    let ticket = self.next_ticket();
                    if self.local.msgs == 0 {
                        self.actions.push_back(Action::ResetMirrorFirst {
                            next_seq: delivered + 1,
                            ticket,
                        });
                        self.local.first_seq = delivered + 1;
                    } else {
                        self.actions.push_back(Action::SkipMirrored {
                            first: self.local.last_seq + 1,
                            last: delivered,
                            ticket,
                        });
                    }
                    self.local.last_seq = delivered;
                }
                self.sseq = delivered.max(self.local.last_seq);
            }
            Role::Source => self.sseq = self.sseq.max(delivered),
        }
        self.dseq = 0;
        self.last_contact = Some(now);
        self.phase = Phase::Active {
            consumer: name,
            deliver,
        };
    }

    fn next_ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// Holds a reply to the origin until everything stored so far is durable.
    fn reply_when_durable(&mut self, subject: String, headers: Vec<(String, String)>) {
        self.held_replies
            .push_back((self.next_ticket, subject, headers));
        self.durable(self.durable_ticket);
    }

    fn on_delivery(
        &mut self,
        now: Nanos,
        via: &str,
        origin_subject: &str,
        reply: &str,
        headers: &[u8],
        payload: &[u8],
    ) {
        let deliver = match &self.phase {
            Phase::Requesting { deliver, .. } | Phase::Active { deliver, .. } => deliver,
            _ => return,
        };
        if deliver != via {
            return;
        }
        // Anything on our deliver subject is contact, as nats-server stamps it on receipt.
        self.last_contact = Some(now);
        let Phase::Active { consumer, .. } = &self.phase else {
            return;
        };
        if is_control(headers, payload) {
            self.on_control(now, reply, headers);
            return;
        }
        let Some(ack) = parse_ack_reply(reply) else {
            return;
        };
        if ack.consumer != consumer || ack.delivered > 1 {
            return;
        }
        let (sseq, dseq) = (ack.stream_seq, ack.consumer_seq);
        if sseq <= self.sseq {
            // Already have it; only the delivery count moves.
            if dseq == self.dseq + 1 {
                self.dseq += 1;
            }
            return;
        }
        match self.role {
            Role::Mirror => {
                if sseq == self.sseq + 1 {
                    self.dseq = dseq;
                } else if dseq == self.dseq + 1 {
                    // The origin removed what lies between: skip it here too.
                    let ticket = self.next_ticket();
                    self.actions.push_back(Action::SkipMirrored {
                        first: self.sseq + 1,
                        last: sseq - 1,
                        ticket,
                    });
                    self.dseq += 1;
                } else {
                    self.retry(now);
                    return;
                }
            }
            Role::Source => {
                if dseq == self.dseq + 1 {
                    self.dseq += 1;
                } else if dseq > self.dseq {
                    self.retry(now);
                    return;
                } else {
                    return;
                }
            }
        }
        self.sseq = sseq;
        self.lag = ack.pending.saturating_sub(1);
        let subject = self.transformed(origin_subject);
        let ticket = self.next_ticket();
        match self.role {
            Role::Mirror => {
                self.local.msgs += 1;
                if self.local.first_seq == 0 {
                    self.local.first_seq = sseq;
                }
                self.local.last_seq = sseq;
                self.local.last_time = ack.timestamp;
                self.actions.push_back(Action::StoreMirrored {
                    seq: sseq,
                    time: ack.timestamp,
                    subject,
                    headers: clean_headers(headers, None),
                    payload: Bytes::copy_from_slice(payload),
                    ticket,
                });
            }
            Role::Source => {
                let mark = source_header(&self.index_name, sseq, origin_subject);
                self.actions.push_back(Action::StoreSourced {
                    subject,
                    headers: clean_headers(headers, Some(&mark)),
                    payload: Bytes::copy_from_slice(payload),
                    ticket,
                    origin_seq: sseq,
                });
            }
        }
    }

    fn on_control(&mut self, now: Nanos, reply: &str, headers: &[u8]) {
        if !reply.is_empty() {
            // Flow control: answered once what came before it is durable.
            let answer = vec![
                (LAST_CONSUMER_SEQ.to_string(), self.dseq.to_string()),
                (LAST_STREAM_SEQ.to_string(), self.sseq.to_string()),
            ];
            self.reply_when_durable(reply.to_string(), answer);
            return;
        }
        let last_dseq = header_u64(headers, LAST_CONSUMER_SEQ);
        if last_dseq > 0 && last_dseq != self.dseq {
            // We missed deliveries, or this is no longer the consumer we set up.
            self.retry(now);
            return;
        }
        if let Some(fc) = crate::core::headers::find_header(headers, CONSUMER_STALLED) {
            self.reply_when_durable(fc.to_string(), Vec::new());
        }
    }

    fn transformed(&self, subject: &str) -> String {
        let mut no_random = || 0u32;
        self.transforms
            .iter()
            .find_map(|t| t.apply(subject, &mut no_random))
            .unwrap_or_else(|| subject.to_string())
    }
}

/// The header block to store: without `Nats-Expected-*` and `Nats-Batch-*` (they were checked
/// on the origin), and for a source without the origin's own `Nats-Stream-Source` and with ours.
/// A block that does not parse is stored as it came (mirror) or replaced by ours (source).
fn clean_headers(block: &[u8], mark: Option<&str>) -> Bytes {
    let parsed = if block.is_empty() {
        Some(Headers::new())
    } else {
        Headers::parse(block).ok()
    };
    let Some(parsed) = parsed else {
        return match mark {
            None => Bytes::copy_from_slice(block),
            Some(m) => {
                let mut h = Headers::new();
                h.insert(STREAM_SOURCE, m);
                h.encode()
            }
        };
    };
    let keep = |name: &str| {
        let lower = name.to_ascii_lowercase();
        !lower.starts_with("nats-expected-")
            && !lower.starts_with("nats-batch-")
            && !(mark.is_some() && lower == STREAM_SOURCE.to_ascii_lowercase())
    };
    let mut out = Headers::new();
    for (name, value) in parsed.iter().filter(|(n, _)| keep(n)) {
        out.append(name, value);
    }
    if let Some(m) = mark {
        out.append(STREAM_SOURCE, m);
    }
    if out.is_empty() {
        Bytes::new()
    } else {
        out.encode()
    }
}
