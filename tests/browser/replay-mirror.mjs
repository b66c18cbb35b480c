#!/usr/bin/env node
// A diagnostic, not a test: is a mirror catch-up slower than the IndexedDB ceiling because of
// what its transactions write (their shape) or because of what runs beside them (the engine, the
// browser's WebSocket and IndexedDB work, the server, all on the same cores)?
// 1. ROUNDS times, alternating in one page: the ceiling (MSGS x 128 B, 1000 per record, one
//    record per strict transaction), the catch-up of MSGS messages into IndexedDB, the same
//    catch-up into the memory engine (no IndexedDB at all); each as msgs/s and a ratio.
// 2. The last IndexedDB catch-up's readwrite transactions (every put and delete, with its store,
//    key and value) replayed in plain JavaScript into a fresh database with nothing else running
//    (one strict transaction each, awaited, committed explicitly, as the engine does), beside
//    the ceiling and variants: without deletes, without the state record, without rewrites (only
//    each key's last put: as if every flush appended), and the same segment bytes re-cut into
//    records of 128,000 or 256 KiB under integer keys. MB/s of values put for each.
// Needs pkg/dist and the server binary as bench-browser does ($CONTRAIL_BIN: use a release one).
//   node tests/browser/replay-mirror.mjs      MSGS=100000 (default), ROUNDS=3 (default)
import { serve, launchProfile } from './harness.mjs';
import { startServer } from './servers.mjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const msgs = Number(process.env.MSGS ?? 100000);
const rounds = Number(process.env.ROUNDS ?? 3);
const server = await serve();
const contrail = await startServer('contrail');
const dir = await mkdtemp(join(tmpdir(), 'replay-'));
const ctx = await launchProfile(dir);
try {
  const page = await ctx.newPage();
  page.on('console', (m) => console.log('page:', m.text()));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  const out = await page.evaluate(async ([url, msgs, rounds]) => {
    const txs = [];
    let cur = null;
    const oldPut = IDBObjectStore.prototype.put;
    const oldDelete = IDBObjectStore.prototype.delete;
    IDBObjectStore.prototype.put = function (v, k) {
      if (cur && globalThis.__record) cur.ops.push({ store: this.name, op: 'put', key: k, value: v });
      return oldPut.call(this, v, k);
    };
    IDBObjectStore.prototype.delete = function (k) {
      if (cur && globalThis.__record) cur.ops.push({ store: this.name, op: 'delete', key: k });
      return oldDelete.call(this, k);
    };
    const oldTx = IDBDatabase.prototype.transaction;
    IDBDatabase.prototype.transaction = function (...a) {
      const tx = oldTx.apply(this, a);
      if (a[1] === 'readwrite' && globalThis.__record) {
        cur = { scope: [].concat(a[0]), ops: [], start: performance.now() };
        const e = cur;
        txs.push(e);
        tx.addEventListener('complete', () => (e.end = performance.now()));
      }
      return tx;
    };
    const m = await import('/tests/browser/bench-page.mjs');
    const { open } = await import('/pkg/index.js');
    await m.loadWasm();
    const conn = await m.connectTo(url, 'REPLAY', 'mirrored.>');
    await m.publishRemote(conn, 'mirrored.a', { msgs, window: 1000, size: 128 });
    // The same catch-up into the memory engine: what it costs without IndexedDB.
    const memCatchUp = async () => {
      const local = await open();
      const att = await local.attach(conn, { domain: 'hub' });
      const jsm = await local.jetstreamManager();
      const t0 = performance.now();
      await jsm.streams.add({ name: 'MIRROR', mirror: { name: 'REPLAY', domain: 'hub' } });
      for (let i = 0; i < 10000; i++) {
        if ((await jsm.streams.info('MIRROR')).state.messages >= msgs) break;
        await new Promise((ok) => setTimeout(ok, 10));
      }
      const ms = performance.now() - t0;
      att.detach();
      await local.close();
      return { msgs, ms };
    };
    // Alternating: the ceiling (msgs x 128 B, 1000 per record), the catch-up into IndexedDB, the
    // catch-up into memory; the last IndexedDB one is recorded for the replay.
    const catchUps = [];
    for (let r = 0; r < rounds; r++) {
      const c = await m.ceiling({ msgs, perRecord: 1000, size: 128 });
      txs.length = 0;
      globalThis.__record = r === rounds - 1;
      const idb = await m.mirrorCatchUp(conn, msgs, 10000, 'REPLAY');
      globalThis.__record = false;
      const mem = await memCatchUp();
      const rate = (x) => (x.msgs * 1000) / x.ms;
      catchUps.push({ ceiling: rate(c), idb: rate(idb), mem: rate(mem) });
    }
        await conn.close();
    const mirrorTxs = txs.filter((t) => t.ops.length > 0);
    const liveTxMs = mirrorTxs.reduce((a, t) => a + (t.end - t.start), 0);

    const bytesOf = (v) => v?.byteLength ?? 0;
    const stores = ['meta', 'state', 'segments', 'consumers'];
    const wait = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
    const fresh = async (name) => {
      await wait(indexedDB.deleteDatabase(name));
      const open = indexedDB.open(name, 1);
      open.onupgradeneeded = () => { for (const s of stores) open.result.createObjectStore(s); };
      return wait(open);
    };
    const commit = (tx) => new Promise((ok, fail) => { tx.oncomplete = ok; tx.onabort = () => fail(tx.error); tx.commit(); });
    // Replays `list` (each: scope and ops), one strict transaction each, one in flight.
    const replay = async (list, { deletes = true, state = true, rewrites = true } = {}) => {
      const db = await fresh('replay');
      let bytes = 0;
      const t0 = performance.now();
      // Without rewrites: only the last put of each segment key (as if every flush appended).
      const keyOf = (o) => (Array.isArray(o.key) ? `${o.key[0]}/${[...o.key[1]]}` : String(o.key));
      const lastPut = new Map();
      list.forEach((t, i) => t.ops.forEach((o, j) => o.op === 'put' && lastPut.set(`${o.store}:${keyOf(o)}`, `${i}.${j}`)));
      for (const [i, t] of list.entries()) {
        const ops = t.ops.filter((o, j) => (state || o.store !== 'state') && (rewrites || o.op !== 'put' || o.store !== 'segments' || lastPut.get(`${o.store}:${keyOf(o)}`) === `${i}.${j}`));
        if (ops.length === 0) continue;
        const tx = db.transaction([...new Set(ops.map((o) => o.store))], 'readwrite', { durability: 'strict' });
        for (const o of ops) {
          const s = tx.objectStore(o.store);
          if (o.op === 'put') { s.put(o.value.slice(), o.key); bytes += bytesOf(o.value); }
          else if (deletes) s.delete(o.key);
        }
        await commit(tx);
      }
      const ms = performance.now() - t0;
      db.close();
      return { txs: list.length, bytes, ms, mbps: bytes / 1000 / ms };
    };
    // The recorded segment bytes, concatenated and re-cut into records of `size` under integer keys.
    const recut = (size) => {
      const all = [];
      for (const t of mirrorTxs) for (const o of t.ops) if (o.op === 'put' && o.store === 'segments') all.push(o.value);
      const total = all.reduce((a, v) => a + v.byteLength, 0);
      const joined = new Uint8Array(total);
      let at = 0;
      for (const v of all) { joined.set(v, at); at += v.byteLength; }
      const list = [];
      for (let off = 0, k = 1; off < total; off += size, k++) list.push({ scope: ['segments'], ops: [{ store: 'segments', op: 'put', key: k, value: joined.subarray(off, Math.min(total, off + size)) }] });
      return list;
    };
    const results = { catchUps, live: { txs: mirrorTxs.length, liveTxMs }, rounds: [] };
    const puts = mirrorTxs.reduce((a, t) => a + t.ops.filter((o) => o.op === 'put').length, 0);
    const dels = mirrorTxs.reduce((a, t) => a + t.ops.filter((o) => o.op === 'delete').length, 0);
    const putBytes = mirrorTxs.reduce((a, t) => a + t.ops.reduce((b, o) => b + bytesOf(o.value), 0), 0);
    const perStore = {};
    for (const t of mirrorTxs) for (const o of t.ops) perStore[`${o.store}.${o.op}`] = (perStore[`${o.store}.${o.op}`] ?? 0) + 1;
    results.shape = { puts, dels, putBytes, perStore, scopes: [...new Set(mirrorTxs.map((t) => t.scope.join('+')))] };
    for (let r = 0; r < rounds; r++) {
      const c = await m.ceiling({ msgs: Math.round(putBytes / 128), perRecord: 1000, size: 128 });
      const ceil = { bytes: c.msgs * 128, ms: c.ms, mbps: (c.msgs * 128) / 1000 / c.ms };
      results.rounds.push({
        ceiling: ceil,
        replay: await replay(mirrorTxs),
        noDeletes: await replay(mirrorTxs, { deletes: false }),
        noState: await replay(mirrorTxs, { state: false }),
        noRewrites: await replay(mirrorTxs, { rewrites: false }),
        recut128k: await replay(recut(128000)),
        recut256k: await replay(recut(262144)),
      });
    }
    return results;
  }, [contrail.wsUrl, msgs, rounds]);
  for (const c of out.catchUps) {
    console.log(`msgs/s: ceiling ${c.ceiling.toFixed(0)} | catch-up into IndexedDB ${c.idb.toFixed(0)} (${(c.idb / c.ceiling).toFixed(2)} of the ceiling) | into memory ${c.mem.toFixed(0)} (${(c.mem / c.ceiling).toFixed(2)})`);
  }
  console.log('recorded catch-up:', out.live.txs, 'readwrite transactions, in flight', out.live.liveTxMs.toFixed(0), 'ms');
  console.log('shape', JSON.stringify(out.shape));
  for (const r of out.rounds) {
    console.log(Object.entries(r).map(([k, v]) => `${k} ${v.mbps.toFixed(2)} MB/s (${v.txs ?? '-'} tx, ${(v.bytes / 1e6).toFixed(1)} MB, ${v.ms.toFixed(0)} ms)`).join(' | '));
  }
} finally {
  await ctx.close();
  await contrail.stop();
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
