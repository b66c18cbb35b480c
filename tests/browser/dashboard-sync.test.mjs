// The dashboard's sync views in headless Chromium, against real servers the test starts (ports
// from each server's ports file; a restart takes the same ports and store back):
// - a `contrail serve` with a `links` block to a hub (another Contrail, and Debian's nats-server):
//   the overview shows the link up, down with its last error while the hub is stopped, and up
//   again when it is back; a mirror of the hub's stream shows its lag reaching 0, on the
//   overview and on the stream's page;
// - a database of this browser uploading a stream to a server (Contrail and nats-server),
//   started from the page behind a confirmation: the page shows the upload online and drained,
//   paused and resumed, offline with messages pending while the server is stopped, and drained
//   again once it is back, with every message on the server once, in order;
// - the same upload across reloads: listed from the database (still paused, with its server),
//   resumed over the dashboard's connection; reloaded while its server is down, listed offline
//   with what is pending, which goes up once the server is back, every message exactly once; forgotten behind a confirmation, it is gone after
//   another reload and so is its consumer on the local stream.
// Screenshots of the sync views (desktop, light and dark) go to target/dashboard-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, launch, serve } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import {
  WAIT, connected, haveNatsJs, natsjs, pageErrors, waitText, writeLocal, remoteMessages, uploaded, UPLOAD, uploadCell,
} from './dashboard-page.mjs';

/** A link or a mirror waits out its reconnect backoff after the hub comes back. */
const RECONNECT = { timeout: 60_000 };
const SHOTS = join(ROOT, 'target/dashboard-screenshots');
if (!haveNatsJs) console.error('\n!!! SKIPPED: the dashboard sync tests need nats.js (npm ci in tests/types)\n');

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

/** Full-page screenshots of `page` in light and dark. */
async function shoot(page, name, shots) {
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme });
    shots.push(join(SHOTS, `${name}-desktop-${colorScheme}.png`));
    await page.screenshot({ path: shots.at(-1), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: null });
}

/** Contrail, Debian's nats-server (2.9) and nats-server 2.14 when installed (loudly skipped if not). */
const targets = () => serverTargets('its sync runs');

/** Every test here: skipped without nats.js, and given time for a server's restart. */
const TEST_OPTIONS = { skip: !haveNatsJs && 'no nats.js', timeout: 180_000 };

/** A server label as a file-name piece (screenshots, database names). */
const slugOf = (label) => label.replace(/[^a-z0-9]+/gi, '-');

/** Asserts the page threw nothing uncaught, and prints where the screenshots went. */
function assertCleanAndListShots(errors, shots) {
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
  console.log(`screenshots:\n  ${shots.join('\n  ')}`);
}

/** Answers the confirmation on screen with OK. */
const confirmDialog = (page) => page.click('#confirm-ok');

/** Cancels the confirmation on screen and waits until no dialog is left. */
async function cancelDialog(page) {
  await page.click('dialog.confirm button[value=cancel]');
  await page.waitForSelector('dialog', { state: 'detached', ...WAIT });
}

const sameStarts = (server) => ({ port: server.port, wsPort: server.wsPort, httpPort: server.httpPort });

for (const { label: hubLabel, kind: hubKind, program: hubProgram } of targets()) {
  test(`links: a contrail serve linked to a ${hubLabel} hub shows the link up, down with its error, up again; a mirror's lag reaches 0`, TEST_OPTIONS, async () => {
    const hubSlug = slugOf(hubLabel);
    const hubStore = await mkdtemp(join(tmpdir(), 'contrail-dash-hub-'));
    let hub = await startServer(hubKind, { storeDir: hubStore, program: hubProgram });
    const server = await startServer('contrail', { config: `links [ { name: hub, url: "nats://127.0.0.1:${hub.port}", domain: hub } ]` });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = pageErrors(page);
    const shots = [];
    let onHub = await natsjs(hub);
    const here = await natsjs(server);
    try {
      await onHub.jsm.streams.add({ name: 'O', subjects: ['o.>'] });
      for (let i = 1; i <= 20; i++) await onHub.js.publish(`o.${i}`, `m${i}`);

      await page.goto(`${server.httpUrl}/#/`);
      await connected(page);
      const state = '#links tr[data-link="hub"] td[data-field=state]';
      await waitText(page, state, 'up', 'the link is up');
      assert.match(await page.textContent('#links tr[data-link="hub"]'), new RegExp(`127\\.0\\.0\\.1:${hub.port}`), 'its URL');
      const hubVersion = onHub.nc.info.version;
      await waitText(page, '#links tr[data-link="hub"] td[data-field=far-server]', (t) => /\d+\.\d+\.\d+$/.test(t), 'the far server and its version');
      assert.ok((await page.textContent('#links tr[data-link="hub"] td[data-field=far-server]')).endsWith(hubVersion), 'the hub\'s own version');

      // A mirror of the hub's stream, through the link: all 20 copied, nothing behind.
      await here.jsm.streams.add({ name: 'M', mirror: { name: 'O', domain: 'hub' } });
      await waitText(page, '#streams tr[data-name="M"] td[data-field=messages]', '20', 'the mirror holds the hub\'s messages');
      await waitText(page, '#mirrors tr[data-stream="M"][data-origin="O"] td[data-field=lag]', '0', 'the mirror is not behind');
      await waitText(page, '#mirrors tr[data-stream="M"] td[data-field=active]', (t) => t !== 'never', 'the mirror has heard from the hub');
      assert.match(await page.textContent('#mirrors tr[data-stream="M"]'), /mirror.*domain hub/);

      // The hub stops: the link is down with the reason.
      const ports = sameStarts(hub);
      await onHub.nc.close();
      await hub.stop();
      await waitText(page, state, 'down', 'the link is down');
      await waitText(page, '#links tr[data-link="hub"] td[data-field=last-error]', (t) => t.length > 0, 'the link says why');
      await shoot(page, `sync-links-down-${hubSlug}`, shots);

      // Back on the same port with its store: up again, counted as a reconnect.
      hub = await startServer(hubKind, { storeDir: hubStore, ports, program: hubProgram });
      await waitText(page, state, 'up', 'the link is up again', RECONNECT);
      await waitText(page, '#links tr[data-link="hub"] td[data-field=reconnects]', (t) => Number(t) >= 1, 'one reconnect counted');
      onHub = await natsjs(hub);
      for (let i = 21; i <= 25; i++) await onHub.js.publish(`o.${i}`, `m${i}`);
      await waitText(page, '#streams tr[data-name="M"] td[data-field=messages]', '25', 'the mirror follows the hub after its restart', RECONNECT);
      await waitText(page, '#mirrors tr[data-stream="M"][data-origin="O"] td[data-field=lag]', '0', 'caught up again');
      await shoot(page, `sync-links-overview-${hubSlug}`, shots);

      // The stream page shows where it copies from, with its lag bar.
      await page.goto(`${server.httpUrl}/#/s/M`);
      await waitText(page, '#stream-messages', '25', 'the mirror\'s page');
      await waitText(page, '#stream-origins tr[data-origin="O"] [data-field=lag]', '0', 'the lag on the stream page');
      assert.ok(await page.$('#stream-origins tr[data-origin="O"] .bar'), 'a lag bar');
      await shoot(page, `sync-mirror-stream-${hubSlug}`, shots);

      // The same page pointed at the hub: its origin's /linkz and /varz are not the hub's, so
      // neither the links nor that health show (the hub's own account figures do).
      await page.goto(`${server.httpUrl}/?server=${encodeURIComponent(hub.wsUrl)}#/`);
      await connected(page);
      await page.waitForSelector('#streams tr[data-name="O"]', WAIT);
      await page.waitForFunction(() => [...document.querySelectorAll('.health dt')].some((dt) => dt.textContent === 'Consumers'), null, WAIT);
      assert.equal(await page.$('#health-connections'), null, 'no health from another server\'s /varz');
      assert.equal(await page.$('#links'), null, 'no links from another server\'s /linkz');
      assertCleanAndListShots(errors, shots);
    } finally {
      await page.close();
      await onHub.nc.close().catch(() => {});
      await here.nc.close();
      await server.stop();
      await hub.stop();
      await rm(hubStore, { recursive: true, force: true });
    }
  });
}

/** Opens database `db` in the page and creates stream LOCAL (ev.>) there with m1..m3, from the page. */
async function createLocal(page, db) {
  await page.goto(`${site.url}/www/?db=${db}#/`);
  await connected(page);
  await page.click('#new-stream');
  await page.fill('#stream-name', 'LOCAL');
  await page.fill('#stream-subjects', 'ev.>');
  await page.click('dialog.form button.primary');
  await confirmDialog(page);
  await waitText(page, '#stream-title', 'LOCAL', 'the local stream page');
  await writeLocal(page, db, 1, 3);
  await waitText(page, '#stream-messages', '3', 'three local messages');
}

/** Fills the page's upload form (LOCAL to `to` on `server`, prefix up.) up to its confirmation. */
async function fillUpload(page, server, to = 'REMOTE') {
  await page.click('#new-upload');
  await page.fill('#upload-url', server.wsUrl);
  await page.fill('#upload-to', to);
  await page.fill('#upload-prefix', 'up.');
  await page.click('dialog.form button.primary');
}

/** The names of the consumers on local stream `stream` of database `db`, read through the package. */
function localConsumers(page, db, stream) {
  return page.evaluate(async ([name, stream]) => {
    const { open } = await import('/pkg/index.js');
    const nc = await open({ name });
    const names = [];
    for await (const ci of (await nc.jetstreamManager()).consumers.list(stream)) names.push(ci.name);
    await nc.close();
    return names;
  }, [db, stream]);
}

/**
 * What an upload test runs on: a server of `kind` (`program`) keeping its store in a directory of
 * its own, a nats.js client of it, and a page in a fresh browser context on database
 * `dash-<tag>-<slug>`. `stopServer()` closes the client and stops the server; `restartServer()`
 * brings it back on the same ports with its store; `connectClient()` connects nats.js to it again;
 * `close()` tidies everything up.
 */
async function startUploadRig({ label, kind, program }, tag) {
  const store = await mkdtemp(join(tmpdir(), `contrail-dash-${tag}-`));
  const rig = { slug: slugOf(label), shots: [] };
  rig.db = `dash-${tag}-${rig.slug}`;
  rig.server = await startServer(kind, { storeDir: store, program });
  rig.client = await natsjs(rig.server);
  rig.context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  rig.page = await rig.context.newPage();
  rig.errors = pageErrors(rig.page);
  let ports;
  rig.stopServer = async () => {
    ports = sameStarts(rig.server);
    await rig.client.nc.close();
    await rig.server.stop();
  };
  rig.restartServer = async () => {
    rig.server = await startServer(kind, { storeDir: store, ports, program });
  };
  rig.connectClient = async () => {
    rig.client = await natsjs(rig.server);
  };
  rig.close = async () => {
    await rig.context.close();
    await rig.client.nc.close().catch(() => {});
    await rig.server.stop();
    await rm(store, { recursive: true, force: true });
  };
  return rig;
}

/** Stream REMOTE (up.ev.>) on the rig's server, and LOCAL with m1..m3 in the page's database. */
async function createStreams({ client, page, db }) {
  await client.jsm.streams.add({ name: 'REMOTE', subjects: ['up.ev.>'] });
  await createLocal(page, db);
}

/** Waits until the upload has sent LOCAL's first three messages and has nothing pending. */
async function waitFirstThreeSent(page) {
  await waitText(page, uploadCell('pending'), '0', 'drained');
  await waitText(page, uploadCell('acknowledged'), '3', 'three acknowledged');
}

/** Pauses the upload, then writes m4 and m5 to LOCAL: the two wait. */
async function pauseWithTwoWaiting({ page, db }) {
  await page.click(`${UPLOAD} button.pause`);
  await waitText(page, uploadCell('state'), 'paused', 'paused');
  await writeLocal(page, db, 4, 5);
  await waitText(page, uploadCell('pending'), '2', 'two wait while paused');
}

/** Stops the rig's server; once the upload shows offline, writes `count` more to LOCAL (from m6): they pend. */
async function stopServerAndWritePending(rig, count) {
  await rig.stopServer();
  await waitText(rig.page, uploadCell('state'), 'offline', 'the upload is offline while the server is down');
  await writeLocal(rig.page, rig.db, 6, 5 + count);
  await waitText(rig.page, uploadCell('pending'), String(count), `${count} pending while the server is down`);
}

for (const target of targets()) {
  test(`uploads: a local stream uploaded to ${target.label} from the page: online, paused and resumed, offline with messages pending, drained when the server is back`, TEST_OPTIONS, async () => {
    const rig = await startUploadRig(target, 'sync');
    const { page, db, shots, slug } = rig;
    try {
      await createStreams(rig);

      // Started from the page: cancelled at the confirmation first (nothing starts), then confirmed.
      const fill = (to = 'REMOTE') => fillUpload(page, rig.server, to);
      await fill();
      await cancelDialog(page);
      assert.equal(await page.$(UPLOAD), null, 'a cancelled upload does not start');
      // To a stream the server does not have: refused, with the reason and when it tries again.
      await fill('MISSING');
      await confirmDialog(page);
      const missing = '#uploads tr[data-to="MISSING"]';
      await waitText(page, `${missing} td[data-field=last-error]`, (t) => t.length > 0, 'the refusal shows');
      await waitText(page, `${missing} td[data-field=retry-at]`, (t) => t.length > 0, 'the retry time shows');
      assert.equal(await page.textContent(`${missing} td[data-field=pending]`), '3', 'nothing went up');
      await page.click(`${missing} button.stop`);
      await confirmDialog(page);
      await waitText(page, `${missing} td[data-field=state]`, 'stopped', 'the refused upload stopped');
      // Stopped, it is still recorded (a reload would run it again): forgotten, it goes for good.
      assert.ok((await localConsumers(page, db, 'LOCAL')).includes('upload_MISSING'), 'a stopped upload keeps its consumer');
      await page.click(`${missing} button.forget`);
      await confirmDialog(page);
      await page.waitForSelector(missing, { state: 'detached', ...WAIT });
      assert.ok(!(await localConsumers(page, db, 'LOCAL')).includes('upload_MISSING'), 'a forgotten upload\'s consumer is deleted');
      await fill();
      await confirmDialog(page);
      await waitText(page, uploadCell('state'), 'online', 'the upload is online');
      await waitFirstThreeSent(page);
      assert.equal((await rig.client.jsm.streams.info('REMOTE')).state.messages, 3);

      // Paused: new messages wait; resumed: they go.
      await pauseWithTwoWaiting(rig);
      assert.equal((await rig.client.jsm.streams.info('REMOTE')).state.messages, 3, 'nothing sent while paused');
      await page.click(`${UPLOAD} button.pause`);
      await waitText(page, uploadCell('pending'), '0', 'resumed and drained');
      await waitText(page, uploadCell('state'), 'online', 'online again');

      // The server stops: offline, and what is written meanwhile is pending.
      await stopServerAndWritePending(rig, 4);
      await shoot(page, `sync-upload-offline-${slug}`, shots);

      // Back on the same ports with its store: the four go up, once.
      await rig.restartServer();
      await waitText(page, uploadCell('state'), 'online', 'online when the server is back', RECONNECT);
      await waitText(page, uploadCell('pending'), '0', 'drained after the outage', RECONNECT);
      await rig.connectClient();
      assert.deepEqual(await remoteMessages(rig.client), uploaded(9), 'every local message on the server once, in local order');
      await shoot(page, `sync-upload-stream-${slug}`, shots);

      // The overview lists it too (same page, another view); stopping is confirmed.
      await page.evaluate(() => (location.hash = '#/'));
      await waitText(page, uploadCell('state'), 'online', 'the upload on the overview');
      await shoot(page, `sync-upload-overview-${slug}`, shots);
      await page.click(`${UPLOAD} button.stop`);
      await cancelDialog(page);
      assert.equal(await page.textContent(uploadCell('state')), 'online', 'a cancelled stop changes nothing');
      await page.click(`${UPLOAD} button.stop`);
      await confirmDialog(page);
      await waitText(page, uploadCell('state'), 'stopped', 'stopped');
      assertCleanAndListShots(rig.errors, shots);
    } finally {
      await rig.close();
    }
  });
}

for (const target of targets()) {
  test(`uploads after a reload: listed from the database and going on to ${target.label}; forgotten, gone after another reload with its consumer`, TEST_OPTIONS, async () => {
    const rig = await startUploadRig(target, 'reload');
    const { page, db, shots, slug } = rig;
    const reload = async () => {
      await page.reload();
      await connected(page);
      await waitText(page, '#stream-title', 'LOCAL', 'the local stream page after the reload');
    };
    try {
      await createStreams(rig);
      await fillUpload(page, rig.server);
      await confirmDialog(page);
      await waitFirstThreeSent(page);

      // Paused with two waiting, then reloaded: listed from the database, still paused, its
      // server shown; resumed, the two go up.
      await pauseWithTwoWaiting(rig);
      await reload();
      await waitText(page, uploadCell('state'), 'paused', 'listed after the reload, still paused');
      assert.equal(await page.textContent(uploadCell('pending')), '2', 'the two still wait');
      assert.equal(await page.textContent(uploadCell('server')), rig.server.wsUrl, 'its server');
      await page.click(`${UPLOAD} button.pause`);
      await waitText(page, uploadCell('state'), 'online', 'resumed over the dashboard\'s connection');
      await waitText(page, uploadCell('pending'), '0', 'the two went up after the reload');

      // The server stops and 200 are written; reloaded meanwhile, the upload is listed offline
      // with the 200 pending, and when the server is back the dashboard's connection reaches it
      // and they go up, each once.
      await stopServerAndWritePending(rig, 200);
      await reload();
      await waitText(page, uploadCell('pending'), '200', 'listed after the reload with the 200 pending');
      assert.equal(await page.textContent(uploadCell('state')), 'offline', 'offline after the reload');
      await rig.restartServer();
      await rig.connectClient();
      await waitText(page, uploadCell('state'), 'online', 'online once the server is back', RECONNECT);
      await waitText(page, uploadCell('pending'), '0', 'drained once the server is back', RECONNECT);
      assert.equal(await page.textContent(uploadCell('acknowledged')), '200', 'the 200 sent once each after the reload');
      assert.deepEqual(await remoteMessages(rig.client), uploaded(205), 'every local message on the server exactly once, in local order');
      assert.ok((await localConsumers(page, db, 'LOCAL')).includes('upload_REMOTE'), 'the upload\'s consumer keeps its cursor');
      await shoot(page, `sync-upload-reloaded-${slug}`, shots);

      // Forget: cancelled first (nothing changes), then confirmed: the row goes.
      await page.click(`${UPLOAD} button.forget`);
      await cancelDialog(page);
      assert.equal(await page.textContent(uploadCell('state')), 'online', 'a cancelled forget changes nothing');
      await page.click(`${UPLOAD} button.forget`);
      await confirmDialog(page);
      await page.waitForSelector(UPLOAD, { state: 'detached', ...WAIT });
      assert.deepEqual(await localConsumers(page, db, 'LOCAL'), [], 'its consumer is deleted from the local stream');

      // Reloaded: not listed, its consumer still gone, and what is written now stays here.
      await reload();
      await page.waitForSelector('.uploads p.empty', WAIT);
      assert.equal(await page.$(UPLOAD), null, 'a forgotten upload is not listed after a reload');
      assert.deepEqual(await localConsumers(page, db, 'LOCAL'), [], 'no consumer after the reload');
      assert.equal((await rig.client.jsm.streams.info('REMOTE')).state.messages, 205, 'nothing more went up');
      assertCleanAndListShots(rig.errors, shots);
    } finally {
      await rig.close();
    }
  });
}
