//! HTTP monitoring: `/healthz`, `/varz`, `/connz`, `/jsz` answer with nats-server's field names
//! (checked against nats-server itself when the suite runs against it).

mod interop_support;

use interop_support::{bounded, http_get, http_json, round_trip, Options, TestServer};

fn monitored() -> TestServer {
    TestServer::start_with(Options {
        http: true,
        ..Default::default()
    })
}

#[tokio::test]
async fn healthz_says_ok() {
    let server = monitored();
    let port = server.http_port.expect("http");
    let health = http_json(port, "/healthz");
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn varz_reports_server_identity_limits_and_traffic() {
    let server = monitored();
    let port = server.http_port.expect("http");
    bounded(async {
        let client = server.client().await;
        client.publish("x", "12345".into()).await.expect("pub");
        round_trip(&client).await;
        let varz = http_json(port, "/varz");
        assert_eq!(varz["port"], server.port);
        assert_eq!(varz["max_payload"], 1024 * 1024);
        assert_eq!(varz["connections"], 1);
        assert!(varz["in_msgs"].as_u64().expect("in_msgs") >= 1);
        assert!(varz["in_bytes"].as_u64().expect("in_bytes") >= 5);
        for field in ["server_id", "version", "now", "start", "uptime"] {
            assert!(varz[field].is_string(), "varz.{field} missing: {varz}");
        }
        assert!(
            varz["jetstream"]["config"]["store_dir"].is_string(),
            "{varz}"
        );
    })
    .await;
}

#[tokio::test]
async fn connz_lists_live_connections_with_their_names() {
    let server = monitored();
    let port = server.http_port.expect("http");
    bounded(async {
        let client = async_nats::ConnectOptions::new()
            .name("monitored-client")
            .connect(server.url())
            .await
            .expect("connect");
        let _sub = client.subscribe("a.b").await.expect("sub");
        round_trip(&client).await;
        let connz = http_json(port, "/connz");
        assert_eq!(connz["num_connections"], 1, "{connz}");
        let conn = &connz["connections"][0];
        assert_eq!(conn["name"], "monitored-client");
        assert_eq!(conn["lang"], "rust");
        // a.b, and the inbox subscription async-nats made for the round trip.
        assert_eq!(conn["subscriptions"], 2);
        assert!(conn["cid"].is_u64() && conn["ip"].is_string(), "{conn}");
    })
    .await;
}

#[tokio::test]
async fn connz_counts_every_message_each_connection_sent_and_received() {
    use futures_util::StreamExt;
    let server = monitored();
    let port = server.http_port.expect("http");
    bounded(async {
        let named = |name: &'static str| {
            async_nats::ConnectOptions::new()
                .name(name)
                .connect(server.url())
        };
        let subscriber = named("counted-sub").await.expect("connect");
        let mut sub = subscriber.subscribe("count.me").await.expect("sub");
        subscriber.flush().await.expect("flush");
        let publisher = named("counted-pub").await.expect("connect");
        // Several reads' and several writes' worth, in bursts and one by one.
        for i in 0..300 {
            publisher
                .publish("count.me", "12345".into())
                .await
                .expect("pub");
            if i % 100 == 0 {
                publisher.flush().await.expect("flush");
            }
        }
        publisher.flush().await.expect("flush");
        for _ in 0..300 {
            sub.next().await.expect("delivery");
        }
        let connz = http_json(port, "/connz");
        let conn = |name: &str| {
            connz["connections"]
                .as_array()
                .and_then(|all| all.iter().find(|c| c["name"] == name))
                .unwrap_or_else(|| panic!("{name} in {connz}"))
                .clone()
        };
        let (publisher, subscriber) = (conn("counted-pub"), conn("counted-sub"));
        assert_eq!(publisher["in_msgs"], 300, "{publisher}");
        assert_eq!(publisher["in_bytes"], 1500, "{publisher}");
        assert_eq!(subscriber["out_msgs"], 300, "{subscriber}");
        assert_eq!(subscriber["out_bytes"], 1500, "{subscriber}");
    })
    .await;
}

#[tokio::test]
async fn jsz_details_streams_and_consumers() {
    let server = monitored();
    let port = server.http_port.expect("http");
    bounded(async {
        let js = server.jetstream().await;
        let stream = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: "MON".into(),
                subjects: vec!["mon.>".into()],
                storage: async_nats::jetstream::stream::StorageType::Memory,
                ..Default::default()
            })
            .await
            .expect("stream");
        js.publish("mon.1", "x".into())
            .await
            .expect("pub")
            .await
            .expect("ack");
        stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                durable_name: Some("C".into()),
                ..Default::default()
            })
            .await
            .expect("consumer");
        let jsz = http_json(port, "/jsz?streams=true&consumers=true");
        assert_eq!(jsz["streams"], 1, "{jsz}");
        assert_eq!(jsz["consumers"], 1, "{jsz}");
        assert_eq!(jsz["messages"], 1, "{jsz}");
        let detail = &jsz["account_details"][0]["stream_detail"][0];
        assert_eq!(detail["name"], "MON", "{jsz}");
        assert_eq!(detail["state"]["messages"], 1, "{jsz}");
        assert_eq!(detail["consumer_detail"][0]["name"], "C", "{jsz}");
    })
    .await;
}

#[test]
fn unknown_paths_are_not_found() {
    let server = monitored();
    let (status, _) = http_get(server.http_port.expect("http"), "/no/such/page.html");
    assert_eq!(status, 404);
}

#[tokio::test]
async fn varz_tells_where_websocket_clients_connect() {
    let server = TestServer::start_with(Options {
        http: true,
        websocket: true,
        ..Default::default()
    });
    let varz = http_json(server.http_port.expect("http"), "/varz");
    assert_eq!(
        varz["websocket"]["port"],
        server.ws_port.expect("ws"),
        "{varz}"
    );
}
