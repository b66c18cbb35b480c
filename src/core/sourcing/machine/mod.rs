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
//! 30 s for an answer; what arrives on the new deliver subject meanwhile waits, bounded, and is
//! handled right after a successful answer: see [`early`]) → `Active` (deliveries flow; 10 s of
//! silence, a delivery-sequence gap or a heartbeat naming another delivery sequence sends it
//! back to `Waiting`). A link going down drops the consumer at once; coming back up schedules
//! a new one.

mod create;
pub mod early;
mod receive;

use std::collections::VecDeque;

use bytes::Bytes;

use crate::core::error::ApiError;
use crate::core::time::{Nanos, SECONDS};
use crate::core::transform::SubjectTransform;

use super::config::{StreamSource, StreamSourceInfo};
use super::events::{Action, Event, LocalState, Role, SourcingSetup};
use super::hash::{source_consumer_hash, stable_consumer_hash};
use super::request::{RequestForm, HEALTH_CHECK};
use crate::core::rand::Rng;
use early::EarlyDeliveries;

/// Shortest time between two consumer creates (`sourceConsumerRetryThreshold`).
pub const RETRY_THRESHOLD: Nanos = 2 * SECONDS;
/// Longest backoff after failed creates (`retryMaximum`).
pub const RETRY_MAXIMUM: Nanos = 120 * SECONDS;
/// How long a create waits for its answer (`srcConsumerWaitTime`).
pub const CREATE_TIMEOUT: Nanos = 30 * SECONDS;
/// Most flow-control replies waiting for the store to sync.
pub const MAX_HELD_REPLIES: usize = 64;

/// The backoff after `fails` failed creates: 10 s per failure, at most 2 minutes.
pub fn retry_backoff(fails: u32) -> Nanos {
    (10 * SECONDS)
        .saturating_mul(i64::from(fails))
        .min(RETRY_MAXIMUM)
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

/// A reply to the origin that waits until the stores before it are durable.
#[derive(Debug)]
struct HeldReply {
    /// The last store ticket issued when the request came.
    after: u64,
    subject: String,
    headers: Vec<(String, String)>,
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
    rng: Rng,
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
    /// Between [`Sourcing::start`] and [`Sourcing::stop`].
    running: bool,
    /// The origin predates sourcing consumers (2.14): creates use the old form from now on.
    legacy_origin: bool,
    /// The origin made our consumer a durable acknowledged by flow control (2.14, work-queue
    /// or interest origin): its name stays ours across creates.
    durable_origin: bool,
    error: Option<ApiError>,
    local: LocalState,
    /// Source: the origin sequence the next consumer starts at (0: from the config).
    next_start: u64,
    next_ticket: u64,
    durable_ticket: u64,
    held_replies: VecDeque<HeldReply>,
    /// What came on the deliver subject while the create was out.
    early: EarlyDeliveries,
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
            rng: Rng::new(setup.seed),
            phase: Phase::Idle,
            link_up: true,
            sseq: 0,
            dseq: 0,
            lag: 0,
            last_contact: None,
            last_request: None,
            fails: 0,
            running: false,
            legacy_origin: false,
            durable_origin: false,
            error: None,
            local: LocalState::default(),
            next_start: 0,
            next_ticket: 0,
            durable_ticket: 0,
            held_replies: VecDeque::new(),
            early: EarlyDeliveries::default(),
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
        self.running = true;
        self.schedule(now);
    }

    /// Stops following: the subscriptions go; the origin's consumer ends by its inactivity (as
    /// nats-server leaves it). Nothing happens after this until the next [`Sourcing::start`].
    pub fn stop(&mut self) {
        self.cancel();
        self.running = false;
        self.held_replies.clear();
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
            Phase::Waiting { at } if now >= *at => {
                let form = if self.legacy_origin {
                    RequestForm::Legacy
                } else {
                    RequestForm::Sourcing
                };
                self.send_create(now, form);
            }
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
        while let Some(held) = self.held_replies.front() {
            if held.after > self.durable_ticket {
                break;
            }
            if let Some(HeldReply {
                subject, headers, ..
            }) = self.held_replies.pop_front()
            {
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

    /// The deliver subject of the consumer deliveries flow from, once its create was answered.
    pub fn active_deliver_subject(&self) -> Option<&str> {
        match &self.phase {
            Phase::Active { deliver, .. } => Some(deliver),
            _ => None,
        }
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
                if self.running && matches!(self.phase, Phase::Idle) {
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
}
