//! Consumer records on disk: one file per consumer, holding the record twice, in two slots
//! written in turn.
//!
//! A consumer's state changes with every ack. Writing a temp file, fsyncing it, renaming it over
//! the record and fsyncing the directory (a new inode, two fsyncs and a directory update per
//! save) was nearly half of the engine thread's time in a pull consume from a file stream.
//! Instead the file is made once (that way: temp file, rename) at twice a slot's size, and a
//! record goes into a slot in place: the file's size never changes, so a sync is one of data
//! alone (and of the slot's blocks, the first time each is written: the file is made sparse).
//! A slot is believed only whole (length and CRC-32 checked), and the newer generation wins.
//!
//! One slot always holds a record known to be on disk, and no write goes over it:
//! - [`Consumers::save`] (durable when it returns) writes the other slot and `fdatasync`s; that
//!   slot is then the one on disk;
//! - [`Consumers::write`] (for acks nobody waits on: the engine's flush) writes the other slot
//!   too, then keeps writing over that same slot, without a sync, until the next save or
//!   [`Consumers::sync_written`]. The process killed loses nothing (the kernel holds the
//!   writes); a power loss can tear only the slot written since the last sync, which leaves the
//!   record synced before it: some messages are delivered again, never all of them;
//! - a file read at open is synced before its first write (what was read may have been only in
//!   the kernel's cache).
//!
//! A record that outgrows its slot makes a new, larger file the first way.
//!
//! File names come from the consumer name: safe characters as they are, others as `%XX`, and a
//! hash for names too long for a file name (the name itself is stored inside).
//!
//! Slot (little-endian): magic `CTRLCS02`, `u64` generation, `u32` length, the record, CRC-32 of
//! all before; zeros after, up to the slot's size (half the file's).
//! Record: magic `CTRLCON1`, `u32` name length + name, `u32` config length + config, `i64`
//! created, delivered and ack floor as two `u64` pairs, `u64` count + (seq, consumer seq, ts) per
//! pending ack, `u64` count + (seq, count) per redelivery, then a CRC-32 of everything before.
//! A file that is one bare record (written before slots) is read as generation 0 and replaced by
//! a slotted file at its next save.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::segment::{remove_file, sync_dir};
use crate::core::store::{ConsumerRecord, ConsumerState, PendingAck, SequencePair};

const MAGIC: &[u8; 8] = b"CTRLCON1";
/// The start of a slot.
const SLOT_MAGIC: &[u8; 8] = b"CTRLCS02";
/// A slot's bytes besides its record: magic, generation, length, CRC.
const SLOT_OVERHEAD: usize = 8 + 8 + 4 + 4;
/// The smallest slot (a page): a consumer with about 150 acks pending fits; bigger records
/// double it.
const MIN_SLOT: usize = 4096;
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
    /// Each slotted file's slot size and newest generation, by consumer name; a consumer not
    /// here gets a new file at its next save.
    slots: BTreeMap<String, Slots>,
}

/// Where a consumer's next save goes.
#[derive(Debug, Clone, Copy)]
struct Slots {
    /// Half the file's length.
    size: usize,
    /// The generation of the newest whole record.
    generation: u64,
    /// The slot (0 or 1) holding it.
    newest: usize,
    /// Which slot is known to be on disk (see [`Consumers::write`]).
    durable: OnDisk,
}

/// Which slot of a consumer's file is known to be on disk: one always is, so a write torn by a
/// power loss leaves a whole record to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDisk {
    /// The newest record was synced: the next write goes to the other slot.
    Newest,
    /// The newest record was only written; the other slot holds a synced one, and writes go
    /// over the newest until a sync.
    Other,
    /// Not known (the file was just opened): sync it before writing.
    Unknown,
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
        let mut slots = BTreeMap::new();
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
            match read_file(&fs::read(entry.path())?) {
                Some((name, record, found)) if file_name(&name) == file => {
                    if let Some(found) = found {
                        slots.insert(name.clone(), found);
                    }
                    records.insert(name, record);
                }
                Some(_) => problems.push(format!("consumer file {file}: name does not match")),
                None => problems.push(format!("consumer file {file}: corrupt record skipped")),
            }
        }
        let consumers = Consumers {
            dir: dir.to_path_buf(),
            records,
            slots,
        };
        Ok((consumers, problems))
    }

    /// Every record, by consumer name.
    pub fn all(&self) -> &BTreeMap<String, ConsumerRecord> {
        &self.records
    }

    /// Durably replaces the record of `name`.
    pub fn save(&mut self, name: &str, record: &ConsumerRecord) -> io::Result<()> {
        self.put(name, record, true)
    }

    /// Replaces the record of `name` in the file without syncing it: it survives the process
    /// being killed (the kernel holds it), and a power loss before the next sync of the file
    /// leaves the last record that was synced, never none. For state whose loss only means
    /// messages delivered again (acks nobody waits on); see [`Consumers::sync_written`].
    pub fn write(&mut self, name: &str, record: &ConsumerRecord) -> io::Result<()> {
        self.put(name, record, false)
    }

    /// Syncs every file holding a record that was only written; returns how many.
    pub fn sync_written(&mut self) -> io::Result<usize> {
        let mut synced = 0;
        for (name, slots) in self.slots.iter_mut() {
            if slots.durable != OnDisk::Newest {
                File::open(self.dir.join(file_name(name)))?.sync_data()?;
                slots.durable = OnDisk::Newest;
                synced += 1;
            }
        }
        Ok(synced)
    }

    fn put(&mut self, name: &str, record: &ConsumerRecord, durable: bool) -> io::Result<()> {
        let file = file_name(name);
        if !self.slots.contains_key(name)
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
        let record_bytes = encode(name, record);
        let known = self.slots.get(name).copied();
        let generation = known.map_or(1, |s| s.generation + 1);
        let slot = slot_bytes(generation, &record_bytes);
        let slots = match known {
            Some(found) if slot.len() <= found.size => {
                let file = OpenOptions::new().write(true).open(&path)?;
                if found.durable == OnDisk::Unknown {
                    // What was read at open may still be only in the kernel's cache.
                    file.sync_data()?;
                }
                // Never over the slot known to be on disk: a torn write spares that one.
                let at = match found.durable {
                    OnDisk::Other => found.newest,
                    OnDisk::Newest | OnDisk::Unknown => 1 - found.newest,
                };
                file.write_all_at(&slot, (at * found.size) as u64)?;
                if durable {
                    file.sync_data()?;
                }
                Slots {
                    size: found.size,
                    generation,
                    newest: at,
                    durable: if durable {
                        OnDisk::Newest
                    } else {
                        OnDisk::Other
                    },
                }
            }
            _ => {
                let size = (slot.len() * 2).next_power_of_two().max(MIN_SLOT);
                let at = (generation % 2) as usize;
                let tmp = self.dir.join(format!("{file}.tmp"));
                let out = File::create(&tmp)?;
                // Sparse: the other slot takes disk space only when first written, so a save
                // on a nearly full disk needs no more than the record (as a purge's flush may).
                out.write_all_at(&slot, (at * size) as u64)?;
                out.set_len(2 * size as u64)?;
                // A new file is always made durable: until it is, no slot is on disk.
                out.sync_all()?;
                drop(out);
                fs::rename(&tmp, &path)?;
                sync_dir(&self.dir)?;
                Slots {
                    size,
                    generation,
                    newest: at,
                    durable: OnDisk::Newest,
                }
            }
        };
        self.slots.insert(name.to_string(), slots);
        self.records.insert(name.to_string(), record.clone());
        Ok(())
    }

    /// Durably forgets the record of `name` (done when there is none).
    pub fn remove(&mut self, name: &str) -> io::Result<()> {
        remove_file(&self.dir.join(file_name(name)))?;
        sync_dir(&self.dir)?;
        self.records.remove(name);
        self.slots.remove(name);
        Ok(())
    }
}

/// A slot holding `record` (an encoded record) as generation `generation`.
fn slot_bytes(generation: u64, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.len() + SLOT_OVERHEAD);
    out.extend_from_slice(SLOT_MAGIC);
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(record);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The record in one slot and its generation, if the slot is whole.
fn read_slot(slot: &[u8]) -> Option<(u64, &[u8])> {
    let mut cur = Cursor(slot);
    if cur.take(SLOT_MAGIC.len())? != SLOT_MAGIC {
        return None;
    }
    let generation = cur.u64()?;
    let len = cur.u32()? as usize;
    let record = cur.take(len)?;
    let end = SLOT_OVERHEAD - 4 + len;
    let crc = cur.u32()?;
    (crc32fast::hash(&slot[..end]) == crc).then_some((generation, record))
}

/// A consumer file's newest whole record, and where the next save goes (`None` for a file
/// that is one bare record, written before slots).
fn read_file(bytes: &[u8]) -> Option<(String, ConsumerRecord, Option<Slots>)> {
    if bytes.starts_with(MAGIC) {
        let (name, record) = decode(bytes)?;
        return Some((name, record, None));
    }
    if bytes.len() % 2 != 0 {
        return None;
    }
    let size = bytes.len() / 2;
    let (first, second) = bytes.split_at(size);
    let newest = [read_slot(first), read_slot(second)]
        .into_iter()
        .enumerate()
        .filter_map(|(at, slot)| {
            let (generation, record) = slot?;
            Some((generation, at, decode(record)?))
        })
        .max_by_key(|(generation, _, _)| *generation)?;
    let (generation, newest, (name, record)) = newest;
    let slots = Slots {
        size,
        generation,
        newest,
        durable: OnDisk::Unknown,
    };
    Some((name, record, Some(slots)))
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

    /// `sample()` with `n` more acks pending (a bigger record).
    fn with_pending(n: u64) -> ConsumerRecord {
        let mut record = sample();
        for seq in 100..100 + n {
            record.state.pending.insert(
                seq,
                PendingAck {
                    consumer_seq: seq,
                    timestamp: 1,
                },
            );
        }
        record
    }

    /// An empty consumers directory (removed when dropped), the file of consumer "d" in it,
    /// and the directory opened.
    fn fixture() -> (tempfile::TempDir, PathBuf, Consumers) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(file_name("d"));
        let (consumers, _) = Consumers::open(dir.path()).expect("open");
        (dir, path, consumers)
    }

    fn reopened(dir: &Path) -> BTreeMap<String, ConsumerRecord> {
        let (consumers, problems) = Consumers::open(dir).expect("open");
        assert!(problems.is_empty(), "{problems:?}");
        consumers.all().clone()
    }

    #[test]
    fn saves_take_turns_in_two_slots_of_a_file_that_keeps_its_size() {
        let (dir, path, mut consumers) = fixture();
        consumers.save("d", &with_pending(1)).expect("save");
        let len = fs::metadata(&path).expect("file").len();
        for n in 2..=5 {
            consumers.save("d", &with_pending(n)).expect("save");
            assert_eq!(fs::metadata(&path).expect("file").len(), len);
        }
        assert_eq!(reopened(dir.path())["d"], with_pending(5));
        // Both slots hold a whole record: generation 5 (slot 1) and 4 (slot 0).
        let bytes = fs::read(&path).expect("read");
        let half = bytes.len() / 2;
        assert_eq!(read_slot(&bytes[..half]).map(|(g, _)| g), Some(4));
        assert_eq!(read_slot(&bytes[half..]).map(|(g, _)| g), Some(5));
    }

    #[test]
    fn a_save_torn_by_a_crash_leaves_the_record_before_it() {
        let (dir, path, mut consumers) = fixture();
        consumers.save("d", &with_pending(1)).expect("save");
        consumers.save("d", &with_pending(2)).expect("save");
        let whole = fs::read(&path).expect("read");
        // Generation 2 sits in slot 0: damage it anywhere, or cut it short.
        let slot_len = slot_bytes(2, &encode("d", &with_pending(2))).len();
        for at in (0..slot_len).step_by(7) {
            let mut torn = whole.clone();
            torn[at] ^= 0x20;
            fs::write(&path, &torn).expect("write");
            assert_eq!(reopened(dir.path())["d"], with_pending(1), "damage at {at}");
        }
        let mut torn = whole.clone();
        torn[slot_len / 2..slot_len].fill(0);
        fs::write(&path, &torn).expect("write");
        assert_eq!(reopened(dir.path())["d"], with_pending(1));
        // The next save goes to the damaged slot again, and wins.
        let (mut consumers, _) = Consumers::open(dir.path()).expect("open");
        consumers.save("d", &with_pending(3)).expect("save");
        assert_eq!(reopened(dir.path())["d"], with_pending(3));
    }

    /// What a power loss could leave of a write that was never synced: slot `at` damaged.
    fn tear_slot(path: &Path, at: usize) {
        let mut bytes = fs::read(path).expect("read");
        let half = bytes.len() / 2;
        bytes[at * half + 3] ^= 0x20;
        fs::write(path, &bytes).expect("write");
    }

    #[test]
    fn written_records_are_read_back_and_a_torn_one_leaves_the_last_synced() {
        let (dir, path, mut consumers) = fixture();
        consumers.save("d", &with_pending(1)).expect("save");
        consumers.write("d", &with_pending(2)).expect("write");
        consumers.write("d", &with_pending(3)).expect("write again");
        // The process killed: the kernel still holds the writes.
        assert_eq!(reopened(dir.path())["d"], with_pending(3));
        // A power loss: unsynced writes only ever went over one slot, never the synced one.
        let bytes = fs::read(&path).expect("read");
        let half = bytes.len() / 2;
        let generations = [&bytes[..half], &bytes[half..]].map(|s| read_slot(s).map(|(g, _)| g));
        assert_eq!(generations, [Some(3), Some(1)]);
        tear_slot(&path, 0);
        assert_eq!(reopened(dir.path())["d"], with_pending(1));
    }

    #[test]
    fn after_a_sync_writes_go_to_the_other_slot() {
        let (dir, path, mut consumers) = fixture();
        consumers.save("d", &with_pending(1)).expect("save");
        consumers.write("d", &with_pending(2)).expect("write");
        assert_eq!(consumers.sync_written().expect("sync"), 1);
        assert_eq!(consumers.sync_written().expect("nothing left"), 0);
        consumers.write("d", &with_pending(3)).expect("write");
        tear_slot(&path, 1);
        assert_eq!(reopened(dir.path())["d"], with_pending(2));
    }

    #[test]
    fn a_reopened_file_is_synced_before_its_first_write() {
        let (dir, path, mut consumers) = fixture();
        consumers.save("d", &with_pending(1)).expect("save");
        consumers.write("d", &with_pending(2)).expect("write");
        // Reopened: generation 2 (slot 0) is the newest, maybe only in the kernel's cache; it
        // is synced, and the next write goes over the other slot.
        let (mut consumers, _) = Consumers::open(dir.path()).expect("reopen");
        consumers.write("d", &with_pending(3)).expect("write");
        tear_slot(&path, 1);
        assert_eq!(reopened(dir.path())["d"], with_pending(2));
    }

    #[test]
    fn a_record_that_outgrows_its_slot_moves_to_a_larger_file() {
        let (dir, path, mut consumers) = fixture();
        consumers.save("d", &with_pending(1)).expect("save");
        let small = fs::metadata(&path).expect("file").len();
        consumers.save("d", &with_pending(5_000)).expect("save");
        assert!(fs::metadata(&path).expect("file").len() > small);
        assert_eq!(reopened(dir.path())["d"], with_pending(5_000));
        consumers.save("d", &with_pending(2)).expect("save");
        assert_eq!(reopened(dir.path())["d"], with_pending(2));
    }

    #[test]
    fn a_file_of_one_bare_record_is_read_and_slotted_at_its_next_save() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(file_name("d"));
        fs::write(&path, encode("d", &sample())).expect("write an old record");
        assert_eq!(reopened(dir.path())["d"], sample());
        let (mut consumers, _) = Consumers::open(dir.path()).expect("open");
        consumers.save("d", &with_pending(1)).expect("save");
        assert!(!fs::read(&path).expect("read").starts_with(MAGIC));
        assert_eq!(reopened(dir.path())["d"], with_pending(1));
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
