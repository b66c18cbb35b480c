//! Benchmarks of the IndexedDB store in headless Chromium: how long opening a database that holds
//! 100,000 messages takes until the first publish is acknowledged, and what publishing one message
//! per flush costs. They print figures and assert nothing about time; run them in release:
//!
//! `cargo test --release --target wasm32-unknown-unknown --lib wasm::tests::open_bench -- --ignored --nocapture`
//! (with the environment of `scripts/test-wasm`).

use js_sys::{Array, Reflect};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::wasm::engine::{restore, JsEngine};
use crate::wasm::idb::{CommitQueue, Database};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
}

const NOW: f64 = 1_700_000_000_000.0;

fn nanos(ms: f64) -> i64 {
    (ms * 1_000_000.0) as i64
}
/// Messages in the stream the open benchmark reopens.
const MESSAGES: usize = 100_000;
/// Messages per flush while filling it, as a busy app publishing in bursts would.
const PER_FLUSH: usize = 100;
/// Payload size.
const SIZE: usize = 128;
/// Reopens measured (the first pays for a cold cache in this browser process).
const ROUNDS: usize = 4;

/// Hands in a publish or request and flushes; returns how many messages were released.
async fn flush(e: &JsEngine) -> usize {
    let out = JsFuture::from(e.flush()).await.expect("flush commits");
    Array::from(&out).length() as usize
}

async fn create_stream(e: &JsEngine, name: &str, subjects: &str) {
    let body = json!({"name": name, "subjects": [subjects]}).to_string();
    e.handle(
        format!("$JS.API.STREAM.CREATE.{name}"),
        Some("r".into()),
        None,
        body.into_bytes(),
        NOW,
    );
    let out = JsFuture::from(e.flush()).await.expect("create commits");
    let reply = Array::from(&out).get(0);
    let data = js_sys::Uint8Array::new(&Reflect::get(&reply, &"data".into()).expect("data"));
    let text = String::from_utf8(data.to_vec()).expect("UTF-8");
    assert!(!text.contains("\"error\""), "create {name}: {text}");
}

/// Segment records the database holds for `stream`.
async fn segment_records(name: &str, stream: &str) -> usize {
    let db = Database::open(name).await.expect("open");
    let mut stored = db.load().await.expect("load");
    let mut count = 0;
    if let Some(s) = stored.get_mut(stream) {
        while let Some(batch) = s.segments.next().await {
            count += batch.expect("segments").len();
        }
    }
    db.close();
    count
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn open_until_first_publish_of_a_100k_message_stream() {
    let name = "contrail-bench-open";
    JsEngine::delete_indexed_db(name.into())
        .await
        .expect("delete old database");
    let e = JsEngine::open_indexed_db(name.into(), 1.0, NOW)
        .await
        .expect("open");
    create_stream(&e, "B", "b.>").await;
    // Published an hour before the reopen: outside the duplicate window, as after a reload.
    let written_at = NOW - 3_600_000.0;
    let payload = vec![b'x'; SIZE];
    let start = performance_now();
    for batch in 0..MESSAGES / PER_FLUSH {
        for i in 0..PER_FLUSH {
            let n = batch * PER_FLUSH + i;
            e.handle(
                format!("b.{}", n % 16),
                Some(format!("ack.{n}")),
                None,
                payload.clone(),
                written_at + n as f64 / 100.0,
            );
        }
        assert_eq!(flush(&e).await, PER_FLUSH);
    }
    let took = performance_now() - start;
    console_log(&format!(
        "write: {MESSAGES} x {SIZE} B in flushes of {PER_FLUSH}: {took:.0} ms, {:.0} msgs/s",
        MESSAGES as f64 / took * 1000.0
    ));
    e.close();
    drop(e);
    console_log(&format!(
        "segment records: {}",
        segment_records(name, "B").await
    ));

    for round in 0..ROUNDS {
        let t0 = performance_now();
        let db = Database::open(name).await.expect("open");
        let t1 = performance_now();
        let stored = db.load().await.expect("load");
        let t2 = performance_now();
        // Reads and restores overlap: "restore" includes waiting for the segments.
        let restored = restore(stored, &CommitQueue::default(), 1, nanos(NOW))
            .await
            .expect("restore");
        let t2b = performance_now();
        drop(restored);
        db.close();

        let t3 = performance_now();
        let e = JsEngine::open_indexed_db(name.into(), 2.0, NOW)
            .await
            .expect("open");
        let t4 = performance_now();
        e.handle(
            "b.first".into(),
            Some("ack.first".into()),
            None,
            payload.clone(),
            NOW,
        );
        assert_eq!(flush(&e).await, 1);
        let t5 = performance_now();
        console_log(&format!(
            "open #{round}: open to first PubAck {:.1} ms (engine open {:.1}, first publish {:.1}); \
             alone: IndexedDB open {:.1} ms, small records {:.1} ms, segments read + restore {:.1} ms",
            t5 - t3,
            t4 - t3,
            t5 - t4,
            t1 - t0,
            t2 - t1,
            t2b - t2
        ));
        e.close();
    }

    // The same stream reopened while every message is inside the duplicate window: the engine
    // walks them to rebuild its duplicate table.
    let t0 = performance_now();
    let e = JsEngine::open_indexed_db(name.into(), 3.0, written_at + 1000.0)
        .await
        .expect("open");
    console_log(&format!(
        "open with every message in the duplicate window: {:.1} ms",
        performance_now() - t0
    ));
    e.close();
    JsEngine::delete_indexed_db(name.into())
        .await
        .expect("delete");
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn one_message_per_flush() {
    const COUNT: usize = 1000;
    let name = "contrail-bench-one-per-flush";
    JsEngine::delete_indexed_db(name.into())
        .await
        .expect("delete old database");
    let e = JsEngine::open_indexed_db(name.into(), 1.0, NOW)
        .await
        .expect("open");
    create_stream(&e, "O", "o.>").await;
    let payload = vec![b'x'; SIZE];
    let start = performance_now();
    for n in 0..COUNT {
        e.handle(
            "o.x".into(),
            Some(format!("ack.{n}")),
            None,
            payload.clone(),
            NOW,
        );
        assert_eq!(flush(&e).await, 1);
    }
    let took = performance_now() - start;
    console_log(&format!(
        "one per flush: {COUNT} x {SIZE} B: {took:.0} ms, {:.0} durable msgs/s",
        COUNT as f64 / took * 1000.0
    ));
    e.close();
    drop(e);
    console_log(&format!(
        "segment records: {}",
        segment_records(name, "O").await
    ));
    let t0 = performance_now();
    let e = JsEngine::open_indexed_db(name.into(), 2.0, NOW + 3_600_000.0)
        .await
        .expect("open");
    console_log(&format!("reopen: {:.1} ms", performance_now() - t0));
    e.close();
    JsEngine::delete_indexed_db(name.into())
        .await
        .expect("delete");
}
