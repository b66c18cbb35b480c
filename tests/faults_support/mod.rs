//! The fault scenario shared by the `engine_faults*` test files: a JetStream front over three
//! streams (two with a durable pull consumer `W`) whose stores fail on a schedule
//! ([`Faults`]), driven by [`Step`]s; [`Run`] keeps what was asked and checks everything the
//! engine releases against what the stores made durable. See `engine_faults.rs` for the rules.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use bytes::Bytes;
use contrail::core::consumer::parse_ack_subject;
use contrail::core::engine::{Engine, EngineConfig, FlushTicket, StoreFactory};
use contrail::core::front::JetStream;
use contrail::core::message::{Message, Outbound};
use contrail::core::store::faulty::Faults;
use contrail::core::store::memory::MemoryStore;
use contrail::core::store::{StoreError, StreamStore};
use contrail::server::file_store::{FileStore, FileStoreConfig};
use proptest::prelude::*;

/// Streams of the scenario; the first two have a durable pull consumer `W`.
pub const STREAMS: [&str; 3] = ["A", "B", "C"];
pub const WITH_CONSUMER: usize = 2;
pub const NOW: i64 = 1_700_000_000_000_000_000;

/// What fails at one flush.
#[derive(Debug, Clone)]
pub enum Fault {
    None,
    /// Every sync and save (a full disk; several in a row: failing for a while).
    All,
    /// Every call of one stream's store.
    Stream(usize),
    /// The Nth sync or save of this flush.
    Nth(u64),
}

#[derive(Debug, Clone)]
pub enum Step {
    Publish(usize),
    Pull {
        stream: usize,
        batch: u32,
    },
    /// Acks (with a reply) one of the delivered, unacknowledged messages.
    Ack {
        stream: usize,
        pick: usize,
    },
    /// MSG.GET of one sequence (stored, not yet durable, or never stored).
    Get {
        stream: usize,
        seq: u64,
    },
    Flush(Fault),
    /// Two-phase path only: completes every flush ticket in flight (a no-op elsewhere).
    Settle,
}

pub fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        2 => Just(Fault::None),
        2 => Just(Fault::All),
        2 => (0..STREAMS.len()).prop_map(Fault::Stream),
        3 => (1u64..6).prop_map(Fault::Nth),
    ]
}

pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..STREAMS.len()).prop_map(Step::Publish),
        1 => (0..WITH_CONSUMER, 1u32..4).prop_map(|(stream, batch)| Step::Pull { stream, batch }),
        3 => (0..WITH_CONSUMER, 0usize..8).prop_map(|(stream, pick)| Step::Ack { stream, pick }),
        1 => (0..STREAMS.len(), 1u64..8).prop_map(|(stream, seq)| Step::Get { stream, seq }),
        3 => fault().prop_map(Step::Flush),
        1 => Just(Step::Settle),
    ]
}

/// The scenario's bookkeeping: what was asked and what the engine released.
pub struct Run {
    pub front: JetStream,
    pub faults: Faults,
    /// The two-phase path: stores queue their syncs, and flush tickets are completed later,
    /// each with the outcome its flush's fault says.
    queued: bool,
    /// Tickets in flight (two-phase path), oldest first, with the failure to complete them with.
    in_flight: VecDeque<(FlushTicket, Option<StoreError>)>,
    /// An input was handled since the last flush (its replies are not due yet).
    handled_since_flush: bool,
    published: [u64; 3],
    /// PubAck'd sequences, per stream.
    pub acked: [BTreeSet<u64>; 3],
    /// Publishes refused (10023), per stream: at once (nothing stored) or at a failed flush.
    pub refused: [u64; 3],
    /// Sequences taken by publishes refused at a failed flush that was not taken back, per
    /// stream: still queued in the store, so they may be stored later.
    pub refused_queued: [BTreeSet<u64>; 3],
    /// The sequence each publish took (by its number), per stream; none when refused at once.
    took: [BTreeMap<u64, u64>; 3],
    /// Publishes answered, by number, per stream (each exactly once).
    answered: [BTreeSet<u64>; 3],
    /// Delivered, not yet acked: ack subjects per stream.
    pub unacked: [Vec<String>; 3],
    acks_sent: u64,
    pub ack_replies: u64,
    /// MSG.GET replies released (each checked to carry a durable message).
    pub gets: u64,
    /// Deliveries released, per stream.
    pub delivered: [u64; 3],
}

impl Run {
    pub fn new(make_store: StoreFactory) -> Run {
        Run::with(make_store, false)
    }

    /// A run on the two-phase path: the stores `make_store` makes only queue their syncs.
    pub fn queued(make_store: StoreFactory) -> Run {
        Run::with(make_store, true)
    }

    fn with(make_store: StoreFactory, queued: bool) -> Run {
        let faults = Faults::new();
        let factory = match queued {
            true => faults.queued_factory(make_store),
            false => faults.factory(make_store),
        };
        let mut run = Run {
            front: JetStream::new(Engine::new(EngineConfig::default(), factory, 1)),
            faults,
            queued,
            in_flight: VecDeque::new(),
            handled_since_flush: false,
            published: [0; 3],
            acked: Default::default(),
            refused: [0; 3],
            refused_queued: Default::default(),
            took: Default::default(),
            answered: Default::default(),
            unacked: Default::default(),
            acks_sent: 0,
            ack_replies: 0,
            gets: 0,
            delivered: [0; 3],
        };
        for (i, name) in STREAMS.iter().enumerate() {
            let subject = name.to_lowercase();
            run.api(
                &format!("STREAM.CREATE.{name}"),
                &format!(r#"{{"subjects":["{subject}.>"]}}"#),
            );
            if i < WITH_CONSUMER {
                run.api(
                    &format!("CONSUMER.DURABLE.CREATE.{name}.W"),
                    &format!(r#"{{"stream_name":"{name}","config":{{"durable_name":"W","ack_policy":"explicit"}}}}"#),
                );
            }
        }
        let flushed = run
            .flush_and_check()
            .expect("setup releases only durable state");
        assert_eq!(flushed, Ok(()), "setup flush fails nothing");
        run.settle_all().expect("setup releases only durable state");
        run
    }

    pub fn api(&mut self, subject: &str, body: &str) {
        let msg = Message::new(format!("$JS.API.{subject}"), Bytes::from(body.to_string()))
            .with_reply("api");
        assert!(self.front.handle(msg, NOW));
    }

    /// Hands a client's message to the front, which must take it.
    pub fn send(&mut self, msg: Message) {
        assert!(self.front.handle(msg, NOW));
    }

    /// Flushes as a shell does, without checking what it released: the flush's outcome.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.front.engine_mut().flush().result()
    }

    /// Flushes, handing back the ticket for the test to complete (two-phase path).
    pub fn flush_ticket(&mut self) -> FlushTicket {
        self.front.engine_mut().flush()
    }

    /// The next message released, if any.
    pub fn poll(&mut self) -> Option<Outbound> {
        self.front.engine_mut().poll_outbound()
    }

    /// Everything released now.
    pub fn released(&mut self) -> Vec<Outbound> {
        std::iter::from_fn(|| self.poll()).collect()
    }

    /// Where everything released now goes.
    pub fn released_to(&mut self) -> Vec<String> {
        self.released().into_iter().map(|o| o.to).collect()
    }

    /// The next message released, which must be there (`what` says what it is): where it goes
    /// and its JSON body.
    pub fn answer(&mut self, what: &str) -> (String, serde_json::Value) {
        let out = self.poll().expect(what);
        let body = json(&out);
        (out.to, body)
    }

    /// Every message released now, each where it goes and its JSON body.
    pub fn answers(&mut self) -> Vec<(String, serde_json::Value)> {
        self.released()
            .into_iter()
            .map(|o| {
                let body = json(&o);
                (o.to, body)
            })
            .collect()
    }

    /// How many messages stream `name` holds (none: no such stream).
    pub fn msgs(&self, name: &str) -> Option<u64> {
        self.front
            .engine()
            .stream(name)
            .map(|s| s.store().state().msgs)
    }

    pub fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        if !matches!(step, Step::Flush(_) | Step::Settle) {
            self.handled_since_flush = true;
        }
        match *step {
            Step::Publish(s) => {
                let n = self.published[s];
                self.published[s] += 1;
                let subject = format!("{}.x", STREAMS[s].to_lowercase());
                let msg = Message::new(subject, Bytes::from_static(b"payload"))
                    .with_reply(format!("pub.{s}.{n}"));
                let last_seq = |engine: &Engine| {
                    engine
                        .stream(STREAMS[s])
                        .map_or(0, |st| st.store().state().last_seq)
                };
                let before = last_seq(self.front.engine());
                prop_assert!(self.front.handle(msg, NOW));
                let after = last_seq(self.front.engine());
                if after != before {
                    self.took[s].insert(n, after);
                }
            }
            Step::Pull { stream, batch } => {
                let msg = Message::new(
                    format!("$JS.API.CONSUMER.MSG.NEXT.{}.W", STREAMS[stream]),
                    Bytes::from(format!(r#"{{"batch":{batch}}}"#)),
                )
                .with_reply(format!("pull.{stream}"));
                prop_assert!(self.front.handle(msg, NOW));
            }
            Step::Ack { stream, pick } => {
                if !self.unacked[stream].is_empty() {
                    let subject = self.unacked[stream].remove(pick % self.unacked[stream].len());
                    let seq = parse_ack_subject(&subject).map_or(0, |a| a.stream_seq);
                    let msg = Message::new(subject, Bytes::from_static(b"+ACK"))
                        .with_reply(format!("ackr.{stream}.{seq}"));
                    self.acks_sent += 1;
                    prop_assert!(self.front.handle(msg, NOW));
                }
            }
            Step::Get { stream, seq } => {
                let msg = Message::new(
                    format!("$JS.API.STREAM.MSG.GET.{}", STREAMS[stream]),
                    Bytes::from(format!(r#"{{"seq":{seq}}}"#)),
                )
                .with_reply(format!("get.{stream}"));
                prop_assert!(self.front.handle(msg, NOW));
            }
            Step::Flush(ref fault) => {
                self.faults.recover();
                match *fault {
                    Fault::None => {}
                    Fault::All => self.faults.fail_all(true),
                    Fault::Stream(s) => self.faults.fail_stream(STREAMS[s], true),
                    Fault::Nth(n) => self.faults.fail_nth(n),
                }
                // The commit of a queued flush fails as a whole: a full quota, or an abort.
                let outcome = match *fault {
                    Fault::All => Some(StoreError::QuotaExceeded),
                    Fault::Stream(_) => Some(StoreError::Io("transaction aborted".into())),
                    Fault::None | Fault::Nth(_) => None,
                };
                // Whether it fails or not, what it released must be durable.
                let _ = self.flush_and_check_as(outcome)?;
                if self.in_flight.len() > 1 {
                    self.settle_oldest()?;
                }
                if self.in_flight.is_empty() {
                    self.check_synced_streams_answered()?;
                }
            }
            Step::Settle => {
                self.settle_all()?;
                if !self.handled_since_flush {
                    self.check_synced_streams_answered()?;
                }
            }
        }
        Ok(())
    }

    /// Flushes, then checks everything released against what the stores made durable. On the
    /// two-phase path the ticket stays in flight, to be completed without failure.
    pub fn flush_and_check(&mut self) -> Result<Result<(), StoreError>, TestCaseError> {
        self.flush_and_check_as(None)
    }

    /// As [`Run::flush_and_check`], the ticket to be completed with `outcome` on the two-phase
    /// path.
    fn flush_and_check_as(
        &mut self,
        outcome: Option<StoreError>,
    ) -> Result<Result<(), StoreError>, TestCaseError> {
        let ticket = self.front.engine_mut().flush();
        self.handled_since_flush = false;
        let flushed = ticket.result();
        prop_assert!(
            !ticket.is_pending() || self.queued,
            "only queued syncs pend"
        );
        if ticket.is_pending() {
            self.in_flight.push_back((ticket, outcome));
        }
        self.drain()?;
        Ok(flushed)
    }

    /// Checks everything the engine released.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(out) = self.front.engine_mut().poll_outbound() {
            self.check_released(&out)?;
        }
        Ok(())
    }

    /// Completes the oldest ticket in flight with its outcome, then checks what it released.
    fn settle_oldest(&mut self) -> Result<(), TestCaseError> {
        if let Some((ticket, outcome)) = self.in_flight.pop_front() {
            match outcome {
                None => self.front.engine_mut().flush_done(ticket),
                Some(err) => {
                    self.front.engine_mut().flush_failed(ticket, err);
                    // The later ones were built on it: they failed with it.
                    self.in_flight.clear();
                }
            }
            self.drain()?;
        }
        Ok(())
    }

    /// Completes every ticket in flight, oldest first.
    fn settle_all(&mut self) -> Result<(), TestCaseError> {
        while !self.in_flight.is_empty() {
            self.settle_oldest()?;
        }
        Ok(())
    }

    /// Every publish is answered at the flush after it, whatever failed (a PubAck once durable,
    /// 10023 when its sync failed). A stream whose store made every message it holds durable has
    /// released every delivery its consumer made, whatever another stream's store (or the
    /// saving of its own consumer) is doing: a failing stream holds only replies about what is
    /// not durable.
    fn check_synced_streams_answered(&self) -> Result<(), TestCaseError> {
        for (i, name) in STREAMS.iter().enumerate() {
            prop_assert_eq!(
                self.acked[i].len() as u64 + self.refused[i],
                self.published[i],
                "a publish to {} is unanswered after a flush",
                name
            );
            let last_seq = self
                .front
                .engine()
                .stream(name)
                .map_or(0, |s| s.store().state().last_seq);
            if self.faults.durable(name).last_seq == last_seq && i < WITH_CONSUMER {
                let info = self
                    .front
                    .engine()
                    .consumer_info(name, "W", NOW)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(
                    info.delivered.consumer_seq,
                    self.delivered[i],
                    "{} is synced, yet a delivery of it is held",
                    name
                );
            }
        }
        Ok(())
    }

    pub fn check_released(&mut self, out: &Outbound) -> Result<(), TestCaseError> {
        let mut to = out.to.split('.');
        let kind = to.next().unwrap_or_default();
        let stream: usize = to.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let durable = self.faults.durable(STREAMS[stream]);
        match kind {
            "pub" => {
                let n: u64 = to.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
                prop_assert!(
                    self.answered[stream].insert(n),
                    "publish {n} answered twice"
                );
                let ack: serde_json::Value = serde_json::from_slice(&out.msg.payload)
                    .map_err(|e| TestCaseError::fail(format!("PubAck is not JSON: {e}")))?;
                let Some(seq) = ack["seq"].as_u64() else {
                    // Refused: 503 / 10023 (10077 for an aborted commit, two-phase path). At
                    // once (nothing stored), or at the flush whose sync failed (its message
                    // still queued).
                    let code = &ack["error"]["err_code"];
                    let aborted = self.queued && *code == 10077;
                    prop_assert!(*code == 10023 || aborted, "{}", ack);
                    prop_assert_eq!(&ack["error"]["code"], 503, "{}", ack);
                    self.refused[stream] += 1;
                    if let Some(&seq) = self.took[stream].get(&n) {
                        prop_assert!(
                            seq > durable.last_seq,
                            "{}#{seq} refused although durable",
                            STREAMS[stream]
                        );
                        // Taken back (the stream went back below it): it must never be seen
                        // again. Else still queued: it may be stored later.
                        let last_seq = self
                            .front
                            .engine()
                            .stream(STREAMS[stream])
                            .map_or(0, |s| s.store().state().last_seq);
                        if last_seq >= seq {
                            self.refused_queued[stream].insert(seq);
                        }
                    }
                    return Ok(());
                };
                prop_assert_eq!(self.took[stream].get(&n), Some(&seq), "the PubAck's seq");
                prop_assert!(
                    seq <= durable.last_seq,
                    "PubAck for {}#{seq} released, durable only to {}",
                    STREAMS[stream],
                    durable.last_seq
                );
                prop_assert!(self.acked[stream].insert(seq), "seq {seq} acked twice");
            }
            "pull" => {
                if let Some(ack) = out.msg.reply.as_deref().and_then(parse_ack_subject) {
                    prop_assert!(
                        ack.stream_seq <= durable.last_seq,
                        "delivery of {}#{} released, durable only to {}",
                        STREAMS[stream],
                        ack.stream_seq,
                        durable.last_seq
                    );
                    self.unacked[stream].push(ack.to_subject());
                    self.delivered[stream] += 1;
                }
            }
            "ackr" => {
                let seq: u64 = to.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let state = durable.consumers.get("W").map(|r| r.state.clone());
                let written = state.is_some_and(|st| {
                    !st.pending.contains_key(&seq) && st.delivered.stream_seq >= seq
                });
                prop_assert!(
                    written,
                    "ack reply for {}#{seq} released before the ack was durable",
                    STREAMS[stream]
                );
                self.ack_replies += 1;
            }
            "get" => {
                let reply: serde_json::Value = serde_json::from_slice(&out.msg.payload)
                    .map_err(|e| TestCaseError::fail(format!("MSG.GET reply is not JSON: {e}")))?;
                if reply.get("error").is_some() {
                    return Ok(());
                }
                let seq = reply["message"]["seq"].as_u64().unwrap_or(u64::MAX);
                prop_assert!(
                    seq <= durable.last_seq,
                    "MSG.GET of {}#{seq} released, durable only to {}: {}",
                    STREAMS[stream],
                    durable.last_seq,
                    reply
                );
                self.gets += 1;
            }
            "api" => {}
            other => prop_assert!(false, "unexpected message to {other}"),
        }
        Ok(())
    }

    /// After the store recovers: everything is released, and what is stored and durable is
    /// exactly what was acknowledged.
    pub fn recover_and_compare(&mut self) -> Result<(), TestCaseError> {
        self.faults.recover();
        self.settle_all()?;
        let flushed = self.flush_and_check()?;
        prop_assert_eq!(flushed, Ok(()), "a recovered store flushes");
        self.settle_all()?;
        prop_assert_eq!(self.ack_replies, self.acks_sent, "every ack was confirmed");
        for (i, name) in STREAMS.iter().enumerate() {
            let acked = &self.acked[i];
            prop_assert_eq!(
                acked.len() as u64 + self.refused[i],
                self.published[i],
                "every publish answered once"
            );
            let stream = self.front.engine().stream(name).expect("stream exists");
            let stored = stored_seqs(stream.store());
            self.check_holds_what_was_acked(i, &stored)?;
            let durable = self.faults.durable(name);
            prop_assert_eq!(durable.last_seq, stream.store().state().last_seq);
            if i < WITH_CONSUMER {
                let info = self
                    .front
                    .engine()
                    .consumer_info(name, "W", NOW)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let record = durable
                    .consumers
                    .get("W")
                    .ok_or_else(|| TestCaseError::fail("consumer never durable"))?;
                prop_assert_eq!(record.state.ack_floor.stream_seq, info.ack_floor.stream_seq);
                prop_assert_eq!(record.state.delivered.stream_seq, info.delivered.stream_seq);
                prop_assert_eq!(record.state.pending.len() as u64, info.num_ack_pending);
                prop_assert_eq!(
                    stream
                        .store()
                        .consumers()
                        .ok()
                        .and_then(|c| c.get("W").cloned()),
                    Some(record.clone()),
                    "the store holds the durable record"
                );
            }
        }
        Ok(())
    }

    /// `stored` (the sequences stream `i` holds) has everything acknowledged, and nothing else
    /// but messages refused at a failed flush.
    pub fn check_holds_what_was_acked(
        &self,
        i: usize,
        stored: &BTreeSet<u64>,
    ) -> Result<(), TestCaseError> {
        let missing: Vec<_> = self.acked[i].difference(stored).collect();
        prop_assert!(
            missing.is_empty(),
            "{} lost acknowledged {missing:?}",
            STREAMS[i]
        );
        let extra: Vec<_> = stored
            .difference(&self.acked[i])
            .filter(|seq| !self.refused_queued[i].contains(seq))
            .collect();
        prop_assert!(
            extra.is_empty(),
            "{} holds {extra:?}, never acknowledged",
            STREAMS[i]
        );
        Ok(())
    }
}

pub fn stored_seqs(store: &dyn StreamStore) -> BTreeSet<u64> {
    let mut seqs = BTreeSet::new();
    let mut next = 0;
    while let Ok(msg) = store.load_next_msg("", next) {
        seqs.insert(msg.seq);
        next = msg.seq + 1;
    }
    seqs
}

pub fn run_schedule(make_store: StoreFactory, steps: &[Step]) -> Result<(), TestCaseError> {
    run_steps(make_store, steps).map(drop)
}

pub fn run_steps(make_store: StoreFactory, steps: &[Step]) -> Result<Run, TestCaseError> {
    play(Run::new(make_store), steps)
}

/// Runs `steps` on `run`, then recovers and compares.
pub fn play(mut run: Run, steps: &[Step]) -> Result<Run, TestCaseError> {
    for step in steps {
        run.step(step)?;
    }
    run.recover_and_compare()?;
    Ok(run)
}

pub fn memory_stores() -> StoreFactory {
    Box::new(|_| Ok(Box::new(MemoryStore::new()) as Box<dyn StreamStore>))
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "contrail-faults-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn file_stores(dir: PathBuf) -> StoreFactory {
    Box::new(move |config| {
        FileStore::open(&dir.join(&config.name), FileStoreConfig::default())
            .map(|s| Box::new(s) as Box<dyn StreamStore>)
    })
}

/// A publish to stream A with `Nats-Msg-Id: m1`, answered on `reply` (a first try or a retry).
pub fn publish_once(reply: &str) -> Message {
    Message::new("a.x", Bytes::from_static(b"once"))
        .with_headers(Bytes::from_static(b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n"))
        .with_reply(reply.to_string())
}

/// The JSON body of a released message.
pub fn json(out: &Outbound) -> serde_json::Value {
    serde_json::from_slice(&out.msg.payload).expect("JSON")
}

/// Checks that `body` refuses a publish as a full store does (503 / 10023).
pub fn assert_refused(body: &serde_json::Value) {
    assert_eq!(body["error"]["err_code"], 10023, "{body}");
    assert_eq!(body["error"]["code"], 503, "{body}");
}

/// The stream's sequences, message count and its consumer's delivered/pending state.
pub fn shape(run: &Run, stream: &str) -> (u64, u64, u64, u64, u64) {
    let state = run
        .front
        .engine()
        .stream(stream)
        .expect("stream")
        .store()
        .state();
    let info = run
        .front
        .engine()
        .consumer_info(stream, "W", NOW)
        .expect("consumer info");
    (
        state.last_seq,
        state.msgs,
        info.delivered.stream_seq,
        info.delivered.consumer_seq,
        info.num_ack_pending,
    )
}
