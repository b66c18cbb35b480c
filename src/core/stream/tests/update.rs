//! Update rules: what may change, what may not, and new limits applied at once.

use super::*;
use crate::core::stream::{DiscardPolicy, RetentionPolicy, StorageType};

fn base() -> Stream {
    stream_with(|c| c.storage = StorageType::Memory)
}

fn updated(s: &Stream, f: impl FnOnce(&mut StreamConfig)) -> StreamConfig {
    let mut cfg = s.config().clone();
    f(&mut cfg);
    cfg
}

#[track_caller]
fn refused(f: impl FnOnce(&mut StreamConfig), text: &str) {
    let mut s = base();
    let before = s.config().clone();
    let cfg = updated(&s, f);
    assert_api_err(s.update(cfg, T0), ErrorKind::StreamInvalidConfig, text);
    assert_eq!(
        s.config(),
        &before,
        "config unchanged after a refused update"
    );
}

#[test]
fn update_may_change_subjects_limits_and_description() {
    let mut s = base();
    let cfg = updated(&s, |c| {
        c.subjects = vec!["a.>".into(), "b.*".into()];
        c.max_msgs = 10;
        c.description = "orders".into();
        c.allow_direct = true;
    });
    s.update(cfg.clone(), T0).expect("allowed");
    assert_eq!(s.config(), &cfg);
}

#[test]
fn update_validates_the_new_config() {
    let mut s = base();
    let cfg = updated(&s, |c| {
        c.max_msgs = 0;
        c.duplicate_window = 0;
    });
    s.update(cfg, T0).expect("allowed");
    assert_eq!(
        (s.config().max_msgs, s.config().duplicate_window),
        (-1, 120 * SECONDS)
    );
}

#[test]
fn update_cannot_change_the_name() {
    refused(
        |c| c.name = "T".into(),
        "stream configuration name must match original",
    );
}

#[test]
fn update_cannot_change_storage() {
    refused(
        |c| c.storage = StorageType::File,
        "stream configuration update can not change storage type",
    );
}

#[test]
fn update_cannot_move_retention_to_or_from_workqueue() {
    refused(
        |c| c.retention = RetentionPolicy::WorkQueue,
        "stream configuration update can not change retention policy to/from workqueue",
    );
}

#[test]
fn update_may_switch_between_limits_and_interest() {
    let mut s = base();
    let cfg = updated(&s, |c| c.retention = RetentionPolicy::Interest);
    s.update(cfg, T0).expect("allowed");
    assert_eq!(s.config().retention, RetentionPolicy::Interest);
}

#[test]
fn update_cannot_unseal() {
    let mut s = base();
    s.update(updated(&s, |c| c.sealed = true), T0)
        .expect("seal");
    assert_api_err(
        s.update(updated(&s, |c| c.sealed = false), T0),
        ErrorKind::StreamInvalidConfig,
        "stream configuration update can not unseal a sealed stream",
    );
}

#[test]
fn update_cannot_cancel_deny_delete() {
    let mut s = stream_with(|c| c.deny_delete = true);
    assert_api_err(
        s.update(updated(&s, |c| c.deny_delete = false), T0),
        ErrorKind::StreamInvalidConfig,
        "stream configuration update can not cancel deny message deletes",
    );
}

#[test]
fn update_cannot_cancel_deny_purge() {
    let mut s = stream_with(|c| c.deny_purge = true);
    assert_api_err(
        s.update(updated(&s, |c| c.deny_purge = false), T0),
        ErrorKind::StreamInvalidConfig,
        "stream configuration update can not cancel deny purge",
    );
}

#[test]
fn update_to_more_replicas_is_not_supported() {
    let mut s = base();
    assert_api_err(
        s.update(updated(&s, |c| c.num_replicas = 3), T0),
        ErrorKind::StreamReplicasNotSupported,
        "replicas > 1 not supported in non-clustered mode",
    );
}

#[test]
fn sealing_fixes_the_stream_as_it_is() {
    let mut s = stream_with(|c| {
        c.max_age = 60 * SECONDS;
        c.allow_rollup_hdrs = true;
    });
    s.update(updated(&s, |c| c.sealed = true), T0)
        .expect("seal");
    let c = s.config();
    assert_eq!(
        (
            c.max_age,
            c.discard,
            c.deny_delete,
            c.deny_purge,
            c.allow_rollup_hdrs
        ),
        (0, DiscardPolicy::New, true, true, false)
    );
}

#[test]
fn lowering_max_msgs_trims_at_once_with_discard_old() {
    let mut s = base();
    for _ in 0..5 {
        put(&mut s, "a.1", "x");
    }
    s.update(updated(&s, |c| c.max_msgs = 2), T0)
        .expect("allowed");
    assert_eq!(seqs(&s), vec![4, 5]);
}

#[test]
fn lowering_max_bytes_trims_at_once_with_discard_old() {
    let mut s = base();
    for _ in 0..3 {
        put(&mut s, "a.1", "x");
    }
    let one = s.state().bytes as i64 / 3;
    s.update(updated(&s, |c| c.max_bytes = one), T0)
        .expect("allowed");
    assert_eq!(seqs(&s), vec![3]);
}

#[test]
fn lowering_max_msgs_with_discard_new_keeps_messages_and_refuses_new_ones() {
    let mut s = stream_with(|c| c.discard = DiscardPolicy::New);
    for _ in 0..3 {
        put(&mut s, "a.1", "x");
    }
    s.update(updated(&s, |c| c.max_msgs = 2), T0)
        .expect("allowed");
    assert_eq!(s.state().msgs, 3);
    assert!(s
        .publish("a.1", None, bytes::Bytes::new(), T0, true)
        .is_err_and(|e| e.is(ErrorKind::StreamStoreFailed)));
}

#[test]
fn lowering_max_msgs_per_subject_trims_every_subject() {
    let mut s = base();
    for subject in ["a.1", "a.2", "a.1", "a.2", "a.1"] {
        put(&mut s, subject, "x");
    }
    s.update(updated(&s, |c| c.max_msgs_per_subject = 1), T0)
        .expect("allowed");
    assert_eq!(seqs(&s), vec![4, 5]);
}

#[test]
fn setting_max_age_expires_old_messages_at_once() {
    let mut s = base();
    put_at(&mut s, "a.1", "x", T0);
    put_at(&mut s, "a.1", "x", T0 + 5 * SECONDS);
    let cfg = updated(&s, |c| {
        c.max_age = 3 * SECONDS;
        c.duplicate_window = SECONDS;
    });
    s.update(cfg, T0 + 6 * SECONDS).expect("allowed");
    assert_eq!(seqs(&s), vec![2]);
}

#[test]
fn update_keeps_an_explicit_duplicate_window_within_the_new_max_age() {
    // The current config holds the two-minute default explicitly, as nats-server's does.
    let mut s = base();
    assert_api_err(
        s.update(updated(&s, |c| c.max_age = 3 * SECONDS), T0),
        ErrorKind::StreamInvalidConfig,
        "duplicates window can not be larger then max age",
    );
}
