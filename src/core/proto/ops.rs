//! The operations of the NATS client protocol as values, and the JSON bodies of CONNECT and INFO.
//!
//! Field names, defaults and omissions follow nats-server's `ClientOpts` (`client.go`) and `Info`
//! (`server.go`): a CONNECT field that is missing takes the value nats-server assumes, unknown
//! fields are ignored, and an INFO leaves out the fields Go's `omitempty` would.

use serde::{Deserialize, Serialize};

use crate::core::message::Message;

/// An operation a client sends to a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`: the client's options and credentials.
    Connect(Box<Connect>),
    /// `PUB` (headers `None`) or `HPUB` (headers `Some`, possibly empty): a message to publish.
    Pub(Message),
    /// `SUB <subject> [queue] <sid>`: start a subscription.
    Sub {
        /// Subject filter.
        subject: String,
        /// Queue group, if any.
        queue: Option<String>,
        /// The client's id for the subscription.
        sid: String,
    },
    /// `UNSUB <sid> [max]`: end a subscription, at once or after `max` messages in total.
    ///
    /// As in nats-server, a `max` that is not a number reads as `None` (unsubscribe now), and a max
    /// the subscription has already reached also unsubscribes at once; the server decides that.
    Unsub {
        /// The subscription's id.
        sid: String,
        /// Total number of messages after which the subscription ends.
        max: Option<u64>,
    },
    /// `PING`: keepalive; answer with `PONG`.
    Ping,
    /// `PONG`: answer to a `PING`.
    Pong,
}

/// An operation a server sends to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp {
    /// `INFO {json}`: the server describes itself.
    Info(Box<ServerInfo>),
    /// `MSG` (headers `None`) or `HMSG` (headers `Some`): a message for subscription `sid`.
    Msg {
        /// The subscription it is delivered to.
        sid: String,
        /// The message.
        msg: Message,
    },
    /// `PING`: keepalive; answer with `PONG`.
    Ping,
    /// `PONG`: answer to a `PING`.
    Pong,
    /// `+OK`: acknowledgement, in verbose mode only.
    Ok,
    /// `-ERR '<text>'`: an error, the text without its quotes.
    Err(String),
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn yes() -> bool {
    true
}

/// The JSON of a CONNECT.
///
/// A missing field takes nats-server's default: `verbose`, `pedantic` and `echo` are true unless
/// the client says otherwise, everything else false or empty. Clients normally send all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connect {
    /// Answer every operation with `+OK`.
    #[serde(default = "yes")]
    pub verbose: bool,
    /// Check subjects strictly (`Invalid Publish Subject`).
    #[serde(default = "yes")]
    pub pedantic: bool,
    /// The client requires TLS.
    pub tls_required: bool,
    /// Client name, shown in monitoring.
    pub name: String,
    /// Client library language.
    pub lang: String,
    /// Client library version.
    pub version: String,
    /// Protocol level: 0 original, 1 dynamic cluster INFO.
    pub protocol: i64,
    /// Deliver the client's own publishes to its own subscriptions.
    #[serde(default = "yes")]
    pub echo: bool,
    /// The client understands HPUB/HMSG.
    #[serde(skip_serializing_if = "is_false")]
    pub headers: bool,
    /// Send a `503` status when a request has no responders (needs `headers`).
    #[serde(skip_serializing_if = "is_false")]
    pub no_responders: bool,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// Authentication token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// User JWT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// Public NKey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// Signature of the server's nonce.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl Default for Connect {
    /// What nats-server assumes for a CONNECT `{}`.
    fn default() -> Self {
        Connect {
            verbose: true,
            pedantic: true,
            tls_required: false,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            protocol: 0,
            echo: true,
            headers: false,
            no_responders: false,
            user: None,
            pass: None,
            auth_token: None,
            jwt: None,
            nkey: None,
            sig: None,
        }
    }
}

/// The JSON of an INFO.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    /// Unique server id.
    pub server_id: String,
    /// Server name.
    pub server_name: String,
    /// Server version, semver.
    pub version: String,
    /// Protocol level (1).
    pub proto: i64,
    /// Git commit of the build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Go version in nats-server; Contrail puts its toolchain here.
    pub go: String,
    /// Listen host.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// The server understands HPUB/HMSG.
    pub headers: bool,
    /// Credentials are required in CONNECT.
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    /// TLS is required.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// Client certificates are verified.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// TLS is offered but optional.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    /// Largest payload the server accepts, in bytes.
    pub max_payload: i64,
    /// JetStream is enabled.
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    /// The server's own IP, if it advertises one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The id the server gave this connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u64>,
    /// The client's address as the server sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// Nonce to sign for NKey/JWT authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Cluster name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// JetStream domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Other URLs clients may connect to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// Other WebSocket URLs clients may connect to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    /// The server is in lame duck mode: clients should move elsewhere.
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// JetStream API level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_lvl: Option<i64>,
}
