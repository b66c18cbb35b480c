//! A test CA and the certificates it signed (a server certificate for 127.0.0.1 and localhost,
//! a client certificate), made with rcgen as PEM files in a temp dir that goes on drop. The TLS
//! suites (client port, WebSocket, monitoring, links) each build their `tls { }` blocks on it.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::temp_dir;

/// A test CA and its certificates, as PEM files in `dir` (removed on drop).
pub struct Pki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Pki {
    /// A new CA named after `tag` (so two of them in one test are told apart in errors), with a
    /// server and a client certificate it signed.
    pub fn new(tag: &str) -> Pki {
        let dir = temp_dir(tag);
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("Contrail Test CA {tag}"));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
            .expect("ca cert");
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, name: &str| {
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("leaf key");
            let cert = params.signed_by(&key, &ca).expect("sign leaf");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "localhost",
        );
        let (client_cert, client_key) =
            leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth, "test client");
        let write = |name: &str, pem: &str| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("write pem");
            path
        };
        Pki {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server-cert.pem", &server_cert),
            server_key: write("server-key.pem", &server_key),
            client_cert: write("client-cert.pem", &client_cert),
            client_key: write("client-key.pem", &client_key),
            dir,
        }
    }

    /// A server's `tls { }` block with the server certificate and `extra` fields.
    pub fn server_block(&self, extra: &str) -> String {
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  {extra}\n}}\n",
            self.server_cert, self.server_key
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
