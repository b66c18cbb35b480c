//! The engine over real IndexedDB: what a publish acknowledged is there after a reopen, what a
//! failed commit did not store is gone, and the tail of a stream merges into few records.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use serde_json::{json, Value};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{IdbDatabase, IdbFactory};

use crate::wasm::engine::JsEngine;
use crate::wasm::error::Error;
use crate::wasm::idb::db::faults::{fail_nth_commit, forget_planned};
use crate::wasm::idb::store::MERGE_RUN;
use crate::wasm::idb::Database;
use crate::wasm::released::{self, Released};

pub(super) const NOW: f64 = 1_700_000_000_000.0;

/// The messages a flush released.
pub(super) async fn released(flushed: Promise) -> Vec<Released> {
    let out = JsFuture::from(flushed).await.expect("flush commits");
    released::decode(&Uint8Array::new(&out).to_vec())
        .expect("a well-formed release buffer")
        .msgs
}

/// Flushes and returns the released messages as `(to, data)`.
async fn flush(e: &JsEngine) -> Vec<(String, Vec<u8>)> {
    released(e.flush())
        .await
        .into_iter()
        .map(|m| (m.to, m.data))
        .collect()
}

/// Sends a request and returns its JSON reply, after the commit.
pub(super) async fn request(e: &JsEngine, subject: &str, body: Value) -> Value {
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

pub(super) async fn fresh(name: &str) -> JsEngine {
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

/// Creates stream `S` capturing `s.>`.
async fn create_stream_s(e: &JsEngine) {
    let info = request(
        e,
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s.>"]}),
    )
    .await;
    assert_eq!(info["config"]["name"], "S", "{info}");
}

/// Creates durable consumer `C` on `S` (explicit acks) and returns what a pull of 2 delivers.
async fn pull_two_from_durable_c(e: &JsEngine) -> Vec<Released> {
    request(
        e,
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
    released(e.flush()).await
}

#[wasm_bindgen_test]
async fn reopen_by_name_restores_streams_messages_and_consumer_acks() {
    let name = "contrail-test-reopen";
    let e = fresh(name).await;
    create_stream_s(&e).await;
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
    let delivered = pull_two_from_durable_c(&e).await;
    let ack_subject = delivered[0].reply.clone().expect("ack subject");
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

/// Publishes `count` messages to `subject` in one flush; returns their PubAcks.
async fn publish(e: &JsEngine, subject: &str, count: usize) -> Vec<Value> {
    for i in 0..count {
        e.handle(
            subject.into(),
            Some(format!("ack.{i}")),
            None,
            format!("m{i}").into_bytes(),
            NOW,
        );
    }
    flush(e)
        .await
        .into_iter()
        .filter(|(to, _)| to.starts_with("ack."))
        .map(|(_, data)| serde_json::from_slice(&data).expect("PubAck JSON"))
        .collect()
}

/// The `name` and `message` of a rejected promise's error.
fn error_of(value: &JsValue) -> (String, String) {
    let text = |key: &str| {
        Reflect::get(value, &JsValue::from_str(key))
            .unwrap_or_default()
            .as_string()
            .unwrap_or_default()
    };
    (text("name"), text("message"))
}

/// Fails the next commit and the retry after it with the DOMException `name`: the flush rejects.
fn fail_commit_and_retry(name: &'static str) {
    fail_nth_commit(1, name);
    fail_nth_commit(2, name);
}

/// A commit that fails, and whose retry (the batch replayed without its publishes) fails too.
/// (One failed commit alone refuses its publishes and resolves: see `faults.rs`.)
#[wasm_bindgen_test]
async fn a_failed_commit_and_retry_roll_the_engine_back_to_what_was_committed() {
    let name = "contrail-test-rollback";
    let e = fresh(name).await;
    create_stream_s(&e).await;
    assert_eq!(publish(&e, "s.a", 10).await.len(), 10);
    let delivered = pull_two_from_durable_c(&e).await;
    let ack_subject = |i: usize| delivered[i].reply.clone().expect("ack subject");
    e.handle(ack_subject(0), None, None, b"+ACK".to_vec(), NOW);
    flush(&e).await;

    // The next commits fail as a full quota does: five publishes and an ack go with them.
    fail_commit_and_retry("QuotaExceededError");
    for i in 0..5 {
        e.handle(
            "s.b".into(),
            Some(format!("lost.{i}")),
            None,
            b"x".to_vec(),
            NOW,
        );
    }
    e.handle(ack_subject(1), None, None, b"+ACK".to_vec(), NOW);
    let err = JsFuture::from(e.flush())
        .await
        .expect_err("the commit fails");
    let (err_name, message) = error_of(&err);
    assert_eq!(err_name, "QuotaExceededError");
    assert!(message.contains("quota"), "{message}");

    // Back at the last committed state: no trace of the unacknowledged messages or the ack.
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 10);
    assert_eq!(info["state"]["last_seq"], 10);
    let gone = request(&e, "$JS.API.STREAM.MSG.GET.S", json!({"seq": 11})).await;
    assert_eq!(gone["error"]["err_code"], 10037);
    let consumer = request(&e, "$JS.API.CONSUMER.INFO.S.C", json!({})).await;
    assert_eq!(consumer["ack_floor"]["stream_seq"], 1);
    assert_eq!(consumer["num_ack_pending"], 1);

    // Sequences continue from the committed state, and that survives a reopen.
    let acks = publish(&e, "s.c", 2).await;
    assert_eq!(acks[0]["seq"], 11);
    assert_eq!(acks[1]["seq"], 12);
    let e = reopen(e, name).await;
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 12);
    assert_eq!(info["state"]["last_seq"], 12);
    let msg = request(&e, "$JS.API.STREAM.MSG.GET.S", json!({"seq": 11})).await;
    assert_eq!(msg["message"]["subject"], "s.c");
    e.close();
}

/// What a flush that resolved released: each message's `to` and its refusal's `err_code`
/// (null when it is no refusal).
async fn refusals(flushed: Promise) -> Vec<(String, Value)> {
    released(flushed)
        .await
        .into_iter()
        .map(|m| {
            let body: Value = serde_json::from_slice(&m.data).unwrap_or_default();
            (m.to, body["error"]["err_code"].clone())
        })
        .collect()
}

/// A failed commit of appends with a flush queued behind it, built on it: the engine takes
/// both back, so both flushes resolve with their publishes refused and nothing of them is
/// written (the retry has nothing left to commit, so the second planned failure never comes).
#[wasm_bindgen_test]
async fn flushes_queued_behind_a_failed_commit_of_appends_are_refused_not_written() {
    let name = "contrail-test-rollback-queue";
    let e = fresh(name).await;
    create_stream_s(&e).await;
    assert_eq!(publish(&e, "s.a", 3).await.len(), 3);

    fail_commit_and_retry("UnknownError");
    e.handle("s.b".into(), Some("r1".into()), None, b"x".to_vec(), NOW);
    let first = e.flush();
    // Taken while the failing commit is in flight: built on state that will be rolled back.
    e.handle("s.b".into(), Some("r2".into()), None, b"y".to_vec(), NOW);
    let second = e.flush();
    let first = refusals(first).await;
    let second = refusals(second).await;
    forget_planned();
    let all: Vec<(String, Value)> = first.into_iter().chain(second).collect();
    assert_eq!(
        all,
        vec![
            ("r1".to_string(), json!(10077)),
            ("r2".to_string(), json!(10077))
        ]
    );

    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["last_seq"], 3);
    let e = reopen(e, name).await;
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 3);
    assert_eq!(info["state"]["last_seq"], 3);
    e.close();
}

/// The same with a purge in the failed batch, which the engine cannot take back: it is rebuilt
/// from the database, the retry fails too, and the flush behind it is rejected, not written.
#[wasm_bindgen_test]
async fn flushes_queued_behind_a_failed_commit_are_rejected_not_written() {
    let name = "contrail-test-rollback-queue-purge";
    let e = fresh(name).await;
    create_stream_s(&e).await;
    assert_eq!(publish(&e, "s.a", 3).await.len(), 3);

    fail_commit_and_retry("UnknownError");
    e.handle("s.b".into(), Some("r1".into()), None, b"x".to_vec(), NOW);
    let purge = "$JS.API.STREAM.PURGE.S";
    e.handle(purge.into(), Some("p".into()), None, b"{}".to_vec(), NOW);
    let first = e.flush();
    // Taken while the failing commit is in flight: built on state that will be rolled back.
    e.handle("s.b".into(), Some("r2".into()), None, b"y".to_vec(), NOW);
    let second = e.flush();
    let (first_name, _) = error_of(&JsFuture::from(first).await.expect_err("fails"));
    assert_eq!(first_name, "ContrailError");
    let (second_name, message) = error_of(&JsFuture::from(second).await.expect_err("rolled back"));
    assert_eq!(second_name, "ContrailError");
    assert!(message.contains("rolled back"), "{message}");

    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["last_seq"], 3);
    let e = reopen(e, name).await;
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 3);
    assert_eq!(info["state"]["last_seq"], 3);
    e.close();
}

#[wasm_bindgen_test]
async fn one_message_per_flush_is_merged_into_few_records() {
    let name = "contrail-test-merge";
    let e = fresh(name).await;
    create_stream_s(&e).await;
    for i in 0..100 {
        let acks = publish(&e, "s.one", 1).await;
        assert_eq!(acks[0]["seq"], i + 1);
    }
    e.close();
    drop(e);
    let db = Database::open(name).await.expect("open");
    let mut stored = db.load().await.expect("load");
    let mut records = 0;
    let segments = &mut stored.get_mut("S").expect("stream S").segments;
    while let Some(batch) = segments.next().await {
        records += batch.expect("segments").len();
    }
    db.close();
    assert!(records <= MERGE_RUN, "{records} records for 100 messages");

    let e = JsEngine::open_indexed_db(name.into(), 8.0, NOW)
        .await
        .expect("reopen");
    let info = request(&e, "$JS.API.STREAM.INFO.S", json!({})).await;
    assert_eq!(info["state"]["messages"], 100);
    let last = request(&e, "$JS.API.STREAM.MSG.GET.S", json!({"seq": 100})).await;
    assert_eq!(last["message"]["subject"], "s.one");
    e.close();
}

/// Creates `name` as schema version 1 would have (an empty database of version 1).
async fn create_version_1(name: &str) {
    let factory: IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into())
        .expect("indexedDB")
        .dyn_into()
        .expect("an IdbFactory");
    let req = factory.open_with_u32(name, 1).expect("open v1");
    let opened = Promise::new(&mut |resolve: Function, _reject: Function| {
        let on_ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        req.set_onsuccess(Some(on_ok.unchecked_ref()));
    });
    JsFuture::from(opened).await.expect("v1 created");
    let db: IdbDatabase = req.result().expect("result").dyn_into().expect("db");
    db.close();
}

#[wasm_bindgen_test]
async fn a_database_of_the_older_schema_is_refused_with_a_clear_error() {
    let name = "contrail-test-schema-1";
    JsEngine::delete_indexed_db(name.into())
        .await
        .expect("delete");
    create_version_1(name).await;
    let refused = JsEngine::open_indexed_db(name.into(), 1.0, NOW).await;
    match refused {
        Err(Error::Schema(why)) => {
            assert!(
                why.contains("schema version 1") && why.contains("delete"),
                "{why}"
            )
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a version-1 database was opened"),
    }
    // Deleting it, as the error says, lets a new engine start.
    let e = fresh(name).await;
    e.close();
}

/// Every commit and every open settles its listeners: nothing stays referenced from wasm (a
/// handler that never ran would keep its transaction or request, and what it closes over,
/// alive for as long as the page lives).
#[wasm_bindgen_test]
async fn commits_and_opens_leave_no_javascript_objects_behind() {
    let name = "contrail-test-listeners";
    let mut e = fresh(name).await;
    create_stream_s(&e).await;
    publish(&e, "s.one", 1).await;
    e = reopen(e, name).await;
    let live = wasm_bindgen::externref_heap_live_count();
    for _ in 0..50 {
        publish(&e, "s.one", 1).await;
    }
    for _ in 0..5 {
        e = reopen(e, name).await;
    }
    let after = wasm_bindgen::externref_heap_live_count();
    assert!(
        after <= live + 5,
        "{live} live JavaScript references before 50 commits and 5 opens, {after} after"
    );
    e.close();
}
