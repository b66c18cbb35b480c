//! A tiny deterministic shell for unit tests, playing the server's part for an engine or for
//! the front that owns one: local messages on subjects the engine subscribed go back in through
//! the subscriptions they matched, everything else is handed to the test.

use super::{Engine, EngineEvent, RequestOutcome, SubId};
use crate::core::front::JetStream;
use crate::core::message::{Destination, Message, Outbound};
use crate::core::time::Nanos;

/// What the shell drives: a bare engine, or a front (whose standing subscriptions serve the
/// engine's requests to its own API).
pub(crate) trait Shell {
    /// The engine, to flush and poll.
    fn shell_engine(&mut self) -> &mut Engine;
    /// Takes a message delivered for engine subscription `sid`.
    fn deliver(&mut self, sid: SubId, msg: Message, now: Nanos);
}

impl Shell for Engine {
    fn shell_engine(&mut self) -> &mut Engine {
        self
    }

    fn deliver(&mut self, sid: SubId, msg: Message, now: Nanos) {
        self.handle_subscribed(sid, msg, now);
    }
}

impl Shell for JetStream {
    fn shell_engine(&mut self) -> &mut Engine {
        self.engine_mut()
    }

    fn deliver(&mut self, sid: SubId, msg: Message, now: Nanos) {
        self.handle_subscribed(sid, msg, now);
    }
}

/// Every event the engine queued.
pub(crate) fn events(shell: &mut impl Shell) -> Vec<EngineEvent> {
    let engine = shell.shell_engine();
    std::iter::from_fn(|| engine.poll_event()).collect()
}

/// Every outcome of the engine's own requests it queued.
pub(crate) fn outcomes(shell: &mut impl Shell) -> Vec<RequestOutcome> {
    let engine = shell.shell_engine();
    std::iter::from_fn(|| engine.poll_request_outcome()).collect()
}

/// The engine's local subscriptions that `to` matches (the server shell keeps an index).
pub(crate) fn local_sids(engine: &Engine, to: &str) -> Vec<SubId> {
    engine
        .subscriptions()
        .filter(|(_, filter, dest)| {
            *dest == Destination::Local && crate::core::subject::matches(filter, to)
        })
        .map(|(sid, _, _)| sid)
        .collect()
}

/// Flushes and drains the outbound queue; local messages on subjects the engine subscribed go
/// back in by the subscriptions they matched (what the server shell does), the rest are
/// returned. Bounded rounds.
pub(crate) fn run_shell(shell: &mut impl Shell, now: Nanos) -> Vec<Outbound> {
    let mut others = Vec::new();
    for _ in 0..10 {
        let engine = shell.shell_engine();
        engine.flush().result().expect("memory stores sync");
        let out: Vec<Outbound> = std::iter::from_fn(|| engine.poll_outbound()).collect();
        if out.is_empty() {
            break;
        }
        for o in out {
            let sids = match o.dest {
                Destination::Local => local_sids(shell.shell_engine(), &o.to),
                Destination::Link(_) => Vec::new(),
            };
            if sids.is_empty() {
                others.push(o);
                continue;
            }
            for sid in sids {
                shell.deliver(sid, o.msg.clone(), now);
            }
        }
    }
    others
}
