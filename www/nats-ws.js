// A small NATS client over WebSocket, enough for the dashboard: connect, publish, request/reply.
//
// The dashboard reads a server's streams through the same `$JS.API` requests any NATS client
// sends, so it works against Contrail and against nats-server alike. The reader below frames
// the server's ops (INFO, MSG, HMSG, PING, PONG, +OK, -ERR) from bytes that may split anywhere
// across WebSocket frames; a control line or payload larger than the limits is a protocol error.

const te = new TextEncoder();
const td = new TextDecoder();
const CRLF = '\r\n';
const MAX_CONTROL_LINE = 4096;
const MAX_PAYLOAD = 64 * 1024 * 1024;

/** No one answered a request (status 503), or it timed out. */
export class RequestError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'RequestError';
    this.status = status;
  }
}

/** A message as delivered: `subject`, `reply`, `status` (0 or the header status), `headers`, `data`. */
function message(subject, reply, headerText, data) {
  let status = 0;
  let description = '';
  const headers = new Map();
  if (headerText !== null) {
    const lines = headerText.split(CRLF);
    const first = (lines.shift() ?? '').slice('NATS/1.0'.length).trim();
    if (first) {
      status = parseInt(first, 10) || 0;
      description = first.replace(/^\d+\s*/, '');
    }
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i > 0) headers.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
  }
  return { subject, reply, status, description, headers, headerText, data };
}

/** Frames server ops out of a byte stream. `onOp(name, args, payload?)` gets each one. */
class Reader {
  #buf = new Uint8Array(0);
  constructor(onOp) {
    this.onOp = onOp;
  }

  push(bytes) {
    const joined = new Uint8Array(this.#buf.length + bytes.length);
    joined.set(this.#buf);
    joined.set(bytes, this.#buf.length);
    this.#buf = joined;
    let at = 0;
    for (;;) {
      const used = this.#one(at);
      if (used === 0) break;
      at += used;
    }
    this.#buf = this.#buf.slice(at);
  }

  /** Parses one op at `at`; returns the bytes it used, 0 when more input is needed. */
  #one(at) {
    const buf = this.#buf;
    let end = -1;
    for (let i = at; i + 1 < buf.length; i++) {
      if (buf[i] === 13 && buf[i + 1] === 10) {
        end = i;
        break;
      }
    }
    if (end < 0) {
      if (buf.length - at > MAX_CONTROL_LINE) throw new Error('control line too long');
      return 0;
    }
    const line = td.decode(buf.subarray(at, end));
    const [op, ...args] = line.split(/\s+/).filter(Boolean);
    const name = (op ?? '').toUpperCase();
    if (name !== 'MSG' && name !== 'HMSG') {
      this.onOp(name, line.slice((op ?? '').length).trim());
      return end + 2 - at;
    }
    // MSG subject sid [reply] size | HMSG subject sid [reply] hsize size
    const sizes = name === 'HMSG' ? 2 : 1;
    const total = Number(args[args.length - 1]);
    const hsize = sizes === 2 ? Number(args[args.length - 2]) : 0;
    if (!Number.isInteger(total) || !Number.isInteger(hsize) || total > MAX_PAYLOAD || hsize > total) {
      throw new Error(`bad ${name} line: ${line}`);
    }
    const start = end + 2;
    if (buf.length < start + total + 2) return 0;
    const reply = args.length === 3 + sizes ? args[2] : null;
    const headerText = sizes === 2 ? td.decode(buf.subarray(start, start + hsize)) : null;
    const data = buf.slice(start + hsize, start + total);
    this.onOp(name, message(args[0], reply, headerText, data));
    return start + total + 2 - at;
  }
}

/** A connection to a NATS server over WebSocket. */
export class Connection {
  #ws;
  #inbox = `_INBOX.${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  #next = 0;
  #waiting = new Map();
  #pongs = [];
  #closed = null;
  /** The server's INFO. */
  info = null;
  /** The last -ERR the server sent. */
  lastError = null;

  constructor(ws) {
    this.#ws = ws;
  }

  /** Opens `url` (ws://host:port), sends CONNECT and resolves once the server answered a PING. */
  static connect(url, { timeout = 5000, name = 'contrail dashboard' } = {}) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        reject(e);
        return;
      }
      ws.binaryType = 'arraybuffer';
      const conn = new Connection(ws);
      const timer = setTimeout(() => {
        reject(new Error(`no answer from ${url} within ${timeout} ms`));
        ws.close();
      }, timeout);
      const reader = new Reader((op, arg) => conn.#onOp(op, arg));
      ws.onmessage = (ev) => {
        const bytes = typeof ev.data === 'string' ? te.encode(ev.data) : new Uint8Array(ev.data);
        try {
          reader.push(bytes);
        } catch (e) {
          conn.#fail(e);
          ws.close();
        }
      };
      ws.onclose = () => {
        clearTimeout(timer);
        conn.#fail(new Error('connection closed'));
        reject(new Error(`cannot connect to ${url}`));
      };
      ws.onopen = () => {
        const opts = { verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1, lang: 'js', version: '0.1.0', name };
        conn.#write(`CONNECT ${JSON.stringify(opts)}${CRLF}SUB ${conn.#inbox}.* 1${CRLF}`);
        conn.flush().then(() => {
          clearTimeout(timer);
          resolve(conn);
        }, reject);
      };
    });
  }

  /** Resolves once the server has processed everything sent so far. */
  flush() {
    return new Promise((resolve, reject) => {
      this.#pongs.push({ resolve, reject });
      this.#write(`PING${CRLF}`);
    });
  }

  /** Publishes `data` (string or bytes) to `subject`. */
  publish(subject, data = '', reply) {
    const body = typeof data === 'string' ? te.encode(data) : data;
    const head = te.encode(`PUB ${subject}${reply ? ' ' + reply : ''} ${body.length}${CRLF}`);
    const frame = new Uint8Array(head.length + body.length + 2);
    frame.set(head);
    frame.set(body, head.length);
    frame.set(te.encode(CRLF), head.length + body.length);
    this.#send(frame);
  }

  /** Sends a request and resolves to the reply message; rejects on no responders or timeout. */
  request(subject, data = '', { timeout = 5000 } = {}) {
    const token = String(++this.#next);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(token);
        reject(new RequestError(`request to ${subject} timed out`, 408));
      }, timeout);
      this.#waiting.set(token, (m, err) => {
        clearTimeout(timer);
        this.#waiting.delete(token);
        if (err) reject(err);
        else if (m.status === 503) reject(new RequestError(`no responders: ${subject}`, 503));
        else resolve(m);
      });
      try {
        this.publish(subject, data, `${this.#inbox}.${token}`);
      } catch (e) {
        this.#waiting.get(token)?.(null, e);
      }
    });
  }

  /** A `$JS.API` request with a JSON body; resolves to the JSON reply, throws its `error`. */
  async api(suffix, body) {
    const m = await this.request(`$JS.API.${suffix}`, body === undefined ? '' : JSON.stringify(body));
    const reply = JSON.parse(td.decode(m.data));
    if (reply.error) {
      const e = new Error(reply.error.description);
      e.name = 'JetStreamApiError';
      e.code = reply.error.err_code;
      e.status = reply.error.code;
      throw e;
    }
    return reply;
  }

  get closed() {
    return this.#closed !== null;
  }

  close() {
    this.#ws.close();
  }

  #write(text) {
    this.#send(te.encode(text));
  }

  #send(bytes) {
    if (this.#closed) throw this.#closed;
    this.#ws.send(bytes);
  }

  #onOp(op, arg) {
    switch (op) {
      case 'PING':
        this.#write(`PONG${CRLF}`);
        break;
      case 'PONG':
        this.#pongs.shift()?.resolve();
        break;
      case 'INFO':
        try {
          this.info = JSON.parse(arg);
        } catch {
          this.info = null;
        }
        break;
      case '-ERR':
        // Fatal errors are followed by the server closing the socket, which fails what waits.
        this.lastError = arg;
        break;
      case 'MSG':
      case 'HMSG': {
        const token = arg.subject.slice(this.#inbox.length + 1);
        this.#waiting.get(token)?.(arg);
        break;
      }
      default:
        break; // +OK and anything newer are not ours to act on.
    }
  }

  #fail(err) {
    if (this.#closed) return;
    this.#closed = err;
    for (const p of this.#pongs.splice(0)) p.reject(err);
    for (const w of [...this.#waiting.values()]) w(null, err);
  }
}
