//! Message get (by sequence, last/next by subject, time) and delete.

use bytes::Bytes;

use super::*;
use crate::core::stream::MsgGetRequest;

/// a.x.1 a.y.1 a.x.2 at T0, T0+1s, T0+2s; the second carries a header.
fn three() -> Stream {
    let mut s = stream_with(|_| {});
    put_at(&mut s, "a.x.1", "one", T0);
    let h = hdrs(&[("X-Key", "v")]);
    s.publish(
        "a.y.1",
        Some(h),
        Bytes::from_static(b"two"),
        T0 + SECONDS,
        true,
    )
    .expect("stored");
    put_at(&mut s, "a.x.2", "three", T0 + 2 * SECONDS);
    s
}

fn get(s: &Stream, req: MsgGetRequest) -> Result<Seq, ApiError> {
    s.get_msg(&req).map(|m| m.seq)
}

#[test]
fn get_by_sequence_returns_the_message() {
    let s = three();
    let m = s
        .get_msg(&MsgGetRequest {
            seq: 2,
            ..Default::default()
        })
        .expect("found");
    assert_eq!(
        (m.subject.as_str(), &m.payload[..], m.time),
        ("a.y.1", &b"two"[..], T0 + SECONDS)
    );
    assert_eq!(m.headers, Some(hdrs(&[("X-Key", "v")])));
}

#[test]
fn get_missing_sequence_is_no_message_found() {
    let s = three();
    assert_api_err(
        get(
            &s,
            MsgGetRequest {
                seq: 9,
                ..Default::default()
            },
        ),
        ErrorKind::NoMessageFound,
        "no message found",
    );
}

#[test]
fn get_last_by_subject_accepts_wildcards() {
    let s = three();
    assert_eq!(
        get(
            &s,
            MsgGetRequest {
                last_by_subj: "a.x.*".into(),
                ..Default::default()
            }
        ),
        Ok(3)
    );
    assert_eq!(
        get(
            &s,
            MsgGetRequest {
                last_by_subj: "a.y.1".into(),
                ..Default::default()
            }
        ),
        Ok(2)
    );
    assert_api_err(
        get(
            &s,
            MsgGetRequest {
                last_by_subj: "b.>".into(),
                ..Default::default()
            },
        ),
        ErrorKind::NoMessageFound,
        "no message found",
    );
}

#[test]
fn get_next_by_subject_starts_at_seq() {
    let s = three();
    let next = |seq| {
        get(
            &s,
            MsgGetRequest {
                seq,
                next_by_subj: "a.x.*".into(),
                ..Default::default()
            },
        )
    };
    assert_eq!(next(0), Ok(1));
    assert_eq!(next(2), Ok(3));
    assert!(next(4).is_err_and(|e| e.is(ErrorKind::NoMessageFound)));
}

#[test]
fn get_by_start_time_returns_first_message_at_or_after_it() {
    let s = three();
    let at = |t| {
        get(
            &s,
            MsgGetRequest {
                start_time: Some(t),
                ..Default::default()
            },
        )
    };
    assert_eq!(at(T0 + 1), Ok(2));
    assert_eq!(at(T0 - 5), Ok(1));
    assert!(at(T0 + 3 * SECONDS).is_err_and(|e| e.is(ErrorKind::NoMessageFound)));
}

#[test]
fn get_without_headers_when_asked() {
    let s = three();
    let m = s
        .get_msg(&MsgGetRequest {
            seq: 2,
            no_hdr: true,
            ..Default::default()
        })
        .expect("found");
    assert_eq!(m.headers, None);
}

#[test]
fn get_with_conflicting_or_missing_selectors_is_a_bad_request() {
    let s = three();
    let bad = [
        MsgGetRequest::default(),
        MsgGetRequest {
            seq: 1,
            last_by_subj: "a.>".into(),
            ..Default::default()
        },
        MsgGetRequest {
            last_by_subj: "a.>".into(),
            next_by_subj: "a.>".into(),
            ..Default::default()
        },
        MsgGetRequest {
            seq: 1,
            start_time: Some(T0),
            ..Default::default()
        },
        MsgGetRequest {
            seq: 1,
            batch: 2,
            ..Default::default()
        },
    ];
    for req in bad {
        assert_api_err(get(&s, req), ErrorKind::BadRequest, "bad request");
    }
}

#[test]
fn msg_get_request_json_uses_nats_field_names() {
    let r: MsgGetRequest = serde_json::from_str(
        r#"{"last_by_subj":"a.>","start_time":"2023-11-14T22:13:20Z","unknown":1}"#,
    )
    .expect("parses");
    assert_eq!(r.last_by_subj, "a.>");
    assert_eq!(r.start_time, Some(T0));
    let r: MsgGetRequest =
        serde_json::from_str(r#"{"seq":5,"next_by_subj":"a.1"}"#).expect("parses");
    assert_eq!((r.seq, r.next_by_subj.as_str()), (5, "a.1"));
}

#[test]
fn delete_removes_the_message() {
    let mut s = three();
    s.delete_msg(2, false).expect("deleted");
    assert_eq!(seqs(&s), vec![1, 3]);
}

#[test]
fn delete_of_a_missing_sequence_is_sequence_not_found() {
    let mut s = three();
    assert_api_err(
        s.delete_msg(7, false),
        ErrorKind::SequenceNotFound,
        "sequence 7 not found",
    );
}

#[test]
fn delete_is_refused_with_deny_delete() {
    let mut s = stream_with(|c| c.deny_delete = true);
    put(&mut s, "a.1", "x");
    assert_api_err(
        s.delete_msg(1, true),
        ErrorKind::StreamMsgDeleteFailed,
        "message delete not permitted",
    );
    assert_eq!(s.state().msgs, 1);
}

#[test]
fn delete_is_refused_on_a_sealed_stream() {
    let mut s = three();
    let mut cfg = s.config().clone();
    cfg.sealed = true;
    s.update(cfg, T0).expect("sealed");
    assert_api_err(
        s.delete_msg(1, false),
        ErrorKind::StreamSealed,
        "invalid operation on sealed stream",
    );
}

#[test]
fn engine_removal_ignores_deny_delete() {
    let mut s = stream_with(|c| c.deny_delete = true);
    put(&mut s, "a.1", "x");
    assert_eq!(s.remove_msg(1), Ok(true));
    assert_eq!(s.remove_msg(1), Ok(false));
}
