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

/// A browser sees a WebSocket message only once its whole frame is in, so a big batch sent as
/// one frame holds every message in it back until its last byte (a mirror catching up got a
/// whole flow-control window, megabytes, at once). Both servers frame a browser's batches in
/// pieces: nats-server at 4 KiB, Contrail at 64 KiB.
#[tokio::test]
async fn a_big_batch_reaches_a_browser_in_frames_of_at_most_64_kib() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message as Frame;
    const MAX_FRAME: usize = 64 * 1024;
    let server = TestServer::start_with(Options {
        websocket: true,
        ..Default::default()
    });
    bounded(async {
        let mut request = server.ws_url().into_client_request().expect("request");
        let agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
        request
            .headers_mut()
            .insert("User-Agent", agent.parse().expect("header value"));
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket handshake");
        let subscribe = b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n";
        ws.send(Frame::Binary(bytes::Bytes::from_static(subscribe)))
            .await
            .expect("subscribe");
        let mut seen = Vec::new();
        let mut largest = 0;
        let mut next_frame = async |seen: &mut Vec<u8>, largest: &mut usize| loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .expect("a frame within 10 s")
                .expect("open")
                .expect("frame");
            if let Frame::Binary(data) = frame {
                *largest = (*largest).max(data.len());
                seen.extend_from_slice(&data);
                return;
            }
        };
        while !String::from_utf8_lossy(&seen).contains("PONG") {
            next_frame(&mut seen, &mut largest).await;
        }
        seen.clear();
        // One message of 400 KiB: one batch for the subscriber's writer.
        let payload = vec![b'x'; 400 * 1024];
        server
            .client()
            .await
            .publish("big", payload.clone().into())
            .await
            .expect("publish");
        let head = format!("MSG big 1 {}\r\n", payload.len());
        while seen.len() < head.len() + payload.len() + 2 {
            next_frame(&mut seen, &mut largest).await;
        }
        assert!(seen.starts_with(head.as_bytes()), "a MSG of the payload");
        assert_eq!(&seen[head.len()..head.len() + payload.len()], &payload[..]);
        assert!(
            largest <= MAX_FRAME,
            "a frame of {largest} bytes: the browser sees none of it until all is in"
        );
    })
    .await;
}
