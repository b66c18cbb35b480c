//! A simulated origin server and the engine around one [`Sourcing`] machine, for tests.
//!
//! The origin answers consumer creates by start position (as nats-server: `all` from its first
//! message, `by_start_sequence` from that sequence; `delivered.stream_seq` is the sequence
//! before), and each consumer pushes its messages with ack replies, asks for flow control
//! every few messages (and stops until answered), and sends idle heartbeats. The network
//! between them is two queues a test can cut. The local side applies the machine's actions to a
//! model store that panics on a duplicate or out-of-order store, so any such bug fails the test.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use crate::core::headers::find_header;
use crate::core::headers::Headers;
use crate::core::sourcing::wire::{parse_source_header, STREAM_SOURCE};
use crate::core::sourcing::{
    Action, Event, LocalState, Role, Sourcing, SourcingSetup, StreamSource,
};
use crate::core::time::{Nanos, MILLIS, SECONDS};

/// The time tests start at.
pub const T0: Nanos = 1_700_000_000 * SECONDS;
/// One simulation step.
pub const STEP: Nanos = 50 * MILLIS;

#[derive(Debug, Clone)]
pub struct OriginMsg {
    pub subject: String,
    pub payload: Vec<u8>,
    pub ts: Nanos,
}

#[derive(Debug)]
struct OriginConsumer {
    name: String,
    deliver: String,
    next_seq: u64,
    dseq: u64,
    last_sseq: u64,
    since_fc: u64,
    fc_waiting: Option<String>,
    fc_count: u64,
}

/// A message on the wire toward the local server, with the subscription it matches.
#[derive(Debug, Clone)]
pub struct Wire {
    pub via: String,
    pub subject: String,
    pub reply: String,
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
}

/// The origin stream and its consumers.
#[derive(Debug, Default)]
pub struct Origin {
    pub name: String,
    pub msgs: BTreeMap<u64, OriginMsg>,
    pub last_seq: u64,
    pub exists: bool,
    consumers: Vec<OriginConsumer>,
    created: u64,
    /// Deliveries a consumer sends before asking for flow control.
    pub fc_every: u64,
    /// Deliveries per consumer per step.
    pub per_step: usize,
    /// Highest sequence any consumer ever delivered.
    high_water: u64,
    /// Which nats-server it behaves like.
    pub kind: OriginKind,
}

/// How an origin answers the 2.14 create request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OriginKind {
    /// 2.14: takes it, adds a suffix to the name, echoes `sourcing`.
    #[default]
    V214,
    /// Knows API levels but not level 4: refuses it with 10185.
    BelowLevel4,
    /// 2.9.10 (observed): ignores the header and `sourcing`, uses the name as given, and
    /// refuses a create of a live consumer's name with another start as an update (10012).
    V29,
    /// 2.9.10 asked for a live consumer's name with the same start: it updates the deliver
    /// subject and hands the consumer back with its progress.
    V29Handback,
}

impl Origin {
    pub fn new(name: &str) -> Self {
        Origin {
            name: name.into(),
            exists: true,
            fc_every: 5,
            per_step: 3,
            kind: OriginKind::V214,
            ..Default::default()
        }
    }

    pub fn publish(&mut self, subject: &str, payload: &str, now: Nanos) -> u64 {
        self.last_seq += 1;
        self.msgs.insert(
            self.last_seq,
            OriginMsg {
                subject: subject.into(),
                payload: payload.as_bytes().to_vec(),
                ts: now,
            },
        );
        self.last_seq
    }

    /// Removes a message no consumer has delivered yet.
    pub fn delete_undelivered(&mut self, seq: u64) -> bool {
        seq > self.high_water && self.msgs.remove(&seq).is_some()
    }

    fn first_seq(&self) -> u64 {
        self.msgs
            .keys()
            .next()
            .copied()
            .unwrap_or(self.last_seq + 1)
    }

    /// Answers a consumer create request.
    pub fn create(&mut self, headers: &[(String, String)], body: &[u8]) -> Value {
        let required = headers
            .iter()
            .find(|(n, _)| n == "Nats-Required-Api-Level")
            .and_then(|(_, v)| v.parse::<u32>().ok())
            .unwrap_or(0);
        if required > 0 && self.kind == OriginKind::BelowLevel4 {
            return json!({"error": {"code": 412, "err_code": 10185,
                "description": "JetStream minimum api level required"}});
        }
        if !self.exists {
            return json!({"type": "io.nats.jetstream.api.v1.consumer_create_response",
                "error": {"code": 404, "err_code": 10059, "description": "stream not found"}});
        }
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return json!({"error": {"code": 400, "err_code": 10025, "description": "invalid JSON"}});
        };
        let config = &req["config"];
        let start = match config["deliver_policy"].as_str() {
            Some("by_start_sequence") => config["opt_start_seq"].as_u64().unwrap_or(1),
            _ => self.first_seq(),
        };
        self.created += 1;
        let asked = config["name"].as_str().unwrap_or("C");
        let deliver = config["deliver_subject"].as_str().unwrap_or("").to_string();
        if self.kind == OriginKind::V29Handback {
            if let Some(c) = self.consumers.iter_mut().find(|c| c.name == asked) {
                c.deliver = deliver.clone();
                return json!({"type": "io.nats.jetstream.api.v1.consumer_create_response",
                    "stream_name": self.name, "name": asked,
                    "config": {"name": asked, "deliver_subject": deliver},
                    "delivered": {"consumer_seq": c.dseq, "stream_seq": c.last_sseq}});
            }
        }
        let name = match self.kind {
            OriginKind::V29Handback => asked.to_string(),
            OriginKind::V29 => {
                if self.consumers.iter().any(|c| c.name == asked) {
                    return json!({"error": {"code": 500, "err_code": 10012,
                        "description": "deliver policy can not be updated"}});
                }
                asked.to_string()
            }
            _ => format!("{asked}-{}", self.created),
        };
        let sourcing = self.kind == OriginKind::V214 && config["sourcing"] == true;
        self.consumers.push(OriginConsumer {
            name: name.clone(),
            deliver: deliver.clone(),
            next_seq: start.max(1),
            dseq: 0,
            last_sseq: start.saturating_sub(1),
            since_fc: 0,
            fc_waiting: None,
            fc_count: 0,
        });
        json!({"type": "io.nats.jetstream.api.v1.consumer_create_response", "stream_name": self.name,
            "name": name, "config": {"name": name, "deliver_subject": deliver, "sourcing": sourcing},
            "delivered": {"consumer_seq": 0, "stream_seq": start.saturating_sub(1)}})
    }

    /// A flow-control reply arrived.
    pub fn flow_control_reply(&mut self, subject: &str) {
        for c in &mut self.consumers {
            if c.fc_waiting.as_deref() == Some(subject) {
                c.fc_waiting = None;
            }
        }
    }

    /// Forgets consumers nobody listens to (their inactive threshold).
    pub fn retain_consumers(&mut self, listening: impl Fn(&str) -> bool) {
        self.consumers.retain(|c| listening(&c.deliver));
    }

    /// What the consumers send this step.
    pub fn pump(&mut self, out: &mut VecDeque<Wire>) {
        let stream = self.name.clone();
        for c in &mut self.consumers {
            for _ in 0..self.per_step {
                if c.fc_waiting.is_some() {
                    break;
                }
                let Some((&seq, msg)) = self.msgs.range(c.next_seq..).next() else {
                    break;
                };
                c.dseq += 1;
                c.next_seq = seq + 1;
                c.last_sseq = seq;
                self.high_water = self.high_water.max(seq);
                let pending = self.msgs.range(seq + 1..).count();
                out.push_back(Wire {
                    via: c.deliver.clone(),
                    subject: msg.subject.clone(),
                    reply: format!(
                        "$JS.ACK.{stream}.{}.1.{seq}.{}.{}.{pending}",
                        c.name, c.dseq, msg.ts
                    ),
                    headers: Vec::new(),
                    payload: msg.payload.clone(),
                });
                c.since_fc += 1;
                if c.since_fc >= self.fc_every {
                    c.since_fc = 0;
                    c.fc_count += 1;
                    let reply = format!("$JS.FC.{stream}.{}.{}", c.name, c.fc_count);
                    c.fc_waiting = Some(reply.clone());
                    out.push_back(Wire {
                        via: c.deliver.clone(),
                        subject: c.deliver.clone(),
                        reply,
                        headers: Headers::status(100, "FlowControl Request")
                            .encode()
                            .to_vec(),
                        payload: Vec::new(),
                    });
                }
            }
        }
    }

    /// Idle heartbeats of every consumer.
    pub fn heartbeats(&mut self, out: &mut VecDeque<Wire>) {
        for c in &self.consumers {
            let mut h = Headers::status(100, "Idle Heartbeat");
            h.insert("Nats-Last-Consumer", c.dseq.to_string());
            h.insert("Nats-Last-Stream", c.last_sseq.to_string());
            if let Some(fc) = &c.fc_waiting {
                h.insert("Nats-Consumer-Stalled", fc.clone());
            }
            out.push_back(Wire {
                via: c.deliver.clone(),
                subject: c.deliver.clone(),
                reply: String::new(),
                headers: h.encode().to_vec(),
                payload: Vec::new(),
            });
        }
    }
}

/// A sent message toward the origin.
#[derive(Debug, Clone)]
pub struct Sent {
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

/// What the local stream holds, as the engine would keep it.
#[derive(Debug, Default)]
pub struct LocalStore {
    /// Mirror: sequence → (subject, payload, time).
    pub mirrored: BTreeMap<u64, (String, Vec<u8>, Nanos)>,
    /// Mirror: skipped sequences.
    pub skipped: Vec<(u64, u64)>,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Source: stored messages in order (subject, headers, payload).
    pub sourced: Vec<(String, Vec<u8>, Vec<u8>)>,
}

impl LocalStore {
    pub fn state(&self) -> LocalState {
        let msgs = (self.mirrored.len() + self.sourced.len()) as u64;
        LocalState {
            msgs,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            last_time: 0,
        }
    }

    /// Origin sequences of the sourced messages, read back from their headers.
    pub fn sourced_origin_seqs(&self) -> Vec<u64> {
        self.sourced
            .iter()
            .filter_map(|(_, h, _)| find_header(h, STREAM_SOURCE).and_then(parse_source_header))
            .map(|m| m.origin_seq)
            .collect()
    }
}

/// The machine, the origin, and the network between them.
pub struct Sim {
    pub now: Nanos,
    pub machine: Sourcing,
    pub origin: Origin,
    pub local: LocalStore,
    pub subscribed: Vec<String>,
    pub to_local: VecDeque<Wire>,
    pub to_origin: VecDeque<Sent>,
    pub link_up: bool,
    /// Sync (and tell the machine) at the end of every step.
    pub auto_sync: bool,
    pub last_ticket: u64,
    pub sent_log: Vec<Sent>,
    /// Lose every n-th message toward the local server (0: none), as an origin does when it
    /// drops messages for a slow consumer.
    pub lose_every: u64,
    /// The origin's create answers leave after what its consumers send in the same step, as a
    /// local origin's do (the answer waits for the consumer's write to sync).
    pub late_responses: bool,
    carried: u64,
    steps: u64,
}

impl Sim {
    pub fn new(role: Role, source: StreamSource, origin: Origin, seed: u64) -> Sim {
        let machine = Sourcing::new(SourcingSetup {
            role,
            source,
            stream: "LOCAL".into(),
            account: "$G".into(),
            domain: String::new(),
            origin_sourced_twice: false,
            seed,
        });
        Sim {
            now: T0,
            machine,
            origin,
            local: LocalStore::default(),
            subscribed: Vec::new(),
            to_local: VecDeque::new(),
            to_origin: VecDeque::new(),
            link_up: true,
            auto_sync: true,
            last_ticket: 0,
            sent_log: Vec::new(),
            lose_every: 0,
            late_responses: false,
            carried: 0,
            steps: 0,
        }
    }

    pub fn start(&mut self, resume: Option<u64>) {
        let state = self.local.state();
        self.machine.start(self.now, state, resume);
        self.apply_actions();
    }

    /// Carries out the machine's actions, as an engine would.
    pub fn apply_actions(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::Subscribe(s) => self.subscribed.push(s),
                Action::Unsubscribe(s) => self.subscribed.retain(|x| *x != s),
                Action::Send {
                    subject,
                    reply,
                    headers,
                    payload,
                } => {
                    let sent = Sent {
                        subject,
                        reply,
                        headers,
                        payload: payload.to_vec(),
                    };
                    self.sent_log.push(sent.clone());
                    if self.link_up {
                        self.to_origin.push_back(sent);
                    }
                }
                Action::StoreMirrored {
                    seq,
                    time,
                    subject,
                    payload,
                    ticket,
                    ..
                } => {
                    assert!(
                        !self.local.mirrored.contains_key(&seq),
                        "duplicate store of {seq}"
                    );
                    assert_eq!(seq, self.local.last_seq + 1, "store out of order");
                    self.local
                        .mirrored
                        .insert(seq, (subject, payload.to_vec(), time));
                    if self.local.first_seq == 0 {
                        self.local.first_seq = seq;
                    }
                    self.local.last_seq = seq;
                    self.last_ticket = ticket;
                }
                Action::SkipMirrored {
                    first,
                    last,
                    ticket,
                } => {
                    assert_eq!(first, self.local.last_seq + 1, "skip out of order");
                    assert!(last >= first);
                    self.local.skipped.push((first, last));
                    self.local.last_seq = last;
                    self.last_ticket = ticket;
                }
                Action::ResetMirrorFirst { next_seq, ticket } => {
                    assert!(
                        self.local.mirrored.is_empty(),
                        "reset of a non-empty mirror"
                    );
                    self.local.first_seq = next_seq;
                    self.local.last_seq = next_seq - 1;
                    self.last_ticket = ticket;
                }
                Action::StoreSourced {
                    subject,
                    headers,
                    payload,
                    ticket,
                    ..
                } => {
                    self.local
                        .sourced
                        .push((subject, headers.to_vec(), payload.to_vec()));
                    self.local.last_seq += 1;
                    if self.local.first_seq == 0 {
                        self.local.first_seq = 1;
                    }
                    self.last_ticket = ticket;
                }
            }
        }
    }

    /// Feeds one wire message to the machine if it is subscribed.
    fn deliver(&mut self, w: Wire) {
        if !self.subscribed.contains(&w.via) {
            return;
        }
        let event = if w.via.starts_with("$JSC.R.") {
            Event::Response {
                subject: &w.via,
                payload: &w.payload,
            }
        } else {
            Event::Delivery {
                via: &w.via,
                subject: &w.subject,
                reply: &w.reply,
                headers: &w.headers,
                payload: &w.payload,
            }
        };
        self.machine.handle(self.now, event);
        self.apply_actions();
    }

    /// The origin reads what was sent to it; returns its create answers.
    fn origin_reads(&mut self) -> Vec<Wire> {
        let mut answers = Vec::new();
        while let Some(sent) = self.to_origin.pop_front() {
            if sent.subject.contains(".CONSUMER.CREATE.") {
                let answer = self.origin.create(&sent.headers, &sent.payload);
                if let Some(reply) = sent.reply {
                    answers.push(Wire {
                        via: reply.clone(),
                        subject: reply,
                        reply: String::new(),
                        headers: Vec::new(),
                        payload: answer.to_string().into_bytes(),
                    });
                }
            } else {
                self.origin.flow_control_reply(&sent.subject);
            }
        }
        answers
    }

    /// One step of 50 ms: everything in flight arrives, timers fire, the origin answers and
    /// sends, the local store syncs.
    pub fn step(&mut self) {
        self.steps += 1;
        self.now += STEP;
        if self.link_up {
            while let Some(w) = self.to_local.pop_front() {
                self.carried += 1;
                if self.lose_every > 0 && self.carried.is_multiple_of(self.lose_every) {
                    continue;
                }
                self.deliver(w);
            }
        }
        if self.machine.poll_timeout().is_some_and(|t| t <= self.now) {
            self.machine.handle_timeout(self.now);
            self.apply_actions();
        }
        if self.link_up {
            let answers = self.origin_reads();
            if !self.late_responses {
                self.to_local.extend(answers.iter().cloned());
            }
            let subscribed = self.subscribed.clone();
            self.origin
                .retain_consumers(|d| subscribed.iter().any(|s| s == d));
            self.origin.pump(&mut self.to_local);
            if self.late_responses {
                self.to_local.extend(answers);
            }
            if self.steps % 20 == 0 {
                self.origin.heartbeats(&mut self.to_local);
            }
        }
        if self.auto_sync {
            self.machine.durable(self.last_ticket);
            self.apply_actions();
        }
    }

    pub fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.step();
        }
    }

    pub fn cut(&mut self) {
        self.link_up = false;
        self.to_local.clear();
        self.to_origin.clear();
        self.machine.handle(self.now, Event::LinkDown);
        self.apply_actions();
    }

    pub fn restore(&mut self) {
        self.link_up = true;
        self.machine.handle(self.now, Event::LinkUp);
        self.apply_actions();
    }

    /// Creates sent so far, as JSON bodies.
    pub fn creates(&self) -> Vec<Value> {
        self.sent_log
            .iter()
            .filter(|s| s.subject.contains(".CONSUMER.CREATE."))
            .filter_map(|s| serde_json::from_slice(&s.payload).ok())
            .collect()
    }
}
