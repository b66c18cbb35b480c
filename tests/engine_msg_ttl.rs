//! Per-message TTLs over file stores, across a restart and a rollback.
//!
//! - Restart (the server's storage): the TTL is only in each stored message's `Nats-TTL` header,
//!   so the reopened engine rebuilds the expiries from the messages; what came due while it was
//!   down is gone when `open_engine` returns, and the rest expires on time.
//! - Rollback: a publish whose sync failed is taken back and its sequence used again; the
//!   expiry of the message taken back must not remove the one that took its place.

use bytes::Bytes;
use contrail::core::engine::{Engine, EngineConfig, StoreFactory};
use contrail::core::headers::Headers;
use contrail::core::store::faulty::Faults;
use contrail::core::store::{Seq, StreamStore};
use contrail::core::stream::{StorageType, StreamConfig, NATS_TTL};
use contrail::core::time::{Nanos, SECONDS};
use contrail::server::file_store::{FileStore, FileStoreConfig};
use contrail::server::storage::Storage;

const T0: Nanos = 1_700_000_000 * SECONDS;
const N: u64 = 600;

/// What message `i` (1-based) asks for: None (no TTL), Some(0) never, Some(s) seconds.
fn ttl_of(i: u64) -> Option<u64> {
    match i % 4 {
        0 => None,
        1 => Some(0),
        _ => Some(1 + i * 13 % 120),
    }
}

fn publish(engine: &mut Engine, i: u64, now: Nanos) {
    let headers = ttl_of(i).map(|ttl| {
        let mut h = Headers::new();
        let value = if ttl == 0 {
            "never".to_string()
        } else {
            format!("{ttl}s")
        };
        h.append(NATS_TTL, value);
        h.encode()
    });
    let subject = format!("t.{}", i % 9);
    engine
        .publish(&subject, headers, Bytes::from_static(b"x"), now)
        .expect("captured")
        .expect("stored");
}

/// The sequences the model says are left at `now` (all published at [`T0`]).
fn expected_at(now: Nanos) -> Vec<Seq> {
    (1..=N)
        .filter(|i| match ttl_of(*i) {
            Some(s) if s > 0 => T0 + s as Nanos * SECONDS > now,
            _ => true,
        })
        .collect()
}

fn stored(engine: &Engine) -> Vec<Seq> {
    let store = engine.stream("T").expect("stream").store();
    let mut seqs = Vec::new();
    let mut seq = 0;
    while let Ok(msg) = store.load_next_msg("", seq) {
        seqs.push(msg.seq);
        seq = msg.seq + 1;
    }
    seqs
}

#[test]
fn a_reopened_file_stream_rebuilds_its_expiries_and_drops_what_came_due() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut storage = Storage::new(dir.path(), EngineConfig::default(), 7);
    let mut engine = storage.open_engine(T0).expect("open");
    let mut cfg = StreamConfig::new("T", &["t.>"]);
    cfg.storage = StorageType::File;
    cfg.allow_msg_ttl = true;
    engine.create_stream(cfg, T0).expect("created");
    for i in 1..=N {
        publish(&mut engine, i, T0);
    }
    engine.flush().result().expect("synced");
    let changed = engine.take_changed_streams();
    storage.save_configs(&engine, &changed);
    let first = (1..=N).filter_map(ttl_of).filter(|s| *s > 0).min();
    assert_eq!(
        engine.poll_timeout(),
        first.map(|s| T0 + s as Nanos * SECONDS)
    );
    drop(engine);

    // Down for a minute: everything with a TTL up to 60 s came due meanwhile.
    let down_until = T0 + 60 * SECONDS;
    let mut engine = storage.open_engine(down_until).expect("reopen");
    assert_eq!(stored(&engine), expected_at(down_until));
    let next = (1..=N)
        .filter_map(ttl_of)
        .filter(|s| *s > 60)
        .min()
        .map(|s| T0 + s as Nanos * SECONDS);
    assert_eq!(engine.poll_timeout(), next);
    engine.flush().result().expect("the removals sync");

    // The rest expires on time, then only "never" and TTL-less messages are left.
    let mut now = down_until;
    while let Some(at) = engine.poll_timeout() {
        assert!(at > now, "a deadline in the past: {at} at {now}");
        now = at;
        engine.handle_timeout(now);
        assert_eq!(stored(&engine), expected_at(now));
    }
    assert_eq!(stored(&engine).len() as u64, N / 2);
}

#[test]
fn a_rolled_back_ttl_does_not_expire_the_message_that_reuses_its_sequence() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let files: StoreFactory = Box::new(move |config| {
        FileStore::open(&root.join(&config.name), FileStoreConfig::default())
            .map(|s| Box::new(s) as Box<dyn StreamStore>)
    });
    let faults = Faults::new();
    let mut engine = Engine::new(EngineConfig::default(), faults.factory(files), 7);
    let mut cfg = StreamConfig::new("T", &["t.>"]);
    cfg.storage = StorageType::File;
    cfg.allow_msg_ttl = true;
    engine.create_stream(cfg, T0).expect("created");
    engine.flush().result().expect("synced");

    // A message with a TTL whose sync fails: the batch is taken back, sequence 1 is free again.
    faults.fail_nth(1);
    let mut h = Headers::new();
    h.append(NATS_TTL, "1s");
    let taken_back = engine.publish("t.1", Some(h.encode()), Bytes::from_static(b"x"), T0);
    assert_eq!(taken_back.expect("captured").expect("stored").seq, 1);
    assert!(engine.flush().result().is_err(), "the sync fails");
    faults.recover();
    // Publishes are refused until a sync of the stream succeeds again.
    engine.flush().result().expect("the stream syncs again");
    let kept = engine.publish("t.2", None, Bytes::from_static(b"kept"), T0);
    assert_eq!(kept.expect("captured").expect("stored").seq, 1);
    engine.flush().result().expect("synced");

    engine.handle_timeout(T0 + 2 * SECONDS);
    assert_eq!(
        stored(&engine),
        vec![1],
        "the message at sequence 1 has no TTL"
    );
    assert_eq!(engine.poll_timeout(), None);
}
