//! `contrail serve --demo`: a few example streams written to and consumed while the server runs,
//! so a first look at the dashboard shows motion (`./scripts/run` turns it on).
//!
//! The demo is an ordinary NATS client of the server it runs in: a [`LinkHandle`] (the core's
//! client link over TCP) to the server's own client port, sending the `$JS.API` requests,
//! publishes, pulls and acks any client would. Nothing in the server knows it is a demo, so what
//! the dashboard shows is what an app would see. It makes:
//! - `ORDERS` (`orders.<region>.<kind>`, JSON with a `Nats-Msg-Id` header, at most 20,000 kept):
//!   consumer `billing` pulls and acks most, naks a few (redeliveries), and `shipping` (only
//!   `orders.eu.>`) is never pulled, so its pending count grows against the limit;
//! - `SENSORS` (`sensors.<room>.<metric>`, 500 readings kept per subject): consumer `alerts`
//!   takes the temperatures;
//! - the KV bucket `settings`, a key changed every few seconds.
//!
//! It needs a server clients can reach without credentials, with JetStream; otherwise it logs
//! why and stays off. Requests that fail (a stream an earlier run left with another config) are
//! logged and the rest goes on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::core::link::{LinkConfig, LinkEvent};
use crate::core::message::Message;
use crate::server::link::{LinkCallError, LinkHandle};

/// Time between publishes of the main loop.
const TICK: Duration = Duration::from_millis(100);
/// How long setup waits for the connection.
const CONNECT_WAIT: Duration = Duration::from_secs(10);
/// The subject pulled messages are delivered to.
const INBOX: &str = "_DEMO.pull";

const REGIONS: [&str; 4] = ["eu", "us", "apac", "latam"];
const KINDS: [&str; 3] = ["created", "paid", "shipped"];
const ROOMS: [&str; 6] = ["kitchen", "lab", "hall", "office", "garage", "roof"];
const METRICS: [&str; 3] = ["temperature", "humidity", "co2"];

/// The streams, consumers and bucket the demo writes to (created if missing).
const SETUP: [(&str, &str); 6] = [
    (
        "STREAM.CREATE.ORDERS",
        r#"{"name":"ORDERS","subjects":["orders.>"],"storage":"file","max_msgs":20000,"description":"Demo orders: billing consumes them, shipping lags behind"}"#,
    ),
    (
        "STREAM.CREATE.SENSORS",
        r#"{"name":"SENSORS","subjects":["sensors.>"],"storage":"file","max_msgs_per_subject":500,"description":"Demo sensor readings, 500 kept per subject"}"#,
    ),
    (
        "STREAM.CREATE.KV_settings",
        r#"{"name":"KV_settings","subjects":["$KV.settings.>"],"storage":"file","max_msgs_per_subject":5,"discard":"new","allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true,"num_replicas":1}"#,
    ),
    (
        "CONSUMER.CREATE.ORDERS.billing",
        r#"{"stream_name":"ORDERS","config":{"durable_name":"billing","ack_policy":"explicit","ack_wait":5000000000,"max_deliver":5}}"#,
    ),
    (
        "CONSUMER.CREATE.ORDERS.shipping",
        r#"{"stream_name":"ORDERS","config":{"durable_name":"shipping","ack_policy":"explicit","filter_subject":"orders.eu.>"}}"#,
    ),
    (
        "CONSUMER.CREATE.SENSORS.alerts",
        r#"{"stream_name":"SENSORS","config":{"durable_name":"alerts","ack_policy":"explicit","filter_subject":"sensors.*.temperature"}}"#,
    ),
];

/// Starts the demo against the server listening for clients on `client_addr`.
pub fn spawn(client_addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    // A server bound to every interface is reached on loopback.
    let ip = match client_addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(ip, client_addr.port()).to_string();
    tokio::spawn(async move {
        if let Err(err) = run(addr).await {
            tracing::warn!("demo stopped: {err}");
        }
    })
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
enum DemoError {
    /// The server did not take the demo's connection in time.
    #[error("could not connect to the server within {0:?}")]
    NoConnection(Duration),
    /// The link ended (the server is shutting down).
    #[error("the connection ended")]
    Ended,
    /// A call on the link failed.
    #[error(transparent)]
    Link(#[from] LinkCallError),
}

async fn run(addr: String) -> Result<(), DemoError> {
    let config = LinkConfig {
        name: "contrail demo".into(),
        ..LinkConfig::default()
    };
    let mut link = LinkHandle::spawn(addr, config);
    tokio::time::timeout(CONNECT_WAIT, async {
        loop {
            match link.next_event().await {
                Some(LinkEvent::Connected(_)) => return Ok(()),
                Some(LinkEvent::Stopped(reason)) => {
                    tracing::warn!("demo: the server refused the connection ({reason:?}); the demo needs a server without auth");
                    return Err(DemoError::Ended);
                }
                Some(_) => {}
                None => return Err(DemoError::Ended),
            }
        }
    })
    .await
    .map_err(|_| DemoError::NoConnection(CONNECT_WAIT))??;

    for (suffix, body) in SETUP {
        let request = Message::new(format!("$JS.API.{suffix}"), body.to_string());
        match link.request(request, Duration::from_secs(5)).await {
            Ok(reply) if reply.payload.windows(8).any(|w| w == b"\"error\":") => {
                tracing::warn!(
                    "demo: {suffix}: {}",
                    String::from_utf8_lossy(&reply.payload)
                );
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!("demo: {suffix}: {err}; no JetStream here, the demo stays off");
                return Ok(());
            }
        }
    }
    link.subscribe(INBOX, None).await?;
    tracing::info!(
        "demo: writing to ORDERS, SENSORS and the KV bucket settings (off: leave out --demo)"
    );

    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    let mut delivered: u64 = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                n += 1;
                for msg in traffic(n) {
                    link.publish(msg).await?;
                }
            }
            event = link.next_event() => match event {
                Some(LinkEvent::Message { msg, .. }) => {
                    // A delivery carries its ack subject as the reply; statuses (408, 404) have none.
                    if let Some(ack) = msg.reply.filter(|r| r.starts_with("$JS.ACK.")) {
                        delivered += 1;
                        // Every 13th billing delivery is refused once: redeliveries show up.
                        let verdict = if ack.contains(".billing.") && delivered % 13 == 0 { "-NAK" } else { "+ACK" };
                        link.publish(Message::new(ack, verdict)).await?;
                    }
                }
                Some(LinkEvent::Stopped(_)) | None => return Err(DemoError::Ended),
                Some(_) => {}
            },
        }
    }
}

/// What the demo sends at tick `n`: orders, sensor readings, pulls and now and then a setting.
fn traffic(n: u64) -> Vec<Message> {
    let mut out = Vec::new();
    // An order every tick (10 a second), spread over regions and kinds.
    let region = REGIONS[(n * 7 % 11) as usize % REGIONS.len()];
    let kind = KINDS[(n % 3) as usize];
    let amount = (n * 37 % 500) as f64 + (n % 100) as f64 / 100.0;
    let body = format!(
        r#"{{"order":{n},"region":"{region}","status":"{kind}","amount":{amount:.2},"items":{}}}"#,
        1 + n % 5
    );
    let headers = format!(
        "NATS/1.0\r\nNats-Msg-Id: {}-{n}\r\nOrder-Region: {region}\r\n\r\n",
        start_token()
    );
    out.push(Message::new(format!("orders.{region}.{kind}"), body).with_headers(headers));
    // Three sensor readings a tick over 18 subjects.
    for i in 0..3 {
        let k = n * 3 + i;
        let room = ROOMS[(k % ROOMS.len() as u64) as usize];
        let metric = METRICS[(k / ROOMS.len() as u64 % METRICS.len() as u64) as usize];
        let value = match metric {
            "temperature" => 18.0 + (k % 70) as f64 / 10.0,
            "humidity" => 35.0 + (k % 30) as f64,
            _ => 400.0 + (k % 600) as f64,
        };
        out.push(Message::new(
            format!("sensors.{room}.{metric}"),
            format!(r#"{{"room":"{room}","{metric}":{value:.1}}}"#),
        ));
    }
    // Once a second: billing takes about as many orders as came in, alerts its temperatures.
    if n % 10 == 0 {
        let batch = 6 + n % 7;
        out.push(
            Message::new(
                "$JS.API.CONSUMER.MSG.NEXT.ORDERS.billing",
                format!(r#"{{"batch":{batch},"expires":900000000}}"#),
            )
            .with_reply(INBOX),
        );
        out.push(
            Message::new(
                "$JS.API.CONSUMER.MSG.NEXT.SENSORS.alerts",
                r#"{"batch":20,"expires":900000000}"#,
            )
            .with_reply(INBOX),
        );
    }
    // Every 3 s a setting changes.
    if n % 30 == 0 {
        let (key, value) = match n / 30 % 3 {
            0 => (
                "theme",
                if n / 90 % 2 == 0 { "dark" } else { "light" }.to_string(),
            ),
            1 => ("sample_rate_ms", (100 + n % 900).to_string()),
            _ => ("maintenance", (n / 90 % 2 == 1).to_string()),
        };
        out.push(Message::new(format!("$KV.settings.{key}"), value));
    }
    out
}

/// A token unique to this run, so message ids of a restarted demo are not taken as duplicates.
fn start_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| format!("{:x}", crate::server::jetstream::now() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::ServerConfig;
    use crate::server::Server;

    /// A JSON reply's number at `path` (0 when absent).
    fn number_at(reply: &Message, path: &[&str]) -> u64 {
        let mut v: serde_json::Value =
            serde_json::from_slice(&reply.payload).unwrap_or(serde_json::Value::Null);
        for key in path {
            v = v.get(key).cloned().unwrap_or(serde_json::Value::Null);
        }
        v.as_u64().unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_demo_writes_its_streams_and_its_consumers_take_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = ServerConfig {
            port: -1,
            store_dir: dir.path().to_path_buf(),
            ..ServerConfig::default()
        };
        let server = Server::start(config).await.expect("server starts");
        let demo = spawn(server.client_addr);
        let mut client = LinkHandle::spawn(server.client_addr.to_string(), LinkConfig::default());
        tokio::time::timeout(CONNECT_WAIT, async {
            while !matches!(
                client.next_event().await,
                Some(LinkEvent::Connected(_)) | None
            ) {}
        })
        .await
        .expect("the test's client connects");
        let ask = |subject: &str| {
            client.request(
                Message::new(subject.to_string(), ""),
                Duration::from_secs(5),
            )
        };
        // Bounded: the demo writes ten orders a second and billing pulls once a second.
        let mut seen = (0, 0, 0, 0);
        for _ in 0..150 {
            let orders = ask("$JS.API.STREAM.INFO.ORDERS").await;
            let sensors = ask("$JS.API.STREAM.INFO.SENSORS").await;
            let billing = ask("$JS.API.CONSUMER.INFO.ORDERS.billing").await;
            let settings = ask("$JS.API.STREAM.INFO.KV_settings").await;
            if let (Ok(o), Ok(s), Ok(b), Ok(k)) = (orders, sensors, billing, settings) {
                seen = (
                    number_at(&o, &["state", "messages"]),
                    number_at(&s, &["state", "num_subjects"]),
                    number_at(&b, &["ack_floor", "stream_seq"]),
                    number_at(&k, &["state", "messages"]),
                );
                if seen.0 > 10 && seen.1 >= 6 && seen.2 > 0 && seen.3 > 0 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        demo.abort();
        client.close().await;
        server.shutdown().await;
        let (orders, subjects, acked, settings) = seen;
        assert!(orders > 10, "orders written: {seen:?}");
        assert!(subjects >= 6, "sensor readings on many subjects: {seen:?}");
        assert!(acked > 0, "billing acked orders: {seen:?}");
        assert!(settings > 0, "a setting written: {seen:?}");
    }

    #[test]
    fn every_tick_writes_an_order_and_readings_and_pulls_once_a_second() {
        let subjects = |n| {
            traffic(n)
                .into_iter()
                .map(|m| m.subject)
                .collect::<Vec<_>>()
        };
        let first = subjects(1);
        assert!(first[0].starts_with("orders."));
        assert_eq!(
            first.iter().filter(|s| s.starts_with("sensors.")).count(),
            3
        );
        assert!(!first.iter().any(|s| s.starts_with("$JS.API")));
        let tenth = subjects(10);
        assert!(tenth
            .iter()
            .any(|s| s == "$JS.API.CONSUMER.MSG.NEXT.ORDERS.billing"));
        assert!(subjects(30).iter().any(|s| s.starts_with("$KV.settings.")));
    }

    #[test]
    fn readings_cover_eighteen_subjects() {
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..100 {
            for m in traffic(n) {
                if m.subject.starts_with("sensors.") {
                    seen.insert(m.subject);
                }
            }
        }
        assert_eq!(seen.len(), ROOMS.len() * METRICS.len());
    }
}
