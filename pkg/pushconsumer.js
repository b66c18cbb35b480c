// Push consumers as @nats-io/jetstream v3 has them: `js.consumers.getPushConsumer(stream, name)`
// for a consumer with a `deliver_subject`, `getBoundPushConsumer({deliver_subject})` without an
// info request. `consume()` takes what the engine pushes to the deliver subject: the engine is
// told this context listens there (interest, as a subscription tells nats-server), answers flow
// control requests and stalled-consumer pings, and reports idle heartbeats through `status()`.
// Ordered push consumers are not provided (an ordered pull consumer does the same locally).
import { AckPolicy, JsHeaders } from './enums.js';
import { ClosedError, InvalidOperationError, JetStreamStatusError } from './errors.js';
import { MsgHdrs } from './headers.js';
import { QueuedMessages } from './messages.js';
import { JsMsg } from './msg.js';

/** A push consumer: `consume`, `info`, `delete`. */
export class PushConsumer {
  #c;
  #api;
  #bound;
  #started = false;
  #timeout;
  constructor(c, api, info, { bound = false, timeout = 5000 } = {}) {
    this.#c = c;
    this.#api = api;
    this._info = info;
    this.stream = info.stream_name;
    this.name = info.name;
    this.#bound = bound;
    this.#timeout = timeout;
  }
  isPullConsumer() {
    return false;
  }
  isPushConsumer() {
    return true;
  }
  /** ConsumerInfo (the last one seen when `cached`); a bound consumer has none. */
  async info(cached = false) {
    if (this.#bound) throw new InvalidOperationError('bound consumers cannot info');
    if (!cached) this._info = await this.#api.info(this.stream, this.name);
    return this._info;
  }
  /** Deletes the consumer; a bound consumer cannot. */
  async delete() {
    if (this.#bound) throw new InvalidOperationError('bound consumers cannot delete');
    return this.#api.delete(this.stream, this.name);
  }
  /** Messages pushed to the deliver subject until `stop()`; one consume at a time. */
  async consume(opts = {}) {
    const config = this._info.config;
    if (this.#started) throw new InvalidOperationError('consumer already started');
    if (!config.deliver_subject) throw new InvalidOperationError('deliver_subject is not set, not a push consumer');
    if (!config.deliver_group && this._info.push_bound) throw new InvalidOperationError('consumer is already bound');
    if (this.#c._hasSub(config.deliver_subject)) {
      throw new InvalidOperationError(`${config.deliver_subject} is already consumed in this context`);
    }
    const messages = new PushConsumerMessages(this.#c, this._info, opts, {
      ackNone: config.ack_policy === AckPolicy.None,
      timeout: this.#timeout,
    });
    this.#started = true;
    messages.closed().then(() => (this.#started = false));
    return messages;
  }
}

/** What a push consumer's `consume()` returns. */
class PushConsumerMessages extends QueuedMessages {
  #c;
  #subject;
  constructor(c, info, opts, msgOpts) {
    super(opts.callback);
    this.#c = c;
    this.#subject = info.config.deliver_subject;
    const abort = opts.abort_on_missing_resource === true;
    c._hold();
    c._sub(this.#subject, (m, err) => {
      if (!m) return this.stop(err instanceof ClosedError ? undefined : err);
      if (m.headers && !m.reply?.startsWith('$JS.ACK.')) return this.#status(MsgHdrs.decode(m.headers), m.reply, abort);
      this._deliver(new JsMsg(c, m, msgOpts));
    });
    try {
      c._interest(this.#subject, true);
    } catch (e) {
      this.stop(e);
    }
  }

  _cleanup() {
    this.#c._unsub(this.#subject);
    try {
      this.#c._interest(this.#subject, false);
    } catch {
      // Closed already: the engine is gone, and its interest with it.
    }
    this.#c._release();
  }

  #status(h, reply, abort) {
    const description = h.description.toLowerCase();
    if (h.code === 100 && description === 'flowcontrol request') {
      if (reply) this.#c._send(reply, undefined, undefined, '');
      this._notify({ type: 'flow_control' });
      return;
    }
    if (h.code === 100 && description === 'idle heartbeat') {
      this._notify({
        type: 'heartbeat',
        lastConsumerSequence: parseInt(h.get(JsHeaders.LastConsumerSeqHdr) || '0', 10),
        lastStreamSequence: parseInt(h.get(JsHeaders.LastStreamSeqHdr) || '0', 10),
      });
      const stalled = h.get(JsHeaders.ConsumerStalledHdr);
      if (stalled) this.#c._send(stalled, undefined, undefined, '');
      return;
    }
    if (h.code === 409 && description === 'consumer deleted') {
      this._notify({ type: 'consumer_deleted', code: h.code, description });
      if (abort) this.stop(new JetStreamStatusError(description, h.code));
      return;
    }
    this._notify({ type: 'debug', code: h.code, description });
  }
}
