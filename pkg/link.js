// A server connection attached to this database's engine, the link both halves of sync speak
// through: uploads (sync.js) publish over it, and local mirrors and sources (the "down" half)
// reach their origin's JetStream API over it. The engine does the work (src/core/engine/
// sourcing_host.rs: the mirror's consumer, flow control, resuming after the last stored
// sequence); here: attach the connection and route an API prefix to it.
import { ClosedError } from './errors.js';

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

/** Starts serving a JetStream API over `conn` (see `Contrail.attach`). */
export function attachApi(db, conn, opts = {}) {
  const api = localApi(opts);
  const remoteApi = (opts.api ?? '$JS.API').replace(/\.+$/, '');
  const linkId = attachConnection(db, conn, 'attach');
  db._wasm.routeApi(api, linkId, remoteApi);
  db._kick();
  return new Attachment(db, api, remoteApi);
}

/**
 * A JetStream API served over a connection: local mirrors and sources that name it (by
 * `domain` or `external.api`) follow their server stream while the connection is up.
 */
export class Attachment {
  #db;
  #api;
  #remoteApi;
  #detached = false;

  constructor(db, api, remoteApi) {
    this.#db = db;
    this.#api = api;
    this.#remoteApi = remoteApi;
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
   */
  detach() {
    if (this.#detached) return;
    this.#detached = true;
    const engine = this.#db._wasm;
    if (!engine) throw new ClosedError();
    engine.routeApi(this.#api, undefined, undefined);
    this.#db._kick();
  }
}
