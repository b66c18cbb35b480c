// The Publisher and Consumer cases of tests/browser/pubsub/cases.mjs in pages of headless
// Chromium, each case on its own IndexedDB database. A case throws, with what it saw, when a
// behaviour differs; the page hands the message back and the test fails with it.
import { pageCases } from './harness.mjs';

await pageCases('pubsub', { modules: { pubsub: '/pkg/pubsub.js' } });
