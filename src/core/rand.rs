//! The core's one pseudo-random generator. The core reads no randomness of its own: a shell
//! seeds it once (from the OS, or `crypto.getRandomValues` in a browser; a constant in a test),
//! and every jitter, inbox token and consumer name after that follows from the seed, so tests
//! replay exactly.

/// SplitMix64: a tiny, well-mixed generator; enough for jitter and names, never for keys.
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
