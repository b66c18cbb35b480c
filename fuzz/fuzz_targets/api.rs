//! Fuzzes the `$JS.API` layer and ack handling: arbitrary request bodies on every route, and
//! arbitrary ack subjects and bodies, against an engine holding a stream, a consumer and messages.
//! Nothing may panic, and the stream's messages must survive every request that is not a delete
//! or purge.

#![no_main]

use bytes::Bytes;
use contrail::core::engine::Engine;
use contrail::core::message::Message;
use libfuzzer_sys::fuzz_target;

const ROUTES: &[&str] = &[
    "$JS.API.INFO",
    "$JS.API.STREAM.CREATE.S",
    "$JS.API.STREAM.CREATE.T",
    "$JS.API.STREAM.UPDATE.S",
    "$JS.API.STREAM.INFO.S",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.MSG.GET.S",
    "$JS.API.DIRECT.GET.S",
    "$JS.API.DIRECT.GET.S.a.b",
    "$JS.API.CONSUMER.CREATE.S",
    "$JS.API.CONSUMER.CREATE.S.C",
    "$JS.API.CONSUMER.CREATE.S.D.a.>",
    "$JS.API.CONSUMER.DURABLE.CREATE.S.C",
    "$JS.API.CONSUMER.INFO.S.C",
    "$JS.API.CONSUMER.NAMES.S",
    "$JS.API.CONSUMER.LIST.S",
    "$JS.API.CONSUMER.MSG.NEXT.S.C",
];

fn seeded() -> Engine {
    let mut engine = Engine::in_memory(9);
    let setup: [(&str, &str); 2] = [
        ("$JS.API.STREAM.CREATE.S", r#"{"subjects":["a.>"],"allow_direct":true}"#),
        (
            "$JS.API.CONSUMER.CREATE.S.C",
            r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}"#,
        ),
    ];
    for (subject, body) in setup {
        engine.handle(Message::new(subject, Bytes::from_static(body.as_bytes())).with_reply("r"), 1);
    }
    for i in 0..3 {
        engine.handle(Message::new(format!("a.{i}"), "m"), 2);
    }
    engine
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let mut engine = seeded();
    let now = 3 + i64::from(selector);
    if (selector as usize) < ROUTES.len() {
        let msg = Message::new(ROUTES[selector as usize], Bytes::copy_from_slice(body)).with_reply("_INBOX.f");
        engine.handle(msg, now);
    } else {
        // An ack subject and body made of the input, split at the first newline.
        let text = String::from_utf8_lossy(body);
        let (subject, ack_body) = text.split_once('\n').unwrap_or((&text, "+ACK"));
        let subject = format!("$JS.ACK.{subject}");
        engine.handle(Message::new(subject, Bytes::copy_from_slice(ack_body.as_bytes())).with_reply("_INBOX.a"), now);
    }
    engine.handle_timeout(now + 60_000_000_000);
    let _ = engine.flush();
    while engine.poll_outbound().is_some() {}
    if let Some(stream) = engine.stream("S") {
        assert!(stream.state().msgs <= 3, "nothing appears from nowhere");
    }
});
