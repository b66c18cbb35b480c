//! The credential check: spellings, bcrypt, nkeys, no_auth_user, websocket overrides.

use super::*;
use crate::server::conf;

fn auth(text: &str) -> AuthConfig {
    let tree = conf::parse(text).expect("valid conf");
    config::read(&tree, None).expect("valid auth config").0
}

fn connect(user: Option<&str>, pass: Option<&str>, token: Option<&str>) -> Connect {
    Connect {
        user: user.map(str::to_string),
        pass: pass.map(str::to_string),
        auth_token: token.map(str::to_string),
        ..Connect::default()
    }
}

#[test]
fn both_spellings_of_user_and_password_work() {
    for text in [
        "authorization { user: admin, pass: x }",
        "authorization { username: admin, password: x }",
        "authorization { users: [{username: admin, pass: x}] }",
        "authorization { users: [{user: admin, password: x}] }",
    ] {
        let a = auth(text);
        assert!(a.required(), "{text}");
        assert!(
            a.authenticate(&connect(Some("admin"), Some("x"), None), None, false)
                .is_ok(),
            "{text}"
        );
        assert!(
            a.authenticate(&connect(Some("admin"), Some("y"), None), None, false)
                .is_err(),
            "{text}"
        );
        assert!(
            a.authenticate(&connect(None, None, None), None, false)
                .is_err(),
            "{text}"
        );
    }
}

#[test]
fn a_bcrypt_hash_is_checked_as_a_hash() {
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    let a = auth(&format!(
        "authorization {{ user: admin, pass: \"{hash}\" }}"
    ));
    assert!(a
        .authenticate(&connect(Some("admin"), Some("s3cret"), None), None, false)
        .is_ok());
    assert_eq!(
        a.authenticate(&connect(Some("admin"), Some(&hash), None), None, false)
            .map(|_| ()),
        Err(AuthError::WrongSecret),
        "the hash itself is not the password"
    );
    let token = bcrypt::hash("tok", 4)
        .expect("hash")
        .replacen("$2b$", "$2y$", 1);
    let a = auth(&format!("authorization {{ token: \"{token}\" }}"));
    assert!(a
        .authenticate(&connect(None, None, Some("tok")), None, false)
        .is_ok());
    assert!(a
        .authenticate(&connect(None, None, Some(&token)), None, false)
        .is_err());
}

#[test]
fn users_land_in_their_account_with_their_permissions() {
    let a = auth(
        r#"
        accounts {
          APP { users: [{user: app, password: a, permissions: {publish: "orders.>"}}], jetstream: enabled }
          OPS { users: [{user: ops, password: o}] }
        }
        authorization { users: [{user: root, password: r}] }
        "#,
    );
    let id = a
        .authenticate(&connect(Some("app"), Some("a"), None), None, false)
        .expect("app");
    assert_eq!(id.account, "APP");
    assert!(id.permissions.is_some());
    let id = a
        .authenticate(&connect(Some("ops"), Some("o"), None), None, false)
        .expect("ops");
    assert_eq!(
        (id.account.as_str(), id.permissions.is_none()),
        ("OPS", true)
    );
    let id = a
        .authenticate(&connect(Some("root"), Some("r"), None), None, false)
        .expect("root");
    assert_eq!(id.account, GLOBAL_ACCOUNT);
    assert_eq!(
        a.account("APP").and_then(|c| c.jetstream),
        Some(JsLimits::default())
    );
    assert_eq!(a.account("OPS").map(|c| c.jetstream), Some(None));
}

#[test]
fn no_auth_user_is_who_a_client_without_credentials_is() {
    let a = auth(
        "accounts { A { users: [{user: guest, password: g}, {user: admin, password: x}] } }\nno_auth_user: guest\n",
    );
    let id = a
        .authenticate(&connect(None, None, None), None, false)
        .expect("anonymous is guest");
    assert_eq!(
        (id.user.as_deref(), id.account.as_str()),
        (Some("guest"), "A")
    );
    assert!(a
        .authenticate(&connect(Some("admin"), Some("nope"), None), None, false)
        .is_err());
    let tree =
        conf::parse("no_auth_user: ghost\nauthorization { users: [{user: a, password: b}] }")
            .expect("conf");
    assert_eq!(
        config::read(&tree, None).map(|_| ()),
        Err(AuthConfigError::UnknownNoAuthUser("ghost".into()))
    );
}

#[test]
fn an_nkey_user_must_sign_the_nonce() {
    let pair = nkeys::KeyPair::new_user();
    let key = pair.public_key();
    let a = auth(&format!("authorization {{ users: [{{nkey: {key}}}] }}"));
    assert!(a.needs_nonce());
    let nonce = new_nonce();
    let sig = pair.sign(nonce.as_bytes()).expect("sign");
    let mut c = Connect {
        nkey: Some(key.clone()),
        sig: Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig)),
        ..Connect::default()
    };
    assert!(a.authenticate(&c, Some(&nonce), false).is_ok());
    assert_eq!(
        a.authenticate(&c, Some(&new_nonce()), false).map(|_| ()),
        Err(AuthError::BadSignature),
        "a signature of another nonce"
    );
    c.sig = None;
    assert!(a.authenticate(&c, Some(&nonce), false).is_err());
    let other = nkeys::KeyPair::new_user().public_key();
    c.nkey = Some(other);
    assert!(a.authenticate(&c, Some(&nonce), false).is_err());
}

#[test]
fn websocket_authorization_replaces_the_top_level_one_for_websocket_clients() {
    let a =
        auth("authorization { token: tcp }\nwebsocket { port: 0, authorization { token: ws } }");
    assert!(a
        .authenticate(&connect(None, None, Some("tcp")), None, false)
        .is_ok());
    assert!(a
        .authenticate(&connect(None, None, Some("ws")), None, false)
        .is_err());
    assert!(a
        .authenticate(&connect(None, None, Some("ws")), None, true)
        .is_ok());
    assert!(a
        .authenticate(&connect(None, None, Some("tcp")), None, true)
        .is_err());
    let open_tcp = auth("websocket { authorization { user: w, pass: p } }");
    assert!(!open_tcp.required_for(false));
    assert!(open_tcp.required_for(true));
}

#[test]
fn bad_auth_configs_are_refused() {
    for (text, what) in [
        ("authorization { users: [{password: x}] }", "no user"),
        ("authorization { users: [{nkey: NOTAKEY}] }", "bad nkey"),
        ("accounts { \"$G\": {} }", "reserved account"),
        ("accounts { \"../x\": {} }", "path in account name"),
        (
            "authorization { user: a, pass: b }\naccounts { A { users: [{user: c, password: d}] } }",
            "single user beside accounts",
        ),
        (
            "accounts { A { users: [{user: c, password: d}] }, B { users: [{user: c, password: e}] } }",
            "duplicate user",
        ),
        (
            "authorization { users: [{user: a, password: b, permissions: {publish: \"a..b\"}}] }",
            "bad subject",
        ),
        (
            "authorization { users: [{user: a, password: b, permissions: {publsh: \"a\"}}] }",
            "unknown field",
        ),
        (
            "accounts { A { exports: [{stream: \"x.>\", accounts: [C]}] }, B { imports: [{stream: {account: A, subject: \"x.>\"}}] } }",
            "import the export does not allow",
        ),
        (
            "accounts { B { imports: [{service: {account: Z, subject: \"x\"}}] } }",
            "import from an unknown account",
        ),
        (
            "websocket { authorization { users: [{user: w, password: p}] } }",
            "users in websocket authorization (nats-server takes only user/pass or token there)",
        ),
    ] {
        let tree = conf::parse(text).expect("parses");
        assert!(config::read(&tree, None).is_err(), "{what}: {text}");
    }
}

#[test]
fn permission_blocks_read_in_every_form() {
    let a = auth(
        r#"
        authorization {
          default_permissions { subscribe: { deny: "$JS.API.>" } }
          users: [
            {user: a, password: x, permissions: { publish: ["a.>", "b"], subscribe: "c" }}
            {user: b, password: x}
            {user: c, password: x, permissions: { allow_responses: { max: 3, expires: "5s" } }}
          ]
        }
        "#,
    );
    let perms = |u: &str| {
        a.users
            .get(u)
            .and_then(|u| u.permissions.clone())
            .expect("perms")
    };
    let pa = perms("a");
    assert_eq!(
        pa.publish.as_ref().and_then(|p| p.allow.clone()),
        Some(vec!["a.>".to_string(), "b".to_string()])
    );
    assert_eq!(
        perms("b").subscribe.as_ref().map(|s| s.deny.clone()),
        Some(vec!["$JS.API.>".to_string()])
    );
    let pc = perms("c");
    assert_eq!(
        pc.response,
        Some(permissions::ResponsePermission {
            max_msgs: 3,
            expires: Some(std::time::Duration::from_secs(5))
        })
    );
    assert_eq!(
        pc.publish.as_ref().and_then(|p| p.allow.clone()),
        Some(Vec::new())
    );
}

#[test]
fn the_authorization_timeout_is_read_in_seconds_or_as_a_duration() {
    assert_eq!(
        auth("authorization { token: t, timeout: 3 }").timeout,
        Some(std::time::Duration::from_secs(3))
    );
    assert_eq!(
        auth("authorization { token: t, timeout: \"500ms\" }").timeout,
        Some(std::time::Duration::from_millis(500))
    );
}

#[test]
fn allowed_connection_types_limit_where_a_user_may_connect() {
    let a = auth(
        "authorization { users: [{user: w, password: p, allowed_connection_types: [websocket]}, {user: t, password: p, allowed_connection_types: [\"STANDARD\"]}] }",
    );
    let c = |u: &str| connect(Some(u), Some("p"), None);
    assert!(a.authenticate(&c("w"), None, true).is_ok());
    assert_eq!(
        a.authenticate(&c("w"), None, false).map(|_| ()),
        Err(AuthError::ConnectionTypeNotAllowed)
    );
    assert!(a.authenticate(&c("t"), None, false).is_ok());
    assert!(a.authenticate(&c("t"), None, true).is_err());
    let tree = conf::parse("authorization { users: [{user: x, password: p, allowed_connection_types: [carrier_pigeon]}] }")
        .expect("conf");
    assert!(config::read(&tree, None).is_err());
}

/// The error (its text) reading `text` gives, as a user sees it.
fn refusal(text: &str) -> String {
    let tree = conf::parse(text).expect("parses");
    match config::read(&tree, None) {
        Ok(_) => panic!("should be refused: {text}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn an_unknown_key_in_any_auth_block_is_refused_naming_the_key_and_the_block() {
    const USER: &str = "{user: a, password: b";
    for (text, expected) in [
        (
            "authorization { user: a, password: b, publsh: 1 }".to_string(),
            "unknown field \"publsh\" in authorization",
        ),
        (
            format!("authorization {{ users: [{USER}, permisions: {{}}}}] }}"),
            "unknown field \"permisions\" in authorization.users[0]",
        ),
        (
            "accounts { A { users: [{user: a, password: b, account: B}] } }".to_string(),
            "unknown field \"account\" in accounts.A.users[0]",
        ),
        (
            format!("authorization {{ users: [{USER}}}, {{user: c, password: d, permissions: {{publsh: \">\"}}}}] }}"),
            "unknown field \"publsh\" in authorization.users[1].permissions",
        ),
        (
            format!("authorization {{ users: [{USER}, permissions: {{publish: {{allow: \">\", dney: x}}}}}}] }}"),
            "unknown field \"dney\" in authorization.users[0].permissions.publish",
        ),
        (
            format!("authorization {{ users: [{USER}, permissions: {{allow_responses: {{max: 1, bogus: 2}}}}}}] }}"),
            "unknown field \"bogus\" in authorization.users[0].permissions.allow_responses",
        ),
        (
            format!("authorization {{ default_permissions: {{subscrbe: x}}, users: [{USER}}}] }}"),
            "unknown field \"subscrbe\" in authorization.default_permissions",
        ),
        (
            format!("accounts {{ A {{ default_permissions: {{pub: x, sub: {{deny: y, alow: z}}}}, users: [{USER}}}] }} }}"),
            "unknown field \"alow\" in accounts.A.default_permissions.sub",
        ),
        (
            "accounts { A { bogus: 1 } }".to_string(),
            "unknown field \"bogus\" in accounts.A",
        ),
        (
            "accounts { A { jetstream: { max_mem: 1M, bogus: 1 } } }".to_string(),
            "unknown field \"bogus\" in accounts.A.jetstream",
        ),
        (
            "accounts { A { exports: [{stream: foo}, {stream: bar, bogus: 1}] } }".to_string(),
            "unknown field \"bogus\" in accounts.A.exports[1]",
        ),
        (
            "accounts { A { exports: [{stream: foo}] }, B { imports: [{stream: {account: A, subject: foo}, prefx: p}] } }".to_string(),
            "unknown field \"prefx\" in accounts.B.imports[0]",
        ),
        (
            "accounts { A { exports: [{stream: foo}] }, B { imports: [{stream: {account: A, subject: foo, bogus: 1}}] } }".to_string(),
            "unknown field \"bogus\" in accounts.B.imports[0].stream",
        ),
        (
            "websocket { authorization { user: a, password: b, users: [] } }".to_string(),
            "unknown field \"users\" in websocket.authorization",
        ),
    ] {
        let err = refusal(&text);
        assert!(err.contains(expected), "{text}\n  gave: {err}\n  want: {expected}");
    }
}

#[test]
fn keys_nats_server_knows_but_contrail_does_not_implement_are_refused_with_the_reason() {
    for (text, path, reason) in [
        (
            "authorization { auth_callout { issuer: X, auth_users: [a] }, users: [{user: a, password: b}] }",
            "authorization.auth_callout",
            "let clients in unauthenticated",
        ),
        (
            "authorization { users: [{user: a, password: b, proxy_required: true}] }",
            "authorization.users[0].proxy_required",
            "proxies",
        ),
        (
            "accounts { A { mappings: { foo: bar } } }",
            "accounts.A.mappings",
            "unmapped subjects",
        ),
        (
            "accounts { A { limits: { max_connections: 1 } } }",
            "accounts.A.limits",
            "not enforced",
        ),
        (
            "accounts { A { jetstream: { max_mem: 1M, max_ack_pending: 10 } } }",
            "accounts.A.jetstream.max_ack_pending",
            "not enforced",
        ),
        (
            "accounts { A { exports: [{service: x, response_type: stream}] } }",
            "accounts.A.exports[0].response_type",
            "one response",
        ),
        (
            "websocket { authorization { token: t, timeout: 5 } }",
            "websocket.authorization.timeout",
            "not implemented",
        ),
    ] {
        let err = refusal(text);
        assert!(
            err.contains(&format!("\"{path}\" is not supported")) && err.contains(reason),
            "{text}\n  gave: {err}"
        );
    }
}

#[test]
fn keys_in_other_than_lower_case_are_refused_with_the_spelling_to_use() {
    for (text, expected) in [
        (
            "authorization { Users: [{user: a, password: b}] }",
            "\"Users\" in authorization: Contrail reads keys in lower case; write it as \"users\"",
        ),
        (
            "authorization { users: [{user: a, password: b, permissions: {Publish: x}}] }",
            "write it as \"publish\"",
        ),
    ] {
        let err = refusal(text);
        assert!(err.contains(expected), "{text}\n  gave: {err}");
    }
}

#[test]
fn keys_harmless_to_ignore_start_the_server_with_a_warning() {
    let tree = conf::parse(
        "accounts { A { msg_trace: { dest: t }, jetstream: { max_mem: 1M, cluster_traffic: system }, exports: [{service: s, latency: lat}] } }",
    )
    .expect("parses");
    let (auth, warnings) = config::read(&tree, None).expect("starts");
    let limits = auth.account("A").and_then(|a| a.jetstream);
    assert_eq!(limits.map(|l| l.max_memory), Some(1_000_000));
    for path in [
        "accounts.A.msg_trace",
        "accounts.A.jetstream.cluster_traffic",
        "accounts.A.exports[0].latency",
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("\"{path}\" is ignored"))),
            "{path}: {warnings:?}"
        );
    }
}

#[test]
fn a_refusal_names_the_file_and_line_and_variables_in_a_block_are_not_keys() {
    let dir = std::env::temp_dir().join(format!("contrail-authkeys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let read_file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        let parsed = conf::parse_file(&path).expect("parses");
        config::read(&parsed.tree, Some(&parsed)).map(|(auth, _)| auth)
    };
    // nats-server's documented style: permission sets as variables inside `authorization`.
    let ok = "authorization {\n  ADMIN = { publish: \">\" }\n  users: [\n    {user: a, password: b, permissions: $ADMIN}\n  ]\n}\n";
    let auth = read_file("ok.conf", ok).expect("a variable is not an unknown key");
    let admin = auth.users.get("a").and_then(|u| u.permissions.clone());
    assert!(admin.is_some_and(|p| p.publish.is_some()), "ADMIN applied");
    // Nor is a variable inside `accounts` an account.
    let accounts = "accounts {\n  PERMS = { publish: \"a.>\" }\n  A { users: [{user: a, password: b, permissions: $PERMS}] }\n}\n";
    let auth = read_file("accounts.conf", accounts).expect("a variable is not an account");
    assert!(auth.account("PERMS").is_none(), "PERMS is not an account");
    assert!(auth
        .users
        .get("a")
        .is_some_and(|u| u.account == "A" && u.permissions.is_some()));
    // A variable is not the setting of the same name in another case.
    let token =
        "authorization {\n  TOKEN = \"s3cret\"\n  users: [{user: a, password: $TOKEN}]\n}\n";
    let auth = read_file("token.conf", token).expect("a variable is not an unknown key");
    assert!(auth.token.is_none(), "TOKEN is a variable, not a token");
    assert!(auth
        .users
        .get("a")
        .is_some_and(|u| u.password.0 == "s3cret"));

    let typo = "authorization {\n  users: [\n    {user: a, password: b}\n    {user: c, password: d, permissions: { publsh: x }}\n  ]\n}\n";
    let err = read_file("typo.conf", typo)
        .map(|_| ())
        .expect_err("refused");
    assert!(
        err.to_string().contains(
            "typo.conf:4: unknown field \"publsh\" in authorization.users[1].permissions"
        ),
        "{err}"
    );
    // A variable nobody uses is an unknown key, as in nats-server.
    let unused =
        "authorization {\n  ADMIN = { publish: \">\" }\n  users: [{user: a, password: b}]\n}\n";
    let err = read_file("unused.conf", unused)
        .map(|_| ())
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("unused.conf:2: unknown field \"ADMIN\""),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
