//! A stream's configuration as JetStream clients send it and nats-server writes it back.
//!
//! Field names, value spellings and which fields are left out when empty follow the Go struct tags
//! of nats-server's `StreamConfig` (`server/stream.go`), so a config round-trips through any NATS
//! client unchanged. Missing fields take Go's zero values; [`StreamConfig::validated`] (in
//! `validate.rs`) turns those into the defaults nats-server applies (-1 limits, file storage, a
//! two-minute duplicate window, the stream name as its subject).
//!
//! Features Contrail does not implement (message TTLs, counters, atomic and batch publish,
//! schedules, async persistence) are still read, so that validation can refuse them by name
//! instead of silently ignoring them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::sourcing::StreamSource;
use crate::core::time::Nanos;

/// How messages leave a stream besides its limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RetentionPolicy {
    /// Messages stay until a limit removes them (`"limits"`).
    #[default]
    Limits,
    /// Messages stay while some consumer has not acknowledged them (`"interest"`).
    Interest,
    /// Each message is removed once one consumer acknowledges it (`"workqueue"`).
    WorkQueue,
}

/// What happens when a limit is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DiscardPolicy {
    /// The oldest messages make room (`"old"`).
    #[default]
    Old,
    /// The new message is refused (`"new"`).
    New,
}

/// Where the stream keeps its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum StorageType {
    /// On disk (`"file"`), the default.
    #[default]
    File,
    /// In memory (`"memory"`).
    Memory,
}

/// Block compression of a file store (accepted and reported; Contrail stores uncompressed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum StoreCompression {
    /// No compression (`"none"`).
    #[default]
    None,
    /// S2 compression (`"s2"`).
    S2,
}

/// When a file store's writes count as durable (nats-server 2.12+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PersistMode {
    /// Acknowledge after the write is flushed (`"default"`, written by omission).
    #[default]
    Default,
    /// Acknowledge before the write is flushed (`"async"`); not supported by Contrail.
    Async,
}

/// Cluster placement hints; kept for compatibility, meaningless on a single node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Cluster the stream should live in.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub cluster: String,
    /// Server tags the placement must match.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub tags: Vec<String>,
    /// Preferred leader (refused by nats-server in stream configs).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub preferred: String,
}

/// Defaults applied to consumers created on this stream when they leave these unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConsumerLimits {
    /// Default `inactive_threshold` (ns) for consumers; 0 = none.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "nullable"
    )]
    pub inactive_threshold: Nanos,
    /// Default `max_ack_pending` for consumers; 0 = none.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "nullable"
    )]
    pub max_ack_pending: i64,
}

/// A stream's configuration, field for field as nats-server's `StreamConfig` (same JSON order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConfig {
    /// Stream name: no `.`, `*`, `>`, whitespace or path separators; at most 255 bytes.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Free text, at most 4 KiB.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub description: String,
    /// Subjects (filters) the stream captures; defaults to the stream name.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub subjects: Vec<String>,
    /// Retention policy.
    #[serde(default, deserialize_with = "nullable")]
    pub retention: RetentionPolicy,
    /// Most consumers allowed; -1 = unlimited.
    #[serde(default, deserialize_with = "nullable")]
    pub max_consumers: i64,
    /// Most messages kept; -1 = unlimited.
    #[serde(default, deserialize_with = "nullable")]
    pub max_msgs: i64,
    /// Most bytes kept (see [`crate::core::store::record_size`]); -1 = unlimited.
    #[serde(default, deserialize_with = "nullable")]
    pub max_bytes: i64,
    /// Oldest message age kept, ns; 0 = unlimited.
    #[serde(default, deserialize_with = "nullable")]
    pub max_age: Nanos,
    /// Most messages kept per subject; -1 = unlimited.
    #[serde(default, deserialize_with = "nullable")]
    pub max_msgs_per_subject: i64,
    /// Largest message (headers + payload) accepted; -1 = unlimited.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i32",
        deserialize_with = "nullable"
    )]
    pub max_msg_size: i32,
    /// Discard policy.
    #[serde(default, deserialize_with = "nullable")]
    pub discard: DiscardPolicy,
    /// Storage type.
    #[serde(default, deserialize_with = "nullable")]
    pub storage: StorageType,
    /// Replica count; a single node only has 1.
    #[serde(default, deserialize_with = "nullable")]
    pub num_replicas: usize,
    /// Publishes get no PubAck.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub no_ack: bool,
    /// Window (ns) in which a repeated `Nats-Msg-Id` is a duplicate.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "nullable"
    )]
    pub duplicate_window: Nanos,
    /// Cluster placement hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The stream is a copy of this origin (see [`crate::core::sourcing`]; the engine follows
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    /// Origins whose messages are added to this stream (the engine follows them).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub sources: Vec<StreamSource>,
    /// Storage compression.
    #[serde(default, deserialize_with = "nullable")]
    pub compression: StoreCompression,
    /// Sequence of the first message of a new stream; 0 = 1.
    #[serde(
        default,
        skip_serializing_if = "is_zero_u64",
        deserialize_with = "nullable"
    )]
    pub first_seq: u64,
    /// Rewrites the subject of each incoming message before anything else (see
    /// [`crate::core::transform`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransformConfig>,
    /// Sends a copy of every stored message (or of its headers) to another subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    /// Serve `$JS.API.DIRECT.GET`.
    #[serde(default, deserialize_with = "nullable")]
    pub allow_direct: bool,
    /// Serve direct gets for the mirrored stream (needs a mirror).
    #[serde(default, deserialize_with = "nullable")]
    pub mirror_direct: bool,
    /// With discard new: refuse a message when its subject is at `max_msgs_per_subject`.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub discard_new_per_subject: bool,
    /// No message gets in or out; cannot be undone.
    #[serde(default, deserialize_with = "nullable")]
    pub sealed: bool,
    /// Messages cannot be deleted by API; cannot be undone.
    #[serde(default, deserialize_with = "nullable")]
    pub deny_delete: bool,
    /// The stream cannot be purged by API; cannot be undone.
    #[serde(default, deserialize_with = "nullable")]
    pub deny_purge: bool,
    /// Honour `Nats-Rollup` headers.
    #[serde(default, deserialize_with = "nullable")]
    pub allow_rollup_hdrs: bool,
    /// Defaults for consumers of this stream.
    #[serde(default, deserialize_with = "nullable")]
    pub consumer_limits: StreamConsumerLimits,
    /// Honour `Nats-TTL` headers (per-message TTLs); cannot be turned off once on.
    #[serde(default, deserialize_with = "nullable")]
    pub allow_msg_ttl: bool,
    /// TTL (ns) of the subject delete markers left when age or a TTL removes a subject's last
    /// message; turns on `allow_msg_ttl` and `allow_rollup_hdrs`.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "nullable"
    )]
    pub subject_delete_marker_ttl: Nanos,
    /// Counter CRDT stream (not supported; refused by validation).
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub allow_msg_counter: bool,
    /// Atomic batch publish (not supported; refused by validation).
    #[serde(
        default,
        rename = "allow_atomic",
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub allow_atomic_publish: bool,
    /// Message schedules (not supported; refused by validation).
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub allow_msg_schedules: bool,
    /// Persistence mode (only the default is supported).
    #[serde(
        default,
        skip_serializing_if = "is_default_persist",
        deserialize_with = "nullable"
    )]
    pub persist_mode: PersistMode,
    /// Fast batch publish (not supported; refused by validation).
    #[serde(
        default,
        rename = "allow_batched",
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub allow_batch_publish: bool,
    /// User metadata, at most 128 KiB of keys and values.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub metadata: BTreeMap<String, String>,
    /// Stream template that created this stream (legacy, written only when set).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub template_owner: String,
}

impl StreamConfig {
    /// A config with a name and subjects and every other field at its zero value (see
    /// [`StreamConfig::validated`] for the defaults those become).
    pub fn new(name: impl Into<String>, subjects: &[&str]) -> Self {
        StreamConfig {
            name: name.into(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// Go's JSON decoder leaves a field at its zero value when the input says `null`; so do we.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}
fn is_default_persist(m: &PersistMode) -> bool {
    *m == PersistMode::Default
}

/// Reads one of a fixed set of JSON strings; `fold_case` matches nats-server's discard policy,
/// the only enum it reads without regard to case.
fn read_choice<'de, D, T: Copy>(
    d: D,
    what: &str,
    choices: &[(&str, T)],
    fold_case: bool,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(d)?;
    choices
        .iter()
        .find(|(name, _)| {
            if fold_case {
                name.eq_ignore_ascii_case(&text)
            } else {
                *name == text
            }
        })
        .map(|(_, v)| *v)
        .ok_or_else(|| serde::de::Error::custom(format!("can not unmarshal {what} {text:?}")))
}

macro_rules! string_enum {
    ($ty:ident, $what:literal, fold_case = $fold:literal, { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            /// The JSON spelling nats-server uses.
            pub fn as_str(self) -> &'static str {
                match self { $( $ty::$variant => $text, )* }
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                read_choice(d, $what, &[ $( ($text, $ty::$variant), )* ], $fold)
            }
        }
    };
}

string_enum!(RetentionPolicy, "retention", fold_case = false, {
    Limits => "limits", Interest => "interest", WorkQueue => "workqueue",
});
string_enum!(DiscardPolicy, "discard policy", fold_case = true, { Old => "old", New => "new" });
string_enum!(StorageType, "storage type", fold_case = false, { File => "file", Memory => "memory" });
string_enum!(StoreCompression, "compression", fold_case = false, { None => "none", S2 => "s2" });

impl PersistMode {
    /// The JSON spelling nats-server uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PersistMode::Default => "default",
            PersistMode::Async => "async",
        }
    }
}

impl Serialize for PersistMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PersistMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // nats-server reads an empty string as the default mode too.
        read_choice(
            d,
            "persist mode",
            &[
                ("default", PersistMode::Default),
                ("", PersistMode::Default),
                ("async", PersistMode::Async),
            ],
            false,
        )
    }
}

/// A subject transform as configs spell it (`SubjectTransformConfig`): source filter and
/// destination template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectTransformConfig {
    /// Messages whose subject matches this filter are rewritten (empty: all).
    #[serde(default, deserialize_with = "nullable")]
    pub src: String,
    /// The destination template.
    #[serde(default, deserialize_with = "nullable")]
    pub dest: String,
}

/// Republish of stored messages (`RePublish`): every stored message whose subject matches `src`
/// is sent to `dest` (transformed) with headers saying where it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RePublish {
    /// Stored subjects to republish (empty: all, written back as `>`).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub src: String,
    /// Where to republish (a transform destination over `src`).
    #[serde(default, deserialize_with = "nullable")]
    pub dest: String,
    /// Send the headers and the payload size only (`Nats-Msg-Size`), no payload.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "nullable"
    )]
    pub headers_only: bool,
}
