// Uploads recorded in the local database (pkg/sync.js; the record is the upload consumer's
// metadata, src/core/engine/uploads.rs), in headless Chromium against real servers the test
// starts: Contrail, Debian's nats-server 2.9 and nats-server 2.14 (when installed). After each
// scenario the server stream must hold every local message exactly once, in order:
// - a page reloaded mid-upload: the reopened database lists the upload (offline, with its server
//   and cursor) before any connection, and `uploads(conn)` resumes it;
// - Chromium's process group SIGKILLed mid-upload and started again on the same profile: the
//   same;
// - paused is recorded, and `forget()` removes the upload's consumer and record for good;
// - an upload configured while the server is down (`sync(url, ...)`) is recorded at once and
//   drains once the server is up and a connection is given; a cut connection counts a reconnect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChromium, installWaits, sharedBrowser } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import { expected, installHelpers, startProxy } from './sync-page.mjs';

const shared = sharedBrowser();

const N = 3000;
/** Bytes the server may send once the upload is configured: 36 per local message (see below). */
const FREEZE_AFTER = N * 36;

/** Opens a page of `context` on the test site with the helpers installed. */
async function openPage(context) {
  const page = await shared.page(context);
  await installHelpers(page);
  return page;
}

/**
 * In `page`: a database `name` with N local messages uploading through `proxy` (window 32),
 * stopped mid-way at a point no timing decides: before the upload starts, the proxy is told to
 * let through only FREEZE_AFTER more bytes from the server and then to drop everything it
 * sends, so no PubAck reaches the page past that point however fast the server is. A PubAck to
 * an upload is 71-73 bytes on the wire with either server, so the cursor stops near half of N
 * (measured 1,497-1,545); it would stay between a sixth and all of N for acks of 36 to 216
 * bytes. Returns the status of the first event whose cursor passed a sixth; that cursor is
 * committed.
 */
async function uploadPartWay(page, proxy, name) {
  await page.exposeFunction('freezeServerRepliesSoon', () => proxy.freezeAfter(FREEZE_AFTER));
  return page.evaluate(
    async ([url, name, n]) => {
      const pkg = await import('/pkg/index.js');
      const db = await pkg.open({ name });
      await writeLocal(db, 1, n);
      const nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
      await makeRemote(nc);
      await freezeServerRepliesSoon();
      const up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.', window: 32 });
      for await (const s of up.events()) {
        if (s.cursor >= n / 6) {
          // The event's status, not `up.status()` later: a cursor seen in an event was
          // committed with the flush that moved it, while PubAcks that came since (until the
          // freeze) may have moved the cursor in memory ahead of the next commit, which a kill
          // would lose.
          return s;
        }
      }
      return null;
    },
    [proxy.url, name, N],
  );
}

/**
 * In `page`: opens database `name` again, lists its uploads before any connection, then gives
 * them a connection to `url` and waits until they caught up; returns what it saw and the server
 * stream.
 */
function reopenAndResume(page, url, name) {
  return page.evaluate(
    async ([url, name]) => {
      const pkg = await import('/pkg/index.js');
      const db = await pkg.open({ name });
      const listed = (await db.uploads()).map((u) => u.status());
      const nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
      const [up] = await db.uploads(nc);
      const done = await within(up.caughtUp(), 60_000, 'caught up');
      const remote = await readRemote(nc);
      await nc.close();
      await db.close();
      return { listed, done, remote };
    },
    [url, name],
  );
}

/** The checks after a resume: listed offline with its record, then everything exactly once. */
function assertResumed(first, second, url) {
  assert.ok(first && first.cursor < N, `stopped mid-upload: ${JSON.stringify(first)}`);
  assert.equal(second.listed.length, 1, 'the reopened database lists its upload');
  const [listed] = second.listed;
  assert.equal(listed.stream, 'LOCAL');
  assert.equal(listed.to, 'REMOTE');
  assert.equal(listed.server, url);
  assert.equal(listed.online, false, 'no connection given yet');
  assert.equal(listed.origin, first.origin, 'the same origin id');
  assert.ok(listed.cursor >= first.cursor, `cursor kept: ${listed.cursor} >= ${first.cursor}`);
  assert.ok(listed.cursor < N, `the page went mid-upload (cursor ${listed.cursor} of ${N})`);
  assert.equal(second.remote.count, N, 'every local message exactly once');
  assert.deepEqual(second.remote.out, expected(N));
  assert.equal(second.done.cursor, N);
  assert.equal(second.done.pending, 0);
}

for (const { label, kind, program } of serverTargets()) {
  test(`${label}: a page reloaded mid-upload lists the upload and resumes it exactly once`, { timeout: 180_000 }, async () => {
    const server = await startServer(kind, { program });
    const proxy = await startProxy(server.wsPort);
    const page = await openPage(shared.browser);
    const name = `reload-${Math.random()}`;
    try {
      const first = await uploadPartWay(page, proxy, name);
      await page.reload(); // publishes in flight are lost with the page
      proxy.cut(); // and the server's replies flow again
      await installWaits(page);
      await installHelpers(page);
      const second = await reopenAndResume(page, proxy.url, name);
      assertResumed(first, second, proxy.url);
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });

  test(`${label}: Chromium killed mid-upload, started again on its profile, resumes exactly once`, { timeout: 240_000 }, async () => {
    const server = await startServer(kind, { program });
    const proxy = await startProxy(server.wsPort);
    const profile = await mkdtemp(join(tmpdir(), 'contrail-sync-kill-'));
    let chromium = await startChromium(profile);
    const name = `killed-${Math.random()}`;
    try {
      const first = await uploadPartWay(await openPage(chromium.context), proxy, name);
      await chromium.kill(); // SIGKILL of the whole process group: nothing closes cleanly
      proxy.cut(); // the server's replies flow again
      chromium = await startChromium(profile);
      const second = await reopenAndResume(await openPage(chromium.context), proxy.url, name);
      assertResumed(first, second, proxy.url);
    } finally {
      await chromium.kill();
      await rm(profile, { recursive: true, force: true });
      await proxy.close();
      await server.stop();
    }
  });

  test(`${label}: paused is recorded; forget() removes the upload's consumer and record`, { timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await openPage(shared.browser);
    try {
      const out = await page.evaluate(async (url) => {
        const pkg = await import('/pkg/index.js');
        const name = `forget-${Math.random()}`;
        let db = await pkg.open({ name });
        await writeLocal(db, 1, 100);
        const nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
        await makeRemote(nc);
        let up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.' });
        await within(up.caughtUp(), 30_000, 'caught up');
        up.pause();
        await db.close();
        db = await pkg.open({ name });
        [up] = await db.uploads(nc);
        const reopened = up.status();
        const jsm = await db.jetstreamManager();
        const before = (await jsm.consumers.info('LOCAL', up.name)).config.metadata;
        await up.forget();
        const gone = await jsm.consumers.info('LOCAL', up.name).then(() => 'still there', (e) => e.name);
        const afterForget = (await db.uploads()).length;
        await db.close();
        db = await pkg.open({ name });
        const afterReopen = (await db.uploads(nc)).length;
        const consumers = [];
        for await (const c of (await db.jetstreamManager()).consumers.list('LOCAL')) consumers.push(c.name);
        const remote = await readRemote(nc);
        await nc.close();
        await db.close();
        return { reopened, before, gone, afterForget, afterReopen, consumers, remote };
      }, server.wsUrl);
      assert.equal(out.reopened.paused, true, 'paused survives reopening');
      assert.equal(out.reopened.cursor, 100);
      assert.equal(out.reopened.online, true, 'bound to the connection given');
      assert.equal(out.before['contrail.upload.server'], server.wsUrl);
      assert.equal(out.before['contrail.upload.paused'], 'true');
      assert.equal(out.gone, 'ConsumerNotFoundError', 'the consumer is deleted');
      assert.equal(out.afterForget, 0);
      assert.equal(out.afterReopen, 0, 'not restored once forgotten');
      assert.deepEqual(out.consumers, []);
      assert.equal(out.remote.count, 100);
    } finally {
      await page.close();
      await server.stop();
    }
  });

  test(`${label}: an upload configured while the server is down drains once it is up; a cut counts a reconnect`, { timeout: 180_000 }, async () => {
    // The server's ports, taken once and given back to the server started later: the page's
    // connection waits on them meanwhile (through a proxy the test can cut).
    const probe = await startServer(kind, { program });
    const ports = { port: probe.port, wsPort: probe.wsPort, httpPort: probe.httpPort };
    await probe.stop();
    const proxy = await startProxy(ports.wsPort);
    const page = await openPage(shared.browser);
    let server;
    await page.exposeFunction('startTheServer', async () => {
      server = await startServer(kind, { program, ports });
    });
    await page.exposeFunction('cutConnection', () => proxy.cut());
    try {
      const out = await page.evaluate(
        async ([url, n]) => {
          const pkg = await import('/pkg/index.js');
          const name = `offline-${Math.random()}`;
          let db = await pkg.open({ name });
          await writeLocal(db, 1, n);
          // Nothing to connect to: the upload is recorded all the same, and survives a reopen.
          const configured = (await db.sync(url, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.' })).status();
          await db.close();
          db = await pkg.open({ name });
          const listed = (await db.uploads()).map((u) => u.status());
          const connecting = pkg.connect({ servers: url, waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100, reconnectJitter: 50 });
          await startTheServer();
          const nc = await within(connecting, 30_000, 'connect once the server is up');
          await makeRemote(nc);
          const [up] = await db.uploads(nc);
          const drained = await within(up.caughtUp(), 60_000, 'caught up');
          await cutConnection();
          await writeLocal(db, n + 1, n + 100);
          let done = up.status();
          for await (const s of up.events()) {
            done = s;
            if (s.pending === 0 && s.cursor === n + 100) break;
          }
          const remote = await readRemote(nc);
          await nc.close();
          await db.close();
          return { configured, listed, drained, done, remote };
        },
        [proxy.url, N],
      );
      assert.equal(out.configured.online, false);
      assert.equal(out.configured.cursor, 0);
      assert.equal(out.configured.pending, N);
      assert.equal(out.listed.length, 1, 'recorded while offline');
      assert.equal(out.listed[0].server, proxy.url);
      assert.equal(out.drained.cursor, N);
      assert.equal(out.done.cursor, N + 100);
      assert.equal(out.done.reconnects, 1, 'the cut connection came back once');
      assert.equal(out.remote.count, N + 100);
      assert.deepEqual(out.remote.out, expected(N + 100));
    } finally {
      await page.close();
      await proxy.close();
      await server?.stop();
    }
  });
}
