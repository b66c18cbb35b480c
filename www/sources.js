// Where the dashboard reads streams from: this browser's own engine (the npm package over
// IndexedDB) or a server (NATS over WebSocket). Both answer the same few questions with the
// JSON shapes of the JetStream API, so the page renders them alike.

import { open, StoredMsg } from '/pkg/index.js';
import { Connection } from './nats-ws.js';

const td = new TextDecoder();

/** `{seq, subject, time, data, headers}` for the message table, from a package StoredMsg. */
function row(m) {
  const headers = m.header.size ? td.decode(m.header.encode()) : null;
  return { seq: m.seq, subject: m.subject, time: m.time, data: m.data, headers };
}

/** Streams on a NATS server (Contrail or nats-server), read over WebSocket. */
export class ServerSource {
  static async connect(url) {
    return new ServerSource(await Connection.connect(url), url);
  }

  constructor(conn, url) {
    this.conn = conn;
    this.label = `server ${url}`;
  }

  async #paged(suffix, field, body = {}) {
    const out = [];
    for (let offset = 0, pages = 0; pages < 1000; pages++) {
      const r = await this.conn.api(suffix, { ...body, offset });
      const items = r[field] ?? [];
      out.push(...items);
      offset += items.length;
      if (items.length === 0 || offset >= (r.total ?? 0)) break;
    }
    return out;
  }

  account() {
    return this.conn.api('INFO');
  }

  streams() {
    return this.#paged('STREAM.LIST', 'streams');
  }

  consumers(stream) {
    return this.#paged(`CONSUMER.LIST.${stream}`, 'consumers');
  }

  async message(stream, seq) {
    // The reply's `message` is what the package's StoredMsg reads (base64 data and headers).
    const { message } = await this.conn.api(`STREAM.MSG.GET.${stream}`, { seq });
    return row(new StoredMsg(message));
  }

  async publish(subject, data) {
    const m = await this.conn.request(subject, data);
    const ack = JSON.parse(td.decode(m.data));
    if (ack.error) throw new Error(ack.error.description);
    return ack;
  }

  addStream(config) {
    return this.conn.api(`STREAM.CREATE.${config.name}`, config);
  }

  close() {
    this.conn.close();
  }
}

/** Streams of this browser, in the IndexedDB database `name` (the npm package). */
export class BrowserSource {
  static async open(name) {
    return new BrowserSource(await open({ name }), name);
  }

  constructor(nc, name) {
    this.nc = nc;
    this.label = `this browser, database "${name}"`;
  }

  async #jsm() {
    this.jsm ??= await this.nc.jetstreamManager();
    return this.jsm;
  }

  async account() {
    return (await this.#jsm()).getAccountInfo();
  }

  async streams() {
    const out = [];
    for await (const s of (await this.#jsm()).streams.list()) out.push(s);
    return out;
  }

  async consumers(stream) {
    const out = [];
    for await (const c of (await this.#jsm()).consumers.list(stream)) out.push(c);
    return out;
  }

  async message(stream, seq) {
    // v3's getMessage resolves null for a sequence the stream no longer holds.
    const m = await (await this.#jsm()).streams.getMessage(stream, { seq });
    return m ? row(m) : null;
  }

  publish(subject, data) {
    return this.nc.jetstream().publish(subject, data);
  }

  async addStream(config) {
    return (await this.#jsm()).streams.add(config);
  }

  close() {
    return this.nc.close();
  }
}
