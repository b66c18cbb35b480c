//! Subject matching throughput: `SubjectIndex` lookups with 10k filters, against testing every
//! filter with `subject::matches`. Run with `cargo bench --bench subject`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use contrail::core::subject;
use contrail::core::subject_index::SubjectIndex;

const FILTERS: usize = 10_000;

/// A small deterministic generator, so runs compare.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Mostly literal filters, as streams and subscriptions tend to be, with some `*` and `>`.
fn filters(rng: &mut Lcg) -> Vec<String> {
    (0..FILTERS)
        .map(|i| match i % 10 {
            0 => format!("orders.r{}.*.created", rng.below(50)),
            1 => format!("events.e{}.>", rng.below(2_000)),
            _ => format!("orders.r{}.c{}.created", rng.below(50), rng.below(1_000)),
        })
        .collect()
}

fn subjects(rng: &mut Lcg) -> Vec<String> {
    (0..1_000)
        .map(|i| match i % 4 {
            0 => format!("events.e{}.x.y", rng.below(4_000)),
            1 => format!("orders.r{}.c{}.shipped", rng.below(50), rng.below(1_000)),
            _ => format!("orders.r{}.c{}.created", rng.below(50), rng.below(1_000)),
        })
        .collect()
}

/// Runs `f` over `subjects` repeatedly for about `budget`; returns calls per second and the sum
/// of what `f` returned (so the work cannot be optimised away).
fn rate(subjects: &[String], budget: Duration, mut f: impl FnMut(&str) -> usize) -> (f64, usize) {
    let start = Instant::now();
    let (mut calls, mut total) = (0u64, 0usize);
    while start.elapsed() < budget {
        for s in subjects {
            total += f(black_box(s));
        }
        calls += subjects.len() as u64;
    }
    (calls as f64 / start.elapsed().as_secs_f64(), total)
}

fn main() {
    let mut rng = Lcg(7);
    let filters = filters(&mut rng);
    let subjects = subjects(&mut rng);
    let mut index = SubjectIndex::new();
    for (i, f) in filters.iter().enumerate() {
        index.insert(f, i).expect("bench filters are valid");
    }
    let budget = Duration::from_millis(500);

    let (per_sec, found) = rate(&subjects, budget, |s| {
        let mut n = 0;
        index.for_each_match(s, |_| n += 1);
        n
    });
    println!("index for_each_match, {FILTERS} filters: {per_sec:>12.0} lookups/s ({found} hits)");

    let (per_sec, found) = rate(&subjects, budget, |s| usize::from(index.has_match(s)));
    println!("index has_match,      {FILTERS} filters: {per_sec:>12.0} lookups/s ({found} hits)");

    let (per_sec, found) = rate(&subjects, budget, |s| {
        filters.iter().filter(|f| subject::matches(f, s)).count()
    });
    println!("linear scan,          {FILTERS} filters: {per_sec:>12.0} lookups/s ({found} hits)");

    let pairs: Vec<(&String, &String)> = filters.iter().zip(subjects.iter().cycle()).collect();
    let start = Instant::now();
    let (mut calls, mut hits) = (0u64, 0usize);
    while start.elapsed() < budget {
        for (f, s) in &pairs {
            hits += usize::from(subject::matches(black_box(f), black_box(s)));
        }
        calls += pairs.len() as u64;
    }
    let per_sec = calls as f64 / start.elapsed().as_secs_f64();
    println!("subject::matches:                    {per_sec:>12.0} calls/s ({hits} hits)");
}
