//! Macros for a [`StreamStore`](super::StreamStore) that wraps another and hands it most calls:
//! the IndexedDB store (its reads go to its resident memory store), the fault-injecting
//! [`FaultyStore`](super::faulty::FaultyStore) and the tests' wrappers. Each expands, inside an
//! `impl StreamStore for …` block, to the methods that only ask the store in field `$inner`, so
//! a wrapper writes out only the calls it does something about.

/// Implements the read-only [`StreamStore`](crate::core::store::StreamStore) methods (and
/// `consumers`) by asking the store in field `$inner`.
macro_rules! delegate_reads {
    ($inner:ident) => {
        fn load_msg(
            &self,
            seq: $crate::core::store::Seq,
        ) -> Result<$crate::core::store::StoredMsg, $crate::core::store::StoreError> {
            self.$inner.load_msg(seq)
        }

        fn load_next_msg(
            &self,
            filter: &str,
            start: $crate::core::store::Seq,
        ) -> Result<$crate::core::store::StoredMsg, $crate::core::store::StoreError> {
            self.$inner.load_next_msg(filter, start)
        }

        fn load_last_msg(
            &self,
            filter: &str,
        ) -> Result<$crate::core::store::StoredMsg, $crate::core::store::StoreError> {
            self.$inner.load_last_msg(filter)
        }

        fn state(&self) -> $crate::core::store::StreamState {
            self.$inner.state()
        }

        fn filtered_state(
            &self,
            start: $crate::core::store::Seq,
            filter: &str,
        ) -> $crate::core::store::SimpleState {
            self.$inner.filtered_state(start, filter)
        }

        fn subjects_state(
            &self,
            filter: &str,
        ) -> std::collections::BTreeMap<String, $crate::core::store::SimpleState> {
            self.$inner.subjects_state(filter)
        }

        fn num_pending(
            &self,
            start: $crate::core::store::Seq,
            filter: &str,
            last_per_subject: bool,
        ) -> u64 {
            self.$inner.num_pending(start, filter, last_per_subject)
        }

        fn deleted(&self) -> Vec<$crate::core::store::Seq> {
            self.$inner.deleted()
        }

        fn consumers(
            &self,
        ) -> Result<
            std::collections::BTreeMap<String, $crate::core::store::ConsumerRecord>,
            $crate::core::store::StoreError,
        > {
            self.$inner.consumers()
        }
    };
}
pub(crate) use delegate_reads;

/// Implements the [`StreamStore`](crate::core::store::StreamStore) methods that write or
/// remove messages (store, skip, remove, purge, compact) and `delete` by handing them to the
/// store in field `$inner`; `sync` and the consumer writes stay the wrapper's own.
macro_rules! delegate_message_writes {
    ($inner:ident) => {
        fn store_msg(
            &mut self,
            subject: &str,
            headers: Option<bytes::Bytes>,
            payload: bytes::Bytes,
            now: $crate::core::time::Nanos,
        ) -> Result<$crate::core::store::Seq, $crate::core::store::StoreError> {
            self.$inner.store_msg(subject, headers, payload, now)
        }

        fn skip_msg(
            &mut self,
            now: $crate::core::time::Nanos,
        ) -> Result<$crate::core::store::Seq, $crate::core::store::StoreError> {
            self.$inner.skip_msg(now)
        }

        fn remove_msg(
            &mut self,
            seq: $crate::core::store::Seq,
        ) -> Result<bool, $crate::core::store::StoreError> {
            self.$inner.remove_msg(seq)
        }

        fn purge(
            &mut self,
            filter: &str,
            below_seq: $crate::core::store::Seq,
            keep: u64,
        ) -> Result<u64, $crate::core::store::StoreError> {
            self.$inner.purge(filter, below_seq, keep)
        }

        fn compact(
            &mut self,
            seq: $crate::core::store::Seq,
        ) -> Result<u64, $crate::core::store::StoreError> {
            self.$inner.compact(seq)
        }

        fn delete(&mut self) -> Result<(), $crate::core::store::StoreError> {
            self.$inner.delete()
        }
    };
}
pub(crate) use delegate_message_writes;
