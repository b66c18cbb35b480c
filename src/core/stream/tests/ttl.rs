//! Per-message TTLs and subject delete markers at the stream: which `Nats-TTL` values are taken
//! and refused, when messages expire beside `max_age`, "never", the TTL raised to the marker
//! TTL, markers asked for when a subject's last message expires, and the index rebuilt on
//! recovery.

use bytes::Bytes;

use super::*;
use crate::core::headers::{find_header, KV_OPERATION, NATS_ROLLUP};
use crate::core::store::StreamStore;
use crate::core::stream::{Removal, NATS_MARKER_REASON, NATS_TTL};

/// Stream `S` on `a.>` with message TTLs, adjusted by `f`.
fn ttl_stream(f: impl FnOnce(&mut StreamConfig)) -> Stream {
    stream_with(|c| {
        c.allow_msg_ttl = true;
        f(c);
    })
}

fn put_ttl_at(s: &mut Stream, subject: &str, ttl: &str, now: Nanos) -> Seq {
    put_hdrs_at(s, subject, &[(NATS_TTL, ttl)], now)
        .expect("stored")
        .seq
}

fn stored(s: &Stream) -> Vec<Seq> {
    let mut seqs = Vec::new();
    let mut seq = 0;
    while let Ok(msg) = s.store().load_next_msg("", seq) {
        seqs.push(msg.seq);
        seq = msg.seq + 1;
    }
    seqs
}

#[test]
fn a_ttl_needs_allow_msg_ttl_and_a_bad_value_is_invalid_either_way() {
    let mut plain = stream_with(|_| {});
    for ttl in ["5s", "5", "never"] {
        assert_api_err(
            put_hdrs(&mut plain, "a.1", &[(NATS_TTL, ttl)]),
            ErrorKind::MessageTTLDisabled,
            "per-message TTL is disabled",
        );
    }
    // A value that does not parse passes the "disabled" check and fails as invalid.
    for ttl in ["bogus", "0", "-1", "500ms"] {
        assert_api_err(
            put_hdrs(&mut plain, "a.1", &[(NATS_TTL, ttl)]),
            ErrorKind::MessageTTLInvalid,
            "invalid per-message TTL",
        );
    }
    assert_eq!(plain.state().msgs, 0, "nothing refused is stored");
    let mut s = ttl_stream(|_| {});
    for ttl in ["bogus", "0", "-1", "999ms", "-5s"] {
        assert_api_err(
            put_hdrs(&mut s, "a.1", &[(NATS_TTL, ttl)]),
            ErrorKind::MessageTTLInvalid,
            "invalid per-message TTL",
        );
    }
    assert_eq!(s.state().msgs, 0);
}

#[test]
fn a_message_expires_at_its_time_plus_ttl_before_a_longer_max_age() {
    let mut s = ttl_stream(|c| c.max_age = 3600 * SECONDS);
    put_ttl_at(&mut s, "a.1", "5s", T0);
    put_ttl_at(&mut s, "a.2", "1m", T0);
    put_at(&mut s, "a.3", "kept", T0);
    assert_eq!(s.next_deadline(), Some(T0 + 5 * SECONDS));
    assert_eq!(s.expire(T0 + 5 * SECONDS - 1).expect("expires"), 0);
    assert_eq!(s.expire(T0 + 5 * SECONDS).expect("expires"), 1);
    assert_eq!(stored(&s), vec![2, 3]);
    assert_eq!(s.next_deadline(), Some(T0 + 60 * SECONDS));
    assert_eq!(s.expire(T0 + 60 * SECONDS).expect("expires"), 1);
    assert_eq!(stored(&s), vec![3]);
    assert_eq!(s.take_removals(), vec![Removal::Msg(1), Removal::Msg(2)]);
    assert_eq!(s.next_deadline(), Some(T0 + 3600 * SECONDS));
}

#[test]
fn max_age_still_wins_over_a_longer_ttl_and_never_outlives_it() {
    let mut s = ttl_stream(|c| c.max_age = 10 * SECONDS);
    put_ttl_at(&mut s, "a.1", "never", T0);
    put_ttl_at(&mut s, "a.2", "1h", T0);
    put_ttl_at(&mut s, "a.3", "NEVER", T0 + SECONDS);
    put_at(&mut s, "a.4", "x", T0 + 2 * SECONDS);
    assert_eq!(s.expire(T0 + 11 * SECONDS).expect("expires"), 1);
    assert_eq!(stored(&s), vec![1, 3, 4]);
    // The next deadline is message 4's, not the "never" messages' long past one.
    assert_eq!(s.next_deadline(), Some(T0 + 12 * SECONDS));
    assert_eq!(s.expire(T0 + 12 * SECONDS).expect("expires"), 1);
    assert_eq!(stored(&s), vec![1, 3]);
    assert_eq!(s.next_deadline(), None);
    assert_eq!(s.expire(T0 + 3600 * SECONDS).expect("expires"), 0);
    assert_eq!(stored(&s), vec![1, 3]);
}

#[test]
fn many_messages_with_mixed_ttls_expire_exactly_when_due() {
    const N: u64 = 5_000;
    let max_age = 120 * SECONDS;
    let mut s = ttl_stream(|c| c.max_age = max_age);
    // When each message leaves (None: never), by the model.
    let mut leaves: Vec<Option<Nanos>> = Vec::new();
    for i in 0..N {
        let time = T0 + (i as Nanos) * 20 * crate::core::time::MILLIS;
        let aged = time + max_age;
        let leave = match i % 5 {
            0 => {
                put_at(&mut s, "a.plain", "x", time);
                Some(aged)
            }
            1 => {
                put_ttl_at(&mut s, &format!("a.{}", i % 7), "never", time);
                None
            }
            _ => {
                let secs = 1 + (i * 37) % 200;
                put_ttl_at(&mut s, &format!("a.{}", i % 7), &format!("{secs}s"), time);
                Some((time + secs as Nanos * SECONDS).min(aged))
            }
        };
        leaves.push(leave);
    }
    let mut now = T0;
    while now <= T0 + 400 * SECONDS {
        s.expire(now).expect("expires");
        let expected: Vec<Seq> = (1..=N)
            .filter(|seq| leaves[(*seq - 1) as usize].is_none_or(|t| t > now))
            .collect();
        assert_eq!(stored(&s), expected, "at T0 + {}s", (now - T0) / SECONDS);
        // The next wake-up is never in the past (no busy loop) and never after the next
        // message due; it may come early for a "never" message reaching max_age.
        let next = leaves.iter().flatten().filter(|t| **t > now).min().copied();
        let deadline = s.next_deadline();
        assert!(
            match (deadline, next) {
                (Some(d), next) => d > now && next.is_none_or(|n| d <= n),
                (None, next) => next.is_none(),
            },
            "at T0 + {}s: {deadline:?} for {next:?}",
            (now - T0) / SECONDS
        );
        now += 7 * SECONDS / 2;
    }
    assert_eq!(s.state().msgs, N / 5, "only the never messages are left");
}

#[test]
fn removed_messages_leave_no_expiry_behind() {
    let mut s = ttl_stream(|_| {});
    put_ttl_at(&mut s, "a.1", "5s", T0);
    put_ttl_at(&mut s, "a.2", "5s", T0);
    s.remove_msg(1).expect("removed");
    let _ = s.take_removals();
    assert_eq!(s.expire(T0 + 5 * SECONDS).expect("expires"), 1);
    assert_eq!(s.take_removals(), vec![Removal::Msg(2)]);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn recovery_rebuilds_the_expiries_from_the_stored_headers() {
    let mut s = ttl_stream(|_| {});
    put_ttl_at(&mut s, "a.1", "5s", T0);
    put_ttl_at(&mut s, "a.2", "1m", T0);
    put_at(&mut s, "a.3", "kept", T0);
    let config = s.config().clone();
    let mut copy = crate::core::store::memory::MemoryStore::new();
    let mut seq = 0;
    while let Ok(msg) = s.store().load_next_msg("", seq) {
        copy.store_msg(&msg.subject, msg.headers, msg.payload, msg.time)
            .expect("copied");
        seq = msg.seq + 1;
    }
    // Reopened after message 1 expired: it is due at once, message 2 later.
    let later = T0 + 10 * SECONDS;
    let mut back = Stream::recover(config, T0, Box::new(copy), later).expect("recovers");
    assert_eq!(back.next_deadline(), Some(T0 + 5 * SECONDS));
    assert_eq!(back.expire(later).expect("expires"), 1);
    assert_eq!(stored(&back), vec![2, 3]);
    assert_eq!(back.next_deadline(), Some(T0 + 60 * SECONDS));
}

#[test]
fn delete_markers_turn_on_ttls_and_rollups_and_need_a_second() {
    let s = stream_with(|c| c.subject_delete_marker_ttl = 60 * SECONDS);
    let c = s.config();
    assert!(c.allow_msg_ttl && c.allow_rollup_hdrs && !c.deny_purge);
    for (ttl, text) in [
        (
            SECONDS - 1,
            "subject delete marker TTL must be at least 1 second",
        ),
        (-1, "subject delete marker TTL must not be negative"),
    ] {
        let mut cfg = StreamConfig::new("S", &["a.>"]);
        cfg.subject_delete_marker_ttl = ttl;
        let err = Stream::create(cfg, Box::new(MemoryStore::new()), T0).expect_err(text);
        assert_eq!((err.err_code, err.description.as_str()), (10052, text));
    }
}

#[test]
fn allow_msg_ttl_can_be_turned_on_but_not_off() {
    let mut s = stream_with(|_| {});
    let mut on = s.config().clone();
    on.allow_msg_ttl = true;
    s.update(on.clone(), T0).expect("turned on");
    put_ttl_at(&mut s, "a.1", "5s", T0);
    let mut off = on;
    off.allow_msg_ttl = false;
    let err = s.update(off, T0).expect_err("cannot be turned off");
    assert_eq!(
        (err.err_code, err.description.as_str()),
        (10052, "message TTL status can not be disabled")
    );
}

#[test]
fn a_ttl_below_the_marker_ttl_is_raised_to_it() {
    let mut s = stream_with(|c| c.subject_delete_marker_ttl = 60 * SECONDS);
    let seq = put_hdrs_at(&mut s, "a.1", &[(NATS_TTL, "5s"), ("X", "y")], T0)
        .expect("stored")
        .seq;
    let msg = s.store().load_msg(seq).expect("stored");
    assert_eq!(
        msg.headers.as_deref(),
        Some(&b"NATS/1.0\r\nX: y\r\nNats-TTL: 60\r\n\r\n"[..])
    );
    assert_eq!(s.next_deadline(), Some(T0 + 60 * SECONDS));
    // One message per subject: a marker can never be outlived, so the TTL stays.
    let mut one = stream_with(|c| {
        c.subject_delete_marker_ttl = 60 * SECONDS;
        c.max_msgs_per_subject = 1;
    });
    put_ttl_at(&mut one, "a.1", "5s", T0);
    assert_eq!(one.next_deadline(), Some(T0 + 5 * SECONDS));
}

#[test]
fn expiry_asks_for_a_marker_only_for_a_subjects_last_message() {
    let mut s = stream_with(|c| {
        c.subject_delete_marker_ttl = 90 * SECONDS;
        c.max_age = 10 * SECONDS;
    });
    put_at(&mut s, "a.1", "old", T0);
    put_at(&mut s, "a.1", "newer", T0);
    put_at(&mut s, "a.2", "only", T0);
    put_at(&mut s, "a.3", "young", T0 + 5 * SECONDS);
    s.expire(T0 + 10 * SECONDS).expect("expires");
    // a.1's first message simply goes; its second and a.2's are each their subject's last.
    assert_eq!(stored(&s), vec![2, 3, 4]);
    let markers: Vec<(Seq, String)> = s.take_markers().into_iter().collect();
    assert_eq!(markers, vec![(2, "a.1".into()), (3, "a.2".into())]);
    assert_eq!(
        &s.marker_headers()[..],
        b"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 1m30s\r\nNats-Rollup: sub\r\n\r\n"
    );
    // The engine publishes each marker; its rollup takes the expired message.
    for (_, subject) in markers {
        let hdr = s.marker_headers();
        s.publish(&subject, Some(hdr), Bytes::new(), T0 + 10 * SECONDS, true)
            .expect("marker stored");
    }
    assert_eq!(stored(&s), vec![4, 5, 6]);
    let marker = s.store().load_msg(5).expect("marker");
    let h = marker.headers.as_deref().expect("headers");
    assert_eq!(find_header(h, NATS_MARKER_REASON), Some("MaxAge"));
    assert_eq!(find_header(h, NATS_ROLLUP), Some("sub"));
    // The markers age out with max_age too, but a marker leaves no marker behind.
    s.expire(T0 + 20 * SECONDS).expect("expires");
    let markers: Vec<(Seq, String)> = s.take_markers().into_iter().collect();
    assert_eq!(markers, vec![(4, "a.3".into())]);
    assert_eq!(stored(&s), vec![4]);
}

#[test]
fn a_kv_purge_expiring_leaves_no_marker() {
    let mut s = stream_with(|c| c.subject_delete_marker_ttl = 60 * SECONDS);
    put_hdrs_at(
        &mut s,
        "a.k",
        &[
            (KV_OPERATION, "PURGE"),
            (NATS_ROLLUP, "sub"),
            (NATS_TTL, "2m"),
        ],
        T0,
    )
    .expect("stored");
    assert_eq!(s.expire(T0 + 120 * SECONDS).expect("expires"), 1);
    assert!(s.take_markers().is_empty());
    assert_eq!(s.state().msgs, 0);
}
