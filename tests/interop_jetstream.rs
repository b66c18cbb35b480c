//! JetStream with an official client (async-nats) against the real server binary: publish and
//! PubAck, dedup, retention policies, pull and push consumers, ordered consumers, every kind of
//! ack, redelivery, purge, get and delete message, stream and consumer CRUD.
//! Run against nats-server too: `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_jetstream`.

mod interop_support;

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::consumer::{
    pull, push, AckPolicy, Consumer, DeliverPolicy, FromConsumer, IntoConsumerConfig,
};
use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType, Stream};
use async_nats::jetstream::{self, AckKind, Context};
use futures_util::{StreamExt, TryStreamExt};
use interop_support::{bounded, TestServer};

const WAIT: Duration = Duration::from_secs(5);

/// Runs a scenario, within the suite's time bound, against a fresh server of the kind under
/// test, through a JetStream context connected to it.
async fn on_fresh_server<F: Future<Output = ()>>(scenario: impl FnOnce(Context) -> F) {
    let server = TestServer::start();
    bounded(async { scenario(server.jetstream().await).await }).await;
}

fn memory_stream(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        storage: StorageType::Memory,
        ..Default::default()
    }
}

/// Creates the memory stream `name` on `subjects`, asserting the server took it.
async fn create_memory_stream(js: &Context, name: &str, subjects: &[&str]) -> Stream {
    js.create_stream(memory_stream(name, subjects))
        .await
        .expect("create")
}

async fn publish_n(js: &Context, subject: &str, n: usize) {
    for i in 0..n {
        js.publish(subject.to_string(), format!("m{i}").into())
            .await
            .expect("publish")
            .await
            .expect("puback");
    }
}

fn explicit(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

/// Creates the durable explicit-ack pull consumer `name` on `stream`.
async fn explicit_consumer(stream: &Stream, name: &str) -> Consumer<pull::Config> {
    stream
        .create_consumer(explicit(name))
        .await
        .expect("consumer")
}

/// A durable push consumer `name` delivering to `deliver_subject`.
fn durable_push(name: &str, deliver_subject: &str, ack_policy: AckPolicy) -> push::Config {
    push::Config {
        durable_name: Some(name.to_string()),
        deliver_subject: deliver_subject.to_string(),
        ack_policy,
        ..Default::default()
    }
}

async fn fetch(consumer: &Consumer<pull::Config>, n: usize) -> Vec<jetstream::Message> {
    consumer
        .fetch()
        .max_messages(n)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("fetched messages")
}

/// The next message a consumer's message stream yields, within [`WAIT`].
async fn next_within<T, E: std::fmt::Debug>(
    messages: &mut (impl futures_util::Stream<Item = Result<T, E>> + Unpin),
) -> T {
    tokio::time::timeout(WAIT, messages.next())
        .await
        .expect("within 5 s")
        .expect("open")
        .expect("message")
}

/// Asserts the next `n` messages are `m0` .. `m<n-1>` in that order: what [`publish_n`] stored.
async fn expect_published_in_order<E: std::fmt::Debug>(
    messages: &mut (impl futures_util::Stream<Item = Result<jetstream::Message, E>> + Unpin),
    n: usize,
) {
    for i in 0..n {
        assert_eq!(next_within(messages).await.payload, format!("m{i}"));
    }
}

/// Asserts an ordered consumer made from `config` reads 20 messages, published to
/// `<prefix>.1` in a fresh stream `name` on `<prefix>.>`, whole and in order. `open` opens the
/// consumer's messages (pull and push ordered consumers each have their own kind).
async fn assert_an_ordered_consumer_reads_all<C, M, E>(
    js: &Context,
    (name, prefix): (&str, &str),
    config: C,
    open: impl AsyncFnOnce(Consumer<C>) -> M,
) where
    C: IntoConsumerConfig + FromConsumer,
    M: futures_util::Stream<Item = Result<jetstream::Message, E>> + Unpin,
    E: std::fmt::Debug,
{
    let stream = create_memory_stream(js, name, &[&format!("{prefix}.>")]).await;
    publish_n(js, &format!("{prefix}.1"), 20).await;
    let consumer = stream
        .create_consumer(config)
        .await
        .expect("ordered consumer");
    expect_published_in_order(&mut open(consumer).await, 20).await;
}

#[tokio::test]
async fn publish_returns_a_puback_with_increasing_sequences() {
    on_fresh_server(|js| async move {
        create_memory_stream(&js, "ORDERS", &["orders.>"]).await;
        for expected in 1..=3 {
            let ack = js
                .publish("orders.eu", "x".into())
                .await
                .expect("publish")
                .await
                .expect("puback");
            assert_eq!(ack.stream, "ORDERS");
            assert_eq!(ack.sequence, expected);
            assert!(!ack.duplicate);
        }
    })
    .await;
}

/// A connection that keeps publishing to one subject sees each stream that another connection
/// makes or removes on it at its next publish (a server may remember, per connection, where
/// the last subject went).
#[tokio::test]
async fn a_stream_made_or_removed_under_a_busy_subject_is_seen_by_the_next_publish() {
    let server = TestServer::start();
    bounded(async {
        let js = server.jetstream().await;
        let admin = server.jetstream().await;
        let publish = || async {
            js.publish("late.x", "x".into())
                .await
                .expect("publish")
                .await
        };
        for _ in 0..3 {
            assert!(publish().await.is_err(), "no stream: no PubAck");
        }
        let mut stream = create_memory_stream(&admin, "LATE", &["late.>"]).await;
        for expected in 1..=2 {
            let ack = publish().await.expect("a PubAck once the stream exists");
            assert_eq!((ack.stream.as_str(), ack.sequence), ("LATE", expected));
        }
        assert_eq!(stream.info().await.expect("info").state.messages, 2);
        admin.delete_stream("LATE").await.expect("delete");
        assert!(publish().await.is_err(), "the stream is gone: no PubAck");
    })
    .await;
}

#[tokio::test]
async fn a_repeated_msg_id_is_acknowledged_as_duplicate_and_stored_once() {
    on_fresh_server(|js| async move {
        let mut stream = create_memory_stream(&js, "D", &["d.>"]).await;
        let publish = || {
            js.send_publish(
                "d.1",
                jetstream::message::PublishMessage::build()
                    .message_id("order-42")
                    .payload("x".into()),
            )
        };
        let first = publish().await.expect("publish").await.expect("puback");
        let second = publish().await.expect("publish").await.expect("puback");
        assert_eq!((first.sequence, first.duplicate), (1, false));
        assert_eq!((second.sequence, second.duplicate), (1, true));
        assert_eq!(stream.info().await.expect("info").state.messages, 1);
    })
    .await;
}

#[tokio::test]
async fn expected_last_sequence_mismatch_is_refused() {
    on_fresh_server(|js| async move {
        create_memory_stream(&js, "E", &["e.>"]).await;
        publish_n(&js, "e.1", 2).await;
        let wrong = js
            .send_publish(
                "e.1",
                jetstream::message::PublishMessage::build()
                    .expected_last_sequence(1)
                    .payload("x".into()),
            )
            .await
            .expect("publish")
            .await;
        let err = wrong.expect_err("wrong last sequence");
        assert!(err.to_string().contains("wrong last sequence"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn streams_can_be_created_listed_updated_and_deleted() {
    on_fresh_server(|js| async move {
        create_memory_stream(&js, "A", &["a.>"]).await;
        create_memory_stream(&js, "B", &["b.>"]).await;
        let overlap = js.create_stream(memory_stream("C", &["a.x"])).await;
        assert!(overlap.is_err(), "overlapping subjects must be refused");

        let mut names: Vec<String> = js.stream_names().try_collect().await.expect("names");
        names.sort();
        assert_eq!(names, ["A", "B"]);

        let mut updated = memory_stream("A", &["a.>", "aa.>"]);
        updated.max_messages = 10;
        let info = js.update_stream(updated).await.expect("update");
        assert_eq!(info.config.max_messages, 10);
        assert_eq!(info.config.subjects, ["a.>", "aa.>"]);

        assert!(js.delete_stream("B").await.expect("delete").success);
        let missing = js.get_stream("B").await.expect_err("deleted");
        assert!(missing.to_string().contains("not found"), "{missing}");
    })
    .await;
}

#[tokio::test]
async fn limits_retention_keeps_only_the_newest_max_msgs() {
    on_fresh_server(|js| async move {
        let mut config = memory_stream("L", &["l.>"]);
        config.max_messages = 3;
        let mut stream = js.create_stream(config).await.expect("create");
        publish_n(&js, "l.1", 5).await;
        let state = stream.info().await.expect("info").state.clone();
        assert_eq!(
            (state.messages, state.first_sequence, state.last_sequence),
            (3, 3, 5)
        );
    })
    .await;
}

#[tokio::test]
async fn work_queue_retention_removes_acked_messages() {
    on_fresh_server(|js| async move {
        let mut config = memory_stream("WQ", &["wq.>"]);
        config.retention = RetentionPolicy::WorkQueue;
        let mut stream = js.create_stream(config).await.expect("create");
        publish_n(&js, "wq.job", 3).await;
        let consumer = explicit_consumer(&stream, "worker").await;
        let second = stream.create_consumer(explicit("other")).await;
        assert!(second.is_err(), "work queue allows one unfiltered consumer");
        for msg in fetch(&consumer, 2).await {
            msg.double_ack().await.expect("ack");
        }
        let state = stream.info().await.expect("info").state.clone();
        assert_eq!((state.messages, state.first_sequence), (1, 3));
    })
    .await;
}

#[tokio::test]
async fn interest_retention_keeps_messages_until_every_consumer_acked() {
    on_fresh_server(|js| async move {
        let mut config = memory_stream("I", &["i.>"]);
        config.retention = RetentionPolicy::Interest;
        let mut stream = js.create_stream(config).await.expect("create");
        publish_n(&js, "i.1", 1).await;
        assert_eq!(
            stream.info().await.expect("info").state.messages,
            0,
            "no interest yet"
        );

        let a = stream.create_consumer(explicit("a")).await.expect("a");
        let b = stream.create_consumer(explicit("b")).await.expect("b");
        publish_n(&js, "i.1", 2).await;
        assert_eq!(stream.info().await.expect("info").state.messages, 2);
        for msg in fetch(&a, 2).await {
            msg.double_ack().await.expect("ack");
        }
        assert_eq!(
            stream.info().await.expect("info").state.messages,
            2,
            "b still needs them"
        );
        for msg in fetch(&b, 2).await {
            msg.double_ack().await.expect("ack");
        }
        assert_eq!(stream.info().await.expect("info").state.messages, 0);
    })
    .await;
}

#[tokio::test]
async fn pull_fetch_returns_what_is_there_and_a_waiting_pull_gets_later_messages() {
    on_fresh_server(|js| async move {
        let stream = create_memory_stream(&js, "P", &["p.>"]).await;
        publish_n(&js, "p.1", 3).await;
        let consumer = explicit_consumer(&stream, "c").await;
        let got = fetch(&consumer, 10).await;
        let payloads: Vec<_> = got.iter().map(|m| m.payload.clone()).collect();
        assert_eq!(payloads, ["m0", "m1", "m2"]);
        for msg in &got {
            msg.ack().await.expect("ack");
        }

        // A pull that waits: the message published after the request still reaches it.
        let mut batch = consumer
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(3))
            .messages()
            .await
            .expect("batch");
        tokio::time::sleep(Duration::from_millis(100)).await;
        publish_n(&js, "p.2", 1).await;
        let msg = next_within(&mut batch).await;
        assert_eq!(msg.subject.as_str(), "p.2");
        let info = msg.info().expect("ack metadata");
        assert_eq!((info.stream_sequence, info.consumer_sequence), (4, 4));
    })
    .await;
}

#[tokio::test]
async fn consume_streams_messages_across_many_pulls() {
    on_fresh_server(|js| async move {
        let stream = create_memory_stream(&js, "CS", &["cs.>"]).await;
        publish_n(&js, "cs.1", 50).await;
        let consumer = explicit_consumer(&stream, "c").await;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(7)
            .messages()
            .await
            .expect("consume");
        for i in 0..50 {
            let msg = next_within(&mut messages).await;
            assert_eq!(msg.payload, format!("m{i}"));
            msg.ack().await.expect("ack");
        }
    })
    .await;
}

#[tokio::test]
async fn a_push_consumer_delivers_to_its_subject() {
    on_fresh_server(|js| async move {
        let stream = create_memory_stream(&js, "PU", &["pu.>"]).await;
        publish_n(&js, "pu.1", 3).await;
        let consumer = stream
            .create_consumer(durable_push("push", "deliver.push", AckPolicy::Explicit))
            .await
            .expect("consumer");
        let mut messages = consumer.messages().await.expect("messages");
        for i in 0..3 {
            let msg = next_within(&mut messages).await;
            assert_eq!(msg.payload, format!("m{i}"));
            msg.ack().await.expect("ack");
        }
        publish_n(&js, "pu.1", 1).await;
        let late = next_within(&mut messages).await;
        assert_eq!(late.payload, "m0");
    })
    .await;
}

#[tokio::test]
async fn an_ordered_consumer_reads_the_whole_stream_in_order() {
    on_fresh_server(|js| async move {
        let config = pull::OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        };
        let open = async |consumer: Consumer<pull::OrderedConfig>| {
            consumer.messages().await.expect("messages")
        };
        assert_an_ordered_consumer_reads_all(&js, ("O", "o"), config, open).await;
    })
    .await;
}

#[tokio::test]
async fn an_ordered_push_consumer_reads_the_whole_stream_in_order() {
    on_fresh_server(|js| async move {
        let config = push::OrderedConfig {
            deliver_subject: "deliver.ordered".into(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        };
        let open = async |consumer: Consumer<push::OrderedConfig>| {
            consumer.messages().await.expect("messages")
        };
        assert_an_ordered_consumer_reads_all(&js, ("OP", "op"), config, open).await;
    })
    .await;
}

#[tokio::test]
async fn nak_redelivers_term_does_not_and_progress_is_accepted() {
    on_fresh_server(|js| async move {
        let stream = create_memory_stream(&js, "N", &["n.>"]).await;
        publish_n(&js, "n.1", 2).await;
        let mut consumer = explicit_consumer(&stream, "c").await;
        let first = fetch(&consumer, 2).await;
        assert_eq!(first.len(), 2);
        first[0]
            .ack_with(AckKind::Progress)
            .await
            .expect("progress");
        first[0].ack_with(AckKind::Nak(None)).await.expect("nak");
        first[1].ack_with(AckKind::Term).await.expect("term");

        let again = fetch(&consumer, 2).await;
        assert_eq!(again.len(), 1, "only the nak'd message comes back");
        assert_eq!(again[0].payload, "m0");
        let info = again[0].info().expect("metadata");
        assert_eq!(info.delivered, 2);
        again[0].double_ack().await.expect("ack");
        let ci = consumer.info().await.expect("info");
        assert_eq!(ci.num_ack_pending, 0);
        assert_eq!(ci.ack_floor.stream_sequence, 2);
    })
    .await;
}

#[tokio::test]
async fn an_unacked_message_is_redelivered_after_ack_wait() {
    on_fresh_server(|js| async move {
        let stream = create_memory_stream(&js, "R", &["r.>"]).await;
        publish_n(&js, "r.1", 1).await;
        let consumer = stream
            .create_consumer(pull::Config {
                ack_wait: Duration::from_secs(1),
                ..explicit("c")
            })
            .await
            .expect("consumer");
        assert_eq!(fetch(&consumer, 1).await.len(), 1);
        let started = std::time::Instant::now();
        let again = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(3))
            .messages()
            .await
            .expect("fetch")
            .next()
            .await
            .expect("redelivered")
            .expect("message");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(again.info().expect("metadata").delivered, 2);
    })
    .await;
}

#[tokio::test]
async fn purge_removes_all_by_subject_or_keeps_the_newest() {
    on_fresh_server(|js| async move {
        let mut stream = create_memory_stream(&js, "PG", &["pg.>"]).await;
        publish_n(&js, "pg.a", 3).await;
        publish_n(&js, "pg.b", 3).await;
        let purged = stream.purge().filter("pg.a").await.expect("purge filter");
        assert_eq!(purged.purged, 3);
        let purged = stream.purge().keep(1).await.expect("purge keep");
        assert_eq!(purged.purged, 2);
        let state = stream.info().await.expect("info").state.clone();
        assert_eq!((state.messages, state.last_sequence), (1, 6));
        let purged = stream.purge().await.expect("purge all");
        assert_eq!(purged.purged, 1);
        assert_eq!(stream.info().await.expect("info").state.messages, 0);
    })
    .await;
}

#[tokio::test]
async fn messages_can_be_read_by_sequence_and_by_last_subject_and_deleted() {
    on_fresh_server(|js| async move {
        let mut config = memory_stream("G", &["g.>"]);
        config.allow_direct = true;
        let mut stream = js.create_stream(config).await.expect("create");
        publish_n(&js, "g.a", 2).await;
        publish_n(&js, "g.b", 1).await;
        let second = stream.get_raw_message(2).await.expect("get 2");
        assert_eq!(
            (second.subject.as_str(), second.payload.as_ref()),
            ("g.a", &b"m1"[..])
        );
        let last_a = stream
            .get_last_raw_message_by_subject("g.a")
            .await
            .expect("last g.a");
        assert_eq!(last_a.sequence, 2);
        let direct = stream.direct_get(3).await.expect("direct get");
        assert_eq!(direct.subject.as_str(), "g.b");

        assert!(stream.delete_message(2).await.expect("delete"));
        let gone = stream.get_raw_message(2).await;
        assert!(gone.is_err(), "deleted message must be gone");
        let state = stream.info().await.expect("info").state.clone();
        assert_eq!(
            (state.messages, state.first_sequence, state.last_sequence),
            (2, 1, 3)
        );
    })
    .await;
}

#[tokio::test]
async fn consumers_can_be_created_listed_inspected_and_deleted() {
    on_fresh_server(|js| async move {
        let stream = create_memory_stream(&js, "CC", &["cc.>"]).await;
        publish_n(&js, "cc.1", 4).await;
        stream.create_consumer(explicit("one")).await.expect("one");
        let mut two = stream
            .create_consumer(pull::Config {
                filter_subject: "cc.1".into(),
                ..explicit("two")
            })
            .await
            .expect("two");
        let mut names: Vec<String> = stream.consumer_names().try_collect().await.expect("names");
        names.sort();
        assert_eq!(names, ["one", "two"]);

        let info = two.info().await.expect("info");
        assert_eq!(info.num_pending, 4);
        assert_eq!(info.config.filter_subject, "cc.1");
        let got = fetch(&two, 1).await;
        got[0].double_ack().await.expect("ack");
        let info = two.info().await.expect("info");
        assert_eq!((info.num_pending, info.delivered.stream_sequence), (3, 1));

        assert!(stream.delete_consumer("one").await.expect("delete").success);
        let missing = stream.consumer_info("one").await;
        assert!(missing.is_err(), "deleted consumer must be gone");
    })
    .await;
}

#[tokio::test]
async fn unknown_stream_requests_get_jetstream_errors() {
    on_fresh_server(|js| async move {
        let err = js.get_stream("NOPE").await.expect_err("missing stream");
        assert!(err.to_string().contains("stream not found"), "{err}");
        // Raw account info (async-nats' typed reply wants fields newer servers add).
        let reply = js
            .client()
            .request("$JS.API.INFO", "".into())
            .await
            .expect("account info");
        let info: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json");
        assert_eq!(
            info["type"],
            "io.nats.jetstream.api.v1.account_info_response"
        );
        assert_eq!(info["streams"], 0);
    })
    .await;
}

#[tokio::test]
async fn a_push_consumer_with_flow_control_and_heartbeats_delivers_everything() {
    on_fresh_server(|js| async move {
        let stream = create_memory_stream(&js, "FC", &["fc.>"]).await;
        let body = bytes::Bytes::from(vec![b'x'; 1024]);
        for _ in 0..300 {
            js.publish("fc.1", body.clone())
                .await
                .expect("pub")
                .await
                .expect("ack");
        }
        let consumer = stream
            .create_consumer(push::Config {
                flow_control: true,
                idle_heartbeat: Duration::from_secs(1),
                ..durable_push("fc", "deliver.fc", AckPolicy::None)
            })
            .await
            .expect("consumer");
        let mut messages = consumer.messages().await.expect("messages");
        for _ in 0..300 {
            assert_eq!(next_within(&mut messages).await.payload.len(), 1024);
        }
    })
    .await;
}

#[tokio::test]
async fn a_push_consumer_with_a_deliver_group_reaches_each_message_once() {
    let server = TestServer::start();
    bounded(async {
        let js = server.jetstream().await;
        let stream = create_memory_stream(&js, "DG", &["dg.>"]).await;
        let client = server.client().await;
        let mut a = client
            .queue_subscribe("deliver.dg", "g".into())
            .await
            .expect("sub a");
        let mut b = client
            .queue_subscribe("deliver.dg", "g".into())
            .await
            .expect("sub b");
        interop_support::round_trip(&client).await;
        stream
            .create_consumer(push::Config {
                deliver_group: Some("g".into()),
                ..durable_push("dg", "deliver.dg", AckPolicy::None)
            })
            .await
            .expect("consumer");
        publish_n(&js, "dg.1", 10).await;
        let mut got = Vec::new();
        for _ in 0..20 {
            tokio::select! {
                Some(m) = a.next() => got.push(m.payload),
                Some(m) = b.next() => got.push(m.payload),
                _ = tokio::time::sleep(Duration::from_millis(500)) => break,
            }
        }
        got.sort();
        let mut want: Vec<bytes::Bytes> = (0..10).map(|i| format!("m{i}").into()).collect();
        want.sort();
        assert_eq!(got, want, "each message once across the group");
    })
    .await;
}
