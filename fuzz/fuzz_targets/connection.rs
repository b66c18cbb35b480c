//! Fuzzes the server's connection state machine: arbitrary bytes, arriving in arbitrary chunks,
//! on one client connection of a running server (JetStream included), over an in-memory
//! transport. Nothing may panic or hang, and after every input the server still answers a
//! well-behaved client.

#![no_main]

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use contrail::server::config::ServerConfig;
use contrail::server::conn::{self, ByteReader, ByteWriter, ConnKind};
use contrail::server::Server;
use libfuzzer_sys::fuzz_target;

/// Hands the input to the connection in chunks, then reports end of stream.
struct Chunks(Vec<Bytes>);

impl ByteReader for Chunks {
    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        if self.0.is_empty() {
            return Ok(0);
        }
        let chunk = self.0.remove(0);
        buf.extend_from_slice(&chunk);
        Ok(chunk.len())
    }
}

/// Collects what the server writes.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl ByteWriter for Sink {
    async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        if let Ok(mut out) = self.0.lock() {
            out.extend_from_slice(&bytes);
        }
        Ok(())
    }
    async fn close(&mut self) {}
}

struct World {
    runtime: tokio::runtime::Runtime,
    server: Server,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = ServerConfig {
            host: "127.0.0.1".into(),
            port: -1,
            http_port: 0,
            ws_port: 0,
            store_dir: dir.path().to_path_buf(),
            ..ServerConfig::default()
        };
        let server = runtime.block_on(Server::start(config)).expect("server starts");
        World { runtime, server, _dir: dir }
    })
}

fn run_connection(input: Vec<Bytes>) -> Vec<u8> {
    let world = world();
    let sink = Sink::default();
    let shared = world.server.shared().clone();
    let peer: SocketAddr = ([127, 0, 0, 1], 9).into();
    let conn = conn::serve(shared, Chunks(input), sink.clone(), peer, ConnKind::Tcp);
    let served = world
        .runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), conn).await });
    assert!(served.is_ok(), "a connection must end when its input does");
    let out = sink.0.lock().map(|o| o.clone()).unwrap_or_default();
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, rest)) = data.split_first() else { return };
    let size = 1 + usize::from(size % 64);
    let chunks = rest.chunks(size).map(Bytes::copy_from_slice).collect();
    run_connection(chunks);

    let healthy = run_connection(vec![Bytes::from_static(b"CONNECT {\"verbose\":false}\r\nPING\r\n")]);
    assert!(
        healthy.windows(6).any(|w| w == b"PONG\r\n"),
        "the server keeps serving other clients"
    );
});
