//! The server shell's link driver (`server::link`, over `core::link`) against a real server:
//! contrail, or Debian's nats-server with `CONTRAIL_INTEROP_SERVER=nats-server`.
//!
//! Auth with a token, a user and password, and an nkey; publish, subscribe and request round
//! trips with async-nats on the other side; and outages: a loopback proxy the test binds itself
//! (so its port is race-free) cuts and restores the link, freezes it (stale detection), and is
//! pointed at a new server after the old one is killed. After each outage the link's
//! subscriptions are back and messages flow again.

mod interop_support;

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use contrail::core::link::{
    Auth, Backoff, DisconnectReason, LinkConfig, LinkError, LinkEvent, RequestError, Sid,
};
use contrail::core::message::Message;
use contrail::core::time::MILLIS;
use contrail::server::link::{nkey_auth, LinkCallError, LinkHandle};
use futures_util::StreamExt;
use interop_support::{bounded, echo_service, request_until_answered, Options, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn with_config(config: &str) -> TestServer {
    TestServer::start_with(Options {
        config: Some(config.to_string()),
        ..Default::default()
    })
}

/// Quick reconnects, so outages resolve fast.
fn config(auth: Auth) -> LinkConfig {
    LinkConfig {
        auth,
        backoff: Backoff {
            min: 20 * MILLIS,
            max: 200 * MILLIS,
            jitter: 20 * MILLIS,
        },
        ..LinkConfig::default()
    }
}

/// The next event that is not a message (messages are checked where the test expects them).
async fn next_state_event(link: &mut LinkHandle) -> LinkEvent {
    loop {
        match link.next_event().await {
            Some(LinkEvent::Message { .. }) => continue,
            Some(event) => return event,
            None => panic!("the link task ended"),
        }
    }
}

async fn wait_connected(link: &mut LinkHandle) {
    loop {
        match next_state_event(link).await {
            LinkEvent::Connected(_) => return,
            LinkEvent::Disconnected(_) => continue,
            other => panic!("expected Connected, got {other:?}"),
        }
    }
}

/// The next message for `sid`, skipping state events.
async fn next_message(link: &mut LinkHandle, sid: Sid) -> Message {
    loop {
        match link.next_event().await {
            Some(LinkEvent::Message { sid: got, msg }) if got == sid => return msg,
            Some(_) => continue,
            None => panic!("the link task ended"),
        }
    }
}

/// Publishes to `subject` through the link until its own subscription `sid` on it sees one:
/// the server has the SUB in place (a SUB and a PUB on one connection are handled in order).
async fn until_subscribed(link: &mut LinkHandle, sid: Sid, subject: &str) {
    let marker = format!("sync-{}", rand_tag());
    link.publish(Message::new(subject, marker.clone()))
        .await
        .expect("publish the marker");
    loop {
        let msg = next_message(link, sid).await;
        if msg.payload == marker.as_bytes() {
            return;
        }
    }
}

/// The official client's twin of [`until_subscribed`]: its SUB is in place on the server once
/// its own publish on the subject comes back to it (async-nats' flush does not wait for that).
async fn client_until_subscribed(
    client: &async_nats::Client,
    sub: &mut async_nats::Subscriber,
    subject: &str,
) {
    let marker = format!("sync-{}", rand_tag());
    client
        .publish(subject.to_string(), marker.clone().into())
        .await
        .expect("client publishes the marker");
    while let Some(msg) = sub.next().await {
        if msg.payload == marker.as_bytes() {
            return;
        }
    }
    panic!("the client's subscription ended");
}

fn rand_tag() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn a_token_gets_in_and_a_wrong_one_is_reported_then_the_link_stops() {
    let server = with_config("authorization { token: s3cret }\n");
    bounded(async {
        let addr = format!("127.0.0.1:{}", server.port);
        let mut good = LinkHandle::spawn(addr.clone(), config(Auth::Token("s3cret".into())));
        wait_connected(&mut good).await;

        let mut bad = LinkHandle::spawn(addr, config(Auth::Token("wrong".into())));
        let event = next_state_event(&mut bad).await;
        assert!(
            matches!(&event, LinkEvent::Error(LinkError::Authorization(text)) if text.contains("Authorization Violation")),
            "{event:?}"
        );
        // One retry after the longest backoff, then the link stops instead of hammering.
        let event = next_state_event(&mut bad).await;
        assert!(matches!(event, LinkEvent::Error(LinkError::Authorization(_))), "{event:?}");
        let event = next_state_event(&mut bad).await;
        assert!(
            matches!(event, LinkEvent::Stopped(DisconnectReason::Authorization(_))),
            "{event:?}"
        );
        let refused = bad.publish(Message::new("x", "y")).await;
        assert_eq!(refused, Err(LinkCallError::Link(LinkError::Stopped)));
        good.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_user_and_password_and_an_nkey_get_in() {
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().expect("a new key has a seed");
    let server = with_config(&format!(
        "authorization {{ users = [ {{user: alice, password: wonder}}, {{nkey: {}}} ] }}\n",
        user.public_key()
    ));
    bounded(async {
        let addr = format!("127.0.0.1:{}", server.port);
        let password = Auth::UserPassword {
            user: "alice".into(),
            pass: "wonder".into(),
        };
        let mut link = LinkHandle::spawn(addr.clone(), config(password));
        wait_connected(&mut link).await;
        link.close().await;

        let nkey = nkey_auth(&seed).expect("a valid seed");
        let mut link = LinkHandle::spawn(addr.clone(), config(nkey));
        wait_connected(&mut link).await;
        link.close().await;

        let wrong = Auth::UserPassword {
            user: "alice".into(),
            pass: "nope".into(),
        };
        let mut link = LinkHandle::spawn(addr, config(wrong));
        let event = next_state_event(&mut link).await;
        assert!(
            matches!(event, LinkEvent::Error(LinkError::Authorization(_))),
            "{event:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn publish_subscribe_and_request_round_trips_with_an_official_client() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let mut link = LinkHandle::spawn(format!("127.0.0.1:{}", server.port), config(Auth::None));
        wait_connected(&mut link).await;

        // Official client → link, with headers.
        let inbound = link.subscribe("to.link.>", None).await.expect("subscribe");
        until_subscribed(&mut link, inbound, "to.link.sync").await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Trace-Id", "t-1");
        client
            .publish_with_headers("to.link.a", headers, "from client".into())
            .await
            .expect("client publishes");
        let msg = next_message(&mut link, inbound).await;
        assert_eq!(msg.subject, "to.link.a");
        assert_eq!(&msg.payload[..], b"from client");
        let block = msg.headers.expect("headers arrive");
        assert!(String::from_utf8_lossy(&block).contains("Trace-Id: t-1"));

        // Link → official client, with headers and a reply subject.
        let mut sub = client
            .subscribe("to.client")
            .await
            .expect("client subscribes");
        client_until_subscribed(&client, &mut sub, "to.client").await;
        link.publish(
            Message::new("to.client", "from link")
                .with_reply("answer.here")
                .with_headers("NATS/1.0\r\nOrigin: link\r\n\r\n"),
        )
        .await
        .expect("link publishes");
        let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("delivered in time")
            .expect("subscription open");
        assert_eq!(&got.payload[..], b"from link");
        assert_eq!(got.reply.as_deref(), Some("answer.here"));
        let origin = got
            .headers
            .as_ref()
            .and_then(|h| h.get("Origin"))
            .map(|v| v.to_string());
        assert_eq!(origin.as_deref(), Some("link"));

        // Link requests, the official client serves.
        let _echo = echo_service(client.clone(), "svc.echo").await;
        // async-nats' flush does not wait for the server; its own request does.
        request_until_answered(&client, "svc.echo", "warm up").await;
        let reply = link
            .request(Message::new("svc.echo", "ping?"), Duration::from_secs(5))
            .await
            .expect("echoed");
        assert_eq!(&reply.payload[..], b"ping?");
        let nobody = link
            .request(Message::new("svc.nobody", "?"), Duration::from_secs(5))
            .await;
        assert_eq!(
            nobody,
            Err(LinkCallError::Request(RequestError::NoResponders))
        );

        // The official client requests, the link serves.
        let service = link
            .subscribe("svc.link", Some("workers"))
            .await
            .expect("subscribe");
        until_subscribed(&mut link, service, "svc.link").await;
        let request = client.request("svc.link", "hello link".into());
        let (reply, ()) = tokio::join!(request, async {
            let req = next_message(&mut link, service).await;
            let to = req.reply.expect("a request carries a reply subject");
            link.publish(Message::new(to, "hello client"))
                .await
                .expect("answer");
        });
        assert_eq!(&reply.expect("answered").payload[..], b"hello client");
        link.close().await;
    })
    .await;
}

/// A loopback TCP proxy the test controls: it forwards to `target`, and can cut every
/// connection (and refuse new ones), or freeze them (bytes stop, sockets stay open).
struct Proxy {
    port: u16,
    target: Arc<AtomicU16>,
    up: Arc<AtomicBool>,
    frozen: Arc<AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(target: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let proxy = Proxy {
            port,
            target: Arc::new(AtomicU16::new(target)),
            up: Arc::new(AtomicBool::new(true)),
            frozen: Arc::new(AtomicBool::new(false)),
            cuts: tokio::sync::watch::channel(0).0,
            accepted: Arc::new(AtomicU64::new(0)),
        };
        let (target, up, frozen, cuts, accepted) = (
            proxy.target.clone(),
            proxy.up.clone(),
            proxy.frozen.clone(),
            proxy.cuts.clone(),
            proxy.accepted.clone(),
        );
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    drop(inbound); // the outage: connect, then closed at once
                    continue;
                }
                accepted.fetch_add(1, Ordering::SeqCst);
                let port = target.load(Ordering::SeqCst);
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                    continue;
                };
                let mut cut = cuts.subscribe();
                let frozen = frozen.clone();
                tokio::spawn(async move {
                    let (ir, iw) = inbound.into_split();
                    let (or, ow) = outbound.into_split();
                    tokio::select! {
                        _ = pump(ir, ow, frozen.clone()) => {}
                        _ = pump(or, iw, frozen) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Drops every live connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies one direction, holding bytes back while frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        // Frozen: swallow the bytes, as a black-holed route would.
        if frozen.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Checks both subscriptions are live on the current connection: the plain one via the link's
/// own echo, the queue one via a publish from the official client.
async fn assert_flowing(
    link: &mut LinkHandle,
    client: &async_nats::Client,
    plain: Sid,
    queue: Sid,
    round: usize,
) {
    until_subscribed(link, plain, "feed.sync").await;
    let payload = format!("round {round}");
    client
        .publish("feed.data", payload.clone().into())
        .await
        .expect("client publishes");
    let msg = next_message(link, plain).await;
    assert_eq!(msg.payload, payload.as_bytes());
    // The queue subscription: the client's request is answered only if its SUB is back.
    let ask = client.request("jobs", payload.clone().into());
    let (answer, ()) = tokio::join!(ask, async {
        let job = next_message(link, queue).await;
        let to = job.reply.expect("reply subject");
        link.publish(Message::new(to, job.payload))
            .await
            .expect("answer");
    });
    assert_eq!(
        answer.expect("the queue subscription answers").payload,
        payload.as_bytes()
    );
}

#[tokio::test]
async fn cut_links_reconnect_and_restore_their_subscriptions() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let proxy = Proxy::start(server.port).await;
        let mut link = LinkHandle::spawn(proxy.addr(), config(Auth::None));
        wait_connected(&mut link).await;
        let plain = link.subscribe("feed.>", None).await.expect("subscribe");
        let queue = link
            .subscribe("jobs", Some("workers"))
            .await
            .expect("subscribe");
        assert_flowing(&mut link, &client, plain, queue, 0).await;

        for round in 1..=5 {
            proxy.cut();
            let event = next_state_event(&mut link).await;
            assert!(
                matches!(
                    event,
                    LinkEvent::Disconnected(DisconnectReason::Transport(_))
                ),
                "{event:?}"
            );
            let status = link.status();
            assert!(
                !status.connected && status.last_error.is_some(),
                "{status:?}"
            );
            let refused = link.publish(Message::new("feed.x", "while down")).await;
            assert_eq!(refused, Err(LinkCallError::Link(LinkError::NotConnected)));
            let before = proxy.accepted.load(Ordering::SeqCst);
            proxy.restore();
            wait_connected(&mut link).await;
            assert!(
                proxy.accepted.load(Ordering::SeqCst) > before,
                "a new connection"
            );
            assert_flowing(&mut link, &client, plain, queue, round).await;
        }
        link.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_frozen_link_is_detected_stale_and_comes_back() {
    let server = TestServer::start();
    bounded(async {
        let client = server.client().await;
        let proxy = Proxy::start(server.port).await;
        let stale_fast = LinkConfig {
            ping_interval: 500 * MILLIS,
            max_pings_out: 2,
            ..config(Auth::None)
        };
        let mut link = LinkHandle::spawn(proxy.addr(), stale_fast);
        wait_connected(&mut link).await;
        let plain = link.subscribe("feed.>", None).await.expect("subscribe");
        let queue = link
            .subscribe("jobs", Some("workers"))
            .await
            .expect("subscribe");
        assert_flowing(&mut link, &client, plain, queue, 0).await;

        proxy.frozen.store(true, Ordering::SeqCst);
        let event = next_state_event(&mut link).await;
        assert_eq!(
            event,
            LinkEvent::Disconnected(DisconnectReason::StaleConnection)
        );
        proxy.frozen.store(false, Ordering::SeqCst);
        wait_connected(&mut link).await;
        assert_flowing(&mut link, &client, plain, queue, 1).await;
        link.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_killed_server_replaced_by_a_new_one_gets_the_subscriptions_again() {
    let mut first = TestServer::start();
    bounded(async {
        let proxy = Proxy::start(first.port).await;
        let mut link = LinkHandle::spawn(proxy.addr(), config(Auth::None));
        wait_connected(&mut link).await;
        let plain = link.subscribe("feed.>", None).await.expect("subscribe");
        let queue = link
            .subscribe("jobs", Some("workers"))
            .await
            .expect("subscribe");
        assert_flowing(&mut link, &first.client().await, plain, queue, 0).await;

        first.stop(false); // kill -9
        let event = next_state_event(&mut link).await;
        assert!(matches!(event, LinkEvent::Disconnected(_)), "{event:?}");
        // The replacement picks its own port; the proxy keeps the link's address stable.
        let second = TestServer::start();
        proxy.target.store(second.port, Ordering::SeqCst);
        wait_connected(&mut link).await;
        assert_flowing(&mut link, &second.client().await, plain, queue, 1).await;
        link.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_permissions_violation_is_reported_and_the_link_stays_up() {
    let server = with_config(
        "authorization { users = [ {user: edge, password: e, permissions: {\n\
         publish: { deny: \"secret.>\" }, subscribe: { deny: \"hidden.>\" } } } ] }\n",
    );
    bounded(async {
        let auth = Auth::UserPassword {
            user: "edge".into(),
            pass: "e".into(),
        };
        let mut link = LinkHandle::spawn(format!("127.0.0.1:{}", server.port), config(auth));
        wait_connected(&mut link).await;
        link.publish(Message::new("secret.plans", "x"))
            .await
            .expect("the link cannot know the permissions; the server answers");
        let event = next_state_event(&mut link).await;
        assert!(
            matches!(&event, LinkEvent::Error(LinkError::Server(text))
                if text.starts_with("Permissions Violation for Publish to") && text.contains("secret.plans")),
            "{event:?}"
        );
        link.subscribe("hidden.x", None).await.expect("queued");
        let event = next_state_event(&mut link).await;
        assert!(
            matches!(&event, LinkEvent::Error(LinkError::Server(text))
                if text.starts_with("Permissions Violation for Subscription to")),
            "{event:?}"
        );
        // Still connected and serving.
        assert!(link.status().connected);
        let open = link.subscribe("open.>", None).await.expect("subscribe");
        until_subscribed(&mut link, open, "open.check").await;
    })
    .await;
}

#[tokio::test]
async fn the_servers_max_payload_is_enforced_before_sending() {
    let server = with_config("max_payload: 1024\n");
    bounded(async {
        let mut link = LinkHandle::spawn(format!("127.0.0.1:{}", server.port), config(Auth::None));
        wait_connected(&mut link).await;
        let sid = link.subscribe("big", None).await.expect("subscribe");
        let refused = link.publish(Message::new("big", vec![b'x'; 1025])).await;
        assert_eq!(
            refused,
            Err(LinkCallError::Link(LinkError::MaxPayload {
                size: 1025,
                limit: 1024
            }))
        );
        // Exactly max_payload goes through, and the connection was never put at risk.
        link.publish(Message::new("big", vec![b'y'; 1024]))
            .await
            .expect("at the limit");
        let msg = next_message(&mut link, sid).await;
        assert_eq!(msg.payload.len(), 1024);
        assert!(link.status().connected);
    })
    .await;
}
