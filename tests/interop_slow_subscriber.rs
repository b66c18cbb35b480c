//! A publisher faster than its subscriber: the server slows the publisher (TCP pushes back
//! once the server stops reading it) rather than cutting the subscriber off as a slow consumer,
//! as long as the subscriber keeps reading; one that stops reading is still cut off at
//! `max_pending`. Plain sockets on both sides, so no client library buffers or drops anything,
//! checked against the real server binary and nats-server.

mod interop_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use interop_support::{Options, TestServer};

/// The subscriber's outbound bound on the server: far below what the publisher sends.
const MAX_PENDING: usize = 8 << 20;
const PAYLOAD: usize = 1024;
/// 48 MiB of payload: several times `MAX_PENDING` and the kernel's socket buffers together.
const MESSAGES: usize = 48 * 1024;

fn start() -> TestServer {
    TestServer::start_with(Options {
        config: Some(format!("max_pending: {MAX_PENDING}\n")),
        http: true,
        ..Default::default()
    })
}

/// The server's count of slow consumers cut off (`/varz`).
fn slow_consumers(server: &TestServer) -> u64 {
    let port = server.http_port.expect("monitoring on");
    let varz = interop_support::http_json(port, "/varz");
    varz["slow_consumers"]
        .as_u64()
        .expect("varz.slow_consumers")
}

/// A plain socket that has sent CONNECT and `ops` and read the PONG, with bounded reads and
/// writes.
fn client(port: u16, ops: &str) -> TcpStream {
    let sock = interop_support::raw_client(port, ops);
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    sock.set_write_timeout(Some(Duration::from_secs(30)))
        .expect("write timeout");
    sock
}

/// Publishes `MESSAGES` to `slow.sub` as fast as the server takes them, on a thread of its own.
fn publish_all(port: u16) -> std::thread::JoinHandle<()> {
    let mut publisher = client(port, "");
    std::thread::spawn(move || {
        let payload = "x".repeat(PAYLOAD);
        let op = format!("PUB slow.sub {PAYLOAD}\r\n{payload}\r\n");
        let chunk = op.repeat(64);
        for _ in 0..MESSAGES / 64 {
            publisher.write_all(chunk.as_bytes()).expect("publish");
        }
        publisher.write_all(b"PING\r\n").expect("ping");
        let mut tail = Vec::new();
        let mut buf = [0u8; 256];
        // A PING of the server's own may come along: look for the PONG anywhere.
        while !tail.windows(6).any(|w| w == b"PONG\r\n") {
            let n = publisher.read(&mut buf).expect("read the PONG");
            assert!(
                n > 0,
                "publisher closed: {}",
                String::from_utf8_lossy(&tail)
            );
            tail.extend_from_slice(&buf[..n]);
        }
    })
}

/// What the subscriber has read, taken apart op by op as it arrives.
#[derive(Default)]
struct Received {
    unparsed: Vec<u8>,
    deliveries: usize,
}

impl Received {
    /// Adds `bytes` and counts the complete deliveries; answers the server's PINGs on `sock`.
    /// `Err` with the server's line when it says `-ERR`.
    fn take(&mut self, bytes: &[u8], sock: &mut TcpStream) -> Result<(), String> {
        self.unparsed.extend_from_slice(bytes);
        let mut at = 0;
        while let Some(end) = find_crlf(&self.unparsed[at..]) {
            let line = &self.unparsed[at..at + end];
            let op_len = if let Some(args) = line.strip_prefix(b"MSG ") {
                let size = std::str::from_utf8(args)
                    .ok()
                    .and_then(|a| a.rsplit(' ').next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| format!("bad MSG line {:?}", String::from_utf8_lossy(line)))?;
                if self.unparsed.len() - at < end + 2 + size + 2 {
                    break;
                }
                self.deliveries += 1;
                end + 2 + size + 2
            } else if line.starts_with(b"-ERR") {
                return Err(String::from_utf8_lossy(line).into_owned());
            } else {
                if line == b"PING" {
                    sock.write_all(b"PONG\r\n").map_err(|e| e.to_string())?;
                }
                end + 2
            };
            at += op_len;
        }
        self.unparsed.drain(..at);
        Ok(())
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[test]
fn a_subscriber_that_keeps_reading_slowly_gets_every_message() {
    let server = start();
    let mut sub = client(server.port, "SUB slow.sub 1\r\n");
    let publisher = publish_all(server.port);
    let mut received = Received::default();
    let mut buf = vec![0u8; 64 << 10];
    // About 32 MiB/s: slower than the publisher, fast enough to finish in a few seconds.
    while received.deliveries < MESSAGES {
        let n = sub.read(&mut buf).expect("read deliveries");
        let outcome = if n == 0 {
            Err("closed".to_string())
        } else {
            received.take(&buf[..n], &mut sub)
        };
        if let Err(why) = outcome {
            panic!(
                "cut off after {} of {MESSAGES} messages: {why}\nserver log:\n{}",
                received.deliveries,
                server.log()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        received.deliveries, MESSAGES,
        "exactly the messages published"
    );
    publisher.join().expect("the publisher finished");
    assert_eq!(slow_consumers(&server), 0);
}

#[test]
fn a_subscriber_that_stops_reading_is_still_cut_off() {
    let server = start();
    let mut sub = client(server.port, "SUB slow.sub 1\r\n");
    let publisher = publish_all(server.port);
    // Never reads while the publisher sends: once the kernel's buffers are full, the server's
    // outbound bytes for it pass `max_pending`.
    publisher
        .join()
        .expect("the publisher is slowed, never stopped");
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match sub.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let mut received = Received::default();
    let said = received.take(&seen, &mut sub);
    assert!(
        received.deliveries < MESSAGES,
        "a subscriber that did not read was never cut off ({said:?})"
    );
    assert_eq!(slow_consumers(&server), 1, "counted in /varz");
}
