// The live demo: an offline-first event log on the npm package. Events are published to the
// EVENTS stream in this browser's IndexedDB; a durable pull consumer ("feed") reads them with
// consume() and acks each one, so after a reload it continues where it stopped.

import { open, deleteDatabase } from '/pkg/index.js';

const $ = (id) => document.getElementById(id);
const DB = 'contrail-demo';
const SHOWN = 50;

let nc, js, jsm, messages;

function status(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function showNetwork() {
  $('network').textContent = navigator.onLine ? 'online' : 'offline (still works)';
}

async function stats() {
  const s = await jsm.streams.info('EVENTS');
  const c = await jsm.consumers.info('EVENTS', 'feed');
  $('stats').textContent =
    `Stream: ${s.state.messages} events, sequences ${s.state.first_seq}–${s.state.last_seq}. ` +
    `Consumer "feed": acked up to ${c.ack_floor.stream_seq}, ${c.num_pending} waiting.`;
}

function show(m) {
  const row = document.createElement('tr');
  for (const text of [m.seq, m.subject, new Date(m.info.timestampNanos / 1e6).toISOString(), m.string(), m.info.redeliveryCount]) {
    const td = document.createElement('td');
    td.textContent = String(text);
    row.append(td);
  }
  const body = $('feed').tBodies[0];
  body.prepend(row);
  while (body.rows.length > SHOWN) body.deleteRow(-1);
}

async function follow() {
  const consumer = await js.consumers.get('EVENTS', 'feed');
  messages = await consumer.consume({ max_messages: 200 });
  for await (const m of messages) {
    show(m);
    m.ack();
  }
}

async function start() {
  nc = await open({ name: DB });
  js = nc.jetstream();
  jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'EVENTS', subjects: ['events.>'], max_msgs: 100_000 });
  await jsm.consumers.add('EVENTS', { durable_name: 'feed', ack_policy: 'explicit' });
  status(`Open: database "${DB}"${nc.persistent ? ', persisted in IndexedDB' : ''}.`);
  follow().catch((e) => status(`Feed stopped: ${e.message}`, true));
  await stats();
  setInterval(() => stats().catch(() => {}), 1000);
}

$('event-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const ack = await js.publish('events.note', $('event-text').value);
    status(`Stored as #${ack.seq}.`);
    $('event-text').value = '';
  } catch (e) {
    status(`Publish failed: ${e.message}`, true);
  }
});

$('burst').addEventListener('click', async () => {
  const t0 = performance.now();
  try {
    const acks = [];
    for (let i = 0; i < 1000; i++) acks.push(js.publish('events.burst', `burst event ${i + 1}`));
    await Promise.all(acks);
    const ms = performance.now() - t0;
    status(`1,000 events durable in ${ms.toFixed(0)} ms (${Math.round(1000 / (ms / 1000)).toLocaleString()} events/s).`);
  } catch (e) {
    status(`Burst failed: ${e.message}`, true);
  }
});

$('reset').addEventListener('click', async () => {
  messages?.stop?.();
  await nc.close();
  await deleteDatabase(DB);
  location.reload();
});

addEventListener('online', showNetwork);
addEventListener('offline', showNetwork);
showNetwork();
start().catch((e) => status(`Cannot open: ${e.message}`, true));
