//! Mirrors and sources of origins with rules of their own, with an official client
//! (async-nats), on Contrail, Debian's nats-server 2.9.10 and nats-server 2.14:
//!
//! - a work-queue origin: its mirror's or source's consumer is outside the work-queue
//!   exclusivity rules (2.14 and Contrail make it a listed durable acknowledged by flow
//!   control, 2.9 a `direct` one listed nowhere), and the copy takes the origin's messages as
//!   a consumer does (a message leaves the origin once the copy and the origin's own consumer
//!   both have it);
//! - `direct` consumers are push and ephemeral, and an `ack_policy: none` delivery is an ack
//!   (an interest stream lets go of what such a consumer was handed);
//! - a `Nats-TTL` copied into a stream without `allow_msg_ttl` is stored as it came (a direct
//!   publish there is refused), and honoured by a copy with `allow_msg_ttl` (2.11+);
//! - a sourced message whose `Nats-Msg-Id` the stream has seen is dropped as a duplicate within
//!   the stream's `duplicate_window`, which a stream with sources has only when set (2.10+;
//!   2.9 gives it the default 2 minutes).
//!
//! A Contrail edge copying a hub's work queues over a link is `interop_mirror_origins_hub.rs`.
//!
//! Run against nats-server too:
//! `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_mirror_origins`, with
//! `CONTRAIL_NATS_SERVER_214` naming a 2.14 binary for the 2.14 comparison.

mod interop_support;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::Context;
use futures_util::{StreamExt, TryStreamExt};
use interop_support::streams::{
    assert_copied_in_order, create_copies, create_memory_mirror, create_memory_stream, create_ok,
    create_work_queues, info, messages, payloads, publish, publish_work, stored, wait_copied,
    wait_info, wait_work_taken, work_queue, CATCH_UP,
};
use interop_support::{kinds_with_214, on_each_kind, request_json, Kind};
use serde_json::json;

async fn publish_with(js: &Context, subject: &str, header: (&str, &str), payload: &str) -> u64 {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(header.0, header.1);
    js.publish_with_headers(subject.to_string(), headers, payload.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("puback")
        .sequence
}

/// The names `CONSUMER.NAMES` lists for a stream.
async fn consumer_names(client: &async_nats::Client, stream: &str) -> Vec<String> {
    let reply = request_json(
        client,
        &format!("$JS.API.CONSUMER.NAMES.{stream}"),
        json!({}),
    )
    .await;
    reply["consumers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

/// Checks what the origin `stream` lists and counts: its own consumers `own`, and the copies'
/// consumers on 2.14 and Contrail, which make a mirror's or source's consumer on a work-queue
/// or interest origin a durable (acknowledged by the flow-control replies) where 2.9 keeps it
/// `direct` and unlisted.
async fn assert_listed(client: &async_nats::Client, kind: Kind, stream: &str, own: &[&str]) {
    let info = info(client, stream).await;
    let names = consumer_names(client, stream).await;
    let (copies, others): (Vec<&String>, Vec<&String>) = names
        .iter()
        .partition(|n| n.starts_with("JS_MIRROR_") || n.starts_with("JS_SRC_"));
    assert_eq!(others, own, "{kind:?}: {names:?}");
    if kind != Kind::NatsServer {
        assert_eq!(copies.len(), 1, "{kind:?}: {names:?}");
    } else {
        eprintln!(
            "!!! {stream}: Debian's nats-server 2.9.10 keeps the copy's consumer direct and \
             unlisted; 2.14 and Contrail list it as a durable with ack_policy flow_control"
        );
        assert!(copies.is_empty(), "{kind:?}: {names:?}");
    }
    let count = info["state"]["consumer_count"].as_u64().unwrap_or(0);
    assert_eq!(count as usize, names.len(), "{kind:?}: {info}");
}

#[tokio::test]
async fn a_mirror_and_a_source_of_a_work_queue_stream_take_its_messages() {
    on_each_kind(kinds_with_214(), |kind, client, js| async move {
        create_work_queues(&client).await;
        publish_work(&js, 1..=3).await;
        create_copies(&client, None, "memory").await;
        // No other consumer needs them: once copied, they leave the work queue.
        wait_copied(&client, 3).await;
        wait_work_taken(&client, "emptied by its copy").await;
        let origin = info(&client, "QM").await;
        assert_eq!(origin["state"]["last_seq"], 3, "{origin}");
        assert_copied_in_order(&js, 3, kind).await;
        // New work follows the same way, at the origin's sequences in the mirror.
        publish(&js, "qm.4", "m4").await;
        wait_info(&client, "M", "the 4th mirrored", |i| {
            i["state"]["last_seq"] == 4
        })
        .await;
        wait_info(&client, "QM", "emptied again", |i| messages(i) == 0).await;
        // The copies' consumers are nobody's business on the origin.
        assert_listed(&client, kind, "QM", &[]).await;
        assert_listed(&client, kind, "QS", &[]).await;
    })
    .await;
}

#[tokio::test]
async fn a_work_queue_keeps_a_message_until_its_consumer_and_its_mirror_both_have_it() {
    on_each_kind(kinds_with_214(), |kind, client, js| async move {
        create_ok(&client, work_queue("Q", "q.>")).await;
        let stream = js.get_stream("Q").await.expect("Q");
        let worker = stream
            .create_consumer(pull::Config {
                durable_name: Some("W".to_string()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .expect("the work queue's consumer");
        for i in 1..=5 {
            publish(&js, "q.job", &format!("j{i}")).await;
        }
        // Its one unfiltered consumer does not keep a mirror out.
        create_memory_mirror(&client, "M", json!({"name": "Q"})).await;
        wait_info(&client, "M", "5 mirrored", |i| messages(i) == 5).await;
        let origin = info(&client, "Q").await;
        assert_eq!(messages(&origin), 5, "W still needs them: {origin}");
        assert_listed(&client, kind, "Q", &["W"]).await;
        // And the mirror does not count for the exclusivity rules: W alone does.
        let second = request_json(
            &client,
            "$JS.API.CONSUMER.CREATE.Q.W2",
            json!({"stream_name": "Q",
                "config": {"durable_name": "W2", "ack_policy": "explicit"}}),
        )
        .await;
        assert_eq!(second["error"]["err_code"], 10099, "{second}");
        let batch: Vec<_> = worker
            .fetch()
            .max_messages(5)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetched");
        assert_eq!(batch.len(), 5);
        for msg in batch {
            msg.double_ack().await.expect("ack");
        }
        wait_info(&client, "Q", "emptied once W acked", |i| messages(i) == 0).await;
        let mirror = info(&client, "M").await;
        assert_eq!(
            messages(&mirror),
            5,
            "the mirror keeps its copies: {mirror}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_ack_none_delivery_lets_an_interest_stream_go_of_the_message() {
    // How a copy's `direct` consumer (ack none) takes an interest origin's messages.
    on_each_kind(kinds_with_214(), |kind, client, js| async move {
        create_ok(
            &client,
            json!({"name": "I", "subjects": ["i.>"], "retention": "interest",
                "storage": "memory"}),
        )
        .await;
        let mut deliveries = client.subscribe("to.i").await.expect("subscribe");
        client.flush().await.expect("flush");
        let created = request_json(
            &client,
            "$JS.API.CONSUMER.CREATE.I",
            json!({"stream_name": "I", "config": {"ack_policy": "none",
                "deliver_subject": "to.i"}}),
        )
        .await;
        assert!(created["error"].is_null(), "{kind:?}: {created}");
        for i in 1..=3 {
            publish(&js, &format!("i.{i}"), &format!("m{i}")).await;
        }
        for i in 1..=3 {
            let msg = tokio::time::timeout(CATCH_UP, deliveries.next())
                .await
                .expect("delivered in time")
                .expect("subscription open");
            assert_eq!(msg.payload, format!("m{i}").into_bytes());
        }
        wait_info(&client, "I", "emptied by the deliveries", |i| {
            messages(i) == 0 && i["state"]["last_seq"] == 3
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn direct_consumers_are_push_and_ephemeral() {
    on_each_kind(kinds_with_214(), |_, client, _| async move {
        create_ok(&client, work_queue("Q", "q.>")).await;
        let pull = request_json(
            &client,
            "$JS.API.CONSUMER.CREATE.Q",
            json!({"stream_name": "Q", "config": {"direct": true, "ack_policy": "explicit"}}),
        )
        .await;
        assert_eq!(pull["error"]["err_code"], 10090, "{pull}");
        let durable = request_json(
            &client,
            "$JS.API.CONSUMER.CREATE.Q.D",
            json!({"stream_name": "Q", "config": {"durable_name": "D", "direct": true,
            "ack_policy": "none", "deliver_subject": "to.d"}}),
        )
        .await;
        assert_eq!(durable["error"]["err_code"], 10091, "{durable}");
        // Without `direct`, the same push consumer is held to the work-queue rules.
        let plain = request_json(
            &client,
            "$JS.API.CONSUMER.CREATE.Q",
            json!({"stream_name": "Q", "config": {"ack_policy": "none",
            "deliver_subject": "to.e"}}),
        )
        .await;
        assert_eq!(plain["error"]["err_code"], 10098, "{plain}");
        let direct = request_json(
            &client,
            "$JS.API.CONSUMER.CREATE.Q",
            json!({"stream_name": "Q", "config": {"direct": true, "ack_policy": "none",
            "deliver_subject": "to.e"}}),
        )
        .await;
        assert!(direct["error"].is_null(), "{direct}");
        assert_eq!(direct["config"]["direct"], true, "{direct}");
    })
    .await;
}

/// Whether `kind` has per-message TTLs (2.11+); says so loudly when it has not.
fn has_msg_ttl(kind: Kind) -> bool {
    if kind == Kind::NatsServer {
        eprintln!(
            "!!! a_copied_ttl: NOT compared with Debian's nats-server 2.9.10 (per-message \
             TTLs arrived in 2.11); compared with 2.14 only when CONTRAIL_NATS_SERVER_214 \
             is set"
        );
        return false;
    }
    true
}

#[tokio::test]
async fn a_copied_ttl_is_kept_without_allow_msg_ttl_and_honoured_with_it() {
    let kinds = kinds_with_214()
        .into_iter()
        .filter(|&kind| has_msg_ttl(kind));
    on_each_kind(kinds, |_, client, js| async move {
        create_ok(
            &client,
            json!({"name": "O", "subjects": ["o.>"], "allow_msg_ttl": true,
                "storage": "memory"}),
        )
        .await;
        publish_with(&js, "o.long", ("Nats-TTL", "1h"), "long").await;
        publish_with(&js, "o.short", ("Nats-TTL", "4s"), "short").await;
        publish(&js, "o.plain", "plain").await;
        // Copies without allow_msg_ttl store what came, TTL header and all.
        create_ok(
            &client,
            json!({"name": "S", "subjects": ["s.>"], "sources": [{"name": "O"}],
                "storage": "memory"}),
        )
        .await;
        create_memory_mirror(&client, "M", json!({"name": "O"})).await;
        // Copies with it expire what the origin expires.
        create_ok(
            &client,
            json!({"name": "ST", "subjects": ["st.>"], "sources": [{"name": "O"}],
                "allow_msg_ttl": true, "storage": "memory"}),
        )
        .await;
        create_ok(
            &client,
            json!({"name": "MT", "mirror": {"name": "O"}, "allow_msg_ttl": true,
                "storage": "memory"}),
        )
        .await;
        for copy in ["S", "M", "ST", "MT"] {
            wait_info(&client, copy, "3 copied", |i| i["state"]["last_seq"] == 3).await;
        }
        for copy in ["S", "M"] {
            let kept = stored(&js, copy, 1, "Nats-TTL").await;
            assert_eq!(kept, Some(("long".into(), Some("1h".into()))), "{copy}");
            let kept = stored(&js, copy, 2, "Nats-TTL").await;
            assert_eq!(kept, Some(("short".into(), Some("4s".into()))), "{copy}");
        }
        // A client's publish with a TTL into S is still refused.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-TTL", "1h");
        let refused = js
            .publish_with_headers("s.x", headers, "x".into())
            .await
            .expect("sent")
            .await;
        let refused = refused.expect_err("a TTL into a stream without allow_msg_ttl");
        assert!(refused.to_string().contains("10166"), "{refused}");
        for copy in ["ST", "MT", "O"] {
            wait_info(&client, copy, "the 4s message expired", |i| {
                messages(i) == 2
            })
            .await;
        }
        for copy in ["S", "M"] {
            let info = info(&client, copy).await;
            assert_eq!(messages(&info), 3, "{copy} keeps it: {info}");
        }
    })
    .await;
}

/// Waits (bounded) until `stream` holds `a2` and `b2`; returns its payloads. Each origin's
/// messages arrive in order, so `a1` and `b1` have been taken (or dropped) by then.
async fn sourced_up_to_the_seconds(
    client: &async_nats::Client,
    js: &Context,
    stream: &str,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        let last = info(client, stream).await["state"]["last_seq"]
            .as_u64()
            .unwrap_or(0);
        let seen = payloads(js, stream, last).await;
        if seen.iter().any(|p| p == "a2") && seen.iter().any(|p| p == "b2") {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{stream} did not catch up: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_sourced_msg_id_seen_before_is_a_duplicate_only_within_a_set_window() {
    on_each_kind(kinds_with_214(), |kind, client, js| async move {
        for (name, subjects) in [("A", "a.>"), ("B", "b.>")] {
            create_memory_stream(&client, name, subjects).await;
        }
        publish_with(&js, "a.1", ("Nats-Msg-Id", "same"), "a1").await;
        publish_with(&js, "b.1", ("Nats-Msg-Id", "same"), "b1").await;
        publish(&js, "a.2", "a2").await;
        publish(&js, "b.2", "b2").await;
        let sources = json!([{"name": "A"}, {"name": "B"}]);
        create_ok(
            &client,
            json!({"name": "S", "subjects": ["s.>"], "storage": "memory",
                "sources": sources}),
        )
        .await;
        create_ok(
            &client,
            json!({"name": "W", "subjects": ["w.>"], "storage": "memory",
                "sources": sources, "duplicate_window": 60_000_000_000_i64}),
        )
        .await;
        // A stream with sources gets no duplicate window by default (2.10+): both stay.
        let window = info(&client, "S").await["config"]["duplicate_window"]
            .as_i64()
            .unwrap_or(0);
        let seen = sourced_up_to_the_seconds(&client, &js, "S").await;
        if kind == Kind::NatsServer {
            eprintln!(
                "!!! a_sourced_msg_id: Debian's nats-server 2.9.10 gives a stream with sources \
                 the default 2 min duplicate window, so it drops the second; 2.14 and \
                 Contrail give none and keep both"
            );
            assert_eq!(window, 120_000_000_000, "{kind:?}");
            assert_eq!(seen.len(), 3, "{kind:?}: {seen:?}");
        } else {
            assert_eq!(window, 0, "{kind:?}");
            assert_eq!(seen.len(), 4, "{kind:?}: {seen:?}");
        }
        // With a window, the second copy of the id is a duplicate, whichever came first.
        let seen = sourced_up_to_the_seconds(&client, &js, "W").await;
        let firsts = seen.iter().filter(|p| p.ends_with('1')).count();
        assert_eq!((firsts, seen.len()), (1, 3), "{kind:?}: {seen:?}");
    })
    .await;
}
