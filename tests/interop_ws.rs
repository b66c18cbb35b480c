//! The NATS protocol over WebSocket with an official client (async-nats, `ws://` URL), against
//! the real server binary, mixing WebSocket and TCP clients.

mod interop_support;

use std::time::Duration;

use futures_util::StreamExt;
use interop_support::{bounded, round_trip, Options, TestServer};

#[tokio::test]
async fn websocket_and_tcp_clients_talk_to_each_other() {
    let server = TestServer::start_with(Options {
        websocket: true,
        ..Default::default()
    });
    bounded(async {
        let ws = async_nats::connect(server.ws_url())
            .await
            .expect("ws connect");
        let tcp = server.client().await;
        let mut from_tcp = ws.subscribe("greet.ws").await.expect("sub");
        let mut from_ws = tcp.subscribe("greet.tcp").await.expect("sub");
        // Both subscriptions are in place once each client's round trip returns.
        round_trip(&ws).await;
        round_trip(&tcp).await;
        tcp.publish("greet.ws", "hello ws".into())
            .await
            .expect("pub");
        ws.publish("greet.tcp", "hello tcp".into())
            .await
            .expect("pub");
        let wait = Duration::from_secs(5);
        let a = tokio::time::timeout(wait, from_tcp.next())
            .await
            .expect("in time")
            .expect("msg");
        let b = tokio::time::timeout(wait, from_ws.next())
            .await
            .expect("in time")
            .expect("msg");
        assert_eq!(a.payload, "hello ws");
        assert_eq!(b.payload, "hello tcp");
    })
    .await;
}

#[tokio::test]
async fn jetstream_works_over_websocket() {
    let server = TestServer::start_with(Options {
        websocket: true,
        ..Default::default()
    });
    bounded(async {
        let client = async_nats::connect(server.ws_url())
            .await
            .expect("ws connect");
        let js = async_nats::jetstream::new(client);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "WS".into(),
            subjects: vec!["ws.>".into()],
            storage: async_nats::jetstream::stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .expect("create stream");
        // Large payloads span many frames' worth of bytes; many small ones share frames.
        let big = vec![7u8; 200_000];
        let ack = js
            .publish("ws.big", big.clone().into())
            .await
            .expect("pub")
            .await
            .expect("ack");
        assert_eq!(ack.sequence, 1);
        for i in 0..100 {
            js.publish("ws.small", format!("{i}").into())
                .await
                .expect("pub")
                .await
                .expect("ack");
        }
        let stream = js.get_stream("WS").await.expect("stream");
        let msg = stream.get_raw_message(1).await.expect("get");
        assert_eq!(msg.payload.as_ref(), &big[..]);
        assert_eq!(stream.cached_info().state.messages, 101);
    })
    .await;
}

#[tokio::test]
async fn ops_may_span_websocket_frames_and_frames_may_hold_many_ops() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Frame;
    let server = TestServer::start_with(Options {
        websocket: true,
        ..Default::default()
    });
    bounded(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect("websocket handshake");
        // One op split over three frames, and three ops in one frame.
        let frames: [&[u8]; 3] = [
            b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPU",
            b"B a 5\r\nhel",
            b"lo\r\nPING\r\n",
        ];
        for frame in frames {
            ws.send(Frame::Binary(bytes::Bytes::from_static(frame)))
                .await
                .expect("send frame");
        }
        let mut seen = String::new();
        while !seen.contains("PONG") {
            let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("a frame within 5 s")
                .expect("open")
                .expect("frame");
            match frame {
                Frame::Binary(data) => seen.push_str(&String::from_utf8_lossy(&data)),
                Frame::Text(text) => seen.push_str(&text),
                _ => {}
            }
        }
        assert!(seen.contains("MSG a 1 5\r\nhello\r\n"), "{seen}");
    })
    .await;
}
