//! `ack_policy: flow_control` (nats-server 2.14's durable consumer of a mirror or source): the
//! answers to flow-control requests are the acks, through their `Nats-Last-Stream` /
//! `Nats-Last-Consumer` headers; nothing times out; a reset goes back to the ack floor.

use bytes::Bytes;

use super::support::*;
use crate::core::consumer::{AckKind, AckPolicy, Consumer, ConsumerConfig};
use crate::core::error::ErrorKind;
use crate::core::headers::{NATS_LAST_CONSUMER, NATS_LAST_STREAM};
use crate::core::message::Outbound;
use crate::core::store::memory::MemoryStore;
use crate::core::time::SECONDS;

/// A copy's durable as 2.14 shapes it: push, acked by flow control, nothing else set.
fn copy_config() -> ConsumerConfig {
    ConsumerConfig {
        durable_name: Some("JS_MIRROR_x".to_string()),
        deliver_subject: Some("$JS.M.abc".to_string()),
        ack_policy: AckPolicy::FlowControl,
        sourcing: true,
        ..Default::default()
    }
}

fn active_copy(store: &MemoryStore, config: ConsumerConfig) -> Consumer {
    let mut c = consumer(store, config);
    c.set_push_active(true, T0);
    c
}

/// The reply subject of the flow-control request among `out`, if one went out.
fn fc_request(out: &[Outbound]) -> Option<String> {
    out.iter()
        .find(|o| statuses(std::slice::from_ref(o)) == vec![(100, "FlowControl Request".into())])
        .and_then(|o| o.msg.reply.clone())
}

/// A copy's answer: what it holds, as 2.14's `handleFlowControl` writes it.
fn answer(last_consumer: u64, last_stream: u64) -> Bytes {
    Bytes::from(format!(
        "NATS/1.0\r\n{NATS_LAST_CONSUMER}: {last_consumer}\r\n{NATS_LAST_STREAM}: {last_stream}\r\n\r\n"
    ))
}

#[test]
fn the_policy_reads_and_writes_as_flow_control_and_brings_its_defaults() {
    let config: ConsumerConfig = serde_json::from_str(
        r#"{"ack_policy":"flow_control","deliver_subject":"d","sourcing":true}"#,
    )
    .expect("2.14's spelling");
    let config = config.validated(&[], true).expect("valid");
    assert_eq!(config.ack_policy, AckPolicy::FlowControl);
    assert!(config.flow_control);
    assert_eq!(config.idle_heartbeat, SECONDS);
    assert_eq!(
        config.ack_wait, 0,
        "acks come with the flow control, not in time"
    );
    assert_eq!(config.max_ack_pending, 1000);
    let json = serde_json::to_value(&config).expect("json");
    assert_eq!(json["ack_policy"], "flow_control");
    assert_eq!(json["sourcing"], true);
    assert!(json.get("ack_wait").is_none(), "{json}");
}

#[test]
fn the_policy_refuses_what_2_14_refuses() {
    let refused = |f: &dyn Fn(&mut ConsumerConfig), kind: ErrorKind| {
        let mut config = copy_config();
        f(&mut config);
        let err = config.validated(&[], false).expect_err("refused");
        assert!(err.is(kind), "{err:?}, not {kind:?}");
    };
    refused(
        &|c| c.deliver_subject = None,
        ErrorKind::ConsumerAckFCRequiresPush,
    );
    refused(
        &|c| c.ack_wait = 5 * SECONDS,
        ErrorKind::ConsumerAckFCRequiresNoAckWait,
    );
    refused(
        &|c| c.backoff = vec![SECONDS],
        ErrorKind::ConsumerAckFCRequiresNoAckWait,
    );
    refused(
        &|c| c.max_deliver = 3,
        ErrorKind::ConsumerAckFCRequiresNoMaxDeliver,
    );
    refused(
        &|c| c.max_ack_pending = -1,
        ErrorKind::ConsumerAckFCRequiresMaxAckPending,
    );
}

#[test]
fn a_flow_control_answer_acks_up_to_its_headers_and_nothing_else_does() {
    let store = store_n(5);
    let mut c = active_copy(&store, copy_config());
    let out = poll(&mut c, &store, T0);
    let delivered = deliveries(&out);
    assert_eq!(seqs(&out), vec![1, 2, 3, 4, 5]);
    // An ack on the ack subject is not this consumer's way: ignored.
    ack_with(&mut c, &store, &delivered[4], AckKind::Ack, T0);
    assert_eq!(c.info(&store, T0).num_ack_pending, 5);
    // Delivery went quiet with acks pending: the heartbeat asks for an answer.
    let out = poll(&mut c, &store, T0 + SECONDS);
    let fc = fc_request(&out).expect("a flow-control request at the heartbeat");
    // The copy holds 1..3 so far.
    let outcome = c.flow_control_reply(&fc, Some(&answer(3, 3)), T0 + SECONDS);
    assert_eq!(outcome.acked, vec![1, 2, 3]);
    let info = c.info(&store, T0 + SECONDS);
    assert_eq!(
        (info.ack_floor.stream_seq, info.num_ack_pending),
        (3, 2),
        "{info:?}"
    );
    assert!(!c.needs_ack(3, "orders.new") && c.needs_ack(4, "orders.new"));
    // An answer without the headers (a stalled consumer's) opens the window and acks nothing.
    let out = poll(&mut c, &store, T0 + 2 * SECONDS);
    let fc = fc_request(&out).expect("asked again: 4 and 5 still pending");
    let outcome = c.flow_control_reply(&fc, None, T0 + 2 * SECONDS);
    assert!(outcome.acked.is_empty());
    // A stale answer (not the outstanding request) acks nothing either.
    let out = poll(&mut c, &store, T0 + 3 * SECONDS);
    let fc = fc_request(&out).expect("asked again");
    let stale = c.flow_control_reply("$JS.FC.ORDERS.JS_MIRROR_x.1", Some(&answer(5, 5)), T0);
    assert!(stale.acked.is_empty());
    let outcome = c.flow_control_reply(&fc, Some(&answer(5, 5)), T0 + 3 * SECONDS);
    assert_eq!(outcome.acked, vec![4, 5]);
    assert_eq!(c.info(&store, T0).num_ack_pending, 0);
}

#[test]
fn nothing_is_redelivered_in_time_only_after_a_reset_from_the_ack_floor() {
    let store = store_n(5);
    let mut c = active_copy(&store, copy_config());
    assert_eq!(seqs(&poll(&mut c, &store, T0)), vec![1, 2, 3, 4, 5]);
    let fc = fc_request(&poll(&mut c, &store, T0 + SECONDS)).expect("asked");
    c.flow_control_reply(&fc, Some(&answer(2, 2)), T0 + SECONDS);
    // The link went down: 3..5 went nowhere. An hour on, nothing is sent again on its own.
    c.set_push_active(false, T0 + SECONDS);
    c.set_push_active(true, T0 + 3600 * SECONDS);
    let later = poll(&mut c, &store, T0 + 3600 * SECONDS);
    assert!(seqs(&later).is_empty(), "{:?}", seqs(&later));
    // The copy asks again: back to just past the floor, numbered from 1, first deliveries.
    c.reset_to_ack_floor();
    let info = c.info(&store, T0 + 3600 * SECONDS);
    assert_eq!(
        (info.delivered.consumer_seq, info.delivered.stream_seq),
        (0, 2),
        "the create answer's `delivered`: {info:?}"
    );
    let again = deliveries(&poll(&mut c, &store, T0 + 3601 * SECONDS));
    let seen: Vec<(u64, u64, u64)> = again
        .iter()
        .map(|a| (a.stream_seq, a.consumer_seq, a.delivered))
        .collect();
    assert_eq!(seen, vec![(3, 1, 1), (4, 2, 1), (5, 3, 1)]);
}

#[test]
fn at_max_ack_pending_it_asks_for_an_answer_at_once() {
    let store = store_n(5);
    let mut config = copy_config();
    config.max_ack_pending = 2;
    let mut c = active_copy(&store, config);
    let out = poll(&mut c, &store, T0);
    assert_eq!(seqs(&out), vec![1, 2]);
    let fc = fc_request(&out).expect("asked as soon as the slots were full");
    c.flow_control_reply(&fc, Some(&answer(2, 2)), T0);
    let out = poll(&mut c, &store, T0);
    assert_eq!(seqs(&out), vec![3, 4]);
}

#[test]
fn an_answer_past_what_was_delivered_acks_only_what_was() {
    // A copy that holds more than this consumer sent since its reset (it had them from
    // before) says so; only what the consumer delivered counts as taken.
    let store = store_n(5);
    let mut config = copy_config();
    config.max_ack_pending = 2;
    let mut c = active_copy(&store, config);
    let fc = fc_request(&poll(&mut c, &store, T0)).expect("asked");
    let outcome = c.flow_control_reply(&fc, Some(&answer(2, 5)), T0);
    assert_eq!(outcome.acked, vec![1, 2]);
    assert!(c.needs_ack(3, "orders.new"), "3 was never delivered");
    assert_eq!(seqs(&poll(&mut c, &store, T0)), vec![3, 4]);
}

#[test]
fn its_state_survives_a_restore() {
    let store = store_n(4);
    let mut c = active_copy(&store, copy_config());
    poll(&mut c, &store, T0);
    let fc = fc_request(&poll(&mut c, &store, T0 + SECONDS)).expect("asked");
    c.flow_control_reply(&fc, Some(&answer(1, 1)), T0 + SECONDS);
    let mut back = Consumer::restore(STREAM, c.record(), T0 + 2 * SECONDS).expect("restored");
    assert_eq!(back.config().ack_policy, AckPolicy::FlowControl);
    assert!(back.config().sourcing);
    back.reset_to_ack_floor();
    back.set_push_active(true, T0 + 2 * SECONDS);
    assert_eq!(
        seqs(&poll(&mut back, &store, T0 + 2 * SECONDS)),
        vec![2, 3, 4]
    );
}
