//! Hostile and broken clients: garbage, an endless control line, a payload over max_payload, a
//! client that never reads. Each gets `-ERR` (when it can still hear it) and a closed
//! connection, and the server keeps serving everyone else.

mod interop_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use futures_util::StreamExt;
use interop_support::{bounded, Options, TestServer};

/// Sends `bytes` on a fresh raw connection and returns everything the server says until it
/// closes the connection (bounded by a 5 s read timeout).
fn send_raw(port: u16, bytes: &[u8]) -> String {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // The server may close while we are still writing; what it said before is what counts.
    let _ = sock.write_all(bytes);
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

async fn still_serving(server: &TestServer) {
    let client = server.client().await;
    let mut sub = client.subscribe("alive").await.expect("sub");
    client.publish("alive", "yes".into()).await.expect("pub");
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
    assert_eq!(msg.expect("in time").expect("msg").payload, "yes");
}

#[tokio::test]
async fn garbage_gets_unknown_protocol_operation_and_a_close() {
    let server = TestServer::start();
    let reply = send_raw(server.port, b"CONNECT {}\r\nHELLO THERE\r\nPING\r\n");
    assert!(
        reply.contains("-ERR 'Unknown Protocol Operation'"),
        "{reply}"
    );
    assert!(!reply.contains("PONG"), "nothing after the error: {reply}");
    bounded(still_serving(&server)).await;
}

#[tokio::test]
async fn an_endless_control_line_is_cut_off() {
    let server = TestServer::start();
    let mut line = b"CONNECT {}\r\nSUB ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let reply = send_raw(server.port, &line);
    assert!(
        reply.contains("-ERR 'maximum control line exceeded'"),
        "{reply}"
    );
    bounded(still_serving(&server)).await;
}

#[tokio::test]
async fn a_payload_over_max_payload_is_refused() {
    let server = TestServer::start();
    let reply = send_raw(server.port, b"CONNECT {}\r\nPUB big 2000000\r\n");
    assert!(
        reply.contains("-ERR 'Maximum Payload Violation'"),
        "{reply}"
    );
    bounded(still_serving(&server)).await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_others_keep_going() {
    let server = TestServer::start_with(Options {
        config: Some("max_pending: 1MB\nwrite_deadline: \"2s\"\n".into()),
        ..Default::default()
    });
    // The stuck client subscribes, then never reads a byte.
    let mut stuck = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stuck
        .write_all(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n")
        .expect("sub");
    // The PONG says the SUB is in place; after it, the client reads nothing more.
    stuck
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("PONG") {
        let n = stuck.read(&mut buf).expect("read INFO and PONG");
        assert!(n > 0 && seen.len() < 64 * 1024, "no PONG");
        seen.extend_from_slice(&buf[..n]);
    }
    bounded(async {
        let publisher = server.client().await;
        let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        for _ in 0..1000 {
            publisher
                .publish("flood", chunk.clone())
                .await
                .expect("pub");
        }
        publisher.flush().await.expect("flush");
        still_serving(&server).await;
    })
    .await;
    // The stuck connection was closed by the server: draining it reaches end of stream.
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut sink = vec![0u8; 1 << 20];
    let mut total = 0usize;
    let closed = loop {
        match stuck.read(&mut sink) {
            Ok(0) => break true,
            Ok(n) => total += n,
            Err(_) => break false,
        }
        if total > 200 * 1024 * 1024 {
            break false;
        }
    };
    assert!(
        closed,
        "the server must close a slow consumer (read {total} bytes)"
    );
    assert!(
        total < 64 * 1024 * 1000,
        "not everything was delivered: {total} bytes"
    );
}

#[tokio::test]
async fn a_client_that_ignores_pings_is_closed_as_stale() {
    let server = TestServer::start_with(Options {
        config: Some("ping_interval: \"1s\"\nping_max: 2\n".into()),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    // Never answers PING: after ping_max unanswered pings the server gives up.
    let reply = send_raw(server.port, b"CONNECT {\"verbose\":false}\r\n");
    assert!(reply.contains("PING"), "the server pinged: {reply}");
    assert!(reply.contains("-ERR 'Stale Connection'"), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed within a few intervals"
    );
    bounded(still_serving(&server)).await;
}

#[tokio::test]
async fn verbose_clients_get_ok_and_an_invalid_subject_gets_err_not_ok() {
    let server = TestServer::start();
    let mut sock = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    sock.write_all(b"CONNECT {\"verbose\":true}\r\nSUB ok.sub 1\r\nSUB bad..sub 2\r\nPING\r\n")
        .expect("write");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("PONG") {
        let n = sock.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let after_info = seen.split_once("\r\n").map(|(_, rest)| rest).unwrap_or("");
    assert_eq!(
        after_info,
        "+OK\r\n+OK\r\n-ERR 'Invalid Subject'\r\nPONG\r\n"
    );
}

#[tokio::test]
async fn connections_past_max_connections_are_refused_with_an_error() {
    let server = TestServer::start_with(Options {
        config: Some("max_connections: 2\n".into()),
        ..Default::default()
    });
    bounded(async {
        let _a = server.client().await;
        let _b = server.client().await;
        let reply = send_raw(server.port, b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        assert!(
            reply.contains("-ERR 'maximum connections exceeded'"),
            "{reply}"
        );
        assert!(!reply.contains("PONG"), "{reply}");
    })
    .await;
}
