//! Hostile `$JS.API` input: every route, random and malformed bodies. Each request gets a JSON
//! reply (or, for routes answering with messages, a status), the engine never panics, and the
//! stream's data is intact afterwards.

mod support;

use bytes::Bytes;
use contrail::core::message::Message;
use proptest::prelude::*;
use support::Client;

const ROUTES: &[&str] = &[
    "INFO",
    "STREAM.CREATE.S",
    "STREAM.CREATE.T",
    "STREAM.UPDATE.S",
    "STREAM.INFO.S",
    "STREAM.NAMES",
    "STREAM.LIST",
    "STREAM.PURGE.S",
    "STREAM.MSG.GET.S",
    "STREAM.MSG.DELETE.S",
    "DIRECT.GET.S",
    "DIRECT.GET.S.a.b",
    "CONSUMER.CREATE.S",
    "CONSUMER.CREATE.S.C",
    "CONSUMER.CREATE.S.C.a.>",
    "CONSUMER.DURABLE.CREATE.S.C",
    "CONSUMER.INFO.S.C",
    "CONSUMER.NAMES.S",
    "CONSUMER.LIST.S",
    "CONSUMER.MSG.NEXT.S.C",
];

/// Bodies that are almost right: the shapes clients send, with wrong types and extreme values.
const NEAR_MISSES: &[&str] = &[
    "",
    "null",
    "[]",
    "{}",
    "0",
    "-1",
    "\"x\"",
    r#"{"name":5}"#,
    r#"{"subjects":"a"}"#,
    r#"{"subjects":[""]}"#,
    r#"{"subjects":["a..b"]}"#,
    r#"{"max_msgs":-7,"max_bytes":-9}"#,
    r#"{"max_age":-1}"#,
    r#"{"seq":18446744073709551615}"#,
    r#"{"seq":-1}"#,
    r#"{"batch":-1}"#,
    r#"{"batch":1000000000,"expires":-5}"#,
    r#"{"keep":1,"seq":2}"#,
    r#"{"filter":"a.*","keep":18446744073709551615}"#,
    r#"{"stream_name":"S"}"#,
    r#"{"stream_name":"S","config":null}"#,
    r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence"}}"#,
    r#"{"stream_name":"S","config":{"ack_wait":-1,"max_deliver":0,"backoff":[-1]}}"#,
    r#"{"stream_name":"S","config":{"filter_subjects":["a.>","a.b"]}}"#,
    r#"{"stream_name":"S","config":{"opt_start_time":"yesterday"}}"#,
    r#"{"last_by_subj":">"}"#,
    r#"{"next_by_subj":"*","seq":0}"#,
];

fn seeded() -> Client {
    let mut c = Client::new();
    c.api(
        "STREAM.CREATE.S",
        r#"{"subjects":["a.>"],"allow_direct":true}"#,
    );
    c.api(
        "CONSUMER.CREATE.S.C",
        r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}"#,
    );
    for i in 0..3 {
        c.publish(&format!("a.{i}"), "keep me");
    }
    c
}

fn check_reply(c: &mut Client, route: &str, body: &[u8]) {
    let inbox = c.new_inbox();
    let msg = Message::new(format!("$JS.API.{route}"), Bytes::copy_from_slice(body))
        .with_reply(inbox.clone());
    let (_, out) = c.send(msg);
    for reply in out.iter().filter(|o| o.to == inbox) {
        if reply.msg.headers.is_some()
            || route.starts_with("CONSUMER.MSG.NEXT")
            || route.starts_with("DIRECT.GET")
        {
            continue; // messages or status replies
        }
        let json: serde_json::Value =
            serde_json::from_slice(&reply.msg.payload).expect("every API reply is JSON");
        assert!(
            json["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("io.nats.jetstream.api.v1.")),
            "{json}"
        );
        if let Some(error) = json.get("error") {
            assert!(
                error["code"].as_u64().is_some() && error["err_code"].as_u64().is_some(),
                "{json}"
            );
        }
    }
}

#[test]
fn near_miss_bodies_get_clear_replies_and_lose_nothing() {
    for route in ROUTES {
        let mut c = seeded();
        for body in NEAR_MISSES {
            check_reply(&mut c, route, body.as_bytes());
        }
        if !route.contains("DELETE") && !route.contains("PURGE") && !route.contains("UPDATE") {
            let info = c.api("STREAM.INFO.S", "");
            assert_eq!(info["state"]["messages"], 3, "after {route}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bodies_never_panic(route in 0..ROUTES.len(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut c = seeded();
        check_reply(&mut c, ROUTES[route], &body);
    }

    #[test]
    fn random_api_subjects_never_panic(suffix in "[A-Z.*>$ ]{0,40}") {
        let mut c = seeded();
        let (_, _) = c.send(Message::new(format!("$JS.API.{suffix}"), "{}").with_reply("_INBOX.r"));
        let (_, _) = c.send(Message::new(format!("$JS.ACK.{suffix}"), "+ACK").with_reply("_INBOX.r"));
    }
}
