// Stream and consumer administration, as @nats-io/jetstream v3's JetStreamManager: `jsm.streams`,
// `jsm.consumers`, `jsm.direct`, listers that page with `next()`, the stream handle of
// `streams.get()`, and nats.js's client-side checks (names, mutually exclusive options) so a bad
// call fails the same way before anything is sent.
import { ConsumerApiAction } from './enums.js';
import {
  InvalidArgumentError,
  InvalidNameError,
  InvalidOperationError,
  JetStreamApiCodes,
  JetStreamApiError,
  StreamNotFoundError,
} from './errors.js';
import { DirectMsg, StoredMsg } from './msg.js';
import { Consumers } from './consumer.js';

const API = '$JS.API.';
/** Where nats-server (and the contrail engine) publish JetStream advisories. */
const ADVISORIES = '$JS.EVENT.ADVISORY.>';

// ---- names and options -----------------------------------------------------------------------------

/**
 * nats.js's minimal name check (the nats CLI's): a `context` name is required and has none of
 * `.`, `*`, `>`, `/`, `\`, space, tab, CR or LF. Throws `InvalidNameError` with nats.js's wording.
 */
export function minValidation(context, name = '') {
  if (name === '' || name === undefined || name === null) {
    throw new InvalidNameError(`${context} name required`);
  }
  for (const bad of ['.', '*', '>', '/', '\\', ' ', '\t', '\n', '\r']) {
    if (String(name).includes(bad)) {
      const shown = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }[bad] ?? bad;
      throw new InvalidNameError(`${context} name ('${name}') cannot contain '${shown}'`);
    }
  }
}

/** A stream name as nats.js checks it (`validateStreamName`). */
export function validateStreamName(name) {
  minValidation('stream', name);
}

/**
 * `jetstream()`/`jetstreamManager()` options as nats.js normalises them: `domain` becomes the
 * `apiPrefix` `$JS.<domain>.API`, `timeout` defaults to 5000 ms.
 */
export function jsOptions(opts = {}) {
  const o = { apiPrefix: '$JS.API', timeout: 5000, ...opts };
  if (o.domain) {
    o.apiPrefix = `$JS.${o.domain}.API`;
    delete o.domain;
  }
  if (!o.apiPrefix) throw InvalidArgumentError.format('prefix', 'cannot be empty');
  if (o.apiPrefix.endsWith('.')) o.apiPrefix = o.apiPrefix.slice(0, -1);
  return o;
}

function strip(r) {
  delete r.type;
  return r;
}

/** A StreamInfo with the flags nats.js always sets (false when the server left them out). */
function fixInfo(si) {
  if (si?.config) {
    for (const flag of ['sealed', 'deny_delete', 'deny_purge', 'allow_rollup_hdrs']) si.config[flag] ||= false;
  }
  return si;
}

// ---- listers ---------------------------------------------------------------------------------------

/**
 * A paged API listing (v3's `Lister`): `next()` resolves to the next page (an empty array once
 * everything was listed), and `for await` walks every item.
 */
export class Lister {
  #c;
  #suffix;
  #body;
  #field;
  #offset = 0;
  #total = Infinity;
  #err = null;
  #map;
  constructor(c, suffix, body, field, map = (item) => item) {
    this.#c = c;
    this.#suffix = suffix;
    this.#body = body;
    this.#field = field;
    this.#map = map;
  }
  /** The next page of items; `[]` when there are no more. */
  async next() {
    if (this.#err || this.#offset >= this.#total) return [];
    try {
      const r = await this.#c._api(this.#suffix, { ...this.#body, offset: this.#offset });
      this.#total = r.total ?? 0;
      const items = r[this.#field] ?? [];
      if (items.length === 0) {
        this.#total = this.#offset;
        return [];
      }
      this.#offset += items.length;
      return items.map(this.#map);
    } catch (e) {
      this.#err = e;
      throw e;
    }
  }
  async *[Symbol.asyncIterator]() {
    for (let page = await this.next(); page.length > 0; page = await this.next()) yield* page;
  }
}

// ---- the manager -----------------------------------------------------------------------------------

/** Stream and consumer administration, like @nats-io/jetstream's JetStreamManager. */
export class JetStreamManager {
  #opts;
  constructor(c, opts = {}) {
    this._c = c;
    this.#opts = jsOptions(opts);
    this.streams = new StreamAPI(c, this.#opts);
    this.consumers = new ConsumerAPI(c);
    this.direct = new DirectStreamAPI(c);
  }
  /**
   * `$JS.API.INFO`: account usage and limits, plus `browser_storage` (see `Contrail.storage()`;
   * not `storage`, which JetStream already uses for the bytes its streams hold).
   */
  async getAccountInfo() {
    const [info, browser_storage] = await Promise.all([this._c._api('INFO'), this._c.storage()]);
    return { ...strip(info), browser_storage };
  }
  /** The options this manager was made with, normalised (`apiPrefix`, `timeout`). */
  getOptions() {
    return { ...this.#opts };
  }
  /** Advisories are not published by the engine (see the README). */
  advisories() {
    const sub = this._c._subscribe(ADVISORIES);
    const messages = sub[Symbol.asyncIterator]();
    return {
      async next() {
        for (;;) {
          const r = await messages.next();
          if (r.done) return r;
          let data;
          try {
            data = r.value.json();
          } catch {
            continue; // not JSON: not an advisory
          }
          const kind = String(data?.type ?? '').split('.').pop();
          return { value: { kind, data }, done: false };
        }
      },
      return: () => messages.return(),
      /** Ends the subscription (nats.js's QueuedIterator `stop()`). */
      stop: () => sub.unsubscribe(),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
  /** The JetStream client over the same engine, with the same options. */
  jetstream() {
    return this._c.jetstream(this.#opts);
  }
}

/** `jsm.streams`. */
export class StreamAPI {
  #c;
  #opts;
  constructor(c, opts = jsOptions()) {
    this.#c = c;
    this.#opts = opts;
  }
  async add(cfg = {}) {
    validateStreamName(cfg.name);
    return fixInfo(strip(await this.#c._api(`STREAM.CREATE.${cfg.name}`, cfg)));
  }
  /** StreamInfo; with `subjects_filter` every page of the subjects is fetched and merged. */
  async info(name, opts) {
    validateStreamName(name);
    const si = strip(await this.#c._api(`STREAM.INFO.${name}`, opts));
    let have = si.state?.subjects ? Object.keys(si.state.subjects).length : 1;
    for (let page = 1; si.total && si.total > have && page < 100_000; page++) {
      const r = await this.#c._api(`STREAM.INFO.${name}`, { ...opts, offset: si.limit * page });
      const more = Object.keys(r.state?.subjects ?? {}).length;
      Object.assign(si.state.subjects, r.state?.subjects);
      have += more;
      if (more < si.limit) break;
    }
    if (si.total !== undefined) si.offset = si.total = si.limit = 0;
    return fixInfo(si);
  }
  /**
   * One page of a stream's subjects with their counts (contrail's own: nats.js's `info` with
   * `subjects_filter` reads every page). A StreamInfo whose `state.subjects` holds the page
   * starting at `opts.offset` (default 0) of the subjects matching `opts.subjects_filter`
   * (default `>`), with the `total`, `offset` and `limit` the server paged them by.
   */
  async infoPage(name, opts = {}) {
    validateStreamName(name);
    const offset = opts.offset ?? 0;
    const body = { ...opts, subjects_filter: opts.subjects_filter || '>', offset };
    const si = strip(await this.#c._api(`STREAM.INFO.${name}`, body));
    const page = Object.keys(si.state?.subjects ?? {}).length;
    si.total ??= page;
    si.offset ??= offset;
    si.limit ??= page;
    return fixInfo(si);
  }
  /** Changes the fields in `cfg`, keeping the rest of the current config. */
  async update(name, cfg = {}) {
    validateStreamName(name);
    const current = await this.info(name);
    return fixInfo(strip(await this.#c._api(`STREAM.UPDATE.${name}`, { ...current.config, ...cfg, name })));
  }
  async delete(name) {
    validateStreamName(name);
    return (await this.#c._api(`STREAM.DELETE.${name}`)).success === true;
  }
  async purge(name, opts) {
    if (opts && typeof opts.keep === 'number' && typeof opts.seq === 'number') {
      throw InvalidArgumentError.format(['keep', 'seq'], 'are mutually exclusive');
    }
    validateStreamName(name);
    const r = await this.#c._api(`STREAM.PURGE.${name}`, opts);
    return { success: r.success === true, purged: r.purged ?? 0 };
  }
  /** Every StreamInfo (of streams capturing `subject`, when given), paged. */
  list(subject = '') {
    return new Lister(this.#c, 'STREAM.LIST', subject ? { subject } : {}, 'streams', fixInfo);
  }
  /** Every stream name (of streams capturing `subject`, when given), paged. */
  names(subject = '') {
    return new Lister(this.#c, 'STREAM.NAMES', subject ? { subject } : {}, 'streams');
  }
  /** The name of the one stream capturing `subject`; `StreamNotFoundError` when none does. */
  async find(subject) {
    const r = await this.#c._api('STREAM.NAMES', { subject });
    if (!r.streams || r.streams.length !== 1) throw StreamNotFoundError.fromMessage('no stream matches subject');
    return r.streams[0];
  }
  /** One stored message by `{seq}`, `{last_by_subj}` or `{next_by_subj, seq}`; null when none. */
  async getMessage(name, query) {
    validateStreamName(name);
    try {
      return new StoredMsg((await this.#c._api(`STREAM.MSG.GET.${name}`, query)).message);
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound) return null;
      throw e;
    }
  }
  /** Removes message `seq`; with `erase` (the default) its bytes are overwritten too. */
  async deleteMessage(name, seq, erase = true) {
    validateStreamName(name);
    const body = erase ? { seq } : { seq, no_erase: true };
    return (await this.#c._api(`STREAM.MSG.DELETE.${name}`, body)).success === true;
  }
  /** The stream as an object (info, consumers, message reads); fails when it does not exist. */
  async get(name) {
    return new Stream(this, new Consumers(this.#c, this.#opts), await this.info(name));
  }
}

/** A stream handle (`streams.get()`), as v3's `Stream`. */
export class Stream {
  #api;
  #consumers;
  #info;
  constructor(api, consumers, info) {
    this.#api = api;
    this.#consumers = consumers;
    this.#info = info;
  }
  get name() {
    return this.#info.config.name;
  }
  /** StreamInfo: the one this handle last saw when `cached`, else fresh. */
  async info(cached = false, opts) {
    if (!cached) this.#info = await this.#api.info(this.name, opts);
    return this.#info;
  }
  /** Mirrors of this stream elsewhere: none, one engine has no cluster. */
  async alternates() {
    return (await this.info()).alternates ?? [];
  }
  /** The best copy to read from: this one. */
  async best() {
    await this.info();
    return this;
  }
  /** A pull consumer of this stream; with no name (or ordered options) an ordered consumer. */
  getConsumer(name) {
    return this.#consumers.get(this.name, name);
  }
  /** A push consumer of this stream (named; ordered push consumers are not provided). */
  getPushConsumer(name) {
    return this.#consumers.getPushConsumer(this.name, name);
  }
  getMessage(query) {
    return this.#api.getMessage(this.name, query);
  }
  deleteMessage(seq, erase = true) {
    return this.#api.deleteMessage(this.name, seq, erase);
  }
  /** Consumer reset is not in the engine (see the README). */
  resetConsumer() {
    return Promise.reject(new InvalidOperationError('consumer reset is not supported by the contrail engine'));
  }
}

/** `jsm.consumers`. */
export class ConsumerAPI {
  #c;
  constructor(c) {
    this.#c = c;
  }

  /**
   * Creates a consumer; fails with 10148 "consumer already exists" when one of that name exists
   * with a different config. `opts.action` "update" updates only; as in nats.js an empty action
   * means "create" (`addOrUpdate` creates or updates).
   */
  add(stream, cfg = {}, opts = {}) {
    const action = (typeof opts === 'string' ? opts : opts.action) || ConsumerApiAction.Create;
    return this.#addUpdate(stream, cfg, action, typeof opts === 'object' && opts.pedantic === true);
  }

  /** Creates or updates (not in v3's API; `add(stream, cfg, { action: '' })` does the same). */
  addOrUpdate(stream, cfg = {}) {
    return this.#addUpdate(stream, cfg, ConsumerApiAction.CreateOrUpdate, false);
  }

  /** Changes the fields in `cfg` of an existing consumer, keeping the rest of its config. */
  async update(stream, name, cfg = {}) {
    const current = await this.info(stream, name);
    return this.#addUpdate(stream, { ...current.config, ...cfg }, ConsumerApiAction.Update, false);
  }

  /**
   * The request nats.js sends: `CONSUMER.CREATE.<stream>.<name>[.<filter>]` with `name` (else
   * `durable_name`) in the subject, so a `name`/`durable_name` mismatch is the API's to refuse
   * (10017); `CONSUMER.DURABLE.CREATE` or an unnamed create with several filter subjects.
   */
  async #addUpdate(stream, cfg, action, pedantic) {
    validateStreamName(stream);
    if (cfg.deliver_group && cfg.flow_control) {
      throw InvalidArgumentError.format(['flow_control', 'deliver_group'], 'are mutually exclusive');
    }
    if (cfg.deliver_group && cfg.idle_heartbeat) {
      throw InvalidArgumentError.format(['idle_heartbeat', 'deliver_group'], 'are mutually exclusive');
    }
    if (cfg.durable_name) minValidation('durable', cfg.durable_name);
    const name = cfg.name === '' ? undefined : cfg.name;
    if (name) {
      try {
        minValidation('name', name);
      } catch (e) {
        const at = e.message.indexOf('cannot contain');
        throw at < 0 ? e : new InvalidNameError(`consumer 'name' ${e.message.slice(at)}`);
      }
    }
    const body = { stream_name: stream, config: cfg, action };
    if (pedantic) body.pedantic = true;
    let subject;
    const consumerName = Array.isArray(cfg.filter_subjects) ? '' : (cfg.name ?? cfg.durable_name ?? '');
    if (consumerName) {
      const filter = cfg.filter_subject && cfg.filter_subject !== '>' ? `.${cfg.filter_subject}` : '';
      subject = `CONSUMER.CREATE.${stream}.${consumerName}${filter}`;
    } else {
      subject = cfg.durable_name ? `CONSUMER.DURABLE.CREATE.${stream}.${cfg.durable_name}` : `CONSUMER.CREATE.${stream}`;
    }
    return strip(await this.#c._api(subject, body));
  }

  async info(stream, name) {
    validateStreamName(stream);
    minValidation('durable', name);
    return strip(await this.#c._api(`CONSUMER.INFO.${stream}.${name}`));
  }
  async delete(stream, name) {
    validateStreamName(stream);
    minValidation('durable', name);
    return (await this.#c._api(`CONSUMER.DELETE.${stream}.${name}`)).success === true;
  }
  /** Every ConsumerInfo of `stream`, paged. */
  list(stream) {
    validateStreamName(stream);
    return new Lister(this.#c, `CONSUMER.LIST.${stream}`, {}, 'consumers');
  }
  /** Every consumer name of `stream`, paged (not in v3's API; the `$JS.API` request exists). */
  names(stream) {
    validateStreamName(stream);
    return new Lister(this.#c, `CONSUMER.NAMES.${stream}`, {}, 'consumers');
  }
  /** Pausing is not in the engine (see the README). */
  pause() {
    return Promise.reject(new InvalidOperationError('consumer pause is not supported by the contrail engine'));
  }
  /** Pausing is not in the engine (see the README). */
  resume() {
    return Promise.reject(new InvalidOperationError('consumer pause is not supported by the contrail engine'));
  }
  /** Priority groups are not in the engine (see the README). */
  unpin() {
    return Promise.reject(new InvalidOperationError('priority groups are not supported by the contrail engine'));
  }
  /** Consumer reset is not in the engine (see the README). */
  reset() {
    return Promise.reject(new InvalidOperationError('consumer reset is not supported by the contrail engine'));
  }
}

/**
 * `jsm.direct`: direct gets (`$JS.API.DIRECT.GET`, streams with `allow_direct: true`). One
 * message at a time: the engine has no batched direct get.
 */
export class DirectStreamAPI {
  #c;
  constructor(c) {
    this.#c = c;
  }
  /** One message by `{seq}`, `{last_by_subj}` or `{next_by_subj, seq}`; null when none. */
  async getMessage(stream, query) {
    validateStreamName(stream);
    if (query && (query.batch || query.max_bytes || query.multi_last)) {
      throw new InvalidOperationError('batched direct gets are not supported by the contrail engine');
    }
    const m = await this.#c._request(`${API}DIRECT.GET.${stream}`, JSON.stringify(query ?? {}));
    const msg = new DirectMsg(m);
    if (msg.header.code === 404) return null;
    if (msg.header.code >= 400) {
      throw new JetStreamApiError({ code: msg.header.code, err_code: 0, description: msg.header.description });
    }
    return msg;
  }
  /** Batched direct gets are not in the engine (see the README). */
  getBatch() {
    return Promise.reject(new InvalidOperationError('batched direct gets are not supported by the contrail engine'));
  }
  /** Batched direct gets are not in the engine (see the README). */
  getLastMessagesFor() {
    return Promise.reject(new InvalidOperationError('batched direct gets are not supported by the contrail engine'));
  }
}
