// The Publisher and Consumer of pkg/pubsub.js, checked as an app would use them. Each case takes
// `{ pkg, pubsub, open }` (the client library's exports, the pubsub module and a function opening a fresh connection: a contrail
// engine, or nats.js against a server, with `jetstream()`, `jetstreamManager()`, `close()`) and
// throws when a behaviour differs. The same cases run in Node over memory
// (tests/js/pubsub.test.mjs), in headless Chromium over IndexedDB (tests/browser/pubsub.test.mjs)
// and with nats.js against nats-server 2.14 (tests/js/pubsub-natsjs.test.mjs): pubsub.js uses
// only the public v3 API, so it must behave the same on all three.

function eq(got, want, what = 'value') {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}
function ok(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
}
async function rejects(p, check, what) {
  try {
    await p;
  } catch (e) {
    if (check && !check(e)) throw new Error(`${what}: unexpected error ${e?.name}: ${e?.message}`);
    return e;
  }
  throw new Error(`${what}: did not fail`);
}
/** Waits (bounded) until `cond()` holds: for state only the consumer's own loop changes. */
async function until(cond, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 5));
  }
}
/** A promise with its resolve. */
function signal() {
  let resolve;
  const p = new Promise((r) => (resolve = r));
  return { p, resolve };
}
/** Rejects after `ms`: bounds an await that would otherwise hang on a bug. */
function within(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, no) => (t = setTimeout(() => no(new Error(`timed out: ${what}`)), ms)))]).finally(() =>
    clearTimeout(t),
  );
}
const text = (m) => new TextDecoder().decode(m.data);
const apiCode = (e) => (typeof e?.apiError === 'function' ? e.apiError().err_code : undefined);

/** Publishes `n` messages `m0..m<n-1>` to `<prefix>.<subject>` through a Publisher. */
async function publishN(pubsub, nc, n, stream = 'S', prefix = 'app') {
  const p = new pubsub.Publisher(nc, { stream, subjectPrefix: prefix });
  for (let i = 0; i < n; i++) await p.publish('work', `m${i}`);
  return p;
}

export const cases = {
  'publisher - creates its stream once; a second publisher reuses it; the prefix is applied': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      const a = new pubsub.Publisher(nc, { stream: 'ORDERS', subjectPrefix: 'orders' });
      const first = await a.publish('created', 'one');
      eq([first.stream, first.seq], ['ORDERS', 1], 'first ack');
      const b = new pubsub.Publisher(nc.jetstream(), { stream: 'ORDERS', subjectPrefix: 'orders' });
      eq((await b.publish('paid', 'two')).seq, 2, 'second publisher, same stream');
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info('ORDERS');
      eq(info.config.subjects, ['orders.>'], 'stream subjects');
      eq((await jsm.streams.names().next()).sort(), ['ORDERS'], 'one stream');
      // A metrics hook that throws does not turn a stored message into a failed publish.
      const noisy = new pubsub.Publisher(nc, {
        stream: 'ORDERS',
        subjectPrefix: 'orders',
        onPublish: () => {
          throw new Error('metrics down');
        },
      });
      eq((await noisy.publish('noisy', 'three')).seq, 3, 'published despite the hook');
      const stored = await jsm.streams.getMessage('ORDERS', { seq: 2 });
      eq([stored.subject, new TextDecoder().decode(stored.data)], ['orders.paid', 'two'], 'stored under the prefix');
    } finally {
      await nc.close();
    }
  },

  'publisher - a stream of that name with other subjects is a clear error, as is an overlapping one': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'ORDERS', subjects: ['legacy.>'] });
      const clash = new pubsub.Publisher(nc, { stream: 'ORDERS', subjectPrefix: 'orders' });
      const e = await rejects(clash.publish('created', 'x'), (e) => e instanceof pubsub.PubSubConfigError, 'name clash');
      ok(/ORDERS/.test(e.message) && /legacy\.>/.test(e.message), `message names the stream and its subjects: ${e.message}`);
      const overlap = new pubsub.Publisher(nc, { stream: 'OTHER', subjectPrefix: 'legacy' });
      await rejects(overlap.publish('x', 'x'), (e) => e instanceof pubsub.PubSubConfigError, 'overlapping subjects');
      eq((await jsm.streams.info('ORDERS')).state.messages, 0, 'nothing stored');
    } finally {
      await nc.close();
    }
  },

  'publisher - retries on no responders with backoff, and succeeds once the stream appears': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      const jsm = await nc.jetstreamManager();
      const retried = [];
      const published = [];
      const p = new pubsub.Publisher(nc, {
        stream: 'LATE',
        subjectPrefix: 'late',
        create: false,
        retries: 5,
        backoff: { initialMs: 1, maxMs: 4 },
        onRetry: async (subject, error, attempt) => {
          retried.push([subject, attempt, pubsub.isRetryable(error)]);
          // The stream appears while the publisher is retrying.
          if (attempt === 2) await jsm.streams.add({ name: 'LATE', subjects: ['late.>'] });
        },
        onPublish: (subject, error, ms) => published.push([subject, error, typeof ms === 'number' && ms >= 0]),
      });
      const ack = await p.publish('x', 'hello');
      eq(ack.stream, 'LATE', 'published into the late stream');
      eq(retried, [['late.x', 1, true], ['late.x', 2, true]], 'retries');
      eq(published, [['late.x', null, true]], 'onPublish once, with success and a latency');
    } finally {
      await nc.close();
    }
  },

  'publisher - gives up after its retries; onPublish hears the error': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      const retried = [];
      const published = [];
      const p = new pubsub.Publisher(nc, {
        stream: 'NONE',
        subjectPrefix: 'none',
        create: false,
        retries: 2,
        backoff: { initialMs: 1, maxMs: 2 },
        onRetry: (_s, _e, attempt) => retried.push(attempt),
        onPublish: (subject, error, ms) => published.push([subject, error, ms]),
      });
      const e = await rejects(p.publish('x', 'x'), (e) => pubsub.isRetryable(e), 'no stream');
      eq(retried, [1, 2], 'two retries, three attempts');
      eq(published.length, 1, 'one onPublish');
      ok(published[0][0] === 'none.x' && published[0][1] === e && published[0][2] >= 0, 'onPublish got the error and latency');
    } finally {
      await nc.close();
    }
  },

  'publisher - a failed expectation is not retried; msgID deduplicates; headers pass through': async ({ pkg, pubsub, open }) => {
    const nc = await open();
    try {
      const retried = [];
      const errors = [];
      const p = new pubsub.Publisher(nc, {
        stream: 'E',
        subjectPrefix: 'e',
        retries: 5,
        onRetry: (_s, _e, attempt) => retried.push(attempt),
        onPublish: (_s, error) => errors.push(error?.name ?? null),
      });
      await p.publish('a', '1');
      const e = await rejects(p.publish('a', '2', { expect: { lastSequence: 7 } }), (e) => apiCode(e) === 10071, 'wrong last sequence');
      ok(!pubsub.isRetryable(e), 'an API refusal is not retryable');
      eq(retried, [], 'no retry');
      eq(errors, [null, e.name], 'onPublish saw both');
      const h = pkg.headers();
      h.set('X-Trace', 't1');
      const first = await p.publish('a', '3', { msgID: 'id-1', headers: h });
      const again = await p.publish('a', '3', { msgID: 'id-1', headers: h });
      eq([first.seq, first.duplicate, again.seq, again.duplicate], [2, false, 2, true], 'deduplicated');
      const jsm = await nc.jetstreamManager();
      eq((await jsm.streams.getMessage('E', { seq: 2 })).header.get('X-Trace'), 't1', 'header stored');
    } finally {
      await nc.close();
    }
  },

  'consumer - iterates in order; acks leave nothing pending': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      await publishN(pubsub, nc, 5);
      const c = new pubsub.Consumer(nc, { stream: 'S', durable: 'worker', bufferSize: 2 });
      const seen = [];
      for await (const m of c) {
        seen.push([m.subject, text(m)]);
        await m.ackAck();
        if (seen.length === 5) break;
      }
      await within(c.shutdown(), 10_000, 'shutdown');
      eq(seen, [0, 1, 2, 3, 4].map((i) => ['app.work', `m${i}`]), 'in order');
      const info = await (await nc.jetstreamManager()).consumers.info('S', 'worker');
      eq([info.config.ack_policy, info.num_ack_pending, info.num_pending, info.ack_floor.stream_seq], ['explicit', 0, 0, 5], 'all acked');
      // After shutdown the iterator is over.
      const after = await c[Symbol.asyncIterator]().next();
      eq(after.done, true, 'iterator ended');
    } finally {
      await nc.close();
    }
  },

  'consumer - a nak is redelivered (with or without delay); term stops redelivery': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      await publishN(pubsub, nc, 3); // m0: {nak: 20} then ack; m1: nak then term; m2: term
      const c = new pubsub.Consumer(nc, { stream: 'S', durable: 'w', bufferSize: 4, ackWait: 30_000 });
      const deliveries = [];
      const all = signal();
      const handled = c.handle(async (m) => {
        const body = text(m);
        const n = m.info.deliveryCount;
        deliveries.push(`${body}#${n}`);
        if (deliveries.length === 5) all.resolve();
        if (body === 'm0') return n === 1 ? { nak: 20 } : 'ack';
        if (body === 'm1') return n === 1 ? 'nak' : 'term';
        return 'term';
      });
      await within(all.p, 15_000, `five deliveries, saw ${JSON.stringify(deliveries)}`);
      await within(c.shutdown(), 10_000, 'shutdown');
      await within(handled, 10_000, 'handle ends after shutdown');
      eq([...deliveries].sort(), ['m0#1', 'm0#2', 'm1#1', 'm1#2', 'm2#1'], 'deliveries');
      const info = await (await nc.jetstreamManager()).consumers.info('S', 'w');
      eq([info.num_ack_pending, info.num_pending, info.ack_floor.stream_seq], [0, 0, 3], 'nothing left to redeliver');
    } finally {
      await nc.close();
    }
  },

  'consumer - shutdown naks the buffered messages; a new instance gets them, none lost or acked twice': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      await publishN(pubsub, nc, 6);
      const opts = { stream: 'S', durable: 'w', bufferSize: 3, ackWait: 60_000 };
      const first = new pubsub.Consumer(nc, opts);
      const acked = [];
      const events = [];
      const inHandler = signal();
      const release = signal();
      const handled = first.handle(async (m) => {
        inHandler.resolve();
        await release.p;
        acked.push(text(m));
        events.push('handler done');
        return 'ack';
      });
      await within(inHandler.p, 10_000, 'first message handed to the handler');
      await until(() => first.buffered === 2, 'the buffer to fill');
      eq(first.taken, 3, 'taken: one in the handler and two buffered');
      const down = first.shutdown().then(() => events.push('shutdown done'));
      release.resolve();
      await within(down, 10_000, 'shutdown');
      await within(handled, 10_000, 'handle ends');
      eq(events, ['handler done', 'shutdown done'], 'shutdown waited for the running handler');
      eq(acked, ['m0'], 'the first instance handled one');

      // ackWait is a minute: the naked messages come back now only because they were nak'd.
      const second = new pubsub.Consumer(nc, opts);
      const redelivered = [];
      const all = signal();
      const handled2 = second.handle(async (m) => {
        acked.push(text(m));
        if (m.info.deliveryCount > 1) redelivered.push(text(m));
        if (acked.length === 6) all.resolve();
        return 'ack';
      });
      await within(all.p, 15_000, `all six acked, saw ${JSON.stringify(acked)}`);
      await within(second.shutdown(), 10_000, 'second shutdown');
      await handled2;
      eq([...acked].sort(), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'], 'each message acked exactly once');
      eq(redelivered.sort(), ['m1', 'm2'], 'the buffered ones were redelivered');
      const info = await (await nc.jetstreamManager()).consumers.info('S', 'w');
      eq([info.num_ack_pending, info.num_pending, info.ack_floor.stream_seq], [0, 0, 6], 'nothing pending');
    } finally {
      await nc.close();
    }
  },

  'consumer - never more than bufferSize taken and unhandled (as the server counts them)': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      await publishN(pubsub, nc, 10);
      const jsm = await nc.jetstreamManager();
      const c = new pubsub.Consumer(nc, { stream: 'S', durable: 'w', bufferSize: 3 });
      const pendingSeen = [];
      const done = signal();
      let n = 0;
      const handled = c.handle(async () => {
        if (++n === 1) {
          // Let the buffer fill behind the first message: the server has handed out exactly 3.
          await until(() => c.buffered === 2, 'the buffer to fill');
          const info = await jsm.consumers.info('S', 'w');
          eq([info.num_ack_pending, info.num_pending], [3, 7], 'full buffer, as the server sees it');
        }
        const info = await jsm.consumers.info('S', 'w');
        pendingSeen.push(info.num_ack_pending);
        ok(c.taken <= 3, `taken ${c.taken} <= 3`);
        if (n === 10) done.resolve();
        return 'ack';
      });
      await within(done.p, 15_000, 'ten messages');
      await within(c.shutdown(), 10_000, 'shutdown');
      await handled;
      ok(
        pendingSeen.every((p) => p >= 1 && p <= 3),
        `ack pending within 1..3 at every message: ${JSON.stringify(pendingSeen)}`,
      );
    } finally {
      await nc.close();
    }
  },

  'consumer - an existing durable is updated, not refused (addOrUpdate); stop() ends at once': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      await publishN(pubsub, nc, 2);
      const jsm = await nc.jetstreamManager();
      await jsm.consumers.add('S', { durable_name: 'w', ack_policy: 'explicit', max_deliver: 5 });
      const c = new pubsub.Consumer(nc, { stream: 'S', durable: 'w', maxDeliver: 3, bufferSize: 1 });
      await c.start();
      eq((await jsm.consumers.info('S', 'w')).config.max_deliver, 3, 'updated');
      const it = c[Symbol.asyncIterator]();
      const m = (await it.next()).value;
      eq(text(m), 'm0', 'first');
      c.stop();
      eq((await within(it.next(), 5_000, 'next after stop')).done, true, 'ended at once');
      await c.shutdown(); // after stop: nothing to do
    } finally {
      await nc.close();
    }
  },
  'consumer - a durable deleted underneath ends handle() with an error instead of hanging': async ({ pubsub, open }) => {
    const nc = await open();
    try {
      await publishN(pubsub, nc, 1);
      const c = new pubsub.Consumer(nc, { stream: 'S', durable: 'w', bufferSize: 2, expires: 1000 });
      const first = signal();
      // Caught from the start: it may end while the delete is still being answered.
      const ended = c
        .handle(async () => {
          first.resolve();
          return 'ack';
        })
        .then(
          () => null,
          (e) => e,
        );
      await within(first.p, 10_000, 'first message');
      await (await nc.jetstreamManager()).consumers.delete('S', 'w');
      const e = await within(ended, 15_000, 'handle to end');
      ok(e instanceof Error, `ended with an error: ${e?.name}: ${e?.message}`);
      await within(c.shutdown(), 5_000, 'shutdown after the error');
    } finally {
      await nc.close();
    }
  },
};
