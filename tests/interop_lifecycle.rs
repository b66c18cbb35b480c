//! The server process's life: SIGTERM stops it cleanly (exit 0), and file streams, their
//! messages and their consumers' positions survive a restart, graceful or not.

mod interop_support;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::stream::{Config, StorageType};
use futures_util::TryStreamExt;
use interop_support::{bounded, Kind, TestServer};

fn file_stream() -> Config {
    Config {
        name: "KEEP".into(),
        subjects: vec!["keep.>".into()],
        storage: StorageType::File,
        max_messages: 1000,
        ..Default::default()
    }
}

#[tokio::test]
async fn sigterm_stops_the_server_with_exit_code_zero() {
    let mut server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        client.publish("x", "y".into()).await.expect("pub");
        client.flush().await.expect("flush");
    })
    .await;
    let status = server.stop(true).expect("server was running");
    match server.kind {
        Kind::Contrail => assert!(status.success(), "exit status {status:?}"),
        // nats-server 2.9 exits by itself on SIGTERM, with code 1; only a clean exit is asked.
        Kind::NatsServer | Kind::NatsServer214 => {
            assert!(status.code().is_some(), "killed: {status:?}")
        }
    }
}

async fn publish_and_ack_two(server: &TestServer) {
    let js = server.jetstream().await;
    let stream = js.create_stream(file_stream()).await.expect("create");
    for i in 0..5 {
        js.publish(format!("keep.{i}"), format!("m{i}").into())
            .await
            .expect("pub")
            .await
            .expect("ack");
    }
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("reader".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let got: Vec<_> = consumer
        .fetch()
        .max_messages(2)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("messages");
    for msg in got {
        msg.double_ack().await.expect("ack");
    }
}

/// `acks_must_survive`: whether confirmed acks must survive a crash. Contrail promises it;
/// nats-server does not (with no pause after the last ack, its ack floor comes back behind).
async fn check_survivors(server: &TestServer, acks_must_survive: bool) {
    let js = server.jetstream().await;
    let mut stream = js.get_stream("KEEP").await.expect("stream survived");
    let info = stream.info().await.expect("info");
    assert_eq!(info.config.max_messages, 1000, "config survived");
    assert_eq!(info.config.subjects, ["keep.>"]);
    assert_eq!(info.state.messages, 5, "messages survived");
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .get_consumer("reader")
        .await
        .expect("consumer survived");
    let ci = consumer.info().await.expect("consumer info");
    if !acks_must_survive {
        return;
    }
    assert_eq!(ci.ack_floor.stream_sequence, 2, "acks survived");
    let next: Vec<_> = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("messages");
    assert_eq!(
        next[0].payload, "m2",
        "delivery resumes after the acked messages"
    );
}

#[tokio::test]
async fn file_streams_survive_a_graceful_restart() {
    let mut server = TestServer::start();
    bounded(publish_and_ack_two(&server)).await;
    server.restart(true);
    bounded(check_survivors(&server, true)).await;
}

#[tokio::test]
async fn acknowledged_publishes_and_acks_survive_kill_9() {
    let mut server = TestServer::start();
    bounded(publish_and_ack_two(&server)).await;
    server.restart(false);
    let strict = server.kind == Kind::Contrail;
    bounded(check_survivors(&server, strict)).await;
}
