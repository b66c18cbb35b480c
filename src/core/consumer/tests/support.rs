//! Shared fixtures: a memory store, consumers built from validated configs, and readers for
//! what a consumer sends.

use bytes::Bytes;

use crate::core::consumer::{
    parse_ack_subject, AckKind, AckPolicy, AckSubject, Consumer, ConsumerConfig, PullRequest,
};
use crate::core::headers::Headers;
use crate::core::message::Outbound;
use crate::core::store::memory::MemoryStore;
use crate::core::store::StreamStore;
use crate::core::time::{Nanos, MILLIS, SECONDS};

/// A fixed start time for the fake clock.
pub const T0: Nanos = 1_700_000_000_000_000_000;
/// The stream every test consumer reads.
pub const STREAM: &str = "ORDERS";

/// A store holding `subjects`, one message each, stored 1 ms apart from `T0`.
pub fn store_with(subjects: &[&str]) -> MemoryStore {
    let mut store = MemoryStore::new();
    for (i, subject) in subjects.iter().enumerate() {
        let payload = Bytes::from(format!("m{}", i + 1));
        store
            .store_msg(subject, None, payload, T0 + i as Nanos * MILLIS)
            .expect("memory store accepts");
    }
    store
}

/// A store with `n` messages on `orders.new`.
pub fn store_n(n: usize) -> MemoryStore {
    let subjects = vec!["orders.new"; n];
    store_with(&subjects)
}

/// Stores one more message on `subject` at `now`.
pub fn publish(store: &mut MemoryStore, subject: &str, now: Nanos) -> u64 {
    store
        .store_msg(subject, None, Bytes::from_static(b"later"), now)
        .expect("memory store accepts")
}

/// A durable pull consumer config with explicit acks (before validation).
pub fn pull_config(name: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable_name: Some(name.to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

/// A durable push consumer config delivering to `deliver` (before validation).
pub fn push_config(name: &str, deliver: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable_name: Some(name.to_string()),
        deliver_subject: Some(deliver.to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

/// Validates `config` for a stream on `orders.>` and creates the consumer at `T0`.
pub fn consumer(store: &MemoryStore, config: ConsumerConfig) -> Consumer {
    let config = config
        .validated(&["orders.>".to_string()], false)
        .expect("test config is valid");
    Consumer::create(STREAM, config, store, T0).expect("consumer is created")
}

/// Pulls `batch` messages (no expiry) at `now`.
pub fn fetch(c: &mut Consumer, store: &MemoryStore, batch: usize, now: Nanos) -> Vec<Outbound> {
    let mut out = Vec::new();
    c.pull(PullRequest::batch(batch), "_INBOX.1", store, now, &mut out);
    out
}

/// Pulls with a full request at `now`, replying to `inbox`.
pub fn request(
    c: &mut Consumer,
    store: &MemoryStore,
    req: PullRequest,
    inbox: &str,
    now: Nanos,
) -> Vec<Outbound> {
    let mut out = Vec::new();
    c.pull(req, inbox, store, now, &mut out);
    out
}

/// Polls at `now`.
pub fn poll(c: &mut Consumer, store: &MemoryStore, now: Nanos) -> Vec<Outbound> {
    let mut out = Vec::new();
    c.poll(store, now, &mut out);
    out
}

/// The ack subjects of the deliveries among `out` (status messages skipped).
pub fn deliveries(out: &[Outbound]) -> Vec<AckSubject> {
    out.iter()
        .filter_map(|o| o.msg.reply.as_deref())
        .filter_map(parse_ack_subject)
        .collect()
}

/// The stream sequences delivered in `out`.
pub fn seqs(out: &[Outbound]) -> Vec<u64> {
    deliveries(out).iter().map(|a| a.stream_seq).collect()
}

/// `(code, description)` of every status message in `out`.
pub fn statuses(out: &[Outbound]) -> Vec<(u16, String)> {
    out.iter()
        .filter_map(|o| o.msg.headers.as_ref())
        .filter_map(|h| Headers::parse(h).ok())
        .filter_map(|h| Some((h.status_code()?, h.description().to_string())))
        .collect()
}

/// The parsed headers of the first status message with `code`.
pub fn status_headers(out: &[Outbound], code: u16) -> Headers {
    out.iter()
        .filter_map(|o| o.msg.headers.as_ref())
        .filter_map(|h| Headers::parse(h).ok())
        .find(|h| h.status_code() == Some(code))
        .expect("status message present")
}

/// Acks `a` with `kind` at `now`, without an ack reply.
pub fn ack_with(c: &mut Consumer, store: &MemoryStore, a: &AckSubject, kind: AckKind, now: Nanos) {
    let mut out = Vec::new();
    c.ack(a, kind, None, store, now, &mut out);
}

/// Seconds as nanoseconds.
pub fn secs(n: i64) -> Nanos {
    n * SECONDS
}
