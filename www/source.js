// Where the dashboard reads streams from: a NATS server (the package's `connect()`, NATS over
// WebSocket; Contrail or nats-server) or a database of this browser (the package's `open()`,
// IndexedDB). Both give the same JetStreamManager and JetStreamClient (pkg/README.md), so every
// view is written once against them.

import { connect, open } from '../pkg/index.js';
import { openUploads, stopUploads } from './uploads.js';

/**
 * The advisories the views refresh on; not `$JS.EVENT.ADVISORY.API`, nats-server's audit of
 * every API request (the dashboard's own included, with its request and reply).
 */
const ADVISORIES = ['$JS.EVENT.ADVISORY.STREAM.>', '$JS.EVENT.ADVISORY.CONSUMER.>'];

/**
 * An open source: `jsm`, `js`, `nc`, a `label` and `kind` ('server' | 'local'). Its stream and
 * consumer advisories go to the live views (`live.js`'s `advise`) while it is open.
 */

export class Source {
  /** `creds`: `{user, pass}` or `{token}` for a server that asks for them. */
  static async server(url, creds = {}) {
    const nc = await connect({ servers: url, name: 'contrail dashboard', maxReconnectAttempts: -1, ...creds });
    return new Source('server', url, nc, await nc.jetstreamManager());
  }

  static async local(name) {
    const nc = await open({ name });
    const source = new Source('local', name, nc, await nc.jetstreamManager());
    // Its recorded uploads are listed and go on at once, whatever view shows first.
    openUploads(source);
    return source;
  }

  constructor(kind, where, nc, jsm) {
    this.kind = kind;
    this.where = where;
    this.nc = nc;
    this.jsm = jsm;
    this.js = nc.jetstream();
    this.label = kind === 'server' ? `server ${where}` : `this browser, database "${where}"`;
  }

  /**
   * Hands this source's advisories (`{kind, data}` as `jsm.advisories()` gives them) to
   * `advise` until it closes. Where they cannot be had (a server that denies `$JS.EVENT.>`),
   * the views' fallback polls still refresh them.
   */
  watchAdvisories(advise) {
    const callback = (err, msg) => {
      if (err) return;
      let data;
      try {
        data = msg.json();
      } catch {
        return; // not JSON: not an advisory
      }
      advise({ kind: String(data?.type ?? '').split('.').pop(), data });
    };
    try {
      this.advisories = ADVISORIES.map((subject) => this.nc.subscribe(subject, { callback }));
    } catch (e) {
      console.warn('advisories unavailable', e);
    }
  }

  /** One page of a stream's subjects with their counts: `{subjects: [[name, n]...], total}`. */
  async subjects(stream, filter = '>', offset = 0) {
    const r = await this.jsm.streams.infoPage(stream, { subjects_filter: filter || '>', offset });
    const subjects = Object.entries(r.state?.subjects ?? {});
    return { subjects, total: r.total ?? subjects.length, limit: r.limit ?? subjects.length, state: r.state };
  }

  /** Every stream's info (paged by the lister; a server lists 256 a page). */
  async streams() {
    const out = [];
    for await (const si of this.jsm.streams.list()) out.push(si);
    out.sort((a, b) => a.config.name.localeCompare(b.config.name));
    return out;
  }

  async close() {
    for (const sub of this.advisories ?? []) sub.unsubscribe();
    // The uploads of a database end with it (their cursors and records stay in it).
    stopUploads(this);
    try {
      await this.nc.close();
    } catch {
      // Already closed (the server went away for good): nothing left to release.
    }
  }
}

/**
 * The server's monitoring endpoints (`/varz`, `/jsz`, `/connz`) when the page is served by it
 * (Contrail's HTTP port serves both); null when this origin has none.
 */
export async function monitoring(path = '/varz') {
  try {
    const r = await fetch(path, { cache: 'no-store' });
    if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return null;
    return await r.json();
  } catch {
    return null;
  }
}

/**
 * A monitoring endpoint of the server `source` is connected to: the page's origin answers only
 * for the server that serves it, so an answer from another server (its `server_id` is not the
 * connection's) is null, as is any answer for a database of this browser.
 */
export async function serverMonitoring(source, path) {
  if (source.kind !== 'server') return null;
  const answer = await monitoring(path);
  const id = source.nc.info?.server_id;
  if (!answer || (id && answer.server_id && answer.server_id !== id)) return null;
  return answer;
}

/** The WebSocket URL of the server serving this page, from its `/varz`; null without one. */
export async function ownServer() {
  const varz = await monitoring('/varz');
  if (!varz?.websocket?.port) return null;
  const scheme = varz.websocket.no_tls === false ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:${varz.websocket.port}`;
}

/** The names of this origin's IndexedDB databases (where the browser can list them). */
export async function localDatabases() {
  try {
    return (await indexedDB.databases()).map((d) => d.name).filter(Boolean).sort();
  } catch {
    return [];
  }
}
