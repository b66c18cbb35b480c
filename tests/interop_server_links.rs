//! `contrail serve` with a `links` block: the server links to a hub (Debian's nats-server, nats-server
//! 2.14 when `CONTRAIL_NATS_SERVER_214` names it, and another contrail), and a client of the
//! Contrail server uses the hub's JetStream through it as leaf-node users do, with
//! `jetstream::with_domain(client, "hub")`. `/linkz` follows the link down when the hub is
//! killed and up again when it restarts on the same port; wrong credentials show as its last
//! error; a bad link entry is refused with its file and line. And what links are for: the
//! server mirrors a hub's stream (`mirror: {domain: hub}`) through the configured link, and its
//! clients use a durable pull consumer of a hub stream through it (batches, acks, naks, double
//! acks, `+NXT`, expiring pulls) as through a leaf node.
//!
//! The server under test is always contrail (links are its feature); the hubs are every kind,
//! so `CONTRAIL_INTEROP_SERVER` does not change what runs here.
//!
//! interop-passes: contrail-only (scripts/interop runs this suite once, in the contrail pass)

mod interop_support;

use std::time::Duration;

use async_nats::jetstream;
use interop_support::links::{
    self, assert_local_jetstream_answers, client_of, hub_with, watch_link,
};
use interop_support::{
    bounded, http_json, nats_server_214, start_raw, temp_dir, Kind, Options, RawServer, TestServer,
};

/// A hub of `kind` with JetStream and a user the link logs in as.
fn hub(kind: Kind) -> TestServer {
    hub_with(kind, "")
}

/// `contrail serve` with `links` (the text of the block's entries) and monitoring on any port.
fn contrail_with_links(entries: &str) -> RawServer {
    links::contrail_with_links("server-links", entries)
}

/// The one link `/linkz` of `server` lists.
fn the_link(server: &RawServer) -> serde_json::Value {
    let port = server.http.expect("monitoring is on").port();
    let linkz = http_json(port, "/linkz");
    let links = linkz["links"].as_array().expect("a links list").clone();
    assert_eq!(links.len(), 1, "{linkz}");
    links[0].clone()
}

/// Waits (bounded) until the link satisfies `ready`; returns it.
async fn link_when(
    server: &RawServer,
    what: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    watch_link("the link", what, || the_link(server), ready).await
}

/// `contrail serve` with one link, `hub`, to `hub` logged in as the hub's user, with `fields`
/// (more of the entry's fields) as well.
fn contrail_linked_to(hub: &TestServer, fields: &str) -> RawServer {
    contrail_with_links(&format!(
        "{{ name: hub, url: \"nats://leaf:s3cret@127.0.0.1:{}\", {fields} }}",
        hub.port
    ))
}

/// Creates the stream `name` capturing `subjects` through `js` (file storage, the default).
async fn create_stream(
    js: &jetstream::Context,
    name: &str,
    subjects: &str,
) -> jetstream::stream::Stream {
    js.create_stream(jetstream::stream::Config {
        name: name.into(),
        subjects: vec![subjects.into()],
        ..Default::default()
    })
    .await
    .unwrap_or_else(|err| panic!("the stream {name} is created: {err}"))
}

/// The hub's account info, asked through the link of `client`'s server as `$JS.hub.API.INFO`;
/// asserts it is the hub's (it has limits).
async fn hub_account_info(client: &async_nats::Client) -> serde_json::Value {
    let reply = client
        .request("$JS.hub.API.INFO", "".into())
        .await
        .expect("the hub answers through the link");
    let info: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON");
    assert!(info["limits"].is_object(), "{info}");
    info
}

/// Whether nats-server 2.14 is there to compare with; says loudly that `what` did not run when
/// it is not.
fn has_214(what: &str) -> bool {
    if nats_server_214().is_none() {
        eprintln!("!!! CONTRAIL_NATS_SERVER_214 is not set: {what} did NOT run");
        return false;
    }
    true
}

/// The whole story against one hub kind.
async fn the_hubs_jetstream_through_a_link(kind: Kind) {
    let mut hub = hub(kind);
    let server = contrail_linked_to(&hub, "domain: hub, forward: [\"orders.>\"]");
    let up = link_when(&server, "up", |l| l["state"] == "up").await;
    assert_eq!(up["url"], format!("nats://127.0.0.1:{}", hub.port), "{up}");
    assert!(
        !up.to_string().contains("s3cret"),
        "no credentials shown: {up}"
    );
    assert!(
        up["server_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{up}"
    );
    assert!(
        up["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{up}"
    );
    let varz = http_json(server.http.expect("monitoring").port(), "/varz");
    assert_eq!(varz["links"], 1, "{varz}");

    // A client of contrail makes a stream on the hub, publishes to it and reads it back.
    let client = client_of(&server).await;
    let js = jetstream::with_domain(client.clone(), "hub");
    create_stream(&js, "ORDERS", "orders.>").await;
    let ack = js
        .publish("orders.1", "first".into())
        .await
        .expect("publish")
        .await
        .expect("the hub's PubAck comes back");
    assert_eq!((ack.stream.as_str(), ack.sequence), ("ORDERS", 1));
    let stream = js
        .get_stream("ORDERS")
        .await
        .expect("stream info via the link");
    let msg = stream
        .get_raw_message(1)
        .await
        .expect("message 1 via the link");
    assert_eq!(&msg.payload[..], b"first");

    // Publishes sent without waiting for their acks keep their order over the link.
    let mut acks = Vec::new();
    for i in 2..=51 {
        let ack = js
            .publish(format!("orders.{i}"), format!("order {i}").into())
            .await
            .expect("publish");
        acks.push(ack);
    }
    for (ack, expected) in acks.into_iter().zip(2..) {
        assert_eq!(ack.await.expect("a PubAck").sequence, expected);
    }

    // It lives on the hub, not here, in the order it was sent.
    let on_hub = jetstream::new(hub.login("leaf", "s3cret").await);
    let mut hub_stream = on_hub.get_stream("ORDERS").await.expect("on the hub");
    assert_eq!(hub_stream.info().await.expect("info").state.messages, 51);
    for seq in 2..=51u64 {
        let msg = hub_stream.get_raw_message(seq).await.expect("on the hub");
        assert_eq!(msg.subject.as_str(), format!("orders.{seq}"));
    }
    assert!(jetstream::new(client.clone())
        .get_stream("ORDERS")
        .await
        .is_err());

    // The hub dies: the link is down with a reason, and requests there get 503 at once.
    hub.stop(false);
    let down = link_when(&server, "down", |l| l["state"] == "down").await;
    assert!(
        down["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{down}"
    );
    let refused = client.request("$JS.hub.API.INFO", "".into()).await;
    match refused {
        Err(err) => assert_eq!(
            err.kind(),
            async_nats::RequestErrorKind::NoResponders,
            "{err}"
        ),
        Ok(msg) => panic!("an answer from a dead hub: {msg:?}"),
    }

    // Back on the same port: the link reconnects by itself and the stream is there.
    hub.restart(false);
    let again = link_when(&server, "up again", |l| l["state"] == "up").await;
    assert!(
        again["reconnects"].as_u64().is_some_and(|n| n >= 1),
        "{again}"
    );
    let stream = js
        .get_stream("ORDERS")
        .await
        .expect("stream info after the restart");
    let msg = stream
        .get_raw_message(1)
        .await
        .expect("message 1 after the restart");
    assert_eq!(&msg.payload[..], b"first");
    let linkz = the_link(&server);
    assert!(linkz["out_msgs"].as_u64().is_some_and(|n| n > 0), "{linkz}");
    assert!(linkz["in_msgs"].as_u64().is_some_and(|n| n > 0), "{linkz}");
}

#[tokio::test]
async fn a_debian_nats_server_hubs_jetstream_through_a_link() {
    bounded(the_hubs_jetstream_through_a_link(Kind::NatsServer)).await;
}

#[tokio::test]
async fn a_nats_server_214_hubs_jetstream_through_a_link() {
    if !has_214("the link to nats-server 2.14") {
        return;
    }
    bounded(the_hubs_jetstream_through_a_link(Kind::NatsServer214)).await;
}

#[tokio::test]
async fn a_contrail_hubs_jetstream_through_a_link() {
    bounded(the_hubs_jetstream_through_a_link(Kind::Contrail)).await;
}

#[tokio::test]
async fn wrong_credentials_are_the_links_last_error_and_the_server_serves_on() {
    bounded(async {
        let hub = hub(interop_support::kind());
        let server = contrail_with_links(&format!(
            "{{ name: hub, url: \"nats://127.0.0.1:{}\", user: leaf, password: wrong, domain: hub }}",
            hub.port
        ));
        let refused = link_when(&server, "refused", |l| {
            l["last_error"]
                .as_str()
                .is_some_and(|e| e.to_ascii_lowercase().contains("authorization"))
        })
        .await;
        assert_ne!(refused["state"], "up", "{refused}");
        // The server is alive and still answers its own clients.
        assert_local_jetstream_answers(&server).await;
    })
    .await;
}

#[tokio::test]
async fn a_bad_link_entry_is_refused_with_its_file_and_line() {
    let dir = temp_dir("server-links-bad");
    let conf = dir.join("server.conf");
    let text = "port: -1\nlinks [\n  { name: hub, url: \"nats://127.0.0.1:4222\" }\n  { name: bad, url: \"http://127.0.0.1:4222\" }\n]\n";
    std::fs::write(&conf, text).expect("write the config");
    let err = match start_raw(Kind::Contrail, &conf, &[], &[]) {
        Ok(server) => panic!("started with a bad link: {}", server.log()),
        Err(err) => err,
    };
    let at = format!("{}:4", conf.display());
    assert!(err.contains(&at) && err.contains("scheme"), "{err}");
}

#[tokio::test]
async fn the_link_flag_opens_one_link_named_link() {
    bounded(async {
        let hub = hub(Kind::Contrail);
        let dir = temp_dir("server-links-flag");
        let conf = dir.join("server.conf");
        std::fs::write(&conf, "# links from the command line only\n").expect("write the config");
        let url = format!("nats://leaf:s3cret@127.0.0.1:{}", hub.port);
        let args = [
            "-p",
            "-1",
            "-m",
            "-1",
            "--link",
            &url,
            "--link_domain",
            "hub",
        ];
        let server = start_raw(Kind::Contrail, &conf, &args, &[])
            .unwrap_or_else(|err| panic!("contrail starts with --link: {err}"));
        let up = link_when(&server, "up", |l| l["state"] == "up").await;
        assert_eq!(
            (&up["name"], &up["domain"]),
            (&"link".into(), &"hub".into()),
            "{up}"
        );
        let client = client_of(&server).await;
        let info = jetstream::with_domain(client, "hub")
            .query_account()
            .await
            .expect("the hub's account info through the link");
        assert_eq!(info.streams, 0);
    })
    .await;
}

/// The engine of the linked account reaches the hub as `Destination::Link`: what mirrors and
/// sources with `domain: hub` will use.
#[tokio::test]
async fn the_accounts_engine_reaches_the_hub_over_the_configured_link() {
    use contrail::core::message::{Destination, LinkId, Message};
    bounded(async {
        let hub = hub(interop_support::kind());
        let url = format!("nats://leaf:s3cret@127.0.0.1:{}", hub.port);
        let link = contrail::server::config::links::from_flag(&url, Some("hub"), Some("hub"))
            .expect("a valid link");
        let config = contrail::server::config::ServerConfig {
            port: -1,
            store_dir: temp_dir("server-links-engine").join("store"),
            links: vec![link],
            ..Default::default()
        };
        let server = contrail::server::Server::start(config)
            .await
            .expect("the server starts");
        let js = &server.shared().js;
        let mut answer = None;
        for _ in 0..100 {
            // As a mirror with `domain: hub` asks; the hub has no domain, so the link renames
            // it to the hub's `$JS.API` (unrenamed, the hub would answer 503).
            let request = Message::new("$JS.hub.API.INFO", "");
            match js
                .engine_request(
                    Destination::Link(LinkId(1)),
                    request,
                    Duration::from_secs(2),
                )
                .await
            {
                Ok(reply) => {
                    answer = Some(reply);
                    break;
                }
                // Until the link's handshake is done.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let reply = answer.expect("the hub answers the engine over the link");
        let info: serde_json::Value =
            serde_json::from_slice(&reply.payload).expect("account info JSON");
        assert!(info["limits"].is_object(), "{info}");
        server.shutdown().await;
    })
    .await;
}

/// A hub with a JetStream domain of its own (`central`): the link maps the local domain `hub`
/// to the hub's `$JS.central.API` (`remote_api`), which the hub serves and `$JS.hub.API` would
/// not be.
#[tokio::test]
async fn remote_api_maps_the_local_domain_to_the_hubs_own() {
    bounded(async {
        let hub = hub_with(Kind::NatsServer, "jetstream { domain: central }\n");
        let server = contrail_linked_to(&hub, "domain: hub, remote_api: \"$JS.central.API\"");
        link_when(&server, "up", |l| l["state"] == "up").await;
        let js = jetstream::with_domain(client_of(&server).await, "hub");
        create_stream(&js, "MAPPED", "mapped.>").await;
        let on_hub = jetstream::with_domain(hub.login("leaf", "s3cret").await, "central");
        on_hub.get_stream("MAPPED").await.expect("on the hub");
    })
    .await;
}

/// A link belongs to one account: its clients reach the hub (even without JetStream of their
/// own: no engine owns that link), another account's clients do not.
#[tokio::test]
async fn a_link_serves_its_own_account_only() {
    bounded(async {
        let hub = hub(interop_support::kind());
        let dir = temp_dir("server-links-accounts");
        let conf = dir.join("server.conf");
        let text = format!(
            "accounts {{\n  A: {{ users: [ {{ user: a, password: a }} ] }}\n  \
             B: {{ users: [ {{ user: b, password: b }} ] }}\n}}\n\
             links [ {{ name: hub, url: \"nats://leaf:s3cret@127.0.0.1:{}\", domain: hub, \
             account: A }} ]\n",
            hub.port
        );
        std::fs::write(&conf, text).expect("write the config");
        let server = start_raw(Kind::Contrail, &conf, &["-p", "-1", "-m", "-1"], &[])
            .unwrap_or_else(|err| panic!("contrail starts: {err}"));
        link_when(&server, "up", |l| l["state"] == "up" && l["account"] == "A").await;
        let login = |user: &'static str| {
            async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
                .connection_timeout(Duration::from_secs(5))
                .request_timeout(Some(Duration::from_secs(2)))
                .connect(server.client.to_string())
        };
        // A raw `$JS.API.INFO` (async-nats cannot read 2.9.10's account info).
        let info_of = |reply: async_nats::Message| -> serde_json::Value {
            serde_json::from_slice(&reply.payload).expect("account info JSON")
        };
        let a = login("a").await.expect("a logs in");
        let info = a
            .request("$JS.hub.API.INFO", "".into())
            .await
            .expect("account A reaches the hub's JetStream");
        let info = info_of(info);
        assert!(
            info["limits"].is_object() && info["error"].is_null(),
            "{info}"
        );
        let b = login("b").await.expect("b logs in");
        let not_b = match b.request("$JS.hub.API.INFO", "".into()).await {
            Ok(reply) => info_of(reply),
            Err(err) => serde_json::json!({ "request": err.to_string() }),
        };
        // B has no JetStream here and no link: an error, never the hub's account info.
        assert!(
            !not_b["limits"].is_object(),
            "account B must not use A's link: {not_b}"
        );
    })
    .await;
}

/// `forward` subjects: a plain publish reaches the hub's subscribers; requests wait for the
/// hub's responder, at most 256 at once per link, and the one past that is answered 503 at once
/// instead of queueing without bound.
#[tokio::test]
async fn forwarded_requests_are_capped_per_link() {
    use futures_util::StreamExt;
    bounded(async {
        let hub = hub(interop_support::kind());
        let server = contrail_linked_to(&hub, "forward: [\"slow.>\"]");
        link_when(&server, "up", |l| l["state"] == "up").await;
        // A responder that takes every request and never answers.
        let far = hub.login("leaf", "s3cret").await;
        let mut taken = far.subscribe("slow.>").await.expect("subscribe on the hub");
        far.flush().await.expect("the subscription is in place");

        let client = async_nats::ConnectOptions::new()
            .request_timeout(Some(Duration::from_secs(60)))
            .connect(server.client.to_string())
            .await
            .expect("connect to contrail");
        client
            .publish("slow.plain", "hello".into())
            .await
            .expect("publish");
        let plain = taken
            .next()
            .await
            .expect("the plain publish reaches the hub");
        assert_eq!(
            (plain.subject.as_str(), plain.reply.is_none()),
            ("slow.plain", true)
        );

        let mut waiting = Vec::new();
        for i in 0..256 {
            let client = client.clone();
            waiting.push(tokio::spawn(async move {
                let _ = client.request(format!("slow.{i}"), "".into()).await;
            }));
        }
        for _ in 0..256 {
            let request = taken.next().await.expect("each request reaches the hub");
            assert!(request.reply.is_some(), "{request:?}");
        }
        let past_the_cap = client.request("slow.more", "".into()).await;
        match past_the_cap {
            Err(err) => assert_eq!(
                err.kind(),
                async_nats::RequestErrorKind::NoResponders,
                "{err}"
            ),
            Ok(msg) => panic!("an answer nobody sent: {msg:?}"),
        }
        for task in waiting {
            task.abort();
        }
    })
    .await;
}

/// A link logs in with an nkey from a seed file (`nkey_file`), signing the hub's nonce.
#[tokio::test]
async fn a_link_logs_in_with_an_nkey_seed_file() {
    bounded(async {
        let user = nkeys::KeyPair::new_user();
        let hub = TestServer::start_kind(
            interop_support::kind(),
            Options {
                config: Some(format!(
                    "authorization {{ users = [ {{ nkey: {} }} ] }}\n",
                    user.public_key()
                )),
                ..Options::default()
            },
        );
        let dir = temp_dir("server-links-nkey");
        let seed = dir.join("link.nk");
        let seed_text = user.seed().expect("a seed");
        std::fs::write(&seed, format!("# the link's user\n{seed_text}\n")).expect("write the seed");
        let server = contrail_with_links(&format!(
            "{{ name: hub, url: \"nats://127.0.0.1:{}\", nkey_file: \"{}\", domain: hub }}",
            hub.port,
            seed.display()
        ));
        let up = link_when(&server, "up", |l| l["state"] == "up").await;
        assert!(up["last_error"].is_null(), "{up}");
        hub_account_info(&client_of(&server).await).await;
    })
    .await;
}

/// What the links are for: `contrail serve` with a `links` block mirrors a stream of a hub
/// that has no JetStream domain (`mirror: {name, domain: hub}`; the link renames the engine's
/// `$JS.hub.API` requests to the hub's `$JS.API`), and follows it.
async fn a_mirror_of_a_hub_stream_through_the_configured_link(kind: Kind) {
    let hub = hub(kind);
    let hub_js = jetstream::new(hub.login("leaf", "s3cret").await);
    create_stream(&hub_js, "O", "o.>").await;
    for i in 1..=20 {
        hub_js
            .publish(format!("o.{i}"), format!("m{i}").into())
            .await
            .expect("publish")
            .await
            .expect("stored on the hub");
    }
    let server = contrail_linked_to(&hub, "domain: hub");
    link_when(&server, "up", |l| l["state"] == "up").await;
    let js = jetstream::new(client_of(&server).await);
    let mirror = serde_json::json!({"name": "M", "mirror": {"name": "O", "domain": "hub"}});
    let reply = js
        .client()
        .request("$JS.API.STREAM.CREATE.M", mirror.to_string().into())
        .await
        .expect("the mirror is created here");
    let created: serde_json::Value = serde_json::from_slice(&reply.payload).expect("JSON");
    assert!(created["error"].is_null(), "{created}");

    let copied = |want: u64| {
        let js = js.clone();
        async move {
            for _ in 0..300 {
                let mut stream = js.get_stream("M").await.expect("the mirror");
                if stream.info().await.expect("info").state.last_sequence == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the mirror never reached sequence {want}");
        }
    };
    copied(20).await;
    hub_js
        .publish("o.21", "m21".into())
        .await
        .expect("publish")
        .await
        .expect("stored on the hub");
    copied(21).await;
    let stream = js.get_stream("M").await.expect("the mirror");
    for seq in [1u64, 20, 21] {
        let msg = stream
            .get_raw_message(seq)
            .await
            .expect("a mirrored message");
        assert_eq!(&msg.payload[..], format!("m{seq}").as_bytes());
    }
}

#[tokio::test]
async fn a_debian_nats_server_stream_is_mirrored_through_the_configured_link() {
    bounded(a_mirror_of_a_hub_stream_through_the_configured_link(
        Kind::NatsServer,
    ))
    .await;
}

#[tokio::test]
async fn a_contrail_stream_is_mirrored_through_the_configured_link() {
    bounded(a_mirror_of_a_hub_stream_through_the_configured_link(
        Kind::Contrail,
    ))
    .await;
}

#[tokio::test]
async fn a_nats_server_214_stream_is_mirrored_through_the_configured_link() {
    if !has_214("the mirror of a nats-server 2.14 stream through a link") {
        return;
    }
    bounded(a_mirror_of_a_hub_stream_through_the_configured_link(
        Kind::NatsServer214,
    ))
    .await;
}

/// A hub that is not there when the server starts: the server starts anyway, the link says why
/// it is down, and comes up by itself when the hub starts (on the port it had before).
#[tokio::test]
async fn a_link_to_a_hub_not_yet_running_comes_up_when_it_starts() {
    bounded(async {
        let mut hub = hub(interop_support::kind());
        hub.stop(false);
        let server = contrail_linked_to(&hub, "domain: hub");
        let down = link_when(&server, "refused", |l| !l["last_error"].is_null()).await;
        assert_eq!(down["state"], "down", "{down}");
        hub.restart(false);
        let up = link_when(&server, "up", |l| l["state"] == "up").await;
        assert_eq!(
            up["reconnects"], 0,
            "the first connection is not a reconnect: {up}"
        );
        hub_account_info(&client_of(&server).await).await;
    })
    .await;
}

/// The next `n` messages of `batch`, each within a bound; fails on a missing one or an error.
async fn take_messages(
    batch: &mut jetstream::consumer::pull::Batch,
    n: usize,
) -> Vec<jetstream::Message> {
    use futures_util::StreamExt;
    let mut got = Vec::new();
    while got.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), batch.next())
            .await
            .unwrap_or_else(|_| panic!("message {} of {n} never came", got.len() + 1));
        match next {
            Some(Ok(msg)) => got.push(msg),
            Some(Err(err)) => panic!("the batch failed after {} messages: {err}", got.len()),
            None => panic!("the batch ended after {} of {n} messages", got.len()),
        }
    }
    got
}

/// Publishes `job <i>` to `work.<i>` for each of `numbers`, each with its PubAck.
async fn publish_jobs(js: &jetstream::Context, numbers: std::ops::RangeInclusive<u32>) {
    for i in numbers {
        js.publish(format!("work.{i}"), format!("job {i}").into())
            .await
            .expect("publish")
            .await
            .expect("PubAck");
    }
}

/// The one message a fetch of one (expiring in 5 s) brings.
async fn fetch_one(consumer: &jetstream::consumer::PullConsumer) -> jetstream::Message {
    let mut one = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("pull");
    take_messages(&mut one, 1).await.remove(0)
}

/// The hub's own view of the consumer, once `ready` holds (bounded wait).
async fn hub_consumer_when(
    on_hub: &jetstream::Context,
    what: &str,
    ready: impl Fn(&jetstream::consumer::Info) -> bool,
) -> jetstream::consumer::Info {
    let stream = on_hub
        .get_stream("WORK")
        .await
        .expect("the stream on the hub");
    let mut last = None;
    for _ in 0..100 {
        let mut consumer: jetstream::consumer::PullConsumer = stream
            .get_consumer("worker")
            .await
            .expect("the consumer on the hub");
        let info = consumer.info().await.expect("consumer info").clone();
        if ready(&info) {
            return info;
        }
        last = Some(info);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the hub's consumer never showed {what}: {last:?}");
}

/// A durable pull consumer of a hub stream used through the link as through a leaf node: a
/// batch of 10 arrives whole, acks reach the hub's consumer, a nak is redelivered, a double
/// ack is answered, and a fetch that expires ends cleanly.
async fn a_pull_consumer_of_a_hub_stream_through_the_link(kind: Kind) {
    use jetstream::consumer::{pull, AckPolicy};
    let hub = hub(kind);
    let server = contrail_linked_to(&hub, "domain: hub, forward: [\"work.>\"]");
    link_when(&server, "up", |l| l["state"] == "up").await;
    let client = client_of(&server).await;
    let js = jetstream::with_domain(client.clone(), "hub");
    let stream = create_stream(&js, "WORK", "work.>").await;
    publish_jobs(&js, 1..=10).await;
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("worker".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("the durable pull consumer is created on the hub");

    // A batch of 10: every message arrives, in order, through the link.
    let mut batch = consumer
        .batch()
        .max_messages(10)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("the pull request is sent");
    let msgs = take_messages(&mut batch, 10).await;
    let payloads: Vec<String> = msgs
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    let expected: Vec<String> = (1..=10).map(|i| format!("job {i}")).collect();
    assert_eq!(payloads, expected);
    for msg in &msgs {
        let info = msg
            .info()
            .expect("a JetStream ack subject the client reads");
        assert_eq!((info.stream, info.consumer), ("WORK", "worker"));
    }

    // Acks go to the hub's consumer (not to this server's engine).
    for msg in &msgs {
        msg.ack().await.expect("ack");
    }
    let on_hub = jetstream::new(hub.login("leaf", "s3cret").await);
    let info = hub_consumer_when(&on_hub, "ack floor 10", |i| {
        i.ack_floor.consumer_sequence == 10 && i.num_ack_pending == 0
    })
    .await;
    assert_eq!(info.ack_floor.stream_sequence, 10, "{info:?}");
    assert_eq!(info.num_pending, 0, "{info:?}");

    // A nak: the hub redelivers the message.
    publish_jobs(&js, 11..=11).await;
    let job = fetch_one(&consumer).await;
    assert_eq!(job.info().expect("info").stream_sequence, 11);
    job.ack_with(jetstream::AckKind::Nak(None))
        .await
        .expect("nak");
    let redelivered = fetch_one(&consumer).await;
    let info = redelivered.info().expect("info");
    assert_eq!((info.stream_sequence, info.delivered), (11, 2));

    // A double ack (an ack awaiting the hub's answer) is answered.
    redelivered
        .double_ack()
        .await
        .expect("the hub answers the double ack");
    let info = hub_consumer_when(&on_hub, "ack floor 11", |i| {
        i.ack_floor.stream_sequence == 11 && i.num_ack_pending == 0
    })
    .await;
    assert_eq!(info.num_redelivered, 0, "{info:?}");

    // `+NXT` with its own reply: the ack is taken and the next message is the answer, with its
    // own ack subject leading back to the hub.
    publish_jobs(&js, 12..=13).await;
    let twelve = fetch_one(&consumer).await;
    assert_eq!(&twelve.payload[..], b"job 12");
    let ack_subject = twelve.reply.clone().expect("an ack subject");
    let thirteen = client
        .request(ack_subject, "+NXT".into())
        .await
        .expect("+NXT is answered with the next message");
    assert_eq!(&thirteen.payload[..], b"job 13");
    let next_ack = thirteen.reply.clone().expect("its ack subject");
    client
        .publish(next_ack, "+ACK".into())
        .await
        .expect("ack 13");
    client.flush().await.expect("flush");
    hub_consumer_when(&on_hub, "ack floor 13", |i| {
        i.ack_floor.stream_sequence == 13 && i.num_ack_pending == 0 && i.num_pending == 0
    })
    .await;

    // A pull its client walks away from ends: the relay notices the lost interest and the
    // hub's consumer stops holding the request (it would take the next message otherwise).
    let inbox = client.new_inbox();
    let mut abandoned = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish_with_reply(
            "$JS.hub.API.CONSUMER.MSG.NEXT.WORK.worker",
            inbox,
            r#"{"batch":5}"#.into(),
        )
        .await
        .expect("pull");
    client.flush().await.expect("flush");
    hub_consumer_when(&on_hub, "the pull waiting", |i| i.num_waiting == 1).await;
    abandoned.unsubscribe().await.expect("unsubscribe");
    client.flush().await.expect("flush");
    hub_consumer_when(&on_hub, "the abandoned pull gone", |i| i.num_waiting == 0).await;

    // A pull nothing can fill ends when it expires, with no message and no error.
    let mut empty = consumer
        .batch()
        .max_messages(5)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .expect("pull");
    let end = tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::StreamExt::next(&mut empty),
    )
    .await
    .expect("an expired pull ends within its bound");
    assert!(end.is_none(), "an expired pull ends cleanly: {end:?}");
}

#[tokio::test]
async fn a_debian_nats_server_pull_consumer_through_the_link() {
    bounded(a_pull_consumer_of_a_hub_stream_through_the_link(
        Kind::NatsServer,
    ))
    .await;
}

#[tokio::test]
async fn a_contrail_pull_consumer_through_the_link() {
    bounded(a_pull_consumer_of_a_hub_stream_through_the_link(
        Kind::Contrail,
    ))
    .await;
}

#[tokio::test]
async fn a_nats_server_214_pull_consumer_through_the_link() {
    if !has_214("the pull consumer of a nats-server 2.14 stream through a link") {
        return;
    }
    bounded(a_pull_consumer_of_a_hub_stream_through_the_link(
        Kind::NatsServer214,
    ))
    .await;
}
