// Local mirrors (the "down" half of sync) in headless Chromium against real servers the test
// starts: Contrail, Debian's nats-server 2.9 and nats-server 2.14 (when installed), each with
// WebSocket on. A server stream ORDERS holds messages; a page attaches a connection to its
// database (`db.attach(nc, {domain: 'hub'})`, the server's `$JS.API` served as the local domain
// `hub`) and creates the local stream LOCAL with `mirror: {name: 'ORDERS', domain: 'hub'}`.
// Afterwards LOCAL must hold what ORDERS holds: the same sequences, subjects, payloads and times,
// with no gap and no duplicate:
// - catching up, then following new messages; detached and attached again;
// - a mirror naming `external: {api}` rather than a domain;
// - with the connection down (a loopback proxy the test owns refuses it) while more messages are
//   published on the server, then back; and cut three times while the mirror catches up;
// - with the page reloaded while offline: the mirror is read from IndexedDB with no connection,
//   then a connection comes and it goes on after where it stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installWaits, sharedBrowser } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import { startProxy } from './proxy.mjs';
import { installMirrorHelpers } from './sync-page.mjs';

const shared = sharedBrowser();

const targets = () => serverTargets('the mirror runs');

/** Installs `publishOrders`, `readStream` (sync-page.mjs) and `mirrored`. */
async function installHelpers(page) {
  await installMirrorHelpers(page);
  await page.evaluate(() => {
    /** Waits (bounded: 400 flushes of the local engine at most 50 ms apart) for LOCAL to reach `seq`. */
    window.mirrored = async (jsm, seq) => {
      let info;
      for (let i = 0; i < 600; i++) {
        info = await jsm.streams.info('LOCAL');
        if (info.state.last_seq >= seq) return info;
        await new Promise((ok) => setTimeout(ok, 50));
      }
      throw new Error(`LOCAL stopped at ${info.state.last_seq}, not ${seq}: ${JSON.stringify(info.mirror)}`);
    };
  });
}

async function newPage() {
  const page = await shared.page();
  await installHelpers(page);
  return page;
}

/** The expected `seq subject data` of ORDERS messages 1..n (times compared separately). */
function expected(n) {
  return Array.from({ length: n }, (_, k) => `${k + 1} orders.${(k + 1) % 3} o${k + 1}`);
}
const withoutTime = (lines) => lines.map((l) => l.slice(0, l.lastIndexOf(' ')));

for (const { label, kind, program } of targets()) {
  test(`${label}: a local mirror catches up, follows, and comes back after an outage with no gap or duplicate`, { timeout: 180_000 }, async () => {
    const server = await startServer(kind, { program });
    const proxy = await startProxy(server.wsPort);
    const page = await newPage();
    await page.exposeFunction('connectionDown', () => proxy.down());
    await page.exposeFunction('connectionUp', () => proxy.up());
    try {
      const out = await page.evaluate(
        async ([direct, proxied]) => {
          const pkg = await import('/pkg/index.js');
          const watcher = await within(pkg.connect({ servers: direct }), 10_000, 'connect direct');
          const remote = await watcher.jetstreamManager();
          await publishOrders(watcher, 1, 300);
          const db = await pkg.open({ name: `mirror-follow-${Math.random()}` });
          const nc = await within(pkg.connect({ servers: proxied, reconnectTimeWait: 50, reconnectJitter: 50, maxReconnectAttempts: -1 }), 10_000, 'connect');
          const attachment = await db.attach(nc, { domain: 'hub' });
          const jsm = await db.jetstreamManager();
          await jsm.streams.add({ name: 'LOCAL', mirror: { name: 'ORDERS', domain: 'hub' } });
          const caughtUp = await within(mirrored(jsm, 300), 30_000, 'caught up');
          const first = await readStream(jsm, 'LOCAL');
          await publishOrders(watcher, 301, 400);
          await mirrored(jsm, 400);
          // The outage: more messages on the server meanwhile.
          await connectionDown();
          await publishOrders(watcher, 401, 700);
          const offline = (await jsm.streams.info('LOCAL')).state.last_seq;
          await connectionUp();
          const back = await within(mirrored(jsm, 700), 30_000, 'caught up after the outage');
          // Settled: nothing more arrives (a duplicate would show as a message past 700).
          await publishOrders(watcher, 701, 701);
          await mirrored(jsm, 701);
          const settled = await readStream(jsm, 'LOCAL');
          // Detached, then attached again on the same connection: it goes on after 701.
          attachment.detach();
          await publishOrders(watcher, 702, 750);
          const again = await db.attach(nc, { domain: 'hub' });
          await within(mirrored(jsm, 750), 30_000, 'caught up after attaching again');
          const local = await readStream(jsm, 'LOCAL');
          const origin = await readStream(remote, 'ORDERS');
          again.detach();
          await nc.close();
          await watcher.close();
          await db.close();
          return { caughtUp: caughtUp.state, first: first.out, offline, back: back.mirror, settled, local, origin, api: attachment.api };
        },
        [server.wsUrl, proxy.url],
      );
      assert.equal(out.api, '$JS.hub.API');
      assert.equal(out.caughtUp.messages, 300);
      assert.deepEqual(withoutTime(out.first), expected(300));
      assert.equal(out.offline, 400, 'nothing arrives while the connection is down');
      assert.equal(out.settled.count, 701, 'no duplicate, no gap after the outage');
      assert.deepEqual(withoutTime(out.settled.out), expected(701));
      assert.equal(out.settled.mirror.name, 'ORDERS');
      assert.equal(out.settled.mirror.lag, 0);
      assert.equal(typeof out.settled.mirror.active, 'number');
      assert.equal(out.local.count, 750, 'no duplicate, no gap after attaching again');
      assert.deepEqual(withoutTime(out.local.out), expected(750));
      assert.deepEqual(out.local.out, out.origin.out, 'the same sequences, subjects, payloads and times as the origin');
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });

  test(`${label}: the connection cut three times mid-catch-up: no gap, no duplicate`, { timeout: 180_000 }, async () => {
    const server = await startServer(kind, { program });
    // The server may send 150 kB over each of the first three connections (a catch-up of 6000
    // messages is several times that): each is cut in the middle of the catch-up.
    const proxy = await startProxy(server.wsPort, [150_000, 150_000, 150_000]);
    const page = await newPage();
    try {
      const out = await page.evaluate(
        async ([direct, proxied]) => {
          const pkg = await import('/pkg/index.js');
          const watcher = await within(pkg.connect({ servers: direct }), 10_000, 'connect direct');
          const n = 6000;
          await publishOrders(watcher, 1, n);
          const db = await pkg.open({ name: `mirror-cuts-${Math.random()}` });
          const nc = await within(pkg.connect({ servers: proxied, reconnectTimeWait: 50, reconnectJitter: 50, maxReconnectAttempts: -1 }), 10_000, 'connect');
          await db.attach(nc, { domain: 'hub' });
          const jsm = await db.jetstreamManager();
          await jsm.streams.add({ name: 'LOCAL', mirror: { name: 'ORDERS', domain: 'hub' } });
          await within(mirrored(jsm, n), 90_000, 'caught up through the cuts');
          const local = await readStream(jsm, 'LOCAL');
          const origin = await readStream(await watcher.jetstreamManager(), 'ORDERS');
          await nc.close();
          await watcher.close();
          await db.close();
          return { local, origin, n };
        },
        [server.wsUrl, proxy.url],
      );
      assert.equal(proxy.cuts(), 3, 'three cuts mid-catch-up');
      assert.equal(out.local.count, out.n, 'no duplicate, no gap');
      assert.deepEqual(withoutTime(out.local.out), expected(out.n));
      assert.deepEqual(out.local.out, out.origin.out, 'the same sequences, subjects, payloads and times as the origin');
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });

  test(`${label}: a mirror naming external.api follows the stream served there`, { timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    try {
      const out = await page.evaluate(async (url) => {
        const pkg = await import('/pkg/index.js');
        const nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
        await publishOrders(nc, 1, 100);
        const db = await pkg.open({ name: `mirror-external-${Math.random()}` });
        const attachment = await db.attach(nc, { external: '$JS.cloud.API.' });
        const jsm = await db.jetstreamManager();
        await jsm.streams.add({ name: 'LOCAL', mirror: { name: 'ORDERS', external: { api: '$JS.cloud.API' } } });
        await within(mirrored(jsm, 100), 30_000, 'caught up');
        const local = await readStream(jsm, 'LOCAL');
        const origin = await readStream(await nc.jetstreamManager(), 'ORDERS');
        attachment.detach();
        await nc.close();
        await db.close();
        return { local, origin, api: attachment.api, remoteApi: attachment.remoteApi };
      }, server.wsUrl);
      assert.equal(out.api, '$JS.cloud.API');
      assert.equal(out.remoteApi, '$JS.API');
      assert.equal(out.local.count, 100);
      assert.deepEqual(withoutTime(out.local.out), expected(100));
      assert.deepEqual(out.local.out, out.origin.out);
    } finally {
      await page.close();
      await server.stop();
    }
  });

  test(`${label}: a local mirror is read offline after a reload, then catches up from where it stopped`, { timeout: 180_000 }, async () => {
    const server = await startServer(kind, { program });
    const proxy = await startProxy(server.wsPort);
    const page = await newPage();
    const name = `mirror-reload-${Math.random()}`;
    try {
      const first = await page.evaluate(
        async ([proxied, name]) => {
          const pkg = await import('/pkg/index.js');
          const nc = await within(pkg.connect({ servers: proxied }), 10_000, 'connect');
          await publishOrders(nc, 1, 200);
          const db = await pkg.open({ name });
          await db.attach(nc, { domain: 'hub' });
          const jsm = await db.jetstreamManager();
          await jsm.streams.add({ name: 'LOCAL', mirror: { name: 'ORDERS', domain: 'hub' } });
          await within(mirrored(jsm, 200), 30_000, 'caught up');
          const local = await readStream(jsm, 'LOCAL');
          await db.close();
          return local;
        },
        [proxy.url, name],
      );
      assert.deepEqual(withoutTime(first.out), expected(200));
      // Offline from here: the proxy refuses; the server takes more messages directly.
      proxy.down();
      await page.reload();
      await installWaits(page);
      await installHelpers(page);
      const out = await page.evaluate(
        async ([direct, proxied, name]) => {
          const pkg = await import('/pkg/index.js');
          const db = await pkg.open({ name });
          window.db = db;
          const jsm = await db.jetstreamManager();
          // No connection in this page yet: the mirror is read from IndexedDB.
          const offline = await readStream(jsm, 'LOCAL');
          await jsm.consumers.add('LOCAL', { durable_name: 'reader', ack_policy: 'explicit' });
          const consumer = await db.jetstream().consumers.get('LOCAL', 'reader');
          const batch = await consumer.fetch({ max_messages: 200, expires: 2000 });
          const consumed = [];
          for await (const m of batch) {
            consumed.push(`${m.seq} ${m.subject} ${m.string()}`);
            m.ack();
            if (consumed.length === 200) break;
          }
          const watcher = await within(pkg.connect({ servers: direct }), 10_000, 'connect direct');
          await publishOrders(watcher, 201, 450);
          await watcher.close();
          return { offline, consumed, last: (await jsm.streams.info('LOCAL')).state.last_seq };
        },
        [server.wsUrl, proxy.url, name],
      );
      assert.equal(out.offline.count, 200);
      assert.deepEqual(withoutTime(out.offline.out), expected(200));
      assert.deepEqual(out.consumed, expected(200), 'a local consumer reads the mirror offline');
      assert.equal(out.last, 200, 'nothing arrived without the link');
      proxy.up();
      const back = await page.evaluate(async (proxied) => {
        const pkg = await import('/pkg/index.js');
        const nc = await within(pkg.connect({ servers: proxied }), 10_000, 'connect');
        await db.attach(nc, { domain: 'hub' });
        const jsm = await db.jetstreamManager();
        await within(mirrored(jsm, 450), 30_000, 'caught up after the reload');
        const local = await readStream(jsm, 'LOCAL');
        const origin = await readStream(await nc.jetstreamManager(), 'ORDERS');
        await nc.close();
        await db.close();
        return { local, origin };
      }, proxy.url);
      assert.equal(back.local.count, 450, 'no duplicate, no gap');
      assert.deepEqual(withoutTime(back.local.out), expected(450));
      assert.deepEqual(back.local.out, back.origin.out, 'the same sequences, subjects, payloads and times as the origin');
      assert.deepEqual(back.local.out.slice(0, 200), out.offline.out, 'what was read offline is what the origin has');
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });
}
