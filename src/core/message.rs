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
