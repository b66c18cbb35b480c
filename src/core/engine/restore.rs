//! Bringing streams back after a restart: the shell reopens each stream's store (file or
//! IndexedDB) with the config and creation time it kept, and the engine rebuilds the rest.

use super::{Engine, StreamSlot};
use crate::core::consumer::Consumer;
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::StreamStore;
use crate::core::stream::{Stream, StreamConfig};
use crate::core::time::Nanos;

/// What a restore could not bring back: a consumer whose stored record is unreadable. The
/// record stays in the store untouched, so nothing is lost; the shell should report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedConsumer {
    /// The consumer's name.
    pub name: String,
    /// Why its record could not be used.
    pub error: ApiError,
}

impl Engine {
    /// Reopens a stream over a store that already holds its messages and consumer records:
    /// rebuilds the duplicate table and every consumer (pending acks and redelivery counts
    /// intact). Returns the consumers whose records could not be read.
    pub fn restore_stream(
        &mut self,
        config: StreamConfig,
        created: Nanos,
        store: Box<dyn StreamStore>,
        now: Nanos,
    ) -> Result<Vec<SkippedConsumer>, ApiError> {
        if self.streams.contains_key(&config.name) {
            return Err(ErrorKind::StreamNameExist.into());
        }
        let mut stream = Stream::recover(config, created, store, now)?;
        self.check_subjects_free(stream.name(), &stream.config().subjects)?;
        let records = stream
            .store()
            .consumers()
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamGeneralError, e))?;
        let mut consumers = std::collections::BTreeMap::new();
        let mut skipped = Vec::new();
        let last_seq = stream.state().last_seq;
        for (name, record) in records {
            if name == crate::core::stream::ORIGINS_RECORD {
                // Not a consumer: upload origins' marks (stream/origins.rs).
                stream.restore_origins(&record.config);
                continue;
            }
            let past_end = record.state.delivered.stream_seq > last_seq;
            match Consumer::restore(stream.name(), record, now) {
                Ok(mut consumer) => {
                    if past_end {
                        // Saved before a sync that failed (its messages were taken back, or
                        // lost in a crash): what it delivered after the end never left.
                        consumer.forget_after(last_seq);
                    }
                    self.interest.attach(&mut consumer);
                    consumers.insert(name, consumer);
                }
                Err(error) => skipped.push(SkippedConsumer { name, error }),
            }
        }
        let name = stream.name().to_string();
        for subject in &stream.config().subjects {
            // Validated by `Stream::recover`, so the index accepts it.
            let _ = self.routes.insert(subject, name.clone());
        }
        for (consumer_name, consumer) in &consumers {
            let deliver = consumer.config().deliver_subject.as_deref();
            self.interest.add(deliver, &name, consumer_name);
        }
        self.mark_config_changed(&name);
        // What the store holds is durable; its bytes count at the next flush.
        let mut durable = super::outbox::Durability::synced_to(stream.state().last_seq);
        durable.note_synced_state(&stream.state());
        let bytes = stream.state().bytes;
        let mut slot = StreamSlot::new(stream, consumers, durable);
        slot.counted_bytes = bytes;
        let storage = slot.stream.config().storage;
        self.usage
            .recount(&self.config.server_usage, storage, 0, bytes);
        self.streams.insert(name.clone(), slot);
        // Its mirror and sources resume from what the store holds.
        self.follow(&name, now);
        Ok(skipped)
    }
}
