//! The stream's subject transforms: `subject_transform` rewrites the subject a message is
//! stored under, and `republish` sends a copy of every stored message to another subject, as
//! nats-server's `processJetStreamMsg` does.
//!
//! A republished copy carries the message's headers followed by `Nats-Stream`, `Nats-Subject`
//! (the stored subject), `Nats-Sequence`, `Nats-Time-Stamp` and `Nats-Last-Sequence` (the
//! previous message on the same subject, 0 when none, so a light client can spot gaps); with
//! `headers_only` the payload is left out and `Nats-Msg-Size` gives its length. The engine queues
//! the copy with the publish's PubAck, so it leaves only once the message is durable.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Stream, StreamConfig};
use crate::core::headers::{
    NATS_LAST_SEQUENCE, NATS_MSG_SIZE, NATS_SEQUENCE, NATS_STREAM, NATS_SUBJECT, NATS_TIME_STAMP,
};
use crate::core::message::Outbound;
use crate::core::store::Seq;
use crate::core::time::{format_rfc3339, Nanos};
use crate::core::transform::SubjectTransform;

/// The compiled transforms of one config.
#[derive(Debug, Default)]
pub(super) struct Transforms {
    input: Option<SubjectTransform>,
    republish: Option<SubjectTransform>,
    headers_only: bool,
    /// State of the generator `{{random(n)}}` draws from (xorshift; the core reads no entropy).
    rng: u64,
}

impl Transforms {
    /// Compiles the transforms of a validated config (which checked that they compile).
    pub(super) fn of(config: &StreamConfig, seed: u64) -> Transforms {
        let compile = |src: &str, dest: &str| SubjectTransform::new(src, dest).ok().flatten();
        Transforms {
            input: config
                .subject_transform
                .as_ref()
                .and_then(|t| compile(&t.src, &t.dest)),
            republish: config
                .republish
                .as_ref()
                .and_then(|r| compile(&r.src, &r.dest)),
            headers_only: config.republish.as_ref().is_some_and(|r| r.headers_only),
            rng: seed | 1,
        }
    }
}

/// The next value of a xorshift64* generator.
fn next_random(state: &mut u64) -> u32 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
}

/// What a publish needs to republish once stored.
pub(super) struct Pending {
    dest: String,
    /// The previous message on the stored subject (0: none).
    last_seq: Seq,
}

impl Stream {
    /// The subject a message published on `subject` is stored under: rewritten by the stream's
    /// `subject_transform` when it matches the transform's source, unchanged otherwise.
    pub fn stored_subject<'a>(&mut self, subject: &'a str) -> Cow<'a, str> {
        let Transforms {
            input: Some(input),
            rng,
            ..
        } = &mut self.transforms
        else {
            return Cow::Borrowed(subject);
        };
        match input.apply(subject, &mut || next_random(rng)) {
            Some(rewritten) => Cow::Owned(rewritten),
            None => Cow::Borrowed(subject),
        }
    }

    /// Before storing on `subject`: where its copy goes, if it is republished. A destination
    /// that is no valid publish subject suppresses the copy, as in nats-server.
    pub(super) fn prepare_republish(&mut self, subject: &str) -> Option<Pending> {
        let Transforms {
            republish: Some(transform),
            rng,
            ..
        } = &mut self.transforms
        else {
            return None;
        };
        let dest = transform.apply(subject, &mut || next_random(rng))?;
        if crate::core::subject::validate_subject(&dest).is_err() {
            return None;
        }
        let last_seq = self.store.load_last_msg(subject).map_or(0, |m| m.seq);
        Some(Pending { dest, last_seq })
    }

    /// After storing: queues the copy for [`Stream::take_republished`].
    pub(super) fn republish(
        &mut self,
        pending: Pending,
        subject: &str,
        seq: Seq,
        time: Nanos,
        headers: Option<&[u8]>,
        payload: &Bytes,
    ) {
        let mut block = BytesMut::with_capacity(160 + headers.map_or(0, <[u8]>::len));
        match headers {
            // The message's own headers, then ours before the final blank line.
            Some(h) if h.ends_with(b"\r\n\r\n") => block.put_slice(&h[..h.len() - 2]),
            Some(h) if h.ends_with(b"\r\n") => block.put_slice(h),
            _ => block.put_slice(b"NATS/1.0\r\n"),
        }
        let mut line = |name: &str, value: &str| {
            block.put_slice(name.as_bytes());
            block.put_slice(b": ");
            block.put_slice(value.as_bytes());
            block.put_slice(b"\r\n");
        };
        line(NATS_STREAM, &self.config.name);
        line(NATS_SUBJECT, subject);
        line(NATS_SEQUENCE, &seq.to_string());
        line(NATS_TIME_STAMP, &format_rfc3339(time));
        line(NATS_LAST_SEQUENCE, &pending.last_seq.to_string());
        let body = if self.transforms.headers_only {
            line(NATS_MSG_SIZE, &payload.len().to_string());
            Bytes::new()
        } else {
            payload.clone()
        };
        block.put_slice(b"\r\n");
        self.republished = Some(Outbound::to_subject(
            pending.dest,
            Some(block.freeze()),
            body,
        ));
    }

    /// The republished copy of the message just stored, if any (the engine sends it).
    pub fn take_republished(&mut self) -> Option<Outbound> {
        self.republished.take()
    }

    /// Recompiles the transforms after a config change.
    pub(super) fn compile_transforms(&mut self) {
        let seed = self.transforms.rng;
        self.transforms = Transforms::of(&self.config, seed);
    }
}
