//! Bounded outgoing buffers and the server's max_payload.

use super::*;

#[test]
fn a_full_outgoing_buffer_refuses_publishes_until_the_driver_takes_bytes() {
    let mut h = Harness::new(LinkConfig {
        max_pending_bytes: 1000,
        ..config()
    });
    h.connect();
    let msg = Message::new("metrics", vec![b'x'; 100]);
    let mut accepted = 0;
    let refused = loop {
        match h.link.publish(&msg) {
            Ok(()) => accepted += 1,
            Err(err) => break err,
        }
        assert!(accepted < 100, "the buffer never filled");
    };
    assert!(
        matches!(refused, LinkError::BufferFull { limit: 1000, .. }),
        "{refused}"
    );
    assert!(h.link.pending_bytes() <= 1000);
    assert_eq!(accepted, 8, "each PUB takes 119 bytes");
    let sent = h.sent();
    assert_eq!(sent.matches("PUB metrics 100\r\n").count(), accepted);
    assert_eq!(
        h.link.publish(&msg),
        Ok(()),
        "room again once the driver took the bytes"
    );
}

#[test]
fn a_ping_flood_while_the_driver_takes_nothing_ends_the_connection_not_memory() {
    let mut h = Harness::new(LinkConfig {
        max_pending_bytes: 1000,
        ..config()
    });
    h.connect();
    let flood = "PING\r\n".repeat(20_000);
    h.feed(&flood);
    assert!(
        h.link.pending_bytes() == 0,
        "the stalled connection's bytes are dropped"
    );
    assert_eq!(
        h.events(),
        vec![LinkEvent::Disconnected(DisconnectReason::OutputStalled)]
    );
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
}

#[test]
fn max_payload_from_info_is_enforced_on_publish() {
    let mut h = Harness::new(config());
    h.open();
    h.feed("INFO {\"server_id\":\"S\",\"headers\":true,\"max_payload\":100}\r\n");
    h.feed("PONG\r\n");
    h.events();
    h.sent();
    assert_eq!(h.link.publish(&Message::new("a", vec![0u8; 100])), Ok(()));
    let headers = "NATS/1.0\r\nA: b\r\n\r\n"; // 18 bytes count too
    let msg = Message::new("a", vec![0u8; 83]).with_headers(headers);
    assert_eq!(
        h.link.publish(&msg),
        Err(LinkError::MaxPayload {
            size: 101,
            limit: 100
        })
    );
    assert_eq!(h.sent(), format!("PUB a 100\r\n{}\r\n", "\0".repeat(100)));
}

#[test]
fn a_server_message_beyond_the_incoming_limit_is_a_protocol_error() {
    let mut h = Harness::new(LinkConfig {
        max_incoming_payload: 2 * 1024 * 1024,
        ..config()
    });
    h.open();
    // The server claims a huge max_payload; the link still reads at most its own bound.
    h.feed("INFO {\"server_id\":\"S\",\"max_payload\":9000000000}\r\n");
    h.feed("PONG\r\n");
    h.events();
    h.feed("MSG a 1 3000000\r\n");
    assert!(matches!(
        h.events()[..],
        [LinkEvent::Disconnected(DisconnectReason::Protocol(
            crate::core::proto::ProtoError::MaxPayload { .. }
        ))]
    ));
}

#[test]
fn bad_subjects_are_refused_before_they_reach_the_wire() {
    let mut h = Harness::new(config());
    h.connect();
    for subject in ["", "a b", "a\r\nPUB x 1", "a..b", "a."] {
        assert!(
            matches!(
                h.link.publish(&Message::new(subject, "x")),
                Err(LinkError::InvalidSubject(_))
            ),
            "{subject:?}"
        );
    }
    assert!(matches!(
        h.link.publish(&Message::new("a", "x").with_reply("r s")),
        Err(LinkError::InvalidSubject(_))
    ));
    assert!(matches!(
        h.link.subscribe("a b", None),
        Err(LinkError::InvalidSubject(_))
    ));
    assert!(matches!(
        h.link.subscribe("a", Some("q 1")),
        Err(LinkError::InvalidSubject(_))
    ));
    assert!(matches!(
        h.link.unsubscribe(77),
        Err(LinkError::UnknownSubscription(77))
    ));
    assert_eq!(h.sent(), "");
}

/// A JetStream API subject may carry a consumer's filter (`$JS.API.CONSUMER.CREATE.S.C.a.*`);
/// nats-server takes wildcard tokens in a PUB from clients that are not pedantic.
#[test]
fn wildcard_tokens_are_published_as_they_are() {
    let mut h = Harness::new(config());
    h.connect();
    h.link
        .publish(&Message::new("$JS.API.CONSUMER.CREATE.S.C.a.*", "x"))
        .unwrap();
    h.link.publish(&Message::new("orders.>", "y")).unwrap();
    assert_eq!(
        h.sent(),
        "PUB $JS.API.CONSUMER.CREATE.S.C.a.* 1\r\nx\r\nPUB orders.> 1\r\ny\r\n"
    );
}

#[test]
fn headers_are_published_as_hpub() {
    let mut h = Harness::new(config());
    h.connect();
    let msg = Message::new("a", "hi")
        .with_reply("r")
        .with_headers("NATS/1.0\r\nK: v\r\n\r\n");
    h.link.publish(&msg).unwrap();
    assert_eq!(h.sent(), "HPUB a r 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n");
}
