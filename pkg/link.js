// A server connection attached to this database's engine, the link both halves of sync speak
// through: uploads (sync.js) publish over it, and local mirrors and sources (the "down" half)
// reach their origin's JetStream API over it. The engine does the work (src/core/engine/
// sourcing_host.rs: the mirror's consumer, flow control, resuming after the last stored
// sequence); here: attach the connection and route an API prefix to it, record the route in the
// database (attached.js) for a takeover, and tell mirrors.js when the connection goes or comes.
import { ClosedError } from './errors.js';
import { forgetAttachment, recordAttachment } from './attached.js';

/** Attaches `conn` (from `connect()`) to `db`'s engine; returns its link id. */
export function attachConnection(db, conn, what) {
  const link = conn?._wasmLink?.();
  if (!link) throw new TypeError(`${what} needs a connection from connect()`);
  return db._wasm.attachLink(link);
}

/** The local API prefix `opts` names: `$JS.<domain>.API`, or `external` as given. */
function localApi(opts) {
  if (typeof opts.domain === 'string' && opts.domain && !/[\s.*>]/.test(opts.domain)) return `$JS.${opts.domain}.API`;
  if (typeof opts.external === 'string' && opts.external) return opts.external.replace(/\.+$/, '');
  throw new TypeError('attach needs {domain} (a name without dots or wildcards) or {external} (an API prefix)');
}

/**
 * Starts serving a JetStream API over `conn` (see `Contrail.attach`); records the route in the
 * database (attached.js) so a tab taking over attaches it again.
 */
export async function attachApi(db, conn, opts = {}) {
  const api = localApi(opts);
  const remoteApi = (opts.api ?? '$JS.API').replace(/\.+$/, '');
  const linkId = attachConnection(db, conn, 'attach');
  db._wasm.routeApi(api, linkId, remoteApi);
  db._kick();
  const attachment = new Attachment(db, api, remoteApi, conn);
  db._mirrors?._attached(attachment);
  const rec = { api, remoteApi, server: conn.getServer() };
  if (typeof opts.domain === 'string' && opts.domain) rec.domain = opts.domain;
  else rec.external = api;
  // Not recorded (the database went meanwhile): the route works, only a takeover would not redo it.
  await recordAttachment(db._name, rec).catch(() => {});
  return attachment;
}

/**
 * A JetStream API served over a connection: local mirrors and sources that name it (by
 * `domain` or `external.api`) follow their server stream while the connection is up.
 */
export class Attachment {
  #db;
  #api;
  #remoteApi;
  #conn;
  #status;
  /** The connection's last trouble while it is down (null once it is back). */
  #lastError = null;
  #detached = false;

  constructor(db, api, remoteApi, conn) {
    this.#db = db;
    this.#api = api;
    this.#remoteApi = remoteApi;
    this.#conn = conn;
    this.#watch();
  }

  /** The local API prefix (what mirrors name), e.g. `$JS.hub.API`. */
  get api() {
    return this.#api;
  }

  /** The server's prefix it is served on, e.g. `$JS.API`. */
  get remoteApi() {
    return this.#remoteApi;
  }

  /**
   * Stops serving the API over the connection: the mirrors that name it stop following (they
   * keep what they stored and go on after it when attached again). The connection stays open.
   * The route's record goes too: a tab taking over does not attach it again.
   */
  detach() {
    if (this.#detached) return;
    this.#detached = true;
    this.#status?.return();
    const engine = this.#db._wasm;
    if (!engine) throw new ClosedError();
    engine.routeApi(this.#api, undefined, undefined);
    this.#db._kick();
    this.#db._mirrors?._detached(this);
    forgetAttachment(this.#db._name, this.#api).catch(() => {});
  }

  /** Mirrors.js: the connection's URL, whether it is up, and its last trouble while down. */
  _connection() {
    const conn = this.#conn;
    return { server: conn.getServer(), online: !conn.isClosed() && conn.state === 'connected', lastError: this.#lastError };
  }

  /** Follows the connection's status events: mirrors.js reads its state again at each. */
  async #watch() {
    this.#status = this.#conn.status();
    for await (const ev of this.#status) {
      if (ev.type === 'disconnect') this.#lastError = `disconnected from ${ev.server}: ${ev.error}`;
      else if (ev.type === 'reconnecting') this.#lastError = `cannot reach ${ev.server}: ${ev.error}`;
      else if (ev.type === 'error') this.#lastError = ev.error?.message ?? String(ev.error);
      else if (ev.type === 'reconnect') this.#lastError = null;
      else continue;
      this.#db._mirrors?._connectionChanged();
    }
    if (this.#conn.isClosed() && !this.#detached) {
      this.#lastError = 'the connection was closed';
      this.#db._mirrors?._connectionChanged();
    }
  }
}
