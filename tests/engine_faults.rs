//! Group commit under a failing store: whatever fails when (the Nth sync or consumer save, every
//! call for a while, one stream of several), no PubAck, delivery or ack reply leaves for state
//! the store has not made durable; a stream that did sync is not held back by one that failed
//! (its PubAcks all leave); every publish is answered at the flush after it, the ones whose
//! sync failed with 10023; a publish to a stream whose sync failed is refused (10023) at once
//! and stores nothing; a refused batch of publishes is taken back where the store can (the file
//! store), so those messages are never seen again; and once the store recovers, the streams hold
//! everything acknowledged and nothing else but messages refused at a failed flush that could
//! not be taken back (still queued then, so stored later, as a timed-out publish may be), on
//! the file store after a reopen too.
//! Random failure schedules (proptest), on the memory store and the file store, each wrapped in
//! the fault-injecting [`FaultyStore`]; and the same schedules on the two-phase path, where the
//! wrapper only queues its syncs as the IndexedDB store does, and the flush ticket completes one
//! flush later or at a settle step (`Engine::flush_done`), or fails (`Engine::flush_failed`,
//! 10023 for a full quota, 10077 for another failure), with two tickets in flight at times.

//! The hand-written scenarios sit beside this file by family: `engine_faults_queued.rs` (the
//! two-phase path's tickets), `engine_faults_refusals.rs` (what a failing stream answers, and
//! when) and `engine_faults_take_back.rs` (a failed batch taken back on the file store); all
//! share the scenario in `faults_support/`.

mod faults_support;

use bytes::Bytes;
use contrail::core::front::JetStream;
use contrail::core::store::faulty::Faults;
use contrail::core::store::StoreError;
use contrail::server::file_store::{FileStore, FileStoreConfig};
use faults_support::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn memory_store_releases_only_durable_state(steps in prop::collection::vec(step(), 1..60)) {
        run_schedule(memory_stores(), &steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn file_store_releases_only_durable_state(steps in prop::collection::vec(step(), 1..60)) {
        let dir = TempDir::new();
        let mut run = run_steps(file_stores(dir.0.clone()), &steps)?;
        // Closed (the old engine dropped) and reopened, every store holds what was
        // acknowledged, and nothing else but messages refused at a failed flush.
        run.front = JetStream::in_memory(1);
        for (i, name) in STREAMS.iter().enumerate() {
            let store = FileStore::open(&dir.0.join(name), FileStoreConfig::default())
                .map_err(|e| TestCaseError::fail(format!("reopen {name}: {e}")))?;
            run.check_holds_what_was_acked(i, &stored_seqs(&store))?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The two-phase path (the IndexedDB store's contract) over memory stores: what a queued
    /// sync covers leaves only once its ticket is done; a failed ticket answers its publishes
    /// and the stream syncs again.
    #[test]
    fn queued_memory_store_releases_only_durable_state(
        steps in prop::collection::vec(step(), 1..60)
    ) {
        play(Run::queued(memory_stores()), &steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The two-phase path over file stores, which can take a failed ticket's appends back.
    #[test]
    fn queued_file_store_releases_only_durable_state(
        steps in prop::collection::vec(step(), 1..60)
    ) {
        let dir = TempDir::new();
        let mut run = play(Run::queued(file_stores(dir.0.clone())), &steps)?;
        run.front = JetStream::in_memory(1);
        for (i, name) in STREAMS.iter().enumerate() {
            let store = FileStore::open(&dir.0.join(name), FileStoreConfig::default())
                .map_err(|e| TestCaseError::fail(format!("reopen {name}: {e}")))?;
            run.check_holds_what_was_acked(i, &stored_seqs(&store))?;
        }
    }
}

/// The case the old flush lost: stream A's sync fails while B, not yet visited, is dirty too.
#[test]
fn a_stream_not_reached_by_a_failed_flush_is_synced_before_its_puback_leaves() {
    let steps = [
        Step::Publish(0),
        Step::Publish(1),
        Step::Flush(Fault::Stream(0)),
        Step::Flush(Fault::None),
    ];
    run_schedule(memory_stores(), &steps).expect("only durable state released");
}

/// The case the old consumer save lost: a failed save cleared the consumer's changed flag.
#[test]
fn an_ack_whose_save_failed_is_saved_before_its_reply_leaves() {
    let mut run = Run::new(memory_stores());
    for step in [
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 1,
        },
        Step::Flush(Fault::None),
        Step::Ack { stream: 0, pick: 0 },
        // The first call of this flush is the consumer's save.
        Step::Flush(Fault::Nth(1)),
        Step::Flush(Fault::None),
    ] {
        run.step(&step).expect("only durable state released");
    }
    assert!(run.faults.failures() >= 1, "the save did fail");
    assert_eq!(run.ack_replies, 1, "the ack was confirmed once saved");
    run.recover_and_compare()
        .expect("state equals what was acknowledged");
}

/// A memory check of the store wrapper itself: a failed sync is not durable (so the tests above
/// can fail).
#[test]
fn the_wrapper_reports_failed_syncs_as_not_durable() {
    let faults = Faults::new();
    let mut factory = faults.factory(memory_stores());
    let config = serde_json::from_str(r#"{"name":"S","subjects":["s"]}"#).expect("config");
    let mut store = factory(&config).expect("store");
    store
        .store_msg("s", None, Bytes::from_static(b"x"), NOW)
        .expect("store");
    faults.fail_all(true);
    assert_eq!(store.sync(), Err(StoreError::QuotaExceeded));
    assert_eq!(faults.durable("S").last_seq, 0);
    faults.recover();
    store.sync().expect("sync");
    assert_eq!(faults.durable("S").last_seq, 1);
}
