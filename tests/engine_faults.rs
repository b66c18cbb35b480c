//! Group commit under a failing store: whatever fails when (the Nth sync or consumer save, every
//! call for a while, one stream of several), no PubAck, delivery or ack reply leaves for state
//! the store has not made durable; a stream that did sync is not held back by one that failed
//! (its PubAcks all leave); every publish is answered at the flush after it, the ones whose
//! sync failed with 10023; a publish to a stream whose sync failed is refused (10023) at once
//! and stores nothing; a refused batch of publishes is taken back where the store can (the file
//! store), so those messages are never seen again; and once the store recovers, the streams hold
//! everything acknowledged and nothing else but messages refused at a failed flush that could
//! not be taken back (still queued then, so stored later, as a timed-out publish may be), on
//! the file store after a reopen too.
//! Random failure schedules (proptest), on the memory store and the file store, each wrapped in
//! the fault-injecting [`FaultyStore`]; and the same schedules on the two-phase path, where the
//! wrapper only queues its syncs as the IndexedDB store does, and the flush ticket completes one
//! flush later or at a settle step (`Engine::flush_done`), or fails (`Engine::flush_failed`,
//! 10023 for a full quota, 10077 for another failure), with two tickets in flight at times.

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
const STREAMS: [&str; 3] = ["A", "B", "C"];
const WITH_CONSUMER: usize = 2;
const NOW: i64 = 1_700_000_000_000_000_000;

/// What fails at one flush.
#[derive(Debug, Clone)]
enum Fault {
    None,
    /// Every sync and save (a full disk; several in a row: failing for a while).
    All,
    /// Every call of one stream's store.
    Stream(usize),
    /// The Nth sync or save of this flush.
    Nth(u64),
}

#[derive(Debug, Clone)]
enum Step {
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

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        2 => Just(Fault::None),
        2 => Just(Fault::All),
        2 => (0..STREAMS.len()).prop_map(Fault::Stream),
        3 => (1u64..6).prop_map(Fault::Nth),
    ]
}

fn step() -> impl Strategy<Value = Step> {
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
struct Run {
    front: JetStream,
    faults: Faults,
    /// The two-phase path: stores queue their syncs, and flush tickets are completed later,
    /// each with the outcome its flush's fault says.
    queued: bool,
    /// Tickets in flight (two-phase path), oldest first, with the failure to complete them with.
    in_flight: VecDeque<(FlushTicket, Option<StoreError>)>,
    /// An input was handled since the last flush (its replies are not due yet).
    handled_since_flush: bool,
    published: [u64; 3],
    /// PubAck'd sequences, per stream.
    acked: [BTreeSet<u64>; 3],
    /// Publishes refused (10023), per stream: at once (nothing stored) or at a failed flush.
    refused: [u64; 3],
    /// Sequences taken by publishes refused at a failed flush that was not taken back, per
    /// stream: still queued in the store, so they may be stored later.
    refused_queued: [BTreeSet<u64>; 3],
    /// The sequence each publish took (by its number), per stream; none when refused at once.
    took: [BTreeMap<u64, u64>; 3],
    /// Publishes answered, by number, per stream (each exactly once).
    answered: [BTreeSet<u64>; 3],
    /// Delivered, not yet acked: ack subjects per stream.
    unacked: [Vec<String>; 3],
    acks_sent: u64,
    ack_replies: u64,
    /// MSG.GET replies released (each checked to carry a durable message).
    gets: u64,
    /// Deliveries released, per stream.
    delivered: [u64; 3],
}

impl Run {
    fn new(make_store: StoreFactory) -> Run {
        Run::with(make_store, false)
    }

    /// A run on the two-phase path: the stores `make_store` makes only queue their syncs.
    fn queued(make_store: StoreFactory) -> Run {
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

    fn api(&mut self, subject: &str, body: &str) {
        let msg = Message::new(format!("$JS.API.{subject}"), Bytes::from(body.to_string()))
            .with_reply("api");
        assert!(self.front.handle(msg, NOW));
    }

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
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
    fn flush_and_check(&mut self) -> Result<Result<(), StoreError>, TestCaseError> {
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

    fn check_released(&mut self, out: &Outbound) -> Result<(), TestCaseError> {
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
    fn recover_and_compare(&mut self) -> Result<(), TestCaseError> {
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
    fn check_holds_what_was_acked(
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

fn stored_seqs(store: &dyn StreamStore) -> BTreeSet<u64> {
    let mut seqs = BTreeSet::new();
    let mut next = 0;
    while let Ok(msg) = store.load_next_msg("", next) {
        seqs.insert(msg.seq);
        next = msg.seq + 1;
    }
    seqs
}

fn run_schedule(make_store: StoreFactory, steps: &[Step]) -> Result<(), TestCaseError> {
    run_steps(make_store, steps).map(drop)
}

fn run_steps(make_store: StoreFactory, steps: &[Step]) -> Result<Run, TestCaseError> {
    play(Run::new(make_store), steps)
}

/// Runs `steps` on `run`, then recovers and compares.
fn play(mut run: Run, steps: &[Step]) -> Result<Run, TestCaseError> {
    for step in steps {
        run.step(step)?;
    }
    run.recover_and_compare()?;
    Ok(run)
}

fn memory_stores() -> StoreFactory {
    Box::new(|_| Ok(Box::new(MemoryStore::new()) as Box<dyn StreamStore>))
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
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

fn file_stores(dir: PathBuf) -> StoreFactory {
    Box::new(move |config| {
        FileStore::open(&dir.join(&config.name), FileStoreConfig::default())
            .map(|s| Box::new(s) as Box<dyn StreamStore>)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn memory_store_releases_only_durable_state(steps in prop::collection::vec(step(), 1..60)) {
        run_schedule(memory_stores(), &steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn file_store_releases_only_durable_state(steps in prop::collection::vec(step(), 1..60)) {
        let dir = TempDir::new();
        let mut run = run_steps(file_stores(dir.0.clone()), &steps)?;
        // Closed (the old engine dropped) and reopened, every store holds what was
        // acknowledged, and nothing else but messages refused at a failed flush.
        run.front = JetStream::in_memory(1);
        for (i, name) in STREAMS.iter().enumerate() {
            let store = FileStore::open(&dir.0.join(name), FileStoreConfig::default())
                .map_err(|e| TestCaseError::fail(format!("reopen {name}: {e}")))?;
            run.check_holds_what_was_acked(i, &stored_seqs(&store))?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The two-phase path (the IndexedDB store's contract) over memory stores: what a queued
    /// sync covers leaves only once its ticket is done; a failed ticket answers its publishes
    /// and the stream syncs again.
    #[test]
    fn queued_memory_store_releases_only_durable_state(
        steps in prop::collection::vec(step(), 1..60)
    ) {
        play(Run::queued(memory_stores()), &steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The two-phase path over file stores, which can take a failed ticket's appends back.
    #[test]
    fn queued_file_store_releases_only_durable_state(
        steps in prop::collection::vec(step(), 1..60)
    ) {
        let dir = TempDir::new();
        let mut run = play(Run::queued(file_stores(dir.0.clone())), &steps)?;
        run.front = JetStream::in_memory(1);
        for (i, name) in STREAMS.iter().enumerate() {
            let store = FileStore::open(&dir.0.join(name), FileStoreConfig::default())
                .map_err(|e| TestCaseError::fail(format!("reopen {name}: {e}")))?;
            run.check_holds_what_was_acked(i, &stored_seqs(&store))?;
        }
    }
}

/// A queued flush holds its PubAcks until its ticket is done, while a read that needs nothing
/// unsynced leaves at once; a second flush in flight waits for its own ticket.
#[test]
fn a_queued_flush_releases_its_pubacks_when_its_ticket_is_done() {
    let mut run = Run::queued(memory_stores());
    run.step(&Step::Publish(0)).expect("publish");
    let info = Message::new("$JS.API.STREAM.INFO.B", Bytes::new()).with_reply("api");
    assert!(run.front.handle(info, NOW));
    let first = run.front.engine_mut().flush();
    assert!(first.is_pending(), "the store queued its sync");
    let out: Vec<String> = std::iter::from_fn(|| run.front.engine_mut().poll_outbound())
        .map(|o| o.to)
        .collect();
    assert_eq!(out, ["api"], "only the read leaves before the commit");
    run.step(&Step::Publish(0)).expect("publish");
    let second = run.front.engine_mut().flush();
    assert!(second.is_pending());
    assert_eq!(run.front.engine_mut().poll_outbound(), None);

    run.front.engine_mut().flush_done(first);
    let out: Vec<String> = std::iter::from_fn(|| run.front.engine_mut().poll_outbound())
        .map(|o| o.to)
        .collect();
    assert_eq!(
        out,
        ["pub.0.0"],
        "the first ticket's PubAck, not the second's"
    );
    run.front.engine_mut().flush_done(second);
    let out: Vec<String> = std::iter::from_fn(|| run.front.engine_mut().poll_outbound())
        .map(|o| o.to)
        .collect();
    assert_eq!(out, ["pub.0.1"]);
}

/// A failed ticket answers its publishes with the refusal for its error (10077 for an aborted
/// commit), fails the ticket in flight after it, takes the appends back on a store that can,
/// and the stream takes publishes again once a later ticket is done.
#[test]
fn a_failed_ticket_refuses_its_publishes_and_fails_the_ones_after_it() {
    let dir = TempDir::new();
    let mut run = Run::queued(file_stores(dir.0.clone()));
    run.step(&Step::Publish(0)).expect("publish");
    let first = run.front.engine_mut().flush();
    run.step(&Step::Publish(0)).expect("publish");
    let second = run.front.engine_mut().flush();
    run.front
        .engine_mut()
        .flush_failed(first, StoreError::Io("transaction aborted".into()));
    let out: Vec<Outbound> =
        std::iter::from_fn(|| run.front.engine_mut().poll_outbound()).collect();
    let to: Vec<&str> = out.iter().map(|o| o.to.as_str()).collect();
    assert_eq!(to, ["pub.0.0", "pub.0.1"], "both answered at the failure");
    for o in &out {
        let body: serde_json::Value = serde_json::from_slice(&o.msg.payload).expect("JSON");
        assert_eq!(body["error"]["err_code"], 10077, "{body}");
    }
    let stored = run
        .front
        .engine()
        .stream("A")
        .map(|s| s.store().state().msgs);
    assert_eq!(stored, Some(0), "the appends were taken back");
    run.front.engine_mut().flush_done(second);
    assert_eq!(
        run.front.engine_mut().poll_outbound(),
        None,
        "the second ticket failed too"
    );

    // Taken back, nothing unsynced is left: the next publish is taken, not refused at once.
    run.step(&Step::Publish(0)).expect("publish");
    assert_eq!(
        run.front.engine_mut().poll_outbound(),
        None,
        "not refused at once"
    );
    let ticket = run.front.engine_mut().flush();
    run.front.engine_mut().flush_done(ticket);
    let out = run.front.engine_mut().poll_outbound().expect("a PubAck");
    let ack: serde_json::Value = serde_json::from_slice(&out.msg.payload).expect("JSON");
    assert_eq!(
        (out.to.as_str(), &ack["seq"]),
        ("pub.0.2", &serde_json::json!(1))
    );
}

/// After a batch was taken back the stream holds nothing unsynced, so the next batch's publish
/// is taken and the disk tried again at its flush: refused there (and taken back) while the
/// disk still fails, acknowledged once it recovers; never refused before the disk was tried.
#[test]
fn after_a_batch_was_taken_back_the_next_publish_tries_the_disk_again() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    run.step(&Step::Publish(0)).expect("publish");
    run.faults.fail_stream("A", true);
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Err(StoreError::QuotaExceeded)
    );
    refusal_of(
        &run.front
            .engine_mut()
            .poll_outbound()
            .expect("refused at the failed flush"),
    );

    run.step(&Step::Publish(0)).expect("publish");
    assert_eq!(
        run.front.engine_mut().poll_outbound(),
        None,
        "taken, not refused at once"
    );
    let before = run.faults.failures();
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Err(StoreError::QuotaExceeded)
    );
    assert!(run.faults.failures() > before, "the disk was tried again");
    let out = run
        .front
        .engine_mut()
        .poll_outbound()
        .expect("refused at its flush");
    assert_eq!(out.to, "pub.0.1");
    refusal_of(&out);

    run.faults.recover();
    run.step(&Step::Publish(0)).expect("publish");
    assert_eq!(run.front.engine_mut().flush().result(), Ok(()));
    let out = run.front.engine_mut().poll_outbound().expect("a PubAck");
    let ack: serde_json::Value = serde_json::from_slice(&out.msg.payload).expect("JSON");
    assert_eq!(
        (out.to.as_str(), &ack["seq"]),
        ("pub.0.2", &serde_json::json!(1))
    );
}

/// The case the old flush lost: stream A's sync fails while B, not yet visited, is dirty too.
#[test]
fn a_stream_not_reached_by_a_failed_flush_is_synced_before_its_puback_leaves() {
    let steps = [
        Step::Publish(0),
        Step::Publish(1),
        Step::Flush(Fault::Stream(0)),
        Step::Flush(Fault::None),
    ];
    run_schedule(memory_stores(), &steps).expect("only durable state released");
}

/// The case the old consumer save lost: a failed save cleared the consumer's changed flag.
#[test]
fn an_ack_whose_save_failed_is_saved_before_its_reply_leaves() {
    let mut run = Run::new(memory_stores());
    for step in [
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 1,
        },
        Step::Flush(Fault::None),
        Step::Ack { stream: 0, pick: 0 },
        // The first call of this flush is the consumer's save.
        Step::Flush(Fault::Nth(1)),
        Step::Flush(Fault::None),
    ] {
        run.step(&step).expect("only durable state released");
    }
    assert!(run.faults.failures() >= 1, "the save did fail");
    assert_eq!(run.ack_replies, 1, "the ack was confirmed once saved");
    run.recover_and_compare()
        .expect("state equals what was acknowledged");
}

/// A memory check of the store wrapper itself: a failed sync is not durable (so the tests above
/// can fail).
#[test]
fn the_wrapper_reports_failed_syncs_as_not_durable() {
    let faults = Faults::new();
    let mut factory = faults.factory(memory_stores());
    let config = serde_json::from_str(r#"{"name":"S","subjects":["s"]}"#).expect("config");
    let mut store = factory(&config).expect("store");
    store
        .store_msg("s", None, Bytes::from_static(b"x"), NOW)
        .expect("store");
    faults.fail_all(true);
    assert_eq!(store.sync(), Err(StoreError::QuotaExceeded));
    assert_eq!(faults.durable("S").last_seq, 0);
    faults.recover();
    store.sync().expect("sync");
    assert_eq!(faults.durable("S").last_seq, 1);
}

fn refusal_of(out: &Outbound) -> serde_json::Value {
    let refusal: serde_json::Value = serde_json::from_slice(&out.msg.payload).expect("JSON");
    assert_eq!(refusal["error"]["err_code"], 10023, "{refusal}");
    assert_eq!(refusal["error"]["code"], 503, "{refusal}");
    refusal
}

/// The publish whose sync fails is answered at that flush (10023), not when space is freed;
/// while the stream's store fails, a publish to it is refused at once (10023, nothing stored)
/// and reads are answered, although every flush fails.
#[test]
fn a_failing_stream_refuses_publishes_at_once_and_still_answers_reads() {
    let mut run = Run::new(memory_stores());
    run.step(&Step::Publish(0)).expect("publish");
    run.faults.fail_stream("A", true);
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Err(StoreError::QuotaExceeded)
    );
    let out = run
        .front
        .engine_mut()
        .poll_outbound()
        .expect("the publish is answered");
    assert_eq!(out.to, "pub.0.0");
    refusal_of(&out);
    assert_eq!(run.front.engine_mut().poll_outbound(), None);

    run.step(&Step::Publish(0)).expect("publish");
    let info = Message::new("$JS.API.STREAM.INFO.A", Bytes::new()).with_reply("info");
    assert!(run.front.handle(info, NOW));
    assert!(
        run.front.engine_mut().flush().result().is_err(),
        "the store still fails"
    );
    let out: Vec<Outbound> =
        std::iter::from_fn(|| run.front.engine_mut().poll_outbound()).collect();
    let to: Vec<&str> = out.iter().map(|o| o.to.as_str()).collect();
    assert_eq!(
        to,
        ["pub.0.1", "info"],
        "the refusal and the read leave at once"
    );
    refusal_of(&out[0]);
    let stored = run
        .front
        .engine()
        .stream("A")
        .map(|s| s.store().state().msgs);
    assert_eq!(
        stored,
        Some(1),
        "the publish refused at once stored nothing (the first is still queued)"
    );

    run.faults.recover();
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Ok(()));
    assert!(run.acked[0].is_empty(), "nothing was acknowledged");
}

/// Every publish of a failed batch is answered at that flush, and only those are refused: the
/// other stream's PubAcks, and the failing stream's ack reply (consumer state, not a publish),
/// keep their usual rules.
#[test]
fn every_publish_of_a_failed_batch_is_answered_at_that_flush() {
    let mut run = Run::new(memory_stores());
    for step in [
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 1,
        },
        Step::Flush(Fault::None),
    ] {
        run.step(&step).expect("setup");
    }
    assert_eq!(run.unacked[0].len(), 1, "one delivery to ack");
    for step in [
        Step::Ack { stream: 0, pick: 0 },
        Step::Publish(0),
        Step::Publish(0),
        Step::Publish(1),
    ] {
        run.step(&step).expect("batch");
    }
    run.faults.fail_stream("A", true);
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Err(StoreError::QuotaExceeded));
    assert_eq!(
        run.refused[0], 2,
        "both publishes to A refused at that flush"
    );
    assert_eq!(run.refused_queued[0], BTreeSet::from([2, 3]));
    assert_eq!(
        run.acked[1],
        BTreeSet::from([1]),
        "B's publish acknowledged"
    );
    assert_eq!(run.ack_replies, 0, "the ack reply waits for its state");

    run.faults.recover();
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Ok(()));
    assert_eq!(run.ack_replies, 1, "the ack is confirmed once saved");
    run.recover_and_compare()
        .expect("state holds what was acknowledged");
}

/// Deleting a stream whose store was failing forgets the failure: a stream created again under
/// its name takes publishes.
#[test]
fn a_stream_recreated_after_its_failing_store_was_deleted_takes_publishes() {
    let mut run = Run::new(memory_stores());
    run.step(&Step::Publish(2)).expect("publish");
    run.faults.fail_stream("C", true);
    assert!(run.front.engine_mut().flush().result().is_err());
    run.front.engine_mut().delete_stream("C").expect("delete");
    run.faults.recover();
    run.api("STREAM.CREATE.C", r#"{"subjects":["c.>"]}"#);
    let publish = Message::new("c.x", Bytes::from_static(b"x")).with_reply("again");
    assert!(run.front.handle(publish, NOW));
    assert_eq!(run.front.engine_mut().flush().result(), Ok(()));
    let ack = std::iter::from_fn(|| run.front.engine_mut().poll_outbound())
        .find(|o| o.to == "again")
        .expect("a reply to the publish");
    let ack: serde_json::Value = serde_json::from_slice(&ack.msg.payload).expect("JSON");
    assert_eq!(ack["seq"], 1, "{ack}");
}

/// Reads and deliveries of messages that are durable are not held by a failing store, neither
/// by another stream's nor by the stream's own held batch: while A's store fails (its last
/// PubAck held), a pull on B, a pull on A of a message synced before, and a MSG.GET of that
/// message are all answered at once; A's PubAck only once its sync succeeds.
#[test]
fn deliveries_of_durable_messages_are_not_held_by_a_failing_store() {
    let mut run = Run::new(memory_stores());
    for step in [Step::Publish(0), Step::Publish(1), Step::Flush(Fault::None)] {
        run.step(&step).expect("setup");
    }
    assert_eq!((run.acked[0].len(), run.acked[1].len()), (1, 1));
    run.step(&Step::Publish(0)).expect("publish");
    run.faults.fail_stream("A", true);
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Err(StoreError::QuotaExceeded)
    );
    let out = run
        .front
        .engine_mut()
        .poll_outbound()
        .expect("A's second publish is answered");
    assert_eq!(out.to, "pub.0.1");
    refusal_of(&out);
    run.check_released(&out)
        .expect("a refusal of a message not durable");

    for stream in [1, 0] {
        run.step(&Step::Pull { stream, batch: 1 }).expect("pull");
    }
    let get = Message::new(
        "$JS.API.STREAM.MSG.GET.A",
        Bytes::from_static(br#"{"seq":1}"#),
    )
    .with_reply("get.0");
    assert!(run.front.handle(get, NOW));
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Err(StoreError::QuotaExceeded), "A still fails");
    assert_eq!(run.unacked[1].len(), 1, "B's delivery left");
    assert_eq!(run.unacked[0].len(), 1, "A's synced message was delivered");
    assert_eq!(run.gets, 1, "the MSG.GET of a synced message was answered");

    run.faults.recover();
    let flushed = run.flush_and_check().expect("only durable state released");
    assert_eq!(flushed, Ok(()));
    assert_eq!(
        run.acked[0].len(),
        1,
        "the refused publish was not acknowledged later"
    );
    run.recover_and_compare()
        .expect("state equals what was acknowledged");
}

/// A publish refused at a failed flush is, for its client, like one that timed out: its message
/// may still be stored once the store recovers, and a retry with the same `Nats-Msg-Id` finds
/// it (a duplicate PubAck for its sequence) instead of storing it twice.
#[test]
fn a_retry_with_the_msg_id_of_a_publish_refused_at_a_failed_flush_is_not_stored_twice() {
    let mut run = Run::new(memory_stores());
    let publish = |reply: &str| {
        Message::new("a.x", Bytes::from_static(b"once"))
            .with_headers(Bytes::from_static(b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n"))
            .with_reply(reply.to_string())
    };
    assert!(run.front.handle(publish("first"), NOW));
    run.faults.fail_stream("A", true);
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Err(StoreError::QuotaExceeded)
    );
    let out = run
        .front
        .engine_mut()
        .poll_outbound()
        .expect("the publish is answered");
    assert_eq!(out.to, "first");
    refusal_of(&out);

    run.faults.recover();
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Ok(()),
        "the store recovered"
    );
    assert!(run.front.handle(publish("retry"), NOW));
    assert_eq!(run.front.engine_mut().flush().result(), Ok(()));
    let out = run
        .front
        .engine_mut()
        .poll_outbound()
        .expect("the retry is answered");
    let ack: serde_json::Value = serde_json::from_slice(&out.msg.payload).expect("JSON");
    assert_eq!(ack["seq"], 1, "{ack}");
    assert_eq!(ack["duplicate"], true, "{ack}");
    let stored = run
        .front
        .engine()
        .stream("A")
        .map(|s| s.store().state().msgs);
    assert_eq!(stored, Some(1), "stored once");
}

/// The stream's sequences, message count and its consumer's delivered/pending state.
fn shape(run: &Run, stream: &str) -> (u64, u64, u64, u64, u64) {
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

/// On the file store, a batch of publishes whose sync fails is taken back, as nats-server
/// stores nothing of a publish it refuses: the stream returns to its durable messages, its
/// consumer forgets the deliveries of the dropped ones (held, never released), the next publish
/// takes the next durable sequence, and after a reopen the store holds exactly what was
/// acknowledged.
#[test]
fn a_failed_batch_of_publishes_is_taken_back_on_the_file_store() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    for step in [
        Step::Publish(0),
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 2,
        },
        Step::Flush(Fault::None),
        Step::Pull {
            stream: 0,
            batch: 2,
        },
        Step::Flush(Fault::None),
    ] {
        run.step(&step).expect("setup");
    }
    assert_eq!(run.acked[0], BTreeSet::from([1, 2]));
    assert_eq!(run.unacked[0].len(), 2, "both delivered");
    let durable = shape(&run, "A");
    assert_eq!(durable, (2, 2, 2, 2, 2));

    // Two more, delivered at once to the waiting pull request: all held, then the sync fails.
    for step in [Step::Publish(0), Step::Publish(0)] {
        run.step(&step).expect("publish");
    }
    assert_eq!(
        shape(&run, "A"),
        (4, 4, 4, 4, 4),
        "stored and delivered, held"
    );
    run.step(&Step::Flush(Fault::Stream(0))).expect("flush");
    assert_eq!(
        run.refused[0], 2,
        "both publishes refused at the failed flush"
    );
    assert_eq!(
        run.unacked[0].len(),
        2,
        "no delivery of a refused message left"
    );
    assert_eq!(shape(&run, "A"), durable, "back to the durable state");

    // A flush whose sync succeeds ends the refusals at once.
    run.step(&Step::Flush(Fault::None)).expect("flush");
    run.step(&Step::Publish(0)).expect("publish");
    run.step(&Step::Flush(Fault::None)).expect("flush");
    assert_eq!(
        run.acked[0],
        BTreeSet::from([1, 2, 3]),
        "the next publish takes the next durable sequence"
    );
    run.recover_and_compare()
        .expect("state equals what was acked");
    let stored = stored_seqs(run.front.engine().stream("A").expect("A").store());
    assert_eq!(stored, run.acked[0], "exactly what was acknowledged");
    let payload = run
        .front
        .engine()
        .stream("A")
        .map(|s| s.store().load_msg(3));
    assert!(matches!(payload, Some(Ok(_))), "seq 3 is the new message");

    run.front = JetStream::in_memory(1);
    let store = FileStore::open(&dir.0.join("A"), FileStoreConfig::default()).expect("reopen");
    assert_eq!(
        stored_seqs(&store),
        BTreeSet::from([1, 2, 3]),
        "after a reopen too"
    );
}

/// On the file store a refused publish is gone, so a retry with its `Nats-Msg-Id` is stored
/// (not answered as a duplicate of a message that does not exist).
#[test]
fn a_retry_of_a_publish_taken_back_is_stored_not_a_duplicate() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    let publish = |reply: &str| {
        Message::new("a.x", Bytes::from_static(b"once"))
            .with_headers(Bytes::from_static(b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n"))
            .with_reply(reply.to_string())
    };
    assert!(run.front.handle(publish("first"), NOW));
    run.faults.fail_stream("A", true);
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Err(StoreError::QuotaExceeded)
    );
    let out = run
        .front
        .engine_mut()
        .poll_outbound()
        .expect("the publish is answered");
    refusal_of(&out);
    let stored = run
        .front
        .engine()
        .stream("A")
        .map(|s| s.store().state().msgs);
    assert_eq!(stored, Some(0), "the refused publish is not stored");
    let info = run
        .front
        .engine()
        .consumer_info("A", "W", NOW)
        .expect("info");
    assert_eq!(info.num_pending, 0, "nor counted for the consumer");

    run.faults.recover();
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Ok(()),
        "the store recovered"
    );
    assert!(run.front.handle(publish("retry"), NOW));
    assert_eq!(run.front.engine_mut().flush().result(), Ok(()));
    let out = run
        .front
        .engine_mut()
        .poll_outbound()
        .expect("the retry is answered");
    let ack: serde_json::Value = serde_json::from_slice(&out.msg.payload).expect("JSON");
    assert_eq!(ack["seq"], 1, "{ack}");
    assert!(
        ack.get("duplicate").is_none(),
        "stored, not a duplicate: {ack}"
    );
}

/// A consumer record saved by a flush whose sync then failed describes deliveries of messages
/// that were taken back; a restart before the next save forgets them, so the consumer delivers
/// the message stored next at that sequence instead of skipping it.
#[test]
fn a_restart_after_a_taken_back_batch_delivers_what_is_stored_next() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    for step in [
        Step::Publish(0),
        Step::Publish(0),
        Step::Pull {
            stream: 0,
            batch: 4,
        },
        Step::Flush(Fault::None),
        Step::Publish(0),
        Step::Publish(0),
        // The flush's first call saves W (delivered up to 4), its second, A's sync, fails.
        Step::Flush(Fault::Nth(2)),
    ] {
        run.step(&step).expect("steps");
    }
    assert_eq!(run.refused[0], 2, "the batch was refused");
    let saved = FileStore::open(&dir.0.join("A"), FileStoreConfig::default())
        .and_then(|s| s.consumers())
        .expect("records");
    assert_eq!(
        saved["W"].state.delivered.stream_seq, 4,
        "saved before the sync failed"
    );
    // A crash before the next flush saves W again.
    run.front = JetStream::in_memory(1);

    let mut engine = Engine::new(EngineConfig::default(), file_stores(dir.0.clone()), 1);
    let config = serde_json::from_str(r#"{"name":"A","subjects":["a.>"]}"#).expect("config");
    let store = FileStore::open(&dir.0.join("A"), FileStoreConfig::default()).expect("open");
    let skipped = engine
        .restore_stream(config, NOW, Box::new(store), NOW)
        .expect("restore");
    assert!(skipped.is_empty());
    let info = engine.consumer_info("A", "W", NOW).expect("info");
    assert_eq!(
        info.delivered.stream_seq, 2,
        "only what was stored was delivered"
    );
    assert_eq!(info.num_ack_pending, 2);

    let mut front = JetStream::new(engine);
    let publish = Message::new("a.x", Bytes::from_static(b"next")).with_reply("pub");
    assert!(front.handle(publish, NOW));
    let pull =
        Message::new("$JS.API.CONSUMER.MSG.NEXT.A.W", Bytes::from_static(b"1")).with_reply("pull");
    assert!(front.handle(pull, NOW));
    let engine = front.engine_mut();
    assert_eq!(engine.flush().result(), Ok(()));
    let delivered: Vec<u64> = std::iter::from_fn(|| engine.poll_outbound())
        .filter(|o| o.to == "pull")
        .filter_map(|o| o.msg.reply.as_deref().and_then(parse_ack_subject))
        .map(|ack| ack.stream_seq)
        .collect();
    assert_eq!(delivered, [3], "the message stored at 3 is delivered");
}

/// A read of a message in a batch that is taken back is answered as a read of a missing message
/// (MSG.GET: 10037), not left without a reply.
#[test]
fn a_read_of_a_message_taken_back_is_answered_not_found() {
    let dir = TempDir::new();
    let mut run = Run::new(file_stores(dir.0.clone()));
    run.step(&Step::Publish(0)).expect("publish");
    let get = Message::new(
        "$JS.API.STREAM.MSG.GET.A",
        Bytes::from_static(br#"{"seq":1}"#),
    )
    .with_reply("read");
    assert!(run.front.handle(get, NOW));
    run.faults.fail_stream("A", true);
    assert_eq!(
        run.front.engine_mut().flush().result(),
        Err(StoreError::QuotaExceeded)
    );
    let out: Vec<Outbound> =
        std::iter::from_fn(|| run.front.engine_mut().poll_outbound()).collect();
    let to: Vec<&str> = out.iter().map(|o| o.to.as_str()).collect();
    assert_eq!(to, ["pub.0.0", "read"], "both answered at the failed flush");
    refusal_of(&out[0]);
    let read: serde_json::Value = serde_json::from_slice(&out[1].msg.payload).expect("JSON");
    assert_eq!(read["error"]["err_code"], 10037, "{read}");
}

/// A pull request whose deliveries were taken back gets those slots back: the next publishes
/// are delivered to it, rather than it waiting for its expiry with nothing (whether the taken
/// back deliveries had filled it or not).
#[test]
fn a_pull_request_whose_deliveries_were_taken_back_gets_them_back() {
    for batch in [2, 3] {
        let dir = TempDir::new();
        let mut run = Run::new(file_stores(dir.0.clone()));
        for step in [
            Step::Pull { stream: 0, batch },
            Step::Flush(Fault::None),
            Step::Publish(0),
            Step::Publish(0),
            Step::Flush(Fault::Stream(0)),
        ] {
            run.step(&step).expect("steps");
        }
        assert_eq!(run.refused[0], 2, "the batch was refused");
        assert_eq!(run.delivered[0], 0, "no delivery of a refused message left");
        for step in [
            Step::Publish(0),
            Step::Publish(0),
            Step::Publish(0),
            Step::Flush(Fault::None),
        ] {
            run.step(&step).expect("steps");
        }
        assert_eq!(
            run.delivered[0],
            u64::from(batch),
            "the same request took the next ones (batch {batch})"
        );
        run.recover_and_compare()
            .expect("state equals what was acknowledged");
    }
}
