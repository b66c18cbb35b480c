// Offline-first sync, the "up" half: a local stream uploaded to a server stream exactly once.
// Everything that matters happens in the engine's core (src/core/sync/upload.rs, hosted by the
// engine in src/core/engine/uploads.rs): message ids, the window of publishes, the cursor that
// moves only on PubAcks (the ack floor of a durable consumer named like the upload, so it is
// committed with the database), retries with backoff, and the upload's record (stream, server
// URL, remote stream, paused) in that consumer's metadata, so a database opened again runs its
// uploads, waiting for a connection to their server. Here: attach connections to the engine as
// links, start or bind uploads, and watch their status after every flush.
import { ClosedError, ContrailError, JetStreamApiError } from './errors.js';
import { attachConnection } from './link.js';
import { serverUrl } from './remote.js';
import { StatusEvents } from './statuses.js';

/** A random origin id: 128 bits from the platform's cryptographic generator, hex. */
function randomOrigin() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The status JSON from the engine, with camelCase names. */
export function readStatus(json) {
  const s = JSON.parse(json);
  return {
    name: s.name,
    stream: s.stream,
    to: s.remote_stream,
    server: s.server ?? null,
    origin: s.origin,
    cursor: s.cursor,
    pending: s.pending,
    inFlight: s.in_flight,
    online: s.online,
    paused: s.paused,
    acknowledged: s.acknowledged,
    duplicates: s.duplicates,
    reconnects: s.reconnects ?? 0,
    lastError: s.last_error ?? null,
    retryAt: s.retry_at === undefined ? null : new Date(s.retry_at / 1e6),
  };
}

/** Whether two statuses say the same (what `events()` reports a change of). */
export const same = (a, b) =>
  a.cursor === b.cursor &&
  a.pending === b.pending &&
  a.inFlight === b.inFlight &&
  a.online === b.online &&
  a.paused === b.paused &&
  a.reconnects === b.reconnects &&
  a.lastError === b.lastError;

/** An engine reply that may be `{error}`: throws it. */
function checked(json) {
  const reply = JSON.parse(json);
  if (reply && !Array.isArray(reply) && reply.error) throw JetStreamApiError.from(reply.error);
  return reply;
}

/**
 * Where an upload goes: a connection from `connect()` (its link id and URL), or a server URL
 * alone (recorded; the upload starts once `uploads(conn)` gives a connection to it).
 */
function target(db, connOrUrl) {
  if (typeof connOrUrl === 'string') return { linkId: undefined, server: serverUrl(connOrUrl) };
  const linkId = attachConnection(db, connOrUrl, 'sync');
  return { linkId, server: connOrUrl.getServer() };
}

/** Starts (or records) an upload (see `Contrail.sync`). */
export function startSync(db, connOrUrl, opts = {}) {
  if (!opts.stream || !opts.to) throw new TypeError('sync needs {stream, to}');
  const engine = db._wasm;
  const { linkId, server } = target(db, connOrUrl);
  const name = opts.name ?? `upload_${opts.to}`;
  checked(
    engine.startUpload(
      name,
      opts.stream,
      opts.to,
      linkId,
      server,
      opts.subjectPrefix ?? undefined,
      opts.window ?? undefined,
      opts.ackTimeout ?? undefined,
      randomOrigin(),
      Date.now(),
    ),
  );
  db._kick(); // commits the record (the consumer) and sends
  return db._upload(name);
}

/**
 * The uploads this database runs (recorded ones restored when it opened included); with
 * `conn`, those recorded for its server go on over it first (see `Contrail.uploads`).
 */
export async function listUploads(db, conn) {
  const engine = db._wasm;
  if (conn !== undefined && conn !== null) {
    const linkId = attachConnection(db, conn, 'uploads');
    checked(engine.bindUploads(conn.getServer(), linkId, Date.now()));
    await db._kick(); // the engine hears the link is up: the statuses say online
  }
  return JSON.parse(engine.uploadNames()).map((name) => db._upload(name));
}

/**
 * A running upload. `status()` says where it is; `events()` yields a status each time it
 * changes; `caughtUp()` resolves once everything stored so far is on the server.
 */
export class Upload {
  #db;
  #name;
  #last;
  #stopped = false;
  #unwatch;
  #events = new StatusEvents();
  #waiters = [];

  constructor(db, name) {
    this.#db = db;
    this.#name = name;
    this.#last = this.#read();
    this.#unwatch = db._watchFlush((closed) => (closed ? this.#end(closed) : this.#check()));
  }

  /** The upload's name (its consumer's on the local stream). */
  get name() {
    return this.#name;
  }

  /**
   * `{stream, to, server, origin, cursor, pending, inFlight, online, paused, acknowledged,
   * duplicates, reconnects, lastError, retryAt}`: `cursor` is the highest local sequence at and
   * below which everything is on the server; `pending` counts the local messages after it;
   * `reconnects` counts the times its connection came back since it was given.
   */
  status() {
    if (!this.#stopped) this.#last = this.#read();
    return { ...this.#last };
  }

  /** Stops sending new messages (those already sent are still acknowledged). */
  pause() {
    this.#control(true);
  }

  /** Sends again (also ends a backoff after an error at once). */
  resume() {
    this.#control(false);
  }

  /**
   * Stops the upload in this page; its cursor and record stay (in its consumer): `sync()`
   * again resumes there, and so does the database opened again (see `forget()`).
   */
  stop() {
    if (this.#stopped) return;
    if (this.#db._wasm) this.#db._wasm.stopUpload(this.#name);
    else this.#db._sharedUploads?.control(this.#name, 'stop').catch(() => {});
    this.#end(new ClosedError());
  }

  /**
   * Stops the upload and deletes its record and cursor (its consumer) for good: the database
   * opened again does not run it, and `sync()` again starts from the stream's first message
   * under a new origin id. Resolves once that is committed.
   */
  async forget() {
    const engine = this.#db._wasm;
    if (!engine) {
      if (this.#db.closed || !this.#db._sharedUploads) throw new ClosedError();
      await this.#db._sharedUploads.control(this.#name, 'forget'); // a follower: the writer does it
      return this.#end(new ClosedError());
    }
    checked(engine.forgetUpload(this.#name, Date.now()));
    this.#end(new ClosedError());
    await this.#db._kick();
  }

  /** Resolves when nothing stored locally is left to upload (rejects if the upload stops). */
  caughtUp() {
    if (this.#stopped) return Promise.reject(new ClosedError());
    if (this.status().pending === 0) return Promise.resolve(this.status());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** An async iterator of statuses, one each time it changes. */
  events() {
    return this.#events.iterator();
  }

  /** The status from the engine, or in a follower tab the writer's last word (tabuploads.js). */
  #read() {
    const engine = this.#db._wasm;
    const json = engine?.uploadStatus(this.#name);
    const status = engine ? json !== undefined && readStatus(json) : this.#db._sharedUploads?.status(this.#name);
    if (!status) throw new ContrailError(`upload ${this.#name} is not running`);
    return status;
  }

  #control(paused) {
    if (this.#stopped) throw new ClosedError();
    if (!this.#db._wasm) {
      // A follower: the writer pauses or resumes; the statuses it posts next say so.
      this.#db._sharedUploads?.control(this.#name, paused ? 'pause' : 'resume').catch(() => {});
      return;
    }
    this.#db._wasm.pauseUpload(this.#name, paused);
    this.#db._kick();
  }

  /** After a flush: tell watchers what changed. */
  #check() {
    if (this.#stopped) return;
    let now;
    try {
      now = this.#read();
    } catch (e) {
      return this.#end(e);
    }
    if (same(now, this.#last)) return;
    this.#last = now;
    this.#events.push(now);
    if (now.pending === 0) {
      const waiters = this.#waiters.splice(0);
      for (const w of waiters) w.resolve({ ...now });
    }
  }

  #end(err) {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#db._forgetUpload(this.#name, this);
    this.#unwatch?.();
    this.#events.end();
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}
