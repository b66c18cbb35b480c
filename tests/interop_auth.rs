//! Token and user/password auth from the config file, checked on CONNECT: the right credential
//! connects, a wrong or missing one gets `-ERR 'Authorization Violation'` and a closed connection.
//! Also nats-server's other forms: `user`/`username` and `pass`/`password` spellings, bcrypt
//! hashes, `no_auth_user`, nkey users (nonce signatures) and `websocket { authorization }`.

mod interop_support;

use std::io::Read;
use std::time::Duration;

use interop_support::{bounded, raw_session, Options, TestServer};

fn with_config(config: &str) -> TestServer {
    TestServer::start_with(Options {
        websocket: true,
        config: Some(config.to_string()),
        ..Default::default()
    })
}

/// Sends one CONNECT over raw TCP (then a PING) and returns what the server says before closing.
fn raw_connect(port: u16, connect: &str) -> String {
    interop_support::connect_reply(([127, 0, 0, 1], port).into(), connect)
}

#[tokio::test]
async fn a_token_is_required_and_checked() {
    let server = with_config("authorization { token: s3cret }\n");
    bounded(async {
        let ok = async_nats::ConnectOptions::with_token("s3cret".into())
            .connect(server.url())
            .await;
        assert!(ok.is_ok(), "right token connects: {:?}", ok.err());
        let ws_ok = async_nats::ConnectOptions::with_token("s3cret".into())
            .connect(server.ws_url())
            .await;
        assert!(
            ws_ok.is_ok(),
            "right token connects over websocket: {:?}",
            ws_ok.err()
        );

        let reply = raw_connect(server.port, r#"{"auth_token":"wrong","verbose":false}"#);
        assert!(reply.contains("-ERR 'Authorization Violation'"), "{reply}");
        assert!(
            !reply.contains("PONG"),
            "no service after a violation: {reply}"
        );
        let reply = raw_connect(server.port, r#"{"verbose":false}"#);
        assert!(reply.contains("-ERR 'Authorization Violation'"), "{reply}");
    })
    .await;
}

#[tokio::test]
async fn user_and_password_are_required_and_checked() {
    let server = with_config("authorization { users = [ {user: alice, password: wonder} ] }\n");
    bounded(async {
        let ok =
            async_nats::ConnectOptions::with_user_and_password("alice".into(), "wonder".into())
                .connect(server.url())
                .await;
        assert!(ok.is_ok(), "right password connects: {:?}", ok.err());
        let reply = raw_connect(server.port, r#"{"user":"alice","pass":"nope"}"#);
        assert!(reply.contains("-ERR 'Authorization Violation'"), "{reply}");
        let reply = raw_connect(server.port, r#"{"user":"bob","pass":"wonder"}"#);
        assert!(reply.contains("-ERR 'Authorization Violation'"), "{reply}");
    })
    .await;
}

/// Whether async-nats gets in with `opts` (a refused CONNECT is an error, not a hang).
async fn connects(opts: async_nats::ConnectOptions, url: String) -> bool {
    opts.connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .is_ok()
}

fn user_pass(user: &str, pass: &str) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
}

#[tokio::test]
async fn a_single_user_is_enforced_in_both_spellings() {
    for config in [
        "authorization { user: admin, pass: x }\n",
        "authorization { username: admin, password: x }\n",
        "authorization { users: [ {username: admin, pass: x} ] }\n",
    ] {
        let server = with_config(config);
        bounded(async {
            assert!(
                connects(user_pass("admin", "x"), server.url()).await,
                "{config}"
            );
            let reply = raw_connect(server.port, r#"{"user":"admin","pass":"y"}"#);
            assert!(
                reply.contains("-ERR 'Authorization Violation'"),
                "{config}: {reply}"
            );
            let reply = raw_connect(server.port, r#"{"verbose":false}"#);
            assert!(
                reply.contains("-ERR 'Authorization Violation'"),
                "{config}: {reply}"
            );
        })
        .await;
    }
}

#[tokio::test]
async fn a_bcrypt_hash_is_not_the_password() {
    let hash = bcrypt::hash("wonder", 4).expect("hash");
    let token_hash = bcrypt::hash("t0ken", 4).expect("hash");
    let server = with_config(&format!(
        "authorization {{ users = [ {{user: alice, password: \"{hash}\"}} ] }}\n"
    ));
    bounded(async {
        assert!(connects(user_pass("alice", "wonder"), server.url()).await);
        assert!(
            !connects(user_pass("alice", &hash), server.url()).await,
            "the hash itself must not work as the password"
        );
    })
    .await;
    let server = with_config(&format!("authorization {{ token: \"{token_hash}\" }}\n"));
    bounded(async {
        let with_token = |t: &str| async_nats::ConnectOptions::with_token(t.into());
        assert!(connects(with_token("t0ken"), server.url()).await);
        assert!(!connects(with_token(&token_hash), server.url()).await);
    })
    .await;
}

#[tokio::test]
async fn a_client_without_credentials_is_the_no_auth_user() {
    let server = with_config(
        r#"
        authorization { users = [
          {user: admin, password: x}
          {user: guest, password: "", permissions: { publish: "public.>", subscribe: "public.>" }}
        ] }
        no_auth_user: guest
        "#,
    );
    bounded(async {
        let anonymous = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(server.url())
            .await
            .expect("no credentials connects as guest");
        // As guest, with guest's permissions: a subscription outside them is refused.
        let reply = raw_session(server.port, "CONNECT {}\r\nSUB private.x 1\r\nPING\r\n");
        assert!(
            reply.contains(r#"-ERR 'Permissions Violation for Subscription to "private.x"'"#),
            "{reply}"
        );
        drop(anonymous);
        // Wrong credentials are still refused rather than falling back to guest.
        assert!(!connects(user_pass("admin", "wrong"), server.url()).await);
        assert!(connects(user_pass("admin", "x"), server.url()).await);
    })
    .await;
}

#[tokio::test]
async fn an_nkey_user_signs_the_nonce() {
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let server = with_config(&format!(
        "authorization {{ users = [ {{nkey: {}}} ] }}\n",
        user.public_key()
    ));
    bounded(async {
        let seed = user.seed().expect("seed");
        assert!(connects(async_nats::ConnectOptions::with_nkey(seed), server.url()).await);
        let other = stranger.seed().expect("seed");
        assert!(!connects(async_nats::ConnectOptions::with_nkey(other), server.url()).await);
        // Claiming the key without a signature of this connection's nonce is refused.
        let connect = format!(r#"{{"nkey":"{}","sig":"AAAA"}}"#, user.public_key());
        let reply = raw_connect(server.port, &connect);
        assert!(reply.contains("nonce"), "INFO carries a nonce: {reply}");
        assert!(reply.contains("-ERR 'Authorization Violation'"), "{reply}");
    })
    .await;
}

#[tokio::test]
async fn websocket_authorization_applies_to_websocket_clients() {
    // Its own websocket block (not `Options::websocket`, whose block would replace this one).
    let server = TestServer::start_with(Options {
        config: Some(
            "authorization { token: tcp-secret }\n\
             websocket { port: -1, no_tls: true, authorization { token: ws-secret } }\n"
                .into(),
        ),
        ..Default::default()
    });
    let ws_url = format!("ws://127.0.0.1:{}", websocket_port(&server));
    bounded(async {
        let token = |t: &str| async_nats::ConnectOptions::with_token(t.into());
        assert!(connects(token("ws-secret"), ws_url.clone()).await);
        assert!(
            !connects(token("tcp-secret"), ws_url.clone()).await,
            "the top-level token is not the websocket one"
        );
        assert!(!connects(async_nats::ConnectOptions::new(), ws_url.clone()).await);
        assert!(connects(token("tcp-secret"), server.url()).await);
        assert!(!connects(token("ws-secret"), server.url()).await);
    })
    .await;
}

/// The WebSocket port a server chose for `websocket { port: -1 }`, from its startup log (both
/// servers log `Listening for websocket clients on ws://host:port` before accepting clients).
fn websocket_port(server: &TestServer) -> u16 {
    for _ in 0..200 {
        let log = server.log();
        let port = log
            .lines()
            .find_map(|l| l.split("websocket clients on ws://").nth(1))
            .and_then(|rest| rest.trim().rsplit(':').next())
            .and_then(|p| p.trim().parse().ok());
        if let Some(port) = port {
            return port;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("no websocket port in the log:\n{}", server.log());
}

#[tokio::test]
async fn a_client_silent_past_the_authorization_timeout_is_cut_off() {
    let server = with_config("authorization { token: s3cret, timeout: 0.5 }\n");
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out);
    let said = String::from_utf8_lossy(&out);
    assert!(said.contains("-ERR 'Authentication Timeout'"), "{said}");
}

#[tokio::test]
async fn allowed_connection_types_limit_where_a_user_may_connect() {
    let server = TestServer::start_with(Options {
        config: Some(
            "authorization { users = [\n\
               {user: browser, password: b, allowed_connection_types: [\"WEBSOCKET\"]}\n\
               {user: backend, password: k, allowed_connection_types: [\"STANDARD\"]}\n\
             ] }\n\
             websocket { port: -1, no_tls: true }\n"
                .into(),
        ),
        ..Default::default()
    });
    let ws_url = format!("ws://127.0.0.1:{}", websocket_port(&server));
    bounded(async {
        assert!(connects(user_pass("browser", "b"), ws_url.clone()).await);
        assert!(!connects(user_pass("browser", "b"), server.url()).await);
        assert!(connects(user_pass("backend", "k"), server.url()).await);
        assert!(!connects(user_pass("backend", "k"), ws_url.clone()).await);
    })
    .await;
}
