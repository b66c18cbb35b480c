// The @nats-io/jetstream v3 behaviours of tests/browser/v3/cases.mjs in Node, over the in-memory
// engine (the same cases run in headless Chromium over IndexedDB in tests/browser/v3.test.mjs).
import { test } from 'node:test';
import * as pkg from '../../pkg/index.js';
import { cases } from '../browser/v3/cases.mjs';

for (const [name, run] of Object.entries(cases)) {
  test(name, { timeout: 30_000 }, () => run({ pkg, open: () => pkg.open() }));
}
