//! `Nats-Rollup: sub|all` with `allow_rollup_hdrs`.

use bytes::Bytes;

use super::*;
use crate::core::headers::NATS_ROLLUP;

fn rollups() -> Stream {
    stream_with(|c| c.allow_rollup_hdrs = true)
}

#[test]
fn rollup_sub_keeps_only_the_new_message_on_its_subject() {
    let mut s = rollups();
    put(&mut s, "a.k", "1");
    put(&mut s, "a.other", "x");
    put(&mut s, "a.k", "2");
    let ack = put_hdrs(&mut s, "a.k", &[(NATS_ROLLUP, "sub")]).expect("rolled up");
    assert_eq!(ack.seq, 4);
    assert_eq!(seqs(&s), vec![2, 4]);
}

#[test]
fn rollup_all_keeps_only_the_new_message() {
    let mut s = rollups();
    put(&mut s, "a.k", "1");
    put(&mut s, "a.other", "x");
    put_hdrs(&mut s, "a.k", &[(NATS_ROLLUP, "all")]).expect("rolled up");
    assert_eq!(seqs(&s), vec![3]);
}

#[test]
fn rollup_value_is_read_without_regard_to_case() {
    let mut s = rollups();
    put(&mut s, "a.k", "1");
    put_hdrs(&mut s, "a.k", &[(NATS_ROLLUP, "SUB")]).expect("rolled up");
    assert_eq!(seqs(&s), vec![2]);
}

#[test]
fn rollup_without_allow_rollup_hdrs_is_refused() {
    let mut s = stream_with(|_| {});
    put(&mut s, "a.k", "1");
    assert_api_err(
        put_hdrs(&mut s, "a.k", &[(NATS_ROLLUP, "sub")]),
        ErrorKind::StreamRollupFailed,
        "rollup not permitted",
    );
    assert_eq!(seqs(&s), vec![1]);
}

#[test]
fn invalid_rollup_value_is_refused() {
    let mut s = rollups();
    assert_api_err(
        put_hdrs(&mut s, "a.k", &[(NATS_ROLLUP, "Everything")]),
        ErrorKind::StreamRollupFailed,
        "rollup value invalid: \"everything\"",
    );
    assert_eq!(s.state().last_seq, 0);
}

#[test]
fn rollup_without_interest_purges_the_subject_entirely() {
    let mut s = stream_with(|c| {
        c.allow_rollup_hdrs = true;
        c.retention = crate::core::stream::RetentionPolicy::Interest;
    });
    put(&mut s, "a.k", "1");
    let h = hdrs(&[(NATS_ROLLUP, "sub")]);
    let ack = s
        .publish("a.k", Some(h), Bytes::new(), T0, false)
        .expect("accepted");
    assert_eq!(ack.seq, 2);
    assert_eq!(s.state().msgs, 0);
}
