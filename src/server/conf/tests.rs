//! The config reader against nats-server's rules: values, includes, variables, line numbers.

use super::*;
use serde_json::json;

/// A fresh directory for config files of one test.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("contrail-conf-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("dir");
    }
    std::fs::write(&path, text).expect("write");
    path
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse_text(text: &str, env: EnvLookup<'_>) -> Result<Parsed, ConfError> {
    let mut budget = Budget::new(env);
    parse_source(text, "test.conf".into(), Path::new("."), &mut budget)
}

#[test]
fn reads_the_common_nats_server_config_shapes() {
    let text = r#"
        # a comment
        listen: 127.0.0.1:4333
        http_port = 8333   // another comment
        max_payload 2MB
        jetstream {
            store_dir: "/tmp/js data"
            max_file_store: 1G
        }
        websocket { port: 9001, no_tls: true }
        authorization {
            users = [
                {user: alice, password: "s3cret"}
                {user: bob, password: 'x'}
            ]
        }
        debug: yes
        url: nats://host:4222
    "#;
    let v = parse(text).expect("valid config");
    assert_eq!(v["listen"], json!("127.0.0.1:4333"));
    assert_eq!(v["http_port"], json!(8333));
    assert_eq!(v["max_payload"], json!(2 * 1024 * 1024));
    assert_eq!(v["jetstream"]["store_dir"], json!("/tmp/js data"));
    assert_eq!(v["jetstream"]["max_file_store"], json!(1_000_000_000));
    assert_eq!(v["websocket"]["port"], json!(9001));
    assert_eq!(v["websocket"]["no_tls"], json!(true));
    assert_eq!(v["authorization"]["users"][1]["user"], json!("bob"));
    assert_eq!(v["debug"], json!(true));
    assert_eq!(v["url"], json!("nats://host:4222"));
}

#[test]
fn sizes_and_escapes_follow_nats_server() {
    let v = parse("a: 1K\nb: 1KB\nc: 2Mi\nd: 1GiB\ne: -1\nf: \"t\\x41b\\n\"\ng: 'raw\\n'\n")
        .expect("valid");
    assert_eq!(v["a"], json!(1000));
    assert_eq!(v["b"], json!(1024));
    assert_eq!(v["c"], json!(2 * 1024 * 1024));
    assert_eq!(v["d"], json!(1i64 << 30));
    assert_eq!(v["e"], json!(-1));
    assert_eq!(v["f"], json!("tAb\n"));
    assert_eq!(v["g"], json!("raw\\n"));
    assert!(parse("a: \"bad \\q escape\"").is_err());
}

#[test]
fn malformed_files_are_errors_not_panics() {
    for bad in [
        "a {",
        "a [1, 2",
        "a \"open",
        "a {\n b: 1\n",
        "server_name: two words",
        "x: {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        "x: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "include",
        "include \"open",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn every_key_has_its_line() {
    let parsed = parse_text(
        "port: 4222\n\nauthorization {\n  users = [\n    {user: a, pass: b}\n    {\n      user: c\n    }\n  ]\n}\n",
        &no_env,
    )
    .expect("valid");
    let line = |path: &str| parsed.location(path).map(|l| l.line);
    assert_eq!(line("port"), Some(1));
    assert_eq!(line("authorization"), Some(3));
    assert_eq!(line("authorization.users"), Some(4));
    assert_eq!(line("authorization.users[0].pass"), Some(5));
    assert_eq!(line("authorization.users[1]"), Some(6));
    assert_eq!(line("authorization.users[1].user"), Some(7));
    assert_eq!(
        parsed.location("port").map(ToString::to_string),
        Some("test.conf:1".to_string())
    );
}

#[test]
fn variables_resolve_from_the_innermost_block_outward() {
    let parsed = parse_text(
        "TOK: outer\nPORT = 4333\nport: $PORT\nauthorization {\n  TOK: inner\n  token: $TOK\n}\njetstream { domain: $TOK }\nquoted: \"$TOK\"\nhash: $2a$11$abc\n",
        &no_env,
    )
    .expect("valid");
    let v = &parsed.tree;
    assert_eq!(v["port"], json!(4333));
    assert_eq!(v["authorization"]["token"], json!("inner"));
    assert_eq!(v["jetstream"]["domain"], json!("outer"));
    assert_eq!(v["quoted"], json!("$TOK"), "a quoted $ is literal");
    assert_eq!(
        v["hash"],
        json!("$2a$11$abc"),
        "a bare bcrypt hash is literal"
    );
    assert!(parsed.used_as_variable("PORT"));
    assert!(parsed.used_as_variable("TOK"));
    assert!(parsed.used_as_variable("authorization.TOK"));
    assert!(!parsed.used_as_variable("port"));
}

#[test]
fn a_variable_defined_in_a_sibling_block_or_later_is_not_visible() {
    for (text, line) in [("a { X: 1 }\nport: $X\n", 2), ("port: $X\nX: 1\n", 1)] {
        match parse_text(text, &no_env) {
            Err(ConfError::UndefinedVariable { at, name }) => {
                assert_eq!((name.as_str(), at.line), ("X", line), "{text:?}");
            }
            other => panic!("{text:?}: expected an undefined variable, got {other:?}"),
        }
    }
}

#[test]
fn variables_fall_back_to_the_environment() {
    let env = |name: &str| match name {
        "CONTRAIL_TOKEN" => Some("from-env".to_string()),
        "CONTRAIL_PORT" => Some("4555".to_string()),
        "LOOP_A" => Some("$LOOP_B".to_string()),
        "LOOP_B" => Some("$LOOP_A".to_string()),
        "BAD" => Some("\"open".to_string()),
        _ => None,
    };
    let parsed = parse_text("token: $CONTRAIL_TOKEN\nport: $CONTRAIL_PORT\n", &env).expect("valid");
    assert_eq!(parsed.tree["token"], json!("from-env"));
    assert_eq!(
        parsed.tree["port"],
        json!(4555),
        "env text is read as a value"
    );
    assert!(matches!(
        parse_text("\n\nx: $LOOP_A\n", &env),
        Err(ConfError::VariableCycle { at, .. }) if at.line == 3
    ));
    assert!(matches!(
        parse_text("x: $BAD\n", &env),
        Err(ConfError::BadEnvValue { .. })
    ));
    let err = parse_text("a: 1\nx: $NOPE\n", &env).expect_err("undefined");
    assert_eq!(
        err.to_string(),
        "test.conf:2: variable reference for 'NOPE' can not be found"
    );
}

#[test]
fn includes_merge_into_the_block_they_stand_in() {
    let dir = temp_dir("include");
    write(
        &dir,
        "sub/auth.conf",
        "# auth\n\nauthorization {\n  token: s3cret\n}\n",
    );
    write(&dir, "sub/vars.conf", "TOK: from-include\n");
    write(&dir, "sub/inner.conf", "store_dir: /data\n");
    let main = write(
        &dir,
        "main.conf",
        "port: 1\ninclude sub/auth.conf\ninclude \"sub/vars.conf\"\nhttp: $TOK\njetstream {\n  include 'sub/inner.conf'\n}\n",
    );
    let parsed = parse_file_with_env(&main, &no_env).expect("valid");
    let v = &parsed.tree;
    assert_eq!(v["authorization"]["token"], json!("s3cret"));
    assert_eq!(
        v["http"],
        json!("from-include"),
        "an included file's keys are variables"
    );
    assert_eq!(v["jetstream"]["store_dir"], json!("/data"));
    let at = parsed.location("authorization.token").expect("located");
    assert!(at.file.ends_with("sub/auth.conf"), "{at}");
    assert_eq!(at.line, 4);
    let at = parsed.location("jetstream.store_dir").expect("located");
    assert!(at.file.ends_with("inner.conf") && at.line == 1, "{at}");
    assert!(parsed.used_as_variable("TOK"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_included_file_does_not_see_the_includers_variables() {
    let dir = temp_dir("include-scope");
    write(&dir, "use.conf", "authorization { token: $TOK }\n");
    let main = write(&dir, "main.conf", "TOK: s3cret\ninclude use.conf\n");
    let err = parse_file_with_env(&main, &no_env).expect_err("undefined in the include");
    assert!(
        matches!(&err, ConfError::UndefinedVariable { at, .. } if at.file.ends_with("use.conf")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn include_errors_name_the_file_and_line() {
    let dir = temp_dir("include-errors");
    let main = write(&dir, "main.conf", "port: 1\n\ninclude missing.conf\n");
    let err = parse_file_with_env(&main, &no_env).expect_err("missing");
    let text = err.to_string();
    assert!(
        matches!(&err, ConfError::Include { at, target, .. } if at.line == 3 && target == "missing.conf"),
        "{text}"
    );
    assert!(text.contains("main.conf:3"), "{text}");

    write(&dir, "a.conf", "x: 1\ninclude b.conf\n");
    write(&dir, "b.conf", "include a.conf\n");
    let err = parse_file_with_env(&dir.join("a.conf"), &no_env).expect_err("cycle");
    assert!(
        matches!(&err, ConfError::IncludeCycle { at, target } if at.file.ends_with("b.conf") && at.line == 1 && target == "a.conf"),
        "{err}"
    );

    // A chain longer than the limit, without a cycle.
    for i in 0..=MAX_INCLUDE_DEPTH {
        write(
            &dir,
            &format!("d{i}.conf"),
            &format!("include d{}.conf\n", i + 1),
        );
    }
    write(&dir, &format!("d{}.conf", MAX_INCLUDE_DEPTH + 1), "x: 1\n");
    let err = parse_file_with_env(&dir.join("d0.conf"), &no_env).expect_err("too deep");
    assert!(matches!(err, ConfError::IncludeTooDeep { .. }), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_absolute_include_path_is_read_below_the_including_directory() {
    // nats-server joins the path to the directory (Go's filepath.Join), so both servers read
    // `<dir>/abs/x.conf` for `include /abs/x.conf`.
    let dir = temp_dir("include-abs");
    write(&dir, "abs/x.conf", "port: 7\n");
    let main = write(&dir, "main.conf", "include /abs/x.conf\n");
    let parsed = parse_file_with_env(&main, &no_env).expect("valid");
    assert_eq!(parsed.tree["port"], json!(7));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn include_as_a_key_with_a_separator_is_a_plain_key() {
    let v = parse("include: foo\n").expect("valid");
    assert_eq!(v["include"], json!("foo"));
}

#[test]
fn durations_accept_seconds_and_unit_strings() {
    use std::time::Duration;
    assert_eq!(duration(&json!(5)), Some(Duration::from_secs(5)));
    assert_eq!(duration(&json!("2m")), Some(Duration::from_secs(120)));
    assert_eq!(duration(&json!("250ms")), Some(Duration::from_millis(250)));
    assert_eq!(duration(&json!("soon")), None);
    // Out of range is refused, not a panic.
    assert_eq!(duration(&json!("99999999999999999999999999999s")), None);
    assert_eq!(duration(&json!(1e300)), None);
    assert_eq!(duration(&json!(-1)), None);
}
