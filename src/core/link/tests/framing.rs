//! Server bytes split or merged at any boundary give the same result; malformed bytes end the
//! connection with an error and never panic.

use super::*;

/// A server's side of a short session: handshake, messages with and without headers, a PING.
fn script() -> String {
    [
        INFO,
        "PONG\r\n",
        "MSG a.b 1 5\r\nhello\r\n",
        "HMSG a.c 1 reply.x 18 21\r\nNATS/1.0\r\nK: v\r\n\r\nabc\r\n",
        "PING\r\n",
        "MSG z 2 2\r\nok\r\n",
        "+OK\r\n",
        "MSG a.d 1 0\r\n\r\n",
    ]
    .concat()
}

/// Feeds the script in the given chunks to a fresh link; returns the events and the bytes sent.
fn run(chunks: &[&[u8]]) -> (Vec<LinkEvent>, String) {
    let mut h = Harness::new(config());
    h.link.subscribe("a.>", None).unwrap();
    h.link.subscribe("z", None).unwrap();
    h.open();
    let mut events = Vec::new();
    let mut sent = String::new();
    for chunk in chunks {
        h.link.handle_input(chunk, h.now);
        events.extend(h.events());
        sent.push_str(&h.sent());
    }
    (events, sent)
}

#[test]
fn every_split_point_and_byte_by_byte_give_the_same_events() {
    let script = script();
    let bytes = script.as_bytes();
    let (whole, sent) = run(&[bytes]);
    assert_eq!(whole.len(), 5, "{whole:?}");
    assert!(matches!(whole[0], LinkEvent::Connected(_)));
    assert!(
        matches!(&whole[1], LinkEvent::Message { sid: 1, msg } if &msg.payload[..] == b"hello")
    );
    assert!(matches!(&whole[2], LinkEvent::Message { sid: 1, msg }
        if msg.reply.as_deref() == Some("reply.x") && &msg.payload[..] == b"abc"
            && msg.headers.as_deref() == Some(&b"NATS/1.0\r\nK: v\r\n\r\n"[..])));
    assert!(matches!(&whole[3], LinkEvent::Message { sid: 2, msg } if &msg.payload[..] == b"ok"));
    assert!(matches!(&whole[4], LinkEvent::Message { sid: 1, msg } if msg.payload.is_empty()));
    assert!(sent.contains("PONG\r\n"), "{sent}");
    for at in 0..=bytes.len() {
        let (a, b) = bytes.split_at(at);
        assert_eq!(run(&[a, b]).0, whole, "split at {at}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(run(&singles).0, whole, "byte by byte");
}

#[test]
fn malformed_server_input_is_an_error_not_a_panic() {
    let cases: &[&str] = &[
        "HELLO\r\n",
        "MSG a\r\n",
        "MSG a 1 x\r\n",
        "MSG a 1 3\r\nabcdef\r\n",
        "HMSG a 1 10 5\r\n",
        "INFO {not json\r\n",
        "INFO [1,2]\r\n",
        "\0\0\0\0\r\n",
    ];
    for case in cases {
        let mut h = Harness::new(config());
        h.connect();
        h.feed(case);
        let events = h.events();
        assert!(
            matches!(
                events[..],
                [LinkEvent::Disconnected(DisconnectReason::Protocol(_))]
            ),
            "{case:?}: {events:?}"
        );
        assert_eq!(h.transports(), vec![TransportCommand::Close], "{case:?}");
        // And the link recovers on the next connection.
        h.wait_for_dial();
        h.connect();
    }
}

#[test]
fn a_message_for_a_sid_that_is_not_a_number_is_dropped() {
    let mut h = Harness::new(config());
    h.connect();
    h.feed("MSG a zz 1\r\nx\r\n");
    assert!(h.events().is_empty());
    assert_eq!(h.link.state(), LinkState::Connected);
}
