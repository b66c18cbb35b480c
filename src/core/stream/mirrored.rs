//! Storing a mirror's messages: at the origin's sequence and time, not the next local ones.
//!
//! nats-server hands a mirrored message to `processJetStreamMsg` with the origin's sequence
//! and timestamp: the stream's limits apply as to any message, but no publish header is checked
//! (the origin checked them) and no `Nats-Msg-Id` is remembered (a mirror does not dedup). A
//! sequence the origin no longer has is skipped here too (`skipMsgs`): the local store then
//! counts it as deleted, or, while the mirror is empty, starts after it (`Compact`).
//!
//! A `Nats-TTL` is stored as it came; a mirror with `allow_msg_ttl` expires the copy when
//! the origin's expires (the TTL counts from the origin's time), one without keeps it. A TTL
//! that does not parse is kept as text and ignored, where nats-server would refuse the
//! message and stall the mirror on it.

use bytes::Bytes;

use super::pub_headers::PubHeaders;
use super::ttl::{parse_ttl, MsgTtl};
use super::{PubAck, Stream};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::{record_size, Seq};
use crate::core::time::Nanos;

/// The refusal of a mirrored message that does not follow the stream's last sequence.
fn out_of_order() -> ApiError {
    ApiError::new(ErrorKind::StreamSequenceNotMatch)
}

/// Most sequences one skip may cover in a mirror that holds messages. Each skipped sequence
/// costs a step (and a record in the file store), as in nats-server's `SkipMsgs`; an origin
/// naming a sequence far past this one is refused rather than followed into an endless loop.
pub const MAX_MIRROR_SKIP: u64 = 1 << 20;

fn store_failed(e: crate::core::store::StoreError) -> ApiError {
    ApiError::with_detail(ErrorKind::StreamStoreFailed, e)
}

impl Stream {
    /// Stores a mirrored message at exactly `seq` with the origin's `time`. Sequences between
    /// the stream's last and `seq` are skipped first (the origin deleted them). A `seq` at or
    /// below the last one is refused (10063), as is anything a limit refuses.
    pub fn store_mirrored(
        &mut self,
        seq: Seq,
        time: Nanos,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
    ) -> Result<PubAck, ApiError> {
        if self.config.sealed {
            return Err(ErrorKind::StreamSealed.into());
        }
        let headers = headers.filter(|h| !h.is_empty());
        self.skip_mirrored_to(seq.saturating_sub(1), time)?;
        let last = self.store.state().last_seq;
        if last + 1 != seq {
            return Err(out_of_order());
        }
        let size = record_size(subject, headers.as_ref(), &payload);
        self.check_discard_new(subject, size, false)?;
        let republish = self.prepare_republish(subject);
        let copy = republish
            .as_ref()
            .map(|_| (headers.clone(), payload.clone()));
        let ttl = headers
            .as_deref()
            .and_then(|block| parse_ttl(PubHeaders::scan(block).ttl).ok())
            .unwrap_or(MsgTtl::None);
        let stored = self
            .store
            .store_msg(subject, headers, payload, time)
            .map_err(store_failed)?;
        self.enforce_after_store(subject);
        self.track_ttl(stored, time, ttl);
        self.last_msg_id.clear();
        if let (Some(pending), Some((headers, payload))) = (republish, copy) {
            self.republish(pending, subject, stored, time, headers.as_deref(), &payload);
        }
        Ok(self.mirror_ack(stored))
    }

    /// Advances a mirror's last sequence to `last` without storing (the origin has nothing
    /// there any more). An empty stream moves its first sequence past it at once; otherwise each
    /// skipped sequence counts as deleted. Nothing happens when `last` is not ahead.
    pub fn skip_mirrored_to(&mut self, last: Seq, time: Nanos) -> Result<(), ApiError> {
        let state = self.store.state();
        if last <= state.last_seq {
            return Ok(());
        }
        if state.msgs == 0 {
            self.store.compact(last + 1).map_err(store_failed)?;
            return Ok(());
        }
        if last - state.last_seq > MAX_MIRROR_SKIP {
            return Err(ApiError::with_detail(
                ErrorKind::StreamStoreFailed,
                format_args!(
                    "mirror gap of {} sequences exceeds {MAX_MIRROR_SKIP}",
                    last - state.last_seq
                ),
            ));
        }
        while self.store.state().last_seq < last {
            self.store.skip_msg(time).map_err(store_failed)?;
        }
        Ok(())
    }

    fn mirror_ack(&self, seq: Seq) -> PubAck {
        PubAck {
            stream: self.ack_name.clone(),
            seq,
            domain: None,
            duplicate: false,
        }
    }
}
