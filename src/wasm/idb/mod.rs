//! IndexedDB persistence for the browser engine: the store, its record formats and the database.

pub mod codec;
pub mod db;
pub mod store;
pub mod write;

pub use db::Database;
pub use store::IdbStore;
pub use write::{CommitQueue, Write};
