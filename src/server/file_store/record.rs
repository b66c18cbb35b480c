//! The on-disk record format of segment files: framing, encoding, decoding and checksums.
//!
//! Every record is framed the same way, little-endian:
//!
//! ```text
//! u32 len    total record length, this field and the checksum included
//! u8  kind   1 = message, 2 = delete (tombstone), 3 = meta (sequence bounds)
//! ..  body   depends on kind
//! u32 crc    CRC-32 of every byte before it
//! ```
//!
//! - message: `u64 seq, i64 time, u8 flags (bit 0: has headers), u16 subject_len, u32 headers_len`,
//!   then subject, headers and payload bytes (the payload is what is left).
//! - delete: `u64 seq`, the message with that sequence is gone.
//! - meta: `u64 first_seq, u64 last_seq, i64 last_ts`: every message below `first_seq` is gone and
//!   sequences up to `last_seq` were handed out (skips, compactions, the state a segment starts in).
//!
//! Decoding treats its input as hostile: every length is checked against the bytes actually there
//! before anything is sliced or allocated.

use thiserror::Error;

use crate::core::store::Seq;
use crate::core::time::Nanos;

/// Bytes of the length field.
pub(crate) const LEN_BYTES: usize = 4;
/// Bytes of framing around every body: length, kind, checksum.
const FRAME: usize = LEN_BYTES + 1 + 4;
/// Fixed part of a message body before its variable bytes.
const MSG_FIXED: usize = 8 + 8 + 1 + 2 + 4;
/// Framed size of a delete record.
pub(crate) const DELETE_LEN: usize = FRAME + 8;
/// Framed size of a meta record.
pub(crate) const META_LEN: usize = FRAME + 24;
/// Smallest record there is (a delete).
pub(crate) const MIN_RECORD: usize = DELETE_LEN;
/// Largest record accepted when writing or reading; bounds what a corrupt length can make us read.
pub(crate) const MAX_RECORD: usize = 256 << 20;

const KIND_MSG: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_META: u8 = 3;
const FLAG_HEADERS: u8 = 1;

/// Why bytes are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum RecordError {
    /// The length field is below the smallest or above the largest record.
    #[error("record length {0} out of range")]
    BadLength(u64),
    /// Fewer bytes are there than the length field announces.
    #[error("record cut short")]
    Truncated,
    /// The checksum does not match the bytes.
    #[error("checksum mismatch")]
    Checksum,
    /// The kind byte is not one this format knows.
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    /// The body's own lengths do not fit the record, or the subject is not UTF-8.
    #[error("malformed record body")]
    Malformed,
}

/// A message as it sits in a record, borrowing the record's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MsgRef<'a> {
    pub seq: Seq,
    pub time: Nanos,
    pub subject: &'a str,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

impl MsgRef<'_> {
    /// The bytes this message counts for, as [`crate::core::store::record_size`] computes them.
    pub fn size(&self) -> u32 {
        (self.subject.len() + self.headers.map_or(0, <[u8]>::len) + self.payload.len() + 16) as u32
    }
}

/// Sequence bounds carried by a meta record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Every message below this sequence is gone.
    pub first_seq: Seq,
    /// Sequences up to this one were handed out.
    pub last_seq: Seq,
    /// Time of `last_seq`.
    pub last_ts: Nanos,
}

/// One decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    /// A stored message.
    Msg(MsgRef<'a>),
    /// A tombstone: the message with this sequence was removed.
    Delete(Seq),
    /// Sequence bounds.
    Meta(Meta),
}

/// Framed size of a message record.
pub(crate) fn msg_len(subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> usize {
    FRAME + MSG_FIXED + subject.len() + headers.map_or(0, <[u8]>::len) + payload.len()
}

/// Appends a message record to `out`. The caller has checked the lengths fit (see [`msg_len`],
/// [`MAX_RECORD`], and a subject under 64 KiB).
pub(crate) fn encode_msg(out: &mut Vec<u8>, msg: &MsgRef<'_>) {
    let len = msg_len(msg.subject, msg.headers, msg.payload);
    let start = out.len();
    out.reserve(len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(KIND_MSG);
    out.extend_from_slice(&msg.seq.to_le_bytes());
    out.extend_from_slice(&msg.time.to_le_bytes());
    out.push(if msg.headers.is_some() {
        FLAG_HEADERS
    } else {
        0
    });
    out.extend_from_slice(&(msg.subject.len() as u16).to_le_bytes());
    out.extend_from_slice(&(msg.headers.map_or(0, <[u8]>::len) as u32).to_le_bytes());
    out.extend_from_slice(msg.subject.as_bytes());
    out.extend_from_slice(msg.headers.unwrap_or_default());
    out.extend_from_slice(msg.payload);
    seal(out, start);
}

/// Appends a delete record to `out`.
pub(crate) fn encode_delete(out: &mut Vec<u8>, seq: Seq) {
    let start = out.len();
    out.extend_from_slice(&(DELETE_LEN as u32).to_le_bytes());
    out.push(KIND_DELETE);
    out.extend_from_slice(&seq.to_le_bytes());
    seal(out, start);
}

/// Appends a meta record to `out`.
pub(crate) fn encode_meta(out: &mut Vec<u8>, meta: &Meta) {
    let start = out.len();
    out.extend_from_slice(&(META_LEN as u32).to_le_bytes());
    out.push(KIND_META);
    out.extend_from_slice(&meta.first_seq.to_le_bytes());
    out.extend_from_slice(&meta.last_seq.to_le_bytes());
    out.extend_from_slice(&meta.last_ts.to_le_bytes());
    seal(out, start);
}

fn seal(out: &mut Vec<u8>, start: usize) {
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Reads and range-checks the length field at the start of `bytes` (which must hold at least
/// [`LEN_BYTES`]).
pub(crate) fn frame_len(bytes: &[u8]) -> Result<usize, RecordError> {
    let len = u32_at(bytes, 0).ok_or(RecordError::Truncated)? as usize;
    if !(MIN_RECORD..=MAX_RECORD).contains(&len) {
        return Err(RecordError::BadLength(len as u64));
    }
    Ok(len)
}

/// Decodes the record at the start of `bytes`, which may run on past it. Returns the record and
/// its framed length.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Record<'_>, usize), RecordError> {
    let len = frame_len(bytes)?;
    let rec = bytes.get(..len).ok_or(RecordError::Truncated)?;
    let (data, crc) = rec.split_at(len - 4);
    if crc32fast::hash(data) != u32_at(crc, 0).ok_or(RecordError::Truncated)? {
        return Err(RecordError::Checksum);
    }
    let kind = data[LEN_BYTES];
    let body = &data[LEN_BYTES + 1..];
    let record = match kind {
        KIND_MSG => Record::Msg(decode_msg(body)?),
        KIND_DELETE if body.len() == 8 => Record::Delete(u64_at(body, 0).unwrap_or_default()),
        KIND_META if body.len() == 24 => Record::Meta(Meta {
            first_seq: u64_at(body, 0).unwrap_or_default(),
            last_seq: u64_at(body, 8).unwrap_or_default(),
            last_ts: u64_at(body, 16).unwrap_or_default() as i64,
        }),
        KIND_DELETE | KIND_META => return Err(RecordError::Malformed),
        other => return Err(RecordError::UnknownKind(other)),
    };
    Ok((record, len))
}

fn decode_msg(body: &[u8]) -> Result<MsgRef<'_>, RecordError> {
    let malformed = RecordError::Malformed;
    let seq = u64_at(body, 0).ok_or(malformed)?;
    let time = u64_at(body, 8).ok_or(malformed)? as i64;
    let flags = *body.get(16).ok_or(malformed)?;
    let subject_len = u16::from_le_bytes(array_at(body, 17).ok_or(malformed)?) as usize;
    let headers_len = u32_at(body, 19).ok_or(malformed)? as usize;
    let rest = body.get(MSG_FIXED..).ok_or(malformed)?;
    if subject_len.saturating_add(headers_len) > rest.len() || flags & !FLAG_HEADERS != 0 {
        return Err(malformed);
    }
    if flags & FLAG_HEADERS == 0 && headers_len != 0 {
        return Err(malformed);
    }
    let (subject, rest) = rest.split_at(subject_len);
    let (headers, payload) = rest.split_at(headers_len);
    let subject = std::str::from_utf8(subject).map_err(|_| malformed)?;
    Ok(MsgRef {
        seq,
        time,
        subject,
        headers: (flags & FLAG_HEADERS != 0).then_some(headers),
        payload,
    })
}

fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    array_at(bytes, at).map(u32::from_le_bytes)
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    array_at(bytes, at).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MsgRef<'static> {
        MsgRef {
            seq: 42,
            time: -7,
            subject: "orders.eu",
            headers: Some(b"NATS/1.0\r\nA: b\r\n\r\n"),
            payload: b"hello",
        }
    }

    #[test]
    fn every_kind_round_trips() {
        let meta = Meta {
            first_seq: 3,
            last_seq: 9,
            last_ts: 11,
        };
        let mut buf = Vec::new();
        encode_msg(&mut buf, &sample());
        encode_delete(&mut buf, 5);
        encode_meta(&mut buf, &meta);
        let (first, n1) = decode(&buf).expect("msg decodes");
        assert_eq!(first, Record::Msg(sample()));
        let (second, n2) = decode(&buf[n1..]).expect("delete decodes");
        assert_eq!(second, Record::Delete(5));
        let (third, n3) = decode(&buf[n1 + n2..]).expect("meta decodes");
        assert_eq!(third, Record::Meta(meta));
        assert_eq!(n1 + n2 + n3, buf.len());
    }

    #[test]
    fn size_is_the_stores_record_size() {
        let msg = sample();
        let headers = msg.headers.map(bytes::Bytes::copy_from_slice);
        let payload = bytes::Bytes::copy_from_slice(msg.payload);
        let expected = crate::core::store::record_size(msg.subject, headers.as_ref(), &payload);
        assert_eq!(msg.size() as u64, expected);
    }

    #[test]
    fn empty_headers_differ_from_no_headers() {
        let mut buf = Vec::new();
        let msg = MsgRef {
            headers: Some(b""),
            ..sample()
        };
        encode_msg(&mut buf, &msg);
        let (Record::Msg(back), _) = decode(&buf).expect("decodes") else {
            panic!("not a message");
        };
        assert_eq!(back.headers, Some(&b""[..]));
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let mut buf = Vec::new();
        encode_msg(&mut buf, &sample());
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    decode(&bad).is_err(),
                    "flip at byte {byte} bit {bit} passed"
                );
            }
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let mut buf = Vec::new();
        encode_msg(&mut buf, &sample());
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut} passed");
        }
    }

    #[test]
    fn a_huge_length_field_is_rejected_before_reading() {
        let mut buf = Vec::new();
        encode_delete(&mut buf, 1);
        buf[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&buf).map(|_| ()),
            Err(RecordError::BadLength(u32::MAX as u64))
        );
    }

    #[test]
    fn inner_lengths_beyond_the_record_are_malformed() {
        // A message whose subject length claims more than the record holds, with a valid checksum.
        let mut buf = Vec::new();
        encode_msg(&mut buf, &sample());
        let subject_len_at = LEN_BYTES + 1 + 17;
        buf[subject_len_at..subject_len_at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        let crc_at = buf.len() - 4;
        let crc = crc32fast::hash(&buf[..crc_at]);
        buf[crc_at..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&buf).map(|_| ()), Err(RecordError::Malformed));
    }
}
