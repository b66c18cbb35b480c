// Paced live updates. A view asks for `every(ms, fn)`: `fn` runs, and runs again `ms` after it
// finished (never two at once, never faster however fast the stream changes), only while the
// tab is visible. Leaving a view stops its loops. What `fn` reads is stream and consumer info
// (counts), and at most one page of messages: a stream taking 100,000 messages a second costs
// the page one small request a second, not its messages.

let generation = 0;
const wakers = new Set();

/** Stops every loop of the view being left. */
export function leaveView() {
  generation++;
  for (const wake of wakers) wake();
  wakers.clear();
}

/** Runs `fn` now and then every `ms` after it settles, until the view is left. */
export function every(ms, fn) {
  const mine = generation;
  (async () => {
    while (mine === generation) {
      if (!document.hidden) {
        try {
          await fn();
        } catch (e) {
          // The view shows its own errors; a failed tick is retried at the next one.
          console.warn('live update failed', e);
        }
      }
      await new Promise((ok) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wakers.delete(done);
          ok();
        }
        wakers.add(done);
      });
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
