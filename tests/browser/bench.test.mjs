// Keeps the browser benchmark from rotting: runs bench.mjs's every workload with tiny sizes (warm
// and fresh-process open, and the sync rows against a Contrail server, included) and checks that
// each row of the table got a figure. Speed is never asserted here: `scripts/bench-browser`
// measures it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBench, formatTable } from './bench.mjs';

test('every benchmark row produces a positive finite figure', { timeout: 180_000 }, async () => {
  const { rows } = await runBench({
    ceilingMsgs: 2_000,
    publishMsgs: 300,
    burstMsgs: 300,
    syncMsgs: 5,
    window: 100,
    batch: 50,
    keys: 50,
    rounds: 2,
    roundMsgs: 2_000,
    kvPuts: 300,
    kvSyncPuts: 5,
    kvGets: 100,
    upMsgs: 300,
    cold: true,
  });
  assert.equal(rows.length, 20, formatTable(rows));
  for (const row of rows) {
    assert.ok(Number.isFinite(row.value) && row.value > 0, `${row.workload}: ${row.value}`);
  }
  assert.match(formatTable(rows), /open -> first PubAck, 300 msgs, fresh browser process/);
  assert.match(formatTable(rows), /upload by db.sync to a Contrail server stream, 300 local msgs/);
  assert.match(formatTable(rows), /@nats-io\/jetstream v3 publish \(nats.js wsconnect\), 100 outstanding/);
  assert.match(formatTable(rows), /mirror catch-up into IndexedDB, 300 msgs/);
  assert.match(formatTable(rows), /kv get, latest value, await each \(ratio: to Map.get/);
  for (const kind of ['events', 'random', 'same']) assert.match(formatTable(rows), new RegExp(`, ${kind} payloads, `));
});
