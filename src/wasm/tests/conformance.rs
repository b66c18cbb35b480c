//! The shared store conformance suite on `IdbStore`, as wasm-bindgen tests.

use crate::wasm::idb::{CommitQueue, IdbStore};

use super::fake_db::ReopenedEachWrite;

/// The store as the engine uses it between commits.
mod resident {
    use super::*;
    crate::store_conformance_tests!(
        #[wasm_bindgen_test::wasm_bindgen_test]
        IdbStore::new("S", CommitQueue::default())
    );
}

/// Every answer from a store reopened from its persisted records after each change.
mod reopened {
    use super::*;
    crate::store_conformance_tests!(
        #[wasm_bindgen_test::wasm_bindgen_test]
        ReopenedEachWrite::new()
    );
}
