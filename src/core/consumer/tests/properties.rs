//! Properties over random input: hostile bytes never panic, and random sequences of pulls,
//! acks, naks, terms and time keep the consumer's bookkeeping consistent.

use proptest::prelude::*;

use super::support::*;
use crate::core::consumer::{
    parse_ack_subject, AckKind, AckPolicy, AckSubject, Consumer, PullRequest,
};
use crate::core::store::memory::MemoryStore;
use crate::core::store::StreamStore;
use crate::core::time::MILLIS;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ack_subject_parser_never_panics(s in ".{0,80}") {
        let _ = parse_ack_subject(&s);
        let dotted = format!("$JS.ACK.{s}");
        let _ = parse_ack_subject(&dotted);
    }

    #[test]
    fn ack_and_pull_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = AckKind::parse(&body);
        let _ = PullRequest::parse(&body);
        let mut nak = b"-NAK ".to_vec();
        nak.extend_from_slice(&body);
        let _ = AckKind::parse(&nak);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Pull(usize),
    Ack(usize),
    Nak(usize, bool),
    Term(usize),
    Progress(usize),
    Wait(i64),
    Publish,
    Remove(u64),
    PurgeBelow(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..6).prop_map(Op::Pull),
        (0usize..16).prop_map(Op::Ack),
        ((0usize..16), any::<bool>()).prop_map(|(i, d)| Op::Nak(i, d)),
        (0usize..16).prop_map(Op::Term),
        (0usize..16).prop_map(Op::Progress),
        (1i64..3000).prop_map(Op::Wait),
        Just(Op::Publish),
        (1u64..20).prop_map(Op::Remove),
        (1u64..20).prop_map(Op::PurgeBelow),
    ]
}

/// Invariants that hold after every operation.
fn check(c: &Consumer, store: &MemoryStore, now: i64) -> Result<(), TestCaseError> {
    let info = c.info(store, now);
    let record = c.record();
    prop_assert!(info.ack_floor.stream_seq <= info.delivered.stream_seq.max(c.sseq - 1));
    prop_assert!(info.ack_floor.consumer_seq <= info.delivered.consumer_seq);
    for (seq, p) in &record.state.pending {
        prop_assert!(
            *seq > info.ack_floor.stream_seq,
            "pending {seq} at or below floor"
        );
        prop_assert!(*seq <= info.delivered.stream_seq);
        prop_assert!(p.consumer_seq <= info.delivered.consumer_seq);
    }
    if c.config.max_ack_pending > 0 {
        prop_assert!(info.num_ack_pending <= c.config.max_ack_pending as u64);
    }
    prop_assert_eq!(info.num_pending, store.num_pending(c.sseq, "", false));
    if let Some(d) = c.next_deadline() {
        prop_assert!(
            d > now || c.is_inactive(now),
            "deadline {d} not after poll at {now}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_workload_keeps_bookkeeping_consistent(
        ops in proptest::collection::vec(op(), 1..60),
        ack_all in any::<bool>(),
        max_deliver in prop_oneof![Just(-1i64), 1i64..4],
    ) {
        let mut store = store_n(8);
        let mut config = pull_config("p");
        config.ack_wait = secs(1);
        config.max_ack_pending = 6;
        config.max_deliver = max_deliver;
        if ack_all {
            config.ack_policy = AckPolicy::All;
        }
        let mut c = consumer(&store, config);
        let mut now = T0;
        let mut seen: Vec<AckSubject> = Vec::new();
        let mut acked = std::collections::BTreeSet::new();
        for op in ops {
            let mut out = Vec::new();
            match op {
                Op::Pull(n) => {
                    let req = PullRequest { batch: n, expires: secs(2), ..Default::default() };
                    c.pull(req, "_INBOX.p", &store, now, &mut out);
                }
                Op::Ack(i) | Op::Term(i) | Op::Progress(i) | Op::Nak(i, _) if seen.is_empty() => {
                    let _ = i;
                }
                Op::Ack(i) => {
                    let a = seen[i % seen.len()].clone();
                    acked.extend(c.ack(&a, AckKind::Ack, Some("_INBOX.a"), &store, now, &mut out).acked);
                }
                Op::Nak(i, delayed) => {
                    let a = seen[i % seen.len()].clone();
                    let delay = delayed.then_some(500 * MILLIS);
                    c.ack(&a, AckKind::Nak { delay }, None, &store, now, &mut out);
                }
                Op::Term(i) => {
                    let a = seen[i % seen.len()].clone();
                    let term = AckKind::Term { reason: None };
                    acked.extend(c.ack(&a, term, None, &store, now, &mut out).acked);
                }
                Op::Progress(i) => {
                    let a = seen[i % seen.len()].clone();
                    c.ack(&a, AckKind::Progress, None, &store, now, &mut out);
                }
                Op::Wait(ms) => {
                    now += ms * MILLIS;
                    c.poll(&store, now, &mut out);
                }
                Op::Publish => {
                    publish(&mut store, "orders.new", now);
                    c.poll(&store, now, &mut out);
                }
                Op::Remove(seq) => {
                    if store.remove_msg(seq).expect("memory store") {
                        c.on_removed(seq);
                    }
                    c.poll(&store, now, &mut out);
                }
                Op::PurgeBelow(below) => {
                    let first = store.state().first_seq;
                    let gone: Vec<u64> = (first..below)
                        .filter(|s| store.load_msg(*s).is_ok())
                        .collect();
                    store.purge("", below, 0).expect("memory store");
                    for seq in gone {
                        c.on_removed(seq);
                    }
                    c.poll(&store, now, &mut out);
                }
            }
            let delivered = deliveries(&out);
            for d in &delivered {
                prop_assert!(!acked.contains(&d.stream_seq), "acked {} delivered again", d.stream_seq);
            }
            seen.extend(delivered);
            check(&c, &store, now)?;
        }
    }
}
