//! SHA-256 for the object store's digests, from the `sha2` crate (already in the core for
//! nats-server's sourcing consumer names). WebCrypto's `crypto.subtle.digest` takes the whole
//! input at once; this one is fed chunk by chunk as an object is written or read, so the package
//! holds one chunk at a time.

use sha2::{Digest, Sha256 as Sha2};
use wasm_bindgen::prelude::*;

/// An incremental SHA-256: `update(bytes)` any number of times, then `digest()` once (which
/// frees it).
#[wasm_bindgen(js_name = Sha256)]
#[derive(Default)]
pub struct Sha256(Sha2);

#[wasm_bindgen(js_class = Sha256)]
impl Sha256 {
    /// A hasher that has seen nothing.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Sha256 {
        Sha256::default()
    }

    /// Adds `bytes` to what is hashed.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The 32-byte digest of everything added.
    pub fn digest(self) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}
