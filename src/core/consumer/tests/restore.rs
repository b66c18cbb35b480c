//! Persistence: a restored consumer resumes exactly where the recorded one was.

use super::support::*;
use crate::core::consumer::{AckKind, Consumer};
use crate::core::store::ConsumerRecord;

#[test]
fn restored_consumer_resumes_delivery_after_last_delivered() {
    let store = store_n(5);
    let mut c = consumer(&store, pull_config("d"));
    fetch(&mut c, &store, 2, T0);
    let mut back = Consumer::restore(STREAM, c.record(), T0).expect("restores");
    assert_eq!(seqs(&fetch(&mut back, &store, 10, T0)), vec![3, 4, 5]);
}

#[test]
fn restored_consumer_keeps_pending_and_redelivers_on_time() {
    let store = store_n(3);
    let mut config = pull_config("d");
    config.ack_wait = secs(10);
    let mut c = consumer(&store, config);
    let d = deliveries(&fetch(&mut c, &store, 3, T0));
    ack_with(&mut c, &store, &d[1], AckKind::Ack, T0 + 1);
    let mut back = Consumer::restore(STREAM, c.record(), T0 + secs(5)).expect("restores");
    let info = back.info(&store, T0 + secs(5));
    assert_eq!(info.num_ack_pending, 2);
    assert_eq!(info.num_pending, 0);
    assert_eq!(back.next_deadline(), Some(T0 + secs(10)));
    let req = crate::core::consumer::PullRequest {
        batch: 10,
        expires: secs(60),
        ..Default::default()
    };
    assert!(seqs(&request(&mut back, &store, req, "_INBOX.r", T0 + secs(5))).is_empty());
    let again = deliveries(&poll(&mut back, &store, T0 + secs(10)));
    assert_eq!(
        again
            .iter()
            .map(|a| (a.stream_seq, a.delivered))
            .collect::<Vec<_>>(),
        vec![(1, 2), (3, 2)]
    );
    assert_eq!(again[0].consumer_seq, 4, "consumer sequence continues");
}

#[test]
fn restored_consumer_keeps_redelivery_counts() {
    let store = store_n(1);
    let mut config = pull_config("d");
    config.ack_wait = secs(1);
    config.max_deliver = 2;
    let mut c = consumer(&store, config);
    fetch(&mut c, &store, 1, T0);
    poll(&mut c, &store, T0 + secs(1));
    fetch(&mut c, &store, 1, T0 + secs(1));
    let mut back = Consumer::restore(STREAM, c.record(), T0 + secs(1)).expect("restores");
    assert_eq!(back.info(&store, T0).num_redelivered, 1);
    let req = crate::core::consumer::PullRequest {
        batch: 1,
        expires: secs(60),
        ..Default::default()
    };
    request(&mut back, &store, req, "_INBOX.r", T0 + secs(1));
    assert!(
        seqs(&poll(&mut back, &store, T0 + secs(30))).is_empty(),
        "max_deliver still holds"
    );
}

#[test]
fn record_round_trips_through_restore() {
    let store = store_n(3);
    let mut c = consumer(&store, pull_config("d"));
    fetch(&mut c, &store, 2, T0);
    let record = c.record();
    let back = Consumer::restore(STREAM, record.clone(), T0).expect("restores");
    assert_eq!(back.record(), record);
    assert_eq!(back.config(), c.config());
}

#[test]
fn corrupt_record_is_an_error_not_a_panic() {
    let record = ConsumerRecord {
        config: b"{not json".to_vec(),
        ..Default::default()
    };
    assert!(Consumer::restore(STREAM, record, T0).is_err());
    let nameless = ConsumerRecord {
        config: b"{}".to_vec(),
        ..Default::default()
    };
    assert!(Consumer::restore(STREAM, nameless, T0).is_err());
}
