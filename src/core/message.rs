//! A NATS message as the engine takes it in and hands it out.

use bytes::Bytes;

/// A message on a subject: what a client publishes to the engine, and what the engine asks its
/// shell to deliver (stream messages to consumers, API replies, status messages, acks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Subject the message is published to.
    pub subject: String,
    /// Reply subject, if the sender expects an answer.
    pub reply: Option<String>,
    /// Raw `NATS/1.0` header block, if any.
    pub headers: Option<Bytes>,
    /// Payload.
    pub payload: Bytes,
}

impl Message {
    /// A message with a payload and nothing else.
    pub fn new(subject: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Message {
            subject: subject.into(),
            payload: payload.into(),
            ..Default::default()
        }
    }

    /// The same message with a reply subject.
    pub fn with_reply(mut self, reply: impl Into<String>) -> Self {
        self.reply = Some(reply.into());
        self
    }

    /// The same message with a header block.
    pub fn with_headers(mut self, headers: impl Into<Bytes>) -> Self {
        self.headers = Some(headers.into());
        self
    }
}

/// Names one link: a connection the shell keeps to another NATS server (see
/// [`crate::core::link`]). The shell chooses the numbers and tells the engine which are up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// Where a message the engine sends goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Destination {
    /// The subscribers of this server or page (the engine itself included, when it subscribed).
    #[default]
    Local,
    /// Published on a link to another server, as `msg` (its subject and reply).
    Link(LinkId),
}

/// A message the engine asks its shell to deliver.
///
/// `to` is the subject whose subscribers receive it; `msg.subject` is the subject they see. They
/// differ for consumer deliveries: a pull consumer sends a stream message, under its original
/// subject, to the inbox a pull request named, as nats-server does. `dest` says where: local
/// subscribers (routed on `to` and `group`), or a link (published as `msg`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbound {
    /// Subject to route on: an inbox, a push consumer's deliver subject, a reply subject.
    pub to: String,
    /// When set, only subscribers in this queue group receive it (push `deliver_group`).
    pub group: Option<String>,
    /// The message as subscribers see it.
    pub msg: Message,
    /// Local subscribers, or a link.
    pub dest: Destination,
}

impl Outbound {
    /// A reply or status message whose visible subject is the routing subject itself.
    pub fn to_subject(
        to: impl Into<String>,
        headers: Option<Bytes>,
        payload: impl Into<Bytes>,
    ) -> Self {
        let to = to.into();
        let msg = Message {
            subject: to.clone(),
            reply: None,
            headers,
            payload: payload.into(),
        };
        Outbound {
            to,
            group: None,
            msg,
            dest: Destination::Local,
        }
    }
}
