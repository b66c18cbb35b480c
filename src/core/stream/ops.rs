//! Operations on stored messages: purge, get, delete, and the info report, with the checks and
//! error codes of nats-server's `$JS.API.STREAM.PURGE`, `MSG.GET`, `MSG.DELETE` and `INFO`
//! handlers (`server/jetstream_api.go`).

use serde::{Deserialize, Serialize};

use super::info::{InfoOptions, StreamInfo, StreamStateInfo, SubjectsPaging, MAX_SUBJECT_DETAILS};
use super::removals::Removal;
use super::{seq_from_time, Stream};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::{Seq, StoredMsg};
use crate::core::time::{rfc3339_opt, Nanos};

/// A `STREAM.PURGE` request (`JSApiStreamPurgeRequest`); all fields optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRequest {
    /// Purge only messages whose subject matches this filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Purge messages below this sequence (not including it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Keep this many of the newest (matching) messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u64>,
}

/// A `STREAM.MSG.GET` request (`JSApiMsgGetRequest`). Exactly one of `seq`, `last_by_subj`,
/// `start_time` picks the message; `next_by_subj` filters from `seq` or `start_time`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgGetRequest {
    /// The message with this sequence (or, with `next_by_subj`, the first at or after it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// The last message whose subject matches this filter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_by_subj: String,
    /// The first message whose subject matches this filter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_by_subj: String,
    /// Batched gets are a direct-get feature; refused here as nats-server does.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub batch: i64,
    /// Byte cap of batched gets; refused here as nats-server does.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// The first message stored at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub start_time: Option<Nanos>,
    /// Direct get only: last messages of several subjects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multi_last: Vec<String>,
    /// Direct get only: upper sequence bound.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub up_to_seq: u64,
    /// Direct get only: upper time bound.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub up_to_time: Option<Nanos>,
    /// Leave the headers out of the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_hdr: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

impl MsgGetRequest {
    /// nats-server's consistency rules: one way to pick a message, no batching.
    fn check(&self) -> Result<(), ApiError> {
        let (seq, last, next, start) = (
            self.seq > 0,
            !self.last_by_subj.is_empty(),
            !self.next_by_subj.is_empty(),
            self.start_time.is_some(),
        );
        let conflicting = (seq && last)
            || (!seq && !last && !next && !start)
            || (seq && start)
            || (start && last)
            || (last && next);
        if self.batch > 0 || self.max_bytes > 0 || conflicting {
            return Err(ErrorKind::BadRequest.into());
        }
        Ok(())
    }
}

impl Stream {
    /// Purges messages (all, by filter, below a sequence, or all but the newest `keep`);
    /// returns how many were removed.
    pub fn purge(&mut self, req: &PurgeRequest) -> Result<u64, ApiError> {
        let seq = req.seq.unwrap_or(0);
        let keep = req.keep.unwrap_or(0);
        if seq > 0 && keep > 0 {
            return Err(ErrorKind::BadRequest.into());
        }
        if self.config.sealed {
            return Err(ErrorKind::StreamSealed.into());
        }
        if self.config.deny_purge {
            return Err(ApiError::with_detail(
                ErrorKind::StreamPurgeFailed,
                "stream purge not permitted",
            ));
        }
        let filter = req.filter.as_deref().unwrap_or("");
        let purged = self
            .store
            .purge(filter, seq, keep)
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamGeneralError, e))?;
        self.note_removal(Removal::Purge {
            filter: filter.to_string(),
        });
        Ok(purged)
    }

    /// One stored message, picked by sequence, last or next by subject, or time;
    /// `NoMessageFound` (10037) when there is none.
    pub fn get_msg(&self, req: &MsgGetRequest) -> Result<StoredMsg, ApiError> {
        req.check()?;
        let seq = match req.start_time {
            Some(t) => seq_from_time(self.store.as_ref(), t),
            None => req.seq,
        };
        let found = if !req.next_by_subj.is_empty() {
            self.store.load_next_msg(&req.next_by_subj, seq)
        } else if seq > 0 {
            self.store.load_msg(seq)
        } else {
            self.store.load_last_msg(&req.last_by_subj)
        };
        let mut msg = found.map_err(|_| ApiError::new(ErrorKind::NoMessageFound))?;
        if req.no_hdr {
            msg.headers = None;
        }
        Ok(msg)
    }

    /// Deletes one message on a client's request: refused on a sealed stream or with
    /// `deny_delete`; `SequenceNotFound` (10043) when there is no such message.
    ///
    /// `no_erase` asks nats-server not to overwrite the bytes; Contrail's stores drop the message
    /// either way.
    pub fn delete_msg(&mut self, seq: Seq, no_erase: bool) -> Result<(), ApiError> {
        let _ = no_erase;
        if self.config.sealed {
            return Err(ErrorKind::StreamSealed.into());
        }
        if self.config.deny_delete {
            return Err(ApiError::with_detail(
                ErrorKind::StreamMsgDeleteFailed,
                "message delete not permitted",
            ));
        }
        match self.remove_msg(seq)? {
            true => Ok(()),
            false => Err(ApiError::with_detail(ErrorKind::SequenceNotFound, seq)),
        }
    }

    /// Removes one message for the engine (work-queue and interest acks): no policy checks.
    /// `Ok(false)` when it was not there.
    pub fn remove_msg(&mut self, seq: Seq) -> Result<bool, ApiError> {
        let removed = self
            .store
            .remove_msg(seq)
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamMsgDeleteFailed, e))?;
        if removed {
            self.note_removal(Removal::Msg(seq));
        }
        Ok(removed)
    }

    /// The stream's `StreamInfo` at `now`, with the details `opts` asks for. The engine adds the
    /// domain and cluster fields.
    pub fn info(&self, now: Nanos, consumer_count: usize, opts: &InfoOptions) -> StreamInfo {
        let mut state = StreamStateInfo::from_state(&self.store.state(), consumer_count);
        if opts.deleted_details {
            state.deleted = self.store.deleted();
        }
        let mut subjects_paging = None;
        if let Some(filter) = opts.subjects_filter.as_deref().filter(|f| !f.is_empty()) {
            let all = self.store.subjects_state(filter);
            if !all.is_empty() {
                subjects_paging = Some(SubjectsPaging {
                    total: all.len(),
                    offset: opts.offset,
                    limit: MAX_SUBJECT_DETAILS,
                });
                state.subjects = all
                    .into_iter()
                    .skip(opts.offset)
                    .take(MAX_SUBJECT_DETAILS)
                    .map(|(subject, ss)| (subject, ss.msgs))
                    .collect();
            }
        }
        StreamInfo {
            config: self.config.clone(),
            created: self.created,
            state,
            domain: None,
            cluster: None,
            mirror: None,
            sources: Vec::new(),
            ts: now,
            subjects_paging,
        }
    }
}
