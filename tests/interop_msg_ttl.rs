//! Per-message TTLs (`allow_msg_ttl`, `Nats-TTL`) and subject delete markers
//! (`subject_delete_marker_ttl`) against contrail and nats-server 2.14, through raw `$JS.API`
//! requests (async-nats 0.51 has the config fields, but a raw reply shows the exact err_codes
//! and the stored header bytes): the TTL values taken and refused, expiry before a longer
//! `max_age`, "never" past it, the marker a subject's last message leaves (by TTL or `max_age`;
//! a purge or a delete leaves none), the TTL raised to the marker TTL, a KV purge expiring
//! without a marker, and expiries rebuilt after a restart.
//!
//! Debian's nats-server 2.9.10 predates message TTLs (2.11): those runs are skipped, loudly;
//! 2.14 runs when `CONTRAIL_NATS_SERVER_214` names it
//! (`CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_msg_ttl`).

mod interop_support;

use std::time::{Duration, Instant};

use async_nats::{Client, HeaderMap};
use base64::Engine as _;
use interop_support::{bounded, kinds_with_214, request_json, Kind, Options, TestServer};
use serde_json::{json, Value};

/// Longest a test waits for an expiry it expects (the TTLs used are one to four seconds).
const EXPIRY_BOUND: Duration = Duration::from_secs(15);

/// Whether `kind` has message TTLs; says so loudly when it has not.
fn has_msg_ttl(kind: Kind, test: &str) -> bool {
    if kind == Kind::NatsServer {
        eprintln!(
            "!!! {test}: NOT compared with Debian's nats-server 2.9.10 (no per-message TTL before \
             2.11); compared with 2.14 only when CONTRAIL_NATS_SERVER_214 is set"
        );
        return false;
    }
    true
}

/// Creates stream `name` on `subjects` with `extra` config fields; panics with the reply when
/// refused.
async fn create(client: &Client, name: &str, subjects: &[&str], extra: Value) -> Value {
    let mut cfg = json!({"name": name, "subjects": subjects, "storage": "memory"});
    if let (Some(cfg), Some(extra)) = (cfg.as_object_mut(), extra.as_object()) {
        cfg.extend(extra.clone());
    }
    let reply = request_json(client, &format!("$JS.API.STREAM.CREATE.{name}"), cfg).await;
    assert!(reply.get("error").is_none(), "create {name}: {reply}");
    reply
}

/// Publishes with headers and returns the JSON reply (a PubAck or an error).
async fn publish(client: &Client, subject: &str, headers: &[(&str, &str)]) -> Value {
    let mut h = HeaderMap::new();
    for (name, value) in headers {
        h.insert(*name, *value);
    }
    let reply = client
        .request_with_headers(subject.to_string(), h, "x".into())
        .await
        .unwrap_or_else(|e| panic!("publish to {subject}: {e}"));
    serde_json::from_slice(&reply.payload).expect("a JSON reply")
}

/// The err_code of a reply, 0 when it is not an error.
fn err_code(reply: &Value) -> u64 {
    reply["error"]["err_code"].as_u64().unwrap_or(0)
}

async fn state(client: &Client, stream: &str) -> (u64, u64) {
    let info = request_json(
        client,
        &format!("$JS.API.STREAM.INFO.{stream}"),
        Value::Null,
    )
    .await;
    let state = &info["state"];
    (
        state["messages"].as_u64().unwrap_or(u64::MAX),
        state["last_seq"].as_u64().unwrap_or(u64::MAX),
    )
}

/// Waits (bounded) until the stream holds `msgs` messages; returns its (msgs, last_seq).
async fn wait_for_msgs(client: &Client, stream: &str, msgs: u64) -> (u64, u64) {
    let start = Instant::now();
    loop {
        let now = state(client, stream).await;
        if now.0 == msgs {
            return now;
        }
        assert!(
            start.elapsed() < EXPIRY_BOUND,
            "{stream} still holds {now:?} messages, expected {msgs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stored message at `seq`: (subject, header block), or the error code.
async fn get(client: &Client, stream: &str, seq: u64) -> Result<(String, String), u64> {
    let reply = request_json(
        client,
        &format!("$JS.API.STREAM.MSG.GET.{stream}"),
        json!({ "seq": seq }),
    )
    .await;
    if reply.get("error").is_some() {
        return Err(err_code(&reply));
    }
    let msg = &reply["message"];
    let hdrs = msg["hdrs"].as_str().unwrap_or("");
    let hdrs = base64::engine::general_purpose::STANDARD
        .decode(hdrs)
        .expect("base64 headers");
    Ok((
        msg["subject"].as_str().unwrap_or("").to_string(),
        String::from_utf8_lossy(&hdrs).to_string(),
    ))
}

#[tokio::test]
async fn ttl_values_and_config_rules_get_nats_server_codes() {
    for kind in kinds_with_214() {
        if !has_msg_ttl(kind, "ttl_values_and_config_rules_get_nats_server_codes") {
            continue;
        }
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let c = server.client().await;
            create(&c, "PLAIN", &["p.>"], json!({})).await;
            for ttl in ["5s", "5", "never"] {
                let reply = publish(&c, "p.1", &[("Nats-TTL", ttl)]).await;
                assert_eq!(err_code(&reply), 10166, "{kind:?} {ttl}: {reply}");
                assert_eq!(reply["error"]["description"], "per-message TTL is disabled");
            }
            for ttl in ["bogus", "0", "-1", "500ms"] {
                let reply = publish(&c, "p.1", &[("Nats-TTL", ttl)]).await;
                assert_eq!(err_code(&reply), 10165, "{kind:?} {ttl}: {reply}");
            }
            create(&c, "TTL", &["t.>"], json!({"allow_msg_ttl": true})).await;
            for ttl in ["bogus", "0", "-1", "999ms", "-5s"] {
                let reply = publish(&c, "t.1", &[("Nats-TTL", ttl)]).await;
                assert_eq!(err_code(&reply), 10165, "{kind:?} {ttl}: {reply}");
                assert_eq!(reply["error"]["description"], "invalid per-message TTL");
            }
            for ttl in ["never", "NEVER", "1m", "5", "1.5s", "1h30m"] {
                let reply = publish(&c, "t.1", &[("Nats-TTL", ttl)]).await;
                assert_eq!(err_code(&reply), 0, "{kind:?} {ttl}: {reply}");
            }
            // allow_msg_ttl cannot be turned off again.
            let off = json!({"name": "TTL", "subjects": ["t.>"], "storage": "memory",
                "allow_msg_ttl": false});
            let reply = request_json(&c, "$JS.API.STREAM.UPDATE.TTL", off).await;
            assert_eq!(err_code(&reply), 10052, "{kind:?}: {reply}");
            assert_eq!(
                reply["error"]["description"],
                "message TTL status can not be disabled"
            );
            // Delete markers turn on what they need, and need at least a second.
            let reply = create(
                &c,
                "SDM",
                &["s.>"],
                json!({"subject_delete_marker_ttl": 60_000_000_000u64}),
            )
            .await;
            let cfg = &reply["config"];
            assert_eq!(
                (&cfg["allow_msg_ttl"], &cfg["allow_rollup_hdrs"]),
                (&json!(true), &json!(true)),
                "{kind:?}: {reply}"
            );
            let short = json!({"name": "SHORT", "subjects": ["x.>"], "storage": "memory",
                "subject_delete_marker_ttl": 500_000_000u64});
            let reply = request_json(&c, "$JS.API.STREAM.CREATE.SHORT", short).await;
            assert_eq!(err_code(&reply), 10052, "{kind:?}: {reply}");
            assert_eq!(
                reply["error"]["description"],
                "subject delete marker TTL must be at least 1 second"
            );
        })
        .await;
    }
}

#[tokio::test]
async fn a_ttl_beats_a_longer_max_age_and_never_outlives_max_age() {
    for kind in kinds_with_214() {
        if !has_msg_ttl(
            kind,
            "a_ttl_beats_a_longer_max_age_and_never_outlives_max_age",
        ) {
            continue;
        }
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let c = server.client().await;
            let hour = 3_600_000_000_000u64;
            create(
                &c,
                "LONG",
                &["l.>"],
                json!({"allow_msg_ttl": true, "max_age": hour}),
            )
            .await;
            assert_eq!(
                err_code(&publish(&c, "l.1", &[("Nats-TTL", "1s")]).await),
                0
            );
            assert_eq!(err_code(&publish(&c, "l.2", &[]).await), 0);
            wait_for_msgs(&c, "LONG", 1).await;
            assert_eq!(get(&c, "LONG", 1).await, Err(10037), "{kind:?}");
            assert!(get(&c, "LONG", 2).await.is_ok(), "{kind:?}");

            let second = 1_000_000_000u64;
            create(
                &c,
                "AGED",
                &["a.>"],
                json!({"allow_msg_ttl": true, "max_age": second,
                "duplicate_window": second}),
            )
            .await;
            assert_eq!(
                err_code(&publish(&c, "a.1", &[("Nats-TTL", "never")]).await),
                0
            );
            assert_eq!(err_code(&publish(&c, "a.2", &[]).await), 0);
            assert_eq!(
                err_code(&publish(&c, "a.3", &[("Nats-TTL", "1h")]).await),
                0
            );
            wait_for_msgs(&c, "AGED", 1).await;
            let (subject, hdrs) = get(&c, "AGED", 1).await.expect("the never message stays");
            assert_eq!(subject, "a.1");
            assert!(hdrs.contains("Nats-TTL: never"), "{kind:?}: {hdrs:?}");
        })
        .await;
    }
}

#[tokio::test]
async fn a_subjects_last_message_expiring_leaves_a_marker_that_expires_too() {
    for kind in kinds_with_214() {
        if !has_msg_ttl(kind, "a_subjects_last_message_expiring_leaves_a_marker") {
            continue;
        }
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let c = server.client().await;
            let second = 1_000_000_000u64;
            create(&c, "M", &["m.>"], json!({"subject_delete_marker_ttl": second})).await;
            assert_eq!(err_code(&publish(&c, "m.k", &[("Nats-TTL", "1s")]).await), 0);
            assert_eq!(err_code(&publish(&c, "m.other", &[]).await), 0);
            // m.k's message goes and its marker comes: still two messages, the last is 3.
            let start = Instant::now();
            while state(&c, "M").await.1 < 3 {
                assert!(start.elapsed() < EXPIRY_BOUND, "{kind:?}: no marker");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(get(&c, "M", 1).await, Err(10037), "{kind:?}");
            let (subject, hdrs) = get(&c, "M", 3).await.expect("the marker");
            assert_eq!(subject, "m.k");
            assert_eq!(
                hdrs,
                "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 1s\r\nNats-Rollup: sub\r\n\r\n",
                "{kind:?}"
            );
            // The marker expires in turn and leaves no marker of its own.
            let (msgs, last) = wait_for_msgs(&c, "M", 1).await;
            assert_eq!((msgs, last), (1, 3), "{kind:?}");
            assert!(get(&c, "M", 2).await.is_ok());

            // A KV purge with a TTL is a marker already: it expires without leaving one.
            let purge = [
                ("KV-Operation", "PURGE"),
                ("Nats-Rollup", "sub"),
                ("Nats-TTL", "1s"),
            ];
            assert_eq!(err_code(&publish(&c, "m.p", &purge).await), 0);
            let (msgs, last) = wait_for_msgs(&c, "M", 1).await;
            assert_eq!((msgs, last), (1, 4), "{kind:?}");
        })
        .await;
    }
}

#[tokio::test]
async fn a_ttl_under_the_marker_ttl_is_raised_to_it() {
    for kind in kinds_with_214() {
        if !has_msg_ttl(kind, "a_ttl_under_the_marker_ttl_is_raised_to_it") {
            continue;
        }
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let c = server.client().await;
            let minute = 60_000_000_000u64;
            create(
                &c,
                "R",
                &["r.>"],
                json!({"subject_delete_marker_ttl": minute}),
            )
            .await;
            assert_eq!(
                err_code(&publish(&c, "r.1", &[("Nats-TTL", "1s")]).await),
                0
            );
            let (_, hdrs) = get(&c, "R", 1).await.expect("stored");
            assert_eq!(hdrs, "NATS/1.0\r\nNats-TTL: 60\r\n\r\n", "{kind:?}");
            assert_eq!(
                err_code(&publish(&c, "r.2", &[("Nats-TTL", "2m")]).await),
                0
            );
            let (_, hdrs) = get(&c, "R", 2).await.expect("stored");
            assert_eq!(hdrs, "NATS/1.0\r\nNats-TTL: 2m\r\n\r\n", "{kind:?}");
            // With one message per subject a marker cannot be outlived: the TTL stays.
            let one = json!({"subject_delete_marker_ttl": minute, "max_msgs_per_subject": 1});
            create(&c, "ONE", &["o.>"], one).await;
            assert_eq!(
                err_code(&publish(&c, "o.1", &[("Nats-TTL", "1s")]).await),
                0
            );
            let (_, hdrs) = get(&c, "ONE", 1).await.expect("stored");
            assert_eq!(hdrs, "NATS/1.0\r\nNats-TTL: 1s\r\n\r\n", "{kind:?}");
        })
        .await;
    }
}

#[tokio::test]
async fn expiries_are_rebuilt_after_a_restart_and_what_passed_meanwhile_goes() {
    for kind in kinds_with_214() {
        if !has_msg_ttl(kind, "expiries_are_rebuilt_after_a_restart") {
            continue;
        }
        let mut server = TestServer::start_kind(kind, Options::default());
        {
            let c = server.client().await;
            bounded(async {
                create(
                    &c,
                    "F",
                    &["f.>"],
                    json!({"allow_msg_ttl": true, "storage": "file"}),
                )
                .await;
                assert_eq!(
                    err_code(&publish(&c, "f.1", &[("Nats-TTL", "1s")]).await),
                    0
                );
                assert_eq!(
                    err_code(&publish(&c, "f.2", &[("Nats-TTL", "4s")]).await),
                    0
                );
                assert_eq!(err_code(&publish(&c, "f.3", &[]).await), 0);
            })
            .await;
        }
        server.stop(true);
        // The point of the test: f.1's TTL passes while the server is down.
        std::thread::sleep(Duration::from_millis(1500));
        server.restart(true);
        let c = server.client().await;
        bounded(async {
            wait_for_msgs(&c, "F", 2).await;
            assert_eq!(get(&c, "F", 1).await, Err(10037), "{kind:?}");
            // f.2's expiry came back from its stored header.
            wait_for_msgs(&c, "F", 1).await;
            assert!(get(&c, "F", 3).await.is_ok(), "{kind:?}");
        })
        .await;
    }
}

#[tokio::test]
async fn max_age_leaves_markers_and_purges_and_deletes_do_not() {
    for kind in kinds_with_214() {
        if !has_msg_ttl(kind, "max_age_leaves_markers_and_purges_and_deletes_do_not") {
            continue;
        }
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let c = server.client().await;
            let second = 1_000_000_000u64;
            let cfg = json!({"subject_delete_marker_ttl": 60 * second, "max_age": 2 * second,
                "duplicate_window": second});
            create(&c, "A", &["a.>"], cfg).await;
            for subject in ["a.old", "a.old", "a.purged", "a.deleted"] {
                assert_eq!(err_code(&publish(&c, subject, &[]).await), 0);
            }
            // Neither a purge nor a delete leaves a marker.
            let purge = json!({"filter": "a.purged"});
            let reply = request_json(&c, "$JS.API.STREAM.PURGE.A", purge).await;
            assert_eq!(reply["purged"], 1, "{kind:?}: {reply}");
            let reply = request_json(&c, "$JS.API.STREAM.MSG.DELETE.A", json!({"seq": 4})).await;
            assert_eq!(reply["success"], true, "{kind:?}: {reply}");
            assert_eq!(state(&c, "A").await, (2, 4), "{kind:?}");
            // max_age takes both a.old messages and leaves one marker, with the stream's TTL.
            let start = Instant::now();
            while state(&c, "A").await != (1, 5) {
                assert!(start.elapsed() < EXPIRY_BOUND, "{kind:?}: {:?}", state(&c, "A").await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let (subject, hdrs) = get(&c, "A", 5).await.expect("the marker");
            assert_eq!(subject, "a.old");
            assert_eq!(
                hdrs,
                "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 1m0s\r\nNats-Rollup: sub\r\n\r\n",
                "{kind:?}"
            );
        })
        .await;
    }
}
