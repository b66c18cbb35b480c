//! What a mirror or source reads off the wire: the ack reply subject of each delivery, control
//! messages (flow control, idle heartbeats), and the `Nats-Stream-Source` header a source writes
//! on each message and reads back after a restart.

use std::collections::HashMap;

use crate::core::headers::find_header;

use super::config::StreamSource;

/// Header naming the last consumer (delivery) sequence, on heartbeats and flow-control replies.
pub const LAST_CONSUMER_SEQ: &str = "Nats-Last-Consumer";
/// Header naming the last stream sequence, on heartbeats and flow-control replies.
pub const LAST_STREAM_SEQ: &str = "Nats-Last-Stream";
/// Header on a heartbeat when the origin waits for a flow-control reply: where to send it.
pub const CONSUMER_STALLED: &str = "Nats-Consumer-Stalled";
/// Header a source puts on every message it stores.
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";

/// What the ack reply subject of a delivery says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckReply<'a> {
    /// The origin stream.
    pub stream: &'a str,
    /// The consumer that delivered it.
    pub consumer: &'a str,
    /// How many times it was delivered.
    pub delivered: u64,
    /// Origin stream sequence.
    pub stream_seq: u64,
    /// Consumer (delivery) sequence.
    pub consumer_seq: u64,
    /// Origin timestamp, ns.
    pub timestamp: i64,
    /// Messages still pending on the consumer after this one.
    pub pending: u64,
}

/// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (9 tokens) or
/// the 2.10+ form with `<domain>.<account hash>` after `ACK` (11 or more tokens).
pub fn parse_ack_reply(reply: &str) -> Option<AckReply<'_>> {
    // Every delivery of a catch-up comes through here: a fixed array, no allocation.
    let mut tokens = [""; 11];
    let mut count = 0;
    for token in reply.split('.') {
        if count < tokens.len() {
            tokens[count] = token;
        }
        count += 1;
    }
    if count < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let offset = match count {
        9 => 2,
        n if n >= 11 => 4,
        _ => return None,
    };
    let num = |i: usize| tokens[offset + i].parse::<u64>().ok();
    Some(AckReply {
        stream: tokens[offset],
        consumer: tokens[offset + 1],
        delivered: num(2)?,
        stream_seq: num(3)?,
        consumer_seq: num(4)?,
        timestamp: tokens[offset + 5].parse::<i64>().ok()?,
        pending: num(6)?,
    })
}

/// A control message from the origin consumer: empty payload and a `NATS/1.0 100 ` status.
pub fn is_control(headers: &[u8], payload: &[u8]) -> bool {
    payload.is_empty() && headers.starts_with(b"NATS/1.0 100 ")
}

/// A header's value as a number; absent or unparsable is 0, as nats-server's `parseInt64` reads
/// it (negative there, which it treats as absent too).
pub fn header_u64(headers: &[u8], name: &str) -> u64 {
    find_header(headers, name)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// The `Nats-Stream-Source` value (`genSourceHeader`):
/// `<name>[:<hash(api)>] <origin seq> <filters> <dests> <original subject>`.
pub fn source_header(index_name: &str, origin_seq: u64, original_subject: &str) -> String {
    let mut parts = index_name.splitn(3, ' ');
    let name = parts.next().unwrap_or_default();
    let filters = parts.next().unwrap_or(">");
    let dests = parts.next().unwrap_or(">");
    format!("{name} {origin_seq} {filters} {dests} {original_subject}")
}

/// What a stored `Nats-Stream-Source` says (`streamAndSeq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMark {
    /// The origin name as written (`<name>` or `<name>:<hash(api)>`).
    pub stream: String,
    /// The source's index name, for the 2.10+ form; empty for older forms.
    pub index_name: String,
    /// The origin sequence of the message.
    pub origin_seq: u64,
}

/// Reads a `Nats-Stream-Source` value: the 2.10+ form (4 or more words), the 2.9 form
/// (`<name> <seq>`), or the oldest form (the delivery's ack reply). `None` when it is none.
pub fn parse_source_header(value: &str) -> Option<SourceMark> {
    if value.starts_with("$JS.ACK.") {
        let ack = parse_ack_reply(value)?;
        return Some(SourceMark {
            stream: ack.stream.to_string(),
            index_name: String::new(),
            origin_seq: ack.stream_seq,
        });
    }
    let fields: Vec<&str> = value.split(' ').collect();
    let origin_seq = fields.get(1)?.parse::<u64>().ok()?;
    match fields.len() {
        2 => Some(SourceMark {
            stream: fields[0].to_string(),
            index_name: String::new(),
            origin_seq,
        }),
        n if n >= 4 => Some(SourceMark {
            stream: fields[0].to_string(),
            index_name: format!("{} {} {}", fields[0], fields[2], fields[3]),
            origin_seq,
        }),
        _ => None,
    }
}

/// Where each source resumes after a restart (`setStartingSequenceForSources`): walking the
/// stream's header blocks from the newest message back, the first `Nats-Stream-Source` that
/// names a source gives its last sourced origin sequence. Older headers without an index name
/// match a source by origin name (with `:<hash(api)>` for external ones). Stops as soon as every
/// source is found. Returns the sources' index names with their last origin sequence; a source
/// absent from the result has sourced nothing still stored (it starts from its config).
pub fn resume_points<H: AsRef<[u8]>>(
    sources: &[StreamSource],
    headers_newest_first: impl IntoIterator<Item = H>,
) -> HashMap<String, u64> {
    let mut missing: Vec<(String, &StreamSource)> =
        sources.iter().map(|s| (s.index_name(), s)).collect();
    let mut found = HashMap::new();
    for headers in headers_newest_first {
        if missing.is_empty() {
            break;
        }
        let Some(mark) = find_header(headers.as_ref(), STREAM_SOURCE).and_then(parse_source_header)
        else {
            continue;
        };
        let hit = if mark.index_name.is_empty() {
            missing.iter().position(|(_, s)| {
                s.name == mark.stream
                    || s.external.as_ref().is_some_and(|e| {
                        mark.stream == format!("{}:{}", s.name, super::hash::get_hash(&e.api))
                    })
            })
        } else {
            missing
                .iter()
                .position(|(iname, _)| *iname == mark.index_name)
        };
        if let Some(i) = hit {
            let (iname, _) = missing.swap_remove(i);
            found.insert(iname, mark.origin_seq);
        }
    }
    found
}
