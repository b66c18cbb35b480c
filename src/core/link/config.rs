//! How a link is set up: credentials ([`Auth`]) and timings and bounds ([`LinkConfig`]).

use std::fmt;
use std::sync::Arc;

use super::Backoff;
use crate::core::time::{Nanos, SECONDS};

/// Signs the server's nonce with an nkey's seed and returns the base64url signature. The shell
/// supplies it (for example with the `nkeys` crate), so the core carries no crypto.
pub type NonceSigner = Arc<dyn Fn(&[u8]) -> Result<String, String> + Send + Sync>;

/// Credentials the link presents in CONNECT.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `auth_token`.
    Token(String),
    /// `user` and `pass`.
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        pass: String,
    },
    /// `nkey` and `sig`, the signature of the INFO's nonce.
    NKey {
        /// The public nkey (`U...`).
        public: String,
        /// Signs the nonce.
        signer: NonceSigner,
    },
}

impl fmt::Debug for Auth {
    /// Names the kind and the user, never a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(..)"),
            Auth::UserPassword { user, .. } => write!(f, "UserPassword({user:?})"),
            Auth::NKey { public, .. } => write!(f, "NKey({public:?})"),
        }
    }
}

/// When the link's connection is TLS. The core does no TLS itself: it tells the driver when to
/// upgrade ([`super::TransportCommand::StartTls`]) and says in CONNECT that it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinkTls {
    /// Never upgrade: the transport is plain, or secured below the link (a browser's `wss://`).
    #[default]
    Off,
    /// Upgrade after INFO when the server says `tls_required` (what nats clients do).
    IfRequired,
    /// Always upgrade after INFO (a `tls://` URL or a `tls {}` block); a server whose INFO offers
    /// no TLS is refused with [`super::DisconnectReason::TlsNotOffered`].
    Required,
    /// The driver completes the TLS handshake before reporting the transport open, so INFO
    /// arrives over TLS (nats-server's `handshake_first`).
    HandshakeFirst,
}

/// How a link behaves.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The client name in CONNECT (shown in the other server's monitoring).
    pub name: String,
    /// Credentials.
    pub auth: Auth,
    /// When the connection is TLS.
    pub tls: LinkTls,
    /// Whether the server delivers the link's own publishes to the link's subscriptions.
    pub echo: bool,
    /// Time between keepalive PINGs (nats clients: 2 minutes).
    pub ping_interval: Nanos,
    /// Unanswered PINGs after which the connection is stale (nats clients: 2).
    pub max_pings_out: u32,
    /// Longest wait from dialing to the handshake's PONG.
    pub connect_timeout: Nanos,
    /// Waits between connection attempts.
    pub backoff: Backoff,
    /// Seeds jitter and the inbox token. Give each link its own (from the OS in a shell).
    pub seed: u64,
    /// Reply-subject prefix for requests; `_INBOX.<22 random base62>` when `None`.
    pub inbox_prefix: Option<String>,
    /// Bound on bytes waiting for the driver (nats.go's reconnect buffer is 8 MiB).
    pub max_pending_bytes: usize,
    /// Bound on requests awaiting replies.
    pub max_pending_requests: usize,
    /// Longest control line accepted from the server (an INFO can list many URLs).
    pub max_control_line: usize,
    /// Largest message accepted from the server, whatever its INFO claims (nats-server allows
    /// at most 64 MiB).
    pub max_incoming_payload: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            name: "contrail-link".into(),
            auth: Auth::None,
            tls: LinkTls::Off,
            echo: true,
            ping_interval: 120 * SECONDS,
            max_pings_out: 2,
            connect_timeout: 5 * SECONDS,
            backoff: Backoff::default(),
            seed: 0,
            inbox_prefix: None,
            max_pending_bytes: 8 * 1024 * 1024,
            max_pending_requests: 4096,
            max_control_line: 32 * 1024,
            max_incoming_payload: 64 * 1024 * 1024,
        }
    }
}
