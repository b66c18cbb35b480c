//! Values by sequence number, for sequences that are mostly dense but may have holes.
//!
//! Sequences grow by one per store, so an array indexed by `seq` beats any tree. A single flat
//! array would let one old survivor pin memory for every sequence after it (a KV key written once
//! while other keys churn), so the array is cut into fixed blocks: a block whose values are all gone
//! is freed and leaves an 8-byte hole in the block deque, and the deque drops holes at either end.
//! Memory is O(values held + span / BLOCK_LEN).

use std::collections::VecDeque;

use crate::core::store::Seq;

/// log2 of the sequences per block.
const BLOCK_SHIFT: u32 = 8;
/// Sequences per block.
const BLOCK_LEN: usize = 1 << BLOCK_SHIFT;
const OFFSET_MASK: u64 = BLOCK_LEN as u64 - 1;
/// Freed block buffers kept for reuse, so a stream churning at its limit does not allocate.
const SPARE_BLOCKS: usize = 2;

/// The values of sequences `number * BLOCK_LEN ..`; `slots` is only as long as the highest value
/// held (positions past its end are holes).
#[derive(Debug)]
struct Block<T> {
    slots: Vec<Option<T>>,
    live: usize,
}

/// A map from sequence to value, for keys inserted in increasing order.
#[derive(Debug)]
pub(super) struct SeqSlots<T> {
    /// Block `base + i` at index `i`; `None` is a block with nothing in it. Never starts or ends
    /// with `None`.
    blocks: VecDeque<Option<Block<T>>>,
    /// Block number of `blocks[0]`.
    base: u64,
    spare: Vec<Vec<Option<T>>>,
}

impl<T> Default for SeqSlots<T> {
    fn default() -> Self {
        Self {
            blocks: VecDeque::new(),
            base: 0,
            spare: Vec::new(),
        }
    }
}

fn split(seq: Seq) -> (u64, usize) {
    (seq >> BLOCK_SHIFT, (seq & OFFSET_MASK) as usize)
}

fn join(block: u64, offset: usize) -> Seq {
    (block << BLOCK_SHIFT) | offset as u64
}

impl<T> SeqSlots<T> {
    /// Index into `blocks` and offset in the block of `seq`, when its block is in range.
    fn locate(&self, seq: Seq) -> Option<(usize, usize)> {
        let (number, offset) = split(seq);
        let index = usize::try_from(number.checked_sub(self.base)?).ok()?;
        (index < self.blocks.len()).then_some((index, offset))
    }

    /// The value at `seq`.
    pub(super) fn get(&self, seq: Seq) -> Option<&T> {
        let (index, offset) = self.locate(seq)?;
        self.blocks
            .get(index)?
            .as_ref()?
            .slots
            .get(offset)?
            .as_ref()
    }

    /// Puts `value` at `seq`, which must be above every sequence held.
    pub(super) fn push(&mut self, seq: Seq, value: T) {
        let (number, offset) = split(seq);
        if self.blocks.is_empty() {
            self.base = number;
        }
        // Holes between the last block and this one cost one `None` each; the span is bounded by
        // the number of sequences ever assigned, so this cannot run away.
        let index = number.saturating_sub(self.base) as usize;
        while self.blocks.len() <= index {
            self.blocks.push_back(None);
        }
        let spare = &mut self.spare;
        let Some(entry) = self.blocks.get_mut(index) else {
            return;
        };
        let block = entry.get_or_insert_with(|| Block {
            slots: spare.pop().unwrap_or_else(|| Vec::with_capacity(BLOCK_LEN)),
            live: 0,
        });
        if let Some(slot) = block.slots.get_mut(offset) {
            // Only reachable if a caller broke the increasing-order rule; stay consistent anyway.
            if slot.replace(value).is_none() {
                block.live += 1;
            }
            return;
        }
        block.slots.resize_with(offset, || None);
        block.slots.push(Some(value));
        block.live += 1;
    }

    /// Removes and returns the value at `seq`.
    pub(super) fn take(&mut self, seq: Seq) -> Option<T> {
        let (index, offset) = self.locate(seq)?;
        let entry = self.blocks.get_mut(index)?;
        let block = entry.as_mut()?;
        let value = block.slots.get_mut(offset)?.take()?;
        block.live -= 1;
        while let Some(None) = block.slots.last() {
            block.slots.pop();
        }
        if block.live == 0 {
            if let Some(mut emptied) = entry.take() {
                if self.spare.len() < SPARE_BLOCKS {
                    emptied.slots.clear();
                    self.spare.push(emptied.slots);
                }
            }
            self.trim();
        }
        Some(value)
    }

    /// Drops empty blocks at both ends.
    fn trim(&mut self) {
        while let Some(None) = self.blocks.front() {
            self.blocks.pop_front();
            self.base += 1;
        }
        while let Some(None) = self.blocks.back() {
            self.blocks.pop_back();
        }
    }

    /// Drops every value.
    pub(super) fn clear(&mut self) {
        self.blocks.clear();
        self.base = 0;
    }

    /// Where iteration from `seq` starts: block index and offset (past the end when `seq` is).
    fn start(&self, seq: Seq) -> (usize, usize) {
        let (number, offset) = split(seq);
        match number.checked_sub(self.base) {
            None => (0, 0),
            Some(index) => match usize::try_from(index) {
                Ok(index) if index < self.blocks.len() => (index, offset),
                _ => (self.blocks.len(), 0),
            },
        }
    }

    /// Values held at `seq` and above, ascending.
    pub(super) fn iter_from(&self, seq: Seq) -> impl Iterator<Item = (Seq, &T)> + '_ {
        let (first_index, first_offset) = self.start(seq);
        let base = self.base;
        self.blocks
            .range(first_index..)
            .enumerate()
            .filter_map(|(k, block)| block.as_ref().map(|b| (k, b)))
            .flat_map(move |(k, block)| {
                let number = base + (first_index + k) as u64;
                let from = if k == 0 { first_offset } else { 0 };
                block
                    .slots
                    .iter()
                    .enumerate()
                    .skip(from)
                    .filter_map(move |(i, v)| v.as_ref().map(|v| (join(number, i), v)))
            })
    }

    /// Values held at `seq` and below, descending.
    pub(super) fn iter_back_from(&self, seq: Seq) -> impl Iterator<Item = (Seq, &T)> + '_ {
        let (number, offset) = split(seq);
        let base = self.base;
        // One past the last block to visit, and the highest offset to visit in it.
        let (end, last_offset) = match number.checked_sub(base) {
            None => (0, 0),
            Some(index) => match usize::try_from(index) {
                Ok(index) if index < self.blocks.len() => (index + 1, offset),
                _ => (self.blocks.len(), BLOCK_LEN - 1),
            },
        };
        self.blocks
            .range(..end)
            .enumerate()
            .rev()
            .filter_map(|(k, block)| block.as_ref().map(|b| (k, b)))
            .flat_map(move |(k, block)| {
                let number = base + k as u64;
                let upto = if k + 1 == end {
                    last_offset + 1
                } else {
                    BLOCK_LEN
                };
                let visible = &block.slots[..upto.min(block.slots.len())];
                visible
                    .iter()
                    .enumerate()
                    .rev()
                    .filter_map(move |(i, v)| v.as_ref().map(|v| (join(number, i), v)))
            })
    }

    /// How many values are held at `seq` and above, visiting only the block holding `seq`.
    pub(super) fn count_from(&self, seq: Seq) -> u64 {
        let (first_index, first_offset) = self.start(seq);
        let mut blocks = self.blocks.range(first_index..).flatten();
        let head = match self.blocks.get(first_index) {
            Some(Some(block)) => {
                blocks.next();
                let tail = block.slots.get(first_offset..).unwrap_or(&[]);
                tail.iter().filter(|v| v.is_some()).count()
            }
            _ => 0,
        };
        (head + blocks.map(|b| b.live).sum::<usize>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(slots: &SeqSlots<u64>) -> Vec<Seq> {
        slots.iter_from(0).map(|(s, _)| s).collect()
    }

    #[test]
    fn values_round_trip_across_blocks() {
        let mut slots = SeqSlots::default();
        for seq in 1..=1000u64 {
            slots.push(seq, seq * 10);
        }
        assert_eq!(slots.get(700), Some(&7000));
        assert_eq!(slots.get(0), None);
        assert_eq!(slots.get(1001), None);
        assert_eq!(slots.count_from(300), 701);
        assert_eq!(slots.iter_from(998).count(), 3);
        let back: Vec<Seq> = slots.iter_back_from(258).take(4).map(|(s, _)| s).collect();
        assert_eq!(back, vec![258, 257, 256, 255]);
    }

    #[test]
    fn emptied_blocks_are_freed_and_holes_skipped() {
        let mut slots = SeqSlots::default();
        for seq in 1..=2000u64 {
            slots.push(seq, seq);
        }
        for seq in 2..2000u64 {
            assert_eq!(slots.take(seq), Some(seq));
        }
        assert_eq!(held(&slots), vec![1, 2000]);
        // Only the two end blocks still hold values.
        assert_eq!(slots.blocks.iter().flatten().count(), 2);
        assert_eq!(slots.count_from(2), 1);
        assert_eq!(slots.iter_back_from(1999).next(), Some((1, &1)));
        assert_eq!(slots.take(1), Some(1));
        assert_eq!(slots.blocks.len(), 1);
        assert_eq!(slots.take(2000), Some(2000));
        assert!(slots.blocks.is_empty());
        slots.push(5000, 1);
        assert_eq!(held(&slots), vec![5000]);
    }

    #[test]
    fn taking_twice_or_out_of_range_gives_none() {
        let mut slots = SeqSlots::default();
        slots.push(10, 1u64);
        assert_eq!(slots.take(10), Some(1));
        assert_eq!(slots.take(10), None);
        assert_eq!(slots.take(u64::MAX), None);
        assert_eq!(slots.count_from(0), 0);
    }
}
