//! Pull requests: batch, max_bytes, expiry, no_wait, limits, heartbeats, bodies.

use super::support::*;
use crate::core::consumer::{ConsumerConfig, PullRequest, PullRequestError};
use crate::core::headers::{NATS_LAST_CONSUMER, NATS_PENDING_BYTES, NATS_PENDING_MESSAGES};
use crate::core::store::memory::MemoryStore;

fn req(batch: usize) -> PullRequest {
    PullRequest::batch(batch)
}

#[test]
fn batch_delivers_at_most_batch() {
    let store = store_n(5);
    let mut c = consumer(&store, pull_config("d"));
    assert_eq!(seqs(&fetch(&mut c, &store, 3, T0)), vec![1, 2, 3]);
    assert!(poll(&mut c, &store, T0).is_empty(), "the request is done");
}

#[test]
fn deliveries_go_to_the_inbox_under_the_original_subject() {
    let store = store_n(1);
    let mut c = consumer(&store, pull_config("d"));
    let out = fetch(&mut c, &store, 1, T0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, "_INBOX.1");
    assert_eq!(out[0].msg.subject, "orders.new");
    assert_eq!(&out[0].msg.payload[..], b"m1");
    assert_eq!(
        out[0].msg.reply.as_deref(),
        Some("$JS.ACK.ORDERS.d.1.1.1.1700000000000000000.0")
    );
}

#[test]
fn ack_subject_counts_messages_left() {
    let store = store_n(3);
    let mut c = consumer(&store, pull_config("d"));
    let pending: Vec<u64> = deliveries(&fetch(&mut c, &store, 3, T0))
        .iter()
        .map(|a| a.pending)
        .collect();
    assert_eq!(pending, vec![2, 1, 0]);
}

/// Bytes one delivery of `orders.new` / `mN` counts for a max_bytes request.
fn delivery_size(store: &MemoryStore) -> usize {
    let mut c = consumer(store, pull_config("d"));
    let out = fetch(&mut c, store, 1, T0);
    out[0].msg.subject.len()
        + out[0].msg.reply.as_ref().map_or(0, String::len)
        + out[0].msg.payload.len()
}

#[test]
fn max_bytes_ends_request_with_409_when_next_message_does_not_fit() {
    let store = store_n(5);
    let size = delivery_size(&store);
    let mut c = consumer(&store, pull_config("d"));
    let r = PullRequest {
        batch: 10,
        max_bytes: 2 * size + size / 2,
        ..Default::default()
    };
    let out = request(&mut c, &store, r, "_INBOX.b", T0);
    assert_eq!(seqs(&out), vec![1, 2]);
    assert_eq!(
        statuses(&out),
        vec![(409, "Message Size Exceeds MaxBytes".to_string())]
    );
    let h = status_headers(&out, 409);
    assert_eq!(h.get(NATS_PENDING_MESSAGES), Some("8"));
    assert_eq!(
        h.get(NATS_PENDING_BYTES),
        Some((size / 2).to_string().as_str())
    );
}

#[test]
fn batch_done_with_bytes_left_answers_batch_completed() {
    let store = store_n(5);
    let mut c = consumer(&store, pull_config("d"));
    let r = PullRequest {
        batch: 2,
        max_bytes: 100_000,
        ..Default::default()
    };
    let out = request(&mut c, &store, r, "_INBOX.b", T0);
    assert_eq!(seqs(&out), vec![1, 2]);
    assert_eq!(statuses(&out), vec![(409, "Batch Completed".to_string())]);
}

#[test]
fn expired_request_answers_408_with_what_it_still_wanted() {
    let store = store_n(2);
    let mut c = consumer(&store, pull_config("d"));
    let r = PullRequest {
        batch: 5,
        expires: secs(1),
        ..Default::default()
    };
    assert_eq!(
        seqs(&request(&mut c, &store, r, "_INBOX.e", T0)),
        vec![1, 2]
    );
    assert_eq!(c.next_deadline(), Some(T0 + secs(1)));
    assert!(poll(&mut c, &store, T0 + secs(1) - 1).is_empty());
    let out = poll(&mut c, &store, T0 + secs(1));
    assert_eq!(statuses(&out), vec![(408, "Request Timeout".to_string())]);
    let h = status_headers(&out, 408);
    assert_eq!(h.get(NATS_PENDING_MESSAGES), Some("3"));
    assert_eq!(h.get(NATS_PENDING_BYTES), Some("0"));
    assert_eq!(out[0].to, "_INBOX.e");
}

#[test]
fn no_wait_with_nothing_answers_404() {
    let store = MemoryStore::new();
    let mut c = consumer(&store, pull_config("d"));
    let r = PullRequest {
        batch: 5,
        no_wait: true,
        ..Default::default()
    };
    let out = request(&mut c, &store, r, "_INBOX.n", T0);
    assert_eq!(statuses(&out), vec![(404, "No Messages".to_string())]);
    assert_eq!(c.info(&store, T0).num_waiting, 0);
}

#[test]
fn no_wait_delivers_what_there_is_then_404() {
    let store = store_n(2);
    let mut c = consumer(&store, pull_config("d"));
    let r = PullRequest {
        batch: 5,
        no_wait: true,
        ..Default::default()
    };
    let out = request(&mut c, &store, r, "_INBOX.n", T0);
    assert_eq!(seqs(&out), vec![1, 2]);
    assert_eq!(statuses(&out), vec![(404, "No Messages".to_string())]);
}

#[test]
fn full_wait_queue_answers_409_exceeded_max_waiting() {
    let store = MemoryStore::new();
    let mut config = pull_config("d");
    config.max_waiting = 1;
    let mut c = consumer(&store, config);
    assert!(request(&mut c, &store, req(1), "_INBOX.a", T0).is_empty());
    let out = request(&mut c, &store, req(1), "_INBOX.b", T0);
    assert_eq!(
        statuses(&out),
        vec![(409, "Exceeded MaxWaiting".to_string())]
    );
    assert_eq!(out[0].to, "_INBOX.b");
}

fn limited(f: impl FnOnce(&mut ConsumerConfig)) -> ConsumerConfig {
    let mut config = pull_config("d");
    f(&mut config);
    config
}

#[test]
fn batch_over_max_batch_answers_409() {
    let store = store_n(1);
    let mut c = consumer(&store, limited(|c| c.max_batch = 10));
    let out = request(&mut c, &store, req(11), "_INBOX.x", T0);
    assert_eq!(
        statuses(&out),
        vec![(409, "Exceeded MaxRequestBatch of 10".to_string())]
    );
}

#[test]
fn expires_over_max_expires_answers_409() {
    let store = store_n(1);
    let mut c = consumer(&store, limited(|c| c.max_expires = secs(1)));
    let r = PullRequest {
        batch: 1,
        expires: secs(2),
        ..Default::default()
    };
    let out = request(&mut c, &store, r, "_INBOX.x", T0);
    assert_eq!(
        statuses(&out),
        vec![(409, "Exceeded MaxRequestExpires of 1s".to_string())]
    );
}

#[test]
fn max_bytes_over_limit_answers_409() {
    let store = store_n(1);
    let mut c = consumer(&store, limited(|c| c.max_bytes = 100));
    let r = PullRequest {
        batch: 1,
        max_bytes: 200,
        ..Default::default()
    };
    let out = request(&mut c, &store, r, "_INBOX.x", T0);
    assert_eq!(
        statuses(&out),
        vec![(409, "Exceeded MaxRequestMaxBytes of 100".to_string())]
    );
}

#[test]
fn waiting_request_gets_idle_heartbeats() {
    let store = MemoryStore::new();
    let mut c = consumer(&store, pull_config("d"));
    let r = PullRequest {
        batch: 1,
        expires: secs(10),
        idle_heartbeat: secs(1),
        ..Default::default()
    };
    assert!(request(&mut c, &store, r, "_INBOX.h", T0).is_empty());
    assert_eq!(c.next_deadline(), Some(T0 + secs(1)));
    let out = poll(&mut c, &store, T0 + secs(1));
    assert_eq!(statuses(&out), vec![(100, "Idle Heartbeat".to_string())]);
    assert_eq!(out[0].to, "_INBOX.h");
    assert_eq!(status_headers(&out, 100).get(NATS_LAST_CONSUMER), Some("0"));
    assert_eq!(c.next_deadline(), Some(T0 + secs(2)));
}

#[test]
fn heartbeat_over_half_of_expires_is_a_bad_request() {
    let body = br#"{"batch":1,"expires":10000000000,"idle_heartbeat":6000000000}"#;
    assert_eq!(
        PullRequest::parse(body),
        Err(PullRequestError::HeartbeatTooLarge)
    );
}

#[test]
fn push_consumer_refuses_pull_requests() {
    let store = store_n(1);
    let mut c = consumer(&store, push_config("d", "deliver"));
    let out = request(&mut c, &store, req(1), "_INBOX.x", T0);
    assert_eq!(
        statuses(&out),
        vec![(409, "Consumer is push based".to_string())]
    );
}

#[test]
fn waiting_requests_are_served_round_robin() {
    let mut store = MemoryStore::new();
    let mut c = consumer(&store, pull_config("d"));
    request(&mut c, &store, req(2), "_INBOX.a", T0);
    request(&mut c, &store, req(2), "_INBOX.b", T0);
    for _ in 0..4 {
        publish(&mut store, "orders.new", T0);
    }
    let out = poll(&mut c, &store, T0);
    let to: Vec<&str> = out.iter().map(|o| o.to.as_str()).collect();
    assert_eq!(to, vec!["_INBOX.a", "_INBOX.b", "_INBOX.a", "_INBOX.b"]);
}

#[test]
fn request_bodies_parse_as_nats_reads_them() {
    assert_eq!(PullRequest::parse(b""), Ok(req(1)));
    assert_eq!(PullRequest::parse(b" 7 "), Ok(req(7)));
    assert_eq!(PullRequest::parse(b"lots"), Ok(req(1)));
    assert_eq!(
        PullRequest::parse(br#"{"batch":10,"expires":5000000000,"max_bytes":1024,"no_wait":true}"#),
        Ok(PullRequest {
            batch: 10,
            max_bytes: 1024,
            expires: secs(5),
            no_wait: true,
            idle_heartbeat: 0,
        })
    );
    assert!(matches!(
        PullRequest::parse(b"{\"batch\":\"x\"}"),
        Err(PullRequestError::Json(_))
    ));
}

#[test]
fn request_serializes_with_nats_field_names() {
    let r = PullRequest {
        batch: 10,
        expires: secs(5),
        idle_heartbeat: secs(1),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&r).expect("serializes"),
        r#"{"expires":5000000000,"batch":10,"idle_heartbeat":1000000000}"#
    );
}
