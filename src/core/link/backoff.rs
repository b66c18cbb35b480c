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

/// SplitMix64: a tiny, well-mixed generator; enough for jitter and inbox names, never for keys.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `len` characters of base62, for an inbox token.
    pub fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..len)
            .map(|_| char::from(ALPHABET[(self.next_u64() % 62) as usize]))
            .collect()
    }
}
