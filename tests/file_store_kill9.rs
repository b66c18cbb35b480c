//! A real kill -9: a child process publishes, acknowledges (removes) and saves consumer state,
//! printing each acknowledgement only after the sync or save that makes it durable. The parent
//! kills it with SIGKILL at whatever point it has reached, reopens the store and checks that
//! everything acknowledged is there, and nothing acknowledged as removed came back.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use bytes::Bytes;
use contrail::core::store::{ConsumerRecord, ConsumerState, SequencePair, StoreError, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};

const CHILD_ENV: &str = "CONTRAIL_FILE_STORE_KILL9_DIR";
const CONFIG: FileStoreConfig = FileStoreConfig {
    block_size: 16 << 10,
};

fn payload(seq: u64) -> Bytes {
    Bytes::from(format!("message {seq} {}", "x".repeat((seq % 97) as usize)))
}

/// The child's work: a work queue that stores five messages, removes the oldest, syncs, saves
/// its consumer, and says so.
#[test]
#[ignore = "the child half of the kill -9 tests: they start it with --ignored"]
fn child_process() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        panic!("run only by the kill -9 tests, which set {CHILD_ENV}");
    };
    let mut store = FileStore::open(Path::new(&dir), CONFIG).expect("child open");
    for _ in 0..100_000 {
        for _ in 0..5 {
            let seq = store.state().last_seq + 1;
            store
                .store_msg("wq", None, payload(seq), seq as i64)
                .expect("store");
        }
        let first = store.state().first_seq;
        store.remove_msg(first).expect("remove");
        store.sync().expect("sync");
        let state = store.state();
        println!("ack {} {}", state.last_seq, state.first_seq);
        let record = ConsumerRecord {
            config: b"{}".to_vec(),
            created: 1,
            state: ConsumerState {
                delivered: SequencePair {
                    consumer_seq: state.last_seq,
                    stream_seq: state.last_seq,
                },
                ..ConsumerState::default()
            },
        };
        store
            .save_consumer("worker", record)
            .expect("save consumer");
        println!("consumer {}", state.last_seq);
    }
}

/// Runs the child until it has acknowledged `acks` syncs, kills it, returns its last
/// acknowledgements: (last stored seq, first kept seq, consumer delivered seq).
fn run_and_kill(dir: &Path, acks: usize) -> (u64, u64, u64) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--exact",
            "child_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let (mut last, mut first, mut consumer, mut seen) = (0, 0, 0, 0);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ack", l, f] => {
                last = l.parse().expect("seq");
                first = f.parse().expect("seq");
                seen += 1;
            }
            ["consumer", d] => consumer = d.parse().expect("seq"),
            _ => continue,
        }
        if seen >= acks {
            break;
        }
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    (last, first, consumer)
}

#[test]
fn everything_acknowledged_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    for round in 0..4 {
        let (last, first, consumer) = run_and_kill(dir.path(), 40 + 53 * round);
        assert!(last > 0, "round {round}: the child acknowledged nothing");

        let store = FileStore::open(dir.path(), CONFIG).expect("reopen after kill");
        let state = store.state();
        assert!(
            state.last_seq >= last,
            "round {round}: {state:?} lost acked seq {last}"
        );
        assert!(
            state.first_seq >= first,
            "round {round}: removed messages came back"
        );
        // The child may have stored and removed more between the acknowledgement read here and
        // the kill landing; those removals are real (in order, from the front), so the messages
        // that must be there start at whichever is later. A removal can only follow the five
        // stores before it in the file: the store must not have moved its front further than its
        // own writes allow.
        assert!(
            state.last_seq >= 5 * (state.first_seq - 1),
            "round {round}: {state:?} removed messages it never stored"
        );
        for seq in first.max(state.first_seq)..=last {
            assert_eq!(
                store.load_msg(seq).map(|m| m.payload),
                Ok(payload(seq)),
                "round {round}: acknowledged message {seq}"
            );
        }
        assert_eq!(store.load_msg(first - 1), Err(StoreError::NotFound));
        let consumers = store.consumers().expect("consumers");
        let delivered = consumers["worker"].state.delivered.stream_seq;
        assert!(
            delivered >= consumer,
            "round {round}: consumer state went back"
        );
    }
}
