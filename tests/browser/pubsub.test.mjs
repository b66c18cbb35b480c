// The Publisher and Consumer cases of tests/browser/pubsub/cases.mjs in pages of headless
// Chromium, each case on its own IndexedDB database. A case throws, with what it saw, when a
// behaviour differs; the page hands the message back and the test fails with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';
import { cases } from './pubsub/cases.mjs';

let server, browser;
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

let n = 0;
for (const name of Object.keys(cases)) {
  test(name, { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/tests/browser/blank.html`);
      const db = `pubsub-${++n}`;
      const outcome = await page.evaluate(
        async ([name, db]) => {
          const pkg = await import('/pkg/index.js');
          const pubsub = await import('/pkg/pubsub.js');
          const { cases } = await import('/tests/browser/pubsub/cases.mjs');
          let opened = 0;
          try {
            await cases[name]({ pkg, pubsub, open: () => pkg.open({ name: `${db}-${++opened}` }) });
            return { ok: true };
          } catch (e) {
            return { ok: false, error: `${e?.name}: ${e?.message}` };
          }
        },
        [name, db],
      );
      assert.deepEqual(outcome, { ok: true });
    } finally {
      await page.close();
    }
  });
}
