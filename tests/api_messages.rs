//! Message get/delete and direct get, through the engine.

mod support;

use contrail::core::headers::Headers;
use contrail::core::message::Message;
use support::{err_code, status_of, Client};

#[test]
fn msg_get_returns_base64_payload_and_headers() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a.*"]}"#);
    let mut h = Headers::new();
    h.insert("X-Trace", "t1");
    c.publish_with("a.1", Some(h), "hello");
    let reply = c.api("STREAM.MSG.GET.S", r#"{"seq":1}"#);
    assert_eq!(
        reply["type"],
        "io.nats.jetstream.api.v1.stream_msg_get_response"
    );
    assert_eq!(reply["message"]["subject"], "a.1");
    assert_eq!(reply["message"]["seq"], 1);
    assert_eq!(reply["message"]["data"], "aGVsbG8=");
    assert_eq!(
        reply["message"]["hdrs"],
        "TkFUUy8xLjANClgtVHJhY2U6IHQxDQoNCg=="
    );
    assert!(reply["message"]["time"]
        .as_str()
        .is_some_and(|t| t.starts_with("2023-11-14T")));
}

#[test]
fn msg_get_last_by_subject_and_missing() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a.*"]}"#);
    c.publish("a.1", "one");
    c.publish("a.2", "two");
    c.publish("a.1", "three");
    let last = c.api("STREAM.MSG.GET.S", r#"{"last_by_subj":"a.1"}"#);
    assert_eq!(last["message"]["seq"], 3);
    let missing = c.api("STREAM.MSG.GET.S", r#"{"seq":99}"#);
    assert_eq!(err_code(&missing), Some(10037));
}

#[test]
fn msg_delete_removes_one_message() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a"]}"#);
    c.publish("a", "1");
    c.publish("a", "2");
    let reply = c.api("STREAM.MSG.DELETE.S", r#"{"seq":1}"#);
    assert_eq!(reply["success"], true);
    let info = c.api("STREAM.INFO.S", "");
    assert_eq!(info["state"]["messages"], 1);
    assert_eq!(info["state"]["first_seq"], 2);
}

#[test]
fn direct_get_needs_allow_direct() {
    let mut c = Client::new();
    c.api("STREAM.CREATE.S", r#"{"subjects":["a"]}"#);
    c.publish("a", "1");
    let (handled, _) =
        c.send(Message::new("$JS.API.DIRECT.GET.S", r#"{"seq":1}"#).with_reply("_INBOX.d"));
    assert!(!handled, "no responder without allow_direct");
}

#[test]
fn direct_get_answers_with_the_message_and_its_origin() {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["kv.>"],"allow_direct":true}"#,
    );
    c.publish("kv.k", "v1");
    c.publish("kv.k", "v2");
    let (handled, out) =
        c.send(Message::new("$JS.API.DIRECT.GET.S.kv.k", "").with_reply("_INBOX.d"));
    assert!(handled);
    let reply = out.iter().find(|o| o.to == "_INBOX.d").expect("a reply");
    assert_eq!(&reply.msg.payload[..], b"v2");
    let headers =
        Headers::parse(reply.msg.headers.as_deref().unwrap_or_default()).expect("headers");
    assert_eq!(headers.get("Nats-Sequence"), Some("2"));
    assert_eq!(headers.get("Nats-Subject"), Some("kv.k"));
    assert_eq!(headers.get("Nats-Stream"), Some("S"));

    let (_, out) =
        c.send(Message::new("$JS.API.DIRECT.GET.S", r#"{"seq":42}"#).with_reply("_INBOX.e"));
    assert_eq!(
        out.iter().find(|o| o.to == "_INBOX.e").and_then(status_of),
        Some(404)
    );
}
