//! The HTTP port: nats-server's monitoring endpoints, and the web app's static files.
//!
//! `/healthz`, `/varz`, `/connz` and `/jsz` answer JSON with nats-server's field names for the
//! parts Contrail has (tools such as `nats server check` and dashboards read them). Any other
//! path is a file from `www/` (the site, `/` is `www/index.html`) or `pkg/` (the npm package,
//! under `/pkg/`) below the static root; paths that try to leave those folders are refused.

use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::conn::ConnKind;
use super::Shared;
use crate::core::engine::Engine;
use crate::core::stream::InfoOptions;
use crate::core::time::{format_rfc3339, Nanos};

type Resp = Response<Full<Bytes>>;

/// Serves HTTP until the task is aborted.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(%err, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            let _ = conn.await;
        });
    }
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
        path => static_file(&shared.config.static_root, path).await,
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
            .query(Box::new(|engine: &Engine, _now| account_totals(engine)))
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
        "in_msgs": in_msgs,
        "out_msgs": out_msgs,
        "in_bytes": in_bytes,
        "out_bytes": out_bytes,
        "subscriptions": shared.router.len(),
    });
    // Where the dashboard (or any browser client) reaches NATS over WebSocket.
    if let Some(addr) = shared.ws_addr {
        varz["websocket"] =
            json!({"host": addr.ip().to_string(), "port": addr.port(), "no_tls": true});
    }
    varz
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
fn account_totals(engine: &Engine) -> Value {
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
        consumers += engine.consumer_names(name).map(|c| c.len()).unwrap_or(0);
    }
    json!({
        "memory": memory,
        "storage": storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 1,
        "ha_assets": 0,
        "api": {"total": engine.api_stats.total, "errors": engine.api_stats.errors},
        "streams": names.len(),
        "consumers": consumers,
        "messages": messages,
        "bytes": bytes,
    })
}

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
        let name = account.name.clone();
        let detail = js.query(Box::new(move |engine: &Engine, now| {
            let mut totals = account_totals(engine);
            let mut stream_detail = Vec::new();
            if streams {
                for name in engine.stream_names(None) {
                    let Ok(info) = engine.stream_info(&name, now, &InfoOptions::default()) else {
                        continue;
                    };
                    let mut entry = serde_json::to_value(&info).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut entry {
                        map.insert("name".into(), json!(name));
                        if consumers {
                            let list: Vec<Value> = engine
                                .consumer_names(&name)
                                .unwrap_or_default()
                                .iter()
                                .filter_map(|c| engine.consumer_info(&name, c, now).ok())
                                .filter_map(|ci| serde_json::to_value(&ci).ok())
                                .collect();
                            map.insert("consumer_detail".into(), Value::Array(list));
                        }
                    }
                    stream_detail.push(entry);
                }
            }
            let account = json!({
                "name": name,
                "id": name,
                "memory": totals["memory"],
                "storage": totals["storage"],
                "api": totals["api"],
                "stream_detail": stream_detail,
            });
            if let Value::Object(map) = &mut totals {
                map.insert("account_details".into(), json!([account]));
            }
            totals
        }));
        per_account.push(detail.await);
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

fn json_response(value: Value) -> Resp {
    let body = serde_json::to_vec_pretty(&value).unwrap_or_default();
    Response::builder()
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-cache")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error"))
}

fn plain(status: StatusCode, text: &'static str) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() = status;
    resp
}

/// Maps a URL path to a file under `www/` or `pkg/`; `None` for anything that would leave them.
pub fn static_path(root: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or("");
    let (base, rest) = match path.strip_prefix("/pkg/") {
        Some(rest) => ("pkg", rest),
        None => (
            "www",
            path.strip_prefix("/www/")
                .unwrap_or(path.trim_start_matches('/')),
        ),
    };
    let mut out = root.join(base);
    for part in Path::new(rest).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if rest.is_empty() || rest.ends_with('/') {
        out.push("index.html");
    }
    Some(out)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn static_file(root: &Path, url_path: &str) -> Resp {
    if url_path.contains("..") {
        return plain(StatusCode::BAD_REQUEST, "bad path");
    }
    let Some(path) = static_path(root, url_path) else {
        return plain(StatusCode::BAD_REQUEST, "bad path");
    };
    match tokio::fs::read(&path).await {
        Ok(body) => Response::builder()
            .header(CONTENT_TYPE, content_type(&path))
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error")),
        Err(_) => plain(StatusCode::NOT_FOUND, "not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_inside_www_and_pkg() {
        let root = Path::new("/srv");
        assert_eq!(
            static_path(root, "/"),
            Some(PathBuf::from("/srv/www/index.html"))
        );
        assert_eq!(
            static_path(root, "/app.js"),
            Some(PathBuf::from("/srv/www/app.js"))
        );
        assert_eq!(
            static_path(root, "/pkg/contrail_bg.wasm"),
            Some(PathBuf::from("/srv/pkg/contrail_bg.wasm"))
        );
        assert_eq!(static_path(root, "/www/../Cargo.toml"), None);
        assert_eq!(static_path(root, "/pkg/../../etc/passwd"), None);
    }

    #[test]
    fn uptime_reads_like_nats_server() {
        assert_eq!(uptime(Duration::from_secs(5)), "5s");
        assert_eq!(uptime(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(uptime(Duration::from_secs(90061)), "1d1h1m1s");
    }
}
