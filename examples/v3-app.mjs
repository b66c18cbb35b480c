// An order-processing app written for @nats-io/jetstream v3, and nothing else: it imports
// '@nats-io/jetstream' and is handed a connection. Against a NATS server that connection comes
// from nats.js (`connect()` of @nats-io/transport-node, `wsconnect()` in a browser); against a
// local Contrail database it is `open()` of the `contrail` package, with '@nats-io/jetstream'
// mapped to 'contrail' (an import map, see v3-app.html, or a bundler alias). The connect line is
// the only difference: tests/browser/example.test.mjs runs this file both ways and compares.
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';

/**
 * Runs the app on connection `nc` and returns what it saw.
 * @param {any} nc a nats.js NatsConnection, or a Contrail engine from `open()`
 */
export async function run(nc) {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: 'ORDERS',
    subjects: ['orders.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
  });
  const js = jetstream(nc);
  /** @type {Record<string, unknown>} */
  const seen = {};

  // Publish with dedup ids; a repeated id is a duplicate, a wrong expectation an API error.
  for (let id = 1; id <= 6; id++) {
    await js.publish(`orders.${id % 2 ? 'eu' : 'us'}`, JSON.stringify({ id }), { msgID: `order-${id}` });
  }
  seen.duplicate = (await js.publish('orders.eu', JSON.stringify({ id: 1 }), { msgID: 'order-1' })).duplicate;
  try {
    await js.publish('orders.eu', 'late', { expect: { lastSequence: 1 } });
  } catch (err) {
    seen.conflict = err instanceof JetStreamApiError ? [err.code, err.status] : String(err);
  }

  // Reads: find the stream, a message by subject, a missing one (null).
  seen.stream = await jsm.streams.find('orders.eu');
  const lastUs = await jsm.streams.getMessage('ORDERS', { last_by_subj: 'orders.us' });
  seen.lastUs = lastUs?.json();
  seen.missing = await jsm.streams.getMessage('ORDERS', { seq: 99 });

  // A durable pull consumer for the EU orders: fetch a batch, then next() and a durable ack.
  await jsm.consumers.add('ORDERS', {
    durable_name: 'billing',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: 'orders.eu',
  });
  const billing = await js.consumers.get('ORDERS', 'billing');
  const fetched = [];
  for await (const m of await billing.fetch({ max_messages: 2, expires: 2000 })) {
    fetched.push([m.subject, m.json(), m.info.deliveryCount, m.info.pending]);
    m.ack();
  }
  seen.fetched = fetched;
  const third = await billing.next({ expires: 2000 });
  seen.next = third?.json();
  seen.ackAck = await third?.ackAck();
  seen.billing = (await billing.info()).num_ack_pending;

  // Adding the same durable with another config is refused; update changes it.
  try {
    await jsm.consumers.add('ORDERS', { durable_name: 'billing', ack_policy: AckPolicy.Explicit, max_deliver: 3 });
  } catch (err) {
    seen.exists = err instanceof JetStreamApiError ? err.code : String(err);
  }
  seen.updated = (await jsm.consumers.update('ORDERS', 'billing', { max_deliver: 3 })).config.max_deliver;

  // An ordered consumer replays everything in order.
  const ordered = await js.consumers.get('ORDERS');
  const replay = await ordered.consume({ max_messages: 3 });
  const seqs = [];
  for await (const m of replay) {
    seqs.push(m.seq);
    if (m.info.pending === 0) break;
  }
  await replay.close();
  seen.ordered = seqs;

  // The stream handle and the listers.
  const stream = await js.streams.get('ORDERS');
  seen.messages = (await stream.info()).state.messages;
  const names = [];
  for await (const name of jsm.streams.names()) names.push(name);
  seen.streams = names;
  return seen;
}
