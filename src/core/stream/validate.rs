//! Checking a stream config and what an update may change, after nats-server's
//! `checkStreamCfg` and `configUpdateCheck` (`server/stream.go`).
//!
//! Every refusal is a `StreamInvalidConfig` (10052) carrying nats-server's own text, unless
//! nats-server uses a dedicated code. Checks that need other streams (subject overlap, stream
//! count) belong to the engine.

use crate::core::error::{ApiError, ErrorKind};
use crate::core::sourcing::{check_sourcing, MirrorContext};
use crate::core::subject;
use crate::core::time::{Nanos, MILLIS, SECONDS};
use crate::core::transform::{validate_mapping, SubjectTransform};

use super::config::{DiscardPolicy, PersistMode, RetentionPolicy, StreamConfig};

/// Longest stream name, in bytes (`JSMaxNameLen`).
pub const MAX_NAME_LEN: usize = 255;
/// Longest description, in bytes (`JSMaxDescriptionLen`).
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Largest total of metadata keys and values, in bytes (`JSMaxMetadataLen`).
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// Most replicas a config may ask for (`StreamMaxReplicas`).
pub const MAX_REPLICAS: usize = 5;
/// The duplicate window a config gets when it sets none.
pub const DEFAULT_DUPLICATE_WINDOW: Nanos = 120 * SECONDS;
/// Shortest non-zero `max_age` and `duplicate_window`.
const MIN_WINDOW: Nanos = 100 * MILLIS;

fn invalid(text: impl std::fmt::Display) -> ApiError {
    ApiError::with_detail(ErrorKind::StreamInvalidConfig, text)
}

/// True when `name` may name a stream (or consumer): non-empty, without `.`, `*`, `>`,
/// whitespace or path separators.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.bytes().any(|b| {
            matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | 0x0c | b'.' | b'*' | b'>' | b'\\' | b'/'
            )
        })
}

/// Unlimited is -1; nats-server also reads 0 and anything below -1 as unlimited.
fn normalize_limit(value: i64) -> i64 {
    if value == 0 || value < -1 {
        -1
    } else {
        value
    }
}

impl StreamConfig {
    /// Applies nats-server's defaults and checks the config on its own: name, sizes, limits,
    /// windows, subjects, and the features Contrail does not implement.
    pub fn validated(self) -> Result<StreamConfig, ApiError> {
        let mut cfg = self;
        check_identity(&cfg)?;
        normalize_limits(&mut cfg)?;
        normalize_windows(&mut cfg)?;
        if cfg.deny_purge && cfg.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }
        check_discard_new_per_subject(&cfg)?;
        check_delete_markers(&mut cfg)?;
        check_mirror_and_sources(&mut cfg)?;
        check_unsupported(&cfg)?;
        normalize_subjects(&mut cfg)?;
        check_subject_transform(&cfg)?;
        normalize_republish(&mut cfg)?;
        if cfg
            .placement
            .as_ref()
            .is_some_and(|p| *p == Default::default())
        {
            cfg.placement = None;
        }
        if cfg
            .placement
            .as_ref()
            .is_some_and(|p| !p.preferred.is_empty())
        {
            return Err(invalid("preferred server not permitted in placement"));
        }
        Ok(cfg)
    }

    /// Checks that `new` may replace this (current, validated) config and returns it validated,
    /// with the adjustments a seal implies.
    pub fn check_update(&self, new: &StreamConfig) -> Result<StreamConfig, ApiError> {
        let mut cfg = new.clone().validated()?;
        let old = self;
        if cfg.name != old.name {
            return Err(invalid("stream configuration name must match original"));
        }
        check_single_node(&cfg)?;
        if cfg.storage != old.storage {
            return Err(invalid(
                "stream configuration update can not change storage type",
            ));
        }
        if cfg.retention != old.retention
            && (old.retention == RetentionPolicy::WorkQueue
                || cfg.retention == RetentionPolicy::WorkQueue)
        {
            return Err(invalid(
                "stream configuration update can not change retention policy to/from workqueue",
            ));
        }
        if old.sealed && !cfg.sealed {
            return Err(invalid(
                "stream configuration update can not unseal a sealed stream",
            ));
        }
        if old.deny_delete && !cfg.deny_delete {
            return Err(invalid(
                "stream configuration update can not cancel deny message deletes",
            ));
        }
        if old.deny_purge && !cfg.deny_purge {
            return Err(invalid(
                "stream configuration update can not cancel deny purge",
            ));
        }
        // A mirror may be removed (the copy becomes a stream of its own), never changed.
        if cfg.mirror.is_some() && cfg.mirror != old.mirror {
            return Err(ErrorKind::StreamMirrorNotUpdatable.into());
        }
        if old.allow_msg_ttl && !cfg.allow_msg_ttl {
            return Err(invalid("message TTL status can not be disabled"));
        }
        if old.allow_msg_counter != cfg.allow_msg_counter {
            return Err(invalid(
                "stream configuration update can not change message counter setting",
            ));
        }
        if old.allow_msg_schedules && !cfg.allow_msg_schedules {
            return Err(invalid("message schedules can not be disabled"));
        }
        if old.persist_mode != cfg.persist_mode {
            return Err(invalid(
                "stream configuration update can not change persist mode",
            ));
        }
        if cfg.sealed {
            // A sealed stream keeps everything it has, and nothing changes it any more.
            cfg.max_age = 0;
            cfg.discard = DiscardPolicy::New;
            cfg.deny_delete = true;
            cfg.deny_purge = true;
            cfg.allow_rollup_hdrs = false;
        }
        Ok(cfg)
    }

    /// The checks a stream create adds to [`StreamConfig::validated`]: a new stream cannot be
    /// sealed, cannot ask for mirror direct without a mirror, and has one replica.
    pub fn check_create(&self) -> Result<(), ApiError> {
        if self.sealed {
            return Err(invalid("stream configuration for create can not be sealed"));
        }
        if self.mirror_direct && self.mirror.is_none() {
            return Err(invalid("stream has no mirror but does have mirror direct"));
        }
        check_single_node(self)
    }
}

/// A single node serves one replica only (nats-server in standalone mode says the same).
fn check_single_node(cfg: &StreamConfig) -> Result<(), ApiError> {
    if cfg.num_replicas > 1 {
        return Err(ErrorKind::StreamReplicasNotSupported.into());
    }
    Ok(())
}

fn check_identity(cfg: &StreamConfig) -> Result<(), ApiError> {
    if !is_valid_name(&cfg.name) {
        return Err(invalid(
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if cfg.name.len() > MAX_NAME_LEN {
        return Err(invalid(format_args!(
            "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
        )));
    }
    if cfg.description.len() > MAX_DESCRIPTION_LEN {
        return Err(invalid(format_args!(
            "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
        )));
    }
    let metadata_len: usize = cfg.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_len > MAX_METADATA_LEN {
        return Err(invalid(format_args!(
            "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
        )));
    }
    Ok(())
}

fn normalize_limits(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    if cfg.num_replicas == 0 {
        cfg.num_replicas = 1;
    }
    if cfg.num_replicas > MAX_REPLICAS {
        return Err(invalid(format_args!("maximum replicas is {MAX_REPLICAS}")));
    }
    cfg.max_msgs = normalize_limit(cfg.max_msgs);
    cfg.max_msgs_per_subject = normalize_limit(cfg.max_msgs_per_subject);
    cfg.max_bytes = normalize_limit(cfg.max_bytes);
    if cfg.max_msg_size == 0 || cfg.max_msg_size < -1 {
        cfg.max_msg_size = -1;
    }
    cfg.max_consumers = normalize_limit(cfg.max_consumers);
    Ok(())
}

fn normalize_windows(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    if cfg.max_age < 0 {
        return Err(invalid("max age can not be negative"));
    }
    if cfg.max_age != 0 && cfg.max_age < MIN_WINDOW {
        return Err(invalid("max age needs to be >= 100ms"));
    }
    if cfg.duplicate_window == 0 && cfg.mirror.is_none() && cfg.sources.is_empty() {
        cfg.duplicate_window = if cfg.max_age != 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW {
            cfg.max_age
        } else {
            DEFAULT_DUPLICATE_WINDOW
        };
    }
    if cfg.duplicate_window < 0 {
        return Err(invalid("duplicates window can not be negative"));
    }
    if cfg.max_age != 0 && cfg.duplicate_window > cfg.max_age {
        return Err(invalid("duplicates window can not be larger then max age"));
    }
    if cfg.duplicate_window > 0 && cfg.duplicate_window < MIN_WINDOW {
        return Err(invalid("duplicates window needs to be >= 100ms"));
    }
    Ok(())
}

fn check_discard_new_per_subject(cfg: &StreamConfig) -> Result<(), ApiError> {
    if cfg.discard_new_per_subject {
        if cfg.discard != DiscardPolicy::New {
            return Err(invalid(
                "discard new per subject requires discard new policy to be set",
            ));
        }
        if cfg.max_msgs_per_subject <= 0 {
            return Err(invalid(
                "discard new per subject requires max msgs per subject > 0",
            ));
        }
    }
    Ok(())
}

/// `mirror` and `sources`, checked as nats-server checks them (so a bad one gets its error),
/// with `domain` resolved into `external`.
fn check_mirror_and_sources(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    let context = MirrorContext {
        subjects: &cfg.subjects,
        first_seq: cfg.first_seq,
        has_sources: !cfg.sources.is_empty(),
        counters: cfg.allow_msg_counter,
        atomic: cfg.allow_atomic_publish,
        schedules: cfg.allow_msg_schedules,
    };
    let mut mirror = cfg.mirror.clone();
    let mut sources = cfg.sources.clone();
    check_sourcing(mirror.as_mut(), &mut sources, &context)?;
    cfg.mirror = mirror;
    cfg.sources = sources;
    Ok(())
}

/// `subject_delete_marker_ttl`: at least a second, and it turns on what markers need (message
/// TTLs, rollups) as nats-server does for a client that is not pedantic; never on a mirror.
fn check_delete_markers(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    if cfg.subject_delete_marker_ttl < 0 {
        return Err(invalid("subject delete marker TTL must not be negative"));
    }
    if cfg.subject_delete_marker_ttl == 0 {
        return Ok(());
    }
    if cfg.subject_delete_marker_ttl < SECONDS {
        return Err(invalid(
            "subject delete marker TTL must be at least 1 second",
        ));
    }
    if cfg.mirror.is_some() {
        return Err(invalid("subject delete markers forbidden on mirrors"));
    }
    cfg.allow_msg_ttl = true;
    if !cfg.allow_rollup_hdrs {
        cfg.allow_rollup_hdrs = true;
        cfg.deny_purge = false;
    }
    Ok(())
}

/// Features nats-server has and Contrail does not: refusing them beats pretending.
fn check_unsupported(cfg: &StreamConfig) -> Result<(), ApiError> {
    let unsupported = [
        (cfg.allow_msg_counter, "message counters not supported"),
        (cfg.allow_atomic_publish, "atomic publish not supported"),
        (cfg.allow_batch_publish, "batch publish not supported"),
        (cfg.allow_msg_schedules, "message schedules not supported"),
        (
            cfg.persist_mode == PersistMode::Async,
            "async persist mode not supported",
        ),
    ];
    match unsupported.iter().find(|(used, _)| *used) {
        Some((_, feature)) => Err(invalid(feature)),
        None => Ok(()),
    }
}

/// `subject_transform`: a valid source filter (10155) and a destination nats-server's
/// `ValidateMapping` accepts (10156).
fn check_subject_transform(cfg: &StreamConfig) -> Result<(), ApiError> {
    let Some(t) = &cfg.subject_transform else {
        return Ok(());
    };
    if !t.src.is_empty() && subject::validate_filter(&t.src).is_err() {
        return Err(ApiError::with_detail(
            ErrorKind::StreamTransformInvalidSource,
            format_args!("invalid subject {}", t.src),
        ));
    }
    validate_mapping(&t.src, &t.dest)
        .map_err(|e| ApiError::with_detail(ErrorKind::StreamTransformInvalidDestination, e))
}

/// `republish`: an empty source means `>`; `>` to `>` with a transform of the stream's only
/// subject republishes the transformed subjects; the destination must not overlap the stream's
/// subjects (the copies would be stored again) and must be a transform of the source.
fn normalize_republish(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    let Some(rp) = &mut cfg.republish else {
        return Ok(());
    };
    if rp.src.is_empty() {
        rp.src = ">".to_string();
    }
    if let Some(t) = &cfg.subject_transform {
        if rp.src == ">" && rp.dest == ">" && cfg.subjects.len() == 1 && t.src == cfg.subjects[0] {
            rp.src = t.dest.clone();
            rp.dest = t.dest.clone();
        }
    }
    if cfg.subjects.iter().any(|s| subject::overlaps(&rp.dest, s)) {
        return Err(invalid(
            "stream configuration for republish destination forms a cycle",
        ));
    }
    if SubjectTransform::new(&rp.src, &rp.dest).is_err() {
        return Err(invalid(format_args!(
            "stream configuration for republish with transform from '{}' to '{}' not valid",
            rp.src, rp.dest
        )));
    }
    Ok(())
}

fn normalize_subjects(cfg: &mut StreamConfig) -> Result<(), ApiError> {
    // A mirror or a stream with sources has no subjects unless it is given some.
    if cfg.subjects.is_empty() && (cfg.mirror.is_some() || !cfg.sources.is_empty()) {
        return Ok(());
    }
    if cfg.subjects.is_empty() {
        cfg.subjects.push(cfg.name.clone());
        return Ok(());
    }
    for (i, subj) in cfg.subjects.iter().enumerate() {
        if subject::validate_filter(subj).is_err() {
            return Err(invalid("invalid subject"));
        }
        if cfg.subjects[..i].contains(subj) {
            return Err(invalid("duplicate subjects detected"));
        }
        if subj == ">" {
            if !cfg.no_ack {
                return Err(invalid("capturing all subjects requires no-ack to be true"));
            }
            if cfg.num_replicas != 1 {
                return Err(invalid("capturing all subjects requires replicas of 1"));
            }
        }
        if !cfg.no_ack {
            check_reserved(subj)?;
        }
        if let Some(other) = cfg.subjects[i + 1..]
            .iter()
            .find(|t| subject::overlaps(t, subj))
        {
            return Err(invalid(format_args!(
                "subject {subj:?} overlaps with {other:?}"
            )));
        }
    }
    Ok(())
}

/// A stream that acks publishes must not capture the API subjects it would answer on.
fn check_reserved(subj: &str) -> Result<(), ApiError> {
    let js_api = ["$JS.>", "$JSC.>", "$NRG.>"]
        .iter()
        .any(|ns| subject::overlaps(subj, ns));
    // Streams on $JS.EVENT.> predate this rule, so nats-server lets them be.
    if js_api && !subject::is_subset(subj, "$JS.EVENT.>") {
        return Err(invalid(
            "subjects that overlap with jetstream api require no-ack to be true",
        ));
    }
    if subject::overlaps(subj, "$SYS.>") && !subject::is_subset(subj, "$SYS.ACCOUNT.>") {
        return Err(invalid(
            "subjects that overlap with system api require no-ack to be true",
        ));
    }
    Ok(())
}
