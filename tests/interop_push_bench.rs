//! A mirror's origin consumer, measured from the wire: a push consumer with flow control and
//! idle heartbeats (as a mirror creates it: `ack_policy: none`, `max_deliver: 1`, `direct`),
//! delivering a file stream of `BENCH_PUSH_COUNT` 128 B messages (200,000 unless set) to a raw
//! client that answers each `100 FlowControl Request` at once, over TCP and over WebSocket
//! (where a browser sees a message only when its whole frame is in). Ignored by default (it
//! measures, it checks nothing); run it in release:
//! `cargo test --release --test interop_push_bench -- --ignored --nocapture`
//!
//! Per server and transport it prints: messages per second from the consumer create to the
//! last message; the longest gap between two arrivals of messages; the gap after each
//! flow-control reply until the next message arrives (median and max); and the largest chunk
//! the client got at once (a TCP read, a WebSocket frame). A server that writes a whole
//! flow-control window at once shows long gaps after the replies and chunks of the window's
//! size on WebSocket. Then a mirror of the stream on the same server, in origin messages per
//! second until it holds them all. It runs Contrail, Debian's nats-server, and, when `BENCH_CONTRAIL_BEFORE`
//! names another `contrail` binary, that one too, interleaved `BENCH_PUSH_ROUNDS` times (3).

mod interop_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use contrail::core::proto::{Limits, ServerOp, ServerParser};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;

/// Bound on any one wait for the server.
const WAIT: Duration = Duration::from_secs(30);

/// A server process started on a config of the bench's own (any program: the contrail under
/// test, an older build of it, nats-server).
struct Server {
    child: Child,
    dir: PathBuf,
    client: std::net::SocketAddr,
    ws: std::net::SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The address after `marker` in the log (`… on 127.0.0.1:4222`, `… on ws://127.0.0.1:80`).
fn logged_addr(log: &str, marker: &str) -> Option<std::net::SocketAddr> {
    let line = log.lines().find(|l| l.contains(marker))?;
    let rest = line.split(marker).nth(1)?.trim();
    let rest = rest.strip_prefix("ws://").unwrap_or(rest);
    rest.split_whitespace()
        .next()?
        .trim_end_matches('/')
        .parse()
        .ok()
}

fn start(program: &str) -> Server {
    let dir = interop_support::temp_dir("push-bench");
    let store = dir.join("store");
    let config = dir.join("server.conf");
    let text = format!(
        "host: 127.0.0.1\nport: -1\njetstream {{ store_dir: {:?} }}\n\
         websocket {{ port: -1, no_tls: true }}\n",
        store.to_string_lossy()
    );
    std::fs::write(&config, text).expect("write config");
    let log = dir.join("server.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let mut child = Command::new(program)
        .arg("-c")
        .arg(&config)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    for _ in 0..400 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{program} exited ({status}): {text}");
        }
        if text.contains("Server is ready") {
            let client = logged_addr(&text, "Listening for client connections on ");
            let ws = logged_addr(&text, "Listening for websocket clients on ");
            if let (Some(client), Some(ws)) = (client, ws) {
                return Server {
                    child,
                    dir,
                    client,
                    ws,
                };
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    panic!("{program} did not get ready within 10 s");
}

/// Fills a new file stream `O` (`o.>`) with `n` messages of 128 B (256 PubAcks out).
async fn fill(server: &Server, n: u64) {
    let client = async_nats::connect(server.client.to_string())
        .await
        .expect("connect");
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        ..Default::default()
    })
    .await
    .expect("origin stream");
    let body = Bytes::from(vec![b'x'; 128]);
    interop_support::streams::publish_windowed(&js, "o.m", body, n, 256).await;
}

/// A raw client connection: chunks in as the transport gives them, bytes out.
enum Pipe {
    Tcp(TcpStream),
    Ws(Box<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>>),
}

impl Pipe {
    async fn open(server: &Server, ws: bool) -> Pipe {
        if ws {
            let url = format!("ws://{}", server.ws);
            let (stream, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("websocket handshake");
            Pipe::Ws(Box::new(stream))
        } else {
            Pipe::Tcp(TcpStream::connect(server.client).await.expect("connect"))
        }
    }

    /// The next chunk: what one read returned, or one WebSocket message.
    async fn read(&mut self, buf: &mut BytesMut) -> usize {
        let read = async {
            match self {
                Pipe::Tcp(sock) => {
                    buf.reserve(256 * 1024);
                    sock.read_buf(buf).await.expect("read")
                }
                Pipe::Ws(ws) => loop {
                    match ws.next().await.expect("open").expect("frame") {
                        Frame::Binary(data) => {
                            buf.extend_from_slice(&data);
                            break data.len();
                        }
                        Frame::Text(text) => {
                            buf.extend_from_slice(text.as_bytes());
                            break text.len();
                        }
                        _ => {}
                    }
                },
            }
        };
        let n = tokio::time::timeout(WAIT, read)
            .await
            .expect("data in time");
        assert!(n > 0, "the server closed the connection");
        n
    }

    async fn write(&mut self, bytes: &[u8]) {
        match self {
            Pipe::Tcp(sock) => sock.write_all(bytes).await.expect("write"),
            Pipe::Ws(ws) => ws
                .send(Frame::Binary(Bytes::copy_from_slice(bytes)))
                .await
                .expect("write"),
        }
    }
}

/// What one run saw.
struct Seen {
    rate: f64,
    max_gap: Duration,
    fc_gaps: Vec<Duration>,
    max_chunk: usize,
    chunks: usize,
}

/// Creates the mirror-like push consumer on `O` and takes `n` messages over `ws` or TCP.
async fn consume(server: &Server, ws: bool, n: u64) -> Seen {
    let mut pipe = Pipe::open(server, ws).await;
    let mut parser = ServerParser::new(Limits::default());
    let mut buf = BytesMut::new();
    let connect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\
                   \"no_responders\":true,\"protocol\":1}\r\n";
    // A subject of its own per run: the earlier run's consumer may still be there.
    let deliver = if ws {
        "bench.deliver.ws"
    } else {
        "bench.deliver.tcp"
    };
    let config = serde_json::json!({
        "stream_name": "O",
        "config": {
            "deliver_subject": deliver,
            "ack_policy": "none",
            "max_deliver": 1,
            "idle_heartbeat": 1_000_000_000u64,
            "flow_control": true,
            "direct": true,
            "inactive_threshold": 10_000_000_000u64,
        }
    })
    .to_string();
    let create = format!(
        "{connect}SUB {deliver} 1\r\nSUB bench.reply 2\r\n\
         PUB $JS.API.CONSUMER.CREATE.O bench.reply {}\r\n{config}\r\n",
        config.len()
    );
    let start = Instant::now();
    pipe.write(create.as_bytes()).await;
    let (mut got, mut chunks, mut max_chunk) = (0u64, 0usize, 0usize);
    let mut last_data: Option<Instant> = None;
    let mut max_gap = Duration::ZERO;
    let mut fc_sent: Option<Instant> = None;
    let mut fc_gaps = Vec::new();
    while got < n {
        let size = pipe.read(&mut buf).await;
        let at = Instant::now();
        chunks += 1;
        max_chunk = max_chunk.max(size);
        let mut data_in_chunk = false;
        let mut replies = Vec::new();
        let mut answered_fc = false;
        while let Some(op) = parser.parse(&mut buf).expect("server protocol") {
            match op {
                ServerOp::Msg { sid, msg } if sid == "1" => {
                    let status = msg.headers.as_ref().map(|h| String::from_utf8_lossy(h));
                    match status {
                        Some(h) if h.starts_with("NATS/1.0 100 FlowControl") => {
                            let reply = msg.reply.clone().expect("flow control reply subject");
                            replies.extend_from_slice(format!("PUB {reply} 0\r\n\r\n").as_bytes());
                            answered_fc = true;
                        }
                        Some(h) if h.starts_with("NATS/1.0 100") => {}
                        _ => {
                            got += 1;
                            data_in_chunk = true;
                        }
                    }
                }
                ServerOp::Msg { msg, .. } => {
                    let body = String::from_utf8_lossy(&msg.payload);
                    assert!(!body.contains("\"error\""), "consumer create: {body}");
                }
                ServerOp::Ping => replies.extend_from_slice(b"PONG\r\n"),
                ServerOp::Err(text) => panic!("-ERR {text}"),
                _ => {}
            }
        }
        if data_in_chunk {
            if let Some(last) = last_data {
                max_gap = max_gap.max(at - last);
            }
            if let Some(sent) = fc_sent.take() {
                fc_gaps.push(at - sent);
            }
            last_data = Some(at);
        }
        if !replies.is_empty() {
            pipe.write(&replies).await;
            if answered_fc {
                fc_sent = Some(Instant::now());
            }
        }
    }
    Seen {
        rate: n as f64 / start.elapsed().as_secs_f64(),
        max_gap,
        fc_gaps,
        max_chunk,
        chunks,
    }
}

/// Creates a mirror `M` of `O` on the same server and returns origin messages per second until
/// it holds all `n` (the server's own mirror: its origin consumer is the one measured above).
async fn mirror(server: &Server, n: u64) -> f64 {
    let client = async_nats::connect(server.client.to_string())
        .await
        .expect("connect");
    interop_support::streams::time_mirror(&client, serde_json::json!({"name": "O"}), n).await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture, in release"]
async fn push_flow_control_catch_up() {
    let count: u64 = std::env::var("BENCH_PUSH_COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let rounds: usize = std::env::var("BENCH_PUSH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let mut programs = vec![("contrail", env!("CARGO_BIN_EXE_contrail").to_string())];
    match std::env::var("BENCH_CONTRAIL_BEFORE") {
        Ok(before) => programs.push(("before", before)),
        Err(_) => eprintln!("NOTE: BENCH_CONTRAIL_BEFORE is not set: no older contrail ran"),
    }
    programs.push(("nats 2.9", "nats-server".to_string()));
    println!(
        "{:<9} {:<4} {:>10} {:>9} {:>9} {:>9} {:>5} {:>10} {:>7}",
        "server", "via", "msgs/s", "max gap", "fc med", "fc max", "fcs", "max chunk", "chunks"
    );
    for round in 0..rounds {
        for (name, program) in &programs {
            let server = start(program);
            fill(&server, count).await;
            for ws in [false, true] {
                let mut seen = consume(&server, ws, count).await;
                seen.fc_gaps.sort();
                let median = seen.fc_gaps.get(seen.fc_gaps.len() / 2).copied();
                let max = seen.fc_gaps.last().copied();
                println!(
                    "{name:<9} {:<4} {:>10.0} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>5} {:>10} {:>7}  (round {})",
                    if ws { "ws" } else { "tcp" },
                    seen.rate,
                    ms(seen.max_gap),
                    median.map_or(0.0, ms),
                    max.map_or(0.0, ms),
                    seen.fc_gaps.len(),
                    seen.max_chunk,
                    seen.chunks,
                    round + 1
                );
            }
            let rate = mirror(&server, count).await;
            println!("{name:<9} mirror {rate:>8.0}   (a mirror of O on the same server)");
        }
    }
}
