// What the sync page tests share. Uploads (sync.test.mjs, sync-reload.test.mjs, tabs-sync.test.mjs):
// the proxy (proxy.mjs), the page-side helpers that write a local stream and read the server's,
// and the server stream's expected content. Mirrors (mirror.test.mjs, tabs-mirror.test.mjs): the
// page-side helpers that publish the server stream ORDERS and read a stream back.
export { startProxy } from './proxy.mjs';

/** Installs the page helpers `writeLocal`, `makeRemote`, `readRemote` (`within` comes with harness.mjs's `blankPage`). */
export async function installHelpers(page) {
  await page.evaluate(() => {
    /** Local stream LOCAL (ev.>) with messages from..to: subject ev.<i % 5>, data m<i>. */
    window.writeLocal = async (db, from, to) => {
      const jsm = await db.jetstreamManager();
      await jsm.streams.add({ name: 'LOCAL', subjects: ['ev.>'] }).catch(() => {});
      const js = db.jetstream();
      const acks = [];
      for (let i = from; i <= to; i++) acks.push(js.publish(`ev.${i % 5}`, `m${i}`));
      await Promise.all(acks);
    };
    window.makeRemote = async (nc) => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'REMOTE', subjects: ['up.ev.>'] });
    };
    /** The server stream's messages as `subject data` strings, in sequence order. */
    window.readRemote = async (nc) => {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info('REMOTE');
      const out = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
        const m = await jsm.streams.getMessage('REMOTE', { seq });
        out.push(`${m.subject} ${new TextDecoder().decode(m.data)}`);
      }
      return { count: info.state.messages, out };
    };
  });
}

export function expected(n) {
  return Array.from({ length: n }, (_, k) => `up.ev.${(k + 1) % 5} m${k + 1}`);
}

/** Installs the mirror page helpers `publishOrders` and `readStream`. */
export async function installMirrorHelpers(page) {
  await page.evaluate(() => {
    /** Publishes ORDERS messages from..to on `nc`: subject orders.<i % 3>, data o<i>. */
    window.publishOrders = async (nc, from, to) => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] }).catch(() => {});
      const js = nc.jetstream();
      // In windows of 1000 (a connection holds at most 4096 requests awaiting replies).
      for (let start = from; start <= to; start += 1000) {
        const acks = [];
        for (let i = start; i <= Math.min(to, start + 999); i++) acks.push(js.publish(`orders.${i % 3}`, `o${i}`));
        await Promise.all(acks);
      }
    };
    /**
     * A stream's messages as `seq subject data time(ms)` strings, in sequence order (read 500 at
     * a time), its message count and its mirror info (null: none).
     */
    window.readStream = async (jsm, name) => {
      const info = await jsm.streams.info(name);
      const out = [];
      for (let start = info.state.first_seq; start <= info.state.last_seq && start > 0; start += 500) {
        const seqs = [];
        for (let seq = start; seq <= Math.min(info.state.last_seq, start + 499); seq++) seqs.push(seq);
        const got = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(name, { seq })));
        for (const m of got) out.push(`${m.seq} ${m.subject} ${new TextDecoder().decode(m.data)} ${m.time.getTime()}`);
      }
      return { count: info.state.messages, out, mirror: info.mirror ?? null };
    };
  });
}
