//! The engine over real IndexedDB: what a publish acknowledged is there after a reopen.

use js_sys::{Array, Uint8Array};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::wasm::engine::JsEngine;

const NOW: f64 = 1_700_000_000_000.0;

/// A field of a released message (`[to, subject, reply, headers, data]`).
fn field(m: &JsValue, name: &str) -> JsValue {
    let i = ["to", "subject", "reply", "headers", "data"]
        .iter()
        .position(|f| *f == name)
        .expect("a field of a released message");
    Array::from(m).get(i as u32)
}

/// Flushes and returns the released messages as `(to, data)`.
async fn flush(e: &JsEngine) -> Vec<(String, Vec<u8>)> {
    let out = JsFuture::from(e.flush()).await.expect("flush commits");
    Array::from(&out)
        .iter()
        .map(|m| {
            let to = field(&m, "to").as_string().expect("to");
            (to, Uint8Array::new(&field(&m, "data")).to_vec())
        })
        .collect()
}

/// Sends a request and returns its JSON reply, after the commit.
async fn request(e: &JsEngine, subject: &str, body: Value) -> Value {
    let took = e.handle(
        subject.into(),
        Some("reply.1".into()),
        None,
        body.to_string().into_bytes(),
        NOW,
    );
    assert!(took, "{subject} was handled");
    let out = flush(e).await;
    let (_, data) = out
        .into_iter()
        .find(|(to, _)| to == "reply.1")
        .expect("a reply");
    serde_json::from_slice(&data).expect("JSON reply")
}

async fn fresh(name: &str) -> JsEngine {
    JsEngine::delete_indexed_db(name.into())
        .await
        .expect("delete old database");
    JsEngine::open_indexed_db(name.into(), 7.0, NOW)
        .await
        .expect("open")
}

async fn reopen(e: JsEngine, name: &str) -> JsEngine {
    e.close();
    drop(e);
    JsEngine::open_indexed_db(name.into(), 8.0, NOW + 1000.0)
        .await
        .expect("reopen")
}

#[wasm_bindgen_test]
async fn reopen_by_name_restores_streams_messages_and_consumer_acks() {
    let name = "contrail-test-reopen";
    let e = fresh(name).await;
    request(
        &e,
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s.>"]}),
    )
    .await;
    // Many publishes, one flush: one transaction.
    for i in 0..250 {
        let reply = format!("ack.{i}");
        let hdrs = (i == 3).then(|| b"NATS/1.0\r\nK: v\r\n\r\n".to_vec());
        e.handle(
            format!("s.{}", i % 5),
            Some(reply),
            hdrs,
            format!("m{i}").into_bytes(),
            NOW,
        );
    }
    let acks = flush(&e).await;
    assert_eq!(acks.len(), 250);
    request(
        &e,
        "$JS.API.CONSUMER.CREATE.S.C",
        json!({"stream_name": "S", "config": {"durable_name": "C", "ack_policy": "explicit"}}),
    )
    .await;
    e.handle(
        "$JS.API.CONSUMER.MSG.NEXT.S.C".into(),
        Some("inbox".into()),
        None,
        br#"{"batch": 2}"#.to_vec(),
        NOW,
    );
    let delivered = JsFuture::from(e.flush()).await.expect("deliveries");
    let first = Array::from(&delivered).get(0);
    let ack_subject = field(&first, "reply").as_string().expect("ack subject");
    e.handle(ack_subject, None, None, b"+ACK".to_vec(), NOW);
    flush(&e).await;

    let e = reopen(e, name).await;
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 250);
    assert_eq!(info["state"]["last_seq"], 250);
    let msg = request(&e, "$JS.API.STREAM.MSG.GET.S", json!({"seq": 4})).await;
    assert_eq!(msg["message"]["subject"], "s.3");
    assert!(msg["message"]["hdrs"].is_string(), "headers kept: {msg}");
    let consumer = request(&e, "$JS.API.CONSUMER.INFO.S.C", json!({})).await;
    assert_eq!(consumer["ack_floor"]["stream_seq"], 1);
    assert_eq!(consumer["num_ack_pending"], 1);
    assert_eq!(consumer["delivered"]["stream_seq"], 2);
    // Sequences continue where they stopped.
    let ack = request(&e, "s.0", json!("after")).await;
    assert_eq!(ack["seq"], 251);
    e.close();
}

#[wasm_bindgen_test]
async fn removed_messages_and_deleted_streams_stay_gone_after_reopen() {
    let name = "contrail-test-removals";
    let e = fresh(name).await;
    for stream in ["A", "B"] {
        request(
            &e,
            &format!("$JS.API.STREAM.CREATE.{stream}"),
            json!({"name": stream, "subjects": [format!("{}.*", stream.to_lowercase())]}),
        )
        .await;
    }
    for i in 0..10 {
        e.handle(format!("a.{i}"), None, None, b"x".to_vec(), NOW);
    }
    flush(&e).await;
    request(&e, "$JS.API.STREAM.MSG.DELETE.A", json!({"seq": 5})).await;
    request(&e, "$JS.API.STREAM.PURGE.A", json!({"seq": 3})).await;
    request(&e, "$JS.API.STREAM.DELETE.B", json!({})).await;

    let e = reopen(e, name).await;
    let names = request(&e, "$JS.API.STREAM.NAMES", json!({})).await;
    assert_eq!(names["streams"], json!(["A"]));
    let info = request(&e, "$JS.API.STREAM.INFO.A", json!({})).await;
    assert_eq!(info["state"]["messages"], 7);
    assert_eq!(info["state"]["first_seq"], 3);
    let gone = request(&e, "$JS.API.STREAM.MSG.GET.A", json!({"seq": 5})).await;
    assert_eq!(gone["error"]["err_code"], 10037);
    e.close();
}
