//! Where JetStream data lives: the engine's store factory and stream configs across restarts.
//!
//! Layout, one directory per stream of an account (`$G`, the global account, unless accounts
//! are configured): `<store_dir>/<account>/streams/<name>/stream.json` holds the config and creation time; the stream's
//! file store keeps its messages and consumer records in the same directory. Streams with
//! `storage: memory` live in a memory store and, as in nats-server, do not survive a restart.
//!
//! `stream.json` is written (to a temporary file, synced, then renamed) by the stream's store when
//! the engine creates or updates the stream ([`StreamStore::save_meta`]), before the engine
//! applies the change: when the write fails, the create or update is refused with an error and
//! the engine keeps what is on disk. So a stream a client was told exists is there after a crash,
//! with the config the client was told it has.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file_store::{FileStore, FileStoreConfig, META_FILE};
use crate::core::engine::{ChangedStreams, Engine, EngineConfig, StoreFactory};
use crate::core::store::memory::MemoryStore;
use crate::core::store::{StoreError, StreamStore};
use crate::core::stream::{StorageType, StreamConfig};
use crate::core::time::Nanos;

/// The account clients share when no accounts are configured (nats-server's global account).
pub const ACCOUNT: &str = "$G";

/// A stream's persisted identity.
#[derive(Debug, Serialize, Deserialize)]
struct StreamMeta {
    config: StreamConfig,
    created: Nanos,
}

/// Opens stores for the engine and keeps stream configs on disk.
pub struct Storage {
    /// `<store_dir>/<account>/streams`.
    root: PathBuf,
    engine_config: EngineConfig,
    seed: u64,
    /// File streams known to have a `stream.json` (to remove it when the stream is deleted).
    saved: BTreeSet<String>,
}

impl Storage {
    /// Storage under `store_dir`; nothing is touched until [`Storage::open_engine`].
    pub fn new(store_dir: &Path, engine_config: EngineConfig, seed: u64) -> Storage {
        Self::for_account(store_dir, ACCOUNT, engine_config, seed)
    }

    /// Storage of `account`'s streams under `store_dir` (the name was checked to be a plain
    /// directory name when the config was read).
    pub fn for_account(
        store_dir: &Path,
        account: &str,
        engine_config: EngineConfig,
        seed: u64,
    ) -> Storage {
        Storage {
            root: store_dir.join(account).join("streams"),
            engine_config,
            seed,
            saved: BTreeSet::new(),
        }
    }

    /// Builds the engine and restores every file stream found on disk. A stream that cannot be
    /// restored is logged and skipped (its files are left alone for inspection).
    pub fn open_engine(&mut self, now: Nanos) -> io::Result<Engine> {
        std::fs::create_dir_all(&self.root)?;
        let root = self.root.clone();
        let factory: StoreFactory = Box::new(move |config| open_store(&root, config));
        let mut engine = Engine::new(self.engine_config.clone(), factory, self.seed);
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.root)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(META_FILE).is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            match self.restore_one(&mut engine, &dir, now) {
                Ok(name) => tracing::info!(stream = %name, "restored stream"),
                Err(err) => tracing::error!(dir = %dir.display(), %err, "cannot restore stream"),
            }
        }
        // What came due while the server was down (max_age, message TTLs) goes before any
        // client can read it.
        engine.handle_timeout(now);
        Ok(engine)
    }

    fn restore_one(
        &mut self,
        engine: &mut Engine,
        dir: &Path,
        now: Nanos,
    ) -> Result<String, String> {
        let bytes = std::fs::read(dir.join(META_FILE)).map_err(|e| e.to_string())?;
        let meta: StreamMeta = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let name = meta.config.name.clone();
        let store = open_store(&self.root, &meta.config).map_err(|e| e.to_string())?;
        let skipped = engine
            .restore_stream(meta.config, meta.created, store, now)
            .map_err(|e| e.to_string())?;
        for consumer in skipped {
            tracing::error!(stream = %name, consumer = %consumer.name, error = %consumer.error,
                "cannot restore consumer");
        }
        self.saved.insert(name.clone());
        Ok(name)
    }

    /// Forgets deleted file streams: removes their `stream.json` and directory. (Configs of
    /// live streams are written by their stores, see [`StreamStore::save_meta`].) Only the
    /// streams the engine names as changed are looked at, so an API call costs O(changed),
    /// not O(streams).
    pub fn save_configs(&mut self, engine: &Engine, changed: &ChangedStreams) {
        let names: Vec<String> = match changed {
            ChangedStreams::Some(changed) => changed.iter().cloned().collect(),
            ChangedStreams::All => self
                .saved
                .iter()
                .cloned()
                .chain(engine.stream_names(None))
                .collect(),
        };
        for name in names {
            let live = engine
                .stream(&name)
                .is_some_and(|s| s.config().storage == StorageType::File);
            if live {
                self.saved.insert(name);
            } else if self.saved.remove(&name) {
                // Deleted: the store removed its own files; drop the config and the directory.
                let dir = self.root.join(&name);
                let _ = std::fs::remove_file(dir.join(META_FILE));
                let _ = std::fs::remove_dir(&dir);
            }
        }
    }
}

/// nats-server's default file storage limit when `max_file_store` is not set: 75% of the space
/// free in `store_dir` at startup (1 TB when that cannot be read), so a disk never fills up.
pub fn default_max_file_store(store_dir: &Path) -> i64 {
    const FALLBACK: i64 = 1 << 40;
    let _ = std::fs::create_dir_all(store_dir);
    #[cfg(unix)]
    {
        match rustix::fs::statvfs(store_dir) {
            Ok(fs) => {
                let free = fs.f_bavail.saturating_mul(fs.f_frsize);
                i64::try_from(free / 4 * 3).unwrap_or(i64::MAX)
            }
            Err(_) => FALLBACK,
        }
    }
    #[cfg(not(unix))]
    {
        FALLBACK
    }
}

/// nats-server's default memory storage limit when `max_memory_store` is not set: 75% of the
/// machine's memory (256 MiB when that cannot be read).
pub fn default_max_memory_store() -> i64 {
    const FALLBACK: i64 = 256 << 20;
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<i64>()
                        .ok()
                })
        });
    match total_kib {
        Some(kib) => kib.saturating_mul(1024) / 4 * 3,
        None => FALLBACK,
    }
}

/// The store for a stream: a file store for `storage: file`, memory otherwise.
fn open_store(root: &Path, config: &StreamConfig) -> Result<Box<dyn StreamStore>, StoreError> {
    match config.storage {
        StorageType::Memory => Ok(Box::new(MemoryStore::new())),
        StorageType::File => open_file_store(&root.join(&config.name), config),
    }
}

/// A file store in the stream's directory; it keeps `stream.json` beside its segments
/// ([`StreamStore::save_meta`]).
fn open_file_store(dir: &Path, _config: &StreamConfig) -> Result<Box<dyn StreamStore>, StoreError> {
    Ok(Box::new(FileStore::open(dir, FileStoreConfig::default())?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorKind;

    fn temp_dir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "contrail-storage-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn config(json: &str) -> StreamConfig {
        serde_json::from_str(json).expect("valid config")
    }

    /// Makes writing `stream.json` in `dir` fail: its temporary file's name is taken by a
    /// directory.
    fn block_meta_writes(dir: &Path) {
        std::fs::create_dir_all(dir.join(format!("{META_FILE}.tmp"))).expect("block");
    }

    #[test]
    fn a_create_whose_config_cannot_be_written_fails_and_leaves_no_stream() {
        let root = temp_dir();
        let mut storage = Storage::new(&root, EngineConfig::default(), 1);
        let mut engine = storage.open_engine(1).expect("open");
        block_meta_writes(&root.join(ACCOUNT).join("streams").join("S"));
        let err = engine
            .create_stream(config(r#"{"name":"S","subjects":["s"]}"#), 1)
            .expect_err("the config is not durable");
        assert!(err.is(ErrorKind::StreamCreate), "{err:?}");
        assert!(engine.stream("S").is_none(), "the engine has no stream");
        drop(engine);
        let mut storage = Storage::new(&root, EngineConfig::default(), 1);
        let engine = storage.open_engine(2).expect("reopen");
        assert!(engine.stream("S").is_none(), "nor has the disk");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn an_update_whose_config_cannot_be_written_fails_and_keeps_the_old_config() {
        let root = temp_dir();
        let mut storage = Storage::new(&root, EngineConfig::default(), 1);
        let mut engine = storage.open_engine(1).expect("open");
        let old = r#"{"name":"S","subjects":["s"],"max_msgs":10}"#;
        engine.create_stream(config(old), 1).expect("create");
        block_meta_writes(&root.join(ACCOUNT).join("streams").join("S"));
        let err = engine
            .update_stream(config(r#"{"name":"S","subjects":["s"],"max_msgs":5}"#), 2)
            .expect_err("the new config is not durable");
        assert!(err.is(ErrorKind::StreamUpdate), "{err:?}");
        let in_force = |engine: &Engine| engine.stream("S").map(|s| s.config().max_msgs);
        assert_eq!(
            in_force(&engine),
            Some(10),
            "the engine keeps the old config"
        );
        drop(engine);
        let mut storage = Storage::new(&root, EngineConfig::default(), 1);
        let engine = storage.open_engine(3).expect("reopen");
        assert_eq!(in_force(&engine), Some(10), "and so does the disk");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn created_and_updated_configs_survive_a_restart() {
        let root = temp_dir();
        let mut storage = Storage::new(&root, EngineConfig::default(), 1);
        let mut engine = storage.open_engine(1).expect("open");
        engine
            .create_stream(config(r#"{"name":"S","subjects":["s"]}"#), 1)
            .expect("create");
        engine
            .update_stream(config(r#"{"name":"S","subjects":["s","t"]}"#), 2)
            .expect("update");
        drop(engine);
        let mut storage = Storage::new(&root, EngineConfig::default(), 1);
        let engine = storage.open_engine(3).expect("reopen");
        let stream = engine.stream("S").expect("restored");
        assert_eq!(stream.config().subjects, vec!["s", "t"]);
        assert_eq!(stream.created(), 1);
        let _ = std::fs::remove_dir_all(root);
    }
}
