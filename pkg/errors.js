// The errors this package throws, named and shaped as in @nats-io/jetstream v3 and
// @nats-io/nats-core v3 (`JetStreamApiError` with `code`/`status`/`apiError()`,
// `JetStreamStatusError`, `InvalidArgumentError`, `InvalidNameError`, ...), so `instanceof`
// checks written for nats.js keep working. Every class also extends `ContrailError`, this
// package's own base, so one `instanceof` catches everything it throws.

/** Base class of every error this package throws. */
export class ContrailError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ContrailError';
  }
}

/** JetStream codes (`err_code`) nats.js names: `JetStreamApiCodes.StreamNotFound` is 10059. */
export const JetStreamApiCodes = Object.freeze({
  ConsumerNotFound: 10014,
  StreamNotFound: 10059,
  JetStreamNotEnabledForAccount: 10039,
  StreamWrongLastSequence: 10071,
  StreamWrongLastSequenceUnknown: 10164,
  NoMessageFound: 10037,
});

/** A JetStream client error that is not an API error (v3's `JetStreamError`). */
export class JetStreamError extends ContrailError {
  constructor(message, options) {
    super(message, options);
    this.name = 'JetStreamError';
  }
}

/**
 * A status message ended a pull (`409 Consumer Deleted`, `400 Bad Request`, `409 Exceeded
 * MaxWaiting`...): `code` is the status code, the message its description in lower case.
 */
export class JetStreamStatusError extends JetStreamError {
  constructor(message, code, options) {
    super(message, options);
    this.name = 'JetStreamStatusError';
    this.code = code;
  }
}

/**
 * A JetStream API error, shaped like @nats-io/jetstream v3's: `code` is the JetStream error code
 * (`err_code` in the API JSON, e.g. 10059) and `status` the HTTP-like one (e.g. 404). `err_code`
 * is kept as an alias of `code`, `apiError()` returns the JSON as sent.
 */
export class JetStreamApiError extends ContrailError {
  #api;
  constructor(api, options) {
    super(api.description ?? 'JetStream API error', options);
    this.#api = { code: api.code, err_code: api.err_code, description: api.description };
    this.name = 'JetStreamApiError';
  }
  /** The JetStream error code (`err_code`), e.g. 10059 stream not found. */
  get code() {
    return this.#api.err_code;
  }
  /** Alias of `code`, the field's name in the API JSON. */
  get err_code() {
    return this.#api.err_code;
  }
  /** The HTTP-like status (`code` in the API JSON), e.g. 404. */
  get status() {
    return this.#api.code;
  }
  /** The error's description. */
  get description() {
    return this.#api.description;
  }
  /** The error as the API sent it. */
  apiError() {
    return { ...this.#api };
  }
  /** The most specific class for an API error. */
  static from(api) {
    if (api.err_code === JetStreamApiCodes.StreamNotFound) return new StreamNotFoundError(api);
    if (api.err_code === JetStreamApiCodes.ConsumerNotFound) return new ConsumerNotFoundError(api);
    return new JetStreamApiError(api);
  }
}

/** The stream does not exist (err_code 10059). */
export class StreamNotFoundError extends JetStreamApiError {
  constructor(api, options) {
    super(api, options);
    this.name = 'StreamNotFoundError';
  }
  /** A stream-not-found error raised by the client itself (`streams.find` with no match). */
  static fromMessage(message) {
    return new StreamNotFoundError({ code: 404, err_code: JetStreamApiCodes.StreamNotFound, description: message });
  }
}

/** The consumer does not exist (err_code 10014). */
export class ConsumerNotFoundError extends JetStreamApiError {
  constructor(api, options) {
    super(api, options);
    this.name = 'ConsumerNotFoundError';
  }
}

/** True when `err` is the API's "no message found" (10037). */
export function isMessageNotFound(err) {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound;
}

/** An argument the client refuses before sending anything (nats-core's `InvalidArgumentError`). */
export class InvalidArgumentError extends ContrailError {
  constructor(message, options) {
    super(message, options);
    this.name = 'InvalidArgumentError';
  }
  /** `'prop' message`, or `'a','b' message` for several properties, as nats-core words it. */
  static format(property, message, options) {
    const props = Array.isArray(property) ? property.map((p) => `'${p}'`).join(',') : `'${property}'`;
    return new InvalidArgumentError(`${props} ${message}`, options);
  }
}

/** A stream or consumer name with a character JetStream forbids (`.`, `*`, `>`, whitespace...). */
export class InvalidNameError extends ContrailError {
  constructor(message = '', options) {
    super(message, options);
    this.name = 'InvalidNameError';
  }
}

/** An operation not allowed in the object's state (a second consume on an ordered consumer...). */
export class InvalidOperationError extends ContrailError {
  constructor(message, options) {
    super(message, options);
    this.name = 'InvalidOperationError';
  }
}

/**
 * nats.js's error for a JetStream request nobody answered (it cannot tell "JetStream is off"
 * from "no stream captures the subject"). This package throws its subclass `NoRespondersError`.
 */
export class JetStreamNotEnabled extends ContrailError {
  constructor(message, options) {
    super(message, options);
    this.name = 'JetStreamNotEnabled';
  }
}

/**
 * Nothing took a request: no stream captures the subject, no such consumer, or a consumer that
 * takes no acks. A `JetStreamNotEnabled`, which is what nats.js throws for a publish nobody takes.
 */
export class NoRespondersError extends JetStreamNotEnabled {
  constructor(subject, options) {
    super(`no responders: '${subject}'`, options);
    this.name = 'NoRespondersError';
    this.code = 503;
    this.subject = subject;
  }
}

/**
 * The browser refused a commit because this site's storage quota is used up. Nothing of that
 * commit was confirmed; free space (delete or purge streams) or ask for more (`persist()`).
 * Chromium refuses every commit that writes anything while the site is over its quota, and
 * gives the space of deleted records back only when it compacts its storage, not at once: a
 * stream delete commits even then (it only deletes), a purge may not (it rewrites a small
 * state record), and publishing may fail for a while after either.
 */
export class StorageFullError extends ContrailError {
  constructor(cause) {
    super(
      'storage full: the browser refused the write (QuotaExceededError); nothing of it was ' +
        'confirmed. Free space by deleting or purging streams (the browser reclaims it when it ' +
        'compacts its storage, not at once), or ask for persistent storage.',
      { cause },
    );
    this.name = 'StorageFullError';
  }
}

/** True when `e` (or its cause) is the browser's quota error (an Error or DOMException). */
export function isQuotaError(e) {
  for (let i = 0; e && i < 4; i++, e = e.cause) if (e.name === 'QuotaExceededError') return true;
  return false;
}

/** The engine was closed (nats-core's `ClosedConnectionError` plays this part). */
export class ClosedError extends ContrailError {
  constructor() {
    super('engine closed');
    this.name = 'ClosedError';
  }
}

/**
 * The remote connection is draining (nats-core's `DrainingConnectionError`): `subscribe()` and
 * `request()` throw it from the moment `drain()` is called, `publish()` once the subscriptions
 * have drained, and a second `drain()` rejects with it.
 */
export class DrainingConnectionError extends ContrailError {
  constructor(options) {
    super('connection draining', options);
    this.name = 'DrainingConnectionError';
  }
}

/** A request sent to the writer tab, which went away before answering: it may or may not have taken effect. */
export class WriterLostError extends ContrailError {
  constructor(subject) {
    super(`the writer tab went away before answering ${subject}; the request may or may not have taken effect`);
    this.name = 'WriterLostError';
    this.subject = subject;
  }
}

/**
 * No answer within a timeout: a request through the writer tab (`open({timeout})`), an
 * `ackAck({timeout})` or a publish with `{timeout}`. The request may or may not have taken effect.
 */
export class TimeoutError extends ContrailError {
  constructor(subject, ms) {
    super(`timeout: no answer to ${subject} within ${ms} ms; the request may or may not have taken effect`);
    this.name = 'TimeoutError';
    this.subject = subject;
  }
}

/** nats.js's `jserrors` namespace: the JetStream error classes by name. */
export const jserrors = Object.freeze({
  JetStreamNotEnabled,
  InvalidNameError,
  ConsumerNotFoundError,
  StreamNotFoundError,
  JetStreamError,
  JetStreamApiError,
});

/** nats-core's `errors` namespace, for the classes this package raises. */
export const errors = Object.freeze({
  ClosedConnectionError: ClosedError,
  DrainingConnectionError,
  InvalidArgumentError,
  InvalidOperationError,
  NoRespondersError,
  TimeoutError,
});
