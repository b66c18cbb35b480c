//! Redelivery timing: ack_wait, backoff, max_deliver, max_ack_pending.

use super::support::*;
use crate::core::consumer::{AckKind, Consumer, PullRequest};
use crate::core::store::memory::MemoryStore;
use crate::core::time::Nanos;

/// Keeps a long-lived pull request waiting so redeliveries have somewhere to go.
fn wait_long(c: &mut Consumer, store: &MemoryStore, now: Nanos) -> Vec<u64> {
    let req = PullRequest {
        batch: 100,
        expires: secs(3600),
        ..Default::default()
    };
    seqs(&request(c, store, req, "_INBOX.long", now))
}

#[test]
fn ack_wait_redelivers_exactly_when_it_runs_out() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.ack_wait = secs(10);
    let mut c = consumer(&store, config);
    assert_eq!(wait_long(&mut c, &store, T0), vec![1]);
    assert_eq!(c.next_deadline(), Some(T0 + secs(10)));
    assert!(seqs(&poll(&mut c, &store, T0 + secs(10) - 1)).is_empty());
    let again = deliveries(&poll(&mut c, &store, T0 + secs(10)));
    assert_eq!((again[0].stream_seq, again[0].delivered), (1, 2));
}

#[test]
fn redelivery_gets_a_new_consumer_sequence() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    let mut c = consumer(&store, config);
    wait_long(&mut c, &store, T0);
    let again = deliveries(&poll(&mut c, &store, T0 + secs(1)));
    assert_eq!(again[0].consumer_seq, 2);
}

#[test]
fn backoff_sets_each_redelivery_delay_and_the_last_repeats() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.backoff = vec![secs(1), secs(5), secs(20)];
    let mut c = consumer(&store, config);
    let mut t = T0;
    assert_eq!(wait_long(&mut c, &store, t), vec![1]);
    for (delay, count) in [(1, 2), (5, 3), (20, 4), (20, 5)] {
        assert!(seqs(&poll(&mut c, &store, t + secs(delay) - 1)).is_empty());
        t += secs(delay);
        let d = deliveries(&poll(&mut c, &store, t));
        assert_eq!(d.len(), 1, "redelivery after {delay}s");
        assert_eq!(d[0].delivered, count);
    }
}

#[test]
fn max_deliver_stops_redelivery() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    config.max_deliver = 2;
    let mut c = consumer(&store, config);
    assert_eq!(wait_long(&mut c, &store, T0), vec![1]);
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(1))), vec![1]);
    for t in 2..10 {
        assert!(seqs(&poll(&mut c, &store, T0 + secs(t))).is_empty());
    }
}

#[test]
fn max_deliver_shows_in_info() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    config.max_deliver = 2;
    let mut c = consumer(&store, config);
    wait_long(&mut c, &store, T0);
    poll(&mut c, &store, T0 + secs(1));
    poll(&mut c, &store, T0 + secs(2));
    let info = c.info(&store, T0 + secs(2));
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_redelivered, 1);
    assert_eq!(info.num_pending, 0);
    assert_eq!(info.ack_floor.stream_seq, 1);
}

#[test]
fn max_deliver_one_never_redelivers() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    config.max_deliver = 1;
    let mut c = consumer(&store, config);
    wait_long(&mut c, &store, T0);
    assert!(seqs(&poll(&mut c, &store, T0 + secs(1))).is_empty());
    assert_eq!(c.info(&store, T0).num_redelivered, 0);
}

#[test]
fn max_ack_pending_pauses_delivery_until_acks() {
    let store = store_n(5);
    let mut config = pull_config("d");
    config.max_ack_pending = 2;
    let mut c = consumer(&store, config);
    let out = fetch(&mut c, &store, 5, T0);
    assert_eq!(seqs(&out), vec![1, 2]);
    assert!(seqs(&poll(&mut c, &store, T0)).is_empty());
    let d = deliveries(&out);
    ack_with(&mut c, &store, &d[0], AckKind::Ack, T0);
    assert_eq!(seqs(&poll(&mut c, &store, T0)), vec![3]);
}

#[test]
fn unacked_messages_are_redelivered_in_sequence_order() {
    let store = store_n(3);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    let mut c = consumer(&store, config);
    assert_eq!(wait_long(&mut c, &store, T0), vec![1, 2, 3]);
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(1))), vec![1, 2, 3]);
}

#[test]
fn expired_acks_wait_for_a_request_when_none_is_waiting() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    let mut c = consumer(&store, config);
    fetch(&mut c, &store, 1, T0);
    assert!(poll(&mut c, &store, T0 + secs(5)).is_empty());
    assert_eq!(
        c.next_deadline(),
        None,
        "nothing timed while the redelivery waits for a pull"
    );
    let d = deliveries(&fetch(&mut c, &store, 1, T0 + secs(6)));
    assert_eq!((d[0].stream_seq, d[0].delivered), (1, 2));
}
