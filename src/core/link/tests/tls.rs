//! When the link asks its driver for TLS: after a plaintext INFO (`tls_required`, or the config
//! requires it), before INFO (`handshake_first`), and CONNECT never before the handshake.

use super::*;

/// [`INFO`] with `tls_required`, as nats-server sends it on a port with a `tls {}` block.
fn tls_info() -> String {
    INFO.replace("\"headers\":true", "\"headers\":true,\"tls_required\":true")
}

fn with_tls(tls: LinkTls) -> LinkConfig {
    LinkConfig { tls, ..config() }
}

#[test]
fn a_server_that_requires_tls_gets_connect_only_after_the_handshake() {
    for mode in [LinkTls::IfRequired, LinkTls::Required] {
        let mut h = Harness::new(with_tls(mode));
        h.open();
        // Bytes after INFO in the same read are not the server's protocol: never parsed.
        h.feed(&format!("{}PING\r\n", tls_info()));
        assert_eq!(h.transports(), vec![TransportCommand::StartTls], "{mode:?}");
        assert_eq!(h.sent(), "", "{mode:?}: nothing in plaintext after INFO");
        assert_eq!(h.link.state(), LinkState::Connecting);
        h.link.tls_established(h.now);
        let sent = h.sent();
        assert_eq!(connect_json(&sent)["tls_required"], true, "{mode:?}");
        assert!(sent.ends_with("}\r\nPING\r\n"), "{mode:?}: {sent}");
        h.feed("PONG\r\n");
        assert!(matches!(h.events()[..], [LinkEvent::Connected(_)]));
        assert_eq!(h.link.state(), LinkState::Connected);
    }
}

#[test]
fn without_tls_asked_or_required_connect_follows_info_in_plaintext() {
    for mode in [LinkTls::Off, LinkTls::IfRequired] {
        let mut h = Harness::new(with_tls(mode));
        h.open();
        h.feed(INFO);
        assert_eq!(h.transports(), vec![], "{mode:?}");
        assert_eq!(connect_json(&h.sent())["tls_required"], false, "{mode:?}");
    }
}

#[test]
fn a_required_link_refuses_a_server_without_tls_and_retries() {
    let mut h = Harness::new(with_tls(LinkTls::Required));
    h.open();
    h.feed(INFO);
    assert_eq!(h.sent(), "", "no CONNECT to a server that offers no TLS");
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    assert_eq!(h.link.last_error(), Some(&DisconnectReason::TlsNotOffered));
    assert!(matches!(h.link.state(), LinkState::Waiting { .. }));
    h.wait_for_dial();
    assert_eq!(h.link.poll_transport(), Some(TransportCommand::Open));

    // A server that offers TLS without requiring it (`tls_available`) is upgraded.
    let mut h = Harness::new(with_tls(LinkTls::Required));
    h.open();
    h.feed(&INFO.replace(
        "\"headers\":true",
        "\"headers\":true,\"tls_available\":true",
    ));
    assert_eq!(h.transports(), vec![TransportCommand::StartTls]);
}

#[test]
fn handshake_first_sends_connect_on_info_and_says_tls() {
    let mut h = Harness::new(with_tls(LinkTls::HandshakeFirst));
    h.open();
    h.feed(&tls_info());
    assert_eq!(h.transports(), vec![], "the transport is TLS already");
    assert_eq!(connect_json(&h.sent())["tls_required"], true);
}

#[test]
fn a_handshake_that_never_ends_times_out_and_a_late_one_is_dropped() {
    let mut h = Harness::new(with_tls(LinkTls::IfRequired));
    h.open();
    h.feed(&tls_info());
    assert_eq!(h.transports(), vec![TransportCommand::StartTls]);
    h.advance(2 * SECONDS);
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    assert_eq!(
        h.link.last_error(),
        Some(&DisconnectReason::HandshakeTimeout)
    );
    h.link.tls_established(h.now);
    assert_eq!(h.sent(), "", "no CONNECT on a connection the link gave up");
    assert_eq!(h.transports(), vec![TransportCommand::Close]);

    // A failed handshake ends the connection: reported, then retried.
    h.wait_for_dial();
    h.open();
    h.feed(&tls_info());
    assert_eq!(h.transports(), vec![TransportCommand::StartTls]);
    h.link
        .tls_failed("handshake failed: invalid peer certificate", h.now);
    let error = h.link.last_error().map(ToString::to_string);
    assert_eq!(
        error.as_deref(),
        Some("TLS handshake failed: invalid peer certificate")
    );
    assert!(matches!(h.link.state(), LinkState::Waiting { .. }));
}
