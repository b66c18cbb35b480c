//! What can go wrong reading the NATS client protocol, and the `-ERR` text each failure sends.
//!
//! Every error a parser returns is fatal: the peer broke framing, so nothing after it can be trusted.
//! The caller writes `-ERR '<err_text>'` (server side) and closes the connection; the parser that
//! returned the error is not used again. The two subject errors are the exception: they never come
//! out of a parser, they are what [`super::check_sub`] and [`super::check_pub_subject`] report, and
//! nats-server answers them with an `-ERR` but keeps the connection open ([`ProtoError::is_fatal`]).

/// Why bytes from a peer could not be read as a protocol operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The line does not begin with an operation this side of the connection accepts.
    #[error("unknown protocol operation")]
    UnknownOp,
    /// A control line is longer than `max_control_line` (or no line end came within that many bytes).
    #[error("control line exceeds the limit of {limit} bytes")]
    MaxControlLine {
        /// The configured limit.
        limit: usize,
    },
    /// A PUB, HPUB, MSG or HMSG announces more bytes than `max_payload`.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    MaxPayload {
        /// The announced total size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// An operation has too few or too many arguments.
    #[error("wrong number of arguments for {op}")]
    BadArgs {
        /// The operation, upper case.
        op: &'static str,
    },
    /// A size is not a decimal number of one to nine digits (nats-server's limit).
    #[error("bad size in {op}")]
    BadSize {
        /// The operation, upper case.
        op: &'static str,
    },
    /// An HPUB or HMSG says its header block is larger than the whole message.
    #[error("header size {hdr} is larger than total size {total}")]
    HeaderTooLarge {
        /// The announced header size.
        hdr: usize,
        /// The announced total size.
        total: usize,
    },
    /// The payload of a message is not followed by CRLF.
    #[error("payload is not followed by CRLF")]
    PayloadNotTerminated,
    /// The JSON of a CONNECT or INFO could not be decoded.
    #[error("invalid JSON in {op}: {reason}")]
    BadJson {
        /// The operation, upper case.
        op: &'static str,
        /// What serde_json reported.
        reason: String,
    },
    /// A subject, reply subject, queue group or sid is not UTF-8 (nats-server would pass the bytes
    /// through; Contrail keeps subjects as `String`, so it refuses them).
    #[error("subject or sid is not UTF-8")]
    NotUtf8,
    /// A SUB names a subject that is not a valid filter. Not fatal.
    #[error("invalid subject")]
    InvalidSubject,
    /// A pedantic client published to a subject that is not a valid literal subject. Not fatal.
    #[error("invalid publish subject")]
    InvalidPublishSubject,
}

impl ProtoError {
    /// The text nats-server puts in `-ERR '<text>'` for this failure.
    ///
    /// nats-server closes the connection without any `-ERR` when the arguments of a known operation
    /// are malformed (argument count, sizes, JSON); Contrail sends `Unknown Protocol Operation`
    /// before closing in those cases, so the client learns why. A long control line gets
    /// nats-server's current wording, `maximum control line exceeded`.
    pub fn err_text(&self) -> &'static str {
        match self {
            ProtoError::MaxControlLine { .. } => "maximum control line exceeded",
            ProtoError::MaxPayload { .. } => "Maximum Payload Violation",
            ProtoError::NotUtf8 | ProtoError::InvalidSubject => "Invalid Subject",
            ProtoError::InvalidPublishSubject => "Invalid Publish Subject",
            ProtoError::UnknownOp
            | ProtoError::BadArgs { .. }
            | ProtoError::BadSize { .. }
            | ProtoError::HeaderTooLarge { .. }
            | ProtoError::PayloadNotTerminated
            | ProtoError::BadJson { .. } => "Unknown Protocol Operation",
        }
    }

    /// True when the connection must be closed after the `-ERR`: every parser error. The subject
    /// checks are answered with an `-ERR` and the connection carries on, as in nats-server.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            ProtoError::InvalidSubject | ProtoError::InvalidPublishSubject
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_text_matches_nats_server_wording() {
        assert_eq!(
            ProtoError::UnknownOp.err_text(),
            "Unknown Protocol Operation"
        );
        assert_eq!(
            ProtoError::MaxPayload { size: 2, limit: 1 }.err_text(),
            "Maximum Payload Violation"
        );
        assert_eq!(
            ProtoError::MaxControlLine { limit: 1 }.err_text(),
            "maximum control line exceeded"
        );
        assert_eq!(ProtoError::InvalidSubject.err_text(), "Invalid Subject");
        assert_eq!(
            ProtoError::InvalidPublishSubject.err_text(),
            "Invalid Publish Subject"
        );
    }

    #[test]
    fn only_subject_checks_keep_the_connection_open() {
        assert!(ProtoError::UnknownOp.is_fatal());
        assert!(ProtoError::PayloadNotTerminated.is_fatal());
        assert!(!ProtoError::InvalidSubject.is_fatal());
        assert!(!ProtoError::InvalidPublishSubject.is_fatal());
    }
}
