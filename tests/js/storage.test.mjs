// Storage reporting and the full-quota error of the built package, in Node. A failing commit is
// simulated by wrapping the in-memory engine so that `flush()` rejects the way the IndexedDB
// engine does when the browser refuses a transaction (the page-level quota test in
// tests/browser/storage.test.mjs does it for real).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, Contrail, ContrailError, StorageFullError } from '../../pkg/index.js';
import { Engine } from '../../pkg/dist/contrail.js';

/** An in-memory engine whose next flush rejects with `failWith()` while `fail` is set. */
function failingEngine() {
  const inner = Engine.inMemory(7);
  const ctl = { fail: null };
  const engine = {
    get persistent() {
      return inner.persistent;
    },
    get warnings() {
      return inner.warnings;
    },
    handle: (...a) => inner.handle(...a),
    publish: (...a) => inner.publish(...a),
    flush: () => (ctl.fail ? Promise.reject(ctl.fail()) : inner.flush()),
    pollTimeout: () => inner.pollTimeout(),
    handleTimeout: (now) => inner.handleTimeout(now),
    close: () => inner.close(),
  };
  return { engine, ctl };
}

async function publishFailingWith(makeError) {
  await open(); // loads the wasm module
  const { engine, ctl } = failingEngine();
  const c = new Contrail(engine);
  await (await c.jetstreamManager()).streams.add({ name: 'S', subjects: ['s'] });
  ctl.fail = makeError;
  const err = await c.jetstream().publish('s', 'x').then(
    () => null,
    (e) => e,
  );
  ctl.fail = null;
  const after = await c.jetstream().publish('s', 'y');
  await c.close();
  return { err, after };
}

test('a commit refused with a DOMException QuotaExceededError is a StorageFullError', async () => {
  const { err } = await publishFailingWith(() => new DOMException('quota', 'QuotaExceededError'));
  assert.ok(err instanceof StorageFullError);
  assert.ok(err instanceof ContrailError);
  assert.equal(err.name, 'StorageFullError');
  assert.match(err.message, /storage full/);
  assert.equal(err.cause.name, 'QuotaExceededError');
});

test('a commit refused with an Error named QuotaExceededError (the wasm side) is a StorageFullError', async () => {
  const { err } = await publishFailingWith(() => Object.assign(new Error('IndexedDB: quota'), { name: 'QuotaExceededError' }));
  assert.ok(err instanceof StorageFullError);
});

test('other commit failures stay plain ContrailErrors', async () => {
  const { err, after } = await publishFailingWith(() => new Error('disk on fire'));
  assert.ok(err instanceof ContrailError);
  assert.ok(!(err instanceof StorageFullError));
  assert.match(err.message, /commit failed: disk on fire/);
  assert.equal(after.stream, 'S'); // the engine goes on after a failed commit
});

test('storage() and persist() in Node: no Storage API, null figures', async () => {
  const c = await open();
  assert.equal(await c.persist(), false);
  assert.deepEqual(await c.storage(), { usage: null, quota: null, persisted: null });
  const info = await (await c.jetstreamManager()).getAccountInfo();
  assert.deepEqual(info.browser_storage, { usage: null, quota: null, persisted: null });
  assert.equal(typeof info.storage, 'number');
  await c.close();
});
