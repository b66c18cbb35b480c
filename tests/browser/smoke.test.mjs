// The public API of the built package, imported by a plain <script type="module"> page in headless
// Chromium over IndexedDB: publish, headers, fetch / next / consume, ack / nak / term, errors,
// info(), and what a page reload finds again. Each test runs its steps inside the page and returns
// what it saw; the assertions run here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedBrowser } from './harness.mjs';

const shared = sharedBrowser();

async function newPage() {
  const page = await shared.browser.newPage();
  await page.goto(`${shared.site.url}/tests/browser/blank.html`);
  return page;
}

test('a page imports pkg/ and gets a PubAck from an IndexedDB stream', async () => {
  const page = await newPage();
  const ack = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const nc = await open({ name: 'smoke' });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
    const ack = await nc.jetstream().publish('s.1', 'hello');
    await nc.close();
    return { stream: ack.stream, seq: ack.seq, persistent: nc.persistent };
  });
  assert.deepEqual(ack, { stream: 'S', seq: 1, persistent: true });
  await page.close();
});

test('a reload finds the messages, their headers and the consumer state again', async () => {
  const page = await newPage();
  // Before: 5 messages with headers and msgIDs; a consumer got 3 and acked 2 durably (ackAck).
  // No close(): the reload is what a user does, and only confirmed state must be there.
  await page.evaluate(async () => {
    const { open, headers, nanos } = await import('/pkg/index.js');
    const nc = await open({ name: 'reload' });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
    await jsm.consumers.add('ORDERS', { durable_name: 'W', ack_policy: 'explicit', ack_wait: nanos(60_000) });
    const js = nc.jetstream();
    for (let i = 1; i <= 5; i++) {
      const h = headers();
      h.set('X-Order', `o-${i}`);
      await js.publish(`orders.${i}`, JSON.stringify({ i }), { msgID: `order-${i}`, headers: h });
    }
    const consumer = await js.consumers.get('ORDERS', 'W');
    const got = [];
    for await (const m of await consumer.fetch({ max_messages: 3, expires: 2_000 })) got.push(m);
    await got[0].ackAck();
    await got[1].ackAck();
  });
  await page.reload();
  const after = await page.evaluate(async () => {
    const { open } = await import('/pkg/index.js');
    const nc = await open({ name: 'reload' });
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    const { state } = await jsm.streams.info('ORDERS');
    const m2 = await jsm.streams.getMessage('ORDERS', { seq: 2 });
    const consumer = await js.consumers.get('ORDERS', 'W');
    const info = await consumer.info();
    // The unacked third delivery waits for its ack_wait; the next fetch gets the undelivered ones.
    const next = [];
    for await (const m of await consumer.fetch({ max_messages: 10, expires: 500 })) {
      next.push({ seq: m.seq, order: m.headers?.get('X-Order'), body: m.json() });
      m.ack();
    }
    // The duplicate window was restored too: a msgID already stored is a duplicate.
    const dup = await js.publish('orders.5', 'again', { msgID: 'order-5' });
    await nc.close();
    return {
      state: { messages: state.messages, first_seq: state.first_seq, last_seq: state.last_seq },
      m2: { subject: m2.subject, order: m2.header.get('X-Order'), body: m2.json() },
      consumer: {
        delivered: info.delivered.stream_seq,
        ack_floor: info.ack_floor.stream_seq,
        num_ack_pending: info.num_ack_pending,
        num_pending: info.num_pending,
      },
      next,
      dup: { seq: dup.seq, duplicate: dup.duplicate },
    };
  });
  assert.deepEqual(after.state, { messages: 5, first_seq: 1, last_seq: 5 });
  assert.deepEqual(after.m2, { subject: 'orders.2', order: 'o-2', body: { i: 2 } });
  assert.deepEqual(after.consumer, { delivered: 3, ack_floor: 2, num_ack_pending: 1, num_pending: 2 });
  assert.deepEqual(after.next, [
    { seq: 4, order: 'o-4', body: { i: 4 } },
    { seq: 5, order: 'o-5', body: { i: 5 } },
  ]);
  assert.deepEqual(after.dup, { seq: 5, duplicate: true });
  await page.close();
});

test('next, fetch and consume deliver; ack, nak (with delay) and term do what they say', async () => {
  const page = await newPage();
  const r = await page.evaluate(async () => {
    const { open, nanos } = await import('/pkg/index.js');
    const nc = await open({ name: 'consume' });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'J', subjects: ['j.>'] });
    await jsm.consumers.add('J', { durable_name: 'C', ack_policy: 'explicit', ack_wait: nanos(30_000) });
    const js = nc.jetstream();
    for (let i = 1; i <= 6; i++) await js.publish(`j.${i}`, `m${i}`);
    const c = await js.consumers.get('J', 'C');
    const seen = (m) => ({ seq: m.seq, data: m.string(), redelivered: m.redelivered, count: m.info.redeliveryCount });
    const log = {};

    const m1 = await c.next({ expires: 1_000 });
    log.next = seen(m1);
    m1.ack();

    const batch = [];
    for await (const m of await c.fetch({ max_messages: 2, expires: 1_000 })) batch.push(m);
    log.fetch = batch.map(seen);
    batch[0].nak(); // seq 2: again at once
    batch[1].term(); // seq 3: never again

    const again = await c.next({ expires: 1_000 });
    log.nakked = seen(again);
    await again.ackAck();

    const m4 = await c.next({ expires: 1_000 });
    const nakAt = Date.now();
    m4.nak(400); // seq 4: back after 400 ms, after 5 and 6
    const order = [];
    for (let i = 0; i < 3; i++) {
      const m = await c.next({ expires: 3_000 });
      order.push({ seq: m?.seq, late: m?.seq === 4 ? Date.now() - nakAt : undefined });
      m?.ack();
    }
    log.delayed = order;
    log.empty = await c.next({ expires: 300 }); // seq 3 was terminated: nothing left

    // consume(): messages published while it runs come through, until stop().
    const messages = await c.consume({ max_messages: 2, expires: 1_000 });
    const pubs = (async () => {
      for (let i = 7; i <= 9; i++) await js.publish(`j.${i}`, `m${i}`);
    })();
    const consumed = [];
    for await (const m of messages) {
      consumed.push(m.seq);
      m.ack();
      if (consumed.length === 3) messages.stop();
    }
    await pubs;
    log.consumed = consumed;
    log.processed = messages.getProcessed();
    const info = await c.info();
    log.info = { ack_floor: info.ack_floor.stream_seq, num_ack_pending: info.num_ack_pending, num_pending: info.num_pending };
    await nc.close();
    return log;
  });
  assert.deepEqual(r.next, { seq: 1, data: 'm1', redelivered: false, count: 1 });
  assert.deepEqual(r.fetch.map((m) => m.seq), [2, 3]);
  assert.deepEqual(r.nakked, { seq: 2, data: 'm2', redelivered: true, count: 2 });
  assert.deepEqual(r.delayed.map((m) => m.seq), [5, 6, 4]);
  assert.ok(r.delayed[2].late >= 350, `nak(400) came back after ${r.delayed[2].late} ms`);
  assert.equal(r.empty, null);
  assert.deepEqual(r.consumed, [7, 8, 9]);
  assert.equal(r.processed, 3);
  // Everything acked or terminated (seq 3): the floor is at the end, nothing pending.
  assert.deepEqual(r.info, { ack_floor: 9, num_ack_pending: 0, num_pending: 0 });
  await page.close();
});

test('errors are typed with JetStream codes; info() everywhere', async () => {
  const page = await newPage();
  const r = await page.evaluate(async () => {
    const pkg = await import('/pkg/index.js');
    const { open, JetStreamApiError, StreamNotFoundError, ConsumerNotFoundError, NoRespondersError, ContrailError } = pkg;
    const nc = await open({ name: 'errors' });
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    const caught = async (f) => {
      try {
        await f();
        return null;
      } catch (e) {
        return {
          name: e.name,
          api: e instanceof JetStreamApiError,
          contrail: e instanceof ContrailError,
          error: e instanceof Error,
          streamNotFound: e instanceof StreamNotFoundError,
          consumerNotFound: e instanceof ConsumerNotFoundError,
          noResponders: e instanceof NoRespondersError,
          code: e.code,
          status: e.status,
        };
      }
    };
    const out = {};
    out.missingStream = await caught(() => jsm.streams.info('NOPE'));
    await jsm.streams.add({ name: 'E', subjects: ['e.>'], description: 'errors' });
    out.missingConsumer = await caught(() => js.consumers.get('E', 'nope'));
    out.noStream = await caught(() => js.publish('nowhere', 'x'));
    await js.publish('e.1', 'x');
    out.wrongLast = await caught(() => js.publish('e.1', 'y', { expect: { lastSequence: 7 } }));
    out.ok = await js.publish('e.1', 'y', { expect: { lastSequence: 1 } });

    await jsm.consumers.add('E', { durable_name: 'D', ack_policy: 'explicit' });
    const si = await jsm.streams.info('E');
    const ci = await (await js.consumers.get('E', 'D')).info();
    const account = await jsm.getAccountInfo();
    const names = [];
    for await (const n of jsm.streams.names()) names.push(n);
    await nc.close();
    return {
      ...out,
      stream: { name: si.config.name, description: si.config.description, messages: si.state.messages, consumers: si.state.consumer_count },
      consumer: { stream: ci.stream_name, name: ci.name, ack_policy: ci.config.ack_policy, num_pending: ci.num_pending },
      account: { streams: account.streams, consumers: account.consumers, usage: typeof account.browser_storage.usage },
      names,
    };
  });
  const api = { api: true, contrail: true, error: true, noResponders: false };
  assert.deepEqual(r.missingStream, {
    ...api, name: 'StreamNotFoundError', streamNotFound: true, consumerNotFound: false, code: 10059, status: 404,
  });
  assert.deepEqual(r.missingConsumer, {
    ...api, name: 'ConsumerNotFoundError', streamNotFound: false, consumerNotFound: true, code: 10014, status: 404,
  });
  assert.equal(r.noStream.name, 'NoRespondersError');
  assert.ok(r.noStream.noResponders && r.noStream.contrail && !r.noStream.api);
  assert.equal(r.wrongLast.code, 10071);
  assert.equal(r.wrongLast.status, 400);
  assert.equal(r.ok.seq, 2);
  assert.deepEqual(r.stream, { name: 'E', description: 'errors', messages: 2, consumers: 1 });
  assert.deepEqual(r.consumer, { stream: 'E', name: 'D', ack_policy: 'explicit', num_pending: 2 });
  assert.deepEqual(r.account, { streams: 1, consumers: 1, usage: 'number' });
  assert.deepEqual(r.names, ['E']);
  await page.close();
});
