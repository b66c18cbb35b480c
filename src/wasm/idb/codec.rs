//! The bytes IndexedDB holds for a stream: packed message segments, the store's sequence state
//! and consumer records.
//!
//! A segment packs many messages into one IndexedDB value, because IndexedDB pays per record
//! (~150 µs of CPU each in Chromium) and reads large values several times faster per byte than
//! small ones. A segment names its stream and key inside, so opening needs no `getAllKeys`.
//! Every decoder checks lengths and returns [`StoreError::Corrupt`] on anything malformed:
//! stored records are outside input.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::core::store::memory::MsgRef;
use crate::core::store::{
    ConsumerRecord, ConsumerState, PendingAck, Seq, SequencePair, StoreError, StoredMsg,
};
use crate::core::time::Nanos;

/// First bytes of every segment: format name and version.
const SEGMENT_MAGIC: &[u8; 4] = b"CSG2";

/// Builds one segment value.
///
/// Layout: the magic, the stream name (varint length + bytes) and the segment's key sequence (8
/// bytes, little-endian), so a value read back by a bare `getAll` says where it belongs; then
/// each message as varints (LEB128), each relative to the one before so that a typical message
/// costs ~8 bytes besides its payload (fixed-width fields cost ~31):
/// - sequence gap: `seq - expected`, expected being the key for the first message, then the
///   previous sequence + 1;
/// - time: zigzag of `time - previous time` (the first relative to 0);
/// - subject: the index of an earlier message's subject in this segment, or the number of
///   distinct subjects so far followed by a new one (varint length + bytes);
/// - headers: 0 when absent, else length + 1 then the bytes;
/// - payload: length, then the bytes.
pub struct SegmentWriter {
    out: Vec<u8>,
    msgs: u32,
    expected: Seq,
    time: Nanos,
    subjects: HashMap<String, u64>,
    /// The previous message's subject and its index: runs of one subject skip the hash.
    last_subject: Option<(String, u64)>,
}

impl SegmentWriter {
    /// An empty segment of `stream` keyed by `start` (at or below its first message's sequence).
    pub fn new(stream: &str, start: Seq) -> SegmentWriter {
        SegmentWriter::with_capacity(stream, start, 4096)
    }

    /// [`SegmentWriter::new`] with room for `bytes` before it grows.
    pub fn with_capacity(stream: &str, start: Seq, bytes: usize) -> SegmentWriter {
        let mut out = Vec::with_capacity(bytes);
        out.extend_from_slice(SEGMENT_MAGIC);
        put_bytes(&mut out, stream.as_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        SegmentWriter {
            out,
            msgs: 0,
            expected: start,
            time: 0,
            subjects: HashMap::new(),
            last_subject: None,
        }
    }

    /// Appends a message; its sequence must be at or above the key and above the last one.
    pub fn push(&mut self, m: &StoredMsg) {
        self.push_ref(MsgRef {
            seq: m.seq,
            subject: &m.subject,
            time: m.time,
            headers: m.headers.as_ref(),
            payload: &m.payload,
        });
    }

    /// [`SegmentWriter::push`] of a borrowed message.
    pub fn push_ref(&mut self, m: MsgRef<'_>) {
        let out = &mut self.out;
        put_varint(out, m.seq.saturating_sub(self.expected));
        self.expected = m.seq.saturating_add(1);
        put_varint(out, zigzag(m.time.wrapping_sub(self.time)));
        self.time = m.time;
        match &self.last_subject {
            Some((subject, index)) if subject == m.subject => put_varint(out, *index),
            _ => {
                let next = self.subjects.len() as u64;
                let index = match self.subjects.get(m.subject) {
                    Some(&index) => index,
                    None => {
                        self.subjects.insert(m.subject.to_string(), next);
                        next
                    }
                };
                put_varint(out, index);
                if index == next {
                    put_bytes(out, m.subject.as_bytes());
                }
                self.last_subject = Some((m.subject.to_string(), index));
            }
        }
        match m.headers {
            Some(h) => {
                put_varint(out, h.len() as u64 + 1);
                out.extend_from_slice(h);
            }
            None => put_varint(out, 0),
        }
        put_bytes(out, m.payload);
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

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
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
            expected: Some(self.start),
            time: 0,
            subjects: Vec::new(),
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
    /// The lowest sequence the next message may have (`None`: past `u64::MAX`).
    expected: Option<Seq>,
    time: Nanos,
    subjects: Vec<&'a str>,
}

impl<'a> SegmentMessages<'a> {
    fn read(&mut self) -> Result<SegmentMsg<'a>, StoreError> {
        let all: &'a Bytes = &self.segment.bytes;
        let mut r = Reader {
            bytes: all,
            pos: self.pos,
        };
        let seq = self
            .expected
            .and_then(|e| e.checked_add(r.varint().ok()?))
            .ok_or_else(|| corrupt("segment sequence out of range"))?;
        let time = self.time.wrapping_add(unzigzag(r.varint()?));
        let index = r.varint()?;
        let subject = match self.subjects.get(index as usize) {
            Some(subject) => *subject,
            None if index == self.subjects.len() as u64 => {
                let subject =
                    std::str::from_utf8(r.sized()?).map_err(|_| corrupt("subject is not UTF-8"))?;
                self.subjects.push(subject);
                subject
            }
            None => return Err(corrupt("segment refers to an unknown subject")),
        };
        let headers = match r.varint()? {
            0 => None,
            n => Some(r.slice(all, n - 1)?),
        };
        let payload = {
            let n = r.varint()?;
            r.slice(all, n)?
        };
        self.pos = r.pos;
        self.expected = seq.checked_add(1);
        self.time = time;
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

    /// The next `n` bytes as a slice of `all` (the buffer this reader reads).
    fn slice(&mut self, all: &Bytes, n: u64) -> Result<Bytes, StoreError> {
        let at = self.pos;
        self.take(usize::try_from(n).map_err(|_| corrupt("segment is truncated"))?)?;
        Ok(all.slice(at..self.pos))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if shift == 63 && byte > 1 {
                    break;
                }
                return Ok(v);
            }
        }
        Err(corrupt("varint is too long"))
    }

    fn sized(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| corrupt("segment is truncated"))?)
    }
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(why.to_string())
}

/// The sequence state a reopened store cannot derive from its messages alone. Not rewritten by
/// appends: a stored message above `last_seq` supersedes `last_seq` and `last_ts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqState {
    /// First sequence (next to be assigned when empty).
    pub first_seq: Seq,
    /// Highest sequence assigned.
    pub last_seq: Seq,
    /// Time of the last store (kept after that message is removed).
    pub last_ts: Nanos,
    /// Messages removed from the middle of segments that still hold them (tombstones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dead: Vec<Seq>,
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
