//! The server's engine speaking first: a Contrail server (in this process) sends JetStream API
//! requests to itself (loopback through the server shell) and, over an attached link, to a
//! second server: contrail, or Debian's nats-server with `CONTRAIL_INTEROP_SERVER=nats-server`.
//! The replies come back through the engine's own inbox subscriptions; when the far server goes
//! away, the engine learns the link is down.

mod interop_support;

use std::time::Duration;

use contrail::core::engine::RequestError;
use contrail::core::link::{LinkConfig, LinkEvent};
use contrail::core::message::{Destination, LinkId, Message};
use contrail::server::config::ServerConfig;
use contrail::server::link::LinkHandle;
use contrail::server::Server;
use interop_support::{bounded, temp_dir, TestServer};

const WAIT: Duration = Duration::from_secs(5);

async fn local_server() -> Server {
    let config = ServerConfig {
        port: -1,
        store_dir: temp_dir("engine-link").join("store"),
        ..ServerConfig::default()
    };
    Server::start(config).await.expect("the server starts")
}

fn json(msg: &Message) -> serde_json::Value {
    serde_json::from_slice(&msg.payload).expect("a JSON reply")
}

fn stream_create(name: &str, subject: &str) -> Message {
    let body = serde_json::json!({"name": name, "subjects": [subject]}).to_string();
    Message::new(format!("$JS.API.STREAM.CREATE.{name}"), body)
}

/// A link to `far` that has completed its handshake.
async fn connected_link(far: &TestServer) -> LinkHandle {
    let mut link = LinkHandle::spawn(format!("127.0.0.1:{}", far.port), LinkConfig::default());
    tokio::time::timeout(WAIT, async {
        loop {
            match link.next_event().await {
                Some(LinkEvent::Connected(_)) => return,
                Some(_) => continue,
                None => panic!("the link task ended"),
            }
        }
    })
    .await
    .expect("the link connects");
    link
}

#[tokio::test]
async fn the_engine_requests_its_own_api_through_the_server() {
    bounded(async {
        let server = local_server().await;
        let js = &server.shared().js;
        let reply = js
            .engine_request(Destination::Local, stream_create("LOCAL", "local.>"), WAIT)
            .await
            .expect("the engine answers itself");
        assert_eq!(json(&reply)["config"]["name"], "LOCAL");

        // A client sees the stream the engine made, and the engine's API still serves clients.
        let client = async_nats::connect(server.client_addr.to_string())
            .await
            .expect("connect");
        let jetstream = async_nats::jetstream::new(client);
        let mut stream = jetstream.get_stream("LOCAL").await.expect("the stream");
        let info = stream.info().await.expect("stream info");
        assert_eq!(info.config.subjects, ["local.>"]);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_engine_requests_another_server_over_a_link_and_learns_when_it_goes() {
    bounded(async {
        let mut far = TestServer::start();
        let server = local_server().await;
        let js = &server.shared().js;
        let hub = LinkId(1);

        // Before the link is attached, a request there fails at once.
        let early = js
            .engine_request(Destination::Link(hub), stream_create("R", "r.>"), WAIT)
            .await;
        assert_eq!(early.map(|_| ()), Err(RequestError::LinkDown));

        js.attach_link(hub, connected_link(&far).await).await;
        let reply = js
            .engine_request(
                Destination::Link(hub),
                stream_create("REMOTE", "remote.>"),
                WAIT,
            )
            .await
            .expect("the far server answers over the link");
        assert_eq!(json(&reply)["config"]["name"], "REMOTE");

        // The stream exists on the far server, not here.
        let far_js = far.jetstream().await;
        far_js
            .get_stream("REMOTE")
            .await
            .expect("made on the far server");
        let here = async_nats::connect(server.client_addr.to_string())
            .await
            .expect("connect");
        let here_js = async_nats::jetstream::new(here);
        assert!(here_js.get_stream("REMOTE").await.is_err());

        // A subject nobody serves there: the far server's no-responders status is the reply.
        let nobody = js
            .engine_request(
                Destination::Link(hub),
                Message::new("nobody.home", ""),
                WAIT,
            )
            .await
            .expect("a status reply");
        let status = nobody.headers.expect("a status header");
        assert!(status.starts_with(b"NATS/1.0 503"), "{status:?}");

        // The far server goes away: requests fail as the link is down (bounded wait for the
        // disconnect to be noticed).
        far.stop(false);
        let mut down = false;
        for _ in 0..50 {
            let attempt = js
                .engine_request(
                    Destination::Link(hub),
                    Message::new("$JS.API.INFO", ""),
                    Duration::from_millis(200),
                )
                .await;
            if attempt == Err(RequestError::LinkDown) {
                down = true;
                break;
            }
        }
        assert!(down, "the engine learned the link is down");
        server.shutdown().await;
    })
    .await;
}
