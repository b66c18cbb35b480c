//! Throughput of the protocol codec: parsing a pre-built buffer of many PUB/HPUB operations, and
//! encoding the same messages, on one core. Run with `cargo bench --bench proto`; an argument
//! keeps only the rows whose "case dir" starts with it (`cargo bench --bench proto -- "PUB 16 B parse"`).
//!
//! Each case runs for a bounded time. The input buffer is copied fresh before each pass (outside
//! the timed part), since parsing splits payloads off it; the parsed operations are dropped inside
//! the timed part, as a server would after handling them.
//!
//! Rates are per second of the thread's own CPU time (Linux `/proc/thread-self/schedstat`), so a
//! busy machine does not count time the thread spent descheduled; the wall-clock rate is shown
//! beside them. Elsewhere both columns are wall-clock.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use contrail::core::message::Message;
use contrail::core::proto::{encode_pub, ClientOp, ClientParser, Limits};

/// Time spent on each case, per direction.
const RUN_FOR: Duration = Duration::from_millis(1500);

/// Stop a case after this many operations: `PROTO_BENCH_OPS=1` runs one pass over each buffer,
/// for counting instructions under `valgrind --tool=cachegrind` when the machine is too busy for
/// timings to mean much.
fn max_ops() -> usize {
    std::env::var("PROTO_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Bytes of operations in each pre-built buffer.
const BUFFER_BYTES: usize = 16 << 20;

struct Case {
    name: &'static str,
    msg: Message,
}

fn cases() -> Vec<Case> {
    let payload = |n: usize| Bytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let pubs = [16usize, 128, 1024, 64 * 1024].into_iter().map(|n| Case {
        name: match n {
            16 => "PUB 16 B",
            128 => "PUB 128 B",
            1024 => "PUB 1 KiB",
            _ => "PUB 64 KiB",
        },
        msg: Message::new("orders.eu.created", payload(n)),
    });
    let hpub = Case {
        name: "HPUB 128 B",
        msg: Message::new("orders.eu.created", payload(128))
            .with_reply("_INBOX.GkTDx0sEQBz5mCqQAbkQoi.7")
            .with_headers("NATS/1.0\r\nNats-Msg-Id: 7c1b3f64-0f2e-4d39\r\n\r\n"),
    };
    pubs.chain(std::iter::once(hpub)).collect()
}

/// A buffer of copies of `msg` encoded as PUB/HPUB, about [`BUFFER_BYTES`] long.
fn build(msg: &Message) -> (Bytes, usize) {
    let mut one = BytesMut::new();
    encode_pub(msg, &mut one);
    let count = (BUFFER_BYTES / one.len()).max(64);
    let mut all = BytesMut::with_capacity(one.len() * count);
    for _ in 0..count {
        all.extend_from_slice(&one);
    }
    (all.freeze(), count)
}

/// This thread's CPU time so far, where the OS tells it.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// A stopwatch over CPU time when available, with wall time alongside.
struct Clock {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Clock {
    fn start() -> Self {
        Clock {
            cpu: cpu_time(),
            wall: Instant::now(),
        }
    }

    /// (CPU or wall time, wall time) since start.
    fn stop(self) -> (Duration, Duration) {
        let wall = self.wall.elapsed();
        let cpu = match (self.cpu, cpu_time()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => wall,
        };
        (cpu, wall)
    }
}

/// What a run measured.
#[derive(Default)]
struct Tally {
    bytes: usize,
    ops: usize,
    cpu: Duration,
    wall: Duration,
}

impl Tally {
    fn add(&mut self, bytes: usize, ops: usize, (cpu, wall): (Duration, Duration)) {
        self.bytes += bytes;
        self.ops += ops;
        self.cpu += cpu;
        self.wall += wall;
    }
}

/// Parses `input` repeatedly for [`RUN_FOR`].
fn parse_run(input: &Bytes, count: usize) -> Tally {
    let mut parser = ClientParser::new(Limits::default());
    let mut tally = Tally::default();
    while tally.cpu < RUN_FOR && tally.ops < max_ops() {
        let mut buf = BytesMut::from(&input[..]);
        let clock = Clock::start();
        let mut seen = 0;
        while let Ok(Some(op)) = parser.parse(&mut buf) {
            if let ClientOp::Pub(msg) = op {
                black_box(&msg);
            }
            seen += 1;
        }
        let took = clock.stop();
        assert_eq!(seen, count, "every op parses");
        tally.add(input.len(), seen, took);
    }
    tally
}

/// The unavoidable part of parsing, for comparison: per op, one subject `String` allocated and
/// freed, and one `Bytes` split off the buffer and dropped (a reference count up and down).
fn floor_run(input: &Bytes, count: usize, subject: &str) -> Tally {
    let op_len = input.len() / count;
    let mut tally = Tally::default();
    while tally.cpu < RUN_FOR && tally.ops < max_ops() {
        let mut buf = BytesMut::from(&input[..]);
        let clock = Clock::start();
        for _ in 0..count {
            let line = buf.get(..subject.len()).unwrap_or_default();
            let s = std::str::from_utf8(line).map(str::to_owned).ok();
            let payload = buf.split_to(op_len).freeze();
            black_box((s, payload));
        }
        let took = clock.stop();
        tally.add(input.len(), count, took);
    }
    tally
}

/// Encodes `count` copies of `msg` repeatedly for [`RUN_FOR`].
fn encode_run(msg: &Message, count: usize) -> Tally {
    let mut tally = Tally::default();
    let mut out = BytesMut::with_capacity(BUFFER_BYTES + (1 << 20));
    while tally.cpu < RUN_FOR && tally.ops < max_ops() {
        out.clear();
        let clock = Clock::start();
        for _ in 0..count {
            encode_pub(black_box(msg), &mut out);
        }
        let took = clock.stop();
        black_box(&out);
        tally.add(out.len(), count, took);
    }
    tally
}

fn row(case: &str, dir: &str, t: Tally) {
    let secs = t.cpu.as_secs_f64();
    let mb_s = t.bytes as f64 / secs / 1e6;
    let mops = t.ops as f64 / secs / 1e6;
    let ns = secs * 1e9 / t.ops as f64;
    let wall_mb_s = t.bytes as f64 / t.wall.as_secs_f64() / 1e6;
    println!(
        "| {case:<11} | {dir:<6} | {mb_s:>9.0} | {mops:>8.2} | {ns:>8.1} | {wall_mb_s:>9.0} |"
    );
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |case: &str, dir: &str| {
        filter
            .as_deref()
            .is_none_or(|f| format!("{case} {dir}").starts_with(f))
    };
    println!("| case        | dir    |      MB/s |   Mops/s |    ns/op | wall MB/s |");
    println!("|-------------|--------|-----------|----------|----------|-----------|");
    for case in cases() {
        let (input, count) = build(&case.msg);
        if wanted(case.name, "parse") {
            row(case.name, "parse", parse_run(&input, count));
        }
        if wanted(case.name, "floor") {
            row(
                case.name,
                "floor",
                floor_run(&input, count, &case.msg.subject),
            );
        }
        if wanted(case.name, "encode") {
            row(case.name, "encode", encode_run(&case.msg, count));
        }
    }
}
