//! Push delivery helpers: idle heartbeats, flow control and the rate limit.
//!
//! Flow control follows nats-server: the consumer may have a window of unanswered bytes in flight
//! (starting at 2 MiB and doubling per answered request up to 32 MiB). Past half the window it
//! sends a `100 FlowControl Request` whose reply subject the client must answer; past the whole
//! window it stops delivering until that answer comes.

use bytes::Bytes;

use crate::core::headers::{NATS_LAST_CONSUMER, NATS_LAST_STREAM};
use crate::core::message::{Message, Outbound};
use crate::core::time::{Nanos, SECONDS};

/// Header nats-server adds to a heartbeat while delivery waits on flow control.
pub const NATS_CONSUMER_STALLED: &str = "Nats-Consumer-Stalled";
/// Prefix of flow control reply subjects.
pub const FLOW_CONTROL_PREFIX: &str = "$JS.FC.";
/// The largest flow control window (`JsFlowControlMaxPending`).
const FLOW_CONTROL_MAX_PENDING: i64 = 32 * 1024 * 1024;
/// Burst allowed by the rate limit: nats-server uses the max payload (1 MiB by default).
const RATE_BURST: f64 = 1024.0 * 1024.0;

/// A `100 Idle Heartbeat` carrying the last consumer and stream sequences.
pub(crate) fn idle_heartbeat(
    to: &str,
    group: Option<&str>,
    last_consumer: u64,
    last_stream: u64,
    stalled_on: Option<&str>,
) -> Outbound {
    let mut block = format!(
        "NATS/1.0 100 Idle Heartbeat\r\n{NATS_LAST_CONSUMER}: {last_consumer}\r\n{NATS_LAST_STREAM}: {last_stream}\r\n"
    );
    if let Some(fc) = stalled_on {
        block.push_str(&format!("{NATS_CONSUMER_STALLED}: {fc}\r\n"));
    }
    block.push_str("\r\n");
    let mut out = Outbound::to_subject(to, Some(Bytes::from(block)), Bytes::new());
    out.group = group.map(str::to_string);
    out
}

/// Flow control accounting of one push consumer.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlowControl {
    /// Bytes delivered and not yet covered by an answered request.
    pub pbytes: i64,
    /// Current window; 0 when flow control is off.
    pub maxpb: i64,
    /// Largest window.
    pub pblimit: i64,
    /// Bytes the outstanding request covers.
    pub fcsz: i64,
    /// Reply subject of the outstanding request.
    pub fcid: Option<String>,
    /// Makes each request's reply subject distinct.
    counter: u64,
}

impl FlowControl {
    /// Accounting for a consumer with (`enabled`) or without flow control.
    pub fn new(enabled: bool) -> Self {
        let mut fc = FlowControl::default();
        if enabled {
            fc.set_window(FLOW_CONTROL_MAX_PENDING);
        }
        fc
    }

    /// Sets the largest window; the first window is a sixteenth of it.
    pub fn set_window(&mut self, limit: i64) {
        self.pblimit = limit;
        self.maxpb = (limit / 16).max(1);
    }

    /// True while delivery must wait for an answer.
    pub fn stalled(&self) -> bool {
        self.maxpb > 0 && self.pbytes > self.maxpb
    }

    /// Counts a delivery of `size` bytes; true when a flow control request should go out now.
    pub fn delivered(&mut self, size: i64) -> bool {
        if self.maxpb == 0 {
            return false;
        }
        self.pbytes += size;
        if self.fcid.is_none() {
            return self.pbytes > self.maxpb / 2;
        }
        if self.pbytes - self.fcsz >= self.maxpb {
            self.fcsz += size;
        }
        false
    }

    /// Starts a request: returns the message to send to `deliver_subject`.
    pub fn request(
        &mut self,
        stream: &str,
        consumer: &str,
        deliver_subject: &str,
        group: Option<&str>,
    ) -> Outbound {
        self.counter += 1;
        let reply = format!("{FLOW_CONTROL_PREFIX}{stream}.{consumer}.{}", self.counter);
        self.fcsz = self.pbytes;
        self.fcid = Some(reply.clone());
        Outbound {
            to: deliver_subject.to_string(),
            group: group.map(str::to_string),
            msg: Message {
                subject: deliver_subject.to_string(),
                reply: Some(reply),
                headers: Some(Bytes::from_static(
                    b"NATS/1.0 100 FlowControl Request\r\n\r\n",
                )),
                payload: Bytes::new(),
            },
            ..Default::default()
        }
    }

    /// Forgets what was in flight (the consumer went back to its ack floor): the window starts
    /// over at its first size and no request is outstanding.
    pub fn restart(&mut self) {
        let enabled = self.pblimit > 0;
        let counter = self.counter;
        *self = FlowControl::new(enabled);
        self.counter = counter;
    }

    /// Applies an answer on `subject`; true if it answered the outstanding request.
    pub fn answered(&mut self, subject: &str) -> bool {
        if self.fcid.as_deref() != Some(subject) {
            return false;
        }
        // Ramp the window up for slow starts.
        if self.maxpb < self.pblimit {
            self.maxpb = (self.maxpb * 2).min(self.pblimit);
        }
        self.pbytes = (self.pbytes - self.fcsz).max(0);
        self.fcid = None;
        self.fcsz = 0;
        true
    }
}

/// A token bucket for `rate_limit_bps`.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    bytes_per_sec: f64,
    tokens: f64,
    last: Nanos,
}

impl RateLimiter {
    /// A limiter for `bps` bits per second, full at `now`.
    pub fn new(bps: u64, now: Nanos) -> Option<Self> {
        (bps >= 8).then_some(RateLimiter {
            bytes_per_sec: (bps / 8) as f64,
            tokens: RATE_BURST,
            last: now,
        })
    }

    /// Takes `size` bytes if the bucket allows, else says when it will.
    pub fn take(&mut self, size: usize, now: Nanos) -> Result<(), Nanos> {
        let elapsed = (now - self.last).max(0) as f64 / SECONDS as f64;
        self.tokens = (self.tokens + elapsed * self.bytes_per_sec).min(RATE_BURST);
        self.last = now;
        let size = size as f64;
        // A message larger than the burst goes out whenever the bucket is full.
        if self.tokens >= size || self.tokens >= RATE_BURST {
            self.tokens -= size;
            return Ok(());
        }
        let wait = (size.min(RATE_BURST) - self.tokens) / self.bytes_per_sec;
        Err(now + ((wait * SECONDS as f64).ceil() as Nanos).max(1))
    }
}

impl super::Consumer {
    /// A push idle heartbeat when nothing was delivered for `idle_heartbeat`.
    pub(super) fn push_heartbeat(&mut self, now: Nanos, out: &mut Vec<Outbound>) {
        let hb = self.config.idle_heartbeat;
        let Some(due) = self.hb_due else { return };
        if hb <= 0 || now < due {
            return;
        }
        if self.active {
            let to = self.config.deliver_subject.as_deref().unwrap_or_default();
            out.push(idle_heartbeat(
                to,
                self.config.deliver_group.as_deref(),
                self.dseq - 1,
                self.sseq - 1,
                self.fc.fcid.as_deref(),
            ));
            // Acked by flow control: the last deliveries of a burst get their ack from a
            // request sent when delivery goes quiet (as nats-server 2.14 does at a heartbeat).
            let acks_wanted = self.config.ack_policy == super::AckPolicy::FlowControl
                && !self.pending.is_empty()
                && self.fc.fcid.is_none();
            if acks_wanted {
                self.send_flow_control(out);
            }
        }
        self.hb_due = Some(now.saturating_add(hb));
    }
}
