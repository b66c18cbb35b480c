// The dashboard's uploads in a follower tab, in headless Chromium against real servers the test
// starts (Contrail, nats-server 2.9 and 2.14 when installed): two pages of one browser context
// open the same database; the first (the writer) starts an upload from its form; the second, a
// follower, lists it with the writer's status, pauses it (the writer stops sending, the follower
// sees what waits), and resumes it (both see it drained), and sees an upload started later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, serve } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import { WAIT, connected, haveNatsJs, natsjs, pageErrors, waitText, writeLocal, UPLOAD, uploadCell } from './dashboard-page.mjs';

if (!haveNatsJs) console.error('\n!!! SKIPPED: the dashboard tabs tests need nats.js (npm ci in tests/types)\n');

let browser, site;
before(async () => {
  browser = await launch();
  site = await serve();
});
after(async () => {
  await browser?.close();
  await site?.close();
});

/** Opens database `db`'s overview in a new page of `context`; resolves once it is shown. */
async function openDashboard(context, db) {
  const page = await context.newPage();
  const errors = pageErrors(page);
  await page.goto(`${site.url}/www/?db=${db}#/`);
  await connected(page);
  return { page, errors };
}

/** Starts an upload of LOCAL to `to` on `server` from `page`'s form (prefix up.), confirmed. */
async function startUpload(page, server, to) {
  await page.click('#new-upload');
  await page.fill('#upload-url', server.wsUrl);
  await page.fill('#upload-to', to);
  await page.fill('#upload-prefix', 'up.');
  await page.click('dialog.form button.primary');
  await page.click('#confirm-ok');
}

for (const { label, kind, program } of serverTargets('its runs')) {
  test(`uploads in a follower tab: listed with the writer's status, paused and resumed through it (${label})`, { skip: !haveNatsJs && 'no nats.js', timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program });
    const client = await natsjs(server);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const db = `dash-tabs-${label.replace(/[^a-z0-9]+/gi, '-')}-${Math.random()}`;
    try {
      await client.jsm.streams.add({ name: 'REMOTE', subjects: ['up.ev.>'] });
      const writer = await openDashboard(context, db);
      await writer.page.evaluate(async (name) => {
        const { open } = await import('/pkg/index.js');
        const nc = await open({ name });
        await (await nc.jetstreamManager()).streams.add({ name: 'LOCAL', subjects: ['ev.>'] });
        await nc.close();
      }, db);
      await writeLocal(writer.page, db, 1, 3);
      await startUpload(writer.page, server, 'REMOTE');
      await waitText(writer.page, uploadCell('pending'), '0', 'the writer drained the first three');

      // The follower page: its overview lists the writer's upload, with the writer's status.
      const follower = await openDashboard(context, db);
      // Its overview says so (the Role row).
      await follower.page.waitForFunction(() => document.body.textContent.includes('follower'), null, WAIT);
      await waitText(follower.page, uploadCell('state'), 'online', 'the follower lists the upload online');
      assert.equal(await follower.page.textContent(uploadCell('acknowledged')), '3');
      assert.equal(await follower.page.textContent(uploadCell('server')), server.wsUrl);

      // Paused from the follower: the writer pauses; what is written meanwhile waits.
      await follower.page.click(`${UPLOAD} button.pause`);
      await waitText(follower.page, uploadCell('state'), 'paused', 'paused, seen in the follower');
      await waitText(writer.page, uploadCell('state'), 'paused', 'paused in the writer');
      await writeLocal(follower.page, db, 4, 5);
      await waitText(follower.page, uploadCell('pending'), '2', 'two wait, seen in the follower');
      assert.equal((await client.jsm.streams.info('REMOTE')).state.messages, 3, 'nothing sent while paused');

      // Resumed from the follower: both drain.
      await follower.page.click(`${UPLOAD} button.pause`);
      await waitText(follower.page, uploadCell('pending'), '0', 'drained, seen in the follower');
      await waitText(follower.page, uploadCell('state'), 'online', 'online again, seen in the follower');
      await waitText(writer.page, uploadCell('pending'), '0', 'drained in the writer');
      assert.equal((await client.jsm.streams.info('REMOTE')).state.messages, 5, 'the two went up once resumed');

      // An upload the writer starts later (to a stream the server lacks) shows up in the follower too.
      await startUpload(writer.page, server, 'OTHER');
      await follower.page.waitForSelector('#uploads tr[data-to="OTHER"]', WAIT);
      assert.deepEqual(writer.errors, [], 'no uncaught errors in the writer page');
      assert.deepEqual(follower.errors, [], 'no uncaught errors in the follower page');
    } finally {
      await context.close();
      await client.nc.close();
      await server.stop();
    }
  });
}
