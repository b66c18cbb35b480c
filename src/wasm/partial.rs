//! The fast open: taking publishes while the older messages are still in the database.
//!
//! Reading a stream back costs time in proportion to its length (~0.5 ms per 1,000 messages in
//! Chromium), and the first publish after opening used to wait for all of it. So the shell
//! opens from each stream's newest segments only ([`super::idb::Database::load_tail`]); its
//! stores are *partial* (see [`super::idb::IdbStore`]). Until the shell has read everything
//! (`completeOpen`), the engine takes only what needs nothing older than that tail: publishes
//! for which [`crate::core::stream::Stream::publish_looks_back`] is false. Everything else
//! (API requests, acks, interest changes, and any publish that looks back) is *deferred*: kept
//! here in arrival order, and handed to the whole engine, in that order, once it is rebuilt.
//! Once one message is deferred, every later one is too, so nothing overtakes it.

use bytes::Bytes;

use super::released::TicketAck;
use crate::core::engine::Engine;
use crate::core::error::ApiError;
use crate::core::front::JetStream;
use crate::core::message::{Destination, Message};
use crate::core::stream::PubAck;
use crate::core::time::Nanos;

/// Status block of the reply to a deferred request that nothing handled in the end.
const NO_RESPONDERS: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// Something handed to the engine while it was partial, to hand to the whole engine later.
enum Deferred {
    /// A message for `JetStream::handle`.
    Handle(Message, Nanos),
    /// A ticketed publish.
    Publish {
        ticket: u32,
        subject: String,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    },
    /// An interest change for `Engine::set_interest`.
    Interest(String, bool, Nanos),
}

/// What became of a ticketed publish handed to a partial engine.
pub(crate) enum Publish {
    /// No stream captures the subject.
    NoStream,
    /// Taken now, with this outcome.
    Done(Result<PubAck, ApiError>),
    /// Deferred: its outcome comes with the whole engine.
    Deferred,
}

/// The partial phase: what waits for the whole engine.
#[derive(Default)]
pub(crate) struct Partial {
    deferred: Vec<Deferred>,
    /// The shell is rebuilding the whole engine: everything waits.
    pub(crate) completing: bool,
}

impl Partial {
    /// Whether the partial engine may take a publish now.
    fn may_take(&self, engine: &Engine, subject: &str, headers: Option<&[u8]>) -> bool {
        !self.completing
            && self.deferred.is_empty()
            && engine.publish_looks_back(subject, headers) == Some(false)
    }

    /// Takes a message for `JetStream::handle` now, or defers it. Returns what `handle`
    /// returns: for a deferred message, whether the whole engine is expected to take it (a
    /// `$JS.` subject, or a subject a stream captures).
    pub(crate) fn handle(&mut self, front: &mut JetStream, msg: Message, now: Nanos) -> bool {
        let is_api = msg.subject.starts_with("$JS.");
        if !is_api && self.may_take(front.engine(), &msg.subject, msg.headers.as_deref()) {
            return front.handle(msg, now);
        }
        let took = is_api || front.engine().captures(&msg.subject);
        if took {
            self.deferred.push(Deferred::Handle(msg, now));
        }
        took
    }

    /// A ticketed publish: taken now, or deferred under `ticket`.
    pub(crate) fn publish(
        &mut self,
        engine: &mut Engine,
        ticket: u32,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Publish {
        if self.may_take(engine, subject, headers.as_deref()) {
            return match engine.publish(subject, headers, payload, now) {
                Some(result) => Publish::Done(result),
                None => Publish::NoStream,
            };
        }
        if !engine.captures(subject) {
            return Publish::NoStream;
        }
        self.deferred.push(Deferred::Publish {
            ticket,
            subject: subject.to_string(),
            headers,
            payload,
            now,
        });
        Publish::Deferred
    }

    /// Defers an interest change.
    pub(crate) fn set_interest(&mut self, deliver_subject: &str, active: bool, now: Nanos) {
        self.deferred
            .push(Deferred::Interest(deliver_subject.to_string(), active, now));
    }

    /// Hands everything deferred to the whole engine, in order; ticketed publishes' outcomes go
    /// to `acks`. A deferred request nothing took gets a no-responders status as its reply.
    pub(crate) fn replay(self, front: &mut JetStream, acks: &mut Vec<TicketAck>) {
        for deferred in self.deferred {
            match deferred {
                Deferred::Handle(msg, now) => {
                    let reply = msg.reply.clone();
                    if !front.handle(msg, now) {
                        if let Some(reply) = reply {
                            let status = Bytes::from_static(NO_RESPONDERS);
                            let msg = Message::new(reply, Bytes::new()).with_headers(status);
                            front.engine_mut().transmit(Destination::Local, msg);
                        }
                    }
                }
                Deferred::Publish {
                    ticket,
                    subject,
                    headers,
                    payload,
                    now,
                } => {
                    let result = front.replay_publish(&subject, headers, payload, now);
                    acks.push((ticket, result));
                }
                Deferred::Interest(subject, active, now) => {
                    front.engine_mut().set_interest(&subject, active, now)
                }
            }
        }
    }
}
