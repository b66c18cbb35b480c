// The engine's host: loads the WebAssembly module, hands the wasm Engine (src/wasm/engine.rs)
// `$JS.API` requests, publishes and acks, routes what it releases to local inboxes, drives its
// timers with setTimeout and commits (IndexedDB) before anything confirmed is released.
// Everything JetStream does (dedup, expectations, acks, redelivery, limits) happens in the
// engine; nothing here duplicates it. The JetStream API classes (jsm.js, client.js) talk to it
// through the `_`-prefixed plumbing at the end of `Contrail` (`_api`, `_request`, `_publish`,
// `_send`, `_sub`, `_unsub`, `_hasSub`, `_inbox`, `_hold`, `_release`, `_interest`,
// `_subscribe`, `storage`);
// remote.js's `RemoteJetStream` provides the same over a server connection, so keep them in step.
import init, { Engine } from './dist/contrail.js';
import { canShare, joinTab } from './tabs.js';
import {
  ClosedError,
  ContrailError,
  InvalidOperationError,
  JetStreamApiError,
  NoRespondersError,
  StorageFullError,
  TimeoutError,
  WriterLostError,
  isQuotaError,
} from './errors.js';
import { isNoResponders, randomToken, text, toBytes } from './util.js';
import { JetStreamClient } from './client.js';
import { JetStreamManager } from './jsm.js';
import { Upload, listUploads, startSync } from './sync.js';
import { attachApi } from './link.js';
import { SharedUploads } from './tabuploads.js';
import { MIRROR_MESSAGES, Mirrors } from './mirrors.js';
import { Subscription } from './remote.js';

const API = '$JS.API.';
/** What the engine publishes by itself (advisories): the only subjects `subscribe()` takes. */
const EVENTS = '$JS.EVENT.';

/** True when NATS subject filter `filter` (wildcards `*`, `>`) matches the literal `subject`. */
function subjectMatches(filter, subject) {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

// ---- wasm loading -------------------------------------------------------------------------------

let loading;
/** Loads the WebAssembly module once (fetch in browsers, the file system in Node); remote.js
 * shares it. */
export function loadWasm() {
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

// ---- what a flush released ------------------------------------------------------------------------

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

// ---- the engine -----------------------------------------------------------------------------------

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
  if (!canShare()) return new Contrail(await openEngine(), null, { name: opts.name });
  const tab = await joinTab(opts.name, {
    shared: opts.shared !== false,
    timeout: opts.timeout ?? 5000,
    openEngine,
    errors: { ContrailError, NoRespondersError, WriterLostError, TimeoutError, StorageFullError },
  });
  return new Contrail(tab.engine, tab, { connect: opts.connect, timeout: opts.timeout ?? 5000, name: opts.name });
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
  /** A microtask will hand the engine its links' news (see `#woken`). */
  #newsQueued = false;
  #timer = null;
  #holds = 0;
  #closed = false;
  /** The tabs sharing this database (tabs.js), or null when this context is alone. */
  #tab;
  /** Ending a fast open (`#finishOpening`), once started. */
  #opening = null;
  /** Called after every flush (sync.js watches its upload's status). */
  #flushWatchers = new Set();
  /** Subscriptions made with `subscribe()` (advisories), and how many use each filter. */
  #eventSubs = new Set();
  #eventFilters = new Map();
  /** Event filters the engine was told of (`setEventInterest`), to tell it only of changes. */
  #eventOnEngine = new Set();
  #sid = 0;
  /** The handles of the running uploads, by name (sync.js). */
  #uploadHandles = new Map();
  /** The uploads as other tabs see and steer them, and a takeover's dialling (tabuploads.js). */
  #sharedUploads = null;
  /** The local mirrors' statuses in either role, and a takeover's attaching (mirrors.js). */
  #mirrors;
  /** The IndexedDB database's name (null in memory). */
  #name;

  /**
   * `engine` is the wasm Engine, or null for a follower tab (it sends everything through `tab`).
   * `connect(server)` dials a recorded upload's or attachment's server after a takeover
   * (false: never); `name` is the IndexedDB database's.
   */
  constructor(engine, tab = null, { connect, timeout = 5000, name = null } = {}) {
    this.#engine = engine;
    this.#tab = tab;
    this.#name = name;
    if (tab?.shared) this.#sharedUploads = new SharedUploads(this, tab, { dial: connect, timeout });
    const shared = this.#sharedUploads;
    this.#mirrors = new Mirrors(this, tab, { timeout, connection: shared && ((server) => shared.connection(server)) });
    // A server connection attached to the engine has news for it: flush soon.
    engine?.setWake?.(() => this.#woken());
    tab?.attach({
      handle: (subject, reply, hdrs, data) => {
        const took = this.#engine.handle(subject, reply ?? undefined, hdrs ?? undefined, data, Date.now());
        this._kick();
        return took;
      },
      setInterest: (subject, active) => {
        this.#applyInterest(subject, active);
        this._kick();
      },
      deliver: (m) => {
        this.#subs.get(m.to)?.(m);
        this.#deliverEvent(m);
      },
      fail: (to, err) => this.#subs.get(to)?.(null, err),
      message: (m) => (MIRROR_MESSAGES.has(m.t) ? this.#mirrors.receive(m) : this.#sharedUploads?.receive(m)),
      writerChanged: (id) => {
        this.#sharedUploads?.writerChanged(id);
        this.#mirrors.writerChanged(id);
      },
      promote: (engine) => {
        this.#engine = engine;
        this.#eventOnEngine.clear(); // a new engine: the interests replayed to it tell it anew
        engine.setWake?.(() => this.#woken());
        this.#opening = null;
        this.#finishOpeningSoon();
        this._kick();
        this.#sharedUploads?.promoted().catch(() => {}); // the recorded uploads go on from here
        this.#mirrors.promoted().catch(() => {}); // and the recorded routes are attached again
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

  /**
   * The JetStream client: publish and consume. `opts` as nats.js's `jetstream(nc, opts)`:
   * `timeout` (ms, default 5000) bounds `ackAck()` and requests through another tab; `domain`
   * and `apiPrefix` are accepted and reported by `getOptions()`, but there is one local engine
   * and it answers `$JS.API` whatever they say.
   */
  jetstream(opts = {}) {
    return new JetStreamClient(this, opts);
  }

  /** The JetStream manager: streams and consumers (`opts` as for `jetstream()`). */
  async jetstreamManager(opts = {}) {
    return new JetStreamManager(this, opts);
  }

  /**
   * Uploads local stream `opts.stream` to stream `opts.to` on the server `conn` (from
   * `connect()`) exactly once, offline first: see sync.js and the README's "Sync". The upload is
   * recorded in the database: opened again, it is listed by `uploads()` and goes on once
   * `uploads(conn)` gives a connection to the same server. `conn` may be that server's URL
   * alone (offline: the upload is recorded and waits). Resolves to the upload's handle (status,
   * events, pause/resume, stop, forget).
   */
  async sync(conn, opts) {
    this.#writerOnly('sync');
    if (this.#engine.loading) await this.#finishOpening();
    return startSync(this, conn, opts);
  }

  /**
   * The uploads this database runs, those recorded before it was opened included. With `conn`
   * (from `connect()`), every upload recorded for its server goes on over it, after its cursor.
   */
  async uploads(conn) {
    if (!this.#closed && !this.#engine && this.#sharedUploads && (conn === undefined || conn === null)) {
      // A follower: the writer's uploads, their statuses fed over the tab channel.
      return (await this.#sharedUploads.names()).map((name) => this._upload(name));
    }
    this.#writerOnly('uploads');
    if (this.#engine.loading) await this.#finishOpening();
    return listUploads(this, conn);
  }

  #writerOnly(what) {
    if (this.#closed) throw new ClosedError();
    if (!this.#engine) throw new ContrailError(`${what} runs in the tab that holds the database (this one is a follower)`);
  }

  /** The one handle of running upload `name` (sync.js). */
  _upload(name) {
    let upload = this.#uploadHandles.get(name);
    if (!upload) {
      upload = new Upload(this, name);
      this.#uploadHandles.set(name, upload);
    }
    return upload;
  }

  /** The uploads as seen from a follower tab (tabuploads.js), null when not shared. */
  get _sharedUploads() {
    return this.#sharedUploads;
  }

  /** A follower heard new upload statuses: the handles look (as after a flush in a writer). */
  _uploadsChanged() {
    for (const watch of this.#flushWatchers) watch();
  }

  /** Upload `name`'s handle `upload` ended (sync.js). */
  _forgetUpload(name, upload) {
    if (this.#uploadHandles.get(name) === upload) this.#uploadHandles.delete(name);
  }

  /**
   * Serves the JetStream API `opts.domain` (or `opts.external`) over the server `conn` (from
   * `connect()`): local mirrors and sources naming it follow their server stream, offline first
   * (see the README's "Sync"). `opts.api` is the server's prefix (default `$JS.API`). Resolves
   * to a handle whose `detach()` stops it.
   */
  async attach(conn, opts) {
    if (this.#closed) throw new ClosedError();
    if (!this.#engine) throw new ContrailError('attach runs in the tab that holds the database (this one is a follower)');
    if (this.#engine.loading) await this.#finishOpening();
    return attachApi(this, conn, opts);
  }

  /**
   * The local mirrors (streams with a `mirror`), in either role: handles whose `status()` and
   * `events()` follow each mirror's lag, last contact, last stored sequence,
   * error and connection (mirrors.js). In a follower tab they are the writer's, posted over the
   * tab channel; no writer answering within `timeout` rejects with `TimeoutError`.
   */
  async mirrors() {
    if (this.#closed) throw new ClosedError();
    if (this.#engine?.loading) await this.#finishOpening();
    return this.#mirrors.list();
  }

  /** The local mirrors' statuses and attachments (mirrors.js, link.js). */
  get _mirrors() {
    return this.#mirrors;
  }

  /** The IndexedDB database's name, or null (attached.js records in it). */
  get _name() {
    return this.#name;
  }

  /** The wasm engine, for sync.js and link.js (null in a follower tab). */
  get _wasm() {
    return this.#engine;
  }

  /** Calls `fn()` after every flush until `unwatch`. */
  _watchFlush(fn) {
    this.#flushWatchers.add(fn);
    return () => this.#flushWatchers.delete(fn);
  }

  /**
   * Subscribes to what the engine publishes by itself: JetStream advisories on
   * `$JS.EVENT.ADVISORY.…` (wildcards allowed), as nats-server publishes them. Shaped like
   * nats.js's `nc.subscribe()`: an async-iterable Subscription, or `opts.callback(err, msg)`.
   * The engine builds an advisory only while a subscription covers its subject. Other tabs'
   * subscriptions hear this database's advisories too.
   */
  subscribe(subject, opts = {}) {
    if (this.#closed) throw new ClosedError();
    if (typeof subject !== 'string' || !subject.startsWith(EVENTS)) {
      throw new ContrailError(`a database publishes only on ${EVENTS}>: cannot subscribe to "${subject}"`);
    }
    const sub = new Subscription(this, ++this.#sid, subject, opts);
    this.#eventSubs.add(sub);
    const users = (this.#eventFilters.get(subject) ?? 0) + 1;
    this.#eventFilters.set(subject, users);
    if (users === 1) this._interest(subject, true);
    return sub;
  }

  /** Ends a subscription made with `subscribe()` (its `unsubscribe()` calls this). */
  _unsubscribe(sub) {
    if (!this.#eventSubs.delete(sub)) return;
    const users = (this.#eventFilters.get(sub.subject) ?? 1) - 1;
    if (users > 0) return this.#eventFilters.set(sub.subject, users);
    this.#eventFilters.delete(sub.subject);
    if (!this.#closed) this._interest(sub.subject, false);
  }

  /**
   * A subscription's `drain()`: advisories are handed over as they are made, none is ever in
   * flight, so it ends at once.
   */
  _drain(sub) {
    if (this.#closed) return Promise.reject(new ClosedError());
    if (sub.isClosed()) return Promise.reject(new InvalidOperationError('subscription is already closed'));
    sub._draining = true;
    sub.unsubscribe();
    return Promise.resolve();
  }

  /** The transport's subscription (jsm.js `advisories()`). */
  _subscribe(subject, opts) {
    return this.subscribe(subject, opts);
  }

  /** A subscription's news (a callback's error, a slow consumer): nothing listens here. */
  _status() {}

  /** Hands an advisory to the subscriptions whose filter covers it. */
  #deliverEvent(m) {
    if (this.#eventSubs.size === 0 || !m.to?.startsWith(EVENTS)) return;
    for (const sub of this.#eventSubs) if (subjectMatches(sub.subject, m.subject)) sub._deliver(m);
  }

  /** Tells the engine of interest: in a push deliver subject, or in advisories (a filter). */
  #applyInterest(subject, active) {
    if (!subject.startsWith(EVENTS)) return this.#engine.setInterest(subject, active, Date.now());
    if (active === this.#eventOnEngine.has(subject)) return;
    if (active) this.#eventOnEngine.add(subject);
    else this.#eventOnEngine.delete(subject);
    this.#engine.setEventInterest(subject, active);
  }

  /** Waits for every write so far to commit, then stops timers and closes the database. */
  async close() {
    if (this.#closed) return;
    this.#tab?.closing();
    if (this.#engine?.loading) await this.#finishOpening();
    await (this.#engine ? this._kick() : this.#tab.drain());
    this.#closed = true;
    this.#engine?.setWake?.(undefined);
    for (const watch of [...this.#flushWatchers]) watch(new ClosedError());
    this.#flushWatchers.clear();
    clearTimeout(this.#timer);
    this.#failAll(new ClosedError());
    // Advisory subscriptions end with the database (a failed commit leaves them: the engine
    // goes on, and so do its advisories).
    for (const sub of [...this.#eventSubs]) sub._end();
    this.#eventSubs.clear();
    this.#eventFilters.clear();
    this.#engine?.close();
    this.#tab?.close(); // after the database closed: releases the lock, a follower takes over
  }

  /** nats.js's `drain()`: here the same as `close()` (nothing is subscribed from outside). */
  drain() {
    return this.close();
  }

  /** `await using db = await open(…)`: closes the database when the scope ends (closed already: nothing). */
  async [Symbol.asyncDispose]() {
    await this.close();
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

  /** True when something here already takes messages sent to `subject`. */
  _hasSub(subject) {
    return this.#subs.has(subject);
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

  /**
   * Sends a request and resolves to the raw reply. With `timeout` (ms) it rejects with
   * `TimeoutError` when no reply came by then (the request may still take effect).
   */
  _request(subject, data, hdrs, timeout) {
    return new Promise((resolve, reject) => {
      const inbox = this._inbox();
      let timer;
      const done = () => {
        clearTimeout(timer);
        this._unsub(inbox);
      };
      this._sub(inbox, (m, err) => {
        done();
        if (err) reject(err);
        else if (isNoResponders(m.headers)) reject(new NoRespondersError(subject));
        else resolve(m);
      });
      let took;
      try {
        took = this._send(subject, inbox, hdrs, data);
      } catch (e) {
        done();
        return reject(e);
      }
      if (!took) {
        done();
        reject(new NoRespondersError(subject));
      } else if (timeout > 0) {
        timer = setTimeout(() => {
          done();
          reject(new TimeoutError(subject, timeout));
        }, timeout);
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
    this.#applyInterest(subject, active);
    this._kick();
  }

  /**
   * A link has news for the engine (called from inside the link's driver: nothing here may
   * call the engine at once). Flushes soon; while a commit is in flight the engine also takes
   * the news in a microtask (once per WebSocket frame, not per message), so its work on a
   * mirror's deliveries overlaps that commit rather than following it. The next flush still
   * makes them durable before anything that vouches for them (flow-control replies) leaves.
   */
  #woken() {
    if (this.#pumping && !this.#newsQueued && this.#engine?.takeNews) {
      this.#newsQueued = true;
      queueMicrotask(() => {
        this.#newsQueued = false;
        if (!this.#closed && this.#engine) this.#engine.takeNews();
      });
    }
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
        for (const watch of this.#flushWatchers) watch();
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
      this.#deliverEvent(m);
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
