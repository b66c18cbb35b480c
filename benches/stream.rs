//! Publish throughput of the stream layer over the memory store: `cargo bench --bench stream`.
//!
//! Each scenario publishes `ROUND` 128-byte messages into a fresh memory stream, several rounds,
//! and prints the best and median publishes per second. The clock is read here, in the bench,
//! never in the core.

use std::time::Instant;

use bytes::Bytes;
use contrail::core::headers::{Headers, NATS_MSG_ID};
use contrail::core::store::memory::MemoryStore;
use contrail::core::store::StreamStore;
use contrail::core::stream::{StorageType, Stream, StreamConfig};

const ROUND: usize = 200_000;
const ROUNDS: usize = 5;
const PAYLOAD: [u8; 128] = [b'x'; 128];
const NOW: i64 = 1_700_000_000_000_000_000;

fn new_stream(f: impl Fn(&mut StreamConfig)) -> Stream {
    let mut cfg = StreamConfig::new("BENCH", &["bench.>"]);
    cfg.storage = StorageType::Memory;
    f(&mut cfg);
    Stream::create(cfg, Box::new(MemoryStore::new()), NOW).expect("valid bench config")
}

/// Runs `publish_round` on fresh streams and reports the rate.
fn scenario(name: &str, mut round: impl FnMut() -> f64) {
    let mut rates: Vec<f64> = (0..ROUNDS).map(|_| round()).collect();
    rates.sort_by(|a, b| b.total_cmp(a));
    println!(
        "{name:<48} best {:>10.0} msg/s   median {:>10.0} msg/s",
        rates[0],
        rates[ROUNDS / 2]
    );
}

/// Publishes `ROUND` messages on `subjects` in turn, with `headers(i)`, and returns msgs/s.
fn publish_round(
    stream: Stream,
    subjects: &[String],
    headers: impl Fn(usize) -> Option<Bytes>,
) -> f64 {
    publish_n(stream, ROUND, subjects, headers)
}

/// Publishes `n` messages on `subjects` in turn, with `headers(i)`, and returns msgs/s.
fn publish_n(
    mut stream: Stream,
    n: usize,
    subjects: &[String],
    headers: impl Fn(usize) -> Option<Bytes>,
) -> f64 {
    let payload = Bytes::from_static(&PAYLOAD);
    let start = Instant::now();
    for i in 0..n {
        let subject = &subjects[i % subjects.len()];
        let now = NOW + i as i64;
        stream
            .publish(subject, headers(i), payload.clone(), now, true)
            .expect("publish succeeds");
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    std::hint::black_box(stream.state());
    rate
}

fn subjects(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("bench.s{i}")).collect()
}

fn main() {
    let one = subjects(1);
    let sixteen = subjects(16);
    println!("stream publish, {ROUND} x 128 B per round, {ROUNDS} rounds, memory store");

    scenario("baseline: MemoryStore::store_msg alone, 1 subject", || {
        let mut store = MemoryStore::new();
        let payload = Bytes::from_static(&PAYLOAD);
        let start = Instant::now();
        for i in 0..ROUND {
            store
                .store_msg(&one[0], None, payload.clone(), NOW + i as i64)
                .expect("stored");
        }
        let rate = ROUND as f64 / start.elapsed().as_secs_f64();
        std::hint::black_box(store.state());
        rate
    });
    scenario("1 subject, no headers", || {
        publish_round(new_stream(|_| {}), &one, |_| None)
    });
    scenario("16 subjects, no headers", || {
        publish_round(new_stream(|_| {}), &sixteen, |_| None)
    });
    scenario("16 subjects, max_msgs 10000 (discard old)", || {
        publish_round(new_stream(|c| c.max_msgs = 10_000), &sixteen, |_| None)
    });

    // KV-style history of 1: every publish trims its subject, so it rides on how fast the
    // store answers a per-subject state.
    let keys = subjects(1000);
    scenario("1000 subjects, max_msgs_per_subject 1 (20k msgs)", || {
        let stream = new_stream(|c| c.max_msgs_per_subject = 1);
        publish_n(stream, 20_000, &keys, |_| None)
    });

    let ids: Vec<Bytes> = (0..ROUND)
        .map(|i| {
            let mut h = Headers::new();
            h.append(NATS_MSG_ID, format!("origin-{i}"));
            h.encode()
        })
        .collect();
    scenario("1 subject, unique Nats-Msg-Id", || {
        publish_round(new_stream(|_| {}), &one, |i| Some(ids[i].clone()))
    });
}
