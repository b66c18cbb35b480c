//! Property: however the link is cut (at random steps, for random lengths, with requests and
//! deliveries lost in flight), whatever single messages the origin drops, whichever nats-server
//! the origin behaves like, whether its create answers come before or after the new consumer's
//! first deliveries, while the origin keeps taking messages and removes some before they are
//! delivered: a mirror ends up equal to the origin sequence by sequence, and a source holds
//! every origin message exactly once, in order. The model store panics on any duplicate
//! or out-of-order store along the way.

use proptest::prelude::*;

use super::origin::{Origin, OriginKind, Sim, STEP, T0};
use crate::core::sourcing::{Role, StreamSource};
use crate::core::time::SECONDS;

/// One scripted session: a step count before each cut, how long each outage lasts.
#[derive(Debug, Clone)]
struct Script {
    initial: u64,
    cuts: Vec<(usize, usize)>,
    publish_every: usize,
    delete_every: u64,
    fc_every: u64,
    sync_lag: bool,
    lose_every: u64,
    late_responses: bool,
    kind: OriginKind,
    seed: u64,
}

fn script() -> impl Strategy<Value = Script> {
    let kind = prop_oneof![
        Just(OriginKind::V214),
        Just(OriginKind::BelowLevel4),
        Just(OriginKind::V29)
    ];
    (
        (
            0u64..40,
            prop::collection::vec((0usize..60, 1usize..400), 1..6),
        ),
        (1usize..6, 2u64..9, 1u64..8),
        (
            any::<bool>(),
            prop_oneof![Just(0u64), 5u64..40],
            kind,
            any::<bool>(),
        ),
        any::<u64>(),
    )
        .prop_map(
            |(
                (initial, cuts),
                (publish_every, delete_every, fc_every),
                (sync_lag, lose_every, kind, late_responses),
                seed,
            )| Script {
                initial,
                cuts,
                publish_every,
                delete_every,
                fc_every,
                sync_lag,
                lose_every,
                late_responses,
                kind,
                seed,
            },
        )
}

/// Runs the script; returns the simulation after it has caught up (or after the bound).
fn play(role: Role, s: &Script) -> Sim {
    let mut origin = Origin::new("O");
    origin.fc_every = s.fc_every;
    origin.kind = s.kind;
    for i in 0..s.initial {
        origin.publish(&format!("o.{}", i % 3), &format!("m{i}"), T0 + i as i64);
    }
    let source = StreamSource {
        name: "O".into(),
        ..Default::default()
    };
    let mut sim = Sim::new(role, source, origin, s.seed);
    sim.lose_every = s.lose_every;
    sim.late_responses = s.late_responses;
    sim.start(None);
    let mut published = s.initial;
    let mut tick = 0usize;
    let mut advance = |sim: &mut Sim, steps: usize| {
        for _ in 0..steps {
            tick += 1;
            if tick.is_multiple_of(s.publish_every) && published < 150 {
                published += 1;
                let now = sim.now;
                let seq = sim
                    .origin
                    .publish(&format!("o.{}", published % 3), "p", now);
                // Remove some messages before anyone got them: the origin's deletions.
                if seq % s.delete_every == 0 {
                    sim.origin.delete_undelivered(seq - 1);
                }
            }
            // Sometimes the disk syncs late: flow-control replies must wait for it.
            sim.auto_sync = !(s.sync_lag && tick % 7 < 3);
            sim.step();
        }
    };
    for &(before, outage) in &s.cuts {
        advance(&mut sim, before);
        sim.cut();
        advance(&mut sim, outage);
        sim.restore();
    }
    // Let it settle: no more publishes or losses, syncs on, at most 10 simulated minutes.
    sim.auto_sync = true;
    sim.lose_every = 0;
    let bound = (600 * SECONDS / STEP) as usize;
    for _ in 0..bound {
        let done = match role {
            Role::Mirror => sim.local.last_seq == sim.origin.last_seq,
            Role::Source => {
                sim.local.sourced_origin_seqs().last().copied()
                    == sim.origin.msgs.keys().last().copied()
            }
        };
        if done {
            break;
        }
        sim.step();
    }
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_mirror_equals_its_origin_after_any_cuts(s in script()) {
        let sim = play(Role::Mirror, &s);
        prop_assert_eq!(sim.local.last_seq, sim.origin.last_seq);
        let origin: Vec<u64> = sim.origin.msgs.keys().copied().collect();
        let mirror: Vec<u64> = sim.local.mirrored.keys().copied().collect();
        prop_assert_eq!(&mirror, &origin);
        for (seq, (subject, payload, time)) in &sim.local.mirrored {
            let want = &sim.origin.msgs[seq];
            prop_assert_eq!((subject, payload, *time), (&want.subject, &want.payload, want.ts));
        }
        // Every sequence not stored was skipped, so the mirror's sequences match the origin's.
        let skipped: u64 = sim.local.skipped.iter().map(|(a, b)| b - a + 1).sum();
        let below_first = sim.local.first_seq.saturating_sub(1);
        prop_assert_eq!(mirror.len() as u64 + skipped + below_first, sim.local.last_seq);
    }

    #[test]
    fn a_source_holds_each_origin_message_once_after_any_cuts(s in script()) {
        let sim = play(Role::Source, &s);
        let origin: Vec<u64> = sim.origin.msgs.keys().copied().collect();
        prop_assert_eq!(sim.local.sourced_origin_seqs(), origin);
    }
}

/// The same session cut once at each of its steps in turn, for a short and a long outage.
#[test]
fn a_cut_at_every_step_of_a_session_leaves_mirror_and_source_complete() {
    for role in [Role::Mirror, Role::Source] {
        for outage in [3, 300] {
            for cut_at in 0..120 {
                let s = Script {
                    initial: 12,
                    cuts: vec![(cut_at, outage)],
                    publish_every: 4,
                    delete_every: 5,
                    fc_every: 3,
                    sync_lag: cut_at % 2 == 0,
                    lose_every: 0,
                    late_responses: cut_at % 3 == 0,
                    kind: OriginKind::V214,
                    seed: cut_at as u64,
                };
                let sim = play(role, &s);
                let origin: Vec<u64> = sim.origin.msgs.keys().copied().collect();
                let local = match role {
                    Role::Mirror => sim.local.mirrored.keys().copied().collect(),
                    Role::Source => sim.local.sourced_origin_seqs(),
                };
                assert_eq!(local, origin, "{role:?} cut at step {cut_at} for {outage}");
            }
        }
    }
}
