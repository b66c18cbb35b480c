// Behaviours @nats-io/obj v3's own tests check (obj/tests/objectstore_test.ts), written anew
// against this package. Each case takes `{ pkg, open }` (the package's exports and a function
// opening a fresh engine) and throws when a behaviour differs. The same cases run in headless
// Chromium over IndexedDB (tests/browser/obj.test.mjs), in Node over memory
// (tests/js/obj.test.mjs), and with the real @nats-io/obj against nats-server 2.14
// (tests/js/kv-natsjs.test.mjs), the reference. Names give the nats.js test they follow.

function eq(got, want, what = 'value') {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
function ok(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
}
async function rejects(p, check, what) {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (check && !check(e)) throw new Error(`${what}: unexpected error ${e?.name}: ${e?.message}`);
    return e;
  }
  throw new Error(`${what}: did not fail`);
}
const te = new TextEncoder();
const empty = new Uint8Array(0);

/** A stream of `data` in one piece, as nats.js's tests make one. */
function streamOf(data) {
  return new ReadableStream({
    pull(c) {
      c.enqueue(data);
      c.close();
    },
  });
}
/** A stream of `data` in pieces of `size` bytes. */
function streamInPieces(data, size) {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= data.length) return c.close();
      c.enqueue(data.slice(at, at + size));
      at += size;
    },
  });
}
async function readAll(rs) {
  const parts = [];
  const reader = rs.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
function randomData(n) {
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(n, i + 65536)));
  return data;
}
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
/** The digest nats.js writes, computed with WebCrypto (independently of the package's SHA-256). */
async function digest(data) {
  return `SHA-256=${b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', data)))}`;
}

/** A fresh engine and store `name` made with `opts`. */
async function store(pkg, open, name = 'test', opts = {}) {
  const nc = await open();
  const objm = new pkg.Objm(nc.jetstream());
  const os = await objm.create(name, opts);
  return { nc, objm, os, jsm: await nc.jetstreamManager(), js: nc.jetstream() };
}

/** Cases that check what only this package has; the nats.js run skips them. */
export const contrailOnly = {
  'objectstore - get pulls chunks only as the reader asks for them':
    '@nats-io/obj reads through a push consumer with flow control, which sends ahead of the reader; this package pulls',
};

export const cases = {
  async 'objectstore - list stores'({ pkg, open }) {
    const nc = await open();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'A', subjects: ['a'] });
    const objm = new pkg.Objm(nc.jetstream());
    eq((await objm.list().next()).length, 0, 'none');
    await objm.create('store1');
    eq((await objm.list().next()).map((s) => s.bucket), ['store1'], 'one');
    await objm.create('store2');
    eq((await objm.list().next()).map((s) => s.bucket).sort(), ['store1', 'store2'], 'two');
    await nc.close();
  },

  async 'objectstore - basics'({ pkg, open }) {
    const { nc, os, jsm } = await store(pkg, open, 'OBJS', { description: 'testing' });
    const blob = randomData(65536);
    const st = await os.status();
    eq([st.description, st.ttl, st.replicas, st.streamInfo.config.name], ['testing', 0, 1, 'OBJ_OBJS'], 'status');
    const oi = await os.put({ name: 'BLOB', description: 'myblob' }, streamOf(blob));
    eq([oi.bucket, oi.nuid.length, oi.name, oi.description, oi.deleted, typeof oi.mtime], ['OBJS', 22, 'BLOB', 'myblob', false, 'string'], 'info');
    eq(oi.digest, await digest(blob), 'digest');
    const sealed = await os.seal();
    eq([sealed.sealed, sealed.storage, sealed.description], [true, 'file', 'testing'], 'sealed');
    ok(sealed.size > blob.length, 'size counts the chunks');
    eq(await os.get('foo'), null, 'missing');
    const r = await os.get('BLOB');
    ok(same(await readAll(r.data), blob), 'round trip');
    ok(!(await r.error), 'no error (nats.js resolves undefined, the package null)');
    eq(await os.destroy(), true, 'destroyed');
    await rejects(() => jsm.streams.info('OBJ_OBJS'), (e) => e.message === 'stream not found', 'gone');
    await nc.close();
  },

  async 'objectstore - default status'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'test', { description: 'testing' });
    await os.put({ name: 'BLOB' }, streamOf(randomData(65536)));
    const st = await os.status();
    eq([st.backingStore, st.bucket, st.streamInfo.config.name], ['JetStream', 'test', 'OBJ_test'], 'status');
    await nc.close();
  },

  async 'objectstore - stored as nats-server stores a store'({ pkg, open }) {
    const { nc, os, jsm } = await store(pkg, open, 'st');
    const c = (await os.status()).streamInfo.config;
    eq([c.subjects, c.allow_direct, c.allow_rollup_hdrs, c.discard, c.max_age], [['$O.st.C.>', '$O.st.M.>'], true, true, 'new', 0], 'config');
    const data = randomData(300_000);
    const oi = await os.put({ name: 'big file.bin' }, streamOf(data));
    const meta = await jsm.streams.getMessage('OBJ_st', { last_by_subj: `$O.st.M.${b64url(te.encode('big file.bin'))}` });
    eq(meta.header.get('Nats-Rollup'), 'sub', 'meta rolled up');
    const m = meta.json();
    eq([m.name, m.bucket, m.nuid, m.size, m.chunks, m.digest, m.deleted, m.options.max_chunk_size], ['big file.bin', 'st', oi.nuid, 300_000, 3, await digest(data), false, 128 * 1024], 'meta');
    const first = await jsm.streams.getMessage('OBJ_st', { seq: 1 });
    eq([first.subject, first.data.length], [`$O.st.C.${oi.nuid}`, 128 * 1024], 'first chunk');
    await nc.close();
  },

  async 'objectstore - chunked content'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'test', { storage: pkg.StorageType.Memory });
    const data = randomData(3 * 128 * 1024 + 33);
    await os.put({ name: 'blob' }, streamInPieces(data, 10_000));
    const d = await os.get('blob');
    eq([d.info.digest, d.info.chunks], [await digest(data), 4], 'info');
    ok(same(await readAll(d.data), data), 'round trip');
    await nc.close();
  },

  async 'objectstore - multi content'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'test', { storage: pkg.StorageType.Memory });
    const a = randomData(128);
    await os.put({ name: 'a.js', options: { max_chunk_size: 1 } }, streamOf(a));
    const b = te.encode('hello world from object store');
    await os.put({ name: 'b.js' }, streamOf(b));
    ok(same(await readAll((await os.get('a.js')).data), a), 'a');
    ok(same(await readAll((await os.get('b.js')).data), b), 'b');
    await nc.close();
  },

  async 'objectstore - delete markers / get on deleted returns null'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'test', { storage: pkg.StorageType.Memory });
    await os.put({ name: 'a', options: { max_chunk_size: 10 } }, streamOf(randomData(128)));
    eq((await os.delete('a')).purged, 13, 'chunks purged');
    const info = await os.info('a');
    eq([info.deleted, info.size, info.chunks, info.digest], [true, 0, 0, ''], 'deleted info');
    eq(await os.get('a'), null, 'get');
    await nc.close();
  },

  async 'objectstore - multi with delete'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'test', { storage: pkg.StorageType.Memory });
    await os.put({ name: 'a' }, streamOf(te.encode('a!')));
    const si = await os.status({ subjects_filter: '>' });
    await os.put({ name: 'b' }, streamOf(te.encode('b!')));
    await os.delete('b');
    const s2 = await os.status({ subjects_filter: '>' });
    eq(s2.streamInfo.state.messages, si.streamInfo.state.messages + 1, 'the tombstone stays');
    await nc.close();
  },

  async 'objectstore - object names / sanitize'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    for (const name of ['blob.txt', 'foo bar', ' ', '*', '>', 'has.dots.here']) {
      await os.put({ name }, streamOf(te.encode('A')));
      eq(new TextDecoder().decode(await os.getBlob(name)), 'A', `'${name}'`);
    }
    await rejects(() => os.put({ name: '' }, streamOf(te.encode('A'))), null, 'empty name');
    const subjects = (await os.status({ subjects_filter: '>' })).streamInfo.state.subjects;
    eq(subjects[`$O.test.M.${b64url(te.encode('has.dots.here'))}`], 1, 'meta subject of a name with dots');
    eq(subjects[`$O.test.M.${b64url(te.encode('foo bar'))}`], 1, 'meta subject of a name with a space');
    await nc.close();
  },

  async 'objectstore - metadata'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'test', { storage: pkg.StorageType.Memory });
    await os.put({ name: 'a' }, streamOf(te.encode('A')));
    await os.update('a', { name: 'b' });
    eq((await os.info('b')).name, 'b', 'renamed');
    eq(await os.info('a'), null, 'old name gone');
    const h = pkg.headers();
    h.set('color', 'red');
    await os.update('b', { headers: h });
    eq((await os.info('b')).headers.get('color'), 'red', 'header');
    eq(new TextDecoder().decode(await os.getBlob('b')), 'A', 'data kept');
    await nc.close();
  },

  async 'objectstore - empty entry'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'empty');
    const oi = await os.put({ name: 'empty' }, streamOf(empty));
    eq([oi.nuid.length, oi.name, oi.chunks, oi.digest], [22, 'empty', 0, await digest(empty)], 'info');
    const r = await os.get('empty');
    eq(await r.error, null, 'no error');
    eq((await readAll(r.data)).length, 0, 'empty');
    await nc.close();
  },

  async 'objectstore - list'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    eq((await os.list()).length, 0, 'none');
    await os.put({ name: 'a' }, streamOf(empty));
    await os.put({ name: 'b' }, streamOf(empty));
    await os.delete('b');
    eq((await os.list()).map((i) => i.name), ['a'], 'deleted ones left out');
    await nc.close();
  },

  async 'objectstore - watch isUpdate'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    await os.put({ name: 'a' }, streamOf(empty));
    const watches = await os.watch();
    await os.put({ name: 'b' }, streamOf(empty));
    for await (const e of watches) {
      eq([e.name, e.isUpdate], ['b', true], 'update');
      break;
    }
    await nc.close();
  },

  async 'objectstore - watch initially empty'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    const buf = [];
    const iter = await os.watch({ includeHistory: true });
    const done = (async () => {
      for await (const info of iter) {
        buf.push(info);
        if (buf.length === 3) break;
      }
    })();
    eq((await os.list()).length, 0, 'list');
    await os.put({ name: 'a' }, streamOf(te.encode('a')));
    await os.put({ name: 'a' }, streamOf(te.encode('aa')));
    await os.put({ name: 'b' }, streamOf(te.encode('b')));
    await done;
    eq(buf.map((i) => [i.name, i.size]), [['a', 1], ['a', 2], ['b', 1]], 'seen');
    await nc.close();
  },

  async 'objectstore - watch skip history / watch history'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    await os.put({ name: 'a' }, streamOf(te.encode('a')));
    await os.put({ name: 'a' }, streamOf(te.encode('aa')));
    const take = async (iter, n) => {
      const buf = [];
      for await (const i of iter) if (buf.push(i) === n) break;
      return buf;
    };
    const skip = take(await os.watch({ includeHistory: false }), 1);
    const hist = take(await os.watch({ includeHistory: true }), 2);
    await os.put({ name: 'c' }, streamOf(te.encode('c')));
    eq((await skip).map((i) => [i.name, i.size]), [['c', 1]], 'skip history');
    eq((await hist).map((i) => [i.name, i.size]), [['a', 2], ['c', 1]], 'with history');
    await nc.close();
  },

  async 'objectstore - same store link / link of link rejected'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    const src = await os.put({ name: 'a' }, streamOf(te.encode('a')));
    const oi = await os.link('ref', src);
    eq([oi.options.link.bucket, oi.options.link.name, oi.isLink()], [src.bucket, 'a', true], 'link');
    eq((await os.list()).map((i) => i.name), ['a', 'ref'], 'list');
    eq(new TextDecoder().decode(await os.getBlob('ref')), 'a', 'through the link');
    await rejects(() => os.link('ref2', oi), (e) => e.message === 'src object is a link', 'link of link');
    await nc.close();
  },

  async 'objectstore - external link / store link'({ pkg, open }) {
    const { nc, os, objm } = await store(pkg, open);
    const src = await os.put({ name: 'a' }, streamOf(te.encode('a')));
    const os2 = await objm.create('another');
    const io = await os2.link('ref', src);
    eq([io.options.link.bucket, io.options.link.name], ['test', 'a'], 'link');
    eq(new TextDecoder().decode(await os2.getBlob('ref')), 'a', 'through the link');
    const si = await os2.linkStore('src', os);
    eq(si.options.link.bucket, 'test', 'store link');
    await nc.close();
  },

  async 'objectstore - default chunk is 128k'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    const info = await os.put({ name: 't' }, streamOf(randomData(129 * 1024)));
    eq([info.size, info.chunks, info.options.max_chunk_size], [129 * 1024, 2, 128 * 1024], 'chunks');
    await nc.close();
  },

  async 'objectstore - max chunk is max payload'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    // 1 MiB: nats-server's default max_payload, and the local engine's.
    const info = await os.put({ name: 't', options: { max_chunk_size: 4 * 1024 * 1024 } }, streamOf(randomData(1024 * 1024 + 1)));
    eq([info.chunks, info.options.max_chunk_size], [2, 1024 * 1024], 'capped');
    await nc.close();
  },

  async 'objectstore - partials'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    const data = te.encode('aaaaaaa');
    const info = await os.put({ name: 'test', options: { max_chunk_size: 2 } }, streamOf(data));
    eq([info.chunks, info.digest], [4, await digest(data)], 'info');
    const reader = (await os.get('test')).data.getReader();
    const sizes = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sizes.push(value.length);
    }
    eq(sizes, [2, 2, 2, 1], 'chunks read');
    await nc.close();
  },

  async 'objectstore - no store'({ pkg, open }) {
    const { nc, os, jsm } = await store(pkg, open);
    await os.put({ name: 'test' }, streamOf(empty));
    await os.delete('test');
    const oi = await os.info('test');
    await rejects(() => os.link('bar', oi), (e) => /object is deleted/.test(e.message), 'link to deleted');
    eq(await os.delete('foo'), { purged: 0, success: false }, 'delete missing');
    await rejects(() => os.update('baz', oi), (e) => e.message === 'object not found', 'update missing');
    await jsm.streams.delete('OBJ_test');
    await rejects(() => os.seal(), (e) => e.message === 'object store not found', 'seal');
    await rejects(() => os.status(), (e) => e.message === 'object store not found', 'status');
    await rejects(() => os.put({ name: 'foo' }, streamOf(empty)), (e) => /stream not found/.test(e.message), 'put');
    await nc.close();
  },

  async 'objectstore - hashtests (digests of known inputs)'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'hashes');
    // Digests of known inputs (FIPS 180-2 examples), put 9 bytes a chunk as nats.js's test does.
    const abc = 'SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=';
    eq((await os.put({ name: 'abc', options: { max_chunk_size: 9 } }, streamOf(te.encode('abc')))).digest, abc, 'abc');
    const long = te.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
    const want = 'SHA-256=JI1qYdIGOLjlwCaTDD5gOaM85Flk_yFn9uzt1BnbBsE=';
    eq((await os.put({ name: 'long', options: { max_chunk_size: 9 } }, streamOf(long))).digest, want, '448 bits');
    for (const n of [100, 1000, 10_000, 100_000]) {
      const data = randomData(n);
      const oi = await os.put({ name: `r${n}`, options: { max_chunk_size: 9 } }, streamInPieces(data, 7));
      eq(oi.digest, await digest(data), `${n} bytes`);
    }
    await nc.close();
  },

  async 'objectstore - corrupt object: a digest that does not match fails the read'({ pkg, open }) {
    const { nc, os, jsm, js } = await store(pkg, open);
    await os.put({ name: 'a' }, streamOf(te.encode('the real data')));
    const subject = `$O.test.M.${b64url(te.encode('a'))}`;
    const meta = (await jsm.streams.getMessage('OBJ_test', { last_by_subj: subject })).json();
    meta.digest = await digest(te.encode('other data'));
    await js.publish(subject, JSON.stringify(meta));
    const r = await os.get('a');
    await rejects(() => readAll(r.data), (e) => /digests do not match/.test(e.message), 'read');
    await rejects(() => os.getBlob('a'), (e) => /digests do not match/.test(e.message), 'getBlob');
    await nc.close();
  },

  async 'objectstore - meta update'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    await rejects(() => os.update('A', { name: 'B' }), (e) => e.message === 'object not found', 'missing');
    await os.put({ name: 'D' }, streamOf(randomData(1)));
    await os.delete('D');
    await rejects(() => os.update('D', { name: 'DD' }), (e) => e.message === 'cannot update meta for a deleted object', 'deleted');
    await os.put({ name: 'A' }, streamOf(randomData(1)));
    await os.put({ name: 'B' }, streamOf(randomData(1)));
    await rejects(() => os.update('A', { name: 'B' }), (e) => e.message === 'an object already exists with that name', 'taken');
    await nc.close();
  },

  async 'objectstore - cannot put links'({ pkg, open }) {
    const { nc, os } = await store(pkg, open);
    const mm = { name: 'ref', options: { link: { bucket: 'test', name: 'a' } } };
    await rejects(() => os.put(mm, streamOf(te.encode('a'))), (e) => e.message === 'link cannot be set when putting the object in bucket', 'put');
    await nc.close();
  },

  async 'objectstore - put purges old entries'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'OBJS');
    const state = async () => {
      const s = (await os.status()).streamInfo.state;
      return [s.first_seq, s.last_seq];
    };
    let oi = await os.put({ name: 'BLOB', options: { max_chunk_size: 1 } }, streamOf(randomData(9)));
    eq([oi.revision, await state()], [10, [1, 10]], 'first');
    oi = await os.put({ name: 'BLOB', options: { max_chunk_size: 1 } }, streamOf(randomData(9)));
    eq([oi.revision, await state()], [20, [11, 20]], 'second');
    await nc.close();
  },

  async 'objectstore - put previous sequences'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'OBJS');
    const put = (name, n, previousRevision) => os.put({ name, options: { max_chunk_size: 1 } }, streamOf(randomData(n)), { previousRevision });
    eq((await put('A', 9, 0)).revision, 10, 'A');
    eq((await put('B', 3, 0)).revision, 14, 'B');
    eq((await put('A', 3, 10)).revision, 18, 'A at 10');
    eq((await put('A', 0, 18)).revision, 19, 'A at 18');
    await rejects(() => put('A', 1, 10), (e) => /wrong last sequence/.test(e.message), 'A at 10 again');
    eq(new TextDecoder().decode(await os.getBlob('A')), '', 'the failed put left A as it was');
    await nc.close();
  },

  async 'objectstore - put/get blob'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'OBJS');
    const payload = randomData(9);
    await os.put({ name: 'A', options: { max_chunk_size: 1 } }, streamOf(payload), { previousRevision: 0 });
    ok(same(await os.getBlob('A'), payload), 'A');
    await os.putBlob({ name: 'B', options: { max_chunk_size: 1 } }, payload);
    ok(same(await os.getBlob('B'), payload), 'B');
    eq(await os.getBlob('C'), null, 'missing');
    await nc.close();
  },

  async 'objectstore - ttl / allow direct / stream metadata and entry metadata / compression'({ pkg, open }) {
    const ttl = pkg.nanos(60_000);
    const { nc, os, objm } = await store(pkg, open, 'OBJS', { ttl, metadata: { hello: 'world' } });
    const st = await os.status();
    eq([st.ttl, st.streamInfo.config.allow_direct, st.metadata.hello, st.compression], [ttl, true, 'world', false], 'status');
    const info = await os.putBlob({ name: 'hello', metadata: { world: 'hello' } }, empty);
    eq([info.metadata.world, (await os.info('hello')).metadata.world], ['hello', 'hello'], 'entry metadata');
    eq((await (await objm.create('compressed', { compression: true })).status()).compression, true, 'compressed');
    await nc.close();
  },

  async 'os - objm open'({ pkg, open }) {
    const nc = await open();
    const objm = new pkg.Objm(nc.jetstream());
    await rejects(() => objm.open('hello'), (e) => e.message === 'object store not found', 'open missing');
    let obj = await objm.open('hello', false);
    await rejects(() => obj.get('hello'), (e) => /stream not found/.test(e.message), 'get');
    await rejects(() => obj.put({ name: 'hi' }, streamOf(empty)), (e) => /stream not found/.test(e.message), 'put');
    await objm.create('hello');
    obj = await objm.open('hello');
    eq((await obj.put({ name: 'hello' }, streamOf(empty))).name, 'hello', 'put');
    await nc.close();
  },

  async 'objectstore - get pulls chunks only as the reader asks for them'({ pkg, open }) {
    const { nc, os, jsm } = await store(pkg, open, 'lazy');
    const data = randomData(40 * 1024);
    await os.put({ name: 'x', options: { max_chunk_size: 1024 } }, streamOf(data));
    const r = await os.get('x');
    const reader = r.data.getReader();
    eq((await reader.read()).value.length, 1024, 'first chunk');
    // Give an eager reader time to run ahead (nothing to await: the point is that nothing comes).
    await new Promise((done) => setTimeout(done, 300));
    const [ci] = await jsm.consumers.list('OBJ_lazy').next();
    // No consumer left means the read already finished: all 40 chunks were taken.
    const delivered = ci ? ci.delivered.stream_seq : 40;
    ok(delivered <= 8, `at most two pulls ahead of the reader (delivered ${delivered} of 40)`);
    await reader.cancel();
    await nc.close();
  },

  async 'objectstore - a 10 MiB object round trip, digest checked, in pieces'({ pkg, open }) {
    const { nc, os } = await store(pkg, open, 'big');
    const data = randomData(10 * 1024 * 1024);
    const oi = await os.put({ name: 'ten' }, streamInPieces(data, 100_000));
    eq([oi.size, oi.chunks, oi.digest], [data.length, 80, await digest(data)], 'info');
    const r = await os.get('ten');
    ok(same(await readAll(r.data), data), 'round trip');
    ok(!(await r.error), 'no error');
    await nc.close();
  },
};
