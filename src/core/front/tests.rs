//! The front end to end with a tiny deterministic shell: what the engine sends to its own local
//! subscriptions comes back through the front, so a request to its own API is served (and
//! counted) like a client's; a failed write's reply is not held behind a sync.

use super::*;
use crate::core::engine::test_shell::{events, outcomes, run_shell};
use crate::core::engine::EngineEvent;
use crate::core::message::Destination;

const SECOND: Nanos = 1_000_000_000;

fn json(msg: &Message) -> serde_json::Value {
    serde_json::from_slice(&msg.payload).expect("a JSON reply")
}

#[test]
fn a_request_to_its_own_api_comes_back_through_the_shell() {
    let mut e = JetStream::in_memory(7);
    events(&mut e);
    let create = Message::new(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
    );
    let id = e
        .engine_mut()
        .request(Destination::Local, create, 5 * SECOND, 0);
    // The inbox is subscribed locally before the request leaves.
    match events(&mut e).as_slice() {
        [EngineEvent::Subscribe { subject, dest, .. }] => {
            assert!(subject.starts_with("_INBOX.") && subject.ends_with(".>"));
            assert_eq!(*dest, Destination::Local);
        }
        other => panic!("expected the inbox subscription, got {other:?}"),
    }
    assert!(run_shell(&mut e, 0).is_empty(), "everything stayed local");
    let done = outcomes(&mut e);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, id);
    let reply = done[0].result.as_ref().expect("a reply");
    assert_eq!(json(reply)["config"]["name"], "S");
    assert!(e.engine().stream("S").is_some());
    assert_eq!(e.api_stats().total, 1);

    // A second request reuses the inbox: no new subscription.
    let id = e.engine_mut().request(
        Destination::Local,
        Message::new("$JS.API.STREAM.INFO.S", ""),
        5 * SECOND,
        0,
    );
    assert!(events(&mut e).is_empty());
    run_shell(&mut e, 0);
    let done = outcomes(&mut e);
    assert_eq!(done[0].id, id);
    let info = json(done[0].result.as_ref().expect("a reply"));
    assert_eq!(
        info["type"],
        "io.nats.jetstream.api.v1.stream_info_response"
    );
}

/// Replies released now (without a flush).
fn released_now(front: &mut JetStream) -> Vec<String> {
    std::iter::from_fn(|| front.engine_mut().poll_outbound())
        .map(|o| o.to)
        .collect()
}

#[test]
fn a_failed_write_is_answered_at_once_and_a_successful_one_after_its_sync() {
    let mut front = JetStream::in_memory(7);
    let create = Message::new("$JS.API.STREAM.CREATE.S", r#"{"subjects":["s.>"]}"#);
    assert!(front.handle(create.with_reply("created"), 0));
    assert!(run_shell(&mut front, 0).iter().any(|o| o.to == "created"));

    let good = r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}"#;
    let good = Message::new("$JS.API.CONSUMER.CREATE.S.C", good).with_reply("good");
    assert!(front.handle(good, SECOND));
    assert!(
        released_now(&mut front).is_empty(),
        "a consumer written to S waits for S's sync"
    );
    let bad = Message::new("$JS.API.CONSUMER.CREATE.S.D", "{").with_reply("bad");
    assert!(front.handle(bad, SECOND));
    assert_eq!(
        released_now(&mut front),
        ["bad"],
        "a refused write wrote nothing: it is not held behind S's writes"
    );
    assert_eq!(
        front.api_stats(),
        ApiStats {
            total: 3,
            errors: 1
        }
    );
    let later: Vec<String> = run_shell(&mut front, SECOND)
        .into_iter()
        .map(|o| o.to)
        .collect();
    assert!(later.contains(&"good".to_string()), "{later:?}");
}
