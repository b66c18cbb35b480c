// The browser benchmark's page side: every workload runs here, in one page, one after the other,
// so Contrail's figures and the raw IndexedDB ceiling come from the same browser, disk and load.
// tests/browser/bench.mjs loads this module into a page of headless Chromium (persistent
// profile, so IndexedDB is on disk) and prints what `run` returns; bench.test.mjs runs it tiny.
//
// Every workload returns `{ msgs, ms }` (or phase timings) measured with performance.now().
import { open, connect, deleteDatabase, Kvm } from '/pkg/index.js';
import initWasm from '/pkg/dist/contrail.js';

/** Sizes of a full run; bench.mjs overrides them from argv/env. */
export const DEFAULTS = {
  size: 128, // payload bytes
  payload: 'events', // what the payloads hold (see PAYLOADS); the interleaved rounds run every kind
  ceilingMsgs: 200_000, // messages written by each raw ceiling workload
  publishMsgs: 100_000, // messages of the main stream: windowed publish, fetch+ack, then open time
  burstMsgs: 100_000, // messages published in bursts of `window` (Promise.all)
  syncMsgs: 500, // messages published awaiting each PubAck (one commit each)
  window: 1000, // publishes in flight
  batch: 500, // fetch batch
  keys: 1000, // subjects of the key-value-like workload
  rounds: 5, // interleaved ceiling/publish rounds
  roundMsgs: 20_000, // messages per workload per round
  kvPuts: 20_000, // KV puts with `window` outstanding, over `keys` keys
  kvSyncPuts: 300, // KV puts awaiting each (one commit each)
  kvGets: 10_000, // KV gets of the latest value, awaiting each
  upMsgs: 100_000, // messages uploaded (db.sync), published by connect(), and mirrored down
  serverUrl: undefined, // the Contrail server's WebSocket URL (bench.mjs starts one); no sync rows without it
  uploadWindow: undefined, // db.sync's window (its default unless given)
  serverStorage: 'file', // the sync rows' server streams: 'file' or 'memory'
  only: undefined, // 'sync': only the 1000-per-record ceiling and the sync rows (BENCH_ONLY=sync)
};

/** Database names; `run` deletes them first and last. */
export const DB = {
  ceiling: 'bench-ceiling',
  main: 'bench-contrail',
  extra: 'bench-contrail-extra',
  paired: 'bench-contrail-paired',
  kv: 'bench-contrail-kv',
  up: 'bench-contrail-up',
  mirror: 'bench-contrail-mirror',
};
const STREAM = 'BENCH';
const SUBJECT = 'bench.a';

const now = () => performance.now();

// Counts readwrite transactions (Contrail's commits) so the table can say how many messages
// each commit carried: group commit at work, or not. Costs one increment per transaction.
let commits = 0;
const transaction = IDBDatabase.prototype.transaction;
IDBDatabase.prototype.transaction = function (stores, mode, options) {
  if (mode === 'readwrite') commits++;
  return transaction.call(this, stores, mode, options);
};

/** Runs `work`, adding the number of readwrite transactions it made as `commits`. */
async function counted(work) {
  const before = commits;
  const r = await work();
  return { ...r, commits: commits - before };
}

/**
 * What the messages hold. It matters: Chromium compresses IndexedDB values (snappy) before
 * writing them, so a record of identical messages costs the raw ceiling little more than a
 * commit's fixed cost, while a record of distinct messages is written at its size.
 * - `events`: distinct JSON events (ids, times, a random token), as an app would log them;
 * - `random`: random bytes, which do not compress;
 * - `same`: one repeating alphabet in every message (compresses ~20x).
 */
export const PAYLOADS = ['events', 'random', 'same'];

/** Distinct payloads per kind; message `n` of a workload carries `pool[n % POOL]`. */
const POOL = 4096;
const pools = new Map();

/** The payload pool of `kind`, `size` bytes each (built once per page). */
function payloads(kind, size) {
  const key = `${kind}/${size}`;
  if (!pools.has(key)) pools.set(key, buildPool(kind, size));
  return pools.get(key);
}

function buildPool(kind, size) {
  const te = new TextEncoder();
  const token = (n) => {
    const b = new Uint8Array(n);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => 'abcdefghijklmnopqrstuvwxyz0123456789'[x % 36]).join('');
  };
  const pool = [];
  for (let i = 0; i < POOL; i++) {
    const p = new Uint8Array(size);
    if (kind === 'same') {
      for (let j = 0; j < size; j++) p[j] = 97 + (j % 26);
    } else if (kind === 'random') {
      crypto.getRandomValues(p);
    } else if (kind === 'events') {
      const event = {
        id: 100_000 + i,
        ts: 1_763_900_000_000 + i * 37,
        type: ['click', 'view', 'scroll', 'submit'][i % 4],
        user: `u-${(i * 7919) % 5000}`,
        session: '',
      };
      const head = JSON.stringify(event).length;
      event.session = token(Math.max(0, size - head));
      p.set(te.encode(JSON.stringify(event)).subarray(0, size));
    } else {
      throw new Error(`no payload kind ${kind}: one of ${PAYLOADS.join(', ')}`);
    }
    pool.push(p);
  }
  return pool;
}

function idb(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

function deleteRaw(name) {
  return new Promise((ok, fail) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => ok();
    req.onerror = () => fail(req.error);
    req.onblocked = () => ok(); // a leftover connection: the delete completes once it closes
  });
}

/**
 * (a) The raw ceiling in plain JavaScript: `perRecord` messages of `size` bytes packed into one
 * Uint8Array record, one record per transaction, each transaction awaited before the next (as
 * Contrail commits: one in flight), committed explicitly after its put. Keys are ascending
 * integers, like segment keys.
 */
export async function ceiling({ msgs, perRecord, size, payload = DEFAULTS.payload, durability = 'strict', name = DB.ceiling, fresh = true, firstKey = 0 }) {
  if (fresh) await deleteRaw(name);
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('segments');
  const db = await idb(open);
  const records = Math.max(1, Math.ceil(msgs / perRecord));
  const pool = payloads(payload, size);
  const t0 = now();
  for (let r = 0; r < records; r++) {
    // A fresh buffer each time: the caller builds a new segment per commit too.
    const rec = new Uint8Array(perRecord * size);
    for (let i = 0; i < perRecord; i++) rec.set(pool[(r * perRecord + i) % POOL], i * size);
    const tx = db.transaction('segments', 'readwrite', { durability });
    tx.objectStore('segments').put(rec, firstKey + r * perRecord + 1);
    tx.commit(); // as Contrail does: commit without waiting for the put's success event
    await new Promise((ok, fail) => {
      tx.oncomplete = ok;
      tx.onabort = () => fail(tx.error);
    });
  }
  const ms = now() - t0;
  db.close();
  return { msgs: records * perRecord, ms };
}

/** A fresh database `name` with the benchmark's stream; resolves to the open engine. */
export async function openFresh(name, config = {}) {
  await deleteDatabase(name);
  const nc = await open({ name });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: STREAM, subjects: ['bench.>'], ...config });
  return nc;
}

/**
 * (b) Durable publish, `window` publishes outstanding at any time: each PubAck that arrives lets
 * the next publish go (like a NATS client's max outstanding acks). Checks the last sequence.
 */
export async function publishSliding(nc, { msgs, window, size, payload = DEFAULTS.payload, expectLast = msgs, keys = 0 }) {
  const js = nc.jetstream();
  const pool = payloads(payload, size);
  let sent = 0;
  let acked = 0;
  let lastSeq = 0;
  const t0 = now();
  await new Promise((done, fail) => {
    const next = () => {
      if (sent >= msgs) return;
      const data = pool[sent % POOL];
      sent++;
      js.publish(keys ? `bench.k.${keyOf(sent, keys)}` : SUBJECT, data).then((ack) => {
        acked++;
        if (ack.seq > lastSeq) lastSeq = ack.seq;
        if (acked === msgs) done();
        else next();
      }, fail);
    };
    for (let i = 0; i < window && i < msgs; i++) next();
  });
  const ms = now() - t0;
  if (lastSeq !== expectLast) throw new Error(`last PubAck seq ${lastSeq}, expected ${expectLast}`);
  return { msgs, ms };
}

/**
 * The key of the `n`th publish (from 1) of the key-value workload: each key once, then keys at
 * random (a fixed sequence), so the revisions a publish replaces are scattered over the stream.
 */
function keyOf(n, keys) {
  if (n <= keys) return n - 1;
  // A hash of n (murmur3's finalizer): successive keys independent, like random ones.
  let h = Math.imul(n ^ (n >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) % keys;
}

/**
 * (b3) Durable publish as a key-value store uses a stream: `keys` subjects, one message kept per
 * subject, so after the first round every publish removes an older message from the middle.
 */
export async function publishKeys({ msgs, window, size, payload, keys }) {
  const nc = await openFresh(DB.extra, { max_msgs_per_subject: 1 });
  const r = await counted(() => publishSliding(nc, { msgs, window, size, payload, keys }));
  const info = await (await nc.jetstreamManager()).streams.info(STREAM);
  await nc.close();
  await deleteDatabase(DB.extra);
  if (info.state.messages !== keys) throw new Error(`${info.state.messages} messages kept, expected ${keys}`);
  return r;
}

/** (b') Durable publish in bursts: `window` publishes at once, then await all their PubAcks. */
export async function publishBursts(nc, { msgs, window, size, payload = DEFAULTS.payload }) {
  const js = nc.jetstream();
  const pool = payloads(payload, size);
  const t0 = now();
  for (let sent = 0; sent < msgs; ) {
    const n = Math.min(window, msgs - sent);
    const acks = [];
    for (let i = 0; i < n; i++) acks.push(js.publish(SUBJECT, pool[(sent + i) % POOL]));
    await Promise.all(acks);
    sent += n;
  }
  return { msgs, ms: now() - t0 };
}

/** Publish awaiting each PubAck before the next: one strict transaction per message. */
export async function publishSync(nc, { msgs, size, payload = DEFAULTS.payload }) {
  const js = nc.jetstream();
  const pool = payloads(payload, size);
  const t0 = now();
  for (let i = 0; i < msgs; i++) await js.publish(SUBJECT, pool[i % POOL]);
  return { msgs, ms: now() - t0 };
}

/**
 * (b'') Durable publish against the ceiling in alternating rounds: `rounds` times, the raw
 * ceiling then Contrail's windowed publish, `msgs` messages each, each into its own database
 * that grows round by round (a write into a small fresh database measured up to twice as fast
 * as into one that holds 100,000 messages). The machine's load drifts over a run (the ceiling
 * alone swung 1.5x between runs here), so a ratio of two figures measured seconds apart says
 * less than the ratios of neighbours. Both sides write `payload` messages. Returns each round's
 * two results.
 */
export async function paired({ rounds, msgs, window, size, payload }) {
  const nc = await openFresh(DB.paired);
  await deleteRaw(DB.ceiling);
  const out = [];
  for (let i = 0; i < rounds; i++) {
    const ceil = await ceiling({ msgs, perRecord: 1000, size, payload, fresh: false, firstKey: i * msgs });
    const publish = await publishSliding(nc, { msgs, window, size, payload, expectLast: msgs * (i + 1) });
    out.push({ ceiling: ceil, publish });
  }
  await nc.close();
  await deleteDatabase(DB.paired);
  await deleteRaw(DB.ceiling);
  return out;
}

/**
 * (c) Fetch + ack: a durable pull consumer with explicit acks reads the whole stream in fetches
 * of `batch`, acking each message; the very last ack is an ackAck, whose confirmation means every
 * earlier ack is durable too (they commit in order). Then checks the consumer's ack floor.
 */
export async function fetchAck(nc, { msgs, batch }) {
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add(STREAM, { durable_name: 'C', ack_policy: 'explicit' });
  const consumer = await nc.jetstream().consumers.get(STREAM, 'C');
  let got = 0;
  const t0 = now();
  for (let rounds = 0; got < msgs && rounds < msgs; rounds++) {
    const it = await consumer.fetch({ max_messages: Math.min(batch, msgs - got), expires: 5_000 });
    let n = 0;
    for await (const m of it) {
      n++;
      if (++got === msgs) await m.ackAck();
      else m.ack();
    }
    if (n === 0) throw new Error(`fetch returned nothing after ${got} messages`);
  }
  const ms = now() - t0;
  const info = await consumer.info();
  if (info.ack_floor.stream_seq !== msgs || info.num_ack_pending !== 0) {
    throw new Error(`ack floor ${info.ack_floor.stream_seq}, pending ${info.num_ack_pending}`);
  }
  return { msgs: got, ms };
}

/**
 * (d) Open time: `open({name})` on a database that already holds the stream, until the first
 * publish is acknowledged. Returns the phases in ms and the sequence that publish got.
 */
export async function openToFirstPublish(name, size = DEFAULTS.size) {
  const t0 = now();
  const nc = await open({ name });
  const t1 = now();
  const ack = await nc.jetstream().publish(SUBJECT, payloads(DEFAULTS.payload, size)[0]);
  const t2 = now();
  await nc.close();
  return { openMs: t1 - t0, publishMs: t2 - t1, ms: t2 - t0, seq: ack.seq };
}

/**
 * The fresh-process open (bench.mjs's cold row): loads the wasm, times `openToFirstPublish` on
 * the database `run` left, then deletes every database `run` made.
 */
export async function coldOpen(name = DB.main) {
  const wasmMs = await loadWasm();
  const r = await openToFirstPublish(name);
  await cleanup();
  return { ...r, wasmMs };
}

/** Loads the WebAssembly module (the same instance pkg/index.js uses), timed. */
export async function loadWasm() {
  const t0 = now();
  await initWasm({ module_or_path: new URL('/pkg/dist/contrail_bg.wasm', location.href) });
  return now() - t0;
}

/**
 * KV (pkg/kv.js, the @nats-io/kv shape) on a local bucket of `keys` keys, history 1, each figure
 * beside its own raw baseline measured in the same page just before:
 * - puts with `window` outstanding (the IndexedDB ceiling row is their baseline);
 * - puts awaiting each, beside raw IndexedDB with one put per strict transaction;
 * - gets of the latest value awaiting each, beside `Map.get` on the same keys and values.
 * Every get is checked against the value last put under its key.
 */
export async function kv({ puts, syncPuts, gets, window, size, payload = DEFAULTS.payload, keys }) {
  await deleteDatabase(DB.kv);
  const nc = await open({ name: DB.kv });
  const bucket = await new Kvm(nc.jetstream()).create('bench', { history: 1 });
  const pool = payloads(payload, size);
  const last = new Map();
  const put = (n) => {
    const key = `k${keyOf(n, keys)}`;
    const value = pool[n % POOL];
    last.set(key, value);
    return bucket.put(key, value);
  };

  let sent = 0;
  let t0 = now();
  await new Promise((done, fail) => {
    let acked = 0;
    const next = () => {
      if (sent >= puts) return;
      put(++sent).then(() => (++acked === puts ? done() : next()), fail);
    };
    for (let i = 0; i < window && i < puts; i++) next();
  });
  const windowed = { msgs: puts, ms: now() - t0 };

  const rawSync = await ceiling({ msgs: syncPuts, perRecord: 1, size, payload, name: `${DB.kv}-raw` });
  await deleteRaw(`${DB.kv}-raw`);
  t0 = now();
  for (let i = 0; i < syncPuts; i++) await put(++sent);
  const putSync = { msgs: syncPuts, ms: now() - t0 };

  const order = Array.from({ length: gets }, (_, i) => `k${keyOf(keys + i + 1, keys)}`);
  t0 = now();
  for (const key of order) {
    const e = await bucket.get(key);
    if (!e || e.value.length !== last.get(key).length) throw new Error(`kv get ${key}: not the value last put`);
  }
  const got = { msgs: gets, ms: now() - t0 };
  // Map.get is too fast to time once per key: repeat the same lookups until 50 ms have passed.
  let lookups = 0;
  let bytes = 0;
  t0 = now();
  do {
    for (const key of order) bytes += last.get(key).length;
    lookups += order.length;
  } while (now() - t0 < 50);
  const map = { msgs: lookups, ms: now() - t0, bytes };

  await nc.close();
  await deleteDatabase(DB.kv);
  return { put: windowed, putSync, rawSync, get: got, map };
}

/** Waits (bounded: `tries` looks 10 ms apart) until `stream` in `jsm` holds `count` messages. */
async function holds(jsm, stream, count, tries) {
  let state;
  for (let i = 0; i < tries; i++) {
    state = (await jsm.streams.info(stream)).state;
    if (state.messages >= count) return state;
    await new Promise((ok) => setTimeout(ok, 10));
  }
  throw new Error(`${stream} holds ${state?.messages} messages, not ${count}`);
}

/**
 * Publishes `msgs` messages on `subject` through `js` (a JetStream client: the package's or
 * nats.js's, both v3-shaped), `window` outstanding: each PubAck lets the next publish go.
 */
async function publishWindowed(js, subject, { msgs, window, pool }) {
  let sent = 0;
  let acked = 0;
  const t0 = now();
  await new Promise((done, fail) => {
    const next = () => {
      if (sent >= msgs) return;
      js.publish(subject, pool[sent++ % POOL]).then(() => (++acked === msgs ? done() : next()), fail);
    };
    for (let i = 0; i < window && i < msgs; i++) next();
  });
  return { msgs, ms: now() - t0 };
}

/**
 * Sync against a server (`url`), each figure beside its baseline measured in the same page:
 * - `natsjs`: the reference, @nats-io/jetstream v3 over nats.js's own `wsconnect` (loaded into
 *   the page by bench.mjs as `globalThis.natsjs`, see natsjs-bundle.mjs), publishing the same
 *   `msgs` messages to a server stream with `window` publishes outstanding;
 * - `client`: the same through the package's connect() JetStream client;
 * - `upload`: `msgs` local messages (written first, not timed) uploaded by `db.sync` to another
 *   server stream until `caughtUp()` (the uploader's own window, `uploadWindow` if given);
 * - `mirror`: a local stream mirroring the client's server stream (`db.attach` + `mirror`),
 *   from creation until it holds all `msgs` (looked at every 10 ms: the package has no event
 *   for a mirror's progress yet).
 * The server streams are `storage` ('file', or 'memory' to take the server's disk out of the
 * figures and see what the clients cost). Each checks the count that arrived.
 */
export async function syncWorkloads({ url, msgs, window, size, payload = DEFAULTS.payload, uploadWindow, storage = 'file', mirror: withMirror = true }) {
  const tries = Math.max(6000, msgs);
  const pool = payloads(payload, size);
  if (!globalThis.natsjs) throw new Error('nats.js is not loaded in the page (bench.mjs adds it)');
  const nc = await connect({ servers: url });
  const remote = await nc.jetstreamManager();
  const streams = ['BENCH_NATSJS', 'BENCH_CLIENT', 'BENCH_UP'];
  for (const name of streams) await remote.streams.delete(name).catch(() => {});
  await remote.streams.add({ name: 'BENCH_NATSJS', subjects: ['natsjs.>'], storage });
  await remote.streams.add({ name: 'BENCH_CLIENT', subjects: ['client.>'], storage });
  await remote.streams.add({ name: 'BENCH_UP', subjects: ['up.bench.>'], storage });

  // The reference: nats.js v3, its own WebSocket connection, `window` outstanding.
  const reference = await natsjs.core.wsconnect({ servers: url });
  const natsjsResult = await publishWindowed(natsjs.jetstream.jetstream(reference), 'natsjs.a', { msgs, window, pool });
  await reference.close();
  await holds(remote, 'BENCH_NATSJS', msgs, 1);

  // connect()'s JetStream publish, `window` outstanding.
  const client = await publishWindowed(nc.jetstream(), 'client.a', { msgs, window, pool });
  await holds(remote, 'BENCH_CLIENT', msgs, 1);

  // The upload of the same messages, written locally first.
  const db = await openFresh(DB.up);
  await publishSliding(db, { msgs, window, size, payload });
  const t0 = now();
  const up = await db.sync(nc, { stream: STREAM, to: 'BENCH_UP', subjectPrefix: 'up.', window: uploadWindow });
  const done = await up.caughtUp();
  const upload = { msgs, ms: now() - t0 };
  up.stop();
  await db.close();
  await deleteDatabase(DB.up);
  if (done.cursor !== msgs) throw new Error(`upload cursor ${done.cursor}, expected ${msgs}`);
  await holds(remote, 'BENCH_UP', msgs, 1);

  let mirror;
  if (withMirror) mirror = await mirrorCatchUp(nc, msgs, tries);
  for (const name of streams) await remote.streams.delete(name);
  await nc.close();
  return { natsjs: natsjsResult, client, upload, mirror };
}

/**
 * The mirror catch-up alone (`--only mirror`): `msgs` messages published to a fresh server
 * stream by connect() (not timed), then `mirrorCatchUp` of it, as in `syncWorkloads`.
 */
async function mirrorAlone({ url, msgs, window, size, payload = DEFAULTS.payload, storage = 'file' }) {
  const nc = await connect({ servers: url });
  const remote = await nc.jetstreamManager();
  await remote.streams.delete('BENCH_CLIENT').catch(() => {});
  await remote.streams.add({ name: 'BENCH_CLIENT', subjects: ['client.>'], storage });
  await publishWindowed(nc.jetstream(), 'client.a', { msgs, window, pool: payloads(payload, size) });
  await holds(remote, 'BENCH_CLIENT', msgs, 1);
  const mirror = await mirrorCatchUp(nc, msgs, Math.max(6000, msgs));
  await remote.streams.delete('BENCH_CLIENT');
  await nc.close();
  return mirror;
}

/** A connect() connection to `url` with a fresh server stream `name` on `subject` (for a profile). */
export async function connectTo(url, name, subject) {
  const nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(name).catch(() => {});
  await jsm.streams.add({ name, subjects: [subject] });
  return nc;
}

/** Publishes `msgs` messages on `subject` over `nc` (from connect()), `window` outstanding. */
export function publishRemote(nc, subject, { msgs, window, size, payload = DEFAULTS.payload }) {
  return publishWindowed(nc.jetstream(), subject, { msgs, window, pool: payloads(payload, size) });
}

/** The mirror catch-up of server stream `origin` into IndexedDB (see `syncWorkloads`). */
export async function mirrorCatchUp(nc, msgs, tries, origin = 'BENCH_CLIENT') {
  await deleteDatabase(DB.mirror);
  const local = await open({ name: DB.mirror });
  const attachment = await local.attach(nc, { domain: 'hub' });
  const jsm = await local.jetstreamManager();
  const mirror = await counted(async () => {
    const t0 = now();
    await jsm.streams.add({ name: 'MIRROR', mirror: { name: origin, domain: 'hub' } });
    await holds(jsm, 'MIRROR', msgs, tries);
    return { msgs, ms: now() - t0 };
  });
  attachment.detach();
  await local.close();
  await deleteDatabase(DB.mirror);
  return mirror;
}

/**
 * Every workload, in order; resolves to `{ results, opts }`. `results` maps a workload key to its
 * raw figures. Leaves the main database in place (for a cold open by bench.mjs); `cleanup`
 * deletes it.
 */
export async function run(overrides = {}) {
  const o = { ...DEFAULTS, ...overrides };
  const results = {};
  const wasmMs = await loadWasm();
  for (const name of Object.values(DB)) await deleteDatabase(name);

  const sized = { size: o.size, payload: o.payload };
  results.ceiling1000 = await ceiling({ msgs: o.ceilingMsgs, perRecord: 1000, ...sized });
  if (o.only === 'sync') {
    if (!o.serverUrl) throw new Error('only sync: no server to sync with');
    await deleteRaw(DB.ceiling);
    results.server = await syncWorkloads({ url: o.serverUrl, msgs: o.upMsgs, window: o.window, uploadWindow: o.uploadWindow, storage: o.serverStorage, ...sized });
    results.wasmMs = wasmMs;
    return { results, opts: o };
  }
  if (o.only === 'mirror') {
    if (!o.serverUrl) throw new Error('only mirror: no server to mirror from');
    await deleteRaw(DB.ceiling);
    results.server = { mirror: await mirrorAlone({ url: o.serverUrl, msgs: o.upMsgs, window: o.window, storage: o.serverStorage, ...sized }) };
    results.wasmMs = wasmMs;
    return { results, opts: o };
  }
  if (o.only !== undefined) throw new Error(`only ${o.only}: the subsets are 'sync' and 'mirror'`);
  results.ceiling100 = await ceiling({ msgs: Math.ceil(o.ceilingMsgs / 4), perRecord: 100, ...sized });
  await deleteRaw(DB.ceiling);
  results.paired = {};
  for (const payload of PAYLOADS) {
    results.paired[payload] = await paired({ rounds: o.rounds, msgs: o.roundMsgs, window: o.window, size: o.size, payload });
  }

  const main = await openFresh(DB.main);
  results.publish = await counted(() => publishSliding(main, { msgs: o.publishMsgs, window: o.window, ...sized }));
  results.fetchAck = await counted(() => fetchAck(main, { msgs: o.publishMsgs, batch: o.batch }));
  await main.close();

  results.keys = await publishKeys({ msgs: o.publishMsgs, window: o.window, ...sized, keys: o.keys });
  results.kv = await kv({ puts: o.kvPuts, syncPuts: o.kvSyncPuts, gets: o.kvGets, window: o.window, ...sized, keys: o.keys });

  const extra = await openFresh(DB.extra);
  results.bursts = await counted(() => publishBursts(extra, { msgs: o.burstMsgs, window: o.window, ...sized }));
  results.sync = await counted(() => publishSync(extra, { msgs: o.syncMsgs, ...sized }));
  await extra.close();
  await deleteDatabase(DB.extra);

  // The same publishes without IndexedDB: what the JavaScript and wasm layers cost by themselves.
  const mem = await open();
  await (await mem.jetstreamManager()).streams.add({ name: STREAM, subjects: ['bench.>'] });
  results.memory = await publishSliding(mem, { msgs: o.publishMsgs, window: o.window, ...sized });
  await mem.close();

  if (o.serverUrl) results.server = await syncWorkloads({ url: o.serverUrl, msgs: o.upMsgs, window: o.window, uploadWindow: o.uploadWindow, storage: o.serverStorage, ...sized });

  // Warm: the same page, the first engine closed; the stream holds publishMsgs messages.
  results.openWarm = await openToFirstPublish(DB.main, o.size);
  if (results.openWarm.seq !== o.publishMsgs + 1) {
    throw new Error(`reopened stream gave seq ${results.openWarm.seq}, expected ${o.publishMsgs + 1}`);
  }
  results.wasmMs = wasmMs;
  return { results, opts: o };
}

/** Deletes every database `run` made. */
export async function cleanup() {
  for (const name of Object.values(DB)) await deleteDatabase(name);
}

/** Deletes one Contrail database. */
export function drop(name) {
  return deleteDatabase(name);
}
