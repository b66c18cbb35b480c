//! ConsumerInfo: what `$JS.API.CONSUMER.INFO` and `CONSUMER.CREATE` answer, in nats-server's JSON.

use serde::{Deserialize, Serialize};

use super::{Consumer, ConsumerConfig};
use crate::core::store::StreamStore;
use crate::core::time::{self, Nanos};

/// A consumer and a stream sequence, with when they last moved (`SequenceInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceInfo {
    /// Consumer sequence.
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: u64,
    /// Last delivery (for `delivered`) or ack (for `ack_floor`), if any.
    #[serde(
        default,
        with = "time::rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_active: Option<Nanos>,
}

/// The state of a consumer as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerInfo {
    /// The stream it reads.
    pub stream_name: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::rfc3339")]
    pub created: Nanos,
    /// Its config.
    pub config: ConsumerConfig,
    /// Highest delivered sequences.
    pub delivered: SequenceInfo,
    /// Everything at or below is acknowledged.
    pub ack_floor: SequenceInfo,
    /// Deliveries waiting for their ack.
    pub num_ack_pending: u64,
    /// Messages delivered more than once.
    pub num_redelivered: u64,
    /// Pull requests waiting.
    pub num_waiting: u64,
    /// Messages not yet delivered.
    pub num_pending: u64,
    /// A push consumer's deliver subject has subscribers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub push_bound: bool,
    /// When this was gathered.
    #[serde(with = "time::rfc3339")]
    pub ts: Nanos,
}

impl Consumer {
    /// The consumer's info at `now`.
    pub fn info(&self, store: &dyn StreamStore, now: Nanos) -> ConsumerInfo {
        let active = |t: Nanos| (t != 0).then_some(t);
        // nats-server hides redeliveries when they are disabled (max_deliver 1).
        let num_redelivered = if self.config.max_deliver == 1 {
            0
        } else {
            self.rdc.len() as u64
        };
        ConsumerInfo {
            stream_name: self.stream.clone(),
            name: self.name.clone(),
            created: self.created,
            config: self.config.clone(),
            delivered: SequenceInfo {
                consumer_seq: self.delivered.consumer_seq,
                stream_seq: self.delivered.stream_seq,
                last_active: active(self.ldt),
            },
            ack_floor: SequenceInfo {
                consumer_seq: self.adflr,
                stream_seq: self.asflr,
                last_active: active(self.lat),
            },
            num_ack_pending: self.pending.len() as u64,
            num_redelivered,
            // Expired and abandoned requests are not waiting (nats-server drops them first).
            num_waiting: self.live_waiting(now) as u64,
            num_pending: self.num_pending_now(store),
            push_bound: !self.config.is_pull() && self.active,
            ts: now,
        }
    }
}
