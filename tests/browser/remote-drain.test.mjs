// drain() of the package's remote connection and of its subscriptions (pkg/remote.js), as
// nats.js v3 drains, in headless Chromium against Contrail, Debian's nats-server 2.9 and
// nats-server 2.14, each with WebSocket on:
// - messages in flight when the connection drains all reach the iterator and the callback, the
//   iterator ends, closed() resolves to undefined and a `close` status is the last;
// - a subscription drained alone gets everything published before, ends, and the connection
//   goes on (a later subscription on the same subject gets what follows, the drained one not);
// - publishes made just before drain() all reach a nats.js client in Node, in order;
// - `await using` drains a subscription and the connection at the end of the scope (nothing in
//   flight lost) and closes a database; disposing again, or while draining, is no error;
// - while draining, subscribe and request throw DrainingConnectionError at once, publish once
//   the subscriptions ended; drain() again rejects with it, and after close with
//   ClosedConnectionError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT, sharedBrowser } from './harness.mjs';
import { serverTargets, startServer } from './servers.mjs';

const TYPES = join(ROOT, 'tests/types');
const haveNatsJs = existsSync(join(TYPES, 'node_modules/@nats-io/transport-node'));
if (!haveNatsJs) console.error('\n!!! SKIPPED: the publish-then-drain tests need nats.js (npm ci in tests/types)\n');

/** Messages each case publishes: enough that some are still on the way when drain() starts. */
const N = 2000;

const shared = sharedBrowser();

async function newPage() {
  const page = await shared.page();
  await page.evaluate(() => {
    /** Every status type of `nc` until its status iterator ends (at close). */
    window.statuses = (nc) =>
      (async () => {
        const seen = [];
        for await (const s of nc.status()) seen.push(s.type);
        return seen;
      })();
  });
  return page;
}

/** nats.js v3 on `server`'s client port. */
async function natsjs(server) {
  const require = createRequire(join(TYPES, 'package.json'));
  const { connect } = require('@nats-io/transport-node');
  return connect({ servers: `127.0.0.1:${server.port}` });
}

const range = (n) => Array.from({ length: n }, (_, i) => i);

/**
 * The `await using` case's page code (a string: see there): a connection and a subscription
 * disposed at the end of a scope with messages in flight, disposing again and while draining, and
 * a database closed by its scope.
 */
const SCOPED = `
  const { connect, open } = await import('/pkg/index.js');
  const b = await within(connect({ servers: url }), 10_000, 'connect b');
  let outer, inner, read;
  {
    await using nc = await within(connect({ servers: url }), 10_000, 'connect');
    await using sub = nc.subscribe('scoped.>');
    await nc.flush();
    for (let i = 0; i < n; i++) b.publish('scoped.' + i, String(i));
    await within(b.flush(), 10_000, 'b flush');
    read = (async () => {
      const got = [];
      for await (const m of sub) got.push(Number(m.string()));
      return got;
    })();
    [outer, inner] = [nc, sub];
  }
  // Both were disposed (the subscription first): drained, so nothing in flight was lost.
  const got = await within(read, 20_000, 'the iterator to end');
  const ended = { sub: inner.isClosed(), nc: outer.isClosed() };
  // Disposing again, after close, is not an error.
  const again = await Promise.all([inner[Symbol.asyncDispose](), outer[Symbol.asyncDispose]()]).then(() => 'ok', (e) => e.name);
  // Disposing while a drain is under way waits for it.
  const c = await within(connect({ servers: url }), 10_000, 'connect c');
  const draining = c.drain();
  await within(c[Symbol.asyncDispose](), 10_000, 'dispose while draining');
  const drainingClosed = c.isClosed();
  await draining;
  let db;
  {
    await using local = await open({ name: 'scoped-' + Math.random() });
    await local.jetstreamManager().then((jsm) => jsm.streams.add({ name: 'S', subjects: ['s'] }));
    db = local;
  }
  await b.close();
  return { count: got.length, inOrder: got.every((v, i) => v === i), ended, again, drainingClosed, dbClosed: db.closed };
`;

for (const { label, kind, program } of serverTargets('the drain tests')) {
  test(`${label}: nc.drain(): messages in flight reach the iterator and the callback, then they end and the connection closes`, { timeout: 60_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    try {
      const out = await page.evaluate(async ({ url, n }) => {
        const { connect } = await import('/pkg/index.js');
        const a = await within(connect({ servers: url, name: 'drained' }), 10_000, 'connect a');
        const b = await within(connect({ servers: url, name: 'publisher' }), 10_000, 'connect b');
        const seen = statuses(a);
        const sub = a.subscribe('drain.it.>');
        const byCallback = [];
        const cbSub = a.subscribe('drain.cb.>', { callback: (err, m) => byCallback.push(Number(m.string())) });
        await a.flush();
        for (let i = 0; i < n; i++) {
          b.publish(`drain.it.${i}`, String(i));
          b.publish(`drain.cb.${i}`, String(i));
        }
        // The server has them all; `a` may not yet (they are in flight to it).
        await within(b.flush(), 10_000, 'b flush');
        const atDrain = sub.getReceived() + byCallback.length;
        const drained = a.drain();
        const draining = [a.isDraining(), sub.isDraining(), cbSub.isDraining()];
        const read = (async () => {
          const got = [];
          for await (const m of sub) got.push(Number(m.string()));
          return got;
        })();
        const got = await within(read, 20_000, 'the iterator to end');
        await within(drained, 20_000, 'drain');
        const closedWith = await a.closed();
        const result = {
          atDrain,
          draining,
          got,
          byCallback,
          subsClosed: [sub.isClosed(), cbSub.isClosed()],
          closedUndefined: closedWith === undefined,
          isClosed: a.isClosed(),
          statuses: await within(seen, 5_000, 'the status iterator to end'),
        };
        await b.close();
        return result;
      }, { url: server.wsUrl, n: N });
      assert.deepEqual(out.draining, [true, true, true]);
      assert.equal(out.got.length, N, `iterator: ${out.got.length} of ${N} (${out.atDrain} of ${2 * N} had arrived when drain() started)`);
      assert.deepEqual(out.got, range(N), 'in order');
      assert.equal(out.byCallback.length, N, `callback: ${out.byCallback.length} of ${N}`);
      assert.deepEqual(out.byCallback, range(N));
      assert.deepEqual(out.subsClosed, [true, true]);
      assert.equal(out.closedUndefined, true, 'closed() resolves to undefined');
      assert.equal(out.isClosed, true);
      assert.equal(out.statuses.at(-1), 'close', `statuses: ${out.statuses}`);
    } finally {
      await page.close();
      await server.stop();
    }
  });

  test(`${label}: sub.drain(): everything published before reaches it, it ends, the connection goes on`, { timeout: 60_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    try {
      const out = await page.evaluate(async ({ url, n }) => {
        const { connect } = await import('/pkg/index.js');
        const a = await within(connect({ servers: url }), 10_000, 'connect a');
        const b = await within(connect({ servers: url }), 10_000, 'connect b');
        const sub = a.subscribe('drain.one.>');
        await a.flush();
        for (let i = 0; i < n; i++) b.publish(`drain.one.${i}`, String(i));
        await within(b.flush(), 10_000, 'b flush');
        const drained = sub.drain();
        const again = sub.drain() === drained;
        const read = (async () => {
          const got = [];
          for await (const m of sub) got.push(Number(m.string()));
          return got;
        })();
        await within(drained, 20_000, 'sub drain');
        const got = await within(read, 20_000, 'the iterator to end');
        const afterDrain = { subClosed: sub.isClosed(), connClosed: a.isClosed(), connDraining: a.isDraining() };

        // The connection goes on: a new subscription on the same subject gets what follows,
        // the drained one nothing more.
        const witness = a.subscribe('drain.one.>', { max: 3 });
        await a.flush();
        for (let i = 0; i < 3; i++) b.publish(`drain.one.later.${i}`, 'later');
        const later = [];
        for await (const m of witness) later.push(m.subject);
        await within(a.flush(), 10_000, 'a flush');
        const drainedReceived = sub.getReceived();

        let drainEnded;
        await sub.drain().catch((e) => (drainEnded = e.name));
        await a.close();
        let drainClosed;
        await sub.drain().catch((e) => (drainClosed = e.name));
        await b.close();
        return { again, got, afterDrain, later, drainedReceived, drainEnded, drainClosed };
      }, { url: server.wsUrl, n: N });
      assert.equal(out.again, true, 'a second drain() while draining is the same promise');
      assert.equal(out.got.length, N, `${out.got.length} of ${N}`);
      assert.deepEqual(out.got, range(N));
      assert.deepEqual(out.afterDrain, { subClosed: true, connClosed: false, connDraining: false });
      assert.deepEqual(out.later, ['drain.one.later.0', 'drain.one.later.1', 'drain.one.later.2']);
      assert.equal(out.drainedReceived, N, 'the drained subscription got nothing after it ended');
      assert.equal(out.drainEnded, 'InvalidOperationError');
      assert.equal(out.drainClosed, 'ClosedConnectionError');
    } finally {
      await page.close();
      await server.stop();
    }
  });

  test(`${label}: publishes made just before drain() all reach a nats.js client, in order`, { skip: !haveNatsJs && 'no nats.js', timeout: 60_000 }, async () => {
    const server = await startServer(kind, { program });
    const nc = await natsjs(server);
    const page = await newPage();
    try {
      const sub = nc.subscribe('drain.pub.>', { max: N });
      await nc.flush();
      const received = (async () => {
        const got = [];
        for await (const m of sub) got.push(Number(m.string()));
        return got;
      })();
      const out = await page.evaluate(async ({ url, n }) => {
        const { connect } = await import('/pkg/index.js');
        const a = await within(connect({ servers: url }), 10_000, 'connect');
        for (let i = 0; i < n; i++) a.publish(`drain.pub.${i}`, String(i));
        await within(a.drain(), 20_000, 'drain');
        return { closedUndefined: (await a.closed()) === undefined, isClosed: a.isClosed() };
      }, { url: server.wsUrl, n: N });
      let timer;
      const got = await Promise.race([
        received,
        new Promise((_, fail) => (timer = setTimeout(() => fail(new Error(`nats.js got ${sub.getReceived()} of ${N} within 20 s`)), 20_000))),
      ]).finally(() => clearTimeout(timer));
      assert.equal(got.length, N);
      assert.deepEqual(got, range(N), 'every publish, in order');
      assert.deepEqual(out, { closedUndefined: true, isClosed: true });
    } finally {
      await page.close();
      await nc.close();
      await server.stop();
    }
  });

  test(`${label}: while draining, subscribe/request throw DrainingConnectionError, publish once the subscriptions ended; drain after close rejects`, { timeout: 60_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    try {
      const out = await page.evaluate(async ({ url }) => {
        const { connect, DrainingConnectionError, errors } = await import('/pkg/index.js');
        const a = await within(connect({ servers: url }), 10_000, 'connect');
        const sub = a.subscribe('drain.err.>');
        await a.flush();
        const drained = a.drain();
        const how = (f) => {
          try {
            f();
            return 'ok';
          } catch (e) {
            return `${e.name}:${e instanceof DrainingConnectionError && e instanceof errors.DrainingConnectionError}`;
          }
        };
        const subscribe = how(() => a.subscribe('drain.other'));
        const request = await a.request('drain.req', 'x').then(() => 'ok', (e) => `${e.name}:${e instanceof DrainingConnectionError}`);
        const second = await a.drain().then(() => 'ok', (e) => `${e.name}:${e instanceof DrainingConnectionError}`);
        // nats.js lets a handler answer what it drains: publish is refused only after.
        const publishWhileSubsDrain = how(() => a.publish('drain.err.x', 'y'));
        await within(sub.closed, 10_000, 'the subscription to end');
        const publishAfterSubsEnded = how(() => a.publish('drain.err.x', 'y'));
        await within(drained, 10_000, 'drain');
        const afterClose = {
          drain: await a.drain().then(() => 'ok', (e) => e.name),
          publish: how(() => a.publish('drain.err.x', 'y')),
          subscribe: how(() => a.subscribe('drain.err.x')),
        };
        const c = await within(connect({ servers: url }), 10_000, 'connect c');
        await c.close();
        const drainClosed = await c.drain().then(() => 'ok', (e) => e.name);
        return { subscribe, request, second, publishWhileSubsDrain, publishAfterSubsEnded, afterClose, drainClosed, message: String(new DrainingConnectionError().message) };
      }, { url: server.wsUrl });
      assert.deepEqual(out, {
        subscribe: 'DrainingConnectionError:true',
        request: 'DrainingConnectionError:true',
        second: 'DrainingConnectionError:true',
        publishWhileSubsDrain: 'ok',
        publishAfterSubsEnded: 'DrainingConnectionError:true',
        afterClose: {
          drain: 'ClosedConnectionError',
          publish: 'ClosedConnectionError:false',
          subscribe: 'ClosedConnectionError:false',
        },
        drainClosed: 'ClosedConnectionError',
        message: 'connection draining',
      });
    } finally {
      await page.close();
      await server.stop();
    }
  });
  test(`${label}: await using drains a subscription and the connection when the scope ends, and closes a database`, { timeout: 60_000 }, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    try {
      // `await using` is syntax Node 20 (running this file) cannot parse: the page compiles it.
      const out = await page.evaluate(
        ({ url, n, body }) => new (Object.getPrototypeOf(async () => {}).constructor)('url', 'n', body)(url, n),
        { url: server.wsUrl, n: N, body: SCOPED },
      );
      assert.deepEqual(out, {
        count: N,
        inOrder: true,
        ended: { sub: true, nc: true },
        again: 'ok',
        drainingClosed: true,
        dbClosed: true,
      });
    } finally {
      await page.close();
      await server.stop();
    }
  });
}
