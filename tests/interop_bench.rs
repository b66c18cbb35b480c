//! Contrail vs nats-server, side by side in one run, with the same client (async-nats):
//! prints msgs/s for each workload and the ratio. Ignored by default (it measures, it does not
//! check); run it in release:
//! `cargo test --release --test interop_bench -- --ignored --nocapture`
//! (needs `nats-server` on PATH; `scripts/interop --bench` installs it and runs this).

mod interop_support;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::stream::{Config, StorageType};
use bytes::Bytes;
use futures_util::StreamExt;
use interop_support::{Kind, Options, TestServer};

/// Payload sizes every workload runs at.
const SIZES: [usize; 3] = [16, 128, 1024];

fn stream(storage: StorageType) -> Config {
    Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        storage,
        ..Default::default()
    }
}

async fn sync_publish(server: &TestServer, storage: StorageType, size: usize, n: usize) -> f64 {
    let js = server.jetstream().await;
    js.create_stream(stream(storage)).await.expect("stream");
    let body = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    for _ in 0..n {
        js.publish("bench.s", body.clone())
            .await
            .expect("pub")
            .await
            .expect("ack");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn async_publish(server: &TestServer, storage: StorageType, size: usize, n: usize) -> f64 {
    let js = server.jetstream().await;
    js.create_stream(stream(storage)).await.expect("stream");
    let body = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let mut acks = std::collections::VecDeque::new();
    for _ in 0..n {
        acks.push_back(js.publish("bench.a", body.clone()).await.expect("pub"));
        if acks.len() >= 256 {
            acks.pop_front().expect("ack").await.expect("ack");
        }
    }
    for ack in acks {
        ack.await.expect("ack");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn pull_consume(server: &TestServer, storage: StorageType, size: usize, n: usize) -> f64 {
    let js = server.jetstream().await;
    let stream = js.create_stream(stream(storage)).await.expect("stream");
    let body = Bytes::from(vec![b'x'; size]);
    let mut acks = Vec::new();
    for _ in 0..n {
        acks.push(js.publish("bench.c", body.clone()).await.expect("pub"));
        if acks.len() >= 256 {
            for ack in acks.drain(..) {
                ack.await.expect("ack");
            }
        }
    }
    for ack in acks {
        ack.await.expect("ack");
    }
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let start = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(500)
        .messages()
        .await
        .expect("consume");
    for _ in 0..n {
        let msg = messages.next().await.expect("open").expect("message");
        msg.ack().await.expect("ack");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn core_pub_sub(server: &TestServer, size: usize, n: usize) -> f64 {
    let publisher = server.client().await;
    // A deep client-side buffer: async-nats drops messages past 65,536 queued (a client-side
    // slow consumer), which would measure the test's reader, not the server.
    let subscriber = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 20)
        .connect(server.url())
        .await
        .expect("connect");
    let mut sub = subscriber.subscribe("core.bench").await.expect("sub");
    interop_support::round_trip(&subscriber).await;
    let body = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        for _ in 0..n {
            sub.next().await.expect("message");
        }
    });
    for _ in 0..n {
        publisher
            .publish("core.bench", body.clone())
            .await
            .expect("pub");
    }
    publisher.flush().await.expect("flush");
    tokio::time::timeout(Duration::from_secs(120), reader)
        .await
        .expect("all delivered")
        .expect("reader");
    n as f64 / start.elapsed().as_secs_f64()
}

async fn run(kind: Kind, workload: &str, size: usize) -> f64 {
    let server = TestServer::start_kind(kind, Options::default());
    match workload {
        "sync publish, file" => sync_publish(&server, StorageType::File, size, 3_000).await,
        "sync publish, memory" => sync_publish(&server, StorageType::Memory, size, 3_000).await,
        "async publish (256 out), file" => {
            async_publish(&server, StorageType::File, size, 50_000).await
        }
        "async publish (256 out), memory" => {
            async_publish(&server, StorageType::Memory, size, 50_000).await
        }
        "pull consume (batch 500), file" => {
            pull_consume(&server, StorageType::File, size, 50_000).await
        }
        "pull consume (batch 500), memory" => {
            pull_consume(&server, StorageType::Memory, size, 50_000).await
        }
        "core pub/sub" => core_pub_sub(&server, size, 500_000).await,
        other => panic!("unknown workload {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture, in release"]
async fn contrail_vs_nats_server() {
    let workloads = [
        "sync publish, file",
        "sync publish, memory",
        "async publish (256 out), file",
        "async publish (256 out), memory",
        "pull consume (batch 500), file",
        "pull consume (batch 500), memory",
        "core pub/sub",
    ];
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    println!(
        "{:<34} {:>6} {:>12} {:>12} {:>7}",
        "workload", "size", "contrail", "nats-server", "ratio"
    );
    for workload in workloads.into_iter().filter(|w| w.contains(only.as_str())) {
        for size in SIZES {
            let ours = run(Kind::Contrail, workload, size).await;
            let theirs = run(Kind::NatsServer, workload, size).await;
            println!(
                "{workload:<34} {size:>5}B {ours:>12.0} {theirs:>12.0} {:>6.2}x",
                ours / theirs
            );
        }
    }
}
