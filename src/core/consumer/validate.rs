//! Validation of a consumer config: the defaults nats-server fills in
//! (`setConsumerConfigDefaults`), the rules it enforces (`checkConsumerCfg` and the checks in
//! `addConsumer`), what an update may change (`checkNewConsumerConfig`), and the exclusivity
//! rules of work-queue streams.

use super::config::{
    valid_asset_name, AckPolicy, ConsumerConfig, DeliverPolicy, DEFAULT_ACK_WAIT,
    DEFAULT_INACTIVE_THRESHOLD, DEFAULT_MAX_ACK_PENDING, DEFAULT_MAX_WAITING, MAX_DESCRIPTION_LEN,
    MAX_METADATA_LEN, MAX_NAME_LEN,
};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::subject;
use crate::core::subject_index::SubjectIndex;
use crate::core::time;

/// The one heartbeat a flow-control-acked consumer may have (`sourceHealthHB`): a copy that
/// hears nothing for its health check (10 s) starts over.
pub const FLOW_CONTROL_ACK_HEARTBEAT: time::Nanos = time::SECONDS;

impl ConsumerConfig {
    /// Applies nats-server's defaults and checks every rule a single node can hit, in nats-server's
    /// order. `stream_subjects` are the stream's subjects (a deliver subject must not form a cycle
    /// with them); `work_queue` is true on a work-queue stream.
    pub fn validated(
        mut self,
        stream_subjects: &[String],
        work_queue: bool,
    ) -> Result<ConsumerConfig, ApiError> {
        self.apply_defaults();
        self.check(stream_subjects, work_queue)?;
        if let Some(durable) = self.durable_name.as_deref().filter(|d| !d.is_empty()) {
            if durable.len() > MAX_NAME_LEN {
                return Err(ApiError::with_detail(
                    ErrorKind::ConsumerNameTooLong,
                    MAX_NAME_LEN,
                ));
            }
            if self.name.as_deref().is_none_or(str::is_empty) {
                self.name = Some(durable.to_string());
            }
        }
        if let Some(name) = self.name.as_deref() {
            if name.len() > MAX_NAME_LEN {
                return Err(ApiError::with_detail(
                    ErrorKind::ConsumerNameTooLong,
                    MAX_NAME_LEN,
                ));
            }
        }
        // Ephemerals always get an inactive threshold (nats-server stamps the default sans jitter).
        if !self.is_durable() && self.inactive_threshold <= 0 {
            self.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD;
        }
        Ok(self)
    }

    /// `setConsumerConfigDefaults` for a server without account or stream consumer limits.
    fn apply_defaults(&mut self) {
        if self.max_deliver == 0 || self.max_deliver < -1 {
            self.max_deliver = -1;
        }
        self.max_waiting = self.max_waiting.max(0);
        if self.max_ack_pending < -1 {
            self.max_ack_pending = -1;
        }
        self.max_batch = self.max_batch.max(0);
        self.max_expires = self.max_expires.max(0);
        self.max_bytes = self.max_bytes.max(0);
        self.idle_heartbeat = self.idle_heartbeat.max(0);
        self.inactive_threshold = self.inactive_threshold.max(0);
        if self.is_pull() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        // Only acks that can time out wait: flow-control acks come with the flow control.
        if self.ack_wait == 0 && matches!(self.ack_policy, AckPolicy::Explicit | AckPolicy::All) {
            self.ack_wait = DEFAULT_ACK_WAIT;
        }
        if let Some(first) = self.backoff.first() {
            self.ack_wait = *first;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
        }
        // Flow-control acks need the flow control, and the heartbeats that carry it on.
        if self.ack_policy == AckPolicy::FlowControl {
            self.flow_control = true;
            self.idle_heartbeat = FLOW_CONTROL_ACK_HEARTBEAT;
        }
    }

    /// The rules of `ack_policy: flow_control` (nats-server 2.14's `checkConsumerCfg`).
    fn check_flow_control_acks(&self) -> Result<(), ApiError> {
        if self.ack_policy != AckPolicy::FlowControl {
            return Ok(());
        }
        if self.is_pull() {
            return Err(ErrorKind::ConsumerAckFCRequiresPush.into());
        }
        if !self.flow_control {
            return Err(ErrorKind::ConsumerAckFCRequiresFC.into());
        }
        if self.idle_heartbeat != FLOW_CONTROL_ACK_HEARTBEAT {
            return Err(invalid_config(
                "flow control ack policy heartbeat needs to be 1s",
            ));
        }
        if self.max_ack_pending <= 0 {
            return Err(ErrorKind::ConsumerAckFCRequiresMaxAckPending.into());
        }
        if self.ack_wait != 0 || !self.backoff.is_empty() {
            return Err(ErrorKind::ConsumerAckFCRequiresNoAckWait.into());
        }
        if self.max_deliver > 0 {
            return Err(ErrorKind::ConsumerAckFCRequiresNoMaxDeliver.into());
        }
        Ok(())
    }

    /// `checkConsumerCfg`, minus what needs accounts, clusters or priority groups.
    fn check(&self, stream_subjects: &[String], work_queue: bool) -> Result<(), ApiError> {
        if self
            .name
            .as_deref()
            .is_some_and(|n| !n.is_empty() && !valid_asset_name(n))
        {
            return Err(invalid_config(
                "consumer name can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self
            .durable_name
            .as_deref()
            .is_some_and(|n| !n.is_empty() && !valid_asset_name(n))
        {
            return Err(invalid_config(
                "consumer durable name can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        // A single node's streams have one replica.
        if self.num_replicas > 1 {
            return Err(ErrorKind::ConsumerReplicasExceedsStream.into());
        }
        if self.num_replicas < 0 {
            return Err(ErrorKind::ReplicasCountCannotBeNegative.into());
        }
        if self.backoff.iter().any(|b| *b < 0) {
            return Err(ErrorKind::ConsumerBackOffNegative.into());
        }
        if self.ack_wait < 0 {
            return Err(ErrorKind::ConsumerAckWaitNegative.into());
        }
        self.check_flow_control_acks()?;
        check_backoff_fits(self)?;
        if self.description.as_deref().map_or(0, str::len) > MAX_DESCRIPTION_LEN {
            return Err(ApiError::with_detail(
                ErrorKind::ConsumerDescriptionTooLong,
                MAX_DESCRIPTION_LEN,
            ));
        }
        match self.deliver_subject.as_deref().filter(|d| !d.is_empty()) {
            Some(deliver) => self.check_push(deliver, stream_subjects)?,
            None => self.check_pull(work_queue)?,
        }
        // A mirror's or source's consumer: pushed, and gone with its mirror.
        if self.direct {
            if self.is_pull() {
                return Err(ErrorKind::ConsumerDirectRequiresPush.into());
            }
            if self.is_durable() {
                return Err(ErrorKind::ConsumerDirectRequiresEphemeral.into());
            }
        }
        self.check_filters()?;
        self.check_start()?;
        if let Some(freq) = self.sample_freq.as_deref().filter(|f| !f.is_empty()) {
            check_sample_freq(freq)?;
        }
        if self.flow_control && self.idle_heartbeat == 0 {
            return Err(ErrorKind::ConsumerWithFlowControlNeedsHeartbeats.into());
        }
        if let (Some(durable), Some(name)) = (&self.durable_name, &self.name) {
            if !durable.is_empty() && !name.is_empty() && durable != name {
                return Err(ErrorKind::ConsumerCreateDurableAndNameMismatch.into());
            }
        }
        let metadata_len: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(ApiError::with_detail(
                ErrorKind::ConsumerMetadataLength,
                format!("{}KB", MAX_METADATA_LEN / 1024),
            ));
        }
        Ok(())
    }

    fn check_push(&self, deliver: &str, stream_subjects: &[String]) -> Result<(), ApiError> {
        if !subject::is_literal(deliver) {
            return Err(ErrorKind::ConsumerDeliverToWildcards.into());
        }
        if subject::validate_subject(deliver).is_err() {
            return Err(ErrorKind::ConsumerInvalidDeliverSubject.into());
        }
        if stream_subjects
            .iter()
            .any(|s| subject::is_subset(deliver, s))
        {
            return Err(ErrorKind::ConsumerDeliverCycle.into());
        }
        if self.max_waiting != 0 {
            return Err(ErrorKind::ConsumerPushMaxWaiting.into());
        }
        if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
            return Err(ErrorKind::ConsumerMaxPendingAckPolicyRequired.into());
        }
        if self.idle_heartbeat > 0 && self.idle_heartbeat < 100 * time::MILLIS {
            return Err(ErrorKind::ConsumerSmallHeartbeat.into());
        }
        Ok(())
    }

    fn check_pull(&self, work_queue: bool) -> Result<(), ApiError> {
        if self.ack_policy == AckPolicy::None && work_queue {
            return Err(ErrorKind::ConsumerPullRequiresAck.into());
        }
        if self.rate_limit_bps > 0 {
            return Err(ErrorKind::ConsumerPullWithRateLimit.into());
        }
        if self.max_waiting < 0 {
            return Err(ErrorKind::ConsumerMaxWaitingNegative.into());
        }
        if self.idle_heartbeat > 0 {
            return Err(ErrorKind::ConsumerHBRequiresPush.into());
        }
        if self.flow_control {
            return Err(ErrorKind::ConsumerFCRequiresPush.into());
        }
        if self.max_batch < 0 {
            return Err(ErrorKind::ConsumerMaxRequestBatchNegative.into());
        }
        if self.max_expires != 0 && self.max_expires < time::MILLIS {
            return Err(ErrorKind::ConsumerMaxRequestExpiresTooSmall.into());
        }
        Ok(())
    }

    fn check_filters(&self) -> Result<(), ApiError> {
        let single = self.filter_subject.as_deref().filter(|f| !f.is_empty());
        if single.is_some() && !self.filter_subjects.is_empty() {
            return Err(ErrorKind::ConsumerDuplicateFilterSubjects.into());
        }
        if single.is_some_and(|f| subject::validate_filter(f).is_err()) {
            return Err(invalid_config("invalid subject"));
        }
        if self.filter_subjects.iter().any(String::is_empty) {
            return Err(ErrorKind::ConsumerEmptyFilter.into());
        }
        let filters: Vec<&str> = self.filters().collect();
        // Checked in order, as nats-server does: a filter is valid, then no other filter covers
        // it. Comparing every pair would be quadratic (10k filters held the engine thread for
        // seconds), so the candidates come from an index: every filter covering `a` matches
        // `a`'s text read as a literal subject (a few that only look like it are then refused
        // by the exact subset test).
        let mut index = SubjectIndex::new();
        let mut first_invalid = filters.len();
        for (i, filter) in filters.iter().enumerate() {
            if index.insert(filter, i).is_err() {
                first_invalid = i;
                break;
            }
        }
        for (i, a) in filters.iter().enumerate().take(first_invalid) {
            let mut overlaps = false;
            index.for_each_match(a, |&j| {
                overlaps |= i != j && subject::is_subset(a, filters[j]);
            });
            if overlaps {
                return Err(ErrorKind::ConsumerOverlappingSubjectFilters.into());
            }
        }
        if first_invalid < filters.len() {
            return Err(invalid_config("invalid subject"));
        }
        Ok(())
    }

    fn check_start(&self) -> Result<(), ApiError> {
        let bad_start = |dp: &str, start: &str| {
            ApiError::with_detail(
                ErrorKind::ConsumerInvalidPolicy,
                format!("consumer delivery policy is deliver {dp}, but optional start {start} is also set"),
            )
        };
        let not_set = |dp: &str, what: &str| {
            ApiError::with_detail(
                ErrorKind::ConsumerInvalidPolicy,
                format!("consumer delivery policy is deliver {dp}, but optional {what} is not set"),
            )
        };
        let has_seq = self.opt_start_seq.is_some_and(|s| s > 0);
        let has_time = self.opt_start_time.is_some();
        let plain = |dp: &str| -> Result<(), ApiError> {
            if has_seq {
                return Err(bad_start(dp, "sequence"));
            }
            if has_time {
                return Err(bad_start(dp, "time"));
            }
            Ok(())
        };
        match self.deliver_policy {
            DeliverPolicy::All => plain("all"),
            DeliverPolicy::Last => plain("last"),
            DeliverPolicy::New => plain("new"),
            DeliverPolicy::LastPerSubject => {
                plain("last per subject")?;
                if self.filters().next().is_none() {
                    return Err(not_set("last per subject", "filter subject"));
                }
                Ok(())
            }
            DeliverPolicy::ByStartSequence => {
                if !has_seq {
                    return Err(not_set("by start sequence", "start sequence"));
                }
                if has_time {
                    return Err(bad_start("by start sequence", "time"));
                }
                Ok(())
            }
            DeliverPolicy::ByStartTime => {
                if !has_time {
                    return Err(not_set("by start time", "start time"));
                }
                if has_seq {
                    return Err(bad_start("by start time", "start sequence"));
                }
                Ok(())
            }
        }
    }

    /// What an update may change (`checkNewConsumerConfig`). `new` must be validated; the result
    /// is the config to keep. Errors are 10012 with nats-server's text, or 10116.
    pub fn check_update(&self, new: &ConsumerConfig) -> Result<ConsumerConfig, ApiError> {
        if self == new {
            return Ok(new.clone());
        }
        let refuse = |what: &str| Err(ApiError::with_detail(ErrorKind::ConsumerCreate, what));
        if self.deliver_policy != new.deliver_policy {
            return refuse("deliver policy can not be updated");
        }
        if self.mem_storage != new.mem_storage {
            return refuse("storage type can not be updated");
        }
        if self.opt_start_seq.unwrap_or(0) != new.opt_start_seq.unwrap_or(0) {
            return refuse("start sequence can not be updated");
        }
        if self.opt_start_time != new.opt_start_time {
            return refuse("start time can not be updated");
        }
        if self.ack_policy != new.ack_policy {
            return refuse("ack policy can not be updated");
        }
        if self.replay_policy != new.replay_policy {
            return refuse("replay policy can not be updated");
        }
        if self.idle_heartbeat != new.idle_heartbeat {
            return refuse("heart beats can not be updated");
        }
        if self.flow_control != new.flow_control {
            return refuse("flow control can not be updated");
        }
        if self.is_pull() != new.is_pull() {
            if self.is_pull() {
                return refuse("can not update pull consumer to push based");
            }
            return refuse("can not update push consumer to pull based");
        }
        if self.max_waiting != new.max_waiting {
            return refuse("max waiting can not be updated");
        }
        check_backoff_fits(new)?;
        Ok(new.clone())
    }
}

/// The work-queue exclusivity rules for a new consumer `new` on a work-queue stream, given the
/// stream's other consumers (a consumer with `new`'s name among them is skipped). A mirror's or
/// source's consumer (`direct` or `sourcing`) is outside them, both as `new` and among the
/// others: it takes every message, and the stream keeps a message until the copy has it as
/// well (nats-server's `addConsumer` and `partitionUnique`). Acks by flow control count as
/// explicit ones here, as in 2.14.
pub fn check_work_queue(new: &ConsumerConfig, others: &[&ConsumerConfig]) -> Result<(), ApiError> {
    if new.is_copy() {
        return Ok(());
    }
    if !matches!(new.ack_policy, AckPolicy::Explicit | AckPolicy::FlowControl) {
        return Err(ErrorKind::ConsumerWQRequiresExplicitAck.into());
    }
    if new.deliver_policy != DeliverPolicy::All {
        return Err(ErrorKind::ConsumerWQConsumerNotDeliverAll.into());
    }
    let name = new.effective_name();
    let others: Vec<&&ConsumerConfig> = others
        .iter()
        .filter(|o| !o.is_copy() && (name.is_none() || o.effective_name() != name))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let mine: Vec<&str> = new.filters().collect();
    if mine.is_empty() {
        return Err(ErrorKind::ConsumerWQMultipleUnfiltered.into());
    }
    for other in others {
        let theirs: Vec<&str> = other.filters().collect();
        let collides = theirs.is_empty()
            || mine
                .iter()
                .any(|m| theirs.iter().any(|t| subject::overlaps(m, t)));
        if collides {
            return Err(ErrorKind::ConsumerWQConsumerNotUnique.into());
        }
    }
    Ok(())
}

fn check_backoff_fits(cfg: &ConsumerConfig) -> Result<(), ApiError> {
    let lbo = cfg.backoff.len() as i64;
    if lbo > 0 && cfg.max_deliver != -1 && lbo > cfg.max_deliver {
        return Err(ErrorKind::ConsumerMaxDeliverBackoff.into());
    }
    Ok(())
}

/// `sample_freq` is an integer percentage, with or without `%`.
fn check_sample_freq(freq: &str) -> Result<(), ApiError> {
    let digits = freq.strip_suffix('%').unwrap_or(freq);
    match digits.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(()),
        Ok(_) => Err(ApiError::with_detail(
            ErrorKind::ConsumerInvalidSampling,
            "<nil>",
        )),
        Err(_) => Err(ApiError::with_detail(
            ErrorKind::ConsumerInvalidSampling,
            format!("strconv.Atoi: parsing {digits:?}: invalid syntax"),
        )),
    }
}

fn invalid_config(text: &str) -> ApiError {
    ApiError::with_detail(ErrorKind::StreamInvalidConfig, text)
}
