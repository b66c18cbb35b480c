//! Reconnects: subscriptions restored, backoff with jitter, stale bytes ignored.

use super::*;

#[test]
fn after_a_reconnect_the_subscriptions_are_restored_with_their_sids() {
    let mut h = Harness::new(config());
    let a = h.link.subscribe("a.*", None).unwrap();
    let b = h.link.subscribe("b", Some("workers")).unwrap();
    let c = h.link.subscribe("c", None).unwrap();
    h.connect();
    h.link.unsubscribe(b).unwrap();
    assert_eq!(h.sent(), format!("UNSUB {b}\r\n"));

    h.link.transport_closed("connection reset", h.now);
    assert_eq!(
        h.events(),
        vec![LinkEvent::Disconnected(DisconnectReason::Transport(
            "connection reset".into()
        ))]
    );
    assert!(h.transports().is_empty(), "the driver already lost it");
    // Subscribing while down is recorded and sent on the next connection.
    let d = h.link.subscribe("d.>", None).unwrap();
    assert_eq!(h.sent(), "");
    h.wait_for_dial();
    let restored = h.connect();
    assert_eq!(
        restored,
        format!("SUB a.* {a}\r\nSUB c {c}\r\nSUB d.> {d}\r\n")
    );
    h.feed(&format!("MSG a.x {a} 2\r\nhi\r\nMSG b 999 1\r\nz\r\n"));
    let events = h.events();
    let [LinkEvent::Message { sid, msg }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (*sid, msg.subject.as_str(), &msg.payload[..]),
        (a, "a.x", &b"hi"[..])
    );
}

#[test]
fn bytes_from_a_dropped_connection_are_ignored() {
    let mut h = Harness::new(config());
    h.connect();
    h.feed("garbage\r\n");
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    h.events();
    h.feed("PING\r\nMSG a 1 1\r\nx\r\n");
    assert_eq!(h.sent(), "");
    assert!(h.events().is_empty());
}

#[test]
fn the_backoff_doubles_from_min_to_max_plus_bounded_jitter() {
    let backoff = Backoff {
        min: 100 * MILLIS,
        max: SECONDS,
        jitter: 50 * MILLIS,
    };
    let mut rng = Rng::new(1);
    for attempt in 0..70u32 {
        let base = match attempt {
            0 => 0,
            n => (100 * MILLIS * (1i64 << (n - 1).min(20))).min(SECONDS),
        };
        for _ in 0..200 {
            let d = backoff.delay(attempt, rng.next_u64());
            assert!(
                d >= base && d <= base + 50 * MILLIS,
                "attempt {attempt}: {d}"
            );
        }
    }
    // Jitter is spread, not constant.
    let spread: std::collections::BTreeSet<Nanos> =
        (0..50).map(|_| backoff.delay(3, rng.next_u64())).collect();
    assert!(spread.len() > 10, "{spread:?}");
}

#[test]
fn failed_attempts_follow_the_schedule_and_the_same_seed_gives_the_same_waits() {
    let schedule = |seed: u64| {
        let mut h = Harness::new(LinkConfig { seed, ..config() });
        let mut waits = Vec::new();
        for _ in 0..8 {
            assert_eq!(h.link.poll_transport(), Some(TransportCommand::Open));
            h.link.transport_closed("connection refused", h.now);
            waits.push(h.wait_for_dial());
        }
        waits
    };
    let waits = schedule(42);
    let jitter = 50 * MILLIS;
    let bases = [0, 100, 200, 400, 800, 1000, 1000, 1000].map(|ms| ms * MILLIS);
    for (wait, base) in waits.iter().zip(bases) {
        assert!(*wait >= base && *wait <= base + jitter, "{waits:?}");
    }
    assert_eq!(waits, schedule(42), "deterministic for a seed");
    assert_ne!(waits, schedule(43), "the seed drives the jitter");
}

#[test]
fn a_connection_that_was_up_reconnects_at_once_and_resets_the_schedule() {
    let mut h = Harness::new(config());
    for _ in 0..3 {
        assert_eq!(h.link.poll_transport(), Some(TransportCommand::Open));
        h.link.transport_closed("refused", h.now);
        h.wait_for_dial();
    }
    h.link.transport_opened(h.now);
    h.feed(INFO);
    h.feed("PONG\r\n");
    h.events();
    h.link.transport_closed("reset", h.now);
    let waited = h.wait_for_dial();
    assert!(waited <= 50 * MILLIS, "{waited}");
}

#[test]
fn close_stops_everything_and_restart_dials_again() {
    let mut h = Harness::new(config());
    h.connect();
    h.link.close();
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    assert_eq!(
        h.events(),
        vec![LinkEvent::Disconnected(DisconnectReason::Closed)]
    );
    assert_eq!(h.link.state(), LinkState::Stopped);
    assert_eq!(h.link.poll_timeout(), None);
    h.link.restart(None, h.now);
    h.connect();
}

/// A drained subscription (nats.js's `drain()`): its UNSUB goes out at once, messages the server
/// sent before reading it still arrive, it is not subscribed again on a new connection, and
/// forgetting it sends no second UNSUB and drops what comes later.
#[test]
fn a_draining_subscription_takes_messages_in_flight_until_forgotten() {
    let mut h = Harness::new(config());
    let a = h.link.subscribe("a", None).unwrap();
    let b = h.link.subscribe("b", None).unwrap();
    h.connect();
    h.link.drain_subscription(a).unwrap();
    assert_eq!(h.sent(), format!("UNSUB {a}\r\n"));
    assert!(matches!(
        h.link.drain_subscription(a),
        Err(LinkError::UnknownSubscription(_))
    ));
    h.feed(&format!("MSG a {a} 2\r\nhi\r\n"));
    let events = h.events();
    let [LinkEvent::Message { sid, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(*sid, a);

    h.link.transport_closed("connection reset", h.now);
    h.events();
    h.wait_for_dial();
    assert_eq!(h.connect(), format!("SUB b {b}\r\n"));
    h.feed(&format!("MSG a {a} 1\r\nx\r\n"));
    assert_eq!(h.events().len(), 1, "still draining: delivered");

    h.link.unsubscribe(a).unwrap();
    assert_eq!(h.sent(), "", "the UNSUB went out when the drain began");
    h.feed(&format!("MSG a {a} 1\r\nx\r\n"));
    assert_eq!(h.events(), vec![]);
    assert!(matches!(
        h.link.unsubscribe(a),
        Err(LinkError::UnknownSubscription(_))
    ));
}
