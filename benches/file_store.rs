//! File store throughput and restart cost, bounded in time.
//!
//! `cargo bench --bench file_store` stores 5 million 128-byte messages (about 820 MiB on disk)
//! with a sync every 1000, scans them back with `load_next_msg`, then reopens the directory in a
//! fresh process and reports the reopen time and resident memory, and last acknowledges them all
//! as a work queue would (removes in order). It takes well under a minute;
//! `FILE_STORE_BENCH_MSGS=1000000` runs a smaller stream.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use bytes::Bytes;
use contrail::core::store::StreamStore;
use contrail::server::file_store::{FileStore, FileStoreConfig};

const PAYLOAD: usize = 128;
const SYNC_EVERY: u64 = 1_000;

/// A line of /proc/self/status in KiB (VmRSS: resident now, VmHWM: peak resident).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn disk_usage(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("msgs"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn per_sec(count: u64, secs: f64) -> String {
    format!("{:.0}", count as f64 / secs.max(1e-9))
}

/// The child process: reopen the store, report time and memory, serve one load.
fn reopen(dir: &Path, expected: u64) {
    let start = Instant::now();
    let store = FileStore::open(dir, FileStoreConfig::default()).expect("reopen");
    let secs = start.elapsed().as_secs_f64();
    let state = store.state();
    assert_eq!(state.msgs, expected, "every message is back");
    let last = store
        .load_msg(state.last_seq)
        .expect("serves the last message");
    assert_eq!(last.payload.len(), PAYLOAD);
    println!(
        "reopen: {secs:.2} s for {} msgs; RSS {} MiB (peak {} MiB)",
        state.msgs,
        status_kib("VmRSS:") / 1024,
        status_kib("VmHWM:") / 1024
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--reopen") {
        let dir = args.get(pos + 1).expect("directory");
        let expected = args
            .get(pos + 2)
            .and_then(|n| n.parse().ok())
            .expect("count");
        reopen(Path::new(dir), expected);
        return;
    }
    let msgs: u64 = std::env::var("FILE_STORE_BENCH_MSGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let payload = Bytes::from(vec![0x5a; PAYLOAD]);

    let mut store = FileStore::open(dir, FileStoreConfig::default()).expect("open");
    let start = Instant::now();
    for i in 1..=msgs {
        store
            .store_msg("bench.orders", None, payload.clone(), i as i64)
            .expect("store");
        if i % SYNC_EVERY == 0 {
            store.sync().expect("sync");
        }
    }
    store.sync().expect("sync");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "store: {msgs} x {PAYLOAD} B, sync every {SYNC_EVERY}: {:.2} s, {} msgs/s, {} MiB on disk",
        secs,
        per_sec(msgs, secs),
        disk_usage(dir) >> 20
    );

    let start = Instant::now();
    let mut seq = 0;
    let mut seen = 0u64;
    while let Ok(msg) = store.load_next_msg(">", seq + 1) {
        seq = msg.seq;
        seen += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(seen, msgs);
    println!(
        "load_next scan: {:.2} s, {} msgs/s",
        secs,
        per_sec(seen, secs)
    );
    println!(
        "writer process: RSS {} MiB (peak {} MiB)",
        status_kib("VmRSS:") / 1024,
        status_kib("VmHWM:") / 1024
    );
    drop(store);

    let exe = std::env::current_exe().expect("own path");
    let status = Command::new(exe)
        .arg("--reopen")
        .arg(dir)
        .arg(msgs.to_string())
        .status()
        .expect("run the reopen process");
    assert!(status.success(), "reopen process failed");

    // Consume it as a work queue: remove in order, sync every 1000 (space is freed as it goes).
    let mut store = FileStore::open(dir, FileStoreConfig::default()).expect("reopen");
    let start = Instant::now();
    for seq in 1..=msgs {
        store.remove_msg(seq).expect("ack");
        if seq % SYNC_EVERY == 0 {
            store.sync().expect("sync");
        }
    }
    store.sync().expect("sync");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "work-queue acks (remove in order, sync every {SYNC_EVERY}): {:.2} s, {} msgs/s, {} KiB left on disk",
        secs,
        per_sec(msgs, secs),
        disk_usage(dir) >> 10
    );
}
