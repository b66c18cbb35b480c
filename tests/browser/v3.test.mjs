// The @nats-io/jetstream v3 behaviours of tests/browser/v3/cases.mjs (jsm, jetstream, jsmsg,
// fetch, next, consume, ordered consumers: the areas of nats.js's own jetstream tests) in pages of
// headless Chromium, each case on its own IndexedDB database. A case throws, with what it saw,
// when a behaviour differs; the page hands the message back and the test fails with it.
import { pageCases } from './harness.mjs';

await pageCases('v3');
