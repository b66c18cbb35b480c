//! Consumer hot path: fetch (batch 100) and an explicit ack per message, on a memory store
//! holding 128-byte messages. Each ack goes the way a real one does: parse the ack subject and
//! the body, then apply it. Prints messages per second.
//!
//! Run with `cargo bench --bench consumer`.

use std::time::Instant;

use bytes::Bytes;
use contrail::core::consumer::{
    parse_ack_subject, AckKind, AckPolicy, Consumer, ConsumerConfig, PullRequest,
};
use contrail::core::store::memory::MemoryStore;
use contrail::core::store::StreamStore;

const MESSAGES: usize = 200_000;
const BATCH: usize = 100;
const ROUNDS: usize = 3;
const T0: i64 = 1_700_000_000_000_000_000;

fn main() {
    let mut store = MemoryStore::new();
    let payload = Bytes::from(vec![b'x'; 128]);
    for i in 0..MESSAGES {
        store
            .store_msg("bench.orders", None, payload.clone(), T0 + i as i64)
            .expect("memory store accepts");
    }
    let mut best = f64::MAX;
    for round in 0..ROUNDS {
        let config = ConsumerConfig {
            durable_name: Some(format!("bench{round}")),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        }
        .validated(&["bench.>".to_string()], false)
        .expect("valid config");
        let mut consumer = Consumer::create("BENCH", config, &store, T0).expect("created");
        let mut out = Vec::with_capacity(BATCH);
        let mut acks = Vec::with_capacity(BATCH);
        let mut delivered = 0;
        let now = T0 + 1;
        let start = Instant::now();
        while delivered < MESSAGES {
            out.clear();
            consumer.pull(
                PullRequest::batch(BATCH),
                "_INBOX.bench",
                &store,
                now,
                &mut out,
            );
            for msg in &out {
                let subject = msg
                    .msg
                    .reply
                    .as_deref()
                    .expect("deliveries carry an ack subject");
                let ack = parse_ack_subject(subject).expect("ack subject parses");
                let kind = AckKind::parse(b"+ACK").expect("ack body parses");
                consumer.ack(&ack, kind, None, &store, now, &mut acks);
                delivered += 1;
            }
            assert!(!out.is_empty(), "stream ran dry early");
        }
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        assert_eq!(consumer.info(&store, now).num_ack_pending, 0);
        println!(
            "round {round}: {MESSAGES} msgs fetched (batch {BATCH}) and acked in {:.3}s = {:.0} msgs/s",
            secs,
            MESSAGES as f64 / secs
        );
    }
    println!(
        "consumer fetch+ack: best {:.0} msgs/s ({} x 128 B, batch {BATCH})",
        MESSAGES as f64 / best,
        MESSAGES
    );
}
