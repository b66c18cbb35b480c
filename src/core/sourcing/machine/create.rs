//! Setting up the origin consumer: scheduling (2 s apart, backoff, jitter), where it starts,
//! the request, and what the answer means (`setupMirrorConsumer`, `trySetupSourceConsumer`).

use bytes::Bytes;
use serde::Deserialize;

use crate::core::error::{ApiError, ErrorKind};
use crate::core::time::{Nanos, MILLIS};

use super::super::events::{Action, Role};
use super::super::hash::random_token;
use super::super::request::{create_request, deliver_subject, RequestForm, RequestParams, StartAt};
use super::{retry_backoff, Phase, Sourcing, CREATE_TIMEOUT, RETRY_THRESHOLD};

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
    #[serde(default)]
    ack_floor: Option<Delivered>,
}

#[derive(Debug, Default, Deserialize)]
struct ResponseConfig {
    #[serde(default)]
    deliver_subject: String,
    /// 2.14+ echoes `sourcing: true`; an older origin drops the field it does not know.
    #[serde(default)]
    sourcing: bool,
    /// `flow_control` when a 2.14 origin made the consumer a durable (work-queue and interest
    /// origins).
    #[serde(default)]
    ack_policy: String,
}

#[derive(Debug, Default, Deserialize)]
struct Delivered {
    #[serde(default)]
    consumer_seq: u64,
    #[serde(default)]
    stream_seq: u64,
}

impl Sourcing {
    /// Drops the current consumer's subscriptions; its remaining messages are ignored, and so
    /// is what arrived before its create's answer.
    pub(super) fn cancel(&mut self) {
        self.early.clear();
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
    pub(super) fn retry(&mut self, now: Nanos) {
        self.cancel();
        if self.role == Role::Source {
            self.next_start = self.sseq + 1;
        }
        self.schedule(now);
    }

    /// Schedules a create (`setupSourceConsumer`): no sooner than 2 s after the last one, plus
    /// the failure backoff, plus 100-200 ms of jitter. A mirror's first create goes at the next
    /// timer, as nats-server's `setupMirrorConsumer` sends it at once while no request was
    /// made yet (the jitter is its retries'); a mirror catching up waited 100-200 ms for
    /// nothing, a tenth of a 100,000-message catch-up in the browser benchmark.
    pub(super) fn schedule(&mut self, now: Nanos) {
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
        // Drawn either way: the seed's later draws (subject tokens) stay where they were.
        let mut jitter = (self.rng.next_u64() % 100) as Nanos * MILLIS + 100 * MILLIS;
        if self.role == Role::Mirror && self.last_request.is_none() {
            jitter = 0;
        }
        self.phase = Phase::Waiting {
            at: now + delay + jitter,
        };
    }

    pub(super) fn start_at(&self) -> StartAt {
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

    pub(super) fn send_create(&mut self, now: Nanos, form: RequestForm) {
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

    pub(super) fn on_response(&mut self, now: Nanos, subject: &str, payload: &[u8]) {
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
            // An origin that does not suffix sourcing consumers (as 2.14 does) still holds the
            // fixed name from before (this stream restarted, or a consumer outlived its link):
            // not ours to update, so later creates use unique names, as for an older origin.
            let name_taken = err.is(ErrorKind::ConsumerCreate)
                || err.is(ErrorKind::ConsumerNameExist)
                || err.is(ErrorKind::ConsumerAlreadyExists);
            // An origin that gave us a durable of that name before refuses it while the
            // deliver subject of our previous consumer still has a listener there (a link it
            // has not yet seen go): ask again later, in the same form, as 2.14 does; the old
            // form would leave the durable holding the work for ever.
            let taken_for_now = name_taken && self.durable_origin;
            if form == RequestForm::Sourcing && (older_origin || name_taken) && !taken_for_now {
                // The refused request made no consumer: nothing that came can be its.
                self.early.clear();
                self.legacy_origin = true;
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
        // An origin that took the 2.14 request without knowing it (2.9, 2.10) made a consumer
        // of exactly that fixed name; asking for it again with another deliver subject while it
        // lives would be refused as an update (10012), so later creates use unique names.
        if form == RequestForm::Sourcing && !config.sourcing {
            self.legacy_origin = true;
        }
        self.durable_origin = form == RequestForm::Sourcing && config.ack_policy == "flow_control";
        // A new consumer has delivered nothing. One that has is a consumer of that fixed name
        // from a run before a restart, handed back (2.9 updates the deliver subject of an idle
        // push consumer) with that run's progress: following it would skip what it delivered
        // then. It is left to end by inactivity; a consumer with a unique name and a new
        // deliver subject replaces it. A 2.14 durable is ours to resume: it went back to its
        // ack floor, and what it delivered since (before this answer) waits among the early
        // messages.
        let reused = response
            .delivered
            .as_ref()
            .is_some_and(|d| d.consumer_seq > 0);
        if form == RequestForm::Sourcing && reused && !self.durable_origin {
            self.legacy_origin = true;
            self.cancel();
            self.send_create(now, RequestForm::Legacy);
            return;
        }
        // Where the consumer starts: a durable resumes just past its ack floor (its
        // `delivered` may already count deliveries made before this answer).
        let start_after = if self.durable_origin {
            response.ack_floor.as_ref()
        } else {
            response.delivered.as_ref()
        };
        let delivered = start_after.map_or(0, |d| d.stream_seq);
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
        self.handle_early(now);
    }
}
