//! State and StreamInfo numbers, and their JSON.

use bytes::Bytes;

use super::*;
use crate::core::stream::InfoOptions;

#[test]
fn state_counts_messages_subjects_and_deleted() {
    let mut s = stream_with(|_| {});
    put_at(&mut s, "a.1", "x", T0);
    put_at(&mut s, "a.2", "x", T0 + 1);
    put_at(&mut s, "a.1", "x", T0 + 2);
    put_at(&mut s, "a.3", "x", T0 + 3);
    s.delete_msg(2, false).expect("deleted");
    let info = s.info(T0 + 10, 2, &InfoOptions::default());
    let st = &info.state;
    assert_eq!((st.messages, st.first_seq, st.last_seq), (3, 1, 4));
    assert_eq!((st.first_ts, st.last_ts), (T0, T0 + 3));
    assert_eq!(
        (st.num_subjects, st.num_deleted, st.consumer_count),
        (2, 1, 2)
    );
    assert!(
        st.subjects.is_empty() && st.deleted.is_empty(),
        "details only on request"
    );
    assert_eq!((info.created, info.ts), (T0, T0 + 10));
}

#[test]
fn info_lists_subjects_matching_the_filter() {
    let mut s = stream_with(|_| {});
    for subject in ["a.1", "a.2", "a.1", "a.x.y"] {
        put(&mut s, subject, "x");
    }
    let opts = InfoOptions {
        subjects_filter: Some("a.*".into()),
        ..Default::default()
    };
    let info = s.info(T0, 0, &opts);
    let listed: Vec<(&str, u64)> = info
        .state
        .subjects
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(listed, vec![("a.1", 2), ("a.2", 1)]);
    let paging = info
        .subjects_paging
        .expect("paging present when subjects match");
    assert_eq!((paging.total, paging.offset), (2, 0));
}

#[test]
fn info_lists_deleted_sequences_when_asked() {
    let mut s = stream_with(|_| {});
    for _ in 0..5 {
        put(&mut s, "a.1", "x");
    }
    s.delete_msg(2, false).expect("deleted");
    s.delete_msg(4, false).expect("deleted");
    let info = s.info(
        T0,
        0,
        &InfoOptions {
            deleted_details: true,
            ..Default::default()
        },
    );
    assert_eq!(info.state.deleted, vec![2, 4]);
}

#[test]
fn empty_stream_info_json_has_go_zero_times_and_omits_empty_fields() {
    let s = stream_with(|_| {});
    let json = serde_json::to_value(s.info(T0, 0, &InfoOptions::default())).expect("writes");
    assert_eq!(
        json["state"],
        serde_json::json!({
            "messages": 0, "bytes": 0,
            "first_seq": 0, "first_ts": "0001-01-01T00:00:00Z",
            "last_seq": 0, "last_ts": "0001-01-01T00:00:00Z",
            "consumer_count": 0
        })
    );
    assert_eq!(json["created"], "2023-11-14T22:13:20Z");
    assert_eq!(json["ts"], "2023-11-14T22:13:20Z");
    assert_eq!(json["config"]["name"], "S");
    assert!(json.get("cluster").is_none() && json.get("domain").is_none());
}

#[test]
fn state_json_carries_details_when_present() {
    let mut s = stream_with(|_| {});
    for i in 0..3 {
        put_at(&mut s, "a.1", "x", T0 + i);
    }
    s.delete_msg(2, false).expect("deleted");
    let opts = InfoOptions {
        subjects_filter: Some(">".into()),
        deleted_details: true,
        offset: 0,
    };
    let json = serde_json::to_value(s.info(T0, 1, &opts)).expect("writes");
    assert_eq!(json["state"]["subjects"], serde_json::json!({"a.1": 2}));
    assert_eq!(json["state"]["num_subjects"], 1);
    assert_eq!(json["state"]["num_deleted"], 1);
    assert_eq!(json["state"]["deleted"], serde_json::json!([2]));
    assert_eq!(json["state"]["last_ts"], "2023-11-14T22:13:20.000000002Z");
}

#[test]
fn stream_info_json_round_trips() {
    let mut s = stream_with(|c| c.description = "d".into());
    put_at(&mut s, "a.1", "x", T0 + 123);
    let info = s.info(T0 + 1_000, 3, &InfoOptions::default());
    let text = serde_json::to_string(&info).expect("writes");
    let back: crate::core::stream::StreamInfo = serde_json::from_str(&text).expect("reads");
    assert_eq!(back, info);
}

#[test]
fn pub_ack_json_is_nats_shaped() {
    let mut s = stream_with(|_| {});
    let ack = s
        .publish("a.1", None, Bytes::new(), T0, true)
        .expect("stored");
    assert_eq!(
        serde_json::to_string(&ack).expect("writes"),
        r#"{"stream":"S","seq":1}"#
    );
    let dup = PubAck {
        duplicate: true,
        domain: Some("hub".into()),
        ..ack
    };
    assert_eq!(
        serde_json::to_string(&dup).expect("writes"),
        r#"{"stream":"S","seq":1,"domain":"hub","duplicate":true}"#
    );
}

#[test]
fn info_options_read_the_api_request() {
    let o: InfoOptions =
        serde_json::from_str(r#"{"subjects_filter":">","deleted_details":true,"offset":-3}"#)
            .expect("parses");
    assert_eq!(
        o,
        InfoOptions {
            subjects_filter: Some(">".into()),
            deleted_details: true,
            offset: 0
        }
    );
}
