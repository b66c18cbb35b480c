//! Benchmarks of the IndexedDB store in headless Chromium. They print figures (console.log) and
//! assert nothing about time. Run them in release, with the environment of `scripts/test-wasm`:
//!
//! `cargo test --release --target wasm32-unknown-unknown --lib wasm::tests::open_bench --
//! --include-ignored --nocapture`
//!
//! - opening a database holding one stream of 100,000 × 128-byte messages (written through the
//!   engine, 100 per flush) until the first publish is acknowledged, with incompressible and with
//!   text payloads (Chromium compresses IndexedDB values, so the payload matters);
//! - the durable publish rate with 1, 10, 100 and 1000 messages per flush (one message per
//!   flush: every publish awaited), the records it leaves, and reopening after;
//! - raw IndexedDB: reading 16 MB by record size, and a strict commit rewriting one record: the
//!   figures behind the segment size (`store::SEGMENT_BYTES`).

use js_sys::{Array, Reflect, Uint8Array};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{IdbDatabase, IdbFactory};

use crate::wasm::engine::{restore, JsEngine};
use crate::wasm::idb::db::settled;
use crate::wasm::idb::{CommitQueue, Database, Write};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
}

const NOW: f64 = 1_700_000_000_000.0;
/// Messages in the stream the open benchmark reopens.
const MESSAGES: usize = 100_000;
/// Messages per flush while filling it, as an app publishing in bursts would.
const PER_FLUSH: usize = 100;
/// Payload size.
const SIZE: usize = 128;
/// Reopens measured; the median is reported.
const ROUNDS: usize = 7;

fn nanos(ms: f64) -> i64 {
    (ms * 1_000_000.0) as i64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// What messages carry.
#[derive(Clone, Copy, Debug)]
enum Payload {
    /// Incompressible bytes: the worst case.
    Random,
    /// JSON-like text, as apps often publish.
    Text,
}

fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn payload(kind: Payload, n: usize) -> Vec<u8> {
    match kind {
        Payload::Random => noise(SIZE, n as u64),
        Payload::Text => {
            let mut text = format!(
                r#"{{"id":{n},"user":"user-{}","event":"{}","page":"/items/{}","ok":true,"pad":""#,
                n % 997,
                ["click", "view", "scroll", "submit"][n % 4],
                n % 113
            )
            .into_bytes();
            text.resize(SIZE - 2, b'.');
            text.extend_from_slice(b"\"}");
            text
        }
    }
}

/// Flushes; returns how many messages were released.
async fn flush(e: &JsEngine) -> usize {
    let out = JsFuture::from(e.flush()).await.expect("flush commits");
    crate::wasm::released::decode(&Uint8Array::new(&out).to_vec())
        .expect("a well-formed release buffer")
        .msgs
        .len()
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
    let release = crate::wasm::released::decode(&Uint8Array::new(&out).to_vec())
        .expect("a well-formed release buffer");
    let text = String::from_utf8(release.msgs[0].data.clone()).expect("UTF-8");
    assert!(!text.contains("\"error\""), "create {name}: {text}");
}

/// A fresh database with one stream `name`, subjects `<lowercase name>.>`.
async fn fresh(db: &str, stream: &str) -> JsEngine {
    JsEngine::delete_indexed_db(db.into())
        .await
        .expect("delete old database");
    let e = JsEngine::open_indexed_db(db.into(), 1.0, NOW)
        .await
        .expect("open");
    create_stream(&e, stream, &format!("{}.>", stream.to_lowercase())).await;
    e
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

async fn open_bench(kind: Payload) {
    let name = format!("contrail-bench-open-{kind:?}");
    let e = fresh(&name, "B").await;
    // Published an hour before the reopens: outside the duplicate window, as after a reload.
    let written_at = NOW - 3_600_000.0;
    let start = performance_now();
    for batch in 0..MESSAGES / PER_FLUSH {
        for i in 0..PER_FLUSH {
            let n = batch * PER_FLUSH + i;
            e.handle(
                format!("b.{}", n % 16),
                Some(format!("ack.{n}")),
                None,
                payload(kind, n),
                written_at + n as f64 / 100.0,
            );
        }
        assert_eq!(flush(&e).await, PER_FLUSH);
    }
    let took = performance_now() - start;
    e.close();
    drop(e);
    console_log(&format!(
        "[{kind:?} payloads] write {MESSAGES} x {SIZE} B, {PER_FLUSH} per flush: {:.0} msgs/s; \
         {} segment records",
        MESSAGES as f64 / took * 1000.0,
        segment_records(&name, "B").await
    ));

    let mut totals = Vec::new();
    for round in 0..ROUNDS {
        // The whole path, as an app sees it.
        let t0 = performance_now();
        let e = JsEngine::open_indexed_db(name.clone(), 2.0, NOW)
            .await
            .expect("open");
        let t1 = performance_now();
        e.handle(
            "b.first".into(),
            Some("ack".into()),
            None,
            payload(kind, 0),
            NOW,
        );
        assert_eq!(flush(&e).await, 1);
        let t2 = performance_now();
        e.close();
        drop(e);
        // The same open in steps (reading and restoring segments overlap, so they are one).
        let t3 = performance_now();
        let db = Database::open(&name).await.expect("open");
        let t4 = performance_now();
        let stored = db.load().await.expect("load");
        let t5 = performance_now();
        let restored = restore(stored, &CommitQueue::default(), 1, nanos(NOW))
            .await
            .expect("restore");
        let t6 = performance_now();
        drop(restored);
        db.close();
        console_log(&format!(
            "  open #{round}: open to first PubAck {:.1} ms (open {:.1} + first publish {:.1}); \
             steps: IndexedDB open {:.1}, small records {:.1}, segments read + restore {:.1}",
            t2 - t0,
            t1 - t0,
            t2 - t1,
            t4 - t3,
            t5 - t4,
            t6 - t5
        ));
        totals.push(t2 - t0);
    }
    console_log(&format!(
        "[{kind:?} payloads] open to first PubAck, median of {ROUNDS}: {:.1} ms",
        median(totals)
    ));

    // Reopened while every message is inside the duplicate window: the engine also walks them
    // to rebuild its duplicate table.
    let t0 = performance_now();
    let e = JsEngine::open_indexed_db(name.clone(), 3.0, written_at + 1000.0)
        .await
        .expect("open");
    console_log(&format!(
        "[{kind:?} payloads] open with every message in the duplicate window: {:.1} ms",
        performance_now() - t0
    ));
    e.close();
    JsEngine::delete_indexed_db(name).await.expect("delete");
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run in release with --include-ignored --nocapture"]
async fn open_until_first_publish_random_payloads() {
    open_bench(Payload::Random).await;
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run in release with --include-ignored --nocapture"]
async fn open_until_first_publish_text_payloads() {
    open_bench(Payload::Text).await;
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run in release with --include-ignored --nocapture"]
async fn durable_publish_rate_by_flush_size() {
    for (per_flush, count) in [(1, 500), (10, 3000), (100, 20_000), (1000, 50_000)] {
        let name = format!("contrail-bench-flush-{per_flush}");
        let e = fresh(&name, "O").await;
        let start = performance_now();
        for batch in 0..count / per_flush {
            for i in 0..per_flush {
                let n = batch * per_flush + i;
                e.handle(
                    "o.x".into(),
                    Some(format!("ack.{n}")),
                    None,
                    payload(Payload::Random, n),
                    NOW,
                );
            }
            assert_eq!(flush(&e).await, per_flush);
        }
        let took = performance_now() - start;
        e.close();
        drop(e);
        let records = segment_records(&name, "O").await;
        let t0 = performance_now();
        let e = JsEngine::open_indexed_db(name.clone(), 2.0, NOW + 3_600_000.0)
            .await
            .expect("open");
        let reopen = performance_now() - t0;
        e.close();
        console_log(&format!(
            "{per_flush:>4} per flush: {count} x {SIZE} B at {:.0} durable msgs/s; {records} \
             segment records; reopen {reopen:.1} ms",
            count as f64 / took * 1000.0
        ));
        JsEngine::delete_indexed_db(name).await.expect("delete");
    }
}

/// Opens `name` without Contrail's schema handling (it already exists).
async fn raw_open(name: &str) -> IdbDatabase {
    let factory: IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into())
        .expect("indexedDB")
        .dyn_into()
        .expect("an IdbFactory");
    let req = factory.open(name).expect("open");
    settled(&req)
        .await
        .expect("opened")
        .dyn_into()
        .expect("a database")
}

#[wasm_bindgen_test]
#[ignore = "benchmark: run in release with --include-ignored --nocapture"]
async fn indexeddb_cost_by_record_size() {
    const TOTAL: usize = 16 << 20;
    const REWRITES: u64 = 50;
    for size in [16usize << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20] {
        let name = format!("contrail-bench-records-{size}");
        let _ = Database::delete(&name).await;
        let db = Database::open(&name).await.expect("open");
        let start = performance_now();
        for i in 0..REWRITES {
            let bytes = noise(size, i);
            let put = Write::PutSegment {
                stream: "R".into(),
                start: 0,
                bytes,
            };
            db.commit(vec![put]).await.expect("commit");
        }
        let rewrite = (performance_now() - start) / REWRITES as f64;
        let count = TOTAL / size;
        let mut writes = Vec::new();
        for i in 0..count {
            let bytes = noise(size, i as u64);
            let start = i as u64;
            writes.push(Write::PutSegment {
                stream: "R".into(),
                start,
                bytes,
            });
            if writes.len() * size >= 4 << 20 {
                db.commit(std::mem::take(&mut writes))
                    .await
                    .expect("commit");
            }
        }
        db.commit(writes).await.expect("commit");
        db.close();
        let mut reads = Vec::new();
        for _ in 0..3 {
            let raw = raw_open(&name).await;
            let t0 = performance_now();
            let tx = raw.transaction_with_str("segments").expect("tx");
            let store = tx.object_store("segments").expect("store");
            let values = settled(&store.get_all().expect("getAll"))
                .await
                .expect("values");
            let t1 = performance_now();
            let copied: usize = Array::from(&values)
                .iter()
                .map(|v| Uint8Array::new(&v).to_vec().len())
                .sum();
            let t2 = performance_now();
            assert_eq!(copied, count * size);
            reads.push((t1 - t0, t2 - t1));
            raw.close();
        }
        let read = median(reads.iter().map(|r| r.0).collect());
        let copy = median(reads.iter().map(|r| r.1).collect());
        console_log(&format!(
            "records of {:>4} KiB: strict commit rewriting one {rewrite:.1} ms; 16 MiB as {count} \
             records: getAll {read:.1} ms, copy into wasm {copy:.1} ms",
            size >> 10
        ));
        Database::delete(&name).await.expect("delete");
    }
}
