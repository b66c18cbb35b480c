//! `$JS.API.CONSUMER.*`, pull requests and acks, through the engine as a client sees it.

mod support;

use contrail::core::time::{MILLIS, SECONDS};
use serde_json::json;
use support::{err_code, payloads, status_of, Client};

fn stream_with(c: &mut Client, n: usize) {
    c.api("STREAM.CREATE.S", r#"{"subjects":["s.>"]}"#);
    for i in 1..=n {
        c.publish(&format!("s.{i}"), &format!("m{i}"));
    }
}

fn durable(c: &mut Client, name: &str, extra: &str) -> serde_json::Value {
    let sep = if extra.is_empty() { "" } else { "," };
    c.api(
        &format!("CONSUMER.CREATE.S.{name}"),
        &format!(r#"{{"stream_name":"S","config":{{"durable_name":"{name}","ack_policy":"explicit"{sep}{extra}}}}}"#),
    )
}

#[test]
fn create_replies_consumer_info() {
    let mut c = Client::new();
    stream_with(&mut c, 3);
    let info = durable(&mut c, "C", "");
    assert_eq!(
        info["type"],
        "io.nats.jetstream.api.v1.consumer_create_response"
    );
    assert_eq!(info["stream_name"], "S");
    assert_eq!(info["name"], "C");
    assert_eq!(info["num_pending"], 3);
    assert_eq!(info["config"]["ack_policy"], "explicit");
}

#[test]
fn legacy_durable_form_checks_the_name() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    let ok = c.api(
        "CONSUMER.DURABLE.CREATE.S.D",
        r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
    );
    assert_eq!(ok["name"], "D");
    let mismatch = c.api(
        "CONSUMER.DURABLE.CREATE.S.D",
        r#"{"stream_name":"S","config":{"durable_name":"E"}}"#,
    );
    assert_eq!(err_code(&mismatch), Some(10017));
    let missing = c.api(
        "CONSUMER.DURABLE.CREATE.S.D",
        r#"{"stream_name":"S","config":{}}"#,
    );
    assert_eq!(err_code(&missing), Some(10018));
}

#[test]
fn ephemeral_consumers_get_a_generated_name() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    let info = c.api(
        "CONSUMER.CREATE.S",
        r#"{"stream_name":"S","config":{"ack_policy":"explicit"}}"#,
    );
    let name = info["name"].as_str().expect("a name");
    assert_eq!(name.len(), 8);
    let names = c.api("CONSUMER.NAMES.S", "");
    assert_eq!(names["consumers"], json!([name]));
}

#[test]
fn actions_create_and_update_are_enforced() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    durable(&mut c, "C", "");
    let clash = c.api(
        "CONSUMER.CREATE.S.C",
        r#"{"stream_name":"S","action":"create","config":{"durable_name":"C","ack_policy":"explicit","description":"x"}}"#,
    );
    assert_eq!(err_code(&clash), Some(10148));
    let missing = c.api(
        "CONSUMER.CREATE.S.N",
        r#"{"stream_name":"S","action":"update","config":{"durable_name":"N","ack_policy":"explicit"}}"#,
    );
    assert_eq!(err_code(&missing), Some(10149));
    let updated = durable(&mut c, "C", r#""description":"now described""#);
    assert_eq!(updated["config"]["description"], "now described");
}

#[test]
fn filter_in_subject_must_match_config() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    let reply = c.api(
        "CONSUMER.CREATE.S.C.s.1",
        r#"{"stream_name":"S","config":{"name":"C","filter_subject":"s.2","ack_policy":"explicit"}}"#,
    );
    assert_eq!(err_code(&reply), Some(10131));
}

#[test]
fn stream_name_in_body_must_match_subject() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    let reply = c.api(
        "CONSUMER.CREATE.S.C",
        r#"{"stream_name":"T","config":{"name":"C"}}"#,
    );
    assert_eq!(err_code(&reply), Some(10056));
}

#[test]
fn pull_delivers_a_batch_with_nats_ack_subjects() {
    let mut c = Client::new();
    stream_with(&mut c, 5);
    durable(&mut c, "C", "");
    let (_, out) = c.pull("S", "C", r#"{"batch":3}"#);
    assert_eq!(payloads(&out), vec!["m1", "m2", "m3"]);
    assert_eq!(out[0].msg.subject, "s.1");
    let ack = out[0].msg.reply.as_deref().expect("ack subject");
    let tokens: Vec<&str> = ack.split('.').collect();
    assert_eq!(&tokens[..4], &["$JS", "ACK", "S", "C"]);
    assert_eq!(tokens[4], "1", "delivery count");
    assert_eq!(tokens[5], "1", "stream sequence");
    assert_eq!(tokens[6], "1", "consumer sequence");
    assert_eq!(tokens[8], "4", "pending after this one");
}

#[test]
fn acks_move_the_floor_and_ack_sync_gets_a_reply() {
    let mut c = Client::new();
    stream_with(&mut c, 2);
    durable(&mut c, "C", "");
    let (_, out) = c.pull("S", "C", r#"{"batch":2}"#);
    let replies = c.ack(&out[0], "+ACK");
    assert!(
        replies
            .iter()
            .any(|o| o.msg.payload.is_empty() && status_of(o).is_none()),
        "ack sync reply"
    );
    let info = c.api("CONSUMER.INFO.S.C", "");
    assert_eq!(info["num_ack_pending"], 1);
    assert_eq!(info["ack_floor"]["stream_seq"], 1);
    assert_eq!(info["delivered"]["stream_seq"], 2);
}

#[test]
fn no_wait_with_nothing_pending_gets_404() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    durable(&mut c, "C", "");
    let (_, out) = c.pull("S", "C", r#"{"batch":1,"no_wait":true}"#);
    assert_eq!(out.len(), 1);
    assert_eq!(status_of(&out[0]), Some(404));
}

#[test]
fn expired_pull_request_gets_408() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    durable(&mut c, "C", "");
    let expires = 500 * MILLIS;
    let (inbox, out) = c.pull("S", "C", &format!(r#"{{"batch":1,"expires":{expires}}}"#));
    assert!(out.is_empty());
    assert!(c
        .front
        .engine()
        .poll_timeout()
        .is_some_and(|t| t <= c.now + expires));
    let out = c.advance(expires);
    let mine: Vec<_> = out.iter().filter(|o| o.to == inbox).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(status_of(mine[0]), Some(408));
}

#[test]
fn waiting_pull_request_gets_a_message_published_later() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    durable(&mut c, "C", "");
    let (inbox, out) = c.pull(
        "S",
        "C",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 5 * SECONDS),
    );
    assert!(out.is_empty());
    c.front.handle(
        contrail::core::message::Message::new("s.late", "late"),
        c.now,
    );
    let out = c.drain();
    let mine: Vec<_> = out.into_iter().filter(|o| o.to == inbox).collect();
    assert_eq!(payloads(&mine), vec!["late"]);
}

#[test]
fn unacked_messages_are_redelivered_after_ack_wait() {
    let mut c = Client::new();
    stream_with(&mut c, 1);
    durable(&mut c, "C", &format!(r#""ack_wait":{}"#, SECONDS));
    let (_, first) = c.pull("S", "C", r#"{"batch":1}"#);
    assert_eq!(payloads(&first), vec!["m1"]);
    c.advance(SECONDS / 2);
    let (_, none) = c.pull("S", "C", r#"{"batch":1,"no_wait":true}"#);
    assert_eq!(payloads(&none), Vec::<String>::new());
    c.advance(SECONDS);
    let (_, again) = c.pull("S", "C", r#"{"batch":1,"no_wait":true}"#);
    assert_eq!(payloads(&again), vec!["m1"]);
    let tokens: Vec<&str> = again[0]
        .msg
        .reply
        .as_deref()
        .unwrap_or("")
        .split('.')
        .collect();
    assert_eq!(tokens.get(4), Some(&"2"), "second delivery");
}

#[test]
fn delete_consumer_and_unknown_consumer() {
    let mut c = Client::new();
    stream_with(&mut c, 0);
    durable(&mut c, "C", "");
    assert_eq!(c.api("CONSUMER.DELETE.S.C", "")["success"], true);
    assert_eq!(err_code(&c.api("CONSUMER.INFO.S.C", "")), Some(10014));
    let (handled, _) = c.send(
        contrail::core::message::Message::new("$JS.API.CONSUMER.MSG.NEXT.S.C", "")
            .with_reply("_INBOX.x"),
    );
    assert!(!handled, "a pull to a missing consumer has no responder");
}

#[test]
fn consumer_list_carries_infos() {
    let mut c = Client::new();
    stream_with(&mut c, 1);
    durable(&mut c, "A", "");
    durable(&mut c, "B", "");
    let list = c.api("CONSUMER.LIST.S", "");
    assert_eq!(list["total"], 2);
    assert_eq!(list["consumers"][0]["name"], "A");
    assert_eq!(list["consumers"][1]["num_pending"], 1);
}
