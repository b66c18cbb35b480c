// Local mirrors in a database shared by several pages (pkg/mirrors.js, pkg/attached.js) in
// headless Chromium, against real servers the test starts (Contrail, nats-server 2.9 and 2.14
// when installed). The server stream ORDERS holds messages; the writer page attaches a connection
// (`db.attach(nc, {domain: 'hub'})`) and creates the local mirror LOCAL of ORDERS; a follower page
// of the same database follows the mirror's status over the tab channel (`db.mirrors()`):
// - it sees the lag go from above 0 to 0 while the mirror catches up, then, with the connection
//   down (a loopback proxy the test owns refuses it), the mirror offline with an error, then back;
// - the writer page goes away mid-catch-up (closed, or its renderer crashed): the follower takes
//   over, attaches the recorded route again by itself (no app code), and LOCAL ends equal to
//   ORDERS: the same sequences, subjects, payloads and times, no gap, no duplicate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedBrowser } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import { startProxy } from './proxy.mjs';
import { installMirrorHelpers } from './sync-page.mjs';

const shared = sharedBrowser();

/** A page of `ctx` with `globalThis.db = await open({name})` and the helpers; returns it and its role. */
async function openPage(ctx, name) {
  const page = await shared.page(ctx);
  page.on('pageerror', (e) => console.error('pageerror:', e));
  await installMirrorHelpers(page);
  const role = await page.evaluate(async (name) => {
    globalThis.pkg = await import('/pkg/index.js');
    globalThis.db = await pkg.open({ name });
    /** Follows the (one) local mirror: `mirror` its handle, `seen` every status event with this tab's role. */
    globalThis.followMirror = async () => {
      const list = await within(db.mirrors(), 10_000, 'the mirrors');
      globalThis.mirror = list[0];
      globalThis.seen = [];
      (async () => {
        for await (const s of mirror.events()) seen.push({ ...s, role: db.role });
      })();
      return { names: list.map((m) => m.name), status: mirror.status() };
    };
    return db.role;
  }, name);
  return { page, role };
}

/** Polls `fn` on `page` until it returns a truthy value (returned); fails after `ms`. */
async function waitFor(page, fn, arg, ms = 60_000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > until) throw new Error(`not true within ${ms} ms: ${fn}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const { label, kind, program } of serverTargets('the shared mirror runs')) {
  test(`${label}: a follower sees the writer's mirror catch up (lag above 0, then 0), go offline with an error, and come back`, { timeout: 180_000 }, async () => {
    const server = await startServer(kind, { program });
    const proxy = await startProxy(server.wsPort);
    const ctx = await shared.browser.newContext();
    const name = `tabs-mirror-${Math.random()}`;
    const N = 10_000;
    try {
      const a = await openPage(ctx, name);
      const b = await openPage(ctx, name);
      assert.deepEqual([a.role, b.role], ['writer', 'follower']);
      // The origin holds N messages; the writer makes the mirror, not attached yet.
      await a.page.evaluate(async ([direct, n]) => {
        globalThis.watcher = await within(pkg.connect({ servers: direct }), 10_000, 'connect direct');
        await publishOrders(watcher, 1, n);
        const jsm = await db.jetstreamManager();
        await jsm.streams.add({ name: 'LOCAL', mirror: { name: 'ORDERS', domain: 'hub' } });
      }, [server.wsUrl, N]);

      const listed = await b.page.evaluate(() => followMirror());
      assert.deepEqual(listed.names, ['LOCAL']);
      assert.equal(listed.status.origin, 'ORDERS');
      assert.equal(listed.status.api, '$JS.hub.API');
      assert.equal(listed.status.online, false, 'not attached yet');
      assert.equal(listed.status.lastSeq, 0);

      // Attached: the follower sees it online, behind, then caught up. The writer's connection
      // freezes after 200 kB until the follower saw it behind: seeing that is then no race
      // between the catch-up's speed and how often the writer reports.
      proxy.freezeAfter(200_000);
      await a.page.evaluate(async (proxied) => {
        globalThis.nc = await within(pkg.connect({ servers: proxied, reconnectTimeWait: 50, reconnectJitter: 50, maxReconnectAttempts: -1 }), 10_000, 'connect');
        await db.attach(nc, { domain: 'hub' });
      }, proxy.url);
      const behind = await waitFor(b.page, () => seen.find((s) => s.online && s.lag > 0));
      assert.ok(behind.lastSeq > 0 && behind.lastSeq < N, `behind part-way: ${JSON.stringify(behind)}`);
      proxy.cut(); // the writer connects again and the catch-up goes on
      const caught = await waitFor(b.page, (n) => {
        const s = mirror.status();
        return s.online && s.lastSeq === n && s.lag === 0 && s;
      }, N);
      assert.equal(caught.lastSeq, N);
      assert.equal(caught.lag, 0);
      assert.equal(caught.server, proxy.url);
      assert.equal(caught.error, null);
      const catching = await b.page.evaluate(() => seen.filter((s) => s.online && s.lag > 0).map((s) => [s.lastSeq, s.lag]));
      assert.ok(catching.every(([seq]) => seq < 10_000), `behind only before it was done: ${JSON.stringify(catching.slice(-3))}`);

      // The connection goes down while the origin takes more: offline, with the connection's error.
      const seenBefore = await b.page.evaluate(() => seen.length);
      proxy.down();
      const down = await waitFor(b.page, (from) => seen.slice(from).find((s) => !s.online && s.error), seenBefore);
      assert.equal(down.server, proxy.url);
      assert.match(down.error, /disconnected|cannot reach/);
      await a.page.evaluate((n) => publishOrders(watcher, n + 1, n + 500), N);
      proxy.up();
      const back = await waitFor(b.page, (n) => {
        const s = mirror.status();
        return s.online && s.error === null && s.lag === 0 && s.lastSeq === n + 500 && s;
      }, N);
      assert.equal(back.active !== null, true);

      // What the follower was told is what the writer stored: LOCAL equals ORDERS.
      const out = await a.page.evaluate(async () => {
        const local = await readStream(await db.jetstreamManager(), 'LOCAL');
        const origin = await readStream(await watcher.jetstreamManager(), 'ORDERS');
        return { local, origin };
      });
      assert.equal(out.local.count, N + 500);
      assert.deepEqual(out.local.out, out.origin.out);
    } finally {
      await ctx.close();
      await proxy.close();
      await server.stop();
    }
  });
}

const M = 20_000;

/** Bytes the server may send the writer before its connection freezes: a few thousand of M's deliveries. */
const WRITER_BYTES = 1_000_000;

/**
 * The writer (`a`) attaches through a proxy and mirrors ORDERS (M messages); the follower (`b`)
 * follows the mirror; `a` goes away by `kill(a)` mid-catch-up and `b` takes over. The proxy
 * freezes the writer's connection after WRITER_BYTES, so the catch-up is always mid-way when the
 * writer goes, however fast it runs; the freeze ends with the writer.
 * Returns what the assertions need.
 */
async function runTakeover({ kind, program }, kill) {
  const server = await startServer(kind, { program });
  const proxy = await startProxy(server.wsPort);
  const ctx = await shared.browser.newContext();
  const name = `tabs-mirror-takeover-${Math.random()}`;
  try {
    const a = await openPage(ctx, name);
    const b = await openPage(ctx, name);
    assert.deepEqual([a.role, b.role], ['writer', 'follower']);
    await a.page.evaluate(async ([url, m]) => {
      const watcher = await within(pkg.connect({ servers: url }), 10_000, 'connect');
      await publishOrders(watcher, 1, m);
      await watcher.close();
      const jsm = await db.jetstreamManager();
      await jsm.streams.add({ name: 'LOCAL', mirror: { name: 'ORDERS', domain: 'hub' } });
    }, [server.wsUrl, M]);
    await b.page.evaluate(() => followMirror());
    proxy.freezeAfter(WRITER_BYTES);
    await a.page.evaluate(async (url) => {
      globalThis.nc = await within(pkg.connect({ servers: url, maxReconnectAttempts: -1 }), 10_000, 'connect');
      await db.attach(nc, { domain: 'hub' });
    }, proxy.url);

    // The writer goes away once the follower saw the mirror partway.
    await waitFor(b.page, () => seen.some((s) => s.lastSeq > 2000));
    await kill(a.page);
    proxy.cut(); // the writer's frozen connection goes with it; the next one flows

    // The follower takes over; nothing here attaches: the recorded route is attached again.
    await waitFor(b.page, () => db.role === 'writer');
    const out = await b.page.evaluate(async ([url, m]) => {
      const watcher = await within(pkg.connect({ servers: url }), 10_000, 'connect to check');
      await publishOrders(watcher, m + 1, m + 100);
      const done = await within(
        (async () => {
          for (;;) {
            const s = mirror.status();
            if (s.online && s.lastSeq === m + 100) return s;
            await new Promise((r) => setTimeout(r, 50));
          }
        })(),
        90_000,
        'the mirror goes on after the takeover',
      );
      const local = await readStream(await db.jetstreamManager(), 'LOCAL');
      const origin = await readStream(await watcher.jetstreamManager(), 'ORDERS');
      await watcher.close();
      return { done, local, origin, seen, warnings: db.warnings };
    }, [server.wsUrl, M]);
    return { ...out, url: proxy.url };
  } finally {
    await ctx.close();
    await proxy.close();
    await server.stop();
  }
}

function assertCarriedOn({ done, local, origin, seen, url, warnings }) {
  assert.deepEqual(warnings, [], 'the recorded route is no stream to restore: opening says nothing of it');
  const mid = seen.filter((s) => s.role === 'follower').map((s) => s.lastSeq);
  assert.ok(mid.some((seq) => seq > 2000 && seq < M), `the writer went away mid-catch-up (last seqs ${mid.slice(-3)})`);
  console.log(`# the follower last saw lastSeq ${Math.max(...mid.filter((seq) => seq < M))} of ${M} before the writer went`);
  assert.equal(done.server, url, 'attached again to the recorded server');
  assert.equal(local.count, M + 100, 'every origin message once');
  assert.deepEqual(local.out, origin.out, 'the same sequences, subjects, payloads and times as the origin');
  assert.ok(seen.some((s) => s.role === 'writer' && s.online), 'the handle from before the takeover follows the new writer');
}

for (const target of serverTargets()) {
  test(`${target.label}: the writer page closes mid-catch-up: the follower takes over, attaches again, and the mirror ends equal to the origin`, { timeout: 240_000 }, async () => {
    assertCarriedOn(await runTakeover(target, (page) => page.close({ runBeforeUnload: false })));
  });

  test(`${target.label}: the writer page's renderer crashes mid-catch-up: the follower takes over and the mirror ends equal to the origin`, { timeout: 240_000 }, async () => {
    const out = await runTakeover(target, async (page) => {
      const crashed = page.waitForEvent('crash', { timeout: 10_000 });
      const cdp = await page.context().newCDPSession(page);
      cdp.send('Page.crash').catch(() => {}); // never answered: the session dies with the renderer
      await crashed;
    });
    assertCarriedOn(out);
  });
}
