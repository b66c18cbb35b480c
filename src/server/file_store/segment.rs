//! Segment files on disk: naming, the buffered writer of the active segment, the sequential
//! scanner used by recovery and rewrites, and the random-access reader used by loads.
//!
//! A segment file is an 8-byte magic followed by records (see `record.rs`). Files are named by a
//! 16-hex-digit id that grows with every new file, so name order is write order.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::record::{self, RecordError, LEN_BYTES, MAX_RECORD, MIN_RECORD};

/// First bytes of every segment file (format version 1).
pub(crate) const MAGIC: &[u8; 8] = b"CTRLSEG1";
/// Bytes of the file header.
pub(crate) const HEADER_LEN: u64 = MAGIC.len() as u64;
/// Buffered bytes after which the writer hands its buffer to the OS (without fsync).
const WRITE_BUFFER: usize = 256 << 10;
/// Zeros written ahead of the active segment's end when an append would grow the file (at most
/// an eighth of the segment size, and never past it). An append inside the file's length
/// changes no metadata, so `fdatasync` skips the journal commit a growing file costs on every
/// sync (measured: 1.5-3.5x more append+fdatasync per second on this machine's ext4). One
/// metadata sync per this many bytes remains.
const PREALLOCATE: u64 = 1 << 20;
/// Only flushes smaller than this preallocate: a big batch amortises its one metadata sync
/// anyway, and zeros written first would double the bytes it sends to the device.
const PREALLOCATE_BELOW: usize = 64 << 10;
/// The zeros preallocation writes, a window at a time.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
/// Bytes read at a time by loads, so a sequential scan costs one read per window.
const READ_AHEAD: usize = 64 << 10;
/// Open read handles kept at most.
const MAX_OPEN_READERS: usize = 64;

/// What a file in the segment directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// A segment, with its id.
    Segment(u64),
    /// A rewrite that did not finish.
    Temp,
}

/// The path of segment `id`.
pub(crate) fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.seg"))
}

/// The path a rewrite of segment `id` is prepared at.
pub(crate) fn tmp_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.seg.tmp"))
}

/// What a directory entry name is, if it is ours.
pub(crate) fn classify(name: &str) -> Option<FileKind> {
    if name.ends_with(".tmp") {
        return Some(FileKind::Temp);
    }
    let hex = name.strip_suffix(".seg")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(FileKind::Segment)
}

/// Makes the directory's entries (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes all of `bytes` at `offset`, over what the file holds there.
pub(crate) fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < bytes.len() {
            let n = std::os::windows::fs::FileExt::seek_write(
                file,
                &bytes[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes at `offset`.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// The active segment: appends go to a buffer, handed to the OS when it fills or on sync.
///
/// The file may run on past the records in zeros (see [`PREALLOCATE`]): readers stop at
/// [`Writer::flushed`], sealing and closing cut the zeros off, and recovery drops a tail of
/// zeros that a crash left as no damage.
#[derive(Debug)]
pub(crate) struct Writer {
    /// Id of the file being written.
    pub id: u64,
    file: File,
    flushed: u64,
    /// The file's length: `flushed` plus zeros written ahead.
    allocated: u64,
    /// Bytes of zeros written ahead at a time, and the length they never go past (the segment
    /// size, after which the segment is sealed).
    preallocate: u64,
    segment_size: u64,
    buf: Vec<u8>,
    unsynced: bool,
    /// A failed write could not be rolled back: the file's tail is unknown.
    broken: bool,
}

impl Writer {
    /// Creates segment `id` (replacing any file of that name) with its header buffered; it is
    /// sealed at about `segment_size` bytes.
    pub fn create(dir: &Path, id: u64, segment_size: u64) -> io::Result<Writer> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(seg_path(dir, id))?;
        let mut buf = Vec::with_capacity(WRITE_BUFFER);
        buf.extend_from_slice(MAGIC);
        Ok(Writer {
            id,
            file,
            flushed: 0,
            allocated: 0,
            preallocate: PREALLOCATE.min(segment_size / 8),
            segment_size,
            buf,
            unsynced: true,
            broken: false,
        })
    }

    /// Continues segment `id`, which recovery found valid up to `len` bytes.
    pub fn resume(dir: &Path, id: u64, len: u64, segment_size: u64) -> io::Result<Writer> {
        let file = OpenOptions::new().write(true).open(seg_path(dir, id))?;
        let allocated = file.metadata()?.len().max(len);
        Ok(Writer {
            id,
            file,
            flushed: len,
            allocated,
            preallocate: PREALLOCATE.min(segment_size / 8),
            segment_size,
            buf: Vec::with_capacity(WRITE_BUFFER),
            unsynced: false,
            broken: false,
        })
    }

    /// Bytes written so far, buffered ones included: the offset of the next record.
    pub fn len(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// Bytes already handed to the OS (readable through the file).
    pub fn flushed(&self) -> u64 {
        self.flushed
    }

    /// The buffer records are appended to; call [`Writer::maybe_flush`] after.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Hands the buffer to the OS once it is big enough.
    pub fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the buffered bytes to the OS (no fsync). On failure the file is cut back to what
    /// was flushed before, so a retry cannot leave a partial record in the middle.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other("segment writer failed earlier"));
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(err) = write_all_at(&self.file, &self.buf, self.flushed) {
            self.broken = self.file.set_len(self.flushed).is_err();
            self.allocated = self.flushed;
            return Err(err);
        }
        let end = self.flushed + self.buf.len() as u64;
        if end > self.allocated {
            self.allocated = end;
            let target = (end + self.preallocate).min(self.segment_size);
            if self.buf.len() < PREALLOCATE_BELOW && target > end {
                self.preallocate(target);
            }
        }
        self.flushed = end;
        self.buf.clear();
        self.unsynced = true;
        Ok(())
    }

    /// Writes zeros up to `target` so the next appends do not grow the file. Best effort: on
    /// failure (a full disk) the zeros are cut off again and appends grow the file as before.
    fn preallocate(&mut self, target: u64) {
        let mut at = self.allocated;
        while at < target {
            let n = (target - at).min(ZEROS.len() as u64) as usize;
            if write_all_at(&self.file, &ZEROS[..n], at).is_err() {
                if self.file.set_len(self.allocated).is_err() {
                    // The file's length is unknown: readers stop at `flushed`, recovery drops
                    // zeros, and sealing cuts the file to its records.
                    self.allocated = at;
                }
                return;
            }
            at += n as u64;
        }
        self.allocated = target;
    }

    /// Cuts the zeros written ahead off the file (when it is sealed or closed). Call
    /// [`Writer::flush`] first. The cut reaches the disk with the next [`Writer::fsync`] (or
    /// not at all: recovery drops a tail of zeros).
    pub fn trim(&mut self) -> io::Result<()> {
        if self.allocated > self.flushed {
            self.file.set_len(self.flushed)?;
            self.allocated = self.flushed;
            self.unsynced = true;
        }
        Ok(())
    }

    /// Fsyncs what was flushed: it survives a crash. Call [`Writer::flush`] first.
    pub fn fsync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Buffered bytes from `offset` to the end of the buffer.
    pub fn buffered_from(&self, offset: u64) -> Option<&[u8]> {
        let start = usize::try_from(offset.checked_sub(self.flushed)?).ok()?;
        self.buf.get(start..)
    }
}

/// One step of a sequential scan.
#[derive(Debug)]
pub(crate) enum Scan {
    /// A record that passed its checksum, at this offset.
    Record(u64),
    /// Bytes at this offset that are no valid record; `len` is the length field when it was
    /// plausible (the record fits in the file), so a caller may try to skip past it.
    Bad {
        offset: u64,
        len: Option<u64>,
        why: RecordError,
    },
    /// The end of the file.
    End,
}

/// Reads a segment file record by record, never allocating more than one record (and never more
/// than the file holds).
pub(crate) struct Scanner {
    reader: BufReader<File>,
    pos: u64,
    file_len: u64,
    record: Vec<u8>,
}

/// What the first bytes of a segment file hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    /// The magic: records follow.
    Valid,
    /// Fewer bytes than a header (a file created just before a crash).
    Short,
    /// Something else: not a segment of this format.
    Foreign,
}

impl Scanner {
    /// Opens a segment for scanning, positioned after its header.
    pub fn open(path: &Path) -> io::Result<(Scanner, Header)> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; MAGIC.len()];
        let header = if file_len < HEADER_LEN {
            Header::Short
        } else {
            reader.read_exact(&mut magic)?;
            if &magic == MAGIC {
                Header::Valid
            } else {
                Header::Foreign
            }
        };
        let scanner = Scanner {
            reader,
            pos: HEADER_LEN.min(file_len),
            file_len,
            record: Vec::new(),
        };
        Ok((scanner, header))
    }

    /// The file's length when opened.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The bytes of the record last returned by [`Scan::Record`].
    pub fn record(&self) -> &[u8] {
        &self.record
    }

    /// Continues scanning at `offset`.
    pub fn seek(&mut self, offset: u64) -> io::Result<()> {
        self.reader.seek(SeekFrom::Start(offset))?;
        self.pos = offset;
        Ok(())
    }

    /// The next record, or what is wrong at this position.
    pub fn next(&mut self) -> io::Result<Scan> {
        let offset = self.pos;
        let left = self.file_len - offset.min(self.file_len);
        if left == 0 {
            return Ok(Scan::End);
        }
        let bad = |len: Option<u64>, why| Scan::Bad { offset, len, why };
        if left < LEN_BYTES as u64 {
            return Ok(bad(None, RecordError::Truncated));
        }
        let mut len_bytes = [0u8; LEN_BYTES];
        self.reader.read_exact(&mut len_bytes)?;
        let len = u32::from_le_bytes(len_bytes) as u64;
        if len < MIN_RECORD as u64 || len > MAX_RECORD as u64 {
            self.seek(offset)?;
            return Ok(bad(None, RecordError::BadLength(len)));
        }
        if len > left {
            self.seek(offset)?;
            return Ok(bad(None, RecordError::Truncated));
        }
        self.record.clear();
        self.record.extend_from_slice(&len_bytes);
        self.record.resize(len as usize, 0);
        self.reader.read_exact(&mut self.record[LEN_BYTES..])?;
        self.pos = offset + len;
        match record::decode(&self.record) {
            Ok(_) => Ok(Scan::Record(offset)),
            Err(why) => Ok(bad(Some(len), why)),
        }
    }
}

/// Random access to records of sealed (and flushed) segment data, with a read-ahead window so a
/// sequential scan of messages costs one read per window.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    inner: RefCell<ReaderState>,
}

#[derive(Debug, Default)]
struct ReaderState {
    files: HashMap<u64, File>,
    window_id: u64,
    window_start: u64,
    window: Vec<u8>,
}

impl Reader {
    /// Runs `f` on the record of segment `id` at `offset`; `limit` is how many bytes of the file
    /// are readable.
    pub fn with_record<R>(
        &self,
        dir: &Path,
        id: u64,
        offset: u64,
        limit: u64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> io::Result<Result<R, RecordError>> {
        let mut state = self.inner.borrow_mut();
        let state = &mut *state;
        let in_window = |state: &ReaderState, len: u64| {
            state.window_id == id
                && offset >= state.window_start
                && offset + len <= state.window_start + state.window.len() as u64
        };
        if !in_window(state, LEN_BYTES as u64) {
            let want = (READ_AHEAD as u64).min(limit.saturating_sub(offset));
            state.fill(dir, id, offset, want)?;
        }
        let at = (offset - state.window_start) as usize;
        let len = match state.window.get(at..).map(record::frame_len) {
            Some(Ok(len)) => len as u64,
            Some(Err(why)) => return Ok(Err(why)),
            None => return Ok(Err(RecordError::Truncated)),
        };
        if !in_window(state, len) {
            if offset + len > limit {
                return Ok(Err(RecordError::Truncated));
            }
            state.fill(
                dir,
                id,
                offset,
                len.max(READ_AHEAD as u64).min(limit - offset),
            )?;
        }
        let at = (offset - state.window_start) as usize;
        Ok(Ok(f(&state.window[at..at + len as usize])))
    }

    /// Forgets handles and cached bytes of segment `id` (deleted or rewritten).
    pub fn forget(&self, id: u64) {
        let mut state = self.inner.borrow_mut();
        state.files.remove(&id);
        if state.window_id == id {
            state.window.clear();
        }
    }
}

impl ReaderState {
    fn fill(&mut self, dir: &Path, id: u64, offset: u64, len: u64) -> io::Result<()> {
        if !self.files.contains_key(&id) {
            if self.files.len() >= MAX_OPEN_READERS {
                self.files.clear();
            }
            self.files.insert(id, File::open(seg_path(dir, id))?);
        }
        let file = &self.files[&id];
        self.window_id = id;
        self.window_start = offset;
        self.window.clear();
        self.window.resize(len as usize, 0);
        if let Err(err) = read_exact_at(file, &mut self.window, offset) {
            self.window.clear();
            return Err(err);
        }
        Ok(())
    }
}

/// Whether every byte of the file at `path` from `offset` on is zero: what preallocation (see
/// [`Writer`]) leaves past the last record.
pub(crate) fn zeros_from(path: &Path, offset: u64) -> io::Result<bool> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut window = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut window)?;
        if n == 0 {
            return Ok(true);
        }
        if window[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
}

/// Removes a file, treating "already gone" as done.
pub(crate) fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}
