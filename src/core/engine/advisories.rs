//! JetStream advisories: the engine tells local subscribers what changed, on the subjects and in
//! the JSON nats-server uses (`server/jetstream_events.go`), so tools written for nats-server
//! (and the dashboard) watch streams and consumers instead of polling.
//!
//! - `$JS.EVENT.ADVISORY.STREAM.{CREATED,UPDATED,DELETED}.<stream>`:
//!   `io.nats.jetstream.advisory.v1.stream_action` with `action` `create` / `modify` / `delete`;
//! - `$JS.EVENT.ADVISORY.CONSUMER.{CREATED,DELETED}.<stream>.<consumer>`:
//!   `io.nats.jetstream.advisory.v1.consumer_action`;
//! - `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.<stream>.<consumer>`:
//!   `io.nats.jetstream.advisory.v1.terminated` (an `+TERM` ack);
//! - `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`:
//!   `io.nats.jetstream.advisory.v1.max_deliver` (a message delivered `max_deliver` times).
//!
//! Like nats-server, an advisory nobody listens to costs only the interest check: its JSON is
//! built only when some local subscription covers its subject. The server's shell answers that
//! with its interest oracle (the router); a shell without one (the browser) reports the filters
//! its subscribers use with [`Engine::set_event_interest`]. Advisories leave with the reply of
//! the request that caused them (the same durability rule), through the ordinary outbound
//! queue. Every advisory carries `type`, `id` (22 base62 characters, like a NUID), `timestamp`
//! (RFC 3339, the engine's latest `now`) and `domain` when the engine has one.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Engine;
use crate::core::message::Outbound;
use crate::core::rand::Rng;
use crate::core::subject;
use crate::core::time::format_rfc3339;

/// Prefix of every advisory subject.
pub const ADVISORY_PREFIX: &str = "$JS.EVENT.ADVISORY.";

const TYPE_STREAM_ACTION: &str = "io.nats.jetstream.advisory.v1.stream_action";
const TYPE_CONSUMER_ACTION: &str = "io.nats.jetstream.advisory.v1.consumer_action";
const TYPE_TERMINATED: &str = "io.nats.jetstream.advisory.v1.terminated";
const TYPE_MAX_DELIVER: &str = "io.nats.jetstream.advisory.v1.max_deliver";

/// Length of an advisory id (a NUID's length).
const ID_LEN: usize = 22;

/// Who listens to advisories (when the shell has no oracle) and the generator of their ids.
pub(crate) struct Advisories {
    /// Filters local subscribers use, with how many subscriptions use each.
    filters: BTreeMap<String, usize>,
    /// Advisory ids; separate from the engine's generator, so consumer names stay the same
    /// whether or not anyone listens.
    ids: Rng,
}

impl Advisories {
    pub(crate) fn new(seed: u64) -> Advisories {
        Advisories {
            filters: BTreeMap::new(),
            ids: Rng::new(seed ^ 0x5ad7_15e5_ad71_5e50),
        }
    }
}

/// What happened to a stream or a consumer (nats-server's `ActionAdvisoryType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Created.
    Create,
    /// Its config changed.
    Modify,
    /// Deleted.
    Delete,
}

impl Action {
    /// The subject token: `CREATED`, `UPDATED`, `DELETED`.
    fn token(self) -> &'static str {
        match self {
            Action::Create => "CREATED",
            Action::Modify => "UPDATED",
            Action::Delete => "DELETED",
        }
    }
}

/// The fields every advisory starts with (nats-server's `TypedEvent`), plus its domain.
#[derive(Serialize)]
struct Typed<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    #[serde(flatten)]
    body: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

#[derive(Serialize)]
struct StreamAction<'a> {
    stream: &'a str,
    action: Action,
}

#[derive(Serialize)]
struct ConsumerAction<'a> {
    stream: &'a str,
    consumer: &'a str,
    action: Action,
}

/// A message a consumer gave up on: terminated by its client, or delivered `max_deliver` times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryAdvisory {
    /// `+TERM` (nats-server's `JSConsumerDeliveryTerminatedAdvisory`).
    Terminated {
        consumer_seq: u64,
        stream_seq: u64,
        deliveries: u64,
        reason: String,
    },
    /// Delivered `max_deliver` times (`JSConsumerDeliveryExceededAdvisory`).
    MaxDeliveries { stream_seq: u64, deliveries: u64 },
}

#[derive(Serialize)]
struct Terminated<'a> {
    stream: &'a str,
    consumer: &'a str,
    consumer_seq: u64,
    stream_seq: u64,
    deliveries: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
}

#[derive(Serialize)]
struct MaxDeliveries<'a> {
    stream: &'a str,
    consumer: &'a str,
    stream_seq: u64,
    deliveries: u64,
}

impl Engine {
    /// Tells the engine that a local subscription on `filter` started (`active`) or ended, for a
    /// shell without an interest oracle: advisories are built only for subjects some reported
    /// filter covers. A filter that covers no advisory subject (`orders.>`) is ignored; wide
    /// ones (`>`, `$JS.*.>`) count.
    pub fn set_event_interest(&mut self, filter: &str, active: bool) {
        if !subject::overlaps(filter, "$JS.EVENT.ADVISORY.>") {
            return;
        }
        let filters = &mut self.advisories.filters;
        if active {
            *filters.entry(filter.to_string()).or_default() += 1;
        } else if let Some(count) = filters.get_mut(filter) {
            *count -= 1;
            if *count == 0 {
                filters.remove(filter);
            }
        }
    }

    /// Whether some local subscriber would receive `subject` (nats-server's `HasInterest`).
    fn listens(&self, subject: &str) -> bool {
        self.interest.oracle_says(subject).unwrap_or(false)
            || self
                .advisories
                .filters
                .keys()
                .any(|filter| subject::matches(filter, subject))
    }

    /// Publishes `$JS.EVENT.ADVISORY.STREAM.<action>.<stream>` if anyone listens.
    pub(crate) fn advise_stream(&mut self, stream: &str, action: Action) {
        let subject = format!("{ADVISORY_PREFIX}STREAM.{}.{stream}", action.token());
        if self.listens(&subject) {
            let body = StreamAction { stream, action };
            self.publish_advisory(subject, TYPE_STREAM_ACTION, body);
        }
    }

    /// Publishes `$JS.EVENT.ADVISORY.CONSUMER.<action>.<stream>.<consumer>` if anyone listens.
    pub(crate) fn advise_consumer(&mut self, stream: &str, consumer: &str, action: Action) {
        let subject = format!(
            "{ADVISORY_PREFIX}CONSUMER.{}.{stream}.{consumer}",
            action.token()
        );
        if self.listens(&subject) {
            let body = ConsumerAction {
                stream,
                consumer,
                action,
            };
            self.publish_advisory(subject, TYPE_CONSUMER_ACTION, body);
        }
    }

    /// Publishes a consumer's terminated or max-deliveries advisory if anyone listens.
    pub(crate) fn advise_delivery(&mut self, stream: &str, consumer: &str, what: DeliveryAdvisory) {
        match what {
            DeliveryAdvisory::Terminated {
                consumer_seq,
                stream_seq,
                deliveries,
                reason,
            } => {
                let subject =
                    format!("{ADVISORY_PREFIX}CONSUMER.MSG_TERMINATED.{stream}.{consumer}");
                if self.listens(&subject) {
                    let body = Terminated {
                        stream,
                        consumer,
                        consumer_seq,
                        stream_seq,
                        deliveries,
                        reason: &reason,
                    };
                    self.publish_advisory(subject, TYPE_TERMINATED, body);
                }
            }
            DeliveryAdvisory::MaxDeliveries {
                stream_seq,
                deliveries,
            } => {
                let subject =
                    format!("{ADVISORY_PREFIX}CONSUMER.MAX_DELIVERIES.{stream}.{consumer}");
                if self.listens(&subject) {
                    let body = MaxDeliveries {
                        stream,
                        consumer,
                        stream_seq,
                        deliveries,
                    };
                    self.publish_advisory(subject, TYPE_MAX_DELIVER, body);
                }
            }
        }
    }

    /// Builds the advisory and queues it like a reply of the request being handled.
    fn publish_advisory(&mut self, subject: String, kind: &'static str, body: impl Serialize) {
        let id = self.advisories.ids.token(ID_LEN);
        let domain = self.config.domain.clone();
        let advisory = Typed {
            kind,
            id,
            timestamp: format_rfc3339(self.clock),
            body,
            domain: domain.as_deref().filter(|d| !d.is_empty()),
        };
        // Plain structs of strings and numbers: serializing cannot fail.
        let Ok(json) = serde_json::to_vec(&advisory) else {
            return;
        };
        self.send_reply(Outbound::to_subject(subject, None, json));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::front::JetStream;
    use crate::core::message::Message;
    use crate::core::time::SECONDS;

    const NOW: i64 = 1_700_000_000 * SECONDS;

    /// Creates stream `name` through the API and returns what left the engine: (subject, JSON).
    fn create(front: &mut JetStream, name: &str) -> Vec<(String, serde_json::Value)> {
        let request = Message::new(
            format!("$JS.API.STREAM.CREATE.{name}"),
            format!(r#"{{"subjects":["{}.>"]}}"#, name.to_lowercase()),
        )
        .with_reply("_INBOX.r");
        front.handle(request, NOW);
        let engine = front.engine_mut();
        engine.flush().result().expect("flush");
        std::iter::from_fn(|| engine.poll_outbound())
            .filter(|o| o.to.starts_with(ADVISORY_PREFIX))
            .map(|o| {
                let json = serde_json::from_slice(&o.msg.payload).expect("JSON");
                (o.to, json)
            })
            .collect()
    }

    #[test]
    fn advisories_leave_only_while_someone_listens() {
        let mut front = JetStream::in_memory(7);
        assert!(create(&mut front, "A").is_empty(), "nobody listens");

        front
            .engine_mut()
            .set_event_interest("$JS.EVENT.ADVISORY.STREAM.*.>", true);
        let sent = create(&mut front, "B");
        assert_eq!(sent.len(), 1);
        let (subject, json) = &sent[0];
        assert_eq!(subject, "$JS.EVENT.ADVISORY.STREAM.CREATED.B");
        assert_eq!(json["type"], TYPE_STREAM_ACTION);
        assert_eq!(json["stream"], "B");
        assert_eq!(json["action"], "create");
        assert_eq!(json["timestamp"], format_rfc3339(NOW));
        assert_eq!(json["id"].as_str().map(str::len), Some(ID_LEN));

        front
            .engine_mut()
            .set_event_interest("$JS.EVENT.ADVISORY.STREAM.*.>", false);
        assert!(create(&mut front, "C").is_empty(), "the listener left");
    }

    #[test]
    fn an_oracle_answers_for_the_server() {
        let mut front = JetStream::in_memory(7);
        front
            .engine_mut()
            .set_interest_oracle(Box::new(|subject| subject.ends_with(".YES")));
        assert!(create(&mut front, "NO").is_empty());
        assert_eq!(create(&mut front, "YES").len(), 1);
    }

    #[test]
    fn unrelated_filters_are_not_listeners() {
        let mut front = JetStream::in_memory(7);
        front.engine_mut().set_event_interest("orders.>", true);
        assert!(create(&mut front, "A").is_empty());
        front.engine_mut().set_event_interest(">", true);
        assert_eq!(create(&mut front, "B").len(), 1);
    }
}
