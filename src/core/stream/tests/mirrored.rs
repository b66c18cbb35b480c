//! A mirror's stores: at the origin's sequence and time, gaps skipped, nothing out of order.

use bytes::Bytes;

use super::*;
use crate::core::sourcing::StreamSource;
use crate::core::stream::mirrored::MAX_MIRROR_SKIP;

fn mirror() -> Stream {
    let mut cfg = StreamConfig::new("M", &[]);
    cfg.subjects.clear();
    cfg.mirror = Some(StreamSource {
        name: "O".into(),
        ..Default::default()
    });
    stream(cfg)
}

fn store(m: &mut Stream, seq: Seq, time: Nanos) -> Result<PubAck, ApiError> {
    m.store_mirrored(seq, time, "o.x", None, Bytes::from_static(b"x"))
}

#[test]
fn messages_keep_the_origins_sequence_and_time_and_gaps_are_skipped() {
    let mut m = mirror();
    // An empty mirror starts where the origin's first message is.
    assert_eq!(store(&mut m, 5, T0 + 5).map(|a| a.seq), Ok(5));
    assert_eq!(store(&mut m, 6, T0 + 6).map(|a| a.seq), Ok(6));
    assert_eq!(store(&mut m, 9, T0 + 9).map(|a| a.seq), Ok(9));
    let state = m.state();
    assert_eq!(
        (
            state.msgs,
            state.first_seq,
            state.last_seq,
            state.num_deleted
        ),
        (3, 5, 9, 2)
    );
    let msg = m.store().load_msg(9).expect("stored at 9");
    assert_eq!(msg.time, T0 + 9);
}

#[test]
fn a_sequence_already_held_is_refused() {
    let mut m = mirror();
    store(&mut m, 1, T0).expect("first");
    let err = store(&mut m, 1, T0).expect_err("a repeat");
    assert!(err.is(ErrorKind::StreamSequenceNotMatch), "{err:?}");
    assert_eq!(m.state().msgs, 1);
}

#[test]
fn a_gap_past_the_bound_is_refused_not_followed() {
    let mut m = mirror();
    store(&mut m, 1, T0).expect("first");
    let err = store(&mut m, MAX_MIRROR_SKIP + 10, T0).expect_err("too far");
    assert!(err.is(ErrorKind::StreamStoreFailed), "{err:?}");
    assert_eq!(m.state().last_seq, 1, "nothing skipped");
    // Within the bound it is followed.
    assert!(store(&mut m, 1000, T0).is_ok());
}
