//! The mirror rules, one at a time: where a consumer starts, duplicates, delivery gaps, origin
//! deletions, stalls, vanished consumers, old consumers, create errors and backoff, the
//! fallback for older origins, flow control held until durable, link down and up.

use bytes::Bytes;
use serde_json::json;

use super::hand::{drain, machine, recreated, run_until, started, stored};
use super::origin::{Origin, OriginKind, Sim, Wire, STEP, T0};
use crate::core::headers::Headers;
use crate::core::sourcing::machine::{retry_backoff, RETRY_THRESHOLD};
use crate::core::sourcing::{Action, Event, LocalState, Role, Sourcing, StreamSource};
use crate::core::time::{MILLIS, SECONDS};

fn origin_with(n: u64) -> Origin {
    let mut o = Origin::new("O");
    for i in 1..=n {
        o.publish(&format!("o.{i}"), &format!("m{i}"), T0 + i as i64);
    }
    o
}

fn mirror_of(origin: Origin) -> Sim {
    Sim::new(
        Role::Mirror,
        StreamSource {
            name: "O".into(),
            ..Default::default()
        },
        origin,
        7,
    )
}

#[test]
fn a_new_mirror_copies_the_origin_at_its_sequences_and_times() {
    let mut sim = mirror_of(origin_with(12));
    sim.start(None);
    assert!(run_until(&mut sim, 200, |s| s.local.last_seq == 12));
    let creates = sim.creates();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["config"]["deliver_policy"], "all");
    for (seq, (subject, payload, time)) in &sim.local.mirrored {
        let want = &sim.origin.msgs[seq];
        assert_eq!(
            (subject, payload, *time),
            (&want.subject, &want.payload, want.ts)
        );
    }
    assert_eq!(sim.local.mirrored.len(), 12);
    let info = sim.machine.info(sim.now);
    assert_eq!(info.lag, 0);
    assert!(info.active >= 0 && info.active < SECONDS, "{}", info.active);
    assert_eq!(info.error, None);
}

#[test]
fn a_mirror_asks_at_once_for_its_first_consumer_and_subscribes_its_deliver_subject_first() {
    let mut m = machine(Role::Mirror, "M", 1);
    assert_eq!(m.info(T0).active, -1);
    m.start(T0, LocalState::default(), None);
    assert_eq!(m.poll_action(), None);
    // As nats-server's setupMirrorConsumer: no jitter before the first request.
    let at = m.poll_timeout().expect("a create is scheduled");
    assert_eq!(at, T0);
    m.handle_timeout(at);
    let Some(Action::Subscribe(deliver)) = m.poll_action() else {
        panic!("deliver subject first")
    };
    assert!(deliver.starts_with("$JS.M.") && deliver.len() == "$JS.M.".len() + 8);
    let Some(Action::Subscribe(inbox)) = m.poll_action() else {
        panic!("then the reply inbox")
    };
    assert!(inbox.starts_with("$JSC.R."));
    let Some(Action::Send { subject, reply, .. }) = m.poll_action() else {
        panic!("then the request")
    };
    assert_eq!(subject, "$JS.API.CONSUMER.CREATE.O");
    assert_eq!(reply, Some(inbox));
}

#[test]
fn a_source_waits_100_to_200_ms_of_jitter_before_its_first_create_and_a_mirror_before_a_retry() {
    // nats-server's setupSourceConsumer always adds the jitter.
    let mut source = machine(Role::Source, "M", 1);
    source.start(T0, LocalState::default(), None);
    let at = source.poll_timeout().expect("a create is scheduled");
    assert!(
        (T0 + 100 * MILLIS..T0 + 200 * MILLIS).contains(&at),
        "{}",
        at - T0
    );
    // A mirror's create that failed is retried after the 2 s threshold and the jitter.
    let mut mirror = machine(Role::Mirror, "M", 1);
    mirror.start(T0, LocalState::default(), None);
    mirror.handle_timeout(T0);
    drain(&mut mirror);
    mirror.handle(T0 + MILLIS, Event::LinkDown);
    mirror.handle(T0 + 2 * MILLIS, Event::LinkUp);
    let again = mirror.poll_timeout().expect("a create is scheduled again");
    assert!(
        again >= T0 + RETRY_THRESHOLD + 100 * MILLIS,
        "{}",
        again - T0
    );
}

#[test]
fn opt_start_seq_and_time_apply_to_an_empty_mirror_only() {
    let mut sim = Sim::new(
        Role::Mirror,
        StreamSource {
            name: "O".into(),
            opt_start_seq: 5,
            ..Default::default()
        },
        origin_with(8),
        3,
    );
    sim.start(None);
    assert!(run_until(&mut sim, 200, |s| s.local.last_seq == 8));
    assert_eq!(sim.creates()[0]["config"]["opt_start_seq"], 5);
    // Stored from 5 on; the store's first sequence moved to 5.
    assert_eq!(sim.local.first_seq, 5);
    assert_eq!(
        sim.local.mirrored.keys().copied().collect::<Vec<_>>(),
        vec![5, 6, 7, 8]
    );

    let mut sim = Sim::new(
        Role::Mirror,
        StreamSource {
            name: "O".into(),
            opt_start_time: Some(T0 + 3),
            ..Default::default()
        },
        Origin::new("O"),
        3,
    );
    sim.start(None);
    sim.run(10);
    assert_eq!(
        sim.creates()[0]["config"]["deliver_policy"],
        "by_start_time"
    );
    // A mirror that holds messages starts after its last one, whatever the config says.
    let mut sim = Sim::new(
        Role::Mirror,
        StreamSource {
            name: "O".into(),
            opt_start_seq: 2,
            ..Default::default()
        },
        origin_with(9),
        3,
    );
    sim.local
        .mirrored
        .insert(1, ("o.1".into(), b"m1".to_vec(), T0 + 1));
    sim.local.first_seq = 1;
    sim.local.last_seq = 1;
    sim.start(None);
    sim.run(10);
    let create = &sim.creates()[0]["config"];
    assert_eq!(
        (
            create["deliver_policy"].clone(),
            create["opt_start_seq"].clone()
        ),
        (json!("by_start_sequence"), json!(2))
    );
}

#[test]
fn an_origin_that_starts_later_moves_an_empty_mirror_forward() {
    let mut origin = origin_with(6);
    for seq in 1..=3 {
        assert!(origin.delete_undelivered(seq));
    }
    let mut sim = mirror_of(origin);
    sim.start(None);
    assert!(run_until(&mut sim, 200, |s| s.local.last_seq == 6));
    assert_eq!(sim.local.first_seq, 4);
    assert_eq!(
        sim.local.mirrored.keys().copied().collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
}

/// A mirror with an active consumer, driven by hand: returns it and its deliver subject and
/// consumer name.
fn active_mirror(local_last: u64) -> (Sourcing, String, String) {
    let mut m = machine(Role::Mirror, "M", 9);
    let local = LocalState {
        msgs: local_last,
        first_seq: u64::from(local_last > 0),
        last_seq: local_last,
        last_time: 0,
    };
    m.start(T0, local, None);
    let at = m.poll_timeout().expect("scheduled");
    m.handle_timeout(at);
    let mut deliver = String::new();
    let mut inbox = String::new();
    while let Some(a) = m.poll_action() {
        match a {
            Action::Subscribe(s) if s.starts_with("$JS.M.") => deliver = s,
            Action::Subscribe(s) => inbox = s,
            _ => {}
        }
    }
    let body = json!({"name": "C1", "config": {"deliver_subject": deliver},
        "delivered": {"consumer_seq": 0, "stream_seq": local_last}})
    .to_string();
    m.handle(
        at,
        Event::Response {
            subject: &inbox,
            payload: body.as_bytes(),
        },
    );
    drain(&mut m);
    (m, deliver, "C1".into())
}

fn ack(consumer: &str, sseq: u64, dseq: u64, pending: u64) -> String {
    format!(
        "$JS.ACK.O.{consumer}.1.{sseq}.{dseq}.{}.{pending}",
        T0 + sseq as i64
    )
}

fn push(m: &mut Sourcing, now: i64, via: &str, reply: &str) -> Vec<Action> {
    m.handle(
        now,
        Event::Delivery {
            via,
            subject: "o.x",
            reply,
            headers: b"",
            payload: b"data",
        },
    );
    drain(m)
}

#[test]
fn duplicates_are_ignored_and_order_is_kept() {
    let (mut m, deliver, c) = active_mirror(10);
    let now = T0 + SECONDS;
    assert_eq!(
        stored(&push(&mut m, now, &deliver, &ack(&c, 11, 1, 5))),
        vec![11]
    );
    assert_eq!(
        stored(&push(&mut m, now, &deliver, &ack(&c, 11, 1, 5))),
        Vec::<u64>::new()
    );
    assert_eq!(
        stored(&push(&mut m, now, &deliver, &ack(&c, 10, 2, 5))),
        Vec::<u64>::new()
    );
    // The duplicate with the next delivery sequence advanced it, so 12 at dseq 3 follows on.
    assert_eq!(
        stored(&push(&mut m, now, &deliver, &ack(&c, 12, 3, 4))),
        vec![12]
    );
    assert_eq!(m.info(now).lag, 3);
}

#[test]
fn redeliveries_and_other_consumers_are_dropped() {
    let (mut m, deliver, c) = active_mirror(0);
    let now = T0 + SECONDS;
    let redelivered = format!("$JS.ACK.O.{c}.2.1.1.{T0}.0");
    assert!(stored(&push(&mut m, now, &deliver, &redelivered)).is_empty());
    assert!(stored(&push(&mut m, now, &deliver, &ack("OLD", 1, 1, 0))).is_empty());
    assert!(stored(&push(&mut m, now, "$JS.M.elsewhere", &ack(&c, 1, 1, 0))).is_empty());
    assert_eq!(
        stored(&push(&mut m, now, &deliver, &ack(&c, 1, 1, 0))),
        vec![1]
    );
}

#[test]
fn origin_deletions_become_skips_at_the_same_sequences() {
    let (mut m, deliver, c) = active_mirror(3);
    let actions = push(&mut m, T0 + SECONDS, &deliver, &ack(&c, 7, 1, 0));
    assert!(
        matches!(
            actions.as_slice(),
            [
                Action::SkipMirrored {
                    first: 4,
                    last: 6,
                    ..
                },
                Action::StoreMirrored { seq: 7, .. }
            ]
        ),
        "{actions:?}"
    );
}

#[test]
fn a_delivery_gap_recreates_the_consumer_from_the_last_stored_plus_one() {
    let (mut m, deliver, c) = active_mirror(0);
    let now = T0 + 5 * SECONDS;
    push(&mut m, now, &deliver, &ack(&c, 1, 1, 5));
    // dseq 3 after 1: a delivery was lost.
    let actions = push(&mut m, now, &deliver, &ack(&c, 3, 3, 3));
    assert!(stored(&actions).is_empty());
    assert!(recreated(&actions, &deliver), "{actions:?}");
    // The new create is scheduled and starts at 2.
    let at = m.poll_timeout().expect("scheduled");
    assert!(
        at <= now + 200 * MILLIS,
        "at least 2 s after the last create already"
    );
    m.handle_timeout(at);
    let body = drain(&mut m)
        .into_iter()
        .find_map(|a| match a {
            Action::Send { payload, .. } => Some(payload),
            _ => None,
        })
        .expect("a create");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["config"]["opt_start_seq"], 2);
    // Messages of the dropped consumer no longer count.
    assert!(stored(&push(&mut m, at, &deliver, &ack(&c, 2, 2, 3))).is_empty());
}

#[test]
fn creates_are_at_least_two_seconds_apart() {
    let (mut m, deliver, c) = active_mirror(0);
    // The first create went out at about T0 + 150 ms; a gap right after must wait.
    let now = T0 + 300 * MILLIS;
    push(&mut m, now, &deliver, &ack(&c, 1, 1, 0));
    push(&mut m, now, &deliver, &ack(&c, 2, 5, 0));
    let at = m.poll_timeout().expect("scheduled");
    assert!(at >= T0 + 100 * MILLIS + RETRY_THRESHOLD, "{}", at - T0);
}

#[test]
fn a_heartbeat_naming_another_delivery_sequence_recreates_the_consumer() {
    let (mut m, deliver, c) = active_mirror(0);
    let now = T0 + SECONDS;
    push(&mut m, now, &deliver, &ack(&c, 1, 1, 0));
    let heartbeat = |last: u64| {
        let mut h = Headers::status(100, "Idle Heartbeat");
        h.insert("Nats-Last-Consumer", last.to_string());
        h.insert("Nats-Last-Stream", "1");
        h.encode()
    };
    let same = heartbeat(1);
    m.handle(
        now,
        Event::Delivery {
            via: &deliver,
            subject: &deliver,
            reply: "",
            headers: &same,
            payload: b"",
        },
    );
    assert!(drain(&mut m).is_empty());
    // The consumer we knew vanished and another answers with its own count.
    let other = heartbeat(7);
    m.handle(
        now,
        Event::Delivery {
            via: &deliver,
            subject: &deliver,
            reply: "",
            headers: &other,
            payload: b"",
        },
    );
    assert!(recreated(&drain(&mut m), &deliver));
}

#[test]
fn ten_seconds_of_silence_recreate_the_consumer() {
    let (mut m, deliver, c) = active_mirror(0);
    let now = T0 + SECONDS;
    push(&mut m, now, &deliver, &ack(&c, 1, 1, 0));
    let deadline = m.poll_timeout().expect("health check");
    assert_eq!(deadline, now + 10 * SECONDS + 1);
    m.handle_timeout(now + 9 * SECONDS);
    assert!(drain(&mut m).is_empty());
    m.handle_timeout(deadline);
    assert!(recreated(&drain(&mut m), &deliver));
    assert!(m.info(deadline).active > 10 * SECONDS);
}

#[test]
fn flow_control_is_answered_only_once_earlier_messages_are_durable() {
    let (mut m, deliver, c) = active_mirror(0);
    let now = T0 + SECONDS;
    let actions = push(&mut m, now, &deliver, &ack(&c, 1, 1, 1));
    let Some(Action::StoreMirrored { ticket, .. }) = actions.first() else {
        panic!("{actions:?}")
    };
    let ticket = *ticket;
    let fc = Headers::status(100, "FlowControl Request").encode();
    m.handle(
        now,
        Event::Delivery {
            via: &deliver,
            subject: &deliver,
            reply: "$JS.FC.O.C1.1",
            headers: &fc,
            payload: b"",
        },
    );
    assert!(drain(&mut m).is_empty(), "held until durable");
    m.durable(ticket - 1);
    assert!(drain(&mut m).is_empty());
    m.durable(ticket);
    assert_eq!(
        drain(&mut m),
        vec![Action::Send {
            subject: "$JS.FC.O.C1.1".into(),
            reply: None,
            headers: vec![
                ("Nats-Last-Consumer".into(), "1".into()),
                ("Nats-Last-Stream".into(), "1".into())
            ],
            payload: Bytes::new(),
        }]
    );
    // With nothing unsynced the answer goes at once; a stalled heartbeat is answered too.
    let mut stalled = Headers::status(100, "Idle Heartbeat");
    stalled.insert("Nats-Last-Consumer", "1");
    stalled.insert("Nats-Consumer-Stalled", "$JS.FC.O.C1.2");
    let stalled = stalled.encode();
    m.handle(
        now,
        Event::Delivery {
            via: &deliver,
            subject: &deliver,
            reply: "",
            headers: &stalled,
            payload: b"",
        },
    );
    let sent = drain(&mut m);
    assert!(
        matches!(sent.as_slice(), [Action::Send { subject, .. }] if subject == "$JS.FC.O.C1.2"),
        "{sent:?}"
    );
}

#[test]
fn a_missing_origin_is_reported_and_retried_with_backoff_until_it_appears() {
    let mut origin = Origin::new("O");
    origin.exists = false;
    let mut sim = mirror_of(origin);
    sim.start(None);
    sim.run(10);
    let info = sim.machine.info(sim.now);
    let err = info.error.expect("error in info");
    assert_eq!(
        (err.err_code, err.description.as_str()),
        (10059, "stream not found")
    );
    // The next attempts back off: 10 s after one failure, 20 s after two.
    let first_retry = sim.machine.poll_timeout().expect("retry");
    assert!(
        first_retry - sim.now >= retry_backoff(1) - STEP,
        "{}",
        first_retry - sim.now
    );
    assert_eq!(retry_backoff(2), 20 * SECONDS);
    assert_eq!(retry_backoff(50), 120 * SECONDS);
    let before = sim.creates().len();
    sim.run((9 * SECONDS / STEP) as usize);
    assert_eq!(sim.creates().len(), before, "no create during the backoff");
    sim.origin.exists = true;
    sim.origin.publish("o.1", "m1", T0);
    assert!(run_until(&mut sim, 1000, |s| s.local.last_seq == 1));
    assert_eq!(sim.machine.info(sim.now).error, None);
}

#[test]
fn an_origin_without_sourcing_consumers_gets_the_old_request() {
    let (mut m, _, _) = {
        let m = started(Role::Mirror, "M", 4);
        (m, (), ())
    };
    let at = m.poll_timeout().expect("scheduled");
    m.handle_timeout(at);
    let first = drain(&mut m);
    let inbox = first
        .iter()
        .find_map(|a| match a {
            Action::Subscribe(s) if s.starts_with("$JSC.R.") => Some(s.clone()),
            _ => None,
        })
        .expect("inbox");
    let refusal = json!({"error": {"code": 412, "err_code": 10185,
        "description": "JetStream minimum api level required"}})
    .to_string();
    m.handle(
        at,
        Event::Response {
            subject: &inbox,
            payload: refusal.as_bytes(),
        },
    );
    let retry = drain(&mut m);
    let Some(Action::Send {
        headers, payload, ..
    }) = retry.iter().find(|a| matches!(a, Action::Send { .. }))
    else {
        panic!("an immediate retry: {retry:?}")
    };
    assert!(headers.is_empty());
    let body: serde_json::Value = serde_json::from_slice(payload).expect("json");
    assert_eq!(body["config"].get("sourcing"), None);
    let name = body["config"]["name"].as_str().expect("name");
    assert!(
        name.starts_with("JS_MIRROR_") && name.len() == "JS_MIRROR_".len() + 8 + 1 + 8,
        "{name}"
    );
    assert!(retry.contains(&Action::Unsubscribe(inbox)));
    assert_eq!(m.info(at).error, None);
}

#[test]
fn a_mirror_of_an_older_origin_catches_up_through_the_fallback() {
    let mut origin = origin_with(5);
    origin.kind = OriginKind::BelowLevel4;
    let mut sim = mirror_of(origin);
    sim.start(None);
    assert!(run_until(&mut sim, 300, |s| s.local.last_seq == 5));
    let creates = sim.creates();
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0]["config"]["sourcing"], true);
    assert_eq!(creates[1]["config"].get("sourcing"), None);
}

#[test]
fn after_a_2_9_origin_took_the_fixed_name_recreates_use_unique_names() {
    let mut origin = origin_with(20);
    origin.kind = OriginKind::V29;
    let mut sim = mirror_of(origin);
    sim.start(None);
    assert!(run_until(&mut sim, 400, |s| s.local.last_seq >= 5));
    // Lose the link briefly: the old consumer still lives on the origin when we come back.
    sim.cut();
    sim.run(2);
    sim.restore();
    let creates_before = sim.creates().len();
    assert!(run_until(&mut sim, 400, |s| s.local.last_seq == 20));
    let creates = sim.creates();
    assert_eq!(
        creates.len(),
        creates_before + 1,
        "one create, not a refused one"
    );
    let name = creates.last().expect("create")["config"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        name.starts_with("JS_MIRROR_") && name.len() == "JS_MIRROR_".len() + 17,
        "{name}"
    );
    assert_eq!(sim.machine.info(sim.now).error, None);
}

#[test]
fn a_consumer_of_a_run_before_a_restart_handed_back_is_not_followed() {
    let mut origin = origin_with(20);
    origin.kind = OriginKind::V29Handback;
    origin.fc_every = 1000;
    let mut sim = mirror_of(origin);
    sim.start(None);
    assert!(run_until(&mut sim, 400, |s| s.local.last_seq >= 5));
    // The origin delivers more that never arrives (the local server is going down).
    let mut lost = std::collections::VecDeque::new();
    for _ in 0..3 {
        sim.origin.pump(&mut lost);
    }
    assert!(!lost.is_empty());
    // The local server restarts: what was in flight is lost, a new machine starts from what
    // is stored, and the origin still has the consumer of the fixed name, further along (its
    // inactive threshold has not passed).
    sim.to_local.clear();
    sim.to_origin.clear();
    sim.machine = machine(Role::Mirror, "LOCAL", 8);
    sim.start(None);
    assert!(run_until(&mut sim, 800, |s| s.local.last_seq == 20));
    assert!(sim.local.skipped.is_empty(), "{:?}", sim.local.skipped);
    assert_eq!(sim.local.mirrored.len(), 20, "no gap");
}

#[test]
fn a_create_without_answer_is_retried_after_thirty_seconds() {
    let mut sim = mirror_of(origin_with(1));
    sim.start(None);
    sim.link_up = false; // requests vanish, but the machine is not told
    sim.run(4);
    assert_eq!(sim.sent_log.len(), 1);
    let deadline = sim.machine.poll_timeout().expect("deadline");
    assert!(deadline - sim.now > 29 * SECONDS);
    sim.link_up = true;
    assert!(run_until(&mut sim, 2000, |s| s.local.last_seq == 1));
    assert!(sim.creates().len() >= 2);
}

#[test]
fn link_down_drops_the_consumer_and_link_up_recreates_it() {
    let mut sim = mirror_of(origin_with(30));
    sim.start(None);
    assert!(run_until(&mut sim, 400, |s| s.local.last_seq >= 10));
    sim.cut();
    assert!(sim.subscribed.is_empty(), "{:?}", sim.subscribed);
    sim.run(100);
    assert_eq!(
        sim.machine.poll_timeout(),
        None,
        "nothing scheduled while down"
    );
    let creates = sim.creates().len();
    sim.restore();
    assert!(run_until(&mut sim, 400, |s| s.local.last_seq == 30));
    assert_eq!(sim.creates().len(), creates + 1);
    let last = sim.creates().last().cloned().expect("create");
    assert_eq!(last["config"]["deliver_policy"], "by_start_sequence");
}

#[test]
fn a_failed_store_recreates_from_what_is_stored() {
    let (mut m, deliver, c) = active_mirror(0);
    let now = T0 + SECONDS;
    push(&mut m, now, &deliver, &ack(&c, 1, 1, 0));
    push(&mut m, now, &deliver, &ack(&c, 2, 2, 0));
    // The store kept only 1.
    let local = LocalState {
        msgs: 1,
        first_seq: 1,
        last_seq: 1,
        last_time: 0,
    };
    m.store_failed(now, local, 2);
    assert!(recreated(&drain(&mut m), &deliver));
    let at = m.poll_timeout().expect("scheduled");
    m.handle_timeout(at);
    let body = drain(&mut m)
        .into_iter()
        .find_map(|a| match a {
            Action::Send { payload, .. } => Some(payload),
            _ => None,
        })
        .expect("create");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["config"]["opt_start_seq"], 2);
}

#[test]
fn a_delivery_naming_an_unknown_consumer_is_not_stored() {
    let mut origin = origin_with(3);
    origin.per_step = 1;
    let mut sim = mirror_of(origin);
    sim.start(None);
    sim.run(6);
    // A delivery on its subject for a consumer the machine never created is dropped.
    let deliver = sim
        .subscribed
        .iter()
        .find(|s| s.starts_with("$JS.M."))
        .cloned()
        .expect("sub");
    sim.to_local.push_front(Wire {
        via: deliver,
        subject: "o.9".into(),
        reply: "$JS.ACK.O.UNKNOWN.1.9.9.0.0".into(),
        headers: Vec::new(),
        payload: b"x".to_vec(),
    });
    assert!(run_until(&mut sim, 400, |s| s.local.last_seq == 3));
    sim.run(20);
    assert!(!sim.local.mirrored.contains_key(&9));
}

#[test]
fn a_stalled_consumer_repeating_its_heartbeat_gets_one_reply_once_durable() {
    let (mut m, deliver, c) = active_mirror(0);
    let now = T0 + SECONDS;
    let ticket = match push(&mut m, now, &deliver, &ack(&c, 1, 1, 0)).first() {
        Some(Action::StoreMirrored { ticket, .. }) => *ticket,
        other => panic!("{other:?}"),
    };
    let mut stalled = Headers::status(100, "Idle Heartbeat");
    stalled.insert("Nats-Last-Consumer", "1");
    stalled.insert("Nats-Consumer-Stalled", "$JS.FC.O.C1.9");
    let stalled = stalled.encode();
    for i in 0..5 {
        m.handle(
            now + i * SECONDS,
            Event::Delivery {
                via: &deliver,
                subject: &deliver,
                reply: "",
                headers: &stalled,
                payload: b"",
            },
        );
    }
    assert!(drain(&mut m).is_empty());
    m.durable(ticket);
    assert_eq!(drain(&mut m).len(), 1);
}

#[test]
fn a_stopped_mirror_stays_stopped_when_the_link_comes_back() {
    let (mut m, deliver, _) = active_mirror(0);
    m.stop();
    assert_eq!(drain(&mut m), vec![Action::Unsubscribe(deliver)]);
    m.handle(T0 + SECONDS, Event::LinkDown);
    m.handle(T0 + 2 * SECONDS, Event::LinkUp);
    assert_eq!(m.poll_timeout(), None);
    assert!(drain(&mut m).is_empty());
}
