//! The consumer create request a mirror or source sends to its origin, byte for byte what
//! nats-server sends (`setupMirrorConsumer`, `trySetupSourceConsumer`).
//!
//! The first attempt is the 2.14 form: a fixed consumer name (`JS_MIRROR_<hash>` /
//! `JS_SRC_<hash>`), `"sourcing":true` and the header `Nats-Required-Api-Level: 4`. An origin that
//! answers 10185 (API level) or 10025 (invalid JSON) predates it; the retry is the old form: a
//! unique name (`JS_MIRROR_<hash>_<random>`), no `sourcing`, no header. So does an origin that
//! answers that the fixed name is taken (10012, 10013, 10148: one that does not suffix sourcing
//! consumers, as 2.14 does, still holds the consumer of a run before a restart).

use serde::Serialize;

use crate::core::time::{format_rfc3339, Nanos, SECONDS};

use super::config::{StreamSource, JS_API_PREFIX};

/// Idle heartbeat the origin consumer sends (`sourceHealthHB`).
pub const HEARTBEAT: Nanos = SECONDS;
/// Silence after which the consumer is recreated; also its inactive threshold.
pub const HEALTH_CHECK: Nanos = 10 * SECONDS;
/// Ack wait of the consumer (22 hours; it acks nothing anyway).
pub const ACK_WAIT: Nanos = 22 * 3600 * SECONDS;
/// Header asking the origin for an API level.
pub const REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";

/// Where the origin consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Everything the origin has (`deliver_policy: all`).
    All,
    /// From this origin sequence (`by_start_sequence`).
    Sequence(u64),
    /// From this origin time (`by_start_time`).
    Time(Nanos),
}

/// Which of the two request forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestForm {
    /// 2.14+: fixed name, `sourcing`, API level header.
    Sourcing,
    /// Older origins: a unique name, no `sourcing`, no header.
    Legacy,
}

/// Everything that varies between two create requests of one mirror or source.
#[derive(Debug, Clone)]
pub struct RequestParams<'a> {
    /// The mirror or source config.
    pub source: &'a StreamSource,
    /// Mirror (`M`, `JS_MIRROR_`) or source (`S`, `JS_SRC_`).
    pub is_mirror: bool,
    /// The consumer name hash (see [`super::hash`]).
    pub hash: &'a str,
    /// Request form.
    pub form: RequestForm,
    /// Random 8 characters for a legacy name.
    pub legacy_suffix: &'a str,
    /// Deliver subject the consumer is asked to send to.
    pub deliver_subject: &'a str,
    /// Start position.
    pub start: StartAt,
    /// Metadata nats-server adds (`_nats.mirror.stream` …).
    pub metadata: Vec<(String, String)>,
}

/// A ready request: subject, optional header block, JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// `<api>.CONSUMER.CREATE.<stream>[.<name>.<filter>]`.
    pub subject: String,
    /// `Nats-Required-Api-Level: 4` for the sourcing form.
    pub headers: Option<Vec<(String, String)>>,
    /// The JSON body.
    pub body: String,
    /// The consumer name asked for.
    pub consumer_name: String,
}

#[derive(Serialize)]
struct Body<'a> {
    stream_name: &'a str,
    config: Config<'a>,
    action: &'static str,
}

/// The consumer config, fields in the order and with the omissions of nats-server's JSON.
#[derive(Serialize)]
struct Config<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    deliver_policy: &'static str,
    #[serde(skip_serializing_if = "is_zero")]
    opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    opt_start_time: Option<String>,
    ack_policy: &'static str,
    ack_wait: Nanos,
    max_deliver: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    filter_subject: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    filter_subjects: Vec<&'a str>,
    replay_policy: &'static str,
    flow_control: bool,
    deliver_subject: &'a str,
    idle_heartbeat: Nanos,
    inactive_threshold: Nanos,
    num_replicas: u32,
    direct: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sourcing: bool,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    metadata: serde_json::Map<String, serde_json::Value>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Builds the request. A single filter (or a single transform's source) goes in the subject
/// with the name (the extended create); several go in `filter_subjects` on the plain subject.
pub fn create_request(p: &RequestParams<'_>) -> CreateRequest {
    let stem = if p.is_mirror { "JS_MIRROR" } else { "JS_SRC" };
    let consumer_name = match p.form {
        RequestForm::Sourcing => format!("{stem}_{}", p.hash),
        RequestForm::Legacy => format!("{stem}_{}_{}", p.hash, p.legacy_suffix),
    };
    let filters: Vec<&str> = if p.source.subject_transforms.is_empty() {
        Some(p.source.filter_subject.as_str())
            .filter(|f| !f.is_empty())
            .into_iter()
            .collect()
    } else {
        p.source
            .subject_transforms
            .iter()
            .map(|t| t.src.as_str())
            .collect()
    };
    let (filter_subject, filter_subjects) = match filters.as_slice() {
        [one] => (*one, Vec::new()),
        _ => ("", filters.clone()),
    };
    let (deliver_policy, opt_start_seq, opt_start_time) = match p.start {
        StartAt::All => ("all", 0, None),
        StartAt::Sequence(seq) => ("by_start_sequence", seq, None),
        StartAt::Time(ts) => ("by_start_time", 0, Some(format_rfc3339(ts))),
    };
    let config = Config {
        name: &consumer_name,
        deliver_policy,
        opt_start_seq,
        opt_start_time,
        ack_policy: "none",
        ack_wait: ACK_WAIT,
        max_deliver: 1,
        filter_subject,
        filter_subjects,
        replay_policy: "instant",
        flow_control: true,
        deliver_subject: p.deliver_subject,
        idle_heartbeat: HEARTBEAT,
        inactive_threshold: HEALTH_CHECK,
        num_replicas: 0,
        direct: true,
        sourcing: p.form == RequestForm::Sourcing,
        metadata: p
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    };
    let body = Body {
        stream_name: &p.source.name,
        config,
        action: "",
    };
    let body = serde_json::to_string(&body).unwrap_or_default();
    let subject = if filter_subject.is_empty() {
        format!("{JS_API_PREFIX}.CONSUMER.CREATE.{}", p.source.name)
    } else {
        format!(
            "{JS_API_PREFIX}.CONSUMER.CREATE.{}.{consumer_name}.{filter_subject}",
            p.source.name
        )
    };
    let subject = subject
        .replacen(JS_API_PREFIX, p.source.api_prefix(), 1)
        .replace("..", ".");
    let headers = (p.form == RequestForm::Sourcing)
        .then(|| vec![(REQUIRED_API_LEVEL.to_string(), "4".to_string())]);
    CreateRequest {
        subject,
        headers,
        body,
        consumer_name,
    }
}

/// The deliver subject for a new consumer: `$JS.M.<token>` / `$JS.S.<token>`, or under the
/// external deliver prefix (`<deliver>.M.<token>`).
pub fn deliver_subject(source: &StreamSource, is_mirror: bool, token: &str) -> String {
    let kind = if is_mirror { "M" } else { "S" };
    match &source.external {
        Some(ext) if !ext.deliver.is_empty() => {
            format!("{}.{kind}.{token}", ext.deliver).replace("..", ".")
        }
        _ => format!("$JS.{kind}.{token}"),
    }
}
