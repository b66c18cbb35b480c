// The API routes `attach()` made, recorded in the database itself, so the tab that takes over a
// shared database can attach them again (tabmirrors.js) and local mirrors go on without app code.
//
// Where: the engine's IndexedDB database, object store `consumers`, keys `['', api]` (no stream
// has the empty name; opening skips these records, src/wasm/engine.rs). The value is JSON bytes,
// as every value there: `{api, remoteApi, server, domain, external}`: the server's URL as the
// connection reports it (`getServer()`), never credentials. A second connection to the database
// writes them: IndexedDB serves it next to the engine's, each transaction on its own.
//
// Only where IndexedDB is (browsers); elsewhere nothing is recorded and nothing is read.

/** Schema version of the engine's database (src/wasm/idb/db.rs VERSION). */
const VERSION = 2;
const STORE = 'consumers';
const td = new TextDecoder();
const te = new TextEncoder();

/** Opens database `name` as the engine left it; null where there is no IndexedDB or no such database. */
function openDb(name) {
  const factory = globalThis.indexedDB;
  if (!factory || !name) return Promise.resolve(null);
  return new Promise((resolve) => {
    const req = factory.open(name, VERSION);
    // The database is gone (deleted meanwhile): make nothing, the engine lays it out itself.
    req.onupgradeneeded = () => req.transaction.abort();
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => resolve(null);
    req.onblocked = () => resolve(null);
  });
}

/** Runs `fn(store)` in a transaction on the records' store; resolves once it committed. */
async function withStore(name, mode, fn) {
  const db = await openDb(name);
  if (!db) return null;
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode, { durability: 'strict' });
      const out = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(out.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Records route `rec` (`{api, remoteApi, server, domain?, external?}`) in database `name`. */
export function recordAttachment(name, rec) {
  const value = te.encode(JSON.stringify(rec));
  return withStore(name, 'readwrite', (store) => store.put(value, ['', rec.api]));
}

/** Forgets the route of local API prefix `api` (a `detach()`). */
export function forgetAttachment(name, api) {
  return withStore(name, 'readwrite', (store) => store.delete(['', api]));
}

/** The routes recorded in database `name`; unreadable ones are left out. */
export async function recordedAttachments(name) {
  const range = globalThis.IDBKeyRange?.bound(['', ''], ['', []]);
  if (!range) return [];
  const values = (await withStore(name, 'readonly', (store) => store.getAll(range))) ?? [];
  const out = [];
  for (const v of values) {
    try {
      const rec = JSON.parse(td.decode(v));
      if (typeof rec.api === 'string' && typeof rec.server === 'string') out.push(rec);
    } catch {
      // not ours to mend: skipped
    }
  }
  return out;
}
