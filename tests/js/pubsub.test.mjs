// The Publisher and Consumer cases of tests/browser/pubsub/cases.mjs in Node, over the in-memory
// engine (the same cases run in headless Chromium over IndexedDB in tests/browser/pubsub.test.mjs,
// and over nats.js against nats-server 2.14 in tests/js/pubsub-natsjs.test.mjs).
import { test } from 'node:test';
import * as pkg from '../../pkg/index.js';
import * as pubsub from '../../pkg/pubsub.js';
import { cases } from '../browser/pubsub/cases.mjs';

for (const [name, run] of Object.entries(cases)) {
  test(name, { timeout: 30_000 }, () => run({ pkg, pubsub, open: () => pkg.open() }));
}

test('the package exports pubsub.js (Consumer as PubSubConsumer: v3 names a pull consumer Consumer)', async () => {
  const { strict: assert } = await import('node:assert');
  assert.equal(pkg.Publisher, pubsub.Publisher);
  assert.equal(pkg.PubSubConsumer, pubsub.Consumer);
  assert.equal(pkg.PubSubConfigError, pubsub.PubSubConfigError);
  assert.ok(new pubsub.PubSubConfigError('x') instanceof pkg.ContrailError);
  assert.equal(pkg.isRetryable, pubsub.isRetryable);
});
