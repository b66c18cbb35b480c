//! Where JetStream data lives: the engine's store factory and stream configs across restarts.
//!
//! Layout, one directory per stream of an account (`$G`, the global account, unless accounts
//! are configured): `<store_dir>/<account>/streams/<name>/stream.json` holds the config and creation time; the stream's
//! file store keeps its messages and consumer records in the same directory. Streams with
//! `storage: memory` live in a memory store and, as in nats-server, do not survive a restart.
//!
//! `stream.json` is written (to a temporary file, synced, then renamed) before the reply to the
//! create or update leaves, so a stream a client was told exists is there after a crash.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::engine::{Engine, EngineConfig, StoreFactory};
use crate::core::store::memory::MemoryStore;
use crate::core::store::{StoreError, StreamStore};
use crate::core::stream::{StorageType, StreamConfig};
use crate::core::time::Nanos;

/// The account clients share when no accounts are configured (nats-server's global account).
pub const ACCOUNT: &str = "$G";
/// Name of the per-stream config file.
const META_FILE: &str = "stream.json";

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
    /// The `stream.json` bytes last written, per stream.
    saved: BTreeMap<String, Vec<u8>>,
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
            saved: BTreeMap::new(),
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
        self.saved.insert(name.clone(), bytes);
        Ok(name)
    }

    /// Writes `stream.json` for file streams whose config changed, and forgets deleted ones.
    pub fn save_configs(&mut self, engine: &Engine) {
        let mut live = BTreeMap::new();
        for name in engine.stream_names(None) {
            let Some(stream) = engine.stream(&name) else {
                continue;
            };
            if stream.config().storage != StorageType::File {
                continue;
            }
            let meta = StreamMeta {
                config: stream.config().clone(),
                created: stream.created(),
            };
            let Ok(bytes) = serde_json::to_vec_pretty(&meta) else {
                continue;
            };
            if self.saved.get(&name) != Some(&bytes) {
                if let Err(err) = write_atomic(&self.root.join(&name), &bytes) {
                    tracing::error!(stream = %name, %err, "cannot save stream config");
                    continue;
                }
            }
            live.insert(name, bytes);
        }
        for name in self.saved.keys() {
            if !live.contains_key(name) {
                // Deleted: the store removed its own files; drop the config and the directory.
                let dir = self.root.join(name);
                let _ = std::fs::remove_file(dir.join(META_FILE));
                let _ = std::fs::remove_dir(&dir);
            }
        }
        self.saved = live;
    }
}

/// The store for a stream: a file store for `storage: file`, memory otherwise.
fn open_store(root: &Path, config: &StreamConfig) -> Result<Box<dyn StreamStore>, StoreError> {
    match config.storage {
        StorageType::Memory => Ok(Box::new(MemoryStore::new())),
        StorageType::File => open_file_store(&root.join(&config.name), config),
    }
}

/// Writes `stream.json` in `dir` so that a crash leaves the old or the new file, never half.
fn write_atomic(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{META_FILE}.tmp"));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(META_FILE))?;
    // Make the rename itself durable.
    std::fs::File::open(dir)?.sync_all()
}

/// A file store in the stream's directory.
fn open_file_store(dir: &Path, _config: &StreamConfig) -> Result<Box<dyn StreamStore>, StoreError> {
    let store =
        super::file_store::FileStore::open(dir, super::file_store::FileStoreConfig::default())?;
    Ok(Box::new(store))
}
