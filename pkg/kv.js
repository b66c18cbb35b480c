// Key-Value buckets, shaped like @nats-io/kv v3: `Kvm` creates, opens and lists buckets; a bucket
// (`Bucket`, the `KV` of nats.js) puts, gets, creates, updates, deletes, purges, lists keys, walks
// history and watches.
//
// A bucket is a stream kept the way nats-server's clients keep one, so official clients read a
// local bucket and a local bucket can later be mirrored to or from a server: stream `KV_<bucket>`
// capturing `$KV.<bucket>.>`, one subject per key, `max_msgs_per_subject` = history, discard new,
// rollups allowed (a purge is a `KV-Operation: PURGE` message with `Nats-Rollup: sub`), deletes
// are `KV-Operation: DEL` markers. Everything goes through the package's own JetStream client and
// manager, so a bucket works over the local engine and over a remote connection alike: reads use
// direct gets (`allow_direct`), watches, history and key listings use ordered consumers.
//
// Per-key TTLs (`create(k, v, markerTTL)`, `purge(k, { ttl })`, the bucket's `markerTTL`) are sent
// as nats.js sends them (`Nats-TTL`, `allow_msg_ttl`, `subject_delete_marker_ttl`); the engine
// expires the key and stores its `Nats-Marker-Reason: MaxAge` marker, which reads as a PURGE.
import { DeliverPolicy, DiscardPolicy, JsHeaders, PubHeaders, RetentionPolicy, StorageType, StoreCompression } from './enums.js';
import { InvalidArgumentError, JetStreamApiCodes, JetStreamApiError, StreamNotFoundError } from './errors.js';
import { MsgHdrs } from './headers.js';
import { Queue, millis, nanos, td, toBytes } from './util.js';

/** The stream name prefix of a bucket. */
export const kvPrefix = 'KV_';
/** The header that marks a delete (`DEL`) or purge (`PURGE`). */
export const kvOperationHdr = 'KV-Operation';
/** The most history a bucket keeps per key (as the Go client and the nats CLI limit it). */
export const kvMaxHistory = 64;

/** What a watch starts with (v3's `KvWatchInclude`). */
export const KvWatchInclude = Object.freeze({ LastValue: '', AllHistory: 'history', UpdatesOnly: 'updates' });

const validKey = /^[-/=.\w]+$/;
const validSearchKey = /^[-/=.>*\w]+$/;
const validBucket = /^[-\w]+$/;

/** A key as nats.js accepts it: `[-/=.\w]`, not starting or ending with `.`. */
export function validateKey(k) {
  if (typeof k !== 'string' || k.startsWith('.') || k.endsWith('.') || !validKey.test(k)) {
    throw new InvalidArgumentError(`invalid key: ${k}`);
  }
}

/** A key filter: a key that may hold `*` and `>` tokens, no empty token. */
export function validateSearchKey(k) {
  if (typeof k !== 'string' || k.startsWith('.') || k.endsWith('.') || k.includes('..') || !validSearchKey.test(k)) {
    throw new InvalidArgumentError(`invalid key: ${k}`);
  }
}

/** True when the filter `k` has a wildcard token (`>` only last). */
export function hasWildcards(k) {
  if (k.startsWith('.') || k.endsWith('.')) throw new InvalidArgumentError(`invalid key: ${k}`);
  const tokens = k.split('.');
  let wild = false;
  tokens.forEach((t, i) => {
    if (t === '*') wild = true;
    if (t === '>') {
      if (i !== tokens.length - 1) throw new InvalidArgumentError(`invalid key: ${k}`);
      wild = true;
    }
  });
  return wild;
}

/** A bucket name: letters, digits, `_` and `-`. */
export function validateBucket(name) {
  if (typeof name !== 'string' || !validBucket.test(name)) throw new InvalidArgumentError(`invalid bucket name: ${name}`);
}

/** Keys and values stored as given. */
export function NoopKvCodecs() {
  return {
    key: { encode: (k) => k, decode: (k) => k },
    value: { encode: (v) => toBytes(v), decode: (v) => v },
  };
}

/** Each key token stored base64-encoded (wildcard tokens kept), as nats.js's `Base64KeyCodec`. */
export function Base64KeyCodec() {
  const each = (key, f) =>
    key
      .split('.')
      .map((t) => (t === '*' || t === '>' ? t : f(t)))
      .join('.');
  return { encode: (k) => each(k, btoa), decode: (k) => each(k, atob) };
}

/** nats.js's defaults for a new bucket. */
export function defaultBucketOpts() {
  return { replicas: 1, history: 1, timeout: 2000, max_bytes: -1, maxValueSize: -1, codec: NoopKvCodecs(), storage: StorageType.File };
}

/** `client` may be an engine, a remote connection or a JetStream client. */
function toJetStream(client) {
  if (client && typeof client.publish === 'function' && client.consumers) return client;
  if (client && typeof client.jetstream === 'function') return client.jetstream();
  throw new InvalidArgumentError('Kvm needs a JetStream client or a connection');
}

/** Creates, opens and lists buckets (v3's `Kvm`). */
export class Kvm {
  /** @param client an engine (`open()`), a remote connection, or a JetStream client. */
  constructor(client) {
    this.js = toJetStream(client);
  }
  /** The bucket `name`, created with `opts` when it does not exist (an existing one is opened as it is). */
  create(name, opts = {}) {
    return opts.bindOnly ? Bucket.bind(this.js, name, opts) : Bucket.create(this.js, name, opts);
  }
  /** The bucket `name`, with no request: calls on it fail if it does not exist. */
  open(name, opts = {}) {
    return Bucket.bind(this.js, name, { ...opts, bindOnly: true });
  }
  /** The status of every bucket, paged like the streams it lists. */
  list() {
    const streams = (async () => (await this.js.jetstreamManager()).streams.list())();
    return new StatusLister(streams);
  }
}

/** The buckets among the streams (`KV_*`), as `KvStatus`, with `next()` pages and `for await`. */
class StatusLister {
  #streams;
  constructor(streams) {
    this.#streams = streams;
  }
  /** The next non-empty page of bucket statuses; `[]` when every stream was seen. */
  async next() {
    const streams = await this.#streams;
    for (;;) {
      const page = await streams.next();
      if (page.length === 0) return [];
      const kvs = page.filter((si) => si.config.name.startsWith(kvPrefix)).map((si) => new KvStatus(si));
      if (kvs.length) return kvs;
    }
  }
  async *[Symbol.asyncIterator]() {
    for (let page = await this.next(); page.length > 0; page = await this.next()) yield* page;
  }
}

/** A bucket (v3's `KV`). */
export class Bucket {
  constructor(bucket, js, jsm) {
    validateBucket(bucket);
    this.js = js;
    this.jsm = jsm;
    this.bucket = bucket;
    this.stream = `${kvPrefix}${bucket}`;
    this.prefix = `$KV.${bucket}`;
    this.direct = false;
    this.codec = NoopKvCodecs();
  }

  /** Opens the bucket, creating its stream first when there is none. */
  static async create(js, name, opts = {}) {
    validateBucket(name);
    const bucket = new Bucket(name, js, await js.jetstreamManager());
    await bucket.#init(opts);
    return bucket;
  }

  /** The bucket as named, without asking whether it exists. */
  static async bind(js, name, opts = {}) {
    validateBucket(name);
    const bucket = new Bucket(name, js, await js.jetstreamManager());
    if (opts.streamName) bucket.stream = opts.streamName;
    bucket.codec = opts.codec ?? NoopKvCodecs();
    bucket.direct = opts.allow_direct ?? false;
    return bucket;
  }

  /** The stream config of a new bucket, as nats.js (and the Go client) write it. */
  #config(opts) {
    const o = { ...defaultBucketOpts(), ...opts };
    const history = o.history;
    if (!Number.isInteger(history) || history < 1 || history > kvMaxHistory) {
      throw InvalidArgumentError.format('history', `must be between 1 and ${kvMaxHistory}`);
    }
    const sc = {
      name: this.stream,
      subjects: [`${this.prefix}.>`],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: history,
      max_bytes: o.max_bytes || -1,
      max_msg_size: o.maxValueSize,
      storage: o.storage,
      discard: DiscardPolicy.New,
      num_replicas: o.replicas,
      allow_rollup_hdrs: true,
      deny_delete: true,
      allow_direct: typeof o.allow_direct === 'boolean' ? o.allow_direct : true,
    };
    if (o.ttl) sc.max_age = nanos(o.ttl);
    if (o.description) sc.description = o.description;
    if (o.placement) sc.placement = o.placement;
    if (o.republish) sc.republish = o.republish;
    if (o.metadata) sc.metadata = o.metadata;
    if (typeof o.compression === 'boolean') sc.compression = o.compression ? StoreCompression.S2 : StoreCompression.None;
    if (o.markerTTL) {
      sc.allow_msg_ttl = true;
      sc.subject_delete_marker_ttl = nanos(o.markerTTL);
    }
    if (o.mirror || o.sources) throw new InvalidArgumentError('mirrored and sourced buckets are not supported by this package yet');
    return sc;
  }

  async #init(opts) {
    if (opts.streamName) this.stream = opts.streamName;
    this.codec = opts.codec ?? NoopKvCodecs();
    const sc = this.#config(opts);
    let info;
    try {
      info = await this.jsm.streams.info(this.stream);
    } catch (e) {
      if (!(e instanceof StreamNotFoundError)) throw e;
      info = await this.jsm.streams.add(sc);
    }
    // A client that asks for direct gets uses them only where the bucket allows them.
    this.direct = sc.allow_direct && info.config.allow_direct === true;
  }

  /** The bucket's stream name. */
  bucketName() {
    return this.stream;
  }
  /** The subject of (encoded) key `k`. */
  subjectForKey(k) {
    return `${this.prefix}.${k}`;
  }
  /** Encodes each token of `key` with the key codec, wildcards kept. */
  encodeKey(key) {
    return key
      .split('.')
      .map((t) => (t === '*' || t === '>' ? t : this.codec.key.encode(t)))
      .join('.');
  }
  /** Decodes each token of a stored key. */
  decodeKey(ekey) {
    return ekey
      .split('.')
      .map((t) => (t === '*' || t === '>' ? t : this.codec.key.decode(t)))
      .join('.');
  }
  /** Nothing to release: watches are stopped one by one. */
  close() {
    return Promise.resolve();
  }

  /** The entry of a message read from the stream (`getMessage` or a direct get). */
  #storedEntry(sm) {
    return new KvEntry(this, sm.subject, sm.seq, sm.data, sm.header, sm.time, 0);
  }
  /** The entry of a message a watch or history delivered. */
  #deliveredEntry(m, isUpdate) {
    const e = new KvEntry(this, m.subject, m.seq, m.data, m.headers, m.time, m.info.pending);
    e.isUpdate = isUpdate;
    return e;
  }

  /** Publishes a value (or a marker) to key `k`; resolves to its revision. */
  async #publish(k, data, headers, timeout) {
    const ek = this.encodeKey(k);
    validateKey(ek);
    const opts = { timeout };
    if (headers && headers.size) opts.headers = headers;
    const pa = await this.js.publish(this.subjectForKey(ek), data, opts);
    return pa.seq;
  }

  /** Sets `k` to `data`; with `previousSeq`, only while the key's last revision is that one. */
  put(k, data, opts = {}) {
    const h = new MsgHdrs();
    if (opts.previousSeq !== undefined) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, `${opts.previousSeq}`);
    let bytes;
    try {
      bytes = this.codec.value.encode(data);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#publish(k, bytes, h, opts.timeout);
  }

  /**
   * Sets `k` only if it has no value: fails with "wrong last sequence" when it has one; a deleted
   * or purged key is created again (over its marker's revision), as nats.js does.
   */
  async create(k, data, markerTTL) {
    const h = (rev) => {
      const hs = new MsgHdrs();
      hs.set(PubHeaders.ExpectedLastSubjectSequenceHdr, `${rev}`);
      if (markerTTL) hs.set(PubHeaders.MessageTTL, markerTTL);
      return hs;
    };
    const bytes = this.codec.value.encode(data);
    try {
      return await this.#publish(k, bytes, h(0));
    } catch (err) {
      const wrongSeq = [JetStreamApiCodes.StreamWrongLastSequence, JetStreamApiCodes.StreamWrongLastSequenceUnknown];
      if (!(err instanceof JetStreamApiError) || !wrongSeq.includes(err.code)) throw err;
      const e = await this.get(k);
      if (e?.operation !== 'DEL' && e?.operation !== 'PURGE') throw err;
      return this.#publish(k, bytes, h(e.revision));
    }
  }

  /** Sets `k` only while its last revision is `version`. */
  update(k, data, version, timeout) {
    if (!(version > 0)) throw new InvalidArgumentError('version must be greater than 0');
    return this.put(k, data, { previousSeq: version, timeout });
  }

  /** The latest entry of `k` (a DEL/PURGE marker too), or the one at `revision`; null when none. */
  async get(k, opts) {
    const ek = this.encodeKey(k);
    validateKey(ek);
    const query = opts?.revision > 0 ? { seq: opts.revision } : { last_by_subj: this.subjectForKey(ek) };
    const sm = this.direct ? await this.jsm.direct.getMessage(this.stream, query) : await this.jsm.streams.getMessage(this.stream, query);
    if (sm === null || sm.subject !== this.subjectForKey(ek)) return null;
    return this.#storedEntry(sm);
  }

  /** Marks `k` deleted (a DEL marker; its history stays); a wildcard deletes every matching key. */
  delete(k, opts) {
    return this.#deleteOrPurge(k, 'DEL', opts);
  }
  /** Drops `k`'s history, leaving one PURGE marker (a rollup); a wildcard purges every matching key. */
  purge(k, opts) {
    return this.#deleteOrPurge(k, 'PURGE', opts);
  }
  /** `purge(k)`. */
  remove(k) {
    return this.purge(k);
  }

  async #deleteOrPurge(k, op, opts) {
    if (!hasWildcards(k)) return this.#marker(k, op, opts);
    const batch = [];
    for await (const key of await this.keys(k)) {
      batch.push(this.#marker(key, op));
      if (batch.length === 100) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
  }

  #marker(k, op, opts) {
    const h = new MsgHdrs();
    h.set(kvOperationHdr, op);
    if (op === 'PURGE') {
      h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
      if (typeof opts?.ttl === 'string' && opts.ttl !== '') h.set(PubHeaders.MessageTTL, opts.ttl);
    }
    if (opts?.previousSeq) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, `${opts.previousSeq}`);
    return this.#publish(k, new Uint8Array(0), h).then(() => undefined);
  }

  /**
   * Removes delete and purge markers: those older than `olderMillis` (default 30 minutes) with
   * everything before them, younger ones keeping just the marker.
   */
  async purgeDeletes(olderMillis = 30 * 60 * 1000) {
    const markers = [];
    for await (const e of await this.history({ key: '>' })) {
      if (e.operation === 'DEL' || e.operation === 'PURGE') markers.push(e);
    }
    const oldest = Date.now() - olderMillis;
    let purged = 0;
    for (const e of markers) {
      const filter = this.subjectForKey(this.encodeKey(e.key));
      const keep = e.created.getTime() >= oldest ? 1 : 0;
      purged += (await this.jsm.streams.purge(this.stream, { filter, keep })).purged;
    }
    return { success: true, purged };
  }

  /** Purges the bucket's stream (every key, every revision). */
  purgeBucket(opts) {
    return this.jsm.streams.purge(this.stream, opts);
  }
  /** Deletes the bucket's stream. */
  destroy() {
    return this.jsm.streams.delete(this.stream);
  }
  /** The bucket's status, from its StreamInfo. */
  async status() {
    return new KvStatus(await this.jsm.streams.info(this.stream));
  }

  /** The ordered consumer config of a watch over `keys` from `include`. */
  #consumerOpts(keys, include, headersOnly) {
    const filters = (Array.isArray(keys) ? keys : [keys]).map((k) => {
      validateSearchKey(k);
      return this.subjectForKey(this.encodeKey(k));
    });
    const deliver_policy = {
      [KvWatchInclude.AllHistory]: DeliverPolicy.All,
      [KvWatchInclude.UpdatesOnly]: DeliverPolicy.New,
    }[include] ?? DeliverPolicy.LastPerSubject;
    const opts = { deliver_policy, filter_subjects: filters.length === 1 ? filters[0] : filters };
    if (headersOnly) opts.headers_only = true;
    return opts;
  }

  /**
   * Every entry up to now of the keys matching `opts.key` (default all), oldest first; the
   * iterator ends after the last one.
   */
  async history(opts = {}) {
    const oc = await this.js.consumers.get(this.stream, this.#consumerOpts(opts.key ?? '>', KvWatchInclude.AllHistory, opts.headers_only));
    return this.#walk(oc, (m, out) => out.push(this.#deliveredEntry(m, false)));
  }

  /** Every key (matching `filter`) whose last entry is a value, not a marker; ends after the last. */
  async keys(filter = '>') {
    const oc = await this.js.consumers.get(this.stream, this.#consumerOpts(filter, KvWatchInclude.LastValue, true));
    return this.#walk(oc, (m, out) => {
      const op = m.headers?.get(kvOperationHdr);
      if (op !== 'DEL' && op !== 'PURGE') out.push(this.decodeKey(m.subject.slice(this.prefix.length + 1)));
    });
  }

  /** An iterator over what ordered consumer `oc` holds now, ending at its last message. */
  async #walk(oc, take) {
    const it = new KvIterator(oc);
    if ((await oc.info(true)).num_pending === 0) {
      it.stop();
      return it;
    }
    it._start(await oc.consume({
      callback: (m) => {
        take(m, it);
        if (m.info.pending === 0) it.stop();
      },
    }));
    return it;
  }

  /**
   * Entries as they change: first the current value of each key matching `opts.key` (or all of
   * its history with `include: "history"`, or nothing with `"updates"`), then every change, until
   * `stop()`. `isUpdate` is false for the entries that were there when the watch began.
   */
  async watch(opts = {}) {
    const include = opts.include === KvWatchInclude.AllHistory || opts.include === KvWatchInclude.UpdatesOnly ? opts.include : KvWatchInclude.LastValue;
    const co = this.#consumerOpts(opts.key ?? '>', include, opts.headers_only);
    if (opts.resumeFromRevision > 0) {
      co.deliver_policy = DeliverPolicy.StartSequence;
      co.opt_start_seq = opts.resumeFromRevision;
    }
    const oc = await this.js.consumers.get(this.stream, co);
    const initial = (await oc.info(true)).num_pending;
    let isUpdate = include === KvWatchInclude.UpdatesOnly || initial === 0;
    let seen = 0;
    const it = new KvIterator(oc);
    it._start(await oc.consume({
      callback: (m) => {
        if (!isUpdate) isUpdate = ++seen >= initial;
        const e = this.#deliveredEntry(m, isUpdate);
        if (opts.ignoreDeletes === true && e.operation === 'DEL') return;
        it.push(e);
      },
    }));
    return it;
  }
}

/**
 * What `watch`, `history` and `keys` return (nats-core's `QueuedIterator`): `for await` over the
 * entries, `stop()`, and the received/processed/pending counters. Stopping ends the consumer's
 * pulls and deletes the ordered consumer.
 */
export class KvIterator {
  #q = new Queue();
  #oc;
  #messages = null;
  #received = 0;
  #processed = 0;
  constructor(oc) {
    this.#oc = oc;
  }
  _start(messages) {
    this.#messages = messages;
    if (this.#q.done) messages.stop();
    // The consumer ending on its own (an error, the engine closed) ends the iterator with it.
    messages.closed().then((err) => this.stop(err ?? undefined));
  }
  push(v) {
    if (this.#q.done) return;
    this.#received++;
    this.#q.push(v);
  }
  /** Entries received. */
  getReceived() {
    return this.#received;
  }
  /** Entries handed out by the iterator. */
  getProcessed() {
    return this.#processed;
  }
  /** Entries received and not yet handed out. */
  getPending() {
    return this.#q.length;
  }
  /** Ends the iterator (after what was received), `err` ends it with that error. */
  stop(err) {
    if (this.#q.done) return;
    this.#q.end(err);
    this.#messages?.stop();
    // Best effort: an ordered consumer left behind goes after its inactive threshold anyway.
    this.#oc.delete().catch(() => {});
  }
  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const r = await this.#q.next();
        if (!r.done) this.#processed++;
        return r;
      },
      return: async () => {
        this.stop();
        return { value: undefined, done: true };
      },
    };
  }
}

/** One revision of a key (v3's `KvEntry`; a watch's `KvWatchEntry` adds `isUpdate`). */
export class KvEntry {
  #bucket;
  #data;
  #headers;
  constructor(bucket, subject, seq, data, headers, created, delta) {
    this.#bucket = bucket;
    this.bucket = bucket.bucket;
    this.rawKey = subject.slice(bucket.prefix.length + 1);
    this.key = bucket.decodeKey(this.rawKey);
    this.revision = seq;
    this.created = created;
    this.delta = delta;
    this.#data = data ?? new Uint8Array(0);
    this.#headers = headers;
  }
  /** The value, decoded by the bucket's value codec. */
  get value() {
    return this.#bucket.codec.value.decode(this.#data);
  }
  /** PUT, or the marker's DEL or PURGE (an expired key's marker reads as PURGE). */
  get operation() {
    if (this.#headers?.get('Nats-Marker-Reason') === 'MaxAge') return 'PURGE';
    return this.#headers?.get(kvOperationHdr) || 'PUT';
  }
  /** The value's length (the stored length for a headers-only watch or history). */
  get length() {
    const size = this.#headers?.get(JsHeaders.MessageSizeHdr) || '';
    return size !== '' ? parseInt(size, 10) : this.#data.length;
  }
  /** The value as JSON. */
  json(reviver) {
    return JSON.parse(this.string(), reviver);
  }
  /** The value as UTF-8 text. */
  string() {
    return td.decode(this.value);
  }
}

/** A bucket's status, read from its StreamInfo (v3's `KvStatus`). */
export class KvStatus {
  constructor(si) {
    this.si = si;
  }
  get bucket() {
    const n = this.si.config.name;
    return n.startsWith(kvPrefix) ? n.slice(kvPrefix.length) : n;
  }
  /** Messages in the bucket (values and markers, every revision kept). */
  get values() {
    return this.si.state.messages;
  }
  get history() {
    return this.si.config.max_msgs_per_subject;
  }
  /** How long a value lives, in ms (0: forever). */
  get ttl() {
    return millis(this.si.config.max_age ?? 0);
  }
  get markerTTL() {
    return typeof this.si.config.subject_delete_marker_ttl === 'number' ? millis(this.si.config.subject_delete_marker_ttl) : 0;
  }
  /** The cluster the bucket is in: none here. */
  get bucket_location() {
    return '';
  }
  get backingStore() {
    return this.si.config.storage;
  }
  get storage() {
    return this.si.config.storage;
  }
  get replicas() {
    return this.si.config.num_replicas;
  }
  get description() {
    return this.si.config.description ?? '';
  }
  get maxBucketSize() {
    return this.si.config.max_bytes;
  }
  get maxValueSize() {
    return this.si.config.max_msg_size;
  }
  get max_bytes() {
    return this.si.config.max_bytes;
  }
  get placement() {
    return this.si.config.placement || { cluster: '', tags: [] };
  }
  get placementCluster() {
    return this.si.config.placement?.cluster ?? '';
  }
  get republish() {
    return this.si.config.republish ?? { src: '', dest: '' };
  }
  get streamInfo() {
    return this.si;
  }
  /** Bytes the bucket holds. */
  get size() {
    return this.si.state.bytes;
  }
  get metadata() {
    return this.si.config.metadata ?? {};
  }
  get compression() {
    return !!this.si.config.compression && this.si.config.compression !== StoreCompression.None;
  }
}
