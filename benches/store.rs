//! Throughput of the memory store's hot paths, printed as messages per second.
//!
//! `cargo bench --bench store [-- WORD]` (release build; a plain `Instant` loop, bounded: a few
//! million operations per case, best of a few rounds; with WORD, only the cases whose name holds
//! it).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use contrail::core::store::memory::MemoryStore;
use contrail::core::store::StreamStore;

/// Messages per round.
const N: u64 = 2_000_000;
/// Rounds per case; the best is reported (the machine is shared).
const ROUNDS: usize = 3;

/// Stores `count` messages on `subjects`, round robin.
fn fill(store: &mut MemoryStore, subjects: &[String], payload: &Bytes, count: u64) {
    for i in 0..count {
        let subject = &subjects[(i % subjects.len() as u64) as usize];
        store
            .store_msg(subject, None, payload.clone(), i as i64)
            .expect("store");
    }
}

/// Runs the cases selected by the command line and prints their rates.
struct Bench {
    only: Option<String>,
}

impl Bench {
    /// Times `run` (which performs `ops` operations) on fresh inputs from `setup`, outside the
    /// timing, and prints the best rate.
    fn case<T>(
        &self,
        name: &str,
        ops: u64,
        mut setup: impl FnMut() -> T,
        mut run: impl FnMut(&mut T),
    ) {
        if self
            .only
            .as_ref()
            .is_some_and(|w| !name.contains(w.as_str()))
        {
            return;
        }
        let best = (0..ROUNDS)
            .map(|_| {
                let mut input = setup();
                let started = Instant::now();
                run(&mut input);
                let took = started.elapsed();
                drop(black_box(input));
                took
            })
            .min()
            .unwrap_or(Duration::MAX);
        let rate = ops as f64 / best.as_secs_f64();
        println!(
            "{name:<44} {:>7.2} M msgs/s  ({:>6.1} ns/msg)",
            rate / 1e6,
            1e9 / rate
        );
    }
}

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let bench = Bench { only };
    let payload = Bytes::from(vec![b'x'; 128]);
    let one = vec!["orders.created".to_string()];
    let sixteen: Vec<String> = (0..16)
        .map(|i| format!("orders.region{i}.created"))
        .collect();
    let filled = || {
        let mut store = MemoryStore::new();
        fill(&mut store, &sixteen, &payload, N);
        store
    };

    for (name, subjects) in [
        ("store_msg, 1 subject", &one),
        ("store_msg, 16 subjects", &sixteen),
    ] {
        bench.case(name, N, MemoryStore::new, |store| {
            fill(store, subjects, &payload, N)
        });
    }

    // A stream at its message limit: every store also removes the oldest.
    bench.case(
        "store_msg + remove oldest, 16 subjects",
        N,
        || {
            let mut store = MemoryStore::new();
            fill(&mut store, &sixteen, &payload, 100_000);
            store
        },
        |store| {
            for i in 0..N {
                let subject = &sixteen[(i % 16) as usize];
                black_box(
                    store
                        .store_msg(subject, None, payload.clone(), 1)
                        .expect("store"),
                );
                let first = store.state().first_seq;
                black_box(store.remove_msg(first).expect("remove"));
            }
        },
    );

    for (name, filter, ops) in [
        ("load_next_msg scan, all", "", N),
        (
            "load_next_msg scan, literal",
            "orders.region3.created",
            N / 16,
        ),
        ("load_next_msg scan, wildcard", "orders.*.created", N),
    ] {
        bench.case(name, ops, filled, |store| {
            let mut seq = 0;
            while let Ok(msg) = store.load_next_msg(filter, seq) {
                seq = msg.seq + 1;
                black_box(&msg);
            }
        });
    }

    bench.case("remove_msg from the front", N, filled, |store| {
        for seq in 1..=N {
            black_box(store.remove_msg(seq).expect("remove"));
        }
    });

    bench.case("remove_msg every other", N / 2, filled, |store| {
        for seq in (1..=N).step_by(2) {
            black_box(store.remove_msg(seq).expect("remove"));
        }
    });

    // Out-of-order removals deep inside one subject's history (acks on a work queue, deletes).
    const SCATTERED: u64 = 5_000;
    bench.case(
        "remove_msg scattered, 1 subject",
        SCATTERED,
        || {
            let mut store = MemoryStore::new();
            fill(&mut store, &one, &payload, N);
            store
        },
        |store| {
            let mut x: u64 = 0x2545_F491_4F6C_DD1D;
            for _ in 0..SCATTERED {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                black_box(store.remove_msg(2 + x % (N - 2)).expect("remove"));
            }
        },
    );

    bench.case("filtered_state(0, literal)", N, filled, |store| {
        for _ in 0..N {
            black_box(store.filtered_state(0, "orders.region7.created"));
        }
    });

    bench.case("load_last_msg(literal)", N, filled, |store| {
        for _ in 0..N {
            black_box(store.load_last_msg("orders.region7.created").expect("last"));
        }
    });
}
