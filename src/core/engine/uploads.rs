//! The engine hosts uploads (`core::sync::upload`): it reads their stream, sends their
//! publishes as its own requests over their link, hands them the outcomes and persists their
//! cursors and configs.
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
//! The same metadata is the upload's persisted record: the remote stream, the server (the
//! shell's name for it, a URL in the browser), whether it is paused, and its pacing. An engine
//! restored from a database runs every upload it finds ([`Engine::restore_uploads`]) without a
//! link: it is listed and waits until the shell binds the uploads of a server to a link
//! ([`Engine::bind_uploads`]). So an upload configured while offline, or left running when a
//! page closed, goes on after its cursor once a connection to its server comes up, and
//! [`Engine::forget_upload`] removes the record (the consumer) for good.
//!
//! Driving happens in [`Engine::flush`]: outcomes first (so an advanced cursor is saved in the
//! same sync), new publishes last, and only of messages that sync made durable, so the server
//! never holds a message this database could still take back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::core::consumer::{AckPolicy, Consumer, ConsumerConfig, DeliverPolicy};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::message::{Destination, LinkId};
use crate::core::store::SequencePair;
use crate::core::sync::upload::{UploadConfig, UploadStatus, Uploader};
use crate::core::time::Nanos;

/// The consumer metadata key holding the upload's origin id.
pub const ORIGIN_METADATA: &str = "contrail.upload.origin";

/// The consumer metadata key naming the remote stream.
pub const REMOTE_METADATA: &str = "contrail.upload.to";

/// The consumer metadata key naming the server uploaded to (the shell's name for it).
pub const SERVER_METADATA: &str = "contrail.upload.server";

/// The consumer metadata key present (`true`) while the upload is paused.
pub const PAUSED_METADATA: &str = "contrail.upload.paused";

/// The consumer metadata key holding the subject prefix, when there is one.
pub const PREFIX_METADATA: &str = "contrail.upload.subject_prefix";

/// The consumer metadata key holding the window (publishes out at once).
pub const WINDOW_METADATA: &str = "contrail.upload.window";

/// The consumer metadata key holding the PubAck timeout in nanoseconds.
pub const ACK_TIMEOUT_METADATA: &str = "contrail.upload.ack_timeout";

/// Where an upload without a link sends: a link no shell names, so it is never up and the
/// upload waits (listed, with its cursor) until [`Engine::bind_uploads`] gives it one.
pub const UNBOUND: Destination = Destination::Link(LinkId(u32::MAX));

/// An upload the engine runs, with what the engine keeps beside the uploader.
#[derive(Debug, Clone)]
pub(super) struct HostedUpload {
    uploader: Uploader,
    /// The server it uploads to, as recorded (`None` for an upload started without one).
    server: Option<String>,
    /// Its link was up at least once since it was bound to it.
    seen_up: bool,
    /// Times its link came back after going down, since it was bound.
    reconnects: u64,
}

/// An upload's status with what the engine adds: the server and the reconnect count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReport {
    /// The uploader's own status.
    #[serde(flatten)]
    pub upload: UploadStatus,
    /// The server it uploads to, as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Times its link came back after going down since it was bound to it.
    pub reconnects: u64,
}

/// The upload config a consumer's metadata records for local stream `stream`, over `dest`;
/// `None` unless it is an upload's (origin and remote stream present).
fn recorded_config(
    stream: &str,
    metadata: &BTreeMap<String, String>,
    dest: Destination,
) -> Option<UploadConfig> {
    metadata.get(ORIGIN_METADATA)?;
    let remote = metadata.get(REMOTE_METADATA)?;
    let mut config = UploadConfig::new(stream, remote, dest);
    config.subject_prefix = metadata.get(PREFIX_METADATA).cloned();
    // Values no upload records (a consumer's metadata edited by hand) keep the defaults.
    let window = metadata
        .get(WINDOW_METADATA)
        .and_then(|w| w.parse::<usize>().ok());
    if let Some(window) = window.filter(|w| *w > 0) {
        config.window = window;
    }
    let timeout = metadata
        .get(ACK_TIMEOUT_METADATA)
        .and_then(|t| t.parse::<Nanos>().ok());
    if let Some(timeout) = timeout.filter(|t| *t > 0) {
        config.ack_timeout = timeout;
    }
    Some(config)
}

/// Writes `config`'s pacing, its prefix and `server` (when given) into `metadata`.
fn record_config(
    metadata: &mut BTreeMap<String, String>,
    config: &UploadConfig,
    server: Option<&str>,
) {
    metadata.insert(REMOTE_METADATA.to_string(), config.remote_stream.clone());
    match &config.subject_prefix {
        Some(prefix) => metadata.insert(PREFIX_METADATA.to_string(), prefix.clone()),
        None => metadata.remove(PREFIX_METADATA),
    };
    metadata.insert(WINDOW_METADATA.to_string(), config.window.to_string());
    metadata.insert(
        ACK_TIMEOUT_METADATA.to_string(),
        config.ack_timeout.to_string(),
    );
    if let Some(server) = server {
        metadata.insert(SERVER_METADATA.to_string(), server.to_string());
    }
}

impl Engine {
    /// Starts (or restarts with a new config) upload `name` of `config.stream`: resumes after
    /// the cursor kept in consumer `name`, or makes that consumer with `new_origin` as the
    /// origin id (the shell draws it from real randomness; at least 8 characters of
    /// `[A-Za-z0-9_-]`). No server is recorded (see [`Engine::start_upload_to`]).
    pub fn start_upload(
        &mut self,
        name: &str,
        config: UploadConfig,
        new_origin: &str,
        now: Nanos,
    ) -> Result<UploadStatus, ApiError> {
        self.start_upload_to(name, config, None, new_origin, now)
    }

    /// [`Engine::start_upload`] that records `server` (the shell's name for the server the
    /// upload goes to) with the config, so a restored engine can bind it again
    /// ([`Engine::bind_uploads`]). `config.dest` may be [`UNBOUND`]: the upload is recorded and
    /// waits for a link. A paused upload stays paused.
    pub fn start_upload_to(
        &mut self,
        name: &str,
        config: UploadConfig,
        server: Option<&str>,
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
            .map(|c| c.config().metadata.clone());
        let (origin, paused, server) = match existing {
            Some(metadata) => {
                let Some(origin) = metadata.get(ORIGIN_METADATA).cloned() else {
                    return Err(ApiError::with_detail(
                        ErrorKind::ConsumerNameExist,
                        format!("consumer {name} exists and is not an upload's"),
                    ));
                };
                let mut updated = metadata.clone();
                record_config(&mut updated, &config, server);
                if updated != metadata {
                    self.rewrite_upload_metadata(&config.stream, name, updated.clone());
                }
                let paused = updated.contains_key(PAUSED_METADATA);
                (origin, paused, updated.get(SERVER_METADATA).cloned())
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
                record_config(&mut consumer.metadata, &config, server);
                let stream = config.stream.clone();
                self.create_consumer(&stream, consumer, super::CreateAction::Create, now)?;
                (new_origin.to_string(), false, server.map(str::to_string))
            }
        };
        let cursor = self.upload_floor(&config.stream, name);
        self.host_upload(name, config, &origin, cursor, paused, server);
        self.upload_status(name)
            .ok_or_else(|| ApiError::new(ErrorKind::ConsumerNotFound))
    }

    /// Runs every upload recorded in this engine's consumers that is not running yet, without
    /// a link ([`UNBOUND`]): called on an engine restored from a database. Returns their names.
    pub fn restore_uploads(&mut self) -> Vec<String> {
        type Found = (String, UploadConfig, String, u64, bool, Option<String>);
        let mut found: Vec<Found> = Vec::new();
        for (stream, slot) in &self.streams {
            for (name, consumer) in &slot.consumers {
                let metadata = &consumer.config().metadata;
                if self.uploads.contains_key(name) || found.iter().any(|(n, ..)| n == name) {
                    continue; // one upload per name (a name reused on another stream waits)
                }
                let Some(config) = recorded_config(stream, metadata, UNBOUND) else {
                    continue;
                };
                let origin = metadata.get(ORIGIN_METADATA).cloned().unwrap_or_default();
                let paused = metadata.contains_key(PAUSED_METADATA);
                let server = metadata.get(SERVER_METADATA).cloned();
                let cursor = consumer.record().state.ack_floor.stream_seq;
                found.push((name.clone(), config, origin, cursor, paused, server));
            }
        }
        let mut names = Vec::with_capacity(found.len());
        for (name, config, origin, cursor, paused, server) in found {
            self.host_upload(&name, config, &origin, cursor, paused, server);
            names.push(name);
        }
        names
    }

    /// Sends every upload recorded for `server` over `dest` from now on (each goes on after its
    /// cursor; one already bound there is left alone). Returns their names.
    pub fn bind_uploads(&mut self, server: &str, dest: Destination, now: Nanos) -> Vec<String> {
        self.clock = self.clock.max(now);
        let names: Vec<String> = self
            .uploads
            .iter()
            .filter(|(_, hosted)| hosted.server.as_deref() == Some(server))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &names {
            let Some(hosted) = self.uploads.get(name) else {
                continue;
            };
            if hosted.uploader.config().dest == dest {
                continue;
            }
            let mut config = hosted.uploader.config().clone();
            config.dest = dest;
            let status = hosted.uploader.status(name, 0, false);
            let cursor = hosted.uploader.cursor();
            let server = hosted.server.clone();
            // A fresh uploader: what the old link still has out is no longer its, and what
            // the server stored of it comes back as duplicates.
            self.host_upload(name, config, &status.origin, cursor, status.paused, server);
        }
        names
    }

    /// Tells the engine the time before a [`Engine::flush`] (which takes none) when nothing
    /// else did since: the uploads' publishes it starts get their deadlines from it.
    pub fn set_clock(&mut self, now: Nanos) {
        self.clock = self.clock.max(now);
    }

    /// Stops upload `name` (its consumer, and so its cursor and record, stays: a database
    /// opened again runs it); false if none ran.
    pub fn stop_upload(&mut self, name: &str) -> bool {
        self.uploads.remove(name).is_some()
    }

    /// Stops upload `name` and deletes its consumer (its cursor and record) for good, running
    /// or not; false if there is no such upload.
    pub fn forget_upload(&mut self, name: &str, now: Nanos) -> Result<bool, ApiError> {
        self.clock = self.clock.max(now);
        let is_upload =
            |consumer: &Consumer| consumer.config().metadata.contains_key(ORIGIN_METADATA);
        let stream = match self.uploads.remove(name) {
            Some(hosted) => Some(hosted.uploader.config().stream.clone()),
            None => self
                .streams
                .iter()
                .find(|(_, slot)| slot.consumers.get(name).is_some_and(is_upload))
                .map(|(stream, _)| stream.clone()),
        };
        let Some(stream) = stream else {
            return Ok(false);
        };
        let recorded = self
            .streams
            .get(&stream)
            .and_then(|slot| slot.consumers.get(name))
            .is_some_and(is_upload);
        if recorded {
            self.delete_consumer(&stream, name, now)?;
        }
        Ok(true)
    }

    /// Pauses or resumes upload `name` (recorded, so it stays so when opened again); false if
    /// none runs.
    pub fn pause_upload(&mut self, name: &str, paused: bool) -> bool {
        let Some(hosted) = self.uploads.get_mut(name) else {
            return false;
        };
        hosted.uploader.set_paused(paused);
        if !paused {
            hosted.uploader.retry_now();
        }
        let stream = hosted.uploader.config().stream.clone();
        let metadata = self
            .streams
            .get(&stream)
            .and_then(|slot| slot.consumers.get(name))
            .map(|c| c.config().metadata.clone());
        if let Some(metadata) = metadata {
            let mut updated = metadata.clone();
            if paused {
                updated.insert(PAUSED_METADATA.to_string(), "true".to_string());
            } else {
                updated.remove(PAUSED_METADATA);
            }
            if updated != metadata {
                self.rewrite_upload_metadata(&stream, name, updated);
            }
        }
        true
    }

    /// The names of the running uploads.
    pub fn upload_names(&self) -> Vec<String> {
        self.uploads.keys().cloned().collect()
    }

    /// Upload `name`'s status.
    pub fn upload_status(&self, name: &str) -> Option<UploadStatus> {
        let upload = &self.uploads.get(name)?.uploader;
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

    /// Upload `name`'s status with its server and reconnect count.
    pub fn upload_report(&self, name: &str) -> Option<UploadReport> {
        let hosted = self.uploads.get(name)?;
        Some(UploadReport {
            upload: self.upload_status(name)?,
            server: hosted.server.clone(),
            reconnects: hosted.reconnects,
        })
    }

    /// Link `id` came up (it was down): the uploads bound to it count a reconnect, unless it
    /// is the first time they see it up.
    pub(super) fn uploads_link_up(&mut self, id: LinkId) {
        for hosted in self.uploads.values_mut() {
            if hosted.uploader.config().dest != Destination::Link(id) {
                continue;
            }
            if hosted.seen_up {
                hosted.reconnects += 1;
            }
            hosted.seen_up = true;
        }
    }

    /// The earliest end of an upload's backoff.
    pub(super) fn next_upload_deadline(&self) -> Option<Nanos> {
        self.uploads
            .values()
            .filter_map(|hosted| hosted.uploader.next_deadline())
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
            let owner = self
                .uploads
                .iter_mut()
                .find(|(_, hosted)| hosted.uploader.owns(outcome.id));
            if let Some((name, hosted)) = owner {
                let upload = &mut hosted.uploader;
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
        uploads.retain(|_, hosted| self.streams.contains_key(&hosted.uploader.config().stream));
        for hosted in uploads.values_mut() {
            let upload = &mut hosted.uploader;
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

    /// Runs an uploader for `name` resuming after `cursor` (replacing one running).
    fn host_upload(
        &mut self,
        name: &str,
        config: UploadConfig,
        origin: &str,
        cursor: u64,
        paused: bool,
        server: Option<String>,
    ) {
        let seen_up = self.surface.is_up(config.dest);
        let mut uploader = Uploader::new(config, origin, cursor);
        uploader.set_paused(paused);
        let hosted = HostedUpload {
            uploader,
            server,
            seen_up,
            reconnects: 0,
        };
        self.uploads.insert(name.to_string(), hosted);
    }

    /// The ack floor of consumer `name` on `stream` (0 without it).
    fn upload_floor(&self, stream: &str, name: &str) -> u64 {
        self.streams
            .get(stream)
            .and_then(|slot| slot.consumers.get(name))
            .map_or(0, |c| c.record().state.ack_floor.stream_seq)
    }

    /// Replaces consumer `name`'s metadata (the upload's record) and saves it.
    fn rewrite_upload_metadata(
        &mut self,
        stream: &str,
        name: &str,
        metadata: BTreeMap<String, String>,
    ) {
        let now = self.clock;
        let Some(slot) = self.streams.get_mut(stream) else {
            return;
        };
        let Some(consumer) = slot.consumers.get(name) else {
            return;
        };
        let mut config = consumer.config().clone();
        config.metadata = metadata;
        let mut record = consumer.record();
        let Ok(bytes) = serde_json::to_vec(&config) else {
            return;
        };
        record.config = bytes;
        if let Ok(mut rewritten) = Consumer::restore(stream, record, now) {
            self.interest.attach(&mut rewritten);
            slot.consumers.insert(name.to_string(), rewritten);
            let _ = self.persist_consumer(stream, name);
        }
    }

    /// Moves upload `name`'s consumer's floor to `cursor` and saves it.
    fn save_upload_cursor(&mut self, name: &str, cursor: u64) {
        let Some(stream) = self
            .uploads
            .get(name)
            .map(|hosted| hosted.uploader.config().stream.clone())
        else {
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
        if let Ok(mut moved) = Consumer::restore(&stream, record, now) {
            self.interest.attach(&mut moved);
            slot.consumers.insert(name.to_string(), moved);
            let _ = self.persist_consumer(&stream, name);
        }
    }
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
