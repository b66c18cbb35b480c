// contrail's remote connection: a NATS connection to a server (Contrail or nats-server) over
// WebSocket, shaped like nats.js's NatsConnection as far as it goes.
//
// The protocol lives in the engine's Rust core (its client link, run by `RemoteLink` in ./dist
// over the browser's own WebSocket): handshake and auth, keepalive PINGs, reconnect with backoff
// and jitter, subscriptions restored on every connection, request deadlines, no-responders. This
// file only turns the link's events into promises, async iterators and status events.
//
// Writes are coalesced as nats.js coalesces them (the link does it, src/wasm/link/mod.rs):
// publish and request queue their op, and a turn's ops leave in one WebSocket frame at its end
// (a microtask) or once 32 KiB are queued, in the order they were made. flush() is an op like the
// others, so it resolves after everything before it; close() hands what is queued to the socket
// before closing it, so a publish right before close() still reaches the server.
//
// drain() follows nats.js v3 (nats-core's NatsConnectionImpl.drain, ProtocolHandler.drain and
// SubscriptionImpl.drain): every subscription's UNSUB is sent (the link keeps delivering its
// messages, see `Link::drain_subscription`), a flush proves the server sent all it had for
// them, they end, publishing stops, a last flush sends what was published, and the connection
// closes. The JS side owns the subscriptions, so the link only needs the one operation.
//
// JetStream: `jetstream()` and `jetstreamManager()` return the same JetStreamClient and
// JetStreamManager (client.js, jsm.js) a local `Contrail` does. Those classes talk to their
// connection through a small internal transport (see the end of engine.js); here
// `RemoteJetStream` provides it over the link: API calls are requests to `<apiPrefix>.<suffix>`,
// publishes are requests answered by the PubAck, consumer inboxes and push deliver subjects are
// subscriptions, acks are publishes. The server does all of JetStream; nothing is held locally.
//
// Not yet: several server URLs, TLS options beyond the browser's own (wss:// works), nkeys/JWT,
// and a buffer for publishes made while disconnected (they throw instead).
// Error classes come from index.js at call time only: index.js re-exports this module, so its
// bindings are not initialized while this file is evaluated.
import { RemoteLink } from './dist/contrail.js';
import { loadWasm } from './engine.js';
import { randomToken, text, toBytes } from './util.js';
import { JetStreamClient } from './client.js';
import { JetStreamManager, jsOptions } from './jsm.js';
import { ClosedError, DrainingConnectionError, InvalidOperationError, JetStreamApiError } from './errors.js';
import { ContrailError, MsgHdrs, NoRespondersError, TimeoutError } from './index.js';

const te = new TextEncoder();
const td = new TextDecoder();

/** Events a `status()` iterator holds before it drops the oldest. */
const STATUS_QUEUE = 256;
/** Messages and bytes a subscription's iterator holds before it drops new ones (slow consumer). */
const SUB_PENDING_MSGS = 65_536;
const SUB_PENDING_BYTES = 64 * 1024 * 1024;

/** A header block from MsgHdrs (or anything with `encode()`), or undefined. */
function headerBytes(h) {
  if (!h) return undefined;
  if (typeof h.encode === 'function') return h.encode();
  throw new TypeError('headers must be a MsgHdrs (see headers())');
}

/** An error of this package with the name nats.js gives the same condition. */
function named(name, message, extra = {}) {
  const err = new ContrailError(message, extra.cause ? { cause: extra.cause } : undefined);
  err.name = name;
  for (const [k, v] of Object.entries(extra)) if (k !== 'cause') err[k] = v;
  return err;
}

/** A refused link call (`kind` set by the wasm side) as this package's error. */
function fromLink(e, closed) {
  if (closed || e?.kind === 'Stopped') return named('ClosedConnectionError', 'connection closed');
  const names = {
    NotConnected: 'NotConnectedError',
    BufferFull: 'BufferFullError',
    MaxPayload: 'MaxPayloadError',
    InvalidSubject: 'InvalidSubjectError',
    TooManyRequests: 'TooManyRequestsError',
  };
  return named(names[e?.kind] ?? 'ConnectionError', e?.message ?? String(e), { code: e?.kind });
}

/** A small async queue; `limit` bounds what it holds (`dropOldest` or refuse the new item). */
class Queue {
  #items = [];
  #waiters = [];
  #done = false;
  constructor(limit, dropOldest) {
    this.limit = limit;
    this.dropOldest = dropOldest;
  }
  get length() {
    return this.#items.length;
  }
  /** Adds an item; false when full and the item was refused. */
  push(item) {
    if (this.#done) return false;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter({ value: item, done: false });
      return true;
    }
    if (this.#items.length >= this.limit) {
      if (!this.dropOldest) return false;
      this.#items.shift();
    }
    this.#items.push(item);
    return true;
  }
  end() {
    this.#done = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }
  next() {
    if (this.#items.length) return Promise.resolve({ value: this.#items.shift(), done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((ok) => this.#waiters.push(ok));
  }
}

/** A received message, shaped like nats.js's Msg. */
class Msg {
  #nc;
  constructor(nc, m, sid) {
    this.#nc = nc;
    this.subject = m.subject;
    this.reply = m.reply ?? '';
    this.data = m.data;
    this.headers = m.headers ? MsgHdrs.decode(m.headers) : undefined;
    this.sid = sid;
  }
  string() {
    return td.decode(this.data);
  }
  json() {
    return JSON.parse(this.string());
  }
  /** Publishes to the reply subject; false when there is none. */
  respond(data, opts = {}) {
    if (!this.reply) return false;
    this.#nc.publish(this.reply, data, opts);
    return true;
  }
}

/**
 * A subscription, shaped like nats.js's: async-iterable unless made with a callback. `nc` is
 * what delivers to it and hears `_unsubscribe(sub)` and `_status(s)` (a connection here, a
 * local database's advisories in engine.js).
 */
export class Subscription {
  #nc;
  #queue = null;
  #callback;
  #max;
  #pendingBytes = 0;
  #resolveClosed;
  sid;
  received = 0;
  processed = 0;
  dropped = 0;
  constructor(nc, sid, subject, opts) {
    this.#nc = nc;
    this.sid = sid;
    this.subject = subject;
    this.#callback = opts.callback;
    this.#max = opts.max > 0 ? opts.max : 0;
    if (!this.#callback) this.#queue = new Queue(opts.maxPending ?? SUB_PENDING_MSGS, false);
    /** Resolves when the subscription ends (unsubscribed, max reached, connection closed). */
    this.closed = new Promise((ok) => (this.#resolveClosed = ok));
  }
  /** Delivered by the connection. */
  _deliver(m) {
    if (this.isClosed()) return;
    this.received++;
    const msg = new Msg(this.#nc, m, this.sid);
    if (this.#callback) {
      this.processed++;
      try {
        this.#callback(null, msg);
      } catch (e) {
        this.#nc._status({ type: 'error', error: e });
      }
    } else if (this.#pendingBytes + msg.data.length > SUB_PENDING_BYTES || !this.#queue.push(msg)) {
      this.received--;
      this.dropped++;
      this.#nc._status({ type: 'slowConsumer', sub: this, pending: this.#queue.length });
    } else {
      this.#pendingBytes += msg.data.length;
    }
    if (this.#max && this.received >= this.#max) this.unsubscribe();
  }
  /**
   * nats.js's `drain()`: the server stops sending (UNSUB), the messages it sent before still
   * reach the iterator or callback, then the subscription ends. Rejects with
   * ClosedConnectionError on a closed connection, InvalidOperationError on an ended subscription.
   */
  drain() {
    return this.#nc._drain(this);
  }
  /** True from `drain()` (this one's or the connection's) on. */
  isDraining() {
    return !!this._draining;
  }
  /**
   * `await using sub = nc.subscribe(…)`: drains the subscription when the scope ends, as
   * nats.js v3 does; an ended subscription, a closed connection or a drain already under way
   * (it is awaited) is not an error.
   */
  async [Symbol.asyncDispose]() {
    if (this.isClosed()) return;
    await this.drain().catch((e) => {
      if (e?.name !== 'ClosedConnectionError' && e?.name !== 'ClosedError') throw e;
    });
  }
  /** Ends the subscription (a `max` is not supported here: it unsubscribes now). */
  unsubscribe() {
    if (this.isClosed()) return;
    this.#nc._unsubscribe(this);
    this._end();
  }
  _end() {
    if (this._done) return;
    this._done = true;
    this.#queue?.end();
    this.#resolveClosed();
  }
  isClosed() {
    return !!this._done;
  }
  getSubject() {
    return this.subject;
  }
  getReceived() {
    return this.received;
  }
  getProcessed() {
    return this.processed;
  }
  getPending() {
    return this.#queue ? this.#queue.length : 0;
  }
  getID() {
    return this.sid;
  }
  getMax() {
    return this.#max || undefined;
  }
  [Symbol.asyncIterator]() {
    if (!this.#queue) throw named('InvalidOperationError', 'a subscription with a callback is not iterable');
    return {
      next: async () => {
        const r = await this.#queue.next();
        if (!r.done) {
          this.processed++;
          this.#pendingBytes -= r.value.data.length;
        }
        return r;
      },
      return: async () => {
        this.unsubscribe();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}

/**
 * The first URL of `servers`, with ws:// (or wss:// on an https page) when none is given: what
 * `getServer()` says, and the name an upload records its server by (sync.js).
 */
export function serverUrl(servers) {
  const list = Array.isArray(servers) ? servers : [servers ?? '127.0.0.1:8080'];
  if (list.length !== 1) {
    throw named('InvalidOptionError', 'several servers are not supported yet: give one URL');
  }
  const url = String(list[0]);
  if (/^wss?:\/\//i.test(url)) return url;
  const secure = globalThis.location?.protocol === 'https:';
  return `${secure ? 'wss' : 'ws'}://${url}`;
}

/**
 * Connects to a NATS server over WebSocket. Resolves once the first handshake completed; rejects
 * when the first attempt fails (an AuthorizationError for refused credentials), unless
 * `waitOnFirstConnect` is set.
 */
export async function connect(opts = {}) {
  const nc = await dial(opts);
  await nc._ready;
  return nc;
}

/**
 * The package's own `connect()`: the connection at once, before its first server answered (its
 * `_ready` says when), so a caller that stops needing it while it still waits for a server (a
 * database closing during a takeover's dial, tabuploads.js) can close it and end its attempts.
 */
export async function dial(opts = {}) {
  if (typeof globalThis.WebSocket !== 'function') {
    throw new TypeError('no WebSocket in this environment (Node 20: run with --experimental-websocket; Node 22+ has one)');
  }
  await loadWasm();
  return new RemoteConnection(serverUrl(opts.servers), opts);
}

/** A connection to a NATS server over WebSocket, shaped like nats.js's NatsConnection. */
export class RemoteConnection {
  #link;
  #url;
  #opts;
  #subs = new Map();
  /** Subscriptions of the JetStream classes (sid → handler of the link's raw message). */
  #raw = new Map();
  #requests = new Map();
  #statusQueues = new Set();
  #everConnected = false;
  #attempts = 0;
  #lastAuthError = null;
  #closing = false;
  /** drain() was called: subscribe and request refused (nats.js's `draining`). */
  #draining = false;
  /** The subscriptions drained: publish refused too (nats.js's `noMorePublishing`). */
  #noMorePublishing = false;
  #closedError;
  #resolveClosed;
  #closedPromise;
  #flush = null;
  #readyCallbacks;
  /** The current server's INFO. */
  info = undefined;

  constructor(url, opts) {
    this.#url = url;
    this.#opts = {
      reconnect: opts.reconnect ?? true,
      maxReconnectAttempts: opts.maxReconnectAttempts ?? 10,
      waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    };
    this.#closedPromise = new Promise((ok) => (this.#resolveClosed = ok));
    this._ready = new Promise((ok, fail) => (this.#readyCallbacks = { ok, fail }));
    const options = {
      name: opts.name,
      token: opts.token,
      user: opts.user,
      pass: opts.pass,
      pingInterval: opts.pingInterval,
      maxPingOut: opts.maxPingOut,
      timeout: opts.timeout,
      reconnectTimeWait: opts.reconnectTimeWait,
      reconnectTimeWaitMax: opts.reconnectTimeWaitMax,
      reconnectJitter: opts.reconnectJitter,
      maxPendingBytes: opts.maxPendingBytes,
    };
    this.#link = new RemoteLink(url, options, (ev) => this.#onEvent(ev));
  }

  #onEvent(ev) {
    switch (ev.type) {
      case 'connected': {
        this.info = JSON.parse(ev.info);
        this.#attempts = 0;
        this.#lastAuthError = null;
        if (!this.#everConnected) {
          this.#everConnected = true;
          this.#readyCallbacks.ok();
        } else {
          this._status({ type: 'reconnect', server: this.#url });
        }
        break;
      }
      case 'disconnected':
        if (this.#closing) break;
        this.#failFlush(named('ConnectionError', `disconnected: ${ev.reason}`));
        this._status({ type: 'disconnect', server: this.#url, error: ev.reason });
        if (!this.#opts.reconnect) this.#shutdown(named('ConnectionError', `disconnected: ${ev.reason}`));
        break;
      case 'attemptFailed': {
        if (this.#closing) break;
        const error = this.#lastAuthError ?? named('ConnectionError', `cannot connect to ${this.#url}: ${ev.reason}`);
        if (!this.#everConnected && !this.#opts.waitOnFirstConnect) {
          this.#shutdown(error);
          break;
        }
        this.#attempts++;
        const max = this.#opts.maxReconnectAttempts;
        if (!this.#opts.reconnect || (max >= 0 && this.#attempts > max)) this.#shutdown(error);
        else if (ev.state === 'waiting') this._status({ type: 'reconnecting', server: this.#url, error: ev.reason });
        break;
      }
      case 'error': {
        const err = ev.kind === 'authorization'
          ? named('AuthorizationError', ev.message)
          : named(ev.kind === 'signature' ? 'SignatureError' : 'ServerError', ev.message);
        if (ev.kind === 'authorization') this.#lastAuthError = err;
        this._status({ type: 'error', error: err });
        break;
      }
      case 'stopped':
        this.#shutdown(ev.authorization ? (this.#lastAuthError ?? named('AuthorizationError', ev.reason)) : undefined);
        break;
      case 'message': {
        if (this.#flush && ev.sid === this.#flush.sid) {
          this.#flushed(Number(td.decode(ev.data)));
          break;
        }
        const handler = this.#raw.get(ev.sid);
        if (handler) handler(ev);
        else this.#subs.get(ev.sid)?._deliver(ev);
        break;
      }
      case 'reply': {
        const waiting = this.#requests.get(ev.id);
        this.#requests.delete(ev.id);
        waiting?.ok(waiting.raw ? ev : new Msg(this, ev, 0));
        break;
      }
      case 'requestFailed': {
        const waiting = this.#requests.get(ev.id);
        this.#requests.delete(ev.id);
        if (!waiting) break;
        if (ev.error === 'noResponders') waiting.fail(new NoRespondersError(waiting.subject));
        else if (ev.error === 'timeout') {
          const err = new TimeoutError(waiting.subject, waiting.timeout);
          err.message = `request to ${waiting.subject} timed out after ${waiting.timeout} ms`;
          waiting.fail(err);
        } else waiting.fail(this.#closing ? named('ClosedConnectionError', 'connection closed') : named('RequestError', `${ev.message}: ${waiting.subject}`));
        break;
      }
    }
  }

  /** Hands a status event to every `status()` iterator. */
  _status(s) {
    for (const q of this.#statusQueues) q.push(s);
  }

  /** The server URL. */
  getServer() {
    return this.#url;
  }

  /** Publishes `payload` (string or bytes) to `subject`, with `headers` and `reply` if given. */
  publish(subject, payload, opts = {}) {
    this.#check('pub');
    try {
      this.#link.publish(subject, toBytes(payload), opts.reply || undefined, headerBytes(opts.headers));
    } catch (e) {
      throw fromLink(e, this.isClosed());
    }
  }

  /**
   * Subscribes to `subject` (wildcards allowed), in `queue` group if given. Returns an
   * async-iterable Subscription, or calls `callback(err, msg)` per message. Kept across reconnects.
   */
  subscribe(subject, opts = {}) {
    this.#check('sub');
    let sid;
    try {
      sid = this.#link.subscribe(subject, opts.queue || undefined);
    } catch (e) {
      throw fromLink(e, this.isClosed());
    }
    const sub = new Subscription(this, sid, subject, opts);
    this.#subs.set(sid, sub);
    return sub;
  }

  _unsubscribe(sub) {
    if (!this.#subs.delete(sub.sid) || this.isClosed()) return;
    try {
      this.#link.unsubscribe(sub.sid);
    } catch {
      // Already gone on the link (closed meanwhile): nothing left to end.
    }
  }

  /**
   * Sends a request and resolves to the first reply. Rejects with NoRespondersError when nothing
   * subscribes to `subject` (503), TimeoutError after `timeout` ms (default 1000).
   */
  request(subject, payload, opts = {}) {
    try {
      this.#check('sub');
    } catch (e) {
      return Promise.reject(e);
    }
    const timeout = opts.timeout ?? 1000;
    return new Promise((ok, fail) => {
      let id;
      try {
        id = this.#link.request(subject, toBytes(payload), headerBytes(opts.headers), timeout);
      } catch (e) {
        fail(e instanceof TypeError ? e : fromLink(e, this.isClosed()));
        return;
      }
      this.#requests.set(id, { ok, fail, subject, timeout });
    });
  }

  /**
   * The JetStream client over this connection: the same JetStreamClient as a local engine's.
   * `opts` as nats.js's `jetstream(nc, opts)`: `apiPrefix`, or `domain` (`$JS.<domain>.API`),
   * and `timeout` (ms, default 5000) for API requests, publishes and `ackAck()`.
   */
  jetstream(opts = {}) {
    return new JetStreamClient(new RemoteJetStream(this, opts), opts);
  }

  /**
   * The JetStream manager over this connection (`opts` as for `jetstream()`). Asks the server
   * for its account info first, as nats.js does, unless `checkAPI` is false.
   */
  async jetstreamManager(opts = {}) {
    const jsm = new JetStreamManager(new RemoteJetStream(this, opts), opts);
    // As nats.js (unless `checkAPI: false`): fails here when the server has no JetStream.
    if (opts.checkAPI !== false) await jsm._c._api('INFO');
    return jsm;
  }

  /** Subscribes `handler(msg)` to `subject` for the JetStream classes (the link's raw message). */
  _rawSubscribe(subject, handler) {
    this.#check('sub');
    let sid;
    try {
      sid = this.#link.subscribe(subject, undefined);
    } catch (e) {
      throw fromLink(e, this.isClosed());
    }
    this.#raw.set(sid, handler);
    return sid;
  }

  _rawUnsubscribe(sid) {
    if (!this.#raw.delete(sid) || this.isClosed()) return;
    try {
      this.#link.unsubscribe(sid);
    } catch {
      // Already gone on the link (closed meanwhile).
    }
  }

  /** A request resolving to the link's raw reply (`{subject, reply, headers, data}`). */
  _rawRequest(subject, data, hdrs, timeout) {
    try {
      this.#check('sub');
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((ok, fail) => {
      let id;
      try {
        id = this.#link.request(subject, toBytes(data), hdrs ?? undefined, timeout);
      } catch (e) {
        fail(e instanceof TypeError ? e : fromLink(e, this.isClosed()));
        return;
      }
      this.#requests.set(id, { ok, fail, subject, timeout, raw: true });
    });
  }

  /** Publishes raw bytes (a header block already encoded) for the JetStream classes. */
  _rawPublish(subject, reply, hdrs, data) {
    this.#check('pub');
    try {
      this.#link.publish(subject, toBytes(data), reply || undefined, hdrs ?? undefined);
    } catch (e) {
      throw fromLink(e, this.isClosed());
    }
  }

  /**
   * Resolves once the server has processed everything published before it (a message to the
   * connection's own private subject comes back). Rejects when not connected.
   */
  flush() {
    try {
      this.#check();
      if (!this.#flush) {
        const subject = `${this.#link.inboxPrefix()}_flush`;
        this.#flush = { subject, sid: this.#link.subscribe(subject, undefined), next: 0, waiting: [] };
      }
      const n = ++this.#flush.next;
      const done = new Promise((ok, fail) => this.#flush.waiting.push({ n, ok, fail }));
      this.#link.publish(this.#flush.subject, te.encode(String(n)), undefined, undefined);
      return done;
    } catch (e) {
      const err = e instanceof ContrailError ? e : fromLink(e, this.isClosed());
      this.#failFlush(err);
      return Promise.reject(err);
    }
  }

  #flushed(n) {
    const waiting = this.#flush.waiting;
    while (waiting.length && waiting[0].n <= n) waiting.shift().ok();
  }

  #failFlush(err) {
    if (!this.#flush) return;
    for (const w of this.#flush.waiting.splice(0)) w.fail(err);
  }

  /**
   * Status events as an async iterator: `disconnect`, `reconnecting`, `reconnect`, `error`,
   * `slowConsumer`, `close`. Holds at most 256 unread events (the oldest go first).
   */
  status() {
    const q = new Queue(STATUS_QUEUE, true);
    if (this.isClosed()) q.end();
    else this.#statusQueues.add(q);
    return {
      next: () => q.next(),
      return: async () => {
        this.#statusQueues.delete(q);
        q.end();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Closes the connection: subscriptions end, waiting requests reject, nothing reconnects. */
  async close() {
    this.#shutdown(undefined);
    await this.#closedPromise;
  }

  /**
   * nats.js's `drain()`, for a clean shutdown (e.g. on `pagehide`): every subscription stops
   * (UNSUB) and still gets the messages the server sent before, then ends; publishing stops,
   * what was published reaches the server (a flush), and the connection closes (`closed()`
   * resolves to undefined, a `close` status follows). From the call on, `subscribe` and
   * `request` throw DrainingConnectionError; `publish` does once the subscriptions ended, so a
   * handler can still answer what it drains. Rejects with ClosedConnectionError when closed,
   * DrainingConnectionError when already draining. While disconnected, nothing can be flushed:
   * the subscriptions end with what arrived and the connection closes.
   */
  async drain() {
    this.#check();
    if (this.#draining) throw new DrainingConnectionError();
    this.#draining = true;
    const subs = [...this.#subs.values()];
    const earlier = subs.filter((sub) => sub._drained).map((sub) => sub._drained);
    const fresh = subs.filter((sub) => !sub._drained);
    let ended;
    const allEnded = new Promise((ok) => (ended = ok));
    for (const sub of fresh) {
      sub._drained = allEnded;
      this.#stopInterest(sub.sid, sub);
    }
    // The JetStream classes' subscriptions too: they end with the connection, as on close().
    for (const sid of this.#raw.keys()) this.#stopInterest(sid);
    // One round trip after every UNSUB: all the server sent for them has arrived.
    await this.#flushQuietly();
    await Promise.allSettled(earlier);
    this.#noMorePublishing = true;
    for (const sub of fresh) sub.unsubscribe();
    ended();
    // What was published (a handler's last answers included) reaches the server.
    await this.#flushQuietly();
    await this.close();
  }

  /** True from `drain()` on. */
  isDraining() {
    return this.#draining;
  }

  /**
   * `await using nc = await connect(…)`: drains the connection when the scope ends, as nats.js
   * v3 does; a closed connection is not an error, and a drain already under way is awaited.
   */
  async [Symbol.asyncDispose]() {
    if (this.#draining) return void (await this.closed());
    if (this.isClosed()) return;
    await this.drain();
  }

  /** `Subscription.drain()` (see there). */
  _drain(sub) {
    try {
      this.#check();
    } catch (e) {
      return Promise.reject(e);
    }
    if (sub.isClosed()) return Promise.reject(new InvalidOperationError('subscription is already closed'));
    sub._drained ??= (async () => {
      this.#stopInterest(sub.sid, sub);
      await this.#flushQuietly();
      sub.unsubscribe();
    })();
    return sub._drained;
  }

  /** UNSUB for `sid`; the link goes on delivering its messages until it is unsubscribed. */
  #stopInterest(sid, sub) {
    if (sub) sub._draining = true;
    try {
      this.#link.drainSubscription(sid);
    } catch {
      // Already draining or gone: nothing more to stop.
    }
  }

  /** A flush whose failure (disconnected, closed meanwhile) only ends the wait. */
  #flushQuietly() {
    return this.flush().catch(() => {});
  }

  /** Resolves when the connection is closed: to the Error that closed it, or undefined. */
  closed() {
    return this.#closedPromise;
  }

  isClosed() {
    return this.#closing;
  }

  /** The wasm RemoteLink under this connection, for a local database's sync (sync.js). */
  _wasmLink() {
    this.#check();
    return this.#link;
  }

  /** Connection statistics are not kept yet; the link's state instead. */
  get state() {
    return this.isClosed() ? 'closed' : this.#link.state();
  }

  /**
   * Refuses an operation as nats.js's `_check` does: anything once closed; while draining,
   * `'sub'` (subscribe, request) from the start and `'pub'` once the subscriptions drained.
   */
  #check(op) {
    if (this.#closing) throw named('ClosedConnectionError', 'connection closed');
    if ((op === 'sub' && this.#draining) || (op === 'pub' && this.#noMorePublishing)) {
      throw new DrainingConnectionError();
    }
  }

  #shutdown(error) {
    if (this.#closing) return;
    this.#closing = true;
    this.#closedError = error;
    this.#link.close();
    const err = error ?? named('ClosedConnectionError', 'connection closed');
    for (const { fail } of this.#requests.values()) fail(err);
    this.#requests.clear();
    this.#failFlush(err);
    for (const sub of this.#subs.values()) sub._end();
    this.#subs.clear();
    const rawErr = error ?? new ClosedError();
    for (const handler of [...this.#raw.values()]) handler(null, rawErr);
    this.#raw.clear();
    this._status({ type: 'close', error });
    for (const q of this.#statusQueues) q.end();
    this.#statusQueues.clear();
    if (!this.#everConnected) this.#readyCallbacks.fail(err);
    this.#resolveClosed(error);
    // Freed once off the wasm stack: this may run inside one of the link's own callbacks.
    const link = this.#link;
    queueMicrotask(() => link.free());
  }
}

/**
 * The transport the JetStream classes (jsm.js, client.js, consumer.js, pushconsumer.js, msg.js)
 * use, over a remote connection: the same `_`-methods `Contrail` has (engine.js). One per
 * `jetstream()`/`jetstreamManager()` call, carrying its `apiPrefix` (subjects the classes build
 * under `$JS.API.` go to that prefix instead) and its `timeout`.
 */
class RemoteJetStream {
  #nc;
  #prefix;
  #timeout;
  #inboxPrefix = `_INBOX.${randomToken()}.`;
  #seq = 0;
  /** subject → sid of the subscriptions made through `_sub`. */
  #subs = new Map();

  constructor(nc, opts) {
    this.#nc = nc;
    const o = jsOptions(opts);
    this.#prefix = `${o.apiPrefix}.`;
    this.#timeout = o.timeout;
  }

  /** `$JS.API.<rest>` with this client's prefix instead. */
  #route(subject) {
    return subject.startsWith('$JS.API.') ? this.#prefix + subject.slice(8) : subject;
  }

  _inbox() {
    return this.#inboxPrefix + ++this.#seq;
  }

  /** Subscribes `handler(msg)` to `subject`; `handler(null, err)` when the connection ends. */
  _sub(subject, handler) {
    this._unsub(subject);
    this.#subs.set(subject, this.#nc._rawSubscribe(subject, (m, err) => (m ? handler({ ...m, to: subject }) : handler(null, err))));
  }

  _hasSub(subject) {
    return this.#subs.has(subject);
  }

  _unsub(subject) {
    const sid = this.#subs.get(subject);
    if (sid === undefined) return;
    this.#subs.delete(subject);
    this.#nc._rawUnsubscribe(sid);
  }

  /** Publishes (an ack, a pull request, a flow-control reply); the server decides what it means. */
  _send(subject, reply, hdrs, data) {
    if (this.#nc.isClosed()) throw new ClosedError();
    this.#nc._rawPublish(this.#route(subject), reply, hdrs, data);
    return true;
  }

  /** No direct path to the server's streams: publishes go as requests (`_request`). */
  _publish() {
    return null;
  }

  /** A request resolving to the raw reply; NoRespondersError / TimeoutError as the link says. */
  _request(subject, data, hdrs, timeout) {
    if (this.#nc.isClosed()) return Promise.reject(new ClosedError());
    return this.#nc._rawRequest(this.#route(subject), data, hdrs, timeout > 0 ? timeout : this.#timeout);
  }

  /** A JetStream API request with a JSON body; resolves to the JSON reply or throws its error. */
  async _api(suffix, body) {
    const m = await this._request(this.#prefix + suffix, body === undefined ? '' : JSON.stringify(body));
    const reply = JSON.parse(text(m.data));
    if (reply.error) throw JetStreamApiError.from(reply.error);
    return reply;
  }

  /** Nothing to keep alive here: the link's socket does. */
  _hold() {}
  _release() {}

  /** The server sees a push consumer's interest through the subscription itself. */
  _interest() {}

  /** A subscription on the connection (jsm.js `advisories()`). */
  _subscribe(subject, opts) {
    return this.#nc.subscribe(subject, opts);
  }

  /** The server's INFO (obj.js reads `max_payload` from it). */
  get info() {
    return this.#nc.info;
  }

  /** A server has no browser storage to report. */
  async storage() {
    return { usage: null, quota: null, persisted: null };
  }

  jetstream(opts = {}) {
    return this.#nc.jetstream(opts);
  }

  async jetstreamManager(opts = {}) {
    return this.#nc.jetstreamManager(opts);
  }
}
