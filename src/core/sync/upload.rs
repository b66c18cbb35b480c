//! One upload: a local stream's messages published, in order, to a remote stream.
//!
//! Exactly once is built from three parts:
//! - every message is published as a JetStream publish request with `Nats-Msg-Id:
//!   <origin>:<stream>:<seq>` (and the same in `Contrail-Origin-Seq`, with its predecessor in
//!   `Contrail-Origin-Prev`, see [`super::origin`]), so a repeat is answered as a duplicate
//!   instead of stored again (by nats-server within the stream's duplicate window, by Contrail
//!   at any time);
//! - the cursor (every local sequence at or below it is acknowledged by the server) advances
//!   only on a PubAck, duplicate or not, and only over a run with no publish still out;
//! - after anything goes wrong (an error reply, a timeout, the link down) the uploader forgets
//!   what it had out and starts again after the cursor, so no message is ever skipped. What was
//!   stored but not yet acknowledged comes back as a duplicate.
//!
//! Up to `window` publishes are out at once (they leave together, many per WebSocket frame),
//! because awaiting each PubAck caps an upload at one round trip per message. An error reply
//! (10023 no space, 10060 wrong stream, 503 no responders) becomes the upload's last error and
//! it retries after a backoff that doubles up to `backoff_max`; a link going down just waits
//! for the link to come back.
//!
//! The uploader is pure state: the engine reads the stream for it, sends its requests and hands
//! it their outcomes (`engine/uploads.rs`), and persists the cursor as the ack floor of a
//! durable consumer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::origin::{self, ORIGIN_PREV_HEADER, ORIGIN_SEQ_HEADER};
use crate::core::engine::{RequestError, RequestId};
use crate::core::error::ApiError;
use crate::core::headers::Headers;
use crate::core::message::{Destination, Message};
use crate::core::store::StoredMsg;
use crate::core::time::{Nanos, SECONDS};

/// Publishes out at once unless configured: as many as a NATS client's usual 1,000 outstanding
/// acks. Measured in the browser against a Contrail server (`scripts/bench-browser --only
/// sync`), 1,000 uploaded at least as fast as 256 and 4,000 (noisy, loaded machine).
pub const DEFAULT_WINDOW: usize = 1000;

/// Most publishes out at once a config may ask for.
pub const MAX_WINDOW: usize = 16 * 1024;

/// How long a publish waits for its PubAck unless configured.
pub const DEFAULT_ACK_TIMEOUT: Nanos = 10 * SECONDS;

/// The first retry after an error waits this long, doubling up to the config's maximum.
pub const DEFAULT_BACKOFF_MIN: Nanos = SECONDS / 4;

/// The longest wait between retries unless configured.
pub const DEFAULT_BACKOFF_MAX: Nanos = 30 * SECONDS;

/// Where an upload goes and how it paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadConfig {
    /// The local stream read.
    pub stream: String,
    /// The remote stream that must store the messages (sent as `Nats-Expected-Stream`).
    pub remote_stream: String,
    /// Put before each message's subject when published (`"up."` + `orders.new`).
    pub subject_prefix: Option<String>,
    /// The link to publish on.
    pub dest: Destination,
    /// Most publishes awaiting their PubAck at once.
    pub window: usize,
    /// How long a publish waits for its PubAck.
    pub ack_timeout: Nanos,
    /// First wait after an error.
    pub backoff_min: Nanos,
    /// Longest wait after errors.
    pub backoff_max: Nanos,
}

impl UploadConfig {
    /// An upload of `stream` to `remote_stream` over `dest` with the default pacing.
    pub fn new(stream: &str, remote_stream: &str, dest: Destination) -> UploadConfig {
        UploadConfig {
            stream: stream.to_string(),
            remote_stream: remote_stream.to_string(),
            subject_prefix: None,
            dest,
            window: DEFAULT_WINDOW,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            backoff_min: DEFAULT_BACKOFF_MIN,
            backoff_max: DEFAULT_BACKOFF_MAX,
        }
    }
}

/// What an upload reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// The upload's name (its consumer's).
    pub name: String,
    /// The local stream.
    pub stream: String,
    /// The remote stream.
    pub remote_stream: String,
    /// This database's origin id for the stream (the first part of every `Nats-Msg-Id`).
    pub origin: String,
    /// Every local sequence at or below this is stored on the server.
    pub cursor: u64,
    /// Local messages after the cursor (not yet acknowledged by the server).
    pub pending: u64,
    /// Publishes awaiting their PubAck now.
    pub in_flight: usize,
    /// The link is up.
    pub online: bool,
    /// Paused by the app.
    pub paused: bool,
    /// Messages acknowledged since the upload started (duplicates included).
    pub acknowledged: u64,
    /// Of those, the server already had this many.
    pub duplicates: u64,
    /// Why the last publish failed, until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When (Unix nanoseconds) it retries after that error, while it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Nanos>,
}

/// A PubAck as a JetStream server sends it (only what the uploader reads).
#[derive(Debug, Deserialize)]
struct PubAckReply {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    duplicate: bool,
}

/// The state of one upload (see the module docs).
#[derive(Debug, Clone)]
pub struct Uploader {
    config: UploadConfig,
    origin: String,
    /// Everything at or below is acknowledged.
    cursor: u64,
    /// The next local sequence to look at.
    next: u64,
    /// The highest sequence sent since the last restart (everything between the cursor and it
    /// that is not in flight was acknowledged or does not exist).
    highest_sent: u64,
    /// A publish left since the last (re)start: the next names its predecessor
    /// (`Contrail-Origin-Prev`).
    chained: bool,
    /// Publishes out, by local sequence.
    in_flight: BTreeMap<u64, RequestId>,
    /// The same, by request.
    by_request: BTreeMap<RequestId, u64>,
    paused: bool,
    failures: u32,
    retry_at: Option<Nanos>,
    last_error: Option<String>,
    acknowledged: u64,
    duplicates: u64,
}

impl Uploader {
    /// An uploader with `origin` id that resumes after `cursor`.
    pub fn new(config: UploadConfig, origin: &str, cursor: u64) -> Uploader {
        Uploader {
            config,
            origin: origin.to_string(),
            cursor,
            next: cursor.saturating_add(1),
            highest_sent: cursor,
            chained: false,
            in_flight: BTreeMap::new(),
            by_request: BTreeMap::new(),
            paused: false,
            failures: 0,
            retry_at: None,
            last_error: None,
            acknowledged: 0,
            duplicates: 0,
        }
    }

    /// Its config.
    pub fn config(&self) -> &UploadConfig {
        &self.config
    }

    /// Everything at or below this local sequence is acknowledged.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The next local sequence it would read (the first stored at or after it is sent next).
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Whether it may send another publish now (`online`: its link is up).
    pub fn can_send(&self, online: bool, now: Nanos) -> bool {
        online
            && !self.paused
            && self.retry_at.is_none_or(|at| at <= now)
            && self.in_flight.len() < self.config.window.clamp(1, MAX_WINDOW)
    }

    /// The publish request for stored message `stored`: its subject with the prefix, its
    /// headers without the ones that would mean something else on the server (its own
    /// `Nats-Msg-Id` and `Nats-Expected-*`, which were checked when it was stored here), plus
    /// the upload's id and the expected stream.
    pub fn publish_for(&self, stored: &StoredMsg) -> Message {
        let mut headers = stored
            .headers
            .as_deref()
            .and_then(|block| Headers::parse(block).ok())
            .unwrap_or_default();
        let expected: Vec<String> = headers
            .iter()
            .filter(|(name, _)| name.len() > 13 && name[..13].eq_ignore_ascii_case("Nats-Expected"))
            .map(|(name, _)| name.to_string())
            .collect();
        for name in expected {
            headers.remove(&name);
        }
        let id = origin::format(&self.origin, &self.config.stream, stored.seq);
        headers.insert("Nats-Msg-Id", id.clone());
        headers.insert(ORIGIN_SEQ_HEADER, id);
        if self.chained {
            headers.insert(ORIGIN_PREV_HEADER, self.highest_sent.to_string());
        } else {
            headers.remove(ORIGIN_PREV_HEADER);
        }
        headers.insert("Nats-Expected-Stream", self.config.remote_stream.clone());
        let subject = match &self.config.subject_prefix {
            Some(prefix) => format!("{prefix}{}", stored.subject),
            None => stored.subject.clone(),
        };
        Message {
            subject,
            reply: None,
            headers: Some(headers.encode()),
            payload: stored.payload.clone(),
        }
    }

    /// Local sequence `seq` left as request `id`.
    pub fn sent(&mut self, seq: u64, id: RequestId) {
        self.in_flight.insert(seq, id);
        self.by_request.insert(id, seq);
        self.highest_sent = self.highest_sent.max(seq);
        self.next = seq.saturating_add(1);
        self.chained = true;
    }

    /// Whether request `id` is one of this upload's publishes.
    pub fn owns(&self, id: RequestId) -> bool {
        self.by_request.contains_key(&id)
    }

    /// Takes the outcome of request `id` (ignored if it is not one of its publishes still out).
    /// Returns whether the cursor moved.
    pub fn on_outcome(
        &mut self,
        id: RequestId,
        result: Result<Message, RequestError>,
        now: Nanos,
    ) -> bool {
        let Some(seq) = self.by_request.remove(&id) else {
            return false;
        };
        self.in_flight.remove(&seq);
        match result.map_err(Failure::Request).and_then(read_reply) {
            Ok(duplicate) => {
                self.acknowledged += 1;
                self.duplicates += u64::from(duplicate);
                self.failures = 0;
                self.retry_at = None;
                self.last_error = None;
                let before = self.cursor;
                self.cursor = match self.in_flight.first_key_value() {
                    Some((&lowest, _)) => lowest - 1,
                    None => self.highest_sent,
                };
                self.cursor = self.cursor.max(before);
                self.cursor != before
            }
            Err(Failure::Request(RequestError::LinkDown)) => {
                // Not an error of the upload: it resumes when the link is back.
                self.restart();
                false
            }
            Err(failure) => {
                self.last_error = Some(match failure {
                    Failure::Request(err) => err.to_string(),
                    Failure::Refused(why) => why,
                });
                let doubled = self
                    .config
                    .backoff_min
                    .max(1)
                    .saturating_mul(1 << self.failures.min(20));
                self.failures = self.failures.saturating_add(1);
                self.retry_at = Some(now.saturating_add(doubled.min(self.config.backoff_max)));
                self.restart();
                false
            }
        }
    }

    /// Forgets every publish out and goes back to just after the cursor: what the server
    /// stored of them comes back as duplicates, and nothing is skipped.
    pub fn restart(&mut self) {
        self.in_flight.clear();
        self.by_request.clear();
        self.next = self.cursor.saturating_add(1);
        self.highest_sent = self.cursor;
        self.chained = false;
    }

    /// Pauses (nothing new leaves; what is out still counts) or resumes.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Sends again now, without waiting out the backoff.
    pub fn retry_now(&mut self) {
        self.retry_at = None;
    }

    /// When it wants to be driven again (the end of a backoff).
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.retry_at
    }

    /// Its status; `pending` counts the local messages after the cursor (the caller reads the
    /// stream), `online` whether the link is up.
    pub fn status(&self, name: &str, pending: u64, online: bool) -> UploadStatus {
        UploadStatus {
            name: name.to_string(),
            stream: self.config.stream.clone(),
            remote_stream: self.config.remote_stream.clone(),
            origin: self.origin.clone(),
            cursor: self.cursor,
            pending,
            in_flight: self.in_flight.len(),
            online,
            paused: self.paused,
            acknowledged: self.acknowledged,
            duplicates: self.duplicates,
            last_error: self.last_error.clone(),
            retry_at: self.retry_at,
        }
    }
}

/// Why a publish did not count as stored.
enum Failure {
    Request(RequestError),
    Refused(String),
}

/// Reads a reply to a publish: Ok(duplicate) for a PubAck, else why it was refused.
fn read_reply(reply: Message) -> Result<bool, Failure> {
    if let Some(block) = reply.headers.as_deref() {
        if let Ok(headers) = Headers::parse(block) {
            if let Some(code) = headers.status_code() {
                let text = match (code, headers.description()) {
                    (503, _) => "no responders (no stream captures the subject)".to_string(),
                    (code, "") => format!("status {code}"),
                    (code, description) => format!("status {code}: {description}"),
                };
                return Err(Failure::Refused(text));
            }
        }
    }
    let parsed: PubAckReply = serde_json::from_slice(&reply.payload).map_err(|e| {
        Failure::Refused(format!(
            "unreadable reply ({e}): {}",
            String::from_utf8_lossy(&reply.payload[..reply.payload.len().min(200)])
        ))
    })?;
    if let Some(error) = parsed.error {
        return Err(Failure::Refused(error.to_string()));
    }
    if parsed.stream.is_none() {
        return Err(Failure::Refused("reply is not a PubAck".to_string()));
    }
    Ok(parsed.duplicate)
}
