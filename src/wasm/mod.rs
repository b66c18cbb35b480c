//! The browser shell (wasm-bindgen): the engine as a JavaScript class, persisted to IndexedDB in
//! browsers and kept in memory in Node and edge workers.
//!
//! The binding is thin on purpose. JavaScript drives [`crate::core::engine::Engine`] exactly as
//! the server does, through the NATS message surface: `handle` a message (a `$JS.API` request,
//! a publish, an ack), `flush`, then route the released messages to local inboxes. The
//! @nats-io/jetstream-shaped API (`pkg/index.js`) is written on top of that in JavaScript.

mod digest;
pub mod engine;
mod engine_links;
pub mod error;
pub mod idb;
mod link;
mod partial;
pub mod released;

#[cfg(test)]
mod tests;
