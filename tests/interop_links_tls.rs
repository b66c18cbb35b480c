//! `contrail serve` links over TLS, to hubs that serve their client port only over TLS (Debian's
//! nats-server 2.9, another contrail, and nats-server 2.14 when `CONTRAIL_NATS_SERVER_214`
//! names it): a `tls://` link that trusts the hub's CA carries a client's JetStream requests and
//! publishes to the hub; a link that trusts another CA, or that asks TLS of a plain hub, stays
//! down with a clear `last_error` at `/linkz` and in the log; a hub that verifies clients
//! admits the link with a client certificate and refuses it without one; a hub with
//! `handshake_first` is reached by a link that handshakes first; and a server that never
//! handshakes times the link out (the block's `timeout`), which then tries again.
//!
//! Each test makes its CA and the hub's and link's certificates with rcgen, in a temp dir. The
//! server under test is always contrail (links are its feature); every test runs against each
//! hub kind, so `CONTRAIL_INTEROP_SERVER` does not change what runs here.
//!
//! interop-passes: contrail-only (scripts/interop runs this suite once, in the contrail pass)

mod interop_support;

use std::time::Duration;

use async_nats::jetstream;
use interop_support::links::{
    self, assert_local_jetstream_answers, client_of, hub_with, watch_link,
};
use interop_support::pki::Pki;
use interop_support::{
    bounded, http_json, nats_server_214, start_raw, temp_dir, Kind, RawServer, TestServer,
};

/// What the link tests add to the shared test CA: the link's `tls { }` blocks.
impl Pki {
    /// A link's `tls { }` block that trusts this CA, with `extra` fields.
    fn link_block(&self, extra: &str) -> String {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {extra}")
        };
        format!("tls {{ ca_file: {:?}{extra} }}", self.ca)
    }

    /// The link's client certificate, as `tls` block fields.
    fn client_cert_fields(&self) -> String {
        format!(
            "cert_file: {:?}, key_file: {:?}",
            self.client_cert, self.client_key
        )
    }
}

/// A hub of `kind` with JetStream, the link's user, and `tls` (a `tls { }` block, or nothing).
fn hub(kind: Kind, tls: &str) -> TestServer {
    hub_with(kind, tls)
}

/// `kinds` and nats-server 2.14 when `CONTRAIL_NATS_SERVER_214` names it; says loudly that
/// `what` did not run when it does not.
fn with_214(mut kinds: Vec<Kind>, what: &str) -> Vec<Kind> {
    if nats_server_214().is_some() {
        kinds.push(Kind::NatsServer214);
    } else {
        eprintln!("!!! CONTRAIL_NATS_SERVER_214 is not set: {what} did NOT run");
    }
    kinds
}

/// The hub kinds every test runs against; says loudly when 2.14 is not among them.
fn hub_kinds() -> Vec<Kind> {
    with_214(
        vec![Kind::NatsServer, Kind::Contrail],
        "the links to nats-server 2.14",
    )
}

/// Runs `scenario` against a hub of each of `kinds`, one after the other, each within the
/// suite's time bound.
async fn on_each_hub<F: std::future::Future<Output = ()>>(
    kinds: Vec<Kind>,
    scenario: impl Fn(Kind) -> F,
) {
    for kind in kinds {
        eprintln!("hub: {kind:?}");
        bounded(scenario(kind)).await;
    }
}

/// `contrail serve` with `links` (the text of the block's entries) and monitoring on any port.
fn contrail_with_links(entries: &str) -> RawServer {
    links::contrail_with_links("tls-links", entries)
}

/// The link entry `hub` to `host:port` (logged in as the hub's user, `scheme` `tls` or
/// `nats`), for domain `hub`, forwarding `orders.>`, with `tls` (its `tls { }` block).
fn hub_entry(scheme: &str, host: &str, port: u16, tls: &str) -> String {
    format!(
        "{{ name: hub, url: \"{scheme}://leaf:s3cret@{host}:{port}\", domain: hub, \
         forward: [\"orders.>\"], {tls} }}"
    )
}

/// The link named `name` as `/linkz` of `server` shows it.
fn link_named(server: &RawServer, name: &str) -> serde_json::Value {
    let port = server.http.expect("monitoring is on").port();
    let linkz = http_json(port, "/linkz");
    linkz["links"]
        .as_array()
        .and_then(|links| links.iter().find(|l| l["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no link {name:?} at /linkz: {linkz}"))
}

/// Waits (bounded) until link `name` satisfies `ready`; returns it.
async fn link_when(
    server: &RawServer,
    name: &str,
    what: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let link = format!("link {name:?}");
    watch_link(&link, what, || link_named(server, name), ready).await
}

/// Waits (bounded) until link `name` is down with a `last_error` that contains `why`, and the
/// server's log says it cannot connect.
async fn down_because(server: &RawServer, name: &str, why: &str) -> serde_json::Value {
    let down = link_when(server, name, &format!("down with {why:?}"), |l| {
        l["last_error"]
            .as_str()
            .is_some_and(|e| e.to_ascii_lowercase().contains(why))
    })
    .await;
    assert_eq!(down["state"], "down", "{down}");
    let mut log = String::new();
    for _ in 0..100 {
        log = server.log();
        if log.contains("link cannot connect") && log.to_ascii_lowercase().contains(why) {
            return down;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the log never said why link {name:?} cannot connect ({why}):\n{log}");
}

/// A client of `server` makes a stream on the hub (domain `hub`) through the link, publishes
/// to it (`orders.>` is forwarded over the link), gets the hub's PubAck and reads the message back; `on_hub` (a client of the hub
/// itself) sees it there.
async fn jetstream_over_the_link(server: &RawServer, on_hub: async_nats::Client, stream: &str) {
    let client = client_of(server).await;
    let js = jetstream::with_domain(client, "hub");
    let subject = "orders.1";
    js.create_stream(jetstream::stream::Config {
        name: stream.into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .expect("the stream is created on the hub over the TLS link");
    let ack = js
        .publish(subject, "over tls".into())
        .await
        .expect("publish")
        .await
        .expect("the hub's PubAck comes back over the TLS link");
    assert_eq!((ack.stream.as_str(), ack.sequence), (stream, 1));
    let msg = js
        .get_stream(stream)
        .await
        .expect("stream info over the link")
        .get_raw_message(1)
        .await
        .expect("message 1 over the link");
    assert_eq!(&msg.payload[..], b"over tls");
    let mut there = jetstream::new(on_hub)
        .get_stream(stream)
        .await
        .expect("the stream is on the hub");
    assert_eq!(there.info().await.expect("info").state.messages, 1);
}

/// A client of the TLS hub itself (trusting `pki`'s CA), with `more` options.
async fn tls_client_of(
    hub: &TestServer,
    pki: &Pki,
    more: impl FnOnce(async_nats::ConnectOptions) -> async_nats::ConnectOptions,
) -> async_nats::Client {
    let options = async_nats::ConnectOptions::new()
        .add_root_certificates(pki.ca.clone())
        .require_tls(true)
        .user_and_password("leaf".into(), "s3cret".into())
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(5)));
    more(options)
        .connect(hub.url())
        .await
        .expect("connect to the hub")
}

async fn a_tls_link_carries_jetstream(kind: Kind) {
    let pki = Pki::new("links-tls-ok");
    let mut hub = hub(kind, &pki.server_block(""));
    let server = contrail_with_links(&hub_entry(
        "tls",
        "127.0.0.1",
        hub.port,
        &pki.link_block(""),
    ));
    let up = link_when(&server, "hub", "up", |l| l["state"] == "up").await;
    assert_eq!(up["url"], format!("tls://127.0.0.1:{}", hub.port), "{up}");
    jetstream_over_the_link(&server, tls_client_of(&hub, &pki, |o| o).await, "ORDERS").await;

    // The hub restarts on its port: the link comes back over TLS by itself.
    hub.restart(false);
    let again = link_when(&server, "hub", "up again", |l| {
        l["state"] == "up" && l["reconnects"].as_u64().is_some_and(|n| n >= 1)
    })
    .await;
    assert_eq!(again["url"], up["url"], "{again}");
    let js = jetstream::with_domain(client_of(&server).await, "hub");
    let stream = js
        .get_stream("ORDERS")
        .await
        .expect("stream info after the restart");
    assert_eq!(stream.cached_info().state.messages, 1);
}

#[tokio::test]
async fn a_tls_link_carries_jetstream_to_every_hub_kind() {
    on_each_hub(hub_kinds(), a_tls_link_carries_jetstream).await;
}

async fn an_untrusted_hub_keeps_the_link_down(kind: Kind) {
    let pki = Pki::new("links-tls-hub");
    let other = Pki::new("links-tls-other");
    let hub = hub(kind, &pki.server_block(""));
    // One link trusts another CA; one says nats:// with no block, so it upgrades because the
    // hub's INFO requires TLS, and trusts only the system's roots; one trusts the right CA but
    // expects another name.
    let server = contrail_with_links(&format!(
        "{{ name: wrong_ca, url: \"tls://leaf:s3cret@127.0.0.1:{port}\", {} }}\n\
         {{ name: system_roots, url: \"nats://leaf:s3cret@127.0.0.1:{port}\" }}\n\
         {{ name: wrong_name, url: \"tls://leaf:s3cret@127.0.0.1:{port}\", {} }}",
        other.link_block(""),
        pki.link_block("server_name: elsewhere.example"),
        port = hub.port,
    ));
    for name in ["wrong_ca", "system_roots", "wrong_name"] {
        let down = down_because(&server, name, "tls handshake").await;
        let error = down["last_error"].as_str().unwrap_or_default();
        eprintln!("{name}: {error}");
        assert!(error.contains("certificate"), "{name}: {down}");
    }
    // The link keeps trying (not stopped) and the server serves its own clients meanwhile.
    assert_eq!(link_named(&server, "wrong_ca")["state"], "down");
    assert_local_jetstream_answers(&server).await;
}

#[tokio::test]
async fn a_hub_signed_by_another_ca_keeps_the_link_down_with_a_clear_error() {
    on_each_hub(hub_kinds(), an_untrusted_hub_keeps_the_link_down).await;
}

async fn tls_asked_of_a_plain_hub(kind: Kind) {
    let pki = Pki::new("links-tls-plain");
    let hub = hub(kind, "");
    let server = contrail_with_links(&hub_entry(
        "tls",
        "127.0.0.1",
        hub.port,
        &pki.link_block(""),
    ));
    down_because(&server, "hub", "does not offer it").await;
}

#[tokio::test]
async fn tls_asked_of_a_plain_hub_is_refused_with_a_clear_error() {
    on_each_hub(hub_kinds(), tls_asked_of_a_plain_hub).await;
}

async fn mutual_tls(kind: Kind) {
    let pki = Pki::new("links-tls-mutual");
    let hub = hub(
        kind,
        &pki.server_block(&format!("ca_file: {:?}\n  verify: true", pki.ca)),
    );
    // The link with the certificate also checks the hub by a name of its certificate other
    // than the URL's host (`server_name`).
    let with_cert = pki.link_block(&format!(
        "server_name: localhost, {}",
        pki.client_cert_fields()
    ));
    let server = contrail_with_links(&format!(
        "{{ name: anonymous, url: \"tls://leaf:s3cret@127.0.0.1:{}\", {} }}\n{}",
        hub.port,
        pki.link_block(""),
        hub_entry("tls", "127.0.0.1", hub.port, &with_cert),
    ));
    link_when(&server, "hub", "up", |l| l["state"] == "up").await;
    jetstream_over_the_link(
        &server,
        tls_client_of(&hub, &pki, |o| {
            o.add_client_certificate(pki.client_cert.clone(), pki.client_key.clone())
        })
        .await,
        "MUTUAL",
    )
    .await;
    // Without a certificate the hub refuses the link (the handshake, or the first read after
    // it under TLS 1.3, fails): down, with the reason shown.
    let refused = link_when(&server, "anonymous", "refused", |l| {
        l["last_error"]
            .as_str()
            .is_some_and(|e| e.to_ascii_lowercase().contains("certificate"))
    })
    .await;
    assert_eq!(refused["state"], "down", "{refused}");
    eprintln!("without a certificate: {}", refused["last_error"]);
}

#[tokio::test]
async fn a_hub_that_verifies_clients_admits_the_link_with_its_certificate() {
    on_each_hub(hub_kinds(), mutual_tls).await;
}

async fn handshake_first(kind: Kind) {
    let pki = Pki::new("links-tls-first");
    let hub = hub(kind, &pki.server_block("handshake_first: true"));
    let tls = pki.link_block("handshake_first: true");
    let server = contrail_with_links(&hub_entry("nats", "localhost", hub.port, &tls));
    let up = link_when(&server, "hub", "up", |l| l["state"] == "up").await;
    assert_eq!(up["url"], format!("tls://localhost:{}", hub.port), "{up}");
    jetstream_over_the_link(
        &server,
        tls_client_of(&hub, &pki, |o| o.tls_first()).await,
        "FIRST",
    )
    .await;
}

#[tokio::test]
async fn a_hub_with_handshake_first_is_reached_by_a_link_that_handshakes_first() {
    // nats-server 2.9 has no handshake_first (2.10.? added it): contrail and 2.14 only.
    let kinds = with_214(
        vec![Kind::Contrail],
        "handshake_first with nats-server 2.14",
    );
    on_each_hub(kinds, handshake_first).await;
}

#[tokio::test]
async fn a_link_tls_block_with_a_missing_ca_stops_the_server_with_its_file_and_line() {
    let dir = temp_dir("tls-links-bad");
    let conf = dir.join("server.conf");
    let missing = dir.join("missing-ca.pem");
    let text = format!(
        "port: -1\nlinks [\n  {{ name: hub, url: \"tls://127.0.0.1:4222\",\n    tls {{ ca_file: {missing:?} }} }}\n]\n"
    );
    std::fs::write(&conf, text).expect("write the config");
    let err = match start_raw(Kind::Contrail, &conf, &[], &[]) {
        Ok(server) => panic!("started with a missing CA: {}", server.log()),
        Err(err) => err,
    };
    let at = format!("{}:4", conf.display());
    assert!(
        err.contains(&at) && err.contains(&*missing.to_string_lossy()),
        "{err}"
    );
}

#[tokio::test]
async fn a_hub_that_never_handshakes_times_the_link_out_and_it_retries() {
    bounded(async {
        // A "hub" that says INFO with tls_required, then never answers the handshake: the test
        // owns its listener (bound before anyone needs its port) and counts the link's tries.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let port = listener.local_addr().expect("address").port();
        let (tries, mut tried) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let info = "INFO {\"server_id\":\"SILENT\",\"version\":\"2.10.0\",\"proto\":1,\
                            \"headers\":true,\"max_payload\":1048576,\"tls_required\":true}\r\n";
                let _ = socket.write_all(info.as_bytes()).await;
                held.push(socket); // open and silent
                let _ = tries.send(());
            }
        });
        let pki = Pki::new("links-tls-silent");
        let server = contrail_with_links(&format!(
            "{{ name: hub, url: \"nats://127.0.0.1:{port}\", {} }}",
            pki.link_block("timeout: 0.5")
        ));
        let down = down_because(&server, "hub", "timed out").await;
        let error = down["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("TLS handshake"), "{down}");
        // It tries again by itself (backoff), and the server serves its clients meanwhile.
        for _ in 0..2 {
            tried.recv().await.expect("the link dials again");
        }
        assert_local_jetstream_answers(&server).await;
    })
    .await;
}
