// Types of the `contrail` package: a local JetStream engine shaped like @nats-io/jetstream.
export { connect, RemoteConnection, ConnectionOptions, Msg, Subscription, SubscriptionOptions, MsgPublishOptions, RequestOptions, Status } from './remote.js';

/** Milliseconds to nanoseconds (JetStream durations are nanoseconds). */
export declare function nanos(ms: number): number;
/** Nanoseconds to milliseconds. */
export declare function millis(ns: number): number;

export interface OpenOptions {
  /** IndexedDB database name: streams persist there (browsers). Omit for an in-memory engine. */
  name?: string;
  /** Force an in-memory engine even when `name` is given. */
  memory?: boolean;
  /**
   * Share the database with other tabs and workers of this origin (default true): one of them
   * owns the engine, the others go through it. `false` for a single-tab app: `open` then fails
   * if the database is open elsewhere.
   */
  shared?: boolean;
  /** Milliseconds a request through another tab waits for its answer (default 5000). */
  timeout?: number;
}

/** Opens an engine: persisted to IndexedDB when `name` is given, in memory otherwise. */
export declare function open(opts?: OpenOptions): Promise<Contrail>;
/** Deletes a persisted engine's IndexedDB database. */
export declare function deleteDatabase(name: string): Promise<void>;

/** A local JetStream engine. */
export declare class Contrail {
  /** True when streams are persisted to IndexedDB. */
  readonly persistent: boolean;
  /** What opening could not restore (unreadable consumer records, left in place). */
  readonly warnings: string[];
  readonly closed: boolean;
  /** `writer` when this context owns the engine, `follower` while another tab or worker does. */
  readonly role: "writer" | "follower";
  jetstream(): JetStreamClient;
  jetstreamManager(): Promise<JetStreamManager>;
  /** Asks the browser to keep this site's data under storage pressure (`navigator.storage.persist()`); false where unavailable. */
  persist(): Promise<boolean>;
  /** This site's storage usage and quota as the browser estimates them; null fields where unavailable (Node). */
  storage(): Promise<StorageEstimate>;
  /** Waits for pending commits, stops timers, closes the database. */
  close(): Promise<void>;
}

// ---- errors ----

export declare class ContrailError extends Error {}
/**
 * A JetStream API error, as in @nats-io/jetstream v3: `code` is the JetStream error code
 * (`err_code` in the API JSON, e.g. 10059), `status` the HTTP-like one (e.g. 404).
 */
export declare class JetStreamApiError extends ContrailError {
  /** The JetStream error code, e.g. 10059 stream not found, 10071 wrong last sequence. */
  readonly code: number;
  /** Alias of `code`. */
  readonly err_code: number;
  /** The HTTP-like status: 400, 404, 503... */
  readonly status: number;
  readonly description: string;
  /** The error as the API sent it. */
  apiError(): ApiError;
}
/** The stream does not exist (10059). */
export declare class StreamNotFoundError extends JetStreamApiError {}
/** The consumer does not exist (10014). */
export declare class ConsumerNotFoundError extends JetStreamApiError {}
/** No stream captures the subject, or no such consumer for a pull. */
export declare class NoRespondersError extends ContrailError {
  readonly code: 503;
  readonly subject: string;
}
export declare class ClosedError extends ContrailError {}
/** The writer tab went away before answering: the request may or may not have taken effect. */
export declare class WriterLostError extends ContrailError {
  readonly subject: string;
}
/** No writer tab answered within `timeout`: the request may or may not have taken effect. */
export declare class TimeoutError extends ContrailError {
  readonly subject: string;
}
/**
 * The browser refused a commit: this site's storage quota is used up (`cause` is the browser's
 * QuotaExceededError). Nothing of that commit was confirmed.
 */
export declare class StorageFullError extends ContrailError {}

/** `navigator.storage.estimate()` and `persisted()`; null where the Storage API is missing. */
export interface StorageEstimate {
  /** Bytes this site uses (all its storage, not only Contrail's). */
  usage: number | null;
  /** Bytes this site may use. */
  quota: number | null;
  /** Whether the browser keeps this site's data under storage pressure. */
  persisted: boolean | null;
}

/** `$JS.API.INFO` as nats-server sends it (`memory`/`storage`: bytes in streams), plus the browser's storage. */
export interface AccountInfo {
  memory: number;
  storage: number;
  streams: number;
  consumers: number;
  limits: Record<string, unknown>;
  browser_storage: StorageEstimate;
  [key: string]: unknown;
}

export interface ApiError {
  code: number;
  err_code: number;
  description: string;
}

// ---- headers ----

export declare class MsgHdrs implements Iterable<[string, string[]]> {
  /** Status code of a status message (0 when none). */
  code: number;
  description: string;
  get(name: string): string;
  has(name: string): boolean;
  set(name: string, value: string | number): void;
  append(name: string, value: string | number): void;
  delete(name: string): void;
  values(name: string): string[];
  keys(): string[];
  readonly size: number;
  [Symbol.iterator](): Iterator<[string, string[]]>;
  encode(): Uint8Array;
  static decode(bytes: Uint8Array): MsgHdrs;
}
export declare function headers(): MsgHdrs;

export type Payload = string | Uint8Array | ArrayBuffer | ArrayBufferView;

// ---- configs and infos (JSON as nats-server sends it; durations in nanoseconds) ----

export type RetentionPolicy = "limits" | "interest" | "workqueue";
export type DiscardPolicy = "old" | "new";
export type StorageType = "file" | "memory";
export type DeliverPolicy = "all" | "last" | "new" | "by_start_sequence" | "by_start_time" | "last_per_subject";
export type AckPolicy = "none" | "all" | "explicit";
export type ReplayPolicy = "instant" | "original";

export interface StreamConfig {
  name: string;
  subjects?: string[];
  description?: string;
  retention?: RetentionPolicy;
  max_consumers?: number;
  max_msgs?: number;
  max_bytes?: number;
  max_age?: number;
  max_msgs_per_subject?: number;
  max_msg_size?: number;
  discard?: DiscardPolicy;
  discard_new_per_subject?: boolean;
  storage?: StorageType;
  num_replicas?: number;
  duplicate_window?: number;
  allow_rollup_hdrs?: boolean;
  deny_delete?: boolean;
  deny_purge?: boolean;
  allow_direct?: boolean;
  first_seq?: number;
  metadata?: Record<string, string>;
  [key: string]: unknown;
}

export interface StreamState {
  messages: number;
  bytes: number;
  first_seq: number;
  first_ts: string;
  last_seq: number;
  last_ts: string;
  num_deleted?: number;
  deleted?: number[];
  num_subjects?: number;
  subjects?: Record<string, number>;
  consumer_count: number;
}

export interface StreamInfo {
  config: StreamConfig;
  created: string;
  state: StreamState;
  ts?: string;
  [key: string]: unknown;
}

export interface ConsumerConfig {
  name?: string;
  durable_name?: string;
  description?: string;
  deliver_policy?: DeliverPolicy;
  opt_start_seq?: number;
  opt_start_time?: string;
  ack_policy?: AckPolicy;
  ack_wait?: number;
  max_deliver?: number;
  backoff?: number[];
  filter_subject?: string;
  filter_subjects?: string[];
  replay_policy?: ReplayPolicy;
  max_waiting?: number;
  max_ack_pending?: number;
  inactive_threshold?: number;
  headers_only?: boolean;
  max_batch?: number;
  max_expires?: number;
  metadata?: Record<string, string>;
  [key: string]: unknown;
}

export interface SequenceInfo {
  consumer_seq: number;
  stream_seq: number;
  last_active?: string;
}

export interface ConsumerInfo {
  stream_name: string;
  name: string;
  created: string;
  config: ConsumerConfig;
  delivered: SequenceInfo;
  ack_floor: SequenceInfo;
  num_ack_pending: number;
  num_redelivered: number;
  num_waiting: number;
  num_pending: number;
  ts?: string;
  [key: string]: unknown;
}

export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
  domain?: string;
}

export interface PurgeOpts {
  filter?: string;
  seq?: number;
  keep?: number;
}

export interface PurgeResponse {
  success: boolean;
  purged: number;
}

export interface MsgRequest {
  seq?: number;
  last_by_subj?: string;
  next_by_subj?: string;
}

export declare class StoredMsg {
  readonly subject: string;
  readonly seq: number;
  readonly time: Date;
  readonly data: Uint8Array;
  readonly header: MsgHdrs;
  json<T = unknown>(): T;
  string(): string;
}

// ---- manager ----

export declare class JetStreamManager {
  readonly streams: StreamAPI;
  readonly consumers: ConsumerAPI;
  getAccountInfo(): Promise<AccountInfo>;
  jetstream(): JetStreamClient;
}

export interface StreamAPI {
  add(cfg: StreamConfig): Promise<StreamInfo>;
  info(name: string, opts?: { subjects_filter?: string; deleted_details?: boolean }): Promise<StreamInfo>;
  /** Merges `cfg` into the current config and updates. */
  update(name: string, cfg?: Partial<StreamConfig>): Promise<StreamInfo>;
  delete(name: string): Promise<boolean>;
  purge(name: string, opts?: PurgeOpts): Promise<PurgeResponse>;
  list(subject?: string): AsyncIterable<StreamInfo>;
  names(subject?: string): AsyncIterable<string>;
  getMessage(name: string, query: MsgRequest): Promise<StoredMsg>;
  deleteMessage(name: string, seq: number, erase?: boolean): Promise<boolean>;
  get(name: string): Promise<{
    name: string;
    info(opts?: { subjects_filter?: string }): Promise<StreamInfo>;
    getMessage(query: MsgRequest): Promise<StoredMsg>;
    deleteMessage(seq: number, erase?: boolean): Promise<boolean>;
  }>;
}

export interface ConsumerAPI {
  add(stream: string, cfg?: ConsumerConfig): Promise<ConsumerInfo>;
  update(stream: string, name: string, cfg?: Partial<ConsumerConfig>): Promise<ConsumerInfo>;
  info(stream: string, name: string): Promise<ConsumerInfo>;
  delete(stream: string, name: string): Promise<boolean>;
  list(stream: string): AsyncIterable<ConsumerInfo>;
  names(stream: string): AsyncIterable<string>;
}

// ---- client ----

export interface PublishOptions {
  /** `Nats-Msg-Id`: publishes with the same id inside the duplicate window are stored once. */
  msgID?: string;
  expect?: {
    streamName?: string;
    lastSequence?: number;
    lastSubjectSequence?: number;
    lastMsgID?: string;
  };
  headers?: MsgHdrs;
}

export declare class JetStreamClient {
  readonly consumers: { get(stream: string, name: string): Promise<PullConsumer> };
  /** Resolves once the message is durable (one strict IndexedDB commit shared with other publishes). */
  publish(subject: string, data?: Payload, opts?: PublishOptions): Promise<PubAck>;
  jetstreamManager(): Promise<JetStreamManager>;
}

export interface FetchOptions {
  /** Messages wanted (default 100). */
  max_messages?: number;
  /** How long the pull request waits, in ms (default 30000). */
  expires?: number;
  max_bytes?: number;
  /** Heartbeat interval in ms. */
  idle_heartbeat?: number;
}

export declare class PullConsumer {
  readonly stream: string;
  readonly name: string;
  info(cached?: boolean): Promise<ConsumerInfo>;
  fetch(opts?: FetchOptions): Promise<ConsumerMessages>;
  next(opts?: { expires?: number }): Promise<JsMsg | null>;
  consume(opts?: FetchOptions): Promise<ConsumerMessages>;
}

export declare class ConsumerMessages implements AsyncIterable<JsMsg> {
  getProcessed(): number;
  stop(): void;
  close(): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterator<JsMsg>;
}

export interface DeliveryInfo {
  stream: string;
  consumer: string;
  /** Times delivered (1 on the first delivery). */
  redeliveryCount: number;
  streamSequence: number;
  deliverySequence: number;
  timestampNanos: number;
  pending: number;
  redelivered: boolean;
}

export declare class JsMsg {
  readonly subject: string;
  readonly reply: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
  readonly info: DeliveryInfo;
  readonly seq: number;
  readonly redelivered: boolean;
  json<T = unknown>(): T;
  string(): string;
  ack(): void;
  /** Redeliver, after `delay` ms when given. */
  nak(delay?: number): void;
  working(): void;
  term(reason?: string): void;
  /** Acks and resolves once the ack is durable. */
  ackAck(): Promise<boolean>;
}
