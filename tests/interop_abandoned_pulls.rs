//! A pull request whose client stopped listening on its reply subject is abandoned: the server
//! drops it (nats-server's `nextWaiting` and `processWaiting` check the reply subject's
//! interest), so consumer info's `num_waiting` does not count it and the next message goes to
//! a live puller instead of sitting unacknowledged for the ack wait. Checked with async-nats
//! against contrail and nats-server (Debian's, and 2.14 when `CONTRAIL_NATS_SERVER_214` names
//! it): `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_abandoned_pulls`.

mod interop_support;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, Consumer};
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::jetstream::{self, Context};
use futures_util::StreamExt;
use interop_support::{bounded, kinds_with_214, round_trip, Kind, Options, TestServer};

/// Far longer than any wait below: a message the abandoned request took would reach the live
/// puller only after it, well past the live pull's expiry.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// How long a wait for the server may take.
const WAIT: Duration = Duration::from_secs(10);
/// The live puller's request expiry (short, but well above a delivery's time).
const LIVE_EXPIRES: Duration = Duration::from_secs(8);
/// The pull request subject of consumer `C` of stream `S`.
const NEXT: &str = "$JS.API.CONSUMER.MSG.NEXT.S.C";

/// Stream `S` on `s.>` and pull consumer `C`.
async fn setup(js: &Context) -> Consumer<pull::Config> {
    let stream = js
        .create_stream(Config {
            name: "S".to_string(),
            subjects: vec!["s.>".to_string()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .expect("create stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("C".to_string()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            ..Default::default()
        })
        .await
        .expect("create consumer")
}

/// Consumer info once `done` holds; panics after [`WAIT`] with what it last saw.
async fn info_when(
    consumer: &mut Consumer<pull::Config>,
    what: &str,
    done: impl Fn(&jetstream::consumer::Info) -> bool,
) -> jetstream::consumer::Info {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let info = consumer.info().await.expect("consumer info").clone();
        if done(&info) {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {what}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Client A's pull (batch 1, expires 30 s) on an inbox it then unsubscribes from; returns once
/// the server has the request and has processed the unsubscribe.
async fn abandoned_pull(server: &TestServer, consumer: &mut Consumer<pull::Config>) {
    let a = server.client().await;
    let inbox = a.new_inbox();
    let mut sub = a.subscribe(inbox.clone()).await.expect("subscribe");
    a.publish_with_reply(NEXT, inbox, r#"{"batch":1,"expires":30000000000}"#.into())
        .await
        .expect("pull");
    a.flush().await.expect("flush");
    info_when(consumer, "A's request waiting", |i| i.num_waiting == 1).await;
    sub.unsubscribe().await.expect("unsubscribe");
    // The server has processed the unsubscribe once a later request of A's is answered.
    round_trip(&a).await;
}

/// Client B's pull: batch 1, short expiry.
async fn live_pull(consumer: &Consumer<pull::Config>) -> pull::Batch {
    consumer
        .fetch()
        .max_messages(1)
        .expires(LIVE_EXPIRES)
        .messages()
        .await
        .expect("pull")
}

/// Publishes `one` on `s.one` and returns it as B's pull receives it, before the pull expires.
async fn publish_and_receive(
    js: &Context,
    batch: &mut pull::Batch,
    kind: Kind,
) -> jetstream::Message {
    js.publish("s.one", "one".into())
        .await
        .expect("publish")
        .await
        .expect("PubAck");
    let msg = tokio::time::timeout(WAIT, batch.next())
        .await
        .expect("the pull ends within its bound")
        .unwrap_or_else(|| panic!("{kind:?}: the live pull ended without the message"))
        .expect("a message");
    assert_eq!(&msg.payload[..], b"one", "{kind:?}");
    msg
}

async fn abandoned_request_is_not_counted_and_the_message_goes_to_the_live_one(kind: Kind) {
    let server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let js = server.jetstream().await;
        let mut consumer = setup(&js).await;
        abandoned_pull(&server, &mut consumer).await;
        info_when(&mut consumer, "A's abandoned request dropped", |i| {
            i.num_waiting == 0
        })
        .await;

        let mut batch = live_pull(&consumer).await;
        let info = info_when(&mut consumer, "B's request waiting", |i| i.num_waiting > 0).await;
        assert_eq!(info.num_waiting, 1, "{kind:?}: only B's request: {info:?}");

        let msg = publish_and_receive(&js, &mut batch, kind).await;
        let info = info_when(&mut consumer, "B served", |i| i.num_ack_pending == 1).await;
        assert_eq!(info.num_waiting, 0, "{kind:?}: nothing waits: {info:?}");
        assert_eq!(info.delivered.stream_sequence, 1, "{kind:?}: {info:?}");
        msg.ack().await.expect("ack");
    })
    .await;
}

/// Nothing looks at consumer info between A leaving and the message: the server itself must
/// pass over A's request when choosing where the message goes.
async fn the_message_skips_the_abandoned_request(kind: Kind) {
    let server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let js = server.jetstream().await;
        let mut consumer = setup(&js).await;
        abandoned_pull(&server, &mut consumer).await;
        let mut batch = live_pull(&consumer).await;
        let msg = publish_and_receive(&js, &mut batch, kind).await;
        assert_eq!(
            msg.info().expect("info").delivered,
            1,
            "{kind:?}: first try"
        );
        let info = info_when(&mut consumer, "B served", |i| i.num_ack_pending == 1).await;
        assert_eq!(
            info.num_waiting, 0,
            "{kind:?}: A's request is gone: {info:?}"
        );
        msg.ack().await.expect("ack");
    })
    .await;
}

#[tokio::test]
async fn an_abandoned_pull_is_not_counted_and_a_live_pull_gets_the_message() {
    for kind in kinds_with_214() {
        abandoned_request_is_not_counted_and_the_message_goes_to_the_live_one(kind).await;
    }
}

#[tokio::test]
async fn a_message_passes_over_an_abandoned_pull() {
    for kind in kinds_with_214() {
        the_message_skips_the_abandoned_request(kind).await;
    }
}
