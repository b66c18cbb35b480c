//! The engine speaking first: subscriptions, requests to itself and over links, timeouts, links
//! going down and up. A tiny deterministic "shell" below plays the server's part. (A request to
//! its own API comes back through its front: `core/front/tests.rs`.)

use super::*;
use crate::core::engine::test_shell::{events, outcomes, run_shell};
use crate::core::engine::EngineConfig;
use crate::core::front::JetStream;
use crate::core::message::{Destination, LinkId, Message};

const SECOND: Nanos = 1_000_000_000;

fn engine() -> Engine {
    Engine::in_memory(7)
}

#[test]
fn a_new_engine_asks_for_the_api_ack_and_flow_control_subjects() {
    let mut e = engine();
    let subjects: Vec<(String, Destination)> = events(&mut e)
        .into_iter()
        .map(|event| match event {
            EngineEvent::Subscribe { subject, dest, .. } => (subject, dest),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let local = Destination::Local;
    assert_eq!(
        subjects,
        [
            ("$JS.API.>".to_string(), local),
            ("$JS.ACK.>".to_string(), local),
            ("$JS.FC.>".to_string(), local),
        ]
    );
    assert!(e.subscribed_locally("$JS.API.STREAM.NAMES"));
    assert!(!e.subscribed_locally("orders.new"));
}

fn link_inbox(e: &mut Engine, link: LinkId) -> SubId {
    match events(e).as_slice() {
        [EngineEvent::Subscribe { sid, dest, .. }] if *dest == Destination::Link(link) => *sid,
        other => panic!("expected an inbox subscription on the link, got {other:?}"),
    }
}

#[test]
fn a_request_over_a_link_gets_its_reply_through_the_link_subscription() {
    let mut e = engine();
    events(&mut e);
    let hub = LinkId(3);
    e.link_up(hub, 0);
    let msg = Message::new("$JS.hub.API.CONSUMER.CREATE.O", "{}");
    let id = e.request(Destination::Link(hub), msg, 5 * SECOND, 0);
    let sid = link_inbox(&mut e, hub);
    let sent = run_shell(&mut e, 0);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].dest, Destination::Link(hub));
    assert_eq!(sent[0].msg.subject, "$JS.hub.API.CONSUMER.CREATE.O");
    let reply_to = sent[0].msg.reply.clone().expect("a reply subject");

    // The same reply arriving locally is not the link's answer: ignored.
    e.handle(Message::new(reply_to.clone(), "forged"), 0);
    assert!(outcomes(&mut e).is_empty());

    assert!(e.handle_subscribed(sid, Message::new(reply_to, "ok"), SECOND));
    let done = outcomes(&mut e);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, id);
    assert_eq!(
        done[0].result.as_ref().map(|m| m.payload.clone()),
        Ok("ok".into())
    );
}

#[test]
fn a_request_nobody_answers_times_out_on_the_engine_timers() {
    let mut e = engine();
    events(&mut e);
    let id = e.request(
        Destination::Local,
        Message::new("nobody.home", ""),
        2 * SECOND,
        10 * SECOND,
    );
    let sent = run_shell(&mut e, 10 * SECOND);
    assert_eq!(
        sent.len(),
        1,
        "no local subscription of the engine's: to subscribers"
    );
    assert_eq!(e.poll_timeout(), Some(12 * SECOND));
    e.handle_timeout(12 * SECOND - 1);
    assert!(outcomes(&mut e).is_empty());
    e.handle_timeout(12 * SECOND);
    let done = outcomes(&mut e);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, id);
    assert_eq!(done[0].result, Err(RequestError::TimedOut));
    assert_eq!(e.poll_timeout(), None);
    // A late reply is swallowed (it was the engine's), and ends nothing twice.
    let reply = sent[0].msg.reply.clone().expect("reply subject");
    assert!(e.handle(Message::new(reply, "late"), 13 * SECOND));
    assert!(outcomes(&mut e).is_empty());
}

#[test]
fn links_going_down_fail_their_requests_and_coming_up_serves_again() {
    let mut e = engine();
    events(&mut e);
    let hub = LinkId(1);
    let msg = || Message::new("$JS.API.INFO", "");

    // Never reported up: fails at once, nothing is sent.
    let id = e.request(Destination::Link(hub), msg(), SECOND, 0);
    assert_eq!(outcomes(&mut e)[0].result, Err(RequestError::LinkDown));
    assert_eq!(outcomes(&mut e).len(), 0);
    assert!(run_shell(&mut e, 0).is_empty());
    assert!(id > 0);

    e.link_up(hub, 5);
    assert_eq!(e.link_up_since(hub), Some(5));
    let in_flight = e.request(Destination::Link(hub), msg(), SECOND, 10);
    let sid = link_inbox(&mut e, hub);
    let sent = run_shell(&mut e, 10);
    e.link_down(hub, 20);
    assert_eq!(e.link_up_since(hub), None);
    let done = outcomes(&mut e);
    assert_eq!(
        (done[0].id, done[0].result.clone()),
        (in_flight, Err(RequestError::LinkDown))
    );
    assert_eq!(e.poll_timeout(), None, "its deadline is gone too");
    // Its reply arriving after all changes nothing.
    let reply = sent[0].msg.reply.clone().expect("reply subject");
    e.handle_subscribed(sid, Message::new(reply, "late"), 30);
    assert!(outcomes(&mut e).is_empty());

    // Back up: the link keeps its subscriptions, so the engine's inbox is still there.
    e.link_up(hub, 40);
    let again = e.request(Destination::Link(hub), msg(), SECOND, 40);
    assert!(events(&mut e).is_empty(), "the inbox subscription stands");
    let sent = run_shell(&mut e, 40);
    let reply = sent[0].msg.reply.clone().expect("reply subject");
    assert!(e.handle_subscribed(sid, Message::new(reply, "{}"), 50));
    let done = outcomes(&mut e);
    assert_eq!(done[0].id, again);
    assert!(done[0].result.is_ok());
}

#[test]
fn subscriptions_are_validated_listed_and_ended() {
    let mut e = engine();
    events(&mut e);
    assert!(e.subscribe("bad..subject", Destination::Local).is_err());
    let hub = Destination::Link(LinkId(2));
    let sid = e.subscribe("$JS.M.abc", hub).expect("a valid subject");
    assert_eq!(
        events(&mut e),
        [EngineEvent::Subscribe {
            sid,
            subject: "$JS.M.abc".into(),
            dest: hub
        }]
    );
    assert!(e
        .subscriptions()
        .any(|(s, subject, d)| s == sid && subject == "$JS.M.abc" && d == hub));
    assert!(
        !e.subscribed_locally("$JS.M.abc"),
        "made on the link, not locally"
    );
    assert!(e.handle_subscribed(sid, Message::new("$JS.M.abc", "from the link"), 0));
    assert_eq!(
        e.poll_received(),
        Some((sid, Message::new("$JS.M.abc", "from the link")))
    );
    e.unsubscribe(sid);
    e.unsubscribe(sid);
    assert_eq!(
        events(&mut e),
        [EngineEvent::Unsubscribe { sid, dest: hub }]
    );
    assert!(!e.handle_subscribed(sid, Message::new("$JS.M.abc", ""), 0));
}

#[test]
fn api_prefixes_resolve_to_local_or_to_the_link_configured_for_them() {
    let mut e = Engine::new(
        EngineConfig {
            domain: Some("edge".into()),
            ..EngineConfig::default()
        },
        Box::new(|_| Ok(Box::new(crate::core::store::memory::MemoryStore::new()))),
        1,
    );
    let local = Some((Destination::Local, LOCAL_API.to_string()));
    assert_eq!(e.api_destination(None, None), local);
    assert_eq!(e.api_destination(Some("$JS.API"), None), local);
    assert_eq!(e.api_destination(None, Some("edge")), local);
    assert_eq!(e.api_destination(Some("$JS.edge.API"), None), local);
    assert_eq!(e.api_destination(None, Some("hub")), None, "no route yet");
    let hub = Destination::Link(LinkId(9));
    e.set_api_route("$JS.hub.API", hub);
    assert_eq!(
        e.api_destination(None, Some("hub")),
        Some((hub, "$JS.hub.API".to_string()))
    );
    e.remove_api_route("$JS.hub.API");
    assert_eq!(e.api_destination(Some("$JS.hub.API"), None), None);
}

#[test]
fn local_messages_on_its_subscriptions_come_out_tagged_until_it_unsubscribes() {
    let mut e = engine();
    let deliver = e
        .subscribe("$JS.M.*", Destination::Local)
        .expect("a valid filter");
    let inbox = e
        .subscribe("$JSC.R.abc", Destination::Local)
        .expect("a valid subject");
    events(&mut e);
    assert!(e.subscribed_locally("$JS.M.x1"));
    assert!(e.handle(Message::new("$JS.M.x1", "one"), 0));
    assert!(e.handle(Message::new("$JSC.R.abc", "{}"), 0));
    assert!(!e.handle(Message::new("$JS.N.x1", "not ours"), 0));
    let got: Vec<(SubId, Message)> = std::iter::from_fn(|| e.poll_received()).collect();
    assert_eq!(
        got,
        [
            (deliver, Message::new("$JS.M.x1", "one")),
            (inbox, Message::new("$JSC.R.abc", "{}")),
        ]
    );
    e.unsubscribe(deliver);
    assert!(!e.handle(Message::new("$JS.M.x1", "two"), 0));
    assert_eq!(e.poll_received(), None);
    assert_eq!(e.dropped_received(), 0);
}

#[test]
fn a_push_delivery_to_its_own_deliver_subject_comes_back_on_that_subscription() {
    let mut front = JetStream::new(engine());
    events(front.engine_mut());
    let deliver = front
        .engine_mut()
        .subscribe("$JS.M.abc", Destination::Local)
        .expect("a valid subject");
    let mut create = |subject: &str, body: &str| {
        front.handle(
            Message::new(subject, body.to_string()).with_reply("_INBOX.client"),
            0,
        );
    };
    create(
        "$JS.API.STREAM.CREATE.O",
        r#"{"name":"O","subjects":["orders.>"]}"#,
    );
    let consumer =
        r#"{"stream_name":"O","config":{"deliver_subject":"$JS.M.abc","ack_policy":"none"}}"#;
    create("$JS.API.CONSUMER.CREATE.O", consumer);
    let e = front.engine_mut();
    // No client subscribes the deliver subject: the engine's own subscription is the interest.
    e.handle(Message::new("orders.1", "first"), 0);
    run_shell(e, 0);
    let got: Vec<(SubId, Message)> = std::iter::from_fn(|| e.poll_received()).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, deliver);
    assert_eq!(
        got[0].1.subject, "orders.1",
        "the delivery keeps the origin's subject"
    );
    assert_eq!(got[0].1.payload, "first");
    // Not stored again into the origin by its subject.
    assert_eq!(e.stream("O").map(|s| s.state().msgs), Some(1));
}
