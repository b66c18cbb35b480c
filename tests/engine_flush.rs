//! Group commit: nothing the engine produces leaves before `flush`.

use bytes::Bytes;
use contrail::core::front::JetStream;
use contrail::core::message::Message;

#[test]
fn replies_wait_for_flush() {
    let mut front = JetStream::in_memory(1);
    let create = Message::new(
        "$JS.API.STREAM.CREATE.S",
        Bytes::from_static(br#"{"subjects":["a"]}"#),
    )
    .with_reply("r1");
    assert!(front.handle(create, 1));
    assert!(front.handle(Message::new("a", "x").with_reply("r2"), 2));
    let engine = front.engine_mut();
    assert_eq!(
        engine.poll_outbound(),
        None,
        "held until the store is synced"
    );
    let ticket = engine.flush();
    assert!(
        !ticket.is_pending(),
        "a memory store is durable when its sync returns"
    );
    ticket.result().expect("memory store syncs");
    let out: Vec<_> = std::iter::from_fn(|| engine.poll_outbound()).collect();
    assert_eq!(
        out.iter().map(|o| o.to.as_str()).collect::<Vec<_>>(),
        vec!["r1", "r2"]
    );
    assert_eq!(engine.poll_outbound(), None);
}
