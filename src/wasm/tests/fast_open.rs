//! The fast open (`src/wasm/partial.rs`): a long stream opens from its newest segments, takes
//! plain publishes at once, defers everything else in order, and ends up whole: nothing older
//! is lost or rewritten, whether the rest was read or the page died first.

use js_sys::Uint8Array;
use serde_json::{json, Value};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use super::indexeddb::{fresh, request};
use crate::core::stream::PubAck;
use crate::wasm::engine::JsEngine;
use crate::wasm::idb::db::faults::fail_next_commit as fault_next_commit;
use crate::wasm::released::{self, Release};

/// The wall clock: the whole engine is rebuilt at the real time, and the duplicate window
/// must still hold the messages' ids then.
fn now() -> f64 {
    js_sys::Date::now()
}

/// The database's streams span 300 sequences; opening with this tail makes them partial.
const TAIL: u64 = 60;

/// A release buffer decoded.
async fn release(promise: js_sys::Promise) -> Release {
    let out = JsFuture::from(promise).await.expect("commits");
    released::decode(&Uint8Array::new(&out).to_vec()).expect("a well-formed release")
}

fn msg_id(id: &str) -> Option<Vec<u8>> {
    Some(format!("NATS/1.0\r\nNats-Msg-Id: {id}\r\n\r\n").into_bytes())
}

/// A fresh database `name` with stream `S` (`config` added) holding 300 messages written by
/// 6 flushes of 50 (message `i` says `m{i}`; the sixth carries msg id `id-5`) and durable
/// consumer `C`, then closed.
async fn stream_of_300(name: &str, config: Value) {
    let e = fresh(name).await;
    let mut body = json!({"name": "S", "subjects": ["s.>"]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), config.as_object()) {
        body.extend(extra.clone());
    }
    request(&e, "$JS.API.STREAM.CREATE.S", body).await;
    for i in 0..300 {
        let headers = (i == 5).then(|| msg_id("id-5")).flatten();
        e.publish("s.a", headers, format!("m{i}").into_bytes(), now())
            .expect("captured");
        if i % 50 == 49 {
            release(e.flush()).await;
        }
    }
    let c = json!({"stream_name": "S", "config": {"durable_name": "C", "ack_policy": "explicit"}});
    request(&e, "$JS.API.CONSUMER.CREATE.S.C", c).await;
    e.close();
}

async fn pending_of_c(e: &JsEngine) -> Value {
    request(e, "$JS.API.CONSUMER.INFO.S.C", json!({})).await["num_pending"].clone()
}

async fn open_partial(name: &str) -> JsEngine {
    let e = JsEngine::open_with_tail(name.into(), 9.0, now(), TAIL)
        .await
        .expect("open");
    assert!(
        e.loading(),
        "a stream spanning 300 > {TAIL} sequences opens partial"
    );
    e
}

async fn open_whole(name: &str) -> JsEngine {
    let e = JsEngine::open_with_tail(name.into(), 9.0, now(), u64::MAX)
        .await
        .expect("open");
    assert!(!e.loading());
    e
}

fn ack(release: &Release, ticket: u32) -> PubAck {
    let (_, result) = release
        .acks
        .iter()
        .find(|(t, _)| *t == ticket)
        .unwrap_or_else(|| panic!("ticket {ticket} in {:?}", release.acks));
    result.clone().expect("stored")
}

async fn message(e: &JsEngine, seq: u64) -> Value {
    request(e, "$JS.API.STREAM.MSG.GET.S", json!({ "seq": seq })).await
}

#[wasm_bindgen_test]
async fn plain_publishes_go_at_once_and_the_rest_waits_in_order() {
    let name = "contrail-test-fast-open";
    stream_of_300(name, json!({})).await;
    let e = open_partial(name).await;

    // A plain publish needs only the last sequence: acknowledged by the next flush.
    let first = e
        .publish("s.a", None, b"new".to_vec(), now())
        .expect("captured");
    let out = release(e.flush()).await;
    assert_eq!(ack(&out, first).seq, 301);

    // A request, a publish that looks back (msg id of a message not loaded), and a plain
    // publish behind it: all wait.
    assert!(e.handle(
        "$JS.API.STREAM.INFO.S".into(),
        Some("info".into()),
        None,
        Vec::new(),
        now()
    ));
    let dup = e
        .publish("s.a", msg_id("id-5"), b"again".to_vec(), now())
        .expect("captured");
    let after = e
        .publish("s.b", None, b"after".to_vec(), now())
        .expect("captured");
    assert_eq!(e.publish("elsewhere", None, Vec::new(), now()), None);
    let out = release(e.flush()).await;
    assert!(out.acks.is_empty() && out.msgs.is_empty(), "{out:?}");

    let out = release(e.complete_open()).await;
    assert!(out.acks.is_empty() && out.msgs.is_empty(), "{out:?}");
    assert!(!e.loading());
    let out = release(e.flush()).await;
    let dup = ack(&out, dup);
    assert!(
        dup.duplicate && dup.seq == 6,
        "the whole engine knows id-5: {dup:?}"
    );
    assert_eq!(ack(&out, after).seq, 302);
    let info = out
        .msgs
        .iter()
        .find(|m| m.to == "info")
        .expect("the deferred reply");
    let info: Value = serde_json::from_slice(&info.data).expect("JSON");
    // Answered in order: after the duplicate, before the publish behind it.
    assert_eq!(info["state"]["messages"], 301, "{info}");
    assert_eq!(info["state"]["first_seq"], 1);
    assert_eq!(
        pending_of_c(&e).await,
        302,
        "C counts every message, old and new"
    );

    let e = {
        e.close();
        open_whole(name).await
    };
    assert_eq!(message(&e, 1).await["message"]["seq"], 1);
    assert_eq!(message(&e, 302).await["message"]["subject"], "s.b");
    e.close();
}

#[wasm_bindgen_test]
async fn a_partial_engine_that_stops_leaves_the_stream_whole() {
    let name = "contrail-test-fast-open-stop";
    stream_of_300(name, json!({})).await;
    // A message deleted from the middle of an old segment: a tombstone in the state record.
    let e = open_whole(name).await;
    let deleted = request(&e, "$JS.API.STREAM.MSG.DELETE.S", json!({"seq": 150})).await;
    assert_eq!(deleted["success"], true, "{deleted}");
    e.close();
    let e = open_partial(name).await;
    let t = e
        .publish("s.a", None, b"new".to_vec(), now())
        .expect("captured");
    assert_eq!(ack(&release(e.flush()).await, t).seq, 301);
    e.close(); // never completed: the older messages were never in memory

    let e = open_whole(name).await;
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 300, "{info}");
    assert_eq!(info["state"]["first_seq"], 1);
    for seq in [1, 149, 151, 240, 300, 301] {
        assert_eq!(message(&e, seq).await["message"]["seq"], seq);
    }
    let gone = message(&e, 150).await;
    assert_eq!(
        gone["error"]["code"], 404,
        "the tombstone outlived the partial engine: {gone}"
    );
    assert_eq!(
        pending_of_c(&e).await,
        300,
        "C survived the engine that lacked it"
    );
    e.close();
}

#[wasm_bindgen_test]
async fn a_publish_into_a_limited_stream_waits_for_the_whole_engine() {
    let name = "contrail-test-fast-open-limits";
    stream_of_300(name, json!({"max_msgs": 100})).await;
    let e = open_partial(name).await;
    let t = e
        .publish("s.a", None, b"new".to_vec(), now())
        .expect("captured");
    assert!(
        release(e.flush()).await.acks.is_empty(),
        "deferred: it removes seq 201"
    );
    release(e.complete_open()).await;
    assert_eq!(ack(&release(e.flush()).await, t).seq, 301);
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 100, "{info}");
    assert_eq!(info["state"]["first_seq"], 202);
    e.close();
}

/// The outcome of `ticket` in `release`.
fn outcome(release: &Release, ticket: u32) -> Result<PubAck, crate::core::error::ApiError> {
    let found = release.acks.iter().find(|(t, _)| *t == ticket);
    let (_, result) = found.unwrap_or_else(|| panic!("ticket {ticket} in {:?}", release.acks));
    result.clone()
}

/// A commit that fails while the engine is partial: the shell rebuilds the whole engine, the
/// publishes handed in before that flush (taken or deferred) are refused with 10023, the
/// deferred request is answered, and the engine is no longer loading.
#[wasm_bindgen_test]
async fn a_failed_commit_while_partial_refuses_its_publishes_and_leaves_the_engine_whole() {
    let name = "contrail-test-fast-open-fault";
    stream_of_300(name, json!({})).await;
    let e = open_partial(name).await;
    let taken = e
        .publish("s.a", None, b"taken".to_vec(), now())
        .expect("captured");
    assert!(e.handle(
        "$JS.API.STREAM.INFO.S".into(),
        Some("info".into()),
        None,
        Vec::new(),
        now()
    ));
    let deferred = e
        .publish("s.a", None, b"deferred".to_vec(), now())
        .expect("captured");

    fault_next_commit("QuotaExceededError");
    let out = release(e.flush()).await;
    for ticket in [taken, deferred] {
        let refused = outcome(&out, ticket).expect_err("refused");
        assert_eq!(
            (refused.code, refused.err_code),
            (503, 10023),
            "{refused:?}"
        );
    }
    let info = out
        .msgs
        .iter()
        .find(|m| m.to == "info")
        .expect("INFO answered");
    let info: Value = serde_json::from_slice(&info.data).expect("JSON");
    assert_eq!(info["state"]["messages"], 300, "{info}");
    assert!(!e.loading(), "the rebuilt engine is whole");
    let completed = release(e.complete_open()).await;
    assert_eq!(completed, Release::default(), "nothing left to complete");

    let next = e
        .publish("s.a", None, b"next".to_vec(), now())
        .expect("captured");
    assert_eq!(ack(&release(e.flush()).await, next).seq, 301);
    e.close();
    let e = open_whole(name).await;
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 301);
    assert_eq!(
        message(&e, 301).await["message"]["data"],
        "bmV4dA==",
        "base64 of next"
    );
    e.close();
}
