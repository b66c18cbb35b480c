//! Config files end to end: the key table's refusals and warnings (with file and line), listen
//! hosts, and the start-up summary.

use super::*;

/// Writes `text` as a config file and resolves it as `contrail -c <file>` would.
fn load(tag: &str, text: &str) -> Result<ServerConfig, ConfigError> {
    let dir = std::env::temp_dir().join(format!("contrail-config-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("server.conf");
    std::fs::write(&file, text).expect("write conf");
    let args = ServeArgs {
        config: Some(file),
        ..ServeArgs::default()
    };
    let result = ServerConfig::from_args(&args);
    let _ = std::fs::remove_dir_all(dir);
    result
}

fn refusals(tag: &str, text: &str) -> Vec<String> {
    match load(tag, text) {
        Err(ConfigError::Unsupported(errors)) => errors,
        other => panic!("{text:?} should be refused for its keys, got {other:?}"),
    }
}

#[test]
fn an_unknown_key_is_refused_with_its_file_and_line() {
    let errors = refusals("unknown", "port: 4222\n\nno_such_key: 1\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].ends_with("server.conf:3: unknown field \"no_such_key\""),
        "{errors:?}"
    );
    let errors = refusals(
        "unknown-inner",
        "jetstream {\n  max_file: 1G\n  bogus: 1\n}\n",
    );
    assert!(
        errors[0].contains(":3: unknown field \"bogus\""),
        "{errors:?}"
    );
}

#[test]
fn keys_that_would_weaken_the_server_are_refused_with_the_reason() {
    let errors = refusals(
        "unsafe",
        "operator: /etc/op.jwt\ncluster { port: 6222 }\njetstream { encryption_key: k }\nmax_subs: 10\nws { port: 1 }\n",
    );
    let all = errors.join("\n");
    for (key, line) in [
        ("\"operator\"", 1),
        ("\"cluster\"", 2),
        ("\"jetstream.encryption_key\"", 3),
        ("\"max_subs\"", 4),
        ("\"ws\"", 5),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("server.conf:{line}: {key} is not supported"))),
            "{key} on line {line}:\n{all}"
        );
    }
}

#[test]
fn a_key_in_another_case_is_refused_rather_than_unread() {
    let errors = refusals("case", "Authorization { token: s3cret }\n");
    assert!(
        errors[0].contains("write it as \"authorization\""),
        "{errors:?}"
    );
}

#[test]
fn harmless_unimplemented_keys_start_with_a_warning() {
    let config = load(
        "warn",
        "logtime: false\npid_file: /tmp/x.pid\nlame_duck_duration: \"30s\"\nwebsocket {\n  port: -1\n  no_tls: true\n  compression: true\n}\n",
    )
    .expect("starts");
    let warnings = config.warnings.join("\n");
    for (key, line) in [
        ("logtime", 1),
        ("pid_file", 2),
        ("lame_duck_duration", 3),
        ("websocket.compression", 7),
    ] {
        assert!(
            warnings.contains(&format!("server.conf:{line}: \"{key}\" is ignored")),
            "{key}:\n{warnings}"
        );
    }
}

#[test]
fn used_variables_are_not_keys_but_unused_ones_are() {
    let config = load(
        "vars",
        "TOK: s3cret\nLIMIT = 2MB\nauthorization { token: $TOK }\nmax_payload: $LIMIT\n",
    )
    .expect("used variables are fine");
    assert_eq!(
        config.auth.token.as_ref().map(|t| t.0.as_str()),
        Some("s3cret")
    );
    assert_eq!(config.max_payload, 2 * 1024 * 1024);
    let errors = refusals("unused-var", "UNUSED: 1\nport: 4222\n");
    assert!(
        errors[0].contains(":1: unknown field \"UNUSED\""),
        "{errors:?}"
    );
}

#[test]
fn listen_addresses_keep_their_hosts() {
    let config = load(
        "hosts",
        "listen: 4333\nhttp: \"127.0.0.2:8333\"\nwebsocket { listen: \"[::1]:9001\", no_tls: true }\n",
    )
    .expect("valid");
    assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 4333));
    assert_eq!(
        (config.http_bind_host(), config.http_port),
        ("127.0.0.2", 8333)
    );
    assert_eq!((config.ws_bind_host(), config.ws_port), ("::1", 9001));

    let config = load(
        "hosts-default",
        "listen: 10.0.0.1:4222\nhttp: 8222\nwebsocket { port: 1, no_tls: true }\n",
    )
    .expect("valid");
    assert_eq!(
        config.http_bind_host(),
        "10.0.0.1",
        "monitoring follows the client host"
    );
    assert_eq!(config.ws_bind_host(), "10.0.0.1");
    let config = load(
        "hosts-ws",
        "websocket { host: 127.0.0.3, port: 1, no_tls: true }\n",
    )
    .expect("valid");
    assert_eq!(config.ws_bind_host(), "127.0.0.3");

    let err = load("hosts-bad", "\n\nhttp: \"localhost\"\n").expect_err("no port");
    assert!(
        err.to_string()
            .contains("server.conf:3: http could not parse"),
        "{err}"
    );
}

#[test]
fn jetstream_cannot_be_turned_off_silently() {
    for text in [
        "jetstream: disabled\n",
        "jetstream: false\n",
        "jetstream { enabled: false }\n",
    ] {
        let err = load("js-off", text).expect_err(text);
        assert!(
            err.to_string().contains("Contrail always runs JetStream"),
            "{err}"
        );
    }
    assert!(load("js-on", "jetstream: enabled\n").is_ok());
}

#[test]
fn the_summary_names_auth_listeners_and_limits_without_secrets() {
    let config = load(
        "summary",
        "authorization { token: hunter2 }\nmax_payload: 1KB\nwebsocket { port: 9001, no_tls: true }\njetstream { max_file: 1G }\nlinks [ { name: hub, url: \"nats://leaf:linkpw@h:5\", domain: hub, forward: [\"a.>\"] } ]\n",
    )
    .expect("valid");
    let summary = config.summary().join("\n");
    assert!(!summary.contains("hunter2"), "{summary}");
    assert!(!summary.contains("linkpw"), "{summary}");
    for part in [
        "Authorization: token",
        "Client listener: 127.0.0.1:4222, TLS off",
        "WebSocket listener: 127.0.0.1:9001, TLS off",
        "HTTP monitoring: off",
        "max_payload 1024 bytes",
        "max_file_store 1000000000 bytes",
        "max_memory_store default (75% of what is free at start)",
        "Link hub: nats://h:5 for account $G, $JS.hub.API -> $JS.API, forwards a.>, TLS if the far server requires it",
    ] {
        assert!(summary.contains(part), "{part}:\n{summary}");
    }
    let open = ServerConfig::default().summary().join("\n");
    assert!(open.contains("Authorization: none"), "{open}");
}

#[test]
fn the_key_table_is_lower_case_without_duplicates() {
    let mut seen = std::collections::BTreeSet::new();
    for (key, _) in keys::KEYS {
        assert_eq!(*key, key.to_ascii_lowercase(), "{key}");
        assert!(seen.insert(*key), "{key} twice");
        if let Some((block, _)) = key.rsplit_once('.') {
            assert_eq!(
                keys::rule(block),
                Some(keys::Rule::Block),
                "{key}: its block is checked"
            );
        }
    }
}
