// The @nats-io/obj v3 behaviours of tests/browser/obj/cases.mjs (nats.js's object store tests) in
// pages of headless Chromium, each case on its own IndexedDB database. A case throws, with what it saw,
// when a behaviour differs; the page hands the message back and the test fails with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';
import { cases } from './obj/cases.mjs';

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
  test(name, { timeout: 120_000 }, async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${server.url}/tests/browser/blank.html`);
      const db = `obj-${++n}`;
      const outcome = await page.evaluate(
        async ([name, db]) => {
          const pkg = await import('/pkg/index.js');
          const { cases } = await import('/tests/browser/obj/cases.mjs');
          let opened = 0;
          try {
            await cases[name]({ pkg, open: () => pkg.open({ name: `${db}-${++opened}` }) });
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
