//! The `contrail` binary. Until the server lands it runs a short demo of the engine: the same
//! `$JS.API` requests, publishes and acks a NATS client would send, printed as they go.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use contrail::core::engine::Engine;
use contrail::core::message::{Message, Outbound};
use contrail::core::time::Nanos;

fn now() -> Nanos {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as Nanos)
        .unwrap_or(0)
}

/// Sends one message, flushes, and returns what the engine released.
fn send(engine: &mut Engine, msg: Message) -> Vec<Outbound> {
    engine.handle(msg, now());
    if let Err(err) = engine.flush() {
        eprintln!("store sync failed: {err}");
    }
    std::iter::from_fn(|| engine.poll_outbound()).collect()
}

fn request(engine: &mut Engine, subject: &str, body: &str) {
    println!("> {subject} {body}");
    for out in send(
        engine,
        Message::new(subject, Bytes::from(body.to_string())).with_reply("_INBOX.demo"),
    ) {
        println!("< {}", String::from_utf8_lossy(&out.msg.payload));
    }
}

fn main() {
    let mut engine = Engine::in_memory(now() as u64);
    request(
        &mut engine,
        "$JS.API.STREAM.CREATE.ORDERS",
        r#"{"subjects":["orders.>"],"storage":"memory"}"#,
    );
    for (i, region) in ["eu", "us", "eu"].iter().enumerate() {
        let subject = format!("orders.{region}");
        println!("> PUB {subject} order {i}");
        for out in send(
            &mut engine,
            Message::new(subject, format!("order {i}")).with_reply("_INBOX.ack"),
        ) {
            println!("< {}", String::from_utf8_lossy(&out.msg.payload));
        }
    }
    request(
        &mut engine,
        "$JS.API.CONSUMER.CREATE.ORDERS.eu",
        r#"{"stream_name":"ORDERS","config":{"durable_name":"eu","filter_subject":"orders.eu","ack_policy":"explicit"}}"#,
    );
    println!("> PULL ORDERS.eu batch 10, no_wait");
    let pull = Message::new(
        "$JS.API.CONSUMER.MSG.NEXT.ORDERS.eu",
        r#"{"batch":10,"no_wait":true}"#,
    )
    .with_reply("_INBOX.pull");
    for out in send(&mut engine, pull) {
        match out.msg.reply {
            Some(ack) => {
                println!(
                    "< {} {:?} (ack: {ack})",
                    out.msg.subject,
                    String::from_utf8_lossy(&out.msg.payload)
                );
                send(&mut engine, Message::new(ack, "+ACK"));
            }
            None => println!(
                "< status {}",
                String::from_utf8_lossy(out.msg.headers.as_deref().unwrap_or_default()).trim()
            ),
        }
    }
    request(&mut engine, "$JS.API.CONSUMER.INFO.ORDERS.eu", "");
}
