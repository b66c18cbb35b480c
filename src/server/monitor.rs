//! The HTTP port: nats-server's monitoring endpoints, and the web app's static files.
//!
//! `/healthz`, `/varz`, `/connz` and `/jsz` answer JSON with nats-server's field names for the
//! parts Contrail has (tools such as `nats server check` and dashboards read them); `/linkz`
//! is Contrail's own, the configured links as `/leafz` shows leaf nodes. Any other
//! path is a file from `www/` (the site, `/` is `www/index.html`) or `pkg/` (the npm package,
//! under `/pkg/`) below the static root, served by [`super::static_files`]. A write that makes no
//! progress for the write deadline closes the connection, so a client that stops reading cannot
//! hold it.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::conn::ConnKind;
use super::jetstream::JsHandle;
use super::static_files::TimedIo;
use super::tls::ServerTls;
use super::Shared;
use crate::core::engine::Engine;
use crate::core::front::JetStream;
use crate::core::stream::InfoOptions;
use crate::core::time::{format_rfc3339, Nanos};

/// An HTTP answer: a whole body or a streamed file.
pub(super) type Resp = Response<BoxBody<Bytes, io::Error>>;

/// A whole body.
pub(super) fn full(bytes: impl Into<Bytes>) -> BoxBody<Bytes, io::Error> {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// Serves HTTP (HTTPS with `tls`, nats-server's `https_port`) until the task is aborted.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, tls: Option<ServerTls>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(%err, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        match tls.clone() {
            Some(tls) => {
                tokio::spawn(async move {
                    if let Some(stream) = tls.accept(stream, peer).await {
                        serve_connection(shared, stream).await;
                    }
                });
            }
            None => {
                tokio::spawn(serve_connection(shared, stream));
            }
        }
    }
}

/// Answers HTTP/1.1 requests on one connection until it closes; a write that stalls past the
/// write deadline ends it (a client that does not read cannot pin a file's chunks).
async fn serve_connection<S>(shared: Arc<Shared>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let write_deadline = shared.config.write_deadline;
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(TokioIo::new(TimedIo::new(stream, write_deadline)), service);
    let _ = conn.await;
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let query = req.uri().query().unwrap_or("");
    match req.uri().path() {
        "/healthz" => json_response(json!({"status": "ok"})),
        "/varz" => json_response(varz(shared).await),
        "/connz" => json_response(connz(shared, query)),
        "/jsz" => json_response(jsz(shared, query).await),
        "/linkz" => json_response(linkz(shared)),
        path => super::static_files::serve(&shared.config.static_root, path).await,
    }
}

fn flag(query: &str, name: &str) -> bool {
    query.split('&').any(|pair| match pair.split_once('=') {
        Some((k, v)) => k == name && matches!(v, "true" | "1"),
        None => pair == name,
    })
}

fn number(query: &str, name: &str) -> Option<usize> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn rfc3339(t: SystemTime) -> String {
    let nanos = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as Nanos)
        .unwrap_or(0);
    format_rfc3339(nanos)
}

/// nats-server's uptime format: `1d2h3m4s`.
fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days}d"));
    }
    if days > 0 || hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if days > 0 || hours > 0 || mins > 0 {
        out.push_str(&format!("{mins}m"));
    }
    out.push_str(&format!("{secs}s"));
    out
}

/// Totals of message counters: closed connections plus live ones.
fn totals(shared: &Shared) -> [u64; 4] {
    let c = &shared.closed_counters;
    let mut t = [
        c.in_msgs.load(Ordering::Relaxed),
        c.in_bytes.load(Ordering::Relaxed),
        c.out_msgs.load(Ordering::Relaxed),
        c.out_bytes.load(Ordering::Relaxed),
    ];
    for client in shared.client_list() {
        let c = &client.out.counters;
        t[0] += c.in_msgs.load(Ordering::Relaxed);
        t[1] += c.in_bytes.load(Ordering::Relaxed);
        t[2] += c.out_msgs.load(Ordering::Relaxed);
        t[3] += c.out_bytes.load(Ordering::Relaxed);
    }
    t
}

async fn varz(shared: &Shared) -> Value {
    let config = &shared.config;
    let [in_msgs, in_bytes, out_msgs, out_bytes] = totals(shared);
    let mut per_account = Vec::new();
    for js in shared.accounts.iter().filter_map(|a| a.js.as_ref()) {
        let totals = js
            .query(Box::new(|front: &JetStream, _now| account_totals(front)))
            .await;
        per_account.push(totals);
    }
    let js = sum_totals(per_account);
    let mut varz = json!({
        "server_id": shared.server_id,
        "server_name": config.server_name,
        "version": super::NATS_VERSION,
        "proto": 1,
        "go": concat!("contrail ", env!("CARGO_PKG_VERSION")),
        "host": shared.client_addr.ip().to_string(),
        "port": shared.client_addr.port(),
        "auth_required": config.auth.required(),
        "max_connections": config.max_connections,
        "ping_interval": config.ping_interval.as_nanos() as u64,
        "ping_max": config.ping_max,
        "max_control_line": config.max_control_line,
        "max_payload": config.max_payload,
        "max_pending": config.max_pending,
        "write_deadline": config.write_deadline.as_nanos() as u64,
        "jetstream": {
            "config": {
                "max_memory": config.max_memory_store,
                "max_storage": config.max_file_store,
                "store_dir": config.store_dir.display().to_string(),
            },
            "stats": js,
        },
        "start": rfc3339(shared.started),
        "now": rfc3339(SystemTime::now()),
        "uptime": uptime(shared.started.elapsed().unwrap_or_default()),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "connections": shared.client_list().len(),
        "total_connections": shared.total_connections.load(Ordering::Relaxed),
        "slow_consumers": shared.slow_consumers.load(Ordering::Relaxed),
        "in_msgs": in_msgs,
        "out_msgs": out_msgs,
        "in_bytes": in_bytes,
        "out_bytes": out_bytes,
        "subscriptions": shared.router.len(),
        "links": shared.remotes.len(),
    });
    // Where the dashboard (or any browser client) reaches NATS over WebSocket.
    if let Some(addr) = shared.ws_addr {
        let no_tls = config.tls.websocket.is_none();
        varz["websocket"] =
            json!({"host": addr.ip().to_string(), "port": addr.port(), "no_tls": no_tls});
    }
    // nats-server's TLS fields (`tls_required`/`tls_verify` only when on, as it omits them).
    if let Some(tls) = &config.tls.client {
        varz["tls_required"] = json!(true);
        varz["tls_timeout"] = json!(tls.timeout.as_secs_f64());
        if tls.verify {
            varz["tls_verify"] = json!(true);
        }
    }
    varz
}

/// The outbound links, as `/leafz` lists leaf nodes: each one's url (no credentials), state,
/// since when, reconnects, last error, the far server and the traffic.
fn linkz(shared: &Shared) -> Value {
    json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "links": shared.remotes.linkz(),
    })
}

fn connz(shared: &Shared, query: &str) -> Value {
    let all = shared.client_list();
    let offset = number(query, "offset").unwrap_or(0);
    let limit = number(query, "limit").unwrap_or(1024);
    let now = SystemTime::now();
    // As nats-server: who a client is shows only when asked for (`auth=true`).
    let auth = flag(query, "auth");
    let connections: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| {
            let opts = c.opts.lock().map(|o| o.clone()).unwrap_or_default();
            let counters = &c.out.counters;
            let mut entry = json!({
                "cid": c.id,
                "kind": "Client",
                "type": match c.kind { ConnKind::Tcp => "nats", ConnKind::WebSocket => "websocket" },
                "ip": c.peer.ip().to_string(),
                "port": c.peer.port(),
                "start": rfc3339(c.start),
                "uptime": uptime(now.duration_since(c.start).unwrap_or_default()),
                "pending_bytes": c.out.pending_bytes(),
                "in_msgs": counters.in_msgs.load(Ordering::Relaxed),
                "out_msgs": counters.out_msgs.load(Ordering::Relaxed),
                "in_bytes": counters.in_bytes.load(Ordering::Relaxed),
                "out_bytes": counters.out_bytes.load(Ordering::Relaxed),
                "subscriptions": c.subs.load(Ordering::Relaxed),
                "name": opts.name,
                "lang": opts.lang,
                "version": opts.version,
            });
            if auth {
                entry["account"] = json!(c.account.lock().map(|a| a.clone()).unwrap_or_default());
                if let Some(user) = c.user.lock().ok().and_then(|u| u.clone()) {
                    entry["authorized_user"] = json!(user);
                }
            }
            entry
        })
        .collect();
    json!({
        "server_id": shared.server_id,
        "now": rfc3339(now),
        "num_connections": connections.len(),
        "total": all.len(),
        "offset": offset,
        "limit": limit,
        "connections": connections,
    })
}

/// Account-wide JetStream totals, as `/varz` and `/jsz` report them.
fn account_totals(front: &JetStream) -> Value {
    let engine = front.engine();
    let (mut memory, mut storage, mut consumers, mut messages, mut bytes) =
        (0u64, 0u64, 0, 0u64, 0u64);
    let names = engine.stream_names(None);
    for name in &names {
        if let Some(stream) = engine.stream(name) {
            let state = stream.store().state();
            match stream.config().storage {
                crate::core::stream::StorageType::Memory => memory += state.bytes,
                crate::core::stream::StorageType::File => storage += state.bytes,
            }
            messages += state.msgs;
            bytes += state.bytes;
        }
        // As nats-server counts them: a mirror's or source's `direct` consumer is not one.
        consumers += engine.public_consumer_names(name).map_or(0, |c| c.len());
    }
    json!({
        "memory": memory,
        "storage": storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 1,
        "ha_assets": 0,
        "api": {"total": front.api_stats().total, "errors": front.api_stats().errors},
        "streams": names.len(),
        "consumers": consumers,
        "messages": messages,
        "bytes": bytes,
    })
}

/// Stream and consumer infos built per turn of the engine thread for `/jsz`: the answer for
/// thousands of streams is assembled over many turns, with publishes handled between them.
const JSZ_INFOS_PER_TURN: usize = 64;
/// Detailed `/jsz` answers built at once; more wait their turn (each holds its part of the
/// engine thread's time, and a burst of them must not crowd out the publishes).
static JSZ_DETAIL: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// JetStream totals over every account with JetStream (as nats-server's `/jsz` and `/varz`
/// report them): sizes and counts added up, `accounts` counted, `account_details` listed.
fn sum_totals(parts: Vec<Value>) -> Value {
    let mut sum = json!({
        "memory": 0, "storage": 0, "reserved_memory": 0, "reserved_storage": 0,
        "accounts": parts.len(), "ha_assets": 0, "api": {"total": 0, "errors": 0},
        "streams": 0, "consumers": 0, "messages": 0, "bytes": 0,
    });
    let mut details = Vec::new();
    fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
        path.iter().try_fold(v, |v, k| v.get(*k))
    }
    let add = |sum: &mut Value, part: &Value, path: &[&str]| {
        let total = at(sum, path).and_then(Value::as_u64).unwrap_or(0)
            + at(part, path).and_then(Value::as_u64).unwrap_or(0);
        if let Some(slot) = path.iter().try_fold(&mut *sum, |v, k| v.get_mut(*k)) {
            *slot = json!(total);
        }
    };
    for part in &parts {
        for key in [
            "memory",
            "storage",
            "streams",
            "consumers",
            "messages",
            "bytes",
        ] {
            add(&mut sum, part, &[key]);
        }
        add(&mut sum, part, &["api", "total"]);
        add(&mut sum, part, &["api", "errors"]);
        if let Some(Value::Array(list)) = part.get("account_details") {
            details.extend(list.iter().cloned());
        }
    }
    if !details.is_empty() {
        sum["account_details"] = Value::Array(details);
    }
    sum
}

async fn jsz(shared: &Shared, query: &str) -> Value {
    let streams = flag(query, "streams") || flag(query, "consumers");
    let consumers = flag(query, "consumers");
    let config = &shared.config;
    let mut per_account = Vec::new();
    for account in shared.accounts.iter() {
        let Some(js) = &account.js else {
            continue;
        };
        per_account.push(account_jsz(js, &account.name, streams, consumers).await);
    }
    let detail = sum_totals(per_account);
    let mut out = json!({
        "server_id": shared.server_id,
        "now": rfc3339(SystemTime::now()),
        "config": {
            "max_memory": config.max_memory_store,
            "max_storage": config.max_file_store,
            "store_dir": config.store_dir.display().to_string(),
        },
    });
    if let (Value::Object(out), Value::Object(detail)) = (&mut out, detail) {
        out.extend(detail);
    }
    out
}

/// One account's `/jsz` totals with its `account_details` entry (and stream details when
/// asked). The details are built a few per engine turn, so publishes go on meanwhile.
async fn account_jsz(js: &JsHandle, account: &str, streams: bool, consumers: bool) -> Value {
    let head = js
        .query(Box::new(move |front: &JetStream, _now| {
            let names = if streams {
                front.engine().stream_names(None)
            } else {
                Vec::new()
            };
            json!({"totals": account_totals(front), "names": names})
        }))
        .await;
    let mut totals = head["totals"].clone();
    let names: Vec<String> = serde_json::from_value(head["names"].clone()).unwrap_or_default();
    let stream_detail = if names.is_empty() {
        Vec::new()
    } else {
        // Closed only at shutdown; the answer is then built without waiting.
        let _permit = JSZ_DETAIL.acquire().await.ok();
        stream_details(js, names, consumers).await
    };
    let entry = json!({
        "name": account,
        "id": account,
        "memory": totals["memory"],
        "storage": totals["storage"],
        "api": totals["api"],
        "stream_detail": stream_detail,
    });
    if let Value::Object(map) = &mut totals {
        map.insert("account_details".into(), json!([entry]));
    }
    totals
}

/// StreamInfo (and with `consumers`, every ConsumerInfo) of `names`, a few per engine turn.
/// Streams deleted meanwhile are left out.
async fn stream_details(js: &JsHandle, names: Vec<String>, consumers: bool) -> Vec<Value> {
    let mut details = Vec::with_capacity(names.len());
    let names: Arc<[String]> = names.into();
    // (stream index, consumer index) where the next turn starts.
    let mut at = (0usize, 0usize);
    while at.0 < names.len() {
        let names = names.clone();
        let turn = js
            .query(Box::new(move |front: &JetStream, now| {
                let (part, next) = detail_turn(front.engine(), &names, at, consumers, now);
                json!({"part": part, "next": [next.0, next.1]})
            }))
            .await;
        let next = (
            turn["next"][0].as_u64().unwrap_or(u64::MAX) as usize,
            turn["next"][1].as_u64().unwrap_or(0) as usize,
        );
        if let Value::Array(part) = turn["part"].clone() {
            merge_part(&mut details, part);
        }
        if next <= at {
            // The engine is gone (Null answers): stop rather than loop.
            break;
        }
        at = next;
    }
    details
}

/// One turn's worth of details from `at`: at most [`JSZ_INFOS_PER_TURN`] infos. A stream whose
/// consumers span turns comes back once per turn, its later parts carrying only more consumers
/// (`"continued": true`). Returns the entries and where the next turn starts.
fn detail_turn(
    engine: &Engine,
    names: &[String],
    mut at: (usize, usize),
    consumers: bool,
    now: Nanos,
) -> (Vec<Value>, (usize, usize)) {
    let mut part = Vec::new();
    let mut budget = JSZ_INFOS_PER_TURN;
    while at.0 < names.len() && budget > 0 {
        let name = &names[at.0];
        let continued = at.1 > 0;
        let mut entry = if continued {
            json!({"continued": true})
        } else {
            budget -= 1;
            match engine.stream_info(name, now, &InfoOptions::default()) {
                Ok(info) => serde_json::to_value(&info).unwrap_or(Value::Null),
                Err(_) => {
                    at = (at.0 + 1, 0);
                    continue;
                }
            }
        };
        let mut next = (at.0 + 1, 0);
        if let Value::Object(map) = &mut entry {
            map.insert("name".into(), json!(name));
            if consumers {
                // nats-server's `consumer_detail` lists the public ones (`getPublicConsumers`).
                let all = engine.public_consumer_names(name).unwrap_or_default();
                let take = budget.max(1);
                let list: Vec<Value> = all
                    .iter()
                    .skip(at.1)
                    .take(take)
                    .filter_map(|c| engine.consumer_info(name, c, now).ok())
                    .filter_map(|ci| serde_json::to_value(&ci).ok())
                    .collect();
                let seen = at.1 + take;
                budget = budget.saturating_sub(take);
                if seen < all.len() {
                    next = (at.0, seen);
                }
                map.insert("consumer_detail".into(), Value::Array(list));
            }
        }
        part.push(entry);
        at = next;
    }
    (part, at)
}

/// Adds one turn's entries, folding a continued stream's consumers into its first entry.
fn merge_part(details: &mut Vec<Value>, part: Vec<Value>) {
    for entry in part {
        if entry["continued"] != Value::Bool(true) {
            details.push(entry);
            continue;
        }
        let more = match &entry["consumer_detail"] {
            Value::Array(list) => list.clone(),
            _ => Vec::new(),
        };
        let same_stream = details
            .last()
            .is_some_and(|last| last["name"] == entry["name"]);
        if let (true, Some(Value::Array(list))) = (
            same_stream,
            details
                .last_mut()
                .and_then(|last| last.get_mut("consumer_detail")),
        ) {
            list.extend(more);
        }
    }
}

fn json_response(value: Value) -> Resp {
    let body = serde_json::to_vec_pretty(&value).unwrap_or_default();
    Response::builder()
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-cache")
        .body(full(body))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error"))
}

pub(super) fn plain(status: StatusCode, text: &'static str) -> Resp {
    let mut resp = Response::new(full(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsz_details_built_in_turns_cover_every_stream_and_consumer_once() {
        use crate::core::consumer::ConsumerConfig;
        use crate::core::engine::CreateAction;
        use crate::core::stream::StreamConfig;
        let mut engine = Engine::in_memory(3);
        let mut names = Vec::new();
        for i in 0..5 {
            let config: StreamConfig = serde_json::from_value(
                json!({"name": format!("S{i}"), "subjects": [format!("s{i}")]}),
            )
            .expect("stream config");
            engine.create_stream(config, 1).expect("stream");
            names.push(format!("S{i}"));
        }
        for c in 0..150 {
            let config: ConsumerConfig =
                serde_json::from_value(json!({"durable_name": format!("C{c}")}))
                    .expect("consumer config");
            engine
                .create_consumer("S2", config, CreateAction::Create, 1)
                .expect("consumer");
        }
        let mut details = Vec::new();
        let mut at = (0, 0);
        let mut turns = 0;
        while at.0 < names.len() {
            let (part, next) = detail_turn(&engine, &names, at, true, 2);
            assert!(part.len() <= JSZ_INFOS_PER_TURN);
            merge_part(&mut details, part);
            assert!(next > at);
            at = next;
            turns += 1;
        }
        assert!(turns >= 3, "150 consumers need several turns, took {turns}");
        let got: Vec<&str> = details.iter().filter_map(|d| d["name"].as_str()).collect();
        assert_eq!(got, ["S0", "S1", "S2", "S3", "S4"]);
        let consumers = details[2]["consumer_detail"].as_array().expect("list");
        let mut seen: Vec<&str> = consumers
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 150);
        assert_eq!(consumers.len(), 150);
    }

    #[test]
    fn jsz_leaves_out_the_direct_consumers_of_mirrors_and_sources() {
        use crate::core::consumer::ConsumerConfig;
        use crate::core::engine::CreateAction;
        use crate::core::stream::StreamConfig;
        let mut front = JetStream::in_memory(3);
        let engine = front.engine_mut();
        let config: StreamConfig =
            serde_json::from_value(json!({"name": "S", "subjects": ["s"]})).expect("stream");
        engine.create_stream(config, 1).expect("stream");
        for config in [
            json!({"durable_name": "D"}),
            json!({"name": "copy", "direct": true, "deliver_subject": "to.copy"}),
        ] {
            let config: ConsumerConfig = serde_json::from_value(config).expect("consumer");
            engine
                .create_consumer("S", config, CreateAction::Create, 1)
                .expect("consumer");
        }
        // As nats-server's /jsz: the store's consumers, not a copy's `direct` one.
        assert_eq!(account_totals(&front)["consumers"], 1);
        let names = vec!["S".to_string()];
        let (part, _) = detail_turn(front.engine(), &names, (0, 0), true, 2);
        let detail: Vec<&str> = part[0]["consumer_detail"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(detail, ["D"]);
    }

    #[test]
    fn uptime_reads_like_nats_server() {
        assert_eq!(uptime(Duration::from_secs(5)), "5s");
        assert_eq!(uptime(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(uptime(Duration::from_secs(90061)), "1d1h1m1s");
    }
}
