// Several tabs (pages, workers) of one origin sharing one database: one writer, many followers.
//
// IndexedDB lets every tab open the same database, but the engine keeps its stream state in memory
// and assumes it is the only one writing: two engines on one database would issue the same
// sequence numbers. So exactly one context, the WRITER, owns the wasm Engine; the others are
// FOLLOWERS that hand every message they would give the engine to the writer and get back what
// the engine releases for their inboxes. All JetStream behaviour stays in the one engine.
//
// Election. The writer holds the Web Lock "contrail:<name>" for as long as it owns the engine.
// `open()` asks for it with `ifAvailable`: granted, this context opens the engine from IndexedDB
// and is the writer; refused, it is a follower and queues a second, waiting request for the same
// lock. The browser grants it when the writer closes or its tab dies (locks die with their
// context), in request order, so one follower at a time TAKES OVER: it opens the engine from
// IndexedDB, reading only what was committed, and only after holding the lock, so its sequence
// numbers continue where the last commit left them. Each context also holds its own presence lock
// "contrail:<name>#<id>", which the writer waits on to learn that a follower is gone (to drop the
// push-consumer interest it registered).
//
// Messages on the BroadcastChannel "contrail:<name>" (structured clones; every context sees all):
//   {t:'who'}                        a new follower asks for the writer;
//   {t:'writer', id, epoch}          the writer, once its engine is open, and in answer to 'who'.
//                                    Epochs grow with every takeover (max(now, last seen + 1));
//                                    followers ignore announcements not newer than the one they
//                                    follow, so a late message from a dead writer never wins;
//   {t:'req', to, from, list}        follower -> writer: the messages of one tick, in order, each
//                                    {n, s: subject, r: reply, h: headers, d: data} or a push
//                                    interest change {n, i: deliver subject, a: active};
//   {t:'out', from, list}            writer -> followers: what one commit released for subjects
//                                    outside the writer's own inboxes ({to, subject, reply,
//                                    headers, data}), or {to, refused: subject} when the engine did
//                                    not take a request (no stream, no consumer); a follower keeps
//                                    the entries addressed to its own subscriptions;
//   {t:'retry', to, from, list}      a closing writer returns messages it will not handle;
//   {t:'failed', from, name, message} the writer's commit failed: requests sent to it fail;
//   {t:'closed', id}                 a writer closed cleanly. It is posted after its last commit
//                                    and its answers, so whatever a follower sent it and has no
//                                    answer for was never handled.
//   anything else                    handed to the host (tabuploads.js: the uploads' statuses
//                                    and controls).
//
// In-flight requests. A follower tracks each message with a reply inbox until its first answer
// (pull requests until the pull ends) with a deadline of `timeout` ms (plus `expires` for pulls);
// a request unanswered by then fails with TimeoutError, so nothing waits forever. Messages sent
// while no writer is known wait in a queue, under the same deadlines. When the writer changes:
//   - after 'retry' or 'closed' from it, unanswered messages were never handled: they are sent,
//     in their original order, to the next writer (exactly once);
//   - when a writer vanished without 'closed' (its tab died), an unanswered message may or may not
//     have been committed. A publish carrying a Nats-Msg-Id is sent again: the new writer's engine
//     rebuilt its duplicate table from IndexedDB, so within the stream's duplicate_window it is
//     stored once and the PubAck says `duplicate` if the first try had committed. Any other request
//     fails with WriterLostError (outcome unknown) rather than risk doing it twice;
//   - a pull request ends quietly, as if it had expired: `fetch` returns what it got and
//     `consume` pulls again from the new writer. Messages delivered to the lost pull and not acked
//     are redelivered after ack_wait, as with any client that goes away;
//   - acks, naks and other messages without a reply are not tracked: one lost with a dying writer
//     means a redelivery after ack_wait (JetStream delivery is at-least-once anyway).

const td = new TextDecoder();
const PULL = '$JS.API.CONSUMER.MSG.NEXT.';
const SWEEP_MS = 100;

/** True when this context can share a database between tabs (Web Locks and BroadcastChannel). */
export function canShare() {
  return typeof globalThis.navigator?.locks?.request === 'function' && typeof BroadcastChannel === 'function';
}

/**
 * Joins the contexts using database `name`. Resolves to a Tab whose `engine` is the wasm Engine
 * when this context is the writer, null when it is a follower.
 * - `shared: false`: no channel; the database must not be open elsewhere (it then fails).
 * - `openEngine()`: opens the engine from IndexedDB (called only while holding the lock).
 * - `errors`: the package's error classes (ContrailError, NoRespondersError, WriterLostError,
 *   TimeoutError, StorageFullError), passed in because index.js imports this module.
 */
export async function joinTab(name, { shared = true, timeout = 5000, openEngine, errors }) {
  const tab = new Tab(name, { shared, timeout, openEngine, errors });
  await tab.start();
  return tab;
}

/** Requests Web Lock `name`; resolves to its release function, or null when refused (ifAvailable). */
function acquire(name, options) {
  return new Promise((resolve, reject) => {
    let release;
    const held = new Promise((r) => (release = r));
    navigator.locks
      .request(name, options, (lock) => {
        resolve(lock ? release : null);
        return lock ? held : undefined;
      })
      .catch(reject);
  });
}

function token() {
  const a = new Uint32Array(2);
  globalThis.crypto.getRandomValues(a);
  return a[0].toString(36) + a[1].toString(36);
}

/** Whether headers bytes carry a Nats-Msg-Id (a publish the engine deduplicates). */
function hasMsgId(h) {
  return !!h && /\r\nNats-Msg-Id:[ \t]*\S/i.test(td.decode(h));
}

/** Milliseconds a pull request may legitimately stay open (its `expires`). */
function pullWait(data) {
  try {
    const ns = JSON.parse(td.decode(data)).expires ?? 0;
    return Math.ceil(ns / 1_000_000);
  } catch {
    return 0;
  }
}

/** One context's membership in the group sharing a database. */
class Tab {
  /** This context's id on the channel. */
  id = token();
  /** The wasm Engine while this context is the writer. */
  engine = null;

  #name;
  #lock;
  #shared;
  #timeout;
  #openEngine;
  #errors;
  #chan = null;
  /** The Contrail instance: handle/setInterest on its engine, deliver/fail to its subscriptions. */
  #host = null;
  #release = null;
  #presence = null;
  /** Cancels waiting lock requests (takeover, follower watches) on close. */
  #abort = new AbortController();
  #writer = null;
  #epoch = 0;
  #n = 0;
  /** reply inbox -> message awaiting its answer ({n, s, r, h, d, at: deadline, to: writer id|null, pull}). */
  #entries = new Map();
  /** Messages waiting for a writer. */
  #queue = [];
  /** Messages for the writer, posted together at the end of the tick. */
  #outbox = [];
  #outboxTo = null;
  /** Push deliver subjects this context has interest in (replayed to every new writer). */
  #interests = new Set();
  /** Writer: deliver subject -> ids of the contexts interested. */
  #interested = new Map();
  /** Writer: followers whose presence lock it waits on. */
  #watched = new Set();
  #sweeper = null;
  #closing = false;
  #closed = false;

  constructor(name, { shared, timeout, openEngine, errors }) {
    this.#name = name;
    this.#lock = `contrail:${name}`;
    this.#shared = shared;
    this.#timeout = timeout;
    this.#openEngine = openEngine;
    this.#errors = errors;
  }

  /** True while this context owns the engine. */
  get writer() {
    return this.engine !== null;
  }

  /** True when this context shares the database over the channel (not `shared: false`). */
  get shared() {
    return this.#shared;
  }

  /** The id of the writer this context follows (its own when it is the writer), or null. */
  get writerId() {
    return this.#writer;
  }

  /** Posts `msg` to every other context (the host's own messages, see tabuploads.js). */
  tell(msg) {
    if (!this.#closed) this.#post(msg);
  }

  async start() {
    const release = await acquire(this.#lock, { ifAvailable: true });
    if (!this.#shared) {
      if (!release) {
        throw new this.#errors.ContrailError(
          `database "${this.#name}" is open in another tab or worker (open it with shared: true to share it)`,
        );
      }
      this.#release = release;
      await this.#open();
      return;
    }
    this.#presence = await acquire(`${this.#lock}#${this.id}`, {});
    this.#chan = new BroadcastChannel(this.#lock);
    this.#chan.onmessage = (e) => this.#receive(e.data);
    if (release) {
      this.#release = release;
      await this.#open();
    } else {
      this.#post({ t: 'who' });
      this.#waitForLock();
    }
  }

  /** Opens the engine as the first writer; on failure gives everything back. */
  async #open() {
    try {
      this.engine = await this.#openEngine();
    } catch (e) {
      this.#release();
      this.#presence?.();
      this.#chan?.close();
      throw e;
    }
  }

  /** Connects the Contrail instance; a writer announces itself only now that it can serve. */
  attach(host) {
    this.#host = host;
    if (!this.engine) return;
    if (this.#chan) this.#announce(Math.max(Date.now(), this.#epoch + 1));
    else this.#writer = this.id; // shared: false
  }

  // ---- follower: sending to the writer ---------------------------------------------------------

  /** Hands a message to the writer (a follower's `_send`); answers come back through the host. */
  send(s, r, h, d) {
    if (d.byteLength !== d.buffer.byteLength) d = d.slice(); // clone the bytes, not a whole buffer
    const m = { n: ++this.#n, s, r, h, d, at: Date.now() + this.#timeout, to: null, pull: false };
    if (r) {
      m.pull = s.startsWith(PULL);
      if (m.pull) m.at += pullWait(d);
      this.#entries.set(r, m);
    }
    this.#route(m);
    this.#armSweeper();
  }

  /** Registers or drops interest in a push consumer's deliver subject (either role). */
  interest(subject, active) {
    if (active) this.#interests.add(subject);
    else this.#interests.delete(subject);
    this.#route({ n: ++this.#n, i: subject, a: active, at: Date.now() + this.#timeout });
    this.#armSweeper();
  }

  /** The host stopped listening on `inbox` (a pull ended): stop tracking it. */
  forget(inbox) {
    this.#entries.delete(inbox);
  }

  #route(m) {
    if (this.#writer === null) this.#queue.push(m);
    else if (this.#writer === this.id) this.#handleHere(m);
    else {
      if (this.#outboxTo !== this.#writer) this.#flushOutbox();
      if (this.#outbox.length === 0) queueMicrotask(() => this.#flushOutbox());
      this.#outboxTo = this.#writer;
      this.#outbox.push(m);
      m.to = this.#writer;
    }
  }

  #flushOutbox() {
    if (this.#outbox.length === 0) return;
    const list = this.#outbox;
    this.#outbox = [];
    this.#post({ t: 'req', to: this.#outboxTo, from: this.id, list });
  }

  /** A message for this context's own engine (after a takeover). */
  #handleHere(m) {
    if (m.i !== undefined) return this.#setInterest(this.id, m.i, m.a);
    if (m.r) this.#entries.delete(m.r); // the local engine answers or refuses right here
    if (!this.#host.handle(m.s, m.r, m.h, m.d) && m.r) this.#host.fail(m.r, new this.#errors.NoRespondersError(m.s));
  }

  // ---- the channel -----------------------------------------------------------------------------

  #post(msg) {
    if (this.#chan) this.#chan.postMessage(msg);
  }

  #receive(msg) {
    if (this.#closed || !msg) return;
    switch (msg.t) {
      case 'who':
        if (this.engine && !this.#closing) this.#post({ t: 'writer', id: this.id, epoch: this.#epoch });
        break;
      case 'writer':
        if (msg.epoch > this.#epoch) this.#follow(msg.id, msg.epoch);
        break;
      case 'req':
        if (msg.to === this.id) this.#serve(msg.from, msg.list);
        break;
      case 'out':
        if (!this.engine) this.#deliver(msg.list);
        break;
      case 'retry':
        if (msg.to === this.id) this.#requeue(msg.from, msg.list);
        break;
      case 'failed':
        this.#writerFailed(msg);
        break;
      case 'closed':
        this.#writerClosed(msg.id);
        break;
      default:
        this.#host?.message?.(msg);
    }
  }

  /** A new writer (maybe this context): settle what was sent to the old one, then send to it. */
  #follow(id, epoch) {
    this.#flushOutbox();
    this.#writer = id;
    this.#epoch = epoch;
    for (const [inbox, m] of this.#entries) {
      if (m.to !== null && m.to !== id) this.#inDoubt(inbox, m);
    }
    for (const subject of this.#interests) {
      this.#queue.push({ n: 0, i: subject, a: true, at: Date.now() + this.#timeout });
    }
    this.#flushQueue();
    this.#host?.writerChanged?.(id);
  }

  /** Sends the queue, oldest first, to the writer if one is known. */
  #flushQueue() {
    if (this.#writer === null || this.#queue.length === 0) return;
    const queue = this.#queue.sort((a, b) => a.n - b.n);
    this.#queue = [];
    for (const m of queue) {
      if (m.r && this.#entries.get(m.r) !== m) continue; // timed out or answered meanwhile
      this.#route(m);
    }
  }

  /** The writer vanished without 'closed': its unanswered messages may or may not have committed. */
  #inDoubt(inbox, m) {
    if (m.pull) {
      this.#entries.delete(inbox);
      this.#host.fail(inbox, null); // ends the pull quietly: consume() pulls again
    } else if (!m.s.startsWith('$JS.') && hasMsgId(m.h)) {
      m.to = null;
      this.#queue.push(m); // deduplicated by the new writer's engine
    } else {
      this.#entries.delete(inbox);
      this.#host.fail(inbox, new this.#errors.WriterLostError(m.s));
    }
  }

  /** Follower: what the writer released. */
  #deliver(list) {
    for (const o of list) {
      const m = this.#entries.get(o.to);
      if (m && (!m.pull || o.refused !== undefined)) this.#entries.delete(o.to);
      if (o.refused !== undefined) this.#host.fail(o.to, new this.#errors.NoRespondersError(o.refused));
      else this.#host.deliver(o);
    }
  }

  /** Messages a closing writer gave back: never handled, so they go to the next writer. */
  #requeue(from, list) {
    if (this.#writer === from) this.#writer = null;
    for (const back of list) {
      const m = back.r ? this.#entries.get(back.r) : back;
      if (!m || m.to !== from) continue; // answered, timed out, or already sent elsewhere
      m.to = null;
      this.#queue.push(m);
    }
    this.#flushQueue();
  }

  #writerClosed(id) {
    if (this.#writer === id) this.#writer = null;
    for (const [inbox, m] of this.#entries) {
      if (m.to !== id) continue;
      if (m.pull) {
        this.#entries.delete(inbox);
        this.#host.fail(inbox, null);
      } else {
        m.to = null;
        this.#queue.push(m); // unanswered at 'closed': never handled
      }
    }
    this.#flushQueue();
  }

  #writerFailed({ from, name, message }) {
    for (const [inbox, m] of this.#entries) {
      if (m.to !== from) continue;
      this.#entries.delete(inbox);
      const { StorageFullError, ContrailError } = this.#errors;
      const err = name === 'StorageFullError' ? new StorageFullError() : new ContrailError(message);
      err.name = name;
      this.#host.fail(inbox, err);
    }
  }

  // ---- writer ----------------------------------------------------------------------------------

  #announce(epoch) {
    this.#post({ t: 'writer', id: this.id, epoch });
    this.#follow(this.id, epoch);
  }

  /** Writer: a follower's messages of one tick. */
  #serve(from, list) {
    if (this.#closing || !this.engine) {
      this.#post({ t: 'retry', to: from, from: this.id, list });
      return;
    }
    const refused = [];
    for (const m of list) {
      if (m.i !== undefined) this.#setInterest(from, m.i, m.a);
      else if (!this.#host.handle(m.s, m.r, m.h, m.d) && m.r) refused.push({ to: m.r, refused: m.s });
    }
    if (refused.length) this.#post({ t: 'out', from: this.id, list: refused });
  }

  /** Writer: released messages for subjects outside its own inboxes. */
  forward(list) {
    this.#post({ t: 'out', from: this.id, list });
  }

  /** Writer: a commit failed; followers' requests fail with the same error. */
  failed(err) {
    this.#post({ t: 'failed', from: this.id, name: err?.name ?? 'ContrailError', message: String(err?.message ?? err) });
  }

  /** Writer: interest of context `from` in a deliver subject; the engine sees the union. */
  #setInterest(from, subject, active) {
    let ids = this.#interested.get(subject);
    if (active) {
      if (!ids) this.#interested.set(subject, (ids = new Set()));
      ids.add(from);
      if (from !== this.id) this.#watch(from);
    } else if (ids) {
      ids.delete(from);
      if (ids.size === 0) this.#interested.delete(subject);
    }
    this.#host.setInterest(subject, this.#interested.has(subject));
  }

  /** Writer: drops a follower's interest once its presence lock is released (it closed or died). */
  #watch(id) {
    if (this.#watched.has(id)) return;
    this.#watched.add(id);
    navigator.locks
      .request(`${this.#lock}#${id}`, { signal: this.#abort.signal }, () => {
        this.#watched.delete(id);
        if (this.#closing) return;
        for (const [subject, ids] of this.#interested) {
          if (ids.delete(id) && ids.size === 0) {
            this.#interested.delete(subject);
            this.#host.setInterest(subject, false);
          }
        }
      })
      .catch(() => {});
  }

  // ---- takeover --------------------------------------------------------------------------------

  /** Follower: waits for the writer lock; once granted, opens the engine and becomes the writer. */
  #waitForLock() {
    navigator.locks
      .request(this.#lock, { signal: this.#abort.signal }, async () => {
        if (this.#closing) return;
        let release;
        const held = new Promise((r) => (release = r));
        this.#release = release;
        await this.#takeover();
        if (this.engine) return held;
        this.#release = null; // failed or closing: the next waiting context tries
      })
      .catch(() => {}); // AbortError once this context closes
  }

  async #takeover() {
    let engine;
    try {
      engine = await this.#openEngine();
    } catch (e) {
      const err = new this.#errors.ContrailError(`taking over database "${this.#name}" failed: ${e?.message ?? e}`, { cause: e });
      for (const [inbox] of this.#entries) this.#host.fail(inbox, err);
      this.#entries.clear();
      return;
    }
    if (this.#closing) {
      engine.close();
      return;
    }
    this.engine = engine;
    this.#host.promote(engine);
    this.#announce(Math.max(Date.now(), this.#epoch + 1));
  }

  // ---- deadlines and closing -------------------------------------------------------------------

  #armSweeper() {
    if (this.#sweeper !== null || this.#closed) return;
    this.#sweeper = setTimeout(() => {
      this.#sweeper = null;
      this.#sweep();
    }, SWEEP_MS);
  }

  /** Fails requests past their deadline; drops queued messages past theirs. */
  #sweep() {
    const now = Date.now();
    for (const [inbox, m] of this.#entries) {
      if (m.at > now) continue;
      this.#entries.delete(inbox);
      this.#host.fail(inbox, new this.#errors.TimeoutError(m.s, this.#timeout));
    }
    this.#queue = this.#queue.filter((m) => (m.r ? this.#entries.get(m.r) === m : m.at > now));
    if (this.#entries.size || this.#queue.length) this.#armSweeper();
  }

  /** Stops taking part: a writer gives follower requests back from now on, nobody takes over here. */
  closing() {
    this.#closing = true;
    this.#abort.abort();
  }

  /** Follower: waits (bounded by the deadlines) for the answers to requests in flight. */
  async drain() {
    this.#flushOutbox();
    const until = Date.now() + this.#timeout + 2 * SWEEP_MS;
    const busy = () => [...this.#entries.values()].some((m) => !m.pull);
    while (busy() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  /** Leaves the group: the writer says 'closed' (after its engine closed), then locks go. */
  close() {
    if (this.#closed) return;
    this.closing();
    this.#flushOutbox();
    this.#closed = true;
    clearTimeout(this.#sweeper);
    if (this.engine) this.#post({ t: 'closed', id: this.id });
    this.#chan?.close();
    this.#chan = null;
    this.#entries.clear();
    this.#queue = [];
    this.#release?.();
    this.#presence?.();
  }
}
