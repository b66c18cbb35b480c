//! Unit tests of the parsers: every operation, every error, and the framing rules (splits, line
//! ends, case, whitespace, limits).

use bytes::{Bytes, BytesMut};

use super::*;
use crate::core::message::Message;

fn small() -> Limits {
    Limits {
        max_control_line: 64,
        max_payload: 100,
    }
}

/// Parses every operation in `input` with a client parser; stops at the first error.
fn client_ops(input: &[u8]) -> Result<Vec<ClientOp>, ProtoError> {
    client_ops_with(small(), input)
}

fn client_ops_with(limits: Limits, input: &[u8]) -> Result<Vec<ClientOp>, ProtoError> {
    let mut parser = ClientParser::new(limits);
    let mut buf = BytesMut::from(input);
    let mut ops = Vec::new();
    while let Some(op) = parser.parse(&mut buf)? {
        ops.push(op);
    }
    Ok(ops)
}

fn client_op(input: &[u8]) -> Result<ClientOp, ProtoError> {
    let mut ops = client_ops(input)?;
    assert_eq!(ops.len(), 1, "exactly one op in {input:?}");
    Ok(ops.remove(0))
}

fn server_ops(input: &[u8]) -> Result<Vec<ServerOp>, ProtoError> {
    let mut parser = ServerParser::new(small());
    let mut buf = BytesMut::from(input);
    let mut ops = Vec::new();
    while let Some(op) = parser.parse(&mut buf)? {
        ops.push(op);
    }
    Ok(ops)
}

fn server_op(input: &[u8]) -> Result<ServerOp, ProtoError> {
    let mut ops = server_ops(input)?;
    assert_eq!(ops.len(), 1, "exactly one op in {input:?}");
    Ok(ops.remove(0))
}

// ---- client operations ----

#[test]
fn pub_carries_subject_and_payload() {
    assert_eq!(
        client_op(b"PUB foo.bar 5\r\nhello\r\n"),
        Ok(ClientOp::Pub(Message::new("foo.bar", "hello")))
    );
}

#[test]
fn pub_with_reply_carries_the_reply() {
    assert_eq!(
        client_op(b"PUB foo _INBOX.x 0\r\n\r\n"),
        Ok(ClientOp::Pub(
            Message::new("foo", "").with_reply("_INBOX.x")
        ))
    );
}

#[test]
fn pub_payload_may_hold_line_ends() {
    assert_eq!(
        client_op(b"PUB foo 4\r\n\r\n\r\n\r\n"),
        Ok(ClientOp::Pub(Message::new("foo", "\r\n\r\n")))
    );
}

#[test]
fn hpub_splits_header_block_from_payload() {
    let input = b"HPUB foo reply 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    assert_eq!(
        client_op(input),
        Ok(ClientOp::Pub(
            Message::new("foo", "hi")
                .with_reply("reply")
                .with_headers("NATS/1.0\r\n\r\n")
        ))
    );
}

#[test]
fn hpub_with_zero_header_size_has_an_empty_header_block() {
    assert_eq!(
        client_op(b"HPUB foo 0 2\r\nhi\r\n"),
        Ok(ClientOp::Pub(
            Message::new("foo", "hi").with_headers(Bytes::new())
        ))
    );
}

#[test]
fn sub_with_and_without_queue() {
    assert_eq!(
        client_op(b"SUB foo.* 1\r\n"),
        Ok(ClientOp::Sub {
            subject: "foo.*".into(),
            queue: None,
            sid: "1".into()
        })
    );
    assert_eq!(
        client_op(b"SUB foo.> workers 22\r\n"),
        Ok(ClientOp::Sub {
            subject: "foo.>".into(),
            queue: Some("workers".into()),
            sid: "22".into()
        })
    );
}

#[test]
fn unsub_with_and_without_max() {
    assert_eq!(
        client_op(b"UNSUB 1\r\n"),
        Ok(ClientOp::Unsub {
            sid: "1".into(),
            max: None
        })
    );
    assert_eq!(
        client_op(b"UNSUB 1 5\r\n"),
        Ok(ClientOp::Unsub {
            sid: "1".into(),
            max: Some(5)
        })
    );
}

#[test]
fn unsub_max_that_is_not_a_number_means_now() {
    assert_eq!(
        client_op(b"UNSUB 1 many\r\n"),
        Ok(ClientOp::Unsub {
            sid: "1".into(),
            max: None
        })
    );
}

#[test]
fn connect_reads_fields_and_ignores_unknown_ones() {
    let input = br#"CONNECT {"verbose":false,"pedantic":false,"name":"app","lang":"rust","version":"1.0","protocol":1,"echo":false,"headers":true,"no_responders":true,"user":"u","pass":"p","future_field":[1,2]}"#;
    let mut line = input.to_vec();
    line.extend_from_slice(b"\r\n");
    let Ok(ClientOp::Connect(connect)) =
        client_ops_with(Limits::default(), &line).map(|mut v| v.remove(0))
    else {
        panic!("CONNECT parses");
    };
    assert!(!connect.verbose && !connect.pedantic && !connect.echo);
    assert!(connect.headers && connect.no_responders);
    assert_eq!(connect.name, "app");
    assert_eq!(connect.protocol, 1);
    assert_eq!(connect.user.as_deref(), Some("u"));
    assert_eq!(connect.pass.as_deref(), Some("p"));
    assert_eq!(connect.auth_token, None);
}

#[test]
fn connect_missing_fields_take_nats_server_defaults() {
    let Ok(ClientOp::Connect(connect)) = client_op(b"CONNECT {}\r\n") else {
        panic!("CONNECT parses");
    };
    assert!(connect.verbose && connect.pedantic && connect.echo);
    assert!(!connect.headers);
}

#[test]
fn connect_json_may_follow_the_name_directly() {
    assert!(matches!(
        client_op(b"CONNECT{}\r\n"),
        Ok(ClientOp::Connect(_))
    ));
}

#[test]
fn ping_and_pong() {
    assert_eq!(
        client_ops(b"PING\r\nPONG\r\n"),
        Ok(vec![ClientOp::Ping, ClientOp::Pong])
    );
}

// ---- server operations ----

#[test]
fn msg_carries_subject_sid_and_payload() {
    assert_eq!(
        server_op(b"MSG foo.bar 9 5\r\nhello\r\n"),
        Ok(ServerOp::Msg {
            sid: "9".into(),
            msg: Message::new("foo.bar", "hello")
        })
    );
}

#[test]
fn msg_reply_comes_after_the_sid() {
    assert_eq!(
        server_op(b"MSG foo 9 _INBOX.r 2\r\nhi\r\n"),
        Ok(ServerOp::Msg {
            sid: "9".into(),
            msg: Message::new("foo", "hi").with_reply("_INBOX.r")
        })
    );
}

#[test]
fn hmsg_splits_header_block_from_payload() {
    let input = b"HMSG _INBOX.r 3 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n";
    assert_eq!(
        server_op(input),
        Ok(ServerOp::Msg {
            sid: "3".into(),
            msg: Message::new("_INBOX.r", "").with_headers("NATS/1.0 404 No Messages\r\n\r\n")
        })
    );
}

#[test]
fn info_reads_fields_and_ignores_unknown_ones() {
    let input = br#"INFO {"server_id":"X","version":"2.10.0","proto":1,"headers":true,"max_payload":1048576,"jetstream":true,"connect_urls":["a:4222"],"cluster_dynamic":true}"#;
    let mut line = input.to_vec();
    line.extend_from_slice(b"\r\n");
    let mut parser = ServerParser::new(Limits::default());
    let mut buf = BytesMut::from(&line[..]);
    let Ok(Some(ServerOp::Info(info))) = parser.parse(&mut buf) else {
        panic!("INFO parses");
    };
    assert_eq!(info.server_id, "X");
    assert_eq!(info.max_payload, 1_048_576);
    assert!(info.headers && info.jetstream);
    assert_eq!(info.connect_urls, vec!["a:4222".to_string()]);
}

#[test]
fn ok_ping_pong() {
    assert_eq!(
        server_ops(b"+OK\r\nPING\r\nPONG\r\n"),
        Ok(vec![ServerOp::Ok, ServerOp::Ping, ServerOp::Pong])
    );
}

#[test]
fn err_text_loses_its_quotes() {
    assert_eq!(
        server_op(b"-ERR 'Authorization Violation'\r\n"),
        Ok(ServerOp::Err("Authorization Violation".into()))
    );
}

// ---- framing ----

#[test]
fn op_names_are_case_insensitive() {
    assert_eq!(
        client_ops(b"pub a 1\r\nx\r\nSuB a 1\r\nunsub 1\r\nping\r\nPoNg\r\n").map(|v| v.len()),
        Ok(5)
    );
    assert_eq!(
        server_ops(b"msg a 1 0\r\n\r\n+ok\r\n").map(|v| v.len()),
        Ok(2)
    );
}

#[test]
fn arguments_may_be_separated_by_runs_of_spaces_and_tabs() {
    assert_eq!(
        client_op(b"PUB\t foo \t r  2 \r\nhi\r\n"),
        Ok(ClientOp::Pub(Message::new("foo", "hi").with_reply("r")))
    );
}

#[test]
fn a_bare_lf_ends_a_control_line() {
    assert_eq!(
        client_ops(b"PING\nPUB foo 2\nhi\r\n"),
        Ok(vec![
            ClientOp::Ping,
            ClientOp::Pub(Message::new("foo", "hi"))
        ])
    );
}

#[test]
fn ping_ignores_what_follows_on_its_line() {
    assert_eq!(client_op(b"PING whatever\r\n"), Ok(ClientOp::Ping));
}

#[test]
fn every_split_of_the_input_gives_the_same_ops() {
    let input = b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nHPUB a r 12 15\r\nNATS/1.0\r\n\r\nabc\r\nPUB a 3\r\nxyz\r\nUNSUB 1 2\r\nPING\r\n";
    let whole = client_ops(input).expect("valid input");
    assert_eq!(whole.len(), 6);
    for cut in 0..=input.len() {
        let mut parser = ClientParser::new(small());
        let mut buf = BytesMut::from(&input[..cut]);
        let mut ops = Vec::new();
        while let Some(op) = parser.parse(&mut buf).expect("valid prefix") {
            ops.push(op);
        }
        buf.extend_from_slice(&input[cut..]);
        while let Some(op) = parser.parse(&mut buf).expect("valid rest") {
            ops.push(op);
        }
        assert_eq!(ops, whole, "split at {cut}");
        assert!(buf.is_empty());
    }
}

#[test]
fn a_partial_message_consumes_nothing_until_it_is_whole() {
    let mut parser = ClientParser::new(small());
    let mut buf = BytesMut::from(&b"PUB foo 5\r"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    assert_eq!(&buf[..], b"PUB foo 5\r");
    buf.extend_from_slice(b"\nhel");
    assert_eq!(parser.parse(&mut buf), Ok(None));
    assert_eq!(
        &buf[..],
        b"PUB foo 5\r\nhel",
        "the line waits with its payload"
    );
    buf.extend_from_slice(b"lo\r\nPI");
    assert_eq!(
        parser.parse(&mut buf),
        Ok(Some(ClientOp::Pub(Message::new("foo", "hello"))))
    );
    assert_eq!(&buf[..], b"PI", "exactly the message is consumed");
}

#[test]
fn a_publish_is_read_in_place_and_consumed_by_the_next_call() {
    let mut parser = ClientParser::new(small());
    let mut buf = BytesMut::from(&b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let Ok(Some(ClientFrame::Pub(view))) = parser.parse_frame(&mut buf) else {
        panic!("HPUB parses");
    };
    assert_eq!(
        (view.subject, view.reply, view.headers, view.payload),
        ("foo", Some("r"), Some(&b"NATS/1.0\r\n\r\n"[..]), &b"hi"[..])
    );
    assert_eq!(view.payload.as_ptr() as usize, base + 30, "not copied");
    assert_eq!(
        view.to_message(),
        Message::new("foo", "hi")
            .with_reply("r")
            .with_headers(Bytes::from_static(b"NATS/1.0\r\n\r\n"))
    );
    assert_eq!(buf.len(), 40, "nothing consumed yet");
    assert!(matches!(
        parser.parse_frame(&mut buf),
        Ok(Some(ClientFrame::Op(ClientOp::Ping)))
    ));
    assert!(buf.is_empty());
}

#[test]
fn a_publish_that_spans_reads_is_read_in_place_once_whole() {
    let mut parser = ClientParser::new(small());
    let mut buf = BytesMut::from(&b"PUB foo 5\r\nhe"[..]);
    assert!(matches!(parser.parse_frame(&mut buf), Ok(None)));
    buf.extend_from_slice(b"llo\r\n");
    let Ok(Some(ClientFrame::Pub(view))) = parser.parse_frame(&mut buf) else {
        panic!("PUB parses once whole");
    };
    assert_eq!(view.payload, b"hello");
    assert!(matches!(parser.parse_frame(&mut buf), Ok(None)));
    assert!(buf.is_empty());
}

#[test]
fn payload_is_split_off_the_input_without_copying() {
    let mut parser = ClientParser::new(small());
    let mut buf = BytesMut::from(&b"PUB foo 5\r\nhello\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let Ok(Some(ClientOp::Pub(msg))) = parser.parse(&mut buf) else {
        panic!("PUB parses");
    };
    assert_eq!(msg.payload.as_ptr() as usize, base + 11);
}

// ---- errors ----

#[test]
fn unknown_operation_is_an_error() {
    assert_eq!(client_ops(b"FOO bar\r\n"), Err(ProtoError::UnknownOp));
    assert_eq!(client_ops(b"\r\n"), Err(ProtoError::UnknownOp));
    assert_eq!(
        client_ops(b"PUBLISH a 1\r\nx\r\n"),
        Err(ProtoError::UnknownOp)
    );
}

#[test]
fn garbage_is_rejected_before_its_line_end_arrives() {
    assert_eq!(client_ops(b"GET / HTTP/1.1"), Err(ProtoError::UnknownOp));
    assert_eq!(client_ops(b"PX"), Err(ProtoError::UnknownOp));
    assert_eq!(client_ops(b"PU"), Ok(vec![]), "could still become PUB");
}

#[test]
fn each_side_rejects_the_other_sides_operations() {
    assert_eq!(client_ops(b"MSG a 1 0\r\n\r\n"), Err(ProtoError::UnknownOp));
    assert_eq!(
        client_ops(b"HMSG a 1 0 0\r\n\r\n"),
        Err(ProtoError::UnknownOp)
    );
    assert_eq!(server_ops(b"PUB a 0\r\n\r\n"), Err(ProtoError::UnknownOp));
    assert_eq!(server_ops(b"SUB a 1\r\n"), Err(ProtoError::UnknownOp));
    assert_eq!(server_ops(b"CONNECT {}\r\n"), Err(ProtoError::UnknownOp));
}

#[test]
fn info_ok_and_err_from_a_client_are_passed_over_as_nats_server_does() {
    assert_eq!(
        client_ops(b"INFO {}\r\n+OK\r\n-ERR 'x'\r\nPING\r\n"),
        Ok(vec![ClientOp::Ping])
    );
}

#[test]
fn op_without_its_separator_is_unknown() {
    assert_eq!(client_ops(b"PUB\r\n"), Err(ProtoError::UnknownOp));
    assert_eq!(server_ops(b"-ERR\r\n"), Err(ProtoError::UnknownOp));
}

#[test]
fn long_control_line_is_an_error_once_complete() {
    let subject = "a".repeat(70);
    let line = format!("SUB {subject} 1\r\n");
    assert_eq!(
        client_ops(line.as_bytes()),
        Err(ProtoError::MaxControlLine { limit: 64 })
    );
}

#[test]
fn unterminated_control_line_is_an_error_once_over_the_limit() {
    let mut line = b"PUB ".to_vec();
    line.resize(64 + frame::LINE_OVERHEAD - 1, b'a');
    assert_eq!(client_ops(&line), Ok(vec![]), "still within the limit");
    line.push(b'a');
    assert_eq!(
        client_ops(&line),
        Err(ProtoError::MaxControlLine { limit: 64 })
    );
}

#[test]
fn control_line_at_the_limit_is_accepted() {
    let subject = "a".repeat(62);
    let line = format!("SUB {subject} 1\r\n");
    assert_eq!(client_ops(line.as_bytes()).map(|v| v.len()), Ok(1));
}

#[test]
fn payload_over_the_limit_is_an_error_before_it_arrives() {
    assert_eq!(
        client_ops(b"PUB foo 101\r\n"),
        Err(ProtoError::MaxPayload {
            size: 101,
            limit: 100
        })
    );
    assert_eq!(
        client_ops(b"HPUB foo 10 101\r\n"),
        Err(ProtoError::MaxPayload {
            size: 101,
            limit: 100
        })
    );
    assert_eq!(
        server_ops(b"MSG foo 1 101\r\n"),
        Err(ProtoError::MaxPayload {
            size: 101,
            limit: 100
        })
    );
}

#[test]
fn payload_at_the_limit_is_accepted() {
    let mut input = b"PUB foo 100\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 100]);
    input.extend_from_slice(b"\r\n");
    assert_eq!(client_ops(&input).map(|v| v.len()), Ok(1));
}

#[test]
fn header_size_over_total_is_an_error() {
    assert_eq!(
        client_ops(b"HPUB foo 5 4\r\n"),
        Err(ProtoError::HeaderTooLarge { hdr: 5, total: 4 })
    );
    assert_eq!(
        server_ops(b"HMSG foo 1 5 4\r\n"),
        Err(ProtoError::HeaderTooLarge { hdr: 5, total: 4 })
    );
}

#[test]
fn size_that_is_not_a_number_is_an_error() {
    assert_eq!(
        client_ops(b"PUB foo x\r\n"),
        Err(ProtoError::BadSize { op: "PUB" })
    );
    assert_eq!(
        client_ops(b"PUB foo -1\r\n"),
        Err(ProtoError::BadSize { op: "PUB" })
    );
    assert_eq!(
        client_ops(b"PUB foo 1234567890\r\n"),
        Err(ProtoError::BadSize { op: "PUB" })
    );
    assert_eq!(
        client_ops(b"HPUB foo x 4\r\n"),
        Err(ProtoError::BadSize { op: "HPUB" })
    );
    assert_eq!(
        server_ops(b"MSG foo 1 x\r\n"),
        Err(ProtoError::BadSize { op: "MSG" })
    );
}

#[test]
fn wrong_argument_counts_are_errors() {
    let bad = |op| Err(ProtoError::BadArgs { op });
    let bad_s = |op| Err(ProtoError::BadArgs { op });
    assert_eq!(client_ops(b"PUB foo\r\n"), bad("PUB"));
    assert_eq!(client_ops(b"PUB a b c 1\r\n"), bad("PUB"));
    assert_eq!(client_ops(b"HPUB foo 1\r\n"), bad("HPUB"));
    assert_eq!(client_ops(b"HPUB a b c 1 2\r\n"), bad("HPUB"));
    assert_eq!(client_ops(b"SUB foo\r\n"), bad("SUB"));
    assert_eq!(client_ops(b"SUB a b c d\r\n"), bad("SUB"));
    assert_eq!(client_ops(b"UNSUB \r\n"), bad("UNSUB"));
    assert_eq!(client_ops(b"UNSUB 1 2 3\r\n"), bad("UNSUB"));
    assert_eq!(server_ops(b"MSG foo 1\r\n"), bad_s("MSG"));
    assert_eq!(server_ops(b"MSG a b c d 1\r\n"), bad_s("MSG"));
    assert_eq!(server_ops(b"HMSG foo 1 2\r\n"), bad_s("HMSG"));
}

#[test]
fn payload_not_followed_by_crlf_is_an_error() {
    assert_eq!(
        client_ops(b"PUB foo 2\r\nhiX\r\n"),
        Err(ProtoError::PayloadNotTerminated)
    );
    assert_eq!(
        client_ops(b"PUB foo 2\r\nhi\nPING\r\n"),
        Err(ProtoError::PayloadNotTerminated)
    );
    assert_eq!(
        server_ops(b"MSG foo 1 2\r\nhello\r\n"),
        Err(ProtoError::PayloadNotTerminated)
    );
}

#[test]
fn bad_json_is_an_error() {
    assert!(matches!(
        client_ops(b"CONNECT {\"verbose\":\r\n"),
        Err(ProtoError::BadJson { op: "CONNECT", .. })
    ));
    assert!(matches!(
        client_ops(b"CONNECT {\"verbose\":\"yes\"}\r\n"),
        Err(ProtoError::BadJson { op: "CONNECT", .. })
    ));
    assert!(matches!(
        server_ops(b"INFO nope\r\n"),
        Err(ProtoError::BadJson { op: "INFO", .. })
    ));
}

#[test]
fn subject_that_is_not_utf8_is_an_error() {
    assert_eq!(
        client_ops(b"PUB \xff\xfe 0\r\n\r\n"),
        Err(ProtoError::NotUtf8)
    );
    let mut parser = ClientParser::new(small());
    let mut buf = BytesMut::from(&b"PUB a \xff 0\r\n\r\n"[..]);
    assert!(matches!(
        parser.parse_frame(&mut buf),
        Err(ProtoError::NotUtf8)
    ));
    assert_eq!(
        server_ops(b"MSG \xff 1 0\r\n\r\n"),
        Err(ProtoError::NotUtf8)
    );
    assert_eq!(client_ops(b"SUB a \xff\r\n"), Err(ProtoError::NotUtf8));
}

#[test]
fn parser_recovers_a_clean_state_after_an_error() {
    // The caller should close the connection; a parser used anyway must not misbehave.
    let mut parser = ClientParser::new(small());
    let mut buf = BytesMut::from(&b"PUB foo 2\r\nhiX"[..]);
    assert_eq!(
        parser.parse(&mut buf),
        Err(ProtoError::PayloadNotTerminated)
    );
    let mut fresh = BytesMut::from(&b"PING\r\n"[..]);
    assert_eq!(parser.parse(&mut fresh), Ok(Some(ClientOp::Ping)));
}

#[test]
fn sub_subject_check_rejects_invalid_filters() {
    assert_eq!(check_sub("foo.>"), Ok(()));
    assert_eq!(check_sub("foo..bar"), Err(ProtoError::InvalidSubject));
    assert_eq!(check_sub("foo.>.bar"), Err(ProtoError::InvalidSubject));
}

#[test]
fn pub_subject_check_rejects_wildcards() {
    assert_eq!(check_pub_subject("foo.bar"), Ok(()));
    assert_eq!(
        check_pub_subject("foo.*"),
        Err(ProtoError::InvalidPublishSubject)
    );
}

#[test]
fn raised_limits_apply_from_the_next_control_line() {
    let mut parser = ServerParser::new(small());
    let mut buf = BytesMut::from(&b"MSG a 1 150\r\n"[..]);
    assert!(matches!(
        parser.parse(&mut buf),
        Err(ProtoError::MaxPayload { .. })
    ));
    let mut parser = ServerParser::new(small());
    parser.set_limits(Limits {
        max_payload: 200,
        ..small()
    });
    assert_eq!(parser.limits().max_payload, 200);
    let mut buf = BytesMut::from(&b"MSG a 1 150\r\n"[..]);
    buf.extend_from_slice(&[b'x'; 150]);
    buf.extend_from_slice(b"\r\n");
    assert!(matches!(
        parser.parse(&mut buf),
        Ok(Some(ServerOp::Msg { .. }))
    ));
}

#[test]
fn connect_null_fields_take_their_defaults() {
    let mut parser = ClientParser::default();
    let mut buf = BytesMut::from(
        &b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":null,\"user\":null,\"echo\":null,\"headers\":true}\r\n"[..],
    );
    match parser.parse(&mut buf) {
        Ok(Some(ClientOp::Connect(c))) => {
            assert_eq!(c.name, "");
            assert_eq!(c.user, None);
            assert!(c.echo, "null echo is the default, true");
            assert!(c.headers);
            assert!(!c.verbose);
        }
        other => panic!("expected CONNECT, got {other:?}"),
    }
}
