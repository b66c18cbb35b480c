// Behaviours @nats-io/kv v3's own tests check (kv/tests/kv_test.ts), written anew against this
// package. Each case takes `{ pkg, open }` (the package's exports and a function opening a fresh
// engine) and throws when a behaviour differs. The same cases run in headless Chromium over
// IndexedDB (tests/browser/kv.test.mjs), in Node over memory (tests/js/kv.test.mjs), and with the
// real @nats-io/kv against nats-server 2.14 (tests/js/kv-natsjs.test.mjs), the reference. Names
// give the nats.js test they follow.

function fail(what, got, want) {
  throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
function eq(got, want, what = 'value') {
  if (JSON.stringify(got) !== JSON.stringify(want)) fail(what, got, want);
}
function ok(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
}
/** Resolves to the error `p` (a promise or a function) rejects or throws with; fails if it does not. */
async function rejects(p, check, what) {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (check && !check(e)) throw new Error(`${what}: unexpected error ${e?.name}: ${e?.message}`);
    return e;
  }
  throw new Error(`${what}: did not fail`);
}
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const sorted = (a) => [...a].sort();
const empty = new Uint8Array(0);
const wrongLast = (n) => (e) => e.message === `wrong last sequence: ${n}`;

/** Everything an iterator yields until it ends. */
async function collect(iter) {
  const out = [];
  for await (const v of iter) out.push(v);
  return out;
}
/** What an endless iterator (a watch) yields until `last(entry, all)` says that was the last one. */
async function until(iter, last) {
  const out = [];
  for await (const e of iter) {
    out.push(e);
    if (last(e, out)) break;
  }
  return out;
}

/** A fresh engine and bucket `name` made with `opts`. */
async function bucket(pkg, open, name = 'K', opts = {}) {
  const nc = await open();
  const js = nc.jetstream();
  const kvm = new pkg.Kvm(js);
  const kv = await kvm.create(name, opts);
  return { nc, js, kvm, kv, jsm: await nc.jetstreamManager() };
}

/** Cases that check what only this package has, by name, with why; the nats.js run skips them. */
export const contrailOnly = {
  'kv - stopped watches, ended histories and key listings leave no consumer':
    "@nats-io/kv leaves its ordered push consumers to the server's inactive threshold; this package deletes its ordered consumers when they end",
  'kv - history is limited to 64 (as the Go client and the nats CLI limit it)':
    '@nats-io/kv sends any history to the server, which takes it; this package refuses more than 64 before sending, as the Go client does',
};

/** The `crud` of nats.js's kv tests, on a bucket made with history 10. */
async function crud(kv, jsm) {
  const status = await kv.status();
  eq([status.values, status.history, status.bucket, status.ttl], [0, 10, kv.bucket ?? status.bucket, 0], 'status');
  eq(status.streamInfo.config.name, `KV_${status.bucket}`, 'stream name');
  await kv.put('k', 'hello');
  eq((await kv.get('k')).string(), 'hello', 'first value');
  await kv.put('k', 'bye');
  eq((await kv.get('k')).string(), 'bye', 'second value');
  await kv.delete('k');
  eq((await kv.get('k')).operation, 'DEL', 'deleted');
  const values = await kv.history();
  eq((await collect(values)).map((e) => e.string()), ['hello', 'bye', ''], 'history');
  eq(values.getProcessed(), 3, 'processed');
  const pr = await kv.purgeBucket();
  eq([pr.success, pr.purged], [true, 3], 'purged bucket');
  ok(await kv.destroy(), 'destroyed');
  eq((await jsm.streams.list().next()).length, 0, 'no stream left');
}

/** The `keyWatch` of nats.js's kv tests. */
async function keyWatch(kv) {
  const m = new Map();
  const iter = await kv.watch({ key: 'a.>' });
  const done = until(iter, (r) => {
    if (r.operation === 'DEL') m.delete(r.key);
    else m.set(r.key, r.string());
    return r.key === 'a.x';
  });
  await kv.put('a.b', '1');
  await kv.put('b.b', '2');
  await kv.put('c.b', '3');
  await kv.put('a.b', '2');
  await kv.put('b.b', '3');
  await kv.delete('c.b');
  await kv.put('a.x', empty);
  await done;
  eq(iter.getProcessed(), 3, 'processed');
  eq([m.get('a.b'), m.get('a.x')], ['2', ''], 'values seen');
}

/** The `keys` of nats.js's kv tests. */
async function keys(kv) {
  await kv.put('a', '1');
  await kv.put('b', '2');
  await kv.put('c.c.c', '3');
  await kv.put('a', '2');
  await kv.put('b', '3');
  await kv.delete('c.c.c');
  await kv.put('x', empty);
  eq(sorted(await collect(await kv.keys())), ['a', 'b', 'x'], 'keys');
}

export const cases = {
  async 'kv - key validation'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    for (const bad of [' x y', 'x ', 'x!', 'xx$', '*', '>', 'x.>', 'x.*', '.', '.x', '.x.', 'x.']) {
      await rejects(() => kv.put(bad, 'v'), (e) => e.message === `invalid key: ${bad}`, `put '${bad}'`);
      await rejects(() => kv.get(bad), (e) => e.message === `invalid key: ${bad}`, `get '${bad}'`);
    }
    for (const good of ['foo', '_foo', '-foo', '_kv_foo', 'foo123', '123', 'a/b/c', 'a.b.c']) {
      await kv.put(good, good);
      eq((await kv.get(good)).string(), good, `value of '${good}'`);
    }
    await nc.close();
  },

  async 'kv - bucket name validation'({ pkg, open }) {
    const nc = await open();
    const kvm = new pkg.Kvm(nc.jetstream());
    for (const bad of [' B', '!', 'x/y', 'x>', 'x.x', 'x.*', 'x.>', 'x*', '*', '>']) {
      await rejects(() => kvm.create(bad), (e) => e.message === `invalid bucket name: ${bad}`, `bucket '${bad}'`);
    }
    for (const good of ['B', 'b', '123', '1_2_3', '1-2-3']) await kvm.create(good);
    eq((await collect(kvm.list())).map((s) => s.bucket).sort(), ['1-2-3', '123', '1_2_3', 'B', 'b'], 'buckets');
    await nc.close();
  },

  async 'kv - list kv'({ pkg, open }) {
    const nc = await open();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'A', subjects: ['a'] });
    const kvm = new pkg.Kvm(nc.jetstream());
    eq((await kvm.list().next()).length, 0, 'no bucket yet');
    await kvm.create('kv');
    const kvs = await kvm.list().next();
    eq(kvs.map((s) => s.bucket), ['kv'], 'buckets');
    eq(sorted(await jsm.streams.names().next()), ['A', 'KV_kv'], 'stream names');
    await nc.close();
  },

  async 'kv - init creates stream (stored as nats-server stores a bucket)'({ pkg, open }) {
    const { nc, jsm } = await bucket(pkg, open, 'cfg', { history: 5, description: 'd' });
    const streams = await jsm.streams.list().next();
    eq(streams.length, 1, 'one stream');
    const c = streams[0].config;
    eq(
      [c.name, c.subjects, c.max_msgs_per_subject, c.discard, c.allow_rollup_hdrs, c.allow_direct, c.retention, c.storage, c.description],
      ['KV_cfg', ['$KV.cfg.>'], 5, 'new', true, true, 'limits', 'file', 'd'],
      'config',
    );
    eq([c.max_msg_size, c.max_bytes, c.num_replicas, c.max_age], [-1, -1, 1, 0], 'limits');
    await nc.close();
  },

  async 'kv - bind to existing KV'({ pkg, open }) {
    const { nc, js, jsm } = await bucket(pkg, open, 'bound', { history: 10 });
    const kv = await new pkg.Kvm(js).open('bound');
    eq((await kv.status()).bucket, 'bound', 'bucket');
    await crud(kv, jsm);
    await nc.close();
  },

  async 'kv - crud'({ pkg, open }) {
    const { nc, kv, jsm } = await bucket(pkg, open, 'crud', { history: 10 });
    await crud(kv, jsm);
    await nc.close();
  },

  async 'kv - codec crud'({ pkg, open }) {
    const codec = { key: pkg.Base64KeyCodec(), value: pkg.NoopKvCodecs().value };
    const { nc, kv, jsm } = await bucket(pkg, open, 'codec', { history: 10, codec });
    await kv.put('k', 'v');
    // The key is stored encoded: its subject is the base64 of "k".
    eq((await jsm.streams.getMessage('KV_codec', { seq: 1 })).subject, `$KV.codec.${btoa('k')}`, 'stored subject');
    eq((await kv.get('k')).key, 'k', 'decoded key');
    await kv.purgeBucket();
    await crud(kv, jsm);
    await nc.close();
  },

  async 'kv - history'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'h', { history: 2 });
    let status = await kv.status();
    eq([status.values, status.history], [0, 2], 'empty');
    for (let i = 0; i < 4; i++) await kv.put('A', empty);
    status = await kv.status();
    eq(status.values, 2, 'values kept');
    await nc.close();
  },

  async 'kv - history multiple keys'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'h', { history: 2 });
    for (const k of ['A', 'B', 'C', 'D']) await kv.put(k, empty);
    eq(sorted((await collect(await kv.history({ key: ['A', 'D'] }))).map((e) => e.key)), ['A', 'D'], 'keys');
    await nc.close();
  },

  async 'kv - cleanups/empty'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    eq(await kv.get('x'), null, 'get');
    const h = await kv.history();
    eq(h.getReceived(), 0, 'history');
    eq((await collect(h)).length, 0, 'history ends');
    eq((await collect(await kv.keys())).length, 0, 'keys');
    await nc.close();
  },

  async 'kv - history and watch cleanup'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    for (const k of ['a', 'b', 'c']) await kv.put(k, empty);
    for await (const _ of await kv.history()) break;
    const w = await kv.watch();
    const done = until(w, (e) => e.key === 'hello');
    await kv.put('hello', 'world');
    const seen = await done;
    // As in nats.js, the last of the initial values already counts as an update.
    eq(seen.map((e) => [e.key, e.isUpdate]), [['a', false], ['b', false], ['c', true], ['hello', true]], 'watched');
    await nc.close();
  },

  async 'kv - stopped watches, ended histories and key listings leave no consumer'({ pkg, open }) {
    const { nc, kv, jsm } = await bucket(pkg, open);
    for (const k of ['a', 'b', 'c']) await kv.put(k, empty);
    for await (const _ of await kv.history()) break;
    eq((await collect(await kv.keys())).length, 3, 'keys');
    const w = await kv.watch();
    await until(w, (e) => e.key === 'c');
    // Each is deleted when it ends (the delete is sent, not awaited: a bounded wait for it).
    const left = async () => (await jsm.consumers.list('KV_K').next()).length;
    for (let i = 0; i < 100 && (await left()) > 0; i++) await sleep(20);
    eq(await left(), 0, 'consumers left');
    await nc.close();
  },

  async 'kv - bucket watch'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'w', { history: 10 });
    const m = new Map();
    const iter = await kv.watch();
    const done = until(iter, (r) => {
      if (r.operation === 'DEL') m.delete(r.key);
      else m.set(r.key, r.string());
      return r.key === 'x';
    });
    await kv.put('a', '1');
    await kv.put('b', '2');
    await kv.put('c', '3');
    await kv.put('a', '2');
    await kv.put('b', '3');
    await kv.delete('c');
    await kv.put('x', empty);
    await done;
    eq(iter.getProcessed(), 7, 'processed');
    eq([m.get('a'), m.get('b'), m.has('c'), m.get('x')], ['2', '3', false, ''], 'values seen');
    await nc.close();
  },

  async 'kv - key watch'({ pkg, open }) {
    // History 10, as the bucket watch: with one revision per key, a.b=2 may remove a.b=1 before a
    // server's consumer delivered it (nats-server delivers apart from the publish; seen once on a
    // loaded 2.14), and the watch would rightly never see it.
    const { nc, kv } = await bucket(pkg, open, 'K', { history: 10 });
    await keyWatch(kv);
    await nc.close();
  },

  async 'kv - codec key watch'({ pkg, open }) {
    const codec = { key: pkg.Base64KeyCodec(), value: pkg.NoopKvCodecs().value };
    const { nc, kv } = await bucket(pkg, open, 'K', { history: 10, codec });
    await keyWatch(kv);
    await nc.close();
  },

  async 'kv - keys'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await keys(kv);
    await nc.close();
  },

  async 'kv - codec keys'({ pkg, open }) {
    const codec = { key: pkg.Base64KeyCodec(), value: pkg.NoopKvCodecs().value };
    const { nc, kv } = await bucket(pkg, open, 'K', { history: 10, codec });
    await keys(kv);
    await nc.close();
  },

  async 'kv - keys filter'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await Promise.all([kv.put('A', 'a'), kv.put('B', 'b'), kv.put('C', 'c')]);
    eq(sorted(await collect(await kv.keys())), ['A', 'B', 'C'], 'all');
    eq(await collect(await kv.keys('A')), ['A'], 'one');
    eq(sorted(await collect(await kv.keys(['A', 'C']))), ['A', 'C'], 'two');
    await nc.close();
  },

  async 'kv - ttl'({ pkg, open }) {
    const { nc, kv, jsm } = await bucket(pkg, open, 'ttl', { ttl: 1000 });
    eq((await jsm.streams.info('KV_ttl')).config.max_age, 1_000_000_000, 'max_age in nanos');
    eq(await kv.get('x'), null, 'nothing yet');
    await kv.put('x', 'hello');
    eq((await kv.get('x')).string(), 'hello', 'value');
    // The value expires a second after it was put; waits at most 10 s for it to go.
    let left = await kv.get('x');
    for (let i = 0; i < 100 && left !== null; i++) {
      await sleep(100);
      left = await kv.get('x');
    }
    eq(left, null, 'expired');
    await nc.close();
  },

  async 'kv - create with a per-key ttl: the key expires to a MaxAge marker, which expires too'({ pkg, open }) {
    const { nc, kv, jsm } = await bucket(pkg, open, 'pk', { markerTTL: 2000 });
    const cfg = (await jsm.streams.info('KV_pk')).config;
    eq([cfg.allow_msg_ttl, cfg.subject_delete_marker_ttl, cfg.allow_rollup_hdrs], [true, 2_000_000_000, true], 'stream config');
    eq((await kv.status()).markerTTL, 2000, 'status markerTTL');
    eq(await kv.create('a', 'x', '1s'), 1, 'created');
    await kv.put('b', 'kept');
    // The value goes a second after it was created; waits at most 10 s.
    let e = await kv.get('a');
    for (let i = 0; i < 100 && e?.operation === 'PUT'; i++) {
      await sleep(100);
      e = await kv.get('a');
    }
    eq([e?.operation, e?.revision, e?.length], ['PURGE', 3, 0], 'the marker');
    // The marker expires by the bucket's markerTTL and leaves nothing behind.
    for (let i = 0; i < 100 && e !== null; i++) {
      await sleep(100);
      e = await kv.get('a');
    }
    eq(e, null, 'marker expired');
    const status = await kv.status();
    eq([status.values, status.streamInfo.state.last_seq], [1, 3], 'only b left, no new marker');
    eq(await kv.create('a', 'again'), 4, 'created again');
    await nc.close();
  },

  async 'kv - create with a ttl needs a bucket with markerTTL'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'nottl');
    await rejects(() => kv.create('a', 'x', '1s'), (e) => /per-message TTL is disabled/.test(e.message), 'create with ttl');
    eq(await kv.get('a'), null, 'nothing stored');
    await nc.close();
  },

  async 'kv - purge with a ttl: the purge marker expires and the key is gone'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'pt', { markerTTL: 1000, history: 5 });
    await kv.put('k', 'one');
    await kv.put('k', 'two');
    await kv.purge('k', { ttl: '1s' });
    let e = await kv.get('k');
    eq([e?.operation, e?.revision], ['PURGE', 3], 'purged');
    eq((await collect(await kv.history({ key: 'k' }))).length, 1, 'the purge rolled up the history');
    for (let i = 0; i < 100 && e !== null; i++) {
      await sleep(100);
      e = await kv.get('k');
    }
    eq(e, null, 'the purge marker expired');
    const status = await kv.status();
    eq([status.values, status.streamInfo.state.last_seq], [0, 3], 'no marker left behind');
    await nc.close();
  },

  async 'kv - a watch sees an expired key as a PURGE'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'wt', { markerTTL: 2000 });
    const iter = await kv.watch({ key: 'w' });
    await kv.create('w', 'soon gone', '1s');
    const seen = await until(iter, (e) => e.operation === 'PURGE');
    eq(seen.map((e) => [e.key, e.operation, e.revision]), [['w', 'PUT', 1], ['w', 'PURGE', 2]], 'watched');
    await nc.close();
  },

  async 'kv - ttl is in nanos'({ pkg, open }) {
    const { nc, kv, jsm } = await bucket(pkg, open, 'a', { ttl: 1000 });
    const status = await kv.status();
    eq([status.ttl, status.size], [1000, 0], 'status');
    eq((await jsm.streams.info('KV_a')).config.max_age, 1_000_000_000, 'max_age');
    await nc.close();
  },

  async 'kv - size'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'a', { ttl: 60_000 });
    let status = await kv.status();
    eq([status.size, status.streamInfo.state.bytes], [0, 0], 'empty');
    await kv.put('a', 'hello');
    status = await kv.status();
    ok(status.size > 0, 'size grew');
    eq(status.size, status.streamInfo.state.bytes, 'size is the stream bytes');
    await nc.close();
  },

  async 'kv - complex key'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await kv.put('x.y.z', 'hello');
    eq((await kv.get('x.y.z')).string(), 'hello', 'get');
    const [w] = await until(await kv.watch({ key: 'x.y.>' }), () => true);
    eq(w.string(), 'hello', 'watch');
    const [h] = await until(await kv.history({ key: 'x.y.>' }), () => true);
    eq(h.string(), 'hello', 'history');
    await nc.close();
  },

  async 'kv - remove key'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await kv.put('a.b', 'ab');
    eq((await kv.get('a.b')).string(), 'ab', 'value');
    await kv.purge('a.b');
    eq((await kv.get('a.b')).operation, 'PURGE', 'purged');
    eq((await kv.status()).values, 1, 'the purge marker stays');
    await nc.close();
  },

  async 'kv - remove subkey'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    for (const k of ['a', 'a.b', 'a.c']) await kv.put(k, empty);
    eq(sorted(await collect(await kv.keys())), ['a', 'a.b', 'a.c'], 'keys');
    await kv.delete('a.*');
    eq(await collect(await kv.keys()), ['a'], 'left');
    await nc.close();
  },

  async 'kv - create key'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await kv.create('a', empty);
    await rejects(() => kv.create('a', 'a'), wrongLast(1), 'second create');
    await nc.close();
  },

  async 'kv - update key'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    const seq = await kv.create('a', empty);
    await rejects(() => kv.update('a', 'a', 100), wrongLast(1), 'update at a wrong revision');
    eq(await kv.update('a', 'b', seq), 2, 'updated');
    eq((await kv.get('a')).string(), 'b', 'value');
    await nc.close();
  },

  async 'kv - is wildcard delete implemented'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'K', { history: 10 });
    for (const k of ['a', 'a.a', 'a.b', 'a.b.c']) await kv.put(k, empty);
    eq((await collect(await kv.keys())).length, 4, 'keys');
    await kv.delete('a.*');
    eq(sorted(await collect(await kv.keys())), ['a', 'a.b.c'], 'left');
    const seen = await until(await kv.watch(), (e) => e.delta === 0);
    eq(seen.filter((e) => e.operation === 'DEL').length, 2, 'delete markers');
    await nc.close();
  },

  async 'kv - delta'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    for (const k of ['a', 'a.a', 'a.b', 'a.b.c']) await kv.put(k, empty);
    const seen = await collect(await kv.history());
    eq(seen.map((e) => [e.revision, e.delta]), [[1, 3], [2, 2], [3, 1], [4, 0]], 'revision, delta');
    await nc.close();
  },

  async 'kv - watch and history headers only'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'bucket');
    await kv.put('key1', 'aaa');
    for (const [what, iter] of [['watch', kv.watch({ key: 'key1', headers_only: true })], ['history', kv.history({ key: 'key1', headers_only: true })]]) {
      const [e] = await until(await iter, () => true);
      eq([e.key, e.value.length, e.length], ['key1', 0, 3], what);
    }
    await nc.close();
  },

  async 'kv - mem and file'({ pkg, open }) {
    const { nc, kv, kvm } = await bucket(pkg, open, 'default');
    eq((await kv.status()).storage, 'file', 'default');
    eq((await (await kvm.create('file', { storage: pkg.StorageType.File })).status()).storage, 'file', 'file');
    eq((await (await kvm.create('mem', { storage: pkg.StorageType.Memory })).status()).storage, 'memory', 'memory');
    await nc.close();
  },

  async 'kv - example'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'testing', { history: 5 });
    await kv.create('hello.world', 'hi');
    const watch = await kv.watch();
    const seen = [];
    const watched = until(watch, (e) => seen.push(e.operation) && e.operation === 'PURGE');
    await kv.put('hello.world', 'world');
    eq((await kv.get('hello.world')).string(), 'world', 'value');
    eq(await collect(await kv.keys()), ['hello.world'], 'keys');
    eq((await collect(await kv.history({ key: 'hello.world' }))).map((e) => e.string()), ['hi', 'world'], 'history');
    await kv.delete('hello.world');
    // The purge rolls up the key's earlier entries: a server under load may remove the delete
    // before the watch's consumer delivers it (nats.js's push watch has the same race), so the
    // watch sees the delete first (bounded: the check below says what it saw).
    for (let i = 0; i < 500 && !seen.includes('DEL'); i++) await new Promise((r) => setTimeout(r, 10));
    await kv.purge('hello.world');
    eq((await watched).map((e) => e.operation), ['PUT', 'PUT', 'DEL', 'PURGE'], 'watched');
    watch.stop();
    ok(await kv.destroy(), 'destroyed');
    await nc.close();
  },

  async 'kv - watch iter stops'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'a');
    const watch = await kv.watch();
    const done = collect(watch);
    watch.stop();
    eq((await done).length, 0, 'nothing watched');
    await nc.close();
  },

  async 'kv - defaults to discard new - if server 2.7.2'({ pkg, open }) {
    const { nc, jsm } = await bucket(pkg, open, 'a');
    eq((await jsm.streams.info('KV_a')).config.discard, pkg.DiscardPolicy.New, 'discard');
    await nc.close();
  },

  async 'kv - initialized watch empty'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'a');
    const iter = await kv.watch();
    eq(iter.getReceived(), 0, 'nothing at first');
    const done = until(iter, () => true);
    await kv.put('a', 'v');
    const [e] = await done;
    eq([e.key, e.isUpdate], ['a', true], 'the first entry is an update');
    await nc.close();
  },

  async 'kv - initialized watch with modifications'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'a');
    for (const k of ['A', 'B', 'C']) await kv.put(k, empty);
    const iter = await kv.watch();
    const writes = (async () => {
      for (let i = 0; i < 100; i++) await kv.put(`${i}`, empty);
    })();
    const seen = await until(iter, (_, all) => all.length === 103);
    await writes;
    eq(seen.map((e) => e.key), ['A', 'B', 'C', ...Array.from({ length: 100 }, (_, i) => `${i}`)], 'initial values, then updates in order');
    eq([seen[0].isUpdate, seen[102].isUpdate], [false, true], 'isUpdate');
    await nc.close();
  },

  async 'kv - get revision'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'rev', { history: 3 });
    const check = async (key, value, revision = 0) => {
      const e = await kv.get(key, { revision });
      eq(e === null ? null : e.string(), value, `${key}@${revision}`);
    };
    for (const v of ['a', 'b', 'c']) await kv.put('A', v);
    await check('B', null, 1);
    await check('A', 'c');
    await check('A', 'a', 1);
    await check('A', 'b', 2);
    await kv.put('A', 'd');
    await check('A', 'd');
    await check('A', null, 1);
    await nc.close();
  },

  async 'kv - purge deletes'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'a');
    for (const k of ['a', 'b', 'c']) await kv.put(k, empty);
    await kv.delete('a');
    await kv.delete('c');
    await sleep(600);
    await kv.delete('b');
    const pr = await kv.purgeDeletes(300);
    eq(pr.purged, 2, 'purged');
    eq([await kv.get('a'), await kv.get('c')], [null, null], 'old markers gone');
    eq((await kv.get('b')).operation, 'DEL', 'young marker kept');
    await nc.close();
  },

  async 'kv - allow direct'({ pkg, open }) {
    const nc = await open();
    const jsm = await nc.jetstreamManager();
    const kvm = new pkg.Kvm(nc.jetstream());
    for (const [name, opts, direct] of [['d1', { history: 1 }, true], ['d2', { history: 1, allow_direct: false }, false], ['d3', { allow_direct: true }, true]]) {
      const kv = await kvm.create(name, opts);
      eq(kv.direct, direct, `${name} direct`);
      eq((await jsm.streams.info(`KV_${name}`)).config.allow_direct, direct, `${name} allow_direct`);
    }
    eq((await kvm.create('X')).direct, true, 'X');
    eq((await kvm.create('X', { allow_direct: false })).direct, false, 'client opts out');
    eq((await kvm.create('Y', { allow_direct: false })).direct, false, 'Y');
    eq((await kvm.create('Y', { allow_direct: true })).direct, false, 'the bucket does not allow it');
    await nc.close();
  },

  async 'kv - direct message'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'a', { allow_direct: true, history: 3 });
    eq(await kv.get('a'), null, 'nothing yet');
    await kv.put('a', 'hello');
    let m = await kv.get('a');
    eq([m.key, m.delta, m.revision, m.operation, m.bucket, m.string()], ['a', 0, 1, 'PUT', 'a', 'hello'], 'value');
    await kv.delete('a');
    m = await kv.get('a');
    eq([m.key, m.delta, m.revision, m.operation, m.bucket], ['a', 0, 2, 'DEL', 'a'], 'marker');
    await kv.put('c', 'hi');
    await kv.put('c', 'hello');
    eq((await kv.get('c', { revision: 3 })).revision, 3, 'by revision');
    await nc.close();
  },

  async 'kv - previous sequence'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    eq(await kv.put('A', empty, { previousSeq: 0 }), 1, 'A new');
    eq(await kv.put('B', empty, { previousSeq: 0 }), 2, 'B new');
    eq(await kv.put('A', empty, { previousSeq: 1 }), 3, 'A at 1');
    eq(await kv.put('A', empty, { previousSeq: 3 }), 4, 'A at 3');
    await rejects(() => kv.put('A', empty, { previousSeq: 1 }), wrongLast(4), 'A at 1 again');
    eq(await kv.put('B', empty, { previousSeq: 2 }), 5, 'B at 2');
    await nc.close();
  },

  async 'kv - encoded entry'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await kv.put('a', 'hello');
    await kv.put('b', JSON.stringify(5));
    await kv.put('c', JSON.stringify(['hello', 5]));
    eq([(await kv.get('a')).string(), (await kv.get('b')).json(), (await kv.get('c')).json()], ['hello', 5, ['hello', 5]], 'values');
    await nc.close();
  },

  async 'kv - create after delete'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await kv.create('a', empty);
    await rejects(() => kv.create('a', empty), wrongLast(1), 'exists');
    await kv.delete('a');
    eq(await kv.create('a', 'again'), 3, 'created after delete');
    await kv.purge('a');
    eq(await kv.create('a', 'again'), 5, 'created after purge');
    eq((await kv.get('a')).string(), 'again', 'value');
    await nc.close();
  },

  async 'kv - get non-existing non-direct / direct'({ pkg, open }) {
    const nc = await open();
    const kvm = new pkg.Kvm(nc.jetstream());
    eq(await (await kvm.create('K', { allow_direct: false })).get('hello'), null, 'non-direct');
    eq(await (await kvm.create('D', { allow_direct: true })).get('hello'), null, 'direct');
    await nc.close();
  },

  async 'kv - string payloads'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await kv.create('a', 'b');
    let entry = await kv.get('a');
    eq(entry.string(), 'b', 'created');
    await kv.put('a', 'c');
    entry = await kv.get('a');
    eq(entry.string(), 'c', 'put');
    await kv.update('a', 'd', entry.revision);
    eq((await kv.get('a')).string(), 'd', 'updated');
    await nc.close();
  },

  async 'kv - metadata'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'K', { metadata: { hello: 'world' } });
    eq((await kv.status()).metadata.hello, 'world', 'metadata');
    await nc.close();
  },

  async 'kv - watch updates only'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    await kv.put('a', 'a');
    await kv.put('b', 'b');
    const done = until(await kv.watch({ include: pkg.KvWatchInclude.UpdatesOnly }), (e) => e.isUpdate);
    await kv.put('c', 'c');
    eq((await done).map((e) => [e.key, e.isUpdate]), [['c', true]], 'notifications');
    await nc.close();
  },

  async 'kv - watch multiple keys'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    for (const k of ['a', 'b', 'c']) await kv.put(k, k);
    const seen = await until(await kv.watch({ key: ['a', 'c'] }), (e) => e.delta === 0);
    eq(sorted(seen.map((e) => e.key)), ['a', 'c'], 'keys');
    await nc.close();
  },

  async 'kv - watch history'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'K', { history: 10 });
    for (const v of ['a', 'aa', 'aaa']) await kv.put('a', v);
    await kv.delete('a');
    const done = until(await kv.watch({ include: pkg.KvWatchInclude.AllHistory }), (e) => e.key === 'c');
    await kv.put('c', 'c');
    const seen = (await done).map((e) => (e.operation === 'DEL' ? `${e.key}=del` : `${e.key}=${e.string()}`));
    eq(seen, ['a=a', 'a=aa', 'a=aaa', 'a=del', 'c=c'], 'notifications');
    await nc.close();
  },

  async 'kv - watch history no deletes'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'K', { history: 10 });
    for (const v of ['a', 'aa', 'aaa']) await kv.put('a', v);
    await kv.delete('a');
    const done = until(await kv.watch({ include: pkg.KvWatchInclude.AllHistory, ignoreDeletes: true }), (e) => e.key === 'd');
    await kv.put('c', 'c');
    await kv.delete('c');
    await kv.put('d', 'd');
    const seen = (await done).map((e) => (e.operation === 'DEL' ? `${e.key}=del` : `${e.key}=${e.string()}`));
    eq(seen, ['a=a', 'a=aa', 'a=aaa', 'c=c', 'd=d'], 'notifications');
    await nc.close();
  },

  async 'kv - compression'({ pkg, open }) {
    const { nc, kv, kvm } = await bucket(pkg, open, 'compressed', { compression: true });
    eq((await kv.status()).compression, true, 'compressed');
    eq((await (await kvm.create('none')).status()).compression, false, 'none');
    await nc.close();
  },

  async 'kv - watch start at'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'a');
    for (const [k, v] of [['a', '1'], ['b', '2'], ['c', '3']]) await kv.put(k, v);
    const [o] = await until(await kv.watch({ resumeFromRevision: 2 }), () => true);
    eq([o.key, o.revision], ['b', 2], 'first');
    await nc.close();
  },

  async 'kv - delete key if revision'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    const seq = await kv.create('a', empty);
    await rejects(() => kv.delete('a', { previousSeq: 100 }), wrongLast(1), 'wrong revision');
    await kv.delete('a', { previousSeq: seq });
    eq((await kv.get('a')).operation, 'DEL', 'deleted');
    await nc.close();
  },

  async 'kv - purge key if revision'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open);
    const seq = await kv.create('a', empty);
    await rejects(() => kv.purge('a', { previousSeq: 2 }), wrongLast(1), 'wrong revision');
    await kv.purge('a', { previousSeq: seq });
    eq((await kv.get('a')).operation, 'PURGE', 'purged');
    await nc.close();
  },

  async "kv - maxBucketSize doesn't override max_bytes"({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'A', { max_bytes: 100 });
    eq((await kv.status()).max_bytes, 100, 'max_bytes');
    await nc.close();
  },

  async 'kv - watch isUpdate'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'A');
    await kv.put('a', 'hello');
    await kv.delete('a');
    const done = until(await kv.watch({ ignoreDeletes: true }), (e) => e.key === 'b');
    await kv.put('b', 'hello');
    eq((await done).map((e) => [e.key, e.isUpdate]), [['b', true]], 'seen');
    await nc.close();
  },

  // ---- beyond nats.js's test names: what the stored form and limits must be -----------------------

  async 'kv - purge is a rollup leaving one PURGE marker; delete a DEL marker'({ pkg, open }) {
    const { nc, kv, jsm } = await bucket(pkg, open, 'p', { history: 10 });
    for (const v of ['1', '2', '3']) await kv.put('k', v);
    await kv.put('other', 'o');
    await kv.delete('other');
    let m = await jsm.streams.getMessage('KV_p', { last_by_subj: '$KV.p.other' });
    eq([m.seq, m.header.get('KV-Operation'), m.data.length], [5, 'DEL', 0], 'delete marker');
    await kv.purge('k');
    const si = await jsm.streams.info('KV_p');
    eq([si.state.messages, si.state.first_seq, si.state.last_seq], [3, 4, 6], 'state after the rollup');
    m = await jsm.streams.getMessage('KV_p', { seq: 6 });
    eq([m.subject, m.header.get('KV-Operation'), m.header.get('Nats-Rollup')], ['$KV.p.k', 'PURGE', 'sub'], 'purge marker');
    await nc.close();
  },

  async 'kv - max value size and max bytes are enforced by the stream'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'lim', { maxValueSize: 8, max_bytes: 200 });
    const st = await kv.status();
    eq([st.maxValueSize, st.max_bytes], [8, 200], 'status');
    await kv.put('a', '12345678');
    await rejects(() => kv.put('a', '123456789'), (e) => /message size exceeds maximum allowed/.test(e.message), 'too big');
    // Discard new: once the bucket is full a put is refused, nothing old is dropped.
    let refused = null;
    for (let i = 0; i < 50 && !refused; i++) {
      try {
        await kv.put(`k${i}`, '12345678');
      } catch (e) {
        refused = e;
      }
    }
    ok(refused && /maximum bytes exceeded/.test(refused.message), `a full bucket refuses puts (got ${refused?.message})`);
    eq((await kv.get('a')).string(), '12345678', 'the first value kept');
    await nc.close();
  },

  async 'kv - a bucket of 10,000 keys: keys, get and a watch of every current value'({ pkg, open }) {
    const { nc, kv } = await bucket(pkg, open, 'many');
    const n = 10_000;
    for (let i = 0; i < n; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => kv.put(`k.${i + j}`, `${i + j}`)));
    }
    await kv.put('k.7', 'seven');
    const keys = await collect(await kv.keys());
    eq([keys.length, new Set(keys).size], [n, n], 'keys');
    eq([(await kv.get('k.7')).string(), (await kv.get('k.9999')).string()], ['seven', '9999'], 'values');
    const seen = await until(await kv.watch({ key: 'k.>' }), (e) => e.delta === 0);
    eq(seen.length, n, 'watched current values');
    eq(seen.find((e) => e.key === 'k.7').string(), 'seven', 'the latest value of a key');
    await nc.close();
  },

  async 'kv - history is limited to 64 (as the Go client and the nats CLI limit it)'({ pkg, open }) {
    const nc = await open();
    const kvm = new pkg.Kvm(nc.jetstream());
    eq((await (await kvm.create('h64', { history: 64 })).status()).history, 64, '64');
    await rejects(() => kvm.create('h65', { history: 65 }), (e) => e instanceof pkg.InvalidArgumentError, '65');
    await rejects(() => kvm.create('h0', { history: 0 }), (e) => e instanceof pkg.InvalidArgumentError, '0');
    await nc.close();
  },
};
