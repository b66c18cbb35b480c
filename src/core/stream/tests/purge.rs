//! Purge: all, by filter, below a sequence, keeping the newest; deny_purge and sealed.

use super::*;
use crate::core::stream::PurgeRequest;

/// a.1 a.2 a.1 a.2 a.1 at sequences 1..=5.
fn five() -> Stream {
    let mut s = stream_with(|_| {});
    for subject in ["a.1", "a.2", "a.1", "a.2", "a.1"] {
        put(&mut s, subject, "x");
    }
    s
}

fn req(filter: Option<&str>, seq: Option<u64>, keep: Option<u64>) -> PurgeRequest {
    PurgeRequest {
        filter: filter.map(str::to_string),
        seq,
        keep,
    }
}

#[test]
fn purge_all_empties_the_stream_and_keeps_the_sequence() {
    let mut s = five();
    assert_eq!(s.purge(&PurgeRequest::default()).expect("purged"), 5);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 6, 5));
    assert_eq!(put(&mut s, "a.1", "x"), 6);
}

#[test]
fn purge_by_filter_removes_only_matching_subjects() {
    let mut s = five();
    assert_eq!(s.purge(&req(Some("a.2"), None, None)).expect("purged"), 2);
    assert_eq!(seqs(&s), vec![1, 3, 5]);
}

#[test]
fn purge_below_sequence_removes_older_messages() {
    let mut s = five();
    assert_eq!(s.purge(&req(None, Some(4), None)).expect("purged"), 3);
    assert_eq!(seqs(&s), vec![4, 5]);
}

#[test]
fn purge_keep_leaves_the_newest() {
    let mut s = five();
    assert_eq!(s.purge(&req(None, None, Some(2))).expect("purged"), 3);
    assert_eq!(seqs(&s), vec![4, 5]);
}

#[test]
fn purge_filter_with_keep_keeps_the_newest_matching() {
    let mut s = five();
    assert_eq!(
        s.purge(&req(Some("a.1"), None, Some(1))).expect("purged"),
        2
    );
    assert_eq!(seqs(&s), vec![2, 4, 5]);
}

#[test]
fn purge_seq_and_keep_together_is_a_bad_request() {
    let mut s = five();
    assert_api_err(
        s.purge(&req(None, Some(3), Some(1))),
        ErrorKind::BadRequest,
        "bad request",
    );
    assert_eq!(s.state().msgs, 5);
}

#[test]
fn purge_is_refused_with_deny_purge() {
    let mut s = stream_with(|c| c.deny_purge = true);
    put(&mut s, "a.1", "x");
    assert_api_err(
        s.purge(&PurgeRequest::default()),
        ErrorKind::StreamPurgeFailed,
        "stream purge not permitted",
    );
    assert_eq!(s.state().msgs, 1);
}

#[test]
fn purge_is_refused_on_a_sealed_stream() {
    let mut s = five();
    let mut cfg = s.config().clone();
    cfg.sealed = true;
    s.update(cfg, T0).expect("sealed");
    assert_api_err(
        s.purge(&PurgeRequest::default()),
        ErrorKind::StreamSealed,
        "invalid operation on sealed stream",
    );
}

#[test]
fn purge_request_json_uses_nats_field_names() {
    let r: PurgeRequest = serde_json::from_str(r#"{"filter":"a.1","keep":3}"#).expect("parses");
    assert_eq!(r, req(Some("a.1"), None, Some(3)));
    assert_eq!(
        serde_json::to_string(&r).expect("writes"),
        r#"{"filter":"a.1","keep":3}"#
    );
}
