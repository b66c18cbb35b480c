//! TLS for the client, WebSocket and HTTPS ports, configured the way nats-server configures it.
//!
//! A nats-server config that has a `tls { }` block is served only over TLS: serving it in
//! plaintext would leave open what its operator meant to close. So every key nats-server reads
//! in that block is either honoured or refused with an error; nothing is silently ignored.
//!
//! - [`TlsSettings::from_conf`] reads the top-level `tls` block (the NATS port, and the HTTPS
//!   monitoring port as in nats-server), `websocket { tls }` and `https_port`, loads the PEM
//!   files and builds the rustls configurations, so a missing, unreadable or mismatched
//!   certificate or key stops the server at startup with an error naming the file (one block
//!   is read by `tls/block.rs`).
//! - `serve_client` runs nats-server's upgrade on the NATS port: INFO in plaintext (it says
//!   `tls_required`), then the TLS handshake within the block's `timeout`, then the client over
//!   TLS; with `handshake_first` the handshake comes before INFO.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::conn::{ByteReader, ByteWriter, ConnKind, Greeting};
use super::wire;

mod block;
mod client;

pub use client::LinkTlsClient;

/// Time a client has to finish the handshake when the block gives no `timeout` (nats-server's
/// `TLS_TIMEOUT`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the TLS settings could not be used; the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A key that must hold a block holds something else.
    #[error("{0} must be a block")]
    NotABlock(String),
    /// A field holds a value of the wrong kind.
    #[error("error parsing {block} config, expected '{field}' to be {expected}")]
    BadValue {
        /// `tls` or `websocket.tls`.
        block: String,
        /// The field.
        field: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// A field nats-server does not know in a TLS block.
    #[error("error parsing {block} config, unknown field {field:?}")]
    UnknownField {
        /// `tls` or `websocket.tls`.
        block: String,
        /// The field.
        field: String,
    },
    /// A nats-server feature Contrail does not have; refused rather than ignored, since
    /// ignoring it would weaken what the operator configured.
    #[error("{block}: '{field}' is not supported by contrail ({why})")]
    NotSupported {
        /// `tls` or `websocket.tls`.
        block: String,
        /// The field.
        field: String,
        /// What to do instead.
        why: &'static str,
    },
    /// The block names a certificate but no key, or the other way round, or neither.
    #[error("{block}: missing '{field}' in TLS configuration")]
    Missing {
        /// `tls` or `websocket.tls`.
        block: String,
        /// `cert_file` or `key_file`.
        field: &'static str,
    },
    /// A certificate, key or CA file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// A file holds no usable PEM item of the kind needed.
    #[error("{}: {what}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// rustls refused the certificate and key, e.g. a key that does not belong to the
    /// certificate.
    #[error("error parsing X509 certificate/key pair {} / {}: {source}", cert.display(), key.display())]
    KeyPair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// `verify` without `ca_file`, and no platform roots could be loaded.
    #[error("{block}: 'verify' needs 'ca_file' (no system root certificates found)")]
    NoRoots {
        /// `tls` or `websocket.tls`.
        block: String,
    },
    /// The client-certificate verifier could not be built from the CA roots.
    #[error("{block}: client certificate verification: {source}")]
    Verifier {
        /// `tls` or `websocket.tls`.
        block: String,
        /// What rustls said.
        source: rustls::server::VerifierBuilderError,
    },
    /// A cipher suite, curve or version this build cannot offer.
    #[error("{block}: {field} {value:?} is not supported")]
    Unsupported {
        /// `tls` or `websocket.tls`.
        block: String,
        /// `cipher_suites`, `curve_preferences` or `min_version`.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// rustls refused the protocol versions, suites and curves together.
    #[error("{block}: {source}")]
    Protocol {
        /// `tls` or `websocket.tls`.
        block: String,
        /// What rustls said.
        source: rustls::Error,
    },
    /// A link's `server_name` (or its URL's host) is not a name a certificate can carry.
    #[error("{block}: {name:?} is not a DNS name or IP address to verify the server by")]
    ServerName {
        /// `links[i].tls`.
        block: String,
        /// The name.
        name: String,
    },
    /// rustls refused the link's client certificate and key (e.g. a key of another
    /// certificate).
    #[error("{block}: client certificate/key pair {what}")]
    ClientKeyPair {
        /// `links[i].tls`.
        block: String,
        /// The files and what rustls said of them.
        what: String,
    },
    /// `websocket` has a port but neither `tls` nor `no_tls: true` (nats-server refuses it).
    #[error("websocket requires TLS configuration")]
    WebsocketNeedsTls,
    /// `https_port` without a top-level `tls` block.
    #[error("TLS cert and key required for HTTPS")]
    HttpsNeedsTls,
    /// Both an HTTP and an HTTPS monitoring port.
    #[error("can't specify both HTTP ({http}) and HTTPs ({https}) ports")]
    BothMonitorPorts {
        /// The HTTP port.
        http: i64,
        /// The HTTPS port.
        https: i64,
    },
}

/// One TLS block made ready to serve: the rustls configuration and nats-server's options
/// around it.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The certificate, key, client verification and protocol choices.
    pub config: Arc<rustls::ServerConfig>,
    /// Clients must present a certificate the CA signed (INFO `tls_verify`).
    pub verify: bool,
    /// Time a client has to finish the handshake.
    pub timeout: Duration,
    /// Handshake before INFO instead of after it.
    pub handshake_first: bool,
}

impl ServerTls {
    /// An acceptor for this configuration.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }

    /// Handshakes within the block's timeout; `None` (logged) when the client failed or took
    /// too long.
    pub async fn accept(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Option<TlsStream<TcpStream>> {
        match tokio::time::timeout(self.timeout, self.acceptor().accept(stream)).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(err)) => {
                tracing::debug!(%peer, %err, "TLS handshake error");
                None
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timeout");
                None
            }
        }
    }
}

/// Every TLS setting of a config file.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// The top-level `tls` block: the NATS port (and HTTPS monitoring) require TLS.
    pub client: Option<ServerTls>,
    /// `websocket { tls }`: the WebSocket port serves wss.
    pub websocket: Option<ServerTls>,
    /// `https_port` (`0`: off, `-1`: any free port): monitoring over TLS with the top-level
    /// block.
    pub https_port: i32,
}

impl TlsSettings {
    /// Reads `tls`, `websocket.tls`/`no_tls` and `https_port` from a parsed config file.
    pub fn from_conf(tree: &Value) -> Result<TlsSettings, TlsError> {
        let client = tree
            .get("tls")
            .map(|block| ServerTls::from_block("tls", block))
            .transpose()?;
        let mut websocket = None;
        if let Some(ws) = tree.get("websocket").filter(|v| v.is_object()) {
            websocket = ws
                .get("tls")
                .map(|block| ServerTls::from_block("websocket.tls", block))
                .transpose()?;
            let has_port = ws.get("port").and_then(Value::as_i64).unwrap_or(0) != 0
                || ws.get("listen").is_some();
            let no_tls = ws.get("no_tls").and_then(Value::as_bool) == Some(true);
            if has_port && websocket.is_none() && !no_tls {
                return Err(TlsError::WebsocketNeedsTls);
            }
        }
        let https_port = match tree.get("https_port") {
            None => 0,
            Some(v) => v
                .as_i64()
                .filter(|p| (-1..=65535).contains(p))
                .ok_or_else(|| TlsError::BadValue {
                    block: "server".into(),
                    field: "https_port".into(),
                    expected: "a port",
                })?,
        };
        if https_port != 0 {
            if client.is_none() {
                return Err(TlsError::HttpsNeedsTls);
            }
            for key in ["http_port", "monitor_port"] {
                if let Some(http) = tree.get(key).and_then(Value::as_i64).filter(|p| *p != 0) {
                    return Err(TlsError::BothMonitorPorts {
                        http,
                        https: https_port,
                    });
                }
            }
        }
        Ok(TlsSettings {
            client,
            websocket,
            https_port: https_port as i32,
        })
    }
}

/// The reading half of a client's TLS stream.
pub struct TlsReader(ReadHalf<TlsStream<TcpStream>>);

/// The writing half of a client's TLS stream.
pub struct TlsWriter(WriteHalf<TlsStream<TcpStream>>);

impl ByteReader for TlsReader {
    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(32 * 1024);
        }
        self.0.read_buf(buf).await
    }
}

impl ByteWriter for TlsWriter {
    async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        self.0.write_all(&bytes).await?;
        // rustls buffers records; push them out now, as a plain socket would.
        self.0.flush().await
    }

    async fn close(&mut self) {
        let _ = self.0.shutdown().await;
    }
}

/// Runs one client of the NATS port when the `tls` block requires TLS: INFO in plaintext, the
/// handshake, then the client over TLS (handshake first, then INFO over TLS, with
/// `handshake_first`). A client that does not handshake within the timeout is closed, as
/// nats-server closes it.
pub(crate) async fn serve_client(
    slot: super::ConnSlot,
    tls: ServerTls,
    mut stream: TcpStream,
    peer: SocketAddr,
) {
    let shared = slot.shared().clone();
    let greeting = if tls.handshake_first {
        Greeting::SendInfo
    } else {
        let id = shared.next_client_id();
        let (info, nonce) = shared.greeting_info(id, peer, ConnKind::Tcp);
        let info = wire::info_line(&info);
        match tokio::time::timeout(tls.timeout, stream.write_all(&info)).await {
            Ok(Ok(())) => Greeting::InfoSent { id, nonce },
            _ => return,
        }
    };
    let acceptor = tls.acceptor();
    let mut handshake = acceptor.accept(stream);
    let tls_stream = match tokio::time::timeout(tls.timeout, &mut handshake).await {
        Ok(Ok(tls_stream)) => tls_stream,
        Ok(Err(err)) => {
            tracing::debug!(%peer, %err, "TLS handshake error");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timeout");
            // nats-server's word for a client that never started the handshake, in the
            // plaintext it is still speaking.
            if let Some(tcp) = handshake.get_mut() {
                let _ = tcp.try_write(&wire::err_line("Secure Connection - TLS Required"));
            }
            return;
        }
    };
    let (reader, writer) = tokio::io::split(tls_stream);
    super::run_conn(
        slot,
        TlsReader(reader),
        TlsWriter(writer),
        peer,
        ConnKind::Tcp,
        greeting,
    )
    .await;
}
