//! Restart: a second engine reopening the first one's stores finds every message, the duplicate
//! window, and each consumer's delivery and ack state.

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use contrail::core::engine::{Engine, EngineConfig, StoreFactory};
use contrail::core::front::JetStream;
use contrail::core::headers::{Headers, NATS_MSG_ID};
use contrail::core::message::Message;
use contrail::core::store::memory::MemoryStore;
use contrail::core::store::{
    ConsumerRecord, Seq, SimpleState, StoreError, StoredMsg, StreamState, StreamStore,
};
use contrail::core::stream::StreamConfig;
use contrail::core::time::Nanos;
use support::{payloads, Client, START};

/// A store that outlives the engine using it, standing in for files or IndexedDB.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<MemoryStore>>);

impl StreamStore for Shared {
    fn store_msg(
        &mut self,
        s: &str,
        h: Option<Bytes>,
        p: Bytes,
        now: Nanos,
    ) -> Result<Seq, StoreError> {
        self.0.borrow_mut().store_msg(s, h, p, now)
    }
    fn skip_msg(&mut self, now: Nanos) -> Result<Seq, StoreError> {
        self.0.borrow_mut().skip_msg(now)
    }
    fn load_msg(&self, seq: Seq) -> Result<StoredMsg, StoreError> {
        self.0.borrow().load_msg(seq)
    }
    fn load_next_msg(&self, filter: &str, start: Seq) -> Result<StoredMsg, StoreError> {
        self.0.borrow().load_next_msg(filter, start)
    }
    fn load_last_msg(&self, filter: &str) -> Result<StoredMsg, StoreError> {
        self.0.borrow().load_last_msg(filter)
    }
    fn remove_msg(&mut self, seq: Seq) -> Result<bool, StoreError> {
        self.0.borrow_mut().remove_msg(seq)
    }
    fn purge(&mut self, filter: &str, below: Seq, keep: u64) -> Result<u64, StoreError> {
        self.0.borrow_mut().purge(filter, below, keep)
    }
    fn compact(&mut self, seq: Seq) -> Result<u64, StoreError> {
        self.0.borrow_mut().compact(seq)
    }
    fn state(&self) -> StreamState {
        self.0.borrow().state()
    }
    fn filtered_state(&self, start: Seq, filter: &str) -> SimpleState {
        self.0.borrow().filtered_state(start, filter)
    }
    fn subjects_state(&self, filter: &str) -> BTreeMap<String, SimpleState> {
        self.0.borrow().subjects_state(filter)
    }
    fn num_pending(&self, start: Seq, filter: &str, last: bool) -> u64 {
        self.0.borrow().num_pending(start, filter, last)
    }
    fn deleted(&self) -> Vec<Seq> {
        self.0.borrow().deleted()
    }
    fn sync(&mut self) -> Result<contrail::core::store::Synced, StoreError> {
        self.0.borrow_mut().sync()
    }
    fn save_consumer(&mut self, name: &str, record: ConsumerRecord) -> Result<(), StoreError> {
        self.0.borrow_mut().save_consumer(name, record)
    }
    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.0.borrow_mut().remove_consumer(name)
    }
    fn consumers(&self) -> Result<BTreeMap<String, ConsumerRecord>, StoreError> {
        self.0.borrow().consumers()
    }
    fn delete(&mut self) -> Result<(), StoreError> {
        self.0.borrow_mut().delete()
    }
}

fn engine_over(store: &Shared) -> Engine {
    let store = store.clone();
    let factory: StoreFactory = Box::new(move |_| Ok(Box::new(store.clone())));
    Engine::new(EngineConfig::default(), factory, 3)
}

#[test]
fn a_restarted_engine_resumes_streams_dedup_and_consumers() {
    let disk = Shared::default();
    let mut first = Client::new();
    first.front = JetStream::new(engine_over(&disk));
    first.api("STREAM.CREATE.S", r#"{"subjects":["s.>"]}"#);
    let mut h = Headers::new();
    h.insert(NATS_MSG_ID, "once");
    first.publish_with("s.1", Some(h.clone()), "m1");
    first.publish("s.2", "m2");
    first.publish("s.3", "m3");
    first.api(
        "CONSUMER.CREATE.S.C",
        r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}"#,
    );
    let (_, out) = first.pull("S", "C", r#"{"batch":2}"#);
    first.ack(&out[0], "+ACK"); // m1 acked, m2 pending
    let config: StreamConfig =
        serde_json::from_value(first.api("STREAM.INFO.S", "")["config"].clone())
            .expect("config round-trips");
    drop(first);

    let mut second = Client::new();
    second.front = JetStream::new(engine_over(&Shared::default()));
    let skipped = second
        .front
        .engine_mut()
        .restore_stream(config, START, Box::new(disk.clone()), START)
        .expect("restores");
    assert!(skipped.is_empty());

    let info = second.api("STREAM.INFO.S", "");
    assert_eq!(info["state"]["messages"], 3);
    let dup = second.publish_with("s.1", Some(h), "m1").expect("captured");
    assert_eq!(
        dup["duplicate"], true,
        "the duplicate window survives the restart"
    );

    let consumer = second.api("CONSUMER.INFO.S.C", "");
    assert_eq!(consumer["ack_floor"]["stream_seq"], 1);
    assert_eq!(consumer["num_ack_pending"], 1);
    let (_, next) = second.pull("S", "C", r#"{"batch":5,"no_wait":true}"#);
    assert_eq!(
        payloads(&next),
        vec!["m3"],
        "m2 waits for its ack wait; m3 is next"
    );
}

#[test]
fn an_unreadable_consumer_record_is_reported_and_kept() {
    let disk = Shared::default();
    let mut store = disk.clone();
    store
        .save_consumer(
            "BROKEN",
            ConsumerRecord {
                config: b"{not json".to_vec(),
                ..Default::default()
            },
        )
        .expect("saves");
    store
        .store_msg("s.1", None, Bytes::from_static(b"x"), START)
        .expect("stores");
    let mut engine = Engine::in_memory(1);
    let config = StreamConfig::new("S", &["s.>"]);
    let skipped = engine
        .restore_stream(config, START, Box::new(disk.clone()), START)
        .expect("restores");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].name, "BROKEN");
    assert!(
        disk.consumers().expect("lists").contains_key("BROKEN"),
        "nothing is deleted"
    );
    assert!(
        engine.handle(Message::new("s.2", "y"), START),
        "the stream serves"
    );
}
