// The dashboard's pacing of pushed updates (www/live.js), in Node: a burst of advisories makes
// one refresh, not one each, and advisories a view does not care about make none. (The page
// tests in tests/browser/dashboard.test.mjs show the refreshes reaching the page.)
import { test } from 'node:test';
import assert from 'node:assert/strict';

globalThis.document = { hidden: false };
globalThis.contrailDashboardTest = { fallbackMs: 600_000 };
const { advise, every, leaveView } = await import('../../www/live.js');

/** Resolves once `cond()` holds, checking every few ms; fails after 5 s. */
async function until(cond, what) {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 5));
  }
}

test('a burst of advisories makes one refresh; unrelated ones make none; leaving the view stops it', async () => {
  const refreshes = globalThis.contrailDashboardTest.refreshes;
  let runs = 0;
  let release;
  every(600_000, async () => {
    runs++;
    if (runs === 1) await new Promise((ok) => (release = ok)); // the first refresh is in flight
  }, { view: 'burst', on: (a) => a.data.stream === 'S' });
  await until(() => release, 'the first refresh');
  for (let i = 0; i < 100; i++) advise({ kind: 'stream_action', data: { stream: 'S' } });
  for (let i = 0; i < 100; i++) advise({ kind: 'stream_action', data: { stream: 'OTHER' } });
  release();
  await until(() => refreshes['burst:advisory'] === 1, 'the refresh the burst asked for');
  assert.equal(runs, 2, 'one refresh for a hundred advisories');

  // Past the gap, nothing more runs until another advisory concerns the view.
  await new Promise((ok) => setTimeout(ok, 600));
  assert.equal(runs, 2, 'no refresh without an advisory (the fallback poll is 10 minutes)');
  advise({ kind: 'stream_action', data: { stream: 'OTHER' } });
  advise({ kind: 'consumer_action', data: { stream: 'S' } });
  await until(() => runs === 3, 'the refresh a later advisory asked for');
  assert.equal(refreshes['burst:poll'], undefined, 'no fallback poll ran');

  leaveView();
  advise({ kind: 'stream_action', data: { stream: 'S' } });
  await new Promise((ok) => setTimeout(ok, 600));
  assert.equal(runs, 3, 'a view left refreshes no more');
});
