//! The NATS protocol over WebSocket, as nats-server serves it to browsers.
//!
//! Binary frames (text frames accepted too), no subprotocol. The frames are only a transport:
//! their payloads are concatenated into the same parser as TCP, so an op may span frames and a
//! frame may hold many ops. Each outbound batch the connection's writer takes becomes binary
//! frames of at most `MAX_OUT_FRAME` bytes: few frames, which is what browsers want (they pay
//! per frame), yet a browser sees a frame's messages only once the whole frame is in, so one
//! frame per batch would hold a long delivery (a flow-control window of a mirror catching up,
//! megabytes) back until its last byte arrived. nats-server frames for browsers at 4 KiB.
//!
//! Two bounds keep a client from pinning memory: the library assembles a fragmented message
//! before handing it over, so the socket under it ([`BudgetedStream`]) lets it read only so much
//! past the last whole message: a little (a control line) until the client's first op (CONNECT)
//! has arrived, then one message's worth. And, as nats-server, a handshake whose `Origin` is not
//! allowed (`allowed_origins`, `same_origin`) gets `403 Forbidden`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{StatusCode, Uri};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::conn::{ByteReader, ByteWriter, ConnKind, Greeting};
use super::Shared;

/// Time a client has to finish the upgrade handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest WebSocket message (and frame) the library accepts at all.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Bytes the upgrade request may take.
const HANDSHAKE_BYTES: usize = 64 * 1024;
/// Largest frame the server sends: a batch bigger than this goes out as several frames.
const MAX_OUT_FRAME: usize = 64 * 1024;
/// Room for WebSocket frame headers on top of the protocol bytes a budget allows.
const FRAMING_SLACK: usize = 1024;

/// How many bytes the library may read past the last whole message it handed over.
struct ReadBudget {
    used: AtomicUsize,
    limit: AtomicUsize,
}

impl ReadBudget {
    fn new(limit: usize) -> Arc<ReadBudget> {
        Arc::new(ReadBudget {
            used: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
        })
    }

    /// A whole message came out: what was read is no longer held.
    fn message_out(&self) {
        self.used.store(0, Ordering::Relaxed);
    }

    fn set_limit(&self, limit: usize) {
        self.used.store(0, Ordering::Relaxed);
        self.limit.store(limit, Ordering::Relaxed);
    }
}

/// The TCP stream under the WebSocket library, reading no more than its `ReadBudget` allows
/// (a client that sends more without finishing a message is cut off).
pub struct BudgetedStream<S> {
    inner: S,
    budget: Arc<ReadBudget>,
}

impl<S: Transport> AsyncRead for BudgetedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let used = self.budget.used.load(Ordering::Relaxed);
        let room = self
            .budget
            .limit
            .load(Ordering::Relaxed)
            .saturating_sub(used);
        if room == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "websocket message too large",
            )));
        }
        let max = room.min(buf.remaining());
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(max));
        let result = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        buf.advance(n);
        self.budget.used.fetch_add(n, Ordering::Relaxed);
        result
    }
}

impl<S: Transport> AsyncWrite for BudgetedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What WebSocket runs over: TCP, or TLS over TCP for `websocket { tls }` (wss).
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// Reads frames into the parser's buffer.
pub struct WsReader<S> {
    frames: SplitStream<WebSocketStream<BudgetedStream<S>>>,
    budget: Arc<ReadBudget>,
    /// The client's first op (CONNECT) has fully arrived; the budget is then one message.
    first_op_done: bool,
    /// The budget after the first op.
    message_budget: usize,
}

impl<S> WsReader<S> {
    /// Notes the bytes a message brought; the first line end lifts the pre-CONNECT budget.
    fn took(&mut self, data: &[u8]) {
        self.budget.message_out();
        if !self.first_op_done && data.contains(&b'\n') {
            self.first_op_done = true;
            self.budget.set_limit(self.message_budget);
        }
    }
}

/// Sends each outbound batch as binary frames of at most `MAX_OUT_FRAME` (64 KiB).
pub struct WsWriter<S>(SplitSink<WebSocketStream<BudgetedStream<S>>, Message>);

impl<S: Transport> ByteReader for WsReader<S> {
    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            match self.frames.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(0),
                Some(Err(err)) => return Err(io::Error::other(err)),
                Some(Ok(Message::Binary(data))) if !data.is_empty() => {
                    self.took(&data);
                    buf.extend_from_slice(&data);
                    return Ok(data.len());
                }
                Some(Ok(Message::Text(text))) if !text.is_empty() => {
                    self.took(text.as_bytes());
                    buf.extend_from_slice(text.as_bytes());
                    return Ok(text.len());
                }
                // Pings are answered by the library; empty frames carry nothing.
                Some(Ok(_)) => self.budget.message_out(),
            }
        }
    }
}

impl<S: Transport> ByteWriter for WsWriter<S> {
    async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        let mut rest = bytes;
        while rest.len() > MAX_OUT_FRAME {
            let frame = rest.split_to(MAX_OUT_FRAME);
            self.0
                .feed(Message::Binary(frame))
                .await
                .map_err(io::Error::other)?;
        }
        self.0
            .send(Message::Binary(rest))
            .await
            .map_err(io::Error::other)
    }

    async fn close(&mut self) {
        let _ = self.0.close().await;
    }
}

/// Accepts WebSocket clients until the task is aborted.
pub async fn accept(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(%err, "websocket accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // The place is taken before the handshake, so half-open handshakes count too.
        let Some(slot) = super::ConnSlot::reserve(&shared) else {
            drop(stream);
            continue;
        };
        tokio::spawn(secure_then_upgrade(slot, stream, peer));
    }
}

/// With `websocket { tls }`, the TLS handshake first (wss), then the WebSocket upgrade.
async fn secure_then_upgrade(slot: super::ConnSlot, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    match slot.shared().config.tls.websocket.clone() {
        Some(tls) => {
            if let Some(stream) = tls.accept(stream, peer).await {
                upgrade(slot, stream, peer).await;
            }
        }
        None => upgrade(slot, stream, peer).await,
    }
}

async fn upgrade<S: Transport>(slot: super::ConnSlot, stream: S, peer: SocketAddr) {
    let shared = slot.shared().clone();
    let config = &shared.config;
    // A frame may batch many ops, so it is not bounded by max_payload alone (the parser bounds
    // each op); the budgets below bound what one connection can make the server hold.
    let pre_connect = config.max_control_line + FRAMING_SLACK;
    let message_budget =
        (2 * (config.max_payload + config.max_control_line) + FRAMING_SLACK).min(MAX_MESSAGE);
    let budget = ReadBudget::new(HANDSHAKE_BYTES);
    let stream = BudgetedStream {
        inner: stream,
        budget: budget.clone(),
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let origins = OriginPolicy {
        allowed: &config.ws_allowed_origins,
        same_origin: config.ws_same_origin,
        secure: config.tls.websocket.is_some(),
    };
    // The error type is the library's callback contract (the refusal response itself).
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| match origins.check(req) {
        Ok(()) => Ok(resp),
        Err(why) => {
            tracing::debug!(%peer, %why, "websocket handshake error: origin not allowed");
            Err(forbidden())
        }
    };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(ws_config));
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(err)) => {
            tracing::debug!(%peer, %err, "websocket handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "websocket handshake timed out");
            return;
        }
    };
    budget.set_limit(pre_connect);
    let (sink, frames) = ws.split();
    let reader = WsReader {
        frames,
        budget,
        first_op_done: false,
        message_budget,
    };
    super::run_conn(
        slot,
        reader,
        WsWriter(sink),
        peer,
        ConnKind::WebSocket,
        Greeting::SendInfo,
    )
    .await;
}

/// nats-server's answer to a disallowed origin: Go's `http.Error` with status 403.
fn forbidden() -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some("Forbidden\n".to_string()));
    *resp.status_mut() = StatusCode::FORBIDDEN;
    let headers = resp.headers_mut();
    for (name, value) in [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Sec-Websocket-Version", "13"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Length", "10"),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    resp
}

/// Which browser origins may open a WebSocket (nats-server's `allowed_origins`, `same_origin`).
pub struct OriginPolicy<'a> {
    /// Origins (`scheme://host[:port]`) allowed; empty: any.
    pub allowed: &'a [String],
    /// The origin must be the host the request was sent to.
    pub same_origin: bool,
    /// The listener speaks TLS (wss), so a same origin is an `https` one.
    pub secure: bool,
}

impl OriginPolicy<'_> {
    /// `Ok` when the handshake may proceed; the reason otherwise. A request without `Origin` is
    /// allowed, as in nats-server (only browsers send one, and other clients can forge it).
    pub fn check(&self, req: &Request) -> Result<(), String> {
        if !self.same_origin && self.allowed.is_empty() {
            return Ok(());
        }
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        };
        let Some(origin) = header("Origin").or_else(|| header("Sec-Websocket-Origin")) else {
            return Ok(());
        };
        let (scheme, host, port) = parse_origin(origin)?;
        if self.same_origin {
            let target = header("Host").ok_or("no Host header")?;
            let (req_host, req_port) = host_and_port(target, self.secure)?;
            let own_scheme = if self.secure { "https" } else { "http" };
            if host != req_host || port != req_port || !scheme.eq_ignore_ascii_case(own_scheme) {
                return Err("not same origin".into());
            }
        }
        if !self.allowed.is_empty() {
            let listed = self.allowed.iter().filter_map(|a| parse_origin(a).ok());
            if !listed
                .into_iter()
                .any(|(s, h, p)| s == scheme && h == host && p == port)
            {
                return Err("not in the allowed list".into());
            }
        }
        Ok(())
    }
}

/// Checks each entry of an `allowed_origins` list parses, as nats-server does at startup.
pub fn validate_origins(origins: &[String]) -> Result<(), String> {
    for origin in origins {
        parse_origin(origin).map_err(|err| format!("unable to parse allowed origin: {err}"))?;
    }
    Ok(())
}

/// (scheme, host, port) of an origin; the port defaults from the scheme.
fn parse_origin(origin: &str) -> Result<(String, String, String), String> {
    let uri: Uri = origin
        .parse()
        .map_err(|err| format!("bad origin {origin:?}: {err}"))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| format!("bad origin {origin:?}: no scheme"))?
        .to_string();
    let authority = uri
        .authority()
        .ok_or_else(|| format!("bad origin {origin:?}: no host"))?;
    let (host, port) = host_and_port(authority.as_str(), scheme == "https")?;
    Ok((scheme, host, port))
}

/// Splits `host[:port]`, with 443 or 80 when the port is missing.
fn host_and_port(hostport: &str, tls: bool) -> Result<(String, String), String> {
    let default = if tls { "443" } else { "80" };
    let (host, port) = match hostport.rsplit_once(':') {
        // A bare IPv6 address in brackets has colons but no port after the bracket.
        Some((host, port)) if !port.contains(']') => (host, port),
        _ => (hostport, default),
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("bad host {hostport:?}"));
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        port.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&str>, host: &str) -> Request {
        let mut builder = Request::builder().uri("/").header("Host", host);
        if let Some(origin) = origin {
            builder = builder.header("Origin", origin);
        }
        builder.body(()).expect("request")
    }

    #[test]
    fn any_origin_passes_without_a_policy() {
        let policy = OriginPolicy {
            allowed: &[],
            same_origin: false,
            secure: false,
        };
        assert!(policy
            .check(&request(Some("http://evil.example"), "x:1"))
            .is_ok());
    }

    #[test]
    fn allowed_list_compares_scheme_host_and_port() {
        let allowed = vec![
            "http://app.example".to_string(),
            "https://b.example:8443".into(),
        ];
        let policy = OriginPolicy {
            allowed: &allowed,
            same_origin: false,
            secure: false,
        };
        let ok = |origin| policy.check(&request(Some(origin), "srv:9222")).is_ok();
        assert!(ok("http://app.example"));
        assert!(ok("http://app.example:80"));
        assert!(ok("https://b.example:8443"));
        assert!(!ok("https://app.example"));
        assert!(!ok("http://app.example:8080"));
        assert!(!ok("http://evil.example"));
        assert!(
            policy.check(&request(None, "srv:9222")).is_ok(),
            "no Origin"
        );
    }

    #[test]
    fn same_origin_compares_with_host() {
        let policy = OriginPolicy {
            allowed: &[],
            same_origin: true,
            secure: false,
        };
        assert!(policy
            .check(&request(Some("http://localhost:9222"), "localhost:9222"))
            .is_ok());
        assert!(policy
            .check(&request(Some("http://localhost:9223"), "localhost:9222"))
            .is_err());
        assert!(policy
            .check(&request(Some("https://localhost:9222"), "localhost:9222"))
            .is_err());
    }

    #[test]
    fn unparsable_allowed_origins_are_refused() {
        assert!(validate_origins(&["http://ok.example:1".into()]).is_ok());
        assert!(validate_origins(&["not an origin".into()]).is_err());
    }
}
