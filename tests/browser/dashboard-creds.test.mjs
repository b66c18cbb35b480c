// The dashboard's uploads to a server that asks for a token (Contrail, Debian's nats-server 2.9
// and nats-server 2.14 when installed), in headless Chromium:
// - an upload recorded in this browser's database, listed after a reload with no credentials:
//   its row says it needs a sign-in and offers a labelled "Sign in" button (pressed from the
//   keyboard) that opens the main connection's credential form; a wrong token is refused and
//   the form asks again at once (cancelled, the row still offers it); the right one lets the
//   upload go on, the counts move as it drains (and a status change while the keyboard is on
//   "Sign in" leaves it there), and the server stream holds every local message exactly once,
//   in order. Nothing is kept in localStorage or sessionStorage;
// - the dashboard signed in to that server (its main connection), then switched to the
//   database: the upload goes on with those credentials, with no form.
// A screenshot of the row asking to sign in goes to target/dashboard-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, launch, serve } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import {
  WAIT, haveNatsJs, pageErrors, natsjs, connected, waitText, writeLocal, remoteMessages, uploaded, UPLOAD, uploadCell,
} from './dashboard-page.mjs';

const TOKEN = 's3cret';
const SHOTS = join(ROOT, 'target/dashboard-screenshots');
if (!haveNatsJs) console.error('\n!!! SKIPPED: the dashboard credential tests need nats.js (npm ci in tests/types)\n');

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

/**
 * Stream LOCAL (ev.>) in database `db` with m1..m3 and an upload of it to REMOTE on `url`
 * (prefix up.) recorded there: given the URL alone, the package records it and sends nothing.
 */
async function recordUpload(page, db, url) {
  await page.evaluate(async ([name, url]) => {
    const { open } = await import('/pkg/index.js');
    const nc = await open({ name });
    await (await nc.jetstreamManager()).streams.add({ name: 'LOCAL', subjects: ['ev.>'] });
    await nc.sync(url, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.' });
    await nc.close();
  }, [db, url]);
  await writeLocal(page, db, 1, 3);
}

/** Fills the credential form on screen with `token` and submits it. */
async function giveToken(page, token) {
  await page.fill('#cred-token', token);
  await page.click('dialog.form button.primary');
}

/** What this page keeps in Web Storage (credentials must not be there). */
const webStorage = (page) => page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));

for (const { label, kind, program } of serverTargets('its credential runs')) {
  test(`uploads to ${label} asking for a token: the row asks to sign in, the form's token lets them go on; a dashboard signed in to it needs no form`, { skip: !haveNatsJs && 'no nats.js', timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program, config: `authorization { token: ${TOKEN} }` });
    const client = await natsjs(server, { token: TOKEN });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = pageErrors(page);
    const db = `creds-${label.replace(/[^a-z0-9]+/gi, '-')}`;
    try {
      await client.jsm.streams.add({ name: 'REMOTE', subjects: ['up.ev.>'] });
      await page.goto(`${site.url}/tests/browser/blank.html`);
      await recordUpload(page, db, server.wsUrl);

      // Listed when the database opens, with no credentials: refused, the row asks to sign in.
      await page.goto(`${site.url}/www/?db=${db}#/s/LOCAL`);
      await connected(page);
      await waitText(page, uploadCell('state'), 'sign-in needed', 'the row asks for a sign-in');
      assert.match(await page.textContent(uploadCell('last-error')), /authori[sz]ation/i, 'it says the server refused');
      assert.equal(await page.textContent(uploadCell('pending')), '3', 'nothing went up');
      const shot = join(SHOTS, `upload-sign-in-${db}-desktop-light.png`);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`screenshot: ${shot}`);
      const signIn = page.getByRole('button', { name: `Sign in to ${server.wsUrl} for its uploads` });
      await signIn.focus();
      // A status change while the keyboard is on the button (a fourth message waits) updates
      // the row without taking the focus from it.
      await writeLocal(page, db, 4, 4);
      await waitText(page, uploadCell('pending'), '4', 'the row shows the fourth waiting');
      assert.ok(await signIn.evaluate((el) => el === document.activeElement), 'the keyboard is still on "Sign in"');
      await page.keyboard.press('Enter');

      // A wrong token: refused, the form asks again at once; cancelled, the row still offers it.
      await giveToken(page, 'wrong');
      await page.waitForSelector('dialog.form:has-text("Refused")', WAIT);
      await page.click('dialog.form button[value=cancel]');
      await page.waitForSelector('dialog', { state: 'detached', ...WAIT });
      await waitText(page, uploadCell('state'), 'sign-in needed', 'still waiting for a sign-in');
      assert.equal(await page.textContent(uploadCell('pending')), '4', 'nothing went up with a wrong token');
      await signIn.press('Enter');
      await giveToken(page, TOKEN);
      await waitText(page, uploadCell('state'), 'online', 'signed in, the upload goes on');
      await waitText(page, uploadCell('pending'), '0', 'drained');
      await waitText(page, uploadCell('acknowledged'), '4', 'four acknowledged');
      assert.ok(await page.locator(`${UPLOAD} button.sign-in`).isHidden(), 'no sign-in offered once signed in');
      // The counts move as more go up over the signed-in connection.
      await writeLocal(page, db, 5, 8);
      await waitText(page, uploadCell('acknowledged'), '8', 'the four more acknowledged');
      await waitText(page, uploadCell('pending'), '0', 'drained again');
      assert.deepEqual(await remoteMessages(client), uploaded(8), 'every local message on the server exactly once, in order');
      assert.ok(!(await webStorage(page)).includes(TOKEN), 'the token is not in Web Storage');

      // A fresh page signed in to the server (its main connection), then switched to the
      // database: the upload goes on with those credentials, no form.
      await page.goto(`${site.url}/www/?server=${encodeURIComponent(server.wsUrl)}#/`);
      await writeLocal(page, db, 9, 12);
      await giveToken(page, TOKEN);
      await connected(page);
      await page.fill('#db-name', db);
      await page.press('#db-name', 'Enter');
      await page.waitForFunction((name) => document.getElementById('status').textContent.includes(`"${name}"`), db, WAIT);
      await page.evaluate(() => (location.hash = '#/s/LOCAL'));
      await waitText(page, uploadCell('acknowledged'), '4', 'the four sent with the main connection\'s credentials');
      await waitText(page, uploadCell('pending'), '0', 'drained');
      assert.equal(await page.$('dialog'), null, 'no credential form asked');
      assert.equal(await page.textContent(uploadCell('state')), 'online');
      assert.deepEqual(await remoteMessages(client), uploaded(12), 'every local message on the server exactly once, in order');
      assert.ok(!(await webStorage(page)).includes(TOKEN), 'the token is not in Web Storage');
      assert.deepEqual(errors, [], 'no uncaught errors in the page');
    } finally {
      await context.close();
      await client.nc.close();
      await server.stop();
    }
  });
}
