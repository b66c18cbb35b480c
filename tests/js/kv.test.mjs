// The @nats-io/kv v3 behaviours of tests/browser/kv/cases.mjs in Node, over the in-memory engine
// (the same cases run in headless Chromium over IndexedDB in tests/browser/kv.test.mjs, and with
// the real @nats-io/kv against nats-server 2.14 in tests/js/kv-natsjs.test.mjs).
import { test } from 'node:test';
import * as pkg from '../../pkg/index.js';
import { cases } from '../browser/kv/cases.mjs';

for (const [name, run] of Object.entries(cases)) {
  test(name, { timeout: 30_000 }, () => run({ pkg, open: () => pkg.open() }));
}
