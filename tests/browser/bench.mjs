#!/usr/bin/env node
// The browser benchmark: Contrail's durable publish, fetch+ack, KV put/get and open time against
// the raw ceiling of packed IndexedDB writes (KV gets against a Map), and sync against a Contrail
// server this script starts (race-free, as the browser tests do: servers.mjs): an upload by
// `db.sync` beside @nats-io/jetstream v3 (and connect()) publishing the same messages from the
// same page, 1,000 outstanding, and a mirror catch-up into
// IndexedDB beside the ceiling; measured in one page of headless Chromium, printed as a
// table of figures and ratios. The workloads live in bench-page.mjs; this script serves the
// repository, starts Chromium on a throwaway profile directory (an on-disk IndexedDB: Playwright's
// `launch()` contexts are off-the-record, where one-record strict transactions ran twice as fast,
// ~1,200/s against ~600/s, with nothing fsynced) with no debugger attached (see
// `detachedPages`; only `--profile` uses Playwright), runs the page, optionally reopens the
// database in a fresh browser process, and prints.
//
//   node tests/browser/bench.mjs [--runs 3] [--publish 100000] [--ceiling 200000] [--burst 100000]
//        [--sync 500] [--window 1000] [--batch 500] [--size 128] [--keys 1000] [--rounds 5]
//        [--round-msgs 20000] [--kv-puts 20000] [--kv-sync 300] [--kv-gets 10000]
//        [--up 100000] [--upload-window 1000] [--payload events|random|same] [--only sync|mirror]
//        [--server-storage file|memory]
//        [--no-cold] [--json]
//        [--profile out.cpuprofile [--profile-of publish|bursts|fetch|open|upload|mirror]]
// `--only sync` (BENCH_ONLY=sync) runs the ceiling and the sync rows alone; `--only mirror` the
// ceiling and the mirror catch-up alone. The upload's reference
// is @nats-io/jetstream v3 (from tests/types, loaded into the page by natsjs-bundle.mjs).
// Each option also reads BENCH_<NAME> from the environment (e.g. BENCH_RUNS=3). Figures are
// printed, never asserted. Needs pkg/dist (scripts/build-pkg) and `npm ci` in tests/browser.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, launchProfile, launchDetached } from './harness.mjs';
import { startServer } from './servers.mjs';
import { natsjsBundle } from './natsjs-bundle.mjs';

const PAGE = '/tests/browser/bench-page.mjs';

/** Targets from issue 4. */
const TARGET_PUBLISH_RATIO = 0.5;
const TARGET_OPEN_MS = 50;

/**
 * Runs the benchmark `runs` times, each in a fresh profile; returns `{ rows, runs }` where each
 * row holds the median figure and ratio, and `runs` the raw results of every run.
 * `opts`: sizes (see DEFAULTS in bench-page.mjs), `cold` (reopen in a fresh browser process),
 * `runs`, `profile` (path: write a CPU profile of a separate pass of `profileOf`: publish,
 * bursts, fetch, open, upload or mirror), `log`.
 *
 * The measured runs happen in a Chromium that no debugger is attached to ([`detachedPages`]);
 * only the profile pass, which needs the DevTools profiler, runs under Playwright.
 */
export async function runBench(opts = {}) {
  const { runs = 1, cold: coldAsked = true, profile, profileOf = 'publish', log = () => {}, ...sizes } = opts;
  const cold = coldAsked && sizes.only === undefined; // a subset leaves no main database
  const pages = detachedPages();
  const server = await serve(undefined, pages.routes);
  const all = [];
  let contrail;
  try {
    // The sync rows' server: $CONTRAIL_BIN (scripts/bench-browser: the release build) or
    // target/debug/contrail, on ports it picks itself.
    contrail = await startServer('contrail');
    const withServer = { ...sizes, serverUrl: contrail.wsUrl };
    // The sync rows' reference client: nats.js v3 itself, in the page.
    pages.natsjs = await natsjsBundle();
    for (let i = 0; i < runs; i++) {
      log(`run ${i + 1}/${runs} ...`);
      all.push(await oneRun(server.url, pages, withServer, { cold }));
    }
    if (profile) all[0].profile = await profilePass(server.url, pages.natsjs, withServer, profile, profileOf);
  } finally {
    await contrail?.stop();
    await server.close();
  }
  return { rows: medianRows(all.map(rowsOf)), runs: all };
}

async function oneRun(url, pages, sizes, { cold }) {
  const dir = await mkdtemp(join(tmpdir(), 'contrail-bench-'));
  try {
    const result = await pages.run(url, dir, 'run', [sizes]);
    if (cold) {
      // A fresh browser process on the same profile: the database is read from disk.
      result.results.openCold = await pages.run(url, dir, 'coldOpen', []);
      const expected = result.opts.publishMsgs + 2;
      if (result.results.openCold.seq !== expected) {
        throw new Error(`cold reopen gave seq ${result.results.openCold.seq}, expected ${expected}`);
      }
    }
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs one function of bench-page.mjs in a Chromium this script starts with no debugger
 * attached (harness.mjs's `launchDetached`): the page (bench-detached.html) fetches its job from
 * `routes`, calls the function and posts back what it returned or threw.
 *
 * Why not Playwright, as the page tests use: Playwright turns on DevTools' network reporting in
 * every page, and Chromium then sends every WebSocket frame, payload included, over the
 * DevTools pipe to Node. On the 2-core machine that was a fifth of the CPU during the sync
 * rows (Node and Chromium's DevTools thread) and took a third to a half off them: a mirror's
 * catch-up of 100,000 messages measured 123-150k msgs/s under Playwright and 180-300k with no
 * debugger, while the IndexedDB ceiling (no network) was the same either way. A user's page has
 * no debugger attached.
 *
 * Returns `{ routes, natsjs, run(siteUrl, dir, fn, args) }`; set `natsjs` to the nats.js bundle
 * the pages load first.
 */
function detachedPages() {
  let job;
  let settle;
  const pages = {
    natsjs: '',
    routes: {
      '/bench/natsjs.js': (req, res) =>
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(pages.natsjs),
      '/bench/job': (req, res) =>
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(job)),
      '/bench/result': (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          res.end();
          settle?.(Buffer.concat(chunks).toString('utf8'));
        });
      },
    },
    /** `fn(...args)` of bench-page.mjs in a detached Chromium on the profile in `dir`. */
    async run(siteUrl, dir, fn, args, { timeoutMs = 15 * 60_000 } = {}) {
      job = { module: PAGE, fn, args };
      let timer;
      const posted = new Promise((ok, fail) => {
        settle = ok;
        timer = setTimeout(() => fail(new Error(`the page's ${fn} gave no result within ${timeoutMs} ms`)), timeoutMs);
      });
      const browser = launchDetached(dir, `${siteUrl}/tests/browser/bench-detached.html`);
      let body;
      try {
        body = JSON.parse(await posted);
      } finally {
        clearTimeout(timer);
        settle = undefined;
        await browser.stop();
      }
      if (body.error !== undefined) throw new Error(`page: ${body.error}`);
      return body.value;
    },
  };
  return pages;
}

/** The profile pass, under Playwright (the profiler needs DevTools) in its own fresh profile. */
async function profilePass(url, natsjs, sizes, path, workload) {
  const dir = await mkdtemp(join(tmpdir(), 'contrail-bench-profile-'));
  const context = await launchProfile(dir);
  try {
    const page = await context.newPage();
    await page.goto(`${url}/tests/browser/blank.html`);
    await page.addScriptTag({ content: natsjs });
    return await profileWorkload(context, page, sizes, path, workload);
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A CPU profile (Chrome DevTools format, written to `path`) of one pass of `workload` (publish,
 * bursts, fetch, open: open -> first PubAck, upload: db.sync of upMsgs to the server, or mirror:
 * a mirror's catch-up of upMsgs from it) on a fresh database, after the table's runs; returns the
 * top self-time functions. It runs under DevTools, so its sync workloads are slower than the
 * table's (see `detachedPages`).
 */
async function profileWorkload(context, page, sizes, path, workload) {
  const cdp = await context.newCDPSession(page);
  await page.evaluate(async ([p, s, w]) => {
    const m = await import(p);
    const o = { ...m.DEFAULTS, ...s };
    const nc = await m.openFresh('bench-profile');
    // fetch and open need messages to read: publish them before the profiler starts.
    if (w === 'fetch' || w === 'open') await m.publishBursts(nc, { msgs: o.publishMsgs, window: o.window, size: o.size });
    if (w === 'open') await nc.close();
    if (w === 'mirror') {
      const conn = await m.connectTo(o.serverUrl, 'BENCH_PROFILE', 'mirrored.>');
      await m.publishRemote(conn, 'mirrored.a', { msgs: o.upMsgs, window: o.window, size: o.size });
      globalThis.__bench = { m, nc, o, conn };
      return;
    }
    if (w === 'upload') {
      await m.publishSliding(nc, { msgs: o.upMsgs, window: o.window, size: o.size });
      globalThis.__bench = { m, nc, o, conn: await m.connectTo(o.serverUrl, 'BENCH_PROFILE', 'up.bench.>') };
      return;
    }
    globalThis.__bench = { m, nc, o };
  }, [PAGE, sizes, workload]);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  await page.evaluate(async (w) => {
    const { m, nc, o } = globalThis.__bench;
    if (w === 'publish') await m.publishSliding(nc, { msgs: o.publishMsgs, window: o.window, size: o.size });
    else if (w === 'bursts') await m.publishBursts(nc, { msgs: o.publishMsgs, window: o.window, size: o.size });
    else if (w === 'fetch') await m.fetchAck(nc, { msgs: o.publishMsgs, batch: o.batch });
    else if (w === 'open') await m.openToFirstPublish('bench-profile', o.size);
    else if (w === 'mirror') await m.mirrorCatchUp(globalThis.__bench.conn, o.upMsgs, Math.max(6000, o.upMsgs), 'BENCH_PROFILE');
    else if (w === 'upload') {
      const up = await nc.sync(globalThis.__bench.conn, { stream: 'BENCH', to: 'BENCH_PROFILE', subjectPrefix: 'up.', window: o.uploadWindow });
      await up.caughtUp();
      up.stop();
    }
    else throw new Error(`no workload ${w} to profile`);
  }, workload);
  const { profile } = await cdp.send('Profiler.stop');
  await page.evaluate(async () => {
    const { m, nc, conn } = globalThis.__bench;
    await nc.close();
    await conn?.close();
    await m.drop('bench-profile');
  });
  await writeFile(path, JSON.stringify(profile));
  return topSelf(profile, 25);
}

/** The functions with the most self time: `[{ fn, ms, pct }]`. */
function topSelf(profile, n) {
  const dt = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) dt.set(samples[i], (dt.get(samples[i]) ?? 0) + timeDeltas[i]);
  const byFn = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = dt.get(node.id) ?? 0;
    total += us;
    const f = node.callFrame;
    const file = f.url ? f.url.replace(/^.*\/\/[^/]+/, '') : '';
    const key = `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  return [...byFn]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, ms: us / 1000, pct: (100 * us) / total }));
}

const rate = (r) => (r.msgs * 1000) / r.ms;

/** One run's results as table rows: `{ workload, value, unit, ratio?, target? }`. */
function rowsOf({ results: r, opts: o }) {
  const ceil = rate(r.ceiling1000);
  const b = `${o.size} B`;
  const row = (workload, res, target) => ({
    workload,
    value: rate(res),
    unit: 'msgs/s',
    ratio: rate(res) / ceil,
    target,
    parts: res.commits ? { 'msgs/commit': res.msgs / res.commits } : undefined,
  });
  const vs = (workload, res, base, unit = 'ops/s') => ({ workload, value: rate(res), unit, ratio: rate(res) / rate(base) });
  if (o.only === 'mirror') return [row(`IndexedDB ceiling: 1000 x ${b} per record, 1 record per strict tx`, r.ceiling1000, 'ceiling'), { ...row(`mirror catch-up into IndexedDB, ${o.upMsgs} msgs (db.attach + mirror stream)`, r.server.mirror), target: '>= 0.50' }];
  if (o.only === 'sync') return [row(`IndexedDB ceiling: 1000 x ${b} per record, 1 record per strict tx`, r.ceiling1000, 'ceiling'), ...syncRows(r.server, o, row, vs)];
  const rows = [
    row(`IndexedDB ceiling: 1000 x ${b} per record, 1 record per strict tx`, r.ceiling1000, 'ceiling'),
    row(`IndexedDB: 100 x ${b} per record, 1 record per strict tx`, r.ceiling100),
    row(`publish, ${o.window} outstanding, each PubAck awaited`, r.publish),
    // Every payload kind, each against a ceiling of the same payloads.
    ...Object.entries(r.paired).map(([kind, rounds]) =>
      pairedRow(`publish, ${o.window} outstanding, ${kind} payloads, in ${o.rounds} rounds alternating with a ceiling of the same payloads (ratio: median of the rounds')`, rounds, `>= ${TARGET_PUBLISH_RATIO.toFixed(2)}`),
    ),
    row(`publish, bursts of ${o.window} (Promise.all)`, r.bursts),
    row(`publish, ${o.window} outstanding, ${o.keys} subjects, max 1 msg per subject (as a KV bucket)`, r.keys),
    row(`publish, 1 outstanding (await each)`, r.sync),
    row(`fetch + ack, batch ${o.batch}, explicit, last ackAck`, r.fetchAck),
    row(`publish, ${o.window} outstanding, memory engine (no IndexedDB: CPU cost alone)`, r.memory),
    // KV, each beside its own baseline (named in the row).
    row(`kv put, ${o.window} outstanding, ${o.keys} keys, history 1`, r.kv.put),
    vs(`kv put, await each (ratio: to raw IndexedDB, 1 put per strict tx)`, r.kv.putSync, r.kv.rawSync),
    vs(`kv get, latest value, await each (ratio: to Map.get on the same keys)`, r.kv.get, r.kv.map),
  ];
  rows.push(...syncRows(r.server, o, row, vs));
  const open = (label, x) => ({
    workload: `open -> first PubAck, ${o.publishMsgs} msgs, ${label}`,
    value: x.ms,
    unit: 'ms',
    target: `< ${TARGET_OPEN_MS} ms`,
    parts: { 'open ms': x.openMs, 'publish ms': x.publishMs },
  });
  rows.push(open('warm (same page)', r.openWarm));
  if (r.openCold) rows.push({ ...open('fresh browser process', r.openCold), target: undefined });
  return rows;
}

/**
 * The sync rows: the upload against the reference client (@nats-io/jetstream v3 publishing the
 * same messages from the same page to the same server, `window` outstanding), connect()'s
 * publish beside it, and the mirror catch-up against the IndexedDB ceiling.
 */
function syncRows(s, o, row, vs) {
  const up = `${o.uploadWindow ? `window ${o.uploadWindow}` : 'default window'}${o.serverStorage === 'memory' ? ', server streams in memory' : ''}`;
  return [
    { ...vs(`upload by db.sync to a Contrail server stream, ${o.upMsgs} local msgs, ${up} (ratio: to the next row)`, s.upload, s.natsjs, 'msgs/s'), target: '>= 1.00' },
    { workload: `@nats-io/jetstream v3 publish (nats.js wsconnect), ${o.window} outstanding, same msgs, same server`, value: rate(s.natsjs), unit: 'msgs/s' },
    vs(`connect() JetStream publish, ${o.window} outstanding, same msgs, same server (ratio: to @nats-io/jetstream)`, s.client, s.natsjs, 'msgs/s'),
    ...(s.mirror ? [{ ...row(`mirror catch-up into IndexedDB, ${o.upMsgs} msgs (db.attach + mirror stream)`, s.mirror), target: '>= 0.50' }] : []),
  ];
}

/** The interleaved rounds as one row: Contrail's median rate, the median of each round's ratio. */
function pairedRow(workload, rounds, target) {
  return {
    workload,
    value: median(rounds.map((x) => rate(x.publish))),
    unit: 'msgs/s',
    ratio: median(rounds.map((x) => rate(x.publish) / rate(x.ceiling))),
    target,
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per row: the median value and median ratio over runs (ratios are taken within each run). */
function medianRows(perRun) {
  return perRun[0].map((row, i) => {
    const vals = perRun.map((rows) => rows[i].value);
    const out = { ...row, value: median(vals), values: vals };
    if (row.ratio !== undefined) out.ratio = median(perRun.map((rows) => rows[i].ratio));
    if (row.parts) {
      out.parts = Object.fromEntries(Object.keys(row.parts).map((k) => [k, median(perRun.map((rows) => rows[i].parts[k]))]));
    }
    return out;
  });
}

/** The table as Markdown. */
export function formatTable(rows) {
  const fmt = (r) => (r.unit === 'ms' ? `${r.value.toFixed(1)} ms` : `${Math.round(r.value).toLocaleString('en-US')} ${r.unit}`);
  const lines = ['| workload | figure | ratio to ceiling | target |', '|---|---:|---:|---|'];
  for (const r of rows) {
    const spread = r.values?.length > 1 ? ` (runs: ${r.values.map((v) => (r.unit === 'ms' ? v.toFixed(1) : Math.round(v))).join(', ')})` : '';
    const note = r.parts ? ` (${Object.entries(r.parts).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')})` : '';
    lines.push(`| ${r.workload}${note} | ${fmt(r)}${spread} | ${r.ratio === undefined ? '–' : r.ratio >= 0.01 ? r.ratio.toFixed(2) : r.ratio.toPrecision(2)} | ${r.target ?? '–'} |`);
  }
  return lines.join('\n');
}

function parseArgs(argv, env) {
  const names = { runs: 'runs', publish: 'publishMsgs', ceiling: 'ceilingMsgs', burst: 'burstMsgs', sync: 'syncMsgs', window: 'window', batch: 'batch', size: 'size', rounds: 'rounds', 'round-msgs': 'roundMsgs', keys: 'keys', 'kv-puts': 'kvPuts', 'kv-sync': 'kvSyncPuts', 'kv-gets': 'kvGets', up: 'upMsgs', 'upload-window': 'uploadWindow' };
  const opts = {};
  for (const [flag, key] of Object.entries(names)) {
    const e = env[`BENCH_${flag.toUpperCase().replace(/-/g, '_')}`];
    if (e !== undefined) opts[key] = Number(e);
  }
  if (env.BENCH_COLD === '0') opts.cold = false;
  if (env.BENCH_PAYLOAD) opts.payload = env.BENCH_PAYLOAD;
  if (env.BENCH_ONLY) opts.only = env.BENCH_ONLY;
  if (env.BENCH_SERVER_STORAGE) opts.serverStorage = env.BENCH_SERVER_STORAGE;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i].replace(/^--/, '');
    if (a === 'no-cold') opts.cold = false;
    else if (a === 'json') opts.json = true;
    else if (a === 'profile') opts.profile = argv[++i];
    else if (a === 'profile-of') opts.profileOf = argv[++i];
    else if (a === 'payload') opts.payload = argv[++i];
    else if (a === 'only') opts.only = argv[++i];
    else if (a === 'server-storage') opts.serverStorage = argv[++i];
    else if (names[a]) opts[names[a]] = Number(argv[++i]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  for (const [k, v] of Object.entries(opts)) {
    if (typeof v === 'number' && !(Number.isInteger(v) && v > 0)) throw new Error(`${k} must be a positive integer`);
  }
  return opts;
}

async function main() {
  const { json, ...opts } = parseArgs(process.argv.slice(2), process.env);
  const started = Date.now();
  const { rows, runs } = await runBench({ ...opts, log: (s) => console.error(s) });
  const r0 = runs[0];
  console.log(`\nContrail browser benchmark: headless Chromium, ${runs.length} run(s), medians; ${r0.opts.size} B payloads, ${r0.opts.payload} unless a row says otherwise`);
  console.log(`wasm load ${r0.results.wasmMs.toFixed(1)} ms; fresh process: wasm ${r0.results.openCold?.wasmMs?.toFixed(1) ?? '–'} ms before open\n`);
  console.log(formatTable(rows));
  if (r0.profile) {
    console.log(`\nCPU profile of one ${opts.profileOf ?? 'publish'} pass (${opts.profile}), top self time:`);
    for (const p of r0.profile) console.log(`${p.ms.toFixed(1).padStart(9)} ms ${p.pct.toFixed(1).padStart(5)}%  ${p.fn}`);
  }
  if (json) console.log(JSON.stringify({ rows, runs }, null, 2));
  console.error(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
