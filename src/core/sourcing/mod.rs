//! Mirrors and sources: following another stream, as nats-server does it, without I/O.
//!
//! A stream with a `mirror` is a copy of one origin stream at the origin's sequences; a stream
//! with `sources` adds the messages of several origins to its own. Either way the stream creates
//! a push consumer with flow control and heartbeats on the origin (in this engine, or behind
//! `external` / `domain` on another server) and stores what it delivers. This module decides
//! everything about that: the config and its checks ([`config`]), the consumer create request
//! ([`request`]), what arrives on the wire ([`wire`]: ack replies, control messages,
//! `Nats-Stream-Source`), and one state machine per mirror or source ([`machine`]) that the
//! engine drives with events and the time, and whose actions it carries out.
//!
//! The reference is nats-server's `server/stream.go` (`setupMirrorConsumer`,
//! `processInboundMirrorMsg`, `trySetupSourceConsumer`, `processInboundSourceMsg`,
//! `setStartingSequenceForSources`); `../shared/MIRRORS.md` summarises it.

pub mod config;
pub mod events;
pub mod hash;
pub mod machine;
pub mod request;
pub mod wire;

#[cfg(test)]
mod tests;

pub use config::{check_sourcing, ExternalStream, MirrorContext, StreamSource, StreamSourceInfo};
pub use events::{Action, Event, LocalState, Role, SourcingSetup};
pub use machine::Sourcing;
pub use wire::resume_points;
