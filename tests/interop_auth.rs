//! Token and user/password auth from the config file, checked on CONNECT: the right credential
//! connects, a wrong or missing one gets `-ERR 'Authorization Violation'` and a closed connection.

mod interop_support;

use std::io::{Read, Write};
use std::time::Duration;

use interop_support::{bounded, Options, TestServer};

fn with_config(config: &str) -> TestServer {
    TestServer::start_with(Options {
        websocket: true,
        config: Some(config.to_string()),
        ..Default::default()
    })
}

/// Sends one CONNECT over raw TCP and returns what the server says before closing.
fn raw_connect(port: u16, connect: &str) -> String {
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    sock.write_all(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .expect("write");
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
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
