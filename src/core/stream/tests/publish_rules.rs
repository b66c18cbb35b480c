//! Publish checks: sealed, size, expected-* headers, TTL headers, no-interest publishes.

use bytes::Bytes;

use super::*;
use crate::core::headers::{
    NATS_EXPECTED_LAST_MSG_ID, NATS_EXPECTED_LAST_SEQUENCE, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
    NATS_EXPECTED_STREAM, NATS_MSG_ID,
};
use crate::core::stream::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, NATS_TTL};

#[test]
fn publish_assigns_consecutive_sequences_and_acks_the_stream() {
    let mut s = stream_with(|_| {});
    let ack = s
        .publish("a.1", None, Bytes::from_static(b"one"), T0, true)
        .expect("stored");
    assert_eq!(
        ack,
        PubAck {
            stream: "S".into(),
            seq: 1,
            domain: None,
            duplicate: false
        }
    );
    assert_eq!(put(&mut s, "a.2", "two"), 2);
    let msg = s.store().load_msg(2).expect("stored");
    assert_eq!(
        (msg.subject.as_str(), &msg.payload[..], msg.time),
        ("a.2", &b"two"[..], T0)
    );
}

#[test]
fn message_larger_than_max_msg_size_is_refused() {
    let mut s = stream_with(|c| c.max_msg_size = 10);
    assert_eq!(put(&mut s, "a.1", "0123456789"), 1);
    assert_api_err(
        s.publish("a.1", None, Bytes::from_static(b"0123456789x"), T0, true),
        ErrorKind::StreamMessageExceedsMaximum,
        "message size exceeds maximum allowed",
    );
}

#[test]
fn max_msg_size_counts_headers_and_payload() {
    let mut s = stream_with(|c| c.max_msg_size = 30);
    let h = hdrs(&[("X", "y")]);
    assert_eq!(h.len(), 18);
    let fits = s.publish(
        "a.1",
        Some(h.clone()),
        Bytes::from(vec![b'p'; 12]),
        T0,
        true,
    );
    assert_eq!(fits.expect("30 bytes fit").seq, 1);
    let r = s.publish("a.1", Some(h), Bytes::from(vec![b'p'; 13]), T0, true);
    assert_api_err(
        r,
        ErrorKind::StreamMessageExceedsMaximum,
        "message size exceeds maximum allowed",
    );
}

#[test]
fn header_block_over_64k_is_refused() {
    let mut s = stream_with(|_| {});
    let big = "v".repeat(70_000);
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[("X-Big", &big)]),
        ErrorKind::StreamHeaderExceedsMaximum,
        "header size exceeds maximum allowed of 64k",
    );
}

#[test]
fn sealed_stream_refuses_publishes() {
    let mut s = stream_with(|_| {});
    put(&mut s, "a.1", "x");
    let mut sealed = s.config().clone();
    sealed.sealed = true;
    s.update(sealed, T0).expect("sealing is allowed");
    assert_api_err(
        s.publish("a.1", None, Bytes::new(), T0, true),
        ErrorKind::StreamSealed,
        "invalid operation on sealed stream",
    );
    assert_eq!(s.state().msgs, 1);
}

#[test]
fn expected_stream_mismatch_is_refused() {
    let mut s = stream_with(|_| {});
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_STREAM, "OTHER")]),
        ErrorKind::StreamNotMatch,
        "expected stream does not match",
    );
    assert_eq!(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_STREAM, "S")])
            .expect("matches")
            .seq,
        1
    );
}

#[test]
fn expected_last_sequence_mismatch_reports_the_actual_sequence() {
    let mut s = stream_with(|_| {});
    put(&mut s, "a.1", "x");
    put(&mut s, "a.2", "x");
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_SEQUENCE, "1")]),
        ErrorKind::StreamWrongLastSequence,
        "wrong last sequence: 2",
    );
    assert_eq!(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_SEQUENCE, "2")])
            .expect("ok")
            .seq,
        3
    );
}

#[test]
fn expected_last_sequence_zero_means_empty_stream() {
    let mut s = stream_with(|_| {});
    assert_eq!(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_SEQUENCE, "0")])
            .expect("ok")
            .seq,
        1
    );
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_SEQUENCE, "0")]),
        ErrorKind::StreamWrongLastSequence,
        "wrong last sequence: 1",
    );
}

#[test]
fn expected_last_sequence_that_is_not_a_number_never_matches() {
    let mut s = stream_with(|_| {});
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_SEQUENCE, "zero")]),
        ErrorKind::StreamWrongLastSequence,
        "wrong last sequence: 0",
    );
}

#[test]
fn expected_last_subject_sequence_zero_requires_no_message_on_subject() {
    let mut s = stream_with(|_| {});
    put(&mut s, "a.other", "x");
    let create = [(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "0")];
    assert_eq!(
        put_hdrs(&mut s, "a.key", &create)
            .expect("no message on a.key yet")
            .seq,
        2
    );
    assert_api_err(
        put_hdrs(&mut s, "a.key", &create),
        ErrorKind::StreamWrongLastSequence,
        "wrong last sequence: 2",
    );
}

#[test]
fn expected_last_subject_sequence_must_match_the_subjects_last() {
    let mut s = stream_with(|_| {});
    put(&mut s, "a.key", "v1");
    put(&mut s, "a.other", "x");
    assert_api_err(
        put_hdrs(
            &mut s,
            "a.key",
            &[(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "2")],
        ),
        ErrorKind::StreamWrongLastSequence,
        "wrong last sequence: 1",
    );
    let ok = put_hdrs(
        &mut s,
        "a.key",
        &[(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "1")],
    );
    assert_eq!(ok.expect("revision matches").seq, 3);
}

#[test]
fn expected_last_subject_sequence_can_name_another_subject() {
    let mut s = stream_with(|_| {});
    put(&mut s, "a.lock", "x");
    let pairs = [
        (NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "1"),
        (NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, "a.lock"),
    ];
    assert_eq!(
        put_hdrs(&mut s, "a.data", &pairs)
            .expect("a.lock is at 1")
            .seq,
        2
    );
}

#[test]
fn expected_subject_without_expected_sequence_is_refused() {
    let mut s = stream_with(|_| {});
    assert_api_err(
        put_hdrs(
            &mut s,
            "a.1",
            &[(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, "a.2")],
        ),
        ErrorKind::StreamExpectedLastSeqPerSubjectInvalid,
        "missing sequence for expected last sequence per subject",
    );
}

#[test]
fn expected_last_msg_id_must_match_the_last_stored_id() {
    let mut s = stream_with(|_| {});
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "m1")]).expect("stored");
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_MSG_ID, "m0")]),
        ErrorKind::StreamWrongLastMsgID,
        "wrong last msg ID: m1",
    );
    let ok = put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_MSG_ID, "m1")]);
    assert_eq!(ok.expect("matches").seq, 2);
    // That message had no id, so the last id is now empty.
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_MSG_ID, "m1")]),
        ErrorKind::StreamWrongLastMsgID,
        "wrong last msg ID: ",
    );
}

#[test]
fn ttl_header_is_refused_without_message_ttls() {
    let mut s = stream_with(|_| {});
    assert_api_err(
        put_hdrs(&mut s, "a.1", &[(NATS_TTL, "5s")]),
        ErrorKind::MessageTTLDisabled,
        "per-message TTL is disabled",
    );
}

#[test]
fn failed_expectation_stores_nothing() {
    let mut s = stream_with(|_| {});
    let _ = put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_SEQUENCE, "9")]);
    assert_eq!((s.state().msgs, s.state().last_seq), (0, 0));
}

#[test]
fn no_interest_publish_takes_a_sequence_but_keeps_nothing() {
    let mut s = stream_with(|c| c.retention = crate::core::stream::RetentionPolicy::Interest);
    let ack = s
        .publish("a.1", None, Bytes::from_static(b"x"), T0, false)
        .expect("accepted");
    assert_eq!(ack.seq, 1);
    assert_eq!(put(&mut s, "a.1", "y"), 2);
    assert_eq!(seqs(&s), vec![2]);
}

#[test]
fn no_interest_publish_is_still_checked() {
    let mut s = stream_with(|c| c.max_msg_size = 1);
    let big = s.publish("a.1", None, Bytes::from_static(b"xx"), T0, false);
    assert!(big.is_err_and(|e| e.is(ErrorKind::StreamMessageExceedsMaximum)));
    assert_eq!(s.state().last_seq, 0);
}

#[test]
fn no_interest_publish_is_remembered_for_dedup() {
    let mut s = stream_with(|_| {});
    let h = hdrs(&[(NATS_MSG_ID, "id")]);
    let first = s
        .publish("a.1", Some(h.clone()), Bytes::new(), T0, false)
        .expect("ok");
    let again = s
        .publish("a.1", Some(h), Bytes::new(), T0, true)
        .expect("ok");
    assert_eq!((again.seq, again.duplicate), (first.seq, true));
    assert_eq!(s.state().msgs, 0);
}

#[test]
fn empty_header_block_counts_as_no_headers() {
    let mut s = stream_with(|_| {});
    let ack = s.publish(
        "a.1",
        Some(Bytes::new()),
        Bytes::from_static(b"x"),
        T0,
        true,
    );
    assert_eq!(ack.expect("stored").seq, 1);
    assert_eq!(s.store().load_msg(1).expect("stored").headers, None);
}

#[test]
fn only_publishes_that_need_nothing_but_the_last_sequence_do_not_look_back() {
    let plain = stream_with(|_| {});
    assert!(!plain.publish_looks_back(None));
    for (name, value) in [
        (NATS_EXPECTED_STREAM, "S"),
        (NATS_EXPECTED_LAST_SEQUENCE, "4"),
        ("X-App", "v"),
    ] {
        assert!(
            !plain.publish_looks_back(Some(&hdrs(&[(name, value)]))),
            "{name}"
        );
    }
    for (name, value) in [
        (NATS_MSG_ID, "id"),
        (NATS_EXPECTED_LAST_MSG_ID, "id"),
        (NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, "3"),
        (crate::core::headers::NATS_ROLLUP, "sub"),
    ] {
        assert!(
            plain.publish_looks_back(Some(&hdrs(&[(name, value)]))),
            "{name}"
        );
    }
    let limited: [fn(&mut StreamConfig); 5] = [
        |c| c.max_msgs = 10,
        |c| c.max_bytes = 1000,
        |c| c.max_age = SECONDS,
        |c| c.max_msgs_per_subject = 1,
        |c| c.retention = crate::core::stream::RetentionPolicy::Interest,
    ];
    for limit in limited {
        assert!(stream_with(limit).publish_looks_back(None));
    }
}
