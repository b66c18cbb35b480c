//! Upload origins on the server (`core::stream::origins`): publishes shaped like a browser's
//! upload (`Nats-Msg-Id` and `Contrail-Origin-Seq: <origin>:<stream>:<seq>`,
//! `Contrail-Origin-Prev`), their PubAcks "lost", the server killed with -9, and the repeats
//! sent after the stream's duplicate window. Contrail answers every repeat as a duplicate (the
//! origin's high-water mark, rebuilt from the stored messages); nats-server, which has only the
//! duplicate window, stores them again, which is what the package's README documents. Also:
//! Contrail refuses a publish that would overtake a missing predecessor (10071).

mod interop_support;

use std::time::Duration;

use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::HeaderMap;
use interop_support::{bounded, kinds_with_214, Kind, Options, TestServer};

const WINDOW: Duration = Duration::from_secs(1);

fn stream() -> Config {
    Config {
        name: "UP".into(),
        subjects: vec!["up.>".into()],
        storage: StorageType::File,
        duplicate_window: WINDOW,
        ..Default::default()
    }
}

/// The headers of local message `seq` of origin `o1234567`'s stream `L`, sent after `prev`.
fn upload_headers(seq: u64, prev: Option<u64>) -> HeaderMap {
    let id = format!("o1234567:L:{seq}");
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id.as_str());
    headers.insert("Contrail-Origin-Seq", id.as_str());
    if let Some(prev) = prev {
        headers.insert("Contrail-Origin-Prev", prev.to_string().as_str());
    }
    headers
}

async fn publish(
    js: &async_nats::jetstream::Context,
    seq: u64,
    prev: Option<u64>,
) -> Result<async_nats::jetstream::publish::PublishAck, String> {
    let ack = js
        .publish_with_headers("up.x", upload_headers(seq, prev), format!("m{seq}").into())
        .await
        .map_err(|e| e.to_string())?;
    ack.await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn repeats_after_kill_9_and_the_duplicate_window() {
    for kind in kinds_with_214() {
        repeats_after_kill_9_and_the_window_on(kind).await;
    }
}

async fn repeats_after_kill_9_and_the_window_on(kind: Kind) {
    let mut server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let js = server.jetstream().await;
        js.create_stream(stream()).await.expect("create");
        for seq in 1..=10 {
            let prev = (seq > 1).then(|| seq - 1);
            let ack = publish(&js, seq, prev).await.expect("stored");
            assert_eq!((ack.sequence, ack.duplicate), (seq, false));
        }
    })
    .await;
    // The PubAcks of 6..10 were "lost"; the server dies and the device comes back after the
    // duplicate window (the outage is the scenario itself).
    server.stop(false);
    std::thread::sleep(WINDOW + Duration::from_millis(500));
    server.restart(true);
    bounded(async {
        let js = server.jetstream().await;
        // The uploader starts again after its cursor (5): no predecessor on the first publish.
        let mut duplicates = 0;
        for seq in 6..=12 {
            let prev = (seq > 6).then(|| seq - 1);
            let ack = publish(&js, seq, prev).await.expect("answered");
            duplicates += u64::from(ack.duplicate);
        }
        let info = js
            .get_stream("UP")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .state
            .clone();
        if server.kind == Kind::Contrail {
            assert_eq!(duplicates, 5, "6..10 were stored before");
            assert_eq!(info.messages, 12);
        } else {
            // Past the window nats-server cannot tell: 6..10 are stored twice.
            assert_eq!(duplicates, 0);
            assert_eq!(info.messages, 17);
        }
    })
    .await;
}

#[tokio::test]
async fn a_publish_that_would_overtake_a_missing_predecessor_is_refused_by_contrail() {
    for kind in kinds_with_214() {
        overtaking_on(kind).await;
    }
}

async fn overtaking_on(kind: Kind) {
    let server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let js = server.jetstream().await;
        js.create_stream(stream()).await.expect("create");
        publish(&js, 1, None).await.expect("stored");
        let overtaking = publish(&js, 3, Some(2)).await;
        if server.kind == Kind::Contrail {
            let err = overtaking.expect_err("refused");
            assert!(
                err.contains("10071") || err.contains("wrong last sequence"),
                "{err}"
            );
            publish(&js, 2, Some(1)).await.expect("in order");
            let ack = publish(&js, 3, Some(2)).await.expect("in order");
            assert_eq!(ack.sequence, 3);
        } else {
            // nats-server reads no such header: it stores whatever comes.
            assert_eq!(overtaking.expect("stored").sequence, 2);
        }
    })
    .await;
}

#[tokio::test]
async fn marks_outlive_the_messages_limits_removed_and_a_kill_9() {
    for kind in kinds_with_214() {
        marks_outlive_removed_messages_on(kind).await;
    }
}

async fn marks_outlive_removed_messages_on(kind: Kind) {
    let mut server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let js = server.jetstream().await;
        let config = Config {
            max_messages: 5,
            ..stream()
        };
        js.create_stream(config).await.expect("create");
        for seq in 1..=10 {
            let prev = (seq > 1).then(|| seq - 1);
            publish(&js, seq, prev).await.expect("stored");
        }
        // Five plain messages push every uploaded one out (max_messages: 5).
        for i in 0..5 {
            js.publish("up.plain", format!("p{i}").into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
        let mut up = js.get_stream("UP").await.expect("stream");
        let first = up.info().await.expect("info").state.first_sequence;
        assert_eq!(first, 11, "every uploaded message was removed");
    })
    .await;
    server.stop(false);
    std::thread::sleep(WINDOW + Duration::from_millis(500));
    server.restart(true);
    bounded(async {
        let js = server.jetstream().await;
        let mut duplicates = 0;
        for seq in 4..=10 {
            let prev = (seq > 4).then(|| seq - 1);
            let ack = publish(&js, seq, prev).await.expect("answered");
            duplicates += u64::from(ack.duplicate);
        }
        let last = js
            .get_stream("UP")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .state
            .last_sequence;
        if server.kind == Kind::Contrail {
            assert_eq!(
                (duplicates, last),
                (7, 15),
                "the marks were kept through the store"
            );
        } else {
            assert_eq!((duplicates, last), (0, 22));
        }
    })
    .await;
}
