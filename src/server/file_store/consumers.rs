//! Consumer records on disk: one file per consumer, replaced atomically on every save.
//!
//! A save writes `<file>.tmp`, fsyncs it, renames it over `<file>` and fsyncs the directory, so a
//! crash at any moment leaves either the old record or the new one, and a save that returned is
//! durable. File names come from the consumer name: safe characters as they are, others as `%XX`,
//! and a hash for names too long for a file name (the name itself is stored inside).
//!
//! Format (little-endian): magic `CTRLCON1`, `u32` name length + name, `u32` config length + config,
//! `i64` created, delivered and ack floor as two `u64` pairs, `u64` count + (seq, consumer seq, ts)
//! per pending ack, `u64` count + (seq, count) per redelivery, then a CRC-32 of everything before.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::segment::{remove_file, sync_dir};
use crate::core::store::{ConsumerRecord, ConsumerState, PendingAck, SequencePair};

const MAGIC: &[u8; 8] = b"CTRLCON1";
/// Escaped names longer than this are hashed instead (file names stop at 255 bytes).
const MAX_PLAIN_NAME: usize = 200;

/// The file name a consumer's record is kept under.
fn file_name(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len() + 2);
    escaped.push_str("c-");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            escaped.push(byte as char);
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    if escaped.len() <= MAX_PLAIN_NAME {
        return escaped;
    }
    // FNV-1a: stable across builds and platforms, which a std hasher does not promise.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("h-{hash:016x}")
}

/// The consumer records of one stream, cached in memory and mirrored on disk.
#[derive(Debug)]
pub(crate) struct Consumers {
    dir: PathBuf,
    records: BTreeMap<String, ConsumerRecord>,
}

impl Consumers {
    /// Loads every record in `dir` (creating it). Records that fail validation are skipped and
    /// described in the returned list; leftover temp files of interrupted saves are removed.
    pub fn open(dir: &Path) -> io::Result<(Consumers, Vec<String>)> {
        if !dir.exists() {
            fs::create_dir_all(dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let mut records = BTreeMap::new();
        let mut problems = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.ends_with(".tmp") {
                remove_file(&entry.path())?;
                continue;
            }
            if !(file.starts_with("c-") || file.starts_with("h-")) {
                continue;
            }
            match decode(&fs::read(entry.path())?) {
                Some((name, record)) if file_name(&name) == file => {
                    records.insert(name, record);
                }
                Some(_) => problems.push(format!("consumer file {file}: name does not match")),
                None => problems.push(format!("consumer file {file}: corrupt record skipped")),
            }
        }
        let consumers = Consumers {
            dir: dir.to_path_buf(),
            records,
        };
        Ok((consumers, problems))
    }

    /// Every record, by consumer name.
    pub fn all(&self) -> &BTreeMap<String, ConsumerRecord> {
        &self.records
    }

    /// Durably replaces the record of `name`.
    pub fn save(&mut self, name: &str, record: &ConsumerRecord) -> io::Result<()> {
        let file = file_name(name);
        if file.starts_with("h-")
            && self
                .records
                .keys()
                .any(|other| other != name && file_name(other) == file)
        {
            return Err(io::Error::other(
                "consumer name collides with another's file",
            ));
        }
        let path = self.dir.join(&file);
        let tmp = self.dir.join(format!("{file}.tmp"));
        let mut out = File::create(&tmp)?;
        out.write_all(&encode(name, record))?;
        out.sync_all()?;
        drop(out);
        fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        self.records.insert(name.to_string(), record.clone());
        Ok(())
    }

    /// Durably forgets the record of `name` (done when there is none).
    pub fn remove(&mut self, name: &str) -> io::Result<()> {
        remove_file(&self.dir.join(file_name(name)))?;
        sync_dir(&self.dir)?;
        self.records.remove(name);
        Ok(())
    }
}

fn encode(name: &str, record: &ConsumerRecord) -> Vec<u8> {
    let state = &record.state;
    let mut out = Vec::with_capacity(
        64 + name.len()
            + record.config.len()
            + 24 * state.pending.len()
            + 16 * state.redelivered.len(),
    );
    out.extend_from_slice(MAGIC);
    for bytes in [name.as_bytes(), &record.config] {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    let mut put = |v: u64| out.extend_from_slice(&v.to_le_bytes());
    put(record.created as u64);
    for pair in [state.delivered, state.ack_floor] {
        put(pair.consumer_seq);
        put(pair.stream_seq);
    }
    put(state.pending.len() as u64);
    for (seq, ack) in &state.pending {
        put(*seq);
        put(ack.consumer_seq);
        put(ack.timestamp as u64);
    }
    put(state.redelivered.len() as u64);
    for (seq, count) in &state.redelivered {
        put(*seq);
        put(*count);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads fields off a byte slice, failing on any shortfall.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn pair(&mut self) -> Option<SequencePair> {
        Some(SequencePair {
            consumer_seq: self.u64()?,
            stream_seq: self.u64()?,
        })
    }

    /// A count of entries of `entry` bytes each that the remaining bytes can actually hold.
    fn count(&mut self, entry: usize) -> Option<usize> {
        let count = usize::try_from(self.u64()?).ok()?;
        (count <= self.0.len() / entry).then_some(count)
    }
}

fn decode(bytes: &[u8]) -> Option<(String, ConsumerRecord)> {
    let (body, crc) = bytes.split_at(bytes.len().checked_sub(4)?);
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    let mut cur = Cursor(body);
    if cur.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let len = cur.u32()? as usize;
    let name = String::from_utf8(cur.take(len)?.to_vec()).ok()?;
    let len = cur.u32()? as usize;
    let config = cur.take(len)?.to_vec();
    let created = cur.u64()? as i64;
    let delivered = cur.pair()?;
    let ack_floor = cur.pair()?;
    let mut state = ConsumerState {
        delivered,
        ack_floor,
        ..ConsumerState::default()
    };
    for _ in 0..cur.count(24)? {
        let seq = cur.u64()?;
        let ack = PendingAck {
            consumer_seq: cur.u64()?,
            timestamp: cur.u64()? as i64,
        };
        state.pending.insert(seq, ack);
    }
    for _ in 0..cur.count(16)? {
        let seq = cur.u64()?;
        state.redelivered.insert(seq, cur.u64()?);
    }
    if !cur.0.is_empty() {
        return None;
    }
    let record = ConsumerRecord {
        config,
        created,
        state,
    };
    Some((name, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConsumerRecord {
        let mut state = ConsumerState {
            delivered: SequencePair {
                consumer_seq: 9,
                stream_seq: 12,
            },
            ack_floor: SequencePair {
                consumer_seq: 4,
                stream_seq: 5,
            },
            ..ConsumerState::default()
        };
        state.pending.insert(
            7,
            PendingAck {
                consumer_seq: 6,
                timestamp: -3,
            },
        );
        state.redelivered.insert(7, 2);
        ConsumerRecord {
            config: br#"{"durable_name":"d"}"#.to_vec(),
            created: 1_700_000_000,
            state,
        }
    }

    #[test]
    fn a_record_round_trips() {
        let bytes = encode("d", &sample());
        assert_eq!(decode(&bytes), Some(("d".to_string(), sample())));
    }

    #[test]
    fn any_damage_is_rejected() {
        let bytes = encode("d", &sample());
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut} passed");
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert_eq!(decode(&bad), None, "flip at {at} passed");
        }
    }

    #[test]
    fn a_huge_count_with_a_valid_checksum_is_rejected_without_allocating() {
        let mut bytes = encode("d", &ConsumerRecord::default());
        bytes.truncate(bytes.len() - 4 - 16); // drop crc and both counts
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&bytes), None);
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_name("orders-1_a"), "c-orders-1_a");
        assert_eq!(file_name("a/b"), "c-a%2Fb");
        assert_ne!(file_name("a.b"), file_name("a_b"));
        let long = "x".repeat(255);
        let hashed = file_name(&long);
        assert!(hashed.starts_with("h-") && hashed.len() < 32);
        assert_ne!(hashed, file_name(&"y".repeat(255)));
    }
}
