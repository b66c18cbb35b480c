//! The engine hosting mirrors and sources, end to end and deterministic: streams created
//! through the API (each engine behind its JetStream front, as a shell holds it), their
//! machines driven by the engine itself, their messages stored in the stream. A tiny shell
//! plays the server: it syncs, routes what the engine sends back to the engine's own
//! subscriptions through its front (the loopback), and, for a second engine reached over a
//! link, carries messages both ways.

use bytes::Bytes;

use super::*;
use crate::core::consumer::AckPolicy;
use crate::core::engine::{EngineConfig, EngineEvent, StoreFactory};
use crate::core::front::JetStream;
use crate::core::headers::find_header;
use crate::core::message::{Destination, LinkId, Message, Outbound};
use crate::core::stream::InfoOptions;
use crate::core::time::MILLIS;

const STEP: Nanos = 100 * MILLIS;
const START: Nanos = 1_000_000_000_000;

/// One or two engines, each behind its front; engine 1 reaches engine 0 over link 1 when there
/// are two.
struct World {
    engines: Vec<JetStream>,
    link_up: bool,
    /// The edge's subscriptions on the hub, by its ids.
    link_subs: std::collections::BTreeMap<SubId, String>,
    now: Nanos,
}

fn local_sids(engine: &Engine, to: &str, dest: Destination) -> Vec<SubId> {
    engine
        .subscriptions()
        .filter(|(_, filter, d)| *d == dest && crate::core::subject::matches(filter, to))
        .map(|(sid, _, _)| sid)
        .collect()
}

impl World {
    fn one() -> World {
        World {
            engines: vec![JetStream::in_memory(11)],
            link_up: true,
            link_subs: Default::default(),
            now: START,
        }
    }

    /// Engine 0 is the hub; engine 1 routes `$JS.hub.API` to it over link 1.
    fn two() -> World {
        let mut edge = JetStream::in_memory(12);
        let engine = edge.engine_mut();
        engine.set_api_route("$JS.hub.API", Destination::Link(LinkId(1)));
        engine.link_up(LinkId(1), START);
        World {
            engines: vec![JetStream::in_memory(11), edge],
            link_up: true,
            link_subs: Default::default(),
            now: START,
        }
    }

    fn api(&mut self, at: usize, subject: &str, body: serde_json::Value) {
        let now = self.now;
        let msg = Message::new(subject.to_string(), body.to_string());
        assert!(self.engines[at].handle(msg, now), "{subject} handled");
        self.settle();
    }

    fn create(&mut self, at: usize, config: serde_json::Value) {
        let name = config["name"].as_str().unwrap_or_default().to_string();
        self.api(at, &format!("$JS.API.STREAM.CREATE.{name}"), config);
        assert!(self.engine(at).stream(&name).is_some(), "{name} created");
    }

    fn publish(&mut self, at: usize, subject: &str, payload: &str) {
        let now = self.now;
        let msg = Message::new(subject.to_string(), payload.to_string());
        assert!(self.engines[at].handle(msg, now));
        self.settle();
    }

    /// Syncs and routes until nothing moves (bounded).
    fn settle(&mut self) {
        for _ in 0..20 {
            let mut moved = false;
            for at in 0..self.engines.len() {
                let now = self.now;
                let engine = self.engines[at].engine_mut();
                engine.flush().result().expect("memory stores sync");
                let events: Vec<EngineEvent> = std::iter::from_fn(|| engine.poll_event()).collect();
                for event in events {
                    self.link_interest(event, now);
                }
                let engine = self.engines[at].engine_mut();
                let out: Vec<Outbound> = std::iter::from_fn(|| engine.poll_outbound()).collect();
                for o in out {
                    moved = true;
                    self.route(at, o, now);
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The edge's subscriptions over the link are subscribers on the hub (its push consumers
    /// deliver only while someone listens).
    fn link_interest(&mut self, event: EngineEvent, now: Nanos) {
        match event {
            EngineEvent::Subscribe {
                sid,
                subject,
                dest: Destination::Link(_),
            } => {
                self.engines[0]
                    .engine_mut()
                    .set_interest(&subject, true, now);
                self.link_subs.insert(sid, subject);
            }
            EngineEvent::Unsubscribe {
                sid,
                dest: Destination::Link(_),
            } => {
                if let Some(subject) = self.link_subs.remove(&sid) {
                    self.engines[0]
                        .engine_mut()
                        .set_interest(&subject, false, now);
                }
            }
            _ => {}
        }
    }

    fn route(&mut self, from: usize, o: Outbound, now: Nanos) {
        match o.dest {
            Destination::Local => {
                let front = &mut self.engines[from];
                for sid in local_sids(front.engine(), &o.to, Destination::Local) {
                    front.handle_subscribed(sid, o.msg.clone(), now);
                }
                // A local message may be for the edge's link subscriptions (hub → edge).
                if from == 0 && self.engines.len() > 1 && self.link_up {
                    let edge = &mut self.engines[1];
                    let link = Destination::Link(LinkId(1));
                    for sid in local_sids(edge.engine(), &o.to, link) {
                        edge.handle_subscribed(sid, o.msg.clone(), now);
                    }
                }
            }
            Destination::Link(_) if self.link_up => {
                // The edge publishes on the hub, as a client of it.
                let hub = &mut self.engines[0];
                let mut msg = o.msg;
                // The hub serves its domain's API as its own, as a domain hub maps it.
                msg.subject = match o.to.strip_prefix("$JS.hub.API.") {
                    Some(rest) => format!("$JS.API.{rest}"),
                    None => o.to,
                };
                let sids = local_sids(hub.engine(), &msg.subject, Destination::Local);
                for sid in sids {
                    hub.handle_subscribed(sid, msg.clone(), now);
                }
            }
            Destination::Link(_) => {}
        }
    }

    /// One step of time.
    fn tick(&mut self) {
        self.now += STEP;
        for front in &mut self.engines {
            let engine = front.engine_mut();
            if engine.poll_timeout().is_some_and(|at| at <= self.now) {
                engine.handle_timeout(self.now);
            }
        }
        self.settle();
    }

    fn run_until(&mut self, steps: usize, done: impl Fn(&World) -> bool) -> bool {
        for _ in 0..steps {
            if done(self) {
                return true;
            }
            self.tick();
        }
        done(self)
    }

    /// Engine `at`, to read.
    fn engine(&self, at: usize) -> &Engine {
        self.engines[at].engine()
    }

    fn last_seq(&self, at: usize, stream: &str) -> u64 {
        self.engine(at)
            .stream(stream)
            .map_or(0, |s| s.state().last_seq)
    }

    fn msgs(&self, at: usize, stream: &str) -> u64 {
        self.engine(at).stream(stream).map_or(0, |s| s.state().msgs)
    }

    fn info(&self, at: usize, stream: &str) -> crate::core::stream::StreamInfo {
        self.engine(at)
            .stream_info(stream, self.now, &InfoOptions::default())
            .expect("the stream exists")
    }

    fn load(&self, at: usize, stream: &str, seq: u64) -> Option<crate::core::store::StoredMsg> {
        self.engine(at).stream(stream)?.store().load_msg(seq).ok()
    }
}

fn origin(world: &mut World, at: usize, messages: u64) {
    world.create(at, serde_json::json!({"name": "O", "subjects": ["o.>"]}));
    for i in 1..=messages {
        world.publish(at, &format!("o.{i}"), &format!("m{i}"));
        world.now += 1;
    }
}

/// Every message of `mirror` equals the origin's at the same sequence, time included.
fn assert_same_as_origin(world: &World, at: usize, mirror: &str, last: u64) {
    for seq in 1..=last {
        let o = world.load(at, "O", seq);
        let m = world.load(at, mirror, seq);
        match (o, m) {
            (Some(o), Some(m)) => {
                assert_eq!(
                    (&o.subject, &o.payload, o.time),
                    (&m.subject, &m.payload, m.time)
                );
            }
            (None, None) => {}
            (o, m) => panic!("seq {seq}: origin {o:?}, mirror {m:?}"),
        }
    }
}

#[test]
fn a_mirror_catches_up_then_follows_at_the_origins_sequences_and_times() {
    let mut w = World::one();
    origin(&mut w, 0, 20);
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "O"}}));
    assert!(
        w.run_until(100, |w| w.last_seq(0, "M") == 20),
        "{:?}",
        w.info(0, "M").mirror
    );
    for i in 21..=25 {
        w.publish(0, &format!("o.{i}"), &format!("m{i}"));
    }
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 25));
    assert_same_as_origin(&w, 0, "M", 25);
    // The origin kept its own messages (deliveries are not captured again by their subject).
    assert_eq!(w.msgs(0, "O"), 25);
    let info = w.info(0, "M");
    let mirror = info.mirror.expect("a mirror reports its progress");
    assert_eq!((mirror.name.as_str(), mirror.lag), ("O", 0));
    assert!(mirror.active >= 0 && mirror.error.is_none(), "{mirror:?}");
    assert!(info.config.subjects.is_empty(), "a mirror has no subjects");
}

#[test]
fn messages_deleted_on_the_origin_are_gaps_at_the_same_sequences() {
    let mut w = World::one();
    origin(&mut w, 0, 10);
    for seq in [1, 4, 5] {
        w.api(
            0,
            "$JS.API.STREAM.MSG.DELETE.O",
            serde_json::json!({"seq": seq}),
        );
    }
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "O"}}));
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 10));
    assert_same_as_origin(&w, 0, "M", 10);
    let state = w
        .engine(0)
        .stream("M")
        .map(|s| s.state())
        .unwrap_or_default();
    assert_eq!((state.msgs, state.first_seq, state.num_deleted), (7, 2, 2));
}

#[test]
fn a_mirror_with_a_start_sequence_a_filter_and_transforms_takes_only_what_it_asks_for() {
    let mut w = World::one();
    origin(&mut w, 0, 10);
    w.create(
        0,
        serde_json::json!({"name": "M", "mirror": {"name": "O", "opt_start_seq": 4,
            "subject_transforms": [{"src": "o.*", "dest": "copy.{{wildcard(1)}}"}]}}),
    );
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 10));
    assert_eq!(w.msgs(0, "M"), 7);
    let m = w.load(0, "M", 4).expect("the start sequence");
    assert_eq!(m.subject, "copy.4");
    assert!(w.load(0, "M", 3).is_none());
}

#[test]
fn sources_store_each_message_once_with_its_origin_header() {
    let mut w = World::one();
    origin(&mut w, 0, 5);
    w.create(0, serde_json::json!({"name": "P", "subjects": ["p.>"]}));
    for i in 1..=3 {
        w.publish(0, &format!("p.{i}"), "p");
    }
    w.create(
        0,
        serde_json::json!({"name": "S", "sources": [{"name": "O"}, {"name": "P", "filter_subject": "p.2"}]}),
    );
    assert!(
        w.run_until(100, |w| w.msgs(0, "S") == 6),
        "{}",
        w.msgs(0, "S")
    );
    for i in 6..=8 {
        w.publish(0, &format!("o.{i}"), "late");
    }
    assert!(w.run_until(100, |w| w.msgs(0, "S") == 9));
    let mut marks = Vec::new();
    for seq in 1..=9 {
        let m = w.load(0, "S", seq).expect("stored in order");
        let headers = m.headers.unwrap_or_default();
        marks.push(
            find_header(&headers, "Nats-Stream-Source")
                .unwrap_or("")
                .to_string(),
        );
    }
    marks.sort();
    marks.dedup();
    assert_eq!(marks.len(), 9, "each message once: {marks:?}");
    assert!(marks.contains(&"O 7 > > o.7".to_string()), "{marks:?}");
    assert!(marks.contains(&"P 2 p.2 > p.2".to_string()), "{marks:?}");
    let info = w.info(0, "S");
    assert_eq!(info.sources.len(), 2);
    assert!(info.sources.iter().all(|s| s.lag == 0 && s.error.is_none()));
    // A stream update that drops a source stops it; the other goes on.
    w.api(
        0,
        "$JS.API.STREAM.UPDATE.S",
        serde_json::json!({"name": "S", "sources": [{"name": "O"}]}),
    );
    w.publish(0, "p.2", "after");
    w.publish(0, "o.9", "after");
    assert!(w.run_until(100, |w| w.msgs(0, "S") == 10));
    for _ in 0..30 {
        w.tick();
    }
    assert_eq!(w.msgs(0, "S"), 10, "the dropped source stored nothing more");
    assert_eq!(w.info(0, "S").sources.len(), 1);
}

#[test]
fn a_mirror_of_an_origin_that_does_not_exist_yet_reports_it_and_starts_once_it_does() {
    let mut w = World::one();
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "O"}}));
    assert!(w.run_until(50, |w| w
        .info(0, "M")
        .mirror
        .is_some_and(|m| m.error.is_some())));
    origin(&mut w, 0, 3);
    // The retry backoff after a failed create is 10 s per failure.
    assert!(
        w.run_until(1000, |w| w.last_seq(0, "M") == 3),
        "{:?}",
        w.info(0, "M").mirror
    );
    assert!(w.info(0, "M").mirror.is_some_and(|m| m.error.is_none()));
}

#[test]
fn a_mirror_across_a_link_follows_the_hub_and_survives_the_link_going_down() {
    let mut w = World::two();
    origin(&mut w, 0, 10);
    w.create(
        1,
        serde_json::json!({"name": "M", "mirror": {"name": "O", "external": {"api": "$JS.hub.API"}}}),
    );
    assert!(
        w.run_until(100, |w| w.last_seq(1, "M") == 10),
        "{:?}",
        w.info(1, "M").mirror
    );
    // The link goes down; the hub takes more; the link comes back.
    w.link_up = false;
    let now = w.now;
    w.engines[1].engine_mut().link_down(LinkId(1), now);
    for i in 11..=15 {
        w.publish(0, &format!("o.{i}"), &format!("m{i}"));
    }
    for _ in 0..20 {
        w.tick();
    }
    assert_eq!(w.last_seq(1, "M"), 10);
    w.link_up = true;
    let now = w.now;
    w.engines[1].engine_mut().link_up(LinkId(1), now);
    assert!(w.run_until(300, |w| w.last_seq(1, "M") == 15));
    for seq in 1..=15 {
        let (o, m) = (w.load(0, "O", seq), w.load(1, "M", seq));
        assert_eq!(
            o.map(|o| (o.payload, o.time)),
            m.map(|m| (m.payload, m.time))
        );
    }
    let mirror = w.info(1, "M").mirror.expect("mirror info");
    assert_eq!(
        mirror.external.map(|e| e.api),
        Some("$JS.hub.API".to_string())
    );
}

#[test]
fn flow_control_replies_wait_for_the_sync_of_what_they_vouch_for() {
    // The machine answers flow control only through the stream's outbox: with nothing synced
    // since the store, the reply is held.
    let mut w = World::one();
    origin(&mut w, 0, 3);
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "O"}}));
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 3));
    let engine = w.engines[0].engine_mut();
    let now = w.now;
    let deliver = engine
        .subscriptions()
        .find(|(_, s, _)| s.starts_with("$JS.M."))
        .map(|(sid, s, _)| (sid, s.to_string()))
        .expect("the mirror's deliver subscription");
    // A delivery and a flow-control request, as the origin would send them.
    let consumer = engine.consumer_names("O").unwrap_or_default();
    let consumer = consumer.first().cloned().unwrap_or_default();
    let mut delivery = Message::new("o.4", "m4");
    delivery.reply = Some(format!("$JS.ACK.O.{consumer}.1.4.4.{now}.0"));
    engine.handle_subscribed(deliver.0, delivery, now);
    let mut fc = Message::new(deliver.1.clone(), Bytes::new());
    fc.headers = Some(Bytes::from_static(
        b"NATS/1.0 100 FlowControl Request\r\n\r\n",
    ));
    fc.reply = Some("$JS.FC.O.test.1".to_string());
    engine.handle_subscribed(deliver.0, fc, now);
    let before: Vec<Outbound> = std::iter::from_fn(|| engine.poll_outbound()).collect();
    assert!(
        before.iter().all(|o| o.to != "$JS.FC.O.test.1"),
        "held before the sync"
    );
    engine.flush().result().expect("sync");
    let after: Vec<Outbound> = std::iter::from_fn(|| engine.poll_outbound()).collect();
    assert!(
        after.iter().any(|o| o.to == "$JS.FC.O.test.1"),
        "released by the sync"
    );
    assert_eq!(w.last_seq(0, "M"), 4);
}

#[test]
fn a_mirror_catches_up_a_long_origin_through_flow_control_without_stalling() {
    // 3000 messages of 1 KiB: past the origin consumer's first flow-control window (2 MiB), so
    // the catch-up goes on only as the mirror answers flow control, and all of it in a few
    // simulated seconds (a stall would wait for the 10 s health check).
    let mut w = World::one();
    w.create(0, serde_json::json!({"name": "O", "subjects": ["o.>"]}));
    let body = "x".repeat(1024);
    for i in 1..=3000 {
        w.publish(0, &format!("o.{}", i % 10), &body);
    }
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "O"}}));
    assert!(
        w.run_until(40, |w| w.last_seq(0, "M") == 3000),
        "{} {:?}",
        w.last_seq(0, "M"),
        w.info(0, "M").mirror
    );
    assert_eq!(w.msgs(0, "M"), 3000);
}

#[test]
fn a_failing_mirror_store_holds_its_flow_control_replies_until_a_sync_succeeds() {
    use crate::core::store::faulty::Faults;
    let faults = Faults::new();
    let memory: StoreFactory =
        Box::new(|_| Ok(Box::new(crate::core::store::memory::MemoryStore::new())));
    let engine = Engine::new(EngineConfig::default(), faults.factory(memory), 11);
    let mut w = World {
        engines: vec![JetStream::new(engine)],
        link_up: true,
        link_subs: Default::default(),
        now: START,
    };
    origin(&mut w, 0, 3);
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "O"}}));
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 3));
    let now = w.now;
    let engine = w.engines[0].engine_mut();
    let (sid, deliver) = engine
        .subscriptions()
        .find(|(_, s, _)| s.starts_with("$JS.M."))
        .map(|(sid, s, _)| (sid, s.to_string()))
        .expect("the mirror's deliver subscription");
    let consumer = engine.consumer_names("O").unwrap_or_default();
    let consumer = consumer.first().cloned().unwrap_or_default();
    let mut delivery = Message::new("o.4", "m4");
    delivery.reply = Some(format!("$JS.ACK.O.{consumer}.1.4.4.{now}.0"));
    engine.handle_subscribed(sid, delivery, now);
    let mut fc = Message::new(deliver, Bytes::new());
    fc.headers = Some(Bytes::from_static(
        b"NATS/1.0 100 FlowControl Request\r\n\r\n",
    ));
    fc.reply = Some("$JS.FC.O.test.2".to_string());
    engine.handle_subscribed(sid, fc, now);
    faults.fail_stream("M", true);
    assert!(engine.flush().result().is_err(), "the mirror's sync fails");
    let held: Vec<Outbound> = std::iter::from_fn(|| engine.poll_outbound()).collect();
    assert!(
        held.iter().all(|o| o.to != "$JS.FC.O.test.2"),
        "held while failing"
    );
    assert_eq!(faults.durable("M").last_seq, 3);
    faults.fail_stream("M", false);
    engine.flush().result().expect("the sync succeeds");
    let released: Vec<Outbound> = std::iter::from_fn(|| engine.poll_outbound()).collect();
    assert!(released.iter().any(|o| o.to == "$JS.FC.O.test.2"));
    assert_eq!(
        faults.durable("M").last_seq,
        4,
        "what it vouched for is durable"
    );
}

#[test]
fn a_work_queue_origin_keeps_each_message_until_its_consumer_and_its_mirror_have_it() {
    let mut w = World::one();
    w.create(
        0,
        serde_json::json!({"name": "Q", "subjects": ["q.>"], "retention": "workqueue"}),
    );
    w.api(
        0,
        "$JS.API.CONSUMER.CREATE.Q.W",
        serde_json::json!({"stream_name": "Q",
            "config": {"durable_name": "W", "ack_policy": "explicit"}}),
    );
    for i in 1..=3 {
        w.publish(0, &format!("q.{i}"), &format!("m{i}"));
    }
    // Its mirror's consumer (2.14's durable, acked by flow control) is outside the
    // one-consumer rule: no 10098, no 10099.
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "Q"}}));
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 3));
    assert_eq!(w.msgs(0, "Q"), 3, "W has not acknowledged them yet");
    let engine = w.engine(0);
    let public = engine.public_consumer_names("Q").unwrap_or_default();
    assert_eq!(public.len(), 2, "{public:?}");
    assert!(public[0].starts_with("JS_MIRROR_") && public[1] == "W");
    let copy = engine
        .consumer_info("Q", &public[0], w.now)
        .expect("listed");
    assert_eq!(copy.config.ack_policy, AckPolicy::FlowControl);
    let saved = engine.stream("Q").map(|s| s.store().consumers());
    let saved: Vec<String> = saved
        .and_then(Result::ok)
        .map(|c| c.into_keys().collect())
        .unwrap_or_default();
    assert_eq!(saved, public, "a durable is saved");
    assert_eq!(w.info(0, "Q").state.consumer_count, 2);
    // W takes and acknowledges all three: the mirror has them too, so they leave.
    let now = w.now;
    let front = &mut w.engines[0];
    let pull =
        Message::new("$JS.API.CONSUMER.MSG.NEXT.Q.W", r#"{"batch":3}"#).with_reply("_INBOX.w");
    assert!(front.handle(pull, now));
    let engine = front.engine_mut();
    engine.flush().result().expect("sync");
    let acks: Vec<String> = std::iter::from_fn(|| engine.poll_outbound())
        .filter(|o| o.to == "_INBOX.w")
        .filter_map(|o| o.msg.reply)
        .collect();
    assert_eq!(acks.len(), 3, "{acks:?}");
    for ack in acks {
        engine.handle(Message::new(ack, "+ACK"), now);
    }
    w.settle();
    // Once the mirror's flow-control answer (at the next heartbeat) says it holds them too.
    assert!(w.run_until(100, |w| w.msgs(0, "Q") == 0));
    assert_eq!(w.msgs(0, "M"), 3);
}

#[test]
fn a_mirror_names_its_account_in_its_origin_consumer() {
    let factory: StoreFactory =
        Box::new(|_| Ok(Box::new(crate::core::store::memory::MemoryStore::new())));
    let config = EngineConfig {
        account: Some("ACME".to_string()),
        ..EngineConfig::default()
    };
    let mut w = World::one();
    w.engines[0] = JetStream::new(Engine::new(config, factory, 11));
    origin(&mut w, 0, 2);
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "O"}}));
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 2));
    let expected = format!(
        "JS_MIRROR_{}",
        crate::core::sourcing::hash::stable_consumer_hash("M", "ACME", "")
    );
    // On a limits origin the copy's fixed name gets a unique suffix, as 2.14 gives it.
    let names = w.engine(0).consumer_names("O").unwrap_or_default();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with(&format!("{expected}-")), "{names:?}");
    let info = w
        .engine(0)
        .consumer_info("O", &names[0], w.now)
        .expect("the mirror's consumer");
    assert_eq!(
        info.config
            .metadata
            .get("_nats.mirror.acc")
            .map(String::as_str),
        Some("ACME")
    );
    assert!(info.config.direct);
}

#[test]
fn a_hubs_work_queue_lets_go_of_what_a_mirror_took_after_coming_back() {
    let mut w = World::two();
    w.create(
        0,
        serde_json::json!({"name": "Q", "subjects": ["q.>"], "retention": "workqueue"}),
    );
    for i in 1..=5 {
        w.publish(0, &format!("q.{i}"), &format!("m{i}"));
    }
    w.create(
        1,
        serde_json::json!({"name": "M", "mirror": {"name": "Q", "external": {"api": "$JS.hub.API"}}}),
    );
    assert!(w.run_until(100, |w| w.last_seq(1, "M") == 5 && w.msgs(0, "Q") == 0));
    // The link goes down (the hub loses the edge's subscriptions) while work is queued.
    w.link_up = false;
    let now = w.now;
    w.engines[1].engine_mut().link_down(LinkId(1), now);
    let subs: Vec<String> = std::mem::take(&mut w.link_subs).into_values().collect();
    for subject in subs {
        w.engines[0].engine_mut().set_interest(&subject, false, now);
    }
    for i in 6..=10 {
        w.publish(0, &format!("q.{i}"), &format!("m{i}"));
    }
    for _ in 0..20 {
        w.tick();
    }
    assert_eq!(w.msgs(0, "Q"), 5);
    // Back before the old consumer ends: the new one takes 6..10 while the old still needs
    // them; once the old one ends by inactivity, the hub lets go of them.
    w.link_up = true;
    let now = w.now;
    w.engines[1].engine_mut().link_up(LinkId(1), now);
    assert!(w.run_until(300, |w| w.last_seq(1, "M") == 10));
    assert!(
        w.run_until(300, |w| w.msgs(0, "Q") == 0),
        "{:?}",
        w.engine(0).consumer_names("Q")
    );
    for seq in 1..=10 {
        let m = w.load(1, "M", seq).map(|m| m.payload);
        assert_eq!(m, Some(Bytes::from(format!("m{seq}"))));
    }
}

#[test]
fn work_nobody_took_stays_when_a_mirrors_consumer_ends() {
    let mut w = World::one();
    w.create(
        0,
        serde_json::json!({"name": "Q", "subjects": ["q.>"], "retention": "workqueue"}),
    );
    w.create(0, serde_json::json!({"name": "M", "mirror": {"name": "Q"}}));
    w.publish(0, "q.1", "m1");
    assert!(w.run_until(100, |w| w.last_seq(0, "M") == 1 && w.msgs(0, "Q") == 0));
    // The mirror goes; its durable on Q stays (as on 2.14, until someone deletes it) and
    // keeps the work queued since.
    w.api(0, "$JS.API.STREAM.DELETE.M", serde_json::json!({}));
    for i in 2..=4 {
        w.publish(0, &format!("q.{i}"), &format!("m{i}"));
    }
    for _ in 0..300 {
        w.tick();
    }
    let names = w.engine(0).consumer_names("Q").unwrap_or_default();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(w.msgs(0, "Q"), 3);
    // Deleted, it takes nothing with it: nobody took that work.
    let subject = format!("$JS.API.CONSUMER.DELETE.Q.{}", names[0]);
    w.api(0, &subject, serde_json::json!({}));
    assert_eq!(w.engine(0).consumer_names("Q").ok(), Some(vec![]));
    assert_eq!(w.msgs(0, "Q"), 3, "nobody took them");
}

#[test]
fn machine_keys_order_by_stream_then_index_whether_or_not_their_names_are_shared() {
    let mirror = Key::new("M", "");
    let shared = mirror.clone();
    let rebuilt = Key::new("M", "");
    assert_eq!(mirror, shared);
    assert_eq!(mirror, rebuilt, "equal names are equal keys, shared or not");
    let mut keys = BTreeMap::new();
    for (stream, index) in [("N", ""), ("M", "b"), ("MM", ""), ("M", "a")] {
        keys.insert(Key::new(stream, index), ());
    }
    keys.insert(mirror, ());
    let m: Vec<&str> = keys
        .range(stream_range("M"))
        .take_while(|(key, _)| key.stream() == "M")
        .map(|(key, _)| key.index())
        .collect();
    assert_eq!(
        m,
        ["", "a", "b"],
        "a stream's machines are neighbours, the mirror first"
    );
    assert!(keys.contains_key(&rebuilt));
    assert_eq!(keys.len(), 5);
}
