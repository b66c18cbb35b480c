//! `$JS.API.STREAM.*` and publishing, through the engine as a client sees it.

mod support;

use contrail::core::headers::{Headers, NATS_MSG_ID};
use serde_json::json;
use support::{err_code, Client};

#[test]
fn create_replies_stream_info_with_type_and_did_create() {
    let mut c = Client::new();
    let reply = c.api(
        "STREAM.CREATE.ORDERS",
        r#"{"name":"ORDERS","subjects":["orders.>"]}"#,
    );
    assert_eq!(
        reply["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(reply["did_create"], true);
    assert_eq!(reply["config"]["name"], "ORDERS");
    assert_eq!(reply["config"]["retention"], "limits");
    assert_eq!(reply["state"]["messages"], 0);
    assert!(reply.get("error").is_none());
}

#[test]
fn create_is_idempotent_but_refuses_a_different_config() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"name":"S","subjects":["a"]}"#);
    let again = c.api("STREAM.CREATE.S", r#"{"name":"S","subjects":["a"]}"#);
    assert!(again.get("error").is_none(), "{again}");
    assert!(again.get("did_create").is_none());
    let other = c.api("STREAM.CREATE.S", r#"{"name":"S","subjects":["b"]}"#);
    assert_eq!(err_code(&other), Some(10058));
}

#[test]
fn create_without_a_name_takes_the_subjects() {
    let mut c = Client::new();
    let reply = c.api("STREAM.CREATE.S", r#"{"subjects":["a"]}"#);
    assert_eq!(reply["config"]["name"], "S");
    let mismatch = c.api("STREAM.CREATE.T", r#"{"name":"U"}"#);
    assert_eq!(err_code(&mismatch), Some(10056));
}

#[test]
fn overlapping_subjects_between_streams_are_refused() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.A", r#"{"subjects":["orders.*"]}"#);
    let reply = c.api("STREAM.CREATE.B", r#"{"subjects":["orders.eu"]}"#);
    assert_eq!(err_code(&reply), Some(10065));
}

#[test]
fn invalid_json_gets_10025() {
    let mut c = Client::new();
    let reply = c.api("STREAM.CREATE.S", "{not json");
    assert_eq!(err_code(&reply), Some(10025));
    assert_eq!(reply["error"]["code"], 400);
}

#[test]
fn unknown_stream_gets_10059() {
    let mut c = Client::new();
    let reply = c.api("STREAM.INFO.NOPE", "");
    assert_eq!(err_code(&reply), Some(10059));
    assert_eq!(
        reply["type"],
        "io.nats.jetstream.api.v1.stream_info_response"
    );
}

#[test]
fn publish_returns_pub_ack_and_dedups_by_msg_id() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a.>"]}"#);
    assert_eq!(c.publish("a.1", "x"), Some(json!({"stream":"S","seq":1})));
    let mut h = Headers::new();
    h.insert(NATS_MSG_ID, "m1");
    assert_eq!(
        c.publish_with("a.2", Some(h.clone()), "y"),
        Some(json!({"stream":"S","seq":2}))
    );
    assert_eq!(
        c.publish_with("a.2", Some(h), "y"),
        Some(json!({"stream":"S","seq":2,"duplicate":true}))
    );
    let info = c.api("STREAM.INFO.S", "");
    assert_eq!(info["state"]["messages"], 2);
}

#[test]
fn publish_to_no_stream_is_not_handled() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a"]}"#);
    assert_eq!(c.publish("b", "x"), None);
}

#[test]
fn publish_errors_come_back_in_the_pub_ack() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a"],"max_msg_size":4}"#);
    let ack = c.publish("a", "too large").expect("captured");
    assert_eq!(ack["error"]["err_code"], 10054);
}

#[test]
fn names_and_list_page_sorted_and_filter_by_subject() {
    let mut c = Client::new();
    let empty = c.api("STREAM.NAMES", "");
    assert_eq!(empty["streams"], serde_json::Value::Null);
    assert_eq!(empty["total"], 0);
    for (name, subject) in [("B", "b"), ("A", "a"), ("C", "c.>")] {
        c.api(
            &format!("STREAM.CREATE.{name}"),
            &format!(r#"{{"subjects":["{subject}"]}}"#),
        );
    }
    let names = c.api("STREAM.NAMES", "");
    assert_eq!(names["streams"], json!(["A", "B", "C"]));
    assert_eq!(names["limit"], 1024);
    let filtered = c.api("STREAM.NAMES", r#"{"subject":"c.x"}"#);
    assert_eq!(filtered["streams"], json!(["C"]));
    let list = c.api("STREAM.LIST", r#"{"offset":1}"#);
    assert_eq!(list["total"], 3);
    assert_eq!(list["offset"], 1);
    assert_eq!(list["streams"].as_array().map(|a| a.len()), Some(2));
    assert_eq!(list["streams"][0]["config"]["name"], "B");
}

#[test]
fn update_applies_new_limits_and_rejects_storage_change() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a"]}"#);
    for i in 0..5 {
        c.publish("a", &i.to_string());
    }
    let reply = c.api(
        "STREAM.UPDATE.S",
        r#"{"name":"S","subjects":["a"],"max_msgs":2}"#,
    );
    assert_eq!(
        reply["type"],
        "io.nats.jetstream.api.v1.stream_update_response"
    );
    assert_eq!(reply["state"]["messages"], 2);
    let refused = c.api(
        "STREAM.UPDATE.S",
        r#"{"name":"S","subjects":["a"],"storage":"memory"}"#,
    );
    assert!(refused.get("error").is_some(), "{refused}");
}

#[test]
fn purge_with_filter_and_delete_stream() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a","b"]}"#);
    c.publish("a", "1");
    c.publish("b", "2");
    c.publish("a", "3");
    let purged = c.api("STREAM.PURGE.S", r#"{"filter":"a"}"#);
    assert_eq!(
        purged,
        json!({"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":2})
    );
    let deleted = c.api("STREAM.DELETE.S", "");
    assert_eq!(deleted["success"], true);
    assert_eq!(err_code(&c.api("STREAM.INFO.S", "")), Some(10059));
    assert_eq!(c.publish("a", "x"), None);
}

#[test]
fn account_info_counts_streams_consumers_and_api_calls() {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["a"],"storage":"memory"}"#,
    );
    c.api(
        "CONSUMER.CREATE.S.C",
        r#"{"stream_name":"S","config":{"name":"C","ack_policy":"explicit"}}"#,
    );
    c.api("STREAM.INFO.NOPE", "");
    c.publish("a", "hello");
    let info = c.api("INFO", "");
    assert_eq!(
        info["type"],
        "io.nats.jetstream.api.v1.account_info_response"
    );
    assert_eq!(info["streams"], 1);
    assert_eq!(info["consumers"], 1);
    assert!(info["memory"].as_u64().unwrap_or(0) > 0);
    assert_eq!(info["api"]["errors"], 1);
    assert_eq!(info["api"]["total"], 4);
}

#[test]
fn unknown_api_subjects_are_not_served() {
    let mut c = Client::new();
    let (handled, out) =
        c.send(contrail::core::message::Message::new("$JS.API.STREAM.FROB.S", "").with_reply("r"));
    assert!(!handled);
    assert!(out.is_empty());
}
