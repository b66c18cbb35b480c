// The built package, imported by a plain <script type="module"> page in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';

let server, browser;
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('a page imports pkg/ and gets a PubAck from an IndexedDB stream', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/tests/browser/blank.html`);
  const ack = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const nc = await open({ name: 'smoke' });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
    const ack = await nc.jetstream().publish('s.1', 'hello');
    await nc.close();
    return { stream: ack.stream, seq: ack.seq, persistent: nc.persistent };
  });
  assert.deepEqual(ack, { stream: 'S', seq: 1, persistent: true });
});
