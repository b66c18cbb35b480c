// Uploads seen and steered from every tab sharing a database, and carried on by a new writer.
//
// The engine, and so every upload, lives in the writer tab (tabs.js). Followers still list the
// uploads and follow their status: the writer posts a snapshot of every upload's status on the
// tab channel whenever one changes (once a follower has asked for them), and a follower's
// `pause`, `resume`, `stop` and `forget` travel to the writer, which does them on its engine and
// answers. The snapshot feeds the same `Upload` handles a writer gets (sync.js): their status,
// events and caughtUp() work in either role, and keep working through a takeover (the handle
// then reads the new engine).
//
// Takeover. The tab that takes over reopens the engine, which restores the recorded uploads
// (waiting for a connection). Then, unless the app opted out (`open({connect: false})`), it dials
// the server of every recorded upload that is not paused, with the app's `connect(server)` from
// open(), or `connect({servers, waitOnFirstConnect, maxReconnectAttempts: -1})` (no credentials:
// the package keeps none), and hands the connection to the uploads: each goes on after its
// cursor, the ack floor committed with the database, so nothing is sent twice or skipped. The
// same connection serves the routes attach() recorded for that server (mirrors.js).
//
// Messages on the tab channel (next to tabs.js's own):
//   {t:'uploads?', from}                  a follower asks for the statuses;
//   {t:'uploads', from, list}             the writer: every upload's status (sync.js's shape);
//   {t:'upctl', from, n, name, op}        a follower's pause/resume/stop/forget, to the writer;
//   {t:'upctl-done', to, n, error}        the writer did it (error: {name, message} or null).
import { ClosedError, ContrailError, TimeoutError } from './errors.js';
import { dial } from './remote.js';
import { WriterStatuses } from './statuses.js';
import { readStatus, same } from './sync.js';

/** The channel messages this module handles (tabs.js hands them over). */
export const UPLOAD_MESSAGES = new Set(['uploads?', 'uploads', 'upctl', 'upctl-done']);

/**
 * How a new writer dials a recorded upload's server when the app gave no `connect`: as long as
 * it takes. `dialling` gets the connection before it is up, so closing the database ends it.
 */
async function defaultDial(server, dialling) {
  const nc = await dial({ servers: server, waitOnFirstConnect: true, maxReconnectAttempts: -1 });
  dialling.add(nc);
  try {
    await nc._ready;
    return nc;
  } finally {
    dialling.delete(nc);
  }
}

/** The upload side of one context's membership in a shared database. */
export class SharedUploads {
  #db;
  #tab;
  #dial;
  #timeout;
  /** Follower: the writer's last snapshot (name -> status); null before the first. */
  #seen = null;
  /** Follower: waiting for a snapshot. */
  #waiting = new WriterStatuses();
  /** Follower: asked once, so every new writer is asked again. */
  #watching = false;
  /** Writer: some follower asked; changes are posted from now on. */
  #wanted = false;
  /** Writer: what was last posted. */
  #posted = new Map();
  #n = 0;
  /** Follower: controls awaiting their answer (n -> {msg, resolve, reject, timer}). */
  #controls = new Map();
  /** Connections this context dialled after a takeover (closed with the database). */
  #dialled = [];
  /** server -> the connection dialled for it (a promise; null when it failed). */
  #connections = new Map();
  /** The default dial's connections still waiting for their server (closed with the database). */
  #dialling = new Set();
  #closed = false;

  /** `dial(server)` resolves to a connection, or is false (no dialling after a takeover). */
  constructor(db, tab, { dial, timeout }) {
    this.#db = db;
    this.#tab = tab;
    this.#dial = dial === false ? null : (dial ?? ((server) => defaultDial(server, this.#dialling)));
    this.#timeout = timeout;
    db._watchFlush((closed) => (closed ? this.close() : this.#changed()));
  }

  /** Follower: upload `name`'s status as the writer last told, or undefined. */
  status(name) {
    const s = this.#seen?.get(name);
    return s && { ...s };
  }

  /** Follower: the uploads the writer runs, asked of it now (TimeoutError when none answers). */
  async names() {
    this.#watching = true;
    const fresh = this.#waiting.wait('the uploads of the writer tab', this.#timeout);
    this.#tab.tell({ t: 'uploads?', from: this.#tab.id });
    await fresh;
    return [...this.#seen.keys()];
  }

  /** Follower: has the writer do `op` on upload `name`; resolves once it did. */
  control(name, op) {
    if (this.#closed) return Promise.reject(new ClosedError());
    return new Promise((resolve, reject) => {
      const n = ++this.#n;
      const msg = { t: 'upctl', from: this.#tab.id, n, name, op };
      const timer = setTimeout(() => {
        this.#controls.delete(n);
        reject(new TimeoutError(`the writer tab's ${op} of upload ${name}`, this.#timeout));
      }, this.#timeout);
      this.#controls.set(n, { msg, resolve, reject, timer });
      this.#tab.tell(msg);
    });
  }

  /** A channel message of this module. */
  receive(msg) {
    if (this.#closed) return;
    const writer = this.#db._wasm !== null;
    switch (msg.t) {
      case 'uploads?':
        if (!writer) break;
        this.#wanted = true;
        this.#post();
        break;
      case 'uploads':
        if (!writer && (this.#tab.writerId === null || this.#tab.writerId === msg.from)) this.#heard(msg.list);
        break;
      case 'upctl':
        if (writer) this.#serve(msg);
        break;
      case 'upctl-done':
        if (msg.to === this.#tab.id) this.#settle(msg.n, msg.error);
        break;
    }
  }

  /** Tabs.js: this context follows writer `id` now (maybe itself, after a takeover). */
  writerChanged(id) {
    if (id === this.#tab.id) {
      this.#seen = null;
      for (const [n, c] of this.#controls) {
        this.#perform(c.msg.name, c.msg.op).then(
          () => this.#settle(n, null),
          (e) => this.#settle(n, { name: e?.name ?? 'ContrailError', message: String(e?.message ?? e) }),
        );
      }
      return;
    }
    if (this.#watching) this.#tab.tell({ t: 'uploads?', from: this.#tab.id });
    for (const c of this.#controls.values()) this.#tab.tell(c.msg); // the old writer may not have done them
  }

  /** This context took over: dial the servers of the recorded uploads that should run. */
  async promoted() {
    if (!this.#dial) return;
    const uploads = await this.#db.uploads();
    const servers = new Set();
    for (const up of uploads) {
      const s = up.status();
      if (s.server && !s.paused && !s.online) servers.add(s.server);
    }
    // Each server on its own: one that is down (its dial waits for it) holds no other back.
    await Promise.all([...servers].map((server) => this.#carryOn(server)));
  }

  /** Dials `server` and hands the connection to the uploads recorded for it. */
  async #carryOn(server) {
    const nc = await this.connection(server);
    if (nc && !this.#closed) await this.#db.uploads(nc);
  }

  /**
   * The connection this context dials for `server` after a takeover: one per server, shared by
   * its uploads and the routes attach() recorded (mirrors.js); closed with the database. Null
   * when dialling is off, the app's connect() failed (what needs it waits, as after open()), or
   * the database closed meanwhile.
   */
  connection(server) {
    if (!this.#dial || this.#closed) return Promise.resolve(null);
    let nc = this.#connections.get(server);
    if (!nc) this.#connections.set(server, (nc = this.#dialOnce(server)));
    return nc;
  }

  async #dialOnce(server) {
    let nc;
    try {
      nc = await this.#dial(server);
    } catch {
      this.#connections.delete(server); // the next takeover here tries again
      return null;
    }
    if (this.#closed) {
      await nc.close();
      return null;
    }
    this.#dialled.push(nc);
    return nc;
  }

  /** Stops answering; closes the connections a takeover dialled. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiting.close();
    for (const c of this.#controls.values()) {
      clearTimeout(c.timer);
      c.reject(new ClosedError());
    }
    this.#controls.clear();
    for (const nc of this.#dialled.splice(0)) nc.close().catch(() => {});
    // A server never reached: its connection stops trying (its dial rejects, nothing waits on it).
    for (const nc of this.#dialling) nc.close().catch(() => {});
    this.#dialling.clear();
  }

  // ---- writer ------------------------------------------------------------------------------------

  /** Every running upload's status, read from the engine. */
  #snapshot() {
    const engine = this.#db._wasm;
    const list = [];
    for (const name of JSON.parse(engine.uploadNames())) {
      const json = engine.uploadStatus(name);
      if (json !== undefined) list.push(readStatus(json));
    }
    return list;
  }

  /** After a flush: post the statuses if a follower listens and one changed. */
  #changed() {
    if (!this.#wanted || this.#db._wasm === null || this.#db.closed) return;
    const list = this.#snapshot();
    const changed = list.length !== this.#posted.size || list.some((s) => !this.#posted.has(s.name) || !same(s, this.#posted.get(s.name)));
    if (changed) this.#post(list);
  }

  #post(list = this.#snapshot()) {
    this.#posted = new Map(list.map((s) => [s.name, s]));
    this.#tab.tell({ t: 'uploads', from: this.#tab.id, list });
  }

  /** A follower's control: done on the engine, then answered. */
  #serve({ from, n, name, op }) {
    this.#perform(name, op).then(
      () => this.#tab.tell({ t: 'upctl-done', to: from, n, error: null }),
      (e) => this.#tab.tell({ t: 'upctl-done', to: from, n, error: { name: e?.name ?? 'ContrailError', message: String(e?.message ?? e) } }),
    );
  }

  /** Does `op` on upload `name` here (the writer); the next flush posts the new statuses. */
  async #perform(name, op) {
    const engine = this.#db._wasm;
    if (engine === null) throw new ContrailError('this tab no longer holds the database');
    let ran;
    if (op === 'pause' || op === 'resume') ran = engine.pauseUpload(name, op === 'pause');
    else if (op === 'stop') ran = engine.stopUpload(name);
    else if (op === 'forget') {
      const reply = JSON.parse(engine.forgetUpload(name, Date.now()));
      if (reply.error) throw new ContrailError(reply.error.description ?? `forgetting upload ${name} failed`);
      ran = reply.forgot;
    } else throw new ContrailError(`unknown upload control ${op}`);
    await this.#db._kick();
    if (!ran) throw new ContrailError(`upload ${name} is not running`);
  }

  // ---- follower ----------------------------------------------------------------------------------

  /** The writer's statuses: keep them, wake whoever waits, tell the handles. */
  #heard(list) {
    this.#seen = new Map(list.map((s) => [s.name, s]));
    this.#waiting.heard();
    this.#db._uploadsChanged();
  }

  #settle(n, error) {
    const c = this.#controls.get(n);
    if (!c) return;
    this.#controls.delete(n);
    clearTimeout(c.timer);
    if (!error) return c.resolve();
    const err = new ContrailError(error.message);
    err.name = error.name;
    c.reject(err);
  }
}
