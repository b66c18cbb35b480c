//! The surface serves the mirror state machine ([`crate::core::sourcing`]) against a LOCAL
//! origin: the machine's consumer create goes to the engine's own API and its deliveries and
//! flow-control requests come back on its deliver subject, all through the engine's
//! subscriptions, `transmit` and `poll_received`, with a test shell doing the loopback. The
//! mirror's stores go to a plain record here (the engine does not host mirror streams yet), so
//! this proves the traffic, not the storing.
//!
//! A local origin's deliveries of messages synced before overtake the create reply (it waits
//! for the consumer's write to sync); the shell hands everything to the machine as it comes,
//! and the machine keeps those deliveries until the reply (`sourcing::machine::early`).

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use super::*;
use crate::core::message::{Destination, Message};
use crate::core::sourcing::{
    Action, Event, LocalState, Role, Sourcing, SourcingSetup, StreamSource,
};
use crate::core::time::MILLIS;

const STEP: Nanos = 100 * MILLIS;

/// The engine, one mirror machine, and what the mirror stored.
struct Harness {
    engine: Engine,
    machine: Sourcing,
    /// The machine's subjects ↔ the engine's subscriptions.
    sids: HashMap<String, SubId>,
    subjects: HashMap<SubId, String>,
    /// Reply subjects of the machine's requests (its create inboxes).
    inboxes: HashSet<String>,
    /// Origin sequence → (subject, payload, time), as stored by the mirror.
    mirrored: BTreeMap<u64, (String, Bytes, Nanos)>,
    creates: usize,
    flow_control_replies: usize,
    now: Nanos,
}

fn header_block(headers: &[(String, String)]) -> Option<Bytes> {
    if headers.is_empty() {
        return None;
    }
    let mut block = String::from("NATS/1.0\r\n");
    for (name, value) in headers {
        block.push_str(&format!("{name}: {value}\r\n"));
    }
    block.push_str("\r\n");
    Some(Bytes::from(block))
}

impl Harness {
    fn new(origin_messages: u64) -> Harness {
        let mut engine = Engine::in_memory(11);
        let now = 1_000_000_000;
        engine
            .create_stream_for_test("O", "o.>", now)
            .expect("the origin stream");
        for i in 1..=origin_messages {
            assert!(engine.handle(Message::new(format!("o.{i}"), format!("m{i}")), now));
        }
        engine.flush().result().expect("memory stores sync");
        while engine.poll_outbound().is_some() {}
        let mut machine = Sourcing::new(SourcingSetup {
            role: Role::Mirror,
            source: StreamSource {
                name: "O".into(),
                ..Default::default()
            },
            stream: "M".into(),
            account: "$G".into(),
            domain: String::new(),
            origin_sourced_twice: false,
            seed: 5,
        });
        machine.start(now, LocalState::default(), None);
        Harness {
            engine,
            machine,
            sids: HashMap::new(),
            subjects: HashMap::new(),
            inboxes: HashSet::new(),
            mirrored: BTreeMap::new(),
            creates: 0,
            flow_control_replies: 0,
            now,
        }
    }

    fn last_seq(&self) -> u64 {
        self.mirrored.keys().next_back().copied().unwrap_or(0)
    }

    /// Carries out what the machine asks, through the engine's surface.
    fn carry_out(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::Subscribe(subject) => {
                    let sid = self
                        .engine
                        .subscribe(&subject, Destination::Local)
                        .expect("the machine's subjects are valid");
                    // The engine's own subscription is interest for a push consumer.
                    self.engine.set_interest(&subject, true, self.now);
                    self.sids.insert(subject.clone(), sid);
                    self.subjects.insert(sid, subject);
                }
                Action::Unsubscribe(subject) => {
                    if let Some(sid) = self.sids.remove(&subject) {
                        self.subjects.remove(&sid);
                        self.engine.unsubscribe(sid);
                        self.engine.set_interest(&subject, false, self.now);
                    }
                }
                Action::Send {
                    subject,
                    reply,
                    headers,
                    payload,
                } => {
                    if subject.contains(".CONSUMER.CREATE.") {
                        self.creates += 1;
                    } else {
                        self.flow_control_replies += 1;
                    }
                    if let Some(reply) = &reply {
                        self.inboxes.insert(reply.clone());
                    }
                    let msg = Message {
                        subject,
                        reply,
                        headers: header_block(&headers),
                        payload,
                    };
                    self.engine.transmit(Destination::Local, msg);
                }
                Action::StoreMirrored {
                    seq,
                    time,
                    subject,
                    payload,
                    ticket,
                    ..
                } => {
                    assert_eq!(seq, self.last_seq() + 1, "stored in order, no gaps");
                    self.mirrored.insert(seq, (subject, payload, time));
                    self.machine.durable(ticket);
                }
                Action::SkipMirrored { ticket, .. } | Action::ResetMirrorFirst { ticket, .. } => {
                    self.machine.durable(ticket);
                }
                Action::StoreSourced { .. } => panic!("a mirror stores no sourced messages"),
            }
        }
    }

    /// One step of the shell: the engine's output (local loopback by subscription), what the
    /// machine received, the timers.
    fn step(&mut self) {
        self.carry_out();
        for _ in 0..10 {
            self.engine.flush().result().expect("memory stores sync");
            while self.engine.poll_event().is_some() {}
            let out: Vec<Outbound> = std::iter::from_fn(|| self.engine.poll_outbound()).collect();
            if out.is_empty() {
                break;
            }
            for o in out {
                let sids: Vec<SubId> = self
                    .engine
                    .subscriptions()
                    .filter(|(_, filter, dest)| {
                        *dest == Destination::Local && crate::core::subject::matches(filter, &o.to)
                    })
                    .map(|(sid, _, _)| sid)
                    .collect();
                for sid in sids {
                    self.engine.handle_subscribed(sid, o.msg.clone(), self.now);
                }
            }
            while let Some((sid, msg)) = self.engine.poll_received() {
                let Some(via) = self.subjects.get(&sid).cloned() else {
                    continue;
                };
                if self.inboxes.contains(&via) {
                    let event = Event::Response {
                        subject: &via,
                        payload: &msg.payload,
                    };
                    self.machine.handle(self.now, event);
                } else {
                    self.deliver(&via, &msg);
                }
            }
            self.carry_out();
        }
        self.now += STEP;
        if self.engine.poll_timeout().is_some_and(|at| at <= self.now) {
            self.engine.handle_timeout(self.now);
        }
        if self.machine.poll_timeout().is_some_and(|at| at <= self.now) {
            self.machine.handle_timeout(self.now);
        }
    }

    fn deliver(&mut self, via: &str, msg: &Message) {
        let event = Event::Delivery {
            via,
            subject: &msg.subject,
            reply: msg.reply.as_deref().unwrap_or(""),
            headers: msg.headers.as_deref().unwrap_or(b""),
            payload: &msg.payload,
        };
        self.machine.handle(self.now, event);
    }

    fn run_until(&mut self, steps: usize, done: impl Fn(&Harness) -> bool) -> bool {
        for _ in 0..steps {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }
}

impl Engine {
    /// A stream for these tests, made through the API as a client would.
    fn create_stream_for_test(&mut self, name: &str, subject: &str, now: Nanos) -> Option<()> {
        let body = format!(r#"{{"name":"{name}","subjects":["{subject}"]}}"#);
        let subject = format!("$JS.API.STREAM.CREATE.{name}");
        self.handle(Message::new(subject, body), now)
            .then_some(())
            .filter(|()| self.stream(name).is_some())
    }
}

#[test]
fn a_mirror_of_a_local_stream_follows_it_through_the_engine_surface() {
    let mut h = Harness::new(20);
    assert!(
        h.run_until(200, |h| h.last_seq() == 20),
        "mirrored {} of 20 (creates: {}, info: {:?})",
        h.last_seq(),
        h.creates,
        h.machine.info(h.now)
    );
    assert_eq!(h.creates, 1, "one consumer created on the local origin");
    for (seq, (subject, payload, _)) in &h.mirrored {
        assert_eq!(subject, &format!("o.{seq}"));
        assert_eq!(payload, &format!("m{seq}"));
    }
    // New publishes on the origin follow.
    let now = h.now;
    for i in 21..=25 {
        assert!(h
            .engine
            .handle(Message::new(format!("o.{i}"), format!("m{i}")), now));
    }
    assert!(h.run_until(100, |h| h.last_seq() == 25), "{}", h.last_seq());
    // The origin kept its own messages (deliveries are not re-captured by their subject).
    assert_eq!(h.engine.stream("O").map(|s| s.state().msgs), Some(25));
    assert_eq!(h.machine.info(h.now).lag, 0);
}
