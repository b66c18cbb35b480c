//! A client's outbound buffer: where every task that has something for a client writes it.
//!
//! Publishers encode MSG/HMSG lines (with the core's encoder) straight into the receiving
//! client's buffer (one copy, no per-message channel send); the client's writer task takes the whole buffer at once and writes
//! it in one syscall, so a burst of small messages costs one write; the written buffer comes back
//! (`written`) and two buffers alternate, so steady traffic allocates nothing. The buffer is bounded: past
//! `max_pending` bytes the client is a slow consumer and is cut off, so one client that never
//! reads cannot make the server hold unbounded memory.
//!
//! A client that publishes faster than a subscriber reads is slowed rather than the subscriber
//! cut off: a connection that queued into an outbox past half of its `max_pending` waits, before
//! it reads more from its own client, for that outbox's writer to take the backlog, for at most
//! [`stall_budget`] ([`FlushList::flush_noting_backlog`], [`Outbox::backlog_taken`]). TCP then
//! slows the publisher to the subscriber's pace; a subscriber that stopped reading still reaches
//! `max_pending` (at one read's worth of messages per stall) and is cut off. nats-server stalls
//! fast producers the same way. The engine thread and links never wait: they serve everyone.
//!
//! A producer outside the connection's runtime (the engine thread answering a publish with its
//! PubAck) may write a small buffer to a plain TCP socket itself ([`FlushList::flush_direct`]):
//! waking the writer task would cost a wake-up of a runtime worker (an eventfd write and an epoll
//! return) and a scheduling before the reply leaves, which a publisher awaiting each PubAck pays
//! on every message. Only when the writer holds no bytes in flight, so the order holds.

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

/// What a connection's outbound buffer starts with.
const INITIAL_CAPACITY: usize = 16 * 1024;

/// The largest written buffer kept for reuse. A subscriber that reads slower than its
/// publishers makes each write several MiB, and a buffer too large to keep would be regrown
/// (copied, its pages faulted in) every write; past this, memory matters more.
const MAX_SPARE_CAPACITY: usize = 8 * 1024 * 1024;

/// A written buffer larger than this is kept only when the write filled at least a quarter of
/// it, so a connection keeps the memory its recent writes needed, not its largest burst ever.
const SMALL_SPARE_CAPACITY: usize = 256 * 1024;

struct State {
    buf: BytesMut,
    /// The buffer the writer finished writing, cleared, kept to become `buf` at the next
    /// [`Outbox::take`]: the two ping-pong, so a busy client costs no allocation per write.
    /// (Without it every write left the producers a fresh buffer that grew by doubling, each
    /// step a copy into newly faulted pages: a fifth of the server's CPU in core pub/sub.)
    spare: Option<BytesMut>,
    closing: Option<CloseReason>,
    /// Some producer's [`FlushList`] holds this outbox and will wake the writer.
    wake_pending: bool,
    /// The writer task took bytes and has not finished writing them: nobody else may write.
    writing: bool,
    /// A second handle on the client's plain TCP socket (non-blocking, as the runtime set it),
    /// for [`Outbox::wake_direct`]; `None` for TLS and WebSocket, and once the writer ended.
    direct: Option<std::net::TcpStream>,
    /// Messages and payload bytes queued since the counters were last added to: added when
    /// the writer is woken, once per producer's batch rather than twice per message.
    uncounted: (u64, u64),
    /// A producer waits in [`Outbox::backlog_taken`]: the writer's next take wakes it.
    producer_waiting: bool,
}

impl State {
    /// Adds the messages queued since the last call to `counters`.
    fn add_to(&mut self, counters: &Counters) {
        let (msgs, bytes) = std::mem::take(&mut self.uncounted);
        if msgs > 0 {
            counters.out_msgs.fetch_add(msgs, Ordering::Relaxed);
            counters.out_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

/// Buffers at most this big are written by a producer itself: a reply or a few (a PubAck is
/// about 100 bytes), not a burst of acks or deliveries, which the writer task sends on another
/// core while the engine thread goes on (measured: async publishes with 256 out were slower when
/// the engine thread wrote their acks itself).
const DIRECT_MAX: usize = 1 << 10;

/// The longest a connection waits, per 64 KiB it read from its client, for the subscribers it
/// queued past half of their `max_pending` to take their backlogs (see the module doc): a
/// subscriber that reads faster than 64 KiB per 10 ms is not cut off by a faster publisher
/// (where `max_pending` is well above one read). Short enough that one stuck subscriber slows
/// its publishers rather than stopping them, until its `max_pending` or its write deadline cuts
/// it off. (nats-server 2.14 reads at most 64 KiB at a time and stalls at most 10 ms a read;
/// 2.9 stalled up to a second.)
const STALL_PER_64K: std::time::Duration = std::time::Duration::from_millis(10);

/// How long a connection that read `read` bytes may wait for backlogs (see `STALL_PER_64K`).
pub fn stall_budget(read: usize) -> std::time::Duration {
    let windows = read.div_ceil(64 << 10).max(1);
    STALL_PER_64K.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
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

    /// As [`FlushList::flush`], and adds to `backlogged` the outboxes holding more than half of
    /// their `max_pending`, for a connection to wait on ([`Outbox::backlog_taken`]).
    pub fn flush_noting_backlog(&mut self, backlogged: &mut Vec<Arc<Outbox>>) {
        for out in self.0.drain(..) {
            if out.wake() {
                backlogged.push(out);
            }
        }
    }

    /// As [`FlushList::flush`], but writes a small buffer to the socket at once where the
    /// outbox has a direct handle and its writer is idle (see the module doc); what the socket
    /// does not take goes to the writer. For producers outside the connections' runtime.
    pub fn flush_direct(&mut self) {
        for out in self.0.drain(..) {
            out.wake_direct();
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
    /// Wakes producers waiting in [`Outbox::backlog_taken`].
    taken: Notify,
    /// What this connection sent and received.
    pub counters: Counters,
}

impl Outbox {
    /// An empty outbox that cuts the client off past `max_pending` queued bytes.
    pub fn new(max_pending: usize) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                buf: BytesMut::with_capacity(INITIAL_CAPACITY),
                spare: None,
                closing: None,
                wake_pending: false,
                writing: false,
                direct: None,
                uncounted: (0, 0),
                producer_waiting: false,
            }),
            notify: Notify::new(),
            close_notify: Notify::new(),
            taken: Notify::new(),
            max_pending,
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the buffer inconsistent in a way that
        // matters more than losing the connection, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a `MSG`/`HMSG` for subscription `sid` (encoded by the core's
    /// [`encode_msg_view`]); the writer is woken when `flush` is. `false` when the connection
    /// is closing (or this message made it a slow consumer).
    ///
    /// The subscription counts its deliveries in `count`, for its auto-unsubscribe limit `max`
    /// (0: none). The count is taken under this outbox's lock, which every delivery to the
    /// subscription holds, so a plain load and store count exactly where an atomic add would
    /// cost a locked instruction per message on top of the lock's own. Returns the delivery's
    /// number, counted whether or not the message was queued, and whether it was queued; past
    /// `max` it is not.
    pub fn queue_counted(
        self: &Arc<Self>,
        sid: &str,
        msg: &MsgView<'_>,
        count: &AtomicU64,
        max: u64,
        flush: &mut FlushList,
    ) -> (u64, bool) {
        let st = self.lock();
        let n = count.load(Ordering::Relaxed) + 1;
        count.store(n, Ordering::Relaxed);
        if max > 0 && n > max {
            return (n, false);
        }
        (n, self.queue_locked(st, sid, msg, flush))
    }

    /// The tests' shorthand: [`Outbox::queue_counted`] with no count to keep.
    #[cfg(test)]
    pub fn queue_msg(
        self: &Arc<Self>,
        sid: &str,
        msg: &MsgView<'_>,
        flush: &mut FlushList,
    ) -> bool {
        let st = self.lock();
        self.queue_locked(st, sid, msg, flush)
    }

    /// The tests' shorthand: [`Outbox::queue_msg`], the writer woken at once.
    #[cfg(test)]
    pub fn send_msg(self: &Arc<Self>, sid: &str, msg: &MsgView<'_>) -> bool {
        let mut flush = FlushList::new();
        self.queue_msg(sid, msg, &mut flush)
    }

    /// The body of [`Outbox::queue_counted`], with the lock taken.
    fn queue_locked(
        self: &Arc<Self>,
        mut st: std::sync::MutexGuard<'_, State>,
        sid: &str,
        msg: &MsgView<'_>,
        flush: &mut FlushList,
    ) -> bool {
        let total = msg.headers.map_or(0, <[u8]>::len) + msg.payload.len();
        if st.closing.is_some() {
            return false;
        }
        if st.buf.len() + msg.encoded_len(sid) > self.max_pending {
            drop(st);
            self.close(CloseReason::SlowConsumer);
            return false;
        }
        encode_msg_view(sid, msg, &mut st.buf);
        st.uncounted.0 += 1;
        st.uncounted.1 += total as u64;
        let first = !st.wake_pending;
        st.wake_pending = true;
        drop(st);
        if first {
            flush.0.push(self.clone());
        }
        true
    }

    /// Wakes the writer (see [`FlushList`]); whether more than half of `max_pending` waits for
    /// it.
    fn wake(&self) -> bool {
        let mut st = self.lock();
        st.wake_pending = false;
        st.add_to(&self.counters);
        let backlogged = self.over_half(&st);
        drop(st);
        self.notify.notify_one();
        backlogged
    }

    /// More than half of `max_pending` is queued, and the connection is not closing.
    fn over_half(&self, st: &State) -> bool {
        st.closing.is_none() && st.buf.len() > self.max_pending / 2
    }

    /// Resolves once no more than half of `max_pending` is queued (the writer took the rest),
    /// or the connection is closing: a producer that filled the outbox waits here before it
    /// reads more from its own client (see the module doc).
    pub async fn backlog_taken(&self) {
        loop {
            // Created before the look, so a take between the look and the wait still wakes it.
            let taken = self.taken.notified();
            {
                let mut st = self.lock();
                if !self.over_half(&st) {
                    return;
                }
                st.producer_waiting = true;
            }
            taken.await;
        }
    }

    /// Gives the outbox a second handle on its client's plain TCP socket, which must be in
    /// non-blocking mode, for producers to write small buffers through at once.
    pub fn set_direct(&self, socket: std::net::TcpStream) {
        self.lock().direct = Some(socket);
    }

    /// Writes what is queued straight to the socket when the outbox has a direct handle, the
    /// writer holds nothing in flight and the buffer is small; wakes the writer for whatever is
    /// left (a full socket buffer, an error the writer will meet too, no handle).
    fn wake_direct(&self) {
        use bytes::Buf;
        use std::io::Write;
        let mut st = self.lock();
        st.wake_pending = false;
        st.add_to(&self.counters);
        let st = &mut *st;
        if let Some(socket) = &st.direct {
            if !st.writing && st.closing.is_none() && st.buf.len() <= DIRECT_MAX {
                // Non-blocking: a full socket buffer is WouldBlock, never a wait.
                if let Ok(n) = (&*socket).write(&st.buf) {
                    if n == st.buf.len() {
                        st.buf.clear();
                        return;
                    }
                    st.buf.advance(n);
                }
            }
        }
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
        self.taken.notify_waiters();
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
                    // The taken buffer must own its allocation (not share it with `buf`, as
                    // `split` would) for the writer to hand it back through `written`.
                    st.writing = !st.buf.is_empty();
                    let capacity = st.buf.capacity().min(SMALL_SPARE_CAPACITY);
                    let next = st
                        .spare
                        .take()
                        .unwrap_or_else(|| BytesMut::with_capacity(capacity));
                    let taken = std::mem::replace(&mut st.buf, next);
                    if std::mem::take(&mut st.producer_waiting) {
                        drop(st);
                        self.taken.notify_waiters();
                    }
                    return (taken, closing);
                }
            }
            self.notify.notified().await;
        }
    }

    /// For the writer task: the bytes [`Outbox::take`] gave it are written (or failed), so a
    /// producer may write directly again; `buf` is that buffer back when the transport let go
    /// of it, to be reused (see `State::spare`).
    pub fn written(&self, buf: Option<BytesMut>) {
        let mut st = self.lock();
        st.writing = false;
        let Some(mut buf) = buf else { return };
        let capacity = buf.capacity();
        let mostly_empty = capacity > SMALL_SPARE_CAPACITY && buf.len() < capacity / 4;
        if capacity > MAX_SPARE_CAPACITY || mostly_empty {
            return;
        }
        buf.clear();
        st.spare = Some(buf);
    }

    /// For the writer task, as it ends: the direct handle goes, so no producer writes past the
    /// close (and the socket's descriptor is not kept open by the outbox).
    pub fn writer_ended(&self) {
        let mut st = self.lock();
        st.writing = false;
        st.direct = None;
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

    /// A connected pair of plain TCP sockets: the server's side (non-blocking, as the runtime
    /// leaves it) and the client's.
    fn socket_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("non-blocking");
        (server, client)
    }

    fn pub_ack() -> MsgView<'static> {
        MsgView {
            subject: "_INBOX.r",
            reply: None,
            headers: None,
            payload: b"{\"stream\":\"S\",\"seq\":1}",
        }
    }

    #[tokio::test]
    async fn a_reply_flushed_directly_reaches_the_client_with_no_writer_running() {
        use std::io::Read;
        let (server, mut client) = socket_pair();
        let out = Arc::new(Outbox::new(1 << 20));
        out.set_direct(server);
        let mut flush = FlushList::new();
        assert!(out.queue_msg("1", &pub_ack(), &mut flush));
        flush.flush_direct();
        // No writer task exists: only the direct write can have sent it.
        let payload = std::str::from_utf8(pub_ack().payload).expect("text");
        let want = format!("MSG _INBOX.r 1 {}\r\n{payload}\r\n", payload.len());
        let mut got = vec![0u8; want.len()];
        client.read_exact(&mut got).expect("the reply arrives");
        assert_eq!(got, want.as_bytes());
        assert_eq!(out.pending_bytes(), 0);
    }

    #[tokio::test]
    async fn no_direct_write_while_the_writer_has_bytes_in_flight() {
        let (server, _client) = socket_pair();
        let out = Arc::new(Outbox::new(1 << 20));
        out.set_direct(server);
        assert!(out.send_raw(b"INFO {}\r\n"));
        let (first, _) = out.take().await;
        assert_eq!(&first[..], b"INFO {}\r\n");
        // The writer has not written `first` yet: a direct write would overtake it.
        let mut flush = FlushList::new();
        assert!(out.queue_msg("1", &pub_ack(), &mut flush));
        flush.flush_direct();
        assert!(out.pending_bytes() > 0, "the reply waits for the writer");
        out.written(None);
        let (second, _) = out.take().await;
        assert!(second.starts_with(b"MSG _INBOX.r 1 "));
    }

    #[tokio::test]
    async fn written_buffers_are_reused_not_reallocated() {
        let out = Arc::new(Outbox::new(1 << 20));
        let msg = MsgView {
            subject: "s",
            reply: None,
            headers: None,
            payload: b"x",
        };
        // Two buffers ping-pong between the producers and the writer.
        let mut seen = Vec::new();
        for _ in 0..4 {
            assert!(out.send_msg("1", &msg));
            let (bytes, _) = out.take().await;
            assert_eq!(&bytes[..], b"MSG s 1 1\r\nx\r\n");
            seen.push(bytes.as_ptr());
            out.written(Some(bytes));
        }
        assert_eq!(seen[0], seen[2]);
        assert_eq!(seen[1], seen[3]);
        // A big buffer a small write used is let go (the memory goes back).
        let mut big = BytesMut::with_capacity(4 * SMALL_SPARE_CAPACITY);
        big.extend_from_slice(b"MSG s 1 1\r\nx\r\n");
        out.written(Some(big));
        assert!(out.lock().spare.as_ref().map_or(0, BytesMut::capacity) < SMALL_SPARE_CAPACITY);
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

    /// Queues 100-byte messages into `out` through `flush` until more than `bytes` wait.
    fn fill_past(out: &Arc<Outbox>, bytes: usize, flush: &mut FlushList) {
        let msg = MsgView {
            subject: "s",
            reply: None,
            headers: None,
            payload: &[0u8; 100],
        };
        while out.pending_bytes() <= bytes {
            assert!(
                out.queue_msg("1", &msg, flush),
                "refused at {}",
                out.pending_bytes()
            );
        }
    }

    /// Whether `backlog_taken` is still waiting after the writer had a chance to run.
    async fn still_waiting(
        wait: &mut std::pin::Pin<Box<impl std::future::Future<Output = ()>>>,
    ) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(20), wait.as_mut())
            .await
            .is_err()
    }

    #[tokio::test]
    async fn a_producer_past_half_of_max_pending_waits_until_the_writer_takes_the_backlog() {
        let out = Arc::new(Outbox::new(1000));
        let mut flush = FlushList::new();
        fill_past(&out, 400, &mut flush);
        let mut backlogged = Vec::new();
        flush.flush_noting_backlog(&mut backlogged);
        assert!(backlogged.is_empty(), "400 bytes of 1000 is no backlog");

        fill_past(&out, 500, &mut flush);
        flush.flush_noting_backlog(&mut backlogged);
        assert_eq!(backlogged.len(), 1, "past half of max_pending");
        let mut wait = Box::pin(out.backlog_taken());
        assert!(still_waiting(&mut wait).await);
        let (bytes, closing) = out.take().await;
        assert!(bytes.len() > 500 && !closing);
        assert!(
            !still_waiting(&mut wait).await,
            "the take releases the producer"
        );
    }

    #[tokio::test]
    async fn a_closing_outbox_releases_its_waiting_producers() {
        let out = Arc::new(Outbox::new(1000));
        let mut flush = FlushList::new();
        fill_past(&out, 500, &mut flush);
        let mut wait = Box::pin(out.backlog_taken());
        assert!(still_waiting(&mut wait).await);
        out.close(CloseReason::ServerShutdown);
        assert!(!still_waiting(&mut wait).await);
    }
}
