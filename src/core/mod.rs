//! The sans-IO core: everything JetStream means, with no sockets, files, clocks or runtimes.
//!
//! It builds for `wasm32-unknown-unknown` and native alike. Time comes in as `now` (see [`time`]),
//! storage through the [`store::StreamStore`] trait, and outgoing messages leave as values the
//! caller delivers.
//!
//! A shell holds a [`front::JetStream`]: the front serves `$JS.API` requests ([`api`]: routes,
//! JSON, API statistics) with the typed methods of the [`engine::Engine`] it owns, and hands
//! every other message to the engine, which knows nothing of the API's JSON.

pub mod api;
pub mod consumer;
pub mod duration;
pub mod engine;
pub mod error;
pub mod front;
pub mod headers;
pub mod link;
pub mod message;
pub mod proto;
pub mod rand;
pub mod sourcing;
pub mod store;
pub mod stream;
pub mod subject;
pub mod subject_index;
pub mod sync;
pub mod time;
pub mod transform;
