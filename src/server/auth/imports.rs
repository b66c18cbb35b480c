//! Exports and imports between accounts, nats-server's way of letting accounts share subjects:
//!
//! - a **stream** export/import makes messages published in the exporting account on the
//!   exported subjects reach subscribers in the importing account, on the same subject or
//!   under the import's `prefix` (`prefix.subject`);
//! - a **service** export/import lets clients of the importing account send requests (on the
//!   import's `to` subject, or the exported one) to responders in the exporting account. The
//!   request's reply subject is replaced by a one-time `_R_.…` subject of the exporting
//!   account, and the response published there goes back to the requester's reply subject.
//!
//! Config (`exports: [{stream: "s", accounts: [B]}, {service: "s"}]`,
//! `imports: [{stream: {account: A, subject: "s"}, prefix: "p"}, {service: {account: A,
//! subject: "s"}, to: "t"}]`) is read here; an import its exporter does not allow is a config
//! error. At run time [`Links`] of each account forward what its clients publish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::AuthConfigError;
use crate::core::subject;
use crate::server::outbox::FlushList;
use crate::server::router::{MsgView, Router};

/// Pending service responses kept per exporting account before the oldest are dropped.
const MAX_PENDING_RESPONSES: usize = 64 * 1024;
/// How long a service response is awaited (nats-server's default response threshold is 2 min).
const RESPONSE_TTL: Duration = Duration::from_secs(120);

/// Stream or service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Messages flow from exporter to importer.
    Stream,
    /// Requests flow from importer to exporter, responses back.
    Service,
}

/// An `exports` entry.
#[derive(Debug, Clone)]
pub struct Export {
    /// Stream or service.
    pub kind: Kind,
    /// The exported subjects (a filter).
    pub subject: String,
    /// Accounts allowed to import it (`None`: any).
    pub accounts: Option<Vec<String>>,
}

/// An `imports` entry.
#[derive(Debug, Clone)]
pub struct Import {
    /// Stream or service.
    pub kind: Kind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// Stream imports: the prefix subscribers in the importing account see.
    pub prefix: Option<String>,
    /// Service imports: the subject requesters publish to (default: `subject`).
    pub to: Option<String>,
}

fn bad(what: String) -> AuthConfigError {
    AuthConfigError::BadImport(what)
}

fn str_field<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

fn valid_filter(s: &str) -> Result<String, AuthConfigError> {
    subject::validate_filter(s)
        .map(|_| s.to_string())
        .map_err(|_| AuthConfigError::BadSubject(s.to_string()))
}

/// Reads an account's `exports` list.
pub fn read_exports(value: &Value) -> Result<Vec<Export>, AuthConfigError> {
    let list = value
        .as_array()
        .ok_or_else(|| bad("exports must be a list".into()))?;
    let mut out = Vec::new();
    for entry in list {
        let map = entry
            .as_object()
            .ok_or_else(|| bad("an export must be a block".into()))?;
        let (kind, subject) = match (str_field(map, "stream"), str_field(map, "service")) {
            (Some(s), None) => (Kind::Stream, s),
            (None, Some(s)) => (Kind::Service, s),
            _ => return Err(bad("an export needs one of stream or service".into())),
        };
        let accounts = match map.iter().find(|(k, _)| k.eq_ignore_ascii_case("accounts")) {
            None => None,
            Some((_, Value::Array(names))) => Some(
                names
                    .iter()
                    .map(|n| n.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("export accounts must be names".into()))?,
            ),
            Some(_) => return Err(bad("export accounts must be a list".into())),
        };
        out.push(Export {
            kind,
            subject: valid_filter(subject)?,
            accounts,
        });
    }
    Ok(out)
}

/// Reads an account's `imports` list.
pub fn read_imports(value: &Value) -> Result<Vec<Import>, AuthConfigError> {
    let list = value
        .as_array()
        .ok_or_else(|| bad("imports must be a list".into()))?;
    let mut out = Vec::new();
    for entry in list {
        let map = entry
            .as_object()
            .ok_or_else(|| bad("an import must be a block".into()))?;
        let field = |key: &str| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key));
        let (kind, source) = match (field("stream"), field("service")) {
            (Some((_, s)), None) => (Kind::Stream, s),
            (None, Some((_, s))) => (Kind::Service, s),
            _ => return Err(bad("an import needs one of stream or service".into())),
        };
        let source = source
            .as_object()
            .ok_or_else(|| bad("an import source must be {account, subject}".into()))?;
        let (Some(account), Some(subject)) =
            (str_field(source, "account"), str_field(source, "subject"))
        else {
            return Err(bad("an import source needs account and subject".into()));
        };
        let prefix = str_field(map, "prefix").map(str::to_string);
        let to = str_field(map, "to").map(str::to_string);
        if let Some(p) = &prefix {
            if subject::validate_subject(p.trim_end_matches('.')).is_err() {
                return Err(bad(format!(
                    "import prefix {p:?} must be a literal subject"
                )));
            }
        }
        if let Some(t) = &to {
            valid_filter(t)?;
        }
        if kind == Kind::Stream && to.is_some() {
            return Err(bad("stream imports take a prefix, not 'to'".into()));
        }
        out.push(Import {
            kind,
            account: account.to_string(),
            subject: valid_filter(subject)?,
            prefix,
            to,
        });
    }
    Ok(out)
}

/// Whether `exports` let account `importer` import `subject` of this kind.
pub fn authorized(exports: &[Export], importer: &str, kind: Kind, subject: &str) -> bool {
    exports.iter().any(|e| {
        e.kind == kind
            && subject::matches(&e.subject, subject)
            && e.accounts
                .as_ref()
                .is_none_or(|list| list.iter().any(|a| a == importer))
    })
}

/// Where a response goes: the requester's account, its reply subject, and since when.
type Waiting = (Arc<Router>, String, Instant);

/// Requests forwarded into an exporting account and awaiting their response.
#[derive(Default)]
pub struct Responses {
    pending: Mutex<HashMap<String, Waiting>>,
}

impl Responses {
    fn insert(&self, id: String, router: Arc<Router>, reply: String) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() >= MAX_PENDING_RESPONSES {
            pending.retain(|_, (_, _, at)| at.elapsed() < RESPONSE_TTL);
            if pending.len() >= MAX_PENDING_RESPONSES {
                // Still full of live requests: the oldest lose their responses.
                let mut ages: Vec<Instant> = pending.values().map(|(_, _, at)| *at).collect();
                ages.sort();
                let cutoff = ages[ages.len() / 2];
                pending.retain(|_, (_, _, at)| *at > cutoff);
            }
        }
        pending.insert(id, (router, reply, Instant::now()));
    }

    fn take(&self, id: &str) -> Option<(Arc<Router>, String)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (router, reply, at) = pending.remove(id)?;
        (at.elapsed() < RESPONSE_TTL).then_some((router, reply))
    }
}

/// A stream import seen from the exporting side: where matching publishes also go.
pub struct StreamLink {
    /// The imported subjects, in the exporter's namespace.
    pub filter: String,
    /// Prefix (with its trailing `.`) the importer sees, if any.
    pub prefix: Option<String>,
    /// The importing account's subscriptions.
    pub router: Arc<Router>,
}

/// A service import seen from the importing side.
pub struct ServiceLink {
    /// The subject requesters publish to, in the importer's namespace.
    pub local: String,
    /// The subject responders listen on, in the exporter's namespace.
    pub remote: String,
    /// The exporting account's subscriptions.
    pub router: Arc<Router>,
    /// Where the exporting account keeps forwarded requests' reply subjects.
    pub responses: Arc<Responses>,
}

/// What one account forwards to others.
#[derive(Default)]
pub struct Links {
    /// Stream imports of other accounts from this one.
    pub streams: Vec<StreamLink>,
    /// Service imports of this account from others.
    pub services: Vec<ServiceLink>,
    /// Requests other accounts sent to this one's services.
    pub responses: Arc<Responses>,
}

/// A message being published, as [`Links::forward`] needs it.
pub struct Publish<'a> {
    /// Its subject.
    pub subject: &'a str,
    /// Its reply subject.
    pub reply: Option<&'a str>,
    /// Its header block.
    pub headers: Option<&'a [u8]>,
    /// Its payload.
    pub payload: &'a [u8],
}

impl Links {
    /// Whether there is anything to forward at all (most accounts: no).
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.services.is_empty()
    }

    /// Forwards a publish made in this account (by a client of `own`) to other accounts:
    /// stream imports, service requests, and responses to requests this account received.
    /// Returns how many subscriptions received it.
    pub fn forward(&self, own: &Arc<Router>, msg: &Publish<'_>, flush: &mut FlushList) -> usize {
        let mut delivered = 0;
        if msg.subject.starts_with("_R_.") {
            if let Some((router, reply)) = self.responses.take(msg.subject) {
                let view = MsgView {
                    subject: &reply,
                    reply: None,
                    headers: msg.headers,
                    payload: msg.payload,
                };
                delivered += router.deliver(&reply, None, &view, None, None, flush);
            }
        }
        for link in self
            .streams
            .iter()
            .filter(|l| subject::matches(&l.filter, msg.subject))
        {
            let mapped = match &link.prefix {
                Some(prefix) => format!("{prefix}{}", msg.subject),
                None => msg.subject.to_string(),
            };
            let view = MsgView {
                subject: &mapped,
                reply: msg.reply,
                headers: msg.headers,
                payload: msg.payload,
            };
            delivered += link.router.deliver(&mapped, None, &view, None, None, flush);
        }
        for link in self
            .services
            .iter()
            .filter(|l| subject::matches(&l.local, msg.subject))
        {
            let remote = if subject::is_literal(&link.remote) {
                link.remote.as_str()
            } else {
                msg.subject
            };
            let reply = msg.reply.map(|reply| {
                let id = format!("_R_.{}", super::new_nonce());
                link.responses
                    .insert(id.clone(), own.clone(), reply.to_string());
                id
            });
            let view = MsgView {
                subject: remote,
                reply: reply.as_deref(),
                headers: msg.headers,
                payload: msg.payload,
            };
            delivered += link.router.deliver(remote, None, &view, None, None, flush);
        }
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_limited_to_accounts_authorizes_only_those() {
        let exports = vec![Export {
            kind: Kind::Stream,
            subject: "events.>".into(),
            accounts: Some(vec!["B".into()]),
        }];
        assert!(authorized(&exports, "B", Kind::Stream, "events.>"));
        assert!(authorized(&exports, "B", Kind::Stream, "events.x"));
        assert!(!authorized(&exports, "C", Kind::Stream, "events.x"));
        assert!(!authorized(&exports, "B", Kind::Service, "events.x"));
        assert!(!authorized(&exports, "B", Kind::Stream, "other"));
    }

    #[test]
    fn a_response_goes_back_once() {
        let responses = Responses::default();
        let router = Arc::new(Router::new(None));
        responses.insert("_R_.x".into(), router, "_INBOX.1".into());
        assert_eq!(
            responses.take("_R_.x").map(|(_, r)| r),
            Some("_INBOX.1".into())
        );
        assert!(responses.take("_R_.x").is_none());
    }
}
