//! Stream `subject_transform` and `republish` with an official client (async-nats): messages
//! are stored under the transformed subject (partition buckets included), republished copies
//! reach plain subscribers with nats-server's headers, and bad configs get nats-server's codes.
//! Run against nats-server too:
//! `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_stream_transforms`.
//!
//! Debian's nats-server 2.9.10 predates `subject_transform` (2.10: it ignores the field) and
//! republishes without `Nats-Time-Stamp`; Contrail follows 2.14, so those checks run against
//! 2.14 (`CONTRAIL_NATS_SERVER_214`) and are skipped, loudly, for 2.9.

mod interop_support;

use std::time::Duration;

use async_nats::jetstream::stream::{Config, Republish, StorageType, SubjectTransform};
use async_nats::jetstream::Context;
use async_nats::HeaderMap;
use futures_util::StreamExt;
use interop_support::{bounded, kinds_with_214, request_json, Kind, Options, TestServer};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

/// Whether `kind` has stream subject transforms; says so loudly when it has not.
fn has_subject_transform(kind: Kind, test: &str) -> bool {
    if kind == Kind::NatsServer {
        eprintln!(
            "!!! {test}: NOT compared with Debian's nats-server 2.9.10 (no subject_transform \
             before 2.10); compared with 2.14 only when CONTRAIL_NATS_SERVER_214 is set"
        );
        return false;
    }
    true
}

fn memory_stream(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        storage: StorageType::Memory,
        ..Default::default()
    }
}

async fn publish(js: &Context, subject: &str, headers: HeaderMap, payload: &'static str) -> u64 {
    js.publish_with_headers(subject.to_string(), headers, payload.into())
        .await
        .expect("publish")
        .await
        .expect("puback")
        .sequence
}

async fn stored_subject(js: &Context, stream: &str, seq: u64) -> String {
    let stream = js.get_stream(stream).await.expect("stream");
    stream
        .get_raw_message(seq)
        .await
        .expect("stored")
        .subject
        .to_string()
}

#[tokio::test]
async fn messages_are_stored_under_the_transformed_subject() {
    for kind in kinds_with_214() {
        if !has_subject_transform(kind, "messages_are_stored_under_the_transformed_subject") {
            continue;
        }
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let js = server.jetstream().await;
            let mut cfg = memory_stream("T", &["in.>"]);
            cfg.subject_transform = Some(SubjectTransform {
                source: "in.*.*".to_string(),
                destination: "kept.{{partition(10,1)}}.$2.{{wildcard(1)}}".to_string(),
            });
            js.create_stream(cfg).await.expect("create");
            let seq = publish(&js, "in.foo.b", HeaderMap::new(), "x").await;
            // FNV-1a of "foo" modulo 10 is 3, as nats-server computes it.
            assert_eq!(
                stored_subject(&js, "T", seq).await,
                "kept.3.b.foo",
                "{kind:?}"
            );
            // A subject outside the transform's source is stored as published.
            let seq = publish(&js, "in.plain", HeaderMap::new(), "x").await;
            assert_eq!(stored_subject(&js, "T", seq).await, "in.plain", "{kind:?}");
        })
        .await;
    }
}

/// The error code a stream create with `config` gets.
async fn create_error(server: &TestServer, config: serde_json::Value) -> (u64, String) {
    let client = server.client().await;
    let name = config["name"].as_str().unwrap_or("X").to_string();
    let reply = request_json(&client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await;
    let code = reply["error"]["err_code"].as_u64().unwrap_or(0);
    let text = reply["error"]["description"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (code, text)
}

#[tokio::test]
async fn republish_cycles_and_bad_transforms_are_refused_with_nats_servers_codes() {
    for kind in kinds_with_214() {
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let base = |extra: serde_json::Value| {
                let mut cfg = json!({"name": "X", "subjects": ["x.>"], "storage": "memory"});
                if let (Some(cfg), Some(extra)) = (cfg.as_object_mut(), extra.as_object()) {
                    cfg.extend(extra.clone());
                }
                cfg
            };
            let (code, text) = create_error(
                &server,
                base(json!({"republish": {"src": ">", "dest": "x.copy"}})),
            )
            .await;
            assert_eq!(code, 10052, "{kind:?}: {text}");
            assert_eq!(
                text, "stream configuration for republish destination forms a cycle",
                "{kind:?}"
            );
            if !has_subject_transform(kind, "bad_transforms_are_refused") {
                return;
            }
            let (code, text) = create_error(
                &server,
                base(json!({"subject_transform": {"src": "x.*", "dest": "y.$2"}})),
            )
            .await;
            assert_eq!(code, 10156, "{kind:?}: {text}");
            assert!(text.starts_with("stream transform: "), "{kind:?}: {text}");
            let (code, text) = create_error(
                &server,
                base(json!({"subject_transform": {"src": "x..y", "dest": "y"}})),
            )
            .await;
            assert_eq!(code, 10155, "{kind:?}: {text}");
            assert_eq!(
                text, "stream transform source: invalid subject x..y",
                "{kind:?}"
            );
        })
        .await;
    }
}

#[tokio::test]
async fn republished_copies_reach_plain_subscribers_with_their_headers() {
    for kind in kinds_with_214() {
        republish_case(kind, false).await;
        republish_case(kind, true).await;
    }
}

async fn republish_case(kind: Kind, headers_only: bool) {
    let server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let js = server.jetstream().await;
        let watcher = server.client().await;
        let mut copies = watcher.subscribe("out.>").await.expect("subscribe");
        watcher.flush().await.expect("flush");
        let mut cfg = memory_stream("R", &["r.>"]);
        cfg.republish = Some(Republish {
            source: "r.*".to_string(),
            destination: "out.$1".to_string(),
            headers_only,
        });
        js.create_stream(cfg).await.expect("create");
        let mut own = HeaderMap::new();
        own.insert("Trace", "t1");
        publish(&js, "r.a", own, "first").await;
        publish(&js, "r.b", HeaderMap::new(), "second").await;
        publish(&js, "r.a", HeaderMap::new(), "third").await;

        // (subject, Nats-Sequence, Nats-Last-Sequence, payload)
        let expected = [
            ("out.a", "1", "0", "first"),
            ("out.b", "2", "0", "second"),
            ("out.a", "3", "1", "third"),
        ];
        for (i, (subject, seq, last, payload)) in expected.into_iter().enumerate() {
            let copy = tokio::time::timeout(WAIT, copies.next())
                .await
                .expect("a republished copy arrives")
                .expect("subscription open");
            let what = format!("{kind:?} headers_only={headers_only} copy {i}");
            assert_eq!(copy.subject.as_str(), subject, "{what}");
            let h = copy.headers.as_ref().expect("headers");
            let get = |name: &str| h.get(name).map(|v| v.as_str().to_string());
            assert_eq!(get("Nats-Stream").as_deref(), Some("R"), "{what}");
            assert_eq!(
                get("Nats-Subject").as_deref(),
                Some(&subject.replacen("out", "r", 1)[..]),
                "{what}"
            );
            assert_eq!(get("Nats-Sequence").as_deref(), Some(seq), "{what}");
            assert_eq!(get("Nats-Last-Sequence").as_deref(), Some(last), "{what}");
            if kind != Kind::NatsServer {
                // 2.9.10 sends no time stamp with republished copies (2.14 does).
                let stamp = get("Nats-Time-Stamp").unwrap_or_default();
                assert!(
                    contrail::core::time::parse_rfc3339(&stamp).is_ok_and(|t| t > 0),
                    "{what}: {stamp}"
                );
            }
            if i == 0 {
                assert_eq!(
                    get("Trace").as_deref(),
                    Some("t1"),
                    "{what}: own headers kept"
                );
            }
            if headers_only {
                assert!(copy.payload.is_empty(), "{what}");
                assert_eq!(
                    get("Nats-Msg-Size"),
                    Some(payload.len().to_string()),
                    "{what}"
                );
            } else {
                assert_eq!(copy.payload.as_ref(), payload.as_bytes(), "{what}");
                assert_eq!(get("Nats-Msg-Size"), None, "{what}");
            }
        }
    })
    .await;
}
