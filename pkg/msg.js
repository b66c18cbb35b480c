// Messages as @nats-io/jetstream v3 hands them out: `JsMsg` (delivered by a consumer, with its
// delivery info read from the ack subject and the ack verbs), `StoredMsg` (read from a stream
// with `getMessage`) and `DirectMsg` (a direct get).
import { MsgHdrs } from './headers.js';
import { base64ToBytes, nanos, td, te } from './util.js';
import { DirectMsgHeaders } from './enums.js';
import { InvalidOperationError, NoRespondersError } from './errors.js';

// Encoded once: a TextEncoder call per ack showed in the fetch+ack profile.
const ACK = te.encode('+ACK');

/**
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (or the 11+ token form
 * with domain and account hash) → v3's DeliveryInfo. `redeliveryCount` is kept as an alias of
 * `deliveryCount` (v2's name). `timestampNanos` is a number here, as in v3 (exact to ~256 ns);
 * `JsMsg.timestampNanos` is the exact BigInt.
 */
export function parseInfo(subject) {
  const t = subject.split('.');
  if (t.length === 9) t.splice(2, 0, '_', '');
  if (t.length < 11 || t[0] !== '$JS' || t[1] !== 'ACK') {
    throw new InvalidOperationError('unable to parse delivery info - not a jetstream message');
  }
  const deliveryCount = parseInt(t[6], 10);
  return {
    domain: t[2] === '_' ? '' : t[2],
    account_hash: t[3],
    stream: t[4],
    consumer: t[5],
    deliveryCount,
    redeliveryCount: deliveryCount,
    redelivered: deliveryCount > 1,
    streamSequence: parseInt(t[7], 10),
    deliverySequence: parseInt(t[8], 10),
    timestampNanos: parseInt(t[9], 10),
    pending: parseInt(t[10], 10),
  };
}

/** The exact nanosecond timestamp token of an ack subject. */
function timestampToken(subject) {
  const t = subject.split('.');
  return t[t.length === 9 ? 7 : 9] ?? '0';
}

/**
 * A message delivered by a consumer. `ackNone` (the consumer's ack policy is "none": nobody
 * takes acks) makes `ackAck()` reject with no responders as nats.js does against a server;
 * `timeout` bounds `ackAck()` (the JetStream client's timeout unless given).
 */
export class JsMsg {
  #c;
  #acked = false;
  #info = null;
  #ackNone;
  #timeout;
  constructor(c, m, { ackNone = false, timeout = 5000, sid = 0 } = {}) {
    this.#c = c;
    this.subject = m.subject;
    this.reply = m.reply ?? '';
    this.data = m.data;
    this.headers = m.headers ? MsgHdrs.decode(m.headers) : undefined;
    this.sid = sid;
    this.#ackNone = ackNone;
    this.#timeout = timeout;
  }
  /** Delivery info, read from the ack subject when first asked for. */
  get info() {
    return (this.#info ??= parseInfo(this.reply));
  }
  /** Its stream sequence. */
  get seq() {
    return this.info.streamSequence;
  }
  /** True when delivered before. */
  get redelivered() {
    return this.info.deliveryCount > 1;
  }
  /** When the stream stored it, to the millisecond (a Date holds no more). */
  get time() {
    return new Date(Number(this.timestampNanos / 1_000_000n));
  }
  /** `time` as an ISO string. */
  get timestamp() {
    return this.time.toISOString();
  }
  /** When the stream stored it, in nanoseconds since the epoch, exactly as the engine recorded it. */
  get timestampNanos() {
    return BigInt(timestampToken(this.reply));
  }
  json(reviver) {
    return JSON.parse(this.string(), reviver);
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
  /**
   * Acknowledges it and resolves to true once the ack is applied and durable; false when it was
   * acknowledged already. Rejects with `NoRespondersError` on a consumer that takes no acks
   * (`ack_policy: "none"`) and with `TimeoutError` after `timeout` ms.
   */
  async ackAck(opts = {}) {
    if (this.#acked || !this.reply) return false;
    this.#acked = true;
    if (this.#ackNone) throw new NoRespondersError(this.reply);
    await this.#c._request(this.reply, ACK, undefined, opts.timeout || this.#timeout);
    return true;
  }
  #respond(body) {
    if (this.#acked || !this.reply) return;
    this.#acked = true;
    this.#c._send(this.reply, undefined, undefined, body);
  }
}

/**
 * A message read from a stream with `getMessage`. `timestamp` is the engine's RFC 3339 time as
 * sent (nanosecond digits only where the clock had them); `lastSequence` and `pending` are 0, as
 * in nats.js (they mean something only for direct gets).
 */
export class StoredMsg {
  #hdrs;
  #header = null;
  constructor(m) {
    this.subject = m.subject;
    this.seq = m.seq;
    this.timestamp = m.time;
    this.data = base64ToBytes(m.data);
    this.#hdrs = m.hdrs;
    this.lastSequence = 0;
    this.pending = 0;
  }
  get time() {
    return new Date(Date.parse(this.timestamp));
  }
  get header() {
    return (this.#header ??= this.#hdrs ? MsgHdrs.decode(base64ToBytes(this.#hdrs)) : new MsgHdrs());
  }
  json(reviver) {
    return JSON.parse(this.string(), reviver);
  }
  string() {
    return td.decode(this.data);
  }
}

/** A message answered by a direct get: its origin in the `Nats-*` headers. */
export class DirectMsg {
  constructor(m) {
    this.data = m.data;
    this.header = m.headers ? MsgHdrs.decode(m.headers) : new MsgHdrs();
    this.stream = this.header.get(DirectMsgHeaders.Stream);
    this.subject = this.header.get(DirectMsgHeaders.Subject);
    this.seq = parseInt(this.header.get(DirectMsgHeaders.Sequence), 10) || 0;
    this.timestamp = this.header.get(DirectMsgHeaders.TimeStamp);
    this.lastSequence = parseInt(this.header.get(DirectMsgHeaders.LastSequence), 10) || 0;
    this.pending = parseInt(this.header.get(DirectMsgHeaders.NumPending), 10) || 0;
  }
  get time() {
    return new Date(Date.parse(this.timestamp));
  }
  json(reviver) {
    return JSON.parse(this.string(), reviver);
  }
  string() {
    return td.decode(this.data);
  }
}
