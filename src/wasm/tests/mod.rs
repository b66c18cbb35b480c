//! The browser shell's own tests, run in headless Chromium by wasm-bindgen-test-runner
//! (`scripts/test-wasm`): the store conformance suite on `IdbStore`, directly and through its
//! persisted form, and the real IndexedDB round trips.

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod conformance;
mod fake_db;
mod fast_open;
mod faults;
mod indexeddb;
mod open_bench;
mod rollback;
mod segments;
