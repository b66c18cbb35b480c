// The dashboard (www/) and the live demo in headless Chromium: a user creates a stream, publishes
// and reads messages on a server over WebSocket (Contrail, and nats-server to prove the page
// speaks plain NATS), and inspects the demo's stream in this browser's IndexedDB.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, serve } from './harness.mjs';
import { serverKinds, startServer } from './servers.mjs';

const WAIT = { timeout: 15_000 };
let browser, site;

before(async () => {
  browser = await launch();
  site = await serve();
});
after(async () => {
  await browser?.close();
  await site?.close();
});

/** Creates ORDERS and publishes one message through the dashboard's forms. */
async function createAndPublish(page) {
  await page.fill('#create-name', 'ORDERS');
  await page.fill('#create-subjects', 'orders.>');
  await page.click('#create-form button');
  await page.waitForSelector('#streams tr[data-name="ORDERS"]', WAIT);
  await page.fill('#publish-subject', 'orders.eu');
  await page.fill('#publish-data', 'first order');
  await page.click('#publish-form button');
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('ORDERS #1'), null, WAIT);
}

for (const kind of serverKinds()) {
  test(`the dashboard creates, publishes and lists messages on ${kind}`, async () => {
    const server = await startServer(kind);
    try {
      const page = await browser.newPage();
      // Contrail serves the dashboard itself and the page finds its WebSocket in /varz;
      // nats-server serves no pages, so the page comes from the test's server with ?server=.
      const url = kind === 'contrail' ? `${server.httpUrl}/` : `${site.url}/www/?server=${encodeURIComponent(server.wsUrl)}`;
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected: server'), null, WAIT);
      await createAndPublish(page);
      await page.waitForFunction(() => document.querySelector('#messages tbody tr td:nth-child(5)')?.textContent === 'first order', null, WAIT);
      const row = await page.$$eval('#streams tr[data-name="ORDERS"] td', (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(row.slice(0, 3), ['ORDERS', 'orders.>', '1']);
      const jsz = await (await fetch(`${server.httpUrl}/jsz?streams=true`)).json();
      assert.equal(jsz.messages, 1, 'the server itself holds the message');
      await page.close();
    } finally {
      await server.stop();
    }
  });
}

test('the live demo keeps its log and its consumer position across a reload', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${site.url}/www/demo.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Open'), null, WAIT);
  await page.fill('#event-text', 'first event');
  await page.click('#event-form button');
  await page.waitForFunction(() => document.querySelector('#feed tbody tr td:nth-child(4)')?.textContent === 'first event', null, WAIT);

  await page.reload();
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Open'), null, WAIT);
  await page.fill('#event-text', 'second event');
  await page.click('#event-form button');
  await page.waitForFunction(() => document.querySelector('#feed tbody tr td:nth-child(4)')?.textContent === 'second event', null, WAIT);
  // The first event was acked before the reload: the durable consumer does not deliver it again.
  const feed = await page.$$eval('#feed tbody tr', (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[3].textContent]));
  assert.deepEqual(feed, [['2', 'second event']]);
  await page.waitForFunction(() => document.getElementById('stats').textContent.includes('acked up to 2'), null, WAIT);

  // The dashboard in another tab of the same origin reads the demo's database (through the
  // demo's engine: it holds the writer lock).
  const dash = await context.newPage();
  await dash.goto(`${site.url}/www/?db=contrail-demo`);
  await dash.waitForSelector('#streams tr[data-name="EVENTS"]', WAIT);
  await dash.click('#streams tr[data-name="EVENTS"]');
  await dash.waitForFunction(() => document.querySelectorAll('#messages tbody tr').length === 2, null, WAIT);
  const subjects = await dash.$$eval('#messages tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(subjects, ['events.note', 'events.note']);
  await context.close();
});
