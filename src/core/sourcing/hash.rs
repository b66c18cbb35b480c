//! nats-server's short hashes and random tokens: 8 base-62 characters.
//!
//! `get_hash` is its `getHash` (SHA-256, each of the first bytes taken mod 62), used for the
//! fixed consumer names (`JS_MIRROR_<hash>`) and for the `:<hash(api)>` of an external source in
//! `Nats-Stream-Source`; both must match what nats-server computes, or a restarted server would
//! not recognise its own consumers and headers. Random tokens (deliver subjects, reply inboxes)
//! come from the caller's randomness, so tests are deterministic.

use sha2::{Digest, Sha256};

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of a hash and of a random token.
pub const HASH_LEN: usize = 8;

/// nats-server's `getHash`: 8 base-62 characters of the SHA-256 of `name`.
pub fn get_hash(name: &str) -> String {
    let sum = Sha256::digest(name.as_bytes());
    sum.iter()
        .take(HASH_LEN)
        .map(|b| char::from(DIGITS[usize::from(*b % 62)]))
        .collect()
}

/// 8 base-62 characters from a random number, as nats-server's `syncSubject` makes them.
pub fn random_token(mut n: u64) -> String {
    let mut out = String::with_capacity(HASH_LEN);
    for _ in 0..HASH_LEN {
        out.push(char::from(DIGITS[(n % 62) as usize]));
        n /= 62;
    }
    out
}

/// The hash in a mirror's consumer name (`createStableConsumerHash`): of the stream name, the
/// account and, when the server has one, its JetStream domain.
pub fn stable_consumer_hash(stream: &str, account: &str, domain: &str) -> String {
    if domain.is_empty() {
        get_hash(&format!("{stream} {account}"))
    } else {
        get_hash(&format!("{stream} {account} {domain}"))
    }
}

/// The hash in a source's consumer name (`createSourcingConsumerHash`): the stable hash hashed
/// again, with the source's index name added when the stream sources the same origin more than
/// once (so each of those gets its own consumer).
pub fn source_consumer_hash(stable: &str, index_name: &str, origin_sourced_twice: bool) -> String {
    if origin_sourced_twice {
        get_hash(&format!("{stable} {index_name}"))
    } else {
        get_hash(stable)
    }
}
