//! The wasm binding in Node (wasm-bindgen-test-runner without a browser): the in-memory engine
//! driven through `handle`/`flush` as the JavaScript layer drives it, and the segment codec.
#![cfg(target_arch = "wasm32")]

use contrail::core::error::{ApiError, ErrorKind};
use contrail::core::store::StoredMsg;
use contrail::core::stream::PubAck;
use contrail::wasm::engine::JsEngine;
use contrail::wasm::idb::codec;
use contrail::wasm::released::{self, Released};
use js_sys::Uint8Array;
use serde_json::{json, Value};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const NOW: f64 = 1_700_000_000_000.0;

async fn flush(e: &JsEngine) -> Vec<Released> {
    let out = JsFuture::from(e.flush()).await.expect("flush");
    released::decode(&Uint8Array::new(&out).to_vec())
        .expect("a well-formed release buffer")
        .msgs
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
    let reply = out.iter().find(|m| m.to == "r").expect("reply");
    serde_json::from_slice(&reply.data).expect("JSON")
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
    let to: Vec<String> = out.iter().map(|m| m.to.clone()).collect();
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
    let headers = out[0].headers.clone().expect("a status header");
    assert!(String::from_utf8_lossy(&headers).starts_with("NATS/1.0 408"));
}

fn msg(seq: u64, time: i64, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> StoredMsg {
    StoredMsg {
        subject: subject.into(),
        seq,
        time,
        headers: headers.map(|h| h.to_vec().into()),
        payload: payload.to_vec().into(),
    }
}

/// A segment's messages, or the first error.
fn read(bytes: &[u8]) -> Result<Vec<StoredMsg>, contrail::core::store::StoreError> {
    codec::decode_segment(bytes.to_vec().into())
        .and_then(|s| s.messages().map(|m| m.map(|m| m.to_stored())).collect())
}

#[wasm_bindgen_test]
fn segment_codec_round_trips_every_field() {
    let msgs = vec![
        msg(3, 17, "a.b", Some(b"NATS/1.0\r\n\r\n"), b"p"),
        msg(9, -1, "c", None, b""),
        // An empty header block is not the same as none; subjects repeat; time goes back.
        msg(10, i64::MIN, "a.b", Some(b""), &[0u8; 300]),
        msg(11, i64::MAX, "c", None, b"x"),
        msg(u64::MAX, 0, "\u{e9}t\u{e9}", None, b"last"),
    ];
    let bytes = codec::encode_segment("S", 2, &msgs);
    let segment = codec::decode_segment(bytes.clone().into()).expect("header");
    assert_eq!((segment.stream.as_str(), segment.start), ("S", 2));
    assert_eq!(read(&bytes), Ok(msgs));
}

#[wasm_bindgen_test]
fn truncated_or_garbled_segments_are_corrupt_not_panics() {
    let (first, second) = (
        msg(1, 5, "a", None, b"xyz"),
        msg(2, 6, "a", Some(b"h"), b""),
    );
    let good = codec::encode_segment("S", 1, [&first, &second]);
    let header = codec::encode_segment("S", 1, []);
    let one = codec::encode_segment("S", 1, [&first]);
    assert_eq!(read(&good).map(|m| m.len()), Ok(2));
    for cut in 0..good.len() {
        // Cut between messages, a segment is shorter but whole; anywhere else it is corrupt.
        let r = read(&good[..cut]);
        assert!(
            r.is_err() || cut == header.len() || cut == one.len(),
            "cut at {cut} gave {r:?}"
        );
    }
    let with = |body: &[u8]| [&header[..], body].concat();
    // A payload length far past the end.
    assert!(read(&with(&[0, 0, 0, 1, b'a', 0, 0xff, 0xff, 0xff, 0xff, 0x0f])).is_err());
    // A subject index never defined.
    assert!(read(&with(&[0, 0, 3, 0, 0])).is_err());
    // A varint longer than 64 bits.
    assert!(read(&with(&[0xff; 11])).is_err());
    // Sequences past u64::MAX.
    let top = codec::encode_segment("S", u64::MAX, [&msg(u64::MAX, 0, "a", None, b"")]);
    assert!(read(&[&top[..], &[0, 0, 0, 0, 0]].concat()).is_err());
    // Not a segment at all.
    assert!(read(b"CSG1....").is_err());
}

#[wasm_bindgen_test]
fn released_messages_cross_in_one_buffer_with_every_field() {
    use contrail::core::message::{Message, Outbound};
    let with_all = Message::new("orders.ü", "payload")
        .with_reply("$JS.ACK.S.C.1.1.1.0.0")
        .with_headers(bytes::Bytes::from_static(b"NATS/1.0\r\nA: b\r\n\r\n"));
    let out = vec![
        Outbound {
            to: "_INBOX.x.1".into(),
            group: None,
            msg: Message::new("_INBOX.x.1", ""),
            ..Default::default()
        },
        Outbound {
            to: "deliver.here".into(),
            group: Some("q".into()),
            msg: with_all,
            ..Default::default()
        },
        Outbound {
            to: "deliver.here".into(),
            group: None,
            msg: Message::new("orders.b", "next"),
            ..Default::default()
        },
    ];
    let ack = |stream: &str, seq, domain: Option<&str>, duplicate| PubAck {
        stream: stream.into(),
        seq,
        domain: domain.map(String::from),
        duplicate,
    };
    let acks = vec![
        (7, Ok(ack("ORDERS", 1, None, false))),
        (8, Ok(ack("ORDERS", 1, None, true))),
        (
            9,
            Err(ApiError::with_detail(ErrorKind::StreamWrongLastSequence, 3)),
        ),
        (10, Ok(ack("ÜBER", (1 << 53) - 1, Some("hub"), false))),
        (u32::MAX, Ok(ack("ÜBER", 2, None, false))),
    ];
    let back = released::decode(&released::encode(&acks, &out)).expect("decodes");
    assert_eq!(back.acks, acks);
    assert_eq!(
        back.msgs,
        vec![
            Released {
                to: "_INBOX.x.1".into(),
                subject: "_INBOX.x.1".into(),
                reply: None,
                headers: None,
                data: Vec::new(),
            },
            Released {
                to: "deliver.here".into(),
                subject: "orders.ü".into(),
                reply: Some("$JS.ACK.S.C.1.1.1.0.0".into()),
                headers: Some(b"NATS/1.0\r\nA: b\r\n\r\n".to_vec()),
                data: b"payload".to_vec(),
            },
            Released {
                to: "deliver.here".into(),
                subject: "orders.b".into(),
                reply: None,
                headers: None,
                data: b"next".to_vec(),
            },
        ]
    );
    let packed = released::encode(&acks, &out);
    assert_eq!(released::decode(&packed[..packed.len() - 1]), None);
    let acks_only = released::encode(&acks, &[]);
    assert_eq!(released::decode(&acks_only[..acks_only.len() - 1]), None);
}

#[wasm_bindgen_test]
async fn ticketed_publishes_come_back_as_acks_in_the_flush_that_commits_them() {
    let e = JsEngine::in_memory(1.0);
    request(
        &e,
        "$JS.API.STREAM.CREATE.ORDERS",
        json!({"name": "ORDERS", "subjects": ["orders.>"], "duplicate_window": 60_000_000_000u64}),
    )
    .await;
    let id = |v: &str| Some(format!("NATS/1.0\r\nNats-Msg-Id: {v}\r\n\r\n").into_bytes());
    let first = e
        .publish("orders.a", id("x"), b"1".to_vec(), NOW)
        .expect("captured");
    let again = e
        .publish("orders.a", id("x"), b"1".to_vec(), NOW)
        .expect("captured");
    let wrong = e
        .publish(
            "orders.b",
            Some(b"NATS/1.0\r\nNats-Expected-Last-Sequence: 5\r\n\r\n".to_vec()),
            b"2".to_vec(),
            NOW,
        )
        .expect("captured");
    assert_eq!(e.publish("nowhere", None, Vec::new(), NOW), None);
    assert_ne!(first, again);
    let out = JsFuture::from(e.flush()).await.expect("flush");
    let release = released::decode(&Uint8Array::new(&out).to_vec()).expect("well-formed");
    assert!(release.msgs.is_empty());
    let [(t1, Ok(a1)), (t2, Ok(a2)), (t3, Err(err))] = &release.acks[..] else {
        panic!("three outcomes in ticket order: {:?}", release.acks);
    };
    assert_eq!((*t1, *t2, *t3), (first, again, wrong));
    assert_eq!((&*a1.stream, a1.seq, a1.duplicate), ("ORDERS", 1, false));
    assert_eq!((a2.seq, a2.duplicate), (1, true));
    assert_eq!(err.err_code, 10071);
    // Released once: the next flush has nothing.
    let out = JsFuture::from(e.flush()).await.expect("flush");
    let release = released::decode(&Uint8Array::new(&out).to_vec()).expect("well-formed");
    assert!(release.acks.is_empty());
}
