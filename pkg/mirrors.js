// Local mirrors observed from every tab sharing a database, and carried on by a new writer.
//
// A local mirror (a stream with `mirror: {name, domain}` or `external`) follows its server
// stream in the engine, over the connection `attach()` routed its API to (link.js). Its state is
// in its stream info (`mirror.lag`, `active`, `error`); the connection's is on the connection.
// Here both become one status per mirror, `{stream, origin, api, server, online, lag, active,
// lastSeq, error}`, read by `Mirror` handles (`db.mirrors()`): `status()` and `events()` (a
// status each time one changes), in either role:
// - the writer reads the stream list from its engine after flushes (at most every
//   READ_SPACING_MS, and every IDLE_READ_MS while anyone watches: `active` ages without a flush)
//   and when an attached connection's status changes;
// - followers get the writer's statuses over the tab channel, as uploads' (tabuploads.js): once
//   a follower asked, the writer posts them whenever one changes.
//
// Takeover. The routes `attach()` made are recorded in the database (attached.js). The tab that
// takes over attaches each again over a connection to its server, dialled the way the uploads'
// servers are (tabuploads.js `connection()`: the app's `open({connect})`, or a plain `connect()`
// waiting for the server; `connect: false` turns it off), so the mirrors go on after their last
// stored message, with no gap and no duplicate, without app code.
//
// Messages on the tab channel (next to tabs.js's and tabuploads.js's):
//   {t:'mirrors?', from}          a follower asks for the statuses;
//   {t:'mirrors', from, list}     the writer: every local mirror's status.
import { ClosedError } from './errors.js';
import { recordedAttachments } from './attached.js';
import { StatusEvents, WriterStatuses } from './statuses.js';

/** The channel messages this module handles (engine.js hands them over). */
export const MIRROR_MESSAGES = new Set(['mirrors?', 'mirrors']);

/** Least time between two reads of the stream list after flushes. */
const READ_SPACING_MS = 100;
/** A read at least this often while anyone watches. */
const IDLE_READ_MS = 1000;
/** Whether two statuses say the same (what `events()` reports a change of; `active` ages). */
const same = (a, b) =>
  a.lag === b.lag &&
  a.lastSeq === b.lastSeq &&
  a.online === b.online &&
  a.error === b.error &&
  a.server === b.server &&
  a.api === b.api;

/** The local API prefix a mirror's config names: `$JS.<domain>.API`, its `external.api`, or null (a local origin). */
function apiOf(mirror) {
  if (mirror.domain) return `$JS.${mirror.domain}.API`;
  if (mirror.external?.api) return mirror.external.api.replace(/\.+$/, '');
  return null;
}

/** The mirrors of one context's database: statuses, handles, the channel, re-attaching. */
export class Mirrors {
  #db;
  #tab;
  #timeout;
  /** The connection a takeover dials for a server (tabuploads.js), or null (never dial). */
  #connection;
  /** stream -> last status (the writer's last read, or what the writer last posted). */
  #statuses = new Map();
  /** stream -> its Mirror handle. */
  #handles = new Map();
  /** Writer: api -> the Attachment serving it (link.js). */
  #attachments = new Map();
  /** Follower: waiting for the writer's statuses. */
  #waiting = new WriterStatuses();
  /** Follower: asked once, so every new writer is asked again. */
  #watching = false;
  /** Writer: reads run (someone watches here, or a follower asked). */
  #active = false;
  /** Writer: some follower asked; changes are posted from now on. */
  #wanted = false;
  #reading = null;
  #flushes = 0;
  #again = false;
  #timer = null;
  #idle = null;
  #closed = false;

  constructor(db, tab, { timeout, connection }) {
    this.#db = db;
    this.#tab = tab;
    this.#timeout = timeout;
    this.#connection = connection;
    db._watchFlush((closed) => (closed ? this.close() : this.#flushed()));
  }

  // ---- what the handles read -------------------------------------------------------------------

  /** Mirror `stream`'s last status, or undefined. */
  status(stream) {
    const s = this.#statuses.get(stream);
    return s && { ...s };
  }

  /** The local mirrors, with their statuses fresh: read here (writer) or asked of the writer. */
  async list() {
    if (this.#closed) throw new ClosedError();
    if (this.#db._wasm) {
      this.#startReading();
      await this.#read();
    } else {
      await this.#ask();
    }
    return [...this.#statuses.keys()].map((stream) => this.#handle(stream));
  }

  #handle(stream) {
    let m = this.#handles.get(stream);
    if (!m) this.#handles.set(stream, (m = new Mirror(this, stream)));
    return m;
  }

  /** A handle's events ended: a new handle is made next time. */
  _forget(stream, handle) {
    if (this.#handles.get(stream) === handle) this.#handles.delete(stream);
  }

  /** New statuses: tell the handles (a mirror gone ends its handle). */
  #tell(list) {
    const before = this.#statuses;
    this.#statuses = new Map(list.map((s) => [s.stream, s]));
    let changed = list.length !== before.size;
    for (const s of list) {
      const old = before.get(s.stream);
      if (!old || !same(old, s)) changed = true;
    }
    for (const [stream, handle] of [...this.#handles]) {
      const s = this.#statuses.get(stream);
      if (s) handle._update(s);
      else handle._end();
    }
    return changed;
  }

  // ---- writer: attachments and reads -------------------------------------------------------------

  /** Link.js: `attachment` serves its API now (replacing any before it). */
  _attached(attachment) {
    this.#attachments.set(attachment.api, attachment);
    this.#soon();
  }

  /** Link.js: `attachment` was detached. */
  _detached(attachment) {
    if (this.#attachments.get(attachment.api) === attachment) this.#attachments.delete(attachment.api);
    this.#soon();
  }

  /** Link.js: an attached connection's status changed. */
  _connectionChanged() {
    this.#soon();
  }

  #startReading() {
    if (this.#active || this.#closed) return;
    this.#active = true;
    this.#idle = setInterval(() => this.#soon(), IDLE_READ_MS);
    this.#idle.unref?.(); // Node: watching alone keeps no process alive
  }

  /** After a flush: read again soon (not for the flush of this module's own read alone). */
  #flushed() {
    if (this.#reading) {
      this.#flushes++;
      return;
    }
    this.#soon();
  }

  #soon() {
    if (!this.#active || this.#closed || !this.#db._wasm) return;
    if (this.#reading) return void (this.#again = true);
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#read().catch(() => {});
    }, READ_SPACING_MS);
    this.#timer.unref?.();
  }

  /** Reads every local mirror's status from the engine; posts them if they changed and a follower listens. */
  #read() {
    this.#reading ??= (async () => {
      this.#flushes = 0;
      this.#again = false;
      try {
        const list = await this.#readStatuses();
        if (this.#closed || !this.#db._wasm) return;
        if (this.#tell(list) && this.#wanted) this.#post();
      } finally {
        this.#reading = null;
        // A flush besides this read's own, or news meanwhile: what it says may be newer.
        if (this.#again || this.#flushes > 1) this.#soon();
      }
    })();
    return this.#reading;
  }

  async #readStatuses() {
    const list = [];
    for (let offset = 0; ; ) {
      const page = await this.#db._api('STREAM.LIST', { offset });
      const streams = page.streams ?? [];
      for (const si of streams) if (si.config?.mirror) list.push(this.#statusOf(si));
      offset += streams.length;
      if (!streams.length || offset >= (page.total ?? 0)) break;
    }
    return list;
  }

  #statusOf(si) {
    const api = apiOf(si.config.mirror);
    const attachment = api ? this.#attachments.get(api) : undefined;
    const conn = attachment?._connection() ?? null;
    const info = si.mirror ?? {};
    const online = !!conn && conn.online;
    return {
      stream: si.config.name,
      origin: si.config.mirror.name,
      api,
      server: conn?.server ?? null,
      online,
      lag: info.lag ?? 0,
      active: typeof info.active === 'number' && info.active >= 0 ? Math.round(info.active / 1e6) : null,
      lastSeq: si.state?.last_seq ?? 0,
      error: info.error?.description ?? (conn && !online ? conn.lastError : null) ?? null,
    };
  }

  #post() {
    this.#tab?.tell({ t: 'mirrors', from: this.#tab.id, list: [...this.#statuses.values()] });
  }

  // ---- the channel -------------------------------------------------------------------------------

  /** A channel message of this module. */
  receive(msg) {
    if (this.#closed) return;
    const writer = this.#db._wasm !== null;
    if (msg.t === 'mirrors?' && writer) {
      this.#wanted = true;
      this.#startReading();
      this.#read().then(() => this.#post(), () => {});
    } else if (msg.t === 'mirrors' && !writer && (this.#tab.writerId === null || this.#tab.writerId === msg.from)) {
      this.#tell(msg.list);
      this.#waiting.heard();
    }
  }

  /** Follower: asks the writer for the statuses; resolves once they came. */
  #ask() {
    this.#watching = true;
    const fresh = this.#waiting.wait('the mirrors of the writer tab', this.#timeout);
    this.#tab.tell({ t: 'mirrors?', from: this.#tab.id });
    return fresh;
  }

  /** Tabs.js: this context follows writer `id` now (maybe itself, after a takeover). */
  writerChanged(id) {
    if (id === this.#tab.id) {
      if (this.#watching) this.#startReading(); // the handles here go on, read from this engine
      return;
    }
    if (this.#watching) this.#tab.tell({ t: 'mirrors?', from: this.#tab.id });
  }

  /** This context took over: attach the recorded routes again, over connections to their servers. */
  async promoted() {
    if (!this.#connection) return;
    const routes = await recordedAttachments(this.#db._name);
    // Each server on its own: one that is down (its dial waits for it) holds no other back.
    await Promise.all(routes.map((rec) => this.#reattach(rec)));
  }

  async #reattach(rec) {
    const nc = await this.#connection(rec.server);
    if (!nc || this.#closed || !this.#db._wasm || this.#attachments.has(rec.api)) return;
    const opts = rec.domain ? { domain: rec.domain } : { external: rec.external ?? rec.api };
    await this.#db.attach(nc, { ...opts, api: rec.remoteApi });
  }

  /** Stops reading and answering; handles end. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#idle);
    this.#waiting.close();
    for (const handle of [...this.#handles.values()]) handle._end();
    this.#handles.clear();
  }
}

/**
 * A local mirror seen from this tab (writer or follower). `status()` says where it is;
 * `events()` yields a status each time it changes. (No `caughtUp()`: right after its consumer
 * is made a mirror has heard from the server with lag 0 before the first message says how many
 * are left, so "no lag" alone does not mean caught up; compare `lastSeq` with the origin's.)
 */
export class Mirror {
  #mirrors;
  #stream;
  #last;
  #ended = false;
  #events = new StatusEvents();

  constructor(mirrors, stream) {
    this.#mirrors = mirrors;
    this.#stream = stream;
    this.#last = mirrors.status(stream);
  }

  /** The local stream's name. */
  get name() {
    return this.#stream;
  }

  /**
   * `{stream, origin, api, server, online, lag, active, lastSeq, error}`: `origin` is the
   * server stream, `api` the local prefix its requests take (`$JS.<domain>.API`), `server` the
   * URL of the connection attached for it (null: none), `online` whether that connection is
   * up, `lag` how many origin messages are still to copy (as the server last said), `active`
   * milliseconds since the server was last heard (null: never), `lastSeq` the last sequence
   * stored here, `error` the mirror's error or, while its connection is down, the connection's.
   */
  status() {
    return { ...this.#last };
  }

  /** An async iterator of statuses, one each time it changes; ends when the mirror or the database goes. */
  events() {
    return this.#events.iterator();
  }

  /** Mirrors: a new status. */
  _update(s) {
    if (this.#ended || same(s, this.#last)) {
      this.#last = s;
      return;
    }
    this.#last = s;
    this.#events.push(s);
  }

  /** Mirrors: the mirror or the database went. */
  _end() {
    if (this.#ended) return;
    this.#ended = true;
    this.#mirrors._forget(this.#stream, this);
    this.#events.end();
  }
}
