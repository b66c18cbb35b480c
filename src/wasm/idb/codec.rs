//! The bytes IndexedDB holds for a stream: packed message segments, the store's sequence state
//! and consumer records.
//!
//! A segment packs many messages into one IndexedDB value, because IndexedDB pays per record
//! (~150 µs of CPU each in Chromium), not per byte. Every decoder checks lengths and returns
//! [`StoreError::Corrupt`] on anything malformed: stored records are outside input.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::core::store::{
    ConsumerRecord, ConsumerState, PendingAck, Seq, SequencePair, StoreError, StoredMsg,
};
use crate::core::time::Nanos;

/// First bytes of every segment: format name and version.
const SEGMENT_MAGIC: &[u8; 4] = b"CSG1";
/// Header-length value meaning "no header block" (distinct from an empty one).
const NO_HEADERS: u32 = u32::MAX;

/// Packs messages (ascending by sequence) into one segment value.
pub fn encode_segment<'a>(msgs: impl IntoIterator<Item = &'a StoredMsg>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(SEGMENT_MAGIC);
    for m in msgs {
        out.extend_from_slice(&m.seq.to_le_bytes());
        out.extend_from_slice(&m.time.to_le_bytes());
        put_bytes(&mut out, m.subject.as_bytes());
        match &m.headers {
            Some(h) => put_bytes(&mut out, h),
            None => out.extend_from_slice(&NO_HEADERS.to_le_bytes()),
        }
        put_bytes(&mut out, &m.payload);
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Message parts are bounded by max_payload (far below 4 GiB), so the length fits.
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Unpacks a segment into its messages, in stored order.
pub fn decode_segment(bytes: &[u8]) -> Result<Vec<StoredMsg>, StoreError> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(4)? != SEGMENT_MAGIC {
        return Err(corrupt("segment has no CSG1 magic"));
    }
    let mut msgs = Vec::new();
    while r.pos < bytes.len() {
        let seq = u64::from_le_bytes(r.array()?);
        let time = i64::from_le_bytes(r.array()?);
        let subject = std::str::from_utf8(r.sized()?)
            .map_err(|_| corrupt("subject is not UTF-8"))?
            .to_string();
        let hlen = u32::from_le_bytes(r.array()?);
        let headers = if hlen == NO_HEADERS {
            None
        } else {
            Some(Bytes::copy_from_slice(r.take(hlen as usize)?))
        };
        let payload = Bytes::copy_from_slice(r.sized()?);
        if msgs.last().is_some_and(|m: &StoredMsg| m.seq >= seq) {
            return Err(corrupt("segment sequences are not ascending"));
        }
        msgs.push(StoredMsg {
            subject,
            seq,
            time,
            headers,
            payload,
        });
    }
    Ok(msgs)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| corrupt("segment is truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn sized(&mut self) -> Result<&'a [u8], StoreError> {
        let n = u32::from_le_bytes(self.array()?);
        self.take(n as usize)
    }
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(why.to_string())
}

/// The sequence state a reopened store cannot derive from its messages alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqState {
    /// First sequence (next to be assigned when empty).
    pub first_seq: Seq,
    /// Highest sequence assigned.
    pub last_seq: Seq,
    /// Time of the last store (kept after that message is removed).
    pub last_ts: Nanos,
}

/// A stream's config and creation time, as the shell keeps them to restore it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamMeta {
    /// The stream's config as JSON (`StreamConfig`).
    pub config: serde_json::Value,
    /// When the stream was created.
    pub created: Nanos,
}

/// Serializes a JSON record to bytes (kept as bytes so i64 nanoseconds survive JavaScript).
pub fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain data structs with string keys always serialize.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Parses a JSON record, or says it is corrupt.
pub fn decode_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A consumer record as stored: the config as text, the state as plain lists.
#[derive(Debug, Serialize, Deserialize)]
struct StoredConsumer {
    config: String,
    created: Nanos,
    delivered: (u64, Seq),
    ack_floor: (u64, Seq),
    /// `(stream seq, consumer seq, delivered at)`.
    pending: Vec<(Seq, u64, Nanos)>,
    redelivered: Vec<(Seq, u64)>,
}

/// Serializes a consumer record.
pub fn encode_consumer(r: &ConsumerRecord) -> Vec<u8> {
    let s = &r.state;
    encode_json(&StoredConsumer {
        config: String::from_utf8_lossy(&r.config).into_owned(),
        created: r.created,
        delivered: (s.delivered.consumer_seq, s.delivered.stream_seq),
        ack_floor: (s.ack_floor.consumer_seq, s.ack_floor.stream_seq),
        pending: s
            .pending
            .iter()
            .map(|(seq, p)| (*seq, p.consumer_seq, p.timestamp))
            .collect(),
        redelivered: s.redelivered.iter().map(|(k, v)| (*k, *v)).collect(),
    })
}

/// Parses a consumer record.
pub fn decode_consumer(bytes: &[u8]) -> Result<ConsumerRecord, StoreError> {
    let c: StoredConsumer = decode_json(bytes)?;
    let pair = |(consumer_seq, stream_seq)| SequencePair {
        consumer_seq,
        stream_seq,
    };
    Ok(ConsumerRecord {
        config: c.config.into_bytes(),
        created: c.created,
        state: ConsumerState {
            delivered: pair(c.delivered),
            ack_floor: pair(c.ack_floor),
            pending: c
                .pending
                .into_iter()
                .map(|(seq, consumer_seq, timestamp)| {
                    (
                        seq,
                        PendingAck {
                            consumer_seq,
                            timestamp,
                        },
                    )
                })
                .collect(),
            redelivered: c.redelivered.into_iter().collect::<BTreeMap<_, _>>(),
        },
    })
}
