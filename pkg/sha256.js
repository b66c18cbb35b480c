// SHA-256 for the object store, fed chunk by chunk (WebCrypto's digest takes the whole input at
// once). It is the `sha2` crate inside the package's wasm (src/wasm/digest.rs); the module is
// loaded by `open()` and `connect()` before any store can be used.
export { Sha256 } from './dist/contrail.js';
