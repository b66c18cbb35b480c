//! What the new consumer sends before its create's answer (a local origin's deliveries of
//! stored messages overtake the answer): kept, bounded, and handled in order right after a
//! successful answer; discarded with a failed answer or a lost link.

use serde_json::json;

use super::hand::{drain, recreated, started, stored};
use super::origin::{Origin, Sim, T0};
use crate::core::headers::Headers;
use crate::core::sourcing::machine::early::{MAX_EARLY_BYTES, MAX_EARLY_MESSAGES};
use crate::core::sourcing::{Action, Event, LocalState, Role, Sourcing, StreamSource};
use crate::core::time::SECONDS;

/// A machine whose create is out, driven by hand: the machine, its deliver subject and inbox.
fn requesting(role: Role) -> (Sourcing, String, String) {
    let mut m = started(role, "M", 4);
    let at = m.poll_timeout().expect("a create is scheduled");
    m.handle_timeout(at);
    let (mut deliver, mut inbox) = (String::new(), String::new());
    for a in drain(&mut m) {
        match a {
            Action::Subscribe(s) if s.starts_with("$JSC.R.") => inbox = s,
            Action::Subscribe(s) => deliver = s,
            _ => {}
        }
    }
    assert!(!deliver.is_empty() && !inbox.is_empty());
    (m, deliver, inbox)
}

fn ack(consumer: &str, sseq: u64, dseq: u64) -> String {
    format!(
        "$JS.ACK.O.{consumer}.1.{sseq}.{dseq}.{}.0",
        T0 + sseq as i64
    )
}

fn deliver_msg(m: &mut Sourcing, deliver: &str, reply: &str, payload: &[u8]) {
    let now = T0 + SECONDS;
    m.handle(
        now,
        Event::Delivery {
            via: deliver,
            subject: "o.x",
            reply,
            headers: b"",
            payload,
        },
    );
}

fn control(m: &mut Sourcing, deliver: &str, reply: &str, headers: &Headers) {
    let block = headers.encode();
    m.handle(
        T0 + SECONDS,
        Event::Delivery {
            via: deliver,
            subject: deliver,
            reply,
            headers: &block,
            payload: b"",
        },
    );
}

fn answer(m: &mut Sourcing, inbox: &str, body: serde_json::Value) -> Vec<Action> {
    let body = body.to_string();
    m.handle(
        T0 + 2 * SECONDS,
        Event::Response {
            subject: inbox,
            payload: body.as_bytes(),
        },
    );
    drain(m)
}

fn created(name: &str, deliver: &str) -> serde_json::Value {
    json!({"name": name, "config": {"deliver_subject": deliver},
        "delivered": {"consumer_seq": 0, "stream_seq": 0}})
}

#[test]
fn deliveries_before_the_answer_are_stored_once_in_order_after_it() {
    for role in [Role::Mirror, Role::Source] {
        let (mut m, deliver, inbox) = requesting(role);
        for seq in 1..=5 {
            deliver_msg(&mut m, &deliver, &ack("C1", seq, seq), b"data");
        }
        // A flow-control request and a heartbeat that counts the five, then one more.
        control(
            &mut m,
            &deliver,
            "$JS.FC.O.C1.1",
            &Headers::status(100, "FlowControl Request"),
        );
        let mut hb = Headers::status(100, "Idle Heartbeat");
        hb.insert("Nats-Last-Consumer", "5");
        control(&mut m, &deliver, "", &hb);
        deliver_msg(&mut m, &deliver, &ack("C1", 6, 6), b"data");
        assert!(
            stored(&drain(&mut m)).is_empty(),
            "{role:?}: nothing before"
        );

        let actions = answer(&mut m, &inbox, created("C1", &deliver));
        assert_eq!(stored(&actions), vec![1, 2, 3, 4, 5, 6], "{role:?}");
        assert!(!recreated(&actions, &deliver), "{role:?}: no recreate");
        // The flow-control reply waits for the stores before it, and says where it was.
        let fc_ticket = actions
            .iter()
            .filter_map(|a| match a {
                Action::StoreMirrored { ticket, .. } | Action::StoreSourced { ticket, .. } => {
                    Some(*ticket)
                }
                _ => None,
            })
            .nth(4)
            .expect("the fifth store");
        m.durable(fc_ticket);
        let replies = drain(&mut m);
        let [Action::Send {
            subject, headers, ..
        }] = replies.as_slice()
        else {
            panic!("{role:?}: one flow-control reply, got {replies:?}");
        };
        assert_eq!(subject, "$JS.FC.O.C1.1");
        assert!(headers.contains(&("Nats-Last-Consumer".into(), "5".into())));

        // Stored once: the same messages again change nothing; the next one follows on.
        deliver_msg(&mut m, &deliver, &ack("C1", 6, 6), b"data");
        assert!(stored(&drain(&mut m)).is_empty());
        deliver_msg(&mut m, &deliver, &ack("C1", 7, 7), b"data");
        assert_eq!(stored(&drain(&mut m)), vec![7], "{role:?}");
        assert_eq!(m.info(T0 + 2 * SECONDS).error, None);
    }
}

#[test]
fn deliveries_of_another_consumer_before_the_answer_stay_dropped() {
    let (mut m, deliver, inbox) = requesting(Role::Mirror);
    deliver_msg(&mut m, &deliver, &ack("OLD", 9, 9), b"old");
    deliver_msg(&mut m, &deliver, &ack("C1", 1, 1), b"new");
    deliver_msg(&mut m, &deliver, &ack("OLD", 10, 10), b"old");
    // An old consumer's deliver subject is no longer ours at all.
    deliver_msg(&mut m, "$JS.M.OLDSUBJ", &ack("C1", 2, 2), b"new");
    let actions = answer(&mut m, &inbox, created("C1", &deliver));
    assert_eq!(stored(&actions), vec![1]);
    assert!(!recreated(&actions, &deliver));
}

#[test]
fn past_the_message_bound_the_rest_is_dropped_and_the_gap_recreates() {
    let (mut m, deliver, inbox) = requesting(Role::Mirror);
    let sent = MAX_EARLY_MESSAGES as u64 + 10;
    for seq in 1..=sent {
        deliver_msg(&mut m, &deliver, &ack("C1", seq, seq), b"d");
    }
    let actions = answer(&mut m, &inbox, created("C1", &deliver));
    let want: Vec<u64> = (1..=MAX_EARLY_MESSAGES as u64).collect();
    assert_eq!(stored(&actions), want);
    assert!(!recreated(&actions, &deliver));
    // The first delivery after the answer shows the gap: the consumer is recreated from the
    // last stored message, and that delivery is not stored.
    deliver_msg(&mut m, &deliver, &ack("C1", sent + 1, sent + 1), b"d");
    let actions = drain(&mut m);
    assert!(stored(&actions).is_empty());
    assert!(recreated(&actions, &deliver));
    let at = m.poll_timeout().expect("a new create is scheduled");
    m.handle_timeout(at);
    let create = drain(&mut m)
        .into_iter()
        .find_map(|a| match a {
            Action::Send { payload, .. } => {
                serde_json::from_slice::<serde_json::Value>(&payload).ok()
            }
            _ => None,
        })
        .expect("a create");
    assert_eq!(
        create["config"]["opt_start_seq"],
        MAX_EARLY_MESSAGES as u64 + 1
    );
}

#[test]
fn past_the_byte_bound_later_small_messages_are_dropped_too() {
    let (mut m, deliver, inbox) = requesting(Role::Mirror);
    let big = vec![b'x'; 1024 * 1024];
    let fit = (MAX_EARLY_BYTES / big.len()) as u64 - 1;
    for seq in 1..=fit + 1 {
        deliver_msg(&mut m, &deliver, &ack("C1", seq, seq), &big);
    }
    // Small enough to fit, but after a dropped one: kept, it would hide the gap.
    deliver_msg(&mut m, &deliver, &ack("C1", fit + 2, fit + 2), b"small");
    let actions = answer(&mut m, &inbox, created("C1", &deliver));
    assert_eq!(stored(&actions), (1..=fit).collect::<Vec<_>>());
}

#[test]
fn a_failed_answer_discards_what_came_before_it() {
    let (mut m, deliver, inbox) = requesting(Role::Mirror);
    for seq in 1..=3 {
        deliver_msg(&mut m, &deliver, &ack("C1", seq, seq), b"d");
    }
    let actions = answer(
        &mut m,
        &inbox,
        json!({"error": {"code": 500, "err_code": 10037, "description": "boom"}}),
    );
    assert!(stored(&actions).is_empty());
    assert!(recreated(&actions, &deliver));
    // The next create's answer handles nothing of the old one's.
    let at = m.poll_timeout().expect("a new create is scheduled");
    m.handle_timeout(at);
    let (mut deliver2, mut inbox2) = (String::new(), String::new());
    for a in drain(&mut m) {
        match a {
            Action::Subscribe(s) if s.starts_with("$JSC.R.") => inbox2 = s,
            Action::Subscribe(s) => deliver2 = s,
            _ => {}
        }
    }
    assert_ne!(deliver2, deliver);
    let actions = answer(&mut m, &inbox2, created("C1", &deliver2));
    assert!(stored(&actions).is_empty(), "{actions:?}");
}

#[test]
fn a_lost_link_or_a_stop_discards_what_came_before_the_answer() {
    for stop in [false, true] {
        let (mut m, deliver, inbox) = requesting(Role::Mirror);
        deliver_msg(&mut m, &deliver, &ack("C1", 1, 1), b"d");
        if stop {
            m.stop();
            m.start(T0 + SECONDS, LocalState::default(), None);
        } else {
            m.handle(T0 + SECONDS, Event::LinkDown);
            m.handle(T0 + SECONDS, Event::LinkUp);
        }
        drain(&mut m);
        // The old inbox is gone; its late answer is not heard, and the new create's answer
        // finds nothing kept.
        assert!(stored(&answer(&mut m, &inbox, created("C1", &deliver))).is_empty());
        let at = m.poll_timeout().expect("a new create is scheduled");
        m.handle_timeout(at);
        let (mut deliver2, mut inbox2) = (String::new(), String::new());
        for a in drain(&mut m) {
            match a {
                Action::Subscribe(s) if s.starts_with("$JSC.R.") => inbox2 = s,
                Action::Subscribe(s) => deliver2 = s,
                _ => {}
            }
        }
        // Even under the same name (a 2.9 origin reuses it), the old delivery is not stored.
        let actions = answer(&mut m, &inbox2, created("C1", &deliver2));
        assert!(stored(&actions).is_empty(), "stop {stop}: {actions:?}");
    }
}

#[test]
fn with_late_answers_a_mirror_and_a_source_catch_up_with_one_create() {
    for role in [Role::Mirror, Role::Source] {
        let mut origin = Origin::new("O");
        for i in 1..=40 {
            origin.publish(&format!("o.{i}"), &format!("m{i}"), T0 + i);
        }
        let mut sim = Sim::new(
            role,
            StreamSource {
                name: "O".into(),
                ..Default::default()
            },
            origin,
            6,
        );
        sim.late_responses = true;
        sim.start(None);
        for _ in 0..400 {
            if sim.local.last_seq == 40 {
                break;
            }
            sim.step();
        }
        assert_eq!(sim.local.last_seq, 40, "{role:?}");
        assert_eq!(sim.creates().len(), 1, "{role:?}: no recreate");
        match role {
            Role::Mirror => assert_eq!(sim.local.mirrored.len(), 40),
            Role::Source => assert_eq!(
                sim.local.sourced_origin_seqs(),
                (1..=40).collect::<Vec<_>>()
            ),
        }
    }
}
