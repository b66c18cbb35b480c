//! The origin side of nats-server 2.14's mirrors and sources, through the engine's API: a copy
//! asks for its consumer with `direct` and `sourcing` and the header
//! `Nats-Required-Api-Level: 4`; on a work-queue or interest stream it gets a durable of its
//! fixed name acknowledged by flow control, which keeps what the copy has not confirmed while
//! the link is down and sends it again when the copy asks anew; on a limits stream the
//! `direct` consumer it asked for, with a unique name.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::core::consumer::AckPolicy;
use crate::core::engine::Engine;
use crate::core::front::JetStream;
use crate::core::headers::{NATS_LAST_CONSUMER, NATS_LAST_STREAM};
use crate::core::message::{Message, Outbound};
use crate::core::stream::StreamConfig;
use crate::core::time::{Nanos, SECONDS};

const T0: Nanos = 1_700_000_000 * SECONDS;
const NAME: &str = "JS_MIRROR_abc";

/// A front whose engine has stream `Q` on `q.>` and the given retention.
fn engine(retention: &str) -> JetStream {
    let mut e = Engine::in_memory(5);
    let mut config: StreamConfig = serde_json::from_value(json!({
        "name": "Q", "subjects": ["q.>"], "retention": retention, "storage": "memory"
    }))
    .expect("stream config");
    config.name = "Q".into();
    e.create_stream(config, T0).expect("stream is created");
    JetStream::new(e)
}

/// Everything the engine has to send, once synced.
fn drain(e: &mut JetStream) -> Vec<Outbound> {
    e.engine_mut().flush().result().expect("memory store syncs");
    std::iter::from_fn(|| e.engine_mut().poll_outbound()).collect()
}

/// A JetStream API request with headers; returns the JSON reply.
fn api(e: &mut JetStream, subject: &str, headers: Option<&str>, body: Value, now: Nanos) -> Value {
    api_and_after(e, subject, headers, body, now).0
}

/// [`api`], and what else went out with the reply (deliveries it started).
fn api_and_after(
    e: &mut JetStream,
    subject: &str,
    headers: Option<&str>,
    body: Value,
    now: Nanos,
) -> (Value, Vec<Outbound>) {
    let mut msg = Message::new(subject, body.to_string()).with_reply("_INBOX.api");
    if let Some(h) = headers {
        msg = msg.with_headers(Bytes::from(h.to_string()));
    }
    assert!(e.handle(msg, now));
    let (reply, rest): (Vec<Outbound>, Vec<Outbound>) =
        drain(e).into_iter().partition(|o| o.to == "_INBOX.api");
    let reply = reply.first().expect("answered");
    let json = serde_json::from_slice(&reply.msg.payload).expect("JSON reply");
    (json, rest)
}

/// The create request of a 2.14 mirror, byte for byte what it asks (`setupMirrorConsumer`).
fn ask_as_a_copy(e: &mut JetStream, deliver: &str, start: u64, now: Nanos) -> Value {
    ask_and_after(e, deliver, start, now).0
}

/// [`ask_as_a_copy`], and the deliveries that followed the answer.
fn ask_and_after(
    e: &mut JetStream,
    deliver: &str,
    start: u64,
    now: Nanos,
) -> (Value, Vec<Outbound>) {
    e.engine_mut().set_interest(deliver, true, now);
    let config = json!({
        "name": NAME, "deliver_policy": "by_start_sequence", "opt_start_seq": start,
        "ack_policy": "none", "ack_wait": 22 * 3600 * SECONDS, "max_deliver": 1,
        "flow_control": true, "deliver_subject": deliver, "idle_heartbeat": SECONDS,
        "inactive_threshold": 10 * SECONDS, "num_replicas": 0, "direct": true,
        "sourcing": true, "metadata": {"_nats.mirror.stream": "M"}
    });
    api_and_after(
        e,
        "$JS.API.CONSUMER.CREATE.Q",
        Some("NATS/1.0\r\nNats-Required-Api-Level: 4\r\n\r\n"),
        json!({"stream_name": "Q", "config": config, "action": ""}),
        now,
    )
}

/// `(stream seq, consumer seq)` of the deliveries to `deliver` among `out`.
fn delivered_to(out: &[Outbound], deliver: &str) -> Vec<(u64, u64)> {
    out.iter()
        .filter(|o| o.to == deliver)
        .filter_map(|o| o.msg.reply.as_deref())
        .filter_map(crate::core::consumer::parse_ack_subject)
        .map(|a| (a.stream_seq, a.consumer_seq))
        .collect()
}

/// Lets time pass to `now` and returns what went out.
fn at(e: &mut JetStream, now: Nanos) -> Vec<Outbound> {
    if e.engine_mut().poll_timeout().is_some_and(|t| t <= now) {
        e.engine_mut().handle_timeout(now);
    }
    drain(e)
}

/// Answers the flow-control request among `out` as a copy that holds up to `stream` does.
fn answer(e: &mut JetStream, out: &[Outbound], consumer: u64, stream: u64, now: Nanos) {
    let fc = out
        .iter()
        .filter_map(|o| o.msg.reply.as_deref())
        .find(|r| r.starts_with("$JS.FC."))
        .expect("a flow-control request");
    let headers = format!(
        "NATS/1.0\r\n{NATS_LAST_CONSUMER}: {consumer}\r\n{NATS_LAST_STREAM}: {stream}\r\n\r\n"
    );
    assert!(e.handle(Message::new(fc, "").with_headers(headers), now));
    drain(e);
}

fn publish(e: &mut JetStream, subject: &str, now: Nanos) {
    let ack = e
        .engine_mut()
        .publish(subject, None, Bytes::from_static(b"work"), now);
    ack.expect("captured").expect("stored");
}

fn msgs(e: &JetStream) -> u64 {
    e.engine().stream("Q").map_or(0, |s| s.state().msgs)
}

#[test]
fn a_copy_of_a_work_queue_gets_a_durable_acked_by_flow_control() {
    let mut e = engine("workqueue");
    let created = ask_as_a_copy(&mut e, "$JS.M.one", 1, T0);
    assert!(created["error"].is_null(), "{created}");
    assert_eq!(created["name"], NAME);
    let config = &created["config"];
    assert_eq!(config["durable_name"], NAME, "{created}");
    assert_eq!(config["ack_policy"], "flow_control");
    assert_eq!(config["sourcing"], true);
    assert!(config.get("direct").is_none(), "{created}");
    assert!(config.get("ack_wait").is_none(), "{created}");
    assert!(config.get("inactive_threshold").is_none(), "{created}");
    assert_eq!(config["max_deliver"], -1);
    // Listed and counted as 2.14 lists it, and saved as every durable is.
    assert_eq!(
        e.engine_mut().public_consumer_names("Q").ok(),
        Some(vec![NAME.to_string()])
    );
    let saved: Vec<String> = e
        .engine()
        .stream("Q")
        .and_then(|s| s.store().consumers().ok())
        .map(|c| c.into_keys().collect())
        .unwrap_or_default();
    assert_eq!(saved, [NAME]);
    // Work is delivered, and stays until the copy's answer says it holds it.
    for i in 1..=3 {
        publish(&mut e, &format!("q.{i}"), T0);
    }
    let out = drain(&mut e);
    assert_eq!(
        delivered_to(&out, "$JS.M.one"),
        vec![(1, 1), (2, 2), (3, 3)]
    );
    assert_eq!(msgs(&e), 3, "delivered is not taken");
    let out = at(&mut e, T0 + SECONDS);
    answer(&mut e, &out, 2, 2, T0 + SECONDS);
    assert_eq!(msgs(&e), 1, "the copy holds 1 and 2");
    let out = at(&mut e, T0 + 2 * SECONDS);
    answer(&mut e, &out, 3, 3, T0 + 2 * SECONDS);
    assert_eq!(msgs(&e), 0);
}

#[test]
fn work_delivered_into_a_link_that_went_down_is_sent_again_when_the_copy_asks_anew() {
    let mut e = engine("workqueue");
    ask_as_a_copy(&mut e, "$JS.M.one", 1, T0);
    publish(&mut e, "q.1", T0);
    let out = at(&mut e, T0 + SECONDS);
    answer(&mut e, &out, 1, 1, T0 + SECONDS);
    // The link is down but the hub does not know yet: 2 and 3 go into it, and are lost there.
    publish(&mut e, "q.2", T0 + SECONDS);
    publish(&mut e, "q.3", T0 + SECONDS);
    assert_eq!(
        delivered_to(&drain(&mut e), "$JS.M.one"),
        vec![(2, 2), (3, 3)]
    );
    e.engine_mut()
        .set_interest("$JS.M.one", false, T0 + 2 * SECONDS);
    publish(&mut e, "q.4", T0 + 2 * SECONDS);
    // An hour later the work is all still there, and so is the consumer.
    at(&mut e, T0 + 3600 * SECONDS);
    assert_eq!(msgs(&e), 3);
    assert!(e
        .engine_mut()
        .consumer_info("Q", NAME, T0 + 3600 * SECONDS)
        .is_ok());
    // The copy is back (from its own last, 2): its durable resumes at the ack floor.
    let (again, out) = ask_and_after(&mut e, "$JS.M.two", 2, T0 + 3600 * SECONDS);
    assert!(again["error"].is_null(), "{again}");
    assert_eq!(again["delivered"]["consumer_seq"], 0, "{again}");
    assert_eq!(again["delivered"]["stream_seq"], 1, "{again}");
    assert_eq!(again["config"]["deliver_subject"], "$JS.M.two");
    assert_eq!(
        delivered_to(&out, "$JS.M.two"),
        vec![(2, 1), (3, 2), (4, 3)]
    );
    let out = at(&mut e, T0 + 3601 * SECONDS);
    answer(&mut e, &out, 3, 4, T0 + 3601 * SECONDS);
    assert_eq!(msgs(&e), 0);
}

#[test]
fn an_interest_origin_keeps_what_its_copy_has_not_taken_while_the_copy_is_away() {
    let mut e = engine("interest");
    ask_as_a_copy(&mut e, "$JS.M.one", 1, T0);
    e.engine_mut().set_interest("$JS.M.one", false, T0);
    publish(&mut e, "q.1", T0);
    // 2.9's `direct` consumer ended after 10 s without interest, and the interest with it.
    at(&mut e, T0 + 3600 * SECONDS);
    assert_eq!(msgs(&e), 1);
    let info = e
        .engine_mut()
        .consumer_info("Q", NAME, T0)
        .expect("the durable stays");
    assert_eq!(info.config.ack_policy, AckPolicy::FlowControl);
}

#[test]
fn a_copy_of_a_limits_stream_gets_a_direct_consumer_of_a_unique_name() {
    let mut e = engine("limits");
    let first = ask_as_a_copy(&mut e, "$JS.M.one", 1, T0);
    let second = ask_as_a_copy(&mut e, "$JS.M.two", 1, T0);
    for created in [&first, &second] {
        assert!(created["error"].is_null(), "{created}");
        assert_eq!(created["config"]["direct"], true, "{created}");
        assert_eq!(created["config"]["ack_policy"], "none", "{created}");
        let name = created["name"].as_str().unwrap_or_default();
        assert!(name.starts_with(&format!("{NAME}-")), "{created}");
    }
    assert_ne!(first["name"], second["name"]);
    assert_eq!(e.engine_mut().public_consumer_names("Q").ok(), Some(vec![]));
}

#[test]
fn a_request_for_a_newer_api_level_is_refused_before_it_does_anything() {
    let mut e = engine("workqueue");
    let refused = api(
        &mut e,
        "$JS.API.CONSUMER.CREATE.Q.C",
        Some("NATS/1.0\r\nNats-Required-Api-Level: 5\r\n\r\n"),
        json!({"stream_name": "Q", "config": {"durable_name": "C", "ack_policy": "explicit"}}),
        T0,
    );
    assert_eq!(refused["error"]["err_code"], 10185, "{refused}");
    assert_eq!(
        refused["type"],
        "io.nats.jetstream.api.v1.consumer_create_response"
    );
    assert_eq!(e.engine_mut().consumer_names("Q").ok(), Some(vec![]));
    let info = api(&mut e, "$JS.API.INFO", None, json!({}), T0);
    assert_eq!(info["api"]["level"], 4, "{info}");
    let next = Message::new("$JS.API.CONSUMER.MSG.NEXT.Q.C", "1")
        .with_reply("_INBOX.next")
        .with_headers("NATS/1.0\r\nNats-Required-Api-Level: x\r\n\r\n");
    assert!(e.handle(next, T0));
    let out = drain(&mut e);
    let status = out
        .iter()
        .find(|o| o.to == "_INBOX.next")
        .and_then(|o| o.msg.headers.clone())
        .expect("a status");
    assert!(
        status.starts_with(b"NATS/1.0 412 Required Api Level"),
        "{status:?}"
    );
}
