//! A test client for the engine behind its JetStream front: speaks `$JS.API` JSON and
//! publishes, like a NATS client would, with a clock the test moves by hand.

#![allow(dead_code)]

use bytes::Bytes;
use contrail::core::front::JetStream;
use contrail::core::headers::Headers;
use contrail::core::message::{Message, Outbound};
use contrail::core::time::{Nanos, SECONDS};
use serde_json::Value;

pub const START: Nanos = 1_700_000_000 * SECONDS;

pub struct Client {
    pub front: JetStream,
    pub now: Nanos,
    inbox: u64,
}

impl Client {
    pub fn new() -> Self {
        Client {
            front: JetStream::in_memory(7),
            now: START,
            inbox: 0,
        }
    }

    pub fn new_inbox(&mut self) -> String {
        self.inbox += 1;
        format!("_INBOX.test.{}", self.inbox)
    }

    /// Hands a message to the engine, flushes, and returns everything released.
    pub fn send(&mut self, msg: Message) -> (bool, Vec<Outbound>) {
        let handled = self.front.handle(msg, self.now);
        (handled, self.drain())
    }

    pub fn drain(&mut self) -> Vec<Outbound> {
        let engine = self.front.engine_mut();
        engine.flush().result().expect("memory store syncs");
        std::iter::from_fn(|| engine.poll_outbound()).collect()
    }

    /// Moves the clock and runs the timers.
    pub fn advance(&mut self, by: Nanos) -> Vec<Outbound> {
        self.now += by;
        self.front.engine_mut().handle_timeout(self.now);
        self.drain()
    }

    /// A `$JS.API` request; returns the JSON reply.
    pub fn api(&mut self, subject: &str, body: &str) -> Value {
        let inbox = self.new_inbox();
        let msg = Message::new(format!("$JS.API.{subject}"), Bytes::from(body.to_string()))
            .with_reply(inbox.clone());
        let (handled, out) = self.send(msg);
        assert!(handled, "{subject} was not handled");
        let reply = out
            .iter()
            .find(|o| o.to == inbox)
            .unwrap_or_else(|| panic!("no reply to {subject}: {out:?}"));
        serde_json::from_slice(&reply.msg.payload).expect("reply is JSON")
    }

    /// Publishes with a reply subject and returns the PubAck JSON (None when no stream took it).
    pub fn publish(&mut self, subject: &str, payload: &str) -> Option<Value> {
        self.publish_with(subject, None, payload)
    }

    pub fn publish_with(
        &mut self,
        subject: &str,
        headers: Option<Headers>,
        payload: &str,
    ) -> Option<Value> {
        let inbox = self.new_inbox();
        let mut msg =
            Message::new(subject, Bytes::from(payload.to_string())).with_reply(inbox.clone());
        msg.headers = headers.map(|h| h.encode());
        let (handled, out) = self.send(msg);
        if !handled {
            return None;
        }
        let reply = out.iter().find(|o| o.to == inbox).expect("a PubAck");
        Some(serde_json::from_slice(&reply.msg.payload).expect("PubAck is JSON"))
    }

    /// Sends a pull request and returns what arrived on its inbox right away.
    pub fn pull(&mut self, stream: &str, consumer: &str, body: &str) -> (String, Vec<Outbound>) {
        let inbox = self.new_inbox();
        let msg = Message::new(
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            Bytes::from(body.to_string()),
        )
        .with_reply(inbox.clone());
        let (handled, out) = self.send(msg);
        assert!(handled, "pull request not handled");
        let mine = out.into_iter().filter(|o| o.to == inbox).collect();
        (inbox, mine)
    }

    /// Acks a delivered message with the given body, synchronously (with a reply subject).
    pub fn ack(&mut self, delivered: &Outbound, body: &str) -> Vec<Outbound> {
        let ack_subject = delivered
            .msg
            .reply
            .clone()
            .expect("delivery has an ack subject");
        let inbox = self.new_inbox();
        let msg = Message::new(ack_subject, Bytes::from(body.to_string())).with_reply(inbox);
        let (handled, out) = self.send(msg);
        assert!(handled, "ack not handled");
        out
    }
}

/// The status code of a status message (`NATS/1.0 404 No Messages`), if it is one.
pub fn status_of(out: &Outbound) -> Option<u16> {
    let headers = out.msg.headers.as_ref()?;
    Headers::parse(headers).ok()?.status_code()
}

/// The stream messages (not status messages) among `out`, as payload strings.
pub fn payloads(out: &[Outbound]) -> Vec<String> {
    out.iter()
        .filter(|o| status_of(o).is_none())
        .map(|o| String::from_utf8_lossy(&o.msg.payload).into_owned())
        .collect()
}

pub fn err_code(reply: &Value) -> Option<u64> {
    reply.get("error")?.get("err_code")?.as_u64()
}
