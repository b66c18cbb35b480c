//! Engine benchmarks, end to end through the `JetStream` front and its `Engine` on the memory
//! store: publishes per second (128-byte payloads, 1 and 16 subjects) and fetch + explicit ack
//! per second.
//!
//! Run: `cargo bench --bench core`. Each case runs for a bounded number of messages and prints
//! one line; compare figures within one run, on one machine.

use std::time::Instant;

use bytes::Bytes;
use contrail::core::front::JetStream;
use contrail::core::message::Message;
use contrail::core::time::SECONDS;

const START: i64 = 1_700_000_000 * SECONDS;

fn engine_with_stream(config: &str) -> JetStream {
    let mut front = JetStream::in_memory(1);
    let create =
        Message::new("$JS.API.STREAM.CREATE.S", Bytes::from(config.to_string())).with_reply("r");
    front.handle(create, START);
    let engine = front.engine_mut();
    engine.flush().result().expect("memory store syncs");
    while engine.poll_outbound().is_some() {}
    front
}

fn publish(subjects: usize, n: usize) -> f64 {
    let mut front = engine_with_stream(r#"{"subjects":["bench.>"],"storage":"memory"}"#);
    let engine = front.engine_mut();
    let names: Vec<String> = (0..subjects).map(|i| format!("bench.{i}")).collect();
    let payload = Bytes::from(vec![b'x'; 128]);
    let started = Instant::now();
    for i in 0..n {
        let subject = &names[i % subjects];
        let ack = engine.publish(subject, None, payload.clone(), START + i as i64);
        assert!(matches!(ack, Some(Ok(_))), "publish failed");
    }
    engine.flush().result().expect("memory store syncs");
    n as f64 / started.elapsed().as_secs_f64()
}

fn fetch_and_ack(n: usize, batch: usize) -> f64 {
    let mut front = engine_with_stream(r#"{"subjects":["bench.>"],"storage":"memory"}"#);
    let payload = Bytes::from(vec![b'x'; 128]);
    for i in 0..n {
        front
            .engine_mut()
            .publish("bench.0", None, payload.clone(), START + i as i64);
    }
    let create = Message::new(
        "$JS.API.CONSUMER.CREATE.S.C",
        Bytes::from_static(br#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit","max_ack_pending":100000}}"#),
    )
    .with_reply("r");
    front.handle(create, START);
    let engine = front.engine_mut();
    engine.flush().result().expect("memory store syncs");
    while engine.poll_outbound().is_some() {}

    let request = Bytes::from(format!(r#"{{"batch":{batch}}}"#));
    let started = Instant::now();
    let mut received = 0;
    let mut now = START;
    while received < n {
        now += 1;
        let pull = Message::new("$JS.API.CONSUMER.MSG.NEXT.S.C", request.clone())
            .with_reply("_INBOX.pull");
        front.handle(pull, now);
        let engine = front.engine_mut();
        engine.flush().result().expect("memory store syncs");
        let deliveries: Vec<_> = std::iter::from_fn(|| engine.poll_outbound()).collect();
        if deliveries.is_empty() {
            break;
        }
        for delivery in deliveries {
            if let Some(ack) = delivery.msg.reply {
                front.handle(Message::new(ack, Bytes::from_static(b"+ACK")), now);
                received += 1;
            }
        }
        let engine = front.engine_mut();
        engine.flush().result().expect("memory store syncs");
        while engine.poll_outbound().is_some() {}
    }
    assert_eq!(received, n, "every message fetched once");
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let n = 1_000_000;
    println!(
        "{:<44} {:>14}",
        "case (memory store, 128 B payloads)", "msgs/s"
    );
    println!("{:<44} {:>14.0}", "publish, 1 subject", publish(1, n));
    println!("{:<44} {:>14.0}", "publish, 16 subjects", publish(16, n));
    println!(
        "{:<44} {:>14.0}",
        "fetch (batch 100) + explicit ack",
        fetch_and_ack(200_000, 100)
    );
}
