//! JetStream advisories as nats-server publishes them: a client subscribed to
//! `$JS.EVENT.ADVISORY.>` hears a stream created, updated and deleted, a consumer created and
//! deleted, a message terminated (`+TERM`) and a message that reached `max_deliver`, each on
//! nats-server's subject with its JSON (`type`, `id`, `timestamp`, the stream, consumer, action
//! or sequences). Checked with async-nats against contrail and nats-server (Debian's, and 2.14
//! when `CONTRAIL_NATS_SERVER_214` names it):
//! `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_advisories`.

mod interop_support;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::{Client, Subscriber};
use futures_util::StreamExt;
use interop_support::{bounded, kinds_with_214, Kind, Options, TestServer};
use serde_json::Value;

/// Far longer than an advisory takes to arrive.
const WAIT: Duration = Duration::from_secs(10);
/// The consumer's ack wait: short, so a message reaches `max_deliver` within the test.
const ACK_WAIT: Duration = Duration::from_millis(500);

/// The next advisory on `sub` other than API audits (nats-server sends one per API request),
/// as (subject, JSON).
async fn next_advisory(sub: &mut Subscriber) -> (String, Value) {
    loop {
        let msg = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("an advisory arrives")
            .expect("subscription open");
        if msg.subject.as_str().starts_with("$JS.EVENT.ADVISORY.API") {
            continue;
        }
        let json: Value = serde_json::from_slice(&msg.payload).expect("advisory is JSON");
        return (msg.subject.to_string(), json);
    }
}

/// Checks the fields every advisory has: its `type`, a non-empty `id` and a `timestamp` in
/// RFC 3339 within a minute of now.
fn check_typed(json: &Value, kind: &str) {
    assert_eq!(
        json["type"],
        format!("io.nats.jetstream.advisory.v1.{kind}"),
        "{json}"
    );
    assert!(
        json["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{json}"
    );
    let stamp = json["timestamp"].as_str().expect("timestamp");
    let at = contrail::core::time::parse_rfc3339(stamp).expect("RFC 3339 timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64;
    assert!((now - at).abs() < 60_000_000_000, "{stamp} is not now");
}

/// Sends a pull request for one message of consumer `C` (waiting up to `expires`) and returns
/// the subscription its answer comes on.
async fn pull_one(client: &Client, expires: Duration) -> Subscriber {
    let inbox = client.new_inbox();
    let replies = client.subscribe(inbox.clone()).await.expect("subscribe");
    let body = format!(r#"{{"batch":1,"expires":{}}}"#, expires.as_nanos());
    client
        .publish_with_reply("$JS.API.CONSUMER.MSG.NEXT.ADV.C", inbox, body.into())
        .await
        .expect("pull");
    client.flush().await.expect("flush");
    replies
}

/// The ack subject of the next message delivered on `replies` (statuses are skipped).
async fn delivered(replies: &mut Subscriber) -> String {
    loop {
        let msg = tokio::time::timeout(WAIT, replies.next())
            .await
            .expect("a message is delivered")
            .expect("subscription open");
        if let Some(reply) = msg.reply {
            return reply.to_string();
        }
    }
}

async fn advisories_tell_what_changed(kind: Kind) {
    let server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let client = server.client().await;
        let js = async_nats::jetstream::new(client.clone());
        let mut sub = client
            .subscribe("$JS.EVENT.ADVISORY.>")
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");

        let mut config = Config {
            name: "ADV".to_string(),
            subjects: vec!["adv.>".to_string()],
            storage: StorageType::Memory,
            ..Default::default()
        };
        let stream = js.create_stream(config.clone()).await.expect("create");
        let (subject, json) = next_advisory(&mut sub).await;
        assert_eq!(subject, "$JS.EVENT.ADVISORY.STREAM.CREATED.ADV", "{kind:?}");
        check_typed(&json, "stream_action");
        assert_eq!(
            (&json["stream"], &json["action"]),
            (&"ADV".into(), &"create".into())
        );
        assert!(json.get("domain").is_none(), "{kind:?}: {json}");

        config.max_messages = 100;
        js.update_stream(config).await.expect("update");
        let (subject, json) = next_advisory(&mut sub).await;
        assert_eq!(subject, "$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV", "{kind:?}");
        check_typed(&json, "stream_action");
        assert_eq!(
            (&json["stream"], &json["action"]),
            (&"ADV".into(), &"modify".into())
        );

        stream
            .create_consumer(pull::Config {
                durable_name: Some("C".to_string()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_deliver: 2,
                ..Default::default()
            })
            .await
            .expect("create consumer");
        let (subject, json) = next_advisory(&mut sub).await;
        assert_eq!(
            subject, "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.C",
            "{kind:?}"
        );
        check_typed(&json, "consumer_action");
        assert_eq!(
            (&json["stream"], &json["consumer"], &json["action"]),
            (&"ADV".into(), &"C".into(), &"create".into())
        );

        for payload in ["one", "two"] {
            js.publish("adv.x", payload.into())
                .await
                .expect("publish")
                .await
                .expect("puback");
        }

        // Message 1, terminated on its first delivery.
        let mut replies = pull_one(&client, WAIT).await;
        let ack = delivered(&mut replies).await;
        client.publish(ack, "+TERM".into()).await.expect("term");
        let (subject, json) = next_advisory(&mut sub).await;
        assert_eq!(
            subject, "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.C",
            "{kind:?}"
        );
        check_typed(&json, "terminated");
        assert_eq!(
            (&json["stream"], &json["consumer"]),
            (&"ADV".into(), &"C".into())
        );
        assert_eq!(
            (
                &json["stream_seq"],
                &json["consumer_seq"],
                &json["deliveries"]
            ),
            (&1.into(), &1.into(), &1.into()),
            "{kind:?}: {json}"
        );

        // Message 2, never acked: delivered twice (max_deliver), then given up on while a pull
        // request waits for more.
        let mut replies = pull_one(&client, WAIT).await;
        delivered(&mut replies).await;
        let mut replies = pull_one(&client, WAIT).await;
        delivered(&mut replies).await;
        let _waiting = pull_one(&client, WAIT).await;
        let (subject, json) = next_advisory(&mut sub).await;
        assert_eq!(
            subject, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ADV.C",
            "{kind:?}"
        );
        check_typed(&json, "max_deliver");
        assert_eq!(
            (&json["stream"], &json["consumer"]),
            (&"ADV".into(), &"C".into())
        );
        assert_eq!(
            (&json["stream_seq"], &json["deliveries"]),
            (&2.into(), &2.into()),
            "{kind:?}: {json}"
        );

        stream.delete_consumer("C").await.expect("delete consumer");
        let (subject, json) = next_advisory(&mut sub).await;
        assert_eq!(
            subject, "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.C",
            "{kind:?}"
        );
        check_typed(&json, "consumer_action");
        assert_eq!(json["action"], "delete", "{kind:?}");

        js.delete_stream("ADV").await.expect("delete stream");
        let (subject, json) = next_advisory(&mut sub).await;
        assert_eq!(subject, "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV", "{kind:?}");
        check_typed(&json, "stream_action");
        assert_eq!(
            (&json["stream"], &json["action"]),
            (&"ADV".into(), &"delete".into())
        );
    })
    .await;
}

#[tokio::test]
async fn advisories_tell_what_changed_on_each_server() {
    for kind in kinds_with_214() {
        advisories_tell_what_changed(kind).await;
    }
}

/// A stream deleted with its consumers: each consumer's deletion is told, then the stream's.
async fn deleting_a_stream_tells_of_its_consumers(kind: Kind) {
    let server = TestServer::start_kind(kind, Options::default());
    bounded(async {
        let client = server.client().await;
        let js = async_nats::jetstream::new(client.clone());
        let stream = js
            .create_stream(Config {
                name: "GONE".to_string(),
                subjects: vec!["gone.>".to_string()],
                storage: StorageType::Memory,
                ..Default::default()
            })
            .await
            .expect("create");
        stream
            .create_consumer(pull::Config {
                durable_name: Some("D".to_string()),
                ..Default::default()
            })
            .await
            .expect("create consumer");
        let mut sub = client
            .subscribe("$JS.EVENT.ADVISORY.*.DELETED.>")
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");
        js.delete_stream("GONE").await.expect("delete");
        let mut subjects = vec![
            next_advisory(&mut sub).await.0,
            next_advisory(&mut sub).await.0,
        ];
        subjects.sort();
        assert_eq!(
            subjects,
            [
                "$JS.EVENT.ADVISORY.CONSUMER.DELETED.GONE.D",
                "$JS.EVENT.ADVISORY.STREAM.DELETED.GONE"
            ],
            "{kind:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn deleting_a_stream_tells_of_its_consumers_on_each_server() {
    for kind in kinds_with_214() {
        deleting_a_stream_tells_of_its_consumers(kind).await;
    }
}
