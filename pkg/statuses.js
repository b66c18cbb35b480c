// Status watching shared by uploads (sync.js, tabuploads.js) and local mirrors (mirrors.js):
// the queues behind a handle's `events()`, and a follower tab's wait for the statuses it asked
// the writer tab for.
import { ClosedError, TimeoutError } from './errors.js';

/** Most unread events one `events()` iterator keeps (the oldest go first). */
const EVENT_QUEUE = 256;

/** The `events()` iterators of one handle: each gets every status pushed, until the handle ends. */
export class StatusEvents {
  #queues = new Set();
  #ended = false;

  /** An async iterator of the statuses pushed from now on; ends when the handle does. */
  iterator() {
    const queue = { items: [], wake: null, ended: this.#ended };
    this.#queues.add(queue);
    const next = async () => {
      for (;;) {
        if (queue.items.length) return { value: queue.items.shift(), done: false };
        if (queue.ended) return { value: undefined, done: true };
        await new Promise((ok) => (queue.wake = ok));
      }
    };
    return {
      next,
      return: async () => {
        this.#queues.delete(queue);
        queue.ended = true;
        queue.wake?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** A new status, a copy of it for every iterator. */
  push(status) {
    for (const queue of this.#queues) {
      if (queue.items.length >= EVENT_QUEUE) queue.items.shift();
      queue.items.push({ ...status });
      queue.wake?.();
    }
  }

  /** The handle ended: every iterator ends once it has read what it holds, later ones at once. */
  end() {
    this.#ended = true;
    for (const queue of this.#queues) {
      queue.ended = true;
      queue.wake?.();
    }
    this.#queues.clear();
  }
}

/** A follower's waits for the statuses it asked the writer tab for. */
export class WriterStatuses {
  #waiting = new Set();

  /** Resolves once `heard()` (TimeoutError naming `what` after `timeout` ms). */
  wait(what, timeout) {
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      w.timer = setTimeout(() => {
        this.#waiting.delete(w);
        reject(new TimeoutError(what, timeout));
      }, timeout);
      this.#waiting.add(w);
    });
  }

  /** The writer's statuses came: every wait resolves. */
  heard() {
    for (const w of this.#waiting) {
      clearTimeout(w.timer);
      w.resolve();
    }
    this.#waiting.clear();
  }

  /** The database closed: every wait rejects with ClosedError. */
  close() {
    for (const w of this.#waiting) {
      clearTimeout(w.timer);
      w.reject(new ClosedError());
    }
    this.#waiting.clear();
  }
}
