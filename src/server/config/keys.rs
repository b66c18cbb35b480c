//! Every key nats-server's config format has, and what Contrail does with it.
//!
//! nats-server refuses to start on a key it does not know (`unknown field "x"`, with file, line
//! and column) unless the key's value was used as a `$variable`. Contrail does the same, and goes
//! further for keys nats-server knows but Contrail does not implement: silently ignoring them
//! would turn a locked-down config into an open server (an ignored `operator` leaves clients
//! unauthenticated, an ignored `cluster` makes a node run alone, an ignored `encryption_key`
//! stores data in plain text). So each such key is one of:
//!
//! - [`Rule::Handled`]: Contrail reads it (here or in the module that owns the feature); nothing
//!   under it is checked here.
//! - [`Rule::Block`]: Contrail reads the block, and each key inside is checked against this
//!   table as `block.key`.
//! - [`Rule::Warn`]: not implemented, but ignoring it cannot weaken security or limits; the
//!   server starts and logs the reason.
//! - [`Rule::Error`]: not implemented and ignoring it would change who may connect, what
//!   they may do or how much they may use, or would silently drop a feature the operator relies
//!   on; the server refuses to start and names the key, its file and line.
//!
//! Keys are matched exactly in lower case, as every reader in Contrail reads them; nats-server
//! matches case-insensitively, so a key like `Authorization` is an error here ("write it as
//! `authorization`") rather than a block nobody reads. For the same reason nats-server's aliases
//! that no Contrail reader knows (`ws`, `system`, `allowed_origin`, …) are errors naming the
//! spelling Contrail reads.
//!
//! The reasoning for each decision is the text of its rule; the table is [`KEYS`]. Helpers adding
//! a feature change its row to `Handled`.

use super::conf::{key_path, Location, Parsed};
use serde_json::Value;

/// What Contrail does with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Read by Contrail, with everything under it.
    Handled,
    /// Read by Contrail; the keys inside are checked against the table.
    Block,
    /// Not implemented, harmless to ignore: start, and log this reason.
    Warn(&'static str),
    /// Not implemented, unsafe to ignore: refuse to start, for this reason.
    Error(&'static str),
}

use Rule::{Block, Error, Handled, Warn};

const LOGGING: &str = "Contrail logs to stderr only";
const JWT_AUTH: &str =
    "decentralized (operator/JWT) auth is not implemented; ignoring it would leave clients unauthenticated";
const CLUSTER: &str =
    "clustering is not implemented; ignoring it would run this node alone, without its peers";
const UNENFORCED_LIMIT: &str =
    "this limit is not enforced; ignoring it would let clients use more than allowed";
const ENCRYPTION: &str =
    "encryption at rest is not implemented; ignoring it would store messages in plain text";
const ORIGINS_SPELLING: &str = "Contrail reads this as `allowed_origins`; spell it so";

/// Key path (lower case, `block.key`) → rule. Keys absent here are unknown, as in nats-server.
pub const KEYS: &[(&str, Rule)] = &[
    // Client listener and server identity: read in config.rs.
    ("listen", Handled),
    ("port", Handled),
    ("host", Handled),
    ("net", Handled),
    ("server_name", Handled),
    ("client_advertise", Warn("there is no cluster to advertise other client URLs to")),
    // Logging.
    ("debug", Handled),
    ("trace", Handled),
    ("trace_verbose", Warn("verbose tracing is not implemented; use `trace`")),
    ("trace_headers", Warn("header tracing is not implemented; use `trace`")),
    ("max_traced_msg_len", Warn("traces are not cut to a length")),
    ("logtime", Warn("log lines always carry a timestamp")),
    ("logtime_utc", Warn("log timestamps are always UTC")),
    ("logfile", Warn(LOGGING)),
    ("log_file", Warn(LOGGING)),
    ("logfile_size_limit", Warn(LOGGING)),
    ("log_size_limit", Warn(LOGGING)),
    ("logfile_max_num", Warn(LOGGING)),
    ("log_max_num", Warn(LOGGING)),
    ("syslog", Warn(LOGGING)),
    ("remote_syslog", Warn(LOGGING)),
    ("connect_error_reports", Warn("only routes, gateways and leaf nodes report these; there are none")),
    ("reconnect_error_reports", Warn("only routes, gateways and leaf nodes report these; there are none")),
    // Process.
    ("pidfile", Warn("no pid file is written")),
    ("pid_file", Warn("no pid file is written")),
    ("ports_file_dir", Handled),
    ("prof_port", Warn("no profiling listener is opened (one open port fewer)")),
    ("prof_block_rate", Warn("no profiling listener is opened")),
    ("lame_duck_duration", Warn("shutdown closes clients at once; there is no lame-duck mode")),
    ("lame_duck_grace_period", Warn("shutdown closes clients at once; there is no lame-duck mode")),
    // Monitoring.
    ("http", Handled),
    ("http_port", Handled),
    ("monitor_port", Handled),
    ("https_port", Handled),
    ("https", Error("read as `https_port` (and the host from `http`); `https: host:port` is not implemented")),
    ("http_base_path", Warn("monitoring endpoints are served from `/`")),
    ("max_closed_clients", Warn("closed connections are not kept for monitoring")),
    ("server_tags", Warn("tags are descriptive and not reported")),
    ("server_metadata", Warn("metadata is descriptive and not reported")),
    // Limits and client behaviour.
    ("max_payload", Handled),
    ("max_control_line", Handled),
    ("max_pending", Handled),
    ("max_connections", Handled),
    ("max_conn", Handled),
    ("ping_interval", Handled),
    ("ping_max", Handled),
    ("write_deadline", Handled),
    ("write_timeout", Warn("a client past `write_deadline` is always closed")),
    ("max_subscriptions", Error(UNENFORCED_LIMIT)),
    ("max_subs", Error(UNENFORCED_LIMIT)),
    ("max_sub_tokens", Error(UNENFORCED_LIMIT)),
    ("max_subscription_tokens", Error(UNENFORCED_LIMIT)),
    ("disable_sublist_cache", Warn("affects performance only")),
    ("no_sublist_cache", Warn("affects performance only")),
    ("no_header_support", Warn("headers stay supported")),
    ("no_fast_producer_stall", Warn("affects flow control of fast publishers only")),
    ("feature_flags", Warn("no experimental features to switch")),
    ("proxy_protocol", Error("the PROXY protocol is not implemented; clients behind the proxy would fail and be mis-identified")),
    ("proxies", Error("trusted proxies are not implemented")),
    ("mappings", Error("subject mappings are not implemented; messages would go to unmapped subjects")),
    ("maps", Error("subject mappings are not implemented; messages would go to unmapped subjects")),
    // Auth: the `authorization` and `accounts` blocks belong to the auth module.
    ("authorization", Handled),
    ("accounts", Handled),
    ("no_auth_user", Handled),
    ("system_account", Handled),
    ("system", Error("Contrail reads this as `system_account`; spell it so")),
    ("no_system_account", Warn("there is no system account to turn off")),
    ("no_system", Warn("there is no system account to turn off")),
    ("no_sys_acc", Warn("there is no system account to turn off")),
    ("default_sentinel", Error(JWT_AUTH)),
    ("operator", Error(JWT_AUTH)),
    ("operators", Error(JWT_AUTH)),
    ("root", Error(JWT_AUTH)),
    ("roots", Error(JWT_AUTH)),
    ("root_operator", Error(JWT_AUTH)),
    ("root_operators", Error(JWT_AUTH)),
    ("trusted", Error(JWT_AUTH)),
    ("trusted_keys", Error(JWT_AUTH)),
    ("resolver", Error(JWT_AUTH)),
    ("account_resolver", Error(JWT_AUTH)),
    ("accounts_resolver", Error(JWT_AUTH)),
    ("resolver_tls", Error(JWT_AUTH)),
    ("resolver_preload", Error(JWT_AUTH)),
    ("resolver_pinned_accounts", Error(JWT_AUTH)),
    // TLS: the top-level `tls` block belongs to the TLS module.
    ("tls", Handled),
    ("allow_non_tls", Error("mixed TLS and plain clients on one port is not implemented")),
    ("ocsp", Error("OCSP stapling is not implemented; revoked certificates would not be noticed")),
    ("ocsp_cache", Error("OCSP is not implemented")),
    // Other protocols and servers.
    ("cluster", Error(CLUSTER)),
    ("gateway", Error(CLUSTER)),
    ("leaf", Error("leaf nodes are not implemented; ignoring them would cut this server off")),
    ("leafnodes", Error("leaf nodes are not implemented; ignoring them would cut this server off")),
    ("mqtt", Error("MQTT is not implemented")),
    // Contrail's own: outbound links to other servers (config/links.rs checks each entry).
    ("links", Handled),
    // JetStream.
    ("store_dir", Handled),
    ("storedir", Handled),
    ("default_js_domain", Error("JetStream domains are not implemented")),
    ("jetstream", Block),
    ("jetstream.enabled", Handled),
    ("jetstream.enable", Handled),
    ("jetstream.store_dir", Handled),
    ("jetstream.max_memory_store", Handled),
    ("jetstream.max_mem", Handled),
    ("jetstream.max_file_store", Handled),
    ("jetstream.max_file", Handled),
    ("jetstream.store", Error("Contrail reads this as `store_dir`; spell it so")),
    ("jetstream.storedir", Error("Contrail reads this as `store_dir`; spell it so")),
    ("jetstream.max_mem_store", Error("Contrail reads this as `max_memory_store`; spell it so")),
    ("jetstream.domain", Error("JetStream domains are not implemented")),
    ("jetstream.limits", Error(UNENFORCED_LIMIT)),
    ("jetstream.key", Error(ENCRYPTION)),
    ("jetstream.ek", Error(ENCRYPTION)),
    ("jetstream.encryption_key", Error(ENCRYPTION)),
    ("jetstream.prev_key", Error(ENCRYPTION)),
    ("jetstream.prev_ek", Error(ENCRYPTION)),
    ("jetstream.prev_encryption_key", Error(ENCRYPTION)),
    ("jetstream.cipher", Error(ENCRYPTION)),
    ("jetstream.tpm", Error(ENCRYPTION)),
    ("jetstream.strict", Warn("API requests are always checked as in strict mode")),
    ("jetstream.sync", Warn("the store syncs on its own schedule (every commit batch)")),
    ("jetstream.sync_interval", Warn("the store syncs on its own schedule (every commit batch)")),
    ("jetstream.extension_hint", Warn("a hint for clustered placement; there is no cluster")),
    ("jetstream.unique_tag", Warn("a hint for clustered placement; there is no cluster")),
    ("jetstream.max_outstanding_catchup", Warn("there is no cluster to catch up")),
    ("jetstream.meta_compact", Warn("there is no clustered meta log")),
    ("jetstream.meta_compact_size", Warn("there is no clustered meta log")),
    ("jetstream.meta_compact_sync", Warn("there is no clustered meta log")),
    ("jetstream.max_buffered_size", Warn("an internal buffer tuning of nats-server")),
    ("jetstream.max_buffered_msgs", Warn("an internal buffer tuning of nats-server")),
    ("jetstream.request_queue_limit", Warn("an internal queue tuning of nats-server")),
    ("jetstream.info_queue_limit", Warn("an internal queue tuning of nats-server")),
    ("jetstream.max_concurrent_io", Warn("an internal I/O tuning of nats-server")),
    // WebSocket. Origins, TLS and auth belong to the modules that implement them.
    ("ws", Error("Contrail reads this block as `websocket`; spell it so")),
    ("websocket", Block),
    ("websocket.listen", Handled),
    ("websocket.port", Handled),
    ("websocket.host", Handled),
    ("websocket.net", Handled),
    ("websocket.tls", Handled),
    ("websocket.no_tls", Handled),
    ("websocket.authorization", Handled),
    ("websocket.allowed_origins", Handled),
    ("websocket.same_origin", Handled),
    ("websocket.handshake_timeout", Handled),
    ("websocket.advertise", Warn("there is no cluster to advertise the WebSocket URL to")),
    ("websocket.compression", Warn("per-message compression is not implemented; frames go uncompressed")),
    ("websocket.compress", Warn("per-message compression is not implemented; frames go uncompressed")),
    ("websocket.headers", Warn("extra response headers are not sent")),
    ("websocket.ping_interval", Warn("WebSocket clients are pinged at the server's `ping_interval`")),
    ("websocket.authentication", Error("Contrail reads this as `authorization`; spell it so")),
    ("websocket.allowed_origin", Error(ORIGINS_SPELLING)),
    ("websocket.allow_origins", Error(ORIGINS_SPELLING)),
    ("websocket.allow_origin", Error(ORIGINS_SPELLING)),
    ("websocket.origins", Error(ORIGINS_SPELLING)),
    ("websocket.origin", Error(ORIGINS_SPELLING)),
    ("websocket.no_auth_user", Error("a WebSocket `no_auth_user` is not implemented")),
    ("websocket.jwt_cookie", Error(JWT_AUTH)),
    ("websocket.user_cookie", Error("credentials from cookies are not implemented")),
    ("websocket.pass_cookie", Error("credentials from cookies are not implemented")),
    ("websocket.token_cookie", Error("credentials from cookies are not implemented")),
];

/// The rule for a key path in the table's spelling (`jetstream.max_file`).
pub fn rule(path: &str) -> Option<Rule> {
    KEYS.iter()
        .find(|(key, _)| *key == path)
        .map(|(_, rule)| *rule)
}

/// What the check found: refusals and warnings, each naming key, file and line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Keys the server must not start with.
    pub errors: Vec<String>,
    /// Keys it starts without, logged at start.
    pub warnings: Vec<String>,
}

/// Checks every key of a parsed config against [`KEYS`].
pub fn check(parsed: &Parsed) -> Findings {
    let mut findings = Findings::default();
    if let Value::Object(map) = &parsed.tree {
        check_block(parsed, map, "", "", &mut findings);
    }
    findings
}

fn check_block(
    parsed: &Parsed,
    map: &serde_json::Map<String, Value>,
    table_prefix: &str,
    path_prefix: &str,
    findings: &mut Findings,
) {
    for (key, value) in map {
        let path = key_path(path_prefix, key);
        // nats-server passes over keys whose values were used as variables.
        if parsed.used_as_variable(&path) {
            continue;
        }
        let at = match parsed.location(&path) {
            Some(at) => format!("{at}: "),
            None => String::new(),
        };
        let lower = key.to_ascii_lowercase();
        let table_key = key_path(table_prefix, &lower);
        match rule(&table_key) {
            None => findings.errors.push(format!("{at}unknown field \"{key}\"")),
            Some(_) if lower != *key => findings.errors.push(format!(
                "{at}\"{key}\": Contrail reads keys in lower case; write it as \"{lower}\""
            )),
            Some(Handled) => {}
            Some(Block) => {
                if let Value::Object(inner) = value {
                    check_block(parsed, inner, &table_key, &path, findings);
                }
            }
            Some(Warn(reason)) => findings
                .warnings
                .push(format!("{at}\"{path}\" is ignored: {reason}")),
            Some(Error(reason)) => findings
                .errors
                .push(format!("{at}\"{path}\" is not supported: {reason}")),
        }
    }
}

/// Where a key was written, for error messages (`file:line: `, or nothing).
pub fn located(parsed: Option<&Parsed>, path: &str) -> String {
    parsed
        .and_then(|p| p.location(path))
        .map(|at: &Location| format!("{at}: "))
        .unwrap_or_default()
}
