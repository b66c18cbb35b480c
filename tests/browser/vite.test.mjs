// The package through a bundler: `vite build` of the tiny app in tests/browser/vite (which imports
// 'contrail' by name), served as static files and loaded in headless Chromium. A PubAck proves the
// bundle found the .wasm asset (emitted by Vite from pkg's `new URL(..., import.meta.url)`).
// Needs `npm ci` in tests/browser/vite (scripts/test-wasm does it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, serve, launch } from './harness.mjs';

const APP = join(ROOT, 'tests/browser/vite');
const VITE = join(APP, 'node_modules/vite/bin/vite.js');

let out, browser;
before(async () => {
  out = await mkdtemp(join(tmpdir(), 'contrail-vite-'));
  browser = await launch();
});
after(async () => {
  await browser?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

test('an app bundled by vite build imports contrail and gets a PubAck', { timeout: 120_000 }, async () => {
  assert.ok(existsSync(VITE), `no vite: run \`npm ci\` in ${APP}`);
  await promisify(execFile)(process.execPath, [VITE, 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: APP,
    timeout: 90_000,
  });
  const assets = await readdir(join(out, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `no .wasm emitted: ${assets}`);

  const server = await serve(out);
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 });
    const result = await page.evaluate(() => window.result);
    assert.deepEqual(result, { ok: true, stream: 'V', seq: 1, persistent: true });
  } finally {
    await server.close();
  }
});
