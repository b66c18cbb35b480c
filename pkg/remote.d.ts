// Types of the remote connection (remote.js): NATS over WebSocket to Contrail or nats-server,
// shaped like nats.js's NatsConnection as far as it goes.
import type { JetStreamClient, JetStreamManager, JetStreamManagerOptions, JetStreamOptions, MsgHdrs, Payload } from './index.js';

export interface ConnectionOptions {
  /** One server: `ws://host:port`, `wss://host:port`, or `host:port` (ws, or wss on an https page). Several are not supported yet. */
  servers?: string | string[];
  /** Client name, shown in the server's monitoring. */
  name?: string;
  /** Token auth. */
  token?: string;
  /** User/password auth. */
  user?: string;
  pass?: string;
  /** Keepalive PING interval in ms (default 120000). */
  pingInterval?: number;
  /** Unanswered PINGs before the connection counts as stale (default 2). */
  maxPingOut?: number;
  /** Longest wait for a connection's handshake in ms (default 5000). */
  timeout?: number;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** Failed attempts in a row before giving up and closing; -1 for no limit (default 10). */
  maxReconnectAttempts?: number;
  /** Backoff between attempts: starts at this many ms (default 250), doubles... */
  reconnectTimeWait?: number;
  /** ...up to this many ms (default 4000), plus a random jitter up to this many ms (default 100). */
  reconnectTimeWaitMax?: number;
  reconnectJitter?: number;
  /** Keep trying when the first attempt fails instead of rejecting connect() (default false). */
  waitOnFirstConnect?: boolean;
  /** Bound on bytes waiting to be sent; publishes beyond it throw BufferFullError (default 8 MiB). */
  maxPendingBytes?: number;
}

export interface MsgPublishOptions {
  headers?: MsgHdrs;
  reply?: string;
}

export interface RequestOptions {
  /** ms (default 1000). */
  timeout?: number;
  headers?: MsgHdrs;
}

export interface SubscriptionOptions {
  /** Queue group. */
  queue?: string;
  /** End the subscription after this many messages. */
  max?: number;
  /** Called per message instead of iterating. */
  callback?: (err: Error | null, msg: Msg) => void;
  /** Messages an iterator holds unread before it drops new ones (default 65536; 64 MiB at most). */
  maxPending?: number;
}

export declare class Msg {
  readonly subject: string;
  /** The reply subject, or "" when none. */
  readonly reply: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs;
  readonly sid: number;
  string(): string;
  json<T = unknown>(): T;
  /** Publishes to the reply subject; false when there is none. */
  respond(data?: Payload, opts?: MsgPublishOptions): boolean;
}

export declare class Subscription implements AsyncIterable<Msg> {
  /** Resolves when the subscription ended. */
  readonly closed: Promise<void>;
  unsubscribe(): void;
  /**
   * nats.js's `drain()`: the server stops sending (UNSUB); the messages it sent before still
   * reach the iterator or callback, then the subscription ends. Rejects with
   * ClosedConnectionError on a closed connection, InvalidOperationError on an ended subscription.
   */
  drain(): Promise<void>;
  /** True from `drain()` (this subscription's or its connection's) on. */
  isDraining(): boolean;
  /** `await using sub = …`: drains it when the scope ends (ended, closed or draining: no error). */
  [Symbol.asyncDispose](): Promise<void>;
  isClosed(): boolean;
  getSubject(): string;
  getReceived(): number;
  getProcessed(): number;
  getPending(): number;
  getID(): number;
  getMax(): number | undefined;
  [Symbol.asyncIterator](): AsyncIterator<Msg>;
}

export interface Status {
  type: 'disconnect' | 'reconnecting' | 'reconnect' | 'error' | 'slowConsumer' | 'close';
  server?: string;
  /** Why (a reason string for disconnect/reconnecting, an Error for error and close). */
  error?: unknown;
  sub?: Subscription;
  pending?: number;
}

export declare class RemoteConnection {
  /** The current server's INFO. */
  readonly info?: Record<string, unknown>;
  /** "connected", "connecting", "waiting" (to reconnect) or "closed". */
  readonly state: string;
  getServer(): string;
  /**
   * Throws NotConnectedError while disconnected (publishes are not buffered across reconnects),
   * DrainingConnectionError once a `drain()` has ended the subscriptions.
   */
  publish(subject: string, payload?: Payload, opts?: MsgPublishOptions): void;
  /** Throws DrainingConnectionError while draining. */
  subscribe(subject: string, opts?: SubscriptionOptions): Subscription;
  /** Rejects with NoRespondersError (503) or TimeoutError; DrainingConnectionError while draining. */
  request(subject: string, payload?: Payload, opts?: RequestOptions): Promise<Msg>;
  flush(): Promise<void>;
  status(): AsyncIterableIterator<Status>;
  close(): Promise<void>;
  /**
   * nats.js's `drain()`, for a clean shutdown (e.g. on `pagehide`): every subscription stops
   * (UNSUB) and still gets what the server sent before, then ends; publishing stops, what was
   * published reaches the server (a flush), and the connection closes (`closed()` resolves to
   * undefined, a `close` status follows). `subscribe`/`request` throw DrainingConnectionError
   * from the call on, `publish` once the subscriptions ended. Rejects with ClosedConnectionError
   * when closed, DrainingConnectionError when already draining.
   */
  drain(): Promise<void>;
  /** True from `drain()` on. */
  isDraining(): boolean;
  /** `await using nc = await connect(…)`: drains it when the scope ends (closed: no error; draining: awaited). */
  [Symbol.asyncDispose](): Promise<void>;
  /**
   * The JetStream client over this connection: the same class a local engine's `jetstream()`
   * returns. `apiPrefix` or `domain` (`$JS.<domain>.API`) pick the server's API; `timeout` (ms,
   * default 5000) bounds API requests, publishes and `ackAck()`.
   */
  jetstream(opts?: JetStreamOptions): JetStreamClient;
  /** The JetStream manager over this connection; checks the server's API first unless `checkAPI: false`. */
  jetstreamManager(opts?: JetStreamManagerOptions): Promise<JetStreamManager>;
  /** Resolves to the Error that closed the connection, or undefined after close(). */
  closed(): Promise<void | Error>;
  isClosed(): boolean;
}

/** Connects over WebSocket; rejects when the first attempt fails (AuthorizationError for refused credentials). */
export declare function connect(opts?: ConnectionOptions): Promise<RemoteConnection>;
