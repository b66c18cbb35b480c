// Storage quota in a page: the browser's estimate and persist() through the package, and what a
// full quota does. The origin gets a small quota over CDP (Storage.overrideQuotaForOrigin); the
// page publishes incompressible messages until the browser refuses a commit, which must answer
// that publish as nats-server answers one into a full store (a JetStreamApiError, 503 / 10023
// "insufficient resources"), lose none of the PubAcks given before it, and leave the engine
// usable once the browser has room again. This relies on the engine rolling back to the committed state and
// refusing the failed batch's publishes (src/wasm/engine.rs, src/wasm/journal.rs); a flush that
// fails as a whole still surfaces as a StorageFullError (tests/js/storage.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';

/** Quota given to the test origin, in bytes. */
const QUOTA = 2_000_000;
const MSG_BYTES = 8 * 1024;

let server, browser;
/** Servers of the quota tests (closed in `after`, whatever the tests did). */
const servers = [];
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  for (const s of [server, ...servers]) await s?.close();
});

async function newPage() {
  const page = await browser.newPage();
  await page.goto(`${server.url}/tests/browser/blank.html`);
  return page;
}

test('storage() and persist() report what the browser says; account info carries it', async () => {
  const page = await newPage();
  const r = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const nc = await open({ name: 'storage-info' });
    const persisted = await nc.persist();
    const storage = await nc.storage();
    const info = await (await nc.jetstreamManager()).getAccountInfo();
    await nc.close();
    return { persisted, storage, info };
  });
  assert.equal(typeof r.persisted, 'boolean');
  assert.equal(typeof r.storage.usage, 'number');
  assert.ok(r.storage.quota > 0);
  assert.equal(r.storage.persisted, r.persisted);
  // JetStream's own fields stay as nats-server sends them; the browser's figures sit beside them.
  assert.equal(typeof r.info.storage, 'number');
  assert.equal(r.info.streams, 0);
  assert.equal(typeof r.info.browser_storage.usage, 'number');
  await page.close();
});

/** Runs in the page: publishes random messages one by one until a publish fails (bounded). */
async function fillUp({ db, bytes, keepOpen }) {
  const { open, StorageFullError, ContrailError } = await import('/pkg/index.js');
  const nc = await open({ name: db });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'Q', subjects: ['q.>'] });
  const js = nc.jetstream();
  const sha256 = async (data) =>
    [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((b) => b.toString(16)).join('');
  const acked = [];
  let error = null;
  for (let i = 0; i < 5_000 && !error; i++) {
    const data = crypto.getRandomValues(new Uint8Array(bytes));
    try {
      const ack = await js.publish(`q.${i % 3}`, data);
      acked.push([ack.seq, await sha256(data)]);
    } catch (e) {
      error = {
        name: e.name,
        message: e.message,
        storageFull: e instanceof StorageFullError,
        code: e.code,
        status: e.status,
        contrail: e instanceof ContrailError,
        cause: e.cause?.name,
      };
    }
  }
  const role = nc.role;
  if (keepOpen) globalThis.full = { nc, jsm, js };
  else await nc.close().catch(() => {});
  return { acked, error, role };
}

/** Runs in the page (after `fillUp` with `keepOpen`): frees space in the same engine by
 * `free` ('delete' the stream and add it again, or 'purge' it). Returns null or what failed. */
async function freeSpace(free) {
  const { jsm } = globalThis.full;
  try {
    if (free === 'purge') await jsm.streams.purge('Q');
    else {
      // A second try finds the stream gone when only the add was refused the first time.
      await jsm.streams.delete('Q').catch((e) => {
        if (e.code !== 10059) throw e;
      });
      await jsm.streams.add({ name: 'Q', subjects: ['q.>'] });
    }
    return null;
  } catch (e) {
    return { name: e.name, code: e.code, message: e.message };
  }
}

/** Runs in the page: publishes one message, retried a bounded number of times (the browser's
 * quota check caches the space it has left for a moment). Closes the connection. */
async function publishAgain(bytes) {
  const { nc, js } = globalThis.full;
  const sha256 = async (data) =>
    [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((b) => b.toString(16)).join('');
  let result = null;
  for (let attempt = 1; !result; attempt++) {
    const data = crypto.getRandomValues(new Uint8Array(bytes));
    try {
      const ack = await js.publish('q.after', data);
      result = { ack: [ack.seq, await sha256(data)], attempt };
    } catch (e) {
      if (attempt === 50) result = { error: `${e.name}: ${e.message} (after ${attempt} attempts)` };
      else await new Promise((ok) => setTimeout(ok, 100));
    }
  }
  await nc.close().catch(() => {});
  return result;
}

/** Runs in the page: the digest of each stored message asked for. */
async function readDigests({ db, seqs }) {
  const { open } = await import('/pkg/index.js');
  const nc = await open({ name: db });
  const jsm = await nc.jetstreamManager();
  const out = {};
  for (const seq of seqs) {
    try {
      const m = await jsm.streams.getMessage('Q', { seq });
      out[seq] = [...new Uint8Array(await crypto.subtle.digest('SHA-256', m.data))]
        .map((b) => b.toString(16))
        .join('');
    } catch (e) {
      out[seq] = `missing: ${e.message}`;
    }
  }
  const { state } = await jsm.streams.info('Q');
  await nc.close();
  return { out, state };
}

/** A page on an origin of its own (a server of its own) whose quota is `QUOTA`. */
async function quotaPage() {
  const own = await serve();
  servers.push(own);
  const page = await browser.newPage();
  await page.goto(`${own.url}/tests/browser/blank.html`);
  const cdp = await page.context().newCDPSession(page);
  const setQuota = (quotaSize) => cdp.send('Storage.overrideQuotaForOrigin', { origin: own.url, quotaSize });
  await setQuota(QUOTA);
  return {
    page,
    setQuota,
    close: () => page.close(),
  };
}

/** The error a full quota must give a publish: nats-server's for a store that cannot write. */
function assertStorageFull(error, acked) {
  assert.ok(error, `no publish failed within ${acked.length} messages`);
  assert.ok(acked.length > 10, `failed too early: ${JSON.stringify(error)}`);
  assert.equal(error.name, 'JetStreamApiError', JSON.stringify(error));
  assert.ok(error.contrail);
  assert.equal(error.code, 10023, JSON.stringify(error));
  assert.equal(error.status, 503);
  assert.equal(error.message, 'insufficient resources');
}

test('a full quota refuses the publish with 10023 and loses no acknowledged message', async () => {
  const { page, close } = await quotaPage();
  const { acked, error } = await page.evaluate(fillUp, { db: 'quota', bytes: MSG_BYTES });
  assertStorageFull(error, acked);
  // Reopen in a fresh page load: every PubAck given before the failure is there, byte for byte.
  await page.reload();
  const back = await page.evaluate(readDigests, { db: 'quota', seqs: acked.map(([seq]) => seq) });
  for (const [seq, digest] of acked) assert.equal(back.out[seq], digest, `seq ${seq}`);
  assert.ok(back.state.last_seq >= acked.at(-1)[0]);
  await close();
});

/**
 * Fills the quota, frees space in the same engine with `free`, publishes again, reopens.
 *
 * Chromium refuses every commit that puts anything once the origin is over its quota, and gives
 * the space of deleted records back only when LevelDB compacts (measured: nothing for more than
 * 10 s after deleting every record, even with the database closed). So whether the purge or the
 * delete can commit at the full quota depends on how much room the refused commit left (a purge
 * rewrites the stream's small state record; a delete puts nothing, but adding the stream again
 * puts its config). What the engine owes is that either way nothing acknowledged is lost, and
 * that once the browser has room again (here: the quota raised, standing in for the browser
 * compacting or the user freeing space elsewhere) the same engine, without a reload, frees and
 * publishes, and all of it is there on reopening.
 */
async function recoverBy(free) {
  const { page, setQuota, close } = await quotaPage();
  const { acked, error } = await page.evaluate(fillUp, { db: 'quota', bytes: MSG_BYTES, keepOpen: true });
  assertStorageFull(error, acked);
  const atFull = await page.evaluate(freeSpace, free);
  if (atFull) {
    assert.equal(atFull.name, 'StorageFullError', JSON.stringify(atFull));
    console.log(`# the ${free} at the full quota was refused (${atFull.name}); retried once the browser has room`);
  } else console.log(`# the ${free} committed at the full quota`);
  await setQuota(QUOTA * 10);
  if (atFull) assert.equal(await page.evaluate(freeSpace, free), null, `the ${free} once there is room`);
  const recovered = await page.evaluate(publishAgain, MSG_BYTES);
  assert.ok(recovered.ack, `publishing after the ${free} failed: ${recovered.error}`);
  if (recovered.attempt > 1) console.log(`# publishing after the ${free} took ${recovered.attempt} attempts`);
  await page.reload();
  const [seq, digest] = recovered.ack;
  const back = await page.evaluate(readDigests, { db: 'quota', seqs: [seq] });
  assert.equal(back.out[seq], digest);
  // The purged or deleted messages stay gone: the stream holds only the new one.
  assert.equal(back.state.messages, 1);
  assert.equal(back.state.first_seq, seq);
  assert.equal(back.state.last_seq, seq);
  assert.equal(seq, free === 'purge' ? acked.at(-1)[0] + 1 : 1);
  await close();
}

test('after a full quota, a deleted stream stays deleted and publishing works again once there is room', () => recoverBy('delete'));

test('after a full quota, a purge (at once or once there is room) persists and publishing works again', () => recoverBy('purge'));

test('a follower tab publishing into a full quota gets 10023 through the writer', async () => {
  const own = await serve();
  servers.push(own);
  const ctx = await browser.newContext(); // one storage partition: the two pages share the database
  try {
    const writer = await ctx.newPage();
    await writer.goto(`${own.url}/tests/browser/blank.html`);
    const cdp = await ctx.newCDPSession(writer);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: own.url, quotaSize: QUOTA });
    const writerRole = await writer.evaluate(async () => {
      const { open } = await import('/pkg/index.js');
      globalThis.nc = await open({ name: 'quota-tabs' });
      return globalThis.nc.role;
    });
    assert.equal(writerRole, 'writer');

    const follower = await ctx.newPage();
    await follower.goto(`${own.url}/tests/browser/blank.html`);
    const { acked, error, role } = await follower.evaluate(fillUp, { db: 'quota-tabs', bytes: MSG_BYTES });
    assert.equal(role, 'follower');
    assertStorageFull(error, acked);

    // Read back through the writer (still open): every PubAck the follower got is stored.
    const back = await follower.evaluate(readDigests, { db: 'quota-tabs', seqs: acked.map(([seq]) => seq) });
    for (const [seq, digest] of acked) assert.equal(back.out[seq], digest, `seq ${seq}`);
  } finally {
    await ctx.close();
  }
});
