// The @nats-io/obj v3 behaviours of tests/browser/obj/cases.mjs in Node, over the in-memory
// engine (the same cases run in headless Chromium over IndexedDB in tests/browser/obj.test.mjs,
// and with the real @nats-io/obj against nats-server 2.14 in tests/js/kv-natsjs.test.mjs).
import { test } from 'node:test';
import * as pkg from '../../pkg/index.js';
import { cases } from '../browser/obj/cases.mjs';

for (const [name, run] of Object.entries(cases)) {
  test(name, { timeout: 60_000 }, () => run({ pkg, open: () => pkg.open() }));
}
