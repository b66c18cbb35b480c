// Pull consumers as @nats-io/jetstream v3 has them: `js.consumers.get()` (named or ordered),
// `fetch`, `next`, `consume` and the `ConsumerMessages` they return (an async iterator, or a
// `callback`, with `status()` notifications, `closed()`, `getReceived()`/`getPending()`).
//
// `consume` keeps pull requests outstanding and asks for more when what it is still owed drops
// to `threshold_messages`/`threshold_bytes` (75% of the batch by default), as nats.js does. Idle
// heartbeats are requested and watched: two missed in a row (the writer tab died, the consumer
// went away) make a fetch fail and a consume check the consumer and pull again. An ordered
// consumer is an ephemeral `ack_policy: none` consumer recreated from the next stream sequence
// whenever a delivery sequence is skipped or the consumer is gone.
import { AckPolicy, DeliverPolicy, JsHeaders } from './enums.js';
import {
  ClosedError,
  ConsumerNotFoundError,
  InvalidArgumentError,
  InvalidOperationError,
  JetStreamError,
  JetStreamStatusError,
  StreamNotFoundError,
} from './errors.js';
import { MsgHdrs } from './headers.js';
import { JsMsg } from './msg.js';
import { nanos, randomToken } from './util.js';
import { QueuedMessages } from './messages.js';
import { PushConsumer } from './pushconsumer.js';
import { ConsumerAPI, StreamAPI, minValidation } from './jsm.js';

const API = '$JS.API.';

/** `js.consumers` (v3's `Consumers`). */
export class Consumers {
  #c;
  #opts;
  #api;
  constructor(c, opts = {}) {
    this.#c = c;
    this.#opts = opts;
    this.#api = new ConsumerAPI(c);
  }
  /**
   * A pull consumer: the named one (fails if it does not exist or is a push consumer), or with
   * no name or `OrderedConsumerOptions` a new ordered consumer.
   */
  async get(stream, name) {
    if (typeof name !== 'string') return this.#ordered(stream, name ?? {});
    const info = await this.#api.info(stream, name);
    if (typeof info.config.deliver_subject === 'string') throw new InvalidOperationError('not a pull consumer');
    return new PullConsumer(this.#c, this.#api, info, null, this.#opts);
  }
  /** A pull consumer from a ConsumerInfo already at hand (no request). */
  getConsumerFromInfo(info) {
    if (typeof info.config.deliver_subject === 'string') throw new InvalidOperationError('not a pull consumer');
    return new PullConsumer(this.#c, this.#api, info, null, this.#opts);
  }
  /**
   * A push consumer: the named one (fails if it is a pull consumer). Ordered push consumers (no
   * name) are not provided: an ordered pull consumer (`get(stream)`) does the same locally.
   */
  async getPushConsumer(stream, name) {
    if (typeof name !== 'string') {
      throw new InvalidOperationError('ordered push consumers are not supported by this package; use consumers.get(stream)');
    }
    minValidation('stream', stream);
    minValidation('name', name);
    const info = await this.#api.info(stream, name);
    if (typeof info.config.deliver_subject !== 'string') throw new InvalidOperationError('not a push consumer');
    return new PushConsumer(this.#c, this.#api, info, { timeout: this.#opts.timeout });
  }
  /** A push consumer on `deliver_subject` with no info request (it cannot `info()` or `delete()`). */
  async getBoundPushConsumer(opts = {}) {
    if (!opts.deliver_subject) throw InvalidArgumentError.format('deliver_subject', 'is required');
    return new PushConsumer(this.#c, this.#api, { config: opts }, { bound: true, timeout: this.#opts.timeout });
  }

  /** Creates the first consumer of an ordered consumer, as nats.js configures it. */
  async #ordered(stream, opts) {
    await new StreamAPI(this.#c).info(stream);
    opts = { ...opts };
    if (typeof opts.name_prefix === 'string') minValidation('name_prefix', opts.name_prefix);
    opts.name_prefix ||= `oc_${randomToken()}`;
    const config = {
      name: `${opts.name_prefix}_1`,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: opts.opt_start_seq || 1,
      ack_policy: AckPolicy.None,
      inactive_threshold: nanos(5 * 60 * 1000),
      num_replicas: 1,
      max_deliver: 1,
      mem_storage: true,
    };
    if (opts.headers_only === true) config.headers_only = true;
    if (Array.isArray(opts.filter_subjects)) config.filter_subjects = opts.filter_subjects;
    if (typeof opts.filter_subjects === 'string') config.filter_subject = opts.filter_subjects;
    if (opts.replay_policy) config.replay_policy = opts.replay_policy;
    if ([DeliverPolicy.All, DeliverPolicy.LastPerSubject, DeliverPolicy.New, DeliverPolicy.Last].includes(opts.deliver_policy)) {
      delete config.opt_start_seq;
      config.deliver_policy = opts.deliver_policy;
    }
    if (config.deliver_policy === DeliverPolicy.LastPerSubject && !config.filter_subjects && !config.filter_subject) {
      config.filter_subject = '>';
    }
    if (opts.opt_start_time) {
      delete config.opt_start_seq;
      config.deliver_policy = DeliverPolicy.StartTime;
      config.opt_start_time = opts.opt_start_time;
    }
    if (opts.inactive_threshold) config.inactive_threshold = nanos(opts.inactive_threshold);
    const info = await this.#api.add(stream, config);
    return new PullConsumer(this.#c, this.#api, info, opts, this.#opts);
  }
}

/** A pull consumer: `fetch`, `next`, `consume`, `info`, `delete`. */
export class PullConsumer {
  #c;
  #api;
  #jsOpts;
  /** How it is used when ordered: '' until the first fetch or consume. */
  #type = '';
  /** The ordered consumer's state: name prefix, serial, cursor; null for a named consumer. */
  _ordered = null;
  /** The ordered consumer's current fetch. */
  #fetching = null;
  constructor(c, api, info, orderedOpts, jsOpts = {}) {
    this.#c = c;
    this.#api = api;
    this._info = info;
    this.stream = info.stream_name;
    this.name = info.name;
    this.#jsOpts = jsOpts;
    if (orderedOpts) {
      const start = info.config.opt_start_seq || 0;
      this._ordered = {
        opts: orderedOpts,
        prefix: orderedOpts.name_prefix,
        serial: 1,
        cursor: { stream_seq: start > 0 ? start - 1 : 0, deliver_seq: 0 },
        needsReset: false,
      };
    }
  }
  isPullConsumer() {
    return true;
  }
  isPushConsumer() {
    return false;
  }
  /** True for an ordered consumer. */
  get ordered() {
    return this._ordered !== null;
  }
  /** ConsumerInfo (the last one seen when `cached`). */
  async info(cached = false) {
    if (!cached) this._info = await this.#api.info(this.stream, this._info.name);
    return this._info;
  }
  /** Deletes the consumer. */
  delete() {
    return this.#api.delete(this.stream, this._info.name);
  }

  /** One batch: up to `max_messages` (default 100) or `max_bytes`, within `expires` ms (default 30 s). */
  async fetch(opts = {}) {
    opts = { ...opts };
    if (this._ordered) {
      if (opts.bind) throw InvalidArgumentError.format('bind', 'is not supported');
      if (this.#type === 'consume') throw new InvalidOperationError('ordered consumer already initialized as consume');
      if (this.#fetching && !this.#fetching.done) {
        throw new InvalidOperationError("ordered consumer doesn't support concurrent fetch");
      }
      if (this._ordered.needsReset) await this._recreate();
      this.#type = 'fetch';
    }
    const messages = new ConsumerMessages(this.#c, this, opts, false);
    if (this._ordered) this.#fetching = messages;
    return messages;
  }

  /** The next message, or null when none arrives within `expires` ms (default 30 s). */
  async next(opts = {}) {
    const it = await this.fetch({ ...opts, max_messages: 1 });
    for await (const m of it) return m;
    return null;
  }

  /** Messages as they come until `stop()`/`close()`, pulling more as the batch is used up. */
  async consume(opts = {}) {
    opts = { ...opts };
    if (this._ordered) {
      if (opts.bind) throw InvalidArgumentError.format('bind', 'is not supported');
      if (this.#type === 'fetch') throw new InvalidOperationError('ordered consumer initialized as fetch');
      if (this.#type === 'consume') throw new InvalidOperationError("ordered consumer doesn't support concurrent consume");
      this.#type = 'consume';
    }
    return new ConsumerMessages(this.#c, this, opts, true);
  }

  /** The JsMsg options for this consumer's messages. */
  _msgOpts() {
    return { ackNone: this._info.config.ack_policy === AckPolicy.None, timeout: this.#jsOpts.timeout ?? 5000 };
  }

  /**
   * An ordered consumer's next incarnation: deletes the current one (best effort) and creates
   * `<prefix>_<serial+1>` from the stream sequence after the last one delivered.
   */
  async _recreate() {
    const o = this._ordered;
    this.#api.delete(this.stream, this._info.name).catch(() => {});
    o.serial++;
    const config = {
      ...this._info.config,
      name: `${o.prefix}_${o.serial}`,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: o.cursor.stream_seq + 1,
      ack_policy: AckPolicy.None,
      inactive_threshold: nanos(5 * 60 * 1000),
      num_replicas: 1,
    };
    delete config.metadata;
    delete config.opt_start_time;
    delete config.durable_name;
    o.cursor.deliver_seq = 0;
    this._info = await this.#api.add(this.stream, config);
    this.name = this._info.name;
    o.needsReset = false;
    return this._info;
  }
}

/** The status a pull gets when nothing took it (no such consumer), as nats-server's 503. */
const NO_RESPONDERS = Object.assign(new MsgHdrs(), { code: 503, description: 'no responders' });

/**
 * Validates and completes fetch/consume options as nats.js does: `max_messages` (default 100)
 * and `max_bytes` are exclusive, `expires` defaults to 30 s, `idle_heartbeat` to half of it
 * (500 ms to 30 s; left out when the pull is too short for one), thresholds to 75% of the batch.
 */
function parseOptions(opts, consume) {
  const o = { ...opts };
  o.max_messages ||= 0;
  o.max_bytes ||= 0;
  if (o.max_messages && o.max_bytes) {
    throw InvalidArgumentError.format(['max_messages', 'max_bytes'], 'are mutually exclusive');
  }
  if (!o.max_messages) o.max_messages = 100;
  o.expires ||= 30_000;
  let hb = o.idle_heartbeat || o.expires / 2;
  hb = Math.max(500, Math.min(30_000, hb));
  o.idle_heartbeat = hb * 2 <= o.expires ? hb : 0;
  if (consume) {
    o.threshold_messages ||= Math.round(o.max_messages * 0.75) || 1;
    o.threshold_bytes ||= Math.round(o.max_bytes * 0.75) || 1;
  }
  return o;
}

/**
 * Messages of a fetch or consume: an async iterator (or `callback`), with `stop()`, `close()`,
 * `closed()`, `status()` notifications and counters, as v3's ConsumerMessages.
 */
export class ConsumerMessages extends QueuedMessages {
  #c;
  #consumer;
  #opts;
  #consume;
  #inbox;
  #pending = { msgs: 0, bytes: 0, requests: 0 };
  #monitor = null;
  #missed = 0;
  #resetting = false;

  constructor(c, consumer, opts, consume) {
    super(opts.callback);
    this.#c = c;
    this.#consumer = consumer;
    this.#consume = consume;
    this.#opts = parseOptions(opts, consume);
    c._hold();
    this.#listen();
    if (this.#opts.idle_heartbeat) {
      this.#monitor = setInterval(() => this.#checkHeartbeats(), this.#opts.idle_heartbeat);
      this.#monitor.unref?.();
    }
    this.#pull();
  }

  _cleanup() {
    clearInterval(this.#monitor);
    this.#c._unsub(this.#inbox);
    this.#c._release();
  }

  #listen() {
    this.#inbox = this.#c._inbox();
    const inbox = this.#inbox;
    this.#c._sub(inbox, (m, err) => {
      if (inbox !== this.#inbox) return;
      // Closing the engine ends it cleanly, as closing the connection does in nats.js.
      if (!m) return this.stop(err instanceof ClosedError ? undefined : err);
      this.#missed = 0;
      if (m.headers && !m.reply) {
        const h = MsgHdrs.decode(m.headers);
        if (h.code) return this.#status(h);
      }
      this.#message(m);
    });
  }

  /** A status message: heartbeats, the end of a pull (404/408), errors (400/409). */
  #status(h) {
    const code = h.code;
    const description = h.description.toLowerCase() || (code === 503 ? 'no responders' : 'unknown');
    if (code === 100) {
      if (description === 'idle heartbeat') {
        this._notify({
          type: 'heartbeat',
          lastConsumerSequence: parseInt(h.get(JsHeaders.LastConsumerSeqHdr) || '0', 10),
          lastStreamSequence: parseInt(h.get(JsHeaders.LastStreamSeqHdr) || '0', 10),
        });
      }
      return;
    }
    const msgsLeft = parseInt(h.get(JsHeaders.PendingMessagesHdr) || '0', 10);
    const bytesLeft = parseInt(h.get(JsHeaders.PendingBytesHdr) || '0', 10);
    if (msgsLeft > 0 || bytesLeft > 0) {
      this.#pending.msgs = Math.max(0, this.#pending.msgs - msgsLeft);
      this.#pending.bytes = Math.max(0, this.#pending.bytes - bytesLeft);
      this.#pending.requests = Math.max(0, this.#pending.requests - 1);
      this._notify({ type: 'discard', messagesLeft: msgsLeft, bytesLeft });
    }
    const error = () => new JetStreamStatusError(description, code);
    if (code === 400) return this.stop(error());
    if (code === 409) {
      const deleted = description === 'consumer deleted';
      if (deleted) this._notify({ type: 'consumer_deleted', code, description });
      else if (/exceeded|maxbytes/.test(description)) this._notify({ type: 'exceeded_limits', code, description });
      if (!this.#consume) return this.stop(error());
      if (deleted && this.#consumer._ordered) return this.#reset();
      if (deleted && this.#opts.abort_on_missing_resource) return this.stop(error());
      return;
    }
    if (code === 503) {
      this._notify({ type: 'no_responders', code });
      // An ordered consumer that is gone is recreated by the next fetch (a consume resets now).
      if (this.#consumer._ordered) {
        if (this.#consume) return this.#reset();
        this.#consumer._ordered.needsReset = true;
      }
      if (!this.#consume) return this.stop(error());
      return;
    }
    if (code === 404 || code === 408) {
      // The pull is over: a fetch ends; a consume pulls again below.
      if (!this.#consume) return this.stop();
      if (msgsLeft === 0 && bytesLeft === 0) this.#pending = { msgs: 0, bytes: 0, requests: 0 };
      this.#refill();
      return;
    }
    this._notify({ type: 'debug', code, description });
  }

  #message(m) {
    const consumer = this.#consumer;
    const msg = new JsMsg(this.#c, m, consumer._msgOpts());
    if (consumer._ordered) {
      const cursor = consumer._ordered.cursor;
      const info = msg.info;
      if (info.deliverySequence !== cursor.deliver_seq + 1) return this.#reset();
      cursor.deliver_seq = info.deliverySequence;
      cursor.stream_seq = info.streamSequence;
    }
    if (this.#pending.msgs) this.#pending.msgs--;
    if (this.#pending.bytes) this.#pending.bytes = Math.max(0, this.#pending.bytes - (m.data?.length ?? 0) - (m.headers?.length ?? 0) - m.subject.length);
    if (this.#pending.msgs === 0 && this.#pending.bytes === 0) this.#pending.requests = 0;
    this._deliver(msg);
    if (this.done) return;
    if (this.#consume) this.#refill();
    else if (this.#pending.requests === 0) this.stop();
  }

  /** A consume asks for more once what it is owed drops to the threshold. */
  #refill() {
    const o = this.#opts;
    if (this.done || this.#resetting) return;
    if (this.#pending.requests === 0 || (o.max_bytes ? this.#pending.bytes <= o.threshold_bytes : this.#pending.msgs <= o.threshold_messages)) {
      this.#pull();
    }
  }

  /** Sends a pull request for what the batch still lacks. */
  #pull() {
    if (this.done) return;
    const o = this.#opts;
    const batch = o.max_messages - this.#pending.msgs;
    const max_bytes = o.max_bytes ? o.max_bytes - this.#pending.bytes : 0;
    if (batch <= 0 && !max_bytes) return;
    const req = { batch: Math.max(batch, 1), expires: nanos(o.expires) };
    if (max_bytes) req.max_bytes = max_bytes;
    if (o.idle_heartbeat) req.idle_heartbeat = nanos(o.idle_heartbeat);
    this.#pending.msgs += req.batch;
    this.#pending.bytes += max_bytes;
    this.#pending.requests++;
    const name = this.#consumer._info.name;
    try {
      const took = this.#c._send(`${API}CONSUMER.MSG.NEXT.${this.#consumer.stream}.${name}`, this.#inbox, undefined, JSON.stringify(req));
      this._notify({ type: 'next', options: req });
      if (!took) this.#status(NO_RESPONDERS);
    } catch (e) {
      this.stop(e);
    }
  }

  /** Two idle heartbeats missed: a fetch fails, a consume checks the consumer and pulls again. */
  #checkHeartbeats() {
    if (this.done || ++this.#missed <= 2) return;
    this._notify({ type: 'heartbeats_missed', count: this.#missed - 1 });
    if (!this.#consume) return this.stop(new JetStreamError('heartbeats missed'));
    this.#missed = 0;
    this.#resetPending();
  }

  /** Checks the consumer still exists, then pulls afresh (`bind` skips the check). */
  async #resetPending() {
    if (this.#resetting) return;
    this.#resetting = true;
    try {
      if (!this.#opts.bind) await this.#consumer.info();
      this.#pending = { msgs: 0, bytes: 0, requests: 0 };
      this.#resetting = false;
      this.#pull();
    } catch (e) {
      this.#resetting = false;
      if (e instanceof StreamNotFoundError) {
        this._notify({ type: 'stream_not_found', name: this.#consumer.stream });
        if (this.#opts.abort_on_missing_resource) this.stop(e);
      } else if (e instanceof ConsumerNotFoundError) {
        this._notify({ type: 'consumer_not_found', name: this.#consumer.name, stream: this.#consumer.stream, count: 1 });
        if (this.#consumer._ordered) return this.#reset();
        if (this.#opts.abort_on_missing_resource) this.stop(e);
      } else if (!this.done) {
        this._notify({ type: 'debug', code: 0, description: String(e?.message ?? e) });
      }
    }
  }

  /** An ordered consumer lost its order (a skipped delivery, a deleted consumer): recreate it. */
  async #reset() {
    const consumer = this.#consumer;
    if (this.#resetting || this.done) return;
    if (!this.#consume) {
      // A fetch ends here; the next fetch recreates the consumer first.
      consumer._ordered.needsReset = true;
      return this.stop();
    }
    this.#resetting = true;
    this._notify({ type: 'reset', name: consumer._info.name });
    this.#c._unsub(this.#inbox);
    this.#listen();
    for (let attempt = 1; !this.done; attempt++) {
      try {
        const info = await consumer._recreate();
        this._notify({ type: 'ordered_consumer_recreated', name: info.name });
        break;
      } catch (e) {
        if (e instanceof StreamNotFoundError) {
          this._notify({ type: 'stream_not_found', name: consumer.stream, consumerCreateFails: attempt });
          if (this.#opts.abort_on_missing_resource) return this.stop(e);
        }
        if (attempt >= 30 && this.getReceived() === 0) return this.stop(e);
        await new Promise((ok) => setTimeout(ok, Math.min(5_000, 100 * attempt)));
      }
    }
    this.#resetting = false;
    this.#pending = { msgs: 0, bytes: 0, requests: 0 };
    this.#pull();
  }
}
