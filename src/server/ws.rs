//! The NATS protocol over WebSocket, as nats-server serves it to browsers.
//!
//! Binary frames (text frames accepted too), no subprotocol. The frames are only a transport:
//! their payloads are concatenated into the same parser as TCP, so an op may span frames and a
//! frame may hold many ops. Each outbound batch the connection's writer takes becomes one
//! binary frame, which is what browsers want (they pay per frame).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::conn::{ByteReader, ByteWriter, ConnKind, Greeting};
use super::Shared;

/// Time a client has to finish the upgrade handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest WebSocket message (and frame) accepted.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// What WebSocket runs over: TCP, or TLS over TCP for `websocket { tls }` (wss).
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// Reads frames into the parser's buffer.
pub struct WsReader<S>(SplitStream<WebSocketStream<S>>);

/// Sends each outbound batch as one binary frame.
pub struct WsWriter<S>(SplitSink<WebSocketStream<S>, Message>);

impl<S: Transport> ByteReader for WsReader<S> {
    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(0),
                Some(Err(err)) => return Err(io::Error::other(err)),
                Some(Ok(Message::Binary(data))) if !data.is_empty() => {
                    buf.extend_from_slice(&data);
                    return Ok(data.len());
                }
                Some(Ok(Message::Text(text))) if !text.is_empty() => {
                    buf.extend_from_slice(text.as_bytes());
                    return Ok(text.len());
                }
                // Pings are answered by the library; empty frames carry nothing.
                Some(Ok(_)) => continue,
            }
        }
    }
}

impl<S: Transport> ByteWriter for WsWriter<S> {
    async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        self.0
            .send(Message::Binary(bytes))
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
        if !super::has_room(&shared) {
            drop(stream);
            continue;
        }
        tokio::spawn(secure_then_upgrade(shared.clone(), stream, peer));
    }
}

/// With `websocket { tls }`, the TLS handshake first (wss), then the WebSocket upgrade.
async fn secure_then_upgrade(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    match shared.config.tls.websocket.clone() {
        Some(tls) => {
            if let Some(stream) = tls.accept(stream, peer).await {
                upgrade(shared, stream, peer).await;
            }
        }
        None => upgrade(shared, stream, peer).await,
    }
}

async fn upgrade<S: Transport>(shared: Arc<Shared>, stream: S, peer: SocketAddr) {
    // A frame may batch many ops, so it is not bounded by max_payload (the parser bounds each
    // op); these limits only bound the memory one connection can make the server hold.
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(config));
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
    let (sink, stream) = ws.split();
    super::run_conn(
        shared,
        WsReader(stream),
        WsWriter(sink),
        peer,
        ConnKind::WebSocket,
        Greeting::SendInfo,
    )
    .await;
}
