//! Group commit under a failing store, by hand, on the file store, which takes a failed batch
//! of publishes back (as nats-server stores nothing of a publish it refuses): the next publish
//! tries the disk again and takes the next durable sequence, a retry of a refused publish is
//! stored (not a duplicate), a restart forgets deliveries of what was taken back, a read of it
//! is answered "not found", and a pull request gets its slots back. The random schedules are in
//! `engine_faults.rs`.

mod faults_support;

use std::collections::BTreeSet;

use bytes::Bytes;
use contrail::core::consumer::parse_ack_subject;
use contrail::core::engine::{Engine, EngineConfig};
use contrail::core::front::JetStream;
use contrail::core::message::Message;
use contrail::core::store::{StoreError, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};
use faults_support::*;

/// After a batch was taken back the stream holds nothing unsynced, so the next batch's publish
/// is taken and the disk tried again at its flush: refused there (and taken back) while the
/// disk still fails, acknowledged once it recovers; never refused before the disk was tried.
#[test]
fn after_a_batch_was_taken_back_the_next_publish_tries_the_disk_again() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    run.step(&Step::Publish(0)).expect("publish");
    run.faults.fail_stream("A", true);
    assert_eq!(run.flush(), Err(StoreError::QuotaExceeded));
    assert_refused(&run.answer("refused at the failed flush").1);

    run.step(&Step::Publish(0)).expect("publish");
    assert_eq!(run.poll(), None, "taken, not refused at once");
    let before = run.faults.failures();
    assert_eq!(run.flush(), Err(StoreError::QuotaExceeded));
    assert!(run.faults.failures() > before, "the disk was tried again");
    let (to, body) = run.answer("refused at its flush");
    assert_eq!(to, "pub.0.1");
    assert_refused(&body);

    run.faults.recover();
    run.step(&Step::Publish(0)).expect("publish");
    assert_eq!(run.flush(), Ok(()));
    let (to, ack) = run.answer("a PubAck");
    assert_eq!(
        (to.as_str(), &ack["seq"]),
        ("pub.0.2", &serde_json::json!(1))
    );
}

/// On the file store, a batch of publishes whose sync fails is taken back, as nats-server
/// stores nothing of a publish it refuses: the stream returns to its durable messages, its
/// consumer forgets the deliveries of the dropped ones (held, never released), the next publish
/// takes the next durable sequence, and after a reopen the store holds exactly what was
/// acknowledged.
#[test]
fn a_failed_batch_of_publishes_is_taken_back_on_the_file_store() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    for step in [
        Step::Publish(0),
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 2,
        },
        Step::Flush(Fault::None),
        Step::Pull {
            stream: 0,
            batch: 2,
        },
        Step::Flush(Fault::None),
    ] {
        run.step(&step).expect("setup");
    }
    assert_eq!(run.acked[0], BTreeSet::from([1, 2]));
    assert_eq!(run.unacked[0].len(), 2, "both delivered");
    let durable = shape(&run, "A");
    assert_eq!(durable, (2, 2, 2, 2, 2));

    // Two more, delivered at once to the waiting pull request: all held, then the sync fails.
    for step in [Step::Publish(0), Step::Publish(0)] {
        run.step(&step).expect("publish");
    }
    assert_eq!(
        shape(&run, "A"),
        (4, 4, 4, 4, 4),
        "stored and delivered, held"
    );
    run.step(&Step::Flush(Fault::Stream(0))).expect("flush");
    assert_eq!(
        run.refused[0], 2,
        "both publishes refused at the failed flush"
    );
    assert_eq!(
        run.unacked[0].len(),
        2,
        "no delivery of a refused message left"
    );
    assert_eq!(shape(&run, "A"), durable, "back to the durable state");

    // A flush whose sync succeeds ends the refusals at once.
    run.step(&Step::Flush(Fault::None)).expect("flush");
    run.step(&Step::Publish(0)).expect("publish");
    run.step(&Step::Flush(Fault::None)).expect("flush");
    assert_eq!(
        run.acked[0],
        BTreeSet::from([1, 2, 3]),
        "the next publish takes the next durable sequence"
    );
    run.recover_and_compare()
        .expect("state equals what was acked");
    let stored = stored_seqs(run.front.engine().stream("A").expect("A").store());
    assert_eq!(stored, run.acked[0], "exactly what was acknowledged");
    let payload = run
        .front
        .engine()
        .stream("A")
        .map(|s| s.store().load_msg(3));
    assert!(matches!(payload, Some(Ok(_))), "seq 3 is the new message");

    run.front = JetStream::in_memory(1);
    let store = FileStore::open(&dir.0.join("A"), FileStoreConfig::default()).expect("reopen");
    assert_eq!(
        stored_seqs(&store),
        BTreeSet::from([1, 2, 3]),
        "after a reopen too"
    );
}

/// On the file store a refused publish is gone, so a retry with its `Nats-Msg-Id` is stored
/// (not answered as a duplicate of a message that does not exist).
#[test]
fn a_retry_of_a_publish_taken_back_is_stored_not_a_duplicate() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    run.send(publish_once("first"));
    run.faults.fail_stream("A", true);
    assert_eq!(run.flush(), Err(StoreError::QuotaExceeded));
    assert_refused(&run.answer("the publish is answered").1);
    assert_eq!(run.msgs("A"), Some(0), "the refused publish is not stored");
    let info = run
        .front
        .engine()
        .consumer_info("A", "W", NOW)
        .expect("info");
    assert_eq!(info.num_pending, 0, "nor counted for the consumer");

    run.faults.recover();
    assert_eq!(run.flush(), Ok(()), "the store recovered");
    run.send(publish_once("retry"));
    assert_eq!(run.flush(), Ok(()));
    let (_, ack) = run.answer("the retry is answered");
    assert_eq!(ack["seq"], 1, "{ack}");
    assert!(
        ack.get("duplicate").is_none(),
        "stored, not a duplicate: {ack}"
    );
}

/// A consumer record saved by a flush whose sync then failed describes deliveries of messages
/// that were taken back; a restart before the next save forgets them, so the consumer delivers
/// the message stored next at that sequence instead of skipping it.
#[test]
fn a_restart_after_a_taken_back_batch_delivers_what_is_stored_next() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    for step in [
        Step::Publish(0),
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 4,
        },
        Step::Flush(Fault::None),
        Step::Publish(0),
        Step::Publish(0),
        // The flush's first call saves W (delivered up to 4), its second, A's sync, fails.
        Step::Flush(Fault::Nth(2)),
    ] {
        run.step(&step).expect("steps");
    }
    assert_eq!(run.refused[0], 2, "the batch was refused");
    let saved = FileStore::open(&dir.0.join("A"), FileStoreConfig::default())
        .and_then(|s| s.consumers())
        .expect("records");
    assert_eq!(
        saved["W"].state.delivered.stream_seq, 4,
        "saved before the sync failed"
    );
    // A crash before the next flush saves W again.
    run.front = JetStream::in_memory(1);

    let mut engine = Engine::new(EngineConfig::default(), file_stores(dir.0.clone()), 1);
    let config = serde_json::from_str(r#"{"name":"A","subjects":["a.>"]}"#).expect("config");
    let store = FileStore::open(&dir.0.join("A"), FileStoreConfig::default()).expect("open");
    let skipped = engine
        .restore_stream(config, NOW, Box::new(store), NOW)
        .expect("restore");
    assert!(skipped.is_empty());
    let info = engine.consumer_info("A", "W", NOW).expect("info");
    assert_eq!(
        info.delivered.stream_seq, 2,
        "only what was stored was delivered"
    );
    assert_eq!(info.num_ack_pending, 2);

    let mut front = JetStream::new(engine);
    let publish = Message::new("a.x", Bytes::from_static(b"next")).with_reply("pub");
    assert!(front.handle(publish, NOW));
    let pull =
        Message::new("$JS.API.CONSUMER.MSG.NEXT.A.W", Bytes::from_static(b"1")).with_reply("pull");
    assert!(front.handle(pull, NOW));
    let engine = front.engine_mut();
    assert_eq!(engine.flush().result(), Ok(()));
    let delivered: Vec<u64> = std::iter::from_fn(|| engine.poll_outbound())
        .filter(|o| o.to == "pull")
        .filter_map(|o| o.msg.reply.as_deref().and_then(parse_ack_subject))
        .map(|ack| ack.stream_seq)
        .collect();
    assert_eq!(delivered, [3], "the message stored at 3 is delivered");
}

/// A read of a message in a batch that is taken back is answered as a read of a missing message
/// (MSG.GET: 10037), not left without a reply.
#[test]
fn a_read_of_a_message_taken_back_is_answered_not_found() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    run.step(&Step::Publish(0)).expect("publish");
    run.send(
        Message::new(
            "$JS.API.STREAM.MSG.GET.A",
            Bytes::from_static(br#"{"seq":1}"#),
        )
        .with_reply("read"),
    );
    run.faults.fail_stream("A", true);
    assert_eq!(run.flush(), Err(StoreError::QuotaExceeded));
    let out = run.answers();
    let to: Vec<&str> = out.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(to, ["pub.0.0", "read"], "both answered at the failed flush");
    assert_refused(&out[0].1);
    let read = &out[1].1;
    assert_eq!(read["error"]["err_code"], 10037, "{read}");
}

/// A pull request whose deliveries were taken back gets those slots back: the next publishes
/// are delivered to it, rather than it waiting for its expiry with nothing (whether the taken
/// back deliveries had filled it or not).
#[test]
fn a_pull_request_whose_deliveries_were_taken_back_gets_them_back() {
    for batch in [2, 3] {
        let dir = TempDir::new();
        let mut run = Run::new(file_stores(dir.0.clone()));
        for step in [
            Step::Pull { stream: 0, batch },
            Step::Flush(Fault::None),
            Step::Publish(0),
            Step::Publish(0),
            Step::Flush(Fault::Stream(0)),
        ] {
            run.step(&step).expect("steps");
        }
        assert_eq!(run.refused[0], 2, "the batch was refused");
        assert_eq!(run.delivered[0], 0, "no delivery of a refused message left");
        for step in [
            Step::Publish(0),
            Step::Publish(0),
            Step::Publish(0),
            Step::Flush(Fault::None),
        ] {
            run.step(&step).expect("steps");
        }
        assert_eq!(
            run.delivered[0],
            u64::from(batch),
            "the same request took the next ones (batch {batch})"
        );
        run.recover_and_compare()
            .expect("state equals what was acknowledged");
    }
}
