// The package's remote connection (pkg/remote.js: the core's NATS link over the page's WebSocket)
// in headless Chromium, against Contrail and Debian's nats-server with WebSocket on: no auth,
// token and user/password auth (a wrong password fails fast and stops), pub/sub with headers,
// request/reply between two page connections, no responders, a cut and a server restart with
// subscriptions restored, close(), and coalesced writes (a publish right before flush() or close()
// reaches the server, in order). Cuts and restarts go through the shared loopback TCP proxy
// (proxy.mjs: it listens on a port the OS gave it, and is retargeted at the new server after a
// restart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedBrowser } from './harness.mjs';
import { startProxy } from './proxy.mjs';
import { serverKinds, serverTargets, startServer } from './servers.mjs';

const shared = sharedBrowser();

async function newPage() {
  const page = await shared.page();
  // A status recorder per connection (the bounded waits come with blankPage).
  await page.evaluate(() => {
    window.record = (nc) => {
      const seen = [];
      const waiters = [];
      (async () => {
        for await (const s of nc.status()) {
          seen.push(s.type);
          for (const w of waiters.splice(0)) w();
        }
      })();
      nc.seen = seen;
      nc.waitFor = async (type, ms) => {
        const deadline = Date.now() + ms;
        while (!seen.includes(type)) {
          if (Date.now() > deadline) throw new Error(`no ${type} status within ${ms} ms: ${seen}`);
          await within(new Promise((ok) => waiters.push(ok)), Math.max(1, deadline - Date.now()), type).catch(() => {});
        }
        seen.splice(0, seen.indexOf(type) + 1);
      };
      return nc;
    };
  });
  return page;
}

for (const kind of serverKinds()) {
  test(`${kind}: no auth: pub/sub with headers, request/reply between two connections, no responders, close`, async () => {
    const server = await startServer(kind);
    const page = await newPage();
    try {
      const out = await page.evaluate(async (url) => {
        const { connect, headers, NoRespondersError } = await import('/pkg/index.js');
        const a = await within(connect({ servers: url, name: 'a' }), 10_000, 'connect a');
        const b = await within(connect({ servers: [url], name: 'b' }), 10_000, 'connect b');
        const result = { server: a.getServer(), headersInInfo: a.info.headers };

        // Pub/sub with headers: b publishes, a's iterator gets it.
        const sub = a.subscribe('orders.>');
        await a.flush();
        const h = headers();
        h.set('Order-Id', '42');
        h.append('Tag', 'x');
        h.append('Tag', 'y');
        b.publish('orders.new', 'hello', { headers: h, reply: 'reply.here' });
        b.publish('orders.bytes', new Uint8Array([0, 1, 2, 255]));
        const got = [];
        for await (const m of sub) {
          got.push({
            subject: m.subject,
            reply: m.reply,
            data: [...m.data],
            orderId: m.headers?.get('Order-Id'),
            tags: m.headers?.values('Tag'),
          });
          if (got.length === 2) break;
        }
        result.got = got;
        result.subClosedAfterBreak = sub.isClosed();

        // Request/reply: a responds from a callback subscription, b asks.
        a.subscribe('svc.echo', { queue: 'workers', callback: (err, m) => m.respond(`echo:${m.string()}`, { headers: m.headers }) });
        await a.flush();
        const rh = headers();
        rh.set('Trace', 't1');
        const reply = await b.request('svc.echo', 'ping', { timeout: 5000, headers: rh });
        result.reply = reply.string();
        result.replyTrace = reply.headers?.get('Trace');

        // No responders.
        try {
          await b.request('nobody.home', 'x', { timeout: 5000 });
          result.noResponders = 'resolved';
        } catch (e) {
          result.noResponders = e instanceof NoRespondersError ? e.name : `${e.name}: ${e.message}`;
        }

        // max: the subscription ends by itself after that many messages.
        const two = a.subscribe('count', { max: 2 });
        await a.flush();
        for (let i = 0; i < 5; i++) b.publish('count', String(i));
        const counted = [];
        for await (const m of two) counted.push(m.string());
        result.counted = counted;

        // A subscription iterator holds at most maxPending unread messages; more are dropped and
        // reported, not buffered without end.
        const statuses = a.status();
        const slow = a.subscribe('slow', { maxPending: 10 });
        await a.flush();
        for (let i = 0; i < 50; i++) b.publish('slow', String(i));
        await b.flush();
        await a.flush(); // everything b published before reached a before this
        result.slowPending = slow.getPending();
        // Every drop was reported (read from the status iterator, which holds them).
        result.slowStatus = 0;
        while (result.slowStatus < 40) {
          const { value } = await within(statuses.next(), 5000, 'slowConsumer status');
          if (value.type !== 'slowConsumer') break;
          result.slowStatus++;
        }
        await statuses.return();
        const kept = [];
        for await (const m of slow) {
          kept.push(m.string());
          if (kept.length === 10) break;
        }
        result.slowKept = kept;

        // close() resolves closed(); calls after close fail clearly.
        const closed = a.closed();
        await within(a.close(), 5000, 'close');
        result.closedWith = await within(closed, 5000, 'closed()');
        try {
          a.publish('x', 'y');
        } catch (e) {
          result.afterClose = e.name;
        }
        await b.close();
        return result;
      }, server.wsUrl);
      assert.equal(out.server, server.wsUrl);
      assert.equal(out.headersInInfo, true);
      assert.deepEqual(out.got, [
        { subject: 'orders.new', reply: 'reply.here', data: [...Buffer.from('hello')], orderId: '42', tags: ['x', 'y'] },
        { subject: 'orders.bytes', reply: '', data: [0, 1, 2, 255], orderId: undefined, tags: undefined },
      ]);
      assert.equal(out.subClosedAfterBreak, true);
      assert.equal(out.reply, 'echo:ping');
      assert.equal(out.replyTrace, 't1');
      assert.equal(out.noResponders, 'NoRespondersError');
      assert.deepEqual(out.counted, ['0', '1']);
      assert.equal(out.slowPending, 10);
      assert.equal(out.slowStatus, 40);
      assert.deepEqual(out.slowKept, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      assert.equal(out.closedWith, undefined);
      assert.equal(out.afterClose, 'ClosedConnectionError');
    } finally {
      await page.close();
      await server.stop();
    }
  });

  test(`${kind}: token and user/password auth; wrong credentials fail fast without retrying`, async () => {
    const tokenServer = await startServer(kind, { config: 'authorization { token: "s3cret" }' });
    const userServer = await startServer(kind, { config: 'authorization { user: alice, password: "wonder land" }' });
    const proxy = await startProxy(userServer.wsPort);
    const page = await newPage();
    try {
      const out = await page.evaluate(async ({ tokenUrl, userUrl, proxyUrl }) => {
        const { connect } = await import('/pkg/index.js');
        const result = {};
        const roundTrip = async (nc) => {
          const sub = nc.subscribe('auth.check', { max: 1 });
          await nc.flush();
          nc.publish('auth.check', 'ok');
          for await (const m of sub) return m.string();
        };
        const attempt = async (opts) => {
          try {
            const nc = await within(connect(opts), 10_000, 'connect');
            const echoed = await roundTrip(nc);
            await nc.close();
            return `connected:${echoed}`;
          } catch (e) {
            return `${e.name}: ${e.message}`;
          }
        };
        result.token = await attempt({ servers: tokenUrl, token: 's3cret' });
        result.noToken = await attempt({ servers: tokenUrl });
        result.badToken = await attempt({ servers: tokenUrl, token: 'nope' });
        result.user = await attempt({ servers: userUrl, user: 'alice', pass: 'wonder land' });
        // Through the proxy, so the test can count attempts; a short backoff would retry soon.
        result.badPass = await attempt({
          servers: proxyUrl,
          user: 'alice',
          pass: 'wrong',
          reconnectTimeWait: 50,
          reconnectTimeWaitMax: 100,
          reconnectJitter: 0,
          waitOnFirstConnect: false,
        });
        return result;
      }, { tokenUrl: tokenServer.wsUrl, userUrl: userServer.wsUrl, proxyUrl: proxy.url });
      assert.equal(out.token, 'connected:ok');
      assert.equal(out.user, 'connected:ok');
      for (const refused of [out.noToken, out.badToken, out.badPass]) {
        assert.match(refused, /^AuthorizationError: .*authorization violation/i);
      }
      // Well past the 100 ms backoff: a retry would have reached the proxy by now.
      await new Promise((ok) => setTimeout(ok, 1000));
      assert.equal(proxy.accepted(), 1, 'a refused password is not retried');
    } finally {
      await page.close();
      await proxy.close();
      await tokenServer.stop();
      await userServer.stop();
    }
  });

  test(`${kind}: after a cut and after a server restart, subscriptions come back`, async () => {
    let server = await startServer(kind);
    const proxy = await startProxy(server.wsPort);
    const page = await newPage();
    try {
      await page.evaluate(async (url) => {
        const { connect } = await import('/pkg/index.js');
        const opts = { servers: url, reconnectTimeWait: 50, reconnectTimeWaitMax: 200, maxReconnectAttempts: -1 };
        window.sub = record(await within(connect({ ...opts, name: 'sub' }), 10_000, 'connect sub'));
        window.pub = record(await within(connect({ ...opts, name: 'pub' }), 10_000, 'connect pub'));
        window.received = [];
        window.sub.subscribe('feed.*', { callback: (_, m) => received.push(m.string()) });
        window.sub.subscribe('svc.time', { callback: (_, m) => m.respond('now') });
        await window.sub.flush();
      }, proxy.url);

      /** Both connections reconnected (after `cut`), then a publish and a request get through. */
      const roundTrip = (label) =>
        page.evaluate(async (label) => {
          await pub.waitFor('disconnect', 10_000);
          await sub.waitFor('disconnect', 10_000);
          await pub.waitFor('reconnect', 20_000);
          await sub.waitFor('reconnect', 20_000);
          await sub.flush(); // its subscriptions are at the server again
          pub.publish(`feed.${label}`, label);
          const reply = await pub.request('svc.time', '', { timeout: 5000 });
          await within(
            (async () => {
              while (!received.includes(label)) await new Promise((ok) => setTimeout(ok, 10));
            })(),
            5000,
            `message ${label}`,
          );
          return reply.string();
        }, label);

      proxy.cut();
      assert.equal(await roundTrip('after-cut'), 'now');

      // A restart: a new server process (ports of its own), the proxy pointed at it.
      await server.stop();
      proxy.cut();
      server = await startServer(kind);
      proxy.retarget(server.wsPort);
      assert.equal(await roundTrip('after-restart'), 'now');

      const received = await page.evaluate(() => received);
      assert.deepEqual(received, ['after-cut', 'after-restart']);
      await page.evaluate(async () => {
        await pub.close();
        await sub.close();
      });
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });

  test(`${kind}: credentials refused on reconnect: closed with AuthorizationError, no more retries`, async () => {
    const auth = (pass) => ({ config: `authorization { user: alice, password: ${JSON.stringify(pass)} }` });
    let server = await startServer(kind, auth('first'));
    const proxy = await startProxy(server.wsPort);
    const page = await newPage();
    try {
      await page.evaluate(async (url) => {
        const { connect } = await import('/pkg/index.js');
        window.nc = record(
          await within(
            connect({ servers: url, user: 'alice', pass: 'first', reconnectTimeWait: 50, reconnectTimeWaitMax: 200, reconnectJitter: 10, maxReconnectAttempts: -1 }),
            10_000,
            'connect',
          ),
        );
      }, proxy.url);
      // The password changes while the connection is down.
      await server.stop();
      server = await startServer(kind, auth('second'));
      proxy.retarget(server.wsPort);
      const out = await page.evaluate(async () => {
        const error = await within(nc.closed(), 15_000, 'closed()');
        return { name: error?.name, message: error?.message, seen: nc.seen };
      });
      assert.equal(out.name, 'AuthorizationError');
      assert.match(out.message, /authorization violation/i);
      // Stopped for good: no attempt after the close.
      const attempts = proxy.accepted();
      await new Promise((ok) => setTimeout(ok, 1000));
      assert.equal(proxy.accepted(), attempts, 'no retry after closing');
    } finally {
      await page.close();
      await proxy.close();
      await server.stop();
    }
  });
}

// Against nats-server 2.14 too: the frames coalesced writes make must be read right by each.
for (const { label, kind, program } of serverTargets('the coalesced-write tests')) {
  test(`${label}: coalesced writes: publishes right before flush() and close() reach the server, in order`, async () => {
    const server = await startServer(kind, { program });
    const page = await newPage();
    try {
      const out = await page.evaluate(async (url) => {
        const { connect } = await import('/pkg/index.js');
        const a = await within(connect({ servers: url, name: 'a' }), 10_000, 'connect a');
        const b = await within(connect({ servers: url, name: 'b' }), 10_000, 'connect b');
        const sub = b.subscribe('fin.>');
        await b.flush();
        // Reads `n` messages from b's subscription (bounded), as "subject:payload".
        const take = async (n, what) => {
          const got = [];
          const it = sub[Symbol.asyncIterator]();
          while (got.length < n) {
            const { value, done } = await within(it.next(), 10_000, `${what}: message ${got.length + 1} of ${n}`);
            if (done) break;
            got.push(`${value.subject}:${value.string()}`);
          }
          return got;
        };
        const result = {};
        // flush() right after publishes: it resolves only once the server has them all.
        for (let i = 0; i < 5; i++) a.publish('fin.flush', String(i));
        await within(a.flush(), 5000, 'a.flush');
        result.flushed = await take(5, 'after flush');
        // A burst larger than a frame's threshold (32 KiB) and then close() in the same turn:
        // what was queued leaves before the socket closes, in publish order.
        const pad = 'x'.repeat(1000);
        for (let i = 0; i < 300; i++) a.publish(`fin.burst.${i % 3}`, `${i}:${pad}`);
        a.publish('fin.last', 'last');
        await within(a.close(), 5000, 'close');
        const burst = await take(301, 'after close');
        result.burstCount = burst.length;
        result.burstInOrder = burst.slice(0, 300).every((m, i) => m === `fin.burst.${i % 3}:${i}:${pad}`);
        result.burstLast = burst[300];
        await b.close();
        return result;
      }, server.wsUrl);
      assert.deepEqual(out.flushed, ['fin.flush:0', 'fin.flush:1', 'fin.flush:2', 'fin.flush:3', 'fin.flush:4']);
      assert.equal(out.burstCount, 301);
      assert.equal(out.burstInOrder, true);
      assert.equal(out.burstLast, 'fin.last:last');
    } finally {
      await page.close();
      await server.stop();
    }
  });
}
