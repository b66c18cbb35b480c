//! Limits that keep one client from taking the server from the others, checked against the real
//! server binary and nats-server: `max_connections` under a burst of TCP connects and of
//! WebSocket handshakes that never send CONNECT, a WebSocket client that never finishes its first
//! message, and `allowed_origins` (403 for another origin). The static file rules (symlinks out of
//! `www/`, `node_modules`, dot-files) are Contrail's own feature: that test runs on Contrail only
//! and says so when skipped.

mod interop_support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interop_support::{bounded, http_get, ws_port_from_log, Kind, Options, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const MAX_CONNECTIONS: usize = 50;
/// Longest a single outcome (admitted or refused) may take to show.
const OUTCOME_WAIT: Duration = Duration::from_secs(10);

/// A server with `max_connections: 50` and, on request, a WebSocket listener whose port the
/// server picks (read back from its log) and extra `websocket {}` keys.
fn start(websocket: Option<&str>) -> (TestServer, Option<u16>) {
    let mut config = format!("max_connections: {MAX_CONNECTIONS}\n");
    if let Some(extra) = websocket {
        config.push_str(&format!("websocket {{ port: -1, no_tls: true {extra} }}\n"));
    }
    let server = TestServer::start_with(Options {
        config: Some(config),
        ..Default::default()
    });
    let ws_port = websocket.map(|_| ws_port_from_log(&server));
    (server, ws_port)
}

/// Connects over TCP, sends CONNECT and PING: `Some(stream)` (kept open) when the server
/// answers PONG, `None` when it refuses (-ERR or close).
async fn nats_connect(port: u16) -> Option<TcpStream> {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    sock.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .ok()?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let outcome = tokio::time::timeout(OUTCOME_WAIT, async {
        loop {
            let n = sock.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return false;
            }
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.contains("-ERR") {
                return false;
            }
            if text.contains("PONG") {
                return true;
            }
        }
    })
    .await
    .expect("the server admits or refuses in time");
    outcome.then_some(sock)
}

/// A WebSocket upgrade with an optional `Origin`.
async fn ws_handshake(port: u16, origin: Option<&str>) -> Result<Ws, WsError> {
    let mut req = format!("ws://127.0.0.1:{port}")
        .into_client_request()
        .expect("request");
    if let Some(origin) = origin {
        req.headers_mut()
            .insert("Origin", origin.parse().expect("header value"));
    }
    let (ws, _) = tokio::time::timeout(OUTCOME_WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake answered in time")?;
    Ok(ws)
}

/// Whether the server's first frame is its INFO.
async fn greeted(ws: &mut Ws) -> bool {
    match tokio::time::timeout(OUTCOME_WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Binary(data)))) => data.starts_with(b"INFO"),
        Ok(Some(Ok(Message::Text(text)))) => text.starts_with("INFO"),
        _ => false,
    }
}

/// Whether the server keeps a WebSocket client that sent no CONNECT: it answers a PING with
/// PONG (nats-server sends INFO even to a client it is about to refuse, then -ERR and closes).
async fn admitted_without_connect(ws: &mut Ws) -> bool {
    if !greeted(ws).await || ws.send(Message::binary(&b"PING\r\n"[..])).await.is_err() {
        return false;
    }
    let answer = tokio::time::timeout(OUTCOME_WAIT, async {
        let mut seen = Vec::new();
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(data))) => seen.extend_from_slice(&data),
                Some(Ok(Message::Text(text))) => seen.extend_from_slice(text.as_bytes()),
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => return false,
            }
            let text = String::from_utf8_lossy(&seen);
            if text.contains("-ERR") {
                return false;
            }
            if text.contains("PONG") {
                return true;
            }
        }
    })
    .await;
    answer.expect("the server admits or refuses in time")
}

#[tokio::test]
async fn max_connections_holds_under_a_burst_of_tcp_connects() {
    let (server, _) = start(None);
    let port = server.port;
    bounded(async move {
        let tasks: Vec<_> = (0..3 * MAX_CONNECTIONS)
            .map(|_| tokio::spawn(nats_connect(port)))
            .collect();
        let mut admitted = Vec::new();
        for task in tasks {
            if let Some(sock) = task.await.expect("task") {
                admitted.push(sock);
            }
        }
        assert_eq!(admitted.len(), MAX_CONNECTIONS, "connections admitted");
        // Full: one more is refused; after one leaves, one more gets in.
        assert!(nats_connect(port).await.is_none(), "over the limit");
        drop(admitted.pop());
        let mut again = None;
        for _ in 0..100 {
            again = nats_connect(port).await;
            if again.is_some() {
                break;
            }
            // The server notices the close asynchronously; retry a bounded number of times.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(again.is_some(), "a freed place is reused");
    })
    .await;
}

#[tokio::test]
async fn websocket_handshakes_without_connect_count_toward_max_connections() {
    let (server, ws_port) = start(Some(""));
    let ws_port = ws_port.expect("websocket");
    let port = server.port;
    bounded(async move {
        let tasks: Vec<_> = (0..MAX_CONNECTIONS + 20)
            .map(|_| {
                tokio::spawn(async move {
                    let mut ws = ws_handshake(ws_port, None).await.ok()?;
                    admitted_without_connect(&mut ws).await.then_some(ws)
                })
            })
            .collect();
        let mut held = Vec::new();
        for task in tasks {
            if let Some(ws) = task.await.expect("task") {
                held.push(ws);
            }
        }
        assert_eq!(held.len(), MAX_CONNECTIONS, "websocket clients admitted");
        // They never sent CONNECT, and still hold every place: a TCP client is refused.
        assert!(nats_connect(port).await.is_none(), "over the limit");
    })
    .await;
}

#[tokio::test]
async fn a_websocket_message_that_never_ends_is_cut_off() {
    let (_server, ws_port) = start(Some(""));
    let ws_port = ws_port.expect("websocket");
    bounded(async move {
        let mut ws = ws_handshake(ws_port, None).await.expect("handshake");
        assert!(greeted(&mut ws).await, "INFO first");
        // One binary message in 16 KB fragments, never final: up to 8 MB of a control line.
        let chunk = vec![b' '; 16 * 1024];
        let mut sent = 0usize;
        let mut cut_off = false;
        for i in 0..512 {
            let opcode = if i == 0 {
                OpCode::Data(Data::Binary)
            } else {
                OpCode::Data(Data::Continue)
            };
            let mut payload = chunk.clone();
            if i == 0 {
                payload[..9].copy_from_slice(b"CONNECT {");
            }
            let frame = Frame::message(payload, opcode, false);
            if ws.send(Message::Frame(frame)).await.is_err() {
                cut_off = true;
                break;
            }
            sent += chunk.len();
        }
        if !cut_off {
            // Everything was written into socket buffers: the server must still close.
            let end = tokio::time::timeout(OUTCOME_WAIT, async {
                loop {
                    match ws.next().await {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                        Some(Ok(_)) => continue,
                    }
                }
            })
            .await;
            cut_off = end.unwrap_or(false);
        }
        assert!(
            cut_off,
            "connection still open after {sent} bytes of one message"
        );
    })
    .await;
}

#[tokio::test]
async fn websocket_origin_outside_allowed_origins_gets_403() {
    let (_server, ws_port) = start(Some(", allowed_origins: [\"http://allowed.example\"]"));
    let ws_port = ws_port.expect("websocket");
    bounded(async move {
        match ws_handshake(ws_port, Some("http://evil.example")).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403),
            Err(other) => panic!("expected 403, got {other}"),
            Ok(_) => panic!("a disallowed origin connected"),
        }
        let mut allowed = ws_handshake(ws_port, Some("http://allowed.example"))
            .await
            .expect("allowed origin connects");
        assert!(greeted(&mut allowed).await, "INFO to the allowed origin");
        // Non-browser clients send no Origin and are let through, as in nats-server.
        let mut plain = ws_handshake(ws_port, None).await.expect("no origin");
        assert!(greeted(&mut plain).await);
    })
    .await;
}

#[test]
fn static_files_stay_in_www_without_node_modules_or_dot_files() {
    if interop_support::kind() != Kind::Contrail {
        eprintln!("SKIPPED (not run): static files are Contrail's own feature, not nats-server's");
        return;
    }
    let server = TestServer::start_with(Options {
        http: true,
        ..Default::default()
    });
    let port = server.http_port.expect("http");
    let dir = &server.dir;
    for (path, body) in [
        ("secret.txt", "do not serve"),
        ("www/page.html", "page"),
        ("www/node_modules/dep/index.js", "do not serve"),
        ("pkg/node_modules/dep/index.js", "do not serve"),
        ("www/.env", "do not serve"),
    ] {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, body).expect("write");
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("www/link.txt")).expect("symlink");
    assert_eq!(http_get(port, "/page.html"), (200, "page".to_string()));
    for path in [
        "/link.txt",
        "/node_modules/dep/index.js",
        "/pkg/node_modules/dep/index.js",
        "/.env",
    ] {
        let (status, body) = http_get(port, path);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("do not serve"), "{path} leaked");
    }
}
