//! Ack subjects and ack bodies: format, parse, and malformed input.

use crate::core::consumer::{
    ack_stream_seq, ack_subject, parse_ack_subject, AckKind, AckSubject, PullRequest,
};

fn sample() -> AckSubject {
    AckSubject {
        stream: "ORDERS".into(),
        consumer: "dur".into(),
        delivered: 2,
        stream_seq: 41,
        consumer_seq: 77,
        timestamp: 1_700_000_000_123_456_789,
        pending: 9,
    }
}

#[test]
fn ack_subject_has_delivery_count_first() {
    assert_eq!(
        ack_subject("ORDERS", "dur", 2, 41, 77, 1_700_000_000_123_456_789, 9),
        "$JS.ACK.ORDERS.dur.2.41.77.1700000000123456789.9"
    );
}

#[test]
fn ack_subject_round_trips() {
    let a = sample();
    assert_eq!(parse_ack_subject(&a.to_subject()), Some(a));
}

#[test]
fn v2_ack_subject_with_domain_hash_and_token_parses() {
    let subject = "$JS.ACK.hub.AbCdEf12.ORDERS.dur.2.41.77.1700000000123456789.9.RaNd0m";
    assert_eq!(parse_ack_subject(subject), Some(sample()));
    let eleven = "$JS.ACK._.AbCdEf12.ORDERS.dur.2.41.77.1700000000123456789.9";
    assert_eq!(parse_ack_subject(eleven), Some(sample()));
    assert_eq!(ack_stream_seq(subject), Some(41));
    assert_eq!(ack_stream_seq(eleven), Some(41));
}

#[test]
fn malformed_ack_subjects_are_refused() {
    for bad in [
        "",
        "$JS.ACK",
        "$JS.ACK.ORDERS.dur.2.41.77.5",
        "$JS.ACK.ORDERS.dur.2.41.77.5.9.x",
        "$JS.ACK.ORDERS.dur.two.41.77.5.9",
        "$JS.ACK.ORDERS.dur.2.-41.77.5.9",
        "$JS.ACK.ORDERS.dur.2.41.77.99999999999999999999.9",
        "$JS.ACK..dur.2.41.77.5.9",
        "$JS.NAK.ORDERS.dur.2.41.77.5.9",
        "$JS.ACK.ORDERS.dur.2.41.77.5.",
        "$JS.ACK.ORDERS.dur.2.41.77.18446744073709551615.9",
    ] {
        assert_eq!(parse_ack_subject(bad), None, "{bad:?}");
        assert_eq!(ack_stream_seq(bad), None, "{bad:?}");
    }
}

#[test]
fn ack_bodies_parse_as_nats_reads_them() {
    assert_eq!(AckKind::parse(b""), Ok(AckKind::Ack));
    assert_eq!(AckKind::parse(b"+ACK"), Ok(AckKind::Ack));
    assert_eq!(AckKind::parse(b"+OK"), Ok(AckKind::Ack));
    assert_eq!(AckKind::parse(b"+WPI"), Ok(AckKind::Progress));
    assert_eq!(AckKind::parse(b"-NAK"), Ok(AckKind::Nak { delay: None }));
    assert_eq!(AckKind::parse(b"+TERM"), Ok(AckKind::Term { reason: None }));
    assert_eq!(
        AckKind::parse(b"+TERM  bad input "),
        Ok(AckKind::Term {
            reason: Some("bad input".into())
        })
    );
}

#[test]
fn nak_delay_reads_json_and_go_durations() {
    assert_eq!(
        AckKind::parse(br#"-NAK {"delay": 2000000000}"#),
        Ok(AckKind::Nak {
            delay: Some(2_000_000_000)
        })
    );
    assert_eq!(
        AckKind::parse(b"-NAK 150ms"),
        Ok(AckKind::Nak {
            delay: Some(150_000_000)
        })
    );
    // A delay nats-server cannot read makes a plain NAK.
    assert_eq!(
        AckKind::parse(b"-NAK soon"),
        Ok(AckKind::Nak { delay: None })
    );
    assert_eq!(
        AckKind::parse(b"-NAK {oops"),
        Ok(AckKind::Nak { delay: None })
    );
}

#[test]
fn next_body_carries_a_pull_request() {
    assert_eq!(
        AckKind::parse(b"+NXT"),
        Ok(AckKind::Next(Ok(PullRequest::batch(1))))
    );
    assert_eq!(
        AckKind::parse(b"+NXT 5"),
        Ok(AckKind::Next(Ok(PullRequest::batch(5))))
    );
    assert_eq!(
        AckKind::parse(br#"+NXT {"batch":3,"no_wait":true}"#),
        Ok(AckKind::Next(Ok(PullRequest {
            batch: 3,
            no_wait: true,
            ..Default::default()
        })))
    );
    assert!(matches!(
        AckKind::parse(b"+NXT {bad"),
        Ok(AckKind::Next(Err(_)))
    ));
}

#[test]
fn unknown_ack_bodies_are_errors() {
    for bad in [&b"ACK"[..], b"+ACK ", b"+WPI now", b"\xff\xfe", b"nak"] {
        assert!(AckKind::parse(bad).is_err(), "{bad:?}");
    }
}
