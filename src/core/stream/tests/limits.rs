//! Limits with discard old and discard new, per-subject limits, max_age and first_seq.

use bytes::Bytes;

use super::*;
use crate::core::headers::NATS_ROLLUP;
use crate::core::store::record_size;
use crate::core::stream::DiscardPolicy;

fn size_of(subject: &str, payload: &str) -> i64 {
    record_size(subject, None, &Bytes::from(payload.to_string())) as i64
}

#[test]
fn discard_old_max_msgs_removes_the_oldest() {
    let mut s = stream_with(|c| c.max_msgs = 2);
    for i in 0..4 {
        put(&mut s, "a.1", &i.to_string());
    }
    assert_eq!(seqs(&s), vec![3, 4]);
}

#[test]
fn discard_old_max_bytes_removes_the_oldest() {
    let mut s = stream_with(|c| c.max_bytes = 2 * size_of("a.1", "xxxx"));
    for _ in 0..3 {
        put(&mut s, "a.1", "xxxx");
    }
    assert_eq!(seqs(&s), vec![2, 3]);
    assert_eq!(s.state().bytes, 2 * size_of("a.1", "xxxx") as u64);
}

#[test]
fn discard_old_per_subject_limit_removes_that_subjects_oldest() {
    let mut s = stream_with(|c| c.max_msgs_per_subject = 2);
    put(&mut s, "a.k", "1");
    put(&mut s, "a.other", "x");
    put(&mut s, "a.k", "2");
    put(&mut s, "a.k", "3");
    assert_eq!(seqs(&s), vec![2, 3, 4]);
}

#[test]
fn discard_new_max_msgs_refuses_with_nats_text() {
    let mut s = stream_with(|c| {
        c.max_msgs = 2;
        c.discard = DiscardPolicy::New;
    });
    put(&mut s, "a.1", "x");
    put(&mut s, "a.1", "x");
    assert_api_err(
        s.publish("a.1", None, Bytes::from_static(b"x"), T0, true),
        ErrorKind::StreamStoreFailed,
        "maximum messages exceeded",
    );
    assert_eq!((seqs(&s), s.state().last_seq), (vec![1, 2], 2));
}

#[test]
fn discard_new_max_bytes_refuses_with_nats_text() {
    let mut s = stream_with(|c| {
        c.max_bytes = size_of("a.1", "xxxx") + 3;
        c.discard = DiscardPolicy::New;
    });
    put(&mut s, "a.1", "xxxx");
    assert_api_err(
        s.publish("a.1", None, Bytes::from_static(b"xxxx"), T0, true),
        ErrorKind::StreamStoreFailed,
        "maximum bytes exceeded",
    );
    assert_eq!(seqs(&s), vec![1]);
}

#[test]
fn discard_new_per_subject_refuses_a_full_subject() {
    let mut s = stream_with(|c| {
        c.max_msgs_per_subject = 1;
        c.discard = DiscardPolicy::New;
        c.discard_new_per_subject = true;
    });
    put(&mut s, "a.k", "1");
    assert_api_err(
        s.publish("a.k", None, Bytes::from_static(b"2"), T0, true),
        ErrorKind::StreamStoreFailed,
        "maximum messages per subject exceeded",
    );
    assert_eq!(
        put(&mut s, "a.other", "x"),
        2,
        "other subjects still take messages"
    );
}

#[test]
fn discard_new_without_per_subject_flag_replaces_a_full_subjects_oldest() {
    let mut s = stream_with(|c| {
        c.max_msgs_per_subject = 1;
        c.max_msgs = 2;
        c.discard = DiscardPolicy::New;
    });
    put(&mut s, "a.k", "1");
    put(&mut s, "a.j", "1");
    // The stream is at max_msgs, but a.k is at its own limit: the new message replaces the old.
    assert_eq!(put(&mut s, "a.k", "2"), 3);
    assert_eq!(seqs(&s), vec![2, 3]);
}

#[test]
fn rollup_passes_the_discard_new_per_subject_check() {
    let mut s = stream_with(|c| {
        c.max_msgs_per_subject = 1;
        c.discard = DiscardPolicy::New;
        c.discard_new_per_subject = true;
        c.allow_rollup_hdrs = true;
    });
    put(&mut s, "a.k", "1");
    let ack = put_hdrs(&mut s, "a.k", &[(NATS_ROLLUP, "sub")]).expect("rollup makes room");
    assert_eq!(seqs(&s), vec![ack.seq]);
}

#[test]
fn max_age_expiry_removes_messages_at_or_past_the_age() {
    let age = 10 * SECONDS;
    let mut s = stream_with(|c| c.max_age = age);
    put_at(&mut s, "a.1", "x", T0);
    put_at(&mut s, "a.1", "x", T0 + SECONDS);
    assert_eq!(s.next_deadline(), Some(T0 + age));
    assert_eq!(s.expire(T0 + age - 1).expect("expires"), 0);
    assert_eq!(s.expire(T0 + age).expect("expires"), 1);
    assert_eq!(seqs(&s), vec![2]);
    assert_eq!(s.next_deadline(), Some(T0 + SECONDS + age));
}

#[test]
fn expire_removes_everything_that_aged_out_at_once() {
    let mut s = stream_with(|c| c.max_age = SECONDS);
    for i in 0..5 {
        put_at(&mut s, "a.1", "x", T0 + i);
    }
    assert_eq!(s.expire(T0 + 10 * SECONDS).expect("expires"), 5);
    assert_eq!(s.state().msgs, 0);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn first_seq_starts_the_stream_there() {
    let mut s = stream_with(|c| c.first_seq = 100);
    let st = s.state();
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (100, 99, 0));
    assert_eq!(put(&mut s, "a.1", "x"), 100);
}

#[test]
fn discard_new_max_bytes_admits_a_replacement_no_larger_than_the_subjects_oldest() {
    let mut s = stream_with(|c| {
        c.max_bytes = 2 * size_of("a.k", "xxxx");
        c.max_msgs_per_subject = 1;
        c.discard = DiscardPolicy::New;
    });
    put(&mut s, "a.k", "xxxx");
    put(&mut s, "a.j", "xxxx");
    assert_eq!(put(&mut s, "a.k", "yyyy"), 3, "same size replaces");
    assert_api_err(
        s.publish("a.k", None, Bytes::from_static(b"zzzzz"), T0, true),
        ErrorKind::StreamStoreFailed,
        "maximum bytes exceeded",
    );
    assert_eq!(seqs(&s), vec![2, 3]);
}
