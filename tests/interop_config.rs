//! Config-file compatibility: the same files started under Contrail and under nats-server (the
//! one `CONTRAIL_INTEROP_SERVER` picks, and 2.14 when `CONTRAIL_NATS_SERVER_214` names it) must
//! lead to the same outcome: started or refused (naming the key), the same clients let in, and
//! listeners on the hosts the file names.

mod interop_support;

use std::path::{Path, PathBuf};

use interop_support::{connect_reply, kinds_with_214, start_raw, temp_dir, Kind, RawServer};

const VIOLATION: &str = "-ERR 'Authorization Violation'";

/// Writes `files` (name, text) into a fresh directory; returns the path of the first.
fn write_files(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = temp_dir(tag);
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, text).expect("write config");
    }
    dir.join(files[0].0)
}

/// Starts `kind` on `config` with monitoring off (Contrail's default is on), expecting success.
fn start(kind: Kind, config: &Path, env: &[(&str, &str)]) -> RawServer {
    start_raw(kind, config, &["-m", "0"], env)
        .unwrap_or_else(|log| panic!("{kind:?} should start on {config:?}: {log}"))
}

/// Starts `kind` on `config`, expecting a refusal whose log names every one of `names`; returns
/// the log.
fn refused(kind: Kind, config: &Path, names: &[&str]) -> String {
    match start_raw(kind, config, &["-m", "0"], &[]) {
        Ok(server) => panic!("{kind:?} should refuse {config:?}; log:\n{}", server.log()),
        Err(log) => {
            for name in names {
                assert!(log.contains(name), "{kind:?} should name {name}: {log}");
            }
            log
        }
    }
}

fn token_connect(token: &str) -> String {
    serde_json::json!({ "auth_token": token, "verbose": false }).to_string()
}

#[test]
fn an_included_authorization_block_is_enforced() {
    let config = write_files(
        "cfg-include",
        &[
            (
                "server.conf",
                "listen: 127.0.0.1:-1\ninclude auth/auth.conf\n",
            ),
            ("auth/auth.conf", "authorization {\n  token: s3cret\n}\n"),
        ],
    );
    for kind in kinds_with_214() {
        let server = start(kind, &config, &[]);
        let reply = connect_reply(server.client, r#"{"verbose":false}"#);
        assert!(reply.contains(VIOLATION), "{kind:?} without token: {reply}");
        let reply = connect_reply(server.client, &token_connect("s3cret"));
        assert!(reply.contains("PONG"), "{kind:?} with the token: {reply}");
        if kind == Kind::Contrail {
            let log = server.log();
            assert!(log.contains("Authorization: token"), "summary: {log}");
            assert!(
                !log.contains("s3cret"),
                "the token must not be logged: {log}"
            );
        }
    }
}

#[test]
fn a_variable_gives_the_token_and_a_quoted_dollar_is_literal() {
    let config = write_files(
        "cfg-vars",
        &[(
            "server.conf",
            "TOK = \"s3cret\"\nlisten: 127.0.0.1:-1\nauthorization { token: $TOK }\n",
        )],
    );
    for kind in kinds_with_214() {
        let server = start(kind, &config, &[]);
        let reply = connect_reply(server.client, &token_connect("s3cret"));
        assert!(
            reply.contains("PONG"),
            "{kind:?} with the variable's value: {reply}"
        );
        let reply = connect_reply(server.client, &token_connect("$TOK"));
        assert!(
            reply.contains(VIOLATION),
            "{kind:?} with the literal: {reply}"
        );
    }

    // From the environment; and quoted, `"$CFG_TOK"` is the text itself, not the variable.
    let config = write_files(
        "cfg-env",
        &[
            (
                "server.conf",
                "listen: 127.0.0.1:-1\nauthorization { token: $CFG_TOK }\n",
            ),
            (
                "quoted.conf",
                "listen: 127.0.0.1:-1\nauthorization { token: \"$CFG_TOK\" }\n",
            ),
        ],
    );
    let quoted = config.with_file_name("quoted.conf");
    let env = [("CFG_TOK", "from-env")];
    for kind in kinds_with_214() {
        let server = start(kind, &config, &env);
        let reply = connect_reply(server.client, &token_connect("from-env"));
        assert!(reply.contains("PONG"), "{kind:?} env token: {reply}");
        drop(server);
        let server = start(kind, &quoted, &env);
        let reply = connect_reply(server.client, &token_connect("from-env"));
        assert!(
            reply.contains(VIOLATION),
            "{kind:?} quoted is not the variable: {reply}"
        );
        let reply = connect_reply(server.client, &token_connect("$CFG_TOK"));
        assert!(
            reply.contains("PONG"),
            "{kind:?} quoted is literal: {reply}"
        );
    }
}

#[test]
fn unknown_keys_undefined_variables_and_missing_includes_are_refused() {
    let config = write_files(
        "cfg-refused",
        &[
            ("unknown.conf", "listen: 127.0.0.1:-1\nno_such_key: 1\n"),
            ("unused.conf", "listen: 127.0.0.1:-1\nUNUSED_VAR = 1\n"),
            (
                "undefined.conf",
                "listen: 127.0.0.1:-1\nauthorization {\n  token: $CFG_NOPE\n}\n",
            ),
            (
                "missing.conf",
                "listen: 127.0.0.1:-1\ninclude not-there.conf\n",
            ),
        ],
    );
    let dir = config.parent().expect("dir");
    for kind in kinds_with_214() {
        refused(
            kind,
            &dir.join("unknown.conf"),
            &["\"no_such_key\"", "unknown.conf:2"],
        );
        refused(
            kind,
            &dir.join("unused.conf"),
            &["\"UNUSED_VAR\"", "unused.conf:2"],
        );
        let log = refused(kind, &dir.join("undefined.conf"), &["'CFG_NOPE'"]);
        assert!(
            log.contains("undefined.conf:3:") || log.contains("on line 3"),
            "{kind:?} names the line: {log}"
        );
        refused(kind, &dir.join("missing.conf"), &["not-there.conf"]);
    }
}

#[test]
fn monitoring_and_websocket_bind_the_hosts_the_file_names() {
    let config = write_files(
        "cfg-hosts",
        &[(
            "server.conf",
            "listen: 127.0.0.1:-1\nhttp: \"127.0.0.2:-1\"\nlogtime: false\nwebsocket {\n  listen: \"127.0.0.3:-1\"\n  no_tls: true\n}\n",
        )],
    );
    for kind in kinds_with_214() {
        let server = start_raw(kind, &config, &[], &[])
            .unwrap_or_else(|log| panic!("{kind:?} should start: {log}"));
        let http = server
            .http
            .unwrap_or_else(|| panic!("{kind:?} logged no monitor address: {}", server.log()));
        assert_eq!(http.ip().to_string(), "127.0.0.2", "{kind:?}");
        let varz = http_get(http, "/varz");
        assert!(varz.starts_with("HTTP/1.1 200"), "{kind:?} /varz: {varz}");
        let ws = server
            .ws
            .unwrap_or_else(|| panic!("{kind:?} logged no websocket address: {}", server.log()));
        assert_eq!(ws.ip().to_string(), "127.0.0.3", "{kind:?}");
        assert!(
            std::net::TcpStream::connect(ws).is_ok(),
            "{kind:?} websocket"
        );
        for port in [http.port(), ws.port()] {
            let client_host = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            assert!(
                std::net::TcpStream::connect(client_host).is_err(),
                "{kind:?} must not listen on 127.0.0.1:{port}"
            );
        }
        if kind == Kind::Contrail {
            let log = server.log();
            assert!(
                log.contains("server.conf:3: \"logtime\" is ignored"),
                "warning: {log}"
            );
        }
    }
}

/// GET `path` from `addr`; the raw response.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(addr).expect("connect http");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    let mut raw = Vec::new();
    let _ = sock.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).to_string()
}

#[test]
fn unknown_keys_inside_the_auth_blocks_are_refused_with_their_line() {
    let config = write_files(
        "cfg-authkeys",
        &[
            (
                "perms.conf",
                "listen: 127.0.0.1:-1\nauthorization {\n  users: [\n    {user: a, password: b, permissions: {publsh: \">\"}}\n  ]\n}\n",
            ),
            (
                "direction.conf",
                "listen: 127.0.0.1:-1\nauthorization {\n  default_permissions: {\n    subscribe: {allow: \">\", dney: \"x\"}\n  }\n  users: [{user: a, password: b}]\n}\n",
            ),
            (
                "user.conf",
                "listen: 127.0.0.1:-1\naccounts {\n  A {\n    users: [\n      {user: a, password: b, permisions: {publish: \">\"}}\n    ]\n  }\n}\n",
            ),
            (
                "account.conf",
                "listen: 127.0.0.1:-1\naccounts {\n  A {\n    users: [{user: a, password: b}]\n    exports: [{stream: \"x.>\", acounts: [B]}]\n  }\n}\n",
            ),
        ],
    );
    let dir = config.parent().expect("dir");
    for kind in kinds_with_214() {
        for (file, key, line) in [
            ("perms.conf", "\"publsh\"", "perms.conf:4"),
            ("direction.conf", "\"dney\"", "direction.conf:4"),
            ("user.conf", "\"permisions\"", "user.conf:5"),
            ("account.conf", "\"acounts\"", "account.conf:5"),
        ] {
            refused(kind, &dir.join(file), &[key, line]);
        }
    }
}

#[test]
fn auth_keys_nats_server_implements_and_contrail_does_not_are_refused_not_ignored() {
    // nats-server 2.14 implements both; 2.9 knows account mappings but not auth callout.
    // Contrail implements neither, and ignoring them would let unknown clients in or deliver
    // messages to the wrong subjects, so it refuses to start and says why.
    let config = write_files(
        "cfg-authnotimpl",
        &[
            (
                "callout.conf",
                "listen: 127.0.0.1:-1\nauthorization {\n  users: [{user: auth, password: pwd}]\n  auth_callout {\n    issuer: ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA\n    auth_users: [auth]\n  }\n}\n",
            ),
            (
                "mappings.conf",
                "listen: 127.0.0.1:-1\naccounts {\n  A {\n    users: [{user: a, password: b}]\n    mappings: {\"foo\": \"bar\"}\n  }\n}\n",
            ),
        ],
    );
    let callout = config.clone();
    let mappings = config.with_file_name("mappings.conf");
    for kind in kinds_with_214() {
        match kind {
            Kind::Contrail => {
                let log = refused(
                    kind,
                    &callout,
                    &[
                        "callout.conf:4",
                        "\"authorization.auth_callout\" is not supported",
                    ],
                );
                assert!(log.contains("unauthenticated"), "the reason: {log}");
                refused(
                    kind,
                    &mappings,
                    &[
                        "mappings.conf:5",
                        "\"accounts.A.mappings\" is not supported",
                    ],
                );
            }
            Kind::NatsServer => {
                refused(kind, &callout, &["\"auth_callout\"", "callout.conf:4"]);
                drop(start(kind, &mappings, &[]));
            }
            Kind::NatsServer214 => {
                drop(start(kind, &callout, &[]));
                drop(start(kind, &mappings, &[]));
            }
        }
    }
}

#[test]
fn variables_inside_the_auth_blocks_are_not_unknown_keys() {
    // nats-server's documented style: permission sets defined as variables in the block that
    // uses them; they are neither unknown fields nor accounts.
    let config = write_files(
        "cfg-authvars",
        &[(
            "server.conf",
            "listen: 127.0.0.1:-1\naccounts {\n  READER = { publish: \"nothing.here\" }\n  A {\n    users: [{user: a, password: b, permissions: $READER}]\n  }\n}\n",
        )],
    );
    let login = serde_json::json!({ "user": "a", "pass": "b", "verbose": false }).to_string();
    for kind in kinds_with_214() {
        let server = start(kind, &config, &[]);
        let reply = connect_reply(server.client, &login);
        assert!(reply.contains("PONG"), "{kind:?} user a: {reply}");
    }
}
