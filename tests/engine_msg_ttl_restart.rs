//! Per-message TTLs across a restart of the server's storage (file stores): the TTL is only in
//! each stored message's `Nats-TTL` header, so the reopened engine rebuilds the expiries from
//! the messages; what came due while it was down is gone when `open_engine` returns, and the
//! rest expires on time.

use bytes::Bytes;
use contrail::core::engine::{Engine, EngineConfig};
use contrail::core::headers::Headers;
use contrail::core::store::Seq;
use contrail::core::stream::{StorageType, StreamConfig, NATS_TTL};
use contrail::core::time::{Nanos, SECONDS};
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
    engine.flush().expect("synced");
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
    engine.flush().expect("the removals sync");

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
