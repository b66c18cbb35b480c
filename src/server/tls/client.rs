//! TLS for outbound links (`links [ { url: "tls://...", tls { ... } } ]`): the client side, in the
//! spirit of nats-server's leafnode remote `tls {}`.
//!
//! The block takes nats-server's TLS fields (read by `block.rs`, so an unknown or weakening
//! field is refused the same way): `ca_file` (the CAs the hub's certificate must chain to; the
//! system's roots without it), `cert_file` and `key_file` (a client certificate, for hubs that
//! `verify`), `timeout` (the handshake's bound), `handshake_first`, `cipher_suites`,
//! `curve_preferences`, `min_version`. `verify` is accepted as nats-server accepts it in a
//! remote's block, where it changes nothing: a link always verifies the hub's certificate, and
//! `insecure` stays refused. One field is the link's own: `server_name`, the name the hub's
//! certificate must carry when it is not the URL's host.
//!
//! Everything is loaded when the config is read, so a missing or bad file stops the server at
//! startup naming the file; the handshake itself runs in the link's driver (`server/link.rs`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::block::{load_certs, load_key, protocol_versions, provider, BlockFields};
use super::TlsError;
use crate::core::link::LinkTls;

/// The link's own field in its `tls` block (not one of nats-server's).
const SERVER_NAME: &str = "server_name";

/// How a link makes its TLS connections: when, to whom, trusting what, presenting what.
#[derive(Debug, Clone)]
pub struct LinkTlsClient {
    /// When the link upgrades (after INFO, or before it with `handshake_first`).
    pub mode: LinkTls,
    /// Roots, client certificate, suites and versions.
    config: Arc<rustls::ClientConfig>,
    /// The name the hub's certificate must carry.
    server_name: ServerName<'static>,
    /// The handshake's bound, if the block gives one (else the link's connect timeout).
    pub timeout: Option<Duration>,
}

impl LinkTlsClient {
    /// Reads the `tls` block named `block` of a link to `host` (its URL's host, which the
    /// hub's certificate must name unless the block says `server_name`).
    pub fn from_block(block: &str, value: &Value, host: &str) -> Result<LinkTlsClient, TlsError> {
        let mut fields = value
            .as_object()
            .ok_or_else(|| TlsError::NotABlock(block.into()))?
            .clone();
        let server_name = match fields.remove(SERVER_NAME) {
            None => host.to_string(),
            Some(Value::String(name)) => name,
            Some(_) => {
                return Err(TlsError::BadValue {
                    block: block.into(),
                    field: SERVER_NAME.into(),
                    expected: "a host name",
                })
            }
        };
        let fields = BlockFields::read(block, &Value::Object(fields))?;
        let provider = Arc::new(provider(block, &fields)?);
        let versions = protocol_versions(block, fields.min_version.as_deref())?;
        let mut roots = RootCertStore::empty();
        match &fields.ca_file {
            Some(path) => {
                let (added, _) = roots.add_parsable_certificates(load_certs(path)?);
                if added == 0 {
                    return Err(TlsError::Pem {
                        path: path.clone(),
                        what: "failed to parse root ca certificate".into(),
                    });
                }
            }
            None => add_system_roots(&mut roots),
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|source| TlsError::Protocol {
                block: block.into(),
                source,
            })?
            .with_root_certificates(roots);
        let config = match (&fields.cert_file, &fields.key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
                .map_err(|err| TlsError::ClientKeyPair {
                    block: block.into(),
                    what: format!("{} / {}: {err}", cert.display(), key.display()),
                })?,
            (Some(_), None) => {
                return Err(TlsError::Missing {
                    block: block.into(),
                    field: "key_file",
                })
            }
            (None, Some(_)) => {
                return Err(TlsError::Missing {
                    block: block.into(),
                    field: "cert_file",
                })
            }
        };
        Ok(LinkTlsClient {
            mode: if fields.handshake_first {
                LinkTls::HandshakeFirst
            } else {
                LinkTls::Required
            },
            config: Arc::new(config),
            server_name: server_name_of(block, &server_name)?,
            timeout: fields.timeout,
        })
    }

    /// TLS with the system's roots and no client certificate: a `tls://` URL without a block,
    /// or a hub whose INFO requires TLS of a `nats://` link.
    pub fn system(block: &str, host: &str, mode: LinkTls) -> Result<LinkTlsClient, TlsError> {
        let mut roots = RootCertStore::empty();
        add_system_roots(&mut roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Protocol {
                block: block.into(),
                source,
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(LinkTlsClient {
            mode,
            config: Arc::new(config),
            server_name: server_name_of(block, host)?,
            timeout: None,
        })
    }

    /// Runs the client handshake on `tcp` within `timeout`, verifying the hub's certificate
    /// against the roots and the server name. The error says what failed, for `/linkz`
    /// (`handshake with <name> failed: ...`, shown after `TLS`).
    pub async fn connect(
        &self,
        tcp: TcpStream,
        timeout: Duration,
    ) -> io::Result<TlsStream<TcpStream>> {
        let connector = TlsConnector::from(self.config.clone());
        let name = self.server_name.clone();
        let shown = name.to_str().into_owned();
        match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(err)) => Err(io::Error::new(
                err.kind(),
                format!("handshake with {shown} failed: {err}"),
            )),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("handshake with {shown} timed out after {timeout:?}"),
            )),
        }
    }
}

/// The platform's trusted roots; none found leaves the store empty, and a handshake then fails
/// naming the unknown issuer.
fn add_system_roots(roots: &mut RootCertStore) {
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
}

fn server_name_of(block: &str, name: &str) -> Result<ServerName<'static>, TlsError> {
    // An IPv6 host comes bracketed from a URL.
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| TlsError::ServerName {
        block: block.into(),
        name: name.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_block_reads_nats_servers_fields_and_the_links_own() {
        let dir = std::env::temp_dir().join(format!("contrail-link-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cert = rcgen::generate_simple_self_signed(vec!["hub".into()]).expect("cert");
        let (ca, key) = (dir.join("ca.pem"), dir.join("key.pem"));
        std::fs::write(&ca, cert.cert.pem()).expect("write");
        std::fs::write(&key, cert.signing_key.serialize_pem()).expect("write");
        let read = |v: Value| LinkTlsClient::from_block("links[0].tls", &v, "127.0.0.1");

        let tls = read(json!({"ca_file": ca, "server_name": "hub", "timeout": 3, "verify": true}))
            .expect("valid");
        assert_eq!(tls.mode, LinkTls::Required);
        assert_eq!(tls.server_name.to_str(), "hub");
        assert_eq!(tls.timeout, Some(Duration::from_secs(3)));
        let tls = read(json!({"ca_file": ca, "cert_file": ca, "key_file": key,
                              "handshake_first": true}))
        .expect("mutual");
        assert_eq!(tls.mode, LinkTls::HandshakeFirst);
        assert_eq!(tls.server_name.to_str(), "127.0.0.1");

        let refused = [
            (json!({"insecure": true}), "insecure"),
            (json!({"colour": "red"}), "colour"),
            (json!({"cert_file": ca}), "key_file"),
            (json!({"ca_file": dir.join("missing.pem")}), "missing.pem"),
            (json!({"server_name": "a b"}), "a b"),
            (json!({"server_name": 4}), "server_name"),
        ];
        for (block, what) in refused {
            let err = read(block.clone()).expect_err("refused").to_string();
            assert!(err.contains(what), "{block}: {err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_ipv6_host_from_a_url_names_the_address_without_its_brackets() {
        for host in ["[::1]", "::1"] {
            let tls = LinkTlsClient::system("links[0].tls", host, LinkTls::IfRequired)
                .expect("an IPv6 address is a server name");
            assert_eq!(tls.server_name.to_str(), "::1", "{host}");
            assert!(
                matches!(tls.server_name, ServerName::IpAddress(_)),
                "{host}"
            );
        }
        let read = LinkTlsClient::from_block("links[0].tls", &json!({}), "[fe80::1]");
        assert_eq!(read.expect("block").server_name.to_str(), "fe80::1");
    }
}
