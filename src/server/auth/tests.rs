//! The credential check: spellings, bcrypt, nkeys, no_auth_user, websocket overrides.

use super::*;
use crate::server::conf;

fn auth(text: &str) -> AuthConfig {
    let tree = conf::parse(text).expect("valid conf");
    config::read(&tree).expect("valid auth config")
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
        config::read(&tree).map(|_| ()),
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
        assert!(config::read(&tree).is_err(), "{what}: {text}");
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
    assert!(config::read(&tree).is_err());
}
