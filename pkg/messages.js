// What pull and push consumers hand out alike (v3's ConsumerMessages): an async iterator of
// JsMsg, or a `callback` instead, with `stop()`, `close()`, `closed()`, `status()` notifications
// and the received/processed/pending counters. The subclasses feed it (`_deliver`, `_notify`)
// and release what they hold in `_cleanup()`.
import { InvalidOperationError } from './errors.js';
import { Queue } from './util.js';

export class QueuedMessages {
  #q = new Queue();
  #listeners = [];
  #callback;
  #received = 0;
  #processed = 0;
  #done = false;
  #closed;
  #resolveClosed;

  constructor(callback) {
    this.#callback = typeof callback === 'function' ? callback : null;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** True once it ended. */
  get done() {
    return this.#done;
  }
  /** Messages received from the consumer. */
  getReceived() {
    return this.#received;
  }
  /** Messages handed out (iterated or given to the callback). */
  getProcessed() {
    return this.#processed;
  }
  /** Messages received and not yet handed out. */
  getPending() {
    return this.#q.length;
  }
  /** Notifications (`heartbeat`, `next`, `discard`, `consumer_deleted`, `reset`...) until it ends. */
  status() {
    const q = new Queue();
    if (this.#done) q.end();
    else this.#listeners.push(q);
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => q.next(),
        return: async () => {
          q.end();
          return { done: true, value: undefined };
        },
      }),
    };
  }
  /** Resolves when it ended: to undefined, or to the error that ended it. */
  closed() {
    return this.#closed;
  }
  /** Stops and resolves as `closed()`. */
  close() {
    this.stop();
    return this.#closed;
  }
  /** Ends it (messages not yet acked are redelivered after ack_wait); `err` ends the iterator with it. */
  stop(err) {
    if (this.#done) return;
    this.#done = true;
    this._cleanup();
    this.#q.end(err ?? undefined);
    for (const l of this.#listeners) l.end();
    this.#resolveClosed(err ?? undefined);
  }
  [Symbol.asyncIterator]() {
    if (this.#callback) throw new InvalidOperationError('iterator cannot be used when a callback is registered');
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

  /** What the subclass holds (subscriptions, timers), released once when it ends. */
  _cleanup() {}

  /** Tells every `status()` listener. */
  _notify(n) {
    for (const l of this.#listeners) l.push(n);
  }

  /** Hands a message to the iterator or the callback; a callback that throws ends it with that. */
  _deliver(msg) {
    this.#received++;
    if (!this.#callback) return this.#q.push(msg);
    try {
      this.#processed++;
      this.#callback(msg);
    } catch (e) {
      this.stop(e);
    }
  }
}
