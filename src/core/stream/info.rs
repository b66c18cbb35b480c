//! What a stream reports: `PubAck`, `StreamInfo` and its `state`, as nats-server writes them.
//!
//! Times are RFC 3339 strings (Go's zero time when unset), sequences and counts integers, and
//! fields nats-server tags `omitempty` are left out when empty.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use super::config::StreamConfig;
use crate::core::sourcing::StreamSourceInfo;
use crate::core::store::{Seq, StreamState};
use crate::core::time::{rfc3339, Nanos};

/// Most subjects a `StreamInfo` lists at once (`JSMaxSubjectDetails`); more are paged.
pub const MAX_SUBJECT_DETAILS: usize = 100_000;

/// The reply to a publish a stream captured: `{"stream":"S","seq":N}`, plus `"duplicate":true`
/// for a repeated `Nats-Msg-Id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubAck {
    /// The stream that stored the message (shared with the stream: a publish copies no name).
    pub stream: Arc<str>,
    /// Its sequence (the original one for a duplicate).
    pub seq: Seq,
    /// JetStream domain, when the server has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// True when the message was a duplicate and was not stored again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub duplicate: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a `STREAM.INFO` request asks for beyond the totals (`JSApiStreamInfoRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoOptions {
    /// List per-subject message counts for subjects matching this filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects_filter: Option<String>,
    /// List the deleted sequences.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted_details: bool,
    /// Skip this many subjects (sorted) when there are more than [`MAX_SUBJECT_DETAILS`].
    #[serde(default, deserialize_with = "non_negative")]
    pub offset: usize,
}

/// nats-server treats a negative offset as 0.
fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = Option::<i64>::deserialize(d)?.unwrap_or(0);
    Ok(usize::try_from(n).unwrap_or(0))
}

/// A stream's totals as `StreamInfo.state` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStateInfo {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// First stored sequence (`last_seq + 1` when empty).
    pub first_seq: Seq,
    /// Time of the first stored message.
    #[serde(with = "rfc3339")]
    pub first_ts: Nanos,
    /// Last assigned sequence.
    pub last_seq: Seq,
    /// Time of the last message.
    #[serde(with = "rfc3339")]
    pub last_ts: Nanos,
    /// Distinct subjects stored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    /// Messages per subject, only when asked for with `subjects_filter`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subjects: BTreeMap<String, u64>,
    /// Sequences between first and last that hold no message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    /// Those sequences, only when asked for with `deleted_details`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<Seq>,
    /// Consumers on the stream.
    pub consumer_count: usize,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl StreamStateInfo {
    /// The totals of a store, with the consumer count the engine knows.
    pub fn from_state(state: &StreamState, consumer_count: usize) -> Self {
        StreamStateInfo {
            messages: state.msgs,
            bytes: state.bytes,
            first_seq: state.first_seq,
            first_ts: state.first_ts,
            last_seq: state.last_seq,
            last_ts: state.last_ts,
            num_subjects: state.num_subjects,
            subjects: BTreeMap::new(),
            num_deleted: state.num_deleted,
            deleted: Vec::new(),
            consumer_count,
        }
    }
}

/// Cluster details; a single node reports itself as leader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Cluster name, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The server that leads the stream.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub leader: String,
}

/// Paging of `state.subjects` (the `total`, `offset` and `limit` fields of the API reply, present
/// only when some subject matched).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectsPaging {
    /// Subjects matching the filter.
    pub total: usize,
    /// Subjects skipped.
    pub offset: usize,
    /// Most subjects per page ([`MAX_SUBJECT_DETAILS`]).
    pub limit: usize,
}

/// A stream's config and state: the body of `STREAM.INFO`, `STREAM.CREATE` and `STREAM.UPDATE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The stream's (validated) config.
    pub config: StreamConfig,
    /// When the stream was created.
    #[serde(with = "rfc3339")]
    pub created: Nanos,
    /// Its totals.
    pub state: StreamStateInfo,
    /// JetStream domain, set by the engine when the server has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Cluster details, set by the engine (nats-server names itself leader when standalone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// The mirror's progress, for a mirror (set by the engine, which follows the origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    /// Each source's progress (set by the engine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSourceInfo>,
    /// When this info was taken.
    #[serde(with = "rfc3339")]
    pub ts: Nanos,
    /// Paging of `state.subjects`, for the reply's top-level `total`/`offset`/`limit`.
    #[serde(skip)]
    pub subjects_paging: Option<SubjectsPaging>,
}
