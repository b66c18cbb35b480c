//! Uploads between two engines joined by a test link: the local one hosts the upload, the
//! remote one is a server's engine (its stream deduplicates on `Nats-Msg-Id`). The link can be
//! cut at any point: what was on the wire is delivered up to a random point and the rest lost,
//! replies included, as when a WebSocket dies mid-frame. Afterwards the remote stream must hold
//! every local message exactly once, in order.

use std::collections::VecDeque;

use bytes::Bytes;

use super::upload::{UploadConfig, UploadStatus};
use crate::core::engine::{EngineEvent, SubId};
use crate::core::front::JetStream;
use crate::core::headers::Headers;
use crate::core::message::{Destination, LinkId, Message};
use crate::core::rand::Rng;
use crate::core::time::{Nanos, MILLIS, SECONDS};

const LINK: LinkId = LinkId(1);

struct Net {
    local: JetStream,
    remote: JetStream,
    up: bool,
    /// The local engine's inbox subscription on the link.
    inbox: Option<SubId>,
    to_remote: VecDeque<Message>,
    to_local: VecDeque<Message>,
    now: Nanos,
}

fn create_stream(front: &mut JetStream, name: &str, subject: &str, now: Nanos) {
    create_stream_with(front, name, subject, "", now);
}

/// A stream with `extra` JSON fields (`,"duplicate_window":1000`).
fn create_stream_with(front: &mut JetStream, name: &str, subject: &str, extra: &str, now: Nanos) {
    let body = format!(r#"{{"name":"{name}","subjects":["{subject}"]{extra}}}"#);
    let api = format!("$JS.API.STREAM.CREATE.{name}");
    assert!(front.handle(Message::new(api, body), now));
    let engine = front.engine_mut();
    engine.flush().result().expect("memory stores sync");
    while engine.poll_outbound().is_some() {}
    assert!(engine.stream(name).is_some(), "stream {name} made");
}

impl Net {
    fn new(remote_stream: bool) -> Net {
        Net::with_remote(remote_stream.then_some(""))
    }

    /// With the remote stream made with `extra` config fields, or none.
    fn with_remote(extra: Option<&str>) -> Net {
        let now = 1_000 * SECONDS;
        let mut local = JetStream::in_memory(3);
        let mut remote = JetStream::in_memory(4);
        create_stream(&mut local, "LOCAL", "ev.>", now);
        if let Some(extra) = extra {
            create_stream_with(&mut remote, "REMOTE", "up.ev.>", extra, now);
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
            .engine_mut()
            .start_upload("up", config, "origin0001", self.now)
            .expect("upload starts")
    }

    fn link_up(&mut self) {
        self.up = true;
        self.local.engine_mut().link_up(LINK, self.now);
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
        self.local.engine_mut().link_down(LINK, self.now);
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
        self.remote
            .engine_mut()
            .flush()
            .result()
            .expect("memory stores sync");
        while let Some(out) = self.remote.engine_mut().poll_outbound() {
            self.to_local.push_back(out.msg);
        }
    }

    /// One round: the local engine flushes and sends, the remote answers, replies come back.
    /// Returns whether anything moved.
    fn step(&mut self) -> bool {
        self.local
            .engine_mut()
            .flush()
            .result()
            .expect("memory stores sync");
        while let Some(event) = self.local.engine_mut().poll_event() {
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
        while let Some(out) = self.local.engine_mut().poll_outbound() {
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
        self.local
            .engine()
            .upload_status("up")
            .expect("the upload runs")
    }

    /// The remote stream's messages, in order, as (subject, payload).
    fn remote_messages(&self) -> Vec<(String, String)> {
        let stream = self
            .remote
            .engine()
            .stream("REMOTE")
            .expect("remote stream");
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
        .engine()
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
    let stream = net.remote.engine().stream("REMOTE").expect("remote stream");
    let stored = stream.store().load_msg(2).expect("second message");
    let headers = Headers::parse(stored.headers.as_deref().expect("headers")).expect("parse");
    assert_eq!(headers.get("Nats-Msg-Id"), Some("origin0001:LOCAL:2"));
    assert_eq!(
        headers.get("Contrail-Origin-Seq"),
        Some("origin0001:LOCAL:2")
    );
    assert_eq!(headers.get("Nats-Expected-Stream"), Some("REMOTE"));
    // Each publish names its predecessor, except the first after a (re)start.
    assert_eq!(headers.get("Contrail-Origin-Prev"), Some("1"));
    let first = stream.store().load_msg(1).expect("first message");
    let headers = Headers::parse(first.headers.as_deref().expect("headers")).expect("parse");
    assert_eq!(headers.get("Contrail-Origin-Prev"), None);
}

#[test]
fn a_message_s_own_id_and_expectations_are_replaced() {
    let mut net = Net::new(true);
    let mut headers = Headers::new();
    headers.insert("Nats-Msg-Id", "mine");
    headers.insert("Nats-Expected-Last-Sequence", "0");
    headers.insert("Trace", "t1");
    let mut msg = Message::new("ev.1", "m1");
    msg.headers = Some(headers.encode());
    assert!(net.local.handle(msg, net.now));
    net.start();
    net.link_up();
    net.settle();
    let stream = net.remote.engine().stream("REMOTE").expect("remote stream");
    let stored = stream.store().load_msg(1).expect("uploaded");
    let headers = Headers::parse(stored.headers.as_deref().expect("headers")).expect("parse");
    assert_eq!(headers.get("Nats-Msg-Id"), Some("origin0001:LOCAL:1"));
    assert_eq!(headers.get("Nats-Expected-Last-Sequence"), None);
    assert_eq!(headers.get("Trace"), Some("t1"));
}

#[test]
fn many_publishes_leave_before_the_first_puback() {
    let mut net = Net::new(true);
    net.write(1, 40);
    net.start();
    net.link_up();
    net.local.engine_mut().flush().result().expect("sync");
    let sent = std::iter::from_fn(|| net.local.engine_mut().poll_outbound())
        .filter(|out| out.dest == Destination::Link(LINK))
        .count();
    assert_eq!(sent, 16, "a whole window leaves at once");
}

#[test]
fn random_cuts_never_lose_or_duplicate_a_message() {
    random_cuts("");
}

/// With a duplicate window of 100 ms, the shortest allowed (rounds are 50 ms apart, so most repeats come after it), only the Contrail stream's
/// origin marks (`core::stream::origins`) can tell a repeat: still exactly once.
#[test]
fn random_cuts_past_the_duplicate_window_never_duplicate_on_contrail() {
    random_cuts(r#","duplicate_window":100000000"#);
}

fn random_cuts(remote_config: &str) {
    // Publishes stored whose PubAck a cut lost: they come back as duplicates.
    let mut repeats = 0;
    for seed in 1..=40u64 {
        let mut rng = Rng::new(seed);
        let mut net = Net::with_remote(Some(remote_config));
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
                net.local.engine_mut().flush().result().expect("sync");
                while let Some(out) = net.local.engine_mut().poll_outbound() {
                    if out.dest == Destination::Link(LINK) {
                        net.to_remote.push_back(out.msg);
                    }
                }
                let keep = (rng.next_u64() % (net.to_remote.len() as u64 + 1)) as usize;
                net.cut(Some(keep));
            }
            net.now += 50 * MILLIS;
            net.remote.engine_mut().handle_timeout(net.now);
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
    assert_eq!(net.local.engine().poll_timeout(), Some(retry_at));

    // The server gets a stream with another name capturing the subjects: wrong stream.
    create_stream(&mut net.remote, "OTHER", "up.ev.>", net.now);
    net.now = retry_at;
    net.local.engine_mut().handle_timeout(net.now);
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
    net.local.engine_mut().handle_timeout(net.now);
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
    assert!(net.local.engine_mut().stop_upload("up"));
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
    assert!(net.local.engine_mut().pause_upload("up", true));
    net.link_up();
    net.settle();
    assert!(net.remote_messages().is_empty());
    assert!(net.status().paused);
    assert!(net.local.engine_mut().pause_upload("up", false));
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
        .engine_mut()
        .start_upload("up", config.clone(), "origin0001", net.now);
    assert_eq!(refused.map_err(|e| e.err_code), Err(10013));
    let short = net
        .local
        .engine_mut()
        .start_upload("up2", config, "short", net.now);
    assert_eq!(short.map_err(|e| e.err_code), Err(10003));
}

/// PubAcks lost, then back after the duplicate window with the server reopened in between
/// (its marks rebuilt from the stored messages): every repeat is a duplicate.
#[test]
fn repeats_after_the_window_and_a_reopen_are_duplicates() {
    let mut net = Net::with_remote(Some(r#","duplicate_window":1000000000"#));
    net.write(1, 20);
    net.start();
    net.link_up();
    net.local.engine_mut().flush().result().expect("sync");
    while let Some(out) = net.local.engine_mut().poll_outbound() {
        if out.dest == Destination::Link(LINK) {
            net.to_remote.push_back(out.msg);
        }
    }
    // The server stores the whole window (16); every PubAck is lost.
    net.cut(None);
    assert_eq!(net.remote_messages().len(), 16);
    assert_eq!(net.status().cursor, 0);
    net.now += 10 * SECONDS;
    net.remote.engine_mut().handle_timeout(net.now);
    let reopened = net
        .remote
        .engine_mut()
        .streams
        .get_mut("REMOTE")
        .expect("remote stream");
    reopened.stream.forget_discarded(net.now);
    net.link_up();
    net.settle();
    assert_eq!(net.remote_messages(), Net::expected(20));
    let status = net.status();
    assert_eq!((status.cursor, status.duplicates), (20, 16));
}

/// A publish whose predecessor the server does not hold is refused (10071), so a refused
/// publish is never overtaken; the first publish after a restart names none and is stored.
#[test]
fn an_upload_publish_that_would_overtake_a_missing_one_is_refused() {
    let mut net = Net::new(true);
    let publish = |net: &mut Net, seq: u64, prev: Option<u64>| {
        let mut headers = Headers::new();
        headers.insert("Contrail-Origin-Seq", format!("o1234567:S:{seq}"));
        if let Some(prev) = prev {
            headers.insert("Contrail-Origin-Prev", prev.to_string());
        }
        let mut msg = Message::new("up.ev.1", format!("m{seq}"));
        msg.headers = Some(headers.encode());
        msg.reply = Some("_INBOX.test".into());
        assert!(net.remote.handle(msg, net.now));
        net.remote.engine_mut().flush().result().expect("sync");
        let reply = net.remote.engine_mut().poll_outbound().expect("a reply");
        String::from_utf8_lossy(&reply.msg.payload).into_owned()
    };
    assert!(publish(&mut net, 1, None).contains(r#""seq":1"#));
    let refused = publish(&mut net, 3, Some(2));
    assert!(refused.contains("10071"), "{refused}");
    assert!(publish(&mut net, 2, Some(1)).contains(r#""seq":2"#));
    assert!(publish(&mut net, 3, Some(2)).contains(r#""seq":3"#));
    let again = publish(&mut net, 2, Some(1));
    assert!(again.contains(r#""duplicate":true"#), "{again}");
    // A first publish after a restart (no predecessor named) above the mark is stored.
    assert!(publish(&mut net, 5, None).contains(r#""seq":4"#));
}
