#!/usr/bin/env node
// A diagnostic, not a test: the timeline of one mirror catch-up into IndexedDB, to see where a
// catch-up waits. The page's IndexedDB transactions (start, records and bytes put, how long
// until complete), the WebSocket frames that arrive (messages in each, flow-control requests)
// and what the page sends (flow-control replies) are recorded and written, in time order, to
// $TRACE_OUT (default /tmp/trace-mirror.txt); a summary is printed. Needs pkg/dist and the
// server binary as bench-browser does (target/debug/contrail or $CONTRAIL_BIN).
//   node tests/browser/trace-mirror.mjs        MSGS=100000 (default), MEM=1: the memory engine
//   (no IndexedDB, the catch-up's CPU and server cost alone), TRACE=0: no recording (its own
//   cost: it decodes every frame as text), for plain timings. It runs under Playwright, whose
//   DevTools connection is sent every WebSocket frame: its rates are lower than bench.mjs's,
//   whose measured pages have no debugger attached (there, about 1.7x).
import { serve, launchProfile } from './harness.mjs';
import { startServer } from './servers.mjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const msgs = Number(process.env.MSGS ?? 100000);
const server = await serve();
const contrail = await startServer('contrail');
const dir = await mkdtemp(join(tmpdir(), 'trace-'));
const ctx = await launchProfile(dir);
try {
  const page = await ctx.newPage();
  page.on('console', (m) => console.log('page:', m.text()));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  const out = await page.evaluate(async ([url, msgs, mem, trace]) => {
    const T = { tx: [], frames: [], sends: [] };
    // Recording wraps IndexedDB and WebSocket before the package loads.
    if (trace) {
      const oldPut = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (v, k) { const e = globalThis.__curTx; if (e) { e.puts++; e.bytes += v?.byteLength ?? 0; (e.keys ??= []).push((Array.isArray(k) ? k[1] : k) + ':' + (v?.byteLength ?? 0)); } return oldPut.call(this, v, k); };
      const oldTx = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (...a) {
        const tx = oldTx.apply(this, a);
        const e = { start: performance.now(), mode: a[1], puts: 0, bytes: 0 };
        T.tx.push(e);
        globalThis.__curTx = e;
        tx.addEventListener('complete', () => (e.end = performance.now()));
        return tx;
      };
      const Old = WebSocket;
      const dec = new TextDecoder();
      globalThis.WebSocket = class extends Old {
        constructor(...a) {
          super(...a);
          this.addEventListener('message', (ev) => {
            const b = new Uint8Array(ev.data);
            const s = dec.decode(b);
            T.frames.push({ t: performance.now(), n: b.length, fc: (s.match(/FlowControl Request/g) || []).length, msgs: (s.match(/\r\nMSG |^MSG |\r\nHMSG |^HMSG /g) || []).length });
          });
        }
        send(d) { const s = typeof d === 'string' ? d : dec.decode(d); T.sends.push({ t: performance.now(), n: d.length ?? d.byteLength, fc: (s.match(/PUB \$JS\.FC/g) || []).length }); return super.send(d); }
      };
    }
    const m = await import('/tests/browser/bench-page.mjs');
    await m.loadWasm();
    const conn = await m.connectTo(url, 'TRACE', 'mirrored.>');
    await m.publishRemote(conn, 'mirrored.a', { msgs, window: 1000, size: 128 });
    T.tx.length = 0; T.frames.length = 0; T.sends.length = 0;
    const start = performance.now();
    let r;
    if (mem) {
      const { open } = await import('/pkg/index.js');
      const local = await open();
      const att = await local.attach(conn, { domain: 'hub' });
      const jsm = await local.jetstreamManager();
      const t0 = performance.now();
      await jsm.streams.add({ name: 'MIRROR', mirror: { name: 'TRACE', domain: 'hub' } });
      for (let i = 0; i < 10000; i++) { if ((await jsm.streams.info('MIRROR')).state.messages >= msgs) break; await new Promise((ok) => setTimeout(ok, 10)); }
      r = { msgs, ms: performance.now() - t0 };
      att.detach(); await local.close();
    } else r = await m.mirrorCatchUp(conn, msgs, 10000, 'TRACE');
    await conn.close();
    return { r, T, start };
  }, [contrail.wsUrl, msgs, !!process.env.MEM, process.env.TRACE !== '0']);
  const { T, start, r } = out;
  console.log('result', r, 'rate', (r.msgs * 1000 / r.ms).toFixed(0));
  const rel = (t) => (t - start).toFixed(1);
  const ev = [];
  for (const x of T.tx) if (x.mode === 'readwrite') ev.push([x.start, `tx start puts=${x.puts} bytes=${x.bytes} ${(x.keys ?? []).join(' ')}`], [x.end, `tx end (${(x.end - x.start).toFixed(1)} ms)`]);
  for (const f of T.frames) ev.push([f.t, `frame ${f.n} msgs=${f.msgs}${f.fc ? ' FC-REQ' : ''}`]);
  for (const s of T.sends) ev.push([s.t, `send ${s.n}${s.fc ? ' FC-REPLY x' + s.fc : ''}`]);
  ev.sort((a, b) => a[0] - b[0]);
  const fs = await import('node:fs');
  fs.writeFileSync(process.env.TRACE_OUT ?? '/tmp/trace-mirror.txt', ev.map(([t, s]) => `${rel(t)} ${s}`).join('\n'));
  const rw = T.tx.filter((x) => x.mode === 'readwrite');
  const txTime = rw.reduce((a, x) => a + (x.end - x.start), 0);
  console.log(`bytes put ${rw.reduce((a, x) => a + x.bytes, 0)} in ${rw.reduce((a, x) => a + x.puts, 0)} puts; rw tx ${rw.length}, time in tx ${txTime.toFixed(0)} ms, frames ${T.frames.length} bytes ${T.frames.reduce((a, f) => a + f.n, 0)}, FC reqs ${T.frames.reduce((a, f) => a + f.fc, 0)}, sends ${T.sends.length}`);
} finally {
  await ctx.close();
  await contrail.stop();
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
