//! Ack policies, the ack floor, NAK, +WPI, +TERM, +NXT and ack replies.

use super::support::*;
use crate::core::consumer::{AckKind, AckPolicy, AckSubject, Consumer, PullRequest};
use crate::core::store::memory::MemoryStore;

fn with_policy(ack_policy: AckPolicy) -> crate::core::consumer::ConsumerConfig {
    let mut config = pull_config("d");
    config.ack_policy = ack_policy;
    config
}

fn floor(c: &Consumer, store: &MemoryStore) -> (u64, u64) {
    let info = c.info(store, T0);
    (info.ack_floor.consumer_seq, info.ack_floor.stream_seq)
}

/// A pull request that waits (one minute) for `batch` messages.
fn waiting(c: &mut Consumer, store: &MemoryStore, batch: usize, now: i64) -> Vec<AckSubject> {
    let req = PullRequest {
        batch,
        expires: secs(600),
        ..Default::default()
    };
    deliveries(&request(c, store, req, "_INBOX.w", now))
}

#[test]
fn ack_none_leaves_nothing_pending() {
    let store = store_n(3);
    let mut c = consumer(&store, with_policy(AckPolicy::None));
    assert_eq!(seqs(&fetch(&mut c, &store, 3, T0)), vec![1, 2, 3]);
    let info = c.info(&store, T0);
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(
        (info.ack_floor.consumer_seq, info.ack_floor.stream_seq),
        (3, 3)
    );
}

#[test]
fn ack_all_acknowledges_everything_at_or_below() {
    let store = store_n(5);
    let mut c = consumer(&store, with_policy(AckPolicy::All));
    let d = deliveries(&fetch(&mut c, &store, 5, T0));
    let mut out = Vec::new();
    let outcome = c.ack(&d[2], AckKind::Ack, None, &store, T0, &mut out);
    assert_eq!(outcome.acked, vec![1, 2, 3]);
    assert!(outcome.changed);
    assert_eq!(c.info(&store, T0).num_ack_pending, 2);
    assert_eq!(floor(&c, &store), (3, 3));
}

#[test]
fn explicit_ack_acknowledges_only_that_message() {
    let store = store_n(3);
    let mut c = consumer(&store, with_policy(AckPolicy::Explicit));
    let d = deliveries(&fetch(&mut c, &store, 3, T0));
    let mut out = Vec::new();
    let outcome = c.ack(&d[1], AckKind::Ack, None, &store, T0, &mut out);
    assert_eq!(outcome.acked, vec![2]);
    assert_eq!(c.info(&store, T0).num_ack_pending, 2);
    assert_eq!(floor(&c, &store), (0, 0));
}

#[test]
fn ack_floor_waits_for_the_lowest_then_jumps_over_acked() {
    let store = store_n(5);
    let mut c = consumer(&store, pull_config("d"));
    let d = deliveries(&fetch(&mut c, &store, 5, T0));
    ack_with(&mut c, &store, &d[1], AckKind::Ack, T0);
    ack_with(&mut c, &store, &d[2], AckKind::Ack, T0);
    assert_eq!(floor(&c, &store), (0, 0));
    ack_with(&mut c, &store, &d[0], AckKind::Ack, T0);
    assert_eq!(floor(&c, &store), (3, 3));
    ack_with(&mut c, &store, &d[4], AckKind::Ack, T0);
    assert_eq!(floor(&c, &store), (3, 3));
    ack_with(&mut c, &store, &d[3], AckKind::Ack, T0);
    assert_eq!(floor(&c, &store), (5, 5));
}

#[test]
fn ack_floor_of_filtered_consumer_follows_stream_gaps() {
    let store = store_with(&["orders.a", "orders.b", "orders.a", "orders.b", "orders.a"]);
    let mut config = pull_config("d");
    config.filter_subject = Some("orders.a".into());
    let mut c = consumer(&store, config);
    let d = deliveries(&fetch(&mut c, &store, 3, T0));
    assert_eq!(
        d.iter().map(|a| a.stream_seq).collect::<Vec<_>>(),
        vec![1, 3, 5]
    );
    ack_with(&mut c, &store, &d[0], AckKind::Ack, T0);
    assert_eq!(floor(&c, &store), (1, 2));
    ack_with(&mut c, &store, &d[1], AckKind::Ack, T0);
    assert_eq!(floor(&c, &store), (2, 4));
    ack_with(&mut c, &store, &d[2], AckKind::Ack, T0);
    assert_eq!(floor(&c, &store), (3, 5));
}

#[test]
fn nak_without_delay_redelivers_at_once() {
    let store = store_n(2);
    let mut c = consumer(&store, pull_config("d"));
    let first = deliveries(&fetch(&mut c, &store, 1, T0));
    ack_with(&mut c, &store, &first[0], AckKind::Nak { delay: None }, T0);
    let again = deliveries(&fetch(&mut c, &store, 1, T0));
    assert_eq!((again[0].stream_seq, again[0].delivered), (1, 2));
}

#[test]
fn nak_with_delay_redelivers_only_after_the_delay() {
    let store = store_n(1);
    let mut c = consumer(&store, pull_config("d"));
    let first = deliveries(&fetch(&mut c, &store, 1, T0));
    let t = T0 + secs(1);
    ack_with(
        &mut c,
        &store,
        &first[0],
        AckKind::Nak {
            delay: Some(secs(2)),
        },
        t,
    );
    assert!(waiting(&mut c, &store, 1, t).is_empty());
    assert_eq!(c.next_deadline(), Some(t + secs(2)));
    assert!(seqs(&poll(&mut c, &store, t + secs(2) - 1)).is_empty());
    assert_eq!(seqs(&poll(&mut c, &store, t + secs(2))), vec![1]);
}

#[test]
fn progress_restarts_the_ack_wait() {
    let store = store_n(1);
    let mut c = consumer(&store, pull_config("d"));
    let first = deliveries(&fetch(&mut c, &store, 1, T0));
    ack_with(&mut c, &store, &first[0], AckKind::Progress, T0 + secs(20));
    assert!(waiting(&mut c, &store, 1, T0 + secs(30)).is_empty());
    assert!(seqs(&poll(&mut c, &store, T0 + secs(50) - 1)).is_empty());
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(50))), vec![1]);
}

#[test]
fn term_stops_redelivery() {
    let store = store_n(1);
    let mut c = consumer(&store, pull_config("d"));
    let first = deliveries(&fetch(&mut c, &store, 1, T0));
    let mut out = Vec::new();
    let term = AckKind::Term {
        reason: Some("poison".into()),
    };
    let outcome = c.ack(&first[0], term, None, &store, T0, &mut out);
    assert_eq!(outcome.acked, vec![1]);
    assert!(waiting(&mut c, &store, 1, T0 + secs(60)).is_empty());
    assert!(seqs(&poll(&mut c, &store, T0 + secs(120))).is_empty());
    assert_eq!(c.info(&store, T0).num_ack_pending, 0);
}

#[test]
fn ack_with_reply_gets_an_empty_answer() {
    let store = store_n(1);
    let mut c = consumer(&store, pull_config("d"));
    let first = deliveries(&fetch(&mut c, &store, 1, T0));
    let mut out = Vec::new();
    c.ack(
        &first[0],
        AckKind::Ack,
        Some("_INBOX.ack"),
        &store,
        T0,
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, "_INBOX.ack");
    assert!(out[0].msg.payload.is_empty() && out[0].msg.headers.is_none());
}

#[test]
fn ack_of_undelivered_message_is_ignored() {
    let store = store_n(3);
    let mut c = consumer(&store, pull_config("d"));
    fetch(&mut c, &store, 1, T0);
    let forged = AckSubject {
        stream: STREAM.into(),
        consumer: "d".into(),
        delivered: 1,
        stream_seq: 3,
        consumer_seq: 3,
        timestamp: T0,
        pending: 0,
    };
    let mut out = Vec::new();
    let outcome = c.ack(
        &forged,
        AckKind::Ack,
        Some("_INBOX.ack"),
        &store,
        T0,
        &mut out,
    );
    assert!(outcome.acked.is_empty());
    assert!(
        out.is_empty(),
        "no ack reply for an ack nats-server ignores"
    );
    assert_eq!(seqs(&fetch(&mut c, &store, 2, T0)), vec![2, 3]);
}

#[test]
fn next_acks_and_delivers_to_the_ack_reply() {
    let store = store_n(3);
    let mut c = consumer(&store, pull_config("d"));
    let first = deliveries(&fetch(&mut c, &store, 1, T0));
    let mut out = Vec::new();
    let next = AckKind::Next(Ok(PullRequest::batch(2)));
    let outcome = c.ack(&first[0], next, Some("_INBOX.next"), &store, T0, &mut out);
    assert_eq!(outcome.acked, vec![1]);
    assert_eq!(seqs(&out), vec![2, 3]);
    assert!(out.iter().all(|o| o.to == "_INBOX.next"));
}

#[test]
fn next_with_bad_request_acks_and_answers_400() {
    let store = store_n(2);
    let mut c = consumer(&store, pull_config("d"));
    let first = deliveries(&fetch(&mut c, &store, 1, T0));
    let mut out = Vec::new();
    let next = AckKind::parse(b"+NXT {nope").expect("a +NXT");
    let outcome = c.ack(&first[0], next, Some("_INBOX.next"), &store, T0, &mut out);
    assert_eq!(outcome.acked, vec![1]);
    let st = statuses(&out);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].0, 400);
    assert!(st[0].1.starts_with("Bad Request - "));
}
