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

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::permissions::{Permissions, ResponsePermission, SubjectPermission};
use super::{AccountConfig, AuthConfig, JsLimits, NkeyUser, Secret, User, WsAuth, GLOBAL_ACCOUNT};
use crate::core::subject;

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
    /// A key the websocket authorization block does not take (nats-server refuses to start:
    /// it takes only user/password or a token, no `users`).
    #[error("unknown field {0:?} in websocket authorization")]
    UnknownWsAuthField(String),
    /// `allowed_connection_types` names a type nats-server does not know.
    #[error("unknown connection type {0:?}")]
    UnknownConnectionType(String),
    /// A key nats-server does not know in a permissions block.
    #[error("unknown field {0:?} parsing permissions")]
    UnknownPermissionField(String),
    /// A JetStream setting of an account is not usable.
    #[error("account jetstream: {0}")]
    BadJetStream(String),
    /// An export or import is malformed, names an unknown account, or is not exported.
    #[error("account exports/imports: {0}")]
    BadImport(String),
}

type Result<T> = std::result::Result<T, AuthConfigError>;

fn wrong(key: &str, expected: &'static str) -> AuthConfigError {
    AuthConfigError::WrongType {
        key: key.to_string(),
        expected,
    }
}

/// The first of `keys` present in `map` (nats-server's alternative spellings; case-insensitive).
fn get<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<(&'a str, &'a Value)> {
    map.iter()
        .find(|(k, _)| keys.iter().any(|want| k.eq_ignore_ascii_case(want)))
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

/// Reads every auth setting from the config tree.
pub fn read(tree: &Value) -> Result<AuthConfig> {
    let mut auth = AuthConfig::default();
    let Some(top) = tree.as_object() else {
        return Ok(auth);
    };
    if let Some((key, block)) = get(top, &["authorization"]) {
        let block = object(block, key)?;
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
            Some((_, v)) => Some(Arc::new(read_permissions(v)?)),
            None => None,
        };
        if let Some((_, users)) = get(block, &["users"]) {
            read_users(&mut auth, users, GLOBAL_ACCOUNT, defaults.as_ref())?;
        }
    }
    if let Some((key, accounts)) = get(top, &["accounts"]) {
        read_accounts(&mut auth, key, accounts)?;
    }
    auth.no_auth_user = string(top, &["no_auth_user"])?;
    if let Some((key, ws)) = get(top, &["websocket", "ws"]) {
        auth.websocket = read_ws(object(ws, key)?)?;
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

fn read_ws(ws: &Map<String, Value>) -> Result<WsAuth> {
    let mut out = WsAuth {
        no_auth_user: string(ws, &["no_auth_user"])?,
        ..WsAuth::default()
    };
    // nats-server's websocket authorization is the simple form: user/pass or token only.
    if let Some((key, block)) = get(ws, &["authorization", "authentication"]) {
        let block = object(block, key)?;
        let known = ["user", "username", "pass", "password", "token", "timeout"];
        if let Some(unknown) = block
            .keys()
            .find(|k| !known.iter().any(|n| k.eq_ignore_ascii_case(n)))
        {
            return Err(AuthConfigError::UnknownWsAuthField(unknown.clone()));
        }
        out.user = string(block, &["user", "username"])?;
        out.pass = string(block, &["pass", "password"])?.map(Secret);
        out.token = string(block, &["token"])?.map(Secret);
    }
    Ok(out)
}

fn read_accounts(auth: &mut AuthConfig, key: &str, accounts: &Value) -> Result<()> {
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
                let body = object(body, name)?;
                let jetstream = match get(body, &["jetstream"]) {
                    Some((_, v)) => read_account_jetstream(v)?,
                    None => None,
                };
                add_account(auth, name, jetstream)?;
                if let Some((_, v)) = get(body, &["exports"]) {
                    let exports = super::imports::read_exports(v)?;
                    if let Some(last) = auth.accounts.last_mut() {
                        last.exports = exports;
                    }
                }
                if let Some((_, v)) = get(body, &["imports"]) {
                    let imports = super::imports::read_imports(v)?;
                    if let Some(last) = auth.accounts.last_mut() {
                        last.imports = imports;
                    }
                }
                let defaults = match get(body, &["default_permissions"]) {
                    Some((_, v)) => Some(Arc::new(read_permissions(v)?)),
                    None => None,
                };
                if let Some((_, users)) = get(body, &["users"]) {
                    if auth.user.is_some() || auth.token.is_some() {
                        return Err(AuthConfigError::SingleUserAndAccounts);
                    }
                    read_users(auth, users, name, defaults.as_ref())?;
                }
            }
        }
        _ => return Err(wrong(key, "a block or a list")),
    }
    check_imports(auth)
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

/// `jetstream: enabled | disabled | true | false | { max_mem, max_file, max_streams, … }`.
fn read_account_jetstream(value: &Value) -> Result<Option<JsLimits>> {
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
            let mut limits = JsLimits::default();
            for (key, v) in map {
                let n = || {
                    v.as_i64().ok_or_else(|| {
                        AuthConfigError::BadJetStream(format!("{key} must be a size"))
                    })
                };
                match key.to_ascii_lowercase().as_str() {
                    "max_memory" | "max_mem" | "mem" | "memory" => limits.max_memory = n()?,
                    "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                        limits.max_store = n()?
                    }
                    "max_streams" | "streams" => limits.max_streams = n()?,
                    "max_consumers" | "consumers" => limits.max_consumers = n()?,
                    // Other tiers' limits are accepted and not enforced.
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

fn read_users(
    auth: &mut AuthConfig,
    users: &Value,
    account: &str,
    defaults: Option<&Arc<Permissions>>,
) -> Result<()> {
    let users = users.as_array().ok_or_else(|| wrong("users", "a list"))?;
    for entry in users {
        let entry = object(entry, "user entry")?;
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
            Some((_, v)) => Some(Arc::new(read_permissions(v)?)),
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
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong("allowed_connection_types", "a list of names"))
            })
            .collect::<Result<_>>()?,
        _ => return Err(wrong("allowed_connection_types", "a list of names")),
    };
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

/// A `permissions { … }` block.
pub fn read_permissions(value: &Value) -> Result<Permissions> {
    let map = object(value, "permissions")?;
    let mut perms = Permissions::default();
    for (key, v) in map {
        match key.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => perms.publish = read_direction(v, false)?,
            "sub" | "subscribe" | "export" => perms.subscribe = read_direction(v, true)?,
            "publish_allow_responses" | "allow_responses" => {
                perms.response = read_responses(v)?;
            }
            _ => return Err(AuthConfigError::UnknownPermissionField(key.clone())),
        }
    }
    if perms.response.is_some() {
        // Responses are granted on top of an allow list; with none, the user may publish only
        // responses (nats-server turns the blanket allow off).
        let publish = perms.publish.get_or_insert_with(SubjectPermission::default);
        publish.allow.get_or_insert_with(Vec::new);
    }
    Ok(perms)
}

/// One direction: `"subj"`, `[subjects]` (both an allow list) or `{allow, deny}`.
fn read_direction(value: &Value, queues: bool) -> Result<Option<SubjectPermission>> {
    match value {
        Value::Object(map) if map.is_empty() => Ok(None),
        Value::Object(map) => {
            let mut out = SubjectPermission::default();
            for (key, v) in map {
                match key.to_ascii_lowercase().as_str() {
                    "allow" => out.allow = Some(subjects(v, queues)?),
                    "deny" => out.deny = subjects(v, queues)?,
                    _ => return Err(AuthConfigError::UnknownPermissionField(key.clone())),
                }
            }
            Ok(Some(out))
        }
        other => Ok(Some(SubjectPermission {
            allow: Some(subjects(other, queues)?),
            deny: Vec::new(),
        })),
    }
}

fn subjects(value: &Value, queues: bool) -> Result<Vec<String>> {
    let list: Vec<String> = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong("permission subject", "a string"))
            })
            .collect::<Result<_>>()?,
        _ => return Err(wrong("permissions", "a subject or a list of subjects")),
    };
    for s in &list {
        let valid = match s.split_whitespace().collect::<Vec<_>>().as_slice() {
            [one] if *one == s.as_str() => subject::validate_filter(one).is_ok(),
            // `"subject queue"`, for subscribe permissions only.
            [subj, queue] if queues => {
                subject::validate_filter(subj).is_ok() && subject::validate_filter(queue).is_ok()
            }
            _ => false,
        };
        if !valid {
            return Err(AuthConfigError::BadSubject(s.clone()));
        }
    }
    Ok(list)
}

/// `allow_responses: true | false | { max, expires }`.
fn read_responses(value: &Value) -> Result<Option<ResponsePermission>> {
    match value {
        Value::Bool(on) => Ok(on.then(ResponsePermission::default)),
        Value::Object(map) => {
            let mut rp = ResponsePermission::default();
            for (key, v) in map {
                match key.to_ascii_lowercase().as_str() {
                    "max" | "max_msgs" | "max_messages" | "max_responses" => {
                        let n = v.as_i64().ok_or_else(|| wrong(key, "an integer"))?;
                        // 0 keeps the default; negative means unlimited.
                        if n != 0 {
                            rp.max_msgs = n;
                        }
                    }
                    "expires" | "expiration" | "ttl" => {
                        if !v.is_string() {
                            return Err(wrong(key, "a duration string"));
                        }
                        let ttl = super::super::conf::duration(v)
                            .ok_or_else(|| wrong(key, "a duration string"))?;
                        if ttl != Duration::ZERO {
                            rp.expires = Some(ttl);
                        }
                    }
                    _ => return Err(AuthConfigError::UnknownPermissionField(key.clone())),
                }
            }
            Ok(Some(rp))
        }
        _ => Err(wrong("allow_responses", "a boolean or a block")),
    }
}
