//! Tests of the stream layer, one file per rule family, all over the memory store.
//!
//! Time is a plain number: [`T0`] plus offsets, so windows and ages are exact.

mod config_json;
mod config_validate;
mod dedup;
mod get_delete;
mod info;
mod limits;
mod mirrored;
mod publish_rules;
mod purge;
mod rollup;
mod transforms;
mod ttl;
mod update;

use bytes::Bytes;

use super::{PubAck, Stream, StreamConfig};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::headers::Headers;
use crate::core::store::memory::MemoryStore;
use crate::core::store::Seq;
use crate::core::time::{Nanos, SECONDS};

/// A fixed "now" for tests: 2023-11-14T22:13:20Z.
pub(super) const T0: Nanos = 1_700_000_000 * SECONDS;

/// A stream over a fresh memory store, created at [`T0`].
pub(super) fn stream(cfg: StreamConfig) -> Stream {
    Stream::create(cfg, Box::new(MemoryStore::new()), T0).expect("config is valid")
}

/// Stream `S` on `a.>` (memory), adjusted by `f`.
pub(super) fn stream_with(f: impl FnOnce(&mut StreamConfig)) -> Stream {
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    f(&mut cfg);
    stream(cfg)
}

/// A header block with these headers.
pub(super) fn hdrs(pairs: &[(&str, &str)]) -> Bytes {
    let mut h = Headers::new();
    for (name, value) in pairs {
        h.append(name, *value);
    }
    h.encode()
}

/// Publishes `payload` on `subject` without headers at `now`, expecting success.
pub(super) fn put_at(s: &mut Stream, subject: &str, payload: &str, now: Nanos) -> Seq {
    s.publish(subject, None, Bytes::from(payload.to_string()), now, true)
        .expect("publish succeeds")
        .seq
}

/// Publishes `payload` on `subject` without headers at [`T0`], expecting success.
pub(super) fn put(s: &mut Stream, subject: &str, payload: &str) -> Seq {
    put_at(s, subject, payload, T0)
}

/// Publishes with headers at `now`.
pub(super) fn put_hdrs_at(
    s: &mut Stream,
    subject: &str,
    pairs: &[(&str, &str)],
    now: Nanos,
) -> Result<PubAck, ApiError> {
    s.publish(
        subject,
        Some(hdrs(pairs)),
        Bytes::from_static(b"x"),
        now,
        true,
    )
}

/// Publishes with headers at [`T0`].
pub(super) fn put_hdrs(
    s: &mut Stream,
    subject: &str,
    pairs: &[(&str, &str)],
) -> Result<PubAck, ApiError> {
    put_hdrs_at(s, subject, pairs, T0)
}

/// Asserts an error's kind and exact description.
#[track_caller]
pub(super) fn assert_api_err<T: std::fmt::Debug>(
    r: Result<T, ApiError>,
    kind: ErrorKind,
    text: &str,
) {
    let err = r.expect_err("an error");
    assert_eq!(
        (err.code, err.err_code, err.description.as_str()),
        (kind.code(), kind.err_code(), text),
        "{err:?}"
    );
}

/// The sequences stored, ascending.
pub(super) fn seqs(s: &Stream) -> Vec<Seq> {
    let mut out = Vec::new();
    let mut next = 0;
    while let Ok(m) = s.store().load_next_msg("", next) {
        out.push(m.seq);
        next = m.seq + 1;
    }
    out
}
