//! `IdbStore`: a stream store for the browser, resident in memory and persisted to IndexedDB.
//!
//! IndexedDB is async and the [`StreamStore`] trait is not, so the store answers every read from
//! a resident [`MemoryStore`] and turns writes into [`Write`]s on a [`CommitQueue`] the wasm shell
//! shares between all streams of one database. The durability point is the shell's, not the
//! store's: [`StreamStore::sync`] only moves this stream's pending changes onto the queue, and the
//! shell, after [`crate::core::engine::Engine::flush`], commits the whole queue as ONE
//! `durability: "strict"` IndexedDB transaction and releases PubAcks only once it has committed.
//!
//! Persisted layout (see `db.rs`): messages written between two syncs become one packed segment
//! record keyed `[stream, first seq]`; a segment covers the sequences up to the next segment's key.
//! Removing a message rewrites its segment at the next sync (or deletes it when it empties). A
//! small state record per stream keeps first/last sequence and last timestamp.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use bytes::Bytes;

use super::codec::{self, SeqState};
use crate::core::store::memory::MemoryStore;
use crate::core::store::{
    ConsumerRecord, Seq, SimpleState, StoreError, StoredMsg, StreamState, StreamStore,
};
use crate::core::time::Nanos;

/// One change to the database, applied in queue order inside one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Put a packed segment at `[stream, start]`.
    PutSegment {
        /// Stream name.
        stream: String,
        /// First sequence the segment covers.
        start: Seq,
        /// Encoded messages.
        bytes: Vec<u8>,
    },
    /// Delete the segment at `[stream, start]`.
    DeleteSegment {
        /// Stream name.
        stream: String,
        /// Its key's sequence.
        start: Seq,
    },
    /// Put the stream's sequence state.
    PutState {
        /// Stream name.
        stream: String,
        /// Encoded [`SeqState`].
        bytes: Vec<u8>,
    },
    /// Put the stream's config and creation time (written by the shell).
    PutMeta {
        /// Stream name.
        stream: String,
        /// Encoded [`codec::StreamMeta`].
        bytes: Vec<u8>,
    },
    /// Put a consumer record at `[stream, name]`.
    PutConsumer {
        /// Stream name.
        stream: String,
        /// Consumer name.
        name: String,
        /// Encoded record.
        bytes: Vec<u8>,
    },
    /// Delete the consumer record at `[stream, name]`.
    DeleteConsumer {
        /// Stream name.
        stream: String,
        /// Consumer name.
        name: String,
    },
    /// Delete everything of a stream: meta, state, segments, consumers.
    DeleteStream {
        /// Stream name.
        stream: String,
    },
}

/// Writes waiting for the shell's next commit, shared by every store of one database.
pub type CommitQueue = Rc<RefCell<Vec<Write>>>;

/// A stream store resident in memory whose changes the shell persists to IndexedDB.
pub struct IdbStore {
    stream: String,
    mem: MemoryStore,
    queue: CommitQueue,
    /// Keys (first sequences) of the segments already in the database.
    segments: BTreeSet<Seq>,
    /// First sequence stored since the last sync: where the next segment starts.
    tail_start: Option<Seq>,
    /// Persisted segments that lost messages since the last sync.
    dirty_segments: BTreeSet<Seq>,
    /// Consumer changes since the last sync (`None`: removed).
    consumer_writes: BTreeMap<String, Option<ConsumerRecord>>,
    /// Sequence state changed since the last sync.
    state_dirty: bool,
    /// `last_ts` as persisted, when it differs from what replaying the messages gives (its
    /// message was removed); cleared by the next store.
    last_ts_override: Option<Nanos>,
}

impl IdbStore {
    /// An empty store for a new stream.
    pub fn new(stream: &str, queue: CommitQueue) -> IdbStore {
        IdbStore {
            stream: stream.to_string(),
            mem: MemoryStore::new(),
            queue,
            segments: BTreeSet::new(),
            tail_start: None,
            dirty_segments: BTreeSet::new(),
            consumer_writes: BTreeMap::new(),
            state_dirty: true,
            last_ts_override: None,
        }
    }

    /// A store rebuilt from what the database holds: its sequence state, its segments (key and
    /// encoded messages, any order) and its consumer records.
    pub fn restore(
        stream: &str,
        queue: CommitQueue,
        state: SeqState,
        segments: Vec<(Seq, Vec<u8>)>,
        consumers: Vec<(String, Vec<u8>)>,
    ) -> Result<IdbStore, StoreError> {
        let mut store = IdbStore::new(stream, queue);
        store.state_dirty = false;
        let mem = &mut store.mem;
        if state.first_seq > 0 {
            mem.compact(state.first_seq)?;
        }
        let mut segments = segments;
        segments.sort_by_key(|(start, _)| *start);
        for (start, bytes) in segments {
            for m in codec::decode_segment(&bytes)? {
                if m.seq <= mem.state().last_seq {
                    return Err(StoreError::Corrupt(format!(
                        "segment {start} repeats sequence {}",
                        m.seq
                    )));
                }
                while mem.state().last_seq + 1 < m.seq {
                    mem.skip_msg(m.time)?;
                }
                mem.store_msg(&m.subject, m.headers, m.payload, m.time)?;
            }
            store.segments.insert(start);
        }
        while mem.state().last_seq < state.last_seq {
            mem.skip_msg(state.last_ts)?;
        }
        if mem.state().last_ts != state.last_ts {
            store.last_ts_override = Some(state.last_ts);
        }
        for (name, bytes) in consumers {
            store
                .mem
                .save_consumer(&name, &codec::decode_consumer(&bytes)?)?;
        }
        Ok(store)
    }

    /// The segment holding `seq`, if it is persisted (not in the unsynced tail).
    fn segment_of(&self, seq: Seq) -> Option<Seq> {
        if self.tail_start.is_some_and(|t| seq >= t) {
            return None;
        }
        self.segments.range(..=seq).next_back().copied()
    }

    /// Every persisted segment may have lost messages (after a purge or compact).
    fn all_segments_dirty(&mut self) {
        self.dirty_segments.extend(self.segments.iter().copied());
        self.state_dirty = true;
    }

    /// The stored messages with `start <= seq < end`.
    fn messages_in(&self, start: Seq, end: Option<Seq>) -> Vec<StoredMsg> {
        let mut out = Vec::new();
        let mut next = start;
        while let Ok(m) = self.mem.load_next_msg("", next) {
            if end.is_some_and(|e| m.seq >= e) {
                break;
            }
            next = m.seq + 1;
            out.push(m);
        }
        out
    }
}

impl StreamStore for IdbStore {
    fn store_msg(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        now: Nanos,
    ) -> Result<Seq, StoreError> {
        let seq = self.mem.store_msg(subject, headers, payload, now)?;
        self.tail_start.get_or_insert(seq);
        self.state_dirty = true;
        self.last_ts_override = None;
        Ok(seq)
    }

    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        let seq = self.mem.skip_msg(now)?;
        self.state_dirty = true;
        Ok(seq)
    }

    fn load_msg(&self, seq: Seq) -> Result<StoredMsg, StoreError> {
        self.mem.load_msg(seq)
    }

    fn load_next_msg(&self, filter: &str, start: Seq) -> Result<StoredMsg, StoreError> {
        self.mem.load_next_msg(filter, start)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        self.mem.load_last_msg(filter)
    }

    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError> {
        let removed = self.mem.remove_msg(seq)?;
        if removed {
            if let Some(segment) = self.segment_of(seq) {
                self.dirty_segments.insert(segment);
            }
            self.state_dirty = true;
        }
        Ok(removed)
    }

    fn purge(&mut self, filter: &str, below_seq: Seq, keep: u64) -> Result<u64, StoreError> {
        let purged = self.mem.purge(filter, below_seq, keep)?;
        self.all_segments_dirty();
        Ok(purged)
    }

    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError> {
        let purged = self.mem.compact(seq)?;
        self.all_segments_dirty();
        Ok(purged)
    }

    fn state(&self) -> StreamState {
        let mut state = self.mem.state();
        if let Some(ts) = self.last_ts_override {
            state.last_ts = ts;
        }
        state
    }

    fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState {
        self.mem.filtered_state(start, filter)
    }

    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.mem.subjects_state(filter)
    }

    fn num_pending(&self, start: Seq, filter: &str, last_per_subject: bool) -> u64 {
        self.mem.num_pending(start, filter, last_per_subject)
    }

    fn deleted(&self) -> Vec<Seq> {
        self.mem.deleted()
    }

    /// Queues this stream's changes for the shell's next commit (see the module docs).
    fn sync(&mut self) -> Result<(), StoreError> {
        // Fails only when the store was deleted.
        self.mem.consumers()?;
        let mut writes = Vec::new();
        let stream = &self.stream;
        for start in std::mem::take(&mut self.dirty_segments) {
            let end = self
                .segments
                .range(start + 1..)
                .next()
                .copied()
                .or(self.tail_start);
            let msgs = self.messages_in(start, end);
            if msgs.is_empty() {
                self.segments.remove(&start);
                writes.push(Write::DeleteSegment {
                    stream: stream.clone(),
                    start,
                });
            } else {
                writes.push(Write::PutSegment {
                    stream: stream.clone(),
                    start,
                    bytes: codec::encode_segment(&msgs),
                });
            }
        }
        if let Some(start) = self.tail_start.take() {
            let msgs = self.messages_in(start, None);
            if !msgs.is_empty() {
                self.segments.insert(start);
                writes.push(Write::PutSegment {
                    stream: stream.clone(),
                    start,
                    bytes: codec::encode_segment(&msgs),
                });
            }
        }
        if std::mem::take(&mut self.state_dirty) {
            let st = self.state();
            let state = SeqState {
                first_seq: st.first_seq,
                last_seq: st.last_seq,
                last_ts: st.last_ts,
            };
            writes.push(Write::PutState {
                stream: stream.clone(),
                bytes: codec::encode_json(&state),
            });
        }
        for (name, record) in std::mem::take(&mut self.consumer_writes) {
            writes.push(match record {
                Some(r) => Write::PutConsumer {
                    stream: stream.clone(),
                    name,
                    bytes: codec::encode_consumer(&r),
                },
                None => Write::DeleteConsumer {
                    stream: stream.clone(),
                    name,
                },
            });
        }
        self.queue.borrow_mut().extend(writes);
        Ok(())
    }

    fn save_consumer(&mut self, name: &str, record: &ConsumerRecord) -> Result<(), StoreError> {
        self.mem.save_consumer(name, record)?;
        self.consumer_writes
            .insert(name.to_string(), Some(record.clone()));
        Ok(())
    }

    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.mem.remove_consumer(name)?;
        self.consumer_writes.insert(name.to_string(), None);
        Ok(())
    }

    fn consumers(&self) -> Result<BTreeMap<String, ConsumerRecord>, StoreError> {
        self.mem.consumers()
    }

    /// Forgets the stream at once: the deletion goes on the queue now, since a deleted stream is
    /// never synced again.
    fn delete(&mut self) -> Result<(), StoreError> {
        self.mem.delete()?;
        self.segments.clear();
        self.tail_start = None;
        self.dirty_segments.clear();
        self.consumer_writes.clear();
        self.state_dirty = false;
        self.queue.borrow_mut().push(Write::DeleteStream {
            stream: self.stream.clone(),
        });
        Ok(())
    }
}
