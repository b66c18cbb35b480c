//! Storage limits, enforced as nats-server enforces them, so an operator can keep a disk (or
//! memory) from filling at all.
//!
//! - A publish to a stream whose storage type is already over its limit is refused with 503 /
//!   10023 "insufficient resources", before anything is stored (nats-server's
//!   `limitsExceeded` check: the publish that crosses the limit is still taken, the next is not).
//! - A stream create or update whose `max_bytes` reservation does not fit in what is left of
//!   the limit is refused with 10047 "insufficient storage resources available" (10028 for
//!   memory), as nats-server's `checkBytesLimits`.
//!
//! The limit of a storage type is the smaller of the account's (`max_memory`/`max_storage`) and
//! the server's (`server_max_memory`/`server_max_storage`); -1 is unlimited. Usage is the sum of
//! the streams' bytes, recomputed at every flush (once per batch, not per publish) plus what the
//! batch stored since: purges and removals count at the next batch.

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
    /// The bytes every stream of `engine` holds now.
    pub(crate) fn of(engine: &Engine) -> Usage {
        let mut usage = Usage::default();
        for slot in engine.streams.values() {
            usage.add(slot.stream.config().storage, slot.stream.state().bytes);
        }
        usage
    }

    /// Counts `bytes` just stored in a stream of type `storage`.
    pub(crate) fn add(&mut self, storage: StorageType, bytes: u64) {
        match storage {
            StorageType::Memory => self.memory = self.memory.saturating_add(bytes),
            StorageType::File => self.storage = self.storage.saturating_add(bytes),
        }
    }

    /// Whether `storage` streams already hold more than `limit` (a publish is refused).
    pub(crate) fn over(&self, limit: Option<u64>, storage: StorageType) -> bool {
        limit.is_some_and(|max| self.of_type(storage) > max)
    }

    fn of_type(&self, storage: StorageType) -> u64 {
        match storage {
            StorageType::Memory => self.memory,
            StorageType::File => self.storage,
        }
    }
}

/// The tighter of two limits (-1, or any negative: unlimited).
fn tighter(a: i64, b: i64) -> Option<u64> {
    match (u64::try_from(a).ok(), u64::try_from(b).ok()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The byte limit of `storage` streams under `config`, if any.
pub(crate) fn limit_of(config: &EngineConfig, storage: StorageType) -> Option<u64> {
    match storage {
        StorageType::Memory => tighter(config.max_memory, config.server_max_memory),
        StorageType::File => tighter(config.max_storage, config.server_max_storage),
    }
}

/// Whether any storage type has a limit (else usage need not be counted).
pub(crate) fn limited(config: &EngineConfig) -> bool {
    limit_of(config, StorageType::Memory).is_some() || limit_of(config, StorageType::File).is_some()
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

/// Whether a `$JS.API` request only reads totals and configs (its answer describes no write of
/// its own). Message reads are not among them: a failing store may hold a message not yet
/// durable, and its content waits for the flush like a delivery.
pub(crate) fn is_read_only(subject: &str) -> bool {
    let op = subject
        .strip_prefix(crate::core::api::API_PREFIX)
        .unwrap_or_default();
    op == "INFO"
        || [
            "STREAM.INFO.",
            "STREAM.NAMES",
            "STREAM.LIST",
            "CONSUMER.INFO.",
            "CONSUMER.NAMES.",
            "CONSUMER.LIST.",
        ]
        .iter()
        .any(|prefix| op.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tighter_limit_wins_and_negative_is_unlimited() {
        assert_eq!(tighter(-1, -1), None);
        assert_eq!(tighter(-1, 10), Some(10));
        assert_eq!(tighter(7, -1), Some(7));
        assert_eq!(tighter(7, 10), Some(7));
    }

    #[test]
    fn reads_are_told_apart_from_writes() {
        for read in [
            "$JS.API.INFO",
            "$JS.API.STREAM.INFO.S",
            "$JS.API.CONSUMER.LIST.S",
        ] {
            assert!(is_read_only(read), "{read}");
        }
        for write in [
            "$JS.API.STREAM.PURGE.S",
            "$JS.API.STREAM.CREATE.S",
            "$JS.API.CONSUMER.MSG.NEXT.S.C",
        ] {
            assert!(!is_read_only(write), "{write}");
        }
    }
}
