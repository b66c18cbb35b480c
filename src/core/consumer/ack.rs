//! Ack reply subjects and ack bodies.
//!
//! Every delivery carries a reply subject clients ack to and read metadata from:
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>`
//! (nats-server 2.10+ may also use `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.…` with
//! 11 or more tokens; both are read). Bodies: empty, `+ACK` or `+OK` (ack), `-NAK` with an
//! optional delay, `+WPI` (in progress), `+NXT` with an optional pull request, `+TERM` with an
//! optional reason. Malformed input is an error value, never a panic.

use std::fmt::Write;

use super::pull::{PullRequest, PullRequestError};
use crate::core::duration::parse_go_duration;
use crate::core::time::Nanos;

/// Prefix of every ack subject.
pub const ACK_PREFIX: &str = "$JS.ACK.";

/// What an ack subject says about one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AckSubject {
    /// Stream name.
    pub stream: String,
    /// Consumer name.
    pub consumer: String,
    /// How many times this message has been delivered, this delivery included.
    pub delivered: u64,
    /// Stream sequence.
    pub stream_seq: u64,
    /// Consumer sequence of this delivery.
    pub consumer_seq: u64,
    /// When the message was stored (Unix ns).
    pub timestamp: Nanos,
    /// Messages left for the consumer after this one.
    pub pending: u64,
}

impl AckSubject {
    /// The subject in the v1 form nats-server sends by default.
    pub fn to_subject(&self) -> String {
        ack_subject(
            &self.stream,
            &self.consumer,
            self.delivered,
            self.stream_seq,
            self.consumer_seq,
            self.timestamp,
            self.pending,
        )
    }
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`.
pub fn ack_subject(
    stream: &str,
    consumer: &str,
    delivered: u64,
    stream_seq: u64,
    consumer_seq: u64,
    timestamp: Nanos,
    pending: u64,
) -> String {
    let mut prefix = String::with_capacity(ACK_PREFIX.len() + stream.len() + consumer.len() + 64);
    prefix.push_str(ACK_PREFIX);
    prefix.push_str(stream);
    prefix.push('.');
    prefix.push_str(consumer);
    prefix.push('.');
    append_ack_tail(
        &mut prefix,
        delivered,
        stream_seq,
        consumer_seq,
        timestamp,
        pending,
    );
    prefix
}

/// Appends `<delivered>.<sseq>.<cseq>.<ts>.<pending>` to a prefix that ends with `.`.
pub(crate) fn append_ack_tail(
    out: &mut String,
    delivered: u64,
    stream_seq: u64,
    consumer_seq: u64,
    timestamp: Nanos,
    pending: u64,
) {
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{delivered}.{stream_seq}.{consumer_seq}.{timestamp}.{pending}"
    );
}

/// Reads an ack subject, v1 (9 tokens) or v2 (11 or more); `None` when it is not one.
pub fn parse_ack_subject(subject: &str) -> Option<AckSubject> {
    let fields = ack_fields(subject)?;
    let stream = Some(fields[0]).filter(|s| !s.is_empty())?;
    let consumer = Some(fields[1]).filter(|s| !s.is_empty())?;
    Some(AckSubject {
        stream: stream.to_string(),
        consumer: consumer.to_string(),
        delivered: number(fields[2])?,
        stream_seq: number(fields[3])?,
        consumer_seq: number(fields[4])?,
        timestamp: i64::try_from(number(fields[5])?).ok()?,
        pending: number(fields[6])?,
    })
}

/// The stream sequence an ack subject names, as [`parse_ack_subject`] reads it, without
/// building the whole [`AckSubject`]: the engine asks this of every push delivery it sends
/// (which write the delivery waits for), so it allocates nothing.
pub fn ack_stream_seq(subject: &str) -> Option<u64> {
    let fields = ack_fields(subject)?;
    if fields[0].is_empty() || fields[1].is_empty() {
        return None;
    }
    for i in [2, 4, 6] {
        number(fields[i])?;
    }
    i64::try_from(number(fields[5])?).ok()?;
    number(fields[3])
}

/// The seven fields after `$JS.ACK` (and after `<domain>.<account hash>` in the v2 form): 7
/// tokens for v1, 9 or more for v2 (more are ignored, as nats-server does). Split into a fixed
/// array: no allocation per message.
fn ack_fields(subject: &str) -> Option<[&str; 7]> {
    let rest = subject.strip_prefix(ACK_PREFIX)?;
    let mut tokens = [""; 9];
    let mut count = 0;
    for token in rest.split('.') {
        if count < tokens.len() {
            tokens[count] = token;
        }
        count += 1;
    }
    let offset = match count {
        7 => 0,
        n if n >= 9 => 2,
        _ => return None,
    };
    let mut fields = [""; 7];
    fields.copy_from_slice(&tokens[offset..offset + 7]);
    Some(fields)
}

/// A decimal number of ASCII digits only (as nats-server's `parseAckReplyNum`).
fn number(token: &str) -> Option<u64> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// What an ack body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// Acknowledge (`""`, `+ACK`, `+OK`).
    Ack,
    /// Redeliver, now or after `delay` (`-NAK`, `-NAK {"delay": ns}`, `-NAK 5s`).
    Nak {
        /// How long to wait before redelivering; `None` redelivers at once.
        delay: Option<Nanos>,
    },
    /// Still working: restart the ack wait (`+WPI`).
    Progress,
    /// Acknowledge and deliver more to the ack's reply subject (`+NXT [request]`). A request that
    /// does not parse still acknowledges; its error is answered with a 400 status.
    Next(Result<PullRequest, PullRequestError>),
    /// Acknowledge and never redeliver (`+TERM [reason]`).
    Term {
        /// Why, if the client said.
        reason: Option<String>,
    },
}

/// Why an ack body was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The body is none of the ack forms (nats-server ignores such a body).
    #[error("unknown ack body")]
    Unknown,
}

impl AckKind {
    /// Reads an ack body (the payload, headers excluded), matching prefixes as nats-server does.
    pub fn parse(body: &[u8]) -> Result<AckKind, AckError> {
        if body.is_empty() || body == b"+ACK" || body == b"+OK" {
            return Ok(AckKind::Ack);
        }
        if let Some(rest) = body.strip_prefix(b"+NXT") {
            return Ok(AckKind::Next(PullRequest::parse(rest)));
        }
        if let Some(rest) = body.strip_prefix(b"-NAK") {
            return Ok(AckKind::Nak {
                delay: nak_delay(rest),
            });
        }
        if body == b"+WPI" {
            return Ok(AckKind::Progress);
        }
        if let Some(rest) = body.strip_prefix(b"+TERM") {
            let reason = String::from_utf8_lossy(rest).trim().to_string();
            return Ok(AckKind::Term {
                reason: (!reason.is_empty()).then_some(reason),
            });
        }
        Err(AckError::Unknown)
    }
}

/// The delay after `-NAK`: JSON `{"delay": ns}` or Go duration text; anything else is no delay.
fn nak_delay(arg: &[u8]) -> Option<Nanos> {
    let arg = std::str::from_utf8(arg).ok()?.trim();
    if arg.is_empty() {
        return None;
    }
    if arg.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct NakOptions {
            #[serde(default)]
            delay: Nanos,
        }
        return serde_json::from_str::<NakOptions>(arg)
            .ok()
            .map(|o| o.delay);
    }
    parse_go_duration(arg)
}
