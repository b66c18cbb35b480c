//! A mirror whose origin (nats-server 2.14 or Contrail, work-queue or interest stream) made its
//! consumer a durable acknowledged by flow control: that name stays the mirror's, so a refusal
//! of it for now (the deliver subject of the previous consumer still has a listener there) is
//! asked again later in the same form, and a durable that hands back progress is resumed;
//! an origin that did not make a durable still gets the older form after such answers.

use serde_json::{json, Value};

use super::hand::{drain, started, stored};
use super::origin::T0;
use crate::core::sourcing::{Action, Event, Role, Sourcing};
use crate::core::time::{Nanos, SECONDS};

/// A create request the mirror sent: its reply inbox, header names and JSON body.
struct Create {
    inbox: String,
    headers: Vec<String>,
    body: Value,
}

/// Lets time run (up to a minute) until the mirror sends a create; returns it and the time.
fn next_create(m: &mut Sourcing, mut now: Nanos) -> (Create, Nanos) {
    let until = now + 60 * SECONDS;
    while now <= until {
        if let Some(at) = m.poll_timeout().filter(|at| *at <= until) {
            now = now.max(at);
            m.handle_timeout(now);
        } else {
            now += SECONDS;
        }
        let actions = drain(m);
        let sent = actions.iter().find_map(|a| match a {
            Action::Send {
                subject,
                reply: Some(inbox),
                headers,
                payload,
            } if subject.contains(".CONSUMER.CREATE.") => Some(Create {
                inbox: inbox.clone(),
                headers: headers.iter().map(|(n, _)| n.clone()).collect(),
                body: serde_json::from_slice(payload).expect("a JSON body"),
            }),
            _ => None,
        });
        if let Some(create) = sent {
            return (create, now);
        }
    }
    panic!("no create within a minute");
}

/// Answers `create` with `body`; returns what the mirror does at once.
fn answer(m: &mut Sourcing, create: &Create, now: Nanos, body: Value) -> Vec<Action> {
    let payload = body.to_string();
    m.handle(
        now,
        Event::Response {
            subject: &create.inbox,
            payload: payload.as_bytes(),
        },
    );
    drain(m)
}

/// What an origin answers that made the consumer `ack_policy` (`flow_control`: a durable),
/// which has delivered `consumer_seq` messages from the start of the stream already.
fn created(create: &Create, ack_policy: &str, consumer_seq: u64) -> Value {
    let config = &create.body["config"];
    json!({"name": config["name"], "config": {"name": config["name"],
        "deliver_subject": config["deliver_subject"], "sourcing": true,
        "ack_policy": ack_policy},
        "delivered": {"consumer_seq": consumer_seq, "stream_seq": consumer_seq},
        "ack_floor": {"consumer_seq": 0, "stream_seq": 0}})
}

fn name_in_use() -> Value {
    json!({"error": {"code": 400, "err_code": 10013,
        "description": "consumer name already in use"}})
}

fn in_sourcing_form(create: &Create) -> bool {
    create
        .headers
        .iter()
        .any(|h| h == "Nats-Required-Api-Level")
        && create.body["config"]["sourcing"] == true
}

/// The first create answered with `ack_policy`, then the health check (no contact for 10 s)
/// asks again and that is refused with 10013; returns the create after the refusal.
fn refused_after(ack_policy: &str) -> Create {
    let mut m = started(Role::Mirror, "M", 5);
    let (first, now) = next_create(&mut m, T0);
    assert!(in_sourcing_form(&first));
    answer(&mut m, &first, now, created(&first, ack_policy, 0));
    let (second, now) = next_create(&mut m, now);
    assert!(in_sourcing_form(&second));
    answer(&mut m, &second, now, name_in_use());
    next_create(&mut m, now).0
}

#[test]
fn a_durable_refused_for_now_is_asked_for_again_in_the_same_form() {
    let third = refused_after("flow_control");
    assert!(in_sourcing_form(&third), "{}", third.body);
}

#[test]
fn a_name_in_use_at_an_origin_without_durables_turns_to_the_older_form() {
    let third = refused_after("none");
    assert!(!in_sourcing_form(&third), "{}", third.body);
}

#[test]
fn a_durable_handed_back_with_deliveries_is_resumed_not_replaced() {
    let mut m = started(Role::Mirror, "M", 5);
    let (first, now) = next_create(&mut m, T0);
    // 2.14 may have sent again from the ack floor before its answer went out: 1 and 2 came
    // first and wait for the answer.
    let config = &first.body["config"];
    let deliver = config["deliver_subject"].as_str().unwrap_or_default();
    let name = config["name"].as_str().unwrap_or_default();
    for seq in 1..=2 {
        let reply = format!("$JS.ACK.O.{name}.1.{seq}.{seq}.{}.0", T0 + seq as i64);
        m.handle(
            now,
            Event::Delivery {
                via: deliver,
                subject: "o.x",
                reply: &reply,
                headers: b"",
                payload: b"data",
            },
        );
    }
    let sent = answer(&mut m, &first, now, created(&first, "flow_control", 2));
    assert!(m.info(now).error.is_none(), "{:?}", m.info(now).error);
    // No replacement create follows (a refused reuse sends the older form at once), and both
    // are stored: the durable resumes at its ack floor, not past what it had delivered.
    let creates =
        |a: &Action| matches!(a, Action::Send { subject, .. } if subject.contains(".CREATE."));
    assert!(!sent.iter().any(creates), "{sent:?}");
    assert_eq!(stored(&sent), vec![1, 2], "{sent:?}");
    // Whereas a consumer handed back by an origin that made no durable is replaced.
    let mut m = started(Role::Mirror, "M", 5);
    let (first, now) = next_create(&mut m, T0);
    let sent = answer(&mut m, &first, now, created(&first, "none", 2));
    assert!(sent.iter().any(creates), "{sent:?}");
}
