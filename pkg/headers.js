// NATS message headers (the `NATS/1.0` block), shaped like nats-core's MsgHdrs.
import { td, te } from './util.js';

/** NATS message headers (`NATS/1.0` block); names keep their case, `get` falls back to any case. */
export class MsgHdrs {
  #map = new Map();
  /** Status code of a status message (0 when none). */
  code = 0;
  /** Status description. */
  description = '';

  get(name) {
    const exact = this.#map.get(name);
    if (exact) return exact[0];
    const lower = name.toLowerCase();
    for (const [k, v] of this.#map) if (k.toLowerCase() === lower) return v[0];
    return '';
  }
  has(name) {
    return this.get(name) !== '' || this.#map.has(name);
  }
  set(name, value) {
    this.#map.set(name, [String(value)]);
  }
  append(name, value) {
    const v = this.#map.get(name);
    if (v) v.push(String(value));
    else this.#map.set(name, [String(value)]);
  }
  delete(name) {
    this.#map.delete(name);
  }
  values(name) {
    return [...(this.#map.get(name) ?? [])];
  }
  keys() {
    return [...this.#map.keys()];
  }
  get size() {
    return this.#map.size;
  }
  [Symbol.iterator]() {
    return this.#map[Symbol.iterator]();
  }
  /** The wire form. */
  encode() {
    let s = 'NATS/1.0\r\n';
    for (const [k, vs] of this.#map) for (const v of vs) s += `${k}: ${v}\r\n`;
    return te.encode(s + '\r\n');
  }
  /** Parses a wire header block. */
  static decode(bytes) {
    const h = new MsgHdrs();
    const lines = td.decode(bytes).split('\r\n');
    const first = lines.shift() ?? '';
    const status = first.slice('NATS/1.0'.length).trim();
    if (status) {
      const sp = status.indexOf(' ');
      h.code = parseInt(sp < 0 ? status : status.slice(0, sp), 10) || 0;
      h.description = sp < 0 ? '' : status.slice(sp + 1);
    }
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i > 0) h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    return h;
  }
}

/** An empty header set. */
export function headers() {
  return new MsgHdrs();
}
