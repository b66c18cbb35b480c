//! Uploads between two engines joined by a test link: the local one hosts the upload, the
//! remote one is a server's engine (its stream deduplicates on `Nats-Msg-Id`). The link can be
//! cut at any point: what was on the wire is delivered up to a random point and the rest lost,
//! replies included, as when a WebSocket dies mid-frame. Afterwards the remote stream must hold
//! every local message exactly once, in order.

use std::collections::VecDeque;

use bytes::Bytes;

use super::upload::{UploadConfig, UploadStatus};
use crate::core::engine::{Engine, EngineEvent, SubId};
use crate::core::headers::Headers;
use crate::core::message::{Destination, LinkId, Message};
use crate::core::rand::Rng;
use crate::core::time::{Nanos, MILLIS, SECONDS};

const LINK: LinkId = LinkId(1);

struct Net {
    local: Engine,
    remote: Engine,
    up: bool,
    /// The local engine's inbox subscription on the link.
    inbox: Option<SubId>,
    to_remote: VecDeque<Message>,
    to_local: VecDeque<Message>,
    now: Nanos,
}

fn create_stream(engine: &mut Engine, name: &str, subject: &str, now: Nanos) {
    let body = format!(r#"{{"name":"{name}","subjects":["{subject}"]}}"#);
    let api = format!("$JS.API.STREAM.CREATE.{name}");
    assert!(engine.handle(Message::new(api, body), now));
    engine.flush().expect("memory stores sync");
    while engine.poll_outbound().is_some() {}
    assert!(engine.stream(name).is_some(), "stream {name} made");
}

impl Net {
    fn new(remote_stream: bool) -> Net {
        let now = 1_000 * SECONDS;
        let mut local = Engine::in_memory(3);
        let mut remote = Engine::in_memory(4);
        create_stream(&mut local, "LOCAL", "ev.>", now);
        if remote_stream {
            create_stream(&mut remote, "REMOTE", "up.ev.>", now);
        }
        Net {
            local,
            remote,
            up: false,
            inbox: None,
            to_remote: VecDeque::new(),
            to_local: VecDeque::new(),
            now,
        }
    }

    fn write(&mut self, from: u64, to: u64) {
        for i in from..=to {
            let msg = Message::new(format!("ev.{}", i % 7), format!("m{i}"));
            assert!(self.local.handle(msg, self.now));
        }
    }

    fn start(&mut self) -> UploadStatus {
        let mut config = UploadConfig::new("LOCAL", "REMOTE", Destination::Link(LINK));
        config.subject_prefix = Some("up.".into());
        config.window = 16;
        self.local
            .start_upload("up", config, "origin0001", self.now)
            .expect("upload starts")
    }

    fn link_up(&mut self) {
        self.up = true;
        self.local.link_up(LINK, self.now);
    }

    /// Delivers the first `keep` messages on the wire (all with `None`), loses the rest, and
    /// reports the link down.
    fn cut(&mut self, keep: Option<usize>) {
        if let Some(keep) = keep {
            self.to_remote.truncate(keep);
        }
        self.deliver_to_remote();
        self.to_remote.clear();
        self.to_local.clear();
        self.up = false;
        self.local.link_down(LINK, self.now);
    }

    fn deliver_to_remote(&mut self) {
        while let Some(msg) = self.to_remote.pop_front() {
            let reply = msg.reply.clone();
            if !self.remote.handle(msg, self.now) {
                // Nothing took it: the server answers a request with "no responders".
                if let Some(reply) = reply {
                    let mut status = Message::new(reply, Bytes::new());
                    status.headers = Some(Headers::status(503, "").encode());
                    self.to_local.push_back(status);
                }
            }
        }
        self.remote.flush().expect("memory stores sync");
        while let Some(out) = self.remote.poll_outbound() {
            self.to_local.push_back(out.msg);
        }
    }

    /// One round: the local engine flushes and sends, the remote answers, replies come back.
    /// Returns whether anything moved.
    fn step(&mut self) -> bool {
        self.local.flush().expect("memory stores sync");
        while let Some(event) = self.local.poll_event() {
            if let EngineEvent::Subscribe {
                sid,
                dest: Destination::Link(_),
                ..
            } = event
            {
                self.inbox = Some(sid);
            }
        }
        let mut moved = false;
        while let Some(out) = self.local.poll_outbound() {
            if out.dest == Destination::Link(LINK) && self.up {
                self.to_remote.push_back(out.msg);
                moved = true;
            }
        }
        self.deliver_to_remote();
        while let Some(reply) = self.to_local.pop_front() {
            let sid = self
                .inbox
                .expect("the inbox is subscribed before a request leaves");
            self.local.handle_subscribed(sid, reply, self.now);
            moved = true;
        }
        moved
    }

    /// Steps until nothing moves (bounded).
    fn settle(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the upload did not settle");
    }

    fn status(&self) -> UploadStatus {
        self.local.upload_status("up").expect("the upload runs")
    }

    /// The remote stream's messages, in order, as (subject, payload).
    fn remote_messages(&self) -> Vec<(String, String)> {
        let stream = self.remote.stream("REMOTE").expect("remote stream");
        let store = stream.store();
        let mut out = Vec::new();
        let mut seq = 1;
        while let Ok(msg) = store.load_next_msg(">", seq) {
            out.push((
                msg.subject.clone(),
                String::from_utf8_lossy(&msg.payload).into_owned(),
            ));
            seq = msg.seq + 1;
        }
        out
    }

    fn expected(n: u64) -> Vec<(String, String)> {
        (1..=n)
            .map(|i| (format!("up.ev.{}", i % 7), format!("m{i}")))
            .collect()
    }
}

#[test]
fn messages_written_offline_arrive_once_in_order_when_the_link_comes_up() {
    let mut net = Net::new(true);
    net.write(1, 100);
    let status = net.start();
    assert_eq!((status.pending, status.online), (100, false));
    net.settle();
    assert!(
        net.remote_messages().is_empty(),
        "nothing leaves while offline"
    );
    net.link_up();
    net.settle();
    assert_eq!(net.remote_messages(), Net::expected(100));
    let status = net.status();
    assert_eq!(
        (status.cursor, status.pending, status.in_flight),
        (100, 0, 0)
    );
    assert_eq!(status.duplicates, 0);
    // The cursor is the upload consumer's ack floor, saved with the stream.
    let info = net
        .local
        .consumer_info("LOCAL", "up", net.now)
        .expect("the upload's consumer");
    assert_eq!(info.ack_floor.stream_seq, 100);
    assert_eq!(info.num_pending, 0);
}

#[test]
fn publishes_carry_the_origin_id_and_expect_the_remote_stream() {
    let mut net = Net::new(true);
    net.write(1, 3);
    net.start();
    net.link_up();
    net.settle();
    let stream = net.remote.stream("REMOTE").expect("remote stream");
    let stored = stream.store().load_msg(2).expect("second message");
    let headers = Headers::parse(stored.headers.as_deref().expect("headers")).expect("parse");
    assert_eq!(headers.get("Nats-Msg-Id"), Some("origin0001:LOCAL:2"));
    assert_eq!(
        headers.get("Contrail-Origin-Seq"),
        Some("origin0001:LOCAL:2")
    );
    assert_eq!(headers.get("Nats-Expected-Stream"), Some("REMOTE"));
}

#[test]
fn many_publishes_leave_before_the_first_puback() {
    let mut net = Net::new(true);
    net.write(1, 40);
    net.start();
    net.link_up();
    net.local.flush().expect("sync");
    let sent = std::iter::from_fn(|| net.local.poll_outbound())
        .filter(|out| out.dest == Destination::Link(LINK))
        .count();
    assert_eq!(sent, 16, "a whole window leaves at once");
}

#[test]
fn random_cuts_never_lose_or_duplicate_a_message() {
    // Publishes stored whose PubAck a cut lost: they come back as duplicates.
    let mut repeats = 0;
    for seed in 1..=40u64 {
        let mut rng = Rng::new(seed);
        let mut net = Net::new(true);
        net.start();
        let mut written = 0;
        for _round in 0..30 {
            let more = rng.next_u64() % 20;
            net.write(written + 1, written + more);
            written += more;
            if !net.up && rng.next_u64() % 3 != 0 {
                net.link_up();
            }
            // A few rounds, then maybe a cut with part of the wire delivered.
            for _ in 0..(rng.next_u64() % 4) {
                net.step();
            }
            if net.up && rng.next_u64() % 2 == 0 {
                net.local.flush().expect("sync");
                while let Some(out) = net.local.poll_outbound() {
                    if out.dest == Destination::Link(LINK) {
                        net.to_remote.push_back(out.msg);
                    }
                }
                let keep = (rng.next_u64() % (net.to_remote.len() as u64 + 1)) as usize;
                net.cut(Some(keep));
            }
            net.now += 50 * MILLIS;
        }
        net.link_up();
        net.settle();
        assert_eq!(net.remote_messages(), Net::expected(written), "seed {seed}");
        assert_eq!(net.status().cursor, written, "seed {seed}");
        repeats += net.status().duplicates;
    }
    assert!(repeats > 0, "the cuts lost PubAcks of stored messages");
}

#[test]
fn an_error_reply_is_reported_retried_after_backoff_and_skips_nothing() {
    let mut net = Net::new(false);
    net.write(1, 10);
    net.start();
    net.link_up();
    net.settle();
    let status = net.status();
    assert_eq!(status.cursor, 0);
    let error = status.last_error.expect("the refusal is reported");
    assert!(error.contains("no responders"), "{error}");
    let retry_at = status.retry_at.expect("a backoff");
    assert!(retry_at > net.now);
    assert_eq!(net.local.poll_timeout(), Some(retry_at));

    // The server gets a stream with another name capturing the subjects: wrong stream.
    create_stream(&mut net.remote, "OTHER", "up.ev.>", net.now);
    net.now = retry_at;
    net.local.handle_timeout(net.now);
    net.settle();
    let status = net.status();
    let error = status.last_error.expect("wrong stream is reported");
    assert!(error.contains("10060"), "{error}");
    assert_eq!(status.cursor, 0);

    // Fixed on the server: everything goes, from the first message.
    let delete = Message::new("$JS.API.STREAM.DELETE.OTHER", "");
    assert!(net.remote.handle(delete, net.now));
    create_stream(&mut net.remote, "REMOTE", "up.ev.>", net.now);
    net.now = status.retry_at.expect("backed off again");
    net.local.handle_timeout(net.now);
    net.settle();
    assert_eq!(net.remote_messages(), Net::expected(10));
    assert_eq!(net.status().last_error, None);
}

#[test]
fn a_restarted_upload_resumes_from_its_saved_cursor() {
    let mut net = Net::new(true);
    net.write(1, 30);
    net.start();
    net.link_up();
    net.settle();
    assert!(net.local.stop_upload("up"));
    net.write(31, 45);
    // Started again (a reload): same origin, from the consumer's floor, no repeat sent.
    let status = net.start();
    assert_eq!((status.cursor, status.pending), (30, 15));
    assert_eq!(status.origin, "origin0001");
    net.settle();
    assert_eq!(net.remote_messages(), Net::expected(45));
    assert_eq!(net.status().duplicates, 0);
}

#[test]
fn paused_uploads_send_nothing_until_resumed() {
    let mut net = Net::new(true);
    net.write(1, 5);
    net.start();
    assert!(net.local.pause_upload("up", true));
    net.link_up();
    net.settle();
    assert!(net.remote_messages().is_empty());
    assert!(net.status().paused);
    assert!(net.local.pause_upload("up", false));
    net.settle();
    assert_eq!(net.remote_messages(), Net::expected(5));
}

#[test]
fn a_consumer_that_is_not_an_uploads_is_not_taken_over() {
    let mut net = Net::new(true);
    let body = r#"{"stream_name":"LOCAL","config":{"durable_name":"up","ack_policy":"explicit"}}"#;
    assert!(net.local.handle(
        Message::new("$JS.API.CONSUMER.CREATE.LOCAL.up", body),
        net.now
    ));
    let config = UploadConfig::new("LOCAL", "REMOTE", Destination::Link(LINK));
    let refused = net
        .local
        .start_upload("up", config.clone(), "origin0001", net.now);
    assert_eq!(refused.map_err(|e| e.err_code), Err(10013));
    let short = net.local.start_upload("up2", config, "short", net.now);
    assert_eq!(short.map_err(|e| e.err_code), Err(10003));
}
