//! Consumers whose delivered messages the stream removes, through the engine: every kind of
//! removal frees the `max_ack_pending` slots at once, moves the ack floor as nats-server does,
//! keeps the removed messages from being redelivered, and is saved by the next flush.

use bytes::Bytes;

use crate::core::consumer::{AckPolicy, ConsumerConfig, ConsumerInfo, PullRequest};
use crate::core::engine::{CreateAction, Engine};
use crate::core::message::Outbound;
use crate::core::stream::{PurgeRequest, StreamConfig};
use crate::core::time::{Nanos, SECONDS};

const T0: Nanos = 1_700_000_000 * SECONDS;
const INBOX: &str = "_INBOX.pull";

/// Stream `S` on `a.>` (adjusted by `f`) with pull consumer `C`: explicit acks,
/// `max_ack_pending: 2`, a 30 s ack wait.
fn engine(f: impl FnOnce(&mut StreamConfig)) -> Engine {
    let mut e = Engine::in_memory(7);
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    f(&mut cfg);
    e.create_stream(cfg, T0).expect("stream is created");
    let consumer = ConsumerConfig {
        durable_name: Some("C".to_string()),
        ack_policy: AckPolicy::Explicit,
        max_ack_pending: 2,
        ack_wait: 30 * SECONDS,
        ..Default::default()
    };
    e.create_consumer("S", consumer, CreateAction::Create, T0)
        .expect("consumer is created");
    e
}

fn publish(e: &mut Engine, subject: &str, now: Nanos) -> u64 {
    let ack = e.publish(subject, None, Bytes::from_static(b"x"), now);
    ack.expect("captured").expect("stored").seq
}

/// Releases what the engine queued and returns the stream sequences delivered to [`INBOX`].
fn delivered(e: &mut Engine) -> Vec<u64> {
    e.flush().result().expect("memory store syncs");
    let mut seqs = Vec::new();
    while let Some(Outbound { to, msg, .. }) = e.poll_outbound() {
        let ack = msg
            .reply
            .as_deref()
            .and_then(crate::core::consumer::parse_ack_subject);
        if let (true, Some(ack)) = (to == INBOX, ack) {
            seqs.push(ack.stream_seq);
        }
    }
    seqs
}

/// Publishes `a.1` and `a.2`, and leaves a pull request for 10 that took both (the consumer is
/// at `max_ack_pending`, the request still waits for 8 more).
fn two_pending(e: &mut Engine) {
    publish(e, "a.1", T0);
    publish(e, "a.2", T0);
    assert!(e.pull("S", "C", PullRequest::batch(10), INBOX, T0));
    assert_eq!(delivered(e), vec![1, 2]);
    assert_eq!(info(e).num_ack_pending, 2);
}

fn info(e: &Engine) -> ConsumerInfo {
    e.consumer_info("S", "C", T0).expect("consumer exists")
}

fn floor(i: &ConsumerInfo) -> (u64, u64) {
    (i.ack_floor.consumer_seq, i.ack_floor.stream_seq)
}

/// The consumer's state as the store holds it after a flush: (ack floor, pending sequences).
fn saved(e: &mut Engine) -> ((u64, u64), Vec<u64>) {
    e.flush().result().expect("memory store syncs");
    let records = e
        .stream("S")
        .expect("stream exists")
        .store()
        .consumers()
        .expect("store lists consumers");
    let state = &records.get("C").expect("consumer saved").state;
    (
        (state.ack_floor.consumer_seq, state.ack_floor.stream_seq),
        state.pending.keys().copied().collect(),
    )
}

/// After both pending messages went: nothing pending, the floor past them, and the next
/// message delivered at once to the request still waiting.
fn assert_freed_and_next_delivered(e: &mut Engine, now: Nanos) {
    let i = info(e);
    assert_eq!(i.num_ack_pending, 0);
    assert_eq!(floor(&i), (2, 2));
    assert_eq!(i.num_pending, 0);
    assert_eq!(saved(e), ((2, 2), vec![]));
    let seq = publish(e, "a.3", now);
    assert_eq!(delivered(e), vec![seq]);
    let i = info(e);
    assert_eq!(i.num_ack_pending, 1);
    assert_eq!(floor(&i), (2, 2));
}

#[test]
fn purge_frees_pending_and_delivers_the_next_message() {
    let mut e = engine(|_| {});
    two_pending(&mut e);
    let purged = e
        .purge_stream("S", &PurgeRequest::default(), T0)
        .expect("purged");
    assert_eq!(purged, 2);
    assert_freed_and_next_delivered(&mut e, T0);
}

#[test]
fn purge_of_one_subject_frees_only_its_pending_message() {
    let mut e = engine(|_| {});
    two_pending(&mut e);
    let req = PurgeRequest {
        filter: Some("a.1".to_string()),
        ..Default::default()
    };
    assert_eq!(e.purge_stream("S", &req, T0).expect("purged"), 1);
    let i = info(&e);
    assert_eq!(i.num_ack_pending, 1);
    assert_eq!(floor(&i), (1, 1));
    assert_eq!(saved(&mut e), ((1, 1), vec![2]));
    publish(&mut e, "a.3", T0);
    assert_eq!(delivered(&mut e), vec![3]);
}

#[test]
fn purge_of_a_filtered_consumers_subject_moves_it_past_the_end() {
    let mut e = Engine::in_memory(7);
    e.create_stream(StreamConfig::new("S", &["a.>"]), T0)
        .expect("stream is created");
    let consumer = ConsumerConfig {
        durable_name: Some("C".to_string()),
        ack_policy: AckPolicy::Explicit,
        filter_subject: Some("a.1".to_string()),
        max_ack_pending: 2,
        ..Default::default()
    };
    e.create_consumer("S", consumer, CreateAction::Create, T0)
        .expect("consumer is created");
    for subject in ["a.1", "a.2", "a.1", "a.1"] {
        publish(&mut e, subject, T0);
    }
    assert!(e.pull("S", "C", PullRequest::batch(10), INBOX, T0));
    assert_eq!(delivered(&mut e), vec![1, 3]);
    let req = PurgeRequest {
        filter: Some("a.1".to_string()),
        ..Default::default()
    };
    assert_eq!(e.purge_stream("S", &req, T0).expect("purged"), 3);
    let i = info(&e);
    assert_eq!((i.num_ack_pending, i.num_pending), (0, 0));
    assert_eq!(
        floor(&i).1,
        4,
        "the floor moves to the stream's last sequence"
    );
    publish(&mut e, "a.1", T0);
    assert_eq!(delivered(&mut e), vec![5]);
}

#[test]
fn deleting_pending_messages_frees_them() {
    let mut e = engine(|_| {});
    two_pending(&mut e);
    e.delete_msg("S", 2, false, T0).expect("deleted");
    let i = info(&e);
    assert_eq!(i.num_ack_pending, 1);
    assert_eq!(floor(&i), (0, 0), "1 is still pending below the deleted 2");
    e.delete_msg("S", 1, false, T0).expect("deleted");
    assert_freed_and_next_delivered(&mut e, T0);
}

#[test]
fn max_msgs_eviction_frees_pending_messages_one_by_one() {
    let mut e = engine(|c| c.max_msgs = 2);
    two_pending(&mut e);
    // a.3 evicts 1, whose slot a.3 takes at once; a.4 evicts 2 and is delivered too.
    assert_eq!(publish(&mut e, "a.3", T0), 3);
    assert_eq!(delivered(&mut e), vec![3]);
    assert_eq!(publish(&mut e, "a.4", T0), 4);
    assert_eq!(delivered(&mut e), vec![4]);
    let i = info(&e);
    assert_eq!(i.num_ack_pending, 2);
    assert_eq!(floor(&i), (2, 2));
    assert_eq!(saved(&mut e), ((2, 2), vec![3, 4]));
}

#[test]
fn max_bytes_eviction_frees_pending_messages() {
    // Each message takes 3 + 1 + 16 = 20 bytes: two fit.
    let mut e = engine(|c| c.max_bytes = 40);
    two_pending(&mut e);
    publish(&mut e, "a.3", T0);
    assert_eq!(delivered(&mut e), vec![3]);
    let i = info(&e);
    assert_eq!(i.num_ack_pending, 2);
    assert_eq!(floor(&i), (1, 1));
}

#[test]
fn max_msgs_per_subject_eviction_frees_pending_messages() {
    let mut e = engine(|c| c.max_msgs_per_subject = 1);
    publish(&mut e, "a.1", T0);
    publish(&mut e, "a.2", T0);
    assert!(e.pull("S", "C", PullRequest::batch(10), INBOX, T0));
    assert_eq!(delivered(&mut e), vec![1, 2]);
    // A new a.1 replaces the pending a.1 and takes its slot at once.
    publish(&mut e, "a.1", T0);
    assert_eq!(delivered(&mut e), vec![3]);
    let i = info(&e);
    assert_eq!(i.num_ack_pending, 2);
    assert_eq!(floor(&i), (1, 1));
}

#[test]
fn max_age_expiry_frees_pending_messages() {
    let mut e = engine(|c| c.max_age = SECONDS);
    two_pending(&mut e);
    let later = T0 + 2 * SECONDS;
    e.handle_timeout(later);
    assert_eq!(e.stream("S").expect("stream").state().msgs, 0);
    assert_freed_and_next_delivered(&mut e, later);
}

#[test]
fn removed_messages_are_not_redelivered() {
    let mut e = engine(|_| {});
    publish(&mut e, "a.1", T0);
    publish(&mut e, "a.2", T0);
    assert!(e.pull("S", "C", PullRequest::batch(2), INBOX, T0));
    assert_eq!(delivered(&mut e), vec![1, 2]);
    // 1 waits for redelivery (nak), 2 for its ack wait; both go.
    e.handle(
        crate::core::message::Message {
            subject: "$JS.ACK.S.C.1.1.1.0.0".to_string(),
            reply: None,
            headers: None,
            payload: Bytes::from_static(b"-NAK"),
        },
        T0,
    );
    e.purge_stream("S", &PurgeRequest::default(), T0)
        .expect("purged");
    assert_eq!(delivered(&mut e), Vec::<u64>::new());
    // Past the ack wait, with a request waiting: nothing comes back.
    let later = T0 + 60 * SECONDS;
    assert!(e.pull("S", "C", PullRequest::batch(5), INBOX, later));
    e.handle_timeout(later);
    assert_eq!(delivered(&mut e), Vec::<u64>::new());
    let i = info(&e);
    assert_eq!((i.num_ack_pending, i.num_redelivered), (0, 0));
}

#[test]
fn work_queue_acks_still_release_and_count() {
    let mut e = engine(|c| c.retention = crate::core::stream::RetentionPolicy::WorkQueue);
    two_pending(&mut e);
    e.handle(
        crate::core::message::Message {
            subject: "$JS.ACK.S.C.1.1.1.0.0".to_string(),
            reply: None,
            headers: None,
            payload: Bytes::from_static(b"+ACK"),
        },
        T0,
    );
    assert_eq!(e.stream("S").expect("stream").state().msgs, 1);
    let i = info(&e);
    assert_eq!(i.num_ack_pending, 1);
    assert_eq!(floor(&i), (1, 1));
    publish(&mut e, "a.3", T0);
    assert_eq!(delivered(&mut e), vec![3]);
}

#[test]
fn purge_of_a_subject_above_the_ack_floor_frees_its_pending_message() {
    let mut e = engine(|_| {});
    for subject in ["a.1", "a.2", "a.3"] {
        publish(&mut e, subject, T0);
    }
    assert!(e.pull("S", "C", PullRequest::batch(10), INBOX, T0));
    assert_eq!(delivered(&mut e), vec![1, 2]);
    e.handle(
        crate::core::message::Message {
            subject: "$JS.ACK.S.C.1.1.1.0.0".to_string(),
            reply: None,
            headers: None,
            payload: Bytes::from_static(b"+ACK"),
        },
        T0,
    );
    assert_eq!(delivered(&mut e), vec![3]);
    assert_eq!(floor(&info(&e)), (1, 1));
    // The stream still starts at 1, so the floor does not move: 3 must still leave pending.
    let req = PurgeRequest {
        filter: Some("a.3".to_string()),
        ..Default::default()
    };
    assert_eq!(e.purge_stream("S", &req, T0).expect("purged"), 1);
    assert_eq!(info(&e).num_ack_pending, 1);
    assert_eq!(saved(&mut e).1, vec![2]);
    publish(&mut e, "a.4", T0);
    assert_eq!(delivered(&mut e), vec![4]);
}

#[test]
fn more_removals_than_the_journal_lists_still_free_pending_messages() {
    let mut e = engine(|_| {});
    for _ in 0..5000 {
        publish(&mut e, "a.1", T0);
    }
    assert!(e.pull("S", "C", PullRequest::batch(10), INBOX, T0));
    assert_eq!(delivered(&mut e), vec![1, 2]);
    let mut cfg = e.stream("S").expect("stream").config().clone();
    cfg.max_msgs = 1;
    e.update_stream(cfg, T0).expect("updated");
    assert_eq!(e.stream("S").expect("stream").state().msgs, 1);
    // The one message left (5000) is delivered to the waiting request at once.
    assert_eq!(delivered(&mut e), vec![5000]);
    let i = info(&e);
    assert_eq!((i.num_ack_pending, i.num_pending), (1, 0));
    assert_eq!(saved(&mut e).1, vec![5000]);
}
