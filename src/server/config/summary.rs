//! What the server logs at start about the settings in force: auth, TLS and limits, so an
//! operator sees at once whether the config they wrote is the one they got. Secrets are never
//! part of it. Add a line here for each new security-relevant setting.

use super::ServerConfig;

impl ServerConfig {
    /// One line per concern: authorization, each listener with its TLS state, limits, JetStream.
    pub fn summary(&self) -> Vec<String> {
        let auth = if let Some(_token) = &self.auth.token {
            "token (clients must send auth_token)".to_string()
        } else if !self.auth.users.is_empty() {
            format!(
                "user/password ({} user{})",
                self.auth.users.len(),
                if self.auth.users.len() == 1 { "" } else { "s" }
            )
        } else {
            "none: any client may connect".to_string()
        };
        let mut lines = vec![format!("Authorization: {auth}")];
        lines.push(format!(
            "Client listener: {}, TLS off",
            address(&self.host, self.port)
        ));
        lines.push(match self.ws_port {
            0 => "WebSocket listener: off".to_string(),
            port => format!(
                "WebSocket listener: {}, TLS off",
                address(self.ws_bind_host(), port)
            ),
        });
        lines.push(match self.http_port {
            0 => "HTTP monitoring: off".to_string(),
            port => format!(
                "HTTP monitoring: {}, TLS off",
                address(self.http_bind_host(), port)
            ),
        });
        lines.push(format!(
            "Limits: max_payload {} bytes, max_connections {}, max_pending {} bytes, max_control_line {} bytes",
            self.max_payload, self.max_connections, self.max_pending, self.max_control_line
        ));
        lines.push(format!(
            "JetStream: store_dir {}, max_memory_store {}, max_file_store {}",
            self.store_dir.display(),
            storage_limit(self.max_memory_store),
            storage_limit(self.max_file_store)
        ));
        // A link lends its credentials to every client of its account: say so at start.
        for link in &self.links {
            let domain = match &link.domain {
                Some(domain) => format!("$JS.{domain}.API -> {}", link.remote_api),
                None => "no domain".to_string(),
            };
            let forward = match link.forward.as_slice() {
                [] => String::new(),
                subjects => format!(", forwards {}", subjects.join(" ")),
            };
            let tls = match link.tls.as_ref().map(|tls| tls.mode) {
                None => "TLS if the far server requires it",
                Some(crate::core::link::LinkTls::HandshakeFirst) => "TLS required, handshake first",
                Some(_) => "TLS required",
            };
            lines.push(format!(
                "Link {}: {} for account {}, {domain}{forward}, {tls}",
                link.name, link.url, link.account
            ));
        }
        lines
    }
}

fn address(host: &str, port: i32) -> String {
    match port {
        -1 => format!("{host}:<any free port>"),
        port => format!("{host}:{port}"),
    }
}

fn storage_limit(bytes: i64) -> String {
    if bytes < 0 {
        // As nats-server: 75% of the store dir's free space (file) or of RAM (memory).
        "default (75% of what is free at start)".to_string()
    } else {
        format!("{bytes} bytes")
    }
}
