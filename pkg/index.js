// contrail: a JetStream engine inside your JavaScript process, shaped like @nats-io/jetstream v3.
//
// The entry point: re-exports the modules. engine.js hosts the wasm engine (open, commit, route,
// timers); jsm.js is the manager (streams, consumers, direct gets, listers); client.js publishes;
// consumer.js pulls (fetch, next, consume, ordered consumers), pushconsumer.js takes pushes,
// messages.js is what both hand out; msg.js has JsMsg and StoredMsg;
// errors.js, enums.js and headers.js the names nats.js exports; kv.js has Key-Value buckets
// (@nats-io/kv's Kvm), obj.js object stores (@nats-io/obj's Objm, with sha256.js); pubsub.js a
// Publisher and Consumer over any v3 client (this engine's or nats.js's).
export { open, deleteDatabase, Contrail } from './engine.js';
export { JetStreamClient } from './client.js';
export { JetStreamManager, StreamAPI, ConsumerAPI, DirectStreamAPI, Stream, Lister, validateStreamName } from './jsm.js';
export { Consumers, PullConsumer, ConsumerMessages } from './consumer.js';
export { PushConsumer } from './pushconsumer.js';
export { JsMsg, StoredMsg, DirectMsg, parseInfo } from './msg.js';
export { MsgHdrs, headers } from './headers.js';
export { nanos, millis } from './util.js';
export {
  AckPolicy,
  AdvisoryKind,
  ConsumerApiAction,
  DeliverPolicy,
  DirectMsgHeaders,
  DiscardPolicy,
  JsHeaders,
  PersistMode,
  PriorityPolicy,
  PubHeaders,
  ReplayPolicy,
  RepublishHeaders,
  RetentionPolicy,
  StorageType,
  StoreCompression,
} from './enums.js';
export {
  ClosedError,
  ConsumerNotFoundError,
  ContrailError,
  DrainingConnectionError,
  InvalidArgumentError,
  InvalidNameError,
  InvalidOperationError,
  JetStreamApiCodes,
  JetStreamApiError,
  JetStreamError,
  JetStreamNotEnabled,
  JetStreamStatusError,
  NoRespondersError,
  StorageFullError,
  StreamNotFoundError,
  TimeoutError,
  WriterLostError,
  errors,
  isMessageNotFound,
  jserrors,
} from './errors.js';
export { connect, RemoteConnection } from './remote.js';
export { Upload } from './sync.js';
export { Attachment } from './link.js';
export { Mirror } from './mirrors.js';
export {
  Base64KeyCodec,
  Bucket,
  KvEntry,
  KvIterator,
  KvStatus,
  KvWatchInclude,
  Kvm,
  NoopKvCodecs,
  defaultBucketOpts,
  kvOperationHdr,
  kvPrefix,
  validateBucket,
  validateKey,
} from './kv.js';
export { ObjectInfo, ObjectStore, ObjectStoreStatus, Objm, digestType, osPrefix } from './obj.js';
// pubsub.js's Consumer as PubSubConsumer: `Consumer` is v3's name for a pull consumer.
export { Consumer as PubSubConsumer, PubSubConfigError, Publisher, isRetryable } from './pubsub.js';

/** True when `c` is a pull consumer (every consumer this package hands out is). */
export function isPullConsumer(c) {
  return c.isPullConsumer();
}

/** True when `c` is a push consumer. */
export function isPushConsumer(c) {
  return c.isPushConsumer();
}

/** `jetstream(nc, opts)` as nats.js has it: the client over engine `nc` (same as `nc.jetstream(opts)`). */
export function jetstream(nc, opts) {
  return nc.jetstream(opts);
}

/** `jetstreamManager(nc, opts)` as nats.js has it (same as `nc.jetstreamManager(opts)`). */
export function jetstreamManager(nc, opts) {
  return nc.jetstreamManager(opts);
}
