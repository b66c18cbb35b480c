//! Config validation and create rules, with nats-server's texts.

use super::*;
use crate::core::stream::DiscardPolicy;

fn valid(f: impl FnOnce(&mut StreamConfig)) -> StreamConfig {
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    f(&mut cfg);
    cfg.validated().expect("valid")
}

#[track_caller]
fn invalid(f: impl FnOnce(&mut StreamConfig), text: &str) {
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    f(&mut cfg);
    assert_api_err(cfg.validated(), ErrorKind::StreamInvalidConfig, text);
}

const NAME_RULE: &str = "stream name is required and can not contain '.', '*', '>', '\\', '/'";

#[test]
fn stream_name_must_be_a_plain_token() {
    for name in ["", "a.b", "a*", "a>", "a b", "a\tb", "a/b", "a\\b"] {
        invalid(|c| c.name = name.into(), NAME_RULE);
    }
    assert_eq!(
        valid(|c| c.name = "Orders-2024_x".into()).name,
        "Orders-2024_x"
    );
}

#[test]
fn stream_name_is_at_most_255_bytes() {
    valid(|c| c.name = "n".repeat(255));
    invalid(
        |c| c.name = "n".repeat(256),
        "stream name is too long, maximum allowed is 255",
    );
}

#[test]
fn description_and_metadata_have_size_limits() {
    invalid(
        |c| c.description = "d".repeat(4097),
        "stream description is too long, maximum allowed is 4096",
    );
    invalid(
        |c| {
            c.metadata.insert("k".into(), "v".repeat(128 * 1024));
        },
        "stream metadata exceeds maximum size of 131072 bytes",
    );
}

#[test]
fn subjects_default_to_the_stream_name() {
    assert_eq!(
        valid(|c| c.subjects.clear()).subjects,
        vec!["S".to_string()]
    );
}

#[test]
fn subjects_must_be_valid_filters() {
    invalid(|c| c.subjects = vec!["a..b".into()], "invalid subject");
    invalid(|c| c.subjects = vec!["a.>.b".into()], "invalid subject");
}

#[test]
fn subjects_must_not_repeat_or_overlap() {
    // nats-server's overlap check sees a repeated subject first.
    invalid(
        |c| c.subjects = vec!["a.b".into(), "a.b".into()],
        "subject \"a.b\" overlaps with \"a.b\"",
    );
    invalid(
        |c| c.subjects = vec!["a.*".into(), "a.b".into()],
        "subject \"a.*\" overlaps with \"a.b\"",
    );
}

#[test]
fn capturing_everything_needs_no_ack() {
    invalid(
        |c| c.subjects = vec![">".into()],
        "capturing all subjects requires no-ack to be true",
    );
    valid(|c| {
        c.subjects = vec![">".into()];
        c.no_ack = true;
    });
}

#[test]
fn api_subjects_need_no_ack() {
    invalid(
        |c| c.subjects = vec!["$JS.API.>".into()],
        "subjects that overlap with jetstream api require no-ack to be true",
    );
    invalid(
        |c| c.subjects = vec!["$SYS.REQ.>".into()],
        "subjects that overlap with system api require no-ack to be true",
    );
    valid(|c| c.subjects = vec!["$JS.EVENT.ADVISORY.>".into(), "$SYS.ACCOUNT.>".into()]);
}

#[test]
fn zero_and_negative_limits_mean_unlimited() {
    let cfg = valid(|c| {
        c.max_msgs = 0;
        c.max_bytes = -7;
        c.max_msg_size = -2;
    });
    assert_eq!(
        (cfg.max_msgs, cfg.max_bytes, cfg.max_msg_size),
        (-1, -1, -1)
    );
}

#[test]
fn max_age_must_be_zero_or_at_least_100ms() {
    invalid(|c| c.max_age = -1, "max age can not be negative");
    invalid(|c| c.max_age = 99_000_000, "max age needs to be >= 100ms");
}

#[test]
fn duplicate_window_defaults_to_two_minutes_capped_by_max_age() {
    assert_eq!(valid(|_| {}).duplicate_window, 120 * SECONDS);
    assert_eq!(
        valid(|c| c.max_age = 30 * SECONDS).duplicate_window,
        30 * SECONDS
    );
}

#[test]
fn duplicate_window_rules() {
    invalid(
        |c| c.duplicate_window = -1,
        "duplicates window can not be negative",
    );
    invalid(
        |c| {
            c.max_age = SECONDS;
            c.duplicate_window = 2 * SECONDS;
        },
        "duplicates window can not be larger then max age",
    );
    invalid(
        |c| c.duplicate_window = 1_000,
        "duplicates window needs to be >= 100ms",
    );
}

#[test]
fn rollups_need_purges_allowed() {
    invalid(
        |c| {
            c.allow_rollup_hdrs = true;
            c.deny_purge = true;
        },
        "roll-ups require the purge permission",
    );
}

#[test]
fn discard_new_per_subject_needs_discard_new_and_a_subject_limit() {
    invalid(
        |c| {
            c.discard_new_per_subject = true;
            c.max_msgs_per_subject = 1;
        },
        "discard new per subject requires discard new policy to be set",
    );
    invalid(
        |c| {
            c.discard_new_per_subject = true;
            c.discard = DiscardPolicy::New;
        },
        "discard new per subject requires max msgs per subject > 0",
    );
}

#[test]
fn replicas_default_to_one_and_are_at_most_five() {
    assert_eq!(valid(|_| {}).num_replicas, 1);
    invalid(|c| c.num_replicas = 6, "maximum replicas is 5");
}

#[test]
fn unsupported_features_are_refused_by_name() {
    invalid(
        |c| c.allow_atomic_publish = true,
        "atomic publish not supported",
    );
}

#[test]
fn empty_placement_is_dropped_and_preferred_refused() {
    assert_eq!(
        valid(|c| c.placement = Some(Default::default())).placement,
        None
    );
    invalid(
        |c| {
            c.placement = Some(crate::core::stream::Placement {
                preferred: "n1".into(),
                ..Default::default()
            })
        },
        "preferred server not permitted in placement",
    );
}

#[test]
fn create_refuses_a_sealed_stream() {
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    cfg.sealed = true;
    let r = Stream::create(cfg, Box::new(MemoryStore::new()), T0);
    assert_api_err(
        r,
        ErrorKind::StreamInvalidConfig,
        "stream configuration for create can not be sealed",
    );
}

#[test]
fn create_refuses_mirror_direct_without_mirror() {
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    cfg.mirror_direct = true;
    let r = Stream::create(cfg, Box::new(MemoryStore::new()), T0);
    assert_api_err(
        r,
        ErrorKind::StreamInvalidConfig,
        "stream has no mirror but does have mirror direct",
    );
}

#[test]
fn create_refuses_replicas_on_a_single_node() {
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    cfg.num_replicas = 3;
    let r = Stream::create(cfg, Box::new(MemoryStore::new()), T0);
    assert_api_err(
        r,
        ErrorKind::StreamReplicasNotSupported,
        "replicas > 1 not supported in non-clustered mode",
    );
}
