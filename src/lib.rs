//! Contrail: a NATS JetStream-compatible stream and consumer engine, written once in Rust.
//!
//! # A tour
//! - [`core`] is the engine, sans-IO: it builds for the browser (wasm32) and the server alike.
//!   - [`core::subject`] validates and matches subjects; [`core::subject_index`] finds the filters
//!     matching a subject in time proportional to its tokens.
//!   - [`core::store`] is the storage trait (after nats-server's `StreamStore`) and the memory store.
//!   - [`core::stream`] applies a stream's config to publishes: dedup, expected-* headers, rollups,
//!     limits and discard policies, purge, get and delete.
//!   - [`core::consumer`] is a cursor over a stream: deliver policies, acks, redelivery, pull
//!     requests and push delivery, all driven by the `now` the caller passes.
//!   - [`core::engine`] holds an account's streams and consumers behind one sans-IO surface of
//!     typed methods: messages in (`handle`), group commit (`flush`), messages out
//!     (`poll_outbound`), timers (`poll_timeout` / `handle_timeout`); it routes publishes and
//!     acks and applies retention. It knows no `$JS.API` JSON.
//!   - [`core::front`] is what shells hold: [`core::front::JetStream`] owns the engine and the
//!     API statistics, serves `$JS.API.*` requests with [`core::api`] (route, JSON in, the
//!     engine's typed methods, nats-server's exact replies out) and hands every other message to
//!     the engine.
//!   - [`core::proto`] is the NATS client protocol codec: an incremental parser and an encoder.
//!   - [`core::headers`], [`core::message`], [`core::time`] and [`core::error`] are the shared
//!     vocabulary.
//! - `wasm` (built for wasm32 only) is the browser shell: the JS binding of the engine and the
//!   IndexedDB store, packaged as the `contrail` npm package in `pkg/`.
//! - [`server`] is the native shell (not built for wasm32): [`server::file_store`] keeps streams in
//!   append-only segment files, crash-safe at every sync.

pub mod core;
#[cfg(not(target_arch = "wasm32"))]
pub mod server;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The README's Rust examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
