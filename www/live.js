// Paced live updates. A view asks for `every(ms, fn, {view, on})`: `fn` runs, and runs again
// `ms` after it finished (never two at once), only while the tab is visible. With `on`, the
// loop also wakes on a JetStream advisory that `on(advisory)` says concerns it (a stream or
// consumer created, changed or deleted: see `advise`), at most 4 times a second however many
// arrive (a burst is one refresh), and `ms` is only the fallback for what no advisory tells
// (message counts). Leaving a view stops its loops. What `fn` reads is stream and consumer info
// (counts), and at most one page of messages: a stream taking 100,000 messages a second costs
// the page one small request a second, not its messages.

/** Shortest time between two refreshes of a loop that advisories wake. */
const MIN_GAP = 250;

/**
 * Test hook (tests/browser/dashboard.test.mjs): a test that sets
 * `window.contrailDashboardTest = {fallbackMs}` before the page loads makes every
 * advisory-woken loop poll only that often, and reads `refreshes`: how many refreshes each
 * view finished, by cause (`<view>:first`, `<view>:advisory`, `<view>:poll`).
 */
const testHook = globalThis.contrailDashboardTest;
if (testHook) testHook.refreshes ??= {};

let generation = 0;
const wakers = new Set();
/** What each live loop of the shown view wants to hear of advisories. */
const listeners = new Set();

/** Stops every loop of the view being left. */
export function leaveView() {
  generation++;
  for (const wake of wakers) wake();
  wakers.clear();
  listeners.clear();
}

/** Hands an advisory (`{kind, data}` from `jsm.advisories()`) to the loops it concerns. */
export function advise(advisory) {
  for (const listener of listeners) listener(advisory);
}

/** Waits `ms`, or less when `wake` is called (or the view is left); resolves to who woke it. */
function pause(ms, loop) {
  return new Promise((ok) => {
    const timer = setTimeout(() => done('poll'), ms);
    function done(cause) {
      clearTimeout(timer);
      wakers.delete(done);
      if (loop.wake === done) loop.wake = null;
      ok(cause);
    }
    wakers.add(done);
    loop.wake = done;
  });
}

/**
 * Runs `fn` now and then every `ms` after it settles, until the view is left. With `on`, an
 * advisory for which `on(advisory)` is true runs it sooner (paced: see the module doc).
 */
export function every(ms, fn, { view = 'view', on } = {}) {
  const mine = generation;
  const loop = { wake: null, due: false };
  const fallback = on && testHook?.fallbackMs ? testHook.fallbackMs : ms;
  if (on) {
    listeners.add((advisory) => {
      if (!on(advisory)) return;
      loop.due = true;
      loop.wake?.('advisory');
    });
  }
  (async () => {
    let cause = 'first';
    while (mine === generation) {
      if (!document.hidden) {
        loop.due = false;
        try {
          await fn();
        } catch (e) {
          // The view shows its own errors; a failed tick is retried at the next one.
          console.warn('live update failed', e);
        }
        if (testHook) testHook.refreshes[`${view}:${cause}`] = (testHook.refreshes[`${view}:${cause}`] ?? 0) + 1;
      }
      if (on) {
        // Advisories that arrive meanwhile make one refresh after the gap.
        await pause(MIN_GAP, { wake: null });
        if (mine !== generation) return;
        if (loop.due) {
          cause = 'advisory';
          continue;
        }
      }
      cause = await pause(fallback, loop);
    }
  })();
}

/** Whether the view that started at `gen` is still shown. */
export function current() {
  return generation;
}

/** Per-stream samples of the last sequence and bytes, for rates and sparklines. */
const samples = new Map();
const KEEP = 60;

/** Records a stream's state; returns `{rate, history}` (messages per second, oldest first). */
export function sample(name, state) {
  const now = performance.now();
  let s = samples.get(name);
  if (!s) samples.set(name, (s = { points: [], rates: [] }));
  const last = s.points[s.points.length - 1];
  if (!last || now - last.t >= 500) {
    s.points.push({ t: now, seq: state.last_seq, bytes: state.bytes });
    if (last) {
      const dt = (now - last.t) / 1000;
      s.rates.push(Math.max(0, state.last_seq - last.seq) / dt);
    }
    if (s.points.length > KEEP) s.points.shift();
    if (s.rates.length > KEEP) s.rates.shift();
  }
  return { rate: s.rates[s.rates.length - 1] ?? 0, history: s.rates };
}
