//! Interest retention, removed messages, inactivity, updates and deletion.

use super::support::*;
use crate::core::consumer::{AckKind, AckPolicy, ConsumerConfig, PullRequest};
use crate::core::store::StreamStore;

#[test]
fn needs_ack_until_acknowledged() {
    let store = store_n(2);
    let mut c = consumer(&store, pull_config("d"));
    assert!(c.needs_ack(1, "orders.new"), "not yet delivered");
    let d = deliveries(&fetch(&mut c, &store, 1, T0));
    assert!(c.needs_ack(1, "orders.new"), "pending");
    ack_with(&mut c, &store, &d[0], AckKind::Ack, T0);
    assert!(!c.needs_ack(1, "orders.new"));
    assert!(c.needs_ack(2, "orders.new"));
}

#[test]
fn filtered_consumer_needs_no_other_subjects() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.filter_subject = Some("orders.new".into());
    let c = consumer(&store, config);
    assert!(!c.needs_ack(1, "orders.old"));
}

#[test]
fn removed_pending_message_stops_being_pending() {
    let mut store = store_n(3);
    let mut c = consumer(&store, pull_config("d"));
    fetch(&mut c, &store, 3, T0);
    store.remove_msg(1).expect("removed");
    c.on_removed(1);
    let info = c.info(&store, T0);
    assert_eq!(info.num_ack_pending, 2);
    assert_eq!(info.ack_floor.stream_seq, 1);
}

#[test]
fn removed_undelivered_messages_leave_num_pending() {
    let mut store = store_n(3);
    let mut c = consumer(&store, pull_config("d"));
    store.purge("", 0, 0).expect("purged");
    for seq in 1..=3 {
        c.on_removed(seq);
    }
    assert_eq!(c.info(&store, T0).num_pending, 0);
    assert!(seqs(&fetch(&mut c, &store, 5, T0)).is_empty());
}

#[test]
fn purged_stream_moves_the_consumer_past_the_gap() {
    let mut store = store_n(3);
    let mut c = consumer(&store, pull_config("d"));
    store.purge("", 0, 0).expect("purged");
    publish(&mut store, "orders.new", T0 + 1);
    assert_eq!(seqs(&fetch(&mut c, &store, 5, T0 + 1)), vec![4]);
}

#[test]
fn ephemeral_pull_consumer_goes_inactive_after_threshold() {
    let store = store_n(1);
    let config = ConsumerConfig {
        name: Some("eph".into()),
        inactive_threshold: secs(5),
        ..Default::default()
    };
    let mut c = consumer(&store, config);
    fetch(&mut c, &store, 1, T0);
    assert!(!c.is_inactive(T0 + secs(5) - 1));
    assert!(c.is_inactive(T0 + secs(5)));
}

#[test]
fn waiting_request_keeps_a_pull_consumer_alive() {
    let store = store_n(0);
    let config = ConsumerConfig {
        name: Some("eph".into()),
        ..Default::default()
    };
    let mut c = consumer(&store, config);
    let req = PullRequest {
        batch: 1,
        expires: secs(30),
        ..Default::default()
    };
    request(&mut c, &store, req, "_INBOX.a", T0);
    assert!(!c.is_inactive(T0 + secs(10)));
}

#[test]
fn unacked_work_keeps_a_pull_consumer_alive_for_its_ack_wait() {
    let store = store_n(1);
    let config = ConsumerConfig {
        name: Some("eph".into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: secs(30),
        ..Default::default()
    };
    let mut c = consumer(&store, config);
    fetch(&mut c, &store, 1, T0);
    assert!(!c.is_inactive(T0 + secs(10)));
    assert!(c.is_inactive(T0 + secs(35)));
}

#[test]
fn push_consumer_without_interest_goes_inactive() {
    let store = store_n(0);
    let config = ConsumerConfig {
        name: Some("eph".into()),
        deliver_subject: Some("deliver".into()),
        ..Default::default()
    };
    let mut c = consumer(&store, config);
    c.set_push_active(true, T0);
    assert!(!c.is_inactive(T0 + secs(60)));
    c.set_push_active(false, T0 + secs(60));
    assert!(!c.is_inactive(T0 + secs(64)));
    assert!(c.is_inactive(T0 + secs(65)));
}

#[test]
fn durable_without_threshold_never_goes_inactive() {
    let store = store_n(0);
    let c = consumer(&store, pull_config("d"));
    assert!(!c.is_inactive(T0 + secs(1_000_000)));
}

#[test]
fn update_applies_new_max_ack_pending() {
    let store = store_n(5);
    let mut config = pull_config("d");
    config.max_ack_pending = 1;
    let mut c = consumer(&store, config);
    assert_eq!(seqs(&fetch(&mut c, &store, 5, T0)), vec![1]);
    let mut wider = pull_config("d");
    wider.max_ack_pending = 3;
    let wider = wider
        .validated(&["orders.>".to_string()], false)
        .expect("valid");
    c.update(wider).expect("allowed");
    assert_eq!(seqs(&poll(&mut c, &store, T0)), vec![2, 3]);
}

#[test]
fn close_answers_waiting_requests_with_consumer_deleted() {
    let store = store_n(0);
    let mut c = consumer(&store, pull_config("d"));
    request(&mut c, &store, PullRequest::batch(1), "_INBOX.a", T0);
    let mut out = Vec::new();
    c.close(&mut out);
    assert_eq!(statuses(&out), vec![(409, "Consumer Deleted".to_string())]);
}
