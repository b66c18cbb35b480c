//! Accounts from the config file: users log into their account, subjects never cross accounts,
//! and each account has its own JetStream (streams of one are invisible to another, which may
//! use the same names). An account without JetStream is not served JetStream.

mod interop_support;

use std::time::Duration;

use futures_util::StreamExt;
use interop_support::{
    bounded, echo_service, http_json, request_until_answered, round_trip, Options, TestServer,
};

const ACCOUNTS: &str = r#"
accounts {
  A { users: [ {user: a, password: pa} ], jetstream: enabled }
  B { users: [ {user: b, password: pb} ], jetstream: { max_mem: 1M, max_file: 10M } }
  C { users: [ {user: c, password: pc} ] }
}
"#;

fn start() -> TestServer {
    TestServer::start_with(Options {
        config: Some(ACCOUNTS.to_string()),
        ..Default::default()
    })
}

async fn stream_names(js: &async_nats::jetstream::Context) -> Vec<String> {
    let mut names: Vec<String> = js
        .stream_names()
        .map(|n| n.expect("stream name"))
        .collect()
        .await;
    names.sort();
    names
}

#[tokio::test]
async fn users_under_accounts_are_enforced() {
    let server = start();
    bounded(async {
        server.login("a", "pa").await;
        let wrong = async_nats::ConnectOptions::with_user_and_password("a".into(), "pb".into())
            .connection_timeout(Duration::from_secs(5))
            .connect(server.url())
            .await;
        assert!(wrong.is_err(), "another account's password does not log in");
        let anonymous = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(server.url())
            .await;
        assert!(anonymous.is_err(), "no credentials, no connection");
    })
    .await;
}

#[tokio::test]
async fn messages_never_cross_accounts() {
    let server = start();
    bounded(async {
        let a = server.login("a", "pa").await;
        let b = server.login("b", "pb").await;
        let mut b_all = b.subscribe("x.>").await.expect("sub");
        let mut b_x = b.subscribe("x.1").await.expect("sub");
        round_trip(&b).await;
        a.publish("x.1", "from A".into()).await.expect("pub");
        round_trip(&a).await;
        b.publish("x.1", "from B".into()).await.expect("pub");
        let wait = Duration::from_secs(5);
        for sub in [&mut b_x, &mut b_all] {
            let msg = tokio::time::timeout(wait, sub.next())
                .await
                .expect("in time")
                .expect("msg");
            assert_eq!(msg.payload, "from B", "A's publish must not reach B");
        }
    })
    .await;
}

#[tokio::test]
async fn each_account_has_its_own_streams() {
    let mut server = start();
    bounded(async {
        let js_a = async_nats::jetstream::new(server.login("a", "pa").await);
        let js_b = async_nats::jetstream::new(server.login("b", "pb").await);
        js_a.create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("A creates ORDERS");
        js_a.publish("orders.1", "a1".into())
            .await
            .expect("publish")
            .await
            .expect("ack");
        assert_eq!(stream_names(&js_b).await, Vec::<String>::new());
        js_b.create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("B may use the same name");
        let mut a_orders = js_a.get_stream("ORDERS").await.expect("A's ORDERS");
        let mut b_orders = js_b.get_stream("ORDERS").await.expect("B's ORDERS");
        assert_eq!(a_orders.info().await.expect("info").state.messages, 1);
        assert_eq!(b_orders.info().await.expect("info").state.messages, 0);
    })
    .await;

    // Each account's file streams come back after a restart, still apart.
    server.restart(true);
    bounded(async {
        let js_a = async_nats::jetstream::new(server.login("a", "pa").await);
        let js_b = async_nats::jetstream::new(server.login("b", "pb").await);
        let mut a_orders = js_a.get_stream("ORDERS").await.expect("A's ORDERS");
        let mut b_orders = js_b.get_stream("ORDERS").await.expect("B's ORDERS");
        assert_eq!(a_orders.info().await.expect("info").state.messages, 1);
        assert_eq!(b_orders.info().await.expect("info").state.messages, 0);
    })
    .await;
}

#[tokio::test]
async fn an_account_without_jetstream_gets_no_jetstream() {
    let server = start();
    bounded(async {
        let c = server.login("c", "pc").await;
        let info = c
            .request("$JS.API.INFO", "".into())
            .await
            .expect("an answer");
        let info: serde_json::Value = serde_json::from_slice(&info.payload).expect("JSON");
        assert_eq!(info["error"]["err_code"], 10039, "{info}");
        assert_eq!(
            info["type"], "io.nats.jetstream.api.v1.account_info_response",
            "{info}"
        );
        let js_c = async_nats::jetstream::new(c);
        let created = js_c
            .create_stream(async_nats::jetstream::stream::Config {
                name: "NOPE".into(),
                subjects: vec!["nope".into()],
                ..Default::default()
            })
            .await;
        assert!(created.is_err(), "no streams without JetStream");
        assert!(js_c.query_account().await.is_err());
    })
    .await;
}

#[tokio::test]
async fn monitoring_counts_every_accounts_streams_and_names_connection_accounts() {
    let server = TestServer::start_with(Options {
        config: Some(ACCOUNTS.to_string()),
        http: true,
        ..Default::default()
    });
    let http = server.http_port.expect("http port");
    bounded(async {
        let a = server.login("a", "pa").await;
        let js_a = async_nats::jetstream::new(a.clone());
        let js_b = async_nats::jetstream::new(server.login("b", "pb").await);
        for (js, name) in [(&js_a, "SA"), (&js_b, "SB")] {
            js.create_stream(async_nats::jetstream::stream::Config {
                name: name.into(),
                subjects: vec![format!("{name}.>")],
                ..Default::default()
            })
            .await
            .expect("create");
        }
        let jsz = http_json(http, "/jsz");
        assert_eq!(jsz["streams"], 2, "{jsz}");
        let connz = http_json(http, "/connz?auth=true");
        let accounts: Vec<&str> = connz["connections"]
            .as_array()
            .expect("connections")
            .iter()
            .filter_map(|c| c["account"].as_str())
            .collect();
        assert!(
            accounts.contains(&"A") && accounts.contains(&"B"),
            "{connz}"
        );
        drop(a);
    })
    .await;
}

const SHARING: &str = r#"
accounts {
  A {
    users: [ {user: a, password: pa} ]
    exports: [ {stream: "events.>"}, {service: "svc.echo", accounts: [B]} ]
  }
  B {
    users: [ {user: b, password: pb} ]
    imports: [
      {stream: {account: A, subject: "events.>"}, prefix: "from_a"}
      {service: {account: A, subject: "svc.echo"}, to: "echo"}
    ]
  }
}
"#;

#[tokio::test]
async fn an_imported_stream_reaches_the_importer_under_its_prefix() {
    let server = TestServer::start_with(Options {
        config: Some(SHARING.to_string()),
        ..Default::default()
    });
    bounded(async {
        let a = server.login("a", "pa").await;
        let b = server.login("b", "pb").await;
        let mut imported = b.subscribe("from_a.events.>").await.expect("sub");
        let mut probe = a.subscribe("events.>").await.expect("sub");
        // B's subscription is in place once a request of B's own comes back through it.
        let mut ready = b.subscribe("ready").await.expect("sub");
        b.publish("ready", "".into()).await.expect("pub");
        ready.next().await.expect("B's own message");
        a.publish("events.1", "shared".into()).await.expect("pub");
        probe.next().await.expect("A's own subscriber");
        let msg = tokio::time::timeout(Duration::from_secs(5), imported.next())
            .await
            .expect("in time")
            .expect("msg");
        assert_eq!(msg.subject.as_str(), "from_a.events.1");
        assert_eq!(msg.payload, "shared");
    })
    .await;
}

#[tokio::test]
async fn an_imported_service_answers_across_accounts() {
    let server = TestServer::start_with(Options {
        config: Some(SHARING.to_string()),
        ..Default::default()
    });
    bounded(async {
        let a = server.login("a", "pa").await;
        let responder = echo_service(a, "svc.echo").await;
        let b = server.login("b", "pb").await;
        let answer = request_until_answered(&b, "echo", "across").await;
        assert_eq!(answer.payload, "across");
        responder.abort();
    })
    .await;
}

#[tokio::test]
async fn an_accounts_jetstream_limits_apply_to_it() {
    let server = TestServer::start_with(Options {
        config: Some(
            "accounts { L { users: [ {user: l, password: pl} ], jetstream: { max_streams: 1 } } }\n"
                .into(),
        ),
        ..Default::default()
    });
    bounded(async {
        let js = async_nats::jetstream::new(server.login("l", "pl").await);
        let config = |name: &str| async_nats::jetstream::stream::Config {
            name: name.into(),
            subjects: vec![format!("{name}.>")],
            ..Default::default()
        };
        js.create_stream(config("FIRST"))
            .await
            .expect("the first stream");
        let second = js.create_stream(config("SECOND")).await;
        let Err(err) = second else {
            panic!("max_streams: 1 must refuse a second stream");
        };
        assert!(
            err.to_string()
                .contains("maximum number of streams reached"),
            "{err}"
        );
    })
    .await;
}
