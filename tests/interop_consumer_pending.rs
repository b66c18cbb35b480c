//! A consumer at `max_ack_pending` whose delivered, unacknowledged messages the stream removes
//! (purge, purge of a subject, delete, `max_msgs`, `max_age`): the removed messages leave the
//! pending set at once (`num_ack_pending` 0, ack floor past them), the next message is delivered
//! without waiting for the 30 s ack wait, and nothing removed is redelivered. Checked with
//! async-nats against contrail and nats-server (Debian's, and 2.14 when
//! `CONTRAIL_NATS_SERVER_214` names it):
//! `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_consumer_pending`.

mod interop_support;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, Consumer};
use async_nats::jetstream::stream::{Config, StorageType, Stream};
use async_nats::jetstream::{self, Context};
use futures_util::StreamExt;
use interop_support::{bounded, kinds_with_214, Kind, Options, TestServer};

/// Far longer than any wait below: a message that arrives within [`WAIT`] did not wait for it.
const ACK_WAIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

/// How the test removes the two pending messages.
#[derive(Debug, Clone, Copy)]
enum Removal {
    Purge,
    PurgeSubject,
    Delete,
    MaxAge,
}

async fn publish(js: &Context, subject: &str) -> u64 {
    js.publish(subject.to_string(), "x".into())
        .await
        .expect("publish")
        .await
        .expect("puback")
        .sequence
}

/// Stream `P` on `p.>` (adjusted by `f`) and pull consumer `C` with `max_ack_pending: 2`.
async fn setup(js: &Context, f: impl FnOnce(&mut Config)) -> (Stream, Consumer<pull::Config>) {
    let mut cfg = Config {
        name: "P".to_string(),
        subjects: vec!["p.>".to_string()],
        storage: StorageType::Memory,
        ..Default::default()
    };
    f(&mut cfg);
    let stream = js.create_stream(cfg).await.expect("create stream");
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("C".to_string()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: 2,
            ..Default::default()
        })
        .await
        .expect("create consumer");
    (stream, consumer)
}

/// The next delivery's stream sequence and delivery count, left unacknowledged.
async fn next(messages: &mut jetstream::consumer::pull::Stream) -> (u64, i64) {
    let msg = tokio::time::timeout(WAIT, messages.next())
        .await
        .expect("a message arrives well before the ack wait")
        .expect("stream open")
        .expect("message");
    let info = msg.info().expect("JetStream message");
    (info.stream_sequence, info.delivered)
}

/// Consumer info once `done` holds (nats-server terminates removed pending messages
/// asynchronously, so its info may lag the removal's reply by a moment); bounded.
async fn info_when(
    consumer: &Consumer<pull::Config>,
    done: impl Fn(&jetstream::consumer::Info) -> bool,
) -> jetstream::consumer::Info {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let info = consumer.get_info().await.expect("consumer info");
        if done(&info) || tokio::time::Instant::now() >= deadline {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn removed_pending_messages_free_the_consumer(kind: Kind, removal: Removal) {
    let server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let js = server.jetstream().await;
        let (stream, consumer) = setup(&js, |c| {
            if let Removal::MaxAge = removal {
                c.max_age = Duration::from_secs(1);
            }
        })
        .await;
        let subjects = match removal {
            Removal::PurgeSubject => ["p.gone", "p.gone"],
            _ => ["p.a", "p.b"],
        };
        for subject in subjects {
            publish(&js, subject).await;
        }
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(10)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .expect("consume");
        assert_eq!(next(&mut messages).await, (1, 1));
        assert_eq!(next(&mut messages).await, (2, 1));
        let pending = info_when(&consumer, |i| i.num_ack_pending == 2).await;
        assert_eq!(pending.num_ack_pending, 2, "{kind:?} {removal:?}");

        match removal {
            Removal::Purge => {
                stream.purge().await.expect("purge");
            }
            Removal::PurgeSubject => {
                stream.purge().filter("p.gone").await.expect("purge");
            }
            Removal::Delete => {
                for seq in [1, 2] {
                    assert!(stream.delete_message(seq).await.expect("delete"));
                }
            }
            Removal::MaxAge => {
                // Wait (bounded) for the server's age-based expiry to remove both.
                let deadline = tokio::time::Instant::now() + WAIT;
                while stream.get_info().await.expect("info").state.messages > 0 {
                    assert!(tokio::time::Instant::now() < deadline, "never expired");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }

        let info = info_when(&consumer, |i| i.num_ack_pending == 0).await;
        assert_eq!(info.num_ack_pending, 0, "{kind:?} {removal:?}: {info:?}");
        assert_eq!(info.num_pending, 0, "{kind:?} {removal:?}");
        assert_eq!(
            (
                info.ack_floor.consumer_sequence,
                info.ack_floor.stream_sequence
            ),
            (2, 2),
            "{kind:?} {removal:?}"
        );

        // The next message comes at once, and no removed message is redelivered.
        assert_eq!(publish(&js, "p.c").await, 3);
        assert_eq!(next(&mut messages).await, (3, 1), "{kind:?} {removal:?}");
        let info = info_when(&consumer, |i| i.num_ack_pending == 1).await;
        assert_eq!(info.num_ack_pending, 1, "{kind:?} {removal:?}");
        assert_eq!(info.delivered.consumer_sequence, 3, "{kind:?} {removal:?}");
        assert_eq!(info.num_redelivered, 0, "{kind:?} {removal:?}");
    })
    .await;
}

#[tokio::test]
async fn a_purge_frees_pending_messages() {
    for kind in kinds_with_214() {
        removed_pending_messages_free_the_consumer(kind, Removal::Purge).await;
    }
}

#[tokio::test]
async fn a_purge_of_their_subject_frees_pending_messages() {
    for kind in kinds_with_214() {
        removed_pending_messages_free_the_consumer(kind, Removal::PurgeSubject).await;
    }
}

#[tokio::test]
async fn deleting_pending_messages_frees_them() {
    for kind in kinds_with_214() {
        removed_pending_messages_free_the_consumer(kind, Removal::Delete).await;
    }
}

#[tokio::test]
async fn max_age_expiry_frees_pending_messages() {
    for kind in kinds_with_214() {
        removed_pending_messages_free_the_consumer(kind, Removal::MaxAge).await;
    }
}

/// `max_msgs: 2`: each new message evicts the oldest pending one and takes its slot at once.
#[tokio::test]
async fn max_msgs_eviction_frees_pending_messages_one_by_one() {
    for kind in kinds_with_214() {
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let js = server.jetstream().await;
            let (_stream, consumer) = setup(&js, |c| c.max_messages = 2).await;
            publish(&js, "p.a").await;
            publish(&js, "p.b").await;
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(10)
                .expires(Duration::from_secs(5))
                .messages()
                .await
                .expect("consume");
            assert_eq!(next(&mut messages).await, (1, 1));
            assert_eq!(next(&mut messages).await, (2, 1));
            publish(&js, "p.c").await;
            assert_eq!(next(&mut messages).await, (3, 1), "{kind:?}");
            publish(&js, "p.d").await;
            assert_eq!(next(&mut messages).await, (4, 1), "{kind:?}");
            let info = info_when(&consumer, |i| i.ack_floor.stream_sequence == 2).await;
            assert_eq!(info.num_ack_pending, 2, "{kind:?}");
            assert_eq!(
                (
                    info.ack_floor.consumer_sequence,
                    info.ack_floor.stream_sequence
                ),
                (2, 2),
                "{kind:?}"
            );
        })
        .await;
    }
}
