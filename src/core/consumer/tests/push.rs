//! Push delivery: deliver subject, queue group, idle heartbeats, flow control, replay pacing.

use bytes::Bytes;

use super::support::*;
use crate::core::consumer::push::NATS_CONSUMER_STALLED;
use crate::core::consumer::{Consumer, ConsumerConfig, ReplayPolicy};
use crate::core::headers::{NATS_LAST_CONSUMER, NATS_LAST_STREAM};
use crate::core::store::memory::MemoryStore;
use crate::core::store::StreamStore;

fn active(store: &MemoryStore, config: ConsumerConfig) -> Consumer {
    let mut c = consumer(store, config);
    c.set_push_active(true, T0);
    c
}

#[test]
fn push_delivers_to_the_deliver_subject_under_the_original_subject() {
    let store = store_n(2);
    let mut c = active(&store, push_config("d", "deliver.here"));
    let out = poll(&mut c, &store, T0);
    assert_eq!(seqs(&out), vec![1, 2]);
    assert!(out
        .iter()
        .all(|o| o.to == "deliver.here" && o.msg.subject == "orders.new"));
}

#[test]
fn push_waits_for_interest() {
    let store = store_n(2);
    let mut c = consumer(&store, push_config("d", "deliver.here"));
    assert!(poll(&mut c, &store, T0).is_empty());
    c.set_push_active(true, T0);
    assert_eq!(seqs(&poll(&mut c, &store, T0)), vec![1, 2]);
}

#[test]
fn deliver_group_travels_with_each_delivery() {
    let store = store_n(1);
    let mut config = push_config("d", "deliver.here");
    config.deliver_group = Some("workers".into());
    let mut c = active(&store, config);
    let out = poll(&mut c, &store, T0);
    assert_eq!(out[0].group.as_deref(), Some("workers"));
}

fn with_heartbeat() -> ConsumerConfig {
    let mut config = push_config("d", "deliver.here");
    config.idle_heartbeat = secs(1);
    config
}

#[test]
fn idle_push_consumer_sends_heartbeats() {
    let store = store_n(2);
    let mut c = active(&store, with_heartbeat());
    assert_eq!(seqs(&poll(&mut c, &store, T0)), vec![1, 2]);
    assert_eq!(c.next_deadline(), Some(T0 + secs(1)));
    assert!(poll(&mut c, &store, T0 + secs(1) - 1).is_empty());
    let out = poll(&mut c, &store, T0 + secs(1));
    assert_eq!(statuses(&out), vec![(100, "Idle Heartbeat".to_string())]);
    let h = status_headers(&out, 100);
    assert_eq!(h.get(NATS_LAST_CONSUMER), Some("2"));
    assert_eq!(h.get(NATS_LAST_STREAM), Some("2"));
    assert_eq!(out[0].to, "deliver.here");
}

#[test]
fn a_delivery_postpones_the_heartbeat() {
    let mut store = store_n(0);
    let mut c = active(&store, with_heartbeat());
    publish(&mut store, "orders.new", T0 + secs(1) / 2);
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(1) / 2)), vec![1]);
    assert!(poll(&mut c, &store, T0 + secs(1)).is_empty());
    assert_eq!(c.next_deadline(), Some(T0 + secs(1) / 2 + secs(1)));
}

fn flow_controlled(store: &MemoryStore) -> Consumer {
    let mut config = with_heartbeat();
    config.flow_control = true;
    let mut c = active(store, config);
    // A 200-byte window (a sixteenth of the limit) so a few messages fill it.
    c.fc.set_window(16 * 200);
    c
}

#[test]
fn flow_control_pauses_delivery_until_answered() {
    let store = store_n(20);
    let mut c = flow_controlled(&store);
    let out = poll(&mut c, &store, T0);
    let first = seqs(&out);
    assert!(
        !first.is_empty() && first.len() < 20,
        "stalls before the end: {first:?}"
    );
    let fc: Vec<_> = out
        .iter()
        .filter(|o| {
            statuses(std::slice::from_ref(o)) == vec![(100, "FlowControl Request".to_string())]
        })
        .collect();
    assert_eq!(fc.len(), 1);
    let fc_subject = fc[0]
        .msg
        .reply
        .clone()
        .expect("flow control has a reply subject");
    assert!(fc_subject.starts_with("$JS.FC.ORDERS.d."));
    assert!(seqs(&poll(&mut c, &store, T0)).is_empty(), "stalled");
    c.flow_control_reply(&fc_subject, None, T0);
    let more = seqs(&poll(&mut c, &store, T0));
    assert_eq!(more.first(), Some(&(first.len() as u64 + 1)));
}

#[test]
fn flow_control_ignores_answers_to_other_subjects() {
    let store = store_n(20);
    let mut c = flow_controlled(&store);
    poll(&mut c, &store, T0);
    c.flow_control_reply("$JS.FC.ORDERS.d.999", None, T0);
    assert!(seqs(&poll(&mut c, &store, T0)).is_empty());
}

#[test]
fn heartbeat_while_stalled_names_the_flow_control_subject() {
    let store = store_n(20);
    let mut c = flow_controlled(&store);
    poll(&mut c, &store, T0);
    let out = poll(&mut c, &store, T0 + secs(1));
    let h = status_headers(&out, 100);
    assert!(h
        .get(NATS_CONSUMER_STALLED)
        .is_some_and(|s| s.starts_with("$JS.FC.ORDERS.d.")));
}

#[test]
fn replay_original_keeps_the_stored_gaps() {
    let mut store = MemoryStore::new();
    for at in [T0, T0 + secs(2), T0 + secs(5)] {
        store
            .store_msg("orders.new", None, Bytes::from_static(b"x"), at)
            .expect("stored");
    }
    let mut config = push_config("d", "deliver.here");
    config.replay_policy = ReplayPolicy::Original;
    let t1 = T0 + secs(100);
    let mut c = consumer(&store, config);
    c.set_push_active(true, t1);
    assert_eq!(seqs(&poll(&mut c, &store, t1)), vec![1]);
    assert_eq!(c.next_deadline(), Some(t1 + secs(2)));
    assert!(seqs(&poll(&mut c, &store, t1 + secs(2) - 1)).is_empty());
    assert_eq!(seqs(&poll(&mut c, &store, t1 + secs(2))), vec![2]);
    assert_eq!(seqs(&poll(&mut c, &store, t1 + secs(5))), vec![3]);
}

#[test]
fn a_push_burst_stops_early_and_the_rest_is_due_at_once_in_order() {
    let store = store_n(10);
    let mut c = active(&store, push_config("d", "deliver.here"));
    let mut first = Vec::new();
    // The burst is spent by the delivery that reaches it: three of about `one` bytes each.
    let one = {
        let probe_store = store_n(1);
        let mut probe = active(&probe_store, push_config("d", "deliver.here"));
        let out = poll(&mut probe, &probe_store, T0);
        let o = &out[0];
        o.msg.subject.len() + o.msg.reply.as_ref().map_or(0, String::len) + o.msg.payload.len()
    };
    c.poll_burst(&store, T0, 3 * one - 1, &mut first);
    assert_eq!(seqs(&first), vec![1, 2, 3]);
    assert_eq!(c.next_deadline(), Some(T0), "the rest is due now");
    let mut rest = Vec::new();
    c.poll_burst(&store, T0 + 1, 3 * one - 1, &mut rest);
    assert_eq!(seqs(&rest), vec![4, 5, 6]);
    let rest = poll(&mut c, &store, T0 + 2);
    assert_eq!(
        seqs(&rest),
        vec![7, 8, 9, 10],
        "an unbounded poll takes the rest"
    );
    assert!(
        c.next_deadline().is_none_or(|at| at > T0 + 2),
        "nothing more is due now"
    );
}
