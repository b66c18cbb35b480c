//! Reconnect backoff with jitter, deterministic for a given seed.
//!
//! The core has no randomness source of its own: the caller seeds a small generator
//! (SplitMix64) once, from the OS in a shell or a constant in a test, and every delay and inbox
//! token after that follows from the seed. The schedule after `attempt` consecutive failures is
//! nats.go's idea with async-nats' growth: the first retry after a connection that was up goes
//! at once (plus jitter), later ones wait `min · 2^(attempt-1)` capped at `max`, plus a uniform
//! jitter in `[0, jitter]` so many links cut by one outage do not all come back in step.

use crate::core::time::{Nanos, MILLIS, SECONDS};

/// How long to wait between connection attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the second consecutive failure; it doubles from there.
    pub min: Nanos,
    /// The longest wait (before jitter).
    pub max: Nanos,
    /// The largest random addition to every wait.
    pub jitter: Nanos,
}

impl Default for Backoff {
    /// 250 ms doubling to 4 s (nats.go waits a flat 2 s), plus up to 100 ms (nats.go's jitter).
    fn default() -> Self {
        Backoff {
            min: 250 * MILLIS,
            max: 4 * SECONDS,
            jitter: 100 * MILLIS,
        }
    }
}

impl Backoff {
    /// The wait before the next attempt after `attempt` consecutive failures (0: the
    /// connection had been established), with `random` drawn uniformly from `u64`.
    pub fn delay(&self, attempt: u32, random: u64) -> Nanos {
        let base = match attempt {
            0 => 0,
            n => {
                let doublings = (n - 1).min(62);
                self.min
                    .max(0)
                    .saturating_mul(1i64 << doublings)
                    .min(self.max.max(self.min).max(0))
            }
        };
        base.saturating_add(self.jitter_of(random))
    }

    /// The longest wait, used after an authorization failure.
    pub fn longest(&self, random: u64) -> Nanos {
        self.max
            .max(self.min)
            .max(0)
            .saturating_add(self.jitter_of(random))
    }

    fn jitter_of(&self, random: u64) -> Nanos {
        match u64::try_from(self.jitter) {
            Ok(j) if j > 0 => (random % (j + 1)) as Nanos,
            _ => 0,
        }
    }
}

pub use crate::core::rand::Rng;
