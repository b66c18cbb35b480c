// Uses the package's API as its types say, so `tsc --noEmit` (scripts/test-wasm) fails when
// pkg/index.d.ts and the names nats.js v3 users write drift apart. Never run, only checked.
import {
  AckPolicy,
  PubSubConsumer,
  Publisher,
  PubSubConfigError,
  isRetryable,
  type ConsumerDecision,
  Kvm,
  Objm,
  type ObjectInfo,
  KvWatchInclude,
  type KV,
  type KvEntry,
  type KvStatus,
  ConsumerApiAction,
  DeliverPolicy,
  InvalidArgumentError,
  JetStreamApiError,
  JetStreamStatusError,
  JsHeaders,
  PubHeaders,
  StorageType,
  headers,
  isPullConsumer,
  jetstream,
  jetstreamManager,
  nanos,
  open,
  connect,
  DrainingConnectionError,
  errors,
  type ConsumerInfo,
  type ConsumerMessages,
  type JsMsg,
  type PubAck,
  type StoredMsg,
  type StreamInfo,
  type Upload,
  type UploadStatus,
  type Attachment,
  type Mirror,
  type MirrorStatus,
} from 'contrail';

export async function check(): Promise<void> {
  const nc = await open({ name: 'types' });
  const upload: Upload = await nc.sync(await connect({ servers: 'ws://localhost:8080' }), {
    stream: 'S',
    to: 'REMOTE',
    subjectPrefix: 'up.',
    window: 64,
  });
  const us: UploadStatus = await upload.caughtUp();
  const pendingUploads: number = us.pending + upload.status().cursor;
  for await (const change of upload.events()) if (change.lastError) upload.pause();
  upload.resume();
  upload.stop();
  const offline: Upload = await nc.sync('ws://localhost:8080', { stream: 'S', to: 'REMOTE' });
  const recorded: Upload[] = await nc.uploads();
  const resumed: Upload[] = await nc.uploads(await connect({ servers: 'ws://localhost:8080' }));
  const where: string | null = recorded[0].status().server;
  const reconnects: number = resumed[0].status().reconnects;
  await offline.forget();
  // Several tabs: a follower lists and steers the writer's uploads; a takeover dials with `connect`.
  const shared = await open({ name: 'types', connect: (server) => connect({ servers: server, token: 't', maxReconnectAttempts: -1 }) });
  const solo = await open({ name: 'types-solo', connect: false });
  const seen: Upload[] = await shared.uploads();
  for await (const s of seen[0].events()) if (s.paused) seen[0].resume();
  void solo;
  const hub: Attachment = await nc.attach(await connect({ servers: 'ws://localhost:8080' }), { domain: 'hub', api: '$JS.API' });
  const routed: string = hub.api + hub.remoteApi;
  hub.detach();
  // Local mirrors' status, in the writer or a follower tab.
  const mirrors: Mirror[] = await shared.mirrors();
  const ms: MirrorStatus = mirrors[0].status();
  const behind: number = ms.lag + ms.lastSeq + (ms.active ?? 0);
  const down: boolean = !ms.online && ms.error !== null && ms.server !== null && ms.api !== null;
  for await (const s of mirrors[0].events()) if (s.lag === 0) break;
  void behind, down;
  const jsm = await jetstreamManager(nc, { timeout: 1000 });
  const si: StreamInfo = await jsm.streams.add({ name: 'S', subjects: ['s.>'], storage: StorageType.File });
  const names: string[] = await jsm.streams.names().next();
  const found: string = await jsm.streams.find('s.x');
  const sm: StoredMsg | null = await jsm.streams.getMessage('S', { seq: 1 });
  const when: string | undefined = sm?.timestamp;
  const ci: ConsumerInfo = await jsm.consumers.add(
    'S',
    { durable_name: 'd', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(1000) },
    { action: ConsumerApiAction.Create },
  );
  await jsm.consumers.update('S', 'd', { max_deliver: 3 });
  const direct = await jsm.direct.getMessage('S', { last_by_subj: 's.x' });
  const directSeq: number | undefined = direct?.seq;

  const js = jetstream(nc);
  const h = headers();
  h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
  const ack: PubAck = await js.publish('s.x', 'data', {
    msgID: 'a',
    headers: h,
    timeout: 1000,
    retries: 2,
    expect: { lastSubjectSequence: 0, lastSubjectSequenceSubject: 's.*' },
  });
  const c = await js.consumers.get('S', 'd');
  if (!isPullConsumer(c)) return;
  const m: JsMsg | null = await c.next({ expires: 1000 });
  if (m) {
    const n: bigint = m.timestampNanos;
    const count: number = m.info.deliveryCount;
    const t: Date = m.time;
    const body = m.json<{ id: number }>((_k, v) => v);
    await m.ackAck({ timeout: 500 });
    void [n, count, t, body.id];
  }
  const it: ConsumerMessages = await c.consume({ max_messages: 10, threshold_messages: 5, callback: (msg) => msg.ack() });
  for await (const s of it.status()) {
    if (s.type === 'heartbeat') void s.lastStreamSequence;
    if (s.type === 'consumer_deleted') void s.description;
  }
  const closed: void | Error = await it.closed();
  const ordered = await js.consumers.get('S', { filter_subjects: ['s.>'], deliver_policy: DeliverPolicy.New });
  for await (const om of await ordered.fetch({ max_messages: 5, expires: 1000 })) om.ack();
  const stream = await js.streams.get('S');
  const cached: StreamInfo = await stream.info(true);
  try {
    await js.publish('s.x', 'x', { expect: { lastSequence: 1 } });
  } catch (e) {
    if (e instanceof JetStreamApiError) void [e.code, e.status, e.apiError().description];
    if (e instanceof JetStreamStatusError || e instanceof InvalidArgumentError) void e.message;
  }
  void [si, names, found, when, ci, directSeq, ack, closed, cached, PubHeaders.MsgIdHdr, where, reconnects];
  await checkKv(nc);
  await checkObj(nc);
  await checkPubSub(nc);
  await nc.close();
}

/** The KV API as @nats-io/kv v3 users write it. */
async function checkKv(nc: Awaited<ReturnType<typeof open>>): Promise<void> {
  const kvm = new Kvm(jetstream(nc));
  const kv: KV = await kvm.create('settings', { history: 5, ttl: 60_000, storage: StorageType.File, maxValueSize: 1024 });
  const rev: number = await kv.put('theme', 'dark');
  await kv.update('theme', 'light', rev);
  await kv.create('lang', new Uint8Array([1]));
  const e: KvEntry | null = await kv.get('theme', { revision: rev });
  if (e) void [e.string(), e.json<{ x: number }>().x, e.operation === 'DEL', e.created.getTime(), e.delta];
  for await (const k of await kv.keys(['theme', 'la*'])) void k.length;
  const w = await kv.watch({ key: 'theme', include: KvWatchInclude.UpdatesOnly, ignoreDeletes: true, headers_only: false });
  for await (const we of w) if (we.isUpdate) w.stop();
  for await (const he of await kv.history({ key: 'theme' })) void he.revision;
  await kv.delete('theme', { previousSeq: 2 });
  await kv.purge('lang');
  const st: KvStatus = await kv.status();
  void [st.values, st.history, st.size, st.streamInfo.config.name];
  for await (const s of kvm.list()) void s.bucket;
  const opened: KV = await new Kvm(nc).open('settings');
  await opened.destroy();
}

/** The object store API as @nats-io/obj v3 users write it. */
async function checkObj(nc: Awaited<ReturnType<typeof open>>): Promise<void> {
  const objm = new Objm(jetstream(nc));
  const os = await objm.create('files', { description: 'd', storage: StorageType.File, ttl: nanos(60_000) });
  const rs = new ReadableStream<Uint8Array>({ pull: (c) => c.close() });
  const oi: ObjectInfo = await os.put({ name: 'a.txt', options: { max_chunk_size: 1024 } }, rs, { previousRevision: 0 });
  await os.putBlob({ name: 'b', metadata: { k: 'v' } }, new Uint8Array(3));
  const r = await os.get('a.txt');
  if (r) {
    const reader = r.data.getReader();
    for (let x = await reader.read(); !x.done; x = await reader.read()) void x.value.length;
    const err: Error | null = await r.error;
    void [err, r.info.digest];
  }
  const blob: Uint8Array | null = await os.getBlob('b');
  for (const i of await os.list()) void [i.name, i.size, i.isUpdate];
  const w = await os.watch({ includeHistory: true });
  for await (const i of w) if (i.deleted) w.stop();
  await os.link('ref', oi);
  await os.update('b', { description: 'renamed', name: 'c' });
  const pr = await os.delete('c');
  const st = await os.status();
  void [blob, pr.purged, st.sealed, st.size, oi.isLink()];
  for await (const s of objm.list()) void s.bucket;
  await (await objm.open('files')).destroy();
}

/** The Publisher and Consumer of pubsub.js as an app writes them. */
async function checkPubSub(nc: Awaited<ReturnType<typeof open>>): Promise<void> {
  const pub = new Publisher(nc, {
    stream: 'ORDERS',
    subjectPrefix: 'orders',
    streamConfig: { storage: StorageType.File },
    retries: 3,
    backoff: { initialMs: 10, maxMs: 500 },
    onPublish: (subject: string, error: Error | null, ms: number) => void [subject, error?.message, ms],
    onRetry: async (_s, e, attempt) => void [e.name, attempt],
  });
  await pub.ensureStream();
  const h = headers();
  h.set('X-Trace', '1');
  const ack: PubAck = await pub.publish('created', 'x', { msgID: 'a', headers: h, expect: { lastSequence: 0 } });
  void [ack.seq, pub.subjectFor('paid'), pub.stream];
  try {
    await new Publisher(jetstream(nc), { stream: 'ORDERS', subjectPrefix: 'billing' }).publish('x');
  } catch (e) {
    if (e instanceof PubSubConfigError) void e.message;
    else if (isRetryable(e)) void e;
  }
  const c = new PubSubConsumer(nc, { stream: 'ORDERS', durable: 'w', filter: 'orders.>', bufferSize: 8, ackWait: 30_000, maxDeliver: 5 });
  for await (const m of c) {
    m.ack();
    if (c.taken > 8 || c.buffered > 7) break;
  }
  const decide = (m: JsMsg): ConsumerDecision => (m.redelivered ? 'term' : m.seq % 2 ? { nak: 100 } : 'ack');
  const handled: Promise<void> = c.handle(async (m) => decide(m), { onError: (e, m) => void [e, m.seq] });
  await c.shutdown();
  c.stop();
  await handled;
}

// JetStream over a remote connection: the same client and manager classes as a local engine's.
async function remoteJetStream(): Promise<void> {
  const nc = await connect({ servers: 'ws://127.0.0.1:8080' });
  const jsm = await nc.jetstreamManager({ checkAPI: false });
  await jsm.streams.add({ name: 'A', subjects: ['a.>'] });
  const js = nc.jetstream({ domain: 'hub', timeout: 2000 });
  const ack = await js.publish('a.1', 'x');
  const seq: number = ack.seq;
  const kv = await new Kvm(js).create('K');
  await kv.put('k', String(seq));
  await nc.close();
}
void remoteJetStream;

// A clean shutdown as nats-core v3 apps write it (`pagehide`): drain a subscription, then the
// connection; DrainingConnectionError is what publish/subscribe throw meanwhile.
async function remoteDrain(): Promise<void> {
  const nc = await connect({ servers: 'ws://127.0.0.1:8080' });
  const sub = nc.subscribe('a');
  const subDrained: Promise<void> = sub.drain();
  const subDraining: boolean = sub.isDraining();
  const drained: Promise<void> = nc.drain();
  const draining: boolean = nc.isDraining();
  try {
    nc.subscribe('b');
  } catch (e) {
    const refused: boolean = e instanceof DrainingConnectionError || e instanceof errors.DrainingConnectionError;
    void refused;
  }
  await Promise.all([subDrained, drained]);
  const why: void | Error = await nc.closed();
  void [subDraining, draining, why];
}
void remoteDrain;

// Explicit resource management, as nats-core v3 allows it: a database, a connection and a
// subscription released when the scope ends (close, drain, drain).
async function scoped(): Promise<void> {
  await using db = await open({ name: 'scoped' });
  await using nc = await connect({ servers: 'ws://127.0.0.1:8080' });
  await using sub = nc.subscribe('a');
  const dispose: () => Promise<void> = db[Symbol.asyncDispose];
  void [sub.getSubject(), dispose];
}
void scoped;
