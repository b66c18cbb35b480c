// Runs a shared case file (tests/browser/<dir>/cases.mjs, cases take `{pkg, open}`) in pages of
// headless Chromium over the remote connection: `open()` is `pkg.connect({servers: wsUrl})` to a
// fresh server per case (cases create streams with fixed names), once per server kind
// (servers.mjs: Contrail, Debian's nats-server 2.9 when installed, nats-server 2.14 from
// $CONTRAIL_NATS_SERVER_214 or scripts/interop's venv, loudly skipped when missing). Connections a case opens are
// closed after it. Cases named in `localOnly` (with why) are registered as skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, serve } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';

/** The servers to run against: `{label, kind, program}`. */
const targets = () => serverTargets('the remote cases');

/**
 * Registers one test per case and server. `localOnly` names cases that check the local engine
 * itself (with why); `notOn[label]` those a server version cannot pass (with why). `modules` maps
 * extra names handed to each case to page-side module paths (as harness.mjs's pageCases).
 */
export async function runRemoteCases(dir, { localOnly = {}, notOn = {}, timeout = 60_000, modules = {} } = {}) {
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
  for (const { label, kind, program } of targets()) {
    for (const name of Object.keys(cases)) {
      const why = localOnly[name] ? `local only: ${localOnly[name]}` : notOn[label]?.[name];
      if (why) {
        test(`${label}: ${name}`, { skip: why }, () => {});
        continue;
      }
      test(`${label}: ${name}`, { timeout }, async () => {
        const server = await startServer(kind, { program });
        const page = await browser.newPage();
        try {
          await page.goto(`${site.url}/tests/browser/blank.html`);
          const outcome = await page.evaluate(
            async ([name, dir, url, modules]) => {
              const pkg = await import('/pkg/index.js');
              const { cases } = await import(`/tests/browser/${dir}/cases.mjs`);
              const extra = {};
              for (const [key, path] of Object.entries(modules)) extra[key] = await import(path);
              const opened = [];
              const open = async () => {
                const nc = await pkg.connect({ servers: url });
                opened.push(nc);
                return nc;
              };
              try {
                await cases[name]({ pkg, ...extra, open });
                return { ok: true };
              } catch (e) {
                return { ok: false, error: `${e?.name}: ${e?.message}` };
              } finally {
                await Promise.all(opened.map((nc) => nc.close().catch(() => {})));
              }
            },
            [name, dir, server.wsUrl, modules],
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
