//! Pull requests: the `CONSUMER.MSG.NEXT` body, the queue of requests waiting for messages, and
//! the status messages a request is answered with (404, 408, 409, 100).
//!
//! A request body is a JSON `JSApiConsumerGetNextRequest`, a bare batch number (`"5"`), or empty
//! (one message). Requests are served round robin: a request that still wants more goes to the
//! back of the queue after each message, as nats-server's wait queue does.

use std::collections::VecDeque;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::core::headers::{NATS_PENDING_BYTES, NATS_PENDING_MESSAGES};
use crate::core::message::Outbound;
use crate::core::time::Nanos;

/// A pull request (`JSApiConsumerGetNextRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    /// How long the request waits (ns); 0 waits until served.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub expires: Nanos,
    /// Messages wanted. 0 (a JSON request without `batch`) still gets one, as in nats-server.
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub batch: usize,
    /// Most bytes wanted in all; 0 is unlimited.
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub max_bytes: usize,
    /// Answer at once when nothing is available.
    #[serde(skip_serializing_if = "is_false")]
    pub no_wait: bool,
    /// Heartbeat interval while the request waits (ns).
    #[serde(rename = "idle_heartbeat", skip_serializing_if = "is_zero_i64")]
    pub idle_heartbeat: Nanos,
}

/// Why a pull request body was refused (answered `400 Bad Request - <this>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullRequestError {
    /// The JSON body did not parse.
    #[error("{0}")]
    Json(String),
    /// `idle_heartbeat` is more than half of `expires`.
    #[error("heartbeat value too large")]
    HeartbeatTooLarge,
}

/// The wire form; Go's `int` fields take negative numbers, which we then clamp.
#[derive(Deserialize)]
struct WireRequest {
    #[serde(default)]
    expires: Option<i64>,
    #[serde(default)]
    batch: Option<i64>,
    #[serde(default)]
    max_bytes: Option<i64>,
    #[serde(default)]
    no_wait: Option<bool>,
    #[serde(default)]
    idle_heartbeat: Option<i64>,
}

impl PullRequest {
    /// A request for `batch` messages.
    pub fn batch(batch: usize) -> Self {
        PullRequest {
            batch,
            ..Default::default()
        }
    }

    /// Reads a request body the way nats-server's `nextReqFromMsg` does.
    pub fn parse(body: &[u8]) -> Result<PullRequest, PullRequestError> {
        let body = body.trim_ascii();
        if body.first() == Some(&b'{') {
            let wire: WireRequest =
                serde_json::from_slice(body).map_err(|e| PullRequestError::Json(e.to_string()))?;
            let req = PullRequest {
                batch: clamp_usize(wire.batch.unwrap_or(0)),
                max_bytes: clamp_usize(wire.max_bytes.unwrap_or(0)),
                expires: wire.expires.unwrap_or(0),
                no_wait: wire.no_wait.unwrap_or(false),
                idle_heartbeat: wire.idle_heartbeat.unwrap_or(0),
            };
            if req.idle_heartbeat > 0 && req.idle_heartbeat.saturating_mul(2) > req.expires {
                return Err(PullRequestError::HeartbeatTooLarge);
            }
            return Ok(req);
        }
        // A bare number is a batch size; anything else asks for one message.
        let batch = std::str::from_utf8(body)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .map_or(1, clamp_usize);
        Ok(PullRequest::batch(batch))
    }
}

fn clamp_usize(v: i64) -> usize {
    usize::try_from(v.max(0)).unwrap_or(usize::MAX)
}

/// A request waiting for messages.
#[derive(Debug, Clone)]
pub(crate) struct WaitingRequest {
    /// Where messages and statuses go.
    pub reply: String,
    /// Messages still wanted (may reach 0 or below on the last one, as in nats-server).
    pub n: i64,
    /// Messages delivered so far.
    pub d: u64,
    /// Bytes still allowed; 0 is unlimited.
    pub b: i64,
    /// When it expires, if ever.
    pub expires: Option<Nanos>,
    /// When it was received.
    pub received: Nanos,
    /// Heartbeat interval, 0 for none.
    pub hb: Nanos,
    /// Next heartbeat due.
    pub hbt: Option<Nanos>,
    /// Answer 404 rather than wait once nothing is left.
    pub no_wait: bool,
}

impl WaitingRequest {
    /// The request as received at `now`.
    pub fn new(req: &PullRequest, reply: &str, now: Nanos) -> Self {
        WaitingRequest {
            reply: reply.to_string(),
            n: i64::try_from(req.batch).unwrap_or(i64::MAX),
            d: 0,
            b: i64::try_from(req.max_bytes).unwrap_or(i64::MAX),
            expires: (req.expires != 0).then(|| now.saturating_add(req.expires)),
            received: now,
            hb: req.idle_heartbeat,
            hbt: (req.idle_heartbeat > 0).then(|| now.saturating_add(req.idle_heartbeat)),
            no_wait: req.no_wait,
        }
    }

    /// True once `now` has reached its expiry.
    pub fn expired(&self, now: Nanos) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

/// The queue of waiting requests, bounded by `max_waiting`.
#[derive(Debug, Clone, Default)]
pub(crate) struct WaitQueue {
    pub queue: VecDeque<WaitingRequest>,
    pub max: usize,
    /// Last pull activity: a request received or answered, a delivery, an ack.
    pub last: Nanos,
}

impl WaitQueue {
    pub fn new(max: usize) -> Self {
        WaitQueue {
            queue: VecDeque::new(),
            max,
            last: 0,
        }
    }

    pub fn is_full(&self) -> bool {
        self.queue.len() >= self.max
    }

    /// Adds a request, or gives it back when the queue is full.
    pub fn add(&mut self, wr: WaitingRequest) -> Result<(), WaitingRequest> {
        if self.is_full() {
            return Err(wr);
        }
        self.last = wr.received;
        self.queue.push_back(wr);
        Ok(())
    }

    /// Counts a delivery at `now` against the head request; it moves to the back (its heartbeat
    /// restarted) if it wants more, or leaves the queue when done.
    pub fn pop(&mut self, now: Nanos) -> Option<Served> {
        let mut wr = self.queue.pop_front()?;
        wr.d += 1;
        wr.n -= 1;
        let served = Served {
            reply: wr.reply.clone(),
            n: wr.n,
            b: wr.b,
        };
        if wr.n > 0 {
            if wr.hb > 0 {
                wr.hbt = Some(now.saturating_add(wr.hb));
            }
            self.queue.push_back(wr);
        }
        Some(served)
    }

    /// Messages wanted by all waiting requests.
    pub fn batch_pending(&self) -> i64 {
        self.queue.iter().map(|w| w.n).sum()
    }
}

/// What a delivery to a waiting request leaves behind.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub reply: String,
    pub n: i64,
    pub b: i64,
}

/// A status message with no headers besides the status line: `NATS/1.0 404 No Messages`.
pub(crate) fn status(to: &str, code: u16, description: &str) -> Outbound {
    let block = format!("NATS/1.0 {code} {description}\r\n\r\n");
    Outbound::to_subject(to, Some(Bytes::from(block)), Bytes::new())
}

/// A status message carrying what the request still wanted (`Nats-Pending-Messages/Bytes`).
pub(crate) fn status_pending(to: &str, code: u16, description: &str, n: i64, b: i64) -> Outbound {
    let block = format!(
        "NATS/1.0 {code} {description}\r\n{NATS_PENDING_MESSAGES}: {n}\r\n{NATS_PENDING_BYTES}: {b}\r\n\r\n"
    );
    Outbound::to_subject(to, Some(Bytes::from(block)), Bytes::new())
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}
