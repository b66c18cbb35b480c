// Uploads (pkg/sync.js on the engine's core uploader) in headless Chromium against real servers
// the test starts: Contrail, Debian's nats-server 2.9 and nats-server 2.14 (when installed), each
// with WebSocket on. A page writes to a local stream (IndexedDB), then `db.sync(conn, ...)`
// uploads it; afterwards the server stream must hold every local message exactly once, in
// order:
// - written while offline (no connection yet), then connected;
// - with the connection cut five times mid-upload by a loopback proxy the test owns;
// - with the page reloaded mid-upload: the cursor (the upload consumer's ack floor) survives
//   and the reopened page carries on from it;
// - with a window of PubAcks lost and the connection back only after the server stream's
//   duplicate window (shrunk to a second): Contrail answers every repeat as a duplicate (its
//   per-origin high-water mark); nats-server, which has only the duplicate window, stores those
//   messages a second time: the documented duplicates, and nothing lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installWaits, sharedBrowser } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import { expected, installHelpers, startProxy } from './sync-page.mjs';

const shared = sharedBrowser();

/** A page with the package's helpers: `within`, `writeLocal`, `makeRemote`, `readRemote`. */
async function newPage() {
  const page = await shared.page();
  await installHelpers(page);
  return page;
}

for (const { label, kind, program } of serverTargets()) {
  test(`${label}: messages written offline are uploaded once, in order, when a connection comes`, { timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    try {
      const out = await page.evaluate(async (url) => {
        const pkg = await import('/pkg/index.js');
        const db = await pkg.open({ name: `sync-offline-${Math.random()}` });
        await writeLocal(db, 1, 500);
        const nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
        await makeRemote(nc);
        const up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.' });
        const events = [];
        (async () => {
          for await (const s of up.events()) events.push(s.cursor);
        })();
        const done = await within(up.caughtUp(), 60_000, 'caught up');
        const remote = await readRemote(nc);
        const jsm = await db.jetstreamManager();
        const floor = (await jsm.consumers.info('LOCAL', up.name)).ack_floor.stream_seq;
        up.stop();
        await nc.close();
        await db.close();
        return { done, remote, floor, sawProgress: events.length > 0 };
      }, server.wsUrl);
      assert.equal(out.remote.count, 500);
      assert.deepEqual(out.remote.out, expected(500));
      assert.equal(out.done.cursor, 500);
      assert.equal(out.done.pending, 0);
      assert.equal(out.done.lastError, null);
      assert.equal(out.floor, 500, 'the cursor is the upload consumer ack floor');
      assert.ok(out.sawProgress);
    } finally {
      await page.close();
      await server.stop();
    }
  });

  test(`${label}: the connection cut five times mid-upload: no gap, no duplicate`, { timeout: 180_000 }, async () => {
    const server = await startServer(kind, { program });
    const proxy = await startProxy(server.wsPort);
    const page = await newPage();
    let cuts = 0;
    await page.exposeFunction('cutConnection', () => {
      cuts++;
      proxy.cut();
    });
    try {
      const out = await page.evaluate(async (url) => {
        const pkg = await import('/pkg/index.js');
        const db = await pkg.open({ name: `sync-cuts-${Math.random()}` });
        const n = 4000;
        await writeLocal(db, 1, n);
        const nc = await within(pkg.connect({ servers: url, reconnectTimeWait: 50, reconnectJitter: 50, maxReconnectAttempts: -1 }), 10_000, 'connect');
        await makeRemote(nc);
        const up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.', window: 64 });
        // Cut whenever the cursor passed the next fifth, while publishes are in flight.
        let next = 1;
        let offline = 0;
        for await (const s of up.events()) {
          if (!s.online) offline++;
          if (next <= 5 && s.cursor >= (next * n) / 6 && s.inFlight > 0) {
            next++;
            await cutConnection();
          }
          if (s.pending === 0) break;
        }
        const done = up.status();
        const remote = await readRemote(nc);
        up.stop();
        await nc.close();
        await db.close();
        return { done, remote, offline };
      }, proxy.url);
      assert.equal(cuts, 5, 'five cuts mid-upload');
      assert.ok(out.offline > 0, 'the upload saw the link go down');
      assert.equal(out.remote.count, 4000);
      assert.deepEqual(out.remote.out, expected(4000));
      assert.equal(out.done.cursor, 4000);
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });

  test(`${label}: a page reloaded mid-upload resumes from its saved cursor`, { timeout: 180_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    const name = `sync-reload-${Math.random()}`;
    const n = 4000;
    try {
      const first = await page.evaluate(
        async ([url, name, n]) => {
          const pkg = await import('/pkg/index.js');
          const db = await pkg.open({ name });
          await writeLocal(db, 1, n);
          const nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
          await makeRemote(nc);
          const up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.', window: 32 });
          // A cursor seen in an event was committed with the flush that moved it.
          for await (const s of up.events()) {
            if (s.cursor >= n / 3) return { cursor: s.cursor, origin: s.origin, inFlight: s.inFlight };
          }
          return null;
        },
        [server.wsUrl, name, n],
      );
      assert.ok(first && first.cursor < n, `stopped mid-upload: ${JSON.stringify(first)}`);
      await page.reload(); // publishes in flight are lost with the page
      await installWaits(page);
      await installHelpers(page);
      const second = await page.evaluate(
        async ([url, name]) => {
          const pkg = await import('/pkg/index.js');
          const db = await pkg.open({ name });
          const nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
          const up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.', window: 32 });
          const resumed = up.status();
          const done = await within(up.caughtUp(), 60_000, 'caught up');
          const remote = await readRemote(nc);
          up.stop();
          await nc.close();
          await db.close();
          return { resumed, done, remote };
        },
        [server.wsUrl, name],
      );
      assert.ok(second.resumed.cursor >= first.cursor, `cursor kept: ${second.resumed.cursor} >= ${first.cursor}`);
      assert.equal(second.resumed.origin, first.origin, 'the same origin id after the reload');
      assert.equal(second.remote.count, n);
      assert.deepEqual(second.remote.out, expected(n));
      assert.equal(second.done.cursor, n);
    } finally {
      await page.close();
      await server.stop();
    }
  });
}

for (const { label, kind, program } of serverTargets()) {
  test(`${label}: PubAcks lost, connection back after the duplicate window: ${kind === 'contrail' ? 'still exactly once' : 'the documented duplicates, nothing lost'}`, { timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program });
    const proxy = await startProxy(server.wsPort);
    const page = await newPage();
    await page.exposeFunction('freezeReplies', () => proxy.freeze());
    await page.exposeFunction('cutConnection', () => proxy.cut());
    try {
      const out = await page.evaluate(
        async ([direct, proxied]) => {
          const pkg = await import('/pkg/index.js');
          const db = await pkg.open({ name: `sync-window-${Math.random()}` });
          await writeLocal(db, 1, 200);
          const watcher = await within(pkg.connect({ servers: direct }), 10_000, 'connect direct');
          const jsm = await watcher.jetstreamManager();
          await jsm.streams.add({ name: 'REMOTE', subjects: ['up.ev.>'], duplicate_window: 1_000_000_000 });
          const nc = await within(pkg.connect({ servers: proxied, reconnectTimeWait: 50, maxReconnectAttempts: -1 }), 10_000, 'connect');
          await freezeReplies();
          const up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.', window: 50, ackTimeout: 30_000 });
          // The server stores the first window; its PubAcks are lost in the proxy.
          let stored = 0;
          for (let i = 0; i < 400 && stored < 50; i++) {
            stored = (await jsm.streams.info('REMOTE')).state.messages;
            if (stored < 50) await new Promise((ok) => setTimeout(ok, 25));
          }
          const before = up.status();
          // The outage itself: longer than the stream's duplicate window (1 s) and nats-server's
          // purge of expired ids.
          await new Promise((ok) => setTimeout(ok, 2500));
          await cutConnection();
          const done = await within(up.caughtUp(), 60_000, 'caught up');
          const remote = await readRemote(watcher);
          up.stop();
          await nc.close();
          await watcher.close();
          await db.close();
          return { stored, before, done, remote };
        },
        [server.wsUrl, proxy.url],
      );
      assert.equal(out.stored, 50, 'the server stored a window whose PubAcks were lost');
      assert.equal(out.before.cursor, 0);
      assert.equal(out.done.cursor, 200);
      const want = expected(200);
      if (kind === 'contrail') {
        assert.equal(out.remote.count, 200);
        assert.deepEqual(out.remote.out, want);
        assert.equal(out.done.duplicates, 50, 'every repeat answered as a duplicate');
      } else {
        // Past the window nats-server cannot tell a repeat: the lost window is stored again,
        // nothing more, and nothing is missing.
        assert.equal(out.remote.count, 250);
        assert.deepEqual(out.remote.out, [...want.slice(0, 50), ...want]);
      }
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });
}
