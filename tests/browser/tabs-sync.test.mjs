// Uploads in a database shared by several pages (pkg/tabuploads.js) in headless Chromium, against
// real servers the test starts (Contrail, nats-server 2.9 and 2.14 when installed). Two pages of one
// browser context open one database: the writer uploads a local stream to the server; the follower
// lists the upload, follows its status over the tab channel and pauses and resumes it through the
// writer. Then the writer page goes away mid-upload (closed, or its renderer crashed), the follower
// takes over, dials the recorded server, writes more, and the server stream must hold every local
// message exactly once, in order; a third page, a follower of the new writer, sees its status.
// And a follower's forget() has the writer stop the upload and delete its consumer; and a
// takeover still dialling a server that is down stops trying when its database closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedBrowser } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';
import { expected, installHelpers, startProxy } from './sync-page.mjs';

const shared = sharedBrowser();

/** A page of `ctx` with `globalThis.db = await open({name})` and the sync helpers; returns it and its role. */
async function openPage(ctx, name) {
  const page = await shared.page(ctx);
  page.on('pageerror', (e) => console.error('pageerror:', e));
  await installHelpers(page);
  const role = await page.evaluate(async (name) => {
    globalThis.pkg = await import('/pkg/index.js');
    globalThis.db = await pkg.open({ name });
    return db.role;
  }, name);
  return { page, role };
}

/** Polls `fn` on `page` until it returns a truthy value (returned); fails after `ms`. */
async function waitFor(page, fn, arg, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > until) throw new Error(`not true within ${ms} ms: ${fn}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** In the follower page: `up` is its handle of the writer's upload, `seen` every status event. */
async function followUpload(page) {
  return page.evaluate(async () => {
    const list = await within(db.uploads(), 10_000, 'uploads from a follower');
    globalThis.up = list[0];
    globalThis.seen = [];
    (async () => {
      for await (const s of up.events()) seen.push({ ...s, role: db.role });
    })();
    return { names: list.map((u) => u.name), status: up.status() };
  });
}

const N = 3000;

/**
 * The writer (`a`) uploads; the follower (`b`) sees it and pauses and resumes it; `a` then goes
 * away by `kill(a)` mid-upload and `b` carries the upload on. Returns what the assertions need.
 */
async function runTakeover({ kind, program }, kill) {
  const server = await startServer(kind, { program });
  const ctx = await shared.browser.newContext();
  const name = `tabs-sync-${Math.random()}`;
  try {
    const a = await openPage(ctx, name);
    const b = await openPage(ctx, name);
    assert.deepEqual([a.role, b.role], ['writer', 'follower']);

    // The writer uploads a first batch.
    await a.page.evaluate(async (url) => {
      await writeLocal(db, 1, 300);
      globalThis.nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
      await makeRemote(nc);
      globalThis.up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.', window: 16 });
      await within(up.caughtUp(), 30_000, 'first batch uploaded');
    }, server.wsUrl);

    // The follower lists it with the writer's status.
    const listed = await followUpload(b.page);
    assert.deepEqual(listed.names, ['upload_REMOTE']);
    assert.equal(listed.status.cursor, 300);
    assert.equal(listed.status.pending, 0);
    assert.equal(listed.status.online, true);
    assert.equal(listed.status.server, server.wsUrl);

    // Paused from the follower: the writer stops sending, the follower sees the backlog grow.
    await b.page.evaluate(() => up.pause());
    await waitFor(b.page, () => seen.some((s) => s.paused));
    assert.equal(await a.page.evaluate(() => up.status().paused), true, 'the writer paused its upload');
    await a.page.evaluate(() => writeLocal(db, 301, 600));
    await waitFor(b.page, () => seen.some((s) => s.paused && s.pending === 300));
    assert.equal((await a.page.evaluate(() => readRemote(nc))).count, 300, 'nothing sent while paused');

    // Resumed from the follower: caughtUp() resolves in the follower once the writer is done.
    const resumed = await b.page.evaluate(async () => {
      up.resume();
      return within(up.caughtUp(), 30_000, 'caught up after resume');
    });
    assert.equal(resumed.cursor, 600);
    assert.equal(resumed.paused, false);

    // A larger batch; the writer goes away once the follower saw it partway.
    await a.page.evaluate((n) => writeLocal(db, 601, n), N);
    await waitFor(b.page, () => seen.some((s) => s.cursor > 900));
    await kill(a.page);

    // The follower takes over, dials the recorded server, and writes more.
    await waitFor(b.page, () => db.role === 'writer');
    const after = await b.page.evaluate(async (n) => {
      await writeLocal(db, n + 1, n + 500);
      const done = await within(up.caughtUp(), 60_000, 'caught up after the takeover');
      const check = await within(pkg.connect({ servers: done.server }), 10_000, 'connect to read');
      const remote = await readRemote(check);
      await check.close();
      return { done, remote, seen };
    }, N);

    // A page opened now follows the new writer and sees its status.
    const c = await openPage(ctx, name);
    assert.equal(c.role, 'follower');
    const third = await followUpload(c.page);
    return { after, third };
  } finally {
    await ctx.close();
    await server.stop();
  }
}

function assertCarriedOn({ after, third }) {
  const total = N + 500;
  assert.equal(after.remote.count, total, 'every local message on the server once');
  assert.deepEqual(after.remote.out, expected(total), 'in local order');
  assert.equal(after.done.cursor, total);
  assert.equal(after.done.pending, 0);
  assert.equal(after.done.lastError, null);
  const mid = after.seen.filter((s) => s.role === 'follower').map((s) => s.cursor);
  assert.ok(mid.some((c) => c > 900 && c < N), `the writer went away mid-upload (cursors ${mid.slice(-3)})`);
  assert.ok(
    after.seen.some((s) => s.role === 'writer' && s.online),
    'the handle from before the takeover follows the new writer',
  );
  assert.equal(third.status.cursor, total);
  assert.equal(third.status.pending, 0);
  assert.equal(third.status.online, true);
}

for (const target of serverTargets()) {
  test(`${target.label}: a follower sees and steers the writer's upload; the writer page closes and the follower carries it on exactly once`, { timeout: 180_000 }, async () => {
    assertCarriedOn(await runTakeover(target, (page) => page.close({ runBeforeUnload: false })));
  });

  test(`${target.label}: the writer page's renderer crashes mid-upload: the follower takes over and nothing is lost or sent twice`, { timeout: 180_000 }, async () => {
    const out = await runTakeover(target, async (page) => {
      const crashed = page.waitForEvent('crash', { timeout: 10_000 });
      const cdp = await page.context().newCDPSession(page);
      cdp.send('Page.crash').catch(() => {}); // never answered: the session dies with the renderer
      await crashed;
    });
    assertCarriedOn(out);
  });
}

for (const { label, kind, program } of serverTargets()) {
  test(`${label}: a follower forgets the writer's upload: the writer stops it and deletes its consumer`, { timeout: 120_000 }, async () => {
    const server = await startServer(kind, { program });
    const ctx = await shared.browser.newContext();
    const name = `tabs-forget-${Math.random()}`;
    try {
      const a = await openPage(ctx, name);
      const b = await openPage(ctx, name);
      assert.deepEqual([a.role, b.role], ['writer', 'follower']);
      await a.page.evaluate(async (url) => {
        await writeLocal(db, 1, 50);
        globalThis.nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
        await makeRemote(nc);
        globalThis.up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.' });
        await within(up.caughtUp(), 30_000, 'uploaded');
      }, server.wsUrl);
      await followUpload(b.page);
      const gone = await b.page.evaluate(async () => {
        await within(up.forget(), 10_000, 'forget through the writer');
        return (await within(db.uploads(), 10_000, 'uploads after forget')).length;
      });
      assert.equal(gone, 0, 'the follower lists no upload');
      const writer = await a.page.evaluate(async () => {
        const jsm = await db.jetstreamManager();
        const consumer = await jsm.consumers.info('LOCAL', 'upload_REMOTE').then(() => 'still there', (e) => e.name);
        return { uploads: (await db.uploads()).length, consumer };
      });
      assert.deepEqual(writer, { uploads: 0, consumer: 'ConsumerNotFoundError' });
    } finally {
      await ctx.close();
      await server.stop();
    }
  });
}

/** Longer than the package's longest reconnect wait (4 s, plus jitter): a dial still trying makes an attempt in it. */
const LONGEST_BACKOFF_MS = 6_000;

// The dialling is the page's own (the server only has to be unreachable), so contrail stands for all.
test('a takeover dialling a server that is down stops trying when its database closes', { timeout: 120_000 }, async () => {
  const server = await startServer('contrail');
  const proxy = await startProxy(server.wsPort);
  const ctx = await shared.browser.newContext();
  const name = `tabs-dial-${Math.random()}`;
  try {
    const a = await openPage(ctx, name);
    const b = await openPage(ctx, name);
    assert.deepEqual([a.role, b.role], ['writer', 'follower']);
    await a.page.evaluate(async (url) => {
      await writeLocal(db, 1, 20);
      globalThis.nc = await within(pkg.connect({ servers: url }), 10_000, 'connect');
      await makeRemote(nc);
      globalThis.up = await db.sync(nc, { stream: 'LOCAL', to: 'REMOTE', subjectPrefix: 'up.' });
      await within(up.caughtUp(), 30_000, 'uploaded');
    }, proxy.url);

    // The server becomes unreachable; the writer goes; the follower takes over and dials it.
    proxy.down();
    await a.page.close({ runBeforeUnload: false });
    await waitFor(b.page, () => db.role === 'writer');
    const before = proxy.attempts();
    for (const until = Date.now() + 30_000; proxy.attempts() <= before + 1; ) {
      assert.ok(Date.now() < until, 'the new writer dials the recorded server');
      await new Promise((r) => setTimeout(r, 50));
    }

    // Closed while its dial still waits for the server: the dial must end with it.
    await b.page.evaluate(() => within(db.close(), 10_000, 'close'));
    const atClose = proxy.attempts();
    proxy.up();
    await new Promise((r) => setTimeout(r, LONGEST_BACKOFF_MS));
    assert.equal(proxy.attempts() - atClose, 0, 'no attempt after the database closed');
    assert.equal(proxy.accepted(), 1, 'only the first writer\'s connection was ever taken');
  } finally {
    await ctx.close();
    await proxy.close();
    await server.stop();
  }
});
