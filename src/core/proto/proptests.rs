//! Property tests: encode/parse round trips under arbitrary splits, arbitrary bytes never panic or
//! buffer without bound, and each parser on the other side's encoding.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::core::message::Message;

/// Most bytes a parser may leave buffered while it waits: see the module docs.
fn bound(limits: &Limits) -> usize {
    limits.max_control_line + limits.max_payload + frame::LINE_OVERHEAD
}

/// Feeds `input` to `parse` in chunks of the given sizes (cycled), parsing after each chunk until
/// it needs more. Checks the buffering bound whenever the parser waits or fails.
fn feed<T>(
    input: &[u8],
    chunks: &[usize],
    limits: &Limits,
    mut parse: impl FnMut(&mut BytesMut) -> Result<Option<T>, ProtoError>,
) -> (Vec<T>, Option<ProtoError>, BytesMut) {
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut at = 0;
    let mut sizes = chunks.iter().cycle();
    while at < input.len() {
        let size = sizes.next().copied().unwrap_or(1).max(1);
        let end = (at + size).min(input.len());
        buf.extend_from_slice(&input[at..end]);
        at = end;
        loop {
            match parse(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => {
                    assert!(buf.len() <= bound(limits), "buffered {} bytes", buf.len());
                    break;
                }
                Err(e) => return (ops, Some(e), buf),
            }
        }
    }
    (ops, None, buf)
}

fn subject() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_$*>-]{1,8}(\\.[a-zA-Z0-9_$*>-]{1,8}){0,3}"
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.-]{1,12}"
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn message() -> impl Strategy<Value = Message> {
    (
        subject(),
        proptest::option::of(subject()),
        proptest::option::of(bytes(64)),
        bytes(300),
    )
        .prop_map(|(subject, reply, headers, payload)| Message {
            subject,
            reply,
            headers,
            payload,
        })
}

fn connect() -> impl Strategy<Value = Connect> {
    (
        any::<[bool; 6]>(),
        "\\PC{0,16}",
        proptest::option::of("\\PC{0,16}"),
        0i64..3,
    )
        .prop_map(|(flags, name, user, protocol)| Connect {
            verbose: flags[0],
            pedantic: flags[1],
            tls_required: flags[2],
            echo: flags[3],
            headers: flags[4],
            no_responders: flags[5],
            name,
            lang: "rust".into(),
            version: "0.1.0".into(),
            protocol,
            user,
            ..Connect::default()
        })
}

fn info() -> impl Strategy<Value = ServerInfo> {
    (
        "\\PC{0,16}",
        any::<bool>(),
        0i64..100_000_000,
        proptest::option::of(any::<u64>()),
        proptest::collection::vec("[a-z0-9.:]{1,20}", 0..3),
    )
        .prop_map(
            |(server_id, jetstream, max_payload, client_id, connect_urls)| ServerInfo {
                server_id,
                jetstream,
                max_payload,
                client_id,
                connect_urls,
                proto: 1,
                headers: true,
                ..ServerInfo::default()
            },
        )
}

fn client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        connect().prop_map(|c| ClientOp::Connect(Box::new(c))),
        message().prop_map(ClientOp::Pub),
        (subject(), proptest::option::of(token()), token()).prop_map(|(subject, queue, sid)| {
            ClientOp::Sub {
                subject,
                queue,
                sid,
            }
        }),
        (token(), proptest::option::of(any::<u64>()))
            .prop_map(|(sid, max)| ClientOp::Unsub { sid, max }),
        Just(ClientOp::Ping),
        Just(ClientOp::Pong),
    ]
}

fn server_op() -> impl Strategy<Value = ServerOp> {
    prop_oneof![
        info().prop_map(|i| ServerOp::Info(Box::new(i))),
        (token(), message()).prop_map(|(sid, msg)| ServerOp::Msg { sid, msg }),
        Just(ServerOp::Ping),
        Just(ServerOp::Pong),
        Just(ServerOp::Ok),
        "[^\r\n]{0,30}".prop_map(ServerOp::Err),
    ]
}

fn chunks() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..80, 1..20)
}

fn encode_all_client(ops: &[ClientOp]) -> BytesMut {
    let mut out = BytesMut::new();
    ops.iter().for_each(|op| encode_client(op, &mut out));
    out
}

fn encode_all_server(ops: &[ServerOp]) -> BytesMut {
    let mut out = BytesMut::new();
    ops.iter().for_each(|op| encode_server(op, &mut out));
    out
}

/// Bytes that look like protocol often enough to reach every parser state.
fn protocolish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"PUB ".to_vec()),
        Just(b"HPUB ".to_vec()),
        Just(b"SUB ".to_vec()),
        Just(b"UNSUB ".to_vec()),
        Just(b"MSG ".to_vec()),
        Just(b"HMSG ".to_vec()),
        Just(b"PING".to_vec()),
        Just(b"+OK".to_vec()),
        Just(b"-ERR '".to_vec()),
        Just(b"CONNECT {".to_vec()),
        Just(b"INFO {}".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"foo".to_vec()),
        (0u32..80).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn tight() -> Limits {
    Limits {
        max_control_line: 32,
        max_payload: 64,
    }
}

/// `parse_frame`, with a publish read in place and copied out as the op `parse` returns.
fn frame_as_op(
    parser: &mut ClientParser,
    buf: &mut BytesMut,
) -> Result<Option<ClientOp>, ProtoError> {
    Ok(match parser.parse_frame(buf)? {
        None => None,
        Some(ClientFrame::Op(op)) => Some(op),
        Some(ClientFrame::Pub(view)) => Some(ClientOp::Pub(view.to_message())),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn client_ops_round_trip_under_any_split(ops in proptest::collection::vec(client_op(), 0..12), chunks in chunks()) {
        let wire = encode_all_client(&ops);
        let limits = Limits::default();
        let mut parser = ClientParser::new(limits);
        let (parsed, err, rest) = feed(&wire, &chunks, &limits, |b| parser.parse(b));
        prop_assert_eq!(err, None);
        prop_assert_eq!(parsed, ops);
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn publishes_read_in_place_are_the_messages_sent_under_any_split(ops in proptest::collection::vec(client_op(), 0..12), chunks in chunks()) {
        let wire = encode_all_client(&ops);
        let limits = Limits::default();
        let mut parser = ClientParser::new(limits);
        let (parsed, err, rest) = feed(&wire, &chunks, &limits, |b| frame_as_op(&mut parser, b));
        prop_assert_eq!(err, None);
        prop_assert_eq!(parsed, ops);
        prop_assert!(rest.is_empty(), "the last call consumed the last frame");
    }

    #[test]
    fn the_plain_pub_shortcut_reads_arguments_as_the_full_reader_does(args in "[a-c. \t0-9]{0,16}") {
        let limits = tight();
        let args = args.as_bytes();
        prop_assert_eq!(
            frame::msg_head("PUB", args, args, false, false, &limits),
            frame::msg_head_in_full("PUB", args, args, false, false, &limits)
        );
    }

    #[test]
    fn server_ops_round_trip_under_any_split(ops in proptest::collection::vec(server_op(), 0..12), chunks in chunks()) {
        let wire = encode_all_server(&ops);
        let limits = Limits::default();
        let mut parser = ServerParser::new(limits);
        let (parsed, err, rest) = feed(&wire, &chunks, &limits, |b| parser.parse(b));
        prop_assert_eq!(err, None);
        prop_assert_eq!(parsed, ops);
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_buffer_without_bound(
        input in prop_oneof![proptest::collection::vec(any::<u8>(), 0..600), protocolish()],
        chunks in chunks(),
    ) {
        let limits = tight();
        let mut client = ClientParser::new(limits);
        feed(&input, &chunks, &limits, |b| client.parse(b));
        let mut framed = ClientParser::new(limits);
        feed(&input, &chunks, &limits, |b| frame_as_op(&mut framed, b));
        let mut server = ServerParser::new(limits);
        feed(&input, &chunks, &limits, |b| server.parse(b));
    }

    #[test]
    fn server_parser_reads_only_ping_pong_of_client_output(ops in proptest::collection::vec(client_op(), 1..8), chunks in chunks()) {
        let wire = encode_all_client(&ops);
        let limits = Limits::default();
        let mut parser = ServerParser::new(limits);
        let (parsed, err, _) = feed(&wire, &chunks, &limits, |b| parser.parse(b));
        let shared: Vec<ServerOp> = ops
            .iter()
            .map_while(|op| match op {
                ClientOp::Ping => Some(ServerOp::Ping),
                ClientOp::Pong => Some(ServerOp::Pong),
                _ => None,
            })
            .collect();
        let expected_err = (shared.len() < ops.len()).then_some(ProtoError::UnknownOp);
        prop_assert_eq!(parsed, shared);
        prop_assert_eq!(err, expected_err);
    }

    #[test]
    fn client_parser_reads_ping_pong_passes_over_info_ok_err_and_refuses_msg(ops in proptest::collection::vec(server_op(), 1..8), chunks in chunks()) {
        let wire = encode_all_server(&ops);
        let limits = Limits::default();
        let mut parser = ClientParser::new(limits);
        let (parsed, err, _) = feed(&wire, &chunks, &limits, |b| parser.parse(b));
        // A client may send PING and PONG; INFO, +OK and -ERR are passed over (as nats-server
        // does); MSG and HMSG are refused.
        let readable = |op: &ServerOp| !matches!(op, ServerOp::Msg { .. });
        let shared: Vec<ClientOp> = ops
            .iter()
            .take_while(|op| readable(op))
            .filter_map(|op| match op {
                ServerOp::Ping => Some(ClientOp::Ping),
                ServerOp::Pong => Some(ClientOp::Pong),
                _ => None,
            })
            .collect();
        let expected_err = ops.iter().any(|op| !readable(op)).then_some(ProtoError::UnknownOp);
        prop_assert_eq!(parsed, shared);
        prop_assert_eq!(err, expected_err);
    }
}
