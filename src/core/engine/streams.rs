//! Stream operations of the engine: create, update, delete, and routing publishes to streams.

use bytes::Bytes;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::advisories::Action;
use super::{Engine, StreamSlot};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::message::{Message, Outbound};
use crate::core::store::{record_size, Seq, StoreError, StoredMsg};
use crate::core::stream::{
    InfoOptions, MsgGetRequest, PubAck, PurgeRequest, RetentionPolicy, Stream, StreamConfig,
    StreamInfo,
};
use crate::core::subject;
use crate::core::subject_index::SubjectIndex;
use crate::core::time::Nanos;

impl Engine {
    /// Creates a stream, or returns the existing one when its config is identical. The flag says
    /// whether a stream was created.
    pub fn create_stream(
        &mut self,
        config: StreamConfig,
        now: Nanos,
    ) -> Result<(StreamInfo, bool), ApiError> {
        let config = config.validated()?;
        if let Some(slot) = self.streams.get(&config.name) {
            if slot.stream.config() == &config {
                return Ok((self.info_of(slot, now, &InfoOptions::default()), false));
            }
            return Err(ErrorKind::StreamNameExist.into());
        }
        if let Some(max) = self.config.max_streams {
            if self.streams.len() >= max {
                return Err(ErrorKind::MaximumStreamsLimit.into());
            }
        }
        self.check_subjects_free(&config.name, &config.subjects)?;
        self.check_reservation(&config)?;
        let store = (self.make_store)(&config)
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamCreate, e))?;
        let mut stream = Stream::create(config, store, now)?;
        // The stream exists for a client only once its config is durable.
        let meta = stream_meta(stream.config(), stream.created());
        if let Err(err) = stream.store_mut().save_meta(&meta) {
            let _ = stream.store_mut().delete();
            return Err(store_failure(ErrorKind::StreamCreate, err));
        }
        let name = stream.name().to_string();
        for subject in &stream.config().subjects {
            // Subjects were validated by `validated()`, so the index accepts them.
            let _ = self.routes.insert(subject, name.clone());
        }
        self.streams.insert(
            name.clone(),
            StreamSlot::new(stream, Default::default(), Default::default()),
        );
        self.mark_dirty(&name);
        self.mark_config_changed(&name);
        self.follow(&name, now);
        self.advise_stream(&name, Action::Create);
        let slot = self.slot(&name)?;
        Ok((self.info_of(slot, now, &InfoOptions::default()), true))
    }

    /// Changes a stream's config within the update rules; new limits apply at once.
    pub fn update_stream(
        &mut self,
        config: StreamConfig,
        now: Nanos,
    ) -> Result<StreamInfo, ApiError> {
        let name = config.name.clone();
        let old_subjects = self.slot(&name)?.stream.config().subjects.clone();
        let checked = self.slot(&name)?.stream.config().check_update(&config)?;
        self.check_subjects_free(&name, &checked.subjects)?;
        self.check_reservation(&checked)?;
        // The new config is durable before it applies (limits may remove messages at once).
        let stream = &mut self.slot_mut(&name)?.stream;
        let (old, created) = (stream.config().clone(), stream.created());
        stream
            .store_mut()
            .save_meta(&stream_meta(&checked, created))
            .map_err(|err| store_failure(ErrorKind::StreamUpdate, err))?;
        if let Err(err) = stream.update(checked, now) {
            // Put the config in force back on disk (best effort: a restart keeps the stream
            // either way, and the client was told the update failed).
            let _ = stream.store_mut().save_meta(&stream_meta(&old, created));
            return Err(err);
        }
        // A shorter max_age may have expired the last message of subjects that keep markers.
        self.store_markers(&name, now);
        for subject in &old_subjects {
            self.routes.remove(subject, &name);
        }
        let new_subjects = self.slot(&name)?.stream.config().subjects.clone();
        for subject in &new_subjects {
            let _ = self.routes.insert(subject, name.clone());
        }
        self.mark_dirty(&name);
        self.mark_config_changed(&name);
        self.follow(&name, now);
        self.poll_consumers(&name, now);
        self.advise_stream(&name, Action::Modify);
        let slot = self.slot(&name)?;
        Ok(self.info_of(slot, now, &InfoOptions::default()))
    }

    /// Deletes a stream with its messages and consumers.
    pub fn delete_stream(&mut self, name: &str) -> Result<(), ApiError> {
        let mut slot = self
            .streams
            .remove(name)
            .ok_or_else(|| ApiError::new(ErrorKind::StreamNotFound))?;
        for subject in &slot.stream.config().subjects {
            self.routes.remove(subject, &name.to_string());
        }
        for (consumer_name, consumer) in &slot.consumers {
            let deliver = consumer.config().deliver_subject.as_deref();
            self.interest.remove(deliver, name, consumer_name);
        }
        self.dirty.remove(name);
        self.unfollow(name);
        // A stream created later under this name starts with a fresh store.
        self.failing.remove(name);
        // What it held describes a stream that is gone for good: nothing to wait for.
        slot.durability.release_all(&mut self.ready);
        self.holding.remove(name);
        let storage = slot.stream.config().storage;
        self.usage
            .recount(&self.config.server_usage, storage, slot.counted_bytes, 0);
        self.mark_config_changed(name);
        // nats-server tells of each consumer's end, then of the stream's.
        for consumer_name in slot.consumers.keys() {
            self.advise_consumer(name, consumer_name, Action::Delete);
        }
        self.advise_stream(name, Action::Delete);
        slot.stream
            .store_mut()
            .delete()
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamDelete, e))
    }

    /// StreamInfo of one stream.
    pub fn stream_info(
        &self,
        name: &str,
        now: Nanos,
        opts: &InfoOptions,
    ) -> Result<StreamInfo, ApiError> {
        Ok(self.info_of(self.slot(name)?, now, opts))
    }

    /// Names of the streams, sorted; with a filter, only streams with a subject overlapping it.
    pub fn stream_names(&self, filter: Option<&str>) -> Vec<String> {
        self.streams
            .values()
            .filter(|slot| match filter {
                Some(f) => slot
                    .stream
                    .config()
                    .subjects
                    .iter()
                    .any(|s| subject::overlaps(f, s)),
                None => true,
            })
            .map(|slot| slot.stream.name().to_string())
            .collect()
    }

    /// The stream itself, for read-only inspection.
    pub fn stream(&self, name: &str) -> Option<&Stream> {
        self.streams.get(name).map(|slot| &slot.stream)
    }

    /// Publishes into the stream whose subjects match `subject`. `None` when no stream does.
    pub fn publish(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Option<Result<PubAck, ApiError>> {
        // Borrowed field by field: the hot path allocates nothing for the stream's name.
        let (fields, routes) = self.ingest_fields();
        let name = routes.first_match(subject)?;
        let (result, polled) =
            ingest(fields, name, subject, headers, payload, now, Entry::Publish)?;
        if polled {
            let name = name.clone();
            self.poll_consumers(&name, now);
        }
        Some(result)
    }

    /// Stores a message into the stream `name` (a mirror's or source's message, which no
    /// subject routes): as a publish, or at the origin's sequence and time for a mirror. `None`
    /// when no such stream exists.
    pub(super) fn ingest_into(
        &mut self,
        name: &str,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
        entry: Entry,
    ) -> Option<Result<PubAck, ApiError>> {
        let name = name.to_string();
        let (fields, _) = self.ingest_fields();
        let (result, polled) = ingest(fields, &name, subject, headers, payload, now, entry)?;
        if polled {
            self.poll_consumers(&name, now);
        }
        Some(result)
    }

    /// The fields a store into one stream touches, borrowed apart from the routes.
    fn ingest_fields(&mut self) -> (IngestFields<'_>, &SubjectIndex<String>) {
        let Engine {
            routes,
            streams,
            dirty,
            usage,
            config,
            failing,
            ready,
            holding,
            ..
        } = self;
        let fields = IngestFields {
            streams,
            dirty,
            usage,
            config,
            failing,
            ready,
            holding,
        };
        (fields, routes)
    }

    /// Publishes the subject delete markers stream `name`'s expiry asked for (see
    /// `stream/ttl.rs`); each marker's rollup removes the expired message. A marker the stream
    /// refuses (a full stream under discard new, a failing store) leaves the message to be
    /// removed plainly. True when anything was written.
    pub(crate) fn store_markers(&mut self, name: &str, now: Nanos) -> bool {
        let Some(slot) = self.streams.get_mut(name) else {
            return false;
        };
        let markers = slot.stream.take_markers();
        if markers.is_empty() {
            return false;
        }
        let headers = slot.stream.marker_headers();
        for (expired, subject) in markers {
            let stored = self.ingest_into(
                name,
                &subject,
                Some(headers.clone()),
                Bytes::new(),
                now,
                Entry::Marker,
            );
            if !matches!(stored, Some(Ok(_))) {
                if let Some(slot) = self.streams.get_mut(name) {
                    let _ = slot.stream.remove_msg(expired);
                }
            }
        }
        true
    }

    /// True when a stream captures `subject`.
    pub fn captures(&self, subject: &str) -> bool {
        self.routes.has_match(subject)
    }

    /// Whether publishing on `subject` with `headers` could look past the newest stored messages
    /// (see [`Stream::publish_looks_back`]); `None` when no stream captures `subject`.
    pub fn publish_looks_back(&self, subject: &str, headers: Option<&[u8]>) -> Option<bool> {
        let name = self.routes.first_match(subject)?;
        let slot = self.streams.get(name)?;
        Some(slot.stream.publish_looks_back(headers))
    }

    /// Routes a client publish to a stream and queues its PubAck. `false` when no stream
    /// captures the subject.
    pub(super) fn handle_publish(&mut self, msg: Message, now: Nanos) -> bool {
        let Message {
            subject,
            reply,
            headers,
            payload,
        } = msg;
        let Some(result) = self.publish(&subject, headers, payload, now) else {
            return false;
        };
        if let Some(reply) = reply {
            // A PubAck leaves once its message is durable; a refusal stored nothing and leaves
            // at once.
            let scratch = &mut self.reply_scratch;
            let (body, about) = match result {
                Ok(ack) => (json_body(scratch, &ack), Some((ack.stream, ack.seq))),
                Err(error) => (
                    json_body(scratch, &serde_json::json!({ "error": error })),
                    None,
                ),
            };
            if let Ok(body) = body {
                let out = Outbound::to_subject(reply, None, body);
                match about {
                    Some((stream, seq)) => self.send_about_message(&stream, seq, out),
                    None => self.send_now(out),
                }
            }
        }
        true
    }

    /// Purges a stream and returns how many messages went.
    pub fn purge_stream(
        &mut self,
        name: &str,
        req: &PurgeRequest,
        now: Nanos,
    ) -> Result<u64, ApiError> {
        let purged = self.slot_mut(name)?.stream.purge(req)?;
        self.mark_dirty(name);
        self.poll_consumers(name, now);
        Ok(purged)
    }

    /// One message of a stream, by sequence or by subject.
    pub fn get_msg(&self, name: &str, req: &MsgGetRequest) -> Result<StoredMsg, ApiError> {
        let msg = self.slot(name)?.stream.get_msg(req)?;
        // A reply carrying it waits until it is durable.
        self.note_read(msg.seq);
        Ok(msg)
    }

    /// Deletes one message of a stream.
    pub fn delete_msg(
        &mut self,
        name: &str,
        seq: u64,
        no_erase: bool,
        now: Nanos,
    ) -> Result<(), ApiError> {
        self.slot_mut(name)?.stream.delete_msg(seq, no_erase)?;
        self.mark_dirty(name);
        self.poll_consumers(name, now);
        Ok(())
    }

    pub(crate) fn slot(&self, name: &str) -> Result<&StreamSlot, ApiError> {
        self.streams
            .get(name)
            .ok_or_else(|| ApiError::new(ErrorKind::StreamNotFound))
    }

    pub(crate) fn slot_mut(&mut self, name: &str) -> Result<&mut StreamSlot, ApiError> {
        self.streams
            .get_mut(name)
            .ok_or_else(|| ApiError::new(ErrorKind::StreamNotFound))
    }

    fn info_of(&self, slot: &StreamSlot, now: Nanos, opts: &InfoOptions) -> StreamInfo {
        let mut info = slot.stream.info(now, slot.public_consumers().count(), opts);
        self.add_sourcing_info(&mut info, now);
        info
    }

    /// Refuses subjects that overlap another stream's: a message must have one home.
    pub(super) fn check_subjects_free(
        &self,
        name: &str,
        subjects: &[String],
    ) -> Result<(), ApiError> {
        let clash = self
            .streams
            .values()
            .filter(|slot| slot.stream.name() != name)
            .any(|slot| {
                slot.stream
                    .config()
                    .subjects
                    .iter()
                    .any(|theirs| subjects.iter().any(|ours| subject::overlaps(ours, theirs)))
            });
        if clash {
            return Err(ErrorKind::StreamSubjectOverlap.into());
        }
        Ok(())
    }
}

/// How a message enters a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    /// A publish: the next sequence, the publish rules (dedup, expectations).
    Publish,
    /// A message a source copied: a publish, but a `Nats-TTL` is kept as it came (see
    /// `Stream::publish_sourced`).
    Sourced,
    /// A subject delete marker (`stream/ttl.rs`): a publish under a subject already as stored,
    /// so the stream's `subject_transform` is not applied again.
    Marker,
    /// A mirrored message: at the origin's sequence and time (see `Stream::store_mirrored`).
    Mirrored {
        /// The origin's sequence.
        seq: Seq,
        /// The origin's timestamp.
        time: Nanos,
    },
}

/// The engine's fields a store into one stream touches.
pub(super) struct IngestFields<'a> {
    streams: &'a mut BTreeMap<String, StreamSlot>,
    dirty: &'a mut BTreeSet<String>,
    usage: &'a mut super::resources::Usage,
    config: &'a super::EngineConfig,
    failing: &'a mut BTreeMap<String, StoreError>,
    ready: &'a mut VecDeque<Outbound>,
    holding: &'a mut BTreeSet<String>,
}

/// Stores one message into stream `name` and does the bookkeeping every store needs (usage,
/// durability, the republished copy, consumers told). `None` when no such stream exists; the
/// flag says whether its consumers need polling.
fn ingest(
    fields: IngestFields<'_>,
    name: &String,
    subject: &str,
    headers: Option<Bytes>,
    payload: Bytes,
    now: Nanos,
    entry: Entry,
) -> Option<(Result<PubAck, ApiError>, bool)> {
    let IngestFields {
        streams,
        dirty,
        usage,
        config,
        failing,
        ready,
        holding,
    } = fields;
    let slot = streams.get_mut(name)?;
    if let Some(err) = failing.get(name) {
        // Its store cannot make writes durable now: refuse before storing anything.
        let refusal = store_failure(ErrorKind::StreamStoreFailed, err.clone());
        return Some((Err(refusal), false));
    }
    // A `subject_transform` decides the subject the message is stored (and consumed) under.
    let stored = match entry {
        Entry::Marker => std::borrow::Cow::Borrowed(subject),
        _ => slot.stream.stored_subject(subject),
    };
    let subject: &str = &stored;
    let storage = slot.stream.config().storage;
    let size = record_size(subject, headers.as_ref(), &payload);
    if let Some(refusal) = super::resources::refuse_publish(config, usage, storage, size) {
        return Some((Err(refusal.into()), false));
    }
    let retain = match (entry, slot.stream.config().retention) {
        // A mirror keeps what the origin has, at its sequences.
        (Entry::Mirrored { .. }, _) => true,
        (_, RetentionPolicy::Interest) => {
            slot.consumers.values().any(|c| c.filter_matches(subject))
        }
        (_, RetentionPolicy::Limits | RetentionPolicy::WorkQueue) => true,
    };
    let result = match entry {
        Entry::Publish | Entry::Marker => {
            slot.stream.publish(subject, headers, payload, now, retain)
        }
        Entry::Sourced => slot
            .stream
            .publish_sourced(subject, headers, payload, now, retain),
        Entry::Mirrored { seq, time } => slot
            .stream
            .store_mirrored(seq, time, subject, headers, payload),
    };
    let ack = match &result {
        Ok(ack) => ack,
        Err(err) if store_error_of(err).is_some() => {
            // The medium refused the write: treat it as a failed sync (refuse publishes at
            // once until a sync of this stream succeeds, and make the next flush try one).
            let cause = store_error_of(err).unwrap_or(StoreError::QuotaExceeded);
            failing.insert(name.clone(), cause.clone());
            slot.durability.wrote();
            dirty.insert(name.clone());
            return Some((
                Err(store_failure(ErrorKind::StreamStoreFailed, cause)),
                false,
            ));
        }
        Err(_) => return Some((result, false)),
    };
    if ack.duplicate {
        return Some((result, false));
    }
    if let Some(copy) = slot.stream.take_republished() {
        // Queued before the PubAck, released with it once the message is durable.
        if slot
            .durability
            .queue(super::outbox::Need::Seq(ack.seq), copy, &mut *ready)
            && !holding.contains(name)
        {
            holding.insert(name.clone());
        }
    }
    if retain {
        for consumer in slot.consumers.values_mut() {
            consumer.on_stored(ack.seq, subject);
        }
    }
    if slot.consumers.is_empty() {
        // Limits may have removed messages; nobody needs to hear of it.
        let _ = slot.stream.take_removals();
    }
    usage.add(&config.server_usage, storage, size);
    slot.counted_bytes += size;
    slot.durability.wrote();
    if !dirty.contains(name) {
        dirty.insert(name.clone());
    }
    Some((result, !slot.consumers.is_empty()))
}

/// A stream's persisted identity as [`crate::core::store::StreamStore::save_meta`] takes it.
pub fn stream_meta(config: &StreamConfig, created: Nanos) -> Vec<u8> {
    let meta = serde_json::json!({ "config": config, "created": created });
    serde_json::to_vec_pretty(&meta).unwrap_or_default()
}

/// `value` as JSON in an exactly sized buffer, serialized through `scratch`: one allocation per
/// reply, where `serde_json::to_vec` then `Bytes::from` make two (the vector, then the shared
/// header `Bytes` adds to a vector with spare capacity). A PubAck is made for every publish.
fn json_body(scratch: &mut Vec<u8>, value: &impl serde::Serialize) -> serde_json::Result<Bytes> {
    scratch.clear();
    serde_json::to_writer(&mut *scratch, value)?;
    Ok(Bytes::copy_from_slice(scratch))
}

/// The API error for a store that could not write: nats-server's "insufficient resources" for a
/// full medium, else `kind` with the store's reason.
pub(crate) fn store_failure(kind: ErrorKind, err: StoreError) -> ApiError {
    match err {
        StoreError::QuotaExceeded => ErrorKind::InsufficientResources.into(),
        err => ApiError::with_detail(kind, err),
    }
}

/// The body of the reply to a publish whose store cannot make it durable (`{"error": …}`, as
/// nats-server answers it).
pub(crate) fn publish_refusal(err: &StoreError) -> Bytes {
    let error = store_failure(ErrorKind::StreamStoreFailed, err.clone());
    serde_json::to_vec(&serde_json::json!({ "error": error }))
        .map(Bytes::from)
        .unwrap_or_default()
}

/// The medium failure behind a "stream store failed" API error (its description is the store
/// error's text); `None` for the other refusals that share its code (discard-new limits).
fn store_error_of(err: &ApiError) -> Option<StoreError> {
    if !err.is(ErrorKind::StreamStoreFailed) {
        return None;
    }
    if err.description == StoreError::QuotaExceeded.to_string() {
        return Some(StoreError::QuotaExceeded);
    }
    let io = StoreError::Io(String::new()).to_string();
    err.description
        .starts_with(&io)
        .then(|| StoreError::Io(err.description[io.len()..].to_string()))
}

#[cfg(test)]
#[path = "republish_tests.rs"]
mod republish_tests;

#[cfg(test)]
#[path = "ttl_tests.rs"]
mod ttl_tests;
