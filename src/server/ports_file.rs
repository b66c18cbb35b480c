//! The ports file (`--ports_file_dir`, as nats-server writes it): once every listener is bound,
//! `<dir>/<exe name>_<pid>.ports` holds the URLs clients can reach, e.g.
//! `{"nats":["nats://127.0.0.1:4222"],"monitoring":["http://127.0.0.1:8222"],
//! "websocket":["ws://127.0.0.1:8080"]}` (a key only for a listener that is on).
//!
//! Why: a process that starts the server with `-p -1` (any free port) learns the ports the
//! server itself bound, instead of picking a port, releasing it and racing others for it.
//! The file is written whole (temporary file, then rename), so a reader never sees half of it,
//! and removed at a graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The bound listeners to report.
pub struct Listeners {
    /// The client listener.
    pub client: SocketAddr,
    /// The HTTP monitoring listener, if on.
    pub http: Option<SocketAddr>,
    /// The WebSocket listener, if on.
    pub ws: Option<SocketAddr>,
}

/// `<dir>/<exe name>_<pid>.ports`, the name nats-server uses.
pub fn path_in(dir: &Path) -> PathBuf {
    let exe = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| "contrail".to_string());
    dir.join(format!("{exe}_{}.ports", std::process::id()))
}

/// The file's JSON for these listeners.
pub fn contents(listeners: &Listeners) -> serde_json::Value {
    let url = |scheme: &str, addr: SocketAddr| {
        // A wildcard address is not something to connect to; loopback reaches it.
        let ip = if addr.ip().is_unspecified() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            addr.ip()
        };
        serde_json::json!([format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))])
    };
    let mut json = serde_json::json!({ "nats": url("nats", listeners.client) });
    if let Some(addr) = listeners.http {
        json["monitoring"] = url("http", addr);
    }
    if let Some(addr) = listeners.ws {
        json["websocket"] = url("ws", addr);
    }
    json
}

/// Writes the ports file into `dir` (created if missing) and returns its path.
pub fn write(dir: &Path, listeners: &Listeners) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = path_in(dir);
    let tmp = path.with_extension("ports.tmp");
    std::fs::write(&tmp, contents(listeners).to_string())?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_the_listeners_that_are_on_with_reachable_urls() {
        let json = contents(&Listeners {
            client: "0.0.0.0:4222".parse().expect("addr"),
            http: None,
            ws: Some("127.0.0.1:8080".parse().expect("addr")),
        });
        assert_eq!(
            json,
            serde_json::json!({
                "nats": ["nats://127.0.0.1:4222"],
                "websocket": ["ws://127.0.0.1:8080"],
            })
        );
    }

    #[test]
    fn is_named_after_the_executable_and_the_pid() {
        let name = path_in(Path::new("/d"));
        let name = name.to_string_lossy();
        assert!(
            name.ends_with(&format!("_{}.ports", std::process::id())),
            "{name}"
        );
    }
}
