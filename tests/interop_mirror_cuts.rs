//! A `contrail serve` process mirrors and sources a stream of a real nats-server hub (Debian's
//! 2.9.10, and 2.14 when `CONTRAIL_NATS_SERVER_214` names it) over a configured link, and comes
//! through what links meet in the field:
//! - the link runs through a loopback proxy the test owns, which cuts every connection at
//!   random (seeded, printed) points at least 50 times while a publisher keeps writing to the
//!   origin, and once refuses connections for longer than the origin's duplicate window; after
//!   that the mirror equals the origin sequence by sequence and the sourced stream holds each
//!   origin message exactly once, in order;
//! - the Contrail process is killed with SIGKILL mid catch-up of a 20,000-message origin and
//!   restarted on the same store: the mirror and the source complete with no gap and no
//!   duplicate.
//!
//! The server under test is always contrail; the hubs are nats-server, so
//! `CONTRAIL_INTEROP_SERVER` does not change what runs here.
//!
//! interop-passes: contrail-only (scripts/interop runs this suite once, in the contrail pass)

mod interop_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use futures_util::StreamExt;
use interop_support::proxy::Proxy;
use interop_support::{nats_server_214, start_raw, temp_dir, Kind, Options, RawServer, TestServer};

/// The origin's duplicate window: small, so an outage longer than it keeps the test short.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(1);

/// Runs `body` within `limit` (these tests run longer than the suite's usual bound).
async fn within<F: std::future::Future<Output = ()>>(limit: Duration, body: F) {
    tokio::time::timeout(limit, body)
        .await
        .expect("test exceeded its time bound");
}

/// `contrail serve` in `dir` (its store in `dir/data`) with one link, `hub`, to `port`.
fn contrail_linked_to(dir: &std::path::Path, port: u16) -> RawServer {
    let conf = dir.join("server.conf");
    let text = format!(
        "store_dir: \"{}\"\nlinks [\n  {{ name: hub, url: \"nats://127.0.0.1:{port}\", domain: hub }}\n]\n",
        dir.join("data").display()
    );
    std::fs::write(&conf, text).expect("write the config");
    start_raw(Kind::Contrail, &conf, &["-p", "-1"], &[])
        .unwrap_or_else(|err| panic!("contrail starts with the link: {err}"))
}

async fn client_of(addr: String) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(10)))
        .connect(addr)
        .await
        .expect("connect")
}

/// The origin `O` (subjects `o.>`, a small duplicate window) on the hub.
async fn origin_on(hub: &jetstream::Context) {
    hub.create_stream(jetstream::stream::Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await
    .expect("the origin on the hub");
}

/// Makes the mirror `M` and the sourced stream `S` of the hub's `O` on contrail.
async fn mirror_and_source(client: &async_nats::Client) {
    for config in [
        serde_json::json!({"name": "M", "mirror": {"name": "O", "domain": "hub"}}),
        serde_json::json!({"name": "S", "sources": [{"name": "O", "domain": "hub"}]}),
    ] {
        let name = config["name"].as_str().expect("a name").to_string();
        let reply = client
            .request(
                format!("$JS.API.STREAM.CREATE.{name}"),
                config.to_string().into(),
            )
            .await
            .expect("stream create answered");
        let created: serde_json::Value =
            serde_json::from_slice(&reply.payload).expect("create reply JSON");
        assert!(created["error"].is_null(), "{name}: {created}");
    }
}

/// (messages, last sequence) of `name`, or `None` while it cannot be read.
async fn state_of(js: &jetstream::Context, name: &str) -> Option<(u64, u64)> {
    let mut stream = js.get_stream(name).await.ok()?;
    let info = stream.info().await.ok()?;
    Some((info.state.messages, info.state.last_sequence))
}

/// Waits (bounded) until the mirror's last sequence is `last` and the sourced stream holds at
/// least `count` messages; says where they stood if they never get there.
async fn caught_up(js: &jetstream::Context, last: u64, count: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = (None, None);
    while tokio::time::Instant::now() < deadline {
        seen = (state_of(js, "M").await, state_of(js, "S").await);
        if let (Some((_, m_last)), Some((s_count, _))) = seen {
            if m_last == last && s_count >= count {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never caught up with {count} messages (last {last}): mirror, source = {seen:?}");
}

/// One message as read back: stream sequence, subject, payload.
type Read = (u64, String, Vec<u8>);

/// Every message of `name` (which holds `count`), in order, through an ephemeral pull consumer.
async fn read_all(js: &jetstream::Context, name: &str, count: u64) -> Vec<Read> {
    let stream = js.get_stream(name).await.expect("the stream");
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("a reader");
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1000)
        .messages()
        .await
        .expect("read");
    let mut out = Vec::new();
    while (out.len() as u64) < count {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("{name}: only {} of {count} read", out.len()))
            .expect("open")
            .expect("a message");
        let seq = msg.info().expect("a JetStream message").stream_sequence;
        out.push((seq, msg.subject.to_string(), msg.payload.to_vec()));
    }
    out
}

/// The mirror equals the origin sequence by sequence; the sourced stream holds each origin
/// message exactly once, in the origin's order.
async fn assert_copies(hub: &jetstream::Context, here: &jetstream::Context) {
    let (count, last) = state_of(hub, "O").await.expect("the origin's state");
    assert_eq!(count, last, "the origin has no gaps of its own");
    let origin = read_all(hub, "O", count).await;
    let mirror = read_all(here, "M", count).await;
    assert_eq!(
        state_of(here, "M").await.expect("the mirror's state"),
        (count, last),
        "the mirror holds exactly the origin's messages"
    );
    for (o, m) in origin.iter().zip(&mirror) {
        assert_eq!(o, m, "the mirror differs from the origin");
    }
    let (sourced_count, _) = state_of(here, "S").await.expect("the source's state");
    assert_eq!(
        sourced_count, count,
        "each origin message sourced exactly once"
    );
    let sourced = read_all(here, "S", count).await;
    let strip = |r: &Read| (r.1.clone(), r.2.clone());
    let want: Vec<_> = origin.iter().map(strip).collect();
    let got: Vec<_> = sourced.iter().map(strip).collect();
    if want != got {
        let first = want.iter().zip(&got).position(|(w, g)| w != g);
        panic!("the sourced stream differs from the origin first at index {first:?}");
    }
}

/// Keeps publishing to the origin on the hub (a few messages every 20 ms, each PubAck awaited)
/// until `stop`; returns how many it published.
fn publisher(hub: jetstream::Context, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut sent = 0u64;
        while !stop.load(Ordering::SeqCst) {
            for _ in 0..5 {
                sent += 1;
                hub.publish(format!("o.{}", sent % 7), format!("m{sent}").into())
                    .await
                    .expect("publish to the origin")
                    .await
                    .expect("the origin's PubAck");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sent
    })
}

/// The seed: `CUTS_SEED` to replay a run, else from the clock. Printed either way.
fn seed() -> u64 {
    let seed = std::env::var("CUTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("link cuts: seed {seed} (CUTS_SEED={seed} replays the schedule)");
    seed
}

const CUTS: usize = 55;

async fn mirror_and_source_through_link_cuts(kind: Kind) {
    let hub = TestServer::start_kind(kind, Options::default());
    let hub_js = jetstream::new(hub.client().await);
    origin_on(&hub_js).await;
    let proxy = Proxy::start(hub.port, None).await;
    let dir = temp_dir("mirror-cuts");
    let server = contrail_linked_to(&dir, proxy.port);
    let here = jetstream::new(client_of(server.client.to_string()).await);
    mirror_and_source(&here.client()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let publishing = publisher(hub_js.clone(), stop.clone());
    let mut rng = contrail::core::rand::Rng::new(seed());
    let mut seen = 0;
    let long_outage_at = 10 + (rng.next_u64() % 30) as usize;
    for cut in 0..CUTS {
        // The link is through (a new connection reached the hub), then it runs for a random
        // while: the cut lands in the handshake, a consumer create, a catch-up or idle time.
        seen = proxy.reconnected_after(seen).await;
        let up_for = rng.next_u64() % 400;
        tokio::time::sleep(Duration::from_millis(up_for)).await;
        let outage = if cut == long_outage_at {
            DUPLICATE_WINDOW * 2 + Duration::from_millis(500)
        } else if rng.next_u64() % 4 == 0 {
            Duration::from_millis(rng.next_u64() % 600)
        } else {
            Duration::ZERO
        };
        proxy.refuse(!outage.is_zero());
        proxy.cut();
        eprintln!("cut {cut}: after {up_for} ms up, refusing for {outage:?}");
        tokio::time::sleep(outage).await;
        proxy.refuse(false);
    }
    stop.store(true, Ordering::SeqCst);
    let published = publishing.await.expect("the publisher");
    eprintln!("{CUTS} cuts done, {published} messages published");
    assert!(published > 0);

    caught_up(&here, published, published, Duration::from_secs(60)).await;
    assert_copies(&hub_js, &here).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debian_nats_server_stream_is_mirrored_and_sourced_through_55_link_cuts() {
    within(
        Duration::from_secs(180),
        mirror_and_source_through_link_cuts(Kind::NatsServer),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_214_stream_is_mirrored_and_sourced_through_55_link_cuts() {
    if nats_server_214().is_none() {
        eprintln!(
            "!!! CONTRAIL_NATS_SERVER_214 is not set: the link cuts against nats-server 2.14 did \
             NOT run"
        );
        return;
    }
    within(
        Duration::from_secs(180),
        mirror_and_source_through_link_cuts(Kind::NatsServer214),
    )
    .await;
}

/// The origin's size for the kill test.
const ORIGIN: u64 = 20_000;

async fn killed_mid_catch_up_and_restarted(kind: Kind) {
    let hub = TestServer::start_kind(kind, Options::default());
    let hub_js = jetstream::new(hub.client().await);
    origin_on(&hub_js).await;
    let mut acks = std::collections::VecDeque::new();
    for i in 1..=ORIGIN {
        let ack = hub_js
            .publish(format!("o.{}", i % 7), format!("m{i}").into())
            .await
            .expect("publish");
        acks.push_back(ack);
        if acks.len() >= 256 {
            acks.pop_front().expect("an ack").await.expect("stored");
        }
    }
    for ack in acks {
        ack.await.expect("stored");
    }

    // The catch-up through a proxy paced to 1 MB/s (about 5 s for both copies), so the kill
    // lands mid catch-up whatever the batch sizes.
    let proxy = Proxy::start(hub.port, Some(1 << 20)).await;
    let dir = temp_dir("mirror-kill9");
    let server = contrail_linked_to(&dir, proxy.port);
    let here = jetstream::new(client_of(server.client.to_string()).await);
    mirror_and_source(&here.client()).await;
    // Kill it once the mirror holds a good part of the origin but not all.
    let mut at = None;
    for _ in 0..2_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if let Some((_, last)) = state_of(&here, "M").await {
            if (ORIGIN / 4..ORIGIN).contains(&last) {
                at = Some(last);
                break;
            }
            assert!(
                last < ORIGIN,
                "the mirror caught up before it could be killed"
            );
        }
    }
    let at = at.expect("the mirror started catching up");
    drop(here);
    drop(server); // SIGKILL (Child::kill), then reaped
    eprintln!("killed with SIGKILL at mirror sequence {at} of {ORIGIN}");

    let server = contrail_linked_to(&dir, proxy.port);
    let here = jetstream::new(client_of(server.client.to_string()).await);
    caught_up(&here, ORIGIN, ORIGIN, Duration::from_secs(90)).await;
    assert_copies(&hub_js, &here).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_mid_catch_up_of_a_debian_nats_server_stream_it_resumes() {
    within(
        Duration::from_secs(180),
        killed_mid_catch_up_and_restarted(Kind::NatsServer),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_mid_catch_up_of_a_nats_server_214_stream_it_resumes() {
    if nats_server_214().is_none() {
        eprintln!(
            "!!! CONTRAIL_NATS_SERVER_214 is not set: the SIGKILL catch-up test against \
             nats-server 2.14 did NOT run"
        );
        return;
    }
    within(
        Duration::from_secs(180),
        killed_mid_catch_up_and_restarted(Kind::NatsServer214),
    )
    .await;
}
