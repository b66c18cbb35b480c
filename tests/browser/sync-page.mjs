// What the upload page tests share (sync.test.mjs, sync-reload.test.mjs): the proxy (proxy.mjs),
// the page-side helpers that write a local stream and read the server's, and the
// server stream's expected content.
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
