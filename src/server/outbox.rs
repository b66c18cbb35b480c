//! A client's outbound buffer: where every task that has something for a client writes it.
//!
//! Publishers encode MSG/HMSG lines (with the core's encoder) straight into the receiving
//! client's buffer (one copy, no per-message channel send); the client's writer task takes the whole buffer at once and writes
//! it in one syscall, so a burst of small messages costs one write. The buffer is bounded: past
//! `max_pending` bytes the client is a slow consumer and is cut off, so one client that never
//! reads cannot make the server hold unbounded memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::sync::Notify;

use crate::core::proto::{encode_msg_view, MsgView};

/// Why a connection is being closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its side, or the socket failed.
    ClientClosed,
    /// The outbound buffer passed `max_pending`, or a write took longer than `write_deadline`.
    SlowConsumer,
    /// A protocol error; the text goes out as `-ERR '<text>'` before the close.
    Protocol(String),
    /// The server is shutting down.
    ServerShutdown,
}

impl CloseReason {
    /// The `-ERR` text sent before closing, if any.
    pub fn err_text(&self) -> Option<&str> {
        match self {
            CloseReason::SlowConsumer => Some("Slow Consumer"),
            CloseReason::Protocol(text) => Some(text),
            CloseReason::ClientClosed | CloseReason::ServerShutdown => None,
        }
    }
}

/// Message and byte counters of one connection (and, summed, of the server).
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages received from the client.
    pub in_msgs: AtomicU64,
    /// Payload bytes received from the client.
    pub in_bytes: AtomicU64,
    /// Messages sent to the client.
    pub out_msgs: AtomicU64,
    /// Payload bytes sent to the client.
    pub out_bytes: AtomicU64,
}

struct State {
    buf: BytesMut,
    closing: Option<CloseReason>,
    /// Some producer's [`FlushList`] holds this outbox and will wake the writer.
    wake_pending: bool,
}

/// Outboxes written to since their writers were last woken.
///
/// A producer (a connection handling one read's worth of ops, the engine thread routing one
/// batch) queues into many outboxes and wakes each writer once at the end, so a burst of
/// messages leaves in one write instead of one per message. Dropping the list wakes them too.
#[derive(Default)]
pub struct FlushList(Vec<Arc<Outbox>>);

impl FlushList {
    /// An empty list.
    pub fn new() -> FlushList {
        FlushList(Vec::new())
    }

    /// Wakes the writer of every outbox written to since the last call.
    pub fn flush(&mut self) {
        for out in self.0.drain(..) {
            out.wake();
        }
    }
}

impl Drop for FlushList {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The outbound side of one client connection.
pub struct Outbox {
    state: Mutex<State>,
    /// Wakes the writer when bytes arrive.
    notify: Notify,
    /// Wakes everyone waiting in [`Outbox::closed`].
    close_notify: Notify,
    max_pending: usize,
    /// What this connection sent and received.
    pub counters: Counters,
}

impl Outbox {
    /// An empty outbox that cuts the client off past `max_pending` queued bytes.
    pub fn new(max_pending: usize) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                buf: BytesMut::with_capacity(16 * 1024),
                closing: None,
                wake_pending: false,
            }),
            notify: Notify::new(),
            close_notify: Notify::new(),
            max_pending,
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the buffer inconsistent in a way that
        // matters more than losing the connection, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a `MSG`/`HMSG` for subscription `sid` and wakes the writer at once. `false` when
    /// the connection is closing (or this message made it a slow consumer).
    pub fn send_msg(self: &Arc<Self>, sid: &str, msg: &MsgView<'_>) -> bool {
        let mut flush = FlushList::new();
        self.queue_msg(sid, msg, &mut flush)
    }

    /// Queues a `MSG`/`HMSG` for subscription `sid` (encoded by the core's
    /// [`encode_msg_view`]); the writer is woken when `flush` is.
    pub fn queue_msg(
        self: &Arc<Self>,
        sid: &str,
        msg: &MsgView<'_>,
        flush: &mut FlushList,
    ) -> bool {
        let total = msg.headers.map_or(0, <[u8]>::len) + msg.payload.len();
        let mut st = self.lock();
        if st.closing.is_some() {
            return false;
        }
        if st.buf.len() + msg.encoded_len(sid) > self.max_pending {
            drop(st);
            self.close(CloseReason::SlowConsumer);
            return false;
        }
        encode_msg_view(sid, msg, &mut st.buf);
        let first = !st.wake_pending;
        st.wake_pending = true;
        drop(st);
        if first {
            flush.0.push(self.clone());
        }
        self.counters.out_msgs.fetch_add(1, Ordering::Relaxed);
        self.counters
            .out_bytes
            .fetch_add(total as u64, Ordering::Relaxed);
        true
    }

    /// Wakes the writer (see [`FlushList`]).
    fn wake(&self) {
        self.lock().wake_pending = false;
        self.notify.notify_one();
    }

    /// Queues raw protocol bytes (`INFO`, `PONG`, `+OK`, `-ERR`, `PING`).
    pub fn send_raw(&self, bytes: &[u8]) -> bool {
        let mut st = self.lock();
        if st.closing.is_some() {
            return false;
        }
        if st.buf.len() + bytes.len() > self.max_pending {
            drop(st);
            self.close(CloseReason::SlowConsumer);
            return false;
        }
        st.buf.extend_from_slice(bytes);
        drop(st);
        self.notify.notify_one();
        true
    }

    /// Starts closing: an `-ERR` for the reason is queued (a slow consumer's unsent backlog is
    /// dropped first, since it would never be read), and the writer ends after sending what is
    /// queued. Later sends are refused. Only the first reason counts.
    pub fn close(&self, reason: CloseReason) {
        let mut st = self.lock();
        if st.closing.is_some() {
            return;
        }
        if reason == CloseReason::SlowConsumer {
            st.buf.clear();
        }
        if let Some(text) = reason.err_text() {
            let line = format!("-ERR '{text}'\r\n");
            st.buf.extend_from_slice(line.as_bytes());
        }
        st.closing = Some(reason);
        drop(st);
        self.notify.notify_one();
        self.close_notify.notify_waiters();
    }

    /// Whether the connection is closing, and why.
    pub fn closing(&self) -> Option<CloseReason> {
        self.lock().closing.clone()
    }

    /// Bytes queued and not yet handed to the writer.
    pub fn pending_bytes(&self) -> usize {
        self.lock().buf.len()
    }

    /// For the writer task: waits until there is something to write and takes all of it. The
    /// flag says the connection is closing (write these bytes, then close).
    pub async fn take(&self) -> (BytesMut, bool) {
        loop {
            {
                let mut st = self.lock();
                let closing = st.closing.is_some();
                if !st.buf.is_empty() || closing {
                    return (st.buf.split(), closing);
                }
            }
            self.notify.notified().await;
        }
    }

    /// Resolves once the connection starts closing.
    pub async fn closed(&self) -> CloseReason {
        loop {
            let notified = self.close_notify.notified();
            if let Some(reason) = self.closing() {
                return reason;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_are_encoded_as_msg_and_hmsg() {
        let out = Arc::new(Outbox::new(1 << 20));
        let plain = MsgView {
            subject: "a.b",
            reply: None,
            headers: None,
            payload: b"hi",
        };
        let with_headers = MsgView {
            reply: Some("r.1"),
            headers: Some(b"NATS/1.0\r\n\r\n"),
            payload: b"x",
            ..plain
        };
        assert!(out.send_msg("7", &plain));
        assert!(out.send_msg("7", &with_headers));
        let (bytes, closing) = out.take().await;
        assert!(!closing);
        assert_eq!(
            &bytes[..],
            b"MSG a.b 7 2\r\nhi\r\nHMSG a.b 7 r.1 12 13\r\nNATS/1.0\r\n\r\nx\r\n"
        );
    }

    #[tokio::test]
    async fn a_client_that_never_reads_is_cut_off_as_slow_consumer() {
        let out = Arc::new(Outbox::new(1000));
        let mut sent = 0;
        let msg = MsgView {
            subject: "s",
            reply: None,
            headers: None,
            payload: &[0u8; 100],
        };
        while out.send_msg("1", &msg) {
            sent += 1;
            assert!(sent < 100, "the bound must stop the sender");
        }
        assert_eq!(out.closing(), Some(CloseReason::SlowConsumer));
        let (bytes, closing) = out.take().await;
        assert!(closing);
        assert_eq!(&bytes[..], b"-ERR 'Slow Consumer'\r\n");
    }
}
