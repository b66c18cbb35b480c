//! Storage limits, enforced as nats-server enforces them, so an operator can keep a disk (or
//! memory) from filling at all.
//!
//! - A publish to a stream whose storage type is already over the server's limit is refused
//!   with 503 / 10023 "insufficient resources", before anything is stored (nats-server's
//!   `limitsExceeded` check: the publish that crosses the limit is still taken, the next is not).
//! - A publish that would take the account over its own limit is refused with 400 / 10002
//!   "resource limits exceeded for account" (nats-server's `wouldExceedLimits`).
//! - A stream create or update whose `max_bytes` reservation does not fit in what is left of
//!   the limit is refused with 10047 "insufficient storage resources available" (10028 for
//!   memory), as nats-server's `checkBytesLimits`.
//!
//! The limit of a storage type is the account's (`max_memory`/`max_storage`, against this
//! engine's streams) and the server's (`server_max_memory`/`server_max_storage`, against the
//! streams of every engine sharing the config's [`ServerUsage`]); -1 is unlimited. Usage is the sum of
//! the streams' bytes, kept incrementally: a publish adds its bytes at once, and each flush
//! recounts only the streams written since the last one from their stores' own running byte
//! counts (so purges and removals count at the next batch), never every stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Engine, EngineConfig};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::stream::{StorageType, StreamConfig};

/// Bytes stored, per storage type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    memory: u64,
    storage: u64,
}

impl Usage {
    /// The bytes every stream of `engine` holds now (a full count, for checks).
    #[cfg(test)]
    pub(crate) fn of(engine: &Engine) -> Usage {
        let mut usage = Usage::default();
        for slot in engine.streams.values() {
            let bytes = slot.stream.state().bytes;
            *usage.total(slot.stream.config().storage) += bytes;
        }
        usage
    }

    fn total(&mut self, storage: StorageType) -> &mut u64 {
        match storage {
            StorageType::Memory => &mut self.memory,
            StorageType::File => &mut self.storage,
        }
    }

    /// Counts `bytes` just stored in a stream of type `storage`, here and server-wide.
    pub(crate) fn add(&mut self, server: &ServerUsage, storage: StorageType, bytes: u64) {
        let total = self.total(storage);
        *total = total.saturating_add(bytes);
        server.counter(storage).fetch_add(bytes, Ordering::Relaxed);
    }

    /// A stream of type `storage` counted as `was` bytes now holds `now`, here and server-wide.
    pub(crate) fn recount(
        &mut self,
        server: &ServerUsage,
        storage: StorageType,
        was: u64,
        now: u64,
    ) {
        let total = self.total(storage);
        *total = total.saturating_sub(was).saturating_add(now);
        server.recount(storage, was, now);
    }

    fn of_type(&self, storage: StorageType) -> u64 {
        match storage {
            StorageType::Memory => self.memory,
            StorageType::File => self.storage,
        }
    }
}

/// Bytes stored per storage type by every engine whose config shares it, so the server's
/// limits (`server_max_*`) count the streams of every account, as nats-server counts them.
/// Clones of an [`EngineConfig`] share one count; [`EngineConfig::default`] starts a new one.
#[derive(Clone, Default)]
pub struct ServerUsage(Arc<ServerCounts>);

#[derive(Default)]
struct ServerCounts {
    memory: AtomicU64,
    storage: AtomicU64,
}

impl ServerUsage {
    fn counter(&self, storage: StorageType) -> &AtomicU64 {
        match storage {
            StorageType::Memory => &self.0.memory,
            StorageType::File => &self.0.storage,
        }
    }

    /// Bytes of `storage` streams over every engine sharing this count.
    pub fn of_type(&self, storage: StorageType) -> u64 {
        self.counter(storage).load(Ordering::Relaxed)
    }

    fn recount(&self, storage: StorageType, was: u64, now: u64) {
        let _ = self
            .counter(storage)
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                Some(total.saturating_sub(was).saturating_add(now))
            });
    }
}

impl PartialEq for ServerUsage {
    /// The same count, not equal numbers.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ServerUsage {}

impl std::fmt::Debug for ServerUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerUsage")
            .field("memory", &self.of_type(StorageType::Memory))
            .field("storage", &self.of_type(StorageType::File))
            .finish()
    }
}

/// The tighter of two limits (-1, or any negative: unlimited).
fn tighter(a: i64, b: i64) -> Option<u64> {
    match (u64::try_from(a).ok(), u64::try_from(b).ok()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Why a publish of `size` bytes to a `storage` stream is refused, if it is: the server's limit
/// already passed (10023), or the account's limit that this message would pass (10002).
pub(crate) fn refuse_publish(
    config: &EngineConfig,
    usage: &Usage,
    storage: StorageType,
    size: u64,
) -> Option<ErrorKind> {
    let (account, server) = match storage {
        StorageType::Memory => (config.max_memory, config.server_max_memory),
        StorageType::File => (config.max_storage, config.server_max_storage),
    };
    let server_used = config.server_usage.of_type(storage);
    if u64::try_from(server).is_ok_and(|max| server_used > max) {
        return Some(ErrorKind::InsufficientResources);
    }
    let used = usage.of_type(storage);
    if u64::try_from(account).is_ok_and(|max| used.saturating_add(size) > max) {
        return Some(ErrorKind::AccountResourcesExceeded);
    }
    None
}

/// The byte limit of `storage` streams under `config`, if any.
pub(crate) fn limit_of(config: &EngineConfig, storage: StorageType) -> Option<u64> {
    match storage {
        StorageType::Memory => tighter(config.max_memory, config.server_max_memory),
        StorageType::File => tighter(config.max_storage, config.server_max_storage),
    }
}

impl Engine {
    /// Refuses a stream config whose `max_bytes` reservation does not fit: the reservations of
    /// the other streams of its storage type plus its own (1 byte when it has none, as
    /// nats-server counts it) must stay within the limit.
    pub(crate) fn check_reservation(&self, config: &StreamConfig) -> Result<(), ApiError> {
        let Some(max) = limit_of(&self.config, config.storage) else {
            return Ok(());
        };
        let reserved: u64 = self
            .streams
            .values()
            .filter(|slot| slot.stream.name() != config.name)
            .map(|slot| slot.stream.config())
            .filter(|other| other.storage == config.storage)
            .map(|other| u64::try_from(other.max_bytes).unwrap_or(0))
            .sum();
        let wanted = u64::try_from(config.max_bytes).unwrap_or(1).max(1);
        if reserved > max || wanted > max - reserved {
            return Err(match config.storage {
                StorageType::File => ErrorKind::StorageResourcesExceeded.into(),
                StorageType::Memory => ErrorKind::MemoryResourcesExceeded.into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::engine::StoreFactory;
    use crate::core::store::memory::MemoryStore;
    use bytes::Bytes;

    /// An engine with `config`'s limits and one file-typed stream `S` on subject `s`.
    fn engine(config: EngineConfig) -> Engine {
        let factory: StoreFactory = Box::new(|_| Ok(Box::new(MemoryStore::new())));
        let mut engine = Engine::new(config, factory, 1);
        let stream: StreamConfig =
            serde_json::from_str(r#"{"name":"S","subjects":["s"]}"#).expect("config");
        engine.create_stream(stream, 1).expect("create");
        engine
    }

    /// Publishes 100-byte payloads until one is refused; returns (taken, refusal).
    fn fill(engine: &mut Engine) -> (u64, ApiError) {
        for taken in 0..1000 {
            match engine.publish("s", None, Bytes::from(vec![b'x'; 100]), 1) {
                Some(Ok(_)) => {}
                Some(Err(err)) => return (taken, err),
                None => panic!("no stream"),
            }
            // Usage is recounted once per batch; here each publish is its own batch.
            engine.flush().result().expect("memory store syncs");
        }
        panic!("never refused");
    }

    #[test]
    fn the_server_limit_takes_the_crossing_publish_then_refuses_with_10023() {
        let mut engine = engine(EngineConfig {
            server_max_storage: 1000,
            ..EngineConfig::default()
        });
        let (taken, err) = fill(&mut engine);
        assert!(err.is(ErrorKind::InsufficientResources), "{err:?}");
        let size = crate::core::store::record_size("s", None, &Bytes::from(vec![b'x'; 100]));
        assert_eq!(
            taken,
            1000 / size + 1,
            "the publish crossing the limit was taken"
        );
    }

    #[test]
    fn the_account_limit_refuses_the_publish_that_would_pass_it_with_10002() {
        let mut engine = engine(EngineConfig {
            max_storage: 1000,
            ..EngineConfig::default()
        });
        let (taken, err) = fill(&mut engine);
        assert!(err.is(ErrorKind::AccountResourcesExceeded), "{err:?}");
        let size = crate::core::store::record_size("s", None, &Bytes::from(vec![b'x'; 100]));
        assert_eq!(taken, 1000 / size, "no publish passes the limit");
    }

    #[test]
    fn usage_kept_incrementally_matches_a_full_count() {
        let mut engine = engine(EngineConfig::default());
        let other: StreamConfig =
            serde_json::from_str(r#"{"name":"T","subjects":["t"],"storage":"memory"}"#)
                .expect("config");
        engine.create_stream(other, 1).expect("create");
        let publish = |engine: &mut Engine, subject: &str, n: usize| {
            for _ in 0..n {
                let payload = Bytes::from(vec![b'x'; 100]);
                assert!(matches!(
                    engine.publish(subject, None, payload, 1),
                    Some(Ok(_))
                ));
            }
        };
        publish(&mut engine, "s", 10);
        publish(&mut engine, "t", 5);
        assert_eq!(engine.usage, Usage::of(&engine), "counted as stored");
        engine.flush().result().expect("flush");
        assert_eq!(engine.usage, Usage::of(&engine));
        engine
            .purge_stream("S", &Default::default(), 1)
            .expect("purge");
        engine.delete_msg("T", 2, false, 0).expect("delete");
        engine.flush().result().expect("flush");
        assert_eq!(
            engine.usage,
            Usage::of(&engine),
            "purge and removal counted"
        );
        assert_eq!(engine.usage.storage, 0);
        engine.delete_stream("T").expect("delete stream");
        engine.flush().result().expect("flush");
        assert_eq!(engine.usage, Usage::default(), "nothing left");
    }

    #[test]
    fn the_server_limit_counts_every_engine_sharing_the_config() {
        let config = EngineConfig {
            server_max_storage: 1000,
            ..EngineConfig::default()
        };
        let mut first = engine(config.clone());
        let mut second = engine(config.clone());
        let payload = || Bytes::from(vec![b'x'; 100]);
        for _ in 0..6 {
            assert!(matches!(
                first.publish("s", None, payload(), 1),
                Some(Ok(_))
            ));
        }
        first.flush().result().expect("flush");
        let (taken, err) = fill(&mut second);
        assert!(err.is(ErrorKind::InsufficientResources), "{err:?}");
        assert!(taken < 5, "the first engine's bytes count: {taken} taken");
        drop(first);
        assert!(
            matches!(second.publish("s", None, payload(), 1), Some(Ok(_))),
            "a dropped engine's bytes no longer count"
        );
        let mut unrelated = engine(EngineConfig {
            server_max_storage: 1000,
            ..EngineConfig::default()
        });
        assert!(matches!(
            unrelated.publish("s", None, payload(), 1),
            Some(Ok(_))
        ));
        assert_ne!(unrelated.config().server_usage, config.server_usage);
    }

    #[test]
    fn the_tighter_limit_wins_and_negative_is_unlimited() {
        assert_eq!(tighter(-1, -1), None);
        assert_eq!(tighter(-1, 10), Some(10));
        assert_eq!(tighter(7, -1), Some(7));
        assert_eq!(tighter(7, 10), Some(7));
    }
}
