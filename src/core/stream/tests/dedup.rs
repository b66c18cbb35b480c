//! `Nats-Msg-Id` deduplication within the duplicate window, its expiry and its recovery.

use bytes::Bytes;

use super::*;
use crate::core::headers::{NATS_EXPECTED_LAST_MSG_ID, NATS_EXPECTED_LAST_SEQUENCE, NATS_MSG_ID};

const WINDOW: Nanos = 2 * SECONDS;

fn windowed() -> Stream {
    stream_with(|c| c.duplicate_window = WINDOW)
}

#[test]
fn repeated_msg_id_within_window_returns_original_sequence_as_duplicate() {
    let mut s = windowed();
    let first = put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "id-1")]).expect("stored");
    put(&mut s, "a.2", "other");
    let again = put_hdrs_at(&mut s, "a.1", &[(NATS_MSG_ID, "id-1")], T0 + WINDOW - 1).expect("ok");
    assert_eq!(
        again,
        PubAck {
            stream: "S".into(),
            seq: first.seq,
            domain: None,
            duplicate: true
        }
    );
    assert_eq!(s.state().msgs, 2);
}

#[test]
fn repeated_msg_id_after_window_is_stored_anew() {
    let mut s = windowed();
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "id-1")]).expect("stored");
    let later = put_hdrs_at(&mut s, "a.1", &[(NATS_MSG_ID, "id-1")], T0 + WINDOW).expect("ok");
    assert_eq!((later.seq, later.duplicate), (2, false));
    // And the new copy is the one now remembered.
    let again = put_hdrs_at(&mut s, "a.1", &[(NATS_MSG_ID, "id-1")], T0 + WINDOW + 1).expect("ok");
    assert_eq!((again.seq, again.duplicate), (2, true));
}

#[test]
fn duplicate_does_not_change_the_last_msg_id() {
    let mut s = windowed();
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "one")]).expect("stored");
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "two")]).expect("stored");
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "one")]).expect("duplicate");
    let ok = put_hdrs(&mut s, "a.1", &[(NATS_EXPECTED_LAST_MSG_ID, "two")]);
    assert_eq!(ok.expect("last id is still two").seq, 3);
}

#[test]
fn expected_last_sequence_is_checked_before_duplicates() {
    // nats-server checks expectations first, so a retried conditional publish gets the error.
    let mut s = windowed();
    let pairs = [(NATS_MSG_ID, "id"), (NATS_EXPECTED_LAST_SEQUENCE, "0")];
    put_hdrs(&mut s, "a.1", &pairs).expect("stored");
    assert_api_err(
        put_hdrs(&mut s, "a.1", &pairs),
        ErrorKind::StreamWrongLastSequence,
        "wrong last sequence: 1",
    );
}

#[test]
fn expire_forgets_ids_past_the_window_and_next_deadline_names_it() {
    let mut s = windowed();
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "early")]).expect("stored");
    put_hdrs_at(&mut s, "a.1", &[(NATS_MSG_ID, "late")], T0 + SECONDS).expect("stored");
    assert_eq!(s.next_deadline(), Some(T0 + WINDOW));
    assert_eq!(
        s.expire(T0 + WINDOW).expect("expires"),
        0,
        "no message removed"
    );
    assert_eq!(s.dedup.len(), 1);
    assert_eq!(s.next_deadline(), Some(T0 + SECONDS + WINDOW));
    s.expire(T0 + SECONDS + WINDOW).expect("expires");
    assert_eq!((s.dedup.len(), s.next_deadline()), (0, None));
}

#[test]
fn messages_without_ids_leave_no_deadline() {
    let mut s = windowed();
    put(&mut s, "a.1", "x");
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn recover_rebuilds_duplicates_within_the_window_only() {
    let mut s = windowed();
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "old")]).expect("stored");
    for i in 0..5 {
        put_at(&mut s, "a.2", "filler", T0 + SECONDS + i);
    }
    put_hdrs_at(&mut s, "a.1", &[(NATS_MSG_ID, "recent")], T0 + 2 * SECONDS).expect("stored");
    let cfg = s.config().clone();
    let created = s.created();
    let store = std::mem::replace(&mut s.store, Box::new(MemoryStore::new()));

    let now = T0 + 2 * SECONDS + 1;
    let mut back = Stream::recover(cfg, created, store, now).expect("recovers");
    let dup = put_hdrs_at(&mut back, "a.1", &[(NATS_MSG_ID, "recent")], now).expect("ok");
    assert_eq!((dup.seq, dup.duplicate), (7, true));
    let fresh = put_hdrs_at(&mut back, "a.1", &[(NATS_MSG_ID, "old")], now).expect("ok");
    assert_eq!((fresh.seq, fresh.duplicate), (8, false));
}

#[test]
fn recover_restores_the_last_msg_id() {
    let mut s = windowed();
    put_hdrs(&mut s, "a.1", &[(NATS_MSG_ID, "last")]).expect("stored");
    let (cfg, created) = (s.config().clone(), s.created());
    let store = std::mem::replace(&mut s.store, Box::new(MemoryStore::new()));
    let mut back = Stream::recover(cfg, created, store, T0 + 1).expect("recovers");
    let ok = put_hdrs_at(
        &mut back,
        "a.1",
        &[(NATS_EXPECTED_LAST_MSG_ID, "last")],
        T0 + 1,
    );
    assert_eq!(ok.expect("last id recovered").seq, 2);
}

#[test]
fn recover_keeps_the_stream_and_its_sequence() {
    let mut s = windowed();
    put(&mut s, "a.1", "x");
    let (cfg, created) = (s.config().clone(), s.created());
    let store = std::mem::replace(&mut s.store, Box::new(MemoryStore::new()));
    let mut back = Stream::recover(cfg, created, store, T0 + 1).expect("recovers");
    assert_eq!((back.created(), back.state().msgs), (T0, 1));
    let ack = back.publish("a.1", None, Bytes::from_static(b"y"), T0 + 1, true);
    assert_eq!(ack.expect("stored").seq, 2);
}

#[test]
fn duplicate_table_drops_expired_ids_as_new_ones_arrive() {
    let mut s = windowed();
    for i in 0..10 {
        let id = format!("id-{i}");
        put_hdrs_at(&mut s, "a.1", &[(NATS_MSG_ID, &id)], T0 + i * WINDOW).expect("stored");
    }
    assert_eq!(s.dedup.len(), 1, "only the id inside the window is kept");
}
