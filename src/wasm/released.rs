//! What a flush releases, packed into one buffer for JavaScript: the outcomes of ticketed
//! publishes ([`crate::wasm::engine::JsEngine::publish`]), then the messages.
//!
//! Handing JavaScript one object (or array) per message costs a boundary crossing and a
//! TextDecoder call per string, which the browser benchmark's profile showed to be most of the
//! publish path's glue. So a flush hands over ONE `Uint8Array`, and `pkg/index.js` reads it
//! (strings by an ASCII fast path, bodies as views of the buffer).
//!
//! Layout, numbers little-endian, lengths `u32`:
//! - `acks: u32`, then per ticketed publish: `ticket: u32 | kind: u8`, and for
//!   [`STORED`] / [`DUPLICATE`]: `seq: f64 | stream_len stream | domain_len domain`
//!   (`stream_len` [`SAME`] when it is the previous ack's stream, `domain_len` [`NONE`] when
//!   there is none); for [`FAILED`]: `error_len error` (the API error as JSON).
//! - then per message:
//!   `to_len to | subject_len subject | reply_len reply | headers_len headers | data_len data`,
//!   where `to_len` is [`SAME`] when `to` is the previous message's (a fetch's deliveries),
//!   `subject_len` is [`SAME`] when the subject equals `to` (every API reply), and `reply_len` /
//!   `headers_len` are [`NONE`] when absent.

use crate::core::message::Outbound;
use crate::core::stream::PubAck;

/// `subject_len` when the subject is `to` itself.
pub const SAME: u32 = u32::MAX;
/// `reply_len` / `headers_len` when there is none.
pub const NONE: u32 = u32::MAX - 1;

/// Ack kind: the message was stored.
pub const STORED: u8 = 0;
/// Ack kind: a duplicate within the stream's window, not stored again.
pub const DUPLICATE: u8 = 1;
/// Ack kind: the stream refused the message (an API error follows).
pub const FAILED: u8 = 2;

/// A ticketed publish's outcome, waiting for the commit that makes it true.
pub use crate::core::front::journal::TicketAck;

/// What [`decode`] reads back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Release {
    /// Ticketed publishes' outcomes, in ticket order.
    pub acks: Vec<TicketAck>,
    /// Messages, in the order they were queued.
    pub msgs: Vec<Released>,
}

/// One message read back from the buffer (for tests and tools; JavaScript has its own reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The subscription subject it is for.
    pub to: String,
    /// Its subject.
    pub subject: String,
    /// Its reply subject.
    pub reply: Option<String>,
    /// Its header block.
    pub headers: Option<Vec<u8>>,
    /// Its payload.
    pub data: Vec<u8>,
}

/// Packs `acks` then `out`, in order.
pub fn encode(acks: &[TicketAck], out: &[Outbound]) -> Vec<u8> {
    let messages: usize = out
        .iter()
        .map(|o| {
            20 + o.to.len()
                + o.msg.subject.len()
                + o.msg.reply.as_ref().map_or(0, String::len)
                + o.msg.headers.as_ref().map_or(0, |h| h.len())
                + o.msg.payload.len()
        })
        .sum();
    let mut buf = Vec::with_capacity(4 + acks.len() * 24 + messages);
    // Fewer than 4 billion publishes fit between two flushes.
    buf.extend_from_slice(&(acks.len() as u32).to_le_bytes());
    let mut last_stream: Option<&str> = None;
    for (ticket, result) in acks {
        buf.extend_from_slice(&ticket.to_le_bytes());
        match result {
            Ok(ack) => {
                buf.push(if ack.duplicate { DUPLICATE } else { STORED });
                buf.extend_from_slice(&(ack.seq as f64).to_le_bytes());
                if last_stream == Some(&*ack.stream) {
                    buf.extend_from_slice(&SAME.to_le_bytes());
                } else {
                    put(&mut buf, ack.stream.as_bytes());
                    last_stream = Some(&ack.stream);
                }
                match &ack.domain {
                    Some(domain) => put(&mut buf, domain.as_bytes()),
                    None => buf.extend_from_slice(&NONE.to_le_bytes()),
                }
            }
            Err(error) => {
                buf.push(FAILED);
                put(&mut buf, &serde_json::to_vec(error).unwrap_or_default());
            }
        }
    }
    let mut last_to: Option<&str> = None;
    for o in out {
        if last_to == Some(o.to.as_str()) {
            buf.extend_from_slice(&SAME.to_le_bytes());
        } else {
            put(&mut buf, o.to.as_bytes());
            last_to = Some(&o.to);
        }
        if o.msg.subject == o.to {
            buf.extend_from_slice(&SAME.to_le_bytes());
        } else {
            put(&mut buf, o.msg.subject.as_bytes());
        }
        match &o.msg.reply {
            Some(reply) => put(&mut buf, reply.as_bytes()),
            None => buf.extend_from_slice(&NONE.to_le_bytes()),
        }
        match &o.msg.headers {
            Some(headers) => put(&mut buf, headers),
            None => buf.extend_from_slice(&NONE.to_le_bytes()),
        }
        put(&mut buf, &o.msg.payload);
    }
    buf
}

fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    // Messages are bounded by max_payload, far below 4 GiB.
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Reads a packed buffer back; `None` if it is malformed.
pub fn decode(mut buf: &[u8]) -> Option<Release> {
    let count = peek_len(buf)?;
    buf = buf.get(4..)?;
    let mut acks = Vec::new();
    let mut last_stream = String::new();
    for _ in 0..count {
        let ticket = peek_len(buf)?;
        let kind = *buf.get(4)?;
        buf = buf.get(5..)?;
        let result = match kind {
            STORED | DUPLICATE => {
                let seq = f64::from_le_bytes(buf.get(..8)?.try_into().ok()?) as u64;
                buf = buf.get(8..)?;
                if peek_len(buf)? == SAME {
                    buf = buf.get(4..)?;
                } else {
                    last_stream = string(take(&mut buf)?)?;
                }
                let domain = match optional(&mut buf)? {
                    Some(bytes) => Some(string(bytes)?),
                    None => None,
                };
                Ok(PubAck {
                    stream: last_stream.as_str().into(),
                    seq,
                    domain,
                    duplicate: kind == DUPLICATE,
                })
            }
            FAILED => Err(serde_json::from_slice(take(&mut buf)?).ok()?),
            _ => return None,
        };
        acks.push((ticket, result));
    }
    let mut out: Vec<Released> = Vec::new();
    while !buf.is_empty() {
        let to = if peek_len(buf)? == SAME {
            buf = buf.get(4..)?;
            out.last()?.to.clone()
        } else {
            string(take(&mut buf)?)?
        };
        let subject = match peek_len(buf)? {
            SAME => {
                buf = buf.get(4..)?;
                to.clone()
            }
            _ => string(take(&mut buf)?)?,
        };
        let reply = match optional(&mut buf)? {
            Some(bytes) => Some(string(bytes)?),
            None => None,
        };
        let headers = optional(&mut buf)?.map(<[u8]>::to_vec);
        let data = take(&mut buf)?.to_vec();
        out.push(Released {
            to,
            subject,
            reply,
            headers,
            data,
        });
    }
    Some(Release { acks, msgs: out })
}

fn peek_len(buf: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(..4)?.try_into().ok()?))
}

fn take<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = peek_len(buf)? as usize;
    let bytes = buf.get(4..4 + len)?;
    *buf = buf.get(4 + len..)?;
    Some(bytes)
}

fn optional<'a>(buf: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    if peek_len(buf)? == NONE {
        *buf = buf.get(4..)?;
        return Some(None);
    }
    take(buf).map(Some)
}

fn string(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}
