//! What the `contrail serve` link suites share: a hub with the user the links log in as,
//! `contrail serve` started with a `links` block, a client of it, and a bounded watch of
//! `/linkz`.

use std::time::Duration;

use serde_json::Value;

use super::{start_raw, temp_dir, Kind, Options, RawServer, TestServer};

/// The hub's `authorization` block: the user (`leaf` / `s3cret`) every link logs in as.
pub const HUB_AUTH: &str = "authorization { user: leaf, password: s3cret }\n";

/// A hub of `kind` with JetStream, the links' user, and `config` (more of its config file, or
/// nothing).
pub fn hub_with(kind: Kind, config: &str) -> TestServer {
    TestServer::start_kind(
        kind,
        Options {
            config: Some(format!("{HUB_AUTH}{config}")),
            ..Options::default()
        },
    )
}

/// `contrail serve` with `links` (the text of the block's entries) and monitoring on any port;
/// `tag` names its temp dir.
pub fn contrail_with_links(tag: &str, entries: &str) -> RawServer {
    let dir = temp_dir(tag);
    let conf = dir.join("server.conf");
    std::fs::write(&conf, format!("links [\n{entries}\n]\n")).expect("write the config");
    start_raw(Kind::Contrail, &conf, &["-p", "-1", "-m", "-1"], &[])
        .unwrap_or_else(|err| panic!("contrail starts with the links config: {err}"))
}

/// A connected client of the contrail `server`.
pub async fn client_of(server: &RawServer) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(5)))
        .connect(server.client.to_string())
        .await
        .expect("connect to contrail")
}

/// Asserts `server` still answers its own clients: its local JetStream answers `$JS.API.INFO`.
pub async fn assert_local_jetstream_answers(server: &RawServer) {
    let info = client_of(server)
        .await
        .request("$JS.API.INFO", "".into())
        .await
        .expect("the local JetStream answers");
    assert!(!info.payload.is_empty());
}

/// Looks at a link (`look`, e.g. at `/linkz`) every 50 ms, at most 200 times, until it
/// satisfies `ready`; returns it. Fails naming the link `link` and the state `what` it waited
/// for, with the last look.
pub async fn watch_link(
    link: &str,
    what: &str,
    look: impl Fn() -> Value,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = look();
        if ready(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{link} never became {what}: {last}");
}
