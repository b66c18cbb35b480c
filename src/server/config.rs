//! The server's settings: command-line flags (nats-server's spellings) and the config file.
//!
//! Precedence, as in nats-server: built-in defaults, then the config file (`-c`), then flags.
//! Defaults work with no flags at all: client port 4222, monitoring on 8222, data in `./data`,
//! everything on 127.0.0.1.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use super::conf;

/// A port setting: `0` turns an optional listener off, `-1` asks the OS for a free port.
pub const RANDOM_PORT: i32 = -1;

/// `contrail` command line.
#[derive(Debug, Parser)]
#[command(
    name = "contrail",
    version,
    about = "A NATS JetStream-compatible server",
    args_conflicts_with_subcommands = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version (`-v`, as nats-server; `-V` is trace).
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    /// What to run (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands of `contrail`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(Box<ServeArgs>),
    /// Run a short in-process demo of the engine.
    Demo,
}

/// Flags of `contrail serve`, named as nats-server names them.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Client connection host.
    #[arg(short = 'a', long = "addr", alias = "net", value_name = "HOST")]
    pub addr: Option<String>,
    /// Client connection port (default 4222; -1 or 0: any free port).
    #[arg(short = 'p', long = "port", allow_negative_numbers = true)]
    pub port: Option<i32>,
    /// HTTP monitoring port (default 8222; 0: off; -1: any free port).
    #[arg(
        short = 'm',
        long = "http_port",
        alias = "http-port",
        allow_negative_numbers = true
    )]
    pub http_port: Option<i32>,
    /// WebSocket port (default 0: off; -1: any free port).
    #[arg(long = "ws_port", alias = "ws-port", allow_negative_numbers = true)]
    pub ws_port: Option<i32>,
    /// JetStream storage directory (default ./data). Also `-sd`.
    #[arg(long = "store_dir", alias = "store-dir", value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// Enable JetStream (always on in Contrail; accepted for compatibility). Also `-js`.
    #[arg(long = "jetstream")]
    pub jetstream: bool,
    /// Config file (nats-server format).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Server name.
    #[arg(short = 'n', long = "name", alias = "server_name")]
    pub name: Option<String>,
    /// Directory whose `www/` and `pkg/` the HTTP port serves (default: current directory).
    #[arg(long = "static_root", alias = "static-root", value_name = "DIR")]
    pub static_root: Option<PathBuf>,
    /// Client authorization token.
    #[arg(long = "auth", value_name = "TOKEN")]
    pub auth: Option<String>,
    /// User required of clients (with --pass).
    #[arg(long = "user")]
    pub user: Option<String>,
    /// Password required of clients (with --user).
    #[arg(long = "pass")]
    pub pass: Option<String>,
    /// Debug logging.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Trace logging.
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
}

/// Rewrites nats-server's two-letter short flags (`-sd`, `-js`), which clap cannot express, to
/// their long forms. `-sd=DIR` keeps its value.
pub fn rewrite_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|arg| {
            for (short, long) in [("-sd", "--store_dir"), ("-js", "--jetstream")] {
                if arg == short {
                    return long.to_string();
                }
                if let Some(value) = arg.strip_prefix(short).and_then(|r| r.strip_prefix('=')) {
                    return format!("{long}={value}");
                }
            }
            arg
        })
        .collect()
}

/// Credentials, accounts and permissions (read by [`super::auth::config`]).
pub use super::auth::AuthConfig;

/// Every setting the server runs with, resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Host for the client, WebSocket and HTTP listeners.
    pub host: String,
    /// Client port (`-1`: any free port).
    pub port: i32,
    /// HTTP monitoring port (`0`: off, `-1`: any).
    pub http_port: i32,
    /// WebSocket port (`0`: off, `-1`: any).
    pub ws_port: i32,
    /// JetStream storage directory.
    pub store_dir: PathBuf,
    /// Server name reported in INFO and monitoring.
    pub server_name: String,
    /// Largest payload a client may publish.
    pub max_payload: usize,
    /// Longest protocol control line.
    pub max_control_line: usize,
    /// Bytes queued for one client before it is cut off as a slow consumer.
    pub max_pending: usize,
    /// How often the server pings a client.
    pub ping_interval: Duration,
    /// Unanswered pings before a connection is stale.
    pub ping_max: u32,
    /// Longest a single socket write may take before the client counts as slow.
    pub write_deadline: Duration,
    /// Time a client has to send CONNECT when auth is required.
    pub auth_timeout: Duration,
    /// Most client connections at once.
    pub max_connections: usize,
    /// Credentials required in CONNECT.
    pub auth: AuthConfig,
    /// Directory holding `www/` and `pkg/`.
    pub static_root: PathBuf,
    /// Memory storage limit (-1: unlimited).
    pub max_memory_store: i64,
    /// File storage limit (-1: unlimited).
    pub max_file_store: i64,
    /// Log level filter (`info`, `debug`, `trace`).
    pub log_level: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 4222,
            http_port: 8222,
            ws_port: 0,
            store_dir: PathBuf::from("./data"),
            server_name: "contrail".into(),
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_pending: 64 * 1024 * 1024,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(2),
            max_connections: 64 * 1024,
            auth: AuthConfig::default(),
            static_root: PathBuf::from("."),
            max_memory_store: -1,
            max_file_store: -1,
            log_level: "info".into(),
        }
    }
}

/// Why the settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The config file is not in nats-server's format.
    #[error("config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: conf::ConfError,
    },
    /// A key holds a value of the wrong kind or out of range.
    #[error("config: {0}")]
    Invalid(String),
    /// The authorization, accounts or websocket auth settings are not usable.
    #[error("config: {0}")]
    Auth(#[from] super::auth::AuthConfigError),
}

impl ServerConfig {
    /// Resolves defaults, then the config file named by `args.config`, then the flags.
    pub fn from_args(args: &ServeArgs) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::default();
        if let Some(path) = &args.config {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let tree = conf::parse(&text).map_err(|source| ConfigError::Parse {
                path: path.clone(),
                source,
            })?;
            config.apply_file(&tree)?;
        }
        config.apply_flags(args);
        Ok(config)
    }

    fn apply_flags(&mut self, args: &ServeArgs) {
        if let Some(addr) = &args.addr {
            self.host = addr.clone();
        }
        if let Some(port) = args.port {
            self.port = if port == 0 { RANDOM_PORT } else { port };
        }
        if let Some(port) = args.http_port {
            self.http_port = port;
        }
        if let Some(port) = args.ws_port {
            self.ws_port = port;
        }
        if let Some(dir) = &args.store_dir {
            self.store_dir = dir.clone();
        }
        if let Some(name) = &args.name {
            self.server_name = name.clone();
        }
        if let Some(root) = &args.static_root {
            self.static_root = root.clone();
        }
        if let Some(token) = &args.auth {
            self.auth.token = Some(super::auth::Secret(token.clone()));
        }
        if let (Some(user), Some(pass)) = (&args.user, &args.pass) {
            self.auth.user = Some(user.clone());
            self.auth.pass = Some(super::auth::Secret(pass.clone()));
        }
        if args.debug {
            self.log_level = "debug".into();
        }
        if args.trace {
            self.log_level = "trace".into();
        }
    }

    /// Reads the keys nats-server's config files commonly hold; unknown keys are ignored, as
    /// nats-server ignores keys of features a build lacks.
    pub fn apply_file(&mut self, tree: &Value) -> Result<(), ConfigError> {
        if let Some(listen) = str_of(tree, "listen")? {
            let (host, port) = split_host_port(&listen)?;
            if !host.is_empty() {
                self.host = host;
            }
            if let Some(port) = port {
                self.port = port;
            }
        }
        for key in ["host", "net"] {
            if let Some(host) = str_of(tree, key)? {
                self.host = host;
            }
        }
        if let Some(port) = int_of(tree, "port")? {
            self.port = port_value(port)?;
        }
        for key in ["http_port", "monitor_port"] {
            if let Some(port) = int_of(tree, key)? {
                self.http_port = port_value(port)?;
            }
        }
        if let Some(http) = str_of(tree, "http")? {
            if let (_, Some(port)) = split_host_port(&http)? {
                self.http_port = port;
            }
        }
        if let Some(name) = str_of(tree, "server_name")? {
            self.server_name = name;
        }
        if let Some(n) = int_of(tree, "max_payload")? {
            self.max_payload = positive(n, "max_payload")?;
        }
        if let Some(n) = int_of(tree, "max_control_line")? {
            self.max_control_line = positive(n, "max_control_line")?;
        }
        if let Some(n) = int_of(tree, "max_pending")? {
            self.max_pending = positive(n, "max_pending")?;
        }
        if let Some(n) = int_of(tree, "max_connections")? {
            self.max_connections = positive(n, "max_connections")?;
        }
        if let Some(n) = int_of(tree, "ping_max")? {
            self.ping_max = positive(n, "ping_max")? as u32;
        }
        if let Some(d) = duration_of(tree, "ping_interval")? {
            self.ping_interval = d;
        }
        if let Some(d) = duration_of(tree, "write_deadline")? {
            self.write_deadline = d;
        }
        if tree.get("debug").and_then(Value::as_bool) == Some(true) {
            self.log_level = "debug".into();
        }
        if tree.get("trace").and_then(Value::as_bool) == Some(true) {
            self.log_level = "trace".into();
        }
        if let Some(dir) = str_of(tree, "store_dir")? {
            self.store_dir = dir.into();
        }
        if let Some(js) = tree.get("jetstream").filter(|v| v.is_object()) {
            if let Some(dir) = str_of(js, "store_dir")? {
                self.store_dir = dir.into();
            }
            if let Some(n) = int_of(js, "max_memory_store")?.or(int_of(js, "max_mem")?) {
                self.max_memory_store = n;
            }
            if let Some(n) = int_of(js, "max_file_store")?.or(int_of(js, "max_file")?) {
                self.max_file_store = n;
            }
        }
        if let Some(ws) = tree.get("websocket").filter(|v| v.is_object()) {
            if let Some(port) = int_of(ws, "port")? {
                self.ws_port = port_value(port)?;
            }
        }
        self.auth = super::auth::config::read(tree)?;
        if let Some(timeout) = self.auth.timeout {
            self.auth_timeout = timeout;
        }
        Ok(())
    }
}

fn str_of(tree: &Value, key: &str) -> Result<Option<String>, ConfigError> {
    match tree.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ConfigError::Invalid(format!("{key} must be a string"))),
    }
}

fn int_of(tree: &Value, key: &str) -> Result<Option<i64>, ConfigError> {
    match tree.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid(format!("{key} must be an integer"))),
    }
}

fn duration_of(tree: &Value, key: &str) -> Result<Option<Duration>, ConfigError> {
    match tree.get(key) {
        None => Ok(None),
        Some(v) => conf::duration(v)
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid(format!("{key} must be a duration"))),
    }
}

fn positive(n: i64, key: &str) -> Result<usize, ConfigError> {
    usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConfigError::Invalid(format!("{key} must be positive")))
}

fn port_value(n: i64) -> Result<i32, ConfigError> {
    if (-1..=65535).contains(&n) {
        Ok(n as i32)
    } else {
        Err(ConfigError::Invalid(format!("port {n} out of range")))
    }
}

/// `host:port`, `:port` or `host`.
fn split_host_port(text: &str) -> Result<(String, Option<i32>), ConfigError> {
    match text.rsplit_once(':') {
        Some((host, port)) => {
            let port: i64 = port
                .parse()
                .map_err(|_| ConfigError::Invalid(format!("bad port in {text:?}")))?;
            Ok((host.to_string(), Some(port_value(port)?)))
        }
        None => Ok((text.to_string(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let args = rewrite_args(args.iter().map(|s| s.to_string()));
        Cli::try_parse_from(args).expect("valid command line")
    }

    #[test]
    fn nats_server_short_and_long_flags_mean_the_same() {
        let short = parse(&[
            "contrail", "-a", "0.0.0.0", "-p", "5222", "-m", "9222", "-sd", "/x", "-js",
        ]);
        let long = parse(&[
            "contrail",
            "serve",
            "--addr",
            "0.0.0.0",
            "--port",
            "5222",
            "--http_port",
            "9222",
            "--store_dir",
            "/x",
            "--jetstream",
        ]);
        let long_args = match long.command {
            Some(Command::Serve(a)) => a,
            other => panic!("expected serve, got {other:?}"),
        };
        for a in [&short.serve, &long_args] {
            let c = ServerConfig::from_args(a).expect("valid");
            assert_eq!(c.host, "0.0.0.0");
            assert_eq!(c.port, 5222);
            assert_eq!(c.http_port, 9222);
            assert_eq!(c.store_dir, PathBuf::from("/x"));
        }
        assert!(short.serve.jetstream && long_args.jetstream);
    }

    #[test]
    fn no_flags_gives_the_documented_defaults() {
        let c = ServerConfig::from_args(&parse(&["contrail"]).serve).expect("valid");
        assert_eq!(
            (c.host.as_str(), c.port, c.http_port, c.ws_port),
            ("127.0.0.1", 4222, 8222, 0)
        );
        assert_eq!(c.store_dir, PathBuf::from("./data"));
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = std::env::temp_dir().join(format!("contrail-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("server.conf");
        std::fs::write(
            &file,
            "port: 4333\nwebsocket { port: 9001, no_tls: true }\nauthorization { token: s3cret }\n",
        )
        .expect("write conf");
        let path = file.to_string_lossy().to_string();
        let c = ServerConfig::from_args(&parse(&["contrail", "-c", &path, "-p", "4444"]).serve)
            .expect("valid");
        assert_eq!(c.port, 4444);
        assert_eq!(c.ws_port, 9001);
        assert_eq!(c.auth.token.as_ref().map(|t| t.0.as_str()), Some("s3cret"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn demo_is_still_reachable() {
        assert!(matches!(
            parse(&["contrail", "demo"]).command,
            Some(Command::Demo)
        ));
    }
}
