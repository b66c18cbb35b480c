//! Bringing streams back after a restart: a shell reopens each stream's store and hands it here
//! with the config and creation time it persisted.

use super::{Engine, StreamSlot};
use crate::core::consumer::Consumer;
use crate::core::error::{ApiError, ErrorKind};
use crate::core::store::StreamStore;
use crate::core::stream::{Stream, StreamConfig};
use crate::core::time::Nanos;

impl Engine {
    /// Reopens a stream over a store that already holds its messages and consumer records, as
    /// it was before a restart. Consumers come back with their delivery and ack state; push
    /// consumers deliver again once their deliver subject has interest.
    pub fn restore_stream(
        &mut self,
        config: StreamConfig,
        created: Nanos,
        store: Box<dyn StreamStore>,
        now: Nanos,
    ) -> Result<(), ApiError> {
        if self.streams.contains_key(&config.name) {
            return Err(ErrorKind::StreamNameExist.into());
        }
        let records = store
            .consumers()
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamCreate, e))?;
        let stream = Stream::recover(config, created, store, now)?;
        let name = stream.name().to_string();
        let mut consumers = std::collections::BTreeMap::new();
        for (consumer_name, record) in records {
            let mut consumer = Consumer::restore(&name, record, now)?;
            if let Some(deliver) = consumer.config().deliver_subject.clone() {
                if self.push_interest.contains(&deliver) {
                    consumer.set_push_active(true, now);
                }
            }
            consumers.insert(consumer_name, consumer);
        }
        for subject in &stream.config().subjects {
            // Restored configs were validated by `recover`, so the index accepts them.
            let _ = self.routes.insert(subject, name.clone());
        }
        self.streams
            .insert(name.clone(), StreamSlot { stream, consumers });
        self.poll_consumers(&name, now);
        Ok(())
    }
}
