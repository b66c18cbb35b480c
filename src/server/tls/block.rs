//! Reading one `tls { }` block: nats-server's fields, each honoured or refused, then the PEM
//! files and the rustls configuration (suites, curves, versions, client verification) they make.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{NamedGroup, RootCertStore, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use super::{ServerTls, TlsError, DEFAULT_HANDSHAKE_TIMEOUT};

/// The fields of one `tls { }` block, before the files are loaded.
#[derive(Default)]
pub(super) struct BlockFields {
    pub(super) cert_file: Option<PathBuf>,
    pub(super) key_file: Option<PathBuf>,
    pub(super) ca_file: Option<PathBuf>,
    verify: bool,
    pub(super) timeout: Option<Duration>,
    pub(super) handshake_first: bool,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    pub(super) min_version: Option<String>,
}

impl ServerTls {
    /// Reads a `tls { }` block named `block` and builds its rustls configuration.
    pub(super) fn from_block(block: &str, value: &Value) -> Result<ServerTls, TlsError> {
        let fields = BlockFields::read(block, value)?;
        let (cert, key) = match (&fields.cert_file, &fields.key_file) {
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => return Err(missing(block, "key_file")),
            (None, _) => return Err(missing(block, "cert_file")),
        };
        let certs = load_certs(cert)?;
        let key_der = load_key(key)?;
        let provider = Arc::new(provider(block, &fields)?);
        let versions = protocol_versions(block, fields.min_version.as_deref())?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|source| TlsError::Protocol {
                block: block.into(),
                source,
            })?;
        let builder = if fields.verify {
            let roots = Arc::new(client_roots(block, fields.ca_file.as_deref())?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|source| TlsError::Verifier {
                    block: block.into(),
                    source,
                })?;
            builder.with_client_cert_verifier(verifier)
        } else {
            // A CA without `verify` only matters to nats-server's routes; still check it loads,
            // as nats-server does.
            if let Some(ca) = &fields.ca_file {
                load_certs(ca)?;
            }
            builder.with_no_client_auth()
        };
        let config =
            builder
                .with_single_cert(certs, key_der)
                .map_err(|source| TlsError::KeyPair {
                    cert: cert.clone(),
                    key: key.clone(),
                    source,
                })?;
        Ok(ServerTls {
            config: Arc::new(config),
            verify: fields.verify,
            timeout: fields.timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake_first: fields.handshake_first,
        })
    }
}

fn missing(block: &str, field: &'static str) -> TlsError {
    TlsError::Missing {
        block: block.into(),
        field,
    }
}

impl BlockFields {
    pub(super) fn read(block: &str, value: &Value) -> Result<BlockFields, TlsError> {
        let map = value
            .as_object()
            .ok_or_else(|| TlsError::NotABlock(block.into()))?;
        let bad = |field: &str, expected: &'static str| TlsError::BadValue {
            block: block.into(),
            field: field.into(),
            expected,
        };
        let unsupported = |field: &str, why: &'static str| TlsError::NotSupported {
            block: block.into(),
            field: field.into(),
            why,
        };
        let mut out = BlockFields::default();
        for (key, v) in map {
            let file = || {
                v.as_str()
                    .map(PathBuf::from)
                    .ok_or_else(|| bad(key, "filename"))
            };
            let flag = || v.as_bool().ok_or_else(|| bad(key, "a boolean"));
            match key.to_ascii_lowercase().as_str() {
                "cert_file" => out.cert_file = Some(file()?),
                "key_file" => out.key_file = Some(file()?),
                "ca_file" => out.ca_file = Some(file()?),
                "verify" => out.verify = flag()?,
                "timeout" => out.timeout = Some(timeout(v).ok_or_else(|| bad(key, "a duration"))?),
                "handshake_first" | "first" | "immediate" => {
                    out.handshake_first = match v {
                        Value::Bool(b) => *b,
                        Value::String(s) => match s.to_ascii_lowercase().as_str() {
                            "true" | "on" => true,
                            "false" | "off" => false,
                            _ => {
                                return Err(unsupported(
                                    key,
                                    "the plaintext fallback ('auto' or a delay) is not offered; use true or false",
                                ))
                            }
                        },
                        _ => return Err(bad(key, "a boolean or a string")),
                    }
                }
                "cipher_suites" => out.cipher_suites = Some(names(v).ok_or_else(|| bad(key, "a list of names"))?),
                "curve_preferences" => {
                    out.curve_preferences = Some(names(v).ok_or_else(|| bad(key, "a list of names"))?)
                }
                "min_version" => {
                    out.min_version = Some(match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(bad(key, "a version such as \"1.2\"")),
                    })
                }
                // rustls offers no insecure suites, so there is nothing to allow.
                "allow_insecure_cipher_suites" => {
                    flag()?;
                }
                "insecure" => {
                    if flag()? {
                        return Err(unsupported(key, "certificate checks cannot be turned off"));
                    }
                }
                "verify_and_map" => {
                    if flag()? {
                        return Err(unsupported(key, "certificate-to-user mapping is not implemented; use verify"));
                    }
                }
                "verify_cert_and_check_known_urls" => {
                    if flag()? {
                        return Err(unsupported(key, "not supported in this context"));
                    }
                }
                "pinned_certs" | "connection_rate_limit" | "ocsp_peer" | "cert_store" | "cert_match"
                | "cert_match_by" | "ca_certs_match" | "cert_match_skip_invalid" | "certs"
                | "certificates" => {
                    return Err(unsupported(key, "not implemented"));
                }
                _ => {
                    return Err(TlsError::UnknownField {
                        block: block.into(),
                        field: key.clone(),
                    })
                }
            }
        }
        for (field, list) in [
            ("cipher_suites", &out.cipher_suites),
            ("curve_preferences", &out.curve_preferences),
        ] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                return Err(bad(field, "a non-empty list"));
            }
        }
        Ok(out)
    }
}

/// nats-server's `timeout`: seconds (integer or fraction) or a duration string; `0` means the
/// default.
fn timeout(value: &Value) -> Option<Duration> {
    let secs = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
            let (num, unit) = s.split_at(split);
            let num: f64 = num.parse().ok()?;
            num * match unit {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return None,
            }
        }
        _ => return None,
    };
    let timeout = Duration::try_from_secs_f64(secs).ok()?;
    Some(if timeout.is_zero() {
        DEFAULT_HANDSHAKE_TIMEOUT
    } else {
        timeout
    })
}

fn names(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::Pem {
            path: path.to_path_buf(),
            what: err.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            what: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

pub(super) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| TlsError::Pem {
        path: path.to_path_buf(),
        what: format!("no usable PEM private key: {err}"),
    })
}

/// The CAs client certificates must chain to: `ca_file`, else the platform's roots (as Go does
/// with an empty client CA pool).
fn client_roots(block: &str, ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let (added, _) = roots.add_parsable_certificates(load_certs(path)?);
            if added == 0 {
                return Err(TlsError::Pem {
                    path: path.to_path_buf(),
                    what: "failed to parse root ca certificate".into(),
                });
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(TlsError::NoRoots {
                    block: block.into(),
                });
            }
        }
    }
    Ok(roots)
}

/// The ring provider, narrowed to the block's `cipher_suites` (which, as in Go, only choose
/// among TLS 1.2 suites) and `curve_preferences`.
pub(super) fn provider(block: &str, fields: &BlockFields) -> Result<CryptoProvider, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(wanted) = &fields.cipher_suites {
        let all = provider.cipher_suites.clone();
        let mut chosen: Vec<SupportedCipherSuite> = all
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
            .copied()
            .collect();
        for name in wanted {
            let suite = all
                .iter()
                .find(|s| format!("{:?}", s.suite()).eq_ignore_ascii_case(name))
                .ok_or_else(|| TlsError::Unsupported {
                    block: block.into(),
                    field: "cipher_suites",
                    value: name.clone(),
                })?;
            if !chosen.contains(suite) {
                chosen.push(*suite);
            }
        }
        provider.cipher_suites = chosen;
    }
    if let Some(wanted) = &fields.curve_preferences {
        let all = provider.kx_groups.clone();
        let mut chosen = Vec::new();
        for name in wanted {
            let group = match name.as_str() {
                "CurveP256" => Some(NamedGroup::secp256r1),
                "CurveP384" => Some(NamedGroup::secp384r1),
                "X25519" => Some(NamedGroup::X25519),
                _ => None,
            }
            .and_then(|g| all.iter().find(|k| k.name() == g))
            .ok_or_else(|| TlsError::Unsupported {
                block: block.into(),
                field: "curve_preferences",
                value: name.clone(),
            })?;
            chosen.push(*group);
        }
        provider.kx_groups = chosen;
    }
    Ok(provider)
}

/// TLS 1.2 and 1.3 (nats-server's minimum is 1.2 too), or 1.3 alone for `min_version: "1.3"`.
pub(super) fn protocol_versions(
    block: &str,
    min_version: Option<&str>,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion], TlsError> {
    static BOTH: &[&rustls::SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    match min_version {
        None | Some("1.2") => Ok(BOTH),
        Some("1.3") => Ok(TLS13_ONLY),
        Some(other) => Err(TlsError::Unsupported {
            block: block.into(),
            field: "min_version",
            value: other.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tls::TlsSettings;
    use serde_json::json;

    /// A self-signed certificate and its key, and a second unrelated key, in a temp dir.
    struct Files {
        dir: PathBuf,
        cert: String,
        key: String,
        other_key: String,
    }

    impl Files {
        fn new(tag: &str) -> Files {
            let dir =
                std::env::temp_dir().join(format!("contrail-tls-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
            let other = rcgen::KeyPair::generate().expect("key");
            let write = |name: &str, pem: String| {
                let path = dir.join(name);
                std::fs::write(&path, pem).expect("write");
                path.to_string_lossy().to_string()
            };
            Files {
                cert: write("cert.pem", cert.cert.pem()),
                key: write("key.pem", cert.signing_key.serialize_pem()),
                other_key: write("other.pem", other.serialize_pem()),
                dir,
            }
        }

        fn block(&self, extra: serde_json::Value) -> serde_json::Value {
            let mut block = json!({"cert_file": self.cert, "key_file": self.key});
            if let (Some(block), Some(extra)) = (block.as_object_mut(), extra.as_object()) {
                block.extend(extra.clone());
            }
            block
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn settings(tree: serde_json::Value) -> Result<TlsSettings, TlsError> {
        TlsSettings::from_conf(&tree)
    }

    #[test]
    fn a_complete_block_requires_tls_with_its_options() {
        let f = Files::new("ok");
        let s =
            settings(json!({"tls": f.block(json!({"timeout": "1.5s", "handshake_first": "on"}))}))
                .expect("valid");
        let tls = s.client.expect("tls on");
        assert_eq!(tls.timeout, Duration::from_millis(1500));
        assert!(tls.handshake_first && !tls.verify);
        let s = settings(json!({"tls": f.block(json!({"timeout": 0}))})).expect("valid");
        assert_eq!(s.client.expect("tls").timeout, DEFAULT_HANDSHAKE_TIMEOUT);
        assert!(settings(json!({})).expect("valid").client.is_none());
    }

    #[test]
    fn what_would_weaken_or_ignore_the_config_is_refused() {
        let f = Files::new("refused");
        for (extra, field) in [
            (json!({"insecure": true}), "insecure"),
            (json!({"verify_and_map": true}), "verify_and_map"),
            (json!({"handshake_first": "auto"}), "handshake_first"),
            (json!({"pinned_certs": []}), "pinned_certs"),
        ] {
            match settings(json!({"tls": f.block(extra)})) {
                Err(TlsError::NotSupported { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(matches!(
            settings(json!({"tls": f.block(json!({"cert_flie": "x"}))})),
            Err(TlsError::UnknownField { .. })
        ));
        assert!(matches!(
            settings(json!({"tls": f.block(json!({"verify": "yes please"}))})),
            Err(TlsError::BadValue { .. })
        ));
        // Out-of-range durations are errors, not panics.
        assert!(matches!(
            settings(json!({"tls": f.block(json!({"timeout": 1e300}))})),
            Err(TlsError::BadValue { .. })
        ));
        assert!(settings(
            json!({"tls": f.block(json!({"insecure": false, "verify_and_map": false}))})
        )
        .is_ok());
    }

    #[test]
    fn bad_files_name_themselves() {
        let f = Files::new("files");
        let missing = f.dir.join("missing.pem");
        let err = settings(json!({"tls": {"cert_file": missing, "key_file": f.key}}))
            .expect_err("missing cert");
        assert!(
            err.to_string().contains(&*missing.to_string_lossy()),
            "{err}"
        );
        let err = settings(json!({"tls": {"cert_file": f.cert, "key_file": f.cert}}))
            .expect_err("a cert is no key");
        assert!(err.to_string().contains(&f.cert), "{err}");
        assert!(matches!(
            settings(json!({"tls": {"cert_file": f.cert, "key_file": f.other_key}})),
            Err(TlsError::KeyPair { .. })
        ));
        assert!(matches!(
            settings(json!({"tls": {"cert_file": f.cert}})),
            Err(TlsError::Missing {
                field: "key_file",
                ..
            })
        ));
        let err = settings(json!({"tls": f.block(json!({"verify": true, "ca_file": f.key}))}))
            .expect_err("a key is no CA");
        assert!(err.to_string().contains(&f.key), "{err}");
    }

    #[test]
    fn cipher_suites_and_curves_narrow_what_is_offered() {
        let f = Files::new("suites");
        let fields = |extra| BlockFields::read("tls", &f.block(extra)).expect("fields");
        let p = provider(
            "tls",
            &fields(json!({
                "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
                "curve_preferences": ["X25519"]
            })),
        )
        .expect("provider");
        let tls12: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .collect();
        assert_eq!(tls12.len(), 1);
        assert_eq!(p.kx_groups.len(), 1);
        for extra in [
            json!({"cipher_suites": ["TLS_RSA_WITH_RC4_128_SHA"]}),
            json!({"curve_preferences": ["CurveP521"]}),
            json!({"min_version": "1.1"}),
        ] {
            assert!(
                matches!(
                    settings(json!({"tls": f.block(extra.clone())})),
                    Err(TlsError::Unsupported { .. })
                ),
                "{extra}"
            );
        }
    }

    #[test]
    fn websocket_and_https_follow_nats_server() {
        let f = Files::new("ws");
        assert!(matches!(
            settings(json!({"websocket": {"port": 8080}})),
            Err(TlsError::WebsocketNeedsTls)
        ));
        assert!(settings(json!({"websocket": {"port": 8080, "no_tls": true}})).is_ok());
        let s =
            settings(json!({"websocket": {"port": 8080, "tls": f.block(json!({}))}})).expect("wss");
        assert!(s.websocket.is_some() && s.client.is_none());
        assert!(matches!(
            settings(json!({"https_port": 8443})),
            Err(TlsError::HttpsNeedsTls)
        ));
        assert!(matches!(
            settings(json!({"https_port": 8443, "http_port": 8222, "tls": f.block(json!({}))})),
            Err(TlsError::BothMonitorPorts { .. })
        ));
        let s = settings(json!({"https_port": -1, "tls": f.block(json!({}))})).expect("https");
        assert_eq!(s.https_port, -1);
    }
}
