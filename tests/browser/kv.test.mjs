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
