//! Sync between a local engine and a server: the "up" half (uploads) for now.
//!
//! - [`upload`]: one local stream's messages published to a remote stream, exactly once: a
//!   `Nats-Msg-Id` of `<origin>:<stream>:<seq>`, a window of outstanding publishes, a cursor
//!   that advances only on a PubAck, and a restart from the cursor after any failure. The
//!   engine hosts uploaders like it hosts its own requests (`engine/uploads.rs`).
//! - [`origin`]: the `Contrail-Origin-Seq` header an upload carries, which a Contrail server's
//!   stream reads to keep each origin's high-water mark, so a repeat is a duplicate after the
//!   duplicate window too.

pub mod origin;
pub mod upload;

#[cfg(test)]
mod upload_tests;
