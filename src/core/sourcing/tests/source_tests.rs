//! The source rules: `Nats-Stream-Source` on each stored message, transforms, filtered origins
//! with sequence gaps, delivery gaps, and resuming after a restart from the stored headers.

use serde_json::json;

use super::hand::{drain, run_until, started};
use super::origin::{Origin, Sim, T0};
use crate::core::headers::{find_header, Headers};
use crate::core::sourcing::{resume_points, Action, Event, Role, Sourcing, StreamSource};
use crate::core::stream::SubjectTransformConfig;
use crate::core::time::SECONDS;

fn source_of(source: StreamSource, origin: Origin) -> Sim {
    Sim::new(Role::Source, source, origin, 11)
}

#[test]
fn sourced_messages_carry_their_origin_and_take_new_sequences() {
    let mut origin = Origin::new("O");
    for i in 1..=7 {
        origin.publish(&format!("o.{}", i % 2), &format!("m{i}"), T0 + i);
    }
    let mut sim = source_of(
        StreamSource {
            name: "O".into(),
            subject_transforms: vec![SubjectTransformConfig {
                src: "o.*".into(),
                dest: "local.{{wildcard(1)}}".into(),
            }],
            ..Default::default()
        },
        origin,
    );
    sim.start(None);
    assert!(run_until(&mut sim, 300, |s| s.local.sourced.len() == 7));
    assert_eq!(sim.local.last_seq, 7);
    let (subject, headers, payload) = &sim.local.sourced[2];
    assert_eq!(subject, "local.1");
    assert_eq!(payload, b"m3");
    assert_eq!(
        find_header(headers, "Nats-Stream-Source"),
        Some("O 3 o.* local.{{wildcard(1)}} o.1")
    );
    assert_eq!(sim.local.sourced_origin_seqs(), (1..=7).collect::<Vec<_>>());
}

#[test]
fn a_filtered_origin_skips_sequences_without_recreating() {
    let mut origin = Origin::new("O");
    for i in 1..=12 {
        origin.publish(if i % 3 == 0 { "o.keep" } else { "o.skip" }, "x", T0);
    }
    // The model origin ignores filters; simulate one by removing what a filter would skip.
    for seq in 1..=12 {
        if seq % 3 != 0 {
            origin.delete_undelivered(seq);
        }
    }
    let mut sim = source_of(
        StreamSource {
            name: "O".into(),
            filter_subject: "o.keep".into(),
            ..Default::default()
        },
        origin,
    );
    sim.start(None);
    assert!(run_until(&mut sim, 300, |s| s.local.sourced.len() == 4));
    sim.run(50);
    assert_eq!(sim.local.sourced_origin_seqs(), vec![3, 6, 9, 12]);
    assert_eq!(sim.creates().len(), 1, "no recreate for sequence gaps");
    assert_eq!(sim.creates()[0]["config"]["filter_subject"], "o.keep");
}

fn active_source() -> (Sourcing, String) {
    let mut m = started(Role::Source, "S", 5);
    let at = m.poll_timeout().expect("scheduled");
    m.handle_timeout(at);
    let (mut deliver, mut inbox) = (String::new(), String::new());
    while let Some(a) = m.poll_action() {
        if let Action::Subscribe(s) = a {
            if s.starts_with("$JS.S.") {
                deliver = s;
            } else {
                inbox = s;
            }
        }
    }
    let body = json!({"name": "C", "config": {"deliver_subject": deliver},
        "delivered": {"stream_seq": 0}})
    .to_string();
    m.handle(
        at,
        Event::Response {
            subject: &inbox,
            payload: body.as_bytes(),
        },
    );
    while m.poll_action().is_some() {}
    (m, deliver)
}

fn push(m: &mut Sourcing, via: &str, sseq: u64, dseq: u64, headers: &[u8]) -> Vec<Action> {
    let reply = format!("$JS.ACK.O.C.1.{sseq}.{dseq}.{T0}.0");
    m.handle(
        T0 + SECONDS,
        Event::Delivery {
            via,
            subject: "o.a",
            reply: &reply,
            headers,
            payload: b"p",
        },
    );
    drain(m)
}

#[test]
fn origin_headers_are_cleaned_and_the_source_header_replaced() {
    let (mut m, deliver) = active_source();
    let mut h = Headers::new();
    h.insert("Nats-Expected-Last-Sequence", "4");
    h.insert("Nats-Batch-Id", "b");
    h.insert("Nats-Stream-Source", "UPSTREAM 9 > > o.a");
    h.insert("Nats-Msg-Id", "id-1");
    let actions = push(&mut m, &deliver, 1, 1, &h.encode());
    let [Action::StoreSourced {
        headers,
        origin_seq: 1,
        ..
    }] = actions.as_slice()
    else {
        panic!("{actions:?}")
    };
    let stored = Headers::parse(headers).expect("headers");
    let names: Vec<&str> = stored.iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["Nats-Msg-Id", "Nats-Stream-Source"]);
    assert_eq!(stored.get("Nats-Stream-Source"), Some("O 1 > > o.a"));
}

#[test]
fn a_source_delivery_gap_recreates_at_the_next_origin_sequence() {
    let (mut m, deliver) = active_source();
    push(&mut m, &deliver, 4, 1, b"");
    let actions = push(&mut m, &deliver, 9, 3, b"");
    assert!(
        actions.contains(&Action::Unsubscribe(deliver.clone())),
        "{actions:?}"
    );
    let at = m.poll_timeout().expect("scheduled");
    m.handle_timeout(at);
    let create = std::iter::from_fn(|| m.poll_action())
        .find_map(|a| match a {
            Action::Send { payload, .. } => {
                serde_json::from_slice::<serde_json::Value>(&payload).ok()
            }
            _ => None,
        })
        .expect("create");
    assert_eq!(create["config"]["opt_start_seq"], 5);
}

#[test]
fn a_restarted_source_resumes_after_its_last_stored_origin_sequence() {
    let mut origin = Origin::new("O");
    for i in 1..=20 {
        origin.publish("o.a", &format!("m{i}"), T0 + i);
    }
    let source = StreamSource {
        name: "O".into(),
        ..Default::default()
    };
    let mut sim = source_of(source.clone(), origin);
    sim.start(None);
    assert!(run_until(&mut sim, 400, |s| s.local.sourced.len() >= 9));
    // Killed: whatever was stored survives, the machine does not.
    let kept = std::mem::take(&mut sim.local);
    let mut origin = std::mem::take(&mut sim.origin);
    for i in 21..=25 {
        origin.publish("o.a", &format!("m{i}"), T0 + i);
    }
    let mut restarted = source_of(source.clone(), origin);
    restarted.local = kept;
    let newest_first: Vec<&[u8]> = restarted
        .local
        .sourced
        .iter()
        .rev()
        .map(|(_, h, _)| h.as_slice())
        .collect();
    let points = resume_points(std::slice::from_ref(&source), newest_first);
    let resume = points.get(&source.index_name()).copied();
    let stored_before = restarted.local.sourced.len() as u64;
    assert_eq!(resume, Some(stored_before));
    restarted.start(resume);
    assert!(run_until(&mut restarted, 600, |s| s.local.sourced.len() == 25));
    restarted.run(40);
    assert_eq!(
        restarted.creates()[0]["config"]["opt_start_seq"],
        stored_before + 1
    );
    assert_eq!(
        restarted.local.sourced_origin_seqs(),
        (1..=25).collect::<Vec<_>>()
    );
}

#[test]
fn opt_start_seq_applies_to_a_source_that_has_sourced_nothing() {
    let mut origin = Origin::new("O");
    for i in 1..=6 {
        origin.publish("o.a", "x", T0 + i);
    }
    let mut sim = source_of(
        StreamSource {
            name: "O".into(),
            opt_start_seq: 4,
            ..Default::default()
        },
        origin,
    );
    sim.start(None);
    assert!(run_until(&mut sim, 300, |s| s.local.sourced.len() == 3));
    assert_eq!(sim.local.sourced_origin_seqs(), vec![4, 5, 6]);
}
