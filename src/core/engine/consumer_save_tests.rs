//! How a flush saves consumers: acks nobody waits on are only written (the store may return
//! before they are durable against a power loss); an ack with a reply makes the stream's
//! consumer records durable before that reply leaves.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;

use crate::core::consumer::{parse_ack_subject, AckPolicy, ConsumerConfig, PullRequest};
use crate::core::engine::{CreateAction, Engine, EngineConfig, StoreFactory};
use crate::core::message::Message;
use crate::core::store::delegate::{delegate_message_writes, delegate_reads};
use crate::core::store::memory::MemoryStore;
use crate::core::store::{ConsumerRecord, StoreError, StreamStore, Synced};
use crate::core::stream::StreamConfig;
use crate::core::time::{Nanos, SECONDS};

const T0: Nanos = 1_700_000_000 * SECONDS;
const INBOX: &str = "_INBOX.pull";

/// A memory store that records its consumer calls.
struct Recording {
    store: MemoryStore,
    calls: Rc<RefCell<Vec<&'static str>>>,
}

impl StreamStore for Recording {
    delegate_reads!(store);
    delegate_message_writes!(store);

    fn sync(&mut self) -> Result<Synced, StoreError> {
        self.store.sync()
    }
    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.calls.borrow_mut().push("save");
        self.store.save_consumer(name, record)
    }
    fn write_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.calls.borrow_mut().push("write");
        self.store.save_consumer(name, record)
    }
    fn sync_consumers(&mut self) -> Result<(), StoreError> {
        self.calls.borrow_mut().push("sync");
        Ok(())
    }
    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.store.remove_consumer(name)
    }
}

/// Stream `S` on `a` holding three messages, a pull consumer `C` with explicit acks that was
/// delivered all three; returns the engine, the store's calls and the three ack subjects.
fn delivered_three() -> (Engine, Rc<RefCell<Vec<&'static str>>>, Vec<String>) {
    let calls = Rc::new(RefCell::new(Vec::new()));
    let seen = calls.clone();
    let factory: StoreFactory = Box::new(move |_| {
        Ok(Box::new(Recording {
            store: MemoryStore::new(),
            calls: seen.clone(),
        }))
    });
    let mut e = Engine::new(EngineConfig::default(), factory, 7);
    e.create_stream(StreamConfig::new("S", &["a"]), T0)
        .expect("stream is created");
    for _ in 0..3 {
        e.publish("a", None, Bytes::from_static(b"x"), T0)
            .expect("captured")
            .expect("stored");
    }
    let consumer = ConsumerConfig {
        durable_name: Some("C".to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    };
    e.create_consumer("S", consumer, CreateAction::Create, T0)
        .expect("consumer is created");
    assert!(e.pull("S", "C", PullRequest::batch(3), INBOX, T0));
    e.flush().result().expect("memory store syncs");
    let acks: Vec<String> = std::iter::from_fn(|| e.poll_outbound())
        .filter_map(|out| out.msg.reply.filter(|r| parse_ack_subject(r).is_some()))
        .collect();
    assert_eq!(acks.len(), 3);
    calls.borrow_mut().clear();
    (e, calls, acks)
}

/// Flushes; the store's consumer calls since the last flush and where the released replies went.
fn flush(e: &mut Engine, calls: &RefCell<Vec<&'static str>>) -> (Vec<&'static str>, Vec<String>) {
    e.flush().result().expect("memory store syncs");
    let to = std::iter::from_fn(|| e.poll_outbound())
        .map(|o| o.to)
        .collect();
    (calls.borrow_mut().drain(..).collect(), to)
}

fn ack(subject: &str, reply: Option<&str>) -> Message {
    let msg = Message::new(subject.to_string(), Bytes::from_static(b"+ACK"));
    match reply {
        Some(reply) => msg.with_reply(reply.to_string()),
        None => msg,
    }
}

#[test]
fn an_ack_nobody_waits_on_is_written_without_a_sync() {
    let (mut e, calls, acks) = delivered_three();
    assert!(e.handle(ack(&acks[0], None), T0));
    assert_eq!(flush(&mut e, &calls), (vec!["write"], vec![]));
}

#[test]
fn an_ack_with_a_reply_is_synced_before_the_reply_leaves() {
    let (mut e, calls, acks) = delivered_three();
    assert!(e.handle(ack(&acks[0], None), T0));
    assert!(e.handle(ack(&acks[1], Some("r1")), T0));
    assert_eq!(e.poll_outbound(), None, "the reply waits for the flush");
    assert_eq!(
        flush(&mut e, &calls),
        (vec!["write", "sync"], vec!["r1".to_string()])
    );
    // The next plain ack is only written again.
    assert!(e.handle(ack(&acks[2], None), T0));
    assert_eq!(flush(&mut e, &calls), (vec!["write"], vec![]));
}

#[test]
fn a_repeated_ack_with_a_reply_syncs_what_an_earlier_one_only_wrote() {
    let (mut e, calls, acks) = delivered_three();
    assert!(e.handle(ack(&acks[0], None), T0));
    assert_eq!(flush(&mut e, &calls), (vec!["write"], vec![]));
    // Already acked: the reply still says the ack is kept, so the records are synced.
    assert!(e.handle(ack(&acks[0], Some("r1")), T0));
    let (calls, to) = flush(&mut e, &calls);
    assert_eq!(calls.last(), Some(&"sync"), "{calls:?}");
    assert_eq!(to, vec!["r1".to_string()]);
}
