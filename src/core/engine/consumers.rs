//! Consumer operations of the engine: create/update/delete, pull requests, and driving
//! deliveries.

use super::advisories::{Action, DeliveryAdvisory};
use super::Engine;
use crate::core::consumer::{
    check_work_queue, ephemeral_name, AckPolicy, Consumer, ConsumerConfig, ConsumerInfo,
    PullRequest,
};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::stream::RetentionPolicy;
use crate::core::time::Nanos;

/// What a consumer create request may do when a consumer of that name exists (or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum CreateAction {
    /// Create it, or update it when it exists (the default, `""`).
    #[default]
    #[serde(rename = "")]
    CreateOrUpdate,
    /// Create it; fail if one exists with another config.
    #[serde(rename = "create")]
    Create,
    /// Update it; fail if it does not exist.
    #[serde(rename = "update")]
    Update,
}

impl Engine {
    /// Creates or updates a consumer on `stream`, as the `action` allows.
    pub fn create_consumer(
        &mut self,
        stream: &str,
        config: ConsumerConfig,
        action: CreateAction,
        now: Nanos,
    ) -> Result<ConsumerInfo, ApiError> {
        let mut config = config;
        self.shape_copy_consumer(stream, &mut config)?;
        let random = self.next_random();
        config.ensure_name(random);
        let name = config.effective_name().unwrap_or_default().to_string();
        let slot = self.slot(stream)?;
        let stream_config = slot.stream.config();
        let work_queue = stream_config.retention == RetentionPolicy::WorkQueue;
        let config = config.validated(&stream_config.subjects, work_queue)?;
        // A copy's durable goes back to its ack floor each time the copy asks for it.
        let reset = config.sourcing && config.is_durable();

        if let Some(existing) = slot.consumers.get(&name) {
            if existing.config() == &config && !reset {
                return Ok(existing.info(slot.stream.store(), now));
            }
            if action == CreateAction::Create && existing.config() != &config {
                return Err(ErrorKind::ConsumerAlreadyExists.into());
            }
            let updated = existing.config().check_update(&config)?;
            let slot = self.slot_mut(stream)?;
            let consumer = slot
                .consumers
                .get_mut(&name)
                .ok_or_else(|| ApiError::new(ErrorKind::ConsumerNotFound))?;
            let old_deliver = consumer.config().deliver_subject.clone();
            consumer.update(updated)?;
            let new_deliver = consumer.config().deliver_subject.clone();
            if old_deliver != new_deliver {
                let active = new_deliver.as_deref().is_some_and(|d| {
                    self.interest.has_subscribers(d) || self.surface.owns_locally(d)
                });
                self.interest.remove(old_deliver.as_deref(), stream, &name);
                self.interest.add(new_deliver.as_deref(), stream, &name);
                if let Some(c) = self.slot_mut(stream)?.consumers.get_mut(&name) {
                    c.set_push_active(active, now);
                }
            }
            if reset {
                if let Some(c) = self.slot_mut(stream)?.consumers.get_mut(&name) {
                    c.reset_to_ack_floor();
                }
            }
            self.persist_consumer(stream, &name)?;
            // A reset consumer answers as it stands before delivering again (the copy reads
            // `delivered` to know it is not a consumer of another run).
            let info = self.consumer_info(stream, &name, now);
            self.poll_consumers(stream, now);
            return if reset {
                info
            } else {
                self.consumer_info(stream, &name, now)
            };
        }
        if action == CreateAction::Update {
            return Err(ErrorKind::ConsumerDoesNotExist.into());
        }
        // A mirror's or source's consumer counts against no limit (`numLimitableConsumers`).
        let max_per_stream = stream_config.max_consumers;
        let limited = !config.is_copy();
        if limited && max_per_stream > 0 && slot.limitable_consumers() as i64 >= max_per_stream {
            return Err(ErrorKind::MaximumConsumersLimit.into());
        }
        if let Some(max) = self.config().max_consumers.filter(|_| limited) {
            if self
                .streams
                .values()
                .map(|s| s.limitable_consumers())
                .sum::<usize>()
                >= max
            {
                return Err(ErrorKind::MaximumConsumersLimit.into());
            }
        }
        if work_queue {
            let others: Vec<&ConsumerConfig> =
                slot.consumers.values().map(|c| c.config()).collect();
            check_work_queue(&config, &others)?;
        }
        let mut consumer = Consumer::create(stream, config, slot.stream.store(), now)?;
        self.interest.attach(&mut consumer);
        if let Some(deliver) = consumer.config().deliver_subject.clone() {
            // The engine's own subscriptions (a mirror's deliver subject) are interest too.
            if self.interest.has_subscribers(&deliver) || self.surface.owns_locally(&deliver) {
                consumer.set_push_active(true, now);
            }
            self.interest.add(Some(&deliver), stream, &name);
        }
        self.slot_mut(stream)?
            .consumers
            .insert(name.clone(), consumer);
        self.persist_consumer(stream, &name)?;
        self.advise_consumer(stream, &name, Action::Create);
        // The consumer as created, before its first deliveries (nats-server's `initialInfo`):
        // a mirror reads `delivered` in the create response to know where the consumer starts.
        let info = self.consumer_info(stream, &name, now);
        self.poll_consumers(stream, now);
        info
    }

    /// What nats-server 2.14 makes of a mirror's or source's consumer asked for in its form
    /// (`direct` and `sourcing`, with the copy's fixed name): on a work-queue or interest stream
    /// a durable of that name acknowledged by flow control (no ack wait, no max deliver, no
    /// inactivity end), so what the copy has not confirmed stays while its link is down; on a
    /// limits stream the `direct` consumer it asked for, its name made unique with a random
    /// suffix (a consumer of a run before may still hold the fixed name). A durable that exists
    /// keeps where it started (the copy asks from its own last sequence; the durable resumes at
    /// its ack floor instead).
    fn shape_copy_consumer(
        &mut self,
        stream: &str,
        config: &mut ConsumerConfig,
    ) -> Result<(), ApiError> {
        let Some(name) = config
            .name
            .clone()
            .filter(|_| config.direct && config.sourcing)
        else {
            return Ok(());
        };
        let slot = self.slot(stream)?;
        if slot.stream.config().retention == RetentionPolicy::Limits {
            let suffix = ephemeral_name(self.next_random());
            config.name = Some(format!("{name}-{suffix}"));
            return Ok(());
        }
        config.direct = false;
        config.durable_name = Some(name.clone());
        config.ack_policy = AckPolicy::FlowControl;
        config.ack_wait = 0;
        config.max_deliver = 0;
        config.inactive_threshold = 0;
        if let Some(existing) = slot.consumers.get(&name) {
            let kept = existing.config();
            config.deliver_policy = kept.deliver_policy;
            config.opt_start_seq = kept.opt_start_seq;
            config.opt_start_time = kept.opt_start_time;
        }
        Ok(())
    }

    /// Deletes a consumer; on an interest stream, messages nobody else needs go with it.
    pub fn delete_consumer(
        &mut self,
        stream: &str,
        name: &str,
        now: Nanos,
    ) -> Result<(), ApiError> {
        let slot = self.slot_mut(stream)?;
        let mut consumer = slot
            .consumers
            .remove(name)
            .ok_or_else(|| ApiError::new(ErrorKind::ConsumerNotFound))?;
        let mut out = Vec::new();
        consumer.close(&mut out);
        slot.stream
            .store_mut()
            .remove_consumer(name)
            .map_err(|e| ApiError::with_detail(ErrorKind::StreamGeneralError, e))?;
        self.interest
            .remove(consumer.config().deliver_subject.as_deref(), stream, name);
        self.send_from_consumers(stream, out);
        self.mark_dirty(stream);
        self.sweep_interest(stream, consumer.config().direct, now);
        self.advise_consumer(stream, name, Action::Delete);
        Ok(())
    }

    /// ConsumerInfo of one consumer.
    pub fn consumer_info(
        &self,
        stream: &str,
        name: &str,
        now: Nanos,
    ) -> Result<ConsumerInfo, ApiError> {
        let slot = self.slot(stream)?;
        let consumer = slot
            .consumers
            .get(name)
            .ok_or_else(|| ApiError::new(ErrorKind::ConsumerNotFound))?;
        Ok(consumer.info(slot.stream.store(), now))
    }

    /// Names of a stream's consumers, sorted.
    pub fn consumer_names(&self, stream: &str) -> Result<Vec<String>, ApiError> {
        Ok(self.slot(stream)?.consumers.keys().cloned().collect())
    }

    /// Names of a stream's consumers that `CONSUMER.NAMES` / `LIST` show, sorted: all but the
    /// `direct` ones of mirrors and sources, as nats-server lists them.
    pub fn public_consumer_names(&self, stream: &str) -> Result<Vec<String>, ApiError> {
        Ok(self
            .slot(stream)?
            .public_consumers()
            .map(|(name, _)| name.clone())
            .collect())
    }

    /// Hands a pull request to a consumer; messages and status replies go to `reply`. `false`
    /// when the stream or consumer does not exist (the shell answers "no responders").
    pub fn pull(
        &mut self,
        stream: &str,
        consumer: &str,
        req: PullRequest,
        reply: &str,
        now: Nanos,
    ) -> bool {
        let mut out = Vec::new();
        let Some(slot) = self.streams.get_mut(stream) else {
            return false;
        };
        let Some(c) = slot.consumers.get_mut(consumer) else {
            return false;
        };
        c.pull(req, reply, slot.stream.store(), now, &mut out);
        self.send_from_consumers(stream, out);
        true
    }

    /// Bounds what a push consumer delivers per poll to about `bytes` (unbounded unless set).
    /// Past them [`Engine::poll_timeout`] says the rest is due at once, so a shell that writes
    /// what [`Engine::poll_outbound`] releases between [`Engine::handle_timeout`] calls sends a
    /// long push delivery (a mirror's catch-up: a flow-control window of up to 32 MiB) as it is
    /// made, in bursts, as nats-server streams it, rather than all of it after one call.
    pub fn set_push_burst(&mut self, bytes: usize) {
        self.push_burst = bytes.max(1);
    }

    /// Lets every consumer of `stream` deliver what it can at `now`.
    pub(crate) fn poll_consumers(&mut self, stream: &str, now: Nanos) {
        // Removals first (age-based expiry reaches consumers this way), so freed slots deliver.
        self.apply_removals(stream);
        let mut out = Vec::new();
        let mut max_delivered = Vec::new();
        if let Some(slot) = self.streams.get_mut(stream) {
            for (name, consumer) in slot.consumers.iter_mut() {
                consumer.poll_burst(slot.stream.store(), now, self.push_burst, &mut out);
                let reached = consumer.take_max_delivered();
                if !reached.is_empty() {
                    max_delivered.push((name.clone(), reached));
                }
            }
        }
        self.send_from_consumers(stream, out);
        for (consumer, reached) in max_delivered {
            for (stream_seq, deliveries) in reached {
                let what = DeliveryAdvisory::MaxDeliveries {
                    stream_seq,
                    deliveries,
                };
                self.advise_delivery(stream, &consumer, what);
            }
        }
    }

    /// Deletes consumers that have been inactive past their `inactive_threshold`.
    pub(crate) fn remove_inactive_consumers(&mut self, stream: &str, now: Nanos) {
        let Some(slot) = self.streams.get(stream) else {
            return;
        };
        let inactive: Vec<String> = slot
            .consumers
            .iter()
            .filter(|(_, c)| c.is_inactive(now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in inactive {
            // It exists: we just listed it.
            let _ = self.delete_consumer(stream, &name, now);
        }
    }

    /// Writes a consumer's record to its stream's store now (config changes must not wait).
    /// A `direct` consumer is never written: it lives as long as the mirror that asked for it
    /// keeps it (nats-server gives it no store either).
    pub(super) fn persist_consumer(&mut self, stream: &str, name: &str) -> Result<(), ApiError> {
        let slot = self.slot_mut(stream)?;
        let consumer = slot
            .consumers
            .get(name)
            .ok_or_else(|| ApiError::new(ErrorKind::ConsumerNotFound))?;
        if consumer.config().direct {
            return Ok(());
        }
        let record = consumer.record();
        slot.stream
            .store_mut()
            .save_consumer(name, record)
            .map_err(|e| ApiError::with_detail(ErrorKind::ConsumerCreate, e))?;
        self.mark_dirty(stream);
        Ok(())
    }
}

#[cfg(test)]
#[path = "copy_consumer_tests.rs"]
mod copy_consumer_tests;
