//! What the engine and a mirror/source machine exchange: who it follows ([`SourcingSetup`]),
//! what the local stream holds ([`LocalState`]), what arrives ([`Event`]) and what the engine
//! must do ([`Action`]).

use bytes::Bytes;

use crate::core::time::Nanos;

use super::config::StreamSource;

/// Mirror or source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The stream is a copy of the origin, at the origin's sequences.
    Mirror,
    /// The origin's messages are added to the stream, with `Nats-Stream-Source`.
    Source,
}

/// Who follows which origin, and from where.
#[derive(Debug, Clone)]
pub struct SourcingSetup {
    /// Mirror or source.
    pub role: Role,
    /// The validated config (domain resolved, see [`super::config::check_sourcing`]).
    pub source: StreamSource,
    /// The local stream's name.
    pub stream: String,
    /// The local account's name.
    pub account: String,
    /// The local server's JetStream domain ("" when none).
    pub domain: String,
    /// For a source: the stream sources the same origin name more than once.
    pub origin_sourced_twice: bool,
    /// Seed of the machine's randomness.
    pub seed: u64,
}

/// What the local stream holds (its `FastState`), for where a mirror starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalState {
    /// Messages stored.
    pub msgs: u64,
    /// First sequence; 0 when the stream never held anything.
    pub first_seq: u64,
    /// Last sequence.
    pub last_seq: u64,
    /// Time of the last message (0 when none).
    pub last_time: Nanos,
}

/// Something arriving for this mirror or source.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A message on a reply inbox this machine subscribed (a consumer create response).
    Response {
        /// The inbox it arrived on.
        subject: &'a str,
        /// The JSON body.
        payload: &'a [u8],
    },
    /// A message on a deliver subject this machine subscribed: a delivery, a flow-control
    /// request or an idle heartbeat.
    Delivery {
        /// The subscription (deliver subject) it arrived through.
        via: &'a str,
        /// The message's subject: the origin's subject for a delivery (a push consumer keeps
        /// it), the deliver subject for control messages.
        subject: &'a str,
        /// Its reply subject (ack reply, or the flow-control reply).
        reply: &'a str,
        /// Its header block (may be empty).
        headers: &'a [u8],
        /// Its payload.
        payload: &'a [u8],
    },
    /// The link to the origin's server went down (never sent for a local origin).
    LinkDown,
    /// The link is back.
    LinkUp,
}

/// Something the engine must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start delivering messages on this subject to [`Sourcing::handle`](super::Sourcing::handle).
    Subscribe(String),
    /// Stop delivering this subject.
    Unsubscribe(String),
    /// Send a message toward the origin (a consumer create, a flow-control reply).
    Send {
        /// Subject.
        subject: String,
        /// Reply subject, when an answer is awaited.
        reply: Option<String>,
        /// Headers (name, value), if any.
        headers: Vec<(String, String)>,
        /// Payload.
        payload: Bytes,
    },
    /// Mirror: store this message at exactly this sequence and time (the origin's).
    StoreMirrored {
        /// Sequence (the stream's last must be `seq - 1`).
        seq: u64,
        /// Origin timestamp.
        time: Nanos,
        /// Subject (after the mirror's transforms).
        subject: String,
        /// Header block, `Nats-Expected-*` and `Nats-Batch-*` removed.
        headers: Bytes,
        /// Payload.
        payload: Bytes,
        /// Pass to [`Sourcing::durable`](super::Sourcing::durable) once this is synced.
        ticket: u64,
    },
    /// Mirror: the origin has nothing at `first..=last` any more; advance past them.
    SkipMirrored {
        /// First skipped sequence.
        first: u64,
        /// Last skipped sequence.
        last: u64,
        /// Ticket, as for stores.
        ticket: u64,
    },
    /// Mirror with an empty store: the origin starts later; the next sequence is `next_seq`.
    ResetMirrorFirst {
        /// The stream's new first sequence.
        next_seq: u64,
        /// Ticket, as for stores.
        ticket: u64,
    },
    /// Source: store this message as a new message of the stream.
    StoreSourced {
        /// Subject (after the source's transforms).
        subject: String,
        /// Header block with `Nats-Stream-Source`.
        headers: Bytes,
        /// Payload.
        payload: Bytes,
        /// Ticket, as for stores.
        ticket: u64,
        /// The origin sequence (for the engine's records and errors).
        origin_seq: u64,
    },
}
