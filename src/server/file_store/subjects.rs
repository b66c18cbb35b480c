//! The subject table: each distinct stored subject once, with a small id the slots refer to, its
//! message count and bounds on its first and last sequence.
//!
//! Bounds rather than exact values: a removal only decrements the count, and the first/last are
//! found again lazily by scanning the slots from the bound (see `query.rs`), which then tightens
//! it. That keeps removals O(1) however a subject's messages are spread.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::core::store::Seq;

/// Per-subject bookkeeping.
#[derive(Debug)]
pub(crate) struct SubjectEntry {
    /// The subject (shared with the name-to-id map).
    pub name: Arc<str>,
    /// Live messages on this subject.
    pub msgs: u64,
    /// No live message of this subject is below this sequence.
    pub first: Cell<Seq>,
    /// No live message of this subject is above this sequence.
    pub last: Cell<Seq>,
}

/// Every subject with at least one live message.
#[derive(Debug, Default)]
pub(crate) struct Subjects {
    entries: Vec<Option<SubjectEntry>>,
    ids: HashMap<Arc<str>, u32>,
    free: Vec<u32>,
}

impl Subjects {
    /// Counts a new message `seq` on `name` (higher than any before on it) and returns the id.
    pub fn add(&mut self, name: &str, seq: Seq) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            if let Some(entry) = self.entries[id as usize].as_mut() {
                entry.msgs += 1;
                entry.last.set(seq);
                return id;
            }
        }
        let name: Arc<str> = name.into();
        let entry = SubjectEntry {
            name: name.clone(),
            msgs: 1,
            first: Cell::new(seq),
            last: Cell::new(seq),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(entry);
                id
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.ids.insert(name, id);
        id
    }

    /// Uncounts one message of subject `id`; the subject is forgotten with its last message.
    pub fn release(&mut self, id: u32) {
        let Some(Some(entry)) = self.entries.get_mut(id as usize) else {
            return;
        };
        entry.msgs -= 1;
        if entry.msgs > 0 {
            return;
        }
        if let Some(entry) = self.entries[id as usize].take() {
            self.ids.remove(&entry.name);
        }
        self.free.push(id);
    }

    /// The entry of subject `id`.
    pub fn get(&self, id: u32) -> Option<&SubjectEntry> {
        self.entries.get(id as usize)?.as_ref()
    }

    /// The id of a subject with live messages.
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// Every subject with its id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.ids.iter().map(|(name, id)| (&**name, *id))
    }

    /// How many subjects have live messages.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The highest id in use plus one (size for id-indexed tables).
    pub fn id_bound(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_forgotten_with_its_last_message_and_its_id_reused() {
        let mut subjects = Subjects::default();
        let a = subjects.add("a", 1);
        assert_eq!(subjects.add("a", 2), a);
        let b = subjects.add("b", 3);
        subjects.release(a);
        assert_eq!(subjects.id_of("a"), Some(a));
        subjects.release(a);
        assert_eq!(subjects.id_of("a"), None);
        assert_eq!(subjects.len(), 1);
        let c = subjects.add("c", 4);
        assert_eq!(c, a, "the freed id is reused");
        assert_eq!(subjects.get(b).map(|e| e.msgs), Some(1));
    }
}
