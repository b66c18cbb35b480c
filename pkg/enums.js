// The constants @nats-io/jetstream v3 exports: policy enums (plain objects of the wire strings,
// as in v3, so `AckPolicy.Explicit === 'explicit'`) and header names.

export const RetentionPolicy = Object.freeze({ Limits: 'limits', Interest: 'interest', Workqueue: 'workqueue' });
export const DiscardPolicy = Object.freeze({ Old: 'old', New: 'new' });
export const StorageType = Object.freeze({ File: 'file', Memory: 'memory' });
export const DeliverPolicy = Object.freeze({
  All: 'all',
  Last: 'last',
  New: 'new',
  StartSequence: 'by_start_sequence',
  StartTime: 'by_start_time',
  LastPerSubject: 'last_per_subject',
});
export const AckPolicy = Object.freeze({
  None: 'none',
  All: 'all',
  Explicit: 'explicit',
  FlowControl: 'flow_control',
  NotSet: '',
});
export const ReplayPolicy = Object.freeze({ Instant: 'instant', Original: 'original' });
export const StoreCompression = Object.freeze({ None: 'none', S2: 's2' });
export const PersistMode = Object.freeze({ Default: 'default', Async: 'async' });
/** The `action` of a consumer create request: create only, update only, or either (""). */
export const ConsumerApiAction = Object.freeze({ CreateOrUpdate: '', Update: 'update', Create: 'create' });
export const PriorityPolicy = Object.freeze({
  None: 'none',
  Overflow: 'overflow',
  PinnedClient: 'pinned_client',
  Prioritized: 'prioritized',
});

/** Headers a publish sets (what `msgID`, `expect` and `ttl` turn into). */
export const PubHeaders = Object.freeze({
  MsgIdHdr: 'Nats-Msg-Id',
  ExpectedStreamHdr: 'Nats-Expected-Stream',
  ExpectedLastSeqHdr: 'Nats-Expected-Last-Sequence',
  ExpectedLastMsgIdHdr: 'Nats-Expected-Last-Msg-Id',
  ExpectedLastSubjectSequenceHdr: 'Nats-Expected-Last-Subject-Sequence',
  ExpectedLastSubjectSequenceSubjectHdr: 'Nats-Expected-Last-Subject-Sequence-Subject',
  MessageTTL: 'Nats-TTL',
  Schedule: 'Nats-Schedule',
  ScheduleTarget: 'Nats-Schedule-Target',
  ScheduleSource: 'Nats-Schedule-Source',
  ScheduleTTL: 'Nats-Schedule-TTL',
  ScheduleTimeZone: 'Nats-Schedule-Time-Zone',
  ScheduleRollup: 'Nats-Schedule-Rollup',
  Scheduler: 'Nats-Scheduler',
  ScheduleNext: 'Nats-Schedule-Next',
});

/** Headers JetStream sets on what it delivers (heartbeats, rollups, pending counts). */
export const JsHeaders = Object.freeze({
  StreamSourceHdr: 'Nats-Stream-Source',
  LastConsumerSeqHdr: 'Nats-Last-Consumer',
  LastStreamSeqHdr: 'Nats-Last-Stream',
  ConsumerStalledHdr: 'Nats-Consumer-Stalled',
  MessageSizeHdr: 'Nats-Msg-Size',
  RollupHdr: 'Nats-Rollup',
  RollupValueSubject: 'sub',
  RollupValueAll: 'all',
  PendingMessagesHdr: 'Nats-Pending-Messages',
  PendingBytesHdr: 'Nats-Pending-Bytes',
  RequiredApiLevel: 'Nats-Required-Api-Level',
});

/** Headers of a direct get reply. */
export const DirectMsgHeaders = Object.freeze({
  Stream: 'Nats-Stream',
  Sequence: 'Nats-Sequence',
  TimeStamp: 'Nats-Time-Stamp',
  Subject: 'Nats-Subject',
  LastSequence: 'Nats-Last-Sequence',
  NumPending: 'Nats-Num-Pending',
});

/** Headers of a republished message. */
export const RepublishHeaders = Object.freeze({
  Stream: 'Nats-Stream',
  Subject: 'Nats-Subject',
  Sequence: 'Nats-Sequence',
  LastSequence: 'Nats-Last-Sequence',
  Size: 'Nats-Msg-Size',
});

/** Advisory kinds (`jsm.advisories()`'s `kind`). */
export const AdvisoryKind = Object.freeze({
  API: 'api_audit',
  StreamAction: 'stream_action',
  ConsumerAction: 'consumer_action',
  SnapshotCreate: 'snapshot_create',
  SnapshotComplete: 'snapshot_complete',
  RestoreCreate: 'restore_create',
  RestoreComplete: 'restore_complete',
  MaxDeliver: 'max_deliver',
  Terminated: 'terminated',
  Ack: 'consumer_ack',
  StreamLeaderElected: 'stream_leader_elected',
  StreamQuorumLost: 'stream_quorum_lost',
  ConsumerLeaderElected: 'consumer_leader_elected',
  ConsumerQuorumLost: 'consumer_quorum_lost',
});
