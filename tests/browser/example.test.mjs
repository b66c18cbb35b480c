// examples/v3-app.mjs, an app written for @nats-io/jetstream v3, run unchanged but for its
// connect line: in headless Chromium on a local IndexedDB database (examples/v3-app.html maps
// '@nats-io/jetstream' to pkg/ with an import map), and in Node with the real nats.js v3
// (@nats-io/jetstream and @nats-io/transport-node from tests/types) against nats-server 2.14.
// Both runs must see the same things. Needs `npm ci` in tests/types (scripts/test-wasm does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, sharedBrowser } from './harness.mjs';
import { natsServer214, startServer } from './servers.mjs';

const TYPES = join(ROOT, 'tests/types');

/** What the app must see, on either side. */
const EXPECTED = {
  duplicate: true,
  conflict: [10071, 400],
  stream: 'ORDERS',
  lastUs: { id: 6 },
  missing: null,
  fetched: [
    ['orders.eu', { id: 1 }, 1, 2],
    ['orders.eu', { id: 3 }, 1, 1],
  ],
  next: { id: 5 },
  ackAck: true,
  billing: 0,
  exists: 10148,
  updated: 3,
  ordered: [1, 2, 3, 4, 5, 6],
  messages: 6,
  streams: ['ORDERS'],
};

const shared = sharedBrowser();

test('the v3 example app runs on a local database in Chromium (only its connect line differs)', async () => {
  const page = await shared.browser.newPage();
  try {
    await page.goto(`${shared.site.url}/examples/v3-app.html?db=example-${Date.now()}`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 });
    assert.deepEqual(await page.evaluate(() => window.result), { ok: true, seen: EXPECTED });
  } finally {
    await page.close();
  }
});

test('the same app with nats.js v3 against nats-server 2.14 sees the same', async (t) => {
  const program = natsServer214();
  const natsjs = join(TYPES, 'node_modules/@nats-io/jetstream');
  if (!program || !existsSync(natsjs)) {
    const why = !program ? 'no nats-server 2.14 (set CONTRAIL_NATS_SERVER_214 or run scripts/interop)' : `no nats.js in ${TYPES} (npm ci there)`;
    console.error(`\n!!! SKIPPED: the v3 example did NOT run against nats-server: ${why}\n`);
    t.skip(why);
    return;
  }
  // The app imports '@nats-io/jetstream' by name: resolve it from tests/types, unchanged.
  const parent = pathToFileURL(join(TYPES, 'package.json')).href;
  register(
    'data:text/javascript,' +
      encodeURIComponent(
        `export async function resolve(spec, ctx, next) {
           return spec === '@nats-io/jetstream' ? next(spec, { ...ctx, parentURL: ${JSON.stringify(parent)} }) : next(spec, ctx);
         }`,
      ),
  );
  const nats = await startServer('nats-server', { program });
  try {
    const { connect } = await import(pathToFileURL(join(TYPES, 'node_modules/@nats-io/transport-node/lib/mod.js')).href);
    const { run } = await import(pathToFileURL(join(ROOT, 'examples/v3-app.mjs')).href);
    // The connect line.
    const nc = await connect({ servers: `127.0.0.1:${nats.port}` });
    try {
      assert.deepEqual(await run(nc), EXPECTED);
    } finally {
      await nc.close();
    }
  } finally {
    await nats.stop();
  }
});
