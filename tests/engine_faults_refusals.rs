//! Group commit under a failing store, by hand: what a stream whose store fails answers, and
//! when. The publish whose sync fails is refused (10023) at that flush, later publishes to that
//! stream at once; reads, other streams' PubAcks and deliveries of durable messages are not
//! held by it; a refused publish may still be stored (a retry with its `Nats-Msg-Id` finds it).
//! The random schedules are in `engine_faults.rs`.

mod faults_support;

use std::collections::BTreeSet;

use bytes::Bytes;
use contrail::core::message::Message;
use contrail::core::store::StoreError;
use faults_support::*;

/// The publish whose sync fails is answered at that flush (10023), not when space is freed;
/// while the stream's store fails, a publish to it is refused at once (10023, nothing stored)
/// and reads are answered, although every flush fails.
#[test]
fn a_failing_stream_refuses_publishes_at_once_and_still_answers_reads() {
    let mut run = Run::new(memory_stores());
    run.step(&Step::Publish(0)).expect("publish");
    run.faults.fail_stream("A", true);
    assert_eq!(run.flush(), Err(StoreError::QuotaExceeded));
    let (to, body) = run.answer("the publish is answered");
    assert_eq!(to, "pub.0.0");
    assert_refused(&body);
    assert_eq!(run.poll(), None);

    run.step(&Step::Publish(0)).expect("publish");
    run.send(Message::new("$JS.API.STREAM.INFO.A", Bytes::new()).with_reply("info"));
    assert!(run.flush().is_err(), "the store still fails");
    let out = run.answers();
    let to: Vec<&str> = out.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(
        to,
        ["pub.0.1", "info"],
        "the refusal and the read leave at once"
    );
    assert_refused(&out[0].1);
    assert_eq!(
        run.msgs("A"),
        Some(1),
        "the publish refused at once stored nothing (the first is still queued)"
    );

    run.faults.recover();
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Ok(()));
    assert!(run.acked[0].is_empty(), "nothing was acknowledged");
}
/// Every publish of a failed batch is answered at that flush, and only those are refused: the
/// other stream's PubAcks, and the failing stream's ack reply (consumer state, not a publish),
/// keep their usual rules.
#[test]
fn every_publish_of_a_failed_batch_is_answered_at_that_flush() {
    let mut run = Run::new(memory_stores());
    for step in [
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 1,
        },
        Step::Flush(Fault::None),
    ] {
        run.step(&step).expect("setup");
    }
    assert_eq!(run.unacked[0].len(), 1, "one delivery to ack");
    for step in [
        Step::Ack { stream: 0, pick: 0 },
        Step::Publish(0),
        Step::Publish(0),
        Step::Publish(1),
    ] {
        run.step(&step).expect("batch");
    }
    run.faults.fail_stream("A", true);
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Err(StoreError::QuotaExceeded));
    assert_eq!(
        run.refused[0], 2,
        "both publishes to A refused at that flush"
    );
    assert_eq!(run.refused_queued[0], BTreeSet::from([2, 3]));
    assert_eq!(
        run.acked[1],
        BTreeSet::from([1]),
        "B's publish acknowledged"
    );
    assert_eq!(run.ack_replies, 0, "the ack reply waits for its state");

    run.faults.recover();
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Ok(()));
    assert_eq!(run.ack_replies, 1, "the ack is confirmed once saved");
    run.recover_and_compare()
        .expect("state holds what was acknowledged");
}

/// Deleting a stream whose store was failing forgets the failure: a stream created again under
/// its name takes publishes.
#[test]
fn a_stream_recreated_after_its_failing_store_was_deleted_takes_publishes() {
    let mut run = Run::new(memory_stores());
    run.step(&Step::Publish(2)).expect("publish");
    run.faults.fail_stream("C", true);
    assert!(run.flush().is_err());
    run.front.engine_mut().delete_stream("C").expect("delete");
    run.faults.recover();
    run.api("STREAM.CREATE.C", r#"{"subjects":["c.>"]}"#);
    run.send(Message::new("c.x", Bytes::from_static(b"x")).with_reply("again"));
    assert_eq!(run.flush(), Ok(()));
    let ack = run
        .released()
        .into_iter()
        .find(|o| o.to == "again")
        .expect("a reply to the publish");
    let ack = json(&ack);
    assert_eq!(ack["seq"], 1, "{ack}");
}

/// Reads and deliveries of messages that are durable are not held by a failing store, neither
/// by another stream's nor by the stream's own held batch: while A's store fails (its last
/// PubAck held), a pull on B, a pull on A of a message synced before, and a MSG.GET of that
/// message are all answered at once; A's PubAck only once its sync succeeds.
#[test]
fn deliveries_of_durable_messages_are_not_held_by_a_failing_store() {
    let mut run = Run::new(memory_stores());
    for step in [Step::Publish(0), Step::Publish(1), Step::Flush(Fault::None)] {
        run.step(&step).expect("setup");
    }
    assert_eq!((run.acked[0].len(), run.acked[1].len()), (1, 1));
    run.step(&Step::Publish(0)).expect("publish");
    run.faults.fail_stream("A", true);
    assert_eq!(run.flush(), Err(StoreError::QuotaExceeded));
    let out = run.poll().expect("A's second publish is answered");
    assert_eq!(out.to, "pub.0.1");
    assert_refused(&json(&out));
    run.check_released(&out)
        .expect("a refusal of a message not durable");

    for stream in [1, 0] {
        run.step(&Step::Pull { stream, batch: 1 }).expect("pull");
    }
    run.send(
        Message::new(
            "$JS.API.STREAM.MSG.GET.A",
            Bytes::from_static(br#"{"seq":1}"#),
        )
        .with_reply("get.0"),
    );
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Err(StoreError::QuotaExceeded), "A still fails");
    assert_eq!(run.unacked[1].len(), 1, "B's delivery left");
    assert_eq!(run.unacked[0].len(), 1, "A's synced message was delivered");
    assert_eq!(run.gets, 1, "the MSG.GET of a synced message was answered");

    run.faults.recover();
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Ok(()));
    assert_eq!(
        run.acked[0].len(),
        1,
        "the refused publish was not acknowledged later"
    );
    run.recover_and_compare()
        .expect("state equals what was acknowledged");
}

/// A publish refused at a failed flush is, for its client, like one that timed out: its message
/// may still be stored once the store recovers, and a retry with the same `Nats-Msg-Id` finds
/// it (a duplicate PubAck for its sequence) instead of storing it twice.
#[test]
fn a_retry_with_the_msg_id_of_a_publish_refused_at_a_failed_flush_is_not_stored_twice() {
    let mut run = Run::new(memory_stores());
    run.send(publish_once("first"));
    run.faults.fail_stream("A", true);
    assert_eq!(run.flush(), Err(StoreError::QuotaExceeded));
    let (to, body) = run.answer("the publish is answered");
    assert_eq!(to, "first");
    assert_refused(&body);

    run.faults.recover();
    assert_eq!(run.flush(), Ok(()), "the store recovered");
    run.send(publish_once("retry"));
    assert_eq!(run.flush(), Ok(()));
    let (_, ack) = run.answer("the retry is answered");
    assert_eq!(ack["seq"], 1, "{ack}");
    assert_eq!(ack["duplicate"], true, "{ack}");
    assert_eq!(run.msgs("A"), Some(1), "stored once");
}
