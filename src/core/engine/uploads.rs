//! The engine hosts uploads (`core::sync::upload`): it reads their stream, sends their
//! publishes as its own requests over their link, hands them the outcomes and persists their
//! cursors.
//!
//! An upload's cursor is the ack floor of a durable pull consumer on the local stream, named
//! like the upload, with `ack_policy: all`. The engine already persists consumers on every
//! store (file, memory, IndexedDB) in the same commit as the messages, so the cursor survives a
//! reload with nothing new in any store, and `consumer info` shows the upload's backlog as
//! `num_pending`. The consumer's metadata holds the origin id (`contrail.upload.origin`),
//! chosen by the shell from real randomness when the consumer is made: a stream deleted and
//! made again gets a new consumer and so a new origin, so its restarted sequences are never
//! taken for repeats of the old ones. The consumer is the upload's: pulling from it moves
//! nothing, and the upload moves its floor directly.
//!
//! Driving happens in [`Engine::flush`]: outcomes first (so an advanced cursor is saved in the
//! same sync), new publishes last, and only of messages that sync made durable, so the server
//! never holds a message this database could still take back.

use std::collections::BTreeMap;

use super::Engine;
use crate::core::consumer::{AckPolicy, Consumer, ConsumerConfig, DeliverPolicy};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::SequencePair;
use crate::core::sync::upload::{UploadConfig, UploadStatus, Uploader};
use crate::core::time::Nanos;

/// The consumer metadata key holding the upload's origin id.
pub const ORIGIN_METADATA: &str = "contrail.upload.origin";

/// The consumer metadata key naming the remote stream (informational).
pub const REMOTE_METADATA: &str = "contrail.upload.to";

impl Engine {
    /// Starts (or restarts with a new config) upload `name` of `config.stream`: resumes after
    /// the cursor kept in consumer `name`, or makes that consumer with `new_origin` as the
    /// origin id (the shell draws it from real randomness; at least 8 characters of
    /// `[A-Za-z0-9_-]`).
    pub fn start_upload(
        &mut self,
        name: &str,
        config: UploadConfig,
        new_origin: &str,
        now: Nanos,
    ) -> Result<UploadStatus, ApiError> {
        self.clock = self.clock.max(now);
        let valid_origin = new_origin.len() >= 8
            && new_origin
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_origin {
            return Err(ApiError::with_detail(
                ErrorKind::BadRequest,
                "upload origin id must be 8 or more of [A-Za-z0-9_-]",
            ));
        }
        let existing = self
            .slot(&config.stream)?
            .consumers
            .get(name)
            .map(|c| c.record());
        let (origin, cursor) = match existing {
            Some(record) => {
                let consumer_config: ConsumerConfig = serde_json::from_slice(&record.config)
                    .map_err(|e| ApiError::with_detail(ErrorKind::InvalidJSON, e))?;
                let Some(origin) = consumer_config.metadata.get(ORIGIN_METADATA) else {
                    return Err(ApiError::with_detail(
                        ErrorKind::ConsumerNameExist,
                        format!("consumer {name} exists and is not an upload's"),
                    ));
                };
                (origin.clone(), record.state.ack_floor.stream_seq)
            }
            None => {
                let mut consumer = ConsumerConfig {
                    durable_name: Some(name.to_string()),
                    ack_policy: AckPolicy::All,
                    deliver_policy: DeliverPolicy::All,
                    description: Some(format!("upload to {}", config.remote_stream)),
                    ..ConsumerConfig::default()
                };
                consumer
                    .metadata
                    .insert(ORIGIN_METADATA.to_string(), new_origin.to_string());
                consumer
                    .metadata
                    .insert(REMOTE_METADATA.to_string(), config.remote_stream.clone());
                let stream = config.stream.clone();
                self.create_consumer(&stream, consumer, super::CreateAction::Create, now)?;
                (new_origin.to_string(), 0)
            }
        };
        let uploader = Uploader::new(config, &origin, cursor);
        self.uploads.insert(name.to_string(), uploader);
        self.upload_status(name)
            .ok_or_else(|| ApiError::new(ErrorKind::ConsumerNotFound))
    }

    /// Tells the engine the time before a [`Engine::flush`] (which takes none) when nothing
    /// else did since: the uploads' publishes it starts get their deadlines from it.
    pub fn set_clock(&mut self, now: Nanos) {
        self.clock = self.clock.max(now);
    }

    /// Stops upload `name` (its consumer, and so its cursor, stays); false if none ran.
    pub fn stop_upload(&mut self, name: &str) -> bool {
        self.uploads.remove(name).is_some()
    }

    /// Pauses or resumes upload `name`; false if none runs.
    pub fn pause_upload(&mut self, name: &str, paused: bool) -> bool {
        let Some(upload) = self.uploads.get_mut(name) else {
            return false;
        };
        upload.set_paused(paused);
        if !paused {
            upload.retry_now();
        }
        true
    }

    /// The names of the running uploads.
    pub fn upload_names(&self) -> Vec<String> {
        self.uploads.keys().cloned().collect()
    }

    /// Upload `name`'s status.
    pub fn upload_status(&self, name: &str) -> Option<UploadStatus> {
        let upload = self.uploads.get(name)?;
        let config = upload.config();
        let pending = self
            .streams
            .get(&config.stream)
            .map(|slot| {
                let start = upload.cursor().saturating_add(1);
                slot.stream.store().num_pending(start, ">", false)
            })
            .unwrap_or(0);
        Some(upload.status(name, pending, self.surface.is_up(config.dest)))
    }

    /// The earliest end of an upload's backoff.
    pub(super) fn next_upload_deadline(&self) -> Option<Nanos> {
        self.uploads
            .values()
            .filter_map(Uploader::next_deadline)
            .min()
    }

    /// Hands the uploads their outcomes and saves the cursors that moved (at the start of a
    /// flush, so the save is in its sync).
    pub(super) fn settle_uploads(&mut self) {
        if self.uploads.is_empty() {
            self.surface.internal_outcomes.clear();
            return;
        }
        let now = self.clock;
        let mut moved = BTreeMap::new();
        while let Some(outcome) = self.surface.internal_outcomes.pop_front() {
            let owner = self.uploads.iter_mut().find(|(_, u)| u.owns(outcome.id));
            if let Some((name, upload)) = owner {
                if upload.on_outcome(outcome.id, outcome.result, now) {
                    moved.insert(name.clone(), upload.cursor());
                }
            }
        }
        for (name, cursor) in moved {
            self.save_upload_cursor(&name, cursor);
        }
    }

    /// Sends what the uploads may send now: only messages already durable (called at the end of
    /// a flush and of a completed flush ticket).
    pub(super) fn send_uploads(&mut self) {
        if self.uploads.is_empty() {
            return;
        }
        let now = self.clock;
        let mut uploads = std::mem::take(&mut self.uploads);
        uploads.retain(|_, upload| self.streams.contains_key(&upload.config().stream));
        for upload in uploads.values_mut() {
            let config = upload.config().clone();
            if self.failing.contains_key(&config.stream) {
                continue; // its newest messages may still be taken back
            }
            let online = self.surface.is_up(config.dest);
            while upload.can_send(online, now) {
                let Some(slot) = self.streams.get(&config.stream) else {
                    break;
                };
                let Ok(stored) = slot.stream.store().load_next_msg(">", upload.next_seq()) else {
                    break;
                };
                if stored.seq > slot.durability.synced_seq {
                    // Not durable yet (a queued commit in flight, or a failed sync that may
                    // take it back): a server must never hold what this database may lose.
                    break;
                }
                let msg = upload.publish_for(&stored);
                let id = self.send_request(config.dest, msg, config.ack_timeout, now, true);
                upload.sent(stored.seq, id);
            }
        }
        self.uploads = uploads;
    }

    /// Moves upload `name`'s consumer's floor to `cursor` and saves it.
    fn save_upload_cursor(&mut self, name: &str, cursor: u64) {
        let Some(stream) = self.uploads.get(name).map(|u| u.config().stream.clone()) else {
            return;
        };
        let now = self.clock;
        let Some(slot) = self.streams.get_mut(&stream) else {
            return;
        };
        let Some(consumer) = slot.consumers.get(name) else {
            return; // deleted from under the upload: the cursor lives on in memory only
        };
        let mut record = consumer.record();
        if record.state.ack_floor.stream_seq >= cursor {
            return;
        }
        let at = SequencePair {
            consumer_seq: cursor,
            stream_seq: cursor,
        };
        record.state.delivered = at;
        record.state.ack_floor = at;
        record.state.pending.clear();
        record.state.redelivered.clear();
        if let Ok(moved) = Consumer::restore(&stream, record, now) {
            slot.consumers.insert(name.to_string(), moved);
            let _ = self.persist_consumer(&stream, name);
        }
    }
}
