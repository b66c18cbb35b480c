//! The wasm binding in Node (wasm-bindgen-test-runner without a browser): the in-memory engine
//! driven through `handle`/`flush` as the JavaScript layer drives it, and the segment codec.
#![cfg(target_arch = "wasm32")]

use contrail::core::store::StoredMsg;
use contrail::wasm::engine::JsEngine;
use contrail::wasm::idb::codec;
use js_sys::{Array, Uint8Array};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const NOW: f64 = 1_700_000_000_000.0;

/// A field of a released message (`[to, subject, reply, headers, data]`).
fn field(m: &JsValue, name: &str) -> JsValue {
    let i = ["to", "subject", "reply", "headers", "data"]
        .iter()
        .position(|f| *f == name)
        .expect("a field of a released message");
    Array::from(m).get(i as u32)
}

async fn flush(e: &JsEngine) -> Vec<JsValue> {
    let out = JsFuture::from(e.flush()).await.expect("flush");
    Array::from(&out).iter().collect()
}

async fn request(e: &JsEngine, subject: &str, body: Value) -> Value {
    assert!(e.handle(
        subject.into(),
        Some("r".into()),
        None,
        body.to_string().into_bytes(),
        NOW
    ));
    let out = flush(e).await;
    let reply = out
        .iter()
        .find(|m| field(m, "to").as_string().as_deref() == Some("r"))
        .expect("reply");
    serde_json::from_slice(&Uint8Array::new(&field(reply, "data")).to_vec()).expect("JSON")
}

#[wasm_bindgen_test]
async fn in_memory_engine_answers_api_requests_and_acks_publishes() {
    let e = JsEngine::in_memory(1.0);
    assert!(!e.persistent());
    let info = request(
        &e,
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s"]}),
    )
    .await;
    assert_eq!(info["config"]["name"], "S");
    let ack = request(&e, "s", json!("hello")).await;
    assert_eq!(ack, json!({"stream": "S", "seq": 1}));
    let err = request(&e, "$JS.API.STREAM.INFO.NOPE", json!({})).await;
    assert_eq!(err["error"]["code"], 404);
    assert_eq!(err["error"]["err_code"], 10059);
}

#[wasm_bindgen_test]
async fn replies_are_released_only_by_flush() {
    let e = JsEngine::in_memory(1.0);
    request(
        &e,
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s"]}),
    )
    .await;
    e.handle("s".into(), Some("a".into()), None, b"x".to_vec(), NOW);
    e.handle("s".into(), Some("b".into()), None, b"y".to_vec(), NOW);
    let out = flush(&e).await;
    let to: Vec<String> = out
        .iter()
        .map(|m| field(m, "to").as_string().expect("to"))
        .collect();
    assert_eq!(to, ["a", "b"]);
    assert!(flush(&e).await.is_empty());
}

#[wasm_bindgen_test]
async fn pull_request_expiry_is_driven_by_handle_timeout() {
    let e = JsEngine::in_memory(1.0);
    request(
        &e,
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s"]}),
    )
    .await;
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
        br#"{"batch": 1, "expires": 100000000}"#.to_vec(),
        NOW,
    );
    assert!(flush(&e).await.is_empty());
    let due = e.poll_timeout().expect("a deadline");
    assert!((due - (NOW + 100.0)).abs() < 1.0, "due at {due}");
    e.handle_timeout(due);
    let out = flush(&e).await;
    let headers = Uint8Array::new(&field(&out[0], "headers")).to_vec();
    assert!(String::from_utf8_lossy(&headers).starts_with("NATS/1.0 408"));
}

#[wasm_bindgen_test]
fn segment_codec_round_trips_every_field() {
    let msgs = vec![
        StoredMsg {
            subject: "a.b".into(),
            seq: 3,
            time: 17,
            headers: Some(b"NATS/1.0\r\n\r\n"[..].into()),
            payload: b"p"[..].into(),
        },
        StoredMsg {
            subject: "c".into(),
            seq: 9,
            time: -1,
            headers: None,
            payload: Default::default(),
        },
    ];
    assert_eq!(
        codec::decode_segment(&codec::encode_segment(&msgs)),
        Ok(msgs)
    );
}

#[wasm_bindgen_test]
fn truncated_or_garbled_segments_are_corrupt_not_panics() {
    let msg = StoredMsg {
        subject: "a".into(),
        seq: 1,
        time: 0,
        headers: None,
        payload: b"xyz"[..].into(),
    };
    let good = codec::encode_segment([&msg]);
    for cut in 0..good.len() {
        let r = codec::decode_segment(&good[..cut]);
        assert!(r.is_err() || cut == 4, "cut at {cut} gave {r:?}");
    }
    let mut huge = good.clone();
    huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(codec::decode_segment(&huge).is_err());
}
