//! Random server bytes, split anywhere, mixed with time passing and a driver that sometimes
//! takes nothing: the link never panics and its buffers stay within their bounds.

use proptest::prelude::*;

use super::*;

/// Fragments that make a plausible (and often broken) server stream.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(INFO.as_bytes().to_vec()),
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"+OK\r\n".to_vec()),
        Just(b"-ERR 'Authorization Violation'\r\n".to_vec()),
        Just(b"-ERR 'Permissions Violation for Publish to x'\r\n".to_vec()),
        Just(b"MSG a 1 3\r\nabc\r\n".to_vec()),
        Just(b"HMSG a 1 _INBOX.t.1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n".to_vec()),
        Just(b"MSG a 1 999999999\r\n".to_vec()),
        Just(b"INFO {\"max_payload\":99999999999}\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(
            prop_oneof![Just(b'P'), Just(b'\r'), Just(b'\n'), Just(b' ')],
            0..16
        ),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Input(Vec<u8>),
    Advance(Nanos),
    Drain,
    Publish(usize),
    Request,
    TransportClosed,
    OpenIfAsked,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => fragment().prop_map(Step::Input),
        2 => (0..30 * SECONDS).prop_map(Step::Advance),
        2 => Just(Step::Drain),
        1 => (0usize..2000).prop_map(Step::Publish),
        1 => Just(Step::Request),
        1 => Just(Step::TransportClosed),
        3 => Just(Step::OpenIfAsked),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_server_input_never_panics_and_buffers_stay_bounded(
        steps in proptest::collection::vec(step(), 1..120)
    ) {
        let config = LinkConfig {
            max_pending_bytes: 4096,
            max_control_line: 1024,
            max_incoming_payload: 64 * 1024,
            ..config()
        };
        let max_input = config.max_control_line + config.max_incoming_payload + 16;
        let max_out = config.max_pending_bytes + CONTROL_SLACK + 2048;
        let mut h = Harness::new(config);
        h.link.subscribe("a", None).unwrap();
        for step in steps {
            match step {
                Step::Input(bytes) => h.link.handle_input(&bytes, h.now),
                Step::Advance(dt) => h.advance(dt),
                Step::Drain => { h.sent(); }
                Step::Publish(n) => { let _ = h.link.publish(&Message::new("p", vec![0u8; n])); }
                Step::Request => { let _ = h.link.request(Message::new("svc", "x"), SECONDS, h.now); }
                Step::TransportClosed => h.link.transport_closed("cut", h.now),
                Step::OpenIfAsked => {
                    // A driver acts on every command in order; only the last one matters.
                    if h.transports().last() == Some(&TransportCommand::Open) {
                        h.link.transport_opened(h.now);
                    }
                }
            }
            // A driver polls events after every call; what is left in the link is bounded.
            h.events();
            prop_assert!(h.link.input.len() <= max_input, "input {}", h.link.input.len());
            prop_assert!(h.link.out.len() <= max_out, "out {}", h.link.out.len());
        }
    }
}
