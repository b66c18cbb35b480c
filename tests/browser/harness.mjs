// Shared plumbing for the page-level tests: a static file server over the repository (so pages
// import /pkg/index.js exactly as a web app would) and headless Chromium from /usr/bin/chromium
// driven by playwright-core (which never downloads a browser), launched by playwright or started as
// our own child process (startChromium) so a test can SIGKILL it.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
};

/** Flags that keep Chromium from reaching for the network or a display (see TOOLCHAIN.md). */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-extensions',
];

/**
 * Serves `dir` (default: the repository) on 127.0.0.1 at a free port. Returns `{ url, close }`.
 * Paths never leave `dir`. `routes` maps a path to its own handler `(req, res)`, served before
 * the files (the benchmark's page without a debugger talks to Node through two of them).
 */
export async function serve(dir = ROOT, routes = {}) {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (Object.hasOwn(routes, path)) return await routes[path](req, res);
      const file = normalize(join(dir, path.endsWith('/') ? path + 'index.html' : path));
      if (!file.startsWith(dir)) throw new Error('outside');
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/** Launches headless Chromium (a fresh profile). */
export function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/**
 * A new page of `browser` (or of a browser context) on the site at `siteUrl`, on the blank page,
 * with the bounded waits every page test uses: `within(promise, ms, what)` rejects with
 * "timed out: <what>" after `ms`, and `sleep(ms)`.
 */
export async function blankPage(browser, siteUrl) {
  const page = await browser.newPage();
  await page.goto(`${siteUrl}/tests/browser/blank.html`);
  await installWaits(page);
  return page;
}

/**
 * One headless Chromium and one site (the repository, see `serve`) for a whole test file: registers
 * the `before` that starts both and the `after` that closes them, and returns their handles, to be
 * read inside tests. `page(context)` is a `blankPage` of the browser, or of a browser context.
 */
export function sharedBrowser() {
  const shared = {
    browser: undefined,
    site: undefined,
    page: (context = shared.browser) => blankPage(context, shared.site.url),
  };
  before(async () => {
    shared.site = await serve();
    shared.browser = await launch();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.site?.close();
  });
  return shared;
}

/** Installs `within` and `sleep` (see `blankPage`) in `page` again, e.g. after a reload. */
export async function installWaits(page) {
  await page.evaluate(() => {
    window.within = (promise, ms, what) =>
      Promise.race([promise, new Promise((_, fail) => setTimeout(() => fail(new Error(`timed out: ${what}`)), ms))]);
    window.sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  });
}

/**
 * Launches headless Chromium on the profile in `userDataDir` (it survives a kill); returns the
 * persistent context. `context.browser()` is null here: kill the process through `pid(context)`.
 */
export function launchProfile(userDataDir) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

/**
 * Starts /usr/bin/chromium as our own child process on the profile in `userDataDir` and connects
 * to it over CDP, so a test can SIGKILL the real process group (nothing gets closed cleanly).
 * Returns `{ browser, context, pid, kill }`; `kill()` SIGKILLs the group and waits until it is gone.
 */
export async function startChromium(userDataDir, { timeoutMs = 30_000 } = {}) {
  const child = spawnChromium(userDataDir, ['--remote-debugging-port=0', 'about:blank']);
  const pid = child.pid;
  const kill = () => killGroup(pid, timeoutMs);
  try {
    const wsUrl = await new Promise((ok, fail) => {
      let text = '';
      const timer = setTimeout(() => fail(new Error(`no DevTools line within ${timeoutMs} ms:\n${text}`)), timeoutMs);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        text += chunk;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          ok(m[1]);
        }
      });
      child.on('exit', (code) => fail(new Error(`chromium exited (${code}) before listening:\n${text}`)));
    });
    // Keep draining stderr, or Chromium blocks once the pipe fills.
    child.stderr.resume();
    const browser = await chromium.connectOverCDP(wsUrl, { timeout: timeoutMs });
    return { browser, context: browser.contexts()[0], pid, kill };
  } catch (e) {
    await kill();
    throw e;
  }
}

/**
 * Starts /usr/bin/chromium as our own child process on the profile in `userDataDir`, opening
 * `url`, with no debugger attached: nothing reports the page's network traffic to anyone (see
 * bench.mjs for why that matters). Returns `{ pid, stop }`; `stop()` asks the browser to quit
 * (SIGTERM: it shuts down and writes its profile, IndexedDB included), SIGKILLs the group when
 * it has not within `timeoutMs`, and resolves once the group is gone.
 */
export function launchDetached(userDataDir, url, { timeoutMs = 30_000 } = {}) {
  const child = spawnChromium(userDataDir, [url]);
  // Drained, or Chromium blocks once the pipe fills.
  child.stderr.resume();
  const pid = child.pid;
  const stop = async () => {
    try {
      process.kill(pid, 'SIGTERM');
      await groupGone(pid, timeoutMs);
    } catch {
      await killGroup(pid, timeoutMs);
    }
  };
  return { pid, stop };
}

/**
 * Spawns /usr/bin/chromium on the profile in `userDataDir` with `args`, as the leader of a
 * process group of its own (so the whole browser can be killed at once); stderr is a pipe the
 * caller reads or drains.
 */
function spawnChromium(userDataDir, args) {
  return spawn('/usr/bin/chromium', [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`, ...args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** SIGKILLs process group `pgid` and resolves once it is gone (bounded by `timeoutMs`). */
async function killGroup(pgid, timeoutMs) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {}
  await groupGone(pgid, timeoutMs);
}

/** Resolves once no process of group `pgid` is left (bounded by `timeoutMs`). */
async function groupGone(pgid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`process group ${pgid} still alive after ${timeoutMs} ms`);
}

/**
 * Registers one test per case of a shared case file (`tests/browser/<dir>/cases.mjs`, whose
 * `cases[name]({pkg, open, ...modules})` throws with what it saw when a behaviour differs). Each
 * case runs in its own page of headless Chromium on its own IndexedDB databases; the page hands
 * the error back and the test fails with it. `modules` maps extra names handed to each case to
 * page-side module paths (e.g. `{ pubsub: '/pkg/pubsub.js' }`). Returns the suite's server and
 * browser (set once `before` ran) for a file's own further tests.
 */
export async function pageCases(dir, { timeout = 60_000, modules = {} } = {}) {
  const { test, before, after } = await import('node:test');
  const assert = (await import('node:assert/strict')).default;
  const { cases } = await import(`./${dir}/cases.mjs`);
  const suite = { server: null, browser: null };
  before(async () => {
    suite.server = await serve();
    suite.browser = await launch();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.server?.close();
  });
  let n = 0;
  for (const name of Object.keys(cases)) {
    test(name, { timeout }, async () => {
      const page = await suite.browser.newPage();
      try {
        await page.goto(`${suite.server.url}/tests/browser/blank.html`);
        const outcome = await page.evaluate(
          async ([name, dir, db, modules]) => {
            const pkg = await import('/pkg/index.js');
            const { cases } = await import(`/tests/browser/${dir}/cases.mjs`);
            const extra = {};
            for (const [key, path] of Object.entries(modules)) extra[key] = await import(path);
            let opened = 0;
            try {
              await cases[name]({ pkg, ...extra, open: () => pkg.open({ name: `${db}-${++opened}` }) });
              return { ok: true };
            } catch (e) {
              return { ok: false, error: `${e?.name}: ${e?.message}` };
            }
          },
          [name, dir, `${dir}-${++n}`, modules],
        );
        assert.deepEqual(outcome, { ok: true });
      } finally {
        await page.close();
      }
    });
  }
  return suite;
}
