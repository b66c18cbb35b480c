// Several pages of one origin on one IndexedDB database (pkg/tabs.js): one writer owns the engine,
// the others publish and consume through it, and take over when it goes away. What users rely on:
// one gap-free, duplicate-free sequence whatever page publishes, acks that count, and requests that
// fail clearly instead of hanging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch } from './harness.mjs';

let server, browser;
before(async () => {
  server = await serve();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** A new page of `ctx` with `globalThis.nc = await open({name, ...opts})`; returns it and its role. */
async function openPage(ctx, name, opts = {}) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error('pageerror:', e));
  await page.goto(`${server.url}/tests/browser/blank.html`);
  const role = await page.evaluate(
    async ({ name, opts }) => {
      globalThis.contrail = await import('/pkg/index.js');
      globalThis.nc = await contrail.open({ name, ...opts });
      return nc.role;
    },
    { name, opts },
  );
  return { page, role };
}

/** Polls `fn` (maybe async) on `page` until it returns a truthy value; fails after `ms`. */
async function waitFor(page, fn, arg, ms = 10_000) {
  const until = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`not true within ${ms} ms: ${fn}`);
}

/** Resolves `p` or fails after `ms` (a test never hangs on a page). */
function within(ms, p, what) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Every stored message from `page`: [{seq, subject, data, msgId}], read through getMessage. */
function readAll(page, stream) {
  return page.evaluate(async (stream) => {
    const jsm = await nc.jetstreamManager();
    const { state } = await jsm.streams.info(stream);
    const seqs = Array.from({ length: state.last_seq }, (_, i) => i + 1);
    const msgs = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(stream, { seq })));
    return {
      state,
      msgs: msgs.map((m) => ({ seq: m.seq, subject: m.subject, data: m.string(), msgId: m.header.get('Nats-Msg-Id') })),
    };
  }, stream);
}

function range(n) {
  return Array.from({ length: n }, (_, i) => i + 1);
}

test('two pages publishing concurrently get one gap-free, duplicate-free sequence', async () => {
  const ctx = await browser.newContext();
  try {
    const a = await openPage(ctx, 'concurrent');
    const b = await openPage(ctx, 'concurrent');
    assert.equal(a.role, 'writer');
    assert.equal(b.role, 'follower');
    await b.page.evaluate(async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
    });

    const N = 300;
    // All N publishes of a page are in flight at once.
    const publish = (page, tag) =>
      page.evaluate(
        async ({ n, tag }) => {
          const js = nc.jetstream();
          const acks = await Promise.all(Array.from({ length: n }, (_, i) => js.publish(`s.${tag}`, `${tag}-${i}`)));
          return acks.map((a, i) => ({ seq: a.seq, data: `${tag}-${i}`, duplicate: a.duplicate }));
        },
        { n: N, tag },
      );
    const [fromA, fromB] = await within(60_000, Promise.all([publish(a.page, 'a'), publish(b.page, 'b')]), 'publishing');

    const all = [...fromA, ...fromB];
    const seqs = all.map((x) => x.seq).sort((x, y) => x - y);
    assert.deepEqual(seqs, range(2 * N), 'every PubAck seq is unique and together they are 1..N');
    assert.ok(all.every((x) => !x.duplicate));
    // Each page's publishes keep their order in the stream.
    for (const mine of [fromA, fromB]) assert.ok(mine.every((x, i) => i === 0 || x.seq > mine[i - 1].seq));

    const expected = new Map(all.map((x) => [x.seq, x.data]));
    for (const page of [a.page, b.page]) {
      const { state, msgs } = await readAll(page, 'S');
      assert.equal(state.messages, 2 * N);
      assert.equal(state.first_seq, 1);
      assert.equal(state.last_seq, 2 * N);
      assert.deepEqual(
        msgs.map((m) => [m.seq, m.data]),
        range(2 * N).map((seq) => [seq, expected.get(seq)]),
      );
    }
  } finally {
    await ctx.close();
  }
});

test('a follower fetches, consumes and acks; the writer sees the acks', async () => {
  const ctx = await browser.newContext();
  try {
    const a = await openPage(ctx, 'consume');
    const b = await openPage(ctx, 'consume');
    assert.deepEqual([a.role, b.role], ['writer', 'follower']);
    await a.page.evaluate(async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
      await jsm.consumers.add('S', { durable_name: 'C', ack_policy: 'explicit' });
      const js = nc.jetstream();
      await Promise.all(Array.from({ length: 40 }, (_, i) => js.publish('s.x', `m${i}`)));
    });

    const got = await within(
      30_000,
      b.page.evaluate(async () => {
        const js = nc.jetstream();
        const c = await js.consumers.get('S', 'C');
        const seen = [];
        // fetch: half acked with ack(), half with ackAck() (durable once it resolves).
        for await (const m of await c.fetch({ max_messages: 30, expires: 3000 })) {
          seen.push(m.seq);
          if (m.seq % 2) m.ack();
          else await m.ackAck();
        }
        // consume: the rest, then stop.
        const it = await c.consume({ max_messages: 5, expires: 1000 });
        for await (const m of it) {
          seen.push(m.seq);
          m.ack();
          if (m.info.pending === 0) it.stop();
        }
        const none = await c.next({ expires: 300 });
        const info = await c.info();
        let refused = '';
        try {
          await js.publish('nowhere', 'x');
        } catch (e) {
          refused = e.name;
        }
        return { seen, none, floor: info.ack_floor.stream_seq, pending: info.num_ack_pending, refused };
      }),
      'consuming',
    );
    assert.deepEqual(got.seen, range(40));
    assert.equal(got.none, null);
    // The follower's acks went ahead of its info request, so the info counts them all.
    assert.equal(got.floor, 40);
    assert.equal(got.pending, 0);
    assert.equal(got.refused, 'NoRespondersError');

    const seenByWriter = await a.page.evaluate(async () => {
      const info = await (await nc.jetstreamManager()).consumers.info('S', 'C');
      return { floor: info.ack_floor.stream_seq, pending: info.num_ack_pending, delivered: info.delivered.stream_seq };
    });
    assert.deepEqual(seenByWriter, { floor: 40, pending: 0, delivered: 40 });
  } finally {
    await ctx.close();
  }
});

/**
 * Starts publishing in `page` in the background: `n` publishes to `subject`, `window` in flight,
 * each with a msgID when `ids`. Progress is in globalThis.done[tag]; the result promise in
 * globalThis.runs[tag] resolves to [{i, seq, duplicate, role} | {i, error, role}], `role` that of
 * the page when the answer came.
 */
function startPublishing(page, { tag, subject, n, window, ids }) {
  return page.evaluate(
    ({ tag, subject, n, window, ids }) => {
      globalThis.done ??= {};
      globalThis.runs ??= {};
      done[tag] = 0;
      const js = nc.jetstream();
      const out = [];
      let next = 0;
      const worker = async () => {
        while (next < n) {
          const i = next++;
          try {
            const ack = await js.publish(subject, `${tag}-${i}`, ids ? { msgID: `${tag}-${i}` } : {});
            out.push({ i, seq: ack.seq, duplicate: ack.duplicate, role: nc.role });
          } catch (e) {
            out.push({ i, error: e.name, message: e.message, role: nc.role });
          }
          done[tag]++;
        }
      };
      runs[tag] = Promise.all(Array.from({ length: window }, worker)).then(() => out);
    },
    { tag, subject, n, window, ids },
  );
}

test('the writer page dies while a follower publishes: it takes over, nothing lost or duplicated', async () => {
  const ctx = await browser.newContext();
  try {
    const a = await openPage(ctx, 'takeover');
    const b = await openPage(ctx, 'takeover');
    assert.deepEqual([a.role, b.role], ['writer', 'follower']);
    await a.page.evaluate(async () => {
      await (await nc.jetstreamManager()).streams.add({ name: 'S', subjects: ['s.>'] });
    });

    // Enough that the writer is killed mid-run however fast publishing gets (1,000 once finished
    // between the wait and the kill).
    const N = 10_000;
    // With msgIDs (retried after the writer vanishes, deduplicated by the new writer) and
    // without (each either acked or failed with WriterLostError: its outcome is unknown).
    await startPublishing(b.page, { tag: 'id', subject: 's.id', n: N, window: 20, ids: true });
    await startPublishing(b.page, { tag: 'plain', subject: 's.plain', n: N, window: 20, ids: false });
    await waitFor(b.page, () => done.id >= 100 && done.plain >= 100);
    await a.page.close(); // no close(), no unload handlers: as if the tab were killed

    const [withIds, plain] = await within(
      60_000,
      b.page.evaluate(() => Promise.all([runs.id, runs.plain])),
      'publishing through the takeover',
    );
    assert.equal(await b.page.evaluate(() => nc.role), 'writer');
    for (const run of [withIds, plain]) {
      assert.ok(run.some((r) => r.role === 'follower') && run.some((r) => r.role === 'writer'), 'the writer died mid-run');
    }

    assert.equal(withIds.length, N);
    assert.deepEqual(withIds.filter((r) => r.error), [], 'every publish with a msgID is acked');
    const lost = plain.filter((r) => r.error);
    assert.ok(lost.every((r) => r.error === 'WriterLostError'), JSON.stringify(lost.slice(0, 3)));
    const acked = [...withIds, ...plain].filter((r) => !r.error);
    const ackedSeqs = acked.map((r) => r.seq);
    assert.equal(new Set(ackedSeqs).size, ackedSeqs.length, 'no sequence acked twice');

    // A third page (a follower of the new writer) sees one gap-free sequence holding every acked
    // message once, each msgID once, and at most the unknown-outcome plain ones besides.
    const c = await openPage(ctx, 'takeover');
    assert.equal(c.role, 'follower');
    const { state, msgs } = await readAll(c.page, 'S');
    assert.equal(state.first_seq, 1);
    assert.equal(state.messages, state.last_seq, 'no gap');
    assert.deepEqual(
      msgs.map((m) => m.seq),
      range(state.last_seq),
    );
    const bySeq = new Map(msgs.map((m) => [m.seq, m]));
    for (const r of withIds) assert.equal(bySeq.get(r.seq).data, `id-${r.i}`);
    for (const r of plain.filter((r) => !r.error)) assert.equal(bySeq.get(r.seq).data, `plain-${r.i}`);
    const ids = msgs.filter((m) => m.msgId).map((m) => m.msgId);
    assert.equal(ids.length, N);
    assert.equal(new Set(ids).size, N, 'each msgID stored once');
    const plainStored = msgs.filter((m) => m.subject === 's.plain').map((m) => m.data);
    assert.equal(new Set(plainStored).size, plainStored.length, 'no plain publish stored twice');
    assert.ok(plainStored.length >= N - lost.length && plainStored.length <= N);
    const dups = withIds.filter((r) => r.duplicate).length;
    console.log(`# takeover: ${lost.length} plain publishes lost their answer, ${dups} msgID retries were duplicates`);

    // The new writer keeps going with the next sequence.
    const next = await b.page.evaluate(() => nc.jetstream().publish('s.after', 'x'));
    assert.equal(next.seq, state.last_seq + 1);
  } finally {
    await ctx.close();
  }
});

test('the writer commits but dies before its PubAcks arrive: msgID retries are duplicates', async () => {
  const ctx = await browser.newContext();
  try {
    const a = await openPage(ctx, 'unanswered');
    const b = await openPage(ctx, 'unanswered');
    assert.deepEqual([a.role, b.role], ['writer', 'follower']);
    await a.page.evaluate(async () => {
      await (await nc.jetstreamManager()).streams.add({ name: 'S', subjects: ['s.>'] });
    });
    const N = 200;
    const W = 10;
    // After its first 100 answers to followers the writer still commits what it gets, but its
    // answers never leave the page.
    await a.page.evaluate(() => {
      const post = BroadcastChannel.prototype.postMessage;
      let answers = 0;
      BroadcastChannel.prototype.postMessage = function (msg) {
        if (msg?.t === 'out' && answers >= 100) return;
        if (msg?.t === 'out') answers += msg.list.length;
        post.call(this, msg);
      };
    });
    await startPublishing(b.page, { tag: 'id', subject: 's.id', n: N, window: W, ids: true });
    await startPublishing(b.page, { tag: 'plain', subject: 's.plain', n: N, window: W, ids: false });
    // The follower stalls with its last 2W publishes unanswered; the writer has committed them.
    const answered = await b.page.evaluate(async () => {
      let last = -1;
      for (let i = 0; i < 100 && done.id + done.plain !== last; i++) {
        last = done.id + done.plain;
        await new Promise((r) => setTimeout(r, 200));
      }
      return last;
    });
    assert.ok(answered >= 100 && answered < 2 * N - 2 * W, `answered ${answered}`);
    await waitFor(
      a.page,
      async (want) => (await (await nc.jetstreamManager()).streams.info('S')).state.last_seq === want,
      answered + 2 * W,
    );
    await a.page.close();

    const [withIds, plain] = await within(60_000, b.page.evaluate(() => Promise.all([runs.id, runs.plain])), 'publishing');
    assert.deepEqual(withIds.filter((r) => r.error), []);
    const dups = withIds.filter((r) => r.duplicate);
    assert.equal(dups.length, W, 'the publishes in flight had committed: their retries are duplicates');
    const lost = plain.filter((r) => r.error);
    assert.equal(lost.length, W);
    assert.ok(lost.every((r) => r.error === 'WriterLostError'));

    const { state, msgs } = await readAll(b.page, 'S');
    assert.equal(state.messages, 2 * N, 'every publish stored once, the unanswered plain ones included');
    assert.equal(state.last_seq, 2 * N);
    const bySeq = new Map(msgs.map((m) => [m.seq, m]));
    for (const r of withIds) assert.equal(bySeq.get(r.seq).msgId, `id-${r.i}`, 'a duplicate PubAck carries the original seq');
    assert.equal(new Set(msgs.map((m) => m.data)).size, 2 * N);
  } finally {
    await ctx.close();
  }
});

test('the writer closes cleanly while a follower publishes: every publish lands exactly once', async () => {
  const ctx = await browser.newContext();
  try {
    const a = await openPage(ctx, 'handover');
    const b = await openPage(ctx, 'handover');
    const c = await openPage(ctx, 'handover');
    assert.deepEqual([a.role, b.role, c.role], ['writer', 'follower', 'follower']);
    await a.page.evaluate(async () => {
      await (await nc.jetstreamManager()).streams.add({ name: 'S', subjects: ['s.>'] });
    });

    const N = 5_000; // enough that the handover falls mid-run
    await startPublishing(b.page, { tag: 'b', subject: 's.b', n: N, window: 20, ids: false });
    await startPublishing(c.page, { tag: 'c', subject: 's.c', n: N, window: 20, ids: false });
    await waitFor(b.page, () => done.b >= 80);
    await a.page.evaluate(() => nc.close());

    const results = await within(
      60_000,
      Promise.all([b.page.evaluate(() => runs.b), c.page.evaluate(() => runs.c)]),
      'publishing through the handover',
    );
    const roles = await Promise.all([b.page.evaluate(() => nc.role), c.page.evaluate(() => nc.role)]);
    assert.deepEqual(roles.sort(), ['follower', 'writer']);
    const all = results.flat();
    assert.ok(all.some((r) => r.role === 'writer'), 'the handover happened mid-run');
    assert.deepEqual(all.filter((r) => r.error), [], 'a clean handover fails nothing');
    assert.deepEqual(
      all.map((r) => r.seq).sort((x, y) => x - y),
      range(2 * N),
    );
    const { state } = await readAll(c.page, 'S');
    assert.equal(state.messages, 2 * N);
    assert.equal(state.last_seq, 2 * N);
  } finally {
    await ctx.close();
  }
});

test('a follower request fails with TimeoutError when no writer answers', async () => {
  const ctx = await browser.newContext();
  try {
    // A page holds the database's lock and never serves: a writer that does not answer.
    const holder = await ctx.newPage();
    await holder.goto(`${server.url}/tests/browser/blank.html`);
    await holder.evaluate(() => {
      globalThis.held = new Promise((resolve) => (globalThis.letGo = resolve));
      return new Promise((granted) => navigator.locks.request('contrail:silent', () => (granted(), held)));
    });

    const b = await openPage(ctx, 'silent', { timeout: 400 });
    assert.equal(b.role, 'follower');
    const failures = await within(
      10_000,
      b.page.evaluate(async () => {
        const jsm = await nc.jetstreamManager();
        const attempt = async (f) => {
          const t0 = performance.now();
          try {
            await f();
            return { ok: true };
          } catch (e) {
            return { name: e.name, contrail: e instanceof contrail.ContrailError, ms: performance.now() - t0, message: e.message };
          }
        };
        return Promise.all([
          attempt(() => jsm.streams.info('S')),
          attempt(() => nc.jetstream().publish('s.1', 'x')),
          attempt(() => contrail.open({ name: 'silent', shared: false })),
        ]);
      }),
      'requests to a silent writer',
    );
    const [info, publish, unshared] = failures;
    for (const f of [info, publish]) {
      assert.equal(f.name, 'TimeoutError');
      assert.ok(f.contrail);
      assert.ok(f.ms >= 350 && f.ms < 3000, `failed after ${f.ms} ms`);
    }
    assert.match(unshared.message, /open in another tab/);

    // Once the lock is free the follower takes over and its requests work.
    await holder.evaluate(() => letGo());
    await waitFor(b.page, () => nc.role === 'writer');
    const seq = await b.page.evaluate(async () => {
      await (await nc.jetstreamManager()).streams.add({ name: 'S', subjects: ['s.>'] });
      return (await nc.jetstream().publish('s.1', 'x')).seq;
    });
    assert.equal(seq, 1);
  } finally {
    await ctx.close();
  }
});

test("a follower's push interest reaches the writer's engine and goes when the follower's page does", async () => {
  const ctx = await browser.newContext();
  try {
    const a = await openPage(ctx, 'push');
    const b = await openPage(ctx, 'push');
    assert.deepEqual([a.role, b.role], ['writer', 'follower']);
    await a.page.evaluate(async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
      await jsm.consumers.add('S', { durable_name: 'P', deliver_subject: 'push.b', ack_policy: 'none' });
    });
    const bound = () => a.page.evaluate(async () => (await (await nc.jetstreamManager()).consumers.info('S', 'P')).push_bound === true);
    assert.equal(await bound(), false);

    // The package has no push-consumer API yet: the test subscribes through its plumbing.
    await b.page.evaluate(() => {
      globalThis.pushed = [];
      nc._sub('push.b', (m) => m && pushed.push(new TextDecoder().decode(m.data)));
      nc._interest('push.b', true);
    });
    await waitFor(a.page, async () => (await (await nc.jetstreamManager()).consumers.info('S', 'P')).push_bound === true);
    await a.page.evaluate(async () => {
      const js = nc.jetstream();
      for (let i = 0; i < 5; i++) await js.publish('s.x', `p${i}`);
    });
    await waitFor(b.page, () => pushed.length === 5);
    assert.deepEqual(await b.page.evaluate(() => pushed), ['p0', 'p1', 'p2', 'p3', 'p4']);

    await b.page.close(); // its presence lock goes with it
    await waitFor(a.page, async () => (await (await nc.jetstreamManager()).consumers.info('S', 'P')).push_bound !== true);
  } finally {
    await ctx.close();
  }
});

test('a worker and a second instance in the same page share the database too', async () => {
  const ctx = await browser.newContext();
  try {
    const a = await openPage(ctx, 'mixed');
    const result = await within(
      30_000,
      a.page.evaluate(async (origin) => {
        const jsm = await nc.jetstreamManager();
        await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
        // A module worker of the same origin: a follower that publishes 50 while the page does.
        const code = `
          const { open } = await import('${origin}/pkg/index.js');
          const nc = await open({ name: 'mixed' });
          const js = nc.jetstream();
          const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => js.publish('s.w', 'w' + i)));
          postMessage({ role: nc.role, seqs: acks.map((a) => a.seq) });
          await nc.close();`;
        const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { type: 'module' });
        const fromWorker = new Promise((resolve, reject) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.onerror = (e) => reject(new Error(e.message));
        });
        const js = nc.jetstream();
        const mine = await Promise.all(Array.from({ length: 50 }, (_, i) => js.publish('s.p', 'p' + i)));
        const w = await fromWorker;
        worker.terminate();

        // A second instance in this page follows the first, and takes over when it closes.
        const second = await contrail.open({ name: 'mixed' });
        const roleBefore = second.role;
        const viaSecond = (await second.jetstream().publish('s.x', 'x')).seq;
        await nc.close();
        const after = (await second.jetstream().publish('s.x', 'y')).seq;
        const roleAfter = second.role;
        const state = (await (await second.jetstreamManager()).streams.info('S')).state;
        await second.close();
        return { worker: w, mine: mine.map((a) => a.seq), roleBefore, viaSecond, after, roleAfter, state };
      }, server.url),
      'worker and second instance',
    );
    assert.equal(result.worker.role, 'follower');
    assert.deepEqual(
      [...result.mine, ...result.worker.seqs].sort((x, y) => x - y),
      range(100),
    );
    assert.deepEqual([result.roleBefore, result.viaSecond, result.after, result.roleAfter], ['follower', 101, 102, 'writer']);
    assert.equal(result.state.messages, 102);
    assert.equal(result.state.last_seq, 102);
  } finally {
    await ctx.close();
  }
});
