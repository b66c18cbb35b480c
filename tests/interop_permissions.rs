//! Per-user permissions: a publish or subscription outside them gets nats-server's
//! `-ERR 'Permissions Violation for …'` and the connection stays open; deny wins over allow; a
//! deny on `$JS.API.>` keeps a guest from JetStream; `allow_responses` lets a service answer the
//! requests it receives and nothing else.

mod interop_support;

use std::time::Duration;

use futures_util::StreamExt;
use interop_support::{
    bounded, echo_service, request_until_answered, round_trip, Options, TestServer,
};

const CONFIG: &str = r#"
accounts {
  APP {
    jetstream: enabled
    users: [
      {user: admin, password: a}
      {user: guest, password: g, permissions: {
        publish: { allow: ["public.>", "_INBOX.>"], deny: "public.secret" }
        subscribe: { deny: ["$JS.API.>", "secret.>"] }
      }}
      {user: service, password: s, permissions: {
        subscribe: "svc.>"
        allow_responses: true
      }}
    ]
  }
  PLAIN {
    users: [ {user: plain, password: p} ]
    default_permissions: { publish: "defaults.>" }
  }
}
"#;

fn start() -> TestServer {
    TestServer::start_with(Options {
        config: Some(CONFIG.to_string()),
        ..Default::default()
    })
}

/// Logs in over raw TCP, sends `ops` and a PING, and returns what the server says up to its
/// PONG (which proves the connection is still open), or until it closes or 5 s pass.
fn raw_session(port: u16, user: &str, pass: &str, ops: &str) -> String {
    let connect = format!(r#"CONNECT {{"user":"{user}","pass":"{pass}","verbose":false}}"#);
    interop_support::raw_session(port, &format!("{connect}\r\n{ops}PING\r\n"))
}

#[tokio::test]
async fn a_denied_publish_is_refused_and_the_connection_stays_open() {
    let server = start();
    let reply = raw_session(
        server.port,
        "guest",
        "g",
        "PUB public.secret 2\r\nhi\r\nPUB private.x 2\r\nhi\r\n",
    );
    assert!(
        reply.contains(r#"-ERR 'Permissions Violation for Publish to "public.secret"'"#),
        "deny wins over the allow of public.>: {reply}"
    );
    assert!(
        reply.contains(r#"-ERR 'Permissions Violation for Publish to "private.x"'"#),
        "outside the allow list: {reply}"
    );
    assert!(reply.contains("PONG"), "the connection stays open: {reply}");
}

#[tokio::test]
async fn a_denied_subscription_is_refused_and_the_connection_stays_open() {
    let server = start();
    let reply = raw_session(server.port, "guest", "g", "SUB $JS.API.> 1\r\n");
    assert!(
        reply.contains(r#"-ERR 'Permissions Violation for Subscription to "$JS.API.>"'"#),
        "{reply}"
    );
    assert!(reply.contains("PONG"), "the connection stays open: {reply}");
}

#[tokio::test]
async fn a_guest_denied_the_js_api_cannot_create_streams() {
    let server = start();
    bounded(async {
        let guest = async_nats::jetstream::new(server.login("guest", "g").await);
        let created = guest
            .create_stream(async_nats::jetstream::stream::Config {
                name: "GUEST".into(),
                subjects: vec!["public.guest".into()],
                ..Default::default()
            })
            .await;
        assert!(created.is_err(), "the guest made a stream");
        let admin = async_nats::jetstream::new(server.login("admin", "a").await);
        let names: Vec<String> = admin
            .stream_names()
            .map(|n| n.expect("name"))
            .collect()
            .await;
        assert!(!names.contains(&"GUEST".to_string()), "{names:?}");
    })
    .await;
}

#[tokio::test]
async fn a_wildcard_subscription_does_not_receive_denied_subjects() {
    let server = start();
    bounded(async {
        let admin = server.login("admin", "a").await;
        let mut probe = admin.subscribe("public.after").await.expect("sub");
        round_trip(&admin).await;
        // The guest's `>` is allowed, but what its deny list covers (secret.>) is filtered out
        // at delivery, as nats-server does.
        let guest = server.login("guest", "g").await;
        let mut all = guest.subscribe(">").await.expect("sub");
        // The subscription is in place once a message the guest publishes comes back to it.
        guest
            .publish("public.ready", "ready".into())
            .await
            .expect("pub");
        let first = tokio::time::timeout(Duration::from_secs(5), all.next())
            .await
            .expect("in time")
            .expect("msg");
        assert_eq!(first.subject.as_str(), "public.ready");
        admin
            .publish("secret.plans", "hidden".into())
            .await
            .expect("pub");
        admin
            .publish("public.after", "visible".into())
            .await
            .expect("pub");
        probe.next().await.expect("the admin's own probe");
        let next = tokio::time::timeout(Duration::from_secs(5), all.next())
            .await
            .expect("in time")
            .expect("msg");
        assert_eq!(next.subject.as_str(), "public.after", "secret.plans leaked");
    })
    .await;
}

#[tokio::test]
async fn allow_responses_lets_a_service_answer_and_nothing_more() {
    let server = start();
    bounded(async {
        let service = server.login("service", "s").await;
        // The service answers every request it gets (one response each is what it may send).
        let responder = echo_service(service, "svc.echo").await;
        let admin = server.login("admin", "a").await;
        let answer = request_until_answered(&admin, "svc.echo", "ping").await;
        assert_eq!(answer.payload, "ping");
        responder.abort();
    })
    .await;
    // Anything but a response is refused, in the exact words.
    let reply = raw_session(server.port, "service", "s", "PUB svc.other 2\r\nhi\r\n");
    assert!(
        reply.contains(r#"-ERR 'Permissions Violation for Publish to "svc.other"'"#),
        "{reply}"
    );
}

#[tokio::test]
async fn default_permissions_apply_to_users_without_their_own() {
    let server = start();
    let reply = raw_session(
        server.port,
        "plain",
        "p",
        "PUB defaults.x 2\r\nhi\r\nPUB other 2\r\nhi\r\n",
    );
    assert!(
        reply.contains(r#"-ERR 'Permissions Violation for Publish to "other"'"#),
        "{reply}"
    );
    assert!(!reply.contains("defaults.x"), "{reply}");
}

#[tokio::test]
async fn a_client_may_not_use_a_reserved_reply_subject() {
    let server = start();
    let reply = raw_session(
        server.port,
        "admin",
        "a",
        "PUB public.x _R_.abc 2\r\nhi\r\n",
    );
    assert!(
        reply.contains(r#"-ERR 'Permissions Violation for Publish with Reply of "_R_.abc"'"#),
        "{reply}"
    );
    assert!(reply.contains("PONG"), "the connection stays open: {reply}");
}
