//! Accounts at run time: each has its own [`Router`] (a publish in one account never reaches a
//! subscriber in another) and, when JetStream is enabled for it, its own engine thread and store
//! directory (one account's streams are invisible to another, and may share names).
//!
//! As in nats-server, the global account `$G` has JetStream only when no other account is
//! configured; a configured account has it only when its block says `jetstream: enabled` (or
//! gives limits). `$G` keeps the store layout Contrail always had (`<store_dir>/$G/streams`);
//! account `A` uses `<store_dir>/A/streams`.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::imports::{Kind, Links, Responses, ServiceLink, StreamLink};
use super::{AccountConfig, JsLimits, GLOBAL_ACCOUNT};
use crate::core::engine::EngineConfig;
use crate::server::jetstream::{self, JsHandle, JsThread};
use crate::server::router::Router;
use crate::server::storage::Storage;

/// One account's share of the server.
pub struct Account {
    /// Its name (`$G` for the global account).
    pub name: String,
    /// Its subscriptions.
    pub router: Arc<Router>,
    /// Its JetStream engine, when JetStream is enabled for it.
    pub js: Option<JsHandle>,
    /// What its publishes also reach in other accounts (exports and imports).
    pub links: Links,
}

/// A router whose interest changes go to the returned queue (for the account's engine).
pub fn new_router() -> (Arc<Router>, Arc<jetstream::InterestQueue>) {
    let interest = jetstream::InterestQueue::new();
    let hook_queue = interest.clone();
    let router = Arc::new(Router::new(Some(Box::new(
        move |subject: &str, _active| {
            hook_queue.changed(subject);
        },
    ))));
    (router, interest)
}

/// The engine settings for an account: the server's, narrowed by the account's limits.
pub fn engine_config(server: &EngineConfig, limits: &JsLimits) -> EngineConfig {
    let narrow = |server: i64, account: i64| match (server, account) {
        (s, a) if a < 0 => s,
        (s, a) if s < 0 => a,
        (s, a) => s.min(a),
    };
    EngineConfig {
        max_streams: usize::try_from(limits.max_streams)
            .ok()
            .or(server.max_streams),
        max_consumers: usize::try_from(limits.max_consumers)
            .ok()
            .or(server.max_consumers),
        max_memory: narrow(server.max_memory, limits.max_memory),
        max_storage: narrow(server.max_storage, limits.max_store),
        ..server.clone()
    }
}

/// Every account, by name.
#[derive(Default)]
pub struct Accounts {
    by_name: BTreeMap<String, Arc<Account>>,
}

/// The engine threads of the configured accounts, to stop at shutdown.
#[derive(Default)]
pub struct AccountEngines(Vec<(JsHandle, JsThread)>);

impl AccountEngines {
    /// Flushes and stops every engine.
    pub async fn shutdown(self) {
        for (js, thread) in self.0 {
            js.stop().await;
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Accounts {
    /// Accounts holding only `global` (whose engine the server started and stops itself).
    pub fn new(global: Arc<Account>) -> Accounts {
        let mut by_name = BTreeMap::new();
        by_name.insert(GLOBAL_ACCOUNT.to_string(), global);
        Accounts { by_name }
    }

    /// Starts the configured accounts: a router each and, where enabled, an engine over
    /// `<store_dir>/<name>`. Returns their engines, to stop at shutdown.
    pub fn start_configured(
        &mut self,
        configs: &[AccountConfig],
        store_dir: &Path,
        server_engine: &EngineConfig,
    ) -> io::Result<AccountEngines> {
        let mut engines = AccountEngines::default();
        // First every account's router and engine, then the links between them.
        let mut started = Vec::new();
        for config in configs {
            let (router, interest) = new_router();
            let js = match &config.jetstream {
                Some(limits) => {
                    let engine = EngineConfig {
                        account: Some(config.name.clone()),
                        ..engine_config(server_engine, limits)
                    };
                    let storage = Storage::for_account(
                        store_dir,
                        &config.name,
                        engine,
                        jetstream::now() as u64,
                    );
                    let (js, thread) = jetstream::start(storage, router.clone(), interest)?;
                    engines.0.push((js.clone(), thread));
                    Some(js)
                }
                None => None,
            };
            started.push((config, router, js, Arc::new(Responses::default())));
        }
        let find = |name: &str| started.iter().find(|(c, ..)| c.name == name);
        for (config, router, js, responses) in &started {
            let mut links = Links {
                responses: responses.clone(),
                ..Links::default()
            };
            // Stream imports others made from this account.
            for (importer, importer_router, ..) in &started {
                for import in importer
                    .imports
                    .iter()
                    .filter(|i| i.kind == Kind::Stream && i.account == config.name)
                {
                    links.streams.push(StreamLink {
                        filter: import.subject.clone(),
                        prefix: import
                            .prefix
                            .as_ref()
                            .map(|p| format!("{}.", p.trim_end_matches('.'))),
                        router: importer_router.clone(),
                    });
                }
            }
            // Service imports this account made from others.
            for import in config.imports.iter().filter(|i| i.kind == Kind::Service) {
                if let Some((_, exporter_router, _, exporter_responses)) = find(&import.account) {
                    links.services.push(ServiceLink {
                        local: import.to.clone().unwrap_or_else(|| import.subject.clone()),
                        remote: import.subject.clone(),
                        router: exporter_router.clone(),
                        responses: exporter_responses.clone(),
                    });
                }
            }
            let account = Account {
                name: config.name.clone(),
                router: router.clone(),
                js: js.clone(),
                links,
            };
            self.by_name.insert(config.name.clone(), Arc::new(account));
        }
        Ok(engines)
    }

    /// The account called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Account>> {
        self.by_name.get(name)
    }

    /// The global account.
    pub fn global(&self) -> Option<&Arc<Account>> {
        self.by_name.get(GLOBAL_ACCOUNT)
    }

    /// Every account, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.by_name.values()
    }
}

/// What nats-server answers a JetStream API request in an account without JetStream: the
/// request's response type with a 503 `JetStream not enabled for account` error. `None` for
/// what is not an API request with an answer (pull requests get no responders instead).
pub fn js_not_enabled_response(subject: &str) -> Option<Vec<u8>> {
    let api = subject.strip_prefix("$JS.API.")?;
    let mut tokens = api.split('.');
    let op = match (tokens.next()?, tokens.next()) {
        ("INFO", None) => "account_info".to_string(),
        ("CONSUMER", Some("MSG")) => return None,
        ("CONSUMER", Some("DURABLE")) => "consumer_create".to_string(),
        ("STREAM", Some("MSG")) => format!("stream_msg_{}", tokens.next()?.to_ascii_lowercase()),
        (kind @ ("STREAM" | "CONSUMER"), Some(verb)) => {
            format!(
                "{}_{}",
                kind.to_ascii_lowercase(),
                verb.to_ascii_lowercase()
            )
        }
        _ => return None,
    };
    let body = serde_json::json!({
        "type": format!("io.nats.jetstream.api.v1.{op}_response"),
        "error": {"code": 503, "err_code": 10039, "description": "JetStream not enabled for account"},
    });
    serde_json::to_vec(&body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_limits_narrow_the_server_limits() {
        let server = EngineConfig {
            max_memory: 1000,
            max_storage: -1,
            ..EngineConfig::default()
        };
        let limits = JsLimits {
            max_memory: 5000,
            max_store: 2000,
            max_streams: 3,
            max_consumers: -1,
        };
        let c = engine_config(&server, &limits);
        assert_eq!(c.max_memory, 1000);
        assert_eq!(c.max_storage, 2000);
        assert_eq!(c.max_streams, Some(3));
        assert_eq!(c.max_consumers, None);
    }

    #[test]
    fn js_api_requests_without_jetstream_get_their_response_type_with_an_error() {
        let text =
            |s: &str| js_not_enabled_response(s).map(|b| String::from_utf8_lossy(&b).to_string());
        let info = text("$JS.API.INFO").expect("answered");
        assert!(
            info.contains("account_info_response") && info.contains("10039"),
            "{info}"
        );
        let create = text("$JS.API.STREAM.CREATE.S").expect("answered");
        assert!(create.contains("stream_create_response"), "{create}");
        assert_eq!(text("$JS.API.CONSUMER.MSG.NEXT.S.C"), None);
        assert_eq!(text("orders.new"), None);
    }
}
