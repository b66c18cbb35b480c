// Publishing and consuming, as @nats-io/jetstream v3's JetStreamClient: `publish` with its
// options (msgID, expectations, headers, ttl, timeout, retries), `js.consumers`, `js.streams`.
import { PubHeaders } from './enums.js';
import { InvalidOperationError, JetStreamApiError, NoRespondersError, TimeoutError } from './errors.js';
import { MsgHdrs } from './headers.js';
import { text } from './util.js';
import { Consumers } from './consumer.js';
import { JetStreamManager, StreamAPI, jsOptions } from './jsm.js';

/** Publishing and consuming, like @nats-io/jetstream's JetStreamClient. */
export class JetStreamClient {
  #opts;
  constructor(c, opts = {}) {
    this._c = c;
    this.#opts = jsOptions(opts);
    this.apiPrefix = this.#opts.apiPrefix;
    this.consumers = new Consumers(c, this.#opts);
    const streams = new StreamAPI(c, this.#opts);
    /** `js.streams.get(name)`: a stream handle. */
    this.streams = { get: (name) => streams.get(name) };
  }

  /** The options this client was made with, normalised (`apiPrefix`, `timeout`). */
  getOptions() {
    return { ...this.#opts };
  }

  /**
   * Publishes into the stream capturing `subject`; resolves to the PubAck once durable.
   * `timeout` (ms) rejects with `TimeoutError` if the commit takes longer (it may still land:
   * give a `msgID` to retry safely); `retries` tries again, with a growing pause, while no stream
   * captures the subject (`NoRespondersError`).
   */
  publish(subject, data, opts) {
    let hdrs;
    try {
      hdrs = opts ? publishHeaders(opts) : undefined;
    } catch (e) {
      return Promise.reject(e);
    }
    if (!opts?.timeout && !(opts?.retries > 1)) return this.#publishOnce(subject, data, hdrs);
    return this.#publishRetrying(subject, data, hdrs, opts.timeout, opts.retries || 1);
  }

  async #publishRetrying(subject, data, hdrs, timeout, retries) {
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = this.#publishOnce(subject, data, hdrs);
        if (!timeout) return await ack;
        let timer;
        const late = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(subject, timeout)), timeout);
        });
        try {
          return await Promise.race([ack, late]);
        } finally {
          clearTimeout(timer);
        }
      } catch (e) {
        const again = (e instanceof NoRespondersError || e instanceof TimeoutError) && attempt + 1 < retries;
        if (!again) throw e;
        await new Promise((ok) => setTimeout(ok, Math.min(2_000, 50 * 2 ** attempt)));
      }
    }
  }

  #publishOnce(subject, data, hdrs) {
    try {
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

  /** Atomic batch publish is not in the engine (see the README). */
  startBatch() {
    return Promise.reject(new InvalidOperationError('atomic batch publish is not supported by the contrail engine'));
  }

  /** The manager over the same engine. */
  async jetstreamManager() {
    return new JetStreamManager(this._c, this.#opts);
  }
}

/** A publish's options as an encoded header block, or undefined when they set no header. */
function publishHeaders(opts) {
  const h = new MsgHdrs();
  if (opts.headers) for (const [k, vs] of opts.headers) for (const v of vs) h.append(k, v);
  if (opts.msgID) h.set(PubHeaders.MsgIdHdr, opts.msgID);
  const e = opts.expect ?? {};
  if (e.lastMsgID) h.set(PubHeaders.ExpectedLastMsgIdHdr, e.lastMsgID);
  if (e.streamName) h.set(PubHeaders.ExpectedStreamHdr, e.streamName);
  if (typeof e.lastSequence === 'number') h.set(PubHeaders.ExpectedLastSeqHdr, e.lastSequence);
  if (typeof e.lastSubjectSequence === 'number') h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, e.lastSubjectSequence);
  if (e.lastSubjectSequenceSubject) h.set(PubHeaders.ExpectedLastSubjectSequenceSubjectHdr, e.lastSubjectSequenceSubject);
  if (opts.ttl) h.set(PubHeaders.MessageTTL, opts.ttl);
  if (opts.schedule || opts.cancelSchedule) {
    throw new InvalidOperationError('message schedules are not supported by the contrail engine');
  }
  return h.size ? h.encode() : undefined;
}
