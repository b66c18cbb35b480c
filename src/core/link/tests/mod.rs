//! Deterministic tests of the link: scripted server bytes in, client bytes and events out.

mod buffers;
mod framing;
mod handshake;
mod keepalive;
mod proptests;
mod reconnect;
mod requests;
mod tls;

use std::sync::Arc;

use super::*;
use crate::core::time::{MILLIS, SECONDS};

/// An INFO as nats-server 2.10 sends it, without auth.
pub(super) const INFO: &str = "INFO {\"server_id\":\"NSRV\",\"server_name\":\"hub\",\"version\":\"2.10.0\",\"proto\":1,\"headers\":true,\"max_payload\":1048576,\"client_id\":5}\r\n";

/// A start time far from zero, so deadlines computed from it are plainly absolute.
pub(super) const T0: Nanos = 1_000 * SECONDS;

/// A link config with small, exact timings and a fixed seed and inbox.
pub(super) fn config() -> LinkConfig {
    LinkConfig {
        seed: 7,
        inbox_prefix: Some("_INBOX.t".into()),
        ping_interval: 10 * SECONDS,
        max_pings_out: 2,
        connect_timeout: 2 * SECONDS,
        backoff: Backoff {
            min: 100 * MILLIS,
            max: SECONDS,
            jitter: 50 * MILLIS,
        },
        ..LinkConfig::default()
    }
}

/// A link and the time the test has reached.
pub(super) struct Harness {
    pub link: Link,
    pub now: Nanos,
}

impl Harness {
    pub fn new(config: LinkConfig) -> Self {
        Harness {
            link: Link::new(config, T0),
            now: T0,
        }
    }

    /// Expects the link to ask for a transport, and opens it.
    pub fn open(&mut self) {
        assert_eq!(self.link.poll_transport(), Some(TransportCommand::Open));
        self.link.transport_opened(self.now);
    }

    pub fn feed(&mut self, bytes: &str) {
        self.link.handle_input(bytes.as_bytes(), self.now);
    }

    /// Everything the link wants to send, as text.
    pub fn sent(&mut self) -> String {
        let mut all = Vec::new();
        while let Some(bytes) = self.link.poll_transmit() {
            all.extend_from_slice(&bytes);
        }
        String::from_utf8_lossy(&all).into_owned()
    }

    pub fn events(&mut self) -> Vec<LinkEvent> {
        std::iter::from_fn(|| self.link.poll_event()).collect()
    }

    pub fn transports(&mut self) -> Vec<TransportCommand> {
        std::iter::from_fn(|| self.link.poll_transport()).collect()
    }

    /// Moves time forward by `dt` and runs the timers.
    pub fn advance(&mut self, dt: Nanos) {
        self.now += dt;
        self.link.handle_timeout(self.now);
    }

    /// Runs the timers until the link dials again; returns how long that took.
    pub fn wait_for_dial(&mut self) -> Nanos {
        let start = self.now;
        let Some(at) = self.link.poll_timeout() else {
            panic!(
                "no timer while waiting to reconnect: {:?}",
                self.link.state()
            );
        };
        assert!(at >= self.now);
        self.now = at;
        self.link.handle_timeout(self.now);
        self.now - start
    }

    /// The whole handshake; returns what the link sent after the PONG (restored subscriptions).
    pub fn connect(&mut self) -> String {
        self.open();
        self.feed(INFO);
        let hello = self.sent();
        assert!(hello.starts_with("CONNECT {"), "{hello}");
        assert!(hello.ends_with("}\r\nPING\r\n"), "{hello}");
        self.feed("PONG\r\n");
        let events = self.events();
        assert!(
            matches!(events.last(), Some(LinkEvent::Connected(_))),
            "{events:?}"
        );
        assert_eq!(self.link.state(), LinkState::Connected);
        self.sent()
    }
}

/// The CONNECT JSON in `sent`.
pub(super) fn connect_json(sent: &str) -> serde_json::Value {
    let line = sent
        .lines()
        .find_map(|l| l.strip_prefix("CONNECT "))
        .unwrap_or_else(|| panic!("no CONNECT in {sent:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("CONNECT JSON {line}: {e}"))
}
