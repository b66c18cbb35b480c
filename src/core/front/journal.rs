//! The inputs an engine took since its stores last committed, kept so that a failed commit of a
//! store that queues its syncs (IndexedDB) costs only the writes it carried.
//!
//! When such a commit fails (quota exceeded, abort, I/O error), the engine in memory is ahead of
//! the database. A batch of appends the engine takes back itself ([`Engine::flush_failed`]);
//! for any other (acks, removals, consumer or stream writes; see `src/wasm/engine.rs`) the
//! browser shell rebuilds the engine from the database (only it can read one). Everything
//! handled since the last commit would be gone with it, reads and acks as much as publishes.
//! Instead, the shell replays this journal into the front of the rebuilt engine: the publishes
//! of the failed batch are answered with the error nats-server gives a write its store cannot
//! make durable (503 / 10023 "insufficient resources" for a full quota, 10077 "stream store
//! failed" otherwise; the shell names it) and store nothing; every other input (requests, acks,
//! pulls, timers, and publishes taken after that batch) is handed to the front again, in order,
//! and commits with the next transaction.
//!
//! Publishes may carry a shell's ticket (the browser's `publish`, which answers through a
//! ticket rather than a reply inbox): their outcomes are collected as [`TicketAck`]s.

use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;

use super::JetStream;
use crate::core::api::API_PREFIX;
#[cfg(doc)]
use crate::core::engine::Engine;
use crate::core::error::ApiError;
use crate::core::message::{Message, Outbound};
use crate::core::stream::PubAck;
use crate::core::time::Nanos;

/// A ticketed publish's outcome: the shell's ticket, and the PubAck or the API error.
pub type TicketAck = (u32, Result<PubAck, ApiError>);

/// One call the shell handed on to the engine.
pub enum Input {
    /// A message for `JetStream::handle`.
    Handle(Message, Nanos),
    /// A ticketed publish ([`Engine::publish`], its outcome under the shell's ticket).
    Publish {
        /// Its ticket, under which its outcome is released.
        ticket: u32,
        /// Its subject (shared with the publishes before it on the same subject).
        subject: Rc<str>,
        /// Its header block.
        headers: Option<Bytes>,
        /// Its payload.
        payload: Bytes,
        /// When it was published.
        now: Nanos,
    },
    /// An interest change for `Engine::set_interest`.
    Interest(String, bool, Nanos),
    /// A timer for `Engine::handle_timeout`.
    Timeout(Nanos),
}

/// Inputs since the last commit, numbered from 0 for the engine's life: a batch remembers the
/// number after its last input, and once it committed everything before that number goes.
#[derive(Default)]
pub struct Journal {
    /// The number of `inputs[0]`.
    base: u64,
    inputs: VecDeque<Input>,
    /// The last ticketed publish's subject: a run of publishes to one subject shares it
    /// (allocating it per publish cost a tenth of an in-memory publish).
    last_subject: Option<Rc<str>>,
}

impl Journal {
    /// Notes an input the engine took.
    pub fn push(&mut self, input: Input) {
        self.inputs.push_back(input);
    }

    /// Notes a ticketed publish the engine took (payloads are shared, not copied).
    pub fn push_publish(
        &mut self,
        ticket: u32,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) {
        let subject = match &self.last_subject {
            Some(last) if **last == *subject => last.clone(),
            _ => {
                let new: Rc<str> = Rc::from(subject);
                self.last_subject = Some(new.clone());
                new
            }
        };
        self.push(Input::Publish {
            ticket,
            subject,
            headers,
            payload,
            now,
        });
    }

    /// The number the next input gets: a batch taken now covers everything below it.
    pub fn end(&self) -> u64 {
        self.base + self.inputs.len() as u64
    }

    /// Forgets the inputs below `end`: a commit made them durable.
    pub fn committed(&mut self, end: u64) {
        let done = end.saturating_sub(self.base).min(self.inputs.len() as u64);
        self.inputs.drain(..done as usize);
        self.base += done;
    }

    /// Forgets every input: the engine went back to the database and they are lost.
    pub fn clear(&mut self) {
        self.base = self.end();
        self.inputs.clear();
    }

    /// Hands the journal to `front`, rebuilt from the database after the commit of the batch
    /// ending at `failed_end` failed: that batch's publishes are refused with `refusal` (their
    /// outcomes queued as replies, or in `acks` for ticketed ones) and leave the journal; every
    /// other input is handled again, in order, and stays until a commit takes it.
    pub fn replay(
        &mut self,
        front: &mut JetStream,
        failed_end: u64,
        refusal: &ApiError,
        acks: &mut Vec<TicketAck>,
    ) {
        let mut kept = VecDeque::with_capacity(self.inputs.len());
        let inputs = std::mem::take(&mut self.inputs);
        for (number, input) in (self.base..).zip(inputs) {
            let failed = number < failed_end;
            match input {
                Input::Handle(msg, _) if failed && is_publish(front, &msg.subject) => {
                    if let Some(reply) = msg.reply {
                        let body = serde_json::json!({ "error": refusal }).to_string();
                        let refused = Outbound::to_subject(reply, None, body.into_bytes());
                        front.engine_mut().send_reply(refused);
                    }
                }
                Input::Handle(msg, now) => {
                    front.handle(msg.clone(), now);
                    kept.push_back(Input::Handle(msg, now));
                }
                Input::Publish { ticket, .. } if failed => {
                    acks.push((ticket, Err(refusal.clone())));
                }
                Input::Publish {
                    ticket,
                    subject,
                    headers,
                    payload,
                    now,
                } => {
                    let result =
                        front.replay_publish(&subject, headers.clone(), payload.clone(), now);
                    acks.push((ticket, result));
                    kept.push_back(Input::Publish {
                        ticket,
                        subject,
                        headers,
                        payload,
                        now,
                    });
                }
                Input::Interest(subject, active, now) => {
                    front.engine_mut().set_interest(&subject, active, now);
                    kept.push_back(Input::Interest(subject, active, now));
                }
                Input::Timeout(now) => {
                    front.engine_mut().handle_timeout(now);
                    kept.push_back(Input::Timeout(now));
                }
            }
        }
        self.inputs = kept;
    }
}

/// Whether `front` takes a message on `subject` as a publish into a stream.
fn is_publish(front: &JetStream, subject: &str) -> bool {
    !subject.starts_with(API_PREFIX) && front.engine().takes_as_publish(subject)
}
