// The public API of the built package (pkg/), in Node over the in-memory engine.
// Run with `node --test tests/js/` after `scripts/build-pkg`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, nanos, headers, JetStreamApiError, NoRespondersError, StreamNotFoundError, ConsumerNotFoundError } from '../../pkg/index.js';

async function setup(stream = { name: 'ORDERS', subjects: ['orders.>'] }) {
  const c = await open();
  const jsm = await c.jetstreamManager();
  await jsm.streams.add(stream);
  return { c, jsm, js: c.jetstream() };
}

async function collect(iter) {
  const out = [];
  for await (const m of iter) out.push(m);
  return out;
}

test('publish resolves to a PubAck with the stream sequence', async () => {
  const { c, js } = await setup();
  const a = await js.publish('orders.new', 'one');
  const b = await js.publish('orders.new', new Uint8Array([1, 2]));
  assert.deepEqual([a.stream, a.seq, a.duplicate, b.seq], ['ORDERS', 1, false, 2]);
  await c.close();
});

test('a repeated msgID is acknowledged as a duplicate and stored once', async () => {
  const { c, js, jsm } = await setup();
  const first = await js.publish('orders.new', 'x', { msgID: 'm1' });
  const again = await js.publish('orders.new', 'x', { msgID: 'm1' });
  assert.equal(first.seq, 1);
  assert.equal(again.duplicate, true);
  assert.equal(again.seq, 1);
  assert.equal((await jsm.streams.info('ORDERS')).state.messages, 1);
  await c.close();
});

test('a failed expectation rejects with the JetStream code and err_code', async () => {
  const { c, js } = await setup();
  await js.publish('orders.new', 'x');
  await assert.rejects(js.publish('orders.new', 'y', { expect: { lastSequence: 7 } }), (e) => {
    assert.ok(e instanceof JetStreamApiError);
    assert.ok(e instanceof Error);
    assert.equal(e.code, 10071);
    assert.equal(e.err_code, 10071);
    assert.equal(e.status, 400);
    return true;
  });
  await assert.rejects(js.publish('orders.new', 'y', { expect: { streamName: 'OTHER' } }), (e) => e.err_code === 10060);
  assert.equal((await js.publish('orders.new', 'z', { expect: { lastSequence: 1 } })).seq, 2);
  await c.close();
});

test('publishing to a subject no stream captures rejects with no responders', async () => {
  const { c, js } = await setup();
  await assert.rejects(js.publish('nowhere', 'x'), NoRespondersError);
  await c.close();
});

test('stream info of an unknown stream rejects with 404 / 10059', async () => {
  const c = await open();
  const jsm = await c.jetstreamManager();
  await assert.rejects(jsm.streams.info('NOPE'), (e) => e instanceof StreamNotFoundError && e.status === 404 && e.code === 10059);
  await c.close();
});

test('streams can be listed, updated, purged and deleted', async () => {
  const { c, js, jsm } = await setup();
  await jsm.streams.add({ name: 'B', subjects: ['b.*'] });
  const names = (await collect(jsm.streams.list())).map((s) => s.config.name);
  assert.deepEqual(names, ['B', 'ORDERS']);
  const updated = await jsm.streams.update('ORDERS', { max_msgs: 5 });
  assert.equal(updated.config.max_msgs, 5);
  for (let i = 0; i < 3; i++) await js.publish('orders.x', `${i}`);
  assert.deepEqual(await jsm.streams.purge('ORDERS'), { success: true, purged: 3 });
  assert.equal(await jsm.streams.delete('B'), true);
  assert.deepEqual(await collect(jsm.streams.names()), ['ORDERS']);
  await c.close();
});

test('headers published come back on the stored and delivered message', async () => {
  const { c, js, jsm } = await setup();
  const h = headers();
  h.set('Trace', 'abc');
  await js.publish('orders.h', 'body', { headers: h });
  const stored = await jsm.streams.getMessage('ORDERS', { seq: 1 });
  assert.equal(stored.header.get('Trace'), 'abc');
  assert.equal(stored.string(), 'body');
  await jsm.consumers.add('ORDERS', { durable_name: 'D', ack_policy: 'explicit' });
  const m = await (await js.consumers.get('ORDERS', 'D')).next({ expires: 1000 });
  assert.equal(m.headers.get('Trace'), 'abc');
  await c.close();
});

test('fetch delivers up to max_messages with subject, data, seq and info', async () => {
  const { c, js, jsm } = await setup();
  for (let i = 1; i <= 5; i++) await js.publish(`orders.${i}`, `m${i}`);
  await jsm.consumers.add('ORDERS', { durable_name: 'D', ack_policy: 'explicit' });
  const consumer = await js.consumers.get('ORDERS', 'D');
  const msgs = await collect(await consumer.fetch({ max_messages: 3, expires: 1000 }));
  assert.deepEqual(msgs.map((m) => [m.subject, m.string(), m.seq]), [
    ['orders.1', 'm1', 1],
    ['orders.2', 'm2', 2],
    ['orders.3', 'm3', 3],
  ]);
  assert.equal(msgs[0].info.stream, 'ORDERS');
  assert.equal(msgs[0].info.consumer, 'D');
  assert.equal(msgs[2].info.pending, 2);
  for (const m of msgs) m.ack();
  const info = await consumer.info();
  assert.equal(info.ack_floor.stream_seq, 3);
  assert.equal(info.num_pending, 2);
  await c.close();
});

test('a fetch on an empty stream ends when it expires', async () => {
  const { c, js, jsm } = await setup();
  await jsm.consumers.add('ORDERS', { durable_name: 'D', ack_policy: 'explicit' });
  const consumer = await js.consumers.get('ORDERS', 'D');
  const t0 = Date.now();
  assert.deepEqual(await collect(await consumer.fetch({ max_messages: 10, expires: 300 })), []);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(await consumer.next({ expires: 200 }), null);
  await c.close();
});

/**
 * One message on ORDERS, delivered once to a new explicit-ack consumer `D` (with `ackWaitMs`
 * when given); resolves to the engine, the consumer and that first delivery.
 */
async function firstDelivery(ackWaitMs) {
  const { c, js, jsm } = await setup();
  await js.publish('orders.1', 'x');
  const ackWait = ackWaitMs === undefined ? {} : { ack_wait: nanos(ackWaitMs) };
  await jsm.consumers.add('ORDERS', { durable_name: 'D', ack_policy: 'explicit', ...ackWait });
  const consumer = await js.consumers.get('ORDERS', 'D');
  const first = await consumer.next({ expires: 1000 });
  return { c, consumer, first };
}

test('a nak redelivers the message, marked redelivered', async () => {
  const { c, consumer, first } = await firstDelivery();
  assert.equal(first.redelivered, false);
  first.nak();
  const again = await consumer.next({ expires: 1000 });
  assert.equal(again.seq, 1);
  assert.equal(again.redelivered, true);
  assert.equal(again.info.redeliveryCount, 2);
  again.ack();
  assert.equal(await consumer.next({ expires: 200 }), null);
  await c.close();
});

test('an unacked message is redelivered after ack_wait', async () => {
  const { c, consumer, first } = await firstDelivery(200);
  const t0 = Date.now();
  const again = await consumer.next({ expires: 2000 });
  assert.equal(again?.seq, first.seq);
  assert.ok(Date.now() - t0 >= 150, 'waited for ack_wait');
  again.term();
  await c.close();
});

test('working() holds off redelivery past ack_wait; once it stops, the message comes back', async () => {
  const { c, consumer, first } = await firstDelivery(300);
  // Three ack_waits of work, reported every half ack_wait: never redelivered meanwhile.
  const t0 = Date.now();
  const beat = setInterval(() => first.working(), 150);
  const meanwhile = await consumer.next({ expires: 900 });
  clearInterval(beat);
  assert.equal(meanwhile, null, 'redelivered while the holder was working');
  assert.ok(Date.now() - t0 >= 850, 'the pull waited its full expiry');
  const again = await consumer.next({ expires: 2000 });
  assert.equal(again?.seq, first.seq);
  assert.equal(again.redelivered, true);
  again.ack();
  await c.close();
});

test('consume yields messages published before and after it started, until stop', async () => {
  const { c, js, jsm } = await setup();
  await js.publish('orders.1', 'a');
  await jsm.consumers.add('ORDERS', { durable_name: 'D', ack_policy: 'explicit' });
  const consumer = await js.consumers.get('ORDERS', 'D');
  const messages = await consumer.consume({ max_messages: 2, expires: 1000 });
  const seen = [];
  setTimeout(() => js.publish('orders.2', 'b').then(() => js.publish('orders.3', 'c')), 20);
  for await (const m of messages) {
    seen.push(m.string());
    m.ack();
    if (seen.length === 3) messages.stop();
  }
  assert.deepEqual(seen, ['a', 'b', 'c']);
  await c.close();
});

test('consumers can be listed, inspected and deleted; a deleted one is not found', async () => {
  const { c, js, jsm } = await setup();
  await jsm.consumers.add('ORDERS', { durable_name: 'A', ack_policy: 'explicit' });
  await jsm.consumers.add('ORDERS', { durable_name: 'B', ack_policy: 'explicit' });
  assert.deepEqual((await collect(jsm.consumers.list('ORDERS'))).map((i) => i.name), ['A', 'B']);
  assert.equal((await jsm.consumers.info('ORDERS', 'A')).config.ack_policy, 'explicit');
  assert.equal(await jsm.consumers.delete('ORDERS', 'A'), true);
  await assert.rejects(js.consumers.get('ORDERS', 'A'), (e) => e instanceof ConsumerNotFoundError && e.status === 404 && e.code === 10014);
  await c.close();
});

test('publishes of the same tick are all acknowledged', async () => {
  const { c, js, jsm } = await setup();
  const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => js.publish('orders.x', `${i}`)));
  assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 200 }, (_, i) => i + 1));
  assert.equal((await jsm.streams.info('ORDERS')).state.messages, 200);
  await c.close();
});

test('db.subscribe hears the engine\'s advisories (a term, max deliveries, a consumer deleted) only while subscribed, and takes $JS.EVENT subjects only', async () => {
  const { c, jsm, js } = await setup();
  assert.throws(() => c.subscribe('orders.>'), /publishes only on \$JS\.EVENT\./);
  const sub = c.subscribe('$JS.EVENT.ADVISORY.CONSUMER.*.ORDERS.*');
  await jsm.consumers.add('ORDERS', { durable_name: 'w', ack_policy: 'explicit', ack_wait: nanos(200), max_deliver: 2 });
  await js.publish('orders.new', 'one');
  await js.publish('orders.new', 'two');
  const consumer = await js.consumers.get('ORDERS', 'w');
  const first = await consumer.next({ expires: 2000 });
  first.term('out of stock');
  // Message 2: delivered, redelivered after the ack wait, then given up on (max_deliver 2).
  for (let i = 0; i < 2; i++) assert.equal((await consumer.next({ expires: 2000 }))?.seq, 2);
  await consumer.next({ expires: 1000 }); // a pull waiting while the ack wait passes again
  await jsm.consumers.delete('ORDERS', 'w');

  const seen = [];
  for await (const m of sub) {
    seen.push([m.subject, m.json()]);
    if (m.subject.startsWith('$JS.EVENT.ADVISORY.CONSUMER.DELETED')) break;
  }
  assert.deepEqual(seen.map(([subject]) => subject), [
    '$JS.EVENT.ADVISORY.CONSUMER.CREATED.ORDERS.w',
    '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.w',
    '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.w',
    '$JS.EVENT.ADVISORY.CONSUMER.DELETED.ORDERS.w',
  ]);
  const [, terminated] = seen[1];
  assert.deepEqual(
    [terminated.type, terminated.stream_seq, terminated.consumer_seq, terminated.deliveries, terminated.reason],
    ['io.nats.jetstream.advisory.v1.terminated', 1, 1, 1, 'out of stock'],
  );
  const [, exceeded] = seen[2];
  assert.deepEqual([exceeded.type, exceeded.stream_seq, exceeded.deliveries], ['io.nats.jetstream.advisory.v1.max_deliver', 2, 2]);
  assert.ok(sub.isClosed(), 'leaving the loop unsubscribed');

  // The consumer subscription is gone, and a stream one hears only streams (not x's creation).
  const later = c.subscribe('$JS.EVENT.ADVISORY.STREAM.>');
  await jsm.consumers.add('ORDERS', { durable_name: 'x' });
  await jsm.streams.delete('ORDERS');
  const next = await later[Symbol.asyncIterator]().next();
  assert.equal(next.value.subject, '$JS.EVENT.ADVISORY.STREAM.DELETED.ORDERS', 'the stream subscription hears only streams');
  await c.close();
  assert.ok(later.isClosed(), 'closing the database ends its subscriptions');
});
