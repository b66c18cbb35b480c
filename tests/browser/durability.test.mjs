// Kill-the-browser durability: a page publishes and acks as fast as it can on an IndexedDB engine,
// reporting every PubAck and every confirmed ack to Node as it arrives. Node SIGKILLs the whole
// Chromium process group mid-storm (nothing is closed, commits are in flight), restarts Chromium on
// the same profile and checks that everything the page was told is durable really is: each
// acknowledged message with its payload, a gap-free sequence, and every confirmed consumer ack.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, startChromium } from './harness.mjs';

const DB = 'durability';
/** Confirmations to see before the kill (both must be reached). */
const PUBS_BEFORE_KILL = 600;
const ACKS_BEFORE_KILL = 250;
/** Consumer ack wait: pending messages come back this soon after the restart. */
const ACK_WAIT_MS = 2_000;

let server, profile;
const running = [];
before(async () => {
  server = await serve();
  profile = await mkdtemp(join(tmpdir(), 'contrail-durability-'));
});
after(async () => {
  for (const c of running) await c.kill().catch(() => {});
  await server?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** Starts Chromium on the shared profile and opens a page of the test server's origin. */
async function openPage() {
  const chrome = await startChromium(profile);
  running.push(chrome);
  const page = await chrome.context.newPage();
  await page.goto(`${server.url}/tests/browser/blank.html`);
  return { chrome, page };
}

/**
 * Runs in the page: creates the stream and consumer, starts the publish and ack storms in the
 * background (bounded in count) and returns at once. Confirmations go to Node's `report` in
 * batches every few milliseconds (one call per confirmation would lag far behind the storm).
 */
async function startStorms({ db, ackWaitMs }) {
  let outbox = [];
  const report = (...event) => {
    if (outbox.push(event) === 1) setTimeout(() => window.report(outbox.splice(0)), 5);
  };
  const { open, nanos } = await import('/pkg/index.js');
  const nc = await open({ name: db });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'D', subjects: ['d.>'] });
  await jsm.consumers.add('D', { durable_name: 'W', ack_policy: 'explicit', ack_wait: nanos(ackWaitMs) });
  const js = nc.jetstream();
  const fail = (e) => report('error', String(e?.stack ?? e));
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

  let next = 0;
  const publish = async () => {
    const id = next++;
    const ack = await js.publish(`d.${id % 7}`, `payload-${id}`);
    report('pub', ack.seq, id);
  };
  // One publisher awaits each PubAck; the other keeps up to 100 publishes in flight.
  const oneByOne = async () => {
    for (let i = 0; i < 20_000; i++) await publish();
  };
  const windowed = async () => {
    let inFlight = 0;
    for (let i = 0; i < 200_000; i++) {
      while (inFlight >= 100) await sleep(1);
      inFlight++;
      publish()
        .catch(fail)
        .finally(() => inFlight--);
    }
  };
  // Fetch and ack: every third ack awaited, the rest left in flight (at most 200).
  const acker = async () => {
    const consumer = await js.consumers.get('D', 'W');
    let inFlight = 0;
    for (let round = 0; round < 20_000; round++) {
      const batch = await consumer.fetch({ max_messages: 50, expires: 500 });
      let n = 0;
      for await (const m of batch) {
        const seq = m.seq;
        if (n++ % 3 === 0) {
          await m.ackAck();
          report('ack', seq);
          continue;
        }
        while (inFlight >= 200) await sleep(1);
        inFlight++;
        m.ackAck()
          .then(() => report('ack', seq), fail)
          .finally(() => inFlight--);
      }
    }
  };
  Promise.all([oneByOne(), windowed(), acker()]).then(() => report('done'), fail);
}

/** Runs in the page after the restart: stream state, every stored payload, consumer state. */
async function readBack({ db }) {
  const { open } = await import('/pkg/index.js');
  const nc = await open({ name: db });
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info('D');
  const payloads = [];
  for (let seq = 1; seq <= state.last_seq; seq += 200) {
    const chunk = [];
    for (let s = seq; s < seq + 200 && s <= state.last_seq; s++) {
      chunk.push(
        jsm.streams.getMessage('D', { seq: s }).then(
          (m) => (m ? m.string() : 'missing: no such message'),
          (e) => `missing: ${e.message}`,
        ),
      );
    }
    payloads.push(...(await Promise.all(chunk)));
  }
  const consumer = await jsm.consumers.info('D', 'W');
  await nc.close();
  return { state, payloads, consumer, warnings: nc.warnings };
}

/** Runs in the page: fetches (and acks) until nothing is left, pending redeliveries included. */
async function drain({ db, waitMs }) {
  const { open } = await import('/pkg/index.js');
  const nc = await open({ name: db });
  const consumer = await nc.jetstream().consumers.get('D', 'W');
  const seen = [];
  for (let round = 0; round < 1_000; round++) {
    let n = 0;
    for await (const m of await consumer.fetch({ max_messages: 500, expires: waitMs })) {
      seen.push(m.seq);
      m.ack();
      n++;
    }
    if (n === 0) break;
  }
  await nc.close();
  return seen;
}

test('SIGKILL mid-storm loses no acknowledged publish and no confirmed ack', { timeout: 180_000 }, async () => {
  // ---- phase 1: storm, then kill ----
  const pubs = new Map(); // seq -> publish id (its payload is `payload-${id}`)
  const acks = new Set();
  const errors = [];
  let done = false;
  let killed = false;
  const { chrome, page } = await openPage();
  let reached;
  const reachedKillPoint = new Promise((ok) => (reached = ok));
  await page.exposeFunction('report', (events) => {
    if (killed) return;
    for (const [kind, a, b] of events) {
      if (kind === 'pub') pubs.set(a, b);
      else if (kind === 'ack') acks.add(a);
      else if (kind === 'error') errors.push(a);
      else if (kind === 'done') done = true;
    }
    if ((pubs.size >= PUBS_BEFORE_KILL && acks.size >= ACKS_BEFORE_KILL) || errors.length || done) reached();
  });
  await page.evaluate(startStorms, { db: DB, ackWaitMs: ACK_WAIT_MS });
  let timer;
  await Promise.race([
    reachedKillPoint,
    new Promise((_, fail) => (timer = setTimeout(() => fail(new Error('storm too slow')), 90_000))),
  ]);
  clearTimeout(timer);
  killed = true;
  await chrome.kill();
  await chrome.browser.close().catch(() => {});
  assert.deepEqual(errors, [], 'the storm itself failed');
  assert.equal(done, false, 'the storm ended before the kill: nothing was in flight');
  // Snapshots: reports that raced the kill are not counted.
  const confirmedPubs = new Map(pubs);
  const confirmedAcks = new Set(acks);

  // ---- phase 2: restart on the same profile and read everything back ----
  const second = await openPage();
  const back = await second.page.evaluate(readBack, { db: DB });
  const { state, payloads, consumer } = back;
  assert.deepEqual(back.warnings, []);
  const maxPub = Math.max(...confirmedPubs.keys());
  assert.ok(state.last_seq >= maxPub, `last_seq ${state.last_seq} < confirmed seq ${maxPub}`);
  // Gap-free: no deletes (limits retention, nothing removed), every seq readable.
  assert.equal(state.first_seq, 1);
  assert.equal(state.messages, state.last_seq, 'messages != last_seq: a gap');
  assert.equal(state.num_deleted ?? 0, 0);
  assert.equal(payloads.length, state.last_seq);
  const missing = payloads.flatMap((p, i) => (p.startsWith('payload-') ? [] : [`${i + 1}: ${p}`]));
  assert.deepEqual(missing, []);
  for (const [seq, id] of confirmedPubs) assert.equal(payloads[seq - 1], `payload-${id}`, `seq ${seq}`);
  // The same publish id never got two sequences.
  assert.equal(new Set(payloads).size, payloads.length, 'a payload stored twice');

  // Consumer: every confirmed ack was delivered, and none of them comes back.
  const maxAck = Math.max(...confirmedAcks);
  assert.ok(consumer.delivered.stream_seq >= maxAck, 'delivered behind a confirmed ack');
  const redelivered = await second.page.evaluate(drain, { db: DB, waitMs: ACK_WAIT_MS + 1_500 });
  const lostAcks = redelivered.filter((seq) => confirmedAcks.has(seq));
  assert.deepEqual(lostAcks, [], 'confirmed acks delivered again after the restart');
  // What does come back is exactly what was not acked: pending plus never delivered.
  assert.equal(new Set(redelivered).size, consumer.num_ack_pending + consumer.num_pending);
  for (const seq of confirmedAcks) assert.ok(seq <= state.last_seq);
  console.log(
    `killed after ${confirmedPubs.size} PubAcks (max seq ${maxPub}) and ${confirmedAcks.size} acks; ` +
      `restart: last_seq ${state.last_seq}, ack floor ${consumer.ack_floor.stream_seq}, ` +
      `${consumer.num_ack_pending} pending, ${redelivered.length} delivered after restart`,
  );

  await second.chrome.kill();
  await second.chrome.browser.close().catch(() => {});
});
