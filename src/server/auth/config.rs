//! Reads the auth parts of a nats-server config (already parsed into a JSON tree by
//! [`crate::server::conf`]) into an [`AuthConfig`], with nats-server's spellings:
//!
//! - `authorization { user|username, pass|password, token, users: [...],
//!   default_permission(s)|permissions }`;
//! - users: `{user|username, pass|password, permission(s)|authorization}` or `{nkey, …}`;
//! - `permissions { pub|publish, sub|subscribe, allow_responses|publish_allow_responses }`, each
//!   direction a subject, a list, or `{allow, deny}`;
//! - `accounts { NAME { users, default_permissions, jetstream } }` (or a list of names);
//! - top-level `no_auth_user`; `websocket { authorization { user, pass, token }, no_auth_user }`.
//!
//! The checks nats-server makes at startup are made here too: users unique across accounts, no
//! single user or token beside account users, `$G` reserved, `no_auth_user` must exist.
//!
//! Every block read here has its key list beside the code that reads it (`*_KEYS`), and
//! `Reader::check` holds the block to it before anything is read, as nats-server does: a key
//! the list lacks is `unknown field` (a typo in `permissions` must not silently grant or drop a
//! permission). Keys nats-server knows but Contrail does not implement are in the lists too,
//! with the reason: refused when ignoring them would change who may connect, what they may do
//! or how much they may use (`auth_callout`, account `mappings` and `limits`, …), a logged
//! warning when it cannot. As in the top-level key table (`config::keys`), keys are read in
//! lower case (`Users` is refused with "write it as `users`"), and a key whose value was used as
//! a `$variable` is passed over.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::permissions::Permissions;
use super::{AccountConfig, AuthConfig, JsLimits, NkeyUser, Secret, User, WsAuth, GLOBAL_ACCOUNT};
use crate::server::conf::{key_path, Parsed};
use crate::server::config::keys::located;

mod permissions;
use permissions::read_permissions_at;

/// Why the auth settings of a config file are not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthConfigError {
    /// A key holds a value of the wrong kind.
    #[error("{key} must be {expected}")]
    WrongType {
        /// The key.
        key: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A user entry has neither `user` nor `nkey`.
    #[error("user entry requires a user")]
    UserWithoutName,
    /// An `nkey` is not a public user key (`U…`).
    #[error("not a valid public nkey for a user: {0}")]
    BadNkey(String),
    /// An nkey user also has a user name or password.
    #[error("nkey users do not take usernames or passwords")]
    NkeyWithPassword,
    /// The same user or nkey appears twice.
    #[error("duplicate user {0:?}")]
    DuplicateUser(String),
    /// An account may not be called this.
    #[error("account name {0:?} is reserved or not usable as a directory name")]
    BadAccountName(String),
    /// `authorization` has a single user or token while accounts have users.
    #[error("can not have a single user/pass or token and accounts with users")]
    SingleUserAndAccounts,
    /// `no_auth_user` names nobody.
    #[error("no_auth_user {0:?} not present as user or nkey in authorization block or account configuration")]
    UnknownNoAuthUser(String),
    /// A permission entry is not a valid subject.
    #[error("permission subject {0:?} is not a valid subject")]
    BadSubject(String),
    /// A key the block does not take (nats-server refuses it too: `unknown field`).
    #[error("{at}unknown field {key:?} in {block}")]
    UnknownField {
        /// `file:line: ` of the key, or nothing.
        at: String,
        /// The key as written.
        key: String,
        /// The block's path (`authorization.users[0].permissions`).
        block: String,
    },
    /// A key written in other than lower case (nats-server takes any case; Contrail reads
    /// lower case, as its top-level key table does).
    #[error(
        "{at}\"{key}\" in {block}: Contrail reads keys in lower case; write it as \"{lower}\""
    )]
    KeyCase {
        /// `file:line: ` of the key, or nothing.
        at: String,
        /// The key as written.
        key: String,
        /// The block's path.
        block: String,
        /// The spelling Contrail reads.
        lower: String,
    },
    /// A key nats-server knows that Contrail does not implement and may not ignore.
    #[error("{at}\"{path}\" is not supported: {reason}")]
    NotImplemented {
        /// `file:line: ` of the key, or nothing.
        at: String,
        /// The key's path (`authorization.auth_callout`).
        path: String,
        /// Why ignoring it is unsafe.
        reason: &'static str,
    },
    /// `allowed_connection_types` names a type nats-server does not know.
    #[error("unknown connection type {0:?}")]
    UnknownConnectionType(String),
    /// A JetStream setting of an account is not usable.
    #[error("account jetstream: {0}")]
    BadJetStream(String),
    /// An export or import is malformed, names an unknown account, or is not exported.
    #[error("account exports/imports: {0}")]
    BadImport(String),
}

type Result<T> = std::result::Result<T, AuthConfigError>;

/// What the reader does with one key of a block (each block's list sits beside its reader).
#[derive(Debug, Clone, Copy)]
enum Key {
    /// Read here.
    Read,
    /// Known to nats-server, not implemented, harmless to ignore: start, and log this reason.
    Ignored(&'static str),
    /// Known to nats-server, not implemented, unsafe to ignore: refuse to start, for this reason.
    Refused(&'static str),
}

use Key::{Ignored, Read, Refused};

/// A block's keys: each group of nats-server's spellings for one setting, and what is done with
/// it.
type Keys = &'static [(&'static [&'static str], Key)];

const PROXY: &str = "trusted proxies are not implemented; ignoring it would let this user connect without the proxy";
const UNENFORCED_LIMIT: &str =
    "this limit is not enforced; ignoring it would let clients use more than allowed";
const TRACING: &str = "message tracing is not implemented; messages flow untraced";
const CALLOUT: &str =
    "auth callout is not implemented; ignoring it would let clients in unauthenticated";
const WS_TIMEOUT: &str = "a WebSocket authorization timeout is not implemented; WebSocket clients get the `authorization` timeout";
const ACCOUNT_NKEY: &str =
    "account nkeys are not implemented; the account would not be known by its public key";
const MAPPINGS: &str =
    "subject mappings are not implemented; messages would go to unmapped subjects";
const RESPONSE_TYPE: &str = "only single responses are implemented; a streamed or chunked service would get one response through";
const RESPONSE_TIME: &str =
    "responses are awaited a fixed 2 minutes; ignoring it would let late responses through";
const TOKEN_POSITION: &str = "account token subjects are not implemented; the export would not be restricted to each account's own subject";
const LATENCY: &str = "service latency is not measured";
const LATENCY_SHARE: &str = "service latency is not measured, so there is none to share";
const NO_CLUSTER: &str = "there is no cluster to carry traffic for";

/// Where the reader is: the parsed file (for `file:line` and `$variables`; `None` for a bare
/// tree) and the warnings about keys it ignores.
struct Reader<'a> {
    parsed: Option<&'a Parsed>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    /// Whether the key at `path` was used as a `$variable` (nats-server passes over those).
    fn is_variable(&self, path: &str) -> bool {
        self.parsed.is_some_and(|p| p.used_as_variable(path))
    }

    /// Holds the block at `path` to `keys`, the keys its reader handles: an unknown, unimplemented
    /// or upper-case key is an error naming it; an ignored one a warning.
    fn check(&mut self, block: &Map<String, Value>, path: &str, keys: Keys) -> Result<()> {
        for key in block.keys() {
            let key_at = key_path(path, key);
            if self.is_variable(&key_at) {
                continue;
            }
            let at = located(self.parsed, &key_at);
            let lower = key.to_ascii_lowercase();
            match keys
                .iter()
                .find(|(spellings, _)| spellings.contains(&lower.as_str()))
            {
                None => {
                    return Err(AuthConfigError::UnknownField {
                        at,
                        key: key.clone(),
                        block: path.to_string(),
                    })
                }
                Some(_) if lower != *key => {
                    return Err(AuthConfigError::KeyCase {
                        at,
                        key: key.clone(),
                        block: path.to_string(),
                        lower,
                    })
                }
                Some((_, Read)) => {}
                Some((_, Ignored(reason))) => self
                    .warnings
                    .push(format!("{at}\"{key_at}\" is ignored: {reason}")),
                Some((_, Refused(reason))) => {
                    return Err(AuthConfigError::NotImplemented {
                        at,
                        path: key_at,
                        reason,
                    })
                }
            }
        }
        Ok(())
    }
}

fn wrong(key: &str, expected: &'static str) -> AuthConfigError {
    AuthConfigError::WrongType {
        key: key.to_string(),
        expected,
    }
}

/// The first of `keys` present in `map` (nats-server's alternative spellings). Exact: keys in
/// other cases are refused by [`Reader::check`], except variables (`TOKEN = …` is not `token`).
fn get<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<(&'a str, &'a Value)> {
    map.iter()
        .find(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v))
}

fn string(map: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>> {
    match get(map, keys) {
        None => Ok(None),
        Some((_, Value::String(s))) => Ok(Some(s.clone())),
        // A bare number is a string to nats-server's parser when used as a password.
        Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
        Some((k, _)) => Err(wrong(k, "a string")),
    }
}

fn object<'a>(value: &'a Value, key: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| wrong(key, "a block"))
}

/// A string or a list of strings (nats-server takes one for a list of one); `item` is the error
/// for a list entry that is not a string, `shape` for a value that is neither.
fn one_or_many(
    value: &Value,
    item: impl Fn() -> AuthConfigError,
    shape: impl FnOnce() -> AuthConfigError,
) -> Result<Vec<String>> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(&item))
            .collect(),
        _ => Err(shape()),
    }
}

/// Reads every auth setting from the config tree; `parsed` (the file it came from, if any)
/// gives errors their `file:line` and marks keys used as variables. Also returns warnings about
/// keys that are ignored, to log at start.
pub fn read(tree: &Value, parsed: Option<&Parsed>) -> Result<(AuthConfig, Vec<String>)> {
    let mut r = Reader {
        parsed,
        warnings: Vec::new(),
    };
    let auth = read_all(&mut r, tree)?;
    Ok((auth, r.warnings))
}

/// `authorization { … }`.
const AUTHORIZATION_KEYS: Keys = &[
    (&["user", "username"], Read),
    (&["pass", "password"], Read),
    (&["token"], Read),
    (&["timeout"], Read),
    (&["users"], Read),
    (
        &["default_permission", "default_permissions", "permissions"],
        Read,
    ),
    (&["auth_callout", "auth_hook"], Refused(CALLOUT)),
    (&["proxy_required"], Refused(PROXY)),
];

fn read_all(r: &mut Reader, tree: &Value) -> Result<AuthConfig> {
    let mut auth = AuthConfig::default();
    let Some(top) = tree.as_object() else {
        return Ok(auth);
    };
    if let Some((key, block)) = get(top, &["authorization"]) {
        let block = object(block, key)?;
        r.check(block, key, AUTHORIZATION_KEYS)?;
        auth.user = string(block, &["user", "username"])?;
        auth.pass = string(block, &["pass", "password"])?.map(Secret);
        auth.token = string(block, &["token"])?.map(Secret);
        if let Some((key, t)) = get(block, &["timeout"]) {
            // Seconds, or a duration string (nats-server accepts both).
            let t = super::super::conf::duration(t).ok_or_else(|| wrong(key, "a duration"))?;
            auth.timeout = Some(t);
        }
        let defaults = match get(
            block,
            &["default_permission", "default_permissions", "permissions"],
        ) {
            Some((k, v)) => Some(Arc::new(read_permissions_at(r, v, &key_path(key, k))?)),
            None => None,
        };
        if let Some((k, users)) = get(block, &["users"]) {
            let path = key_path(key, k);
            read_users(
                r,
                &mut auth,
                users,
                &path,
                GLOBAL_ACCOUNT,
                defaults.as_ref(),
            )?;
        }
    }
    if let Some((key, accounts)) = get(top, &["accounts"]) {
        read_accounts(r, &mut auth, key, accounts)?;
    }
    auth.no_auth_user = string(top, &["no_auth_user"])?;
    if let Some((key, ws)) = get(top, &["websocket", "ws"]) {
        auth.websocket = read_ws(r, object(ws, key)?, key)?;
    }
    for name in [&auth.no_auth_user, &auth.websocket.no_auth_user]
        .into_iter()
        .flatten()
    {
        if !auth.users.contains_key(name) && !auth.nkeys.contains_key(name) {
            return Err(AuthConfigError::UnknownNoAuthUser(name.clone()));
        }
    }
    Ok(auth)
}

/// `websocket { authorization { … } }`: nats-server's simple form, user/password or a token
/// (no `users`).
const WS_AUTHORIZATION_KEYS: Keys = &[
    (&["user", "username"], Read),
    (&["pass", "password"], Read),
    (&["token"], Read),
    (&["timeout"], Refused(WS_TIMEOUT)),
];

fn read_ws(r: &mut Reader, ws: &Map<String, Value>, ws_key: &str) -> Result<WsAuth> {
    let mut out = WsAuth {
        no_auth_user: string(ws, &["no_auth_user"])?,
        ..WsAuth::default()
    };
    if let Some((key, block)) = get(ws, &["authorization", "authentication"]) {
        let block = object(block, key)?;
        r.check(block, &key_path(ws_key, key), WS_AUTHORIZATION_KEYS)?;
        out.user = string(block, &["user", "username"])?;
        out.pass = string(block, &["pass", "password"])?.map(Secret);
        out.token = string(block, &["token"])?.map(Secret);
    }
    Ok(out)
}

/// An account's body: `accounts { NAME { … } }`.
const ACCOUNT_KEYS: Keys = &[
    (&["users"], Read),
    (&["default_permissions"], Read),
    (&["jetstream"], Read),
    (&["exports"], Read),
    (&["imports"], Read),
    (&["nkey"], Refused(ACCOUNT_NKEY)),
    (&["mappings", "maps"], Refused(MAPPINGS)),
    (&["limits"], Refused(UNENFORCED_LIMIT)),
    (&["msg_trace", "trace_dest"], Ignored(TRACING)),
];

fn read_accounts(r: &mut Reader, auth: &mut AuthConfig, key: &str, accounts: &Value) -> Result<()> {
    match accounts {
        // A plain list of names: accounts with no users.
        Value::Array(names) => {
            for name in names {
                let name = name.as_str().ok_or_else(|| wrong(key, "a list of names"))?;
                add_account(auth, name, None)?;
            }
        }
        Value::Object(map) => {
            for (name, body) in map {
                let path = key_path(key, name);
                if r.is_variable(&path) {
                    continue;
                }
                let body = object(body, name)?;
                r.check(body, &path, ACCOUNT_KEYS)?;
                let jetstream = match get(body, &["jetstream"]) {
                    Some((k, v)) => read_account_jetstream(r, v, &key_path(&path, k))?,
                    None => None,
                };
                add_account(auth, name, jetstream)?;
                if let Some((k, v)) = get(body, &["exports"]) {
                    check_entries(r, v, &key_path(&path, k), EXPORT_KEYS)?;
                    let exports = super::imports::read_exports(v)?;
                    if let Some(last) = auth.accounts.last_mut() {
                        last.exports = exports;
                    }
                }
                if let Some((k, v)) = get(body, &["imports"]) {
                    check_imports_keys(r, v, &key_path(&path, k))?;
                    let imports = super::imports::read_imports(v)?;
                    if let Some(last) = auth.accounts.last_mut() {
                        last.imports = imports;
                    }
                }
                let defaults = match get(body, &["default_permissions"]) {
                    Some((k, v)) => Some(Arc::new(read_permissions_at(r, v, &key_path(&path, k))?)),
                    None => None,
                };
                if let Some((k, users)) = get(body, &["users"]) {
                    if auth.user.is_some() || auth.token.is_some() {
                        return Err(AuthConfigError::SingleUserAndAccounts);
                    }
                    let users_path = key_path(&path, k);
                    read_users(r, auth, users, &users_path, name, defaults.as_ref())?;
                }
            }
        }
        _ => return Err(wrong(key, "a block or a list")),
    }
    check_imports(auth)
}

/// An `exports` entry (read by [`super::imports::read_exports`]).
const EXPORT_KEYS: Keys = &[
    (&["stream"], Read),
    (&["service"], Read),
    (&["accounts"], Read),
    (&["response", "response_type"], Refused(RESPONSE_TYPE)),
    (
        &[
            "threshold",
            "response_threshold",
            "response_max_time",
            "response_time",
        ],
        Refused(RESPONSE_TIME),
    ),
    (&["account_token_position"], Refused(TOKEN_POSITION)),
    (&["latency"], Ignored(LATENCY)),
    (&["allow_trace"], Ignored(TRACING)),
];

/// An `imports` entry (read by [`super::imports::read_imports`]).
const IMPORT_KEYS: Keys = &[
    (&["stream"], Read),
    (&["service"], Read),
    (&["prefix"], Read),
    (&["to"], Read),
    (&["share"], Ignored(LATENCY_SHARE)),
    (&["allow_trace"], Ignored(TRACING)),
];

/// An import's source: `stream|service: { account, subject }`.
const IMPORT_SOURCE_KEYS: Keys = &[(&["account"], Read), (&["subject"], Read)];

/// Checks each block of an `exports`/`imports` list (other shapes are refused by their reader).
fn check_entries(r: &mut Reader, list: &Value, path: &str, keys: Keys) -> Result<()> {
    for (i, entry) in list.as_array().into_iter().flatten().enumerate() {
        if let Value::Object(map) = entry {
            r.check(map, &format!("{path}[{i}]"), keys)?;
        }
    }
    Ok(())
}

/// The keys of each import entry and of its `stream`/`service` source.
fn check_imports_keys(r: &mut Reader, list: &Value, path: &str) -> Result<()> {
    check_entries(r, list, path, IMPORT_KEYS)?;
    for (i, entry) in list.as_array().into_iter().flatten().enumerate() {
        for (k, source) in entry.as_object().into_iter().flatten() {
            if let ("stream" | "service", Value::Object(source)) = (k.as_str(), source) {
                r.check(source, &format!("{path}[{i}].{k}"), IMPORT_SOURCE_KEYS)?;
            }
        }
    }
    Ok(())
}

/// Every import must name a configured account that exports what it imports to it.
fn check_imports(auth: &AuthConfig) -> Result<()> {
    for account in &auth.accounts {
        for import in &account.imports {
            let Some(exporter) = auth.account(&import.account) else {
                return Err(AuthConfigError::BadImport(format!(
                    "{} imports from unknown account {:?}",
                    account.name, import.account
                )));
            };
            let ok = super::imports::authorized(
                &exporter.exports,
                &account.name,
                import.kind,
                &import.subject,
            );
            if !ok {
                return Err(AuthConfigError::BadImport(format!(
                    "{} may not import {:?} from {}",
                    account.name, import.subject, import.account
                )));
            }
        }
    }
    Ok(())
}

/// Account names become directory names under the store: nothing that could leave it.
fn add_account(auth: &mut AuthConfig, name: &str, jetstream: Option<JsLimits>) -> Result<()> {
    let usable = !name.is_empty()
        && name != GLOBAL_ACCOUNT
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0']);
    if !usable || auth.account(name).is_some() {
        return Err(AuthConfigError::BadAccountName(name.to_string()));
    }
    auth.accounts.push(AccountConfig {
        name: name.to_string(),
        jetstream,
        exports: Vec::new(),
        imports: Vec::new(),
    });
    Ok(())
}

/// An account's `jetstream { … }` limits.
const ACCOUNT_JETSTREAM_KEYS: Keys = &[
    (&["max_memory", "max_mem", "mem", "memory"], Read),
    (
        &["max_store", "max_file", "max_disk", "store", "disk"],
        Read,
    ),
    (&["max_streams", "streams"], Read),
    (&["max_consumers", "consumers"], Read),
    (
        &["max_bytes_required", "max_stream_bytes", "max_bytes"],
        Refused(UNENFORCED_LIMIT),
    ),
    (
        &["mem_max_stream_bytes", "memory_max_stream_bytes"],
        Refused(UNENFORCED_LIMIT),
    ),
    (
        &["disk_max_stream_bytes", "store_max_stream_bytes"],
        Refused(UNENFORCED_LIMIT),
    ),
    (&["max_ack_pending"], Refused(UNENFORCED_LIMIT)),
    (&["cluster_traffic"], Ignored(NO_CLUSTER)),
];

/// `jetstream: enabled | disabled | true | false | { max_mem, max_file, max_streams, … }`.
fn read_account_jetstream(r: &mut Reader, value: &Value, path: &str) -> Result<Option<JsLimits>> {
    match value {
        Value::Bool(on) => Ok(on.then(JsLimits::default)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" => Ok(Some(JsLimits::default())),
            "disabled" | "disable" => Ok(None),
            other => Err(AuthConfigError::BadJetStream(format!(
                "expected 'enabled' or 'disabled', got {other:?}"
            ))),
        },
        Value::Object(map) => {
            r.check(map, path, ACCOUNT_JETSTREAM_KEYS)?;
            let mut limits = JsLimits::default();
            for (key, v) in map {
                let n = || {
                    v.as_i64().ok_or_else(|| {
                        AuthConfigError::BadJetStream(format!("{key} must be a size"))
                    })
                };
                match key.as_str() {
                    "max_memory" | "max_mem" | "mem" | "memory" => limits.max_memory = n()?,
                    "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                        limits.max_store = n()?
                    }
                    "max_streams" | "streams" => limits.max_streams = n()?,
                    "max_consumers" | "consumers" => limits.max_consumers = n()?,
                    // Ignored keys (warned about) and variables.
                    _ => {}
                }
            }
            Ok(Some(limits))
        }
        _ => Err(AuthConfigError::BadJetStream(
            "expected enabled, disabled or a block of limits".into(),
        )),
    }
}

/// A `users` entry.
const USER_KEYS: Keys = &[
    (&["user", "username"], Read),
    (&["pass", "password"], Read),
    (&["nkey"], Read),
    (&["permission", "permissions", "authorization"], Read),
    (
        &["allowed_connection_types", "connection_types", "clients"],
        Read,
    ),
    (&["proxy_required"], Refused(PROXY)),
];

fn read_users(
    r: &mut Reader,
    auth: &mut AuthConfig,
    users: &Value,
    path: &str,
    account: &str,
    defaults: Option<&Arc<Permissions>>,
) -> Result<()> {
    let users = users.as_array().ok_or_else(|| wrong("users", "a list"))?;
    for (i, entry) in users.iter().enumerate() {
        let entry_path = format!("{path}[{i}]");
        let entry = object(entry, "user entry")?;
        r.check(entry, &entry_path, USER_KEYS)?;
        let name = string(entry, &["user", "username"])?;
        let password = string(entry, &["pass", "password"])?;
        let nkey = string(entry, &["nkey"])?;
        let connection_types = match get(
            entry,
            &["allowed_connection_types", "connection_types", "clients"],
        ) {
            Some((_, v)) => connection_types(v)?,
            None => Vec::new(),
        };
        let permissions = match get(entry, &["permission", "permissions", "authorization"]) {
            Some((k, v)) => Some(Arc::new(read_permissions_at(
                r,
                v,
                &key_path(&entry_path, k),
            )?)),
            None => defaults.cloned(),
        };
        match (nkey, name) {
            (Some(key), name) => {
                if name.is_some() || password.is_some() {
                    return Err(AuthConfigError::NkeyWithPassword);
                }
                if !key.starts_with('U') || nkeys::KeyPair::from_public_key(&key).is_err() {
                    return Err(AuthConfigError::BadNkey(key));
                }
                if auth.nkeys.contains_key(&key) || auth.users.contains_key(&key) {
                    return Err(AuthConfigError::DuplicateUser(key));
                }
                let user = NkeyUser {
                    key: key.clone(),
                    permissions,
                    account: account.to_string(),
                    connection_types,
                };
                auth.nkeys.insert(key, user);
            }
            (None, Some(name)) => {
                if auth.users.contains_key(&name) || auth.nkeys.contains_key(&name) {
                    return Err(AuthConfigError::DuplicateUser(name));
                }
                let user = User {
                    name: name.clone(),
                    password: Secret(password.unwrap_or_default()),
                    permissions,
                    account: account.to_string(),
                    connection_types,
                };
                auth.users.insert(name, user);
            }
            (None, None) => return Err(AuthConfigError::UserWithoutName),
        }
    }
    Ok(())
}

/// `allowed_connection_types: [STANDARD, WEBSOCKET, …]`, upper-cased; unknown types refused.
fn connection_types(value: &Value) -> Result<Vec<String>> {
    const KNOWN: [&str; 7] = [
        "STANDARD",
        "WEBSOCKET",
        "LEAFNODE",
        "LEAFNODE_WS",
        "MQTT",
        "MQTT_WS",
        "IN_PROCESS",
    ];
    let list = one_or_many(
        value,
        || wrong("allowed_connection_types", "a list of names"),
        || wrong("allowed_connection_types", "a list of names"),
    )?;
    list.into_iter()
        .map(|t| {
            let upper = t.to_ascii_uppercase();
            match KNOWN.contains(&upper.as_str()) {
                true => Ok(upper),
                false => Err(AuthConfigError::UnknownConnectionType(t)),
            }
        })
        .collect()
}
