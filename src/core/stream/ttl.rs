//! Per-message TTLs (`allow_msg_ttl`, the `Nats-TTL` header) and subject delete markers
//! (`subject_delete_marker_ttl`), as nats-server 2.11+ has them (`stream.go`'s
//! `getMessageTTL`, the stores' timed hash wheel and `expireMsgs`, `sdm.go`).
//!
//! - `Nats-TTL` is a Go duration ("90s", "1h") or a number of seconds; "never" (any case) keeps
//!   the message past `max_age`. A value that is neither, or a duration under one second, is
//!   refused with 10165; a TTL on a stream without `allow_msg_ttl` with 10166.
//! - A message with a TTL expires at its timestamp plus the TTL, whatever `max_age` says; a
//!   longer TTL does not keep it past `max_age`.
//! - Expiry is driven by the engine's timers: [`TtlIndex`] keeps `(expiry, sequence)` ordered
//!   by time, so the next deadline is its first entry and a tick takes only what is due. A
//!   message `max_age` removes first takes its entry along; one that went another way (delete,
//!   purge, limits) leaves it until it is due (then nothing is found) or until stale entries
//!   outnumber the stream's messages, when they are swept.
//! - The TTL lives in the stored message's header, so a reopened stream rebuilds the index from
//!   its messages ([`Stream::rebuild_ttls`]); what expired while the process was down is due at
//!   once.
//! - With `subject_delete_marker_ttl`, when `max_age` or a TTL lets go of the last message of a
//!   subject (and that message is not itself a marker or a KV purge), the stream does not
//!   remove it: it asks the engine ([`Stream::take_markers`]) to publish a marker on the
//!   subject, `Nats-Marker-Reason: MaxAge`, `Nats-TTL: <marker ttl>`, `Nats-Rollup: sub`, whose
//!   rollup removes the message. The marker then expires by its own TTL. nats-server 2.14 names
//!   `Purge` and `Remove` reasons but stores markers only for `MaxAge`, and so does this.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::removals::Removal;
use super::Stream;
use crate::core::duration::{go_duration, parse_go_duration};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::headers::{find_header, KV_OPERATION, NATS_ROLLUP};
use crate::core::store::{Seq, StoredMsg};
use crate::core::time::{Nanos, SECONDS};

use super::pub_headers::NATS_TTL;

/// Header of a subject delete marker: why the subject's last message went.
pub const NATS_MARKER_REASON: &str = "Nats-Marker-Reason";
/// The one reason nats-server 2.14 stores markers for (age or TTL expiry).
const MARKER_REASON_MAX_AGE: &str = "MaxAge";

/// Stale index entries tolerated beyond the stream's message count before a sweep.
const STALE_SLACK: usize = 1024;

/// What a `Nats-TTL` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MsgTtl {
    /// No TTL (no header, an empty value, or a number that reads as zero).
    None,
    /// "never": kept past `max_age`.
    Never,
    /// Expires this many whole seconds after it was stored.
    Seconds(u64),
}

/// Reads a `Nats-TTL` value as nats-server's `parseMessageTTL` does: "never", a Go duration of
/// at least one second (whole seconds kept), or plain decimal digits (seconds).
pub(super) fn parse_ttl(text: &str) -> Result<MsgTtl, ApiError> {
    let invalid = || ApiError::new(ErrorKind::MessageTTLInvalid);
    if text.is_empty() {
        return Ok(MsgTtl::None);
    }
    if text.eq_ignore_ascii_case("never") {
        return Ok(MsgTtl::Never);
    }
    if let Some(nanos) = parse_go_duration(text) {
        if nanos < SECONDS {
            return Err(invalid());
        }
        return Ok(MsgTtl::Seconds((nanos / SECONDS) as u64));
    }
    // Digits only; like nats-server's `parseInt64`, a sign or any other byte is invalid, and
    // an overflow that wraps negative is too.
    let mut seconds: i64 = 0;
    for b in text.bytes() {
        if !b.is_ascii_digit() {
            return Err(invalid());
        }
        seconds = seconds.wrapping_mul(10).wrapping_add(i64::from(b - b'0'));
    }
    match seconds {
        0 => Ok(MsgTtl::None),
        s if s < 0 => Err(invalid()),
        s => Ok(MsgTtl::Seconds(s as u64)),
    }
}

/// When a message stored at `time` with a TTL of `seconds` expires.
fn expires_at(time: Nanos, seconds: u64) -> Nanos {
    let ttl = i64::try_from(seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(SECONDS);
    time.saturating_add(ttl)
}

/// True for a subject delete marker or a KV purge (nats-server's `isSubjectDeleteMarker`):
/// letting go of one never leaves another marker.
fn is_marker(headers: Option<&[u8]>) -> bool {
    headers.is_some_and(|h| {
        find_header(h, NATS_MARKER_REASON).is_some_and(|r| !r.is_empty())
            || find_header(h, KV_OPERATION) == Some("PURGE")
    })
}

/// The TTL a stored message's header asks for (`None` for a value that does not parse).
fn stored_ttl(msg: &StoredMsg) -> MsgTtl {
    msg.headers
        .as_deref()
        .and_then(|h| find_header(h, NATS_TTL))
        .and_then(|t| parse_ttl(t).ok())
        .unwrap_or(MsgTtl::None)
}

/// True when a stored message says `Nats-TTL: never`.
pub(super) fn never_expires(msg: &StoredMsg) -> bool {
    stored_ttl(msg) == MsgTtl::Never
}

/// `block` with its `Nats-TTL` replaced by `seconds`, appended last as nats-server's
/// `genHeader` does (the raise to the marker TTL, see [`Stream::publish`]).
pub(super) fn with_ttl_header(block: &[u8], seconds: u64) -> Bytes {
    let text = String::from_utf8_lossy(block);
    let mut lines = text.split("\r\n");
    let mut out = String::with_capacity(block.len() + 16);
    out.push_str(lines.next().unwrap_or("NATS/1.0"));
    out.push_str("\r\n");
    for line in lines.take_while(|l| !l.is_empty()) {
        let name = line.split_once(':').map_or(line, |(n, _)| n).trim();
        if !name.eq_ignore_ascii_case(NATS_TTL) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("{NATS_TTL}: {seconds}\r\n\r\n"));
    Bytes::from(out)
}

/// Messages with a TTL, by expiry: the next deadline is the first entry, a tick takes a prefix.
#[derive(Debug, Default)]
pub(super) struct TtlIndex {
    due: BTreeSet<(Nanos, Seq)>,
}

impl TtlIndex {
    /// Tracks message `seq`, expiring at `expires`.
    fn add(&mut self, seq: Seq, expires: Nanos) {
        self.due.insert((expires, seq));
    }

    /// Stops tracking message `seq` expiring at `expires`.
    fn remove(&mut self, seq: Seq, expires: Nanos) {
        self.due.remove(&(expires, seq));
    }

    /// The earliest expiry tracked.
    pub(super) fn next(&self) -> Option<Nanos> {
        self.due.first().map(|(t, _)| *t)
    }

    /// Takes every entry due at `now`, in sequence order.
    fn take_due(&mut self, now: Nanos) -> Vec<Seq> {
        let later = self.due.split_off(&(now.saturating_add(1), 0));
        let due = std::mem::replace(&mut self.due, later);
        let mut seqs: Vec<Seq> = due.into_iter().map(|(_, seq)| seq).collect();
        seqs.sort_unstable();
        seqs
    }

    /// Forgets entries past `last` (messages a failed sync took back; their sequences will be
    /// used again).
    pub(super) fn forget_after(&mut self, last: Seq) {
        self.due.retain(|(_, seq)| *seq <= last);
    }

    /// How many entries (some may be stale).
    pub(super) fn len(&self) -> usize {
        self.due.len()
    }
}

impl Stream {
    /// Starts tracking the TTL of the message just stored at `seq`.
    pub(super) fn track_ttl(&mut self, seq: Seq, time: Nanos, ttl: MsgTtl) {
        let MsgTtl::Seconds(seconds) = ttl else {
            return;
        };
        if !self.config.allow_msg_ttl {
            return;
        }
        self.ttls.add(seq, expires_at(time, seconds));
        let msgs = usize::try_from(self.store.state().msgs).unwrap_or(usize::MAX);
        if self.ttls.len() > msgs.saturating_mul(2).saturating_add(STALE_SLACK) {
            let store = self.store.as_ref();
            self.ttls
                .due
                .retain(|(_, seq)| store.load_msg(*seq).is_ok());
        }
    }

    /// Rebuilds the TTL index from the stored messages' headers (after a reopen, or when an
    /// update turns `allow_msg_ttl` on).
    pub(super) fn rebuild_ttls(&mut self) {
        self.ttls = TtlIndex::default();
        if !self.config.allow_msg_ttl {
            return;
        }
        let mut seq = self.store.state().first_seq;
        // Each step moves past one stored message, so this ends after at most `msgs` steps.
        while let Ok(msg) = self.store.load_next_msg("", seq) {
            if let MsgTtl::Seconds(seconds) = stored_ttl(&msg) {
                self.ttls.add(msg.seq, expires_at(msg.time, seconds));
            }
            seq = msg.seq + 1;
        }
    }

    /// Lets go of the messages whose TTL passed at `now`. Returns how many were removed (a
    /// message waiting for its marker is not counted).
    pub(super) fn expire_ttls(&mut self, now: Nanos) -> Result<u64, ApiError> {
        if self.ttls.next().is_none_or(|t| t > now) {
            return Ok(0);
        }
        let mut removed = 0;
        for seq in self.ttls.take_due(now) {
            // Gone another way (delete, purge, limits, max_age) since it was tracked.
            let Ok(msg) = self.store.load_msg(seq) else {
                continue;
            };
            if self.let_go(&msg)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Lets go of one expired message: removes it, or, when it is the last of its subject and
    /// subject delete markers are on, leaves it for the marker's rollup. True when removed.
    pub(super) fn let_go(&mut self, msg: &StoredMsg) -> Result<bool, ApiError> {
        if self.markers.contains_key(&msg.seq) {
            return Ok(false);
        }
        if self.config.subject_delete_marker_ttl > 0
            && !is_marker(msg.headers.as_deref())
            && self.store.filtered_state(0, &msg.subject).msgs == 1
        {
            self.markers.insert(msg.seq, msg.subject.clone());
            return Ok(false);
        }
        let removed = self
            .store
            .remove_msg(msg.seq)
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamGeneralError, e))?;
        if removed {
            self.note_removal(Removal::Msg(msg.seq));
            // Aged out before its TTL: its entry would only be a wake-up for nothing.
            if let MsgTtl::Seconds(seconds) = stored_ttl(msg) {
                self.ttls.remove(msg.seq, expires_at(msg.time, seconds));
            }
        }
        Ok(removed)
    }

    /// The subject delete markers expiry asked for since the last call: the expiring message's
    /// sequence and its subject, in sequence order. The engine publishes each with
    /// [`Stream::marker_headers`] (its rollup removes the message), or removes the message
    /// itself when the marker is refused.
    pub fn take_markers(&mut self) -> BTreeMap<Seq, String> {
        std::mem::take(&mut self.markers)
    }

    /// The header block of a subject delete marker, as nats-server writes it.
    pub fn marker_headers(&self) -> Bytes {
        // Whole seconds, as nats-server keeps the marker TTL.
        let whole_seconds = self.config.subject_delete_marker_ttl / SECONDS * SECONDS;
        Bytes::from(format!(
            "NATS/1.0\r\n{NATS_MARKER_REASON}: {MARKER_REASON_MAX_AGE}\r\n{NATS_TTL}: {}\r\n\
             {NATS_ROLLUP}: sub\r\n\r\n",
            go_duration(whole_seconds)
        ))
    }

    /// The TTL a publish asks for, after the header checks: 10165 when it does not parse, and
    /// with subject delete markers a positive TTL is raised to the marker TTL (unless the
    /// stream keeps one message per subject), as nats-server does so that a marker already on
    /// the subject cannot make a later one be missed.
    /// Returns the TTL and, when raised, the rewritten header block.
    pub(super) fn publish_ttl(
        &self,
        text: &str,
        block: Option<&[u8]>,
    ) -> Result<(MsgTtl, Option<Bytes>), ApiError> {
        let ttl = parse_ttl(text)?;
        let marker_seconds =
            u64::try_from(self.config.subject_delete_marker_ttl / SECONDS).unwrap_or(0);
        match (ttl, block) {
            (MsgTtl::Seconds(s), Some(block))
                if marker_seconds > 0
                    && self.config.max_msgs_per_subject != 1
                    && s < marker_seconds =>
            {
                Ok((
                    MsgTtl::Seconds(marker_seconds),
                    Some(with_ttl_header(block, marker_seconds)),
                ))
            }
            _ => Ok((ttl, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_values_read_as_nats_server_reads_them() {
        let ok = |t: &str| parse_ttl(t).expect(t);
        assert_eq!(ok(""), MsgTtl::None);
        assert_eq!(ok("00"), MsgTtl::None);
        assert_eq!(ok("never"), MsgTtl::Never);
        assert_eq!(ok("NEVER"), MsgTtl::Never);
        assert_eq!(ok("5"), MsgTtl::Seconds(5));
        assert_eq!(ok("1s"), MsgTtl::Seconds(1));
        assert_eq!(ok("1.9s"), MsgTtl::Seconds(1));
        assert_eq!(ok("1m"), MsgTtl::Seconds(60));
        assert_eq!(ok("1h2m3s"), MsgTtl::Seconds(3723));
        assert_eq!(ok("1500ms"), MsgTtl::Seconds(1));
        assert_eq!(ok("+2s"), MsgTtl::Seconds(2));
        for bad in [
            "0",
            "-1",
            "-5s",
            "500ms",
            "abc",
            "1x",
            "1.s.",
            ".s",
            "1e3",
            "9999999999h",
        ] {
            let err = parse_ttl(bad).expect_err(bad);
            assert_eq!(err.err_code, 10165, "{bad}");
        }
    }

    #[test]
    fn a_raised_ttl_replaces_the_header_and_goes_last() {
        let block = b"NATS/1.0\r\nNats-TTL: 1s\r\nA: b\r\n\r\n";
        assert_eq!(
            &with_ttl_header(block, 60)[..],
            b"NATS/1.0\r\nA: b\r\nNats-TTL: 60\r\n\r\n"
        );
    }

    #[test]
    fn the_index_hands_out_what_is_due_in_sequence_order() {
        let mut index = TtlIndex::default();
        index.add(3, 10);
        index.add(1, 20);
        index.add(2, 10);
        index.add(4, 30);
        assert_eq!(index.next(), Some(10));
        assert_eq!(index.take_due(9), Vec::<Seq>::new());
        assert_eq!(index.take_due(20), vec![1, 2, 3]);
        assert_eq!(index.next(), Some(30));
        index.forget_after(3);
        assert_eq!((index.len(), index.next()), (0, None));
    }
}
