//! Stream helpers the mirror and source suites share: create, read and wait on a stream through
//! `$JS.API` requests (the same on every server), publish with a PubAck, and a Contrail edge in
//! this process linked to a hub.

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::Context;
use contrail::core::link::{LinkConfig, LinkEvent};
use contrail::core::message::{Destination, LinkId};
use contrail::server::config::ServerConfig;
use contrail::server::link::LinkHandle;
use contrail::server::Server;
use serde_json::Value;

use super::{request_json, TestServer};

/// Longest a copy may take to catch up, or an origin to let go of what was copied.
pub const CATCH_UP: Duration = Duration::from_secs(30);

/// Creates a stream from its JSON config; the API's reply.
pub async fn create(client: &async_nats::Client, config: Value) -> Value {
    let name = config["name"].as_str().unwrap_or_default().to_string();
    request_json(client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await
}

/// Creates a stream, asserting the server took it.
pub async fn create_ok(client: &async_nats::Client, config: Value) {
    let reply = create(client, config.clone()).await;
    assert!(reply["error"].is_null(), "{config} refused: {reply}");
}

/// A stream's info as the API answers it.
pub async fn info(client: &async_nats::Client, stream: &str) -> Value {
    request_json(
        client,
        &format!("$JS.API.STREAM.INFO.{stream}"),
        Value::Null,
    )
    .await
}

/// Waits (at most [`CATCH_UP`]) until the stream's info satisfies `done`; returns that info.
pub async fn wait_info(
    client: &async_nats::Client,
    stream: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        let info = info(client, stream).await;
        if done(&info) {
            return info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{stream}: {what} not reached; last info: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last sequence in a stream info.
pub fn last_seq(info: &Value) -> u64 {
    info["state"]["last_seq"].as_u64().unwrap_or(0)
}

/// The message count in a stream info.
pub fn messages(info: &Value) -> u64 {
    info["state"]["messages"].as_u64().unwrap_or(0)
}

/// Publishes and waits for the PubAck; its sequence.
pub async fn publish(js: &Context, subject: &str, payload: impl AsRef<str>) -> u64 {
    js.publish(subject.to_string(), payload.as_ref().to_string().into())
        .await
        .expect("publish")
        .await
        .expect("puback")
        .sequence
}

/// A Contrail server in this process, storing in `store_dir`, with a link to `hub` that serves
/// `$JS.hub.API` (the sources' and mirrors' `domain: "hub"`).
pub async fn edge_linked_to(hub: &TestServer, store_dir: &Path) -> Server {
    let edge = Server::start(ServerConfig {
        port: -1,
        store_dir: store_dir.to_path_buf(),
        ..ServerConfig::default()
    })
    .await
    .expect("the edge starts");
    let mut link = LinkHandle::spawn(format!("127.0.0.1:{}", hub.port), LinkConfig::default());
    tokio::time::timeout(Duration::from_secs(5), async {
        while !matches!(
            link.next_event().await,
            Some(LinkEvent::Connected(_)) | None
        ) {}
    })
    .await
    .expect("the link connects");
    let js = &edge.shared().js;
    js.attach_link(LinkId(1), link).await;
    js.route_api("$JS.hub.API", Destination::Link(LinkId(1)))
        .await;
    edge
}
