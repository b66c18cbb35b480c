//! Contrail vs nats-server, side by side in one run, with the same client (async-nats):
//! prints msgs/s for each workload and the ratio. Ignored by default (it measures, it does not
//! check); run it in release:
//! `cargo test --release --test interop_bench -- --ignored --nocapture`
//! (needs `nats-server` on PATH; `scripts/interop --bench` installs it and runs this).
//!
//! Beside Debian's nats-server (2.9.10, default settings: it syncs every two minutes) every row
//! also runs against nats-server 2.14 with `sync_interval: always`, which makes our promise (a
//! PubAck only for a message on disk), when `CONTRAIL_NATS_SERVER_214` names it. The file
//! publish rows also print the device limit, measured in the same run just before them, and
//! the share of it Contrail reached: one writer appending records of the row's size and
//! `fdatasync`ing after each (sync publish: a publisher awaiting each PubAck), or after each
//! group of 256 (async publish: with 256 PubAcks outstanding a sync covers at most 256
//! messages). See `device_limit` for what may pass it; nats-server 2.9, which syncs every two
//! minutes, is not bound by it.
//!
//! The mirror rows (128 B only): a new mirror's catch-up of a stream of `BENCH_MIRROR_COUNT`
//! messages (1,000,000 unless set), each server mirroring a stream of its own, in origin
//! messages per second; and, in a row of its own, a Contrail server (`contrail serve` with a
//! link) mirroring a Debian nats-server's stream of that size over the link.
//!
//! The raw rows measure the servers rather than async-nats's client, which on these 2 cores
//! costs as much per message as a server: core pub/sub is the same fan-out of one publisher to
//! one subscriber over plain blocking sockets (pre-encoded `PUB` ops written 64 KiB at a time,
//! deliveries counted by their bytes); the raw async publish rows write pre-encoded `PUB`s with
//! a reply subject on one socket, at most 256 PubAcks outstanding, and read the PubAcks on a
//! second thread (`raw_async_publish`).
//!
//! Under each row, `server CPU, ns/msg`: the CPU time (user + system, all threads) each server
//! process used in the timed part of the workload, per message; its ratio is nats-server's
//! over Contrail's, so above 1 means Contrail did the same work with less CPU. Where the
//! client is what limits the rate (async-nats's core pub/sub), this is the row that tells the
//! servers apart. Then `client CPU, ns/msg`: the same for this process, where the clients run
//! (ratio nats-server's over Contrail's), and the cores the server and the clients kept busy
//! together: near the machine's cores (2 in CI), the rate is bounded by CPU and the clients
//! take most of it.
//!
//! `BENCH_RUNS=n` runs each rate row n times, interleaved (each server once per round, back to
//! back), and prints medians: each ratio is the median of the rounds' own ratios, and the range
//! of the nats 2.9 ratio follows the row.
//!
//! The memory rows: each server's resident memory (`VmRSS` of the whole process) holding a file
//! stream of `BENCH_MEMORY_COUNT` messages of 128 B (5,000,000 unless set): once filled, and
//! again after a restart that recovers the stream; the ratio is nats-server's over Contrail's,
//! so above 1 means Contrail holds less.

mod interop_support;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::stream::{Config, StorageType};
use bytes::Bytes;
use futures_util::StreamExt;
use interop_support::streams::{self, time_mirror};
use interop_support::{Kind, Options, TestServer};

/// Payload sizes every workload runs at.
const SIZES: [usize; 3] = [16, 128, 1024];

/// PubAcks outstanding in the async publish rows (the "256 out" of their names), and so the
/// most one sync can cover in their device limit.
const ASYNC_WINDOW: usize = 256;

fn stream(storage: StorageType) -> Config {
    Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        storage,
        ..Default::default()
    }
}

async fn sync_publish(
    server: &TestServer,
    storage: StorageType,
    size: usize,
    n: usize,
) -> Measured {
    let js = server.jetstream().await;
    js.create_stream(stream(storage)).await.expect("stream");
    let body = Bytes::from(vec![b'x'; size]);
    let timed = Timed::start(server);
    for _ in 0..n {
        js.publish("bench.s", body.clone())
            .await
            .expect("pub")
            .await
            .expect("ack");
    }
    timed.finish(n as u64)
}

async fn async_publish(
    server: &TestServer,
    storage: StorageType,
    size: usize,
    n: usize,
) -> Measured {
    let js = server.jetstream().await;
    js.create_stream(stream(storage)).await.expect("stream");
    let body = Bytes::from(vec![b'x'; size]);
    let timed = Timed::start(server);
    streams::publish_windowed(&js, "bench.a", body, n as u64, ASYNC_WINDOW).await;
    timed.finish(n as u64)
}

async fn pull_consume(
    server: &TestServer,
    storage: StorageType,
    size: usize,
    n: usize,
) -> Measured {
    let js = server.jetstream().await;
    let stream = js.create_stream(stream(storage)).await.expect("stream");
    let body = Bytes::from(vec![b'x'; size]);
    streams::publish_windowed(&js, "bench.c", body, n as u64, 256).await;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let timed = Timed::start(server);
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(500)
        .messages()
        .await
        .expect("consume");
    for _ in 0..n {
        let msg = messages.next().await.expect("open").expect("message");
        msg.ack().await.expect("ack");
    }
    timed.finish(n as u64)
}

async fn core_pub_sub(server: &TestServer, size: usize, n: usize) -> Measured {
    let publisher = server.client().await;
    // A deep client-side buffer: async-nats drops messages past 65,536 queued (a client-side
    // slow consumer), which would measure the test's reader, not the server.
    let subscriber = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 20)
        .connect(server.url())
        .await
        .expect("connect");
    let mut sub = subscriber.subscribe("core.bench").await.expect("sub");
    interop_support::round_trip(&subscriber).await;
    let body = Bytes::from(vec![b'x'; size]);
    let timed = Timed::start(server);
    let reader = tokio::spawn(async move {
        for _ in 0..n {
            sub.next().await.expect("message");
        }
    });
    for _ in 0..n {
        publisher
            .publish("core.bench", body.clone())
            .await
            .expect("pub");
    }
    publisher.flush().await.expect("flush");
    tokio::time::timeout(Duration::from_secs(120), reader)
        .await
        .expect("all delivered")
        .expect("reader");
    timed.finish(n as u64)
}

/// One publisher to one subscriber over plain blocking sockets: messages per second from the
/// first write until the subscriber has read all `n` deliveries.
fn raw_pub_sub(server: &TestServer, size: usize, n: usize) -> Measured {
    use std::io::{Read, Write};
    let mut sub = interop_support::raw_client(server.port, "SUB core.raw 1\r\n");
    let mut publisher = interop_support::raw_client(server.port, "");
    let payload = "x".repeat(size);
    let op = format!("PUB core.raw {size}\r\n{payload}\r\n");
    let delivery = format!("MSG core.raw 1 {size}\r\n{payload}\r\n").len();
    let per_chunk = (64 * 1024 / op.len()).max(1);
    let chunk = op.repeat(per_chunk);
    let timed = Timed::start(server);
    let reader = std::thread::spawn(move || {
        // Deliveries and the PINGs nats-server sends a new client (its first after a second):
        // payloads of `x` never hold "PING", so a PING is found by its bytes, even across reads.
        let ping = memchr::memmem::Finder::new(b"PING\r\n");
        let expected = n * delivery;
        let (mut got, mut pings) = (0, 0);
        let mut buf = vec![0u8; 256 * 1024];
        let mut tail: Vec<u8> = Vec::new();
        sub.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        while got - 6 * pings < expected {
            let read = sub.read(&mut buf).expect("deliveries keep coming");
            assert!(
                read > 0,
                "the server closed the subscriber after {got} bytes"
            );
            let data = &buf[..read];
            tail.extend_from_slice(&data[..read.min(5)]);
            pings += ping.find_iter(&tail).count() + ping.find_iter(data).count();
            tail.clear();
            tail.extend_from_slice(&data[read.saturating_sub(5)..]);
            got += read;
        }
        assert_eq!(
            got - 6 * pings,
            expected,
            "only deliveries and PINGs arrive"
        );
    });
    let mut left = n;
    while left > 0 {
        let count = left.min(per_chunk);
        publisher
            .write_all(&chunk.as_bytes()[..count * op.len()])
            .expect("publish");
        left -= count;
    }
    reader.join().expect("the subscriber read every delivery");
    timed.finish(n as u64)
}

/// Publishes to a stream over a plain blocking socket with at most [`ASYNC_WINDOW`] PubAcks
/// outstanding (the reply subject `_R.a`, subscribed on the same socket): messages per second
/// from the first write until every PubAck is read. The stream is made through async-nats
/// first. What async-nats costs per publish on the same 2 cores is left out, so the servers
/// rather than the client are what is measured.
async fn raw_async_publish(
    server: &TestServer,
    storage: StorageType,
    size: usize,
    n: usize,
) -> Measured {
    use std::io::{Read, Write};
    use std::sync::{Arc, Condvar, Mutex};
    let window = ASYNC_WINDOW;
    let js = server.jetstream().await;
    js.create_stream(stream(storage)).await.expect("stream");
    let mut sock = interop_support::raw_client(server.port, "SUB _R.a 1\r\n");
    let mut reader = sock.try_clone().expect("clone the socket");
    let op = format!("PUB bench.r _R.a {size}\r\n{}\r\n", "x".repeat(size));
    let per_write = (64 * 1024 / op.len()).clamp(1, window);
    let chunk = op.repeat(per_write);
    // PubAcks read so far, and the writer's wake-up when it waits for the window.
    let acked = Arc::new((Mutex::new(0usize), Condvar::new()));
    let timed = Timed::start(server);
    let counter = acked.clone();
    let reads = std::thread::spawn(move || {
        reader
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0;
        while got < n {
            let read = reader.read(&mut buf).expect("PubAcks keep coming");
            assert!(read > 0, "the server closed after {got} PubAcks");
            pending.extend_from_slice(&buf[..read]);
            let (acks, used) = pub_acks(&pending);
            pending.drain(..used);
            got += acks;
            let (lock, wake) = &*counter;
            *lock.lock().expect("counter") = got;
            wake.notify_one();
        }
    });
    let mut sent = 0;
    while sent < n {
        let (lock, wake) = &*acked;
        let done = *wake
            .wait_while(lock.lock().expect("counter"), |done| sent - *done >= window)
            .expect("counter");
        let count = (done + window - sent).min(n - sent).min(per_write);
        sock.write_all(&chunk.as_bytes()[..count * op.len()])
            .expect("publish");
        sent += count;
    }
    reads.join().expect("every PubAck read");
    timed.finish(n as u64)
}

/// Counts the PubAcks at the start of `bytes` (`MSG` frames; a `PING` the server sends is
/// skipped), and how many bytes they and the skipped frames take; a frame cut off by the end
/// of `bytes` is left. Panics on an error reply or an `-ERR`.
fn pub_acks(bytes: &[u8]) -> (usize, usize) {
    let (mut acks, mut at) = (0, 0);
    while let Some(eol) = memchr::memmem::find(&bytes[at..], b"\r\n") {
        let line = std::str::from_utf8(&bytes[at..at + eol]).expect("a text control line");
        let body = at + eol + 2;
        if line == "PING" || line == "PONG" || line == "+OK" {
            at = body;
            continue;
        }
        assert!(
            line.starts_with("MSG "),
            "unexpected from the server: {line}"
        );
        let len: usize = line
            .rsplit(' ')
            .next()
            .and_then(|l| l.parse().ok())
            .expect("a MSG size");
        if bytes.len() < body + len + 2 {
            break;
        }
        let reply = &bytes[body..body + len];
        assert!(
            memchr::memmem::find(reply, b"\"seq\"").is_some(),
            "a PubAck: {}",
            String::from_utf8_lossy(reply)
        );
        acks += 1;
        at = body + len + 2;
    }
    (acks, at)
}

/// Bytes a stored message takes beyond its payload, about (record header, subject, time):
/// what the device probes append per message.
const RECORD_OVERHEAD: usize = 48;

/// The device's rate for a server that makes each message durable before its PubAck, with at
/// most `window` PubAcks outstanding, in messages per second: one writer appending groups of
/// `window` records of `size` B (plus [`RECORD_OVERHEAD`]) to a fresh file in the temp
/// directory (where the servers keep their stores), with an `fdatasync` after each group,
/// `groups` times. A sync can cover at most the `window` messages not yet acknowledged, and
/// syncs follow one another. A store can still pass it a little: this file grows at every
/// append, so each sync also commits its length, which a store writing into space it
/// allocated ahead does not (Contrail's segments, `file_store/segment.rs`). A window of 1 is
/// a publisher awaiting each PubAck.
fn device_limit(window: usize, size: usize, groups: usize) -> f64 {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(dir.path().join("probe"))
        .expect("probe file");
    let group = vec![b'x'; window * (size + RECORD_OVERHEAD)];
    let start = Instant::now();
    for _ in 0..groups {
        file.write_all(&group).expect("append");
        file.sync_data().expect("fdatasync");
    }
    (groups * window) as f64 / start.elapsed().as_secs_f64()
}

/// What one workload measured: messages per second, and the server's and the clients' CPU time
/// per message.
#[derive(Debug, Clone, Copy)]
struct Measured {
    rate: f64,
    /// Nanoseconds of CPU (user + system, every thread of the server process) per message.
    cpu_ns: f64,
    /// Nanoseconds of CPU this process (the clients: async-nats and the raw sockets' threads)
    /// used per message.
    client_ns: f64,
}

impl Measured {
    /// Cores the server and the clients kept busy together: near the machine's count, the
    /// rate is bounded by CPU, and a server using less of it leaves the clients more.
    fn cores_busy(&self) -> f64 {
        self.rate * (self.cpu_ns + self.client_ns) / 1e9
    }
}

/// The timed part of a workload: wall time, and the CPU time the server process and this one
/// (the clients) used, from `start` to `finish`.
struct Timed {
    start: Instant,
    pid: u32,
    cpu_start: f64,
    client_cpu_start: f64,
}

impl Timed {
    fn start(server: &TestServer) -> Timed {
        let pid = server.pid().expect("the server runs");
        Timed {
            start: Instant::now(),
            pid,
            cpu_start: cpu_seconds(pid),
            client_cpu_start: cpu_seconds(std::process::id()),
        }
    }

    fn finish(self, n: u64) -> Measured {
        let elapsed = self.start.elapsed().as_secs_f64();
        let cpu = cpu_seconds(self.pid) - self.cpu_start;
        let client_cpu = cpu_seconds(std::process::id()) - self.client_cpu_start;
        Measured {
            rate: n as f64 / elapsed,
            cpu_ns: cpu * 1e9 / n as f64,
            client_ns: client_cpu * 1e9 / n as f64,
        }
    }
}

/// CPU seconds a process has used (`utime + stime` in `/proc/<pid>/stat`, which count every
/// thread, the ended ones too), in clock ticks of 10 ms (Linux's `USER_HZ` is 100): the
/// workloads run for seconds, so a tick is a few percent of their time at most.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime: fields 14 and 15 of stat(5), so 11 and 12 after the name and state.
    let ticks: u64 = [11, 12]
        .iter()
        .map(|&i| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .expect("cpu ticks")
        })
        .sum();
    ticks as f64 / 100.0
}

/// Config that makes nats-server 2.14 sync every write before its PubAck, as Contrail does.
const SYNC_ALWAYS: &str = "jetstream { sync_interval: always }";

async fn run(kind: Kind, workload: &str, size: usize) -> Measured {
    let opts = match kind {
        Kind::NatsServer214 => Options {
            config: Some(SYNC_ALWAYS.into()),
            ..Options::default()
        },
        _ => Options::default(),
    };
    let server = TestServer::start_kind(kind, opts);
    match workload {
        "sync publish, file" => {
            let n = env_count("BENCH_SYNC_COUNT", 3_000) as usize;
            sync_publish(&server, StorageType::File, size, n).await
        }
        "sync publish, memory" => {
            let n = env_count("BENCH_SYNC_COUNT", 3_000) as usize;
            sync_publish(&server, StorageType::Memory, size, n).await
        }
        "async publish (256 out), file" => {
            let n = env_count("BENCH_ASYNC_COUNT", 100_000) as usize;
            async_publish(&server, StorageType::File, size, n).await
        }
        "async publish (256 out), memory" => {
            let n = env_count("BENCH_ASYNC_COUNT", 100_000) as usize;
            async_publish(&server, StorageType::Memory, size, n).await
        }
        "pull consume (batch 500), file" => {
            pull_consume(
                &server,
                StorageType::File,
                size,
                env_count("BENCH_PULL_COUNT", 50_000) as usize,
            )
            .await
        }
        "pull consume (batch 500), memory" => {
            pull_consume(&server, StorageType::Memory, size, 50_000).await
        }
        "async publish (256 out), file, raw sockets" => {
            let n = env_count("BENCH_ASYNC_COUNT", 100_000) as usize;
            raw_async_publish(&server, StorageType::File, size, n).await
        }
        "async publish (256 out), memory, raw sockets" => {
            let n = env_count("BENCH_ASYNC_COUNT", 100_000) as usize;
            raw_async_publish(&server, StorageType::Memory, size, n).await
        }
        "core pub/sub" => {
            core_pub_sub(
                &server,
                size,
                env_count("BENCH_CORE_COUNT", 500_000) as usize,
            )
            .await
        }
        "core pub/sub, raw sockets" => raw_pub_sub(
            &server,
            size,
            env_count("BENCH_RAW_COUNT", 2_000_000) as usize,
        ),
        "mirror catch-up, file" => {
            mirror_catch_up(&server, size, env_count("BENCH_MIRROR_COUNT", 1_000_000)).await
        }
        other => panic!("unknown workload {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture, in release"]
async fn contrail_vs_nats_server() {
    let workloads = [
        "sync publish, file",
        "sync publish, memory",
        "async publish (256 out), file",
        "async publish (256 out), memory",
        "async publish (256 out), file, raw sockets",
        "async publish (256 out), memory, raw sockets",
        "pull consume (batch 500), file",
        "pull consume (batch 500), memory",
        "core pub/sub",
        "core pub/sub, raw sockets",
        "mirror catch-up, file",
    ];
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let runs = env_count("BENCH_RUNS", 1).max(1);
    let with_214 = interop_support::nats_server_214().is_some();
    if !with_214 {
        eprintln!(
            "WARNING: CONTRAIL_NATS_SERVER_214 is not set: the comparison with nats-server 2.14 \
             (sync_interval: always) did NOT run (scripts/interop --bench sets it)"
        );
    }
    println!(
        "{:<34} {:>6} {:>12} {:>12} {:>7} {:>12} {:>7} {:>12} {:>7}",
        "workload",
        "size",
        "contrail",
        "nats 2.9",
        "ratio",
        "2.14 always",
        "ratio",
        "device",
        "of it"
    );
    for workload in workloads.into_iter().filter(|w| w.contains(only.as_str())) {
        let sizes: &[usize] = if workload.starts_with("mirror") {
            &[128]
        } else {
            &SIZES
        };
        for &size in sizes {
            let mut rounds = Vec::new();
            for _ in 0..runs {
                let device = match workload {
                    "sync publish, file" => Some(device_limit(1, size, 3_000)),
                    "async publish (256 out), file"
                    | "async publish (256 out), file, raw sockets" => {
                        Some(device_limit(ASYNC_WINDOW, size, 300))
                    }
                    _ => None,
                };
                let ours = run(Kind::Contrail, workload, size).await;
                let theirs = run(Kind::NatsServer, workload, size).await;
                let always = if with_214 {
                    Some(run(Kind::NatsServer214, workload, size).await)
                } else {
                    None
                };
                rounds.push(Round {
                    ours,
                    theirs,
                    always,
                    device,
                });
            }
            print_rows(workload, size, &rounds);
        }
    }
    if "resident memory".contains(only.as_str()) {
        let count = env_count("BENCH_MEMORY_COUNT", 5_000_000);
        let ours = resident_memory(Kind::Contrail, count).await;
        let theirs = resident_memory(Kind::NatsServer, count).await;
        for (row, ours, theirs) in [
            ("resident memory (MiB), filled", ours.0, theirs.0),
            ("resident memory (MiB), restarted", ours.1, theirs.1),
        ] {
            println!(
                "{row:<34} {:>5}B {ours:>12.1} {theirs:>12.1} {:>6.2}x (a file stream of {count})",
                128,
                theirs / ours
            );
        }
    }
    if "mirror over a link".contains(only.as_str()) {
        let count = env_count("BENCH_MIRROR_COUNT", 1_000_000);
        let rate = mirror_over_a_link(128, count).await;
        println!(
            "{:<34} {:>5}B {rate:>12.0} {:>12} {:>7} (a contrail mirror of a nats 2.9 stream of \
             {count})",
            "mirror over a link, file", 128, "-", "-"
        );
    }
}

/// A server's resident memory in MiB (`VmRSS` in `/proc/<pid>/status`).
fn resident_mib(server: &TestServer) -> f64 {
    let pid = server.pid().expect("the server runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB");
    kib / 1024.0
}

/// A server's resident memory (MiB) holding a file stream of `n` messages of 128 B: once
/// filled, and after a restart (read once a `STREAM.INFO` shows every message back).
async fn resident_memory(kind: Kind, n: u64) -> (f64, f64) {
    let mut server = TestServer::start_kind(kind, Options::default());
    let js = server.jetstream().await;
    js.create_stream(stream(StorageType::File))
        .await
        .expect("stream");
    streams::publish_windowed(&js, "bench.m", Bytes::from(vec![b'x'; 128]), n, 256).await;
    let filled = resident_mib(&server);
    drop(js);
    server.restart(true);
    let js = server.jetstream().await;
    let mut stream = js.get_stream("BENCH").await.expect("the stream is back");
    let messages = stream.info().await.expect("stream info").state.messages;
    assert_eq!(messages, n, "every message is back after the restart");
    (filled, resident_mib(&server))
}

/// One round of a row: each server once, back to back, and the device probe for file publish
/// rows.
struct Round {
    ours: Measured,
    theirs: Measured,
    always: Option<Measured>,
    device: Option<f64>,
}

/// The median of `values` (the mean of the middle two for an even count); NaN for none.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Prints a row and its CPU row: medians over the rounds, each ratio the median of the rounds'
/// own ratios (a server against the one that ran beside it), and with several rounds the range
/// of the nats 2.9 ratio.
fn print_rows(workload: &str, size: usize, rounds: &[Round]) {
    let of = |f: &dyn Fn(&Round) -> Option<f64>| median(rounds.iter().filter_map(f));
    let rate = of(&|r| Some(r.ours.rate));
    let ratio = of(&|r| Some(r.ours.rate / r.theirs.rate));
    let always = |f: &dyn Fn(&Measured, &Measured) -> f64| {
        rounds.iter().all(|r| r.always.is_some()).then(|| {
            median(
                rounds
                    .iter()
                    .filter_map(|r| r.always.as_ref().map(|m| f(&r.ours, m))),
            )
        })
    };
    let cell = |value: Option<f64>, ratio: Option<f64>| match (value, ratio) {
        (Some(value), Some(ratio)) => format!("{value:>12.0} {ratio:>6.2}x"),
        _ => format!("{:>12} {:>7}", "-", "-"),
    };
    let always_rate = cell(
        always(&|_, m| m.rate),
        always(&|ours, m| ours.rate / m.rate),
    );
    let device = if rounds.iter().all(|r| r.device.is_some()) {
        format!(
            "{:>12.0} {:>7.2}",
            of(&|r| r.device),
            of(&|r| r.device.map(|d| r.ours.rate / d))
        )
    } else {
        format!("{:>12} {:>7}", "-", "-")
    };
    let spread = match rounds.len() {
        1 => String::new(),
        n => {
            let ratios = rounds.iter().map(|r| r.ours.rate / r.theirs.rate);
            let low = ratios.clone().fold(f64::INFINITY, f64::min);
            let high = ratios.fold(0.0, f64::max);
            format!(" (medians of {n}; ratio {low:.2}-{high:.2})")
        }
    };
    println!(
        "{workload:<34} {size:>5}B {rate:>12.0} {:>12.0} {ratio:>6.2}x {always_rate} \
         {device}{spread}",
        of(&|r| Some(r.theirs.rate)),
    );
    // The ratio is theirs over ours: above 1, Contrail used less CPU per message.
    let always_cpu = cell(
        always(&|_, m| m.cpu_ns),
        always(&|ours, m| m.cpu_ns / ours.cpu_ns),
    );
    println!(
        "{:<34} {size:>5}B {:>12.0} {:>12.0} {:>6.2}x {always_cpu}",
        "  server CPU, ns/msg",
        of(&|r| Some(r.ours.cpu_ns)),
        of(&|r| Some(r.theirs.cpu_ns)),
        of(&|r| Some(r.theirs.cpu_ns / r.ours.cpu_ns)),
    );
    // The clients against each server, and the cores both kept busy (Contrail / nats 2.9). A
    // client that used less than a clock tick against Contrail has no ratio.
    let client_ratio = of(&|r| Some(r.theirs.client_ns / r.ours.client_ns));
    let client_ratio = if client_ratio.is_finite() {
        format!("{client_ratio:>6.2}x")
    } else {
        format!("{:>7}", "-")
    };
    println!(
        "{:<34} {size:>5}B {:>12.0} {:>12.0} {client_ratio}   cores busy {:.2} / {:.2}",
        "  client CPU, ns/msg",
        of(&|r| Some(r.ours.client_ns)),
        of(&|r| Some(r.theirs.client_ns)),
        of(&|r| Some(r.ours.cores_busy())),
        of(&|r| Some(r.theirs.cores_busy())),
    );
}

/// A count the environment may set (`name`), else `default`: how many messages the memory rows
/// store (`BENCH_MEMORY_COUNT`, 5,000,000), the mirror rows catch up with
/// (`BENCH_MIRROR_COUNT`, 1,000,000), how many rounds each rate row runs, interleaved, for its
/// medians (`BENCH_RUNS`, 1), the sync publish rows send (`BENCH_SYNC_COUNT`, 3,000), the
/// async publish rows send (`BENCH_ASYNC_COUNT`, 100,000), the file pull rows consume
/// (`BENCH_PULL_COUNT`, 50,000) and the core pub/sub rows send (`BENCH_CORE_COUNT`, 500,000
/// through async-nats; `BENCH_RAW_COUNT`, 2,000,000 over raw sockets); more for a profile.
fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Fills a new file stream `O` (`o.>`) with `n` messages of `size` bytes (256 PubAcks out).
async fn fill_origin(js: &async_nats::jetstream::Context, size: usize, n: u64) {
    js.create_stream(Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        ..Default::default()
    })
    .await
    .expect("origin");
    let body = Bytes::from(vec![b'x'; size]);
    streams::publish_windowed(js, "o.m", body, n, 256).await;
}

/// A new mirror of a stream of the same server, `n` messages of `size` bytes.
async fn mirror_catch_up(server: &TestServer, size: usize, n: u64) -> Measured {
    let js = server.jetstream().await;
    fill_origin(&js, size, n).await;
    let timed = Timed::start(server);
    let rate = time_mirror(&js.client(), serde_json::json!({"name": "O"}), n).await;
    Measured {
        rate,
        ..timed.finish(n)
    }
}

/// `contrail serve` with a link to a Debian nats-server holding `n` messages of `size` bytes:
/// the rate at which a new mirror there follows the hub's stream over the link.
async fn mirror_over_a_link(size: usize, n: u64) -> f64 {
    let hub = TestServer::start_kind(Kind::NatsServer, Options::default());
    fill_origin(&hub.jetstream().await, size, n).await;
    let dir = interop_support::temp_dir("bench-mirror-link");
    let conf = dir.join("server.conf");
    std::fs::write(
        &conf,
        format!(
            "links [ {{ name: hub, url: \"nats://127.0.0.1:{}\", domain: hub }} ]\n",
            hub.port
        ),
    )
    .expect("write the config");
    let server = interop_support::start_raw(Kind::Contrail, &conf, &["-p", "-1"], &[])
        .unwrap_or_else(|err| panic!("contrail starts with the link: {err}"));
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_secs(10)))
        .connect(server.client.to_string())
        .await
        .expect("connect to contrail");
    // The link is up once the hub's JetStream answers through it.
    for _ in 0..200 {
        if client.request("$JS.hub.API.INFO", "".into()).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    time_mirror(
        &client,
        serde_json::json!({"name": "O", "domain": "hub"}),
        n,
    )
    .await
}
