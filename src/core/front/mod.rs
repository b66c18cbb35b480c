//! The JetStream front: what a shell holds. It owns the [`Engine`] and the API statistics,
//! serves `$JS.API.…` requests (route, JSON, counts) with the engine's typed methods, and hands
//! every other message (acks, flow-control replies, publishes, replies on the engine's inbox) to
//! the engine, as quinn-proto's endpoint routes datagrams to the connections it owns.
//!
//! Like the engine it is sans-IO and deterministic: no clock, no randomness of its own. A shell
//! drives it as the engine's module docs say, with [`JetStream::handle`] and
//! [`JetStream::handle_subscribed`] in place of the engine's, and reaches everything else (flush,
//! polls, timers, links, typed calls) through [`JetStream::engine_mut`].
//!
//! The engine's own requests to its own API (a mirror, source or upload whose origin is a stream
//! of the same engine) leave it as local messages; the shell routes them to local subscribers,
//! the engine's standing `$JS.API.>` subscription among them, and so hands them back here, where
//! they are served and counted like any client's.
//!
//! [`journal`] keeps the inputs since the last commit for the browser shell, which replays them
//! into a front rebuilt from the database after a failed commit.

pub mod journal;

pub use crate::core::api::ApiStats;

use bytes::Bytes;

use crate::core::api::route::Route;
use crate::core::api::{self, API_PREFIX};
use crate::core::engine::{Engine, SubId};
use crate::core::error::ApiError;
use crate::core::message::Message;
use crate::core::stream::PubAck;
use crate::core::time::Nanos;

/// The JetStream front of one account: its engine and the `$JS.API` layer on top.
pub struct JetStream {
    engine: Engine,
    /// Requests served and answered with an error (`$JS.API.INFO`, `/jsz`).
    api_stats: ApiStats,
}

impl JetStream {
    /// The front of `engine`, with no request counted yet.
    pub fn new(engine: Engine) -> JetStream {
        JetStream {
            engine,
            api_stats: ApiStats::default(),
        }
    }

    /// The front of an engine whose streams all live in memory ([`Engine::in_memory`]).
    pub fn in_memory(seed: u64) -> JetStream {
        JetStream::new(Engine::in_memory(seed))
    }

    /// The engine, to read.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to drive (flush, polls, timers, links) and to call typed methods on.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The engine, without its front (for a caller that speaks no JSON from here on).
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// API requests served and answered with an error so far (`$JS.API.INFO`, `/jsz`).
    pub fn api_stats(&self) -> ApiStats {
        self.api_stats
    }

    /// Takes in a message published locally (by a client, or by the engine itself to a subject
    /// it subscribed). Returns `true` when JetStream handled it (an API request, an ack, a
    /// flow-control reply, a reply to the engine's own request, or a publish a stream
    /// captured); the shell still delivers the message to ordinary subscribers either way, and
    /// answers a request that nothing handled with "no responders".
    pub fn handle(&mut self, msg: Message, now: Nanos) -> bool {
        let Some(op) = msg.subject.strip_prefix(API_PREFIX) else {
            return self.engine.handle(msg, now);
        };
        let route = Route::parse(op);
        self.engine
            .begin_request(api::reply_rule(route.as_ref()), now);
        let handled = match route {
            Some(route) => api::dispatch(&mut self.engine, &mut self.api_stats, route, msg, now),
            None => false,
        };
        self.engine.end_request();
        handled
    }

    /// Takes a message delivered for engine subscription `sid` (see
    /// [`Engine::handle_subscribed`]): one on a standing subscription is handled as if
    /// published locally ([`JetStream::handle`]), so an engine's request to its own API,
    /// routed back by the shell, is served here.
    pub fn handle_subscribed(&mut self, sid: SubId, msg: Message, now: Nanos) -> bool {
        if self.engine.is_standing_subscription(sid) {
            return self.handle(msg, now);
        }
        self.engine.handle_subscribed(sid, msg, now)
    }

    /// Hands a publish a shell held back (a ticketed one the browser deferred while its engine
    /// was partial, or journaled before a failed commit) to the engine again. A stream deleted
    /// by an input before it leaves it uncaptured: that is answered 503, as nothing captures it.
    pub fn replay_publish(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Result<PubAck, ApiError> {
        self.engine
            .publish(subject, headers, payload, now)
            .unwrap_or_else(|| Err(no_stream()))
    }
}

/// The outcome of a replayed publish whose stream is gone (deleted by an input before it): what
/// a publish nothing captures gets, as an API error.
fn no_stream() -> ApiError {
    ApiError {
        code: 503,
        err_code: 0,
        description: "no responders: no stream captures the subject".into(),
    }
}

#[cfg(test)]
mod tests;
