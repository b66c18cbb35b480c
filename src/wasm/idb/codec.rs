//! The bytes IndexedDB holds for a stream: packed message segments, the store's sequence state
//! and consumer records.
//!
//! A segment packs many messages into one IndexedDB value, because IndexedDB pays per record
//! (~150 µs of CPU each in Chromium) and reads large values several times faster per byte than
//! small ones. A segment names its stream and key inside, so opening needs no `getAllKeys`.
//! Every decoder checks lengths and returns [`StoreError::Corrupt`] on anything malformed:
//! stored records are outside input.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::core::store::{
    ConsumerRecord, ConsumerState, PendingAck, Seq, SequencePair, StoreError, StoredMsg,
};
use crate::core::time::Nanos;

/// First bytes of every segment: format name and version.
const SEGMENT_MAGIC: &[u8; 4] = b"CSG2";
/// Header-length value meaning "no header block" (distinct from an empty one).
const NO_HEADERS: u32 = u32::MAX;

/// Builds one segment value.
///
/// Layout: the magic, the stream name (u32 length + bytes) and the segment's key sequence, so a
/// value read back by a bare `getAll` says where it belongs; then each message as sequence (u64),
/// time (i64), subject, headers (length `u32::MAX` when absent) and payload, lengths as
/// little-endian u32s. Messages are pushed in ascending sequence order.
pub struct SegmentWriter {
    out: Vec<u8>,
    msgs: u32,
}

impl SegmentWriter {
    /// An empty segment of `stream` keyed by `start` (at or below its first message's sequence).
    pub fn new(stream: &str, start: Seq) -> SegmentWriter {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(SEGMENT_MAGIC);
        put_bytes(&mut out, stream.as_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        SegmentWriter { out, msgs: 0 }
    }

    /// Appends a message.
    pub fn push(&mut self, m: &StoredMsg) {
        let out = &mut self.out;
        out.extend_from_slice(&m.seq.to_le_bytes());
        out.extend_from_slice(&m.time.to_le_bytes());
        put_bytes(out, m.subject.as_bytes());
        match &m.headers {
            Some(h) => put_bytes(out, h),
            None => out.extend_from_slice(&NO_HEADERS.to_le_bytes()),
        }
        put_bytes(out, &m.payload);
        self.msgs += 1;
    }

    /// Messages pushed.
    pub fn msgs(&self) -> u32 {
        self.msgs
    }

    /// Encoded size so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True when no message was pushed.
    pub fn is_empty(&self) -> bool {
        self.msgs == 0
    }

    /// The encoded value.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// Packs messages (ascending by sequence) into one segment value of `stream` keyed `start`.
pub fn encode_segment<'a>(
    stream: &str,
    start: Seq,
    msgs: impl IntoIterator<Item = &'a StoredMsg>,
) -> Vec<u8> {
    let mut w = SegmentWriter::new(stream, start);
    for m in msgs {
        w.push(m);
    }
    w.finish()
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Message parts are bounded by max_payload (far below 4 GiB), so the length fits.
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// A segment value as read back: its header, and its messages decoded on demand as slices of
/// the one buffer (no copy per message).
#[derive(Debug, Clone)]
pub struct Segment {
    /// The stream it belongs to.
    pub stream: String,
    /// Its key's sequence: it holds sequences from here up to the next segment's key.
    pub start: Seq,
    bytes: Bytes,
    body: usize,
}

/// Reads a segment's header; its messages are checked as [`Segment::messages`] walks them.
pub fn decode_segment(bytes: Bytes) -> Result<Segment, StoreError> {
    let mut r = Reader {
        bytes: &bytes,
        pos: 0,
    };
    if r.take(4)? != SEGMENT_MAGIC {
        return Err(corrupt("segment has no CSG2 magic"));
    }
    let stream = std::str::from_utf8(r.sized()?)
        .map_err(|_| corrupt("segment stream name is not UTF-8"))?
        .to_string();
    let start = u64::from_le_bytes(r.array()?);
    let body = r.pos;
    Ok(Segment {
        stream,
        start,
        bytes,
        body,
    })
}

impl Segment {
    /// Encoded size of the whole value.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when the segment holds no message.
    pub fn is_empty(&self) -> bool {
        self.body == self.bytes.len()
    }

    /// The messages in stored order; stops after the first error.
    pub fn messages(&self) -> SegmentMessages<'_> {
        SegmentMessages {
            segment: self,
            pos: self.body,
            last: None,
        }
    }
}

/// One message of a [`Segment`]; headers and payload share the segment's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMsg<'a> {
    /// Stream sequence.
    pub seq: Seq,
    /// When it was stored.
    pub time: Nanos,
    /// Its subject.
    pub subject: &'a str,
    /// Header block, if any.
    pub headers: Option<Bytes>,
    /// Payload.
    pub payload: Bytes,
}

impl SegmentMsg<'_> {
    /// The message as the store API returns it.
    pub fn to_stored(&self) -> StoredMsg {
        StoredMsg {
            subject: self.subject.to_string(),
            seq: self.seq,
            time: self.time,
            headers: self.headers.clone(),
            payload: self.payload.clone(),
        }
    }
}

/// Iterator over a segment's messages (see [`Segment::messages`]).
pub struct SegmentMessages<'a> {
    segment: &'a Segment,
    pos: usize,
    last: Option<Seq>,
}

impl<'a> SegmentMessages<'a> {
    fn read(&mut self) -> Result<SegmentMsg<'a>, StoreError> {
        let all: &'a Bytes = &self.segment.bytes;
        let mut r = Reader {
            bytes: all,
            pos: self.pos,
        };
        let seq = u64::from_le_bytes(r.array()?);
        let time = i64::from_le_bytes(r.array()?);
        let subject =
            std::str::from_utf8(r.sized()?).map_err(|_| corrupt("subject is not UTF-8"))?;
        let hlen = u32::from_le_bytes(r.array()?);
        let headers = if hlen == NO_HEADERS {
            None
        } else {
            let at = r.pos;
            r.take(hlen as usize)?;
            Some(all.slice(at..r.pos))
        };
        let plen = u32::from_le_bytes(r.array()?) as usize;
        let at = r.pos;
        r.take(plen)?;
        let payload = all.slice(at..r.pos);
        if seq < self.segment.start || self.last.is_some_and(|last| last >= seq) {
            return Err(corrupt("segment sequences are not ascending from its key"));
        }
        self.pos = r.pos;
        self.last = Some(seq);
        Ok(SegmentMsg {
            seq,
            time,
            subject,
            headers,
            payload,
        })
    }
}

impl<'a> Iterator for SegmentMessages<'a> {
    type Item = Result<SegmentMsg<'a>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.segment.bytes.len() {
            return None;
        }
        let item = self.read();
        if item.is_err() {
            self.pos = self.segment.bytes.len();
        }
        Some(item)
    }
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
