//! Subject filters and headers-only delivery.

use super::support::*;
use crate::core::consumer::ConsumerConfig;
use crate::core::headers::{Headers, NATS_MSG_SIZE};
use crate::core::store::StreamStore;

fn abc() -> crate::core::store::memory::MemoryStore {
    store_with(&[
        "orders.a", "orders.b", "orders.c", "orders.a", "orders.b", "orders.c",
    ])
}

#[test]
fn filter_subject_delivers_only_matching_messages() {
    let store = abc();
    let mut config = pull_config("d");
    config.filter_subject = Some("orders.b".into());
    let mut c = consumer(&store, config);
    assert_eq!(seqs(&fetch(&mut c, &store, 10, T0)), vec![2, 5]);
}

#[test]
fn filter_subjects_deliver_matches_of_any_in_stream_order() {
    let store = abc();
    let mut config = pull_config("d");
    config.filter_subjects = vec!["orders.c".into(), "orders.a".into()];
    let mut c = consumer(&store, config);
    assert_eq!(seqs(&fetch(&mut c, &store, 10, T0)), vec![1, 3, 4, 6]);
}

#[test]
fn filtered_num_pending_counts_only_matches() {
    let store = abc();
    let mut config = pull_config("d");
    config.filter_subject = Some("orders.a".into());
    let c = consumer(&store, config);
    assert_eq!(c.info(&store, T0).num_pending, 2);
}

#[test]
fn filter_matches_reports_the_filters() {
    let store = abc();
    let mut config = pull_config("d");
    config.filter_subjects = vec!["orders.a".into(), "orders.x.>".into()];
    let c = consumer(&store, config);
    assert!(c.filter_matches("orders.a"));
    assert!(c.filter_matches("orders.x.y.z"));
    assert!(!c.filter_matches("orders.b"));
}

#[test]
fn headers_only_sends_size_instead_of_payload() {
    let mut store = store_n(0);
    store
        .store_msg(
            "orders.new",
            Some(bytes::Bytes::from_static(b"NATS/1.0\r\nX-Id: 7\r\n\r\n")),
            bytes::Bytes::from_static(b"hello world"),
            T0,
        )
        .expect("stored");
    store
        .store_msg("orders.new", None, bytes::Bytes::from_static(b"abc"), T0)
        .expect("stored");
    let config = ConsumerConfig {
        headers_only: true,
        ..pull_config("d")
    };
    let mut c = consumer(&store, config);
    let out = fetch(&mut c, &store, 2, T0);
    assert!(out.iter().all(|o| o.msg.payload.is_empty()));
    let first = Headers::parse(out[0].msg.headers.as_ref().expect("headers")).expect("parses");
    assert_eq!(first.get("X-Id"), Some("7"));
    assert_eq!(first.get(NATS_MSG_SIZE), Some("11"));
    let second = Headers::parse(out[1].msg.headers.as_ref().expect("headers")).expect("parses");
    assert_eq!(second.get(NATS_MSG_SIZE), Some("3"));
}
