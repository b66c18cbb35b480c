//! INFO → CONNECT + PING → PONG, credentials, and the server refusing them.

use super::*;

#[test]
fn the_handshake_sends_connect_and_ping_and_completes_on_pong() {
    let mut h = Harness::new(config());
    assert_eq!(h.link.state(), LinkState::Connecting);
    h.open();
    assert_eq!(h.sent(), "", "a client waits for INFO before speaking");
    h.feed(INFO);
    let sent = h.sent();
    let connect = connect_json(&sent);
    assert_eq!(connect["verbose"], false);
    assert_eq!(connect["pedantic"], false);
    assert_eq!(connect["headers"], true);
    assert_eq!(connect["no_responders"], true);
    assert_eq!(connect["protocol"], 1);
    assert!(connect.get("auth_token").is_none());
    assert!(sent.ends_with("\r\nPING\r\n"));
    assert_eq!(h.link.state(), LinkState::Connecting);
    assert!(
        h.link.publish(&Message::new("a", "x")) == Err(LinkError::NotConnected),
        "no publish before the PONG"
    );
    h.feed("PONG\r\n");
    let events = h.events();
    let [LinkEvent::Connected(info)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(info.server_name, "hub");
    assert_eq!(h.link.state(), LinkState::Connected);
    assert_eq!(h.link.server_info().map(|i| i.client_id), Some(Some(5)));
}

#[test]
fn subscriptions_made_before_the_handshake_go_out_after_the_pong() {
    let mut h = Harness::new(config());
    let a = h.link.subscribe("orders.>", None).unwrap();
    let b = h.link.subscribe("work", Some("q")).unwrap();
    let restored = h.connect();
    assert_eq!(restored, format!("SUB orders.> {a}\r\nSUB work q {b}\r\n"));
}

#[test]
fn a_token_and_a_user_and_password_go_in_connect() {
    let mut h = Harness::new(LinkConfig {
        auth: Auth::Token("s3cret".into()),
        ..config()
    });
    h.open();
    h.feed(INFO);
    assert_eq!(connect_json(&h.sent())["auth_token"], "s3cret");

    let mut h = Harness::new(LinkConfig {
        auth: Auth::UserPassword {
            user: "alice".into(),
            pass: "wonder".into(),
        },
        ..config()
    });
    h.open();
    h.feed(INFO);
    let connect = connect_json(&h.sent());
    assert_eq!(connect["user"], "alice");
    assert_eq!(connect["pass"], "wonder");
}

#[test]
fn an_nkey_signs_the_nonce_with_the_callers_signer() {
    let signer: NonceSigner =
        Arc::new(|nonce: &[u8]| Ok(format!("signed:{}", String::from_utf8_lossy(nonce))));
    let mut h = Harness::new(LinkConfig {
        auth: Auth::NKey {
            public: "UABC".into(),
            signer,
        },
        ..config()
    });
    h.open();
    h.feed("INFO {\"server_id\":\"S\",\"max_payload\":1024,\"nonce\":\"n0nce\",\"auth_required\":true}\r\n");
    let connect = connect_json(&h.sent());
    assert_eq!(connect["nkey"], "UABC");
    assert_eq!(connect["sig"], "signed:n0nce");
}

#[test]
fn an_nkey_without_a_nonce_is_reported_not_sent() {
    let signer: NonceSigner = Arc::new(|_: &[u8]| Ok("sig".into()));
    let mut h = Harness::new(LinkConfig {
        auth: Auth::NKey {
            public: "UABC".into(),
            signer,
        },
        ..config()
    });
    h.open();
    h.feed(INFO);
    assert_eq!(h.sent(), "");
    assert!(matches!(
        h.events()[..],
        [LinkEvent::Error(LinkError::Signature(_))]
    ));
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
}

#[test]
fn an_authorization_violation_is_reported_retried_once_late_then_the_link_stops() {
    let mut h = Harness::new(LinkConfig {
        auth: Auth::Token("wrong".into()),
        ..config()
    });
    h.open();
    h.feed(INFO);
    h.sent();
    h.feed("-ERR 'Authorization Violation'\r\n");
    assert_eq!(
        h.events(),
        vec![LinkEvent::Error(LinkError::Authorization(
            "Authorization Violation".into()
        ))]
    );
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    // Not retried blindly: the next attempt waits the longest backoff.
    let waited = h.wait_for_dial();
    let backoff = config().backoff;
    assert!(
        waited >= backoff.max && waited <= backoff.max + backoff.jitter,
        "{waited}"
    );
    h.open();
    h.feed(INFO);
    h.feed("-ERR 'Authorization Violation'\r\n");
    let events = h.events();
    assert!(
        matches!(
            &events[..],
            [
                LinkEvent::Error(LinkError::Authorization(_)),
                LinkEvent::Stopped(DisconnectReason::Authorization(_))
            ]
        ),
        "{events:?}"
    );
    assert_eq!(h.link.state(), LinkState::Stopped);
    assert_eq!(h.link.poll_timeout(), None);
    h.advance(3600 * SECONDS);
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    assert_eq!(
        h.link.subscribe("a", None),
        Err(LinkError::Stopped),
        "a stopped link refuses work"
    );
    // New credentials and an explicit restart dial again.
    h.link.restart(Some(Auth::Token("right".into())), h.now);
    h.open();
    h.feed(INFO);
    assert_eq!(connect_json(&h.sent())["auth_token"], "right");
}

#[test]
fn no_info_within_the_connect_timeout_drops_the_attempt() {
    let mut h = Harness::new(config());
    h.open();
    h.advance(2 * SECONDS - 1);
    assert!(h.transports().is_empty());
    h.advance(1);
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    assert_eq!(
        h.link.last_error(),
        Some(&DisconnectReason::HandshakeTimeout)
    );
    assert!(matches!(h.link.state(), LinkState::Waiting { .. }));
    assert!(
        h.events().is_empty(),
        "never connected, so nothing to report as disconnected"
    );
}

#[test]
fn a_fatal_err_ends_the_connection_and_a_permissions_err_does_not() {
    let mut h = Harness::new(config());
    h.connect();
    h.feed("-ERR 'Permissions Violation for Publish to \"x\"'\r\n");
    assert_eq!(
        h.events(),
        vec![LinkEvent::Error(LinkError::Server(
            "Permissions Violation for Publish to \"x\"".into()
        ))]
    );
    assert_eq!(h.link.state(), LinkState::Connected);
    h.feed("-ERR 'Maximum Payload Violation'\r\n");
    assert_eq!(
        h.events(),
        vec![LinkEvent::Disconnected(DisconnectReason::ServerError(
            "Maximum Payload Violation".into()
        ))]
    );
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
}

#[test]
fn a_later_info_updates_max_payload() {
    let mut h = Harness::new(config());
    h.connect();
    h.feed("INFO {\"server_id\":\"NSRV\",\"max_payload\":10}\r\n");
    assert_eq!(h.link.state(), LinkState::Connected);
    assert_eq!(
        h.link.publish(&Message::new("a", "12345678901")),
        Err(LinkError::MaxPayload {
            size: 11,
            limit: 10
        })
    );
    assert!(h.events().is_empty(), "no second Connected");
}

#[test]
fn a_transport_opened_too_late_is_closed_again() {
    let mut h = Harness::new(config());
    assert_eq!(h.link.poll_transport(), Some(TransportCommand::Open));
    h.advance(2 * SECONDS); // the dial timed out
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    h.link.transport_opened(h.now);
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    h.feed(INFO);
    assert_eq!(
        h.sent(),
        "",
        "bytes of a connection the link gave up are ignored"
    );
}

#[test]
fn a_maximum_subscriptions_err_keeps_the_connection() {
    let mut h = Harness::new(config());
    h.connect();
    h.feed("-ERR 'maximum subscriptions exceeded'\r\n");
    assert!(matches!(
        h.events()[..],
        [LinkEvent::Error(LinkError::Server(_))]
    ));
    assert_eq!(h.link.state(), LinkState::Connected);
}
