//! Who may connect, as whom, into which account, with which permissions — nats-server's
//! config-file auth model (no JWT/operator mode).
//!
//! - [`config`] reads `authorization { … }`, `accounts { … }`, `no_auth_user` and
//!   `websocket { authorization { … } }` from the parsed config into an [`AuthConfig`];
//! - [`AuthConfig::authenticate`] checks a CONNECT and yields an [`Identity`]: the account the
//!   connection lives in and its permissions. The order of the checks is nats-server's
//!   (`processClientOrLeafAuthentication`): nkey users, then users, then the single
//!   user/password or token;
//! - [`permissions`] checks PUB and SUB against a user's permissions;
//! - [`account`] runs each account: its own router (subjects are isolated between accounts) and
//!   its own JetStream engine and store directory.
//!
//! Secrets are compared in constant time, or with bcrypt when the configured value is a bcrypt
//! hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`), as nats-server does.

pub mod account;
pub mod config;
pub mod imports;
pub mod permissions;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;

use crate::core::proto::Connect;
pub use config::AuthConfigError;
pub use permissions::Permissions;

/// Name of the global account: every client that is not a user of a configured account.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// A password or token from the config: plain text, or a bcrypt hash. Never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// Whether this is a bcrypt hash (nats-server: `^\$2[abxy]\$\d{2}\$`).
    pub fn is_bcrypt(&self) -> bool {
        let b = self.0.as_bytes();
        b.len() > 7
            && b.starts_with(b"$2")
            && matches!(b[2], b'a' | b'b' | b'x' | b'y')
            && b[3] == b'$'
            && b[4].is_ascii_digit()
            && b[5].is_ascii_digit()
            && b[6] == b'$'
    }

    /// Whether `given` (what the client sent) is this secret: a bcrypt check against a hash,
    /// otherwise a constant-time comparison.
    pub fn matches(&self, given: &str) -> bool {
        if self.is_bcrypt() {
            // nats-server's Go bcrypt reads `$2x$`/`$2y$` as `$2a$`; the crate wants a known one.
            let hash = match &self.0[..4] {
                "$2x$" | "$2y$" => format!("$2a${}", &self.0[4..]),
                _ => self.0.clone(),
            };
            return bcrypt::verify(given, &hash).unwrap_or(false);
        }
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

/// A user with a name and password.
#[derive(Debug, Clone)]
pub struct User {
    /// The user name clients send as `user`.
    pub name: String,
    /// The password (empty: none needed, as for a `no_auth_user`).
    pub password: Secret,
    /// Its permissions (the block's `default_permissions` when it has none).
    pub permissions: Option<Arc<Permissions>>,
    /// The account it belongs to.
    pub account: String,
    /// `allowed_connection_types`, upper case (empty: any).
    pub connection_types: Vec<String>,
}

/// A user identified by an nkey (a public `U…` key) that signs the server's nonce.
#[derive(Debug, Clone)]
pub struct NkeyUser {
    /// The public user key.
    pub key: String,
    /// Its permissions.
    pub permissions: Option<Arc<Permissions>>,
    /// The account it belongs to.
    pub account: String,
    /// `allowed_connection_types`, upper case (empty: any).
    pub connection_types: Vec<String>,
}

/// `websocket { authorization { … } no_auth_user }`: replaces the top-level single user,
/// token and `no_auth_user` for WebSocket clients (users and nkeys still apply).
#[derive(Debug, Clone, Default)]
pub struct WsAuth {
    /// `user`/`username`.
    pub user: Option<String>,
    /// `pass`/`password`.
    pub pass: Option<Secret>,
    /// `token`.
    pub token: Option<Secret>,
    /// `no_auth_user` of the websocket block.
    pub no_auth_user: Option<String>,
}

impl WsAuth {
    fn overrides(&self) -> bool {
        self.user.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}

/// JetStream limits of an account (`-1`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsLimits {
    /// `max_memory`/`max_mem`.
    pub max_memory: i64,
    /// `max_store`/`max_file`.
    pub max_store: i64,
    /// `max_streams`.
    pub max_streams: i64,
    /// `max_consumers`.
    pub max_consumers: i64,
}

impl Default for JsLimits {
    fn default() -> Self {
        JsLimits {
            max_memory: -1,
            max_store: -1,
            max_streams: -1,
            max_consumers: -1,
        }
    }
}

/// A configured account.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Its name.
    pub name: String,
    /// JetStream limits when JetStream is enabled for it.
    pub jetstream: Option<JsLimits>,
    /// What other accounts may import from it.
    pub exports: Vec<imports::Export>,
    /// What it imports from other accounts.
    pub imports: Vec<imports::Import>,
}

/// Every auth setting.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// The single token every client must send (`authorization { token }`, `--auth`).
    pub token: Option<Secret>,
    /// The single user (`authorization { user }`, `--user`).
    pub user: Option<String>,
    /// Its password.
    pub pass: Option<Secret>,
    /// Users by name, from `authorization` and every account.
    pub users: BTreeMap<String, User>,
    /// Nkey users by public key.
    pub nkeys: BTreeMap<String, NkeyUser>,
    /// Who a client that sends no credentials is.
    pub no_auth_user: Option<String>,
    /// Accounts besides the global one.
    pub accounts: Vec<AccountConfig>,
    /// WebSocket overrides.
    pub websocket: WsAuth,
    /// `authorization { timeout }`: how long a client has to send CONNECT.
    pub timeout: Option<std::time::Duration>,
}

/// Who a connection is, once CONNECT was accepted.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The account the connection lives in.
    pub account: String,
    /// The user name or nkey, when there was one.
    pub user: Option<String>,
    /// What it may publish and subscribe to (`None`: anything).
    pub permissions: Option<Arc<Permissions>>,
}

impl Identity {
    /// A client of the global account with no restrictions.
    pub fn global() -> Identity {
        Identity {
            account: GLOBAL_ACCOUNT.to_string(),
            user: None,
            permissions: None,
        }
    }
}

/// Why a CONNECT was refused (the client only ever sees `Authorization Violation`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The user name or nkey is not configured.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// The password or token does not match.
    #[error("wrong password or token")]
    WrongSecret,
    /// An nkey user sent no signature, or one that does not verify against the nonce.
    #[error("nkey signature missing or invalid")]
    BadSignature,
    /// Credentials were required and none matched.
    #[error("no valid credentials")]
    NoCredentials,
    /// The user may not connect over this listener (`allowed_connection_types`).
    #[error("connection type not allowed for this user")]
    ConnectionTypeNotAllowed,
}

/// Whether a user limited to `types` may connect as a TCP (`STANDARD`) or WebSocket client.
fn type_allowed(types: &[String], websocket: bool) -> Result<(), AuthError> {
    let want = if websocket { "WEBSOCKET" } else { "STANDARD" };
    match types.is_empty() || types.iter().any(|t| t == want) {
        true => Ok(()),
        false => Err(AuthError::ConnectionTypeNotAllowed),
    }
}

impl AuthConfig {
    /// Whether TCP clients must authenticate (nats-server's INFO `auth_required`).
    pub fn required(&self) -> bool {
        self.token.is_some()
            || self.user.is_some()
            || !self.users.is_empty()
            || !self.nkeys.is_empty()
    }

    /// Whether clients of this listener must authenticate.
    pub fn required_for(&self, websocket: bool) -> bool {
        self.required() || (websocket && self.websocket.overrides())
    }

    /// Whether INFO must carry a nonce for nkey users to sign.
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// The account configured for `name`, if any besides `$G`.
    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// Checks a CONNECT. `nonce` is what INFO sent; `websocket` selects the WebSocket overrides.
    pub fn authenticate(
        &self,
        connect: &Connect,
        nonce: Option<&str>,
        websocket: bool,
    ) -> Result<Identity, AuthError> {
        if !self.required_for(websocket) {
            return Ok(Identity::global());
        }
        let ws = websocket && self.websocket.overrides();
        let (no_auth_user, user, pass, token) = if ws {
            let w = &self.websocket;
            (&w.no_auth_user, &w.user, &w.pass, &w.token)
        } else {
            (&self.no_auth_user, &self.user, &self.pass, &self.token)
        };
        let sent = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        let anonymous = !sent(&connect.user) && !sent(&connect.pass) && !sent(&connect.auth_token);

        // Nkey users first; a client with no credentials may be the no_auth_user's nkey.
        let mut nkey = connect.nkey.clone().filter(|k| !k.is_empty());
        if nkey.is_none() && anonymous {
            nkey = no_auth_user.clone().filter(|u| self.nkeys.contains_key(u));
        }
        if let Some(key) = nkey {
            let Some(found) = self.nkeys.get(&key) else {
                return Err(AuthError::UnknownUser(key));
            };
            type_allowed(&found.connection_types, websocket)?;
            if no_auth_user.as_deref() != Some(key.as_str()) {
                verify_signature(&key, nonce, connect.sig.as_deref())?;
            }
            return Ok(Identity {
                account: found.account.clone(),
                user: Some(key),
                permissions: found.permissions.clone(),
            });
        }

        // Then users; a client with no credentials may be the no_auth_user.
        if !self.users.is_empty() {
            let mut name = connect.user.clone().filter(|u| !u.is_empty());
            let mut no_auth = false;
            if anonymous {
                if let Some(u) = no_auth_user
                    .as_ref()
                    .filter(|u| self.users.contains_key(*u))
                {
                    name = Some(u.clone());
                    no_auth = true;
                }
            }
            if let Some(name) = name {
                let Some(found) = self.users.get(&name) else {
                    return Err(AuthError::UnknownUser(name));
                };
                type_allowed(&found.connection_types, websocket)?;
                let given = connect.pass.as_deref().unwrap_or("");
                if !no_auth && !found.password.matches(given) {
                    return Err(AuthError::WrongSecret);
                }
                return Ok(Identity {
                    account: found.account.clone(),
                    user: Some(name),
                    permissions: found.permissions.clone(),
                });
            }
        }

        // Then the single token or user/password, which belong to the global account.
        if let Some(token) = token {
            return match token.matches(connect.auth_token.as_deref().unwrap_or("")) {
                true => Ok(Identity::global()),
                false => Err(AuthError::WrongSecret),
            };
        }
        if let Some(user) = user {
            if connect.user.as_deref() != Some(user.as_str()) {
                return Err(AuthError::UnknownUser(
                    connect.user.clone().unwrap_or_default(),
                ));
            }
            let given = connect.pass.as_deref().unwrap_or("");
            return match pass.as_ref().is_some_and(|p| p.matches(given)) {
                true => Ok(Identity {
                    user: Some(user.clone()),
                    ..Identity::global()
                }),
                false => Err(AuthError::WrongSecret),
            };
        }
        Err(AuthError::NoCredentials)
    }
}

/// Checks that `sig` (base64url, or standard base64) is `key`'s signature of `nonce`.
fn verify_signature(key: &str, nonce: Option<&str>, sig: Option<&str>) -> Result<(), AuthError> {
    let (Some(nonce), Some(sig)) = (nonce, sig.filter(|s| !s.is_empty())) else {
        return Err(AuthError::BadSignature);
    };
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig))
        .map_err(|_| AuthError::BadSignature)?;
    let pair = nkeys::KeyPair::from_public_key(key).map_err(|_| AuthError::BadSignature)?;
    pair.verify(nonce.as_bytes(), &sig)
        .map_err(|_| AuthError::BadSignature)
}

/// A fresh nonce for INFO: 11 random bytes in base64url, as nats-server sends.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 11];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No OS randomness: fall back to the clock (the signature still proves key ownership;
        // only replay protection weakens).
        let now = super::jetstream::now().to_le_bytes();
        bytes[..8].copy_from_slice(&now);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
