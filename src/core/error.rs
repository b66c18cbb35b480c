//! JetStream API errors with nats-server's codes.
//!
//! Every failure the engine reports to a client is an [`ApiError`]: an HTTP-like `code`, the JetStream
//! `err_code` clients switch on, and a human description. The variants of [`ErrorKind`] mirror the
//! entries of nats-server's `errors.json` that a single-node engine can produce; a description holding
//! a `{placeholder}` is filled in by [`ApiError::with_detail`].

use serde::{Deserialize, Serialize};

macro_rules! error_kinds {
    ($( $(#[$doc:meta])* $name:ident = ($code:expr, $err_code:expr, $desc:expr), )*) => {
        /// The kinds of JetStream API error, one per nats-server error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorKind {
            /// The HTTP-like status code (400, 404, 500, 503, …).
            pub fn code(self) -> u16 {
                match self { $( ErrorKind::$name => $code, )* }
            }
            /// The JetStream error code (`err_code` in replies).
            pub fn err_code(self) -> u16 {
                match self { $( ErrorKind::$name => $err_code, )* }
            }
            /// The description template, possibly holding one `{placeholder}`.
            pub fn template(self) -> &'static str {
                match self { $( ErrorKind::$name => $desc, )* }
            }
        }
    };
}

error_kinds! {
    /// resource limits exceeded for account
    AccountResourcesExceeded = (400, 10002, "resource limits exceeded for account"),
    /// bad request
    BadRequest = (400, 10003, "bad request"),
    /// `{err}`
    ConsumerCreate = (500, 10012, "{err}"),
    /// consumer name already in use
    ConsumerNameExist = (400, 10013, "consumer name already in use"),
    /// consumer not found
    ConsumerNotFound = (404, 10014, "consumer not found"),
    /// consumer expected to be durable but no durable name set in subject
    ConsumerDurableNameNotInSubject = (400, 10016, "consumer expected to be durable but no durable name set in subject"),
    /// consumer name in subject does not match durable name in request
    ConsumerDurableNameNotMatchSubject = (400, 10017, "consumer name in subject does not match durable name in request"),
    /// consumer expected to be durable but a durable name was not set
    ConsumerDurableNameNotSet = (400, 10018, "consumer expected to be durable but a durable name was not set"),
    /// consumer expected to be ephemeral but detected a durable name set in subject
    ConsumerEphemeralWithDurableInSubject = (400, 10019, "consumer expected to be ephemeral but detected a durable name set in subject"),
    /// consumer expected to be ephemeral but a durable name was set in request
    ConsumerEphemeralWithDurableName = (400, 10020, "consumer expected to be ephemeral but a durable name was set in request"),
    /// stream external api prefix `{prefix}` must not overlap with `{subject}`
    StreamExternalApiOverlap = (400, 10021, "stream external api prefix {prefix} must not overlap with {subject}"),
    /// stream external delivery prefix `{prefix}` overlaps with stream subject `{subject}`
    StreamExternalDelPrefixOverlaps = (400, 10022, "stream external delivery prefix {prefix} overlaps with stream subject {subject}"),
    /// insufficient resources
    InsufficientResources = (503, 10023, "insufficient resources"),
    /// stream external delivery prefix `{prefix}` must not contain wildcards
    StreamInvalidExternalDeliverySubj = (400, 10024, "stream external delivery prefix {prefix} must not contain wildcards"),
    /// invalid JSON: `{err}`
    InvalidJSON = (400, 10025, "invalid JSON: {err}"),
    /// maximum consumers limit reached
    MaximumConsumersLimit = (400, 10026, "maximum consumers limit reached"),
    /// maximum number of streams reached
    MaximumStreamsLimit = (400, 10027, "maximum number of streams reached"),
    /// insufficient memory resources available
    MemoryResourcesExceeded = (500, 10028, "insufficient memory resources available"),
    /// `{err}` (a mirror's consumer could not be set up)
    MirrorConsumerSetupFailed = (500, 10029, "{err}"),
    /// stream mirrors can not also contain other sources
    MirrorWithSources = (400, 10031, "stream mirrors can not also contain other sources"),
    /// stream mirrors can not have both start seq and start time configured
    MirrorWithStartSeqAndTime = (400, 10032, "stream mirrors can not have both start seq and start time configured"),
    /// stream mirrors can not contain subjects
    MirrorWithSubjects = (400, 10034, "stream mirrors can not contain subjects"),
    /// no message found
    NoMessageFound = (404, 10037, "no message found"),
    /// expected an empty request payload
    NotEmptyRequest = (400, 10038, "expected an empty request payload"),
    /// JetStream not enabled for account
    NotEnabledForAccount = (503, 10039, "JetStream not enabled for account"),
    /// sequence `{seq}` not found
    SequenceNotFound = (400, 10043, "sequence {seq} not found"),
    /// `{err}` (a source's consumer could not be set up)
    SourceConsumerSetupFailed = (500, 10045, "{err}"),
    /// insufficient storage resources available
    StorageResourcesExceeded = (500, 10047, "insufficient storage resources available"),
    /// `{err}`
    StreamCreate = (500, 10049, "{err}"),
    /// `{err}`
    StreamDelete = (500, 10050, "{err}"),
    /// `{err}`
    StreamGeneralError = (500, 10051, "{err}"),
    /// `{err}`
    StreamInvalidConfig = (500, 10052, "{err}"),
    /// message size exceeds maximum allowed
    StreamMessageExceedsMaximum = (400, 10054, "message size exceeds maximum allowed"),
    /// stream mirror configuration can not be updated
    StreamMirrorNotUpdatable = (400, 10055, "stream mirror configuration can not be updated"),
    /// stream name in subject does not match request
    StreamMismatch = (400, 10056, "stream name in subject does not match request"),
    /// `{err}`
    StreamMsgDeleteFailed = (500, 10057, "{err}"),
    /// stream name already in use with a different configuration
    StreamNameExist = (400, 10058, "stream name already in use with a different configuration"),
    /// stream not found
    StreamNotFound = (404, 10059, "stream not found"),
    /// expected stream does not match
    StreamNotMatch = (400, 10060, "expected stream does not match"),
    /// expected stream sequence does not match
    StreamSequenceNotMatch = (503, 10063, "expected stream sequence does not match"),
    /// subjects overlap with an existing stream
    StreamSubjectOverlap = (400, 10065, "subjects overlap with an existing stream"),
    /// `{err}`
    StreamUpdate = (500, 10069, "{err}"),
    /// wrong last msg ID: `{id}`
    StreamWrongLastMsgID = (400, 10070, "wrong last msg ID: {id}"),
    /// wrong last sequence: `{seq}`
    StreamWrongLastSequence = (400, 10071, "wrong last sequence: {seq}"),
    /// replicas > 1 not supported in non-clustered mode
    StreamReplicasNotSupported = (500, 10074, "replicas > 1 not supported in non-clustered mode"),
    /// `{err}`
    StreamStoreFailed = (503, 10077, "{err}"),
    /// consumer config required
    ConsumerConfigRequired = (400, 10078, "consumer config required"),
    /// consumer deliver subject has wildcards
    ConsumerDeliverToWildcards = (400, 10079, "consumer deliver subject has wildcards"),
    /// consumer in push mode can not set max waiting
    ConsumerPushMaxWaiting = (400, 10080, "consumer in push mode can not set max waiting"),
    /// consumer deliver subject forms a cycle
    ConsumerDeliverCycle = (400, 10081, "consumer deliver subject forms a cycle"),
    /// consumer requires ack policy for max ack pending
    ConsumerMaxPendingAckPolicyRequired = (400, 10082, "consumer requires ack policy for max ack pending"),
    /// consumer idle heartbeat needs to be >= 100ms
    ConsumerSmallHeartbeat = (400, 10083, "consumer idle heartbeat needs to be >= 100ms"),
    /// consumer in pull mode requires explicit ack policy on workqueue stream
    ConsumerPullRequiresAck = (400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream"),
    /// consumer in pull mode requires a durable name
    ConsumerPullNotDurable = (400, 10085, "consumer in pull mode requires a durable name"),
    /// consumer in pull mode can not have rate limit set
    ConsumerPullWithRateLimit = (400, 10086, "consumer in pull mode can not have rate limit set"),
    /// consumer max waiting needs to be positive
    ConsumerMaxWaitingNegative = (400, 10087, "consumer max waiting needs to be positive"),
    /// consumer idle heartbeat requires a push based consumer
    ConsumerHBRequiresPush = (400, 10088, "consumer idle heartbeat requires a push based consumer"),
    /// consumer flow control requires a push based consumer
    ConsumerFCRequiresPush = (400, 10089, "consumer flow control requires a push based consumer"),
    /// consumer direct requires a push based consumer
    ConsumerDirectRequiresPush = (400, 10090, "consumer direct requires a push based consumer"),
    /// consumer direct requires an ephemeral consumer
    ConsumerDirectRequiresEphemeral = (400, 10091, "consumer direct requires an ephemeral consumer"),
    /// flow control ack policy requires a push based consumer
    ConsumerAckFCRequiresPush = (400, 10218, "flow control ack policy requires a push based consumer"),
    /// flow control ack policy requires flow control
    ConsumerAckFCRequiresFC = (400, 10219, "flow control ack policy requires flow control"),
    /// flow control ack policy requires max ack pending
    ConsumerAckFCRequiresMaxAckPending = (400, 10220, "flow control ack policy requires max ack pending"),
    /// flow control ack policy requires unset ack wait
    ConsumerAckFCRequiresNoAckWait = (400, 10221, "flow control ack policy requires unset ack wait"),
    /// flow control ack policy requires unset max deliver
    ConsumerAckFCRequiresNoMaxDeliver = (400, 10222, "flow control ack policy requires unset max deliver"),
    /// consumer filter subject is not a valid subset of the interest subjects
    ConsumerFilterNotSubset = (400, 10093, "consumer filter subject is not a valid subset of the interest subjects"),
    /// `{err}`
    ConsumerInvalidPolicy = (400, 10094, "{err}"),
    /// failed to parse consumer sampling configuration: `{err}`
    ConsumerInvalidSampling = (400, 10095, "failed to parse consumer sampling configuration: {err}"),
    /// header size exceeds maximum allowed of 64k
    StreamHeaderExceedsMaximum = (400, 10097, "header size exceeds maximum allowed of 64k"),
    /// workqueue stream requires explicit ack
    ConsumerWQRequiresExplicitAck = (400, 10098, "workqueue stream requires explicit ack"),
    /// multiple non-filtered consumers not allowed on workqueue stream
    ConsumerWQMultipleUnfiltered = (400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"),
    /// filtered consumer not unique on workqueue stream
    ConsumerWQConsumerNotUnique = (400, 10100, "filtered consumer not unique on workqueue stream"),
    /// consumer must be deliver all on workqueue stream
    ConsumerWQConsumerNotDeliverAll = (400, 10101, "consumer must be deliver all on workqueue stream"),
    /// consumer name is too long, maximum allowed is `{max}`
    ConsumerNameTooLong = (400, 10102, "consumer name is too long, maximum allowed is {max}"),
    /// durable name can not contain '.', '*', '>'
    ConsumerBadDurableName = (400, 10103, "durable name can not contain '.', '*', '>'"),
    /// consumer already exists and is still active
    ConsumerExistingActive = (400, 10105, "consumer already exists and is still active"),
    /// consumer replacement durable config not the same
    ConsumerReplacementWithDifferentName = (400, 10106, "consumer replacement durable config not the same"),
    /// consumer description is too long, maximum allowed is `{max}`
    ConsumerDescriptionTooLong = (400, 10107, "consumer description is too long, maximum allowed is {max}"),
    /// consumer with flow control also needs heartbeats
    ConsumerWithFlowControlNeedsHeartbeats = (400, 10108, "consumer with flow control also needs heartbeats"),
    /// invalid operation on sealed stream
    StreamSealed = (400, 10109, "invalid operation on sealed stream"),
    /// `{err}`
    StreamPurgeFailed = (500, 10110, "{err}"),
    /// `{err}`
    StreamRollupFailed = (500, 10111, "{err}"),
    /// invalid push consumer deliver subject
    ConsumerInvalidDeliverSubject = (400, 10112, "invalid push consumer deliver subject"),
    /// account requires a stream config to have max bytes set
    StreamMaxBytesRequired = (400, 10113, "account requires a stream config to have max bytes set"),
    /// consumer max request batch needs to be > 0
    ConsumerMaxRequestBatchNegative = (400, 10114, "consumer max request batch needs to be > 0"),
    /// consumer max request expires needs to be >= 1ms
    ConsumerMaxRequestExpiresTooSmall = (400, 10115, "consumer max request expires needs to be >= 1ms"),
    /// max deliver is required to be > length of backoff values
    ConsumerMaxDeliverBackoff = (400, 10116, "max deliver is required to be > length of backoff values"),
    /// consumer max ack pending exceeds system limit of `{limit}`
    ConsumerMaxPendingAckExcess = (400, 10121, "consumer max ack pending exceeds system limit of {limit}"),
    /// consumer max request batch exceeds server limit of `{limit}`
    ConsumerMaxRequestBatchExceeded = (400, 10125, "consumer max request batch exceeds server limit of {limit}"),
    /// consumer config replica count exceeds parent stream
    ConsumerReplicasExceedsStream = (400, 10126, "consumer config replica count exceeds parent stream"),
    /// Consumer name can not contain path separators
    ConsumerNameContainsPathSeparators = (400, 10127, "Consumer name can not contain path separators"),
    /// Stream name can not contain path separators
    StreamNameContainsPathSeparators = (400, 10128, "Stream name can not contain path separators"),
    /// Consumer create request did not match filtered subject from create subject
    ConsumerCreateFilterSubjectMismatch = (400, 10131, "Consumer create request did not match filtered subject from create subject"),
    /// Consumer Durable and Name have to be equal if both are provided
    ConsumerCreateDurableAndNameMismatch = (400, 10132, "Consumer Durable and Name have to be equal if both are provided"),
    /// replicas count cannot be negative
    ReplicasCountCannotBeNegative = (400, 10133, "replicas count cannot be negative"),
    /// consumer metadata exceeds maximum size of `{limit}`
    ConsumerMetadataLength = (400, 10135, "consumer metadata exceeds maximum size of {limit}"),
    /// consumer cannot have both FilterSubject and FilterSubjects specified
    ConsumerDuplicateFilterSubjects = (400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"),
    /// consumer with multiple subject filters cannot use subject based API
    ConsumerMultipleFiltersNotAllowed = (400, 10137, "consumer with multiple subject filters cannot use subject based API"),
    /// consumer subject filters cannot overlap
    ConsumerOverlappingSubjectFilters = (400, 10138, "consumer subject filters cannot overlap"),
    /// consumer filter in FilterSubjects cannot be empty
    ConsumerEmptyFilter = (400, 10139, "consumer filter in FilterSubjects cannot be empty"),
    /// duplicate source configuration detected
    SourceDuplicateDetected = (400, 10140, "duplicate source configuration detected"),
    /// sourced stream name is invalid
    SourceInvalidStreamName = (400, 10141, "sourced stream name is invalid"),
    /// mirrored stream name is invalid
    MirrorInvalidStreamName = (400, 10142, "mirrored stream name is invalid"),
    /// stream mirrors can not have first sequence configured
    MirrorWithFirstSeq = (400, 10143, "stream mirrors can not have first sequence configured"),
    /// source with multiple subject transforms cannot also have a single subject filter
    SourceMultipleFiltersNotAllowed = (400, 10144, "source with multiple subject transforms cannot also have a single subject filter"),
    /// source transform source: `{err}`
    SourceInvalidSubjectFilter = (400, 10145, "source transform source: {err}"),
    /// source transform: `{err}`
    SourceInvalidTransformDestination = (400, 10146, "source transform: {err}"),
    /// source filters can not overlap
    SourceOverlappingSubjectFilters = (400, 10147, "source filters can not overlap"),
    /// consumer already exists
    ConsumerAlreadyExists = (400, 10148, "consumer already exists"),
    /// consumer does not exist
    ConsumerDoesNotExist = (400, 10149, "consumer does not exist"),
    /// mirror with multiple subject transforms cannot also have a single subject filter
    MirrorMultipleFiltersNotAllowed = (400, 10150, "mirror with multiple subject transforms cannot also have a single subject filter"),
    /// mirror transform source: `{err}`
    MirrorInvalidSubjectFilter = (400, 10151, "mirror transform source: {err}"),
    /// mirror subject filters can not overlap
    MirrorOverlappingSubjectFilters = (400, 10152, "mirror subject filters can not overlap"),
    /// consumer inactive threshold exceeds system limit of `{limit}`
    ConsumerInactiveThresholdExcess = (400, 10153, "consumer inactive threshold exceeds system limit of {limit}"),
    /// mirror transform: `{err}`
    MirrorInvalidTransformDestination = (400, 10154, "mirror transform: {err}"),
    /// stream transform source: `{err}`
    StreamTransformInvalidSource = (400, 10155, "stream transform source: {err}"),
    /// stream transform: `{err}`
    StreamTransformInvalidDestination = (400, 10156, "stream transform: {err}"),
    /// wrong last sequence
    StreamWrongLastSequenceConstant = (400, 10164, "wrong last sequence"),
    /// invalid per-message TTL
    MessageTTLInvalid = (400, 10165, "invalid per-message TTL"),
    /// per-message TTL is disabled
    MessageTTLDisabled = (400, 10166, "per-message TTL is disabled"),
    /// stream mirrors can not also calculate counters
    MirrorWithCounters = (400, 10173, "stream mirrors can not also calculate counters"),
    /// consumer ack policy invalid
    ConsumerAckPolicyInvalid = (400, 10181, "consumer ack policy invalid"),
    /// consumer replay policy invalid
    ConsumerReplayPolicyInvalid = (400, 10182, "consumer replay policy invalid"),
    /// consumer ack wait needs to be positive
    ConsumerAckWaitNegative = (400, 10183, "consumer ack wait needs to be positive"),
    /// consumer backoff needs to be positive
    ConsumerBackOffNegative = (400, 10184, "consumer backoff needs to be positive"),
    /// JetStream minimum api level required
    RequiredApiLevel = (412, 10185, "JetStream minimum api level required"),
    /// stream mirrors can not also schedule messages
    MirrorWithMsgSchedules = (400, 10186, "stream mirrors can not also schedule messages"),
    /// stream source can not also schedule messages
    SourceWithMsgSchedules = (400, 10187, "stream source can not also schedule messages"),
    /// missing sequence for expected last sequence per subject
    StreamExpectedLastSeqPerSubjectInvalid = (400, 10193, "missing sequence for expected last sequence per subject"),
}

/// An error as it travels in a JetStream API reply: `{"code":…,"err_code":…,"description":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{description} (code {code}, err_code {err_code})")]
pub struct ApiError {
    /// HTTP-like status code.
    pub code: u16,
    /// JetStream error code.
    pub err_code: u16,
    /// Human-readable text.
    pub description: String,
}

impl ApiError {
    /// The error with its template description as is (placeholders left unfilled are removed).
    pub fn new(kind: ErrorKind) -> Self {
        Self::with_detail(kind, "")
    }

    /// The error with the `{placeholder}` in its description replaced by `detail`.
    pub fn with_detail(kind: ErrorKind, detail: impl std::fmt::Display) -> Self {
        let template = kind.template();
        let description = match (template.find('{'), template.find('}')) {
            (Some(open), Some(close)) if open < close => {
                format!("{}{}{}", &template[..open], detail, &template[close + 1..])
            }
            _ => template.to_string(),
        };
        ApiError {
            code: kind.code(),
            err_code: kind.err_code(),
            description,
        }
    }

    /// True when this error is of the given kind.
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.err_code == kind.err_code()
    }
}

impl From<ErrorKind> for ApiError {
    fn from(kind: ErrorKind) -> Self {
        ApiError::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholder() {
        let e = ApiError::with_detail(ErrorKind::StreamWrongLastSequence, 7);
        assert_eq!(e.code, 400);
        assert_eq!(e.err_code, 10071);
        assert_eq!(e.description, "wrong last sequence: 7");
    }

    #[test]
    fn plain_kind_keeps_text() {
        let e = ApiError::new(ErrorKind::StreamNotFound);
        assert_eq!(
            (e.code, e.err_code, e.description.as_str()),
            (404, 10059, "stream not found")
        );
    }
}
