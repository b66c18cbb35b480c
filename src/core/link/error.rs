//! What can go wrong on a link: refused calls ([`LinkError`]), why a connection ended
//! ([`DisconnectReason`]) and why a request got no reply ([`RequestError`]).

use crate::core::proto::ProtoError;

/// A call on the link that was refused, or a problem the link reports as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The link has no established connection (handshaking, waiting to reconnect, or stopped);
    /// publishes and requests are not queued across connections.
    #[error("the link is not connected")]
    NotConnected,
    /// The outgoing buffer holds `pending` bytes the driver has not taken yet; adding `size` more
    /// would pass `limit`. The caller slows down or drops: a slow link never grows memory.
    #[error("outgoing buffer full: {pending} bytes pending, {size} more would pass {limit}")]
    BufferFull {
        /// Bytes waiting for the driver.
        pending: usize,
        /// Bytes the refused operation needs.
        size: usize,
        /// The configured bound ([`super::LinkConfig::max_pending_bytes`]).
        limit: usize,
    },
    /// The message (header block plus payload) is larger than the server's `max_payload`.
    #[error("message of {size} bytes exceeds the server's max_payload of {limit} bytes")]
    MaxPayload {
        /// Header block plus payload.
        size: usize,
        /// What the server's INFO announced.
        limit: usize,
    },
    /// A subject, reply subject or queue group is not valid for this operation.
    #[error("invalid subject {0:?}")]
    InvalidSubject(String),
    /// The subscription id is not one this link handed out, or was already unsubscribed.
    #[error("unknown subscription {0}")]
    UnknownSubscription(u64),
    /// As many requests as [`super::LinkConfig::max_pending_requests`] await replies.
    #[error("too many requests awaiting replies (limit {0})")]
    TooManyRequests(usize),
    /// The server refused the credentials (`-ERR 'Authorization Violation'` and its kin). The
    /// link retries once after the longest backoff, then stops until [`super::Link::restart`].
    #[error("authorization refused by the server: {0}")]
    Authorization(String),
    /// The server reported an error that does not end the connection (for example
    /// `Permissions Violation for Publish to "x"`).
    #[error("server error: {0}")]
    Server(String),
    /// The server needs an nkey signature of its nonce and no signer was configured, or the
    /// signer failed.
    #[error("cannot sign the server's nonce: {0}")]
    Signature(String),
    /// The link was stopped by [`super::Link::close`] or gave up after repeated authorization
    /// failures.
    #[error("the link is stopped")]
    Stopped,
}

/// Why a connection ended. The link reconnects after each of these unless it is stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisconnectReason {
    /// The driver reported the transport closed or failed (EOF, reset, dial error).
    #[error("transport closed: {0}")]
    Transport(String),
    /// No INFO, or no PONG to the handshake PING, within the connect timeout.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// `max_pings_out` PINGs went unanswered.
    #[error("stale connection")]
    StaleConnection,
    /// The server broke the protocol; nothing after it can be trusted.
    #[error("protocol error from the server: {0}")]
    Protocol(#[from] ProtoError),
    /// The server sent an `-ERR` that ends the connection.
    #[error("server error: {0}")]
    ServerError(String),
    /// The server refused the credentials.
    #[error("authorization violation: {0}")]
    Authorization(String),
    /// Protocol replies (PONGs) piled up past the buffer bound while the driver took nothing:
    /// the peer floods a link that cannot write.
    #[error("outgoing buffer stalled")]
    OutputStalled,
    /// The driver's TLS handshake failed or timed out (a certificate not trusted or not for
    /// this server, a server that does not speak TLS); the text is the driver's.
    #[error("TLS {0}")]
    Tls(String),
    /// The link requires TLS and the server's INFO offers none (neither `tls_required` nor
    /// `tls_available`), as nats.go's "secure connection not available".
    #[error("TLS is required for this link but the server does not offer it")]
    TlsNotOffered,
    /// [`super::Link::close`] was called.
    #[error("closed by the application")]
    Closed,
}

/// Why a request ended without a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No reply within the request's timeout.
    #[error("request timed out")]
    TimedOut,
    /// The server answered `503`: nobody subscribes to the subject.
    #[error("no responders")]
    NoResponders,
    /// The connection ended before the reply came.
    #[error("disconnected before the reply")]
    Disconnected,
}
