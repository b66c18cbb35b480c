//! Stream helpers the mirror and source suites share: create, read and wait on a stream through
//! `$JS.API` requests (the same on every server), publish with a PubAck, read stored payloads
//! back, a Contrail edge in this process linked to a hub, the work-queue setup the work-queue
//! origin suites repeat (origins QM and QS, mirror M of QM, stream S sourcing QS), and the
//! benches' timed mirror catch-up and windowed publishing.

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::Context;
use contrail::core::link::{LinkConfig, LinkEvent};
use contrail::core::message::{Destination, LinkId};
use contrail::server::config::ServerConfig;
use contrail::server::link::LinkHandle;
use contrail::server::Server;
use serde_json::{json, Value};

use super::{request_json, Kind, TestServer};

/// Longest a copy may take to catch up, or an origin to let go of what was copied.
pub const CATCH_UP: Duration = Duration::from_secs(30);

/// Creates a stream from its JSON config; the API's reply.
pub async fn create(client: &async_nats::Client, config: Value) -> Value {
    let name = config["name"].as_str().unwrap_or_default().to_string();
    request_json(client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await
}

/// Creates a stream, asserting the server took it.
pub async fn create_ok(client: &async_nats::Client, config: Value) {
    let reply = create(client, config.clone()).await;
    assert!(reply["error"].is_null(), "{config} refused: {reply}");
}

/// The config of a stream `name` capturing `subjects`, in memory.
pub fn memory_stream(name: &str, subjects: &str) -> Value {
    json!({"name": name, "subjects": [subjects], "storage": "memory"})
}

/// Creates the memory stream `name` capturing `subjects`, asserting the server took it.
pub async fn create_memory_stream(client: &async_nats::Client, name: &str, subjects: &str) {
    create_ok(client, memory_stream(name, subjects)).await;
}

/// Creates the memory mirror `name` of `origin` (a `StreamSource` JSON), asserting the server
/// took it.
pub async fn create_memory_mirror(client: &async_nats::Client, name: &str, origin: Value) {
    create_ok(
        client,
        json!({"name": name, "mirror": origin, "storage": "memory"}),
    )
    .await;
}

/// A stream's info as the API answers it.
pub async fn info(client: &async_nats::Client, stream: &str) -> Value {
    request_json(
        client,
        &format!("$JS.API.STREAM.INFO.{stream}"),
        Value::Null,
    )
    .await
}

/// Waits (at most [`CATCH_UP`]) until the stream's info satisfies `done`; returns that info.
pub async fn wait_info(
    client: &async_nats::Client,
    stream: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        let info = info(client, stream).await;
        if done(&info) {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{stream}: {what} not reached; last info: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last sequence in a stream info.
pub fn last_seq(info: &Value) -> u64 {
    info["state"]["last_seq"].as_u64().unwrap_or(0)
}

/// The message count in a stream info.
pub fn messages(info: &Value) -> u64 {
    info["state"]["messages"].as_u64().unwrap_or(0)
}

/// Publishes and waits for the PubAck; its sequence.
pub async fn publish(js: &Context, subject: &str, payload: impl AsRef<str>) -> u64 {
    js.publish(subject.to_string(), payload.as_ref().to_string().into())
        .await
        .expect("publish")
        .await
        .expect("puback")
        .sequence
}

/// The payload and one header's value of a stored message, `None` when there is none.
pub async fn stored(
    js: &Context,
    stream: &str,
    seq: u64,
    header: &str,
) -> Option<(String, Option<String>)> {
    let stream = js.get_stream(stream).await.expect("stream");
    let msg = stream.get_raw_message(seq).await.ok()?;
    let value = msg.headers.get(header).map(|v| v.as_str().to_string());
    Some((String::from_utf8_lossy(&msg.payload).into_owned(), value))
}

/// Every payload a stream holds, in sequence order.
pub async fn payloads(js: &Context, stream: &str, last: u64) -> Vec<String> {
    let mut out = Vec::new();
    for seq in 1..=last {
        if let Some((payload, _)) = stored(js, stream, seq, "Nats-Msg-Id").await {
            out.push(payload);
        }
    }
    out
}

/// The config of a work-queue stream `name` on `subjects`, in memory.
pub fn work_queue(name: &str, subjects: &str) -> Value {
    let mut config = memory_stream(name, subjects);
    config["retention"] = json!("workqueue");
    config
}

/// Creates the work-queue origins: QM (`qm.>`, which mirror M copies) and QS (`qs.>`, which
/// stream S sources).
pub async fn create_work_queues(client: &async_nats::Client) {
    create_ok(client, work_queue("QM", "qm.>")).await;
    create_ok(client, work_queue("QS", "qs.>")).await;
}

/// Queues work `numbers` on both origins: `m<i>` on `qm.<i>`, `s<i>` on `qs.<i>`.
pub async fn publish_work(js: &Context, numbers: RangeInclusive<u32>) {
    for i in numbers {
        publish(js, &format!("qm.{i}"), &format!("m{i}")).await;
        publish(js, &format!("qs.{i}"), &format!("s{i}")).await;
    }
}

/// Creates the copies of the work queues, stored in `storage`: mirror M of QM, and stream S
/// (`s.>`) sourcing QS. `domain` is the JetStream domain the origins are in (a hub's, reached
/// over a link), `None` for this server's own.
pub async fn create_copies(client: &async_nats::Client, domain: Option<&str>, storage: &str) {
    let origin = |name: &str| match domain {
        Some(domain) => json!({"name": name, "domain": domain}),
        None => json!({"name": name}),
    };
    create_ok(
        client,
        json!({"name": "M", "mirror": origin("QM"), "storage": storage}),
    )
    .await;
    create_ok(
        client,
        json!({"name": "S", "subjects": ["s.>"], "sources": [origin("QS")], "storage": storage}),
    )
    .await;
}

/// Waits (bounded) until mirror M and source S each hold `count` messages.
pub async fn wait_copied(client: &async_nats::Client, count: u64) {
    wait_info(client, "M", &format!("{count} mirrored"), |i| {
        messages(i) == count
    })
    .await;
    wait_info(client, "S", &format!("{count} sourced"), |i| {
        messages(i) == count
    })
    .await;
}

/// Asserts M holds `m1..=m<count>` and S `s1..=s<count>`: all the work, in order, once.
pub async fn assert_copied_in_order(js: &Context, count: u32, kind: Kind) {
    let expected: Vec<String> = (1..=count).map(|i| format!("m{i}")).collect();
    assert_eq!(payloads(js, "M", count.into()).await, expected, "{kind:?}");
    let expected: Vec<String> = (1..=count).map(|i| format!("s{i}")).collect();
    assert_eq!(payloads(js, "S", count.into()).await, expected, "{kind:?}");
}

/// Waits (bounded) until QM and QS are empty: what the copies took has left the work queues.
pub async fn wait_work_taken(client: &async_nats::Client, what: &str) {
    wait_info(client, "QM", what, |i| messages(i) == 0).await;
    wait_info(client, "QS", what, |i| messages(i) == 0).await;
}

/// A Contrail server in this process, storing in `store_dir`, with a link to `hub` that serves
/// `$JS.hub.API` (the sources' and mirrors' `domain: "hub"`).
pub async fn edge_linked_to(hub: &TestServer, store_dir: &Path) -> Server {
    let edge = Server::start(ServerConfig {
        port: -1,
        store_dir: store_dir.to_path_buf(),
        ..ServerConfig::default()
    })
    .await
    .expect("the edge starts");
    let mut link = LinkHandle::spawn(format!("127.0.0.1:{}", hub.port), LinkConfig::default());
    tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(
            link.next_event().await,
            Some(LinkEvent::Connected(_)) | None
        ) {}
    })
    .await
    .expect("the link connects");
    let js = &edge.shared().js;
    js.attach_link(LinkId(1), link).await;
    js.route_api("$JS.hub.API", Destination::Link(LinkId(1)))
        .await;
    edge
}

/// Creates the mirror `M` of `mirror` (a `StreamSource` JSON) through `client` and waits until
/// it holds `n` messages; returns origin messages per second from the create on (the benches'
/// mirror catch-up; a look at its state every 10 ms, within 15 minutes).
pub async fn time_mirror(client: &async_nats::Client, mirror: Value, n: u64) -> f64 {
    let js = async_nats::jetstream::new(client.clone());
    let config = json!({"name": "M", "mirror": mirror});
    let start = std::time::Instant::now();
    let reply = client
        .request("$JS.API.STREAM.CREATE.M", config.to_string().into())
        .await
        .expect("mirror create answered");
    let created: Value = serde_json::from_slice(&reply.payload).expect("JSON");
    assert!(created["error"].is_null(), "{created}");
    let deadline = start + Duration::from_secs(900);
    loop {
        let last = match js.get_stream("M").await {
            Ok(mut stream) => stream.info().await.map_or(0, |i| i.state.last_sequence),
            Err(_) => 0,
        };
        if last >= n {
            return n as f64 / start.elapsed().as_secs_f64();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mirror stalled at {last} of {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Publishes `n` copies of `body` to `subject` with at most `window` PubAcks outstanding (the
/// benches' async publisher); every PubAck is awaited before it returns.
pub async fn publish_windowed(
    js: &Context,
    subject: &'static str,
    body: bytes::Bytes,
    n: u64,
    window: usize,
) {
    let mut acks = std::collections::VecDeque::with_capacity(window);
    for _ in 0..n {
        let ack = js.publish(subject, body.clone()).await.expect("publish");
        acks.push_back(ack);
        if acks.len() >= window {
            acks.pop_front()
                .expect("an ack is outstanding")
                .await
                .expect("PubAck");
        }
    }
    for ack in acks {
        ack.await.expect("PubAck");
    }
}
