//! Core NATS with an official client (async-nats) against the real server binary:
//! subscriptions, wildcards, queue groups, request/reply, headers, no-responders.
//! Run against nats-server too: `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_core`.

mod interop_support;

use std::time::Duration;

use futures_util::StreamExt;
use interop_support::{bounded, round_trip, TestServer};

const WAIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a message within 5 s")
        .expect("subscription open")
}

#[tokio::test]
async fn wildcard_subscribers_receive_matching_publishes() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let mut star = client.subscribe("orders.*").await.expect("sub");
        let mut rest = client.subscribe("orders.>").await.expect("sub");
        client.flush().await.expect("flush");
        client
            .publish("orders.eu", "one".into())
            .await
            .expect("pub");
        client
            .publish("orders.eu.paris", "two".into())
            .await
            .expect("pub");
        client.flush().await.expect("flush");
        assert_eq!(next(&mut star).await.payload, "one");
        assert_eq!(next(&mut rest).await.payload, "one");
        assert_eq!(next(&mut rest).await.payload, "two");
        assert!(
            tokio::time::timeout(Duration::from_millis(200), star.next())
                .await
                .is_err(),
            "orders.* must not match orders.eu.paris"
        );
    })
    .await;
}

#[tokio::test]
async fn a_queue_group_gets_each_message_once() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let mut a = client
            .queue_subscribe("work", "q".into())
            .await
            .expect("sub");
        let mut b = client
            .queue_subscribe("work", "q".into())
            .await
            .expect("sub");
        client.flush().await.expect("flush");
        for i in 0..20 {
            client
                .publish("work", format!("{i}").into())
                .await
                .expect("pub");
        }
        client.flush().await.expect("flush");
        let mut got = 0;
        for _ in 0..40 {
            tokio::select! {
                Some(_) = a.next() => got += 1,
                Some(_) = b.next() => got += 1,
                _ = tokio::time::sleep(Duration::from_millis(300)) => break,
            }
        }
        assert_eq!(got, 20);
    })
    .await;
}

#[tokio::test]
async fn request_reply_round_trips_with_headers() {
    let server = TestServer::start();
    bounded(async {
        let responder = server.client().await;
        let mut service = responder.subscribe("svc.echo").await.expect("sub");
        round_trip(&responder).await;
        tokio::spawn(async move {
            while let Some(msg) = service.next().await {
                let mut headers = async_nats::HeaderMap::new();
                let seen = msg
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("X-In"))
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                headers.insert("X-Out", format!("saw {seen}").as_str());
                if let Some(reply) = msg.reply {
                    let _ = responder
                        .publish_with_headers(reply, headers, msg.payload)
                        .await;
                }
            }
        });
        let client = server.client().await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("X-In", "abc");
        let reply = client
            .request_with_headers("svc.echo", headers, "ping".into())
            .await
            .expect("a reply");
        assert_eq!(reply.payload, "ping");
        let out = reply.headers.expect("reply headers");
        assert_eq!(
            out.get("X-Out").map(|v| v.to_string()).as_deref(),
            Some("saw abc")
        );
    })
    .await;
}

#[tokio::test]
async fn a_request_nobody_serves_fails_fast_with_no_responders() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let started = std::time::Instant::now();
        let err = client
            .request("nobody.home", "x".into())
            .await
            .expect_err("no responders");
        assert_eq!(
            err.kind(),
            async_nats::RequestErrorKind::NoResponders,
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "must not wait for the timeout"
        );
    })
    .await;
}

#[tokio::test]
async fn unsubscribe_after_max_messages_stops_delivery() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let mut sub = client.subscribe("limited").await.expect("sub");
        sub.unsubscribe_after(2).await.expect("unsub after");
        client.flush().await.expect("flush");
        for i in 0..5 {
            client
                .publish("limited", format!("{i}").into())
                .await
                .expect("pub");
        }
        client.flush().await.expect("flush");
        assert_eq!(next(&mut sub).await.payload, "0");
        assert_eq!(next(&mut sub).await.payload, "1");
        let rest = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
        assert!(matches!(rest, Ok(None) | Err(_)), "no third message");
    })
    .await;
}

#[tokio::test]
async fn large_payloads_up_to_max_payload_arrive_intact() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        assert_eq!(client.server_info().max_payload, 1024 * 1024);
        let mut sub = client.subscribe("big").await.expect("sub");
        client.flush().await.expect("flush");
        let payload: Vec<u8> = (0..1024 * 1024 - 64).map(|i| (i % 251) as u8).collect();
        client
            .publish("big", payload.clone().into())
            .await
            .expect("pub");
        assert_eq!(next(&mut sub).await.payload.as_ref(), &payload[..]);
    })
    .await;
}

#[tokio::test]
async fn info_announces_headers_and_jetstream() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let info = client.server_info();
        assert!(info.headers);
        assert_eq!(info.proto, 1);
        let parts: Vec<&str> = info.version.split('.').collect();
        assert_eq!(parts.len(), 3, "semver version, got {}", info.version);
    })
    .await;
}
