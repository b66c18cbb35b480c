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
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::conn::{ByteReader, ByteWriter, ConnKind};
use super::Shared;

/// Time a client has to finish the upgrade handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest WebSocket message (and frame) accepted.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Reads frames into the parser's buffer.
pub struct WsReader(SplitStream<WebSocketStream<TcpStream>>);

/// Sends each outbound batch as one binary frame.
pub struct WsWriter(SplitSink<WebSocketStream<TcpStream>, Message>);

impl ByteReader for WsReader {
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

impl ByteWriter for WsWriter {
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
        // The place is taken before the handshake, so half-open handshakes count too.
        let Some(slot) = super::ConnSlot::reserve(&shared) else {
            drop(stream);
            continue;
        };
        tokio::spawn(upgrade(slot, stream, peer));
    }
}

async fn upgrade(slot: super::ConnSlot, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
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
        slot,
        WsReader(stream),
        WsWriter(sink),
        peer,
        ConnKind::WebSocket,
    )
    .await;
}
