//! Machines driven by hand, step by step, rather than by the simulated origin ([`super::origin`]),
//! and what the tests read from the actions they ask for.

use super::origin::{Sim, T0};
use crate::core::sourcing::{Action, LocalState, Role, Sourcing, SourcingSetup, StreamSource};

/// A machine of `role` copying origin stream `O` into `stream` (account `$G`, no domain), not
/// started yet.
pub fn machine(role: Role, stream: &str, seed: u64) -> Sourcing {
    Sourcing::new(SourcingSetup {
        role,
        source: StreamSource {
            name: "O".into(),
            ..Default::default()
        },
        stream: stream.into(),
        account: "$G".into(),
        domain: String::new(),
        origin_sourced_twice: false,
        seed,
    })
}

/// [`machine`], started at `T0` with nothing stored.
pub fn started(role: Role, stream: &str, seed: u64) -> Sourcing {
    let mut m = machine(role, stream, seed);
    m.start(T0, LocalState::default(), None);
    m
}

/// Every action the machine asks for now.
pub fn drain(m: &mut Sourcing) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

/// Runs `sim` until `done` holds, at most `steps` steps.
pub fn run_until(sim: &mut Sim, steps: usize, done: impl Fn(&Sim) -> bool) -> bool {
    for _ in 0..steps {
        if done(sim) {
            return true;
        }
        sim.step();
    }
    done(sim)
}

/// Origin sequences stored (mirror) or sourced, in action order.
pub fn stored(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StoreMirrored { seq, .. } => Some(*seq),
            Action::StoreSourced { origin_seq, .. } => Some(*origin_seq),
            _ => None,
        })
        .collect()
}

/// Whether the actions drop the consumer on `deliver` (to create another).
pub fn recreated(actions: &[Action], deliver: &str) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Unsubscribe(s) if s == deliver))
}
