//! The publish pipeline, in nats-server's order (`processJetStreamMsg`):
//!
//! 1. a sealed stream refuses everything;
//! 2. with headers: `Nats-Expected-Stream`, `Nats-TTL` (refused unless `allow_msg_ttl`, but
//!    for a sourced message, kept as it is and honoured only with `allow_msg_ttl`),
//!    `Nats-Expected-Last-Subject-Sequence`, `Nats-Expected-Last-Sequence`, the `Nats-Msg-Id`
//!    duplicate check, `Nats-Expected-Last-Msg-Id`, and `Nats-Rollup`;
//! 3. `max_msg_size` and the 64 KiB header limit;
//! 4. no interest: take a sequence and keep nothing;
//! 5. the `Nats-TTL` value (10165 when it does not parse; raised to the marker TTL, see
//!    `ttl.rs`);
//! 6. discard-new limits, store, per-subject and discard-old limits, remember the id, roll up,
//!    track the TTL.
//!
//! A publish without headers and without limits touches the config and the store only.

use bytes::Bytes;

use super::origins::OriginVerdict;
use super::pub_headers::PubHeaders;
use super::removals::Removal;
use super::ttl::{parse_ttl, MsgTtl};
use super::{PubAck, RetentionPolicy, Stream};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::{record_size, Seq, StoreError};
use crate::core::time::Nanos;

/// Largest header block a stream stores (`math.MaxUint16`).
const MAX_HEADER_LEN: usize = u16::MAX as usize;

/// What a `Nats-Rollup` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rollup {
    /// No rollup.
    None,
    /// Replace the earlier messages on the same subject (`sub`).
    Subject,
    /// Replace every earlier message (`all`).
    All,
}

/// What the header checks leave for after the store.
struct Accepted<'h> {
    msg_id: &'h str,
    rollup: Rollup,
    /// The `Nats-TTL` value, read once the message is known to be kept.
    ttl: &'h str,
}

/// The outcome of the header checks that did not refuse the message.
enum Verdict<'h> {
    /// Go on and store it.
    Store(Accepted<'h>),
    /// A repeat of the message already stored at this sequence.
    Duplicate(Seq),
}

/// A number header as nats-server reads it: digits only, anything else is a value that matches
/// no sequence.
fn parse_seq(text: &str) -> Seq {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Seq::MAX;
    }
    text.parse().unwrap_or(Seq::MAX)
}

impl Stream {
    /// True when publishing a message with these headers could read or remove stored messages
    /// other than the newest: limits that trim or refuse (max msgs, bytes, age, per subject),
    /// interest retention (which consults the consumers), and the headers that look back (a
    /// `Nats-Msg-Id` duplicate check, `Nats-Expected-Last-Msg-Id`,
    /// `Nats-Expected-Last-Subject-Sequence`, `Nats-Rollup`). Any other publish needs only the
    /// config and the last sequence, so a store that has loaded just its newest messages (the
    /// browser's, right after opening) can take it.
    pub fn publish_looks_back(&self, headers: Option<&[u8]>) -> bool {
        let c = &self.config;
        let limited = c.max_msgs > 0
            || c.max_bytes > 0
            || c.max_age > 0
            || c.max_msgs_per_subject > 0
            || c.retention == RetentionPolicy::Interest;
        limited
            || headers.is_some_and(|block| {
                let h = PubHeaders::scan(block);
                !h.msg_id.is_empty()
                    || !h.expected_last_msg_id.is_empty()
                    || !h.expected_last_subject_seq.is_empty()
                    || !h.rollup.is_empty()
            })
    }

    /// Applies the stream's rules to one publish and stores it.
    ///
    /// `subject` is the subject to store under: the caller applies the stream's
    /// `subject_transform` first ([`Stream::stored_subject`]). A stored message the config
    /// republishes leaves its copy in [`Stream::take_republished`].
    ///
    /// `retain = false` means the engine found no consumer interested (interest retention): the
    /// message is checked, deduplicated and given a sequence, but nothing is kept, as
    /// nats-server does. The caller routes only subjects the stream captures.
    pub fn publish(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
        retain: bool,
    ) -> Result<PubAck, ApiError> {
        self.publish_from(subject, headers, payload, now, retain, false)
    }

    /// [`Stream::publish`] of a message a source copied from its origin: stored verbatim, so a
    /// `Nats-TTL` is not refused by a stream without `allow_msg_ttl` (it is kept, and honoured
    /// only with it), as nats-server's `processJetStreamMsg` does for `sourced` messages. The
    /// other rules (dedup by `Nats-Msg-Id` among them) apply as to any publish.
    pub fn publish_sourced(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
        retain: bool,
    ) -> Result<PubAck, ApiError> {
        self.publish_from(subject, headers, payload, now, retain, true)
    }

    fn publish_from(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
        retain: bool,
        sourced: bool,
    ) -> Result<PubAck, ApiError> {
        if self.config.sealed {
            return Err(ErrorKind::StreamSealed.into());
        }
        let headers = headers.filter(|h| !h.is_empty());
        // A cheap handle on the header bytes, so header values can be borrowed while the block
        // itself moves into the store.
        let block = headers.clone();
        let accepted = match block.as_deref() {
            Some(hdr) => match self.check_headers(subject, &PubHeaders::scan(hdr), now, sourced)? {
                // An upload's repeat after the duplicate window, or one out of order.
                Verdict::Store(accepted) => match self.origins.check(hdr, self.store.as_ref()) {
                    OriginVerdict::Store => accepted,
                    OriginVerdict::Duplicate(seq) => return Ok(self.ack(seq, true)),
                    OriginVerdict::OutOfOrder(mark) => {
                        return Err(ApiError::with_detail(
                            ErrorKind::StreamWrongLastSequence,
                            mark,
                        ))
                    }
                },
                Verdict::Duplicate(seq) => return Ok(self.ack(seq, true)),
            },
            None => Accepted {
                msg_id: "",
                rollup: Rollup::None,
                ttl: "",
            },
        };

        let hdr_len = headers.as_ref().map_or(0, |h| h.len());
        let max_size = self.config.max_msg_size;
        if max_size >= 0 && hdr_len + payload.len() > max_size as usize {
            return Err(ErrorKind::StreamMessageExceedsMaximum.into());
        }
        if hdr_len > MAX_HEADER_LEN {
            return Err(ErrorKind::StreamHeaderExceedsMaximum.into());
        }

        if !retain {
            let seq = self.store.skip_msg(now).map_err(store_failed)?;
            if let Some(block) = block.as_deref() {
                self.origins.stored(block, seq);
            }
            self.after_store(subject, seq, &accepted, now, 0)?;
            return Ok(self.ack(seq, false));
        }

        let (ttl, raised) = match accepted.ttl {
            "" => (MsgTtl::None, None),
            text => self.publish_ttl(text, block.as_deref())?,
        };
        let headers = raised.or(headers);
        let size = record_size(subject, headers.as_ref(), &payload);
        self.check_discard_new(subject, size, accepted.rollup != Rollup::None)?;
        let republish = self.prepare_republish(subject);
        // The copy needs the message after the store took it (cheap: reference-counted bytes).
        let copy = republish
            .as_ref()
            .map(|_| (headers.clone(), payload.clone()));
        let seq = self
            .store
            .store_msg(subject, headers, payload, now)
            .map_err(store_failed)?;
        self.enforce_after_store(subject);
        self.track_ttl(seq, now, ttl);
        if let Some(block) = block.as_deref() {
            self.origins.stored(block, seq);
        }
        self.after_store(subject, seq, &accepted, now, 1)?;
        if let (Some(pending), Some((headers, payload))) = (republish, copy) {
            self.republish(pending, subject, seq, now, headers.as_deref(), &payload);
        }
        Ok(self.ack(seq, false))
    }

    /// Runs the header checks in nats-server's order.
    fn check_headers<'h>(
        &self,
        subject: &str,
        hdr: &PubHeaders<'h>,
        now: Nanos,
        sourced: bool,
    ) -> Result<Verdict<'h>, ApiError> {
        if !hdr.expected_stream.is_empty() && hdr.expected_stream != self.config.name {
            return Err(ErrorKind::StreamNotMatch.into());
        }
        // A TTL (a value that does not parse counts as none here: it is refused later, with
        // 10165) needs `allow_msg_ttl`, unless a source copied it.
        if !sourced
            && !hdr.ttl.is_empty()
            && !self.config.allow_msg_ttl
            && parse_ttl(hdr.ttl).is_ok_and(|ttl| ttl != MsgTtl::None)
        {
            return Err(ErrorKind::MessageTTLDisabled.into());
        }
        self.check_expected_subject_seq(subject, hdr)?;
        if !hdr.expected_last_seq.is_empty() {
            let last = self.store.state().last_seq;
            if parse_seq(hdr.expected_last_seq) != last {
                return Err(ApiError::with_detail(
                    ErrorKind::StreamWrongLastSequence,
                    last,
                ));
            }
        }
        if !hdr.msg_id.is_empty() {
            if let Some(seq) = self
                .dedup
                .lookup(hdr.msg_id, now, self.config.duplicate_window)
            {
                return Ok(Verdict::Duplicate(seq));
            }
        }
        if !hdr.expected_last_msg_id.is_empty() && hdr.expected_last_msg_id != self.last_msg_id {
            return Err(ApiError::with_detail(
                ErrorKind::StreamWrongLastMsgID,
                &self.last_msg_id,
            ));
        }
        let rollup = self.check_rollup(hdr.rollup)?;
        Ok(Verdict::Store(Accepted {
            msg_id: hdr.msg_id,
            rollup,
            ttl: hdr.ttl,
        }))
    }

    /// `Nats-Expected-Last-Subject-Sequence`: the last message on the subject (or on the subject
    /// named by `...-Subject`) must have this sequence; 0 means there must be none.
    fn check_expected_subject_seq(
        &self,
        subject: &str,
        hdr: &PubHeaders<'_>,
    ) -> Result<(), ApiError> {
        let other = hdr.expected_last_subject_seq_subject;
        if hdr.expected_last_subject_seq.is_empty() {
            if !other.is_empty() {
                return Err(ErrorKind::StreamExpectedLastSeqPerSubjectInvalid.into());
            }
            return Ok(());
        }
        let expected = parse_seq(hdr.expected_last_subject_seq);
        let on = if other.is_empty() { subject } else { other };
        let (found, ok) = match self.store.load_last_msg(on) {
            Ok(msg) => (msg.seq, msg.seq == expected),
            Err(StoreError::NotFound) => (0, expected == 0),
            Err(_) => (0, false),
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::with_detail(
                ErrorKind::StreamWrongLastSequence,
                found,
            ))
        }
    }

    /// `Nats-Rollup: sub|all`, allowed only with `allow_rollup_hdrs` (and purges permitted).
    fn check_rollup(&self, value: &str) -> Result<Rollup, ApiError> {
        if value.is_empty() {
            return Ok(Rollup::None);
        }
        if !self.config.allow_rollup_hdrs || self.config.deny_purge {
            return Err(ApiError::with_detail(
                ErrorKind::StreamRollupFailed,
                "rollup not permitted",
            ));
        }
        match value.to_ascii_lowercase().as_str() {
            "sub" => Ok(Rollup::Subject),
            "all" => Ok(Rollup::All),
            other => Err(ApiError::with_detail(
                ErrorKind::StreamRollupFailed,
                format_args!("rollup value invalid: {other:?}"),
            )),
        }
    }

    /// Bookkeeping once a sequence is taken: last id, duplicate table, rollup purge keeping the
    /// newest `keep` messages (1 when the new message was stored, 0 when it was not).
    fn after_store(
        &mut self,
        subject: &str,
        seq: Seq,
        accepted: &Accepted<'_>,
        now: Nanos,
        keep: u64,
    ) -> Result<(), ApiError> {
        self.last_msg_id.clear();
        if !accepted.msg_id.is_empty() {
            self.last_msg_id.push_str(accepted.msg_id);
            self.dedup
                .insert(accepted.msg_id, seq, now, self.config.duplicate_window);
        }
        let filter = match accepted.rollup {
            Rollup::None => return Ok(()),
            Rollup::Subject => subject,
            Rollup::All => "",
        };
        self.store
            .purge(filter, 0, keep)
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamRollupFailed, e))?;
        self.note_removal(Removal::Purge {
            filter: filter.to_string(),
        });
        Ok(())
    }

    fn ack(&self, seq: Seq, duplicate: bool) -> PubAck {
        PubAck {
            stream: self.ack_name.clone(),
            seq,
            domain: None,
            duplicate,
        }
    }
}

/// A store refusal as a publisher sees it.
fn store_failed(e: StoreError) -> ApiError {
    ApiError::with_detail(ErrorKind::StreamStoreFailed, e)
}
