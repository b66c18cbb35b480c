//! ConsumerInfo numbers and JSON.

use super::support::*;
use crate::core::consumer::{AckKind, ConsumerInfo, PullRequest};

#[test]
fn fresh_consumer_info_counts_everything_pending() {
    let store = store_n(4);
    let c = consumer(&store, pull_config("d"));
    let info = c.info(&store, T0);
    assert_eq!(info.stream_name, STREAM);
    assert_eq!(info.name, "d");
    assert_eq!(
        (info.delivered.consumer_seq, info.delivered.stream_seq),
        (0, 0)
    );
    assert_eq!(info.num_pending, 4);
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_waiting, 0);
    assert_eq!(info.delivered.last_active, None);
}

#[test]
fn info_counts_follow_deliveries_acks_and_redeliveries() {
    let store = store_n(5);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    let mut c = consumer(&store, config);
    let d = deliveries(&fetch(&mut c, &store, 3, T0));
    ack_with(&mut c, &store, &d[0], AckKind::Ack, T0 + 10);
    // One request waits (for redeliveries) after the two unacked expire.
    let r = PullRequest {
        batch: 10,
        expires: secs(60),
        ..Default::default()
    };
    request(&mut c, &store, r, "_INBOX.w", T0 + secs(1));
    let info = c.info(&store, T0 + secs(1));
    assert_eq!(info.num_pending, 0);
    assert_eq!(info.num_ack_pending, 4);
    assert_eq!(info.num_redelivered, 2);
    assert_eq!(info.num_waiting, 1);
    assert_eq!(
        (info.delivered.consumer_seq, info.delivered.stream_seq),
        (7, 5)
    );
    assert_eq!(
        (info.ack_floor.consumer_seq, info.ack_floor.stream_seq),
        (1, 1)
    );
    assert_eq!(info.delivered.last_active, Some(T0 + secs(1)));
    assert_eq!(info.ack_floor.last_active, Some(T0 + 10));
}

#[test]
fn info_counts_messages_stored_after_creation() {
    let mut store = store_n(1);
    let c = consumer(&store, pull_config("d"));
    publish(&mut store, "orders.new", T0 + 1);
    publish(&mut store, "orders.new", T0 + 2);
    assert_eq!(c.info(&store, T0).num_pending, 3);
}

#[test]
fn info_serializes_with_nats_field_names() {
    let store = store_n(1);
    let c = consumer(&store, pull_config("d"));
    let json = serde_json::to_value(c.info(&store, T0)).expect("serializes");
    assert_eq!(json["stream_name"], "ORDERS");
    assert_eq!(json["created"], "2023-11-14T22:13:20Z");
    assert_eq!(json["config"]["durable_name"], "d");
    assert_eq!(
        json["delivered"],
        serde_json::json!({"consumer_seq": 0, "stream_seq": 0})
    );
    assert_eq!(json["num_pending"], 1);
    assert!(json.get("push_bound").is_none());
    let back: ConsumerInfo = serde_json::from_value(json).expect("parses back");
    assert_eq!(back, c.info(&store, T0));
}

#[test]
fn last_per_subject_counts_one_message_per_subject() {
    let store = store_with(&["orders.a", "orders.b", "orders.a", "orders.c", "orders.b"]);
    let mut config = pull_config("d");
    config.deliver_policy = crate::core::consumer::DeliverPolicy::LastPerSubject;
    config.filter_subject = Some("orders.*".into());
    let c = consumer(&store, config);
    assert_eq!(c.info(&store, T0).num_pending, 3);
}
