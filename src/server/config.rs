//! The server's settings: command-line flags (nats-server's spellings) and the config file.
//!
//! Precedence, as in nats-server: built-in defaults, then the config file (`-c`), then flags.
//! Defaults work with no flags at all: client port 4222, data in `./data`, everything on
//! 127.0.0.1. As in nats-server, no monitoring port is opened unless `-m`/`http_port` asks for
//! one (so a second server on the same host needs only its own `-p`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use super::conf::{self, Parsed};

#[cfg(test)]
mod file_tests;
pub mod keys;
pub mod links;
mod summary;

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
    /// HTTP monitoring port (default 0: off; -1: any free port; nats-server's usual is 8222).
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
    /// Directory to write `<exe name>_<pid>.ports` in once every listener is bound (JSON with
    /// the client, monitoring and WebSocket URLs, as nats-server writes it).
    #[arg(long = "ports_file_dir", alias = "ports-file-dir", value_name = "DIR")]
    pub ports_file_dir: Option<PathBuf>,
    /// Opens a link to another NATS server (`nats://[user:pass@]host:port`, or `tls://` for TLS
    /// trusting the system's roots); see `links` in the config file for more than one.
    #[arg(long = "link", value_name = "URL")]
    pub link: Option<String>,
    /// Name of the `--link` link (default `link`).
    #[arg(
        long = "link_name",
        alias = "link-name",
        value_name = "NAME",
        requires = "link"
    )]
    pub link_name: Option<String>,
    /// JetStream domain reached through the `--link` link (`$JS.<domain>.API`).
    #[arg(
        long = "link_domain",
        alias = "link-domain",
        value_name = "DOMAIN",
        requires = "link"
    )]
    pub link_domain: Option<String>,
    /// Debug logging.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Trace logging.
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
    /// Keep example streams (orders, sensors, a KV bucket) written to and consumed while the
    /// server runs, for the dashboard (`./scripts/run` turns it on).
    #[arg(long = "demo")]
    pub demo: bool,
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
    /// Host for the client listener (and the others unless they name their own).
    pub host: String,
    /// Host for HTTP monitoring (`http: "host:port"`); `None`: the client host, as nats-server.
    pub http_host: Option<String>,
    /// Host for WebSocket (`websocket { host }` or `listen`); `None`: the client host.
    pub ws_host: Option<String>,
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
    /// Where to write the ports file (`None`: not written).
    pub ports_file_dir: Option<PathBuf>,
    /// WebSocket origins allowed (`websocket { allowed_origins }`); empty: any.
    pub ws_allowed_origins: Vec<String>,
    /// WebSocket handshakes must come from the origin they were sent to (`same_origin`).
    pub ws_same_origin: bool,
    /// Config keys that were ignored, with why (logged at start).
    pub warnings: Vec<String>,
    /// TLS for the client, WebSocket and HTTPS monitoring ports (the config file's `tls`
    /// blocks and `https_port`).
    pub tls: super::tls::TlsSettings,
    /// Outbound links to other NATS servers (`links [...]`, `--link`).
    pub links: Vec<links::LinkSpec>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            http_host: None,
            ws_host: None,
            port: 4222,
            http_port: 0,
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
            ports_file_dir: None,
            ws_allowed_origins: Vec::new(),
            ws_same_origin: false,
            warnings: Vec::new(),
            tls: Default::default(),
            links: Vec::new(),
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
    /// The config file is not in nats-server's format (the error names file and line).
    #[error("config: {source}")]
    Parse {
        /// The file given with `-c`.
        path: PathBuf,
        /// What was wrong, and where.
        source: conf::ConfError,
    },
    /// The config file has keys Contrail does not know or cannot honour (one line each, with
    /// file and line).
    #[error("config file has keys Contrail cannot honour:\n  {}", .0.join("\n  "))]
    Unsupported(Vec<String>),
    /// A key holds a value of the wrong kind or out of range.
    #[error("config: {0}")]
    Invalid(String),
    /// A TLS block or file cannot be used.
    #[error("config: {0}")]
    Tls(#[from] super::tls::TlsError),
    /// The authorization, accounts or websocket auth settings are not usable.
    #[error("config: {0}")]
    Auth(#[from] super::auth::AuthConfigError),
}

impl ServerConfig {
    /// The host HTTP monitoring binds: its own, else the client host (as nats-server).
    pub fn http_bind_host(&self) -> &str {
        self.http_host.as_deref().unwrap_or(&self.host)
    }

    /// The host WebSocket binds: its own, else the client host. (nats-server binds 0.0.0.0
    /// then; Contrail stays on the client's host, which is 127.0.0.1 unless set otherwise.)
    pub fn ws_bind_host(&self) -> &str {
        self.ws_host.as_deref().unwrap_or(&self.host)
    }

    /// Resolves defaults, then the config file named by `args.config`, then the flags.
    pub fn from_args(args: &ServeArgs) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::default();
        if let Some(path) = &args.config {
            let parsed = conf::parse_file(path).map_err(|source| ConfigError::Parse {
                path: path.clone(),
                source,
            })?;
            config.apply_parsed(&parsed)?;
        }
        config.apply_flags(args);
        if let Some(url) = &args.link {
            let flag =
                links::from_flag(url, args.link_name.as_deref(), args.link_domain.as_deref())?;
            config.links.push(flag);
            let accounts: Vec<String> = config
                .auth
                .accounts
                .iter()
                .map(|a| a.name.clone())
                .collect();
            links::check_all(&config.links, &accounts, None)?;
        }
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
        if let Some(dir) = &args.ports_file_dir {
            self.ports_file_dir = Some(dir.clone());
        }
        if args.debug {
            self.log_level = "debug".into();
        }
        if args.trace {
            self.log_level = "trace".into();
        }
    }

    /// Checks every key of a parsed config file against [`keys::KEYS`] (an unknown or
    /// unimplemented key is an error naming its file and line, a harmless one a warning kept in
    /// [`ServerConfig::warnings`]), then reads the settings.
    pub fn apply_parsed(&mut self, parsed: &Parsed) -> Result<(), ConfigError> {
        let findings = keys::check(parsed);
        if !findings.errors.is_empty() {
            return Err(ConfigError::Unsupported(findings.errors));
        }
        self.warnings.extend(findings.warnings);
        self.apply_file(&parsed.tree, Some(parsed))
            .map_err(|err| locate_value_error(parsed, err))
    }

    /// Reads the settings of a config tree (the keys are checked by [`Self::apply_parsed`];
    /// `parsed`, the file the tree came from, locates and checks the auth blocks' keys).
    pub fn apply_file(&mut self, tree: &Value, parsed: Option<&Parsed>) -> Result<(), ConfigError> {
        if let Some(listen) = tree.get("listen") {
            let (host, port) = parse_listen("listen", listen)?;
            if !host.is_empty() {
                self.host = host;
            }
            self.port = port;
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
        if let Some(http) = tree.get("http") {
            let (host, port) = parse_listen("http", http)?;
            if !host.is_empty() {
                self.http_host = Some(host);
            }
            self.http_port = port;
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
        for key in ["max_connections", "max_conn"] {
            if let Some(n) = int_of(tree, key)? {
                self.max_connections = positive(n, key)?;
            }
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
        for key in ["store_dir", "storedir"] {
            if let Some(dir) = str_of(tree, key)? {
                self.store_dir = dir.into();
            }
        }
        if let Some(dir) = str_of(tree, "ports_file_dir")? {
            self.ports_file_dir = Some(dir.into());
        }
        check_jetstream_enabled(tree.get("jetstream"))?;
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
            if let Some(listen) = ws.get("listen") {
                let (host, port) = parse_listen("websocket.listen", listen)?;
                if !host.is_empty() {
                    self.ws_host = Some(host);
                }
                self.ws_port = port;
            }
            if let Some(port) = int_of(ws, "port")? {
                self.ws_port = port_value(port)?;
            }
            if let Some(same) = ws.get("same_origin") {
                let same = same.as_bool();
                self.ws_same_origin = same
                    .ok_or_else(|| ConfigError::Invalid("same_origin must be a boolean".into()))?;
            }
            if let Some(list) = ws.get("allowed_origins") {
                let items = match list {
                    Value::Array(items) => items.iter().map(Value::as_str).collect(),
                    one => vec![one.as_str()],
                };
                let origins: Option<Vec<String>> =
                    items.into_iter().map(|o| o.map(str::to_string)).collect();
                let origins = origins.ok_or_else(|| {
                    ConfigError::Invalid("allowed_origins must be strings".into())
                })?;
                super::ws::validate_origins(&origins).map_err(ConfigError::Invalid)?;
                self.ws_allowed_origins = origins;
            }
            for key in ["host", "net"] {
                if let Some(host) = str_of(ws, key)? {
                    self.ws_host = Some(host);
                }
            }
        }
        let (auth, warnings) = super::auth::config::read(tree, parsed)?;
        self.auth = auth;
        self.warnings.extend(warnings);
        if let Some(timeout) = self.auth.timeout {
            self.auth_timeout = timeout;
        }
        let accounts: Vec<String> = self.auth.accounts.iter().map(|a| a.name.clone()).collect();
        self.links = links::read(tree, parsed, &accounts)?;
        self.tls = super::tls::TlsSettings::from_conf(tree)?;
        if self.tls.https_port != 0 {
            // The HTTPS port replaces the default HTTP one (nats-server refuses both).
            self.http_port = 0;
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

/// A listen address as nats-server reads it: a port number, or `host:port` / `:port` /
/// `[v6]:port` (a host alone is an error there too).
fn parse_listen(key: &str, value: &Value) -> Result<(String, i32), ConfigError> {
    let invalid = |what: String| ConfigError::Invalid(format!("{key} {what}"));
    match value {
        Value::Number(n) => {
            let port = n
                .as_i64()
                .ok_or_else(|| invalid(format!("port {n} is not an integer")))?;
            Ok((String::new(), port_value(port)?))
        }
        Value::String(text) => {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or_else(|| invalid(format!("could not parse address string {text:?}")))?;
            let port: i64 = port
                .parse()
                .map_err(|_| invalid(format!("could not parse port {port:?}")))?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            Ok((host.to_string(), port_value(port)?))
        }
        _ => Err(invalid("expected port or host:port".into())),
    }
}

/// Contrail always runs JetStream; a config that turns it off must not get it silently.
fn check_jetstream_enabled(js: Option<&Value>) -> Result<(), ConfigError> {
    let enabled = match js {
        Some(Value::Bool(on)) => *on,
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" => true,
            "disabled" | "disable" => false,
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "jetstream: expected 'enabled' or 'disabled', got {s:?}"
                )))
            }
        },
        Some(block @ Value::Object(_)) => ["enabled", "enable"]
            .iter()
            .filter_map(|k| block.get(*k))
            .all(|v| v.as_bool() != Some(false)),
        _ => true,
    };
    if enabled {
        Ok(())
    } else {
        Err(ConfigError::Invalid(
            "jetstream cannot be turned off: Contrail always runs JetStream".into(),
        ))
    }
}

/// Puts the file and line in front of a value error whose message starts with the key's name
/// (`max_payload must be positive`), when exactly one key of the file has that name.
fn locate_value_error(parsed: &Parsed, err: ConfigError) -> ConfigError {
    let ConfigError::Invalid(msg) = err else {
        return err;
    };
    let name = msg.split([' ', ':']).next().unwrap_or_default();
    let mut matches = parsed
        .keys
        .iter()
        .filter(|(path, _)| path.as_str() == name || path.ends_with(&format!(".{name}")));
    match (matches.next(), matches.next()) {
        (Some((_, info)), None) if !name.is_empty() => {
            ConfigError::Invalid(format!("{}: {msg}", info.at))
        }
        _ => ConfigError::Invalid(msg),
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
            ("127.0.0.1", 4222, 0, 0)
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
