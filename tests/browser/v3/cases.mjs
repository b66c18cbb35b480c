// Behaviours @nats-io/jetstream v3's own tests check (jetstream/tests/: jsm, jetstream, jsmsg,
// fetch, next, consume, consumers_ordered), written anew against this package. Each case takes
// `{ pkg, open }` (the package's exports and a function opening a fresh engine) and throws when a
// behaviour differs. The same cases run in headless Chromium over IndexedDB
// (tests/browser/v3.test.mjs) and in Node over memory (tests/js/v3.test.mjs). Names give the
// nats.js test they follow.

function fail(what, got, want) {
  throw new Error(`${what}: got ${JSON.stringify(got, big)}, want ${JSON.stringify(want, big)}`);
}
const big = (_, v) => (typeof v === 'bigint' ? `${v}n` : v);
function eq(got, want, what = 'value') {
  if (JSON.stringify(got, big) !== JSON.stringify(want, big)) fail(what, got, want);
}
function ok(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
}
/** Resolves to the error `p` (a promise or a function) rejects or throws with; fails if it does not. */
async function rejects(p, check, what) {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (check && !check(e)) throw new Error(`${what}: unexpected error ${e?.name}: ${e?.message}`);
    return e;
  }
  throw new Error(`${what}: did not fail`);
}
async function drain(iter) {
  const out = [];
  for await (const m of iter) out.push(m);
  return out;
}
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Waits (bounded) until consumer `name` holds a pull request (its info's `num_waiting`). */
async function pullWaiting(jsm, stream, name) {
  for (let i = 0; i < 250; i++) {
    if ((await jsm.consumers.info(stream, name)).num_waiting > 0) return;
    await sleep(20);
  }
  throw new Error(`no pull request reached ${stream}.${name} within 5 s`);
}

/** A fresh engine with stream `name` capturing `subjects`; returns what the cases need. */
async function setup(open, stream = { name: 'A', subjects: ['a.>'] }) {
  const nc = await open();
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add(stream);
  return { nc, jsm, js: nc.jetstream() };
}

/**
 * Cases that check what only this package has, by name, with why; the nats.js run
 * (tests/js/v3-natsjs.test.mjs) lists them as skipped.
 */
export const contrailOnly = {
  'timestamps carry only the precision the clock had':
    "nats-server's clock has nanoseconds; this checks that contrail invents none below Date.now()'s milliseconds",
  'jsmsg - parse, parse long, parse rejects other subjects': 'parseInfo is not public in nats.js v3 (JsMsg.info is, and other cases use it)',
  'contrail extras: addOrUpdate, consumers.names, redeliveryCount, JsMsg.json(reviver)':
    'not in nats.js v3 (and what the package leaves out fails with InvalidOperationError)',
  'contrail extras: streams.infoPage reads one page of subjects': 'not in nats.js v3 (its info reads every page)',
};

export const cases = {
  // ---- jsm ----------------------------------------------------------------------------------------

  async 'jsm - empty stream config fails / stream name validated as nats.js does'({ pkg, open }) {
    const nc = await open();
    const jsm = await nc.jetstreamManager();
    const named = (e) => e instanceof pkg.InvalidNameError;
    // nats.js throws a plain Error for a missing name, InvalidNameError for a bad character.
    const required = (e) => e instanceof Error && e.message === 'stream name required';
    await rejects(jsm.streams.add({ subjects: ['x'] }), required, 'no name');
    await rejects(jsm.streams.add({ name: '' }), required, 'empty');
    for (const [bad, shown] of [['.', '.'], ['*', '*'], ['>', '>'], [' ', ' '], ['\t', '\\t'], ['\n', '\\n']]) {
      const e = await rejects(jsm.streams.add({ name: `a${bad}b` }), named, `name with ${shown}`);
      eq(e.message, `stream name ('a${bad}b') cannot contain '${shown}'`, 'message');
    }
    await rejects(jsm.streams.info(''), required, 'info empty name');
    await rejects(jsm.streams.delete(''), required, 'delete empty name');
    await rejects(jsm.streams.purge(''), required, 'purge empty name');
    await rejects(jsm.streams.deleteMessage('', 1), required, 'delete msg empty name');
    await rejects(jsm.consumers.info('', 'x'), required, 'consumer info empty stream');
    await rejects(jsm.consumers.info('A', ''), (e) => e.message === 'durable name required', 'consumer info empty name');
    await rejects(() => jsm.consumers.list(''), required, 'consumer list empty stream');
    await rejects(jsm.streams.info('a.b'), named, 'info bad name');
    eq((await drain(jsm.streams.names())).length, 0, 'no stream was created');
    await nc.close();
  },

  async 'jsm - add stream, info, update stream preserves other values'({ open }) {
    const { nc, jsm } = await setup(open, { name: 'A', subjects: ['a.>'], max_msgs: 10, description: 'd' });
    const si = await jsm.streams.update('A', { subjects: ['a.>', 'b.>'] });
    eq(si.config.subjects, ['a.>', 'b.>'], 'subjects');
    eq([si.config.max_msgs, si.config.description], [10, 'd'], 'kept');
    eq((await jsm.streams.info('A')).config.name, 'A', 'name');
    await nc.close();
  },

  async 'jsm - stream purge, purge by sequence / subject / keep, seq and keep fails'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    for (let i = 1; i <= 10; i++) await js.publish(i % 2 ? 'a.odd' : 'a.even', `${i}`);
    const purged = async (opts) => {
      const r = await jsm.streams.purge('A', opts);
      return [r.success, r.purged];
    };
    eq(await purged({ filter: 'a.odd', keep: 1 }), [true, 4], 'filtered keep');
    eq(await purged({ seq: 6 }), [true, 2], 'by sequence');
    eq((await jsm.streams.info('A')).state.messages, 4, 'left');
    eq(await purged(), [true, 4], 'all');
    await rejects(jsm.streams.purge('A', { seq: 2, keep: 1 }), (e) => e instanceof pkg.InvalidArgumentError, 'seq and keep');
    await nc.close();
  },

  async 'jsm - get message, get message (not found) is null, stored msg decode'({ open, pkg }) {
    const { nc, jsm, js } = await setup(open);
    const h = pkg.headers();
    h.set('X-A', '1');
    await js.publish('a.x', JSON.stringify({ n: 1, d: '2024-01-02T03:04:05.000Z' }), { headers: h });
    const sm = await jsm.streams.getMessage('A', { seq: 1 });
    eq([sm.subject, sm.seq, sm.header.get('X-A'), sm.lastSequence, sm.pending], ['a.x', 1, '1', 0, 0], 'fields');
    eq(sm.json((k, v) => (k === 'd' ? new Date(v).getTime() : v)).d, 1704164645000, 'json(reviver)');
    ok(typeof sm.timestamp === 'string' && sm.time instanceof Date, 'timestamp string and time Date');
    eq(sm.time.getTime(), Date.parse(sm.timestamp), 'time is timestamp');
    eq(await jsm.streams.getMessage('A', { seq: 99 }), null, 'missing seq');
    eq(await jsm.streams.getMessage('A', { last_by_subj: 'a.none' }), null, 'missing subject');
    await rejects(jsm.streams.getMessage('NOPE', { seq: 1 }), (e) => e instanceof pkg.StreamNotFoundError, 'no stream');
    await nc.close();
  },

  async 'timestamps carry only the precision the clock had'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'c', ack_policy: 'explicit' });
    // Several milliseconds: float arithmetic (ms * 1e6 beyond 2^53) was exact only when ms % 4 == 0.
    for (let i = 0; i < 12; i++) {
      await js.publish('a.x', `${i}`);
      await sleep(2);
    }
    const msgs = await drain(await (await js.consumers.get('A', 'c')).fetch({ max_messages: 12, expires: 2000 }));
    eq(msgs.length, 12, 'delivered');
    for (const m of msgs) {
      const sm = await jsm.streams.getMessage('A', { seq: m.seq });
      // Date.now() has milliseconds: no nanosecond digits may be made up.
      const frac = /\.(\d+)Z$/.exec(sm.timestamp)?.[1] ?? '';
      ok(!/[1-9]/.test(frac.slice(3)), `no digits below the millisecond in ${sm.timestamp}`);
      eq(m.timestampNanos % 1_000_000n, 0n, `delivery timestamp ${m.timestampNanos} is whole milliseconds`);
      eq(BigInt(m.time.getTime()) * 1_000_000n, m.timestampNanos, 'time matches timestampNanos');
      eq(m.time.toISOString(), m.timestamp, 'timestamp is time as ISO');
      eq(m.time.getTime(), sm.time.getTime(), 'delivery and stored times agree');
    }
    await nc.close();
  },

  async 'jsm - stream delete message, delete msg not found fails'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.1', '1');
    await js.publish('a.2', '2');
    eq(await jsm.streams.deleteMessage('A', 1), true, 'deleted');
    eq(await jsm.streams.getMessage('A', { seq: 1 }), null, 'gone');
    await rejects(jsm.streams.deleteMessage('A', 1), (e) => e instanceof pkg.JetStreamApiError, 'again');
    eq((await jsm.streams.info('A')).state.messages, 1, 'one left');
    await nc.close();
  },

  async 'jsm - no stream lister is empty, lister after empty is empty, paged lists'({ open }) {
    const nc = await open();
    const jsm = await nc.jetstreamManager();
    const names = jsm.streams.names();
    eq(await names.next(), [], 'first page');
    eq(await names.next(), [], 'after empty');
    for (let i = 0; i < 5; i++) await jsm.streams.add({ name: `S${i}`, subjects: [`s${i}.>`] });
    eq((await drain(jsm.streams.list())).map((si) => si.config.name).sort(), ['S0', 'S1', 'S2', 'S3', 'S4'], 'list');
    eq(await drain(jsm.streams.names('s3.x')), ['S3'], 'names by subject');
    const lister = jsm.streams.list();
    eq((await lister.next()).length, 5, 'page');
    eq(await lister.next(), [], 'then empty');
    await nc.close();
  },

  async 'jetstream - find stream, throws when not found'({ pkg, open }) {
    const { nc, jsm } = await setup(open);
    eq(await jsm.streams.find('a.b'), 'A', 'found');
    const e = await rejects(jsm.streams.find('zzz'), (e) => e instanceof pkg.StreamNotFoundError, 'none');
    eq([e.message, e.code], ['no stream matches subject', 10059], 'error');
    await nc.close();
  },

  async 'jsm - consumer info, not found, lister, delete'({ pkg, open }) {
    const { nc, jsm } = await setup(open);
    eq(await jsm.consumers.list('A').next(), [], 'no consumers');
    await rejects(jsm.consumers.info('NOPE', 'x'), (e) => e instanceof pkg.StreamNotFoundError, 'stream not found');
    await rejects(jsm.consumers.info('A', 'x'), (e) => e instanceof pkg.ConsumerNotFoundError && e.code === 10014, 'consumer not found');
    await jsm.consumers.add('A', { durable_name: 'd1', ack_policy: pkg.AckPolicy.Explicit });
    await jsm.consumers.add('A', { name: 'n1', ack_policy: pkg.AckPolicy.None });
    eq((await drain(jsm.consumers.list('A'))).map((c) => c.name).sort(), ['d1', 'n1'], 'listed');
    eq((await jsm.consumers.info('A', 'd1')).config.ack_policy, 'explicit', 'info');
    eq(await jsm.consumers.delete('A', 'n1'), true, 'delete');
    await nc.close();
  },

  async 'jsm - consumer api action: add creates only, update updates only'({ pkg, open }) {
    const { nc, jsm } = await setup(open);
    const cfg = { durable_name: 'c', ack_policy: 'explicit', max_deliver: 3 };
    await jsm.consumers.add('A', cfg);
    await jsm.consumers.add('A', cfg); // the same config again is fine
    const e = await rejects(jsm.consumers.add('A', { ...cfg, max_deliver: 5 }), (e) => e instanceof pkg.JetStreamApiError, 'add over');
    eq(e.code, 10148, 'consumer already exists');
    eq((await jsm.consumers.info('A', 'c')).config.max_deliver, 3, 'unchanged');
    eq((await jsm.consumers.update('A', 'c', { max_deliver: 5 })).config.max_deliver, 5, 'update');
    await rejects(jsm.consumers.add('A', { durable_name: 'u', ack_policy: 'explicit' }, { action: 'update' }), (e) => e.code === 10149, 'update of a missing consumer');
    // nats.js sends "create" for an empty action too (`action || "create"`).
    await rejects(jsm.consumers.add('A', { ...cfg, max_deliver: 7 }, { action: '' }), (e) => e.code === 10148, 'empty action creates');
    await nc.close();
  },

  async 'jsm - consumers with name and durable_name: a mismatch is refused'({ pkg, open }) {
    const { nc, jsm } = await setup(open);
    const e = await rejects(jsm.consumers.add('A', { name: 'y', durable_name: 'z' }), (e) => e instanceof pkg.JetStreamApiError, 'mismatch');
    eq(e.code, 10017, 'durable name does not match subject');
    eq(await drain(jsm.consumers.list('A')), [], 'nothing created');
    const ci = await jsm.consumers.add('A', { name: 'same', durable_name: 'same', ack_policy: 'explicit' });
    eq(ci.name, 'same', 'matching');
    const f = await jsm.consumers.add('A', { name: 'filt', filter_subject: 'a.x', ack_policy: 'explicit' });
    eq(f.config.filter_subject, 'a.x', 'filter in the subject');
    await rejects(jsm.consumers.add('A', { name: 'a.b' }), (e) => e.message === "consumer 'name' cannot contain '.'", 'name validated');
    await nc.close();
  },

  async 'jsm - direct get message'({ open }) {
    const { nc, jsm, js } = await setup(open, { name: 'A', subjects: ['a.>'], allow_direct: true });
    await js.publish('a.1', 'one');
    await js.publish('a.2', 'two');
    const m = await jsm.direct.getMessage('A', { last_by_subj: 'a.1' });
    eq([m.stream, m.subject, m.seq, m.string()], ['A', 'a.1', 1, 'one'], 'direct msg');
    ok(m.time instanceof Date && !Number.isNaN(m.time.getTime()), 'time');
    eq((await jsm.direct.getMessage('A', { seq: 2 })).string(), 'two', 'by seq');
    eq(await jsm.direct.getMessage('A', { seq: 9 }), null, 'missing');
    await nc.close();
  },

  async 'jetstream - default options, override timeout and prefix, rejects empty prefix, removes trailing dot'({ pkg, open }) {
    const nc = await open();
    eq(nc.jetstream().getOptions(), { apiPrefix: '$JS.API', timeout: 5000 }, 'defaults');
    eq(nc.jetstream({ timeout: 1000 }).getOptions().timeout, 1000, 'timeout');
    eq(nc.jetstream({ domain: 'hub' }).getOptions().apiPrefix, '$JS.hub.API', 'domain');
    eq(nc.jetstream({ apiPrefix: 'x.' }).getOptions().apiPrefix, 'x', 'trailing dot');
    await rejects(() => nc.jetstream({ apiPrefix: '' }), (e) => e instanceof pkg.InvalidArgumentError, 'empty prefix');
    eq((await nc.jetstreamManager({ timeout: 2000 })).getOptions().timeout, 2000, 'jsm');
    await nc.close();
  },

  // ---- jetstream (publish) -------------------------------------------------------------------------

  async 'jetstream - publish basic, id, duplicate, require stream / last msg id / last sequence'({ pkg, open }) {
    const { nc, js } = await setup(open);
    eq(await js.publish('a.1', 'x'), { stream: 'A', seq: 1, duplicate: false, domain: undefined }, 'basic');
    eq((await js.publish('a.1', 'x', { msgID: 'm1' })).seq, 2, 'id');
    eq((await js.publish('a.1', 'x', { msgID: 'm1' })).duplicate, true, 'duplicate');
    await rejects(js.publish('a.1', 'x', { expect: { streamName: 'B' } }), (e) => e instanceof pkg.JetStreamApiError && e.code === 10060, 'stream');
    await rejects(js.publish('a.1', 'x', { expect: { lastMsgID: 'nope' } }), (e) => e.code === 10070, 'last msg id');
    eq((await js.publish('a.1', 'x', { expect: { lastMsgID: 'm1' } })).seq, 3, 'last msg id ok');
    await rejects(js.publish('a.1', 'x', { expect: { lastSequence: 1 } }), (e) => e.code === pkg.JetStreamApiCodes.StreamWrongLastSequence, 'last seq');
    eq((await js.publish('a.1', 'x', { expect: { lastSequence: 3 } })).seq, 4, 'last seq ok');
    await nc.close();
  },

  async 'jetstream - publish require last sequence by subject, last subject sequence subject'({ pkg, open }) {
    const { nc, js } = await setup(open);
    await js.publish('a.x.1', '1');
    await js.publish('a.y', '2');
    await js.publish('a.x.2', '3');
    await rejects(js.publish('a.x.1', 'n', { expect: { lastSubjectSequence: 2 } }), (e) => e.code === 10071, 'by subject');
    eq((await js.publish('a.x.1', 'n', { expect: { lastSubjectSequence: 1 } })).seq, 4, 'by subject ok');
    // The last of every subject matching a.x.* is 4 (a.x.1) now.
    await rejects(
      js.publish('a.x.3', 'n', { expect: { lastSubjectSequence: 3, lastSubjectSequenceSubject: 'a.x.*' } }),
      (e) => e instanceof pkg.JetStreamApiError && e.code === 10071,
      'subject filter',
    );
    eq((await js.publish('a.x.3', 'n', { expect: { lastSubjectSequence: 4, lastSubjectSequenceSubject: 'a.x.*' } })).seq, 5, 'subject filter ok');
    await nc.close();
  },

  async 'jetstream - publish headers, JSON, publish no responder, retries'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    const h = pkg.headers();
    h.set('a', '1');
    await js.publish('a.h', JSON.stringify({ x: 1 }), { headers: h });
    const sm = await jsm.streams.getMessage('A', { seq: 1 });
    eq([sm.header.get('a'), sm.json()], ['1', { x: 1 }], 'headers and JSON');
    // nats.js: JetStreamNotEnabled (nothing answered); here its subclass NoRespondersError.
    await rejects(js.publish('nowhere', 'x'), (e) => e instanceof pkg.JetStreamNotEnabled, 'no responder');
    // retries: the stream appears while the publish is retrying.
    const later = sleep(120).then(() => jsm.streams.add({ name: 'LATE', subjects: ['late'] }));
    eq((await js.publish('late', 'x', { retries: 10 })).stream, 'LATE', 'published after retrying');
    await later;
    await nc.close();
  },

  async 'jetstream - ackAck, term reason, redelivery (deliveryCount)'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.1', '1');
    await js.publish('a.2', '2');
    await jsm.consumers.add('A', { durable_name: 'c', ack_policy: pkg.AckPolicy.Explicit, ack_wait: pkg.nanos(30_000) });
    const c = await js.consumers.get('A', 'c');
    const m = await c.next({ expires: 2000 });
    eq(await m.ackAck(), true, 'ackAck');
    eq(await m.ackAck(), false, 'second ackAck');
    eq((await c.info()).ack_floor.stream_seq, 1, 'acked');
    const n = await c.next({ expires: 2000 });
    eq([n.seq, n.info.deliveryCount, n.redelivered], [2, 1, false], 'first delivery');
    n.nak();
    const again = await c.next({ expires: 2000 });
    eq([again.seq, again.info.deliveryCount, again.redelivered], [2, 2, true], 'redelivered');
    again.term('bad input');
    eq(await c.next({ expires: 1000 }), null, 'terminated is not redelivered');
    await nc.close();
  },

  // ---- jsmsg ---------------------------------------------------------------------------------------

  async 'jsmsg - parse, parse long, parse rejects other subjects'({ pkg }) {
    const i = pkg.parseInfo('$JS.ACK.S.C.2.10.4.1700000000123456789.7');
    eq([i.stream, i.consumer, i.deliveryCount, i.streamSequence, i.deliverySequence, i.pending, i.redelivered, i.domain], ['S', 'C', 2, 10, 4, 7, true, ''], 'short');
    const l = pkg.parseInfo('$JS.ACK.dom.hash.S.C.1.10.4.1700000000123456789.0.rnd');
    eq([l.domain, l.account_hash, l.stream, l.deliveryCount], ['dom', 'hash', 'S', 1], 'long');
    await rejects(() => pkg.parseInfo('foo.bar'), null, 'not an ack subject');
  },

  async 'jsmsg - no ack consumer is ackAck 503'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.a', '');
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: pkg.AckPolicy.None });
    const m = await (await js.consumers.get('A', 'a')).next({ expires: 2000 });
    // nats.js: RequestError whose cause is NoRespondersError; here NoRespondersError.
    const e = await rejects(m.ackAck(), (e) => e instanceof pkg.NoRespondersError, 'ackAck');
    ok(/no responders/.test(e.message), 'no responders message');
    await nc.close();
  },

  async 'jsmsg - acks, ackAck js options timeout'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.a', '');
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: pkg.AckPolicy.Explicit });
    const m = await (await nc.jetstream({ timeout: 3000 }).consumers.get('A', 'a')).next({ expires: 2000 });
    eq(await m.ackAck({ timeout: 1000 }), true, 'acked within the timeout');
    eq((await jsm.consumers.info('A', 'a')).num_ack_pending, 0, 'nothing pending');
    await nc.close();
  },

  async 'jsmsg - time and timestamp, reply/sid'({ open }) {
    const { nc, js } = await setup(open);
    await js.publish('a.a', JSON.stringify({ when: 5 }));
    const m = await (await js.consumers.get('A')).next({ expires: 2000 });
    ok(m.time instanceof Date, 'time');
    eq(m.time.toISOString(), m.timestamp, 'timestamp');
    eq(typeof m.timestampNanos, 'bigint', 'timestampNanos');
    eq(m.json(), { when: 5 }, 'json');
    ok(m.reply.startsWith('$JS.ACK.A.'), 'reply is the ack subject');
    eq(typeof m.sid, 'number', 'sid');
    await nc.close();
  },

  // ---- fetch / next --------------------------------------------------------------------------------

  async 'fetch - no messages, less messages, exactly messages'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'c', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'c');
    const none = await c.fetch({ max_messages: 10, expires: 1000 });
    eq((await drain(none)).length, 0, 'none');
    eq(none.getReceived(), 0, 'received');
    for (let i = 0; i < 5; i++) await js.publish('a.x', `${i}`);
    const less = await drain(await c.fetch({ max_messages: 10, expires: 1000 }));
    eq(less.map((m) => m.seq), [1, 2, 3, 4, 5], 'less');
    less.forEach((m) => m.ack());
    for (let i = 0; i < 5; i++) await js.publish('a.x', `${i}`);
    const start = Date.now();
    const exactly = await drain(await c.fetch({ max_messages: 5, expires: 30_000 }));
    eq(exactly.length, 5, 'exactly');
    ok(Date.now() - start < 20_000, 'a full batch ends the fetch before it expires');
    await nc.close();
  },

  async 'fetch - deleted consumer ends the fetch with consumer deleted'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    const iter = await c.fetch({ expires: 5000 });
    const exited = rejects(drain(iter), (e) => e instanceof pkg.JetStreamStatusError && e.code === 409, 'fetch');
    await pullWaiting(jsm, 'A', 'a');
    await c.delete();
    eq((await exited).message, 'consumer deleted', 'message');
    eq(await iter.closed(), (await exited), 'closed() resolves to the error');
    await nc.close();
  },

  async 'fetch - stream/consumer not found and no responders, then works again'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { name: 'c', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'c');
    await jsm.consumers.delete('A', 'c');
    const e = await rejects(async () => drain(await c.fetch({ expires: 2000 })), null, 'fetch');
    ok(/no responders/.test(e.message), `no responders (${e.message})`);
    await jsm.consumers.add('A', { name: 'c', ack_policy: 'explicit' });
    await js.publish('a.1', '');
    eq((await drain(await c.fetch({ max_messages: 1, expires: 2000 }))).length, 1, 'works again');
    await nc.close();
  },

  async 'fetch - exceeding max_messages (max_batch) will stop'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit', max_batch: 10 });
    const c = await js.consumers.get('A', 'a');
    const e = await rejects(async () => drain(await c.fetch({ max_messages: 100, expires: 2000 })), (e) => e instanceof pkg.JetStreamStatusError, 'fetch');
    ok(/exceeded maxrequestbatch of 10/.test(e.message), e.message);
    await nc.close();
  },

  async 'fetch - max_bytes and max_messages are exclusive'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    await rejects(c.fetch({ max_messages: 1, max_bytes: 100 }), (e) => e instanceof pkg.InvalidArgumentError, 'exclusive');
    await nc.close();
  },

  async 'next - basics, delivery count, deleted consumer'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit', ack_wait: pkg.nanos(30_000) });
    const c = await js.consumers.get('A', 'a');
    eq(await c.next({ expires: 1000 }), null, 'nothing');
    await js.publish('a.1', 'hi');
    const m = await c.next({ expires: 2000 });
    eq([m.subject, m.string(), m.info.deliveryCount, m.info.pending], ['a.1', 'hi', 1, 0], 'message');
    m.nak();
    eq((await c.next({ expires: 2000 })).info.deliveryCount, 2, 'delivery count');
    const pending = rejects(c.next({ expires: 5000 }), (e) => e instanceof pkg.JetStreamStatusError, 'deleted');
    await pullWaiting(jsm, 'A', 'a');
    await c.delete();
    const e = await pending;
    eq(e.message, 'consumer deleted', 'message');
    await nc.close();
  },

  // ---- consume -------------------------------------------------------------------------------------

  async 'consumers - consume, one pending is none, getReceived/getPending'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await Promise.all(Array.from({ length: 50 }, (_, i) => js.publish('a.x', `${i}`)));
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    const iter = await c.consume({ bind: true, max_messages: 1 });
    const seen = [];
    for await (const m of iter) {
      eq(iter.getPending(), 0, 'nothing buffered with max_messages 1');
      eq(iter.getReceived(), m.seq, 'received');
      seen.push(m.seq);
      m.ack();
      if (m.info.pending === 0) break;
    }
    eq(seen.length, 50, 'every message');
    eq(iter.getProcessed(), 50, 'processed');
    await nc.close();
  },

  async 'consume - refills past the batch size (threshold_messages)'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    const iter = await c.consume({ max_messages: 10, threshold_messages: 5, expires: 5000 });
    const pulls = [];
    (async () => {
      for await (const s of iter.status()) if (s.type === 'next') pulls.push(s.options.batch);
    })();
    const publishing = (async () => {
      for (let i = 0; i < 35; i++) await js.publish('a.x', `${i}`);
    })();
    let n = 0;
    for await (const m of iter) {
      m.ack();
      if (++n === 35) break;
    }
    await publishing;
    ok(pulls.length >= 4, `pulled more than once (${pulls})`);
    ok(pulls.every((b) => b >= 1 && b <= 10), `batches within max_messages (${pulls})`);
    await nc.close();
  },

  async 'consumers - consume callback, closed(), callback rejects iter'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    for (let i = 0; i < 5; i++) await js.publish('a.x', `${i}`);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    const got = [];
    let messages;
    const all = new Promise((resolve) => {
      c.consume({
        callback: (m) => {
          got.push(m.seq);
          m.ack();
          if (got.length === 5) resolve();
        },
      }).then((it) => (messages = it));
    });
    await all;
    await messages.close();
    eq(await messages.closed(), undefined, 'closed cleanly');
    eq(got, [1, 2, 3, 4, 5], 'callback got them in order');
    await rejects(
      async () => {
        for await (const _ of messages) break;
      },
      (e) => e instanceof pkg.InvalidOperationError && e.message === 'iterator cannot be used when a callback is registered',
      'no iterator with a callback',
    );
    await nc.close();
  },

  async 'consume - heartbeats are reported by status()'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    const iter = await c.consume({ expires: 2000, idle_heartbeat: 500 });
    const reading = drain(iter); // nats.js sends its pull requests from the message iterator
    for await (const s of iter.status()) {
      if (s.type === 'heartbeat') {
        eq([s.lastConsumerSequence, s.lastStreamSequence], [0, 0], 'heartbeat');
        break;
      }
    }
    iter.stop();
    await reading;
    await nc.close();
  },

  async 'consume - consumer deleted request abort / keeps going without abort'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    const aborting = await c.consume({ expires: 3000, abort_on_missing_resource: true });
    const done = rejects(drain(aborting), (e) => e instanceof pkg.JetStreamStatusError, 'abort');
    await pullWaiting(jsm, 'A', 'a');
    await c.delete();
    eq((await done).message, 'consumer deleted', 'message');

    await jsm.consumers.add('A', { durable_name: 'b', ack_policy: 'explicit' });
    const b = await js.consumers.get('A', 'b');
    const going = await b.consume({ expires: 3000 });
    const reading = drain(going);
    const notes = [];
    const deletedSeen = (async () => {
      for await (const s of going.status()) {
        notes.push(s.type);
        if (s.type === 'consumer_deleted') return;
      }
    })();
    await pullWaiting(jsm, 'A', 'b');
    await b.delete();
    await deletedSeen;
    eq(going.done, false, 'still running');
    going.stop();
    await reading;
    eq(await going.closed(), undefined, 'closed');
    await nc.close();
  },

  // ---- ordered consumers ---------------------------------------------------------------------------

  async 'ordered consumers - get, fetch, next, consume in order'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    for (let i = 1; i <= 10; i++) await js.publish(`a.${i % 2}`, `${i}`);
    const oc = await js.consumers.get('A');
    const info = await oc.info(true);
    eq([info.config.ack_policy, info.config.mem_storage, info.config.deliver_policy], ['none', true, 'by_start_sequence'], 'config');
    eq((await drain(await oc.fetch({ max_messages: 3, expires: 1000 }))).map((m) => m.seq), [1, 2, 3], 'fetch');
    eq((await oc.next({ expires: 1000 })).seq, 4, 'next');
    await rejects(oc.consume(), (e) => e instanceof pkg.InvalidOperationError, 'consume after fetch');
    const oc2 = await js.consumers.get('A', { filter_subjects: 'a.1' });
    const it = await oc2.consume();
    const seqs = [];
    for await (const m of it) {
      seqs.push(m.seq);
      if (m.info.pending === 0) break;
    }
    eq(seqs, [1, 3, 5, 7, 9], 'filtered consume');
    await rejects(oc2.consume(), (e) => e instanceof pkg.InvalidOperationError, 'second consume');
    await rejects(oc2.fetch(), (e) => e instanceof pkg.InvalidOperationError, 'fetch after consume');
    await rejects(js.consumers.get('A', {}).then((o) => o.fetch({ bind: true })), (e) => e instanceof pkg.InvalidArgumentError, 'bind is rejected');
    await rejects(js.consumers.get('NOPE'), (e) => e instanceof pkg.StreamNotFoundError, 'no stream');
    await nc.close();
  },

  async 'ordered consumers - deliver policies: last per subject, start sequence, last, new, start time'({ open }) {
    const { nc, js } = await setup(open);
    for (let i = 1; i <= 6; i++) await js.publish(`a.${i % 3}`, `${i}`);
    const seqs = async (opts) => (await drain(await (await js.consumers.get('A', opts)).fetch({ max_messages: 10, expires: 1000 }))).map((m) => m.seq);
    eq(await seqs({ deliver_policy: 'last_per_subject' }), [4, 5, 6], 'last per subject');
    eq(await seqs({ opt_start_seq: 5 }), [5, 6], 'start sequence');
    eq(await seqs({ deliver_policy: 'last' }), [6], 'last');
    const newer = await js.consumers.get('A', { deliver_policy: 'new' });
    await js.publish('a.0', 'later');
    eq((await drain(await newer.fetch({ max_messages: 10, expires: 1000 }))).map((m) => m.seq), [7], 'new');
    eq(await seqs({ opt_start_time: new Date(Date.now() - 60_000).toISOString() }), [1, 2, 3, 4, 5, 6, 7], 'start time');
    await nc.close();
  },

  async 'ordered consumers - consume reset: the consumer is recreated after the last delivery'({ open }) {
    const { nc, jsm, js } = await setup(open);
    for (let i = 1; i <= 3; i++) await js.publish('a.x', `${i}`);
    const oc = await js.consumers.get('A', { name_prefix: 'mine' });
    eq(oc.name, 'mine_1', 'name prefix');
    const it = await oc.consume({ expires: 2000 });
    const notes = [];
    (async () => {
      for await (const s of it.status()) notes.push(s);
    })();
    const seqs = [];
    for await (const m of it) {
      seqs.push(m.seq);
      if (m.seq === 3) {
        await jsm.consumers.delete('A', 'mine_1');
        for (let i = 4; i <= 6; i++) await js.publish('a.x', `${i}`);
      }
      if (m.seq === 6) break;
    }
    eq(seqs, [1, 2, 3, 4, 5, 6], 'no gap, no duplicate across the reset');
    ok(notes.some((n) => n.type === 'reset' && n.name === 'mine_1'), 'reset notified');
    ok(notes.some((n) => n.type === 'ordered_consumer_recreated' && n.name === 'mine_2'), 'recreated as mine_2');
    await nc.close();
  },

  async 'ordered consumers - fetch deleted consumer, then the next fetch resets'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    for (let i = 1; i <= 3; i++) await js.publish('a.x', `${i}`);
    const oc = await js.consumers.get('A', { name_prefix: 'f' });
    eq((await drain(await oc.fetch({ max_messages: 2, expires: 1000 }))).map((m) => m.seq), [1, 2], 'first');
    await jsm.consumers.delete('A', 'f_1');
    await rejects(async () => drain(await oc.fetch({ max_messages: 2, expires: 1000 })), (e) => /no responders/.test(e.message), 'fetch on the deleted consumer');
    // The next fetch recreates it (f_2) from the sequence after the last one delivered.
    eq((await drain(await oc.fetch({ max_messages: 5, expires: 1000 }))).map((m) => m.seq), [3], 'reset fetch');
    ok(oc.name !== 'f_1' && oc.name.startsWith('f_'), `recreated (${oc.name})`);
    await rejects(jsm.consumers.info('A', 'f_1'), (e) => e instanceof pkg.ConsumerNotFoundError, 'old one gone');
    await nc.close();
  },

  async 'consumers - getConsumerFromInfo, stream handle getConsumer/info(cached)/getMessage, isPullConsumer'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.1', 'one');
    const ci = await jsm.consumers.add('A', { durable_name: 'd', ack_policy: 'explicit' });
    const c = js.consumers.getConsumerFromInfo(ci);
    ok(pkg.isPullConsumer(c) && !pkg.isPushConsumer(c), 'pull consumer');
    eq((await c.next({ expires: 1000 })).string(), 'one', 'works');
    const s = await js.streams.get('A');
    eq(s.name, 'A', 'name');
    eq((await s.info(true)).state.messages, 1, 'cached info');
    eq((await s.getMessage({ seq: 1 })).string(), 'one', 'getMessage');
    eq(await s.alternates(), [], 'alternates');
    ok((await s.best()) === s, 'best is the stream itself');
    eq((await s.getConsumer('d')).name, 'd', 'getConsumer');
    ok((await s.getConsumer()).ordered, 'ordered getConsumer');
    eq(await s.deleteMessage(1), true, 'deleteMessage');
    await rejects(js.streams.get('NOPE'), (e) => e instanceof pkg.StreamNotFoundError, 'missing stream');
    await nc.close();
  },

  async 'contrail extras: addOrUpdate, consumers.names, redeliveryCount, JsMsg.json(reviver)'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.addOrUpdate('A', { durable_name: 'c', ack_policy: 'explicit' });
    eq((await jsm.consumers.addOrUpdate('A', { durable_name: 'c', ack_policy: 'explicit', max_deliver: 4 })).config.max_deliver, 4, 'addOrUpdate');
    eq(await drain(jsm.consumers.names('A')), ['c'], 'names');
    await js.publish('a.a', JSON.stringify({ when: 5 }));
    const m = await (await js.consumers.get('A', 'c')).next({ expires: 2000 });
    eq(m.info.redeliveryCount, m.info.deliveryCount, 'v2 alias');
    eq(m.json((k, v) => (k === 'when' ? v * 2 : v)), { when: 10 }, 'reviver');
    // Not provided: a clear error instead of a missing method.
    await rejects(js.consumers.getPushConsumer('A'), (e) => e instanceof pkg.InvalidOperationError, 'ordered push consumers');
    await rejects(jsm.consumers.pause('A', 'c', new Date()), (e) => e instanceof pkg.InvalidOperationError, 'pause');
    await rejects(jsm.direct.getBatch('A', { seq: 1, batch: 2 }), (e) => e instanceof pkg.InvalidOperationError, 'direct batch');
    await rejects(js.startBatch('a.x'), (e) => e instanceof pkg.InvalidOperationError, 'atomic batch');
    await nc.close();
  },

  async 'fetch / consume - connection close exits'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.1', '');
    await jsm.consumers.add('A', { durable_name: 'a', ack_policy: 'explicit' });
    const c = await js.consumers.get('A', 'a');
    const fetching = drain(await c.fetch({ expires: 30_000, max_messages: 10 }));
    const consuming = drain(await c.consume({ expires: 30_000 }));
    await pullWaiting(jsm, 'A', 'a');
    await nc.close();
    // Both iterators end, without an error, well before their 30 s pulls would expire.
    const started = Date.now();
    await Promise.all([fetching, consuming]);
    ok(Date.now() - started < 10_000, 'ended at close');
  },

  async 'ordered consumers - headers only, mem'({ open }) {
    const { nc, js } = await setup(open);
    const oc = await js.consumers.get('A', { headers_only: true });
    const ci = await oc.info();
    eq([ci.config.headers_only, ci.config.mem_storage, ci.config.ack_policy], [true, true, 'none'], 'config');
    await js.publish('a.1', 'payload');
    const m = await oc.next({ expires: 1000 });
    eq([m.data.length, m.headers?.get('Nats-Msg-Size')], [0, '7'], 'headers only');
    await nc.close();
  },

  async 'jsm - stream info subjects'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.1', '');
    await js.publish('a.1', '');
    await js.publish('a.2', '');
    await js.publish('a.x.y', '');
    const si = await jsm.streams.info('A', { subjects_filter: 'a.*' });
    eq(si.state.subjects, { 'a.1': 2, 'a.2': 1 }, 'subjects');
    eq((await jsm.streams.info('A', { subjects_filter: '>' })).state.num_subjects, 3, 'num_subjects');
    await nc.close();
  },

  async 'contrail extras: streams.infoPage reads one page of subjects'({ open }) {
    const { nc, jsm, js } = await setup(open);
    for (const subject of ['a.1', 'a.1', 'a.2', 'a.3', 'a.x.y']) await js.publish(subject, '');
    const first = await jsm.streams.infoPage('A', { subjects_filter: 'a.*' });
    eq([first.state.subjects, first.total, first.offset], [{ 'a.1': 2, 'a.2': 1, 'a.3': 1 }, 3, 0], 'first page');
    const rest = await jsm.streams.infoPage('A', { subjects_filter: 'a.*', offset: 2 });
    eq([rest.state.subjects, rest.total, rest.offset], [{ 'a.3': 1 }, 3, 2], 'from offset 2');
    eq(Object.keys((await jsm.streams.infoPage('A')).state.subjects).length, 4, 'every subject by default');
    await nc.close();
  },

  async 'jsm - advisories: stream and consumer created and deleted, as nats-server sends them'({ pkg, open }) {
    const nc = await open();
    const jsm = await nc.jetstreamManager();
    const seen = [];
    const reading = (async () => {
      for await (const a of jsm.advisories()) {
        if (a.kind === pkg.AdvisoryKind.API) continue; // nats-server audits every API request
        seen.push(a);
        if (seen.length === 4) break;
      }
    })();
    await nc.flush?.(); // a server has the subscription before the requests below
    await jsm.streams.add({ name: 'ADV', subjects: ['adv.>'] });
    await jsm.consumers.add('ADV', { durable_name: 'C', ack_policy: 'explicit' });
    await jsm.consumers.delete('ADV', 'C');
    await jsm.streams.delete('ADV');
    let timer;
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`advisories seen: ${JSON.stringify(seen)}`)), 10_000)));
    await Promise.race([reading, late]).finally(() => clearTimeout(timer));
    eq(seen.map((a) => [a.kind, a.data.action, a.data.stream, a.data.consumer ?? null]), [
      ['stream_action', 'create', 'ADV', null],
      ['consumer_action', 'create', 'ADV', 'C'],
      ['consumer_action', 'delete', 'ADV', 'C'],
      ['stream_action', 'delete', 'ADV', null],
    ], 'advisories');
    for (const a of seen) {
      eq(a.data.type, `io.nats.jetstream.advisory.v1.${a.kind}`, 'type');
      ok(typeof a.data.id === 'string' && a.data.id.length > 0, 'an id');
      ok(Math.abs(Date.parse(a.data.timestamp) - Date.now()) < 60_000, `a timestamp of now: ${a.data.timestamp}`);
    }
    await nc.close();
  },

  async 'push consumers - consume, ack, heartbeats, flow control, already started'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', {
      durable_name: 'p',
      deliver_subject: 'deliver.p',
      ack_policy: pkg.AckPolicy.Explicit,
      idle_heartbeat: pkg.nanos(500),
      flow_control: true,
    });
    for (let i = 1; i <= 5; i++) await js.publish('a.x', `${i}`);
    const pc = await js.consumers.getPushConsumer('A', 'p');
    ok(pkg.isPushConsumer(pc) && !pkg.isPullConsumer(pc), 'push consumer');
    const iter = await pc.consume();
    await rejects(pc.consume(), (e) => e instanceof pkg.InvalidOperationError, 'already started');
    const seen = [];
    for await (const m of iter) {
      seen.push(m.string());
      m.ack();
      // Counted, not read off `info.pending`: nats-server 2.14 once delivered the fourth of
      // five with pending 0 to this push consumer (created before the publishes).
      if (seen.length === 5) break;
    }
    eq(seen, ['1', '2', '3', '4', '5'], 'pushed in order');
    await rejects(js.consumers.getPushConsumer('A', 'nope'), (e) => e instanceof pkg.ConsumerNotFoundError, 'missing');
    await jsm.consumers.add('A', { durable_name: 'pull', ack_policy: 'explicit' });
    await rejects(js.consumers.getPushConsumer('A', 'pull'), (e) => /not a push consumer/.test(e.message), 'pull consumer');
    await iter.closed();
    const again = await pc.consume();
    await js.publish('a.x', '6');
    for await (const m of again) {
      eq([m.string(), m.info.deliveryCount], ['6', 1], 'the next one, and no acked one again');
      break;
    }
    await nc.close();
  },

  async 'push consumers - bound push consumer, heartbeats'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open);
    await jsm.consumers.add('A', {
      durable_name: 'b',
      deliver_subject: 'deliver.b',
      ack_policy: pkg.AckPolicy.None,
      idle_heartbeat: pkg.nanos(500),
      flow_control: true,
    });
    const bound = await js.consumers.getBoundPushConsumer({ deliver_subject: 'deliver.b' });
    await rejects(bound.info(), (e) => e instanceof pkg.InvalidOperationError, 'no info');
    const iter = await bound.consume();
    const heartbeat = (async () => {
      for await (const s of iter.status()) if (s.type === 'heartbeat') return s;
    })();
    const reading = (async () => {
      for await (const m of iter) return m.string();
    })();
    eq((await heartbeat).type, 'heartbeat', 'idle heartbeat reported');
    await js.publish('a.1', 'hello');
    eq(await reading, 'hello', 'pushed');
    await nc.close();
  },

  async 'jetstream - seal, deny delete, deny purge'({ open }) {
    const { nc, jsm, js } = await setup(open);
    await js.publish('a.1', 'hello');
    await js.publish('a.1', 'second');
    const si = await jsm.streams.info('A');
    eq([si.config.sealed, si.config.deny_purge, si.config.deny_delete, si.config.allow_rollup_hdrs], [false, false, false, false], 'flags');
    eq(await jsm.streams.deleteMessage('A', 1), true, 'delete before sealing');
    const sealed = await jsm.streams.update('A', { ...si.config, sealed: true });
    eq(sealed.config.sealed, true, 'sealed');
    const e = await rejects(jsm.streams.deleteMessage('A', 2), null, 'delete on sealed');
    ok(/invalid operation on sealed stream/.test(e.message), e.message);
    await jsm.streams.add({ name: 'D', subjects: ['d.>'], deny_delete: true, deny_purge: true });
    await js.publish('d.1', '');
    ok(/message delete not permitted/.test((await rejects(jsm.streams.deleteMessage('D', 1), null, 'deny delete')).message), 'deny delete');
    ok(/stream purge not permitted/.test((await rejects(jsm.streams.purge('D'), null, 'deny purge')).message), 'deny purge');
    await nc.close();
  },

  async 'jetstream - rollup all, rollup subject, no rollup'({ pkg, open }) {
    const { nc, jsm, js } = await setup(open, { name: 'A', subjects: ['a.*'], allow_rollup_hdrs: true });
    for (let i = 1; i <= 10; i++) await js.publish(i % 2 ? 'a.odd' : 'a.even', JSON.stringify({ i }));
    const sub = pkg.headers();
    sub.set(pkg.JsHeaders.RollupHdr, pkg.JsHeaders.RollupValueSubject);
    await js.publish('a.odd', JSON.stringify({ i: 'odd' }), { headers: sub });
    eq((await jsm.streams.info('A')).state.messages, 6, 'rollup subject: 5 even + 1 odd');
    const all = pkg.headers();
    all.set(pkg.JsHeaders.RollupHdr, pkg.JsHeaders.RollupValueAll);
    await js.publish('a.summary', JSON.stringify({ value: 42 }), { headers: all });
    eq((await jsm.streams.info('A')).state.messages, 1, 'rollup all');
    await jsm.streams.add({ name: 'N', subjects: ['n.*'] });
    const e = await rejects(js.publish('n.a', 'x', { headers: sub }), (e) => e instanceof pkg.JetStreamApiError, 'no rollup');
    ok(/rollup not permitted/.test(e.message), e.message);
    await nc.close();
  },
};
