//! Group commit under a failing store, on the two-phase path (the IndexedDB store's contract:
//! a flush hands back a ticket the shell completes once its commit is done or failed), by hand:
//! PubAcks wait for their own ticket, a failed ticket answers its publishes and fails the ones
//! after it. The random schedules are in `engine_faults.rs`.

mod faults_support;

use bytes::Bytes;
use contrail::core::message::Message;
use contrail::core::store::StoreError;
use faults_support::*;

/// A queued flush holds its PubAcks until its ticket is done, while a read that needs nothing
/// unsynced leaves at once; a second flush in flight waits for its own ticket.
#[test]
fn a_queued_flush_releases_its_pubacks_when_its_ticket_is_done() {
    let mut run = Run::queued(memory_stores());
    run.step(&Step::Publish(0)).expect("publish");
    run.send(Message::new("$JS.API.STREAM.INFO.B", Bytes::new()).with_reply("api"));
    let first = run.flush_ticket();
    assert!(first.is_pending(), "the store queued its sync");
    assert_eq!(
        run.released_to(),
        ["api"],
        "only the read leaves before the commit"
    );
    run.step(&Step::Publish(0)).expect("publish");
    let second = run.flush_ticket();
    assert!(second.is_pending());
    assert_eq!(run.poll(), None);

    run.front.engine_mut().flush_done(first);
    assert_eq!(
        run.released_to(),
        ["pub.0.0"],
        "the first ticket's PubAck, not the second's"
    );
    run.front.engine_mut().flush_done(second);
    assert_eq!(run.released_to(), ["pub.0.1"]);
}

/// A failed ticket answers its publishes with the refusal for its error (10077 for an aborted
/// commit), fails the ticket in flight after it, takes the appends back on a store that can,
/// and the stream takes publishes again once a later ticket is done.
#[test]
fn a_failed_ticket_refuses_its_publishes_and_fails_the_ones_after_it() {
    let dir = TempDir::new();
    let mut run = Run::queued(file_stores(dir.0.clone()));
    run.step(&Step::Publish(0)).expect("publish");
    let first = run.flush_ticket();
    run.step(&Step::Publish(0)).expect("publish");
    let second = run.flush_ticket();
    run.front
        .engine_mut()
        .flush_failed(first, StoreError::Io("transaction aborted".into()));
    let out = run.answers();
    let to: Vec<&str> = out.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(to, ["pub.0.0", "pub.0.1"], "both answered at the failure");
    for (_, body) in &out {
        assert_eq!(body["error"]["err_code"], 10077, "{body}");
    }
    assert_eq!(run.msgs("A"), Some(0), "the appends were taken back");
    run.front.engine_mut().flush_done(second);
    assert_eq!(run.poll(), None, "the second ticket failed too");

    // Taken back, nothing unsynced is left: the next publish is taken, not refused at once.
    run.step(&Step::Publish(0)).expect("publish");
    assert_eq!(run.poll(), None, "not refused at once");
    let ticket = run.flush_ticket();
    run.front.engine_mut().flush_done(ticket);
    let (to, ack) = run.answer("a PubAck");
    assert_eq!(
        (to.as_str(), &ack["seq"]),
        ("pub.0.2", &serde_json::json!(1))
    );
}
