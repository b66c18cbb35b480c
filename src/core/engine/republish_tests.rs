//! Republish through the engine: the copy leaves with the PubAck, only after the flush that
//! makes the message durable, and publishes are routed by the subject published but stored and
//! consumed under the transformed one.

use bytes::Bytes;

use crate::core::engine::Engine;
use crate::core::message::Message;
use crate::core::stream::{RePublish, StreamConfig, SubjectTransformConfig};
use crate::core::time::{Nanos, SECONDS};

const T0: Nanos = 1_700_000_000 * SECONDS;

#[test]
fn the_republished_copy_leaves_before_the_puback_and_only_after_the_flush() {
    let mut e = Engine::in_memory(1);
    let mut cfg = StreamConfig::new("S", &["in.>"]);
    cfg.subject_transform = Some(SubjectTransformConfig {
        src: "in.*".into(),
        dest: "kept.$1".into(),
    });
    cfg.republish = Some(RePublish {
        src: "kept.*".into(),
        dest: "out.$1".into(),
        headers_only: false,
    });
    e.create_stream(cfg, T0).expect("stream is created");
    e.flush().result().expect("sync");
    while e.poll_outbound().is_some() {}

    let handled = e.handle(
        Message {
            subject: "in.a".into(),
            reply: Some("_INBOX.ack".into()),
            headers: None,
            payload: Bytes::from_static(b"hi"),
        },
        T0,
    );
    assert!(handled);
    assert!(
        e.poll_outbound().is_none(),
        "nothing leaves before the flush"
    );
    e.flush().result().expect("sync");
    let copy = e.poll_outbound().expect("republished copy");
    assert_eq!(copy.to, "out.a");
    assert_eq!(copy.msg.payload, Bytes::from_static(b"hi"));
    let ack = e.poll_outbound().expect("puback");
    assert_eq!(ack.to, "_INBOX.ack");
    assert!(e.poll_outbound().is_none());

    let stored = e.stream("S").expect("stream").store().load_msg(1);
    assert_eq!(stored.expect("stored").subject, "kept.a");
}
