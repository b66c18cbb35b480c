// Object stores, shaped like @nats-io/obj v3: `Objm` creates, opens and lists stores; a store
// puts and gets objects as streams of bytes (`put`/`get` with ReadableStreams, `putBlob`/`getBlob`
// with whole arrays), and keeps their info, links, metadata and a watch over them.
//
// A store is a stream kept as nats-server's clients keep one, so official clients read a local
// store: stream `OBJ_<bucket>` capturing `$O.<bucket>.C.>` (chunks) and `$O.<bucket>.M.>` (one
// meta subject per object, its name base64url-encoded with padding). An object is its chunks
// (128 KiB each, on `$O.<bucket>.C.<nuid>`) and a JSON meta message (rolled up on every put), with
// the SHA-256 of the whole object as `SHA-256=<base64url>`, checked when the object is read.
//
// Memory stays at about one chunk whatever the object's size: `put` hashes and publishes each
// chunk as it is filled (an incremental SHA-256, sha256.js, since WebCrypto's digest is not
// incremental), and `get` pulls chunks from an ordered consumer only as the reader asks for them.
import { DeliverPolicy, DiscardPolicy, JsHeaders, PubHeaders, StoreCompression } from './enums.js';
import { InvalidArgumentError, StreamNotFoundError } from './errors.js';
import { MsgHdrs } from './headers.js';
import { Sha256 } from './sha256.js';
import { td, te, toBytes } from './util.js';
import { KvIterator } from './kv.js';

/** The stream name prefix of a store. */
export const osPrefix = 'OBJ_';
/** The digest's algorithm prefix. */
export const digestType = 'SHA-256=';
const defaultChunk = 128 * 1024;
const defaultMaxPayload = 1024 * 1024;

/** Bytes to base64url with padding (the encoding of meta subjects and digests). */
function base64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_');
}

/** A NUID-like id: 22 random base62 characters (the chunk subject of one version of an object). */
function nuid() {
  const chars = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const r = new Uint8Array(22);
  globalThis.crypto.getRandomValues(r);
  return Array.from(r, (b) => chars[b % 62]).join('');
}

/** A store name as nats.js accepts it: letters, digits, `_` and `-`. */
export function validateObjectStoreName(name) {
  if (typeof name !== 'string' || !/^[-\w]+$/.test(name)) throw new InvalidArgumentError(`invalid bucket name: ${name}`);
}

function toClient(client) {
  if (client && typeof client.publish === 'function' && client.consumers) return client;
  if (client && typeof client.jetstream === 'function') return client.jetstream();
  throw new InvalidArgumentError('Objm needs a JetStream client or a connection');
}

/** Creates, opens and lists object stores (v3's `Objm`). */
export class Objm {
  /** @param client an engine (`open()`), a remote connection, or a JetStream client. */
  constructor(client) {
    this.js = toClient(client);
  }
  /** The store `name`, created with `opts` when it does not exist. */
  create(name, opts = {}) {
    return ObjectStore.create(this.js, name, opts);
  }
  /** The store `name`; with `check` (the default) fails with "object store not found" when there is none. */
  async open(name, check = true) {
    validateObjectStoreName(name);
    const os = new ObjectStore(name, await this.js.jetstreamManager(), this.js);
    const doCheck = typeof check === 'boolean' ? check : check?.check === true;
    if (doCheck && (await os._si()) === null) throw new Error('object store not found');
    return os;
  }
  /** The status of every store (`OBJ_*` streams), paged. */
  list() {
    const streams = (async () => (await this.js.jetstreamManager()).streams.list())();
    return {
      async next() {
        const s = await streams;
        for (;;) {
          const page = await s.next();
          if (page.length === 0) return [];
          const stores = page.filter((si) => si.config.name.startsWith(osPrefix)).map((si) => new ObjectStoreStatus(si));
          if (stores.length) return stores;
        }
      },
      async *[Symbol.asyncIterator]() {
        for (let page = await this.next(); page.length > 0; page = await this.next()) yield* page;
      },
    };
  }
}

/** A store's status, from its StreamInfo (v3's `ObjectStoreStatus`). */
export class ObjectStoreStatus {
  constructor(si) {
    this.si = si;
    this.backingStore = 'JetStream';
  }
  get bucket() {
    const n = this.si.config.name;
    return n.startsWith(osPrefix) ? n.slice(osPrefix.length) : n;
  }
  get description() {
    return this.si.config.description ?? '';
  }
  /** The stream's `max_age`, in nanoseconds (as nats.js reports it). */
  get ttl() {
    return this.si.config.max_age;
  }
  get storage() {
    return this.si.config.storage;
  }
  get replicas() {
    return this.si.config.num_replicas;
  }
  get sealed() {
    return this.si.config.sealed === true;
  }
  get size() {
    return this.si.state.bytes;
  }
  get streamInfo() {
    return this.si;
  }
  get metadata() {
    return this.si.config.metadata;
  }
  get compression() {
    return !!this.si.config.compression && this.si.config.compression !== StoreCompression.None;
  }
}

/** An object's info, from its meta message (v3's `ObjectInfo`). */
export class ObjectInfo {
  #raw;
  #headers = null;
  constructor(raw) {
    this.#raw = raw;
  }
  get name() {
    return this.#raw.name;
  }
  get description() {
    return this.#raw.description ?? '';
  }
  /** The object's headers (stored as a record of value lists). */
  get headers() {
    if (!this.#headers) {
      this.#headers = new MsgHdrs();
      for (const [k, vs] of Object.entries(this.#raw.headers ?? {})) for (const v of vs) this.#headers.append(k, v);
    }
    return this.#headers;
  }
  get options() {
    return this.#raw.options;
  }
  get bucket() {
    return this.#raw.bucket;
  }
  get chunks() {
    return this.#raw.chunks;
  }
  get deleted() {
    return this.#raw.deleted ?? false;
  }
  get digest() {
    return this.#raw.digest;
  }
  get mtime() {
    return this.#raw.mtime;
  }
  get nuid() {
    return this.#raw.nuid;
  }
  get size() {
    return this.#raw.size;
  }
  get revision() {
    return this.#raw.revision;
  }
  get metadata() {
    return this.#raw.metadata || {};
  }
  /** True when it links to another object or store. */
  isLink() {
    return this.#raw.options?.link !== undefined && this.#raw.options?.link !== null;
  }
}

/** The meta JSON as nats.js writes it from what a caller gives (`name`, `description`, ...). */
function serverMeta(meta) {
  const v = { name: meta.name, description: meta.description ?? '', options: meta.options, metadata: meta.metadata };
  if (meta.headers) {
    const rec = {};
    for (const [k, vs] of meta.headers) rec[k] = [...vs];
    v.headers = rec;
  }
  return v;
}

/** The digest in a meta's `SHA-256=` value as bytes (base64url, padded or not, or hex), or null. */
function parseDigest(s) {
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Uint8Array.from(s.match(/../g), (h) => parseInt(h, 16));
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, ''));
    return bin.length === 32 ? Uint8Array.from(bin, (c) => c.charCodeAt(0)) : null;
  } catch {
    return null;
  }
}

/** An object store (v3's `ObjectStore`). */
export class ObjectStore {
  constructor(name, jsm, js) {
    validateObjectStoreName(name);
    this.name = name;
    this.jsm = jsm;
    this.js = js;
    this.stream = `${osPrefix}${name}`;
  }

  /** Opens the store, creating its stream first when there is none. */
  static async create(js, name, opts = {}) {
    validateObjectStoreName(name);
    const os = new ObjectStore(name, await js.jetstreamManager(), js);
    await os.#init(opts);
    return os;
  }

  /** The stream config of a new store, as nats.js writes it. */
  async #init(opts) {
    const sc = {
      name: this.stream,
      subjects: [`$O.${this.name}.C.>`, `$O.${this.name}.M.>`],
      max_age: opts.ttl || 0,
      allow_direct: true,
      allow_rollup_hdrs: true,
      num_replicas: opts.replicas || 1,
      discard: DiscardPolicy.New,
    };
    for (const k of ['description', 'storage', 'max_bytes', 'placement', 'metadata']) if (opts[k] !== undefined) sc[k] = opts[k];
    if (typeof opts.compression === 'boolean') sc.compression = opts.compression ? StoreCompression.S2 : StoreCompression.None;
    if ((await this._si()) === null) await this.jsm.streams.add(sc);
  }

  /** The store's StreamInfo, or null when it does not exist. */
  async _si(opts) {
    try {
      return await this.jsm.streams.info(this.stream, opts);
    } catch (e) {
      if (e instanceof StreamNotFoundError) return null;
      throw e;
    }
  }

  #chunkSubject(id) {
    return `$O.${this.name}.C.${id}`;
  }
  #metaSubject(name) {
    return `$O.${this.name}.M.${base64url(te.encode(name))}`;
  }

  /** The raw meta JSON of `name` with its revision, or null. */
  async #rawInfo(name) {
    if (!name) throw new Error('name cannot be empty');
    const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: this.#metaSubject(name) });
    if (m === null) return null;
    const raw = m.json();
    raw.revision = m.seq;
    return raw;
  }

  /** The info of object `name` (a deleted one too), or null. */
  async info(name) {
    const raw = await this.#rawInfo(name);
    return raw ? new ObjectInfo(raw) : null;
  }

  /**
   * Stores `rs` as object `name` (`meta.name`), replacing any earlier version once the new one is
   * complete. `previousRevision` makes it fail unless the object's meta is at that revision.
   */
  put(meta, rs, opts) {
    if (meta?.options?.link) return Promise.reject(new Error('link cannot be set when putting the object in bucket'));
    return this.#put(meta, rs, opts);
  }

  /** `put` of a whole array (null: an empty object). */
  putBlob(meta, data, opts) {
    const bytes = data ?? new Uint8Array(0);
    const rs = new ReadableStream({
      pull(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
    return this.put(meta, rs, opts);
  }

  async #put(meta = {}, rs, opts = {}) {
    const timeout = opts.timeout || this.js.getOptions?.().timeout;
    meta = { ...meta, options: { ...(meta.options ?? {}) } };
    const asked = meta.options.max_chunk_size ?? defaultChunk;
    if (!Number.isInteger(asked) || asked < 1) throw InvalidArgumentError.format('max_chunk_size', 'must be a positive integer');
    // As nats.js: a chunk is at most one message (the server's max_payload; 1 MiB, the NATS
    // default, for the local engine), which also bounds what a put holds in memory.
    const maxPayload = this.js._c?.info?.max_payload || defaultMaxPayload;
    const maxChunk = Math.min(asked, maxPayload);
    meta.options.max_chunk_size = maxChunk;
    if (!meta.name) throw new Error('name cannot be empty');
    const old = await this.#rawInfo(meta.name);
    const id = nuid();
    const chunkSubject = this.#chunkSubject(id);
    const info = { bucket: this.name, nuid: id, size: 0, chunks: 0, ...serverMeta(meta) };
    const sha = new Sha256();
    // One chunk's buffer, filled from the reader and published when full.
    const buf = new Uint8Array(maxChunk);
    let used = 0;
    const flush = async () => {
      const payload = buf.slice(0, used);
      sha.update(payload);
      info.chunks++;
      info.size += used;
      used = 0;
      await this.js.publish(chunkSubject, payload, { timeout });
    };
    try {
      const reader = rs ? rs.getReader() : null;
      for (;;) {
        const { done, value: piece } = reader ? await reader.read() : { done: true, value: undefined };
        if (done) break;
        const value = toBytes(piece);
        for (let at = 0; at < value.length; ) {
          const take = Math.min(maxChunk - used, value.length - at);
          buf.set(value.subarray(at, at + take), used);
          used += take;
          at += take;
          if (used === maxChunk) await flush();
        }
      }
      if (used > 0) await flush();
      info.mtime = new Date().toISOString();
      info.digest = `${digestType}${base64url(sha.digest())}`;
      info.deleted = false;
      const h = new MsgHdrs();
      if (typeof opts.previousRevision === 'number') h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, `${opts.previousRevision}`);
      h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
      const ack = await this.js.publish(this.#metaSubject(info.name), JSON.stringify(info), { headers: h, timeout });
      info.revision = ack.seq;
    } catch (err) {
      // The new version's chunks go; the old version stays as it was.
      await this.jsm.streams.purge(this.stream, { filter: chunkSubject }).catch(() => {});
      throw err;
    }
    if (old && old.nuid) await this.jsm.streams.purge(this.stream, { filter: this.#chunkSubject(old.nuid) }).catch(() => {});
    return new ObjectInfo(info);
  }

  /** The whole object `name` as one array, its digest checked; null when there is none. */
  async getBlob(name) {
    const r = await this.get(name);
    if (r === null) return null;
    const parts = [];
    let size = 0;
    const reader = r.data.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
    const err = await r.error;
    if (err) throw err;
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /**
   * Object `name` as `{ info, data, error }`: `data` a ReadableStream of its chunks, pulled from
   * the store as the reader asks for them, that errors (and `error` resolves to the error) when
   * the digest does not match; null when there is no such object (or it was deleted). Links are
   * followed.
   */
  async get(name) {
    const info = await this.#rawInfo(name);
    if (info === null || info.deleted) return null;
    if (info.options?.link) {
      const ln = info.options.link.name || '';
      if (ln === '') throw new Error('link is a bucket');
      const os = info.options.link.bucket !== this.name ? await ObjectStore.create(this.js, info.options.link.bucket) : this;
      return os.get(ln);
    }
    if (!info.digest?.startsWith(digestType)) throw new Error(`unknown digest type: ${info.digest}`);
    const want = parseDigest(info.digest.slice(digestType.length));
    if (want === null) throw new Error(`unable to parse digest: ${info.digest}`);
    let settle;
    const error = new Promise((resolve) => (settle = resolve));
    if (info.size === 0 || info.chunks === 0) {
      settle(null);
      return { info: new ObjectInfo(info), data: new ReadableStream({ start: (c) => c.close() }), error };
    }
    const oc = await this.js.consumers.get(this.stream, { filter_subjects: this.#chunkSubject(info.nuid), deliver_policy: DeliverPolicy.All });
    const sha = new Sha256();
    let received = 0;
    const finish = (c, err) => {
      oc.delete().catch(() => {});
      if (err) c.error(err);
      else c.close();
      settle(err ?? null);
    };
    const data = new ReadableStream(
      {
        async pull(c) {
          try {
            const batch = await oc.fetch({ max_messages: 4, expires: 5000 });
            let got = 0;
            for await (const m of batch) {
              got++;
              received++;
              sha.update(m.data);
              if (m.data.length) c.enqueue(m.data);
              if (m.info.pending === 0 || received === info.chunks) break;
            }
            if (received >= info.chunks) {
              const have = sha.digest();
              const same = have.length === want.length && have.every((b, i) => b === want[i]);
              const hex = Array.from(have, (b) => b.toString(16).padStart(2, '0')).join('');
              finish(c, same ? undefined : new Error(`received a corrupt object, digests do not match\n  expected: ${info.digest}\n  computed: SHA-256 ${hex}`));
            } else if (got === 0) {
              finish(c, new Error(`object ${info.name} is incomplete: ${received} of ${info.chunks} chunks`));
            }
          } catch (e) {
            finish(c, e);
          }
        },
        cancel() {
          oc.delete().catch(() => {});
          settle(null);
        },
      },
      { highWaterMark: 1 },
    );
    return { info: new ObjectInfo(info), data, error };
  }

  /** Marks `name` deleted (its meta kept, rolled up) and purges its chunks. */
  async delete(name) {
    const info = await this.#rawInfo(name);
    if (info === null) return { purged: 0, success: false };
    Object.assign(info, { deleted: true, size: 0, chunks: 0, digest: '' });
    delete info.revision;
    const h = new MsgHdrs();
    h.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject);
    await this.js.publish(this.#metaSubject(info.name), JSON.stringify(info), { headers: h });
    return this.jsm.streams.purge(this.stream, { filter: this.#chunkSubject(info.nuid) });
  }

  /** Object `name` pointing at object `info` (of this store or another). */
  async link(name, info) {
    if (!name) throw new Error('name cannot be empty');
    if (info.deleted) throw new Error('src object is deleted');
    if (info.isLink()) throw new Error('src object is a link');
    const dest = await this.#rawInfo(name);
    if (dest !== null && !dest.deleted) throw new Error('an object already exists with that name');
    const mm = { name, bucket: info.bucket, options: { link: { bucket: info.bucket, name: info.name } } };
    await this.js.publish(this.#metaSubject(name), JSON.stringify(mm));
    return this.info(name);
  }

  /** Object `name` pointing at the store `bucket`. */
  linkStore(name, bucket) {
    if (!(bucket instanceof ObjectStore)) return Promise.reject(new Error('bucket required'));
    if (!name) return Promise.reject(new Error('name cannot be empty'));
    return this.#put({ name, options: { link: { bucket: bucket.name } } }, null);
  }

  /** Changes the meta of `name` (description, headers, metadata; a new `name` renames it). */
  async update(name, meta = {}) {
    const info = await this.#rawInfo(name);
    if (info === null) throw new Error('object not found');
    if (info.deleted) throw new Error('cannot update meta for a deleted object');
    meta = { ...meta, name: meta.name ?? info.name };
    if (!meta.name) throw new Error('name cannot be empty');
    if (name !== meta.name) {
      const other = await this.#rawInfo(meta.name);
      if (other && !other.deleted) throw new Error('an object already exists with that name');
    }
    const next = { ...info, ...serverMeta(meta) };
    delete next.revision;
    const ack = await this.js.publish(this.#metaSubject(next.name), JSON.stringify(next));
    if (name !== meta.name) await this.jsm.streams.purge(this.stream, { filter: this.#metaSubject(name) });
    return ack;
  }

  /** Every object's info (deleted ones left out). */
  async list() {
    const out = [];
    for await (const i of await this.#watch({ ignoreDeletes: true, includeHistory: true, historyOnly: true })) out.push(i);
    return out;
  }

  /**
   * Object infos as they change until `stop()`: with `includeHistory` first the current info of
   * each object; `ignoreDeletes` leaves deleted ones out.
   */
  watch(opts = {}) {
    return this.#watch({ includeHistory: opts.includeHistory === true, ignoreDeletes: opts.ignoreDeletes === true, historyOnly: false });
  }

  async #watch({ includeHistory, ignoreDeletes, historyOnly }) {
    const deliver_policy = includeHistory ? DeliverPolicy.LastPerSubject : DeliverPolicy.New;
    const oc = await this.js.consumers.get(this.stream, { filter_subjects: `$O.${this.name}.M.>`, deliver_policy });
    const count = (await oc.info(true)).num_pending;
    const it = new KvIterator(oc);
    if (historyOnly && count === 0) {
      it.stop();
      return it;
    }
    let isUpdate = !includeHistory || count === 0;
    let seen = 0;
    it._start(
      await oc.consume({
        callback: (m) => {
          if (!isUpdate) isUpdate = ++seen >= count;
          const oi = JSON.parse(td.decode(m.data));
          oi.isUpdate = isUpdate;
          oi.revision = m.seq;
          if (!(oi.deleted && ignoreDeletes)) it.push(oi);
          if (historyOnly && m.info.pending === 0) it.stop();
        },
      }),
    );
    return it;
  }

  /** Seals the store: nothing can be put or deleted any more. */
  async seal() {
    const si = await this._si();
    if (si === null) throw new Error('object store not found');
    return new ObjectStoreStatus(await this.jsm.streams.update(this.stream, { ...si.config, sealed: true }));
  }
  /** The store's status. */
  async status(opts) {
    const si = await this._si(opts);
    if (si === null) throw new Error('object store not found');
    return new ObjectStoreStatus(si);
  }
  /** Deletes the store's stream. */
  destroy() {
    return this.jsm.streams.delete(this.stream);
  }
}
