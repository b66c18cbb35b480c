//! The publisher-set headers a stream acts on, read from a header block in one pass.
//!
//! Reads the block as [`crate::core::headers::find_header`] does (a `NATS/1.0` first line,
//! `Name: Value` lines up to the empty line, names without regard to case, the first value of a
//! name wins, a malformed block holds nothing) but looks for all eight names at once: a publish
//! with headers scans its block once instead of eight times.

use crate::core::headers::{
    NATS_EXPECTED_LAST_MSG_ID, NATS_EXPECTED_LAST_SEQUENCE, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
    NATS_EXPECTED_STREAM, NATS_MSG_ID, NATS_ROLLUP,
};

/// Publisher-set: the subject `Nats-Expected-Last-Subject-Sequence` is checked against, when it
/// is not the published subject (nats-server 2.11+).
pub const NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: &str =
    "Nats-Expected-Last-Subject-Sequence-Subject";
/// Publisher-set: per-message TTL (nats-server 2.11+), honoured with `allow_msg_ttl`.
pub const NATS_TTL: &str = "Nats-TTL";

/// Every header name the publish pipeline reads starts with this (compared without case).
const PREFIX: &[u8] = b"nats-";

/// The publish-relevant header values of one block; `""` when absent or empty, which every
/// check treats alike.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct PubHeaders<'h> {
    /// `Nats-Msg-Id`.
    pub msg_id: &'h str,
    /// `Nats-Expected-Stream`.
    pub expected_stream: &'h str,
    /// `Nats-Expected-Last-Sequence`.
    pub expected_last_seq: &'h str,
    /// `Nats-Expected-Last-Subject-Sequence`.
    pub expected_last_subject_seq: &'h str,
    /// `Nats-Expected-Last-Subject-Sequence-Subject`.
    pub expected_last_subject_seq_subject: &'h str,
    /// `Nats-Expected-Last-Msg-Id`.
    pub expected_last_msg_id: &'h str,
    /// `Nats-Rollup`.
    pub rollup: &'h str,
    /// `Nats-TTL`.
    pub ttl: &'h str,
}

impl<'h> PubHeaders<'h> {
    /// Reads the values out of a raw header block.
    pub(super) fn scan(block: &'h [u8]) -> PubHeaders<'h> {
        let mut found = PubHeaders::default();
        let Ok(text) = std::str::from_utf8(block) else {
            return found;
        };
        let mut lines = text.split("\r\n");
        if !lines
            .next()
            .is_some_and(|first| first.starts_with("NATS/1.0"))
        {
            return found;
        }
        // Which names were seen, so a later repeat does not replace the first value.
        let mut seen = [false; 8];
        for line in lines {
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            let relevant = name
                .as_bytes()
                .get(..PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX));
            if !relevant {
                continue;
            }
            let Some(slot) = found.slot(name) else {
                continue;
            };
            if !seen[slot] {
                seen[slot] = true;
                *found.field(slot) = value.trim();
            }
        }
        found
    }

    /// The index of a header name among those read, if it is one.
    fn slot(&self, name: &str) -> Option<usize> {
        [
            NATS_MSG_ID,
            NATS_EXPECTED_STREAM,
            NATS_EXPECTED_LAST_SEQUENCE,
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT,
            NATS_EXPECTED_LAST_MSG_ID,
            NATS_ROLLUP,
            NATS_TTL,
        ]
        .iter()
        .position(|known| known.eq_ignore_ascii_case(name))
    }

    fn field(&mut self, slot: usize) -> &mut &'h str {
        match slot {
            0 => &mut self.msg_id,
            1 => &mut self.expected_stream,
            2 => &mut self.expected_last_seq,
            3 => &mut self.expected_last_subject_seq,
            4 => &mut self.expected_last_subject_seq_subject,
            5 => &mut self.expected_last_msg_id,
            6 => &mut self.rollup,
            _ => &mut self.ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::headers::{find_header, Headers};

    #[test]
    fn scan_agrees_with_find_header() {
        let mut h = Headers::new();
        h.append("X-Other", "1");
        h.append("nats-msg-id", " abc ");
        h.append(NATS_MSG_ID, "second");
        h.append(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, "a.b");
        h.append(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "7");
        h.append("NATS-ROLLUP", "sub");
        let block = h.encode();
        let found = PubHeaders::scan(&block);
        for (name, value) in [
            (NATS_MSG_ID, found.msg_id),
            (
                NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                found.expected_last_subject_seq,
            ),
            (
                NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT,
                found.expected_last_subject_seq_subject,
            ),
            (NATS_ROLLUP, found.rollup),
            (NATS_TTL, found.ttl),
            (NATS_EXPECTED_STREAM, found.expected_stream),
        ] {
            assert_eq!(find_header(&block, name).unwrap_or(""), value, "{name}");
        }
        assert_eq!((found.msg_id, found.rollup), ("abc", "sub"));
    }

    #[test]
    fn malformed_blocks_hold_nothing() {
        assert_eq!(
            PubHeaders::scan(b"HTTP/1.1\r\nNats-Msg-Id: x\r\n\r\n"),
            PubHeaders::default()
        );
        assert_eq!(PubHeaders::scan(&[0xff, 0xfe]), PubHeaders::default());
        let after_end = PubHeaders::scan(b"NATS/1.0\r\n\r\nNats-Msg-Id: x\r\n");
        assert_eq!(after_end, PubHeaders::default());
    }
}
