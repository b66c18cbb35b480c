// Types of the `contrail` package: a local JetStream engine shaped like @nats-io/jetstream v3.
// Names and shapes follow v3's own .d.ts (jetstream/lib/types.d.ts, jsapi_types.d.ts); what this
// package adds (open, storage, tabs) or leaves out is marked.
export { connect, RemoteConnection, ConnectionOptions, Msg, Subscription, SubscriptionOptions, MsgPublishOptions, RequestOptions, Status } from './remote.js';
import type { RemoteConnection, Subscription, SubscriptionOptions } from './remote.js';

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
  /**
   * How this context dials a recorded upload's or attachment's server when it takes the
   * database over from a writer tab that closed or died: the uploads recorded for that server
   * (not paused) then go on over the connection, after their cursor, and the routes `attach()`
   * recorded for it are attached again over it (local mirrors go on). Default: `connect({servers: server,
   * waitOnFirstConnect: true, maxReconnectAttempts: -1})`, which carries no credentials; give
   * your own to add them. `false`: never dial (call `uploads(conn)` yourself once `role` is
   * `writer`, and `attach()` again). Added by this package.
   */
  connect?: ((server: string) => Promise<RemoteConnection>) | false;
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
  /** The JetStream client (`jetstream(nc, opts)` in nats.js). */
  jetstream(opts?: JetStreamOptions): JetStreamClient;
  /** The JetStream manager (`jetstreamManager(nc, opts)` in nats.js). */
  jetstreamManager(opts?: JetStreamManagerOptions): Promise<JetStreamManager>;
  /** Asks the browser to keep this site's data under storage pressure (`navigator.storage.persist()`); false where unavailable. */
  persist(): Promise<boolean>;
  /** This site's storage usage and quota as the browser estimates them; null fields where unavailable (Node). */
  storage(): Promise<StorageEstimate>;
  /**
   * Uploads local stream `opts.stream` to stream `opts.to` on the server `conn` exactly once,
   * offline first (see the README's "Sync"). The upload is recorded in the database: opened
   * again, `uploads()` lists it and `uploads(conn)` resumes it. `conn` may be the server's URL
   * alone: the upload is recorded while offline and starts once `uploads(conn)` gives a
   * connection to that server. Only in the tab that holds the database (a follower throws
   * ContrailError; it sees and steers the upload through `uploads()`).
   */
  sync(conn: RemoteConnection | string, opts: SyncOptions): Promise<Upload>;
  /**
   * The uploads this database runs, those recorded before it was opened included (waiting for
   * a connection). With `conn`, every upload recorded for its server (`conn.getServer()`) goes
   * on over it, after its cursor. In a follower tab (without `conn`), the writer's uploads: their
   * statuses come from the writer over the tab channel and pause/resume/stop/forget go to it;
   * rejects with TimeoutError when no writer answers within `timeout`. `conn` only in the writer.
   */
  uploads(conn?: RemoteConnection): Promise<Upload[]>;
  /**
   * Serves the JetStream API `opts.domain` (or `opts.external`) over the server `conn`: local
   * mirrors and sources naming it follow their server stream (see the README's "Sync"). The
   * route (server URL, domain or external prefix; no credentials) is recorded in the database:
   * a tab taking the database over attaches it again. Only in the tab that holds the database.
   */
  attach(conn: RemoteConnection, opts: AttachOptions): Promise<Attachment>;
  /**
   * The local mirrors (streams with a `mirror`), with their status: lag, last contact, last
   * stored sequence, error, and their connection. In a follower tab the writer's, posted over the
   * tab channel (rejects with TimeoutError when no writer answers within `timeout`); the handles
   * keep working when this tab takes over. Added by this package.
   */
  mirrors(): Promise<Mirror[]>;
  /**
   * Subscribes to what the engine publishes by itself: JetStream advisories on
   * `$JS.EVENT.ADVISORY.…` (wildcards allowed; any other subject throws ContrailError), as
   * nats-server publishes them. Shaped like nats.js's `nc.subscribe()`. Added by this package.
   */
  subscribe(subject: string, opts?: SubscriptionOptions): Subscription;
  /** Waits for pending commits, stops timers, closes the database. */
  close(): Promise<void>;
  /** nats.js's name: the same as `close()`. */
  drain(): Promise<void>;
  /** `await using db = await open(…)`: closes it when the scope ends. */
  [Symbol.asyncDispose](): Promise<void>;
}

// ---- sync (sync.js) ----

export interface SyncOptions {
  /** The local stream to upload. */
  stream: string;
  /** The server stream that must store it (sent as `Nats-Expected-Stream`). */
  to: string;
  /** Put before each subject when published (`"up."` + `orders.new`). */
  subjectPrefix?: string;
  /** The upload's name, also its consumer's on the local stream (default `upload_<to>`). */
  name?: string;
  /** Most publishes awaiting their PubAck at once (default 1000). */
  window?: number;
  /** How long a publish waits for its PubAck, in ms (default 10000). */
  ackTimeout?: number;
}

export interface UploadStatus {
  name: string;
  stream: string;
  to: string;
  /** The server's URL it uploads to, as recorded (`conn.getServer()`, or the URL given). */
  server: string | null;
  /** This database's origin id for the stream: `Nats-Msg-Id` is `<origin>:<stream>:<seq>`. */
  origin: string;
  /** Every local sequence at or below this is stored on the server. */
  cursor: number;
  /** Local messages after the cursor. */
  pending: number;
  /** Publishes awaiting their PubAck now. */
  inFlight: number;
  /** The connection is up. */
  online: boolean;
  paused: boolean;
  /** PubAcks since the upload started, duplicates included. */
  acknowledged: number;
  /** Of those, messages the server already had. */
  duplicates: number;
  /** Times its connection came back after going down, since it was given. */
  reconnects: number;
  /** Why the last publish was refused (e.g. wrong stream, no responders), until one succeeds. */
  lastError: string | null;
  /** When it tries again after that error. */
  retryAt: Date | null;
}

/**
 * A running upload (`Contrail.sync`, `Contrail.uploads`). In a follower tab the same handle reads
 * the writer's statuses and sends its controls to the writer; it keeps working when this tab
 * takes over.
 */
export declare class Upload {
  readonly name: string;
  status(): UploadStatus;
  /** A status each time one changes. */
  events(): AsyncIterableIterator<UploadStatus>;
  /** Resolves once nothing stored locally is left to upload; rejects if the upload stops. */
  caughtUp(): Promise<UploadStatus>;
  /** Sends nothing new (publishes already out are still acknowledged). */
  pause(): void;
  /** Sends again, at once (also after an error's backoff). */
  resume(): void;
  /**
   * Stops in this page (in a follower: in the writer); the cursor and record stay in the upload's
   * consumer: `sync()` again resumes there, and so does the database opened again.
   */
  stop(): void;
  /** Stops and deletes the upload's consumer (its cursor and record) for good. */
  forget(): Promise<void>;
}

export interface AttachOptions {
  /** The domain local mirrors name (`mirror: {name, domain}`): `$JS.<domain>.API` goes over the connection. */
  domain?: string;
  /** Or the API prefix they name as `external.api` (e.g. `$JS.srv.API`). */
  external?: string;
  /** The server's prefix for that API (default `$JS.API`; `$JS.<d>.API` for a server in JetStream domain `d`). */
  api?: string;
}

/** A JetStream API served over a connection (`Contrail.attach`). */
export declare class Attachment {
  /** The local prefix mirrors name, e.g. `$JS.hub.API`. */
  readonly api: string;
  /** The server's prefix it is served on, e.g. `$JS.API`. */
  readonly remoteApi: string;
  /**
   * Stops: mirrors naming it keep what they stored and go on after it when attached again. Its
   * record goes too: a tab taking over does not attach it again.
   */
  detach(): void;
}

export interface MirrorStatus {
  /** The local stream. */
  stream: string;
  /** The server stream it mirrors. */
  origin: string;
  /** The local API prefix its requests take (`$JS.<domain>.API` or `external.api`); null for a local origin. */
  api: string | null;
  /** The URL of the connection attached for that API (`getServer()`); null when none is. */
  server: string | null;
  /** That connection is up. */
  online: boolean;
  /** Origin messages still to copy, as the server last said. */
  lag: number;
  /** Milliseconds since the server was last heard; null: never. */
  active: number | null;
  /** The last sequence stored locally. */
  lastSeq: number;
  /** The mirror's error (as its stream info has it) or, while its connection is down, the connection's. */
  error: string | null;
}

/** A local mirror (`Contrail.mirrors`): the same handle in the writer and in follower tabs. */
export declare class Mirror {
  /** The local stream's name. */
  readonly name: string;
  status(): MirrorStatus;
  /**
   * A status each time one changes (`active` alone does not count); ends when the mirror or the
   * database goes. Lag 0 right after its consumer is made precedes the first message: compare
   * `lastSeq` with the origin's to know it caught up.
   */
  events(): AsyncIterableIterator<MirrorStatus>;
}

// ---- errors (as @nats-io/jetstream and @nats-io/nats-core v3 name them) ----

/** Base class of every error this package throws. */
export declare class ContrailError extends Error {}
/** A JetStream client error that is not an API error. */
export declare class JetStreamError extends ContrailError {}
/** A status message ended a pull: `code` 409 (`consumer deleted`, `exceeded maxrequestbatch of 10`...), 400, 503. */
export declare class JetStreamStatusError extends JetStreamError {
  readonly code: number;
}
/**
 * A JetStream API error, as in @nats-io/jetstream v3: `code` is the JetStream error code
 * (`err_code` in the API JSON, e.g. 10059), `status` the HTTP-like one (e.g. 404).
 */
export declare class JetStreamApiError extends ContrailError {
  constructor(api: ApiError, options?: ErrorOptions);
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
export declare class StreamNotFoundError extends JetStreamApiError {
  static fromMessage(message: string): StreamNotFoundError;
}
/** The consumer does not exist (10014). */
export declare class ConsumerNotFoundError extends JetStreamApiError {}
/** A name JetStream refuses (empty, or with `.`, `*`, `>`, `/`, `\`, whitespace). */
export declare class InvalidNameError extends ContrailError {}
/** An argument refused before anything is sent (nats-core's name). */
export declare class InvalidArgumentError extends ContrailError {
  static format(property: string | string[], message: string, options?: ErrorOptions): InvalidArgumentError;
}
/** An operation the object's state does not allow, or one this engine does not provide. */
export declare class InvalidOperationError extends ContrailError {}
/** nats.js's error for a JetStream request nobody answered; this package throws its subclass NoRespondersError. */
export declare class JetStreamNotEnabled extends ContrailError {}
/** Nothing took a request: no stream captures the subject, no such consumer, or a consumer that takes no acks. */
export declare class NoRespondersError extends JetStreamNotEnabled {
  readonly code: 503;
  readonly subject: string;
}
/** The engine was closed (nats-core's `ClosedConnectionError`). */
export declare class ClosedError extends ContrailError {}
/**
 * The remote connection is draining (nats-core's `DrainingConnectionError`, message "connection
 * draining"): `subscribe`/`request` throw it from `drain()` on, `publish` once the subscriptions
 * drained, a second `drain()` rejects with it.
 */
export declare class DrainingConnectionError extends ContrailError {}
/** The writer tab went away before answering: the request may or may not have taken effect. */
export declare class WriterLostError extends ContrailError {
  readonly subject: string;
}
/** No answer within a timeout (another tab, `ackAck`, `publish({timeout})`): the request may or may not have taken effect. */
export declare class TimeoutError extends ContrailError {
  readonly subject: string;
}
/**
 * The browser refused a commit twice: the one that failed, and the one that replayed what was
 * beside its refused publishes (those publishes themselves get a JetStreamApiError 10023). `cause`
 * is the browser's QuotaExceededError; nothing since the last good commit was confirmed.
 */
export declare class StorageFullError extends ContrailError {}

export declare const JetStreamApiCodes: {
  readonly ConsumerNotFound: 10014;
  readonly StreamNotFound: 10059;
  readonly JetStreamNotEnabledForAccount: 10039;
  readonly StreamWrongLastSequence: 10071;
  readonly StreamWrongLastSequenceUnknown: 10164;
  readonly NoMessageFound: 10037;
};
export type JetStreamApiCodes = (typeof JetStreamApiCodes)[keyof typeof JetStreamApiCodes];
/** True for the API's "no message found" (10037). */
export declare function isMessageNotFound(err: Error): boolean;
export declare const jserrors: {
  JetStreamNotEnabled: typeof JetStreamNotEnabled;
  InvalidNameError: typeof InvalidNameError;
  ConsumerNotFoundError: typeof ConsumerNotFoundError;
  StreamNotFoundError: typeof StreamNotFoundError;
  JetStreamError: typeof JetStreamError;
  JetStreamApiError: typeof JetStreamApiError;
};
export declare const errors: {
  ClosedConnectionError: typeof ClosedError;
  DrainingConnectionError: typeof DrainingConnectionError;
  InvalidArgumentError: typeof InvalidArgumentError;
  InvalidOperationError: typeof InvalidOperationError;
  NoRespondersError: typeof NoRespondersError;
  TimeoutError: typeof TimeoutError;
};

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
export interface JetStreamAccountStats {
  memory: number;
  storage: number;
  streams: number;
  consumers: number;
  limits: Record<string, unknown>;
  browser_storage: StorageEstimate;
  [key: string]: unknown;
}
/** The name before v3. */
export type AccountInfo = JetStreamAccountStats;

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
/** JSON.parse's reviver. */
export type ReviverFn = (key: string, value: any) => any;

// ---- enums and header names (v3's constants: plain objects of the wire strings) ----

export declare const RetentionPolicy: { readonly Limits: "limits"; readonly Interest: "interest"; readonly Workqueue: "workqueue" };
export type RetentionPolicy = (typeof RetentionPolicy)[keyof typeof RetentionPolicy];
export declare const DiscardPolicy: { readonly Old: "old"; readonly New: "new" };
export type DiscardPolicy = (typeof DiscardPolicy)[keyof typeof DiscardPolicy];
export declare const StorageType: { readonly File: "file"; readonly Memory: "memory" };
export type StorageType = (typeof StorageType)[keyof typeof StorageType];
export declare const DeliverPolicy: {
  readonly All: "all";
  readonly Last: "last";
  readonly New: "new";
  readonly StartSequence: "by_start_sequence";
  readonly StartTime: "by_start_time";
  readonly LastPerSubject: "last_per_subject";
};
export type DeliverPolicy = (typeof DeliverPolicy)[keyof typeof DeliverPolicy];
export declare const AckPolicy: {
  readonly None: "none";
  readonly All: "all";
  readonly Explicit: "explicit";
  readonly FlowControl: "flow_control";
  readonly NotSet: "";
};
export type AckPolicy = (typeof AckPolicy)[keyof typeof AckPolicy];
export declare const ReplayPolicy: { readonly Instant: "instant"; readonly Original: "original" };
export type ReplayPolicy = (typeof ReplayPolicy)[keyof typeof ReplayPolicy];
export declare const StoreCompression: { readonly None: "none"; readonly S2: "s2" };
export type StoreCompression = (typeof StoreCompression)[keyof typeof StoreCompression];
export declare const PersistMode: { readonly Default: "default"; readonly Async: "async" };
export type PersistMode = (typeof PersistMode)[keyof typeof PersistMode];
export declare const ConsumerApiAction: { readonly CreateOrUpdate: ""; readonly Update: "update"; readonly Create: "create" };
export type ConsumerApiAction = (typeof ConsumerApiAction)[keyof typeof ConsumerApiAction];
export declare const PriorityPolicy: {
  readonly None: "none";
  readonly Overflow: "overflow";
  readonly PinnedClient: "pinned_client";
  readonly Prioritized: "prioritized";
};
export type PriorityPolicy = (typeof PriorityPolicy)[keyof typeof PriorityPolicy];
export declare const PubHeaders: {
  readonly MsgIdHdr: "Nats-Msg-Id";
  readonly ExpectedStreamHdr: "Nats-Expected-Stream";
  readonly ExpectedLastSeqHdr: "Nats-Expected-Last-Sequence";
  readonly ExpectedLastMsgIdHdr: "Nats-Expected-Last-Msg-Id";
  readonly ExpectedLastSubjectSequenceHdr: "Nats-Expected-Last-Subject-Sequence";
  readonly ExpectedLastSubjectSequenceSubjectHdr: "Nats-Expected-Last-Subject-Sequence-Subject";
  readonly MessageTTL: "Nats-TTL";
  readonly Schedule: "Nats-Schedule";
  readonly ScheduleTarget: "Nats-Schedule-Target";
  readonly ScheduleSource: "Nats-Schedule-Source";
  readonly ScheduleTTL: "Nats-Schedule-TTL";
  readonly ScheduleTimeZone: "Nats-Schedule-Time-Zone";
  readonly ScheduleRollup: "Nats-Schedule-Rollup";
  readonly Scheduler: "Nats-Scheduler";
  readonly ScheduleNext: "Nats-Schedule-Next";
};
export type PubHeaders = (typeof PubHeaders)[keyof typeof PubHeaders];
export declare const JsHeaders: {
  readonly StreamSourceHdr: "Nats-Stream-Source";
  readonly LastConsumerSeqHdr: "Nats-Last-Consumer";
  readonly LastStreamSeqHdr: "Nats-Last-Stream";
  readonly ConsumerStalledHdr: "Nats-Consumer-Stalled";
  readonly MessageSizeHdr: "Nats-Msg-Size";
  readonly RollupHdr: "Nats-Rollup";
  readonly RollupValueSubject: "sub";
  readonly RollupValueAll: "all";
  readonly PendingMessagesHdr: "Nats-Pending-Messages";
  readonly PendingBytesHdr: "Nats-Pending-Bytes";
  readonly RequiredApiLevel: "Nats-Required-Api-Level";
};
export type JsHeaders = (typeof JsHeaders)[keyof typeof JsHeaders];
export declare const DirectMsgHeaders: {
  readonly Stream: "Nats-Stream";
  readonly Sequence: "Nats-Sequence";
  readonly TimeStamp: "Nats-Time-Stamp";
  readonly Subject: "Nats-Subject";
  readonly LastSequence: "Nats-Last-Sequence";
  readonly NumPending: "Nats-Num-Pending";
};
export type DirectMsgHeaders = (typeof DirectMsgHeaders)[keyof typeof DirectMsgHeaders];
export declare const RepublishHeaders: {
  readonly Stream: "Nats-Stream";
  readonly Subject: "Nats-Subject";
  readonly Sequence: "Nats-Sequence";
  readonly LastSequence: "Nats-Last-Sequence";
  readonly Size: "Nats-Msg-Size";
};
export type RepublishHeaders = (typeof RepublishHeaders)[keyof typeof RepublishHeaders];
export declare const AdvisoryKind: {
  readonly API: "api_audit";
  readonly StreamAction: "stream_action";
  readonly ConsumerAction: "consumer_action";
  readonly SnapshotCreate: "snapshot_create";
  readonly SnapshotComplete: "snapshot_complete";
  readonly RestoreCreate: "restore_create";
  readonly RestoreComplete: "restore_complete";
  readonly MaxDeliver: "max_deliver";
  readonly Terminated: "terminated";
  readonly Ack: "consumer_ack";
  readonly StreamLeaderElected: "stream_leader_elected";
  readonly StreamQuorumLost: "stream_quorum_lost";
  readonly ConsumerLeaderElected: "consumer_leader_elected";
  readonly ConsumerQuorumLost: "consumer_quorum_lost";
};
export type AdvisoryKind = (typeof AdvisoryKind)[keyof typeof AdvisoryKind];

// ---- configs and infos (JSON as nats-server sends it; durations in nanoseconds) ----

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
export type StreamUpdateConfig = Omit<StreamConfig, "name">;

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

export interface StreamAlternate {
  name: string;
  domain?: string;
  cluster: string;
}

export interface StreamInfo {
  config: StreamConfig;
  created: string;
  state: StreamState;
  ts?: string;
  alternates?: StreamAlternate[];
  [key: string]: unknown;
}

/** A StreamInfo with one page of subjects (`StreamAPI.infoPage`). */
export interface StreamInfoPage extends StreamInfo {
  /** Subjects matching the filter, in all pages. */
  total: number;
  /** Index of the page's first subject. */
  offset: number;
  /** Most subjects a page holds. */
  limit: number;
}

/** One advisory from `JetStreamManager.advisories()`. */
export interface Advisory {
  kind: AdvisoryKind;
  /** The advisory's JSON (`type`, `id`, `timestamp`, `stream`, ...). */
  data: { type: string; id: string; timestamp: string; [key: string]: unknown };
}

/** The iterator `JetStreamManager.advisories()` returns. */
export interface Advisories extends AsyncIterableIterator<Advisory> {
  /** Ends the subscription. */
  stop(): void;
}

export interface StreamInfoRequestOptions {
  subjects_filter?: string;
  deleted_details?: boolean;
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
  max_bytes?: number;
  mem_storage?: boolean;
  num_replicas?: number;
  metadata?: Record<string, string>;
  [key: string]: unknown;
}
export type ConsumerUpdateConfig = Partial<ConsumerConfig>;
/** `consumers.add` options: `action` "create" (the default), "update" or "" (either). */
export interface ConsumerCreateOptions {
  action?: ConsumerApiAction;
  pedantic?: boolean;
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

export type PurgeOpts = { filter?: string; seq?: number; keep?: number };

export interface PurgeResponse {
  success: boolean;
  purged: number;
}

export interface MsgRequest {
  seq?: number;
  last_by_subj?: string;
  next_by_subj?: string;
}
/** A direct get: one message (batched direct gets are not in the engine). */
export type DirectMsgRequest = MsgRequest;

/** A message read with `getMessage`. `lastSequence`/`pending` are 0, as in nats.js. */
export declare class StoredMsg {
  readonly subject: string;
  readonly seq: number;
  /** The stream's RFC 3339 time, as sent. */
  readonly timestamp: string;
  readonly time: Date;
  readonly data: Uint8Array;
  readonly header: MsgHdrs;
  readonly lastSequence: number;
  readonly pending: number;
  json<T = unknown>(reviver?: ReviverFn): T;
  string(): string;
}
/** A message of a direct get, with where it came from. */
export declare class DirectMsg extends StoredMsg {
  readonly stream: string;
}

// ---- options ----

/**
 * `jetstream()` options. On a local engine `domain`/`apiPrefix` are accepted and reported (one engine
 * answers regardless); on a remote connection they pick the server's API (`$JS.<domain>.API`).
 */
export interface JetStreamOptions {
  apiPrefix?: string;
  /** ms: bounds `ackAck()` (default 5000). */
  timeout?: number;
  domain?: string;
  watcherPrefix?: string;
}
export type JetStreamManagerOptions = JetStreamOptions & { checkAPI?: boolean; sendRequiredApiLevel?: boolean };

// ---- listers ----

/** A paged listing: `next()` is the next page (`[]` at the end); `for await` walks every item. */
export declare class Lister<T> implements AsyncIterable<T> {
  next(): Promise<T[]>;
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

// ---- manager ----

export declare class JetStreamManager {
  readonly streams: StreamAPI;
  readonly consumers: ConsumerAPI;
  readonly direct: DirectStreamAPI;
  getAccountInfo(): Promise<JetStreamAccountStats>;
  getOptions(): JetStreamOptions;
  /**
   * JetStream advisories (`$JS.EVENT.ADVISORY.>`) as nats.js gives them: `kind` is the last part
   * of the advisory's `type`. `stop()` (or leaving a `for await`) ends the subscription.
   */
  advisories(): Advisories;
  jetstream(): JetStreamClient;
}

export declare class StreamAPI {
  add(cfg: Partial<StreamConfig> & { name: string }): Promise<StreamInfo>;
  info(name: string, opts?: Partial<StreamInfoRequestOptions>): Promise<StreamInfo>;
  /**
   * One page of the stream's subjects with their counts (added by this package: nats.js's
   * `info` with `subjects_filter` reads every page): `state.subjects` holds the page starting at
   * `opts.offset` (default 0) of the subjects matching `opts.subjects_filter` (default `>`).
   */
  infoPage(name: string, opts?: Partial<StreamInfoRequestOptions> & { offset?: number }): Promise<StreamInfoPage>;
  /** Merges `cfg` into the current config and updates. */
  update(name: string, cfg?: Partial<StreamUpdateConfig>): Promise<StreamInfo>;
  delete(name: string): Promise<boolean>;
  purge(name: string, opts?: PurgeOpts): Promise<PurgeResponse>;
  list(subject?: string): Lister<StreamInfo>;
  names(subject?: string): Lister<string>;
  /** The one stream capturing `subject`; StreamNotFoundError when none. */
  find(subject: string): Promise<string>;
  /** null when no such message. */
  getMessage(name: string, query: MsgRequest): Promise<StoredMsg | null>;
  deleteMessage(name: string, seq: number, erase?: boolean): Promise<boolean>;
  get(name: string): Promise<Stream>;
}

export declare class Stream {
  readonly name: string;
  info(cached?: boolean, opts?: Partial<StreamInfoRequestOptions>): Promise<StreamInfo>;
  alternates(): Promise<StreamAlternate[]>;
  best(): Promise<Stream>;
  getConsumer(name?: string | Partial<OrderedConsumerOptions>): Promise<Consumer>;
  /** A named push consumer of this stream (ordered push consumers: InvalidOperationError). */
  getPushConsumer(name: string): Promise<PushConsumer>;
  getMessage(query: MsgRequest): Promise<StoredMsg | null>;
  deleteMessage(seq: number, erase?: boolean): Promise<boolean>;
  /** Not provided: rejects with InvalidOperationError. */
  resetConsumer(name: string, seq?: number): Promise<never>;
}

export declare class ConsumerAPI {
  /** Creates only (10148 when one of that name differs); `opts.action: "update"` updates only ("" means create, as in nats.js). */
  add(stream: string, cfg: Partial<ConsumerConfig>, opts?: ConsumerCreateOptions): Promise<ConsumerInfo>;
  /** Create or update (not in v3: `add(stream, cfg, { action: "" })`). */
  addOrUpdate(stream: string, cfg: Partial<ConsumerConfig>): Promise<ConsumerInfo>;
  update(stream: string, durable: string, cfg: Partial<ConsumerUpdateConfig>): Promise<ConsumerInfo>;
  info(stream: string, consumer: string): Promise<ConsumerInfo>;
  delete(stream: string, consumer: string): Promise<boolean>;
  list(stream: string): Lister<ConsumerInfo>;
  /** Not in v3's API; the `$JS.API.CONSUMER.NAMES` request. */
  names(stream: string): Lister<string>;
  /** Not provided (no pause in the engine): rejects with InvalidOperationError. */
  pause(stream: string, name: string, until?: Date): Promise<never>;
  /** Not provided: rejects with InvalidOperationError. */
  resume(stream: string, name: string): Promise<never>;
  /** Not provided: rejects with InvalidOperationError. */
  unpin(stream: string, name: string, group: string): Promise<never>;
  /** Not provided: rejects with InvalidOperationError. */
  reset(stream: string, name: string, seq?: number): Promise<never>;
}

export declare class DirectStreamAPI {
  /** One message (`allow_direct` streams); null when none. */
  getMessage(stream: string, query: DirectMsgRequest): Promise<DirectMsg | null>;
  /** Not provided (no batched direct get in the engine): rejects with InvalidOperationError. */
  getBatch(stream: string, opts: unknown): Promise<never>;
  /** Not provided: rejects with InvalidOperationError. */
  getLastMessagesFor(stream: string, opts: unknown): Promise<never>;
}

/** A stream name as nats.js checks it; throws InvalidNameError. */
export declare function validateStreamName(name?: string): void;

// ---- client ----

export interface StreamExpectations {
  lastMsgID: string;
  streamName: string;
  lastSequence: number;
  lastSubjectSequence: number;
  /** With `lastSubjectSequence`: the last sequence among subjects matching this filter. */
  lastSubjectSequenceSubject: string;
}

export interface JetStreamPublishOptions {
  /** `Nats-Msg-Id`: publishes with the same id inside the duplicate window are stored once. */
  msgID: string;
  /** ms before the publish rejects with TimeoutError (it may still land). */
  timeout: number;
  headers: MsgHdrs;
  expect: Partial<StreamExpectations>;
  /** `Nats-TTL` (refused unless the stream has `allow_msg_ttl`). */
  ttl?: string;
  /** Tries while no stream captures the subject. */
  retries?: number;
}
/** The name before v3. */
export type PublishOptions = Partial<JetStreamPublishOptions>;

export declare class JetStreamClient {
  readonly apiPrefix: string;
  readonly consumers: Consumers;
  readonly streams: { get(stream: string): Promise<Stream> };
  /** Resolves once the message is durable (one strict IndexedDB commit shared with other publishes). */
  publish(subject: string, data?: Payload, opts?: Partial<JetStreamPublishOptions>): Promise<PubAck>;
  /** Not provided (no atomic batch publish in the engine): rejects with InvalidOperationError. */
  startBatch(subject: string, data?: Payload, opts?: Partial<JetStreamPublishOptions>): Promise<never>;
  getOptions(): JetStreamOptions;
  jetstreamManager(checkAPI?: boolean): Promise<JetStreamManager>;
}

export interface OrderedConsumerOptions {
  name_prefix: string;
  filter_subjects: string[] | string;
  deliver_policy: DeliverPolicy;
  opt_start_seq: number;
  opt_start_time: string;
  replay_policy: ReplayPolicy;
  /** ms */
  inactive_threshold: number;
  headers_only: boolean;
}

export declare class Consumers {
  /** A named pull consumer, or with no name / ordered options an ordered consumer. */
  get(stream: string, name?: string | Partial<OrderedConsumerOptions>): Promise<Consumer>;
  getConsumerFromInfo(ci: ConsumerInfo): Consumer;
  /** A named push consumer (ordered push consumers, with no name: InvalidOperationError). */
  getPushConsumer(stream: string, name: string): Promise<PushConsumer>;
  /** A push consumer on `deliver_subject` without an info request (no `info()`/`delete()`). */
  getBoundPushConsumer(opts: BoundPushConsumerOptions): Promise<PushConsumer>;
}

/** Options of `fetch` (and `next`): times in ms. */
export interface FetchOptions {
  /** Messages wanted (default 100); exclusive with `max_bytes`. */
  max_messages?: number;
  max_bytes?: number;
  /** How long the pull request waits, in ms (default 30000). */
  expires?: number;
  /** Heartbeat interval in ms (default expires/2, 500..30000). */
  idle_heartbeat?: number;
  /** Skip the consumer info check when pulling again. */
  bind?: boolean;
}
export type FetchMessages = FetchOptions;
export type FetchBytes = FetchOptions;
export type NextOptions = Pick<FetchOptions, "expires" | "bind">;
export type ConsumerCallbackFn = (m: JsMsg) => void | Promise<never>;
/** Options of `consume`. */
export interface ConsumeOptions extends FetchOptions {
  /** Pull more when this few messages are still owed (default 75% of max_messages). */
  threshold_messages?: number;
  /** Pull more when this few bytes are still owed (default 75% of max_bytes). */
  threshold_bytes?: number;
  /** Messages go to this function instead of the iterator. */
  callback?: ConsumerCallbackFn;
  /** End (with the error) when the consumer or stream is deleted, instead of waiting for it. */
  abort_on_missing_resource?: boolean;
}
export type ConsumeMessages = ConsumeOptions;
export type ConsumeBytes = ConsumeOptions;

export declare class PullConsumer {
  readonly stream: string;
  readonly name: string;
  /** True for an ordered consumer. */
  readonly ordered: boolean;
  isPullConsumer(): true;
  isPushConsumer(): false;
  info(cached?: boolean): Promise<ConsumerInfo>;
  delete(): Promise<boolean>;
  fetch(opts?: FetchOptions): Promise<ConsumerMessages>;
  next(opts?: NextOptions): Promise<JsMsg | null>;
  consume(opts?: ConsumeOptions): Promise<ConsumerMessages>;
}
/** v3's name for a pull consumer. */
export type Consumer = PullConsumer;
export declare function isPullConsumer(c: Consumer | PushConsumer): c is Consumer;
export declare function isPushConsumer(c: Consumer | PushConsumer): c is PushConsumer;

export interface BoundPushConsumerOptions {
  deliver_subject: string;
  deliver_group?: string;
  /** ns */
  idle_heartbeat?: number;
  callback?: ConsumerCallbackFn;
}
export interface PushConsumerOptions {
  callback?: ConsumerCallbackFn;
  /** End (with the error) when the consumer is deleted. */
  abort_on_missing_resource?: boolean;
}
/** A consumer with a `deliver_subject`: the engine pushes to it while `consume()` runs. */
export declare class PushConsumer {
  readonly stream: string;
  readonly name: string;
  isPullConsumer(): false;
  isPushConsumer(): true;
  info(cached?: boolean): Promise<ConsumerInfo>;
  delete(): Promise<boolean>;
  consume(opts?: PushConsumerOptions): Promise<ConsumerMessages>;
}

export type ConsumerNotification =
  | { type: "heartbeats_missed"; count: number }
  | { type: "consumer_not_found"; name: string; stream: string; count: number }
  | { type: "stream_not_found"; name: string; consumerCreateFails?: number }
  | { type: "consumer_deleted"; code: number; description: string }
  | { type: "ordered_consumer_recreated"; name: string }
  | { type: "exceeded_limits"; code: number; description: string }
  | { type: "debug"; code: number; description: string }
  | { type: "discard"; messagesLeft: number; bytesLeft: number }
  | { type: "reset"; name: string }
  | { type: "next"; options: { batch: number; expires: number; max_bytes?: number; idle_heartbeat?: number } }
  | { type: "heartbeat"; lastConsumerSequence: number; lastStreamSequence: number }
  | { type: "flow_control" }
  | { type: "no_responders"; code: number };

export declare class ConsumerMessages implements AsyncIterable<JsMsg> {
  readonly done: boolean;
  /** Messages handed out. */
  getProcessed(): number;
  /** Messages received from the consumer. */
  getReceived(): number;
  /** Messages received and not yet handed out. */
  getPending(): number;
  /** Notifications until it ends. */
  status(): AsyncIterable<ConsumerNotification>;
  /** Resolves when it ended: to undefined, or to the error that ended it. */
  closed(): Promise<void | Error>;
  stop(err?: Error): void;
  close(): Promise<void | Error>;
  [Symbol.asyncIterator](): AsyncIterator<JsMsg>;
}

export interface DeliveryInfo {
  domain: string;
  account_hash?: string;
  stream: string;
  consumer: string;
  /** Times delivered (1 on the first delivery). */
  deliveryCount: number;
  /** v2's name of `deliveryCount`. */
  redeliveryCount: number;
  streamSequence: number;
  deliverySequence: number;
  timestampNanos: number;
  pending: number;
  redelivered: boolean;
}
/** The delivery info of an ack subject (`$JS.ACK....`); throws on any other subject. */
export declare function parseInfo(subject: string): DeliveryInfo;

export declare class JsMsg {
  readonly subject: string;
  readonly reply: string;
  readonly sid: number;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
  readonly info: DeliveryInfo;
  readonly seq: number;
  readonly redelivered: boolean;
  /** When the stream stored it (millisecond Date). */
  readonly time: Date;
  /** `time` as an ISO string. */
  readonly timestamp: string;
  /** When the stream stored it, in nanoseconds, exactly. */
  readonly timestampNanos: bigint;
  json<T = unknown>(reviver?: ReviverFn): T;
  string(): string;
  ack(): void;
  /** Redeliver, after `millis` ms when given. */
  nak(millis?: number): void;
  working(): void;
  term(reason?: string): void;
  /** Acks and resolves to true once the ack is durable; rejects with NoRespondersError on an ack-none consumer, TimeoutError after `timeout`. */
  ackAck(opts?: Partial<{ timeout: number }>): Promise<boolean>;
}

/** `jetstream(nc, opts)` as in nats.js: the client over engine `nc`. */
export declare function jetstream(nc: Contrail, opts?: JetStreamOptions): JetStreamClient;
/** `jetstreamManager(nc, opts)` as in nats.js. */
export declare function jetstreamManager(nc: Contrail, opts?: JetStreamManagerOptions): Promise<JetStreamManager>;

// ---- Key-Value buckets (as @nats-io/kv v3 names them) ----

/** The stream name prefix of a bucket (`KV_`). */
export declare const kvPrefix: "KV_";
/** The header that marks a delete (`DEL`) or purge (`PURGE`). */
export declare const kvOperationHdr: "KV-Operation";
/** What a watch starts with. */
export declare const KvWatchInclude: {
  /** The last value of each key (the default). */
  readonly LastValue: "";
  /** Every revision kept. */
  readonly AllHistory: "history";
  /** Nothing: only changes from now on. */
  readonly UpdatesOnly: "updates";
};
export type KvWatchInclude = (typeof KvWatchInclude)[keyof typeof KvWatchInclude];

/** Transforms each key token (wildcards excepted) before it is stored and after it is read. */
export interface KvKeyCodec {
  encode(k: string): string;
  decode(k: string): string;
}
/** Transforms values before they are stored and after they are read. */
export interface KvPayloadCodec {
  encode(v: Payload): Uint8Array;
  decode(d: Uint8Array): Uint8Array;
}
export interface KvCodecs {
  key: KvKeyCodec;
  value: KvPayloadCodec;
}
export declare function Base64KeyCodec(): KvKeyCodec;
export declare function NoopKvCodecs(): KvCodecs;
/** Throws when `k` is not a valid key (`[-/=.\w]`, no leading or trailing `.`). */
export declare function validateKey(k: string): void;
/** Throws when `name` is not a valid bucket name (`[-\w]`). */
export declare function validateBucket(name: string): void;

export interface KvLimits {
  description: string;
  /** Accepted and stored; one engine keeps one copy. */
  replicas: number;
  /** Revisions kept per key, 1 to 64 (default 1). */
  history: number;
  max_bytes: number;
  maxValueSize: number;
  /** How long a value lives, in milliseconds (the stream's `max_age`). */
  ttl: number;
  /** Delete markers' TTL in milliseconds (stream `subject_delete_marker_ttl`, `allow_msg_ttl`). */
  markerTTL: number;
  storage: StorageType;
  placement: { cluster: string; tags: string[] };
  republish: { src: string; dest: string; headers_only?: boolean };
  compression: boolean;
}
export interface KvOptions extends KvLimits {
  timeout: number;
  streamName: string;
  codec: KvCodecs;
  /** Open without asking whether the bucket exists. */
  bindOnly: boolean;
  /** Read with direct gets (default: when the bucket allows them). */
  allow_direct: boolean;
  metadata: Record<string, string>;
}
export declare function defaultBucketOpts(): Partial<KvOptions>;

export declare class KvStatus {
  readonly bucket: string;
  /** Messages the bucket holds (every revision and marker kept). */
  readonly values: number;
  readonly history: number;
  readonly ttl: number;
  readonly markerTTL: number;
  readonly bucket_location: string;
  readonly backingStore: StorageType;
  readonly storage: StorageType;
  readonly replicas: number;
  readonly description: string;
  readonly maxBucketSize: number;
  readonly maxValueSize: number;
  readonly max_bytes: number;
  readonly placement: { cluster: string; tags: string[] };
  readonly placementCluster: string;
  readonly republish: { src: string; dest: string };
  readonly streamInfo: StreamInfo;
  readonly size: number;
  readonly metadata: Record<string, string>;
  readonly compression: boolean;
}

export declare class KvEntry {
  readonly bucket: string;
  readonly key: string;
  readonly rawKey: string;
  readonly value: Uint8Array;
  readonly created: Date;
  readonly revision: number;
  /** Entries after this one when a watch or history delivered it; 0 from `get`. */
  readonly delta: number;
  readonly operation: "PUT" | "DEL" | "PURGE";
  readonly length: number;
  json<T = any>(reviver?: ReviverFn): T;
  string(): string;
}
export type KvWatchEntry = KvEntry & { readonly isUpdate: boolean };

/** What `watch`, `history` and `keys` return (nats-core's `QueuedIterator`). */
export declare class KvIterator<T> implements AsyncIterable<T> {
  [Symbol.asyncIterator](): AsyncIterator<T>;
  stop(err?: Error): void;
  getProcessed(): number;
  getPending(): number;
  getReceived(): number;
}
export type QueuedIterator<T> = KvIterator<T>;

export interface KvWatchOptions {
  key?: string | string[];
  headers_only?: boolean;
  ignoreDeletes?: boolean;
  include?: KvWatchInclude;
  resumeFromRevision?: number;
}
export interface KvPutOptions {
  /** Only while the key's last revision is this one (0: only when the key has none). */
  previousSeq: number;
  timeout: number;
}
export interface KvDeleteOptions {
  previousSeq: number;
}
export interface KvPurgeOptions extends KvDeleteOptions {
  /** How long the purge marker stays (`Nats-TTL`, a Go duration); needs the bucket's `markerTTL`. */
  ttl: string;
}

export declare class Bucket {
  readonly bucket: string;
  readonly stream: string;
  readonly direct: boolean;
  get(k: string, opts?: { revision: number }): Promise<KvEntry | null>;
  put(k: string, data: Payload, opts?: Partial<KvPutOptions>): Promise<number>;
  create(k: string, data: Payload, markerTTL?: string): Promise<number>;
  update(k: string, data: Payload, version: number, timeout?: number): Promise<number>;
  delete(k: string, opts?: Partial<KvDeleteOptions>): Promise<void>;
  purge(k: string, opts?: Partial<KvPurgeOptions>): Promise<void>;
  remove(k: string): Promise<void>;
  purgeDeletes(olderMillis?: number): Promise<PurgeResponse>;
  purgeBucket(opts?: PurgeOpts): Promise<PurgeResponse>;
  destroy(): Promise<boolean>;
  history(opts?: { key?: string | string[]; headers_only?: boolean }): Promise<KvIterator<KvWatchEntry>>;
  watch(opts?: KvWatchOptions): Promise<KvIterator<KvWatchEntry>>;
  keys(filter?: string | string[]): Promise<KvIterator<string>>;
  status(): Promise<KvStatus>;
  close(): Promise<void>;
  bucketName(): string;
}
export type KV = Bucket;

/** Creates, opens and lists buckets. */
export declare class Kvm {
  constructor(client: JetStreamClient | { jetstream(): JetStreamClient });
  readonly js: JetStreamClient;
  /** The bucket, created with `opts` when it does not exist. */
  create(name: string, opts?: Partial<KvOptions>): Promise<KV>;
  /** The bucket, with no request (calls fail if it does not exist). */
  open(name: string, opts?: Partial<KvOptions>): Promise<KV>;
  list(): Lister<KvStatus>;
}

// ---- object stores (as @nats-io/obj v3 names them) ----

/** The stream name prefix of a store (`OBJ_`). */
export declare const osPrefix: "OBJ_";
/** The digest's algorithm prefix (`SHA-256=`). */
export declare const digestType: "SHA-256=";

export interface ObjectStoreLink {
  bucket: string;
  name?: string;
}
export interface ObjectStoreMetaOptions {
  link?: ObjectStoreLink;
  /** Chunk size in bytes (default 128 KiB). */
  max_chunk_size?: number;
}
export interface ObjectStoreMeta {
  name: string;
  description?: string;
  headers?: MsgHdrs;
  options?: ObjectStoreMetaOptions;
  metadata?: Record<string, string>;
}
export declare class ObjectInfo {
  readonly name: string;
  readonly description: string;
  readonly headers: MsgHdrs;
  readonly options: ObjectStoreMetaOptions | undefined;
  readonly metadata: Record<string, string>;
  readonly bucket: string;
  readonly nuid: string;
  readonly size: number;
  readonly chunks: number;
  /** `SHA-256=<base64url>` of the whole object. */
  readonly digest: string;
  readonly deleted: boolean;
  readonly mtime: string;
  readonly revision: number;
  isLink(): boolean;
}
/** What `watch` yields: the meta JSON as stored, with `isUpdate` and `revision`. */
export interface ObjectWatchInfo {
  name: string;
  bucket: string;
  nuid: string;
  size: number;
  chunks: number;
  digest: string;
  deleted?: boolean;
  mtime: string;
  description?: string;
  options?: ObjectStoreMetaOptions;
  metadata?: Record<string, string>;
  headers?: Record<string, string[]>;
  revision: number;
  isUpdate: boolean;
}
export interface ObjectResult {
  info: ObjectInfo;
  /** The object's bytes, pulled from the store as they are read; errors when the digest differs. */
  data: ReadableStream<Uint8Array>;
  /** Resolves once `data` ended: to the error that ended it, or null/undefined. */
  error: Promise<Error | null>;
}
export interface ObjectStorePutOpts {
  timeout?: number;
  /** Only while the object's meta is at this revision (0: only when there is no such object). */
  previousRevision?: number;
}
export interface ObjectStoreOptions {
  description: string;
  /** The stream's `max_age`, in nanoseconds. */
  ttl: number;
  storage: StorageType;
  replicas: number;
  max_bytes: number;
  placement: { cluster: string; tags: string[] };
  metadata: Record<string, string>;
  compression: boolean;
}
export declare class ObjectStoreStatus {
  readonly bucket: string;
  readonly description: string;
  /** Nanoseconds, as nats.js reports it. */
  readonly ttl: number;
  readonly storage: StorageType;
  readonly replicas: number;
  readonly sealed: boolean;
  readonly size: number;
  readonly backingStore: string;
  readonly streamInfo: StreamInfo;
  readonly metadata: Record<string, string> | undefined;
  readonly compression: boolean;
}
export declare class ObjectStore {
  readonly name: string;
  readonly stream: string;
  info(name: string): Promise<ObjectInfo | null>;
  list(): Promise<ObjectWatchInfo[]>;
  get(name: string): Promise<ObjectResult | null>;
  getBlob(name: string): Promise<Uint8Array | null>;
  put(meta: ObjectStoreMeta, rs: ReadableStream<Uint8Array> | null, opts?: ObjectStorePutOpts): Promise<ObjectInfo>;
  putBlob(meta: ObjectStoreMeta, data: Uint8Array | null, opts?: ObjectStorePutOpts): Promise<ObjectInfo>;
  delete(name: string): Promise<PurgeResponse>;
  link(name: string, meta: ObjectInfo): Promise<ObjectInfo | null>;
  linkStore(name: string, bucket: ObjectStore): Promise<ObjectInfo>;
  watch(opts?: { ignoreDeletes?: boolean; includeHistory?: boolean }): Promise<KvIterator<ObjectWatchInfo>>;
  seal(): Promise<ObjectStoreStatus>;
  status(opts?: Partial<StreamInfoRequestOptions>): Promise<ObjectStoreStatus>;
  update(name: string, meta: Partial<ObjectStoreMeta>): Promise<PubAck>;
  destroy(): Promise<boolean>;
}
/** Creates, opens and lists object stores. */
export declare class Objm {
  constructor(client: JetStreamClient | { jetstream(): JetStreamClient });
  readonly js: JetStreamClient;
  create(name: string, opts?: Partial<ObjectStoreOptions>): Promise<ObjectStore>;
  /** With `check` (the default) rejects with "object store not found" when there is none. */
  open(name: string, check?: boolean | { check?: boolean }): Promise<ObjectStore>;
  list(): Lister<ObjectStoreStatus>;
}

// ---- Publisher and PubSubConsumer (pubsub.js), over any v3 JetStream client ----
// (pubsub.js names the consumer `Consumer`; the package exports it as `PubSubConsumer` because
// `Consumer` is v3's name for a pull consumer.)

/** A pubsub setup that conflicts with what exists (a stream of that name with other subjects...) or that the server refuses. */
export declare class PubSubConfigError extends ContrailError {}
/** True for failures worth another try: timeouts, no responders, 503; never API refusals (a failed expectation). */
export declare function isRetryable(err: unknown): boolean;
/** The wait before retry n (0-based): `initialMs * factor^n`, never above `maxMs`. */
export interface PubSubBackoff {
  /** Default 50. */
  initialMs: number;
  /** Default 2000. */
  maxMs: number;
  /** Default 2. */
  factor: number;
}
export interface PublisherOptions {
  /** The stream publishes go into; created on first use when missing (unless `create: false`). */
  stream: string;
  /** Publishes go to `<subjectPrefix>.<subject>`; the stream is made with `<subjectPrefix>.>`. */
  subjectPrefix: string;
  /** More of the stream's config when it is created (`subjects` replaces `[<prefix>.>]`). */
  streamConfig?: Partial<StreamConfig>;
  /** False: never create the stream (publishes fail with no responders until it exists). */
  create?: boolean;
  /** Attempts after the first on a retryable failure (default 3). */
  retries?: number;
  backoff?: Partial<PubSubBackoff>;
  /** Once per `publish()` call, with its outcome (`error` null on success) and how long it took; what it throws is ignored. */
  onPublish?: (subject: string, error: Error | null, latencyMs: number) => void;
  /** Before each retry (awaited; what it throws ends the publish); `attempt` counts retries from 1. */
  onRetry?: (subject: string, error: Error, attempt: number) => void | Promise<void>;
}
export interface PublisherPublishOptions {
  headers: MsgHdrs;
  /** Give one so a retry after a timeout cannot store the message twice. */
  msgID: string;
  expect: Partial<StreamExpectations>;
  /** ms per attempt. */
  timeout: number;
}
/** Publishes under a subject prefix into a stream it makes sure exists, retrying what is worth retrying. */
export declare class Publisher {
  constructor(js: JetStreamClient | { jetstream(): JetStreamClient }, opts: PublisherOptions);
  readonly stream: string;
  /** The subject a publish of `subject` goes to. */
  subjectFor(subject: string): string;
  /** Creates the stream when missing; rejects with PubSubConfigError when one conflicts. */
  ensureStream(): Promise<void>;
  publish(subject: string, data?: Payload, opts?: Partial<PublisherPublishOptions>): Promise<PubAck>;
}
export interface ConsumerOptions {
  stream: string;
  /** The durable pull consumer's name; created, or updated to these options, on start. */
  durable: string;
  filter?: string;
  /** At most this many messages taken and not yet handled (default 64). */
  bufferSize?: number;
  /** ms. */
  ackWait?: number;
  maxDeliver?: number;
  /** How long each pull waits for messages, ms (default 5000, at least 1000). */
  expires?: number;
  /** Where a new durable starts (default "all"). */
  deliverPolicy?: DeliverPolicy;
}
/** What a `handle()` handler decides for its message. */
export type ConsumerDecision = 'ack' | 'nak' | 'term' | { nak: number };
/**
 * A durable pull consumer with a bounded buffer: iterate it (acking yourself) or give `handle()`
 * the decisions. `shutdown()` ends gracefully (naks the buffer, waits for the running handler);
 * `stop()` ends at once (buffered messages come back after ackWait).
 */
export declare class PubSubConsumer implements AsyncIterable<JsMsg> {
  constructor(js: JetStreamClient | { jetstream(): JetStreamClient }, opts: ConsumerOptions);
  /** Messages taken and not yet handled (buffered plus the one handed out). */
  readonly taken: number;
  /** Messages taken and not yet handed out. */
  readonly buffered: number;
  /** Creates or updates the durable and starts pulling (iterating or `handle()` does it too). */
  start(): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterator<JsMsg>;
  /** Resolves once the consumer ended; a handler that throws or answers otherwise naks (and `onError` hears it). */
  handle(
    handler: (m: JsMsg) => Promise<ConsumerDecision> | ConsumerDecision,
    opts?: { onError?: (err: unknown, m: JsMsg) => void },
  ): Promise<void>;
  /** Stops pulling, naks what is buffered, waits for the running handler, ends the iterator. Not from inside the handler. */
  shutdown(): Promise<void>;
  /** Ends the iterator now; naks nothing and waits for nothing. */
  stop(): void;
}
