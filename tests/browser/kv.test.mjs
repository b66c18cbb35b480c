// The @nats-io/kv v3 behaviours of tests/browser/kv/cases.mjs (nats.js's kv tests) in pages of
// headless Chromium, each case on its own IndexedDB database. A case throws, with what it saw,
// when a behaviour differs; the page hands the message back and the test fails with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageCases } from './harness.mjs';

const suite = await pageCases('kv');

// A bucket lives in IndexedDB: after a page reload it is opened again with its values and
// history, and a watch resumes from the revision the page had reached before.
test('kv - a bucket and a watch survive a page reload', { timeout: 60_000 }, async () => {
  const page = await suite.browser.newPage();
  try {
    await page.goto(`${suite.server.url}/tests/browser/blank.html`);
    const before = await page.evaluate(async () => {
      const pkg = await import('/pkg/index.js');
      const nc = await pkg.open({ name: 'kv-reload' });
      const kv = await new pkg.Kvm(nc.jetstream()).create('prefs', { history: 5 });
      await kv.put('theme', 'dark');
      await kv.put('theme', 'light');
      const rev = await kv.put('lang', 'en');
      const seen = [];
      for await (const e of await kv.watch()) if (seen.push(e.key) === 2) break;
      await nc.close();
      return { rev, seen };
    });
    assert.deepEqual(before, { rev: 3, seen: ['theme', 'lang'] });
    await page.reload();
    const after = await page.evaluate(async (resumeFrom) => {
      const pkg = await import('/pkg/index.js');
      const nc = await pkg.open({ name: 'kv-reload' });
      const kv = await new pkg.Kvm(nc.jetstream()).open('prefs');
      const theme = (await kv.get('theme')).string();
      const history = [];
      for await (const e of await kv.history({ key: 'theme' })) history.push(e.string());
      const w = await kv.watch({ resumeFromRevision: resumeFrom });
      const next = (async () => {
        for await (const e of w) return [e.key, e.string(), e.revision];
      })();
      await kv.put('lang', 'fr');
      const resumed = await next;
      await nc.close();
      return { theme, history, resumed };
    }, before.rev + 1);
    assert.deepEqual(after, { theme: 'light', history: ['dark', 'light'], resumed: ['lang', 'fr', 4] });
  } finally {
    await page.close();
  }
});

// Per-key TTLs live only in the stored messages' `Nats-TTL` headers: a reopened database rebuilds
// the expiries from them. A key whose TTL passed while the page was closed reads as expired (its
// MaxAge marker) as soon as the bucket is opened again; one whose TTL is still running expires on
// time after the reload.
test('kv - per-key TTLs survive a page reload, and what passed meanwhile is gone at open', { timeout: 60_000 }, async () => {
  const page = await suite.browser.newPage();
  try {
    await page.goto(`${suite.server.url}/tests/browser/blank.html`);
    const revs = await page.evaluate(async () => {
      const pkg = await import('/pkg/index.js');
      const nc = await pkg.open({ name: 'kv-ttl-reload' });
      const kv = await new pkg.Kvm(nc.jetstream()).create('ttl', { markerTTL: 60_000 });
      const revs = [await kv.create('gone', 'x', '1s'), await kv.create('later', 'y', '4s'), await kv.put('kept', 'z')];
      await nc.close();
      return revs;
    });
    assert.deepEqual(revs, [1, 2, 3]);
    // The point of the test: the first TTL passes while no page has the database open.
    await new Promise((done) => setTimeout(done, 1500));
    await page.reload();
    const after = await page.evaluate(async () => {
      const pkg = await import('/pkg/index.js');
      const nc = await pkg.open({ name: 'kv-ttl-reload' });
      const kv = await new pkg.Kvm(nc.jetstream()).open('ttl');
      const op = async (k) => (await kv.get(k))?.operation ?? null;
      const atOpen = [await op('gone'), await op('later'), await op('kept')];
      let later = await op('later');
      for (let i = 0; i < 100 && later === 'PUT'; i++) {
        await new Promise((done) => setTimeout(done, 100));
        later = await op('later');
      }
      await nc.close();
      return { atOpen, later };
    });
    assert.deepEqual(after, { atOpen: ['PURGE', 'PUT', 'PUT'], later: 'PURGE' });
  } finally {
    await page.close();
  }
});


// Two tabs of one origin open the same database (pkg/tabs.js: one writer, one follower). A bucket
// is one bucket for both: what one tab writes, the other reads and watches, and a compare-and-set
// across tabs sees the other tab's revision.
test('kv - a bucket shared by two tabs: each reads, watches and updates what the other wrote', { timeout: 60_000 }, async () => {
  const ctx = await suite.browser.newContext();
  try {
    const open = async () => {
      const page = await ctx.newPage();
      page.on('pageerror', (e) => console.error('pageerror:', e));
      await page.goto(`${suite.server.url}/tests/browser/blank.html`);
      const role = await page.evaluate(async () => {
        globalThis.pkg = await import('/pkg/index.js');
        globalThis.nc = await pkg.open({ name: 'kv-two-tabs' });
        globalThis.kvm = new pkg.Kvm(nc.jetstream());
        return nc.role;
      });
      return { page, role };
    };
    const a = await open();
    const b = await open();
    assert.deepEqual([a.role, b.role].sort(), ['follower', 'writer']);

    await a.page.evaluate(async () => {
      globalThis.kv = await kvm.create('shared', { history: 3 });
    });
    // The follower watches for what the writer puts next.
    await b.page.evaluate(async () => {
      globalThis.kv = await kvm.open('shared');
      const w = await kv.watch({ key: 'doc.*' });
      globalThis.seen = [];
      globalThis.watched = (async () => {
        for await (const e of w) if (seen.push([e.key, e.string(), e.revision]) === 2) return seen;
      })();
    });
    const rev1 = await a.page.evaluate(() => kv.put('doc.title', 'draft'));
    const fromB = await b.page.evaluate(async (rev1) => {
      const title = await kv.get('doc.title');
      // A compare-and-set from this tab against the other tab's revision.
      const rev2 = await kv.update('doc.title', 'final', rev1);
      let stale = null;
      try {
        await kv.update('doc.title', 'lost', rev1);
      } catch (e) {
        stale = e.message;
      }
      const seen = await Promise.race([watched, new Promise((r) => setTimeout(() => r('watch timed out'), 10_000))]);
      return { title: title.string(), rev2, stale, seen };
    }, rev1);
    assert.equal(fromB.title, 'draft');
    assert.equal(fromB.rev2, rev1 + 1);
    assert.match(fromB.stale ?? 'no error', /wrong last sequence/);
    assert.deepEqual(fromB.seen, [['doc.title', 'draft', rev1], ['doc.title', 'final', rev1 + 1]]);
    const fromA = await a.page.evaluate(async () => {
      const e = await kv.get('doc.title');
      const history = [];
      for await (const h of await kv.history({ key: 'doc.title' })) history.push(h.string());
      return { value: e.string(), revision: e.revision, history };
    });
    assert.deepEqual(fromA, { value: 'final', revision: rev1 + 1, history: ['draft', 'final'] });
  } finally {
    await ctx.close();
  }
});
