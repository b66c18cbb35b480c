//! Each deliver policy's first message.

use super::support::*;
use crate::core::consumer::{ConsumerConfig, DeliverPolicy};
use crate::core::store::memory::MemoryStore;
use crate::core::time::MILLIS;

/// Five messages: a b a c b (sequences 1..5, stored 1 ms apart).
fn five() -> MemoryStore {
    store_with(&["orders.a", "orders.b", "orders.a", "orders.c", "orders.b"])
}

fn policy(deliver_policy: DeliverPolicy) -> ConsumerConfig {
    ConsumerConfig {
        deliver_policy,
        ..pull_config("d")
    }
}

fn first_seqs(store: &MemoryStore, config: ConsumerConfig, batch: usize) -> Vec<u64> {
    let mut c = consumer(store, config);
    seqs(&fetch(&mut c, store, batch, T0 + secs(1)))
}

#[test]
fn deliver_all_starts_at_first_message() {
    assert_eq!(
        first_seqs(&five(), policy(DeliverPolicy::All), 2),
        vec![1, 2]
    );
}

#[test]
fn deliver_last_starts_at_last_message() {
    assert_eq!(
        first_seqs(&five(), policy(DeliverPolicy::Last), 10),
        vec![5]
    );
}

#[test]
fn deliver_last_with_filter_starts_at_last_match() {
    let mut config = policy(DeliverPolicy::Last);
    config.filter_subject = Some("orders.a".into());
    assert_eq!(first_seqs(&five(), config, 10), vec![3]);
}

#[test]
fn deliver_new_skips_stored_messages() {
    let mut store = five();
    let mut c = consumer(&store, policy(DeliverPolicy::New));
    assert!(seqs(&fetch(&mut c, &store, 10, T0 + secs(1))).is_empty());
    publish(&mut store, "orders.z", T0 + secs(2));
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(2))), vec![6]);
}

#[test]
fn deliver_by_start_sequence_starts_there() {
    let mut config = policy(DeliverPolicy::ByStartSequence);
    config.opt_start_seq = Some(3);
    assert_eq!(first_seqs(&five(), config, 10), vec![3, 4, 5]);
}

#[test]
fn deliver_by_start_sequence_past_the_end_waits_for_it() {
    let mut store = five();
    let mut config = policy(DeliverPolicy::ByStartSequence);
    config.opt_start_seq = Some(7);
    let mut c = consumer(&store, config);
    assert!(seqs(&fetch(&mut c, &store, 10, T0 + secs(1))).is_empty());
    publish(&mut store, "orders.x", T0 + secs(2));
    publish(&mut store, "orders.x", T0 + secs(2));
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(2))), vec![7]);
}

#[test]
fn deliver_by_start_time_starts_at_first_message_at_or_after_it() {
    let mut config = policy(DeliverPolicy::ByStartTime);
    config.opt_start_time = Some(T0 + 2 * MILLIS);
    assert_eq!(first_seqs(&five(), config, 1), vec![3]);
}

#[test]
fn deliver_by_start_time_between_messages_takes_the_next() {
    let mut config = policy(DeliverPolicy::ByStartTime);
    config.opt_start_time = Some(T0 + 2 * MILLIS + 1);
    assert_eq!(first_seqs(&five(), config, 1), vec![4]);
}

#[test]
fn deliver_by_start_time_after_everything_delivers_only_new() {
    let mut config = policy(DeliverPolicy::ByStartTime);
    config.opt_start_time = Some(T0 + secs(60));
    assert!(first_seqs(&five(), config, 10).is_empty());
}

#[test]
fn deliver_last_per_subject_gives_each_subjects_last_then_new() {
    let mut store = five();
    let mut config = policy(DeliverPolicy::LastPerSubject);
    config.filter_subject = Some("orders.*".into());
    let mut c = consumer(&store, config);
    assert_eq!(
        seqs(&fetch(&mut c, &store, 10, T0 + secs(1))),
        vec![3, 4, 5]
    );
    publish(&mut store, "orders.a", T0 + secs(2));
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(2))), vec![6]);
}

#[test]
fn deliver_all_on_empty_stream_gets_the_first_message_stored() {
    let mut store = MemoryStore::new();
    let mut c = consumer(&store, policy(DeliverPolicy::All));
    assert!(fetch(&mut c, &store, 1, T0)
        .iter()
        .all(|o| o.msg.reply.is_none()));
    publish(&mut store, "orders.x", T0 + secs(1));
    assert_eq!(seqs(&poll(&mut c, &store, T0 + secs(1))), vec![1]);
}
