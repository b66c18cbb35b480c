//! The origin side of nats-server 2.14's mirrors and sources: a hub's work-queue (and, the
//! same story again, interest) streams QM and QS, mirrored (M) and sourced (S) by an edge over a link that runs through a loopback proxy
//! the test controls, with an official client (async-nats):
//!
//! - the hub makes each copy's consumer a durable of the copy's fixed name acknowledged by flow
//!   control (`ack_policy: flow_control`), listed and counted like any durable;
//! - the link goes dark (open, carrying nothing, so the hub keeps delivering into it) while
//!   work is published, then the edge restarts on its store and more work is queued while it
//!   is away: afterwards the edge holds every message once, in order, and the hub's work
//!   queues are empty. What went into the dark link was not lost: the hub kept it (the copy
//!   never confirmed it) and sent it again when the edge asked anew;
//! - the hub restarts: the durables come back from its store, and work queued after it still
//!   reaches the edge once and leaves the hub.
//!
//! Pairs: a Contrail hub with a Contrail edge (a `links` entry), and a nats-server 2.14 hub with
//! a 2.14 edge (a leaf node), which proves the test right. A 2.14 edge cannot reach a Contrail
//! hub: Contrail takes no leaf node connections, and only a leaf node (or a cluster) carries a
//! 2.14 server's mirror to another server.
//!
//! interop-passes: contrail-only (scripts/interop runs this suite once, in the contrail pass)

mod interop_support;

use std::time::Duration;

use interop_support::proxy::Proxy;
use interop_support::streams::{
    assert_copied_in_order, create_ok, info, messages, publish_work, wait_copied, wait_work_taken,
    work_queue, CATCH_UP,
};
use interop_support::{http_json, nats_server_214, request_json, Kind, Options, TestServer};
use serde_json::{json, Value};

/// Longest this suite's tests may run (an edge restart and two catch-ups).
const LIMIT: Duration = Duration::from_secs(120);

/// A hub of `kind` with the work-queue origins' JetStream: Contrail serves its plain API to
/// the link; 2.14 serves domain `hub` to a leaf node. Returns it and the port the edge's link
/// goes to.
fn start_hub(kind: Kind) -> (TestServer, u16) {
    let config = match kind {
        Kind::Contrail => None,
        _ => Some("jetstream { domain: hub }\nleafnodes { listen: \"127.0.0.1:-1\" }\n".into()),
    };
    let hub = TestServer::start_kind(
        kind,
        Options {
            config,
            http: true,
            ..Options::default()
        },
    );
    let port = link_port(&hub);
    (hub, port)
}

/// The port of `hub` an edge's link goes to: the client port, or the leaf node port.
fn link_port(hub: &TestServer) -> u16 {
    match hub.kind {
        Kind::Contrail => hub.port,
        _ => hub.logged_port("Listening for leafnode connections on"),
    }
}

/// An edge of `kind` whose link to the hub goes through `proxy`, reaching its JetStream as
/// domain `hub`: a Contrail `links` entry, or a 2.14 leaf node remote (in domain `edge`).
fn start_edge(kind: Kind, proxy: &Proxy) -> TestServer {
    let config = match kind {
        Kind::Contrail => format!(
            "links [\n  {{ name: hub, url: \"nats://127.0.0.1:{}\", domain: hub }}\n]\n",
            proxy.port
        ),
        _ => format!(
            "jetstream {{ domain: edge }}\nleafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ] }}\n",
            proxy.port
        ),
    };
    TestServer::start_kind(
        kind,
        Options {
            config: Some(config),
            ..Options::default()
        },
    )
}

/// Creates the edge's copies of the hub's work queues (mirror M of QM, stream S sourcing QS)
/// through `external` (nats-server knows no `domain` there: clients turn it into this).
async fn create_copies_of_the_hub(client: &async_nats::Client) {
    let hub = json!({"api": "$JS.hub.API"});
    create_ok(
        client,
        json!({"name": "M", "mirror": {"name": "QM", "external": hub}, "storage": "file"}),
    )
    .await;
    create_ok(
        client,
        json!({"name": "S", "subjects": ["s.>"], "sources": [{"name": "QS", "external": hub}],
            "storage": "file"}),
    )
    .await;
}

/// The info of the one consumer of `stream` whose name starts with `prefix` (a copy's),
/// waiting (bounded) until `ready` holds for it.
async fn copy_consumer(
    client: &async_nats::Client,
    stream: &str,
    prefix: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    loop {
        let list = request_json(
            client,
            &format!("$JS.API.CONSUMER.LIST.{stream}"),
            json!({}),
        )
        .await;
        let copies: Vec<&Value> = list["consumers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .collect();
        if let [one] = copies[..] {
            if ready(one) {
                return one.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{stream}: no copy consumer {what}: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts `consumer` is what 2.14 makes of a copy's consumer on a work-queue stream.
fn assert_durable_acked_by_flow_control(consumer: &Value, kind: Kind) {
    let config = &consumer["config"];
    assert_eq!(
        config["durable_name"], consumer["name"],
        "{kind:?}: {consumer}"
    );
    assert_eq!(config["ack_policy"], "flow_control", "{kind:?}: {consumer}");
    assert_eq!(config["sourcing"], true, "{kind:?}: {consumer}");
    assert_eq!(config["flow_control"], true, "{kind:?}: {consumer}");
    assert!(config.get("direct").is_none(), "{kind:?}: {consumer}");
    assert!(config.get("ack_wait").is_none(), "{kind:?}: {consumer}");
    assert!(
        config.get("inactive_threshold").is_none(),
        "{kind:?}: {consumer}"
    );
}

/// `/jsz` on the hub counts the two copies' durables and details them with their streams.
fn assert_jsz_lists_the_copies(hub: &TestServer) {
    let port = hub.http_port.expect("monitoring is on");
    let jsz = http_json(port, "/jsz?consumers=true");
    assert_eq!(jsz["consumers"], 2, "{:?}: {jsz}", hub.kind);
    let streams: Vec<&Value> = jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
        .collect();
    for (stream, prefix) in [("QM", "JS_MIRROR_"), ("QS", "JS_SRC_")] {
        let detail = streams
            .iter()
            .find(|s| s["name"] == stream)
            .unwrap_or_else(|| panic!("{:?}: {stream} not in {jsz}", hub.kind));
        let names: Vec<&str> = detail["consumer_detail"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert!(
            matches!(names[..], [one] if one.starts_with(prefix)),
            "{:?}: {stream}: {names:?}",
            hub.kind
        );
    }
}

/// The whole story, with origins QM and QS of `retention` (`workqueue` or `interest`).
async fn nothing_is_lost_to_a_dark_link_and_an_edge_restart(
    hub_kind: Kind,
    edge_kind: Kind,
    retention: &str,
) {
    let (mut hub, target) = start_hub(hub_kind);
    let proxy = Proxy::start(target, None).await;
    let mut edge = start_edge(edge_kind, &proxy);
    tokio::time::timeout(LIMIT, async {
        let hub_client = hub.client().await;
        let hub_js = async_nats::jetstream::new(hub_client.clone());
        // On file, to outlive the hub's restart.
        for (name, subjects) in [("QM", "qm.>"), ("QS", "qs.>")] {
            let mut config = work_queue(name, subjects);
            config["storage"] = json!("file");
            config["retention"] = json!(retention);
            create_ok(&hub_client, config).await;
        }
        let edge_client = edge.client().await;
        create_copies_of_the_hub(&edge_client).await;
        // The copies' consumers exist before the work: an interest stream keeps nothing
        // nobody is interested in.
        for (stream, prefix) in [("QM", "JS_MIRROR_"), ("QS", "JS_SRC_")] {
            copy_consumer(&hub_client, stream, prefix, "listed", |_| true).await;
        }
        publish_work(&hub_js, 1..=10).await;
        wait_copied(&edge_client, 10).await;
        wait_work_taken(&hub_client, "taken by the copies").await;
        // Each copy's consumer is a listed, counted durable acknowledged by flow control.
        for (stream, prefix) in [("QM", "JS_MIRROR_"), ("QS", "JS_SRC_")] {
            let copy = copy_consumer(&hub_client, stream, prefix, "listed", |_| true).await;
            assert_durable_acked_by_flow_control(&copy, hub_kind);
            let origin = info(&hub_client, stream).await;
            assert_eq!(origin["state"]["consumer_count"], 1, "{origin}");
        }
        assert_jsz_lists_the_copies(&hub);

        // The link goes dark: the hub still sees the edge and delivers new work into it.
        proxy.go_dark(true);
        publish_work(&hub_js, 11..=15).await;
        for (stream, prefix) in [("QM", "JS_MIRROR_"), ("QS", "JS_SRC_")] {
            let delivered = |c: &Value| c["delivered"]["stream_seq"] == 15;
            let copy = copy_consumer(&hub_client, stream, prefix, "delivered 15", delivered).await;
            assert_eq!(copy["num_ack_pending"], 5, "{hub_kind:?}: {copy}");
            let origin = info(&hub_client, stream).await;
            assert_eq!(
                messages(&origin),
                5,
                "{hub_kind:?}: not yet taken: {origin}"
            );
        }
        // The edge goes, the link is cut, work is queued while it is away; the edge comes back
        // on its store.
        drop(edge_client);
        edge.stop(true);
        proxy.cut();
        proxy.go_dark(false);
        publish_work(&hub_js, 16..=20).await;
        edge.restart(true);
        let edge_client = edge.client().await;
        let edge_js = async_nats::jetstream::new(edge_client.clone());
        wait_copied(&edge_client, 20).await;
        assert_copied_in_order(&edge_js, 20, edge_kind).await;
        wait_work_taken(&hub_client, "emptied once the edge had it all").await;

        // The hub restarts: the copies' durables come back from its store and go on.
        drop(hub_js);
        drop(hub_client);
        hub.restart(true);
        proxy.retarget(link_port(&hub));
        proxy.cut();
        let hub_client = hub.client().await;
        let hub_js = async_nats::jetstream::new(hub_client.clone());
        publish_work(&hub_js, 21..=25).await;
        wait_copied(&edge_client, 25).await;
        assert_copied_in_order(&edge_js, 25, edge_kind).await;
        wait_work_taken(&hub_client, "emptied after the hub's restart").await;
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "timed out; hub log:\n{}\nedge log:\n{}",
            hub.log(),
            edge.log()
        )
    });
}

#[tokio::test]
async fn a_contrail_hub_loses_no_work_to_a_contrail_edges_dark_link_and_restart() {
    nothing_is_lost_to_a_dark_link_and_an_edge_restart(Kind::Contrail, Kind::Contrail, "workqueue")
        .await;
}

#[tokio::test]
async fn a_contrail_hubs_interest_stream_keeps_what_a_contrail_edge_has_not_taken() {
    nothing_is_lost_to_a_dark_link_and_an_edge_restart(Kind::Contrail, Kind::Contrail, "interest")
        .await;
}

/// Whether the 2.14 pair can run (says loudly when it cannot).
fn with_214(test: &str) -> bool {
    if nats_server_214().is_none() {
        eprintln!(
            "!!! {test}: NOT run: CONTRAIL_NATS_SERVER_214 is not set (the 2.14 pair proves the \
             Contrail pair's test right)"
        );
        return false;
    }
    true
}

#[tokio::test]
async fn a_nats_server_214_hub_loses_no_work_to_a_214_edges_dark_link_and_restart() {
    if with_214("a_nats_server_214_hub_loses_no_work") {
        let kind = Kind::NatsServer214;
        nothing_is_lost_to_a_dark_link_and_an_edge_restart(kind, kind, "workqueue").await;
    }
}

#[tokio::test]
async fn a_nats_server_214_hubs_interest_stream_keeps_what_a_214_edge_has_not_taken() {
    if with_214("a_nats_server_214_hubs_interest_stream") {
        let kind = Kind::NatsServer214;
        nothing_is_lost_to_a_dark_link_and_an_edge_restart(kind, kind, "interest").await;
    }
}
