//! A consumer's configuration and its JSON form (validation lives in `validate.rs`).
//!
//! The JSON field names, enum spellings and "omitted when empty" choices follow the Go struct tags
//! of nats-server's `ConsumerConfig`, so a config written here reads the same in any NATS client.
//! Durations are integer nanoseconds; `opt_start_time` is RFC 3339. A JSON `null` in any field
//! means "not set", as it does for Go's decoder.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::core::time::{self, Nanos};

/// Default ack wait for `explicit` and `all` ack policies: 30 s.
pub const DEFAULT_ACK_WAIT: Nanos = 30 * time::SECONDS;
/// Default max ack pending for consumers that ack.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Default max waiting pull requests.
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// Default inactive threshold stamped on ephemerals: 5 s.
pub const DEFAULT_INACTIVE_THRESHOLD: Nanos = 5 * time::SECONDS;
/// Longest description accepted (`JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Largest total of metadata keys and values (`JSMaxMetadataLen`).
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// Longest consumer name (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;

/// Where a new consumer starts reading the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliverPolicy {
    /// From the first message (`"all"`; Go also reads `"undefined"` as this).
    #[default]
    #[serde(rename = "all", alias = "undefined")]
    All,
    /// From the last message (of the filter, if any).
    #[serde(rename = "last")]
    Last,
    /// Only messages stored after the consumer was created.
    #[serde(rename = "new")]
    New,
    /// From `opt_start_seq`.
    #[serde(rename = "by_start_sequence")]
    ByStartSequence,
    /// From the first message stored at or after `opt_start_time`.
    #[serde(rename = "by_start_time")]
    ByStartTime,
    /// The last message of every subject matching the filter, then everything new.
    #[serde(rename = "last_per_subject")]
    LastPerSubject,
}

/// How deliveries are acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckPolicy {
    /// Nothing is acknowledged; a delivery is final.
    #[default]
    #[serde(rename = "none")]
    None,
    /// Acknowledging a message acknowledges every message delivered before it.
    #[serde(rename = "all")]
    All,
    /// Every message is acknowledged on its own.
    #[serde(rename = "explicit")]
    Explicit,
    /// As `All`, but the acks are the answers to flow-control requests, whose
    /// `Nats-Last-Stream` / `Nats-Last-Consumer` headers acknowledge up to there (nats-server
    /// 2.14's durable consumer of a mirror or source of a work-queue or interest stream).
    #[serde(rename = "flow_control")]
    FlowControl,
}

/// How fast stored messages are replayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplayPolicy {
    /// As fast as the consumer can take them.
    #[default]
    #[serde(rename = "instant")]
    Instant,
    /// With the gaps between them as they were stored.
    #[serde(rename = "original")]
    Original,
}

/// A consumer's configuration, as `$JS.API.CONSUMER.CREATE` takes it and ConsumerInfo shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerConfig {
    /// Durable name; a durable consumer survives without interest.
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub durable_name: Option<String>,
    /// Consumer name (the durable name for durables).
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Free text.
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// Where to start.
    #[serde(default, deserialize_with = "nullable")]
    pub deliver_policy: DeliverPolicy,
    /// Start sequence for `by_start_sequence`.
    #[serde(
        default,
        deserialize_with = "opt_nonzero",
        skip_serializing_if = "Option::is_none"
    )]
    pub opt_start_seq: Option<u64>,
    /// Start time for `by_start_time` (RFC 3339 in JSON).
    #[serde(
        default,
        with = "time::rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub opt_start_time: Option<Nanos>,
    /// How deliveries are acknowledged.
    #[serde(default, deserialize_with = "nullable")]
    pub ack_policy: AckPolicy,
    /// How long a delivery waits for its ack before it is redelivered (ns).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub ack_wait: Nanos,
    /// Most deliveries of one message; -1 is unlimited.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_deliver: i64,
    /// Redelivery delays by delivery count (ns); the last one repeats.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub backoff: Vec<Nanos>,
    /// Only messages on subjects matching this filter.
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub filter_subject: Option<String>,
    /// Only messages on subjects matching one of these filters.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filter_subjects: Vec<String>,
    /// Replay speed.
    #[serde(default, deserialize_with = "nullable")]
    pub replay_policy: ReplayPolicy,
    /// Push delivery rate limit in bits per second; 0 is unlimited.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_u64"
    )]
    pub rate_limit_bps: u64,
    /// Ack sampling for advisories, e.g. `"50%"`.
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub sample_freq: Option<String>,
    /// Most pull requests waiting at once.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_waiting: i64,
    /// Most deliveries awaiting their ack before delivery pauses; -1 is unlimited.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_ack_pending: i64,
    /// Push flow control.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub flow_control: bool,
    /// Deliver headers only, with the payload size in `Nats-Msg-Size`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub headers_only: bool,
    /// Largest batch one pull request may ask for; 0 is unlimited.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_batch: i64,
    /// Longest `expires` one pull request may ask for (ns); 0 is unlimited.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_expires: Nanos,
    /// Largest `max_bytes` one pull request may ask for; 0 is unlimited.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub max_bytes: i64,
    /// Push consumers: the subject messages are delivered to.
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub deliver_subject: Option<String>,
    /// Push consumers: the queue group that shares the deliveries.
    #[serde(
        default,
        deserialize_with = "opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub deliver_group: Option<String>,
    /// Push consumers: idle heartbeat interval (ns).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub idle_heartbeat: Nanos,
    /// How long without activity or interest before the consumer is removed (ns).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub inactive_threshold: Nanos,
    /// Replicas (0 = inherit from the stream; a single node has 1).
    #[serde(default, deserialize_with = "nullable")]
    pub num_replicas: i64,
    /// Keep the consumer's state in memory whatever the stream's storage.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub mem_storage: bool,
    /// User metadata.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub metadata: BTreeMap<String, String>,
    /// A consumer a mirror or source creates on its origin (nats-server's `direct`): an
    /// ephemeral push consumer outside the work-queue rules, listed nowhere, never saved.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub direct: bool,
    /// A mirror's or source's consumer asked for in nats-server 2.14's form: on a work-queue
    /// or interest stream it becomes a durable acknowledged by flow control (see
    /// `Engine::create_consumer`); like `direct`, it is outside the work-queue rules and the
    /// consumer limits.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub sourcing: bool,
}

impl ConsumerConfig {
    /// True for a pull consumer (no deliver subject).
    pub fn is_pull(&self) -> bool {
        self.deliver_subject.as_deref().is_none_or(str::is_empty)
    }

    /// True for a durable consumer.
    pub fn is_durable(&self) -> bool {
        self.durable_name.as_deref().is_some_and(|d| !d.is_empty())
    }

    /// The consumer's name: the durable name, else `name`.
    pub fn effective_name(&self) -> Option<&str> {
        self.durable_name
            .as_deref()
            .filter(|d| !d.is_empty())
            .or(self.name.as_deref().filter(|n| !n.is_empty()))
    }

    /// The subject filters: `filter_subject` if set, else `filter_subjects` (none means all).
    pub fn filters(&self) -> impl Iterator<Item = &str> {
        let single = self.filter_subject.as_deref().filter(|f| !f.is_empty());
        let many = if single.is_some() {
            &[][..]
        } else {
            &self.filter_subjects[..]
        };
        single.into_iter().chain(many.iter().map(String::as_str))
    }

    /// A mirror's or source's consumer (`direct` or `sourcing`): outside the work-queue
    /// exclusivity rules and the consumer limits (nats-server's `numLimitableConsumers`).
    pub fn is_copy(&self) -> bool {
        self.direct || self.sourcing
    }

    /// Names an unnamed ephemeral consumer, from `random` (the core has no randomness of its own).
    pub fn ensure_name(&mut self, random: u64) {
        if self.effective_name().is_none() {
            self.name = Some(ephemeral_name(random));
        }
    }
}

/// An 8-character name for an ephemeral consumer, derived from caller-supplied randomness.
pub fn ephemeral_name(random: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // A fixed mixing step so consecutive inputs give unrelated-looking names.
    let mut x = random.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (random >> 29);
    let mut name = String::with_capacity(8);
    for _ in 0..8 {
        name.push(char::from(ALPHABET[(x % 62) as usize]));
        x /= 62;
        x ^= x.rotate_left(17).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    name
}

/// `isValidAssetName`: non-empty, no whitespace, no `.`, `*`, `>`, `\` or `/`.
pub fn valid_asset_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| {
            matches!(
                c,
                ' ' | '\t' | '\r' | '\n' | '\x0c' | '.' | '*' | '>' | '\\' | '/'
            )
        })
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// Reads a value where JSON `null` means the default, as Go's decoder leaves the field unset.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reads an optional string where `""` and `null` both mean unset (Go's `omitempty` zero value).
fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// Reads an optional number where `0` and `null` both mean unset.
fn opt_nonzero<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.filter(|n| *n != 0))
}
