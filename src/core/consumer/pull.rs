//! Pull requests as they travel: the `CONSUMER.MSG.NEXT` body and the status messages a request
//! is answered with (404, 408, 409, 100). The queue of waiting requests is in `waiting.rs`.
//!
//! A request body is a JSON `JSApiConsumerGetNextRequest`, a bare batch number (`"5"`), or empty
//! (one message).

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
