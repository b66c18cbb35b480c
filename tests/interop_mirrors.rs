//! Mirrors and sources with an official client (async-nats), on Contrail and on nats-server:
//! a mirror catches up and follows its origin at the same sequences and times, origin deletes
//! are gaps at the same sequences, `opt_start_seq` / `filter_subject` / `subject_transforms`
//! select what is copied, a mirror takes no publishes of its own, sources from two origins
//! store each message once with its `Nats-Stream-Source`, StreamInfo's lag reaches 0, and a
//! server restarted (gracefully or killed) mid catch-up leaves the copy complete, without
//! duplicates. Run against nats-server too:
//! `CONTRAIL_INTEROP_SERVER=nats-server cargo test --test interop_mirrors`.
//!
//! Mirror and source `subject_transforms` arrived in nats-server 2.10: those checks run on
//! Contrail and on 2.14 (`CONTRAIL_NATS_SERVER_214`), and are skipped, loudly, for 2.9.
//!
//! Cross-server: a Contrail server in this process mirrors and sources a nats-server hub
//! (`jetstream { domain: hub }`) over a link attached to its engine, with `domain: "hub"`
//! routed to that link.

mod interop_support;

use async_nats::jetstream::Context;
use futures_util::StreamExt;
use interop_support::streams::{
    create, create_memory_mirror, create_memory_stream, create_ok, edge_linked_to, info, last_seq,
    messages, publish, wait_info, CATCH_UP,
};
use interop_support::{
    bounded, kinds_with_214, on_each_kind, request_json, temp_dir, Kind, Options, TestServer,
};
use serde_json::{json, Value};

/// Whether `kind` has mirror/source subject transforms; says so loudly when it has not.
fn has_source_transforms(kind: Kind, test: &str) -> bool {
    if kind == Kind::NatsServer {
        eprintln!(
            "!!! {test}: NOT compared with Debian's nats-server 2.9.10 (no source \
             subject_transforms before 2.10); compared with 2.14 only when \
             CONTRAIL_NATS_SERVER_214 is set"
        );
        return false;
    }
    true
}

/// A message by sequence as (subject, payload, time, headers), `None` when there is none.
async fn message(
    js: &Context,
    stream: &str,
    seq: u64,
) -> Option<(String, Vec<u8>, String, String)> {
    let stream = js.get_stream(stream).await.expect("stream");
    let msg = stream.get_raw_message(seq).await.ok()?;
    let headers = msg
        .headers
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(",")
            )
        })
        .collect::<Vec<_>>()
        .join(";");
    Some((
        msg.subject.to_string(),
        msg.payload.to_vec(),
        msg.time.to_string(),
        headers,
    ))
}

/// A message by sequence as (subject, payload, time): what a mirror copies as it was.
async fn kept(js: &Context, stream: &str, seq: u64) -> Option<(String, Vec<u8>, String)> {
    message(js, stream, seq).await.map(|(s, p, t, _)| (s, p, t))
}

/// Every sequence of `seqs` holds the same message (subject, payload, time) in `origin` and in
/// `copy`, each a stream and the context (the server) it is read through.
async fn assert_same(
    origin: (&Context, &str),
    copy: (&Context, &str),
    seqs: impl IntoIterator<Item = u64>,
) {
    for seq in seqs {
        let o = kept(origin.0, origin.1, seq).await;
        let c = kept(copy.0, copy.1, seq).await;
        assert_eq!(o, c, "sequence {seq} of {} and {}", origin.1, copy.1);
    }
}

/// Publishes `m<i> <body>` to `o.<i % spread>` for i in 1..=`total`, taking the PubAcks in
/// chunks of 500 (the client bounds acks in flight).
async fn publish_bulk(js: &Context, total: u64, spread: u64, body: &str) {
    let mut acks = Vec::new();
    for i in 1..=total {
        let ack = js
            .publish(format!("o.{}", i % spread), format!("m{i} {body}").into())
            .await
            .expect("publish");
        acks.push(ack);
        if acks.len() == 500 || i == total {
            for ack in acks.drain(..) {
                ack.await.expect("puback");
            }
        }
    }
}

/// Creates file-stored copies of `O`: the mirror M and the stream S (`s.>`) sourcing it;
/// `origin` is O's `StreamSource` JSON.
async fn create_file_copies(client: &async_nats::Client, origin: Value) {
    create_ok(client, json!({"name": "M", "mirror": origin})).await;
    create_ok(
        client,
        json!({"name": "S", "subjects": ["s.>"], "sources": [origin]}),
    )
    .await;
}

/// M's info once it holds its first message (or [`CATCH_UP`] has passed), looked at as often
/// as possible: a restart right then lands mid catch-up.
async fn mirror_started(client: &async_nats::Client) -> Value {
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        let m = info(client, "M").await;
        if last_seq(&m) > 0 || tokio::time::Instant::now() > deadline {
            return m;
        }
        tokio::task::yield_now().await;
    }
}

fn header_value(headers: &str, name: &str) -> Option<String> {
    headers
        .split(';')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
}

#[tokio::test]
async fn a_mirror_catches_up_and_follows_at_the_same_sequences_and_times() {
    let server = TestServer::start();
    bounded(async {
        let (client, js) = server.client_and_jetstream().await;
        create_memory_stream(&client, "O", "o.>").await;
        for i in 1..=50 {
            publish(&js, &format!("o.{}", i % 7), format!("m{i}")).await;
        }
        create_memory_mirror(&client, "M", json!({"name": "O"})).await;
        let info = wait_info(&client, "M", "caught up", |i| last_seq(i) == 50).await;
        assert!(info["config"]["subjects"].is_null() || info["config"]["subjects"] == json!([]));
        for i in 51..=60 {
            publish(&js, &format!("o.{}", i % 7), format!("m{i}")).await;
        }
        let info = wait_info(&client, "M", "followed and lag 0", |i| {
            last_seq(i) == 60 && i["mirror"]["lag"] == json!(0)
        })
        .await;
        assert_eq!(messages(&info), 60);
        assert_eq!(info["mirror"]["name"], "O");
        assert!(
            info["mirror"]["active"].as_i64().unwrap_or(-1) >= 0,
            "{info}"
        );
        assert!(info["mirror"]["error"].is_null(), "{info}");
        assert_same((&js, "O"), (&js, "M"), 1..=60).await;
    })
    .await;
}

#[tokio::test]
async fn origin_deletes_are_gaps_at_the_same_sequences() {
    let server = TestServer::start();
    bounded(async {
        let (client, js) = server.client_and_jetstream().await;
        create_memory_stream(&client, "O", "o.>").await;
        for i in 1..=10 {
            publish(&js, &format!("o.{i}"), format!("m{i}")).await;
        }
        for seq in [1, 4, 5, 9] {
            let reply =
                request_json(&client, "$JS.API.STREAM.MSG.DELETE.O", json!({"seq": seq})).await;
            assert_eq!(reply["success"], true, "{reply}");
        }
        create_memory_mirror(&client, "M", json!({"name": "O"})).await;
        let info = wait_info(&client, "M", "caught up", |i| last_seq(i) == 10).await;
        assert_eq!(
            (messages(&info), info["state"]["first_seq"].clone()),
            (6, json!(2)),
            "{info}"
        );
        assert_eq!(info["state"]["num_deleted"], 3, "{info}");
        assert_same((&js, "O"), (&js, "M"), 1..=10).await;
        // Deletes on the origin do not reach a running mirror: it keeps its copy.
        let reply = request_json(&client, "$JS.API.STREAM.MSG.DELETE.O", json!({"seq": 10})).await;
        assert_eq!(reply["success"], true, "{reply}");
        publish(&js, "o.11", "m11").await;
        let info = wait_info(&client, "M", "the next one", |i| last_seq(i) == 11).await;
        assert_eq!(messages(&info), 7, "{info}");
        assert!(message(&js, "M", 10).await.is_some());
    })
    .await;
}

#[tokio::test]
async fn a_start_sequence_and_a_filter_select_what_a_mirror_copies() {
    on_each_kind(kinds_with_214(), |kind, client, js| async move {
        create_memory_stream(&client, "O", "o.>").await;
        for i in 1..=10 {
            let subject = if i % 2 == 0 { "o.even" } else { "o.odd" };
            publish(&js, subject, format!("m{i}")).await;
        }
        let mirror = json!({"name": "O", "opt_start_seq": 4, "filter_subject": "o.even"});
        create_memory_mirror(&client, "M", mirror).await;
        let info = wait_info(&client, "M", "caught up", |i| {
            last_seq(i) == 10 && i["mirror"]["lag"] == json!(0)
        })
        .await;
        assert_eq!(messages(&info), 4, "4, 6, 8, 10: {info}");
        if kind == Kind::NatsServer {
            eprintln!(
                "!!! a_start_sequence_and_a_filter: the mirror's filter in StreamInfo NOT \
                 compared with nats-server 2.9.10 (it reports none; 2.14 does)"
            );
        } else {
            assert_eq!(info["mirror"]["filter_subject"], "o.even", "{info}");
        }
        assert_eq!(info["state"]["first_seq"], 4, "{info}");
        for seq in [4, 6, 8, 10] {
            let (subject, payload, _, _) = message(&js, "M", seq).await.expect("copied");
            assert_eq!(
                (subject.as_str(), payload),
                ("o.even", format!("m{seq}").into_bytes())
            );
        }
        assert!(
            message(&js, "M", 2).await.is_none(),
            "before the start sequence"
        );
        assert!(message(&js, "M", 5).await.is_none(), "filtered out");
    })
    .await;
}

#[tokio::test]
async fn mirror_and_source_subject_transforms_rewrite_what_is_stored() {
    let kinds = kinds_with_214()
        .into_iter()
        .filter(|&kind| has_source_transforms(kind, "mirror_and_source_subject_transforms"));
    on_each_kind(kinds, |_, client, js| async move {
        create_memory_stream(&client, "O", "o.>").await;
        for i in 1..=4 {
            publish(&js, &format!("o.{i}"), format!("m{i}")).await;
        }
        let transforms = json!([{"src": "o.*", "dest": "copy.{{wildcard(1)}}"}]);
        let mirror = json!({"name": "O", "subject_transforms": transforms});
        create_memory_mirror(&client, "M", mirror).await;
        create_ok(
            &client,
            json!({"name": "S", "storage": "memory", "subjects": ["s.>"],
                "sources": [{"name": "O", "subject_transforms": transforms}]}),
        )
        .await;
        let info = wait_info(&client, "M", "caught up", |i| last_seq(i) == 4).await;
        assert_eq!(
            info["mirror"]["subject_transforms"][0]["dest"],
            "copy.{{wildcard(1)}}"
        );
        wait_info(&client, "S", "caught up", |i| messages(i) == 4).await;
        for seq in 1..=4 {
            let (subject, _, _, _) = message(&js, "M", seq).await.expect("mirrored");
            assert_eq!(subject, format!("copy.{seq}"));
            let (subject, _, _, headers) = message(&js, "S", seq).await.expect("sourced");
            assert_eq!(subject, format!("copy.{seq}"));
            let mark = header_value(&headers, "Nats-Stream-Source").unwrap_or_default();
            assert!(mark.starts_with(&format!("O {seq} ")), "{mark}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_mirror_takes_no_publishes_and_no_subjects() {
    let server = TestServer::start();
    bounded(async {
        let (client, js) = server.client_and_jetstream().await;
        create_memory_stream(&client, "O", "o.>").await;
        let refused = create(
            &client,
            json!({"name": "M", "subjects": ["m.>"], "mirror": {"name": "O"}, "storage": "memory"}),
        )
        .await;
        assert_eq!(refused["error"]["err_code"], 10034, "{refused}");
        create_memory_mirror(&client, "M", json!({"name": "O"})).await;
        // Nothing captures the mirror's name: a publish there finds no stream.
        let publish = js.publish("M", "x".into()).await.expect("sent");
        assert!(publish.await.is_err(), "a publish into a mirror is not stored");
        let update = request_json(
            &client,
            "$JS.API.STREAM.UPDATE.M",
            json!({"name": "M", "mirror": {"name": "O", "filter_subject": "o.x"}, "storage": "memory"}),
        )
        .await;
        assert_eq!(update["error"]["err_code"], 10055, "{update}");
        assert_eq!(messages(&info(&client, "M").await), 0);
    })
    .await;
}

#[tokio::test]
async fn sources_from_two_origins_store_each_message_once_with_its_source() {
    let server = TestServer::start();
    bounded(async {
        let (client, js) = server.client_and_jetstream().await;
        create_memory_stream(&client, "A", "a.>").await;
        create_memory_stream(&client, "B", "b.>").await;
        for i in 1..=20 {
            publish(&js, &format!("a.{i}"), format!("a{i}")).await;
            let parity = if i % 2 == 0 { "even" } else { "odd" };
            publish(&js, &format!("b.{parity}.{i}"), format!("b{i}")).await;
        }
        create_ok(
            &client,
            json!({"name": "S", "subjects": ["s.>"], "storage": "memory",
                "sources": [{"name": "A"}, {"name": "B", "filter_subject": "b.even.>"}]}),
        )
        .await;
        // The even ones of B.
        let expected = 20 + 10;
        wait_info(&client, "S", "caught up", |i| messages(i) == expected).await;
        for i in 21..=25 {
            publish(&js, &format!("a.{i}"), format!("a{i}")).await;
        }
        publish(&js, "s.own", "own").await;
        let info = wait_info(&client, "S", "followed, lags 0", |i| {
            messages(i) == expected + 6
                && i["sources"]
                    .as_array()
                    .is_some_and(|s| s.len() == 2 && s.iter().all(|s| s["lag"] == json!(0)))
        })
        .await;
        let mut names: Vec<String> = info["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        assert_eq!(names, ["A", "B"]);
        let mut seen = std::collections::BTreeSet::new();
        for seq in 1..=last_seq(&info) {
            let (subject, payload, _, headers) = message(&js, "S", seq).await.expect("stored");
            if subject == "s.own" {
                continue;
            }
            let mark = header_value(&headers, "Nats-Stream-Source").expect("a source header");
            let mut words = mark.split(' ');
            let (origin, origin_seq) = (words.next(), words.next());
            let origin = origin.unwrap_or_default().to_string();
            let origin_seq: u64 = origin_seq.and_then(|s| s.parse().ok()).unwrap_or(0);
            let prefix = origin.to_lowercase();
            assert_eq!(
                String::from_utf8_lossy(&payload).chars().next(),
                prefix.chars().next()
            );
            assert!(seen.insert((origin, origin_seq)), "{mark} twice");
        }
        assert_eq!(seen.len() as u64, expected + 5);
    })
    .await;
}

/// A file-stored mirror and source of a file-stored origin, the server restarted (gracefully
/// or killed) while they catch up: afterwards both are complete, without duplicates.
async fn restart_mid_catch_up(graceful: bool) {
    let mut server = TestServer::start();
    // Enough that the catch-up takes a while (the restart lands in its middle).
    let total: u64 = 10_000;
    let body = "x".repeat(512);
    {
        let (client, js) = server.client_and_jetstream().await;
        create_ok(&client, json!({"name": "O", "subjects": ["o.>"]})).await;
        publish_bulk(&js, total, 13, &body).await;
        create_file_copies(&client, json!({"name": "O"})).await;
        let m = mirror_started(&client).await;
        let s = info(&client, "S").await;
        eprintln!("restarting with the source at {} of {total}", messages(&s));
        eprintln!("restarting with the mirror at {} of {total}", last_seq(&m));
    }
    server.restart(graceful);
    let (client, js) = server.client_and_jetstream().await;
    for i in total + 1..=total + 10 {
        publish(&js, &format!("o.{}", i % 13), format!("m{i}")).await;
    }
    let all = total + 10;
    let m = wait_info(&client, "M", "complete", |i| last_seq(i) == all).await;
    assert_eq!(messages(&m), all, "no gap, no duplicate: {m}");
    wait_info(&client, "S", "complete", |i| messages(i) >= all).await;
    // Let a duplicate that would come show itself: the source is idle with lag 0.
    let s = wait_info(&client, "S", "lag 0", |i| {
        i["sources"][0]["lag"] == json!(0)
    })
    .await;
    assert_eq!(messages(&s), all, "each sourced message once: {s}");
    assert_same((&js, "O"), (&js, "M"), (1..=all).step_by(97).chain([all])).await;
    // Every message of S, read with a pull consumer in batches.
    let stream = js.get_stream("S").await.expect("S");
    let reader = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("a reader");
    let mut seen = std::collections::BTreeSet::new();
    let mut read = 0;
    while read < messages(&s) {
        let mut batch = reader
            .fetch()
            .max_messages(1000)
            .messages()
            .await
            .expect("fetch");
        while let Some(msg) = batch.next().await {
            let msg = msg.expect("a message");
            read += 1;
            let mark = msg
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Stream-Source"))
                .map(|v| v.to_string())
                .unwrap_or_default();
            let origin_seq: u64 = mark
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            assert!(
                seen.insert(origin_seq),
                "origin sequence {origin_seq} sourced twice"
            );
        }
    }
    assert_eq!(seen.len() as u64, all);
}

#[tokio::test]
async fn a_graceful_restart_mid_catch_up_leaves_the_copies_complete() {
    bounded(restart_mid_catch_up(true)).await;
}

#[tokio::test]
async fn a_kill_mid_catch_up_leaves_the_copies_complete() {
    bounded(restart_mid_catch_up(false)).await;
}

/// Cross-server: the hub, a nats-server with JetStream domain `hub`.
fn hub(kind: Kind) -> TestServer {
    let options = Options {
        config: Some("jetstream { domain: hub }\n".into()),
        ..Options::default()
    };
    TestServer::start_kind(kind, options)
}

#[tokio::test]
async fn a_contrail_server_mirrors_and_sources_a_hub_over_a_link() {
    // The hub is always a nats-server (Contrail has no JetStream domains); the edge under test
    // is Contrail, in this process.
    let mut hubs = vec![Kind::NatsServer];
    if kinds_with_214().contains(&Kind::NatsServer214) {
        hubs.push(Kind::NatsServer214);
    }
    for kind in hubs {
        let mut hub = hub(kind);
        bounded(async {
            let (hub_client, hub_js) = hub.client_and_jetstream().await;
            create_ok(&hub_client, json!({"name": "O", "subjects": ["o.>"]})).await;
            for i in 1..=30 {
                publish(&hub_js, &format!("o.{}", i % 3), format!("m{i}")).await;
            }
            let edge = edge_linked_to(&hub, &temp_dir("mirror-edge").join("store")).await;

            let edge_client = async_nats::connect(edge.client_addr.to_string())
                .await
                .expect("connect to the edge");
            let edge_js = async_nats::jetstream::new(edge_client.clone());
            create_ok(
                &edge_client,
                json!({"name": "M", "mirror": {"name": "O", "domain": "hub"}, "storage": "memory"}),
            )
            .await;
            create_ok(
                &edge_client,
                json!({"name": "S", "subjects": ["s.>"], "storage": "memory",
                    "sources": [{"name": "O", "domain": "hub", "filter_subject": "o.2"}]}),
            )
            .await;
            wait_info(&edge_client, "M", "caught up", |i| last_seq(i) == 30).await;
            for i in 31..=35 {
                publish(&hub_js, &format!("o.{}", i % 3), format!("m{i}")).await;
            }
            let info = wait_info(&edge_client, "M", "followed", |i| {
                last_seq(i) == 35 && i["mirror"]["lag"] == json!(0)
            })
            .await;
            assert_eq!(info["mirror"]["external"]["api"], "$JS.hub.API", "{info}");
            assert_same((&hub_js, "O"), (&edge_js, "M"), 1..=35).await;
            // 2, 5, … 35 went to o.2.
            let info = wait_info(&edge_client, "S", "sourced", |i| messages(i) == 12).await;
            assert_eq!(info["sources"][0]["lag"], 0, "{info}");

            // The hub restarts: the link goes down and comes back, and both follow again.
            drop(hub_js);
            drop(hub_client);
            hub.restart(true);
            let hub_js = hub.jetstream().await;
            for i in 36..=45 {
                publish(&hub_js, &format!("o.{}", i % 3), format!("m{i}")).await;
            }
            wait_info(&edge_client, "M", "followed after the hub restart", |i| {
                last_seq(i) == 45 && i["mirror"]["lag"] == json!(0)
            })
            .await;
            assert_same((&hub_js, "O"), (&edge_js, "M"), 1..=45).await;
            // 38, 41 and 44 went to o.2 as well.
            wait_info(&edge_client, "S", "sourced after", |i| messages(i) == 15).await;
            edge.shutdown().await;
        })
        .await;
    }
}

#[tokio::test]
async fn jsz_shows_each_streams_mirror_and_sources() {
    let server = TestServer::start_with(Options {
        http: true,
        ..Options::default()
    });
    bounded(async {
        let (client, js) = server.client_and_jetstream().await;
        create_memory_stream(&client, "O", "o.>").await;
        publish(&js, "o.1", "m1").await;
        create_memory_mirror(&client, "M", json!({"name": "O"})).await;
        create_ok(
            &client,
            json!({"name": "S", "subjects": ["s.>"], "sources": [{"name": "O"}], "storage": "memory"}),
        )
        .await;
        wait_info(&client, "M", "caught up", |i| last_seq(i) == 1).await;
        wait_info(&client, "S", "caught up", |i| messages(i) == 1).await;
        let port = server.http_port.expect("monitoring port");
        let jsz = tokio::task::spawn_blocking(move || {
            interop_support::http_json(port, "/jsz?streams=true")
        })
        .await
        .expect("jsz");
        let details: Vec<Value> = jsz["account_details"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default())
            .collect();
        let detail = |name: &str| {
            details
                .iter()
                .find(|d| d["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name} in /jsz: {jsz}"))
        };
        assert_eq!(detail("M")["mirror"]["name"], "O", "{jsz}");
        assert_eq!(detail("M")["mirror"]["lag"], 0, "{jsz}");
        assert_eq!(detail("S")["sources"][0]["name"], "O", "{jsz}");
        assert!(detail("O")["mirror"].is_null() && detail("O")["sources"].is_null());
    })
    .await;
}

#[tokio::test]
async fn sources_added_and_removed_by_an_update_start_and_stop() {
    let server = TestServer::start();
    bounded(async {
        let (client, js) = server.client_and_jetstream().await;
        create_memory_stream(&client, "A", "a.>").await;
        create_memory_stream(&client, "B", "b.>").await;
        for i in 1..=3 {
            publish(&js, &format!("a.{i}"), format!("a{i}")).await;
            publish(&js, &format!("b.{i}"), format!("b{i}")).await;
        }
        let only_a = json!({"name": "S", "subjects": ["s.>"], "storage": "memory",
            "sources": [{"name": "A"}]});
        create_ok(&client, only_a.clone()).await;
        wait_info(&client, "S", "A sourced", |i| messages(i) == 3).await;
        let both = json!({"name": "S", "subjects": ["s.>"], "storage": "memory",
            "sources": [{"name": "A"}, {"name": "B"}]});
        let reply = request_json(&client, "$JS.API.STREAM.UPDATE.S", both).await;
        assert!(reply["error"].is_null(), "{reply}");
        wait_info(&client, "S", "B added", |i| {
            messages(i) == 6 && i["sources"].as_array().is_some_and(|s| s.len() == 2)
        })
        .await;
        let reply = request_json(&client, "$JS.API.STREAM.UPDATE.S", only_a).await;
        assert!(reply["error"].is_null(), "{reply}");
        wait_info(&client, "S", "B removed", |i| {
            i["sources"].as_array().is_some_and(|s| s.len() == 1)
        })
        .await;
        publish(&js, "b.4", "b4").await;
        publish(&js, "a.4", "a4").await;
        let info = wait_info(&client, "S", "A goes on", |i| messages(i) == 7).await;
        // B's message after its removal is not there (A's, published after it, is).
        let (_, payload, _, _) = message(&js, "S", last_seq(&info)).await.expect("last");
        assert_eq!(payload, b"a4");
    })
    .await;
}

#[tokio::test]
async fn a_mirror_of_a_missing_origin_reports_it_and_starts_once_it_exists() {
    let server = TestServer::start();
    bounded(async {
        let (client, js) = server.client_and_jetstream().await;
        create_memory_mirror(&client, "M", json!({"name": "O"})).await;
        let info = wait_info(&client, "M", "an error", |i| {
            !i["mirror"]["error"].is_null()
        })
        .await;
        assert_eq!(info["mirror"]["error"]["err_code"], 10059, "{info}");
        create_memory_stream(&client, "O", "o.>").await;
        publish(&js, "o.1", "m1").await;
        let info = wait_info(&client, "M", "started", |i| last_seq(i) == 1).await;
        assert!(info["mirror"]["error"].is_null(), "{info}");
    })
    .await;
}

#[tokio::test]
async fn a_contrail_edge_restarted_mid_catch_up_resumes_without_gap_or_duplicate() {
    let hub = hub(Kind::NatsServer);
    let store_dir = temp_dir("mirror-edge-restart").join("store");
    bounded(async {
        let (hub_client, hub_js) = hub.client_and_jetstream().await;
        create_ok(&hub_client, json!({"name": "O", "subjects": ["o.>"]})).await;
        let total: u64 = 5000;
        publish_bulk(&hub_js, total, 7, &"x".repeat(512)).await;
        let edge = edge_linked_to(&hub, &store_dir).await;
        let edge_client = async_nats::connect(edge.client_addr.to_string())
            .await
            .expect("connect to the edge");
        create_file_copies(&edge_client, json!({"name": "O", "domain": "hub"})).await;
        let at = last_seq(&mirror_started(&edge_client).await);
        eprintln!("restarting the edge with its mirror at {at} of {total}");
        drop(edge_client);
        edge.shutdown().await;

        let edge = edge_linked_to(&hub, &store_dir).await;
        let edge_client = async_nats::connect(edge.client_addr.to_string())
            .await
            .expect("connect to the restarted edge");
        let edge_js = async_nats::jetstream::new(edge_client.clone());
        let m = wait_info(&edge_client, "M", "complete", |i| last_seq(i) == total).await;
        assert_eq!(messages(&m), total, "no gap: {m}");
        let s = wait_info(&edge_client, "S", "complete", |i| {
            messages(i) >= total && i["sources"][0]["lag"] == json!(0)
        })
        .await;
        assert_eq!(messages(&s), total, "each sourced message once: {s}");
        let seqs = (1..=total).step_by(101).chain([total]);
        assert_same((&hub_js, "O"), (&edge_js, "M"), seqs).await;
        edge.shutdown().await;
    })
    .await;
}
