//! The server shell: the NATS client protocol over TCP and WebSocket, HTTP monitoring, and the
//! JetStream engine behind them. Native only.
//!
//! How the pieces fit:
//! - [`config`] resolves flags and the config file ([`conf`] reads nats-server's format);
//! - each client connection ([`conn`]) parses ops with the core codec, writes its own fixed
//!   lines ([`wire`]), and queues bytes for other clients
//!   into their bounded [`outbox`]es, finding them through the [`router`];
//! - publishes JetStream may want go to the engine thread ([`jetstream`]), which owns the
//!   [`Engine`](crate::core::engine::Engine), commits in batches and routes its output back
//!   through the router; [`storage`] gives it stores and keeps stream configs on disk;
//! - [`ws`] adapts WebSocket frames to the same connection loop; [`monitor`] answers HTTP,
//!   [`static_files`] serves the web app on the same port;
//! - [`file_store`] keeps streams in append-only segment files, crash-safe at every sync.
//!
//! [`Server::start`] binds everything and returns the bound addresses; [`Server::shutdown`]
//! stops accepting, closes clients, flushes the stores and stops the engine.

pub mod auth;
pub mod conf;
pub mod config;
pub mod conn;
pub mod demo;
pub mod file_store;
pub mod jetstream;
pub mod last_subject;
pub mod link;
pub mod monitor;
pub mod outbox;
pub mod ports_file;
pub mod remotes;
pub mod router;
pub mod static_files;
pub mod storage;
pub mod tls;
pub mod wire;
pub mod ws;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::core::engine::EngineConfig;
use config::ServerConfig;
use conn::{ClientInfo, ConnKind};
use jetstream::{JsHandle, JsThread};
use router::Router;

/// The protocol version nats-server reports and clients gate features on. Contrail speaks the
/// 2.10 JetStream API.
pub const NATS_VERSION: &str = "2.10.0";

/// State every connection and listener shares.
pub struct Shared {
    /// The resolved settings.
    pub config: Arc<ServerConfig>,
    /// All subscriptions.
    pub router: Arc<Router>,
    /// The way to the engine thread.
    pub js: JsHandle,
    /// Every account: the global one (whose router and engine are the two above) and the
    /// configured ones. A connection uses its account's router and engine.
    pub accounts: auth::account::Accounts,
    /// The outbound links (`links [...]`), which also carry their accounts' clients' requests.
    pub remotes: remotes::Remotes,
    /// This server's id (INFO `server_id`).
    pub server_id: String,
    /// When the server started.
    pub started: SystemTime,
    /// The bound client address (INFO `host`/`port`).
    pub client_addr: SocketAddr,
    /// The bound WebSocket address, when WebSocket is on (`/varz` tells the dashboard).
    pub ws_addr: Option<SocketAddr>,
    /// Flips to `true` at shutdown.
    pub shutdown: watch::Receiver<bool>,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Connections cut off as slow consumers since start.
    pub slow_consumers: AtomicU64,
    /// Messages and bytes of connections already closed (live ones count in their outboxes).
    pub closed_counters: outbox::Counters,
    live: AtomicUsize,
}

impl Shared {
    /// A fresh client id.
    pub fn next_client_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a live connection (for monitoring and shutdown).
    pub fn register(&self, info: Arc<ClientInfo>) {
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        self.clients().insert(info.id, info);
    }

    /// Forgets a closed connection, keeping its counters in the server totals.
    pub fn unregister(&self, id: u64) {
        let info = self.clients().remove(&id);
        if let Some(info) = info {
            // Its publish budget lives in its account's engine.
            let account = info
                .account
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(js) = self.accounts.get(&account).and_then(|a| a.js.as_ref()) {
                js.client_gone(id);
            }
            let (from, to) = (&info.out.counters, &self.closed_counters);
            for (a, b) in [
                (&from.in_msgs, &to.in_msgs),
                (&from.in_bytes, &to.in_bytes),
                (&from.out_msgs, &to.out_msgs),
                (&from.out_bytes, &to.out_bytes),
            ] {
                b.fetch_add(a.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
    }

    /// The live connections, by id.
    pub fn client_list(&self) -> Vec<Arc<ClientInfo>> {
        self.clients().values().cloned().collect()
    }

    /// The INFO object sent to client `id`.
    pub fn info_json(&self, id: u64, peer: SocketAddr) -> serde_json::Value {
        let mut info = serde_json::json!({
            "server_id": self.server_id,
            "server_name": self.config.server_name,
            "version": NATS_VERSION,
            "proto": 1,
            "go": concat!("contrail ", env!("CARGO_PKG_VERSION")),
            "host": self.client_addr.ip().to_string(),
            "port": self.client_addr.port(),
            "headers": true,
            "max_payload": self.config.max_payload,
            "jetstream": true,
            "client_id": id,
            "client_ip": peer.ip().to_string(),
        });
        if self.config.auth.required() {
            info["auth_required"] = serde_json::Value::Bool(true);
        }
        if let Some(tls) = &self.config.tls.client {
            info["tls_required"] = serde_json::Value::Bool(true);
            if tls.verify {
                info["tls_verify"] = serde_json::Value::Bool(true);
            }
        }
        info
    }

    /// The INFO a client of `kind` is greeted with, and the nonce it carries (for nkey users,
    /// who sign it in CONNECT). WebSocket clients may have their own authorization.
    pub fn greeting_info(
        &self,
        id: u64,
        peer: SocketAddr,
        kind: ConnKind,
    ) -> (serde_json::Value, Option<String>) {
        let auth = &self.config.auth;
        let nonce = auth.needs_nonce().then(auth::new_nonce);
        let mut info = self.info_json(id, peer);
        if auth.required_for(kind == ConnKind::WebSocket) {
            info["auth_required"] = serde_json::Value::Bool(true);
        }
        if let Some(nonce) = &nonce {
            info["nonce"] = serde_json::Value::String(nonce.clone());
        }
        (info, nonce)
    }

    /// Answers a request nobody serves with a 503 status, to the requesting client only.
    pub fn no_responders(&self, reply: &str, client: u64, flush: &mut outbox::FlushList) {
        jetstream::no_responders(&self.router, reply, client, flush);
    }
}

/// A running server.
pub struct Server {
    /// Where clients connect over TCP.
    pub client_addr: SocketAddr,
    /// Where HTTP monitoring listens, if on.
    pub http_addr: Option<SocketAddr>,
    /// Where WebSocket clients connect, if on.
    pub ws_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    shutdown_tx: watch::Sender<bool>,
    js_thread: JsThread,
    account_engines: auth::account::AccountEngines,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The ports file written at start (removed at a graceful shutdown).
    ports_file: Option<std::path::PathBuf>,
}

/// Binds `host:port` for the `what` listener; `-1` (or 0) picks a free port. A failure names the
/// listener and the address: `client listener 127.0.0.1:4222: Address already in use`.
async fn bind(what: &str, host: &str, port: i32) -> io::Result<TcpListener> {
    let named = |kind: io::ErrorKind, why: &dyn std::fmt::Display| {
        io::Error::new(kind, format!("{what} listener {host}:{port}: {why}"))
    };
    let port_u16 =
        u16::try_from(port.max(0)).map_err(|_| named(io::ErrorKind::InvalidInput, &"bad port"))?;
    TcpListener::bind((host, port_u16)).await.map_err(|err| {
        // The OS text without its "(os error N)" tail.
        let text = err.to_string();
        let text = text
            .split(" (os error")
            .next()
            .unwrap_or_default()
            .to_string();
        named(err.kind(), &text)
    })
}

/// A 56-character id in nats-server's style (`N` then base32).
fn new_server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = jetstream::now() as u64 ^ (u64::from(std::process::id()) << 32) | 1;
    let mut id = String::from("N");
    for _ in 0..55 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id.push(char::from(ALPHABET[(x % 32) as usize]));
    }
    id
}

impl Server {
    /// Opens the store, starts the engine and binds every listener. Returns once clients can
    /// connect.
    pub async fn start(config: ServerConfig) -> io::Result<Server> {
        let config = Arc::new(config);
        let client_listener = bind("client", &config.host, config.port).await?;
        let client_addr = client_listener.local_addr()?;
        let ws_listener = match config.ws_port {
            0 => None,
            port => Some(bind("websocket", config.ws_bind_host(), port).await?),
        };
        let ws_addr = ws_listener.as_ref().map(|l| l.local_addr()).transpose()?;

        let (router, interest) = auth::account::new_router();
        let engine_config = EngineConfig {
            // `jetstream { max_*_store }` limits the server; the account has no limits of its
            // own (nats-server's global account reports -1).
            server_max_memory: match config.max_memory_store {
                n if n < 0 => storage::default_max_memory_store(),
                n => n,
            },
            server_max_storage: match config.max_file_store {
                n if n < 0 => storage::default_max_file_store(&config.store_dir),
                n => n,
            },
            ..EngineConfig::default()
        };
        tracing::info!(
            max_memory = engine_config.server_max_memory,
            max_storage = engine_config.server_max_storage,
            "JetStream limits"
        );
        let storage = storage::Storage::new(
            &config.store_dir,
            engine_config.clone(),
            jetstream::now() as u64,
        );
        let (js, js_thread) = jetstream::start(storage, router.clone(), interest)?;
        // As nats-server: the global account has JetStream only when no account is configured.
        let mut accounts = auth::account::Accounts::new(Arc::new(auth::account::Account {
            name: auth::GLOBAL_ACCOUNT.to_string(),
            router: router.clone(),
            js: config.auth.accounts.is_empty().then(|| js.clone()),
            links: Default::default(),
        }));
        let account_engines =
            accounts.start_configured(&config.auth.accounts, &config.store_dir, &engine_config)?;
        let remotes = remotes::Remotes::start(&config.links, &accounts).await;

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            config: config.clone(),
            router,
            js,
            accounts,
            remotes,
            server_id: new_server_id(),
            started: SystemTime::now(),
            client_addr,
            ws_addr,
            shutdown: shutdown_rx,
            clients: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            total_connections: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            closed_counters: outbox::Counters::default(),
            live: AtomicUsize::new(0),
        });

        let mut tasks = vec![tokio::spawn(accept_tcp(shared.clone(), client_listener))];
        tracing::info!("Listening for client connections on {client_addr}");
        if let Some(tls) = &config.tls.client {
            tracing::info!("TLS required for client connections");
            if tls.handshake_first {
                tracing::warn!("Clients that are not using \"TLS Handshake First\" option will fail to connect");
            }
        }

        if let (Some(listener), Some(addr)) = (ws_listener, ws_addr) {
            tasks.push(tokio::spawn(ws::accept(shared.clone(), listener)));
            let scheme = if config.tls.websocket.is_some() {
                "wss"
            } else {
                "ws"
            };
            tracing::info!("Listening for websocket clients on {scheme}://{addr}");
        }
        // As nats-server: HTTPS monitoring uses the top-level `tls` block.
        let monitor = match (config.http_port, config.tls.https_port, &config.tls.client) {
            (0, 0, _) => None,
            (http, 0, _) => Some((http, None)),
            (0, https, Some(tls)) => Some((https, Some(tls.clone()))),
            (0, _, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    tls::TlsError::HttpsNeedsTls,
                ))
            }
            (http, https, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("can't specify both HTTP ({http}) and HTTPs ({https}) ports"),
                ))
            }
        };
        let http_addr = if let Some((port, tls)) = monitor {
            let name = if tls.is_some() {
                "https monitoring"
            } else {
                "http monitoring"
            };
            let listener = bind(name, config.http_bind_host(), port).await?;
            let addr = listener.local_addr()?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            tasks.push(tokio::spawn(monitor::serve(shared.clone(), listener, tls)));
            tracing::info!("Starting {scheme} monitor on {scheme}://{addr}");
            Some(addr)
        } else {
            None
        };
        let ports_file = match &config.ports_file_dir {
            Some(dir) => {
                let listeners = ports_file::Listeners {
                    client: client_addr,
                    http: http_addr,
                    ws: ws_addr,
                };
                let path = ports_file::write(dir, &listeners).map_err(|err| {
                    io::Error::new(
                        err.kind(),
                        format!("ports file in {}: {err}", dir.display()),
                    )
                })?;
                Some(path)
            }
            None => None,
        };
        tracing::info!(server_id = %shared.server_id, "Server is ready");
        Ok(Server {
            client_addr,
            http_addr,
            ws_addr,
            shared,
            shutdown_tx,
            js_thread,
            account_engines,
            tasks,
            ports_file,
        })
    }

    /// Graceful stop: no new connections, every client closed, the engine flushed and stopped.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        for task in &self.tasks {
            task.abort();
        }
        // Connections see the shutdown flag and close; wait a bounded time for them.
        for _ in 0..100 {
            if self.shared.live.load(Ordering::Relaxed) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.shared.remotes.close().await;
        self.account_engines.shutdown().await;
        self.shared.js.stop().await;
        let thread = self.js_thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        if let Some(path) = &self.ports_file {
            let _ = std::fs::remove_file(path);
        }
        tracing::info!("Server Exiting..");
    }

    /// The shared state, for tests and monitoring.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// One place among `max_connections`, held from the accept (before any handshake) until the
/// connection ends, so a burst of connects or half-open WebSocket handshakes cannot overshoot.
pub(crate) struct ConnSlot(Arc<Shared>);

impl ConnSlot {
    /// Takes a place if one is free.
    pub(crate) fn reserve(shared: &Arc<Shared>) -> Option<ConnSlot> {
        let max = shared.config.max_connections;
        shared
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live < max).then_some(live + 1)
            })
            .ok()
            .map(|_| ConnSlot(shared.clone()))
    }
}

impl ConnSlot {
    /// The server state the place belongs to.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs one connection in the place `slot` holds for it.
pub(crate) async fn run_conn<R: conn::ByteReader, W: conn::ByteWriter>(
    slot: ConnSlot,
    reader: R,
    writer: W,
    peer: SocketAddr,
    kind: ConnKind,
    greeting: conn::Greeting,
) {
    conn::serve_greeted(slot.0.clone(), reader, writer, peer, kind, greeting).await;
    drop(slot);
}

async fn accept_tcp(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = ConnSlot::reserve(&shared) else {
            tracing::warn!(%peer, "maximum connections exceeded");
            // As nats-server: say why, then close. A fresh socket's buffer takes the line.
            let _ = stream.try_write(b"-ERR 'maximum connections exceeded'\r\n");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        if let Some(tls) = &shared.config.tls.client {
            tokio::spawn(tls::serve_client(slot, tls.clone(), stream, peer));
            continue;
        }
        let (reader, writer) = stream.into_split();
        tokio::spawn(run_conn(
            slot,
            reader,
            writer,
            peer,
            ConnKind::Tcp,
            conn::Greeting::SendInfo,
        ));
    }
}

/// Runs the server until SIGINT or SIGTERM, then shuts it down gracefully.
pub async fn run(config: ServerConfig) -> io::Result<()> {
    run_with_demo(config, false).await
}

/// [`run`], with the example streams of [`demo`] written to and consumed while it runs when
/// `demo` is on (`contrail serve --demo`).
pub async fn run_with_demo(config: ServerConfig, demo: bool) -> io::Result<()> {
    let server = Server::start(config).await?;
    let demo = demo.then(|| demo::spawn(server.client_addr));
    wait_for_signal().await;
    if let Some(task) = demo {
        task.abort();
    }
    tracing::info!("Trapped signal; shutting down");
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
