// The @nats-io/obj v3 behaviours of tests/browser/obj/cases.mjs (nats.js's object store tests) in
// pages of headless Chromium, each case on its own IndexedDB database. A case throws, with what it saw,
// when a behaviour differs; the page hands the message back and the test fails with it.
import { pageCases } from './harness.mjs';

await pageCases('obj', { timeout: 120_000 });
