//! Per-message TTLs and subject delete markers through the engine: expiry driven by
//! `poll_timeout` / `handle_timeout`, consumers hearing of it through the removal journal, and
//! markers stored, delivered and expired like any message.

use bytes::Bytes;

use crate::core::consumer::{AckPolicy, ConsumerConfig, PullRequest};
use crate::core::engine::{CreateAction, Engine};
use crate::core::headers::{find_header, Headers, NATS_ROLLUP};
use crate::core::message::Outbound;
use crate::core::stream::{StreamConfig, NATS_MARKER_REASON, NATS_TTL};
use crate::core::time::{Nanos, SECONDS};

const T0: Nanos = 1_700_000_000 * SECONDS;
const INBOX: &str = "_INBOX.pull";

/// Stream `S` on `a.>` (adjusted by `f`) with a pull consumer `C` (explicit acks).
fn engine(f: impl FnOnce(&mut StreamConfig)) -> Engine {
    let mut e = Engine::in_memory(7);
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    f(&mut cfg);
    e.create_stream(cfg, T0).expect("stream is created");
    let consumer = ConsumerConfig {
        durable_name: Some("C".to_string()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: 3600 * SECONDS,
        ..Default::default()
    };
    e.create_consumer("S", consumer, CreateAction::Create, T0)
        .expect("consumer is created");
    e
}

fn publish_ttl(e: &mut Engine, subject: &str, ttl: Option<&str>, now: Nanos) -> u64 {
    let headers = ttl.map(|ttl| {
        let mut h = Headers::new();
        h.append(NATS_TTL, ttl);
        h.encode()
    });
    let ack = e.publish(subject, headers, Bytes::from_static(b"x"), now);
    ack.expect("captured").expect("stored").seq
}

/// Releases what the engine queued: the messages delivered to [`INBOX`] as (stream sequence,
/// header block).
fn delivered(e: &mut Engine) -> Vec<(u64, Option<Bytes>)> {
    e.flush().result().expect("memory store syncs");
    let mut out = Vec::new();
    while let Some(Outbound { to, msg, .. }) = e.poll_outbound() {
        let ack = msg
            .reply
            .as_deref()
            .and_then(crate::core::consumer::parse_ack_subject);
        if let (true, Some(ack)) = (to == INBOX, ack) {
            out.push((ack.stream_seq, msg.headers.clone()));
        }
    }
    out
}

fn seqs(d: &[(u64, Option<Bytes>)]) -> Vec<u64> {
    d.iter().map(|(seq, _)| *seq).collect()
}

#[test]
fn the_engines_timers_expire_ttls_and_consumers_drop_them_from_pending() {
    let mut e = engine(|c| {
        c.allow_msg_ttl = true;
        c.max_age = 3600 * SECONDS;
    });
    publish_ttl(&mut e, "a.1", Some("2s"), T0);
    publish_ttl(&mut e, "a.2", Some("never"), T0);
    publish_ttl(&mut e, "a.3", None, T0);
    assert!(e.pull("S", "C", PullRequest::batch(10), INBOX, T0));
    assert_eq!(seqs(&delivered(&mut e)), vec![1, 2, 3]);
    assert_eq!(e.poll_timeout(), Some(T0 + 2 * SECONDS));
    e.handle_timeout(T0 + 2 * SECONDS);
    let info = e.consumer_info("S", "C", T0).expect("consumer");
    assert_eq!(info.num_ack_pending, 2, "the expired message left pending");
    assert_eq!(e.stream("S").expect("stream").state().msgs, 2);
    // max_age takes a.3 and keeps the "never" message.
    e.handle_timeout(T0 + 3600 * SECONDS);
    let state = e.stream("S").expect("stream").state();
    assert_eq!((state.msgs, state.first_seq), (1, 2));
    let info = e.consumer_info("S", "C", T0).expect("consumer");
    assert_eq!(info.num_ack_pending, 1);
}

#[test]
fn a_subjects_last_message_expiring_leaves_a_marker_that_expires_in_turn() {
    let mut e = engine(|c| c.subject_delete_marker_ttl = 5 * SECONDS);
    publish_ttl(&mut e, "a.k", Some("1s"), T0);
    publish_ttl(&mut e, "a.other", None, T0);
    assert!(e.pull("S", "C", PullRequest::batch(10), INBOX, T0));
    assert_eq!(seqs(&delivered(&mut e)), vec![1, 2]);
    // A TTL under the marker TTL is raised to it (as nats-server does, so a marker already on
    // the subject cannot make a later one be missed).
    assert_eq!(e.poll_timeout(), Some(T0 + 5 * SECONDS));
    let at = T0 + 5 * SECONDS;
    e.handle_timeout(at);
    let got = delivered(&mut e);
    assert_eq!(seqs(&got), vec![3], "the marker is delivered");
    let marker = e
        .stream("S")
        .expect("stream")
        .store()
        .load_msg(3)
        .expect("stored");
    assert_eq!((marker.subject.as_str(), marker.time), ("a.k", at));
    assert!(marker.payload.is_empty());
    let h = marker.headers.as_deref().expect("marker headers");
    assert_eq!(find_header(h, NATS_MARKER_REASON), Some("MaxAge"));
    assert_eq!(find_header(h, NATS_TTL), Some("5s"));
    assert_eq!(find_header(h, NATS_ROLLUP), Some("sub"));
    let state = e.stream("S").expect("stream").state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (2, 2, 3));
    let info = e.consumer_info("S", "C", T0).expect("consumer");
    assert_eq!(
        info.num_ack_pending, 2,
        "the rolled-up message left pending"
    );
    // The marker expires by its own TTL and leaves nothing behind.
    assert_eq!(e.poll_timeout(), Some(at + 5 * SECONDS));
    e.handle_timeout(at + 5 * SECONDS);
    assert!(delivered(&mut e).is_empty());
    let state = e.stream("S").expect("stream").state();
    assert_eq!((state.msgs, state.last_seq), (1, 3));
    // Only the consumer's ack wait is left to wake for.
    assert_eq!(e.poll_timeout(), Some(T0 + 3600 * SECONDS));
}

#[test]
fn max_age_leaves_markers_too_and_an_update_that_shortens_it_stores_them() {
    let mut e = engine(|c| c.subject_delete_marker_ttl = 60 * SECONDS);
    publish_ttl(&mut e, "a.1", None, T0);
    publish_ttl(&mut e, "a.1", None, T0);
    let mut cfg = e.stream("S").expect("stream").config().clone();
    cfg.max_age = 10 * SECONDS;
    cfg.duplicate_window = 10 * SECONDS;
    e.update_stream(cfg, T0 + 20 * SECONDS).expect("updated");
    let stream = e.stream("S").expect("stream");
    let state = stream.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (1, 3, 3));
    let marker = stream.store().load_msg(3).expect("marker");
    let h = marker.headers.as_deref().expect("headers");
    assert_eq!(find_header(h, NATS_TTL), Some("1m0s"));
}
