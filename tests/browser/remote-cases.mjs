// Runs a shared case file (tests/browser/<dir>/cases.mjs, cases take `{pkg, open}`) in pages of
// headless Chromium over the remote connection: `open()` is `pkg.connect({servers: wsUrl})` to a
// fresh server per case (cases create streams with fixed names), once per server kind
// (servers.mjs: Contrail, and Debian's nats-server when installed). Connections a case opens are
// closed after it. Cases named in `localOnly` (with why) are registered as skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, serve } from './harness.mjs';
import { serverKinds, startServer } from './servers.mjs';

export async function runRemoteCases(dir, { localOnly = {}, timeout = 60_000 } = {}) {
  const { cases } = await import(`./${dir}/cases.mjs`);
  let site, browser;
  before(async () => {
    site = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });
  for (const kind of serverKinds()) {
    for (const name of Object.keys(cases)) {
      if (localOnly[name]) {
        test(`${kind}: ${name}`, { skip: `local only: ${localOnly[name]}` }, () => {});
        continue;
      }
      test(`${kind}: ${name}`, { timeout }, async () => {
        const server = await startServer(kind);
        const page = await browser.newPage();
        try {
          await page.goto(`${site.url}/tests/browser/blank.html`);
          const outcome = await page.evaluate(
            async ([name, dir, url]) => {
              const pkg = await import('/pkg/index.js');
              const { cases } = await import(`/tests/browser/${dir}/cases.mjs`);
              const opened = [];
              const open = async () => {
                const nc = await pkg.connect({ servers: url });
                opened.push(nc);
                return nc;
              };
              try {
                await cases[name]({ pkg, open });
                return { ok: true };
              } catch (e) {
                return { ok: false, error: `${e?.name}: ${e?.message}` };
              } finally {
                await Promise.all(opened.map((nc) => nc.close().catch(() => {})));
              }
            },
            [name, dir, server.wsUrl],
          );
          assert.deepEqual(outcome, { ok: true });
        } finally {
          await page.close();
          await server.stop();
        }
      });
    }
  }
}
