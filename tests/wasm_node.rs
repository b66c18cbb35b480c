//! The wasm binding in Node (wasm-bindgen-test-runner without a browser): the in-memory engine
//! driven through `handle`/`flush` as the JavaScript layer drives it, and the segment codec.
#![cfg(target_arch = "wasm32")]

use contrail::core::store::StoredMsg;
use contrail::wasm::engine::JsEngine;
use contrail::wasm::idb::codec;
use js_sys::{Array, Reflect, Uint8Array};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const NOW: f64 = 1_700_000_000_000.0;

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).expect("property")
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
        .find(|m| get(m, "to").as_string().as_deref() == Some("r"))
        .expect("reply");
    serde_json::from_slice(&Uint8Array::new(&get(reply, "data")).to_vec()).expect("JSON")
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
        .map(|m| get(m, "to").as_string().expect("to"))
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
    let headers = Uint8Array::new(&get(&out[0], "headers")).to_vec();
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
    let bytes = codec::encode_segment("S", 2, &msgs);
    let segment = codec::decode_segment(bytes.into()).expect("header");
    assert_eq!((segment.stream.as_str(), segment.start), ("S", 2));
    let decoded: Result<Vec<StoredMsg>, _> = segment
        .messages()
        .map(|m| m.map(|m| m.to_stored()))
        .collect();
    assert_eq!(decoded, Ok(msgs));
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
    let read = |bytes: &[u8]| {
        codec::decode_segment(bytes.to_vec().into()).and_then(|s| {
            s.messages()
                .map(|m| m.map(|m| m.seq))
                .collect::<Result<Vec<_>, _>>()
        })
    };
    let header = codec::encode_segment("S", 1, []).len();
    let good = codec::encode_segment("S", 1, [&msg]);
    assert_eq!(read(&good), Ok(vec![1]));
    for cut in 0..good.len() {
        let r = read(&good[..cut]);
        assert!(r.is_err() || cut == header, "cut at {cut} gave {r:?}");
    }
    let mut huge = good.clone();
    huge[header + 16..header + 20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(read(&huge).is_err());
    // A message below the segment's key, or out of order, is corrupt too.
    assert!(read(&codec::encode_segment("S", 2, [&msg])).is_err());
    assert!(read(&codec::encode_segment("S", 1, [&msg, &msg])).is_err());
}
