//! StreamConfig JSON: defaults for missing fields, value spellings, and the exact shape
//! nats-server writes (derived from the Go struct tags of `StreamConfig` in server/stream.go).

use super::*;
use crate::core::stream::{DiscardPolicy, RetentionPolicy, StorageType, StoreCompression};

fn read(json: &str) -> StreamConfig {
    serde_json::from_str(json).expect("valid JSON config")
}

/// What nats-server answers for `{"name":"S","subjects":["a.>"]}`: every field without
/// `omitempty` is present, limits are -1, storage is file, the duplicate window two minutes.
const MINIMAL_AS_NATS_WRITES_IT: &str = concat!(
    r#"{"name":"S","subjects":["a.>"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"#,
    r#""max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","#,
    r#""storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","#,
    r#""allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"#,
    r#""deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false}"#
);

#[test]
fn minimal_config_gets_nats_defaults() {
    let cfg = read(r#"{"name":"S","subjects":["a.>"]}"#)
        .validated()
        .expect("valid");
    assert_eq!(
        (
            cfg.max_msgs,
            cfg.max_bytes,
            cfg.max_msgs_per_subject,
            cfg.max_msg_size,
            cfg.max_consumers
        ),
        (-1, -1, -1, -1, -1)
    );
    assert_eq!(
        (cfg.retention, cfg.discard, cfg.storage, cfg.compression),
        (
            RetentionPolicy::Limits,
            DiscardPolicy::Old,
            StorageType::File,
            StoreCompression::None
        )
    );
    assert_eq!(
        (cfg.num_replicas, cfg.duplicate_window, cfg.max_age),
        (1, 120 * SECONDS, 0)
    );
}

#[test]
fn minimal_config_serializes_exactly_as_nats_server_does() {
    let cfg = read(r#"{"name":"S","subjects":["a.>"]}"#)
        .validated()
        .expect("valid");
    assert_eq!(
        serde_json::to_string(&cfg).expect("writes"),
        MINIMAL_AS_NATS_WRITES_IT
    );
}

#[test]
fn written_config_reads_back_unchanged() {
    let cfg = read(MINIMAL_AS_NATS_WRITES_IT);
    assert_eq!(cfg.clone().validated().expect("valid"), cfg);
    assert_eq!(
        serde_json::to_string(&cfg).expect("writes"),
        MINIMAL_AS_NATS_WRITES_IT
    );
}

#[test]
fn kv_style_config_serializes_in_go_field_order_with_optional_fields() {
    let cfg = read(
        r#"{"metadata":{"k":"v"},"allow_direct":true,"deny_delete":true,"allow_rollup_hdrs":true,
            "discard":"new","max_msgs_per_subject":5,"subjects":["$KV.b.>"],"name":"KV_b",
            "description":"bucket","storage":"memory","max_age":3600000000000,"no_ack":false,
            "discard_new_per_subject":true,"first_seq":7,"retention":"limits",
            "consumer_limits":{"max_ack_pending":10}}"#,
    )
    .validated()
    .expect("valid");
    let expected = concat!(
        r#"{"name":"KV_b","description":"bucket","subjects":["$KV.b.>"],"retention":"limits","#,
        r#""max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":3600000000000,"#,
        r#""max_msgs_per_subject":5,"max_msg_size":-1,"discard":"new","storage":"memory","#,
        r#""num_replicas":1,"duplicate_window":120000000000,"compression":"none","first_seq":7,"#,
        r#""allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"#,
        r#""sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"#,
        r#""consumer_limits":{"max_ack_pending":10},"allow_msg_ttl":false,"metadata":{"k":"v"}}"#
    );
    assert_eq!(serde_json::to_string(&cfg).expect("writes"), expected);
}

#[test]
fn enum_values_use_nats_spellings() {
    let cfg = read(
        r#"{"name":"S","retention":"workqueue","discard":"new","storage":"memory","compression":"s2"}"#,
    );
    assert_eq!(
        (cfg.retention, cfg.discard, cfg.storage, cfg.compression),
        (
            RetentionPolicy::WorkQueue,
            DiscardPolicy::New,
            StorageType::Memory,
            StoreCompression::S2
        )
    );
    assert_eq!(
        read(r#"{"retention":"interest"}"#).retention,
        RetentionPolicy::Interest
    );
}

#[test]
fn discard_policy_is_read_without_regard_to_case_like_nats() {
    assert_eq!(read(r#"{"discard":"New"}"#).discard, DiscardPolicy::New);
}

#[test]
fn unknown_enum_values_are_json_errors() {
    for bad in [
        r#"{"retention":"Limits"}"#,
        r#"{"storage":"disk"}"#,
        r#"{"discard":"oldest"}"#,
        r#"{"compression":"zstd"}"#,
    ] {
        let err = serde_json::from_str::<StreamConfig>(bad).expect_err("refused");
        assert!(
            err.to_string().contains("can not unmarshal"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn null_fields_read_as_zero_values_like_go() {
    let cfg = read(r#"{"name":"S","subjects":null,"max_msgs":null,"metadata":null,"mirror":null}"#);
    assert_eq!(
        cfg,
        StreamConfig {
            name: "S".into(),
            ..Default::default()
        }
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let cfg = read(r#"{"name":"S","pedantic":true,"future_option":{"x":1}}"#);
    assert_eq!(cfg.name, "S");
}

#[test]
fn durations_are_integer_nanoseconds() {
    let cfg = read(r#"{"name":"S","max_age":1500000000,"duplicate_window":1000000000}"#);
    assert_eq!(
        (cfg.max_age, cfg.duplicate_window),
        (1_500_000_000, SECONDS)
    );
    assert!(serde_json::from_str::<StreamConfig>(r#"{"max_age":"1s"}"#).is_err());
}
