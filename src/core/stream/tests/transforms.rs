//! `subject_transform` and `republish`: config checks (nats-server's codes and texts), the
//! subject a message is stored under, and the republished copy with its headers.

use super::*;
use crate::core::headers::Headers;
use crate::core::stream::{RePublish, SubjectTransformConfig};

fn transform(src: &str, dest: &str) -> Option<SubjectTransformConfig> {
    Some(SubjectTransformConfig {
        src: src.into(),
        dest: dest.into(),
    })
}

fn republish(src: &str, dest: &str, headers_only: bool) -> Option<RePublish> {
    Some(RePublish {
        src: src.into(),
        dest: dest.into(),
        headers_only,
    })
}

fn validated(f: impl FnOnce(&mut StreamConfig)) -> Result<StreamConfig, ApiError> {
    let mut cfg = StreamConfig::new("S", &["a.>"]);
    f(&mut cfg);
    cfg.validated()
}

/// Publishes as the engine does: the transform decides the stored subject.
fn put_as_engine(s: &mut Stream, subject: &str, headers: Option<Bytes>) -> Seq {
    let stored = s.stored_subject(subject).into_owned();
    s.publish(&stored, headers, Bytes::from_static(b"hello"), T0, true)
        .expect("publish succeeds")
        .seq
}

#[test]
fn a_bad_transform_is_refused_with_its_own_codes() {
    assert_api_err(
        validated(|c| c.subject_transform = transform("a..b", "x")),
        ErrorKind::StreamTransformInvalidSource,
        "stream transform source: invalid subject a..b",
    );
    assert_api_err(
        validated(|c| c.subject_transform = transform("a.*", "x.$2")),
        ErrorKind::StreamTransformInvalidDestination,
        "stream transform: invalid mapping destination: wildcard index out of range in $2: [2]",
    );
    assert_api_err(
        validated(|c| c.subject_transform = transform("a.*", "x.{{nope(1)}}")),
        ErrorKind::StreamTransformInvalidDestination,
        "stream transform: invalid mapping destination: unknown function in {{nope(1)}}",
    );
    assert!(validated(|c| c.subject_transform = transform("a.*", "x.{{wildcard(1)}}")).is_ok());
}

#[test]
fn republish_must_not_feed_the_stream_and_must_compile() {
    assert_api_err(
        validated(|c| c.republish = republish(">", "a.copy", false)),
        ErrorKind::StreamInvalidConfig,
        "stream configuration for republish destination forms a cycle",
    );
    assert_api_err(
        validated(|c| c.republish = republish("a.*", "r.$2", false)),
        ErrorKind::StreamInvalidConfig,
        "stream configuration for republish with transform from 'a.*' to 'r.$2' not valid",
    );
    let cfg = validated(|c| c.republish = republish("", "r.>", false)).expect("valid");
    assert_eq!(
        cfg.republish,
        republish(">", "r.>", false),
        "empty source reads as >"
    );
}

#[test]
fn republish_of_everything_follows_the_transform_of_the_only_subject() {
    let cfg = validated(|c| {
        c.subject_transform = transform("a.>", "b.>");
        c.republish = republish(">", ">", false);
    })
    .expect("valid");
    assert_eq!(cfg.republish, republish("b.>", "b.>", false));
}

#[test]
fn messages_are_stored_under_the_transformed_subject() {
    let mut s = stream_with(|c| c.subject_transform = transform("a.*.*", "b.$2.$1"));
    let seq = put_as_engine(&mut s, "a.x.y", None);
    assert_eq!(s.store().load_msg(seq).expect("stored").subject, "b.y.x");
    // Outside the transform's source the subject stays.
    let seq = put_as_engine(&mut s, "a.z", None);
    assert_eq!(s.store().load_msg(seq).expect("stored").subject, "a.z");
}

#[test]
fn a_republished_copy_carries_where_the_message_is_stored() {
    let mut s = stream_with(|c| c.republish = republish("a.>", "r.>", false));
    assert!(s.take_republished().is_none());
    put_as_engine(&mut s, "a.x", None);
    let first = s.take_republished().expect("republished");
    assert!(s.take_republished().is_none(), "taken once");
    assert_eq!(first.to, "r.x");
    assert_eq!(first.msg.payload, Bytes::from_static(b"hello"));
    let h = Headers::parse(first.msg.headers.as_deref().expect("headers")).expect("parses");
    assert_eq!(h.get("Nats-Stream"), Some("S"));
    assert_eq!(h.get("Nats-Subject"), Some("a.x"));
    assert_eq!(h.get("Nats-Sequence"), Some("1"));
    assert_eq!(h.get("Nats-Last-Sequence"), Some("0"));
    assert_eq!(h.get("Nats-Time-Stamp"), Some("2023-11-14T22:13:20Z"));
    assert_eq!(h.get("Nats-Msg-Size"), None);

    // The second message on a.x names the first as its predecessor; other subjects do not count.
    put_as_engine(&mut s, "a.y", None);
    let own = hdrs(&[("Trace", "t1")]);
    put_as_engine(&mut s, "a.x", Some(own));
    let third = s.take_republished().expect("republished");
    let h = Headers::parse(third.msg.headers.as_deref().expect("headers")).expect("parses");
    assert_eq!(h.get("Trace"), Some("t1"), "the message's own headers stay");
    assert_eq!(h.get("Nats-Sequence"), Some("3"));
    assert_eq!(h.get("Nats-Last-Sequence"), Some("1"));
}

#[test]
fn headers_only_republish_leaves_the_payload_out() {
    let mut s = stream_with(|c| c.republish = republish(">", "r.>", true));
    put_as_engine(&mut s, "a.x", None);
    let copy = s.take_republished().expect("republished");
    assert!(copy.msg.payload.is_empty());
    let h = Headers::parse(copy.msg.headers.as_deref().expect("headers")).expect("parses");
    assert_eq!(h.get("Nats-Msg-Size"), Some("5"));
}

#[test]
fn only_matching_stored_subjects_are_republished() {
    let mut s = stream_with(|c| c.republish = republish("a.yes", "r.yes", false));
    put_as_engine(&mut s, "a.no", None);
    assert!(s.take_republished().is_none());
    put_as_engine(&mut s, "a.yes", None);
    assert_eq!(s.take_republished().map(|o| o.to).as_deref(), Some("r.yes"));
}

#[test]
fn an_update_changes_the_transforms() {
    let mut s = stream_with(|_| {});
    put_as_engine(&mut s, "a.x", None);
    assert!(s.take_republished().is_none());
    let mut cfg = s.config().clone();
    cfg.subject_transform = transform("a.>", "b.>");
    cfg.republish = republish("b.>", "r.>", false);
    s.update(cfg, T0).expect("update");
    let seq = put_as_engine(&mut s, "a.x", None);
    assert_eq!(s.store().load_msg(seq).expect("stored").subject, "b.x");
    assert_eq!(s.take_republished().map(|o| o.to).as_deref(), Some("r.x"));
}
