//! What arrives on the deliver subject: deliveries (`processInboundMirrorMsg`,
//! `processInboundSourceMsg`), flow-control requests and idle heartbeats.

use bytes::Bytes;

use crate::core::headers::{find_header, Headers};
use crate::core::time::Nanos;

use super::super::events::{Action, Role};
use super::super::wire::{
    header_u64, is_control, parse_ack_reply, source_header, CONSUMER_STALLED, LAST_CONSUMER_SEQ,
    LAST_STREAM_SEQ, STREAM_SOURCE,
};
use super::{HeldReply, Phase, Sourcing, MAX_HELD_REPLIES};

impl Sourcing {
    pub(super) fn next_ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// Holds a reply to the origin until everything stored so far is durable. A subject
    /// already waiting is not queued twice (a stalled consumer repeats it every heartbeat), and
    /// at most [`MAX_HELD_REPLIES`] wait: the oldest, for consumers long gone, are dropped.
    pub(super) fn reply_when_durable(&mut self, subject: String, headers: Vec<(String, String)>) {
        if self.held_replies.iter().any(|h| h.subject == subject) {
            return;
        }
        if self.held_replies.len() >= MAX_HELD_REPLIES {
            self.held_replies.pop_front();
        }
        self.held_replies.push_back(HeldReply {
            after: self.next_ticket,
            subject,
            headers,
        });
        self.durable(self.durable_ticket);
    }

    pub(super) fn on_delivery(
        &mut self,
        now: Nanos,
        via: &str,
        origin_subject: &str,
        reply: &str,
        headers: &[u8],
        payload: &[u8],
    ) {
        let deliver = match &self.phase {
            Phase::Requesting { deliver, .. } | Phase::Active { deliver, .. } => deliver,
            _ => return,
        };
        if deliver != via {
            return;
        }
        // Anything on our deliver subject is contact, as nats-server stamps it on receipt.
        self.last_contact = Some(now);
        if matches!(self.phase, Phase::Requesting { .. }) {
            // The new consumer sent this before its create's answer came: it waits for it.
            self.early.push(origin_subject, reply, headers, payload);
            return;
        }
        self.on_current(now, origin_subject, reply, headers, payload);
    }

    /// Right after a successful create answer: what came before it, in arrival order, as if it
    /// came now. A gap or a heartbeat among it that recreates the consumer ends this (the rest
    /// was discarded with the consumer).
    pub(super) fn handle_early(&mut self, now: Nanos) {
        for m in self.early.take() {
            if !matches!(self.phase, Phase::Active { .. }) {
                break;
            }
            self.on_current(now, &m.subject, &m.reply, &m.headers, &m.payload);
        }
    }

    /// A message on the active consumer's deliver subject.
    fn on_current(
        &mut self,
        now: Nanos,
        origin_subject: &str,
        reply: &str,
        headers: &[u8],
        payload: &[u8],
    ) {
        let Phase::Active { consumer, .. } = &self.phase else {
            return;
        };
        if is_control(headers, payload) {
            self.on_control(now, reply, headers);
            return;
        }
        let Some(ack) = parse_ack_reply(reply) else {
            return;
        };
        if ack.consumer != consumer || ack.delivered > 1 {
            return;
        }
        let (sseq, dseq) = (ack.stream_seq, ack.consumer_seq);
        if sseq <= self.sseq {
            // Already have it; only the delivery count moves.
            if dseq == self.dseq + 1 {
                self.dseq += 1;
            }
            return;
        }
        match self.role {
            Role::Mirror => {
                if sseq == self.sseq + 1 {
                    self.dseq = dseq;
                } else if dseq == self.dseq + 1 {
                    // The origin removed what lies between: skip it here too.
                    let ticket = self.next_ticket();
                    self.actions.push_back(Action::SkipMirrored {
                        first: self.sseq + 1,
                        last: sseq - 1,
                        ticket,
                    });
                    self.dseq += 1;
                } else {
                    self.retry(now);
                    return;
                }
            }
            Role::Source => {
                if dseq == self.dseq + 1 {
                    self.dseq += 1;
                } else if dseq > self.dseq {
                    self.retry(now);
                    return;
                } else {
                    return;
                }
            }
        }
        self.sseq = sseq;
        self.lag = ack.pending.saturating_sub(1);
        let subject = self.transformed(origin_subject);
        let ticket = self.next_ticket();
        match self.role {
            Role::Mirror => {
                self.local.msgs += 1;
                if self.local.first_seq == 0 {
                    self.local.first_seq = sseq;
                }
                self.local.last_seq = sseq;
                self.local.last_time = ack.timestamp;
                self.actions.push_back(Action::StoreMirrored {
                    seq: sseq,
                    time: ack.timestamp,
                    subject,
                    headers: clean_headers(headers, None),
                    payload: Bytes::copy_from_slice(payload),
                    ticket,
                });
            }
            Role::Source => {
                let mark = source_header(&self.index_name, sseq, origin_subject);
                self.actions.push_back(Action::StoreSourced {
                    subject,
                    headers: clean_headers(headers, Some(&mark)),
                    payload: Bytes::copy_from_slice(payload),
                    ticket,
                    origin_seq: sseq,
                });
            }
        }
    }

    pub(super) fn on_control(&mut self, now: Nanos, reply: &str, headers: &[u8]) {
        if !reply.is_empty() {
            // Flow control: answered once what came before it is durable.
            let answer = vec![
                (LAST_CONSUMER_SEQ.to_string(), self.dseq.to_string()),
                (LAST_STREAM_SEQ.to_string(), self.sseq.to_string()),
            ];
            self.reply_when_durable(reply.to_string(), answer);
            return;
        }
        let last_dseq = header_u64(headers, LAST_CONSUMER_SEQ);
        if last_dseq > 0 && last_dseq != self.dseq {
            // We missed deliveries, or this is no longer the consumer we set up.
            self.retry(now);
            return;
        }
        if let Some(fc) = find_header(headers, CONSUMER_STALLED) {
            self.reply_when_durable(fc.to_string(), Vec::new());
        }
    }

    /// The first transform that matches rewrites the subject (`random` draws on the seed).
    pub(super) fn transformed(&mut self, subject: &str) -> String {
        let rng = &mut self.rng;
        let mut random = || (rng.next_u64() >> 32) as u32;
        self.transforms
            .iter()
            .find_map(|t| t.apply(subject, &mut random))
            .unwrap_or_else(|| subject.to_string())
    }
}

/// The header block to store: without `Nats-Expected-*` and `Nats-Batch-*` (they were checked
/// on the origin), and for a source without the origin's own `Nats-Stream-Source` and with ours.
/// A block that does not parse is stored as it came (mirror) or replaced by ours (source).
fn clean_headers(block: &[u8], mark: Option<&str>) -> Bytes {
    let parsed = if block.is_empty() {
        Some(Headers::new())
    } else {
        Headers::parse(block).ok()
    };
    let Some(parsed) = parsed else {
        return match mark {
            None => Bytes::copy_from_slice(block),
            Some(m) => {
                let mut h = Headers::new();
                h.insert(STREAM_SOURCE, m);
                h.encode()
            }
        };
    };
    let keep = |name: &str| {
        let lower = name.to_ascii_lowercase();
        let checked_on_origin =
            lower.starts_with("nats-expected-") || lower.starts_with("nats-batch-");
        let replaced = mark.is_some() && lower == STREAM_SOURCE.to_ascii_lowercase();
        !checked_on_origin && !replaced
    };
    let mut out = Headers::new();
    for (name, value) in parsed.iter().filter(|(n, _)| keep(n)) {
        out.append(name, value);
    }
    if let Some(m) = mark {
        out.append(STREAM_SOURCE, m);
    }
    if out.is_empty() {
        Bytes::new()
    } else {
        out.encode()
    }
}
