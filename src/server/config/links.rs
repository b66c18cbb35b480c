//! The `links` block: outbound links from `contrail serve` to other NATS servers (Contrail or
//! nats-server), and the `--link` flag for one.
//!
//! ```text
//! links [
//!   { name: hub, url: "nats://hub.example:4222", user: leaf, password: s3cret,
//!     domain: hub, account: "$G", remote_api: "$JS.API", forward: ["orders.>"] }
//! ]
//! ```
//!
//! In the spirit of nats-server's `leafnodes { remotes [...] }`, but not a leaf node: a link is
//! a plain client connection (the far server sees a client named after the link), so nothing
//! here pretends to be one and `leafnodes` stays refused. With `domain: hub`, requests the
//! local clients send to `$JS.hub.API.>` go over the link to the far server's `remote_api`
//! (`$JS.API` unless the far server has that domain itself: then `$JS.hub.API`), and the
//! account's engine reaches `$JS.hub.API` there (mirrors and sources with `domain: hub`).
//! Publishes to the `forward` subjects go over the link too (a request's reply comes back).
//!
//! A `tls://` URL or a `tls { ca_file, cert_file, key_file, server_name, handshake_first, ... }`
//! block (nats-server's TLS fields, as in a leafnode remote; read by `server/tls/client.rs`)
//! makes the link TLS only: it upgrades after the far server's INFO (or handshakes first) and
//! verifies the far server's certificate against `ca_file` (else the system's roots) and the
//! URL's host (or `server_name`), presenting `cert_file` to a hub that verifies clients. A
//! `nats://` link without a block still upgrades when the far server's INFO requires TLS, as
//! nats clients do.
//!
//! Every entry is checked here, at start: an unknown key, a bad URL or domain, a missing
//! nkey seed file, certificate or CA, or a duplicate name is an error naming the file and line.

use std::path::Path;

use serde_json::{Map, Value};

use super::keys::located;
use super::ConfigError;
use crate::core::link::{Auth, LinkTls};
use crate::core::subject;
use crate::server::conf::Parsed;
use crate::server::tls::LinkTlsClient;

/// The far server's JetStream API when the link says nothing (a server without a domain).
pub const DEFAULT_REMOTE_API: &str = "$JS.API";

/// One configured link.
#[derive(Debug, Clone)]
pub struct LinkSpec {
    /// Its name (monitoring, logs, and the client name the far server sees).
    pub name: String,
    /// `nats://host:port` (`tls://` when TLS is required), without credentials (safe to show).
    pub url: String,
    /// `host:port` to dial.
    pub addr: String,
    /// Credentials presented to the far server.
    pub auth: Auth,
    /// The JetStream domain reached through the link (`$JS.<domain>.API`).
    pub domain: Option<String>,
    /// The local account whose clients and engine use the link.
    pub account: String,
    /// The far server's API prefix that `$JS.<domain>.API` maps to.
    pub remote_api: String,
    /// Subjects whose publishes are forwarded over the link.
    pub forward: Vec<String>,
    /// TLS required (a `tls://` URL or a `tls` block); `None`: TLS only if the far server
    /// requires it, trusting the system's roots.
    pub tls: Option<LinkTlsClient>,
}

/// The flag that opens one link, and the path its errors name.
const FLAG: &str = "--link";

/// The keys a link entry may have.
const ENTRY_KEYS: &[&str] = &[
    "name",
    "url",
    "user",
    "password",
    "pass",
    "token",
    "nkey_file",
    "domain",
    "account",
    "remote_api",
    "forward",
    "tls",
];

/// Reads the `links` array of `tree` (checked against `accounts`, the configured account
/// names; the global one is always there).
pub fn read(
    tree: &Value,
    parsed: Option<&Parsed>,
    accounts: &[String],
) -> Result<Vec<LinkSpec>, ConfigError> {
    let Some(value) = tree.get("links") else {
        return Ok(Vec::new());
    };
    let Value::Array(entries) = value else {
        let at = located(parsed, "links");
        return Err(invalid(format!("{at}links must be a list of link blocks")));
    };
    let mut links = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("links[{i}]");
        let Value::Object(map) = entry else {
            let at = located(parsed, "links");
            return Err(invalid(format!(
                "{at}{path} must be a block {{ name, url, ... }}"
            )));
        };
        links.push(read_entry(map, &path, parsed)?);
    }
    check_all(&links, accounts, parsed)?;
    Ok(links)
}

/// The link the `--link URL` flag opens (named after `--link_name`, default `link`).
pub fn from_flag(
    url: &str,
    name: Option<&str>,
    domain: Option<&str>,
) -> Result<LinkSpec, ConfigError> {
    let mut map = Map::new();
    map.insert("url".into(), Value::String(url.into()));
    map.insert("name".into(), Value::String(name.unwrap_or("link").into()));
    if let Some(domain) = domain {
        map.insert("domain".into(), Value::String(domain.into()));
    }
    read_entry(&map, FLAG, None)
}

/// Checks the links together: unique names and domains, accounts that exist. `parsed` (the
/// file the links came from) locates the entry at fault.
pub fn check_all(
    links: &[LinkSpec],
    accounts: &[String],
    parsed: Option<&Parsed>,
) -> Result<(), ConfigError> {
    for (i, link) in links.iter().enumerate() {
        let at = |key: &str| located(parsed, &format!("links[{i}].{key}"));
        let earlier = links.get(..i).unwrap_or_default();
        if earlier.iter().any(|l| l.name == link.name) {
            return Err(invalid(format!(
                "{}links: two links are named {:?}",
                at("name"),
                link.name
            )));
        }
        if let Some(domain) = &link.domain {
            if earlier.iter().any(|l| l.domain.as_ref() == Some(domain)) {
                return Err(invalid(format!(
                    "{}links: two links reach domain {domain:?}; a domain has one way there",
                    at("domain")
                )));
            }
        }
        let global = link.account == crate::server::auth::GLOBAL_ACCOUNT;
        if !global && !accounts.contains(&link.account) {
            return Err(invalid(format!(
                "{}links: link {:?} names account {:?}, which is not configured",
                at("account"),
                link.name,
                link.account
            )));
        }
    }
    Ok(())
}

fn invalid(msg: String) -> ConfigError {
    ConfigError::Invalid(msg)
}

/// Reads one entry; `path` is its key path (`links[0]`) or the flag.
fn read_entry(
    map: &Map<String, Value>,
    path: &str,
    parsed: Option<&Parsed>,
) -> Result<LinkSpec, ConfigError> {
    // `file:line: ` of a key, and the key as the user wrote it (`links[0].url`, `--link`).
    let at = |key: &str| located(parsed, &format!("{path}.{key}"));
    let named = |key: &str| match (path, key) {
        (FLAG, "domain") => "--link_domain".to_string(),
        (FLAG, "name") => "--link_name".to_string(),
        (FLAG, _) => FLAG.to_string(),
        _ => format!("{path}.{key}"),
    };
    let entry_at = located(parsed, path).to_string();
    let entry_at = if entry_at.is_empty() {
        located(parsed, "links")
    } else {
        entry_at
    };
    for key in map.keys() {
        if !ENTRY_KEYS.contains(&key.as_str()) {
            return Err(invalid(format!(
                "{}{path}: unknown field {key:?} (a link has {})",
                at(key),
                ENTRY_KEYS.join(", ")
            )));
        }
    }
    let text = |key: &str| -> Result<Option<String>, ConfigError> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!(
                "{}{} must be a string",
                at(key),
                named(key)
            ))),
        }
    };
    let name = text("name")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{entry_at}{path}: a link needs a name")))?;
    let url = text("url")?
        .ok_or_else(|| invalid(format!("{entry_at}{path}: link {name:?} needs a url")))?;
    let parts =
        parse_url(&url).map_err(|why| invalid(format!("{}{}: {why}", at("url"), named("url"))))?;

    let user = text("user")?.or(parts.user.clone());
    let password = match (text("password")?, text("pass")?) {
        (Some(p), _) | (None, Some(p)) => Some(p),
        (None, None) => parts.password.clone(),
    };
    let token = text("token")?.or(parts.token.clone());
    let nkey_file = text("nkey_file")?;
    let auth = match (user, password, token, nkey_file) {
        (None, None, None, None) => Auth::None,
        (Some(user), Some(pass), None, None) => Auth::UserPassword { user, pass },
        (None, None, Some(token), None) => Auth::Token(token),
        (None, None, None, Some(file)) => nkey_from_file(Path::new(&file))
            .map_err(|why| invalid(format!("{}{}: {why}", at("nkey_file"), named("nkey_file"))))?,
        (Some(_), None, None, None) | (None, Some(_), None, None) => {
            return Err(invalid(format!(
                "{entry_at}{path}: link {name:?} needs both user and password"
            )))
        }
        _ => {
            return Err(invalid(format!(
                "{entry_at}{path}: link {name:?} has more than one kind of credentials \
                 (user/password, token, nkey_file: pick one)"
            )))
        }
    };

    let domain = text("domain")?;
    if let Some(domain) = &domain {
        if !is_domain(domain) {
            return Err(invalid(format!(
                "{}{}: {domain:?} is not a domain (one subject token: no dots, \
                 spaces or wildcards)",
                at("domain"),
                named("domain")
            )));
        }
    }
    let remote_api = text("remote_api")?.unwrap_or_else(|| DEFAULT_REMOTE_API.to_string());
    let api_shape = remote_api == DEFAULT_REMOTE_API
        || remote_api
            .strip_prefix("$JS.")
            .and_then(|r| r.strip_suffix(".API"))
            .is_some_and(is_domain);
    if !api_shape {
        return Err(invalid(format!(
            "{}{}: {remote_api:?} is not a JetStream API prefix \
             ($JS.API or $JS.<domain>.API)",
            at("remote_api"),
            named("remote_api")
        )));
    }
    let forward = match map.get("forward") {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                invalid(format!(
                    "{}{} must be subjects",
                    at("forward"),
                    named("forward")
                ))
            })?,
        Some(_) => {
            return Err(invalid(format!(
                "{}{} must be a subject or a list of subjects",
                at("forward"),
                named("forward")
            )))
        }
    };
    for filter in &forward {
        if let Err(err) = subject::validate_filter(filter) {
            return Err(invalid(format!(
                "{}{}: {filter:?}: {err}",
                at("forward"),
                named("forward")
            )));
        }
    }
    let account = text("account")?.unwrap_or_else(|| crate::server::auth::GLOBAL_ACCOUNT.into());
    let host = parts
        .addr
        .rsplit_once(':')
        .map_or(parts.addr.as_str(), |(host, _)| host);
    let block = named("tls");
    let tls = match map.get("tls") {
        Some(value) => Some(LinkTlsClient::from_block(&block, value, host)),
        None if parts.tls => Some(LinkTlsClient::system(&block, host, LinkTls::Required)),
        None => None,
    }
    .transpose()
    .map_err(|err| invalid(format!("{}{err}", at("tls"))))?;
    let scheme = if tls.is_some() { "tls" } else { "nats" };
    Ok(LinkSpec {
        name,
        url: format!("{scheme}://{}", parts.addr),
        addr: parts.addr,
        auth,
        domain,
        account,
        remote_api,
        forward,
        tls,
    })
}

/// A domain is one subject token.
fn is_domain(text: &str) -> bool {
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c == '.' || c == '*' || c == '>' || c.is_whitespace())
}

/// What a link URL holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct UrlParts {
    addr: String,
    /// `tls://`: the link requires TLS.
    tls: bool,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

/// `nats://` or `tls://`, then `[user:pass@|token@]host[:port]` (or without the scheme); port
/// 4222 by default.
fn parse_url(url: &str) -> Result<UrlParts, String> {
    let (rest, tls) = match url.split_once("://") {
        None => (url, false),
        Some(("nats", rest)) => (rest, false),
        Some(("tls", rest)) => (rest, true),
        Some((scheme, _)) => {
            return Err(format!(
                "scheme {scheme:?} is not supported (use nats:// or tls://)"
            ))
        }
    };
    let rest = rest.trim_end_matches('/');
    let mut parts = UrlParts {
        tls,
        ..UrlParts::default()
    };
    let host_port = match rest.rsplit_once('@') {
        None => rest,
        Some((credentials, host_port)) => {
            match credentials.split_once(':') {
                Some((user, pass)) => {
                    parts.user = Some(user.to_string());
                    parts.password = Some(pass.to_string());
                }
                None => parts.token = Some(credentials.to_string()),
            }
            host_port
        }
    };
    if host_port.is_empty() || host_port.contains(['/', ' ', '?', '#']) {
        return Err(format!("{:?} is not host:port", host_port));
    }
    let bracketed = host_port.starts_with('[');
    let has_port = match host_port.rsplit_once(':') {
        Some((_, port)) if !bracketed || host_port.contains("]:") => {
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("bad port {port:?}"))?;
            true
        }
        _ => false,
    };
    parts.addr = if has_port {
        host_port.to_string()
    } else {
        format!("{host_port}:4222")
    };
    Ok(parts)
}

/// Credentials from a file holding an nkey seed (`SU...`; blank lines and `#` comments are
/// skipped, so a seed saved with a note works).
fn nkey_from_file(path: &Path) -> Result<Auth, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let seed = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| format!("{} holds no nkey seed", path.display()))?;
    crate::server::link::nkey_auth(seed).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::conf;

    /// Reads `text` as the file `links.conf` (errors name it and the line).
    fn links(text: &str) -> Result<Vec<LinkSpec>, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "contrail-links-conf-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("links.conf");
        std::fs::write(&file, text).map_err(|e| e.to_string())?;
        let parsed = conf::parse_file(&file);
        let _ = std::fs::remove_dir_all(&dir);
        let parsed = parsed.map_err(|e| e.to_string())?;
        read(&parsed.tree, Some(&parsed), &["A".to_string()]).map_err(|e| e.to_string())
    }

    #[test]
    fn an_entry_reads_with_its_defaults() {
        let all = links("links [ { name: hub, url: \"nats://u:p@10.0.0.1:4333\", domain: hub } ]")
            .expect("valid");
        let [hub] = all.as_slice() else {
            panic!("one link: {all:?}")
        };
        assert_eq!(hub.url, "nats://10.0.0.1:4333");
        assert_eq!(hub.addr, "10.0.0.1:4333");
        assert!(
            matches!(&hub.auth, Auth::UserPassword { user, pass } if user == "u" && pass == "p")
        );
        assert_eq!(hub.domain.as_deref(), Some("hub"));
        assert_eq!(hub.account, "$G");
        assert_eq!(hub.remote_api, "$JS.API");
        assert!(hub.forward.is_empty());
    }

    #[test]
    fn the_url_never_keeps_credentials_and_defaults_the_port() {
        let parts = parse_url("nats://s3cret@hub").expect("valid");
        assert_eq!(parts.addr, "hub:4222");
        assert_eq!(parts.token.as_deref(), Some("s3cret"));
        assert!(parse_url("tls://hub:4222").is_ok_and(|p| p.tls && p.addr == "hub:4222"));
        assert!(parse_url("nats://hub").is_ok_and(|p| !p.tls));
        assert!(parse_url("nats://hub:0").is_err());
        assert!(parse_url("nats://hub:x").is_err());
        assert!(parse_url("nats://").is_err());
    }

    #[test]
    fn bad_entries_name_their_line() {
        let cases = [
            (
                "links [\n { name: a, url: \"nats://h:1\", colour: red }\n]",
                "links.conf:2:",
                "colour",
            ),
            (
                "links [\n {\n name: a\n url: \"http://h\"\n }\n]",
                "links.conf:4:",
                "scheme",
            ),
            (
                "links [\n {\n name: a\n url: h\n domain: \"a.b\"\n }\n]",
                "links.conf:5:",
                "domain",
            ),
            (
                "links [\n { name: a, url: h, forward: [\"a..b\"] }\n]",
                "links.conf:2:",
                "forward",
            ),
            (
                "links [\n { name: a, url: h, user: u }\n]",
                "links.conf:2:",
                "both user and password",
            ),
            (
                "links [\n { name: a, url: h, token: t, user: u, password: p }\n]",
                "links.conf:2:",
                "more than one",
            ),
            (
                "links [\n { name: a, url: h, nkey_file: /nonexistent/seed }\n]",
                "links.conf:2:",
                "cannot read",
            ),
            (
                "links [\n { name: a, url: h, remote_api: \"$JS.x\" }\n]",
                "links.conf:2:",
                "remote_api",
            ),
            (
                "links [\n { name: a, url: h,\n tls { insecure: true } }\n]",
                "links.conf:3:",
                "insecure",
            ),
            ("links [\n { url: h }\n]", "links.conf:", "needs a name"),
            ("links: 4", "links.conf:1:", "list"),
        ];
        for (text, line, what) in cases {
            let err = links(text).expect_err(text);
            assert!(err.contains(line) && err.contains(what), "{text}: {err}");
        }
    }

    #[test]
    fn names_and_domains_are_unique_and_accounts_exist() {
        let twice = "links [\n { name: a, url: h }\n { name: a, url: g }\n]";
        let err = links(twice).expect_err("dup");
        assert!(
            err.contains("named") && err.contains("links.conf:3:"),
            "{err}"
        );
        let domain = "links [ { name: a, url: h, domain: d }, { name: b, url: g, domain: d } ]";
        assert!(links(domain).expect_err("dup").contains("domain"));
        let account = "links [ { name: a, url: h, account: B } ]";
        assert!(links(account).expect_err("no B").contains("not configured"));
        assert!(links("links [ { name: a, url: h, account: A } ]").is_ok());
    }

    #[test]
    fn the_flag_makes_one_link() {
        let link = from_flag("nats://u:p@h:5", None, Some("hub")).expect("valid");
        assert_eq!(
            (link.name.as_str(), link.url.as_str()),
            ("link", "nats://h:5")
        );
        assert!(from_flag("nats://h:5", None, Some("a b")).is_err());
        let tls = from_flag("tls://h:5", None, None).expect("a TLS link");
        assert_eq!(tls.url, "tls://h:5");
        assert_eq!(tls.tls.map(|t| t.mode), Some(LinkTls::Required));
    }
}
