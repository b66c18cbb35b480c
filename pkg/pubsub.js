// A Publisher and a Consumer in the spirit of the Go wrappers apps put around JetStream: the
// publisher owns a subject prefix and its stream (created when missing), retries what is worth
// retrying with a bounded exponential backoff and reports every publish to a metrics hook; the
// consumer owns a durable pull consumer (created or updated), keeps a bounded buffer of taken
// messages, and hands them out as an async iterator or to a handler that decides ack/nak/term.
//
// Written only on the public @nats-io/jetstream v3 API of the client it is given
// (`publish`, `consumers.get`, `jetstreamManager()`, `streams`/`consumers` of the manager,
// `fetch`), never on this package's internals: the same code runs over the local engine and over
// nats.js against a server. Errors are recognised by `name`/`code`/`status` for that reason, not
// by `instanceof` on this package's classes.
import { ContrailError } from './errors.js';

/** A pubsub setup the server refuses or that conflicts with what exists (a stream with other subjects...). */
export class PubSubConfigError extends ContrailError {
  constructor(message, options) {
    super(message, options);
    this.name = 'PubSubConfigError';
  }
}

const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_NOT_FOUND = 10014;
const CONSUMER_EXISTS = 10148;

/** The JetStream client of `js or nc`: a client as is, or `nc.jetstream()` for a contrail engine. */
function clientOf(jsOrNc) {
  if (jsOrNc && typeof jsOrNc.publish === 'function' && typeof jsOrNc.jetstreamManager === 'function' && jsOrNc.consumers) {
    return jsOrNc;
  }
  if (jsOrNc && typeof jsOrNc.jetstream === 'function') return jsOrNc.jetstream();
  throw new TypeError('pubsub: give a JetStream client (jetstream(nc)) or a contrail engine (open())');
}

/** True for the failures worth another try: no answer in time, nobody answered, 503. */
export function isRetryable(err) {
  for (let e = err, i = 0; e && i < 4; e = e.cause, i++) {
    if (e.name === 'TimeoutError' || e.name === 'NoRespondersError' || e.name === 'JetStreamNotEnabled') return true;
    if (typeof e.isNoResponders === 'function' && e.isNoResponders()) return true;
    // A JetStream API error carries the HTTP-like code in `status`; other errors (no responders)
    // carry 503 in `code`. An API refusal (a failed expectation: 400, err_code 10071) is final.
    if (e.name === 'JetStreamApiError' || typeof e.apiError === 'function') return e.status === 503;
    if (e.code === 503 || e.code === '503') return true;
  }
  return false;
}

/** Milliseconds to wait before retry `n` (0-based): initial * factor^n, never above max. */
function backoffDelay(backoff, n) {
  return Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** n);
}

const api = (e) => (typeof e?.apiError === 'function' ? e.apiError() : undefined);
const errCode = (e) => api(e)?.err_code ?? (typeof e?.code === 'number' && e.code > 1000 ? e.code : undefined);

/**
 * Publishes to `<subjectPrefix>.<subject>` into `stream`, created on first use when missing.
 * `retries` (default 3) more attempts after a retryable failure, waiting `backoff`
 * (`{initialMs: 50, maxMs: 2000, factor: 2}`) between them; `onPublish(subject, error, latencyMs)`
 * once per publish call with its outcome (what it throws is ignored); `onRetry(subject, error,
 * attempt)` before each retry (awaited, so a hook may also wait or repair; what it throws ends the
 * publish with that error).
 * `create: false` never creates the stream (publishes fail with no responders until it exists).
 */
export class Publisher {
  #js;
  #opts;
  #ready = null;

  constructor(jsOrNc, opts = {}) {
    if (!opts.stream) throw new TypeError('Publisher: `stream` is required');
    if (!opts.subjectPrefix) throw new TypeError('Publisher: `subjectPrefix` is required');
    this.#js = clientOf(jsOrNc);
    const retries = opts.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0) throw new TypeError('Publisher: `retries` must be an integer >= 0');
    this.#opts = {
      stream: opts.stream,
      subjectPrefix: opts.subjectPrefix,
      streamConfig: opts.streamConfig ?? {},
      create: opts.create !== false,
      retries,
      backoff: { initialMs: 50, maxMs: 2000, factor: 2, ...opts.backoff },
      onPublish: opts.onPublish,
      onRetry: opts.onRetry,
    };
  }

  /** The stream's name. */
  get stream() {
    return this.#opts.stream;
  }
  /** The subject a publish of `subject` goes to. */
  subjectFor(subject) {
    return `${this.#opts.subjectPrefix}.${subject}`;
  }

  /**
   * Makes sure the stream exists with the publisher's subjects (once; again after a failure).
   * An existing stream is fine when it has every subject wanted; otherwise `PubSubConfigError`.
   */
  ensureStream() {
    if (!this.#opts.create) return Promise.resolve();
    this.#ready ??= this.#ensureStream().catch((e) => {
      this.#ready = null;
      throw e;
    });
    return this.#ready;
  }

  async #ensureStream() {
    const { stream, subjectPrefix, streamConfig } = this.#opts;
    const subjects = streamConfig.subjects ?? [`${subjectPrefix}.>`];
    const jsm = await this.#js.jetstreamManager();
    const check = (info) => {
      const have = info.config.subjects ?? [];
      const missing = subjects.filter((s) => !have.includes(s));
      if (missing.length) {
        throw new PubSubConfigError(
          `stream ${stream} exists with subjects ${JSON.stringify(have)}, not ${JSON.stringify(subjects)} (missing ${JSON.stringify(missing)})`,
        );
      }
    };
    try {
      return check(await jsm.streams.info(stream));
    } catch (e) {
      if (errCode(e) !== STREAM_NOT_FOUND) throw e;
    }
    try {
      await jsm.streams.add({ ...streamConfig, name: stream, subjects });
    } catch (e) {
      // Made by someone else meanwhile: fine if it has our subjects.
      if (errCode(e) === STREAM_NAME_IN_USE) return check(await jsm.streams.info(stream));
      if (e?.name === 'JetStreamApiError' || api(e)) {
        throw new PubSubConfigError(`cannot create stream ${stream} with subjects ${JSON.stringify(subjects)}: ${e.message}`, {
          cause: e,
        });
      }
      throw e;
    }
  }

  /**
   * Publishes `data` to `<prefix>.<subject>`; resolves to the PubAck. `opts`: `headers`, `msgID`
   * (give one so a retry after a timeout cannot store the message twice), `expect`, `timeout`.
   */
  async publish(subject, data, opts = {}) {
    const full = this.subjectFor(subject);
    const start = performance.now();
    let error;
    try {
      await this.ensureStream();
      return await this.#publishRetrying(full, data, opts);
    } catch (e) {
      error = e;
      throw e;
    } finally {
      try {
        this.#opts.onPublish?.(full, error ?? null, performance.now() - start);
      } catch {
        // A metrics hook that throws must not turn a stored message into a failed publish
        // (the caller would publish it again).
      }
    }
  }

  async #publishRetrying(subject, data, opts) {
    const pubOpts = {};
    for (const k of ['headers', 'msgID', 'expect', 'timeout']) if (opts[k] !== undefined) pubOpts[k] = opts[k];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#js.publish(subject, data, pubOpts);
      } catch (e) {
        if (attempt >= this.#opts.retries || !isRetryable(e)) throw e;
        await this.#opts.onRetry?.(subject, e, attempt + 1);
        await new Promise((ok) => setTimeout(ok, backoffDelay(this.#opts.backoff, attempt)));
      }
    }
  }
}

/** The consumer config a Consumer wants, as the API takes it (durations in nanoseconds). */
function consumerConfig(o) {
  const cfg = { durable_name: o.durable, ack_policy: 'explicit', deliver_policy: o.deliverPolicy ?? 'all' };
  if (o.filter) cfg.filter_subject = o.filter;
  if (o.ackWait) cfg.ack_wait = o.ackWait * 1_000_000;
  if (o.maxDeliver) cfg.max_deliver = o.maxDeliver;
  return cfg;
}

/**
 * A durable pull consumer with a bounded buffer. Messages are taken (pulled) only while fewer
 * than `bufferSize` are taken and not yet handled; a message handed out by the iterator counts
 * as handled once the iterator is asked for the next one (or the loop ends). One reader: iterate it
 * (`for await (const m of consumer)`, acking yourself) or give `handle()` a function deciding
 * each message's fate. Options: `stream`, `durable`, `filter`, `bufferSize` (default 64),
 * `ackWait` and `expires` (ms; the pull's wait, default 5000), `maxDeliver`, `deliverPolicy`.
 *
 * `shutdown()` is the graceful end: stop pulling, nak what is buffered, wait for the running
 * handler, end the iterator. `stop()` is the abrupt one: it ends the iterator at once, naks
 * nothing and waits for nothing; buffered messages come back after `ackWait`.
 */
export class Consumer {
  #js;
  #opts;
  #consumer = null;
  #buffer = [];
  #handedOut = 0;
  #fetch = null;
  #pump = null;
  #wake = null;
  #waiters = [];
  #state = 'idle'; // idle | running | stopping | done
  #error;
  #inflight = null;
  #started = null;
  #shutdown = null;

  constructor(jsOrNc, opts = {}) {
    if (!opts.stream) throw new TypeError('Consumer: `stream` is required');
    if (!opts.durable) throw new TypeError('Consumer: `durable` is required');
    const bufferSize = opts.bufferSize ?? 64;
    if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new TypeError('Consumer: `bufferSize` must be an integer >= 1');
    this.#js = clientOf(jsOrNc);
    this.#opts = { ...opts, bufferSize, expires: Math.max(1000, opts.expires ?? 5000) };
  }

  /** Messages taken and not yet handled (buffered plus the one handed out). Never above `bufferSize`. */
  get taken() {
    return this.#buffer.length + this.#handedOut;
  }
  /** Messages taken and not yet handed out. */
  get buffered() {
    return this.#buffer.length;
  }

  /** Creates the durable consumer, or updates it to the wanted config, then starts pulling. */
  start() {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start() {
    const { stream, durable } = this.#opts;
    const cfg = consumerConfig(this.#opts);
    const jsm = await this.#js.jetstreamManager();
    let info = null;
    try {
      info = await jsm.consumers.info(stream, durable);
    } catch (e) {
      if (errCode(e) !== CONSUMER_NOT_FOUND) throw e;
    }
    if (!info) {
      try {
        await jsm.consumers.add(stream, cfg);
      } catch (e) {
        if (errCode(e) !== CONSUMER_EXISTS) throw e;
        info = await jsm.consumers.info(stream, durable);
      }
    }
    if (info) {
      // addOrUpdate: change only what differs from what we want (ack policy cannot change).
      const { durable_name, ack_policy, deliver_policy, ...updatable } = cfg;
      const changed = Object.entries(updatable).filter(([k, v]) => info.config[k] !== v);
      if (info.config.ack_policy !== 'explicit') {
        throw new PubSubConfigError(`consumer ${durable} on ${stream} exists with ack policy ${info.config.ack_policy}, not explicit`);
      }
      if (changed.length) await jsm.consumers.update(stream, durable, Object.fromEntries(changed));
    }
    this.#consumer = await this.#js.consumers.get(stream, durable);
    if (this.#state === 'idle') {
      this.#state = 'running';
      this.#pump = this.#pull();
    }
  }

  /** Pulls while there is room, into the buffer, until stopped. */
  async #pull() {
    const { bufferSize, expires } = this.#opts;
    let idle = 0; // pulls in a row that ended early with nothing
    try {
      while (this.#state === 'running') {
        const room = bufferSize - this.taken;
        if (room <= 0) {
          await new Promise((ok) => (this.#wake = ok));
          continue;
        }
        const started = Date.now();
        let got = 0;
        this.#fetch = await this.#consumer.fetch({ max_messages: room, expires });
        if (this.#state !== 'running') this.#fetch.stop();
        for await (const m of this.#fetch) {
          got++;
          this.#buffer.push(m);
          this.#notify();
        }
        // A pull that ends at once with nothing (a status the server sent back) is not retried
        // in a tight loop: wait a growing, bounded pause, cut short by shutdown()/stop().
        idle = got === 0 && Date.now() - started < expires / 2 ? idle + 1 : 0;
        if (idle && this.#state === 'running') {
          await new Promise((ok) => {
            const t = setTimeout(ok, Math.min(2000, 25 * 2 ** idle));
            this.#wake = () => (clearTimeout(t), ok());
          });
        }
      }
    } catch (e) {
      if (this.#state === 'running') {
        this.#error = e;
        this.#state = 'done';
      }
    } finally {
      this.#fetch = null;
      this.#notify();
    }
  }

  #notify() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #roomFreed() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** The next message, or done when the consumer ended. */
  async #next() {
    this.#handedOut = 0;
    this.#roomFreed();
    for (;;) {
      // After a pull failed, what was buffered is still handed out before the error.
      if (this.#buffer.length && (this.#state === 'running' || this.#error)) {
        this.#handedOut = 1;
        return { done: false, value: this.#buffer.shift() };
      }
      if (this.#state !== 'running') {
        if (this.#error) {
          const e = this.#error;
          this.#error = undefined;
          throw e;
        }
        return { done: true, value: undefined };
      }
      await new Promise((ok) => this.#waiters.push(ok));
    }
  }

  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        await this.start();
        return this.#next();
      },
      return: async () => {
        this.#handedOut = 0;
        this.#roomFreed();
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * Hands each message to `handler`, which resolves to `'ack'`, `'nak'`, `'term'` or
   * `{nak: delayMs}`; a handler that throws, or another answer, naks the message (and `onError`,
   * when given, hears why). Acks wait for the server's confirmation. Resolves when the consumer
   * ended (after `shutdown()` or `stop()`), rejects with what ended it otherwise.
   */
  async handle(handler, { onError } = {}) {
    for await (const m of this) {
      const run = (async () => {
        let decision;
        try {
          decision = await handler(m);
        } catch (e) {
          onError?.(e, m);
          decision = 'nak';
        }
        if (decision === 'ack') await m.ackAck();
        else if (decision === 'term') m.term();
        else if (decision === 'nak') m.nak();
        else if (decision && typeof decision === 'object' && typeof decision.nak === 'number') m.nak(decision.nak);
        else {
          onError?.(new TypeError(`handler answered ${JSON.stringify(decision)}, not 'ack', 'nak', 'term' or {nak: ms}`), m);
          m.nak();
        }
      })();
      this.#inflight = run;
      try {
        await run;
      } catch (e) {
        onError?.(e, m);
      } finally {
        this.#inflight = null;
      }
    }
  }

  /**
   * The graceful end: stops pulling (the running pull ends at once), naks every message taken
   * but not handed out so it is redelivered now (to this durable's next instance), waits for the
   * running `handle()` handler to settle its message, and ends the iterator. Do not await it
   * from inside the handler (it would wait for itself).
   */
  shutdown() {
    this.#shutdown ??= this.#shutdownOnce();
    return this.#shutdown;
  }

  async #shutdownOnce() {
    const wasRunning = this.#state === 'running';
    if (this.#state !== 'done') this.#state = 'stopping';
    this.#fetch?.stop();
    this.#roomFreed();
    if (wasRunning) await this.#pump;
    for (const m of this.#buffer.splice(0)) m.nak();
    await this.#inflight;
    this.#state = 'done';
    this.#notify();
  }

  /**
   * The abrupt end: stops pulling and ends the iterator now. Buffered messages are dropped without
   * a nak (the server redelivers them after `ackWait`); a running handler is not waited for.
   */
  stop() {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#fetch?.stop();
    this.#buffer.length = 0;
    this.#roomFreed();
    this.#notify();
  }
}
