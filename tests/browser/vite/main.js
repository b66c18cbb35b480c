// Imports contrail by its package name, as an app bundled by Vite does, and publishes one message
// to an IndexedDB stream. The result lands in window.result (and #out) for the test to read.
import { open } from 'contrail';

async function run() {
  const nc = await open({ name: 'vite-check' });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'V', subjects: ['v.>'] });
  const ack = await nc.jetstream().publish('v.1', 'bundled');
  await nc.close();
  return { ok: true, stream: ack.stream, seq: ack.seq, persistent: nc.persistent };
}

run().then(
  (r) => (window.result = r),
  (e) => (window.result = { ok: false, error: String(e?.stack ?? e) }),
).then((r) => (document.getElementById('out').textContent = JSON.stringify(r)));
