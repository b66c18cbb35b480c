// contrail: a JetStream engine inside your JavaScript process, shaped like @nats-io/jetstream.
//
// The engine (Rust, compiled to WebAssembly in ./dist) speaks NATS messages: this file hands it
// `$JS.API` requests, publishes and acks, routes what it releases to local inboxes, and drives
// its timers with setTimeout. Everything JetStream does (dedup, expectations, acks, redelivery,
// limits) happens in the engine; nothing here duplicates it.
import init, { Engine } from './dist/contrail.js';
import { canShare, joinTab } from './tabs.js';
export { connect, RemoteConnection } from './remote.js';

const te = new TextEncoder();
const td = new TextDecoder();
const API = '$JS.API.';

// ---- wasm loading -------------------------------------------------------------------------------

let loading;
/** Loads the WebAssembly module once (fetch in browsers, the file system in Node). */
function loadWasm() {
  loading ??= (async () => {
    const url = new URL('./dist/contrail_bg.wasm', import.meta.url);
    if (url.protocol === 'file:' && typeof process !== 'undefined' && process.versions?.node) {
      const { readFile } = await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:fs/promises');
      await init({ module_or_path: await readFile(url) });
    } else {
      await init({ module_or_path: url });
    }
  })();
  return loading;
}

// ---- helpers --------------------------------------------------------------------------------------

/** Milliseconds to nanoseconds (JetStream durations are nanoseconds on the wire). */
export function nanos(ms) {
  return Math.round(ms * 1_000_000);
}

/** Nanoseconds to milliseconds. */
export function millis(ns) {
  return Math.floor(ns / 1_000_000);
}

function toBytes(data) {
  if (data === undefined || data === null) return new Uint8Array(0);
  if (typeof data === 'string') return te.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('data must be a string, Uint8Array or ArrayBuffer');
}

/**
 * UTF-8 bytes to a string. Short ASCII (PubAcks, small API replies) skips TextDecoder, whose
 * fixed cost per call (~0.7-1 µs in Chromium) was 7% of a publish profile.
 */
function text(bytes) {
  if (bytes.length > 256) return td.decode(bytes);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return td.decode(bytes);
  return String.fromCharCode.apply(null, bytes);
}

/**
 * Reads what one flush released (src/wasm/released.rs). First the outcomes of ticketed
 * publishes: `ack(ticket, pubAck, null)` or `ack(ticket, null, apiErrorJson)` for each. Then the
 * messages, returned: per message `to | subject | reply | headers | data`, each a little-endian
 * u32 length and its bytes; length 0xFFFFFFFF means "same as before" (`to` the previous
 * message's, the subject `to`, the ack's stream the previous ack's), 0xFFFFFFFE an absent
 * field. Bodies are views of the buffer.
 */
function unpackReleased(buf, ack) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  let at = 0;
  const bytes = () => {
    const len = view.getUint32(at, true);
    at += 4;
    if (len >= 0xfffffffe) return len === 0xffffffff ? SAME : undefined;
    const b = buf.subarray(at, at + len);
    at += len;
    return b;
  };
  const acks = view.getUint32(0, true);
  at = 4;
  let stream;
  for (let i = 0; i < acks; i++) {
    const ticket = view.getUint32(at, true);
    const kind = buf[at + 4];
    at += 5;
    if (kind === ACK_FAILED) {
      ack(ticket, null, JSON.parse(text(bytes())));
      continue;
    }
    const seq = view.getFloat64(at, true);
    at += 8;
    const streamBytes = bytes();
    if (streamBytes !== SAME) stream = text(streamBytes);
    const domain = bytes();
    ack(ticket, { stream, seq, duplicate: kind === ACK_DUPLICATE, domain: domain && text(domain) }, null);
  }
  let to;
  while (at < buf.length) {
    const toField = bytes();
    if (toField !== SAME) to = text(toField);
    const subjectBytes = bytes();
    const subject = subjectBytes === SAME ? to : text(subjectBytes);
    const replyBytes = bytes();
    const headers = bytes();
    const data = bytes();
    out.push({ to, subject, reply: replyBytes && text(replyBytes), headers, data });
  }
  return out;
}
const ACK_DUPLICATE = 1;
const ACK_FAILED = 2;
const SAME = Symbol('same as before');

/** True for a `NATS/1.0 503` status block: nothing took the request after all. */
function isNoResponders(headers) {
  return !!headers && headers.length >= 12 && text(headers.subarray(0, 12)) === 'NATS/1.0 503';
}

function base64ToBytes(b64) {
  if (!b64) return new Uint8Array(0);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function randomToken() {
  const a = new Uint32Array(2);
  globalThis.crypto.getRandomValues(a);
  return a[0].toString(36) + a[1].toString(36);
}

// ---- errors ---------------------------------------------------------------------------------------

/** Base class of every error this package throws. */
export class ContrailError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ContrailError';
  }
}

/**
 * A JetStream API error, shaped like @nats-io/jetstream v3's: `code` is the JetStream error code
 * (`err_code` in the API JSON, e.g. 10059) and `status` the HTTP-like one (e.g. 404). `err_code`
 * is kept as an alias of `code`, `apiError()` returns the JSON as sent.
 */
export class JetStreamApiError extends ContrailError {
  #api;
  constructor(api) {
    super(api.description ?? 'JetStream API error');
    this.#api = { code: api.code, err_code: api.err_code, description: api.description };
    this.name = 'JetStreamApiError';
  }
  /** The JetStream error code (`err_code`), e.g. 10059 stream not found. */
  get code() {
    return this.#api.err_code;
  }
  /** Alias of `code`, the field's name in the API JSON. */
  get err_code() {
    return this.#api.err_code;
  }
  /** The HTTP-like status (`code` in the API JSON), e.g. 404. */
  get status() {
    return this.#api.code;
  }
  /** The error's description. */
  get description() {
    return this.#api.description;
  }
  /** The error as the API sent it. */
  apiError() {
    return { ...this.#api };
  }
  /** The most specific class for an API error. */
  static from(api) {
    if (api.err_code === 10059) return new StreamNotFoundError(api);
    if (api.err_code === 10014) return new ConsumerNotFoundError(api);
    return new JetStreamApiError(api);
  }
}

/** The stream does not exist (err_code 10059). */
export class StreamNotFoundError extends JetStreamApiError {
  constructor(api) {
    super(api);
    this.name = 'StreamNotFoundError';
  }
}

/** The consumer does not exist (err_code 10014). */
export class ConsumerNotFoundError extends JetStreamApiError {
  constructor(api) {
    super(api);
    this.name = 'ConsumerNotFoundError';
  }
}

/** Nothing took a request: no stream captures the subject, or no such consumer. */
export class NoRespondersError extends ContrailError {
  constructor(subject) {
    super(`no responders: ${subject}`);
    this.name = 'NoRespondersError';
    this.code = 503;
    this.subject = subject;
  }
}

/**
 * The browser refused a commit because this site's storage quota is used up. Nothing of that
 * commit was confirmed; free space (purge or delete streams) or ask for more (`persist()`).
 */
export class StorageFullError extends ContrailError {
  constructor(cause) {
    super(
      'storage full: the browser refused the write (QuotaExceededError); nothing of it was ' +
        'confirmed. Free space by purging or deleting streams, or ask for persistent storage.',
      { cause },
    );
    this.name = 'StorageFullError';
  }
}

/** True when `e` (or its cause) is the browser's quota error (an Error or DOMException). */
function isQuotaError(e) {
  for (let i = 0; e && i < 4; i++, e = e.cause) if (e.name === 'QuotaExceededError') return true;
  return false;
}

/** The engine was closed. */
export class ClosedError extends ContrailError {
  constructor() {
    super('engine closed');
    this.name = 'ClosedError';
  }
}

// ---- headers --------------------------------------------------------------------------------------

/** NATS message headers (`NATS/1.0` block); names keep their case, `get` falls back to any case. */
export class MsgHdrs {
  #map = new Map();
  /** Status code of a status message (0 when none). */
  code = 0;
  /** Status description. */
  description = '';

  get(name) {
    const exact = this.#map.get(name);
    if (exact) return exact[0];
    const lower = name.toLowerCase();
    for (const [k, v] of this.#map) if (k.toLowerCase() === lower) return v[0];
    return '';
  }
  has(name) {
    return this.get(name) !== '' || this.#map.has(name);
  }
  set(name, value) {
    this.#map.set(name, [String(value)]);
  }
  append(name, value) {
    const v = this.#map.get(name);
    if (v) v.push(String(value));
    else this.#map.set(name, [String(value)]);
  }
  delete(name) {
    this.#map.delete(name);
  }
  values(name) {
    return [...(this.#map.get(name) ?? [])];
  }
  keys() {
    return [...this.#map.keys()];
  }
  get size() {
    return this.#map.size;
  }
  [Symbol.iterator]() {
    return this.#map[Symbol.iterator]();
  }
  /** The wire form. */
  encode() {
    let s = 'NATS/1.0\r\n';
    for (const [k, vs] of this.#map) for (const v of vs) s += `${k}: ${v}\r\n`;
    return te.encode(s + '\r\n');
  }
  /** Parses a wire header block. */
  static decode(bytes) {
    const h = new MsgHdrs();
    const lines = td.decode(bytes).split('\r\n');
    const first = lines.shift() ?? '';
    const status = first.slice('NATS/1.0'.length).trim();
    if (status) {
      const sp = status.indexOf(' ');
      h.code = parseInt(sp < 0 ? status : status.slice(0, sp), 10) || 0;
      h.description = sp < 0 ? '' : status.slice(sp + 1);
    }
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i > 0) h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    return h;
  }
}

/** An empty header set. */
export function headers() {
  return new MsgHdrs();
}

// ---- a simple async queue -------------------------------------------------------------------------

class Queue {
  #items = [];
  #waiter = null;
  #done = false;
  #error = null;
  push(v) {
    if (this.#done) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve({ value: v, done: false });
    } else this.#items.push(v);
  }
  end(err) {
    if (this.#done) return;
    this.#done = true;
    this.#error = err ?? null;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      if (this.#error && this.#items.length === 0) w.reject(this.#error);
      else w.resolve({ value: undefined, done: true });
    }
  }
  get done() {
    return this.#done;
  }
  next() {
    if (this.#items.length) return Promise.resolve({ value: this.#items.shift(), done: false });
    if (this.#done) {
      if (this.#error) {
        const e = this.#error;
        this.#error = null;
        return Promise.reject(e);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }
}

// ---- the engine -----------------------------------------------------------------------------------

// -- several tabs on one database (see tabs.js) --

/** A request sent to the writer tab, which went away before answering: it may or may not have taken effect. */
export class WriterLostError extends ContrailError {
  constructor(subject) {
    super(`the writer tab went away before answering ${subject}; the request may or may not have taken effect`);
    this.name = 'WriterLostError';
    this.subject = subject;
  }
}

/** No writer tab answered a request within the `timeout` given to `open()`. */
export class TimeoutError extends ContrailError {
  constructor(subject, ms) {
    super(`no writer tab answered ${subject} within ${ms} ms; the request may or may not have taken effect`);
    this.name = 'TimeoutError';
    this.subject = subject;
  }
}

/**
 * Opens an engine. `{name}` persists to the IndexedDB database of that name (browsers);
 * without a name (or with `memory: true`) streams live in memory (Node, edge workers, tests).
 * Tabs and workers opening the same name share it: one owns the engine, the others go through
 * it (`shared: false` opts out; `timeout` bounds a request through another tab, default 5000 ms).
 */
export async function open(opts = {}) {
  await loadWasm();
  const seed = () => Math.floor(Math.random() * 2 ** 32);
  if (!opts.name || opts.memory) return new Contrail(Engine.inMemory(seed()));
  const openEngine = () => Engine.openIndexedDb(opts.name, seed(), Date.now());
  if (!canShare()) return new Contrail(await openEngine());
  const tab = await joinTab(opts.name, {
    shared: opts.shared !== false,
    timeout: opts.timeout ?? 5000,
    openEngine,
    errors: { ContrailError, NoRespondersError, WriterLostError, TimeoutError, StorageFullError },
  });
  return new Contrail(tab.engine, tab);
}

/** Deletes a persisted engine's IndexedDB database. */
export async function deleteDatabase(name) {
  await loadWasm();
  await Engine.deleteIndexedDb(name);
}

/** `new Promise(capture)` leaves its resolving functions here: no closure per promise. */
let capturedResolve;
let capturedReject;
const capture = (resolve, reject) => {
  capturedResolve = resolve;
  capturedReject = reject;
};

/**
 * Ticketed publishes waiting for their commit. The engine issues tickets in order (wrapping at
 * 2^32) and settles them nearly in order, so the waiters sit in two arrays indexed from the
 * oldest ticket still held: no Map entry and no object per publish, which showed in the
 * publish profile.
 */
class Waiting {
  /** The ticket at index 0. */
  #first = 0;
  #resolve = [];
  #reject = [];
  /** Indexes below this are settled. */
  #head = 0;

  /** A promise for `ticket`, the one after the last ticket added. */
  add(ticket) {
    const promise = new Promise(capture);
    if (this.#head === this.#resolve.length) this.#reset(ticket);
    if (((ticket - this.#first) >>> 0) !== this.#resolve.length) {
      throw new ContrailError(`publish ticket ${ticket} out of order`);
    }
    this.#resolve.push(capturedResolve);
    this.#reject.push(capturedReject);
    capturedResolve = capturedReject = undefined;
    return promise;
  }

  resolve(ticket, value) {
    this.#take(ticket, this.#resolve)?.(value);
  }

  reject(ticket, err) {
    this.#take(ticket, this.#reject)?.(err);
  }

  /** Rejects every waiter. */
  failAll(err) {
    const rejects = this.#reject;
    this.#reset(0);
    for (const reject of rejects) reject?.(err);
  }

  /** Removes `ticket`'s waiter and returns its function from `fns`; undefined if none waits. */
  #take(ticket, fns) {
    const i = (ticket - this.#first) >>> 0;
    if (i >= this.#resolve.length || !this.#resolve[i]) return undefined;
    const fn = fns[i];
    this.#remove(i);
    return fn;
  }

  #remove(i) {
    this.#resolve[i] = this.#reject[i] = undefined;
    const n = this.#resolve.length;
    while (this.#head < n && !this.#resolve[this.#head]) this.#head++;
    if (this.#head === n) {
      this.#reset(0);
    } else if (this.#head >= 1024 && this.#head * 2 >= n) {
      // A straggler holds the front (a deferred publish): drop the settled part.
      this.#resolve.splice(0, this.#head);
      this.#reject.splice(0, this.#head);
      this.#first = (this.#first + this.#head) >>> 0;
      this.#head = 0;
    }
  }

  #reset(first) {
    this.#first = first;
    this.#resolve = [];
    this.#reject = [];
    this.#head = 0;
  }
}

/** A local JetStream engine. */
export class Contrail {
  #engine;
  #subs = new Map();
  /** Ticketed publishes waiting for their commit. */
  #waiting = new Waiting();
  #prefix = `_INBOX.${randomToken()}.`;
  #seq = 0;
  #pumping = null;
  #again = false;
  #timer = null;
  #holds = 0;
  #closed = false;
  /** The tabs sharing this database (tabs.js), or null when this context is alone. */
  #tab;
  /** Ending a fast open (`#finishOpening`), once started. */
  #opening = null;

  /** `engine` is the wasm Engine, or null for a follower tab (it sends everything through `tab`). */
  constructor(engine, tab = null) {
    this.#engine = engine;
    this.#tab = tab;
    tab?.attach({
      handle: (subject, reply, hdrs, data) => {
        const took = this.#engine.handle(subject, reply ?? undefined, hdrs ?? undefined, data, Date.now());
        this._kick();
        return took;
      },
      setInterest: (subject, active) => {
        this.#engine.setInterest(subject, active, Date.now());
        this._kick();
      },
      deliver: (m) => this.#subs.get(m.to)?.(m),
      fail: (to, err) => this.#subs.get(to)?.(null, err),
      promote: (engine) => {
        this.#engine = engine;
        this.#opening = null;
        this.#finishOpeningSoon();
        this._kick();
      },
    });
    this.#finishOpeningSoon();
  }

  /**
   * A long stream opens from its newest messages (the engine is `loading`, see
   * src/wasm/partial.rs): publishes go out at once, everything else waits for the rest. The
   * rest is read once the current task is done, so what the opener does first is not held up.
   */
  #finishOpeningSoon() {
    if (this.#engine?.loading) setTimeout(() => this.#finishOpening(), 0);
  }

  /** Reads the rest of a fast-opened database; resolves once the engine is whole. */
  #finishOpening() {
    this.#opening ??= (async () => {
      const engine = this.#engine;
      try {
        await this._kick(); // what the partial engine took goes out first
        if (this.#closed || engine !== this.#engine || !engine.loading) return;
        this.#route(await engine.completeOpen());
      } catch (e) {
        this.#commitFailed(e);
      }
      this._kick(); // releases the replies to what was deferred
    })();
    return this.#opening;
  }

  /** True when streams are persisted to IndexedDB (through the writer tab for a follower). */
  get persistent() {
    return this.#engine ? this.#engine.persistent : true;
  }

  /** What opening could not restore (unreadable consumer records, left in place). */
  get warnings() {
    return this.#engine?.warnings ?? [];
  }

  /** `writer` when this context owns the engine, `follower` while another tab does. */
  get role() {
    return this.#engine ? 'writer' : 'follower';
  }

  /**
   * Asks the browser to keep this site's storage under pressure (`navigator.storage.persist()`);
   * resolves to whether it is persistent. False where the Storage API is missing (Node).
   */
  async persist() {
    return (await globalThis.navigator?.storage?.persist?.()) ?? false;
  }

  /**
   * This site's storage as the browser reports it: `{usage, quota}` in bytes
   * (`navigator.storage.estimate()`) and `persisted`; null fields where unavailable (Node).
   */
  async storage() {
    const s = globalThis.navigator?.storage;
    const estimate = (await s?.estimate?.().catch(() => null)) ?? {};
    const persisted = (await s?.persisted?.().catch(() => null)) ?? null;
    return { usage: estimate.usage ?? null, quota: estimate.quota ?? null, persisted };
  }

  /** The JetStream client: publish and consume. */
  jetstream() {
    return new JetStreamClient(this);
  }

  /** The JetStream manager: streams and consumers. */
  async jetstreamManager() {
    return new JetStreamManager(this);
  }

  /** Waits for every write so far to commit, then stops timers and closes the database. */
  async close() {
    if (this.#closed) return;
    this.#tab?.closing();
    if (this.#engine?.loading) await this.#finishOpening();
    await (this.#engine ? this._kick() : this.#tab.drain());
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#failAll(new ClosedError());
    this.#engine?.close();
    this.#tab?.close(); // after the database closed: releases the lock, a follower takes over
  }

  get closed() {
    return this.#closed;
  }

  // -- plumbing used by the classes below --

  _inbox() {
    return this.#prefix + ++this.#seq;
  }

  /** Routes messages sent to `subject` to `handler(msg)`; `handler(null, err)` on close/failure. */
  _sub(subject, handler) {
    this.#subs.set(subject, handler);
  }

  _unsub(subject) {
    this.#subs.delete(subject);
    this.#tab?.forget(subject);
  }

  /** Hands a message to the engine; returns whether JetStream took it. */
  _send(subject, reply, hdrs, data) {
    if (this.#closed) throw new ClosedError();
    if (!this.#engine) {
      // A follower: the writer tab hands it to the engine; a refusal comes back on `reply`.
      this.#tab.send(subject, reply ?? null, hdrs ?? null, toBytes(data));
      return true;
    }
    const took = this.#engine.handle(subject, reply ?? undefined, hdrs ?? undefined, toBytes(data), Date.now());
    this._kick();
    return took;
  }

  /**
   * Publishes straight into the engine when this context owns it: the PubAck comes back by
   * ticket with the commit, with no reply inbox, subscription or JSON in between. Returns the
   * PubAck's promise, or null when the request must go the general way (`_request`): a
   * follower tab, or a `$JS.` subject (an API request or an ack, not a publish).
   */
  _publish(subject, data, hdrs) {
    if (this.#closed) throw new ClosedError();
    if (!this.#engine || subject.startsWith('$JS.')) return null;
    const ticket = this.#engine.publish(subject, hdrs, toBytes(data), Date.now());
    if (ticket === undefined) throw new NoRespondersError(subject);
    const promise = this.#waiting.add(ticket);
    this._kick();
    return promise;
  }

  /** Sends a request and resolves to the raw reply. */
  _request(subject, data, hdrs) {
    return new Promise((resolve, reject) => {
      const inbox = this._inbox();
      this._sub(inbox, (m, err) => {
        this._unsub(inbox);
        if (err) reject(err);
        else if (isNoResponders(m.headers)) reject(new NoRespondersError(subject));
        else resolve(m);
      });
      let took;
      try {
        took = this._send(subject, inbox, hdrs, data);
      } catch (e) {
        this._unsub(inbox);
        return reject(e);
      }
      if (!took) {
        this._unsub(inbox);
        reject(new NoRespondersError(subject));
      }
    });
  }

  /** A `$JS.API` request with a JSON body; resolves to the JSON reply or throws its error. */
  async _api(suffix, body) {
    const m = await this._request(API + suffix, body === undefined ? '' : JSON.stringify(body));
    const reply = JSON.parse(text(m.data));
    if (reply.error) throw JetStreamApiError.from(reply.error);
    return reply;
  }

  /** Keeps timers referenced while someone waits on the engine (Node exits otherwise). */
  _hold() {
    this.#holds++;
    this.#arm();
  }

  _release() {
    this.#holds = Math.max(0, this.#holds - 1);
    this.#arm();
  }

  /** Tells the engine whether a push consumer's deliver subject has a subscriber here. */
  _interest(subject, active) {
    if (this.#closed) throw new ClosedError();
    if (this.#tab) return this.#tab.interest(subject, active);
    this.#engine.setInterest(subject, active, Date.now());
    this._kick();
  }

  /** Flushes soon: publishes of the same tick and of the commit in flight share one commit. */
  _kick() {
    if (!this.#engine) return Promise.resolve(); // a follower: the writer tab commits
    if (this.#pumping) {
      this.#again = true;
      return this.#pumping;
    }
    this.#pumping = this.#pump();
    return this.#pumping;
  }

  async #pump() {
    await null;
    try {
      do {
        this.#again = false;
        const out = await this.#engine.flush();
        this.#route(out);
      } while (this.#again && !this.#closed);
    } catch (e) {
      this.#commitFailed(e);
    } finally {
      this.#pumping = null;
      this.#arm();
    }
  }

  /** A commit failed: nothing it would have confirmed is released; every waiter gets the error. */
  #commitFailed(e) {
    const err = isQuotaError(e)
      ? new StorageFullError(e)
      : new ContrailError(`commit failed: ${e?.message ?? e}`, { cause: e });
    this.#failAll(err);
    this.#tab?.failed(err);
  }

  /** Fails everything waiting on the engine: subscriptions and ticketed publishes. */
  #failAll(err) {
    for (const handler of [...this.#subs.values()]) handler(null, err);
    this.#subs.clear();
    this.#waiting.failAll(err);
  }

  /** Settles ticketed publishes; a ticket failed earlier (rollback, close) is no longer here. */
  #settle = (ticket, ack, error) => {
    if (ack) this.#waiting.resolve(ticket, ack);
    else this.#waiting.reject(ticket, JetStreamApiError.from(error));
  };

  /**
   * Settles the ticketed publishes a flush released, hands its messages to local subscriptions
   * and, when shared, other tabs' to the channel.
   */
  #route(packed) {
    let away = null;
    for (const m of unpackReleased(packed, this.#settle)) {
      this.#subs.get(m.to)?.(m);
      if (this.#tab && !m.to.startsWith(this.#prefix)) (away ??= []).push(m);
    }
    if (away) this.#tab.forward(away);
  }

  #arm() {
    clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#closed || !this.#engine) return;
    const at = this.#engine.pollTimeout();
    if (at === undefined) return;
    const delay = Math.min(Math.max(0, Math.ceil(at - Date.now())), 2 ** 31 - 1);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#closed) return;
      this.#engine.handleTimeout(Date.now());
      this._kick();
    }, delay);
    if (this.#holds === 0) this.#timer.unref?.();
  }
}

// ---- manager --------------------------------------------------------------------------------------

async function* paged(c, suffix, body, field) {
  let offset = 0;
  for (let pages = 0; pages < 1_000_000; pages++) {
    const r = await c._api(suffix, { ...body, offset });
    const items = r[field] ?? [];
    for (const item of items) yield item;
    offset += items.length;
    if (items.length === 0 || offset >= (r.total ?? 0)) return;
  }
}

/** Stream and consumer administration, like @nats-io/jetstream's JetStreamManager. */
export class JetStreamManager {
  constructor(c) {
    this.streams = new StreamAPI(c);
    this.consumers = new ConsumerAPI(c);
    this._c = c;
  }
  /**
   * `$JS.API.INFO`: account usage and limits, plus `browser_storage` (see `Contrail.storage()`;
   * not `storage`, which JetStream already uses for the bytes its streams hold).
   */
  async getAccountInfo() {
    const [info, browser_storage] = await Promise.all([this._c._api('INFO'), this._c.storage()]);
    return { ...info, browser_storage };
  }
  /** The JetStream client over the same engine. */
  jetstream() {
    return new JetStreamClient(this._c);
  }
}

class StreamAPI {
  #c;
  constructor(c) {
    this.#c = c;
  }
  add(cfg) {
    return this.#c._api(`STREAM.CREATE.${cfg.name}`, cfg).then(strip);
  }
  info(name, opts) {
    return this.#c._api(`STREAM.INFO.${name}`, opts).then(strip);
  }
  async update(name, cfg = {}) {
    const current = await this.info(name);
    return this.#c._api(`STREAM.UPDATE.${name}`, { ...current.config, ...cfg, name }).then(strip);
  }
  async delete(name) {
    return (await this.#c._api(`STREAM.DELETE.${name}`)).success === true;
  }
  async purge(name, opts) {
    const r = await this.#c._api(`STREAM.PURGE.${name}`, opts);
    return { success: r.success === true, purged: r.purged ?? 0 };
  }
  list(subject) {
    return paged(this.#c, 'STREAM.LIST', subject ? { subject } : {}, 'streams');
  }
  names(subject) {
    return paged(this.#c, 'STREAM.NAMES', subject ? { subject } : {}, 'streams');
  }
  /** One stored message by `{seq}`, `{last_by_subj}` or `{next_by_subj, seq}`. */
  async getMessage(name, query) {
    const r = await this.#c._api(`STREAM.MSG.GET.${name}`, query);
    return new StoredMsg(r.message);
  }
  async deleteMessage(name, seq, erase = true) {
    return (await this.#c._api(`STREAM.MSG.DELETE.${name}`, { seq, no_erase: !erase })).success === true;
  }
  /** The stream as an object (info and message reads). */
  async get(name) {
    await this.info(name);
    return new StreamHandle(this, name);
  }
}

class StreamHandle {
  constructor(api, name) {
    this.api = api;
    this.name = name;
  }
  info(opts) {
    return this.api.info(this.name, opts);
  }
  getMessage(query) {
    return this.api.getMessage(this.name, query);
  }
  deleteMessage(seq, erase) {
    return this.api.deleteMessage(this.name, seq, erase);
  }
}

function strip(r) {
  delete r.type;
  return r;
}

/** A message read from a stream with `getMessage`. */
export class StoredMsg {
  constructor(m) {
    this.subject = m.subject;
    this.seq = m.seq;
    this.time = new Date(m.time);
    this.data = base64ToBytes(m.data);
    this.header = m.hdrs ? MsgHdrs.decode(base64ToBytes(m.hdrs)) : new MsgHdrs();
  }
  json() {
    return JSON.parse(this.string());
  }
  string() {
    return td.decode(this.data);
  }
}

class ConsumerAPI {
  #c;
  constructor(c) {
    this.#c = c;
  }
  add(stream, cfg = {}) {
    const name = cfg.durable_name ?? cfg.name;
    const subject = name ? `CONSUMER.CREATE.${stream}.${name}` : `CONSUMER.CREATE.${stream}`;
    return this.#c._api(subject, { stream_name: stream, config: cfg }).then(strip);
  }
  async update(stream, name, cfg = {}) {
    const current = await this.info(stream, name);
    const config = { ...current.config, ...cfg };
    return this.#c
      ._api(`CONSUMER.CREATE.${stream}.${name}`, { stream_name: stream, config, action: 'update' })
      .then(strip);
  }
  info(stream, name) {
    return this.#c._api(`CONSUMER.INFO.${stream}.${name}`).then(strip);
  }
  async delete(stream, name) {
    return (await this.#c._api(`CONSUMER.DELETE.${stream}.${name}`)).success === true;
  }
  list(stream) {
    return paged(this.#c, `CONSUMER.LIST.${stream}`, {}, 'consumers');
  }
  names(stream) {
    return paged(this.#c, `CONSUMER.NAMES.${stream}`, {}, 'consumers');
  }
}

// ---- client ---------------------------------------------------------------------------------------

/** Publishing and consuming, like @nats-io/jetstream's JetStreamClient. */
export class JetStreamClient {
  constructor(c) {
    this._c = c;
    this.consumers = new Consumers(c);
  }

  /** Publishes into the stream capturing `subject`; resolves to the PubAck once durable. */
  publish(subject, data, opts) {
    try {
      const hdrs = opts ? publishHeaders(opts) : undefined;
      return this._c._publish(subject, data, hdrs) ?? this.#publishByRequest(subject, data, hdrs);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A publish as a request with a reply inbox (a follower tab goes through the writer tab). */
  async #publishByRequest(subject, data, hdrs) {
    const m = await this._c._request(subject, data, hdrs);
    const r = JSON.parse(text(m.data));
    if (r.error) throw JetStreamApiError.from(r.error);
    return { stream: r.stream, seq: r.seq, duplicate: r.duplicate === true, domain: r.domain };
  }

  /** The manager over the same engine. */
  async jetstreamManager() {
    return new JetStreamManager(this._c);
  }
}

/** A publish's options as an encoded header block, or undefined when they set no header. */
function publishHeaders(opts) {
  const h = new MsgHdrs();
  if (opts.headers) for (const [k, vs] of opts.headers) for (const v of vs) h.append(k, v);
  if (opts.msgID) h.set('Nats-Msg-Id', opts.msgID);
  const e = opts.expect ?? {};
  if (e.streamName) h.set('Nats-Expected-Stream', e.streamName);
  if (e.lastSequence !== undefined) h.set('Nats-Expected-Last-Sequence', e.lastSequence);
  if (e.lastSubjectSequence !== undefined)
    h.set('Nats-Expected-Last-Subject-Sequence', e.lastSubjectSequence);
  if (e.lastMsgID) h.set('Nats-Expected-Last-Msg-Id', e.lastMsgID);
  return h.size ? h.encode() : undefined;
}

class Consumers {
  #c;
  constructor(c) {
    this.#c = c;
  }
  /** A pull consumer; fails with the API error when it does not exist. */
  async get(stream, name) {
    const info = await this.#c._api(`CONSUMER.INFO.${stream}.${name}`);
    return new PullConsumer(this.#c, stream, name, strip(info));
  }
}

/** A pull consumer: `fetch`, `next`, `consume`. */
export class PullConsumer {
  #c;
  #info;
  constructor(c, stream, name, info) {
    this.#c = c;
    this.stream = stream;
    this.name = name;
    this.#info = info;
  }

  /** ConsumerInfo (the last one seen when `cached`). */
  async info(cached = false) {
    if (!cached) this.#info = await this.#c._api(`CONSUMER.INFO.${this.stream}.${this.name}`).then(strip);
    return this.#info;
  }

  /** One pull request for up to `max_messages`; the iterator ends when it is served or expires. */
  async fetch(opts = {}) {
    const out = new ConsumerMessages();
    const pull = this.#pull(opts, (m) => out._push(m));
    out._onStop(() => pull.stop());
    pull.done.then((err) => out._end(err));
    return out;
  }

  /** The next message, or null when none arrives within `expires` ms. */
  async next(opts = {}) {
    const it = await this.fetch({ ...opts, max_messages: 1 });
    for await (const m of it) return m;
    return null;
  }

  /** Messages as they come, until `stop()`: pull requests of `max_messages` back to back. */
  async consume(opts = {}) {
    const out = new ConsumerMessages();
    let current = null;
    let stopped = false;
    out._onStop(() => {
      stopped = true;
      current?.stop();
    });
    const loop = async () => {
      while (!stopped) {
        current = this.#pull(opts, (m) => out._push(m));
        const err = await current.done;
        if (err && !stopped) return out._end(err);
      }
    };
    loop();
    return out;
  }

  /** Sends one pull request; `done` resolves (to an error or null) when it is over. */
  #pull(opts, onMsg) {
    const c = this.#c;
    const batch = opts.max_messages ?? 100;
    const expires = opts.expires ?? 30_000;
    const body = { batch, expires: nanos(expires) };
    if (opts.max_bytes) body.max_bytes = opts.max_bytes;
    if (opts.idle_heartbeat) body.idle_heartbeat = nanos(opts.idle_heartbeat);
    const inbox = c._inbox();
    let finish;
    let received = 0;
    const done = new Promise((resolve) => (finish = resolve));
    // The engine ends the request itself (408) at `expires`; this guard only bounds the wait.
    const guard = setTimeout(() => end(null), expires + 5_000);
    c._hold();
    let over = false;
    const end = (err) => {
      if (over) return;
      over = true;
      clearTimeout(guard);
      c._unsub(inbox);
      c._release();
      finish(err);
    };
    c._sub(inbox, (m, err) => {
      if (!m) return end(err);
      if (m.headers) {
        const h = MsgHdrs.decode(m.headers);
        if (h.code === 100) return; // heartbeat / flow control
        if (h.code === 404 || h.code === 408) return end(null);
        if (h.code === 409) {
          const gone = /deleted/i.test(h.description);
          return end(gone ? new ContrailError(`consumer: ${h.description}`) : null);
        }
        if (h.code >= 400) return end(new ContrailError(`pull: ${h.code} ${h.description}`));
      }
      onMsg(new JsMsg(c, m));
      if (++received >= batch) end(null);
    });
    try {
      if (!c._send(`${API}CONSUMER.MSG.NEXT.${this.stream}.${this.name}`, inbox, undefined, JSON.stringify(body))) {
        end(new NoRespondersError(`${this.stream}.${this.name}`));
      }
    } catch (e) {
      end(e);
    }
    return { done, stop: () => end(null) };
  }
}

/** Messages of a fetch or consume: an async iterator with `stop()`. */
export class ConsumerMessages {
  #q = new Queue();
  #stop = [];
  #processed = 0;
  _push(m) {
    this.#q.push(m);
  }
  _end(err) {
    this.#q.end(err ?? undefined);
  }
  _onStop(f) {
    this.#stop.push(f);
  }
  /** Messages handed out so far. */
  getProcessed() {
    return this.#processed;
  }
  /** Ends the iteration (messages not yet acked are redelivered after ack_wait). */
  stop() {
    for (const f of this.#stop) f();
    this.#q.end();
  }
  close() {
    this.stop();
    return Promise.resolve();
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

// Encoded once: a TextEncoder call per ack showed in the fetch+ack profile.
const ACK = te.encode('+ACK');

/** A message delivered by a consumer. */
export class JsMsg {
  #c;
  #acked = false;
  #info = null;
  constructor(c, m) {
    this.#c = c;
    this.subject = m.subject;
    this.reply = m.reply;
    this.data = m.data;
    this.headers = m.headers ? MsgHdrs.decode(m.headers) : undefined;
  }
  /** Delivery info, read from the ack subject when first asked for. */
  get info() {
    return (this.#info ??= parseAckSubject(this.reply ?? ''));
  }
  /** Its stream sequence. */
  get seq() {
    return this.info.streamSequence;
  }
  /** True when delivered before. */
  get redelivered() {
    return this.info.redeliveryCount > 1;
  }
  json() {
    return JSON.parse(this.string());
  }
  string() {
    return td.decode(this.data);
  }
  /** Acknowledges it. */
  ack() {
    this.#respond(ACK);
  }
  /** Asks for redelivery, after `delay` ms when given. */
  nak(delay) {
    this.#respond(delay ? `-NAK ${JSON.stringify({ delay: nanos(delay) })}` : '-NAK');
  }
  /** Still working: restarts the ack timer. */
  working() {
    if (!this.#acked) this.#c._send(this.reply, undefined, undefined, '+WPI');
  }
  /** Never redeliver it. */
  term(reason) {
    this.#respond(reason ? `+TERM ${reason}` : '+TERM');
  }
  /** Acknowledges it and resolves once the ack is durable. */
  async ackAck() {
    if (this.#acked) return false;
    this.#acked = true;
    await this.#c._request(this.reply, ACK);
    return true;
  }
  #respond(body) {
    if (this.#acked) return;
    this.#acked = true;
    this.#c._send(this.reply, undefined, undefined, body);
  }
}

/** `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` → delivery info. */
function parseAckSubject(subject) {
  const t = subject.split('.');
  const n = (i) => Number(t[i] ?? 0);
  return {
    stream: t[2] ?? '',
    consumer: t[3] ?? '',
    redeliveryCount: n(4),
    streamSequence: n(5),
    deliverySequence: n(6),
    timestampNanos: n(7),
    pending: n(8),
    redelivered: n(4) > 1,
  };
}
