//! One client connection, over TCP or WebSocket: CONNECT and auth, SUB/UNSUB, PUB/HPUB routed to
//! subscribers and to JetStream, PING/PONG keepalive, stale-connection detection.
//!
//! Each connection runs two tasks. The reader (this module's [`serve`]) parses ops and acts on
//! them; the writer drains the connection's [`Outbox`], where any task may queue bytes for this
//! client, and writes them with a deadline. Whatever ends the connection (client close, protocol
//! error, slow consumer, stale pings, shutdown) goes through [`Outbox::close`], so the writer sends
//! a final `-ERR` when there is one and both tasks stop.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::auth::account::Account;
use super::auth::permissions::ClientPerms;
use super::auth::Identity;
use super::jetstream::{Origin, PublishBatch, WantsCache};
use super::outbox::{stall_budget, CloseReason, FlushList, Outbox};
use super::router::{MsgView, RouteCache, Sub};
use super::wire;
use super::Shared;
use crate::core::proto::{ClientFrame, ClientOp, ClientParser, Connect, Limits};
use crate::core::subject;

/// The reading half of a client transport.
pub trait ByteReader: Send + 'static {
    /// Appends what arrives to `buf`; `Ok(0)` at end of stream. Must be cancel-safe.
    fn read_into(&mut self, buf: &mut BytesMut) -> impl Future<Output = io::Result<usize>> + Send;
}

/// The writing half of a client transport.
pub trait ByteWriter: Send + 'static {
    /// Writes all of `bytes` (as one WebSocket frame, for WebSocket).
    fn write_bytes(&mut self, bytes: Bytes) -> impl Future<Output = io::Result<()>> + Send;
    /// Closes the transport after the last write.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
    /// A second, non-blocking handle on a plain TCP socket, for small writes straight from a
    /// producer ([`Outbox::set_direct`]); `None` where bytes need framing or encryption.
    fn direct(&self) -> Option<std::net::TcpStream> {
        None
    }
}

impl ByteReader for tokio::net::tcp::OwnedReadHalf {
    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(32 * 1024);
        }
        self.read_buf(buf).await
    }
}

impl ByteWriter for tokio::net::tcp::OwnedWriteHalf {
    async fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.write_all(&bytes).await
    }

    async fn close(&mut self) {
        use tokio::io::AsyncWriteExt;
        let _ = self.shutdown().await;
    }

    #[cfg(unix)]
    fn direct(&self) -> Option<std::net::TcpStream> {
        use std::os::fd::AsFd;
        // A duplicate descriptor shares the socket and its O_NONBLOCK (set by the runtime).
        let stream: &tokio::net::TcpStream = self.as_ref();
        let fd = stream.as_fd().try_clone_to_owned().ok()?;
        Some(std::net::TcpStream::from(fd))
    }
}

/// Which listener a client came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    /// The NATS TCP port.
    Tcp,
    /// The WebSocket port.
    WebSocket,
}

/// What monitoring shows of a live connection.
pub struct ClientInfo {
    /// Connection id (also `client_id` in INFO).
    pub id: u64,
    /// Remote address.
    pub peer: SocketAddr,
    /// When it connected.
    pub start: std::time::SystemTime,
    /// TCP or WebSocket.
    pub kind: ConnKind,
    /// Its outbound buffer and counters.
    pub out: Arc<Outbox>,
    /// CONNECT options, once received.
    pub opts: std::sync::Mutex<Connect>,
    /// Number of subscriptions.
    pub subs: std::sync::atomic::AtomicUsize,
    /// The account it lives in (set at CONNECT).
    pub account: std::sync::Mutex<String>,
    /// The user (name or nkey) it authenticated as, if any.
    pub user: std::sync::Mutex<Option<String>>,
}

/// Whether [`serve`] still owes the client its INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// Send INFO first, under a fresh client id.
    SendInfo,
    /// INFO naming this client id (and this nonce, for nkey users) went out already, in
    /// plaintext before the TLS upgrade.
    InfoSent {
        /// The client id the INFO named.
        id: u64,
        /// The nonce the INFO carried, which the client signs in CONNECT.
        nonce: Option<String>,
    },
}

/// Serves one client until it goes away; registers it for monitoring meanwhile.
pub async fn serve<R: ByteReader, W: ByteWriter>(
    shared: Arc<Shared>,
    reader: R,
    writer: W,
    peer: SocketAddr,
    kind: ConnKind,
) {
    serve_greeted(shared, reader, writer, peer, kind, Greeting::SendInfo).await;
}

/// [`serve`], for a client that may have had its INFO already.
pub async fn serve_greeted<R: ByteReader, W: ByteWriter>(
    shared: Arc<Shared>,
    reader: R,
    writer: W,
    peer: SocketAddr,
    kind: ConnKind,
    greeting: Greeting,
) {
    let id = match greeting {
        Greeting::SendInfo => shared.next_client_id(),
        Greeting::InfoSent { id, .. } => id,
    };
    let out = Arc::new(Outbox::new(shared.config.max_pending));
    if let Some(socket) = writer.direct() {
        out.set_direct(socket);
    }
    let info = Arc::new(ClientInfo {
        id,
        peer,
        start: std::time::SystemTime::now(),
        kind,
        out: out.clone(),
        opts: std::sync::Mutex::new(Connect::default()),
        subs: Default::default(),
        account: std::sync::Mutex::new(super::auth::GLOBAL_ACCOUNT.to_string()),
        user: std::sync::Mutex::new(None),
    });
    shared.register(info.clone());
    let websocket = kind == ConnKind::WebSocket;
    let nonce = match greeting {
        Greeting::SendInfo => {
            let (info_json, nonce) = shared.greeting_info(id, peer, kind);
            out.send_raw(&wire::info_line(&info_json));
            nonce
        }
        Greeting::InfoSent { nonce, .. } => nonce,
    };
    // Until CONNECT says otherwise (only possible where auth is required), a client lives in
    // the global account.
    let Some(account) = shared.accounts.global().cloned() else {
        out.close(CloseReason::ServerShutdown);
        shared.unregister(id);
        return;
    };
    let writer_task = tokio::spawn(write_loop(out.clone(), writer, shared.clone(), id));

    let mut conn = Conn {
        shared: shared.clone(),
        info: info.clone(),
        out: out.clone(),
        opts: Connect::default(),
        connected: false,
        auth_required: shared.config.auth.required_for(websocket),
        websocket,
        nonce,
        account,
        perms: None,
        subs: HashMap::new(),
        pings_out: 0,
        parser: ClientParser::new(Limits {
            max_control_line: shared.config.max_control_line,
            max_payload: shared.config.max_payload,
        }),
        flush: FlushList::new(),
        backlogged: Vec::new(),
        route_cache: RouteCache::default(),
        wants_cache: WantsCache::default(),
        uncounted: (0, 0),
        js_batch: PublishBatch::default(),
    };
    let reason = conn.run(reader).await;
    tracing::debug!(client = id, ?reason, "connection closing");
    out.close(reason);
    for sub in conn.subs.values() {
        conn.account.router.unsubscribe(sub);
    }
    shared.unregister(id);
    // The writer ends once it has sent what was queued, or at its write deadline.
    let _ = writer_task.await;
}

/// Drains the outbox onto the transport until the connection closes (client `id`).
async fn write_loop<W: ByteWriter>(out: Arc<Outbox>, mut writer: W, shared: Arc<Shared>, id: u64) {
    let deadline = shared.config.write_deadline;
    loop {
        let (bytes, closing) = out.take().await;
        if !bytes.is_empty() {
            let bytes = bytes.freeze();
            let written = tokio::time::timeout(deadline, writer.write_bytes(bytes.clone())).await;
            // Ours alone again once the transport let go of it (TCP and TLS copy it into the
            // socket): the outbox reuses it rather than allocating anew.
            out.written(bytes.try_into_mut().ok());
            match written {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    out.close(CloseReason::ClientClosed);
                    break;
                }
                Err(_) => {
                    out.close(CloseReason::SlowConsumer);
                    break;
                }
            }
        }
        if closing {
            break;
        }
    }
    out.writer_ended();
    if out.closing() == Some(CloseReason::SlowConsumer) {
        // As nats-server does: an operator should see why a client lost messages. Counted
        // before the socket closes, so a client that sees the close finds it in `/varz`.
        tracing::info!(client = id, "slow consumer detected: connection closed");
        shared.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }
    writer.close().await;
}

/// What [`Conn::publish`] did with a message.
enum Published {
    /// Routed; `false` when refused (the client got an `-ERR`, and no `+OK` follows).
    Done(bool),
    /// Routed, and JetStream wants it too: the caller hands it over, from this origin.
    ToJetStream(Origin),
}

struct Conn {
    shared: Arc<Shared>,
    info: Arc<ClientInfo>,
    out: Arc<Outbox>,
    opts: Connect,
    connected: bool,
    /// Whether this listener's clients must authenticate before anything else.
    auth_required: bool,
    websocket: bool,
    /// What INFO asked nkey users to sign.
    nonce: Option<String>,
    /// The account the client lives in: its subscriptions and JetStream.
    account: Arc<Account>,
    /// What the client may publish and subscribe to (`None`: anything).
    perms: Option<Arc<ClientPerms>>,
    subs: HashMap<String, Arc<Sub>>,
    pings_out: u32,
    parser: ClientParser,
    /// Outboxes this connection queued messages into since its last read.
    flush: FlushList,
    /// Outboxes this connection filled past half of their `max_pending` in the current read,
    /// waited on before the next ([`Conn::wait_for_backlog`]).
    backlogged: Vec<Arc<Outbox>>,
    /// Who its last publish's subject reached in the account's router (reset with the account).
    route_cache: RouteCache,
    /// Whether the account's JetStream wanted its last publish's subject (reset likewise).
    wants_cache: WantsCache,
    /// Messages and payload bytes received since the counters were last added to (once per
    /// read, not per message: with the outbox's two, four atomic adds per delivered message
    /// cost a raw-socket publisher about 5% of its rate).
    uncounted: (u64, u64),
    /// JetStream publishes parsed from this read, not yet handed to the engine.
    js_batch: PublishBatch,
}

impl Conn {
    fn id(&self) -> u64 {
        self.info.id
    }

    /// Reads and handles ops until something ends the connection; returns why.
    async fn run<R: ByteReader>(&mut self, mut reader: R) -> CloseReason {
        let config = self.shared.config.clone();
        let mut buf = BytesMut::with_capacity(32 * 1024);
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + config.ping_interval,
            config.ping_interval,
        );
        let auth_deadline = tokio::time::Instant::now() + config.auth_timeout;
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            let auth_pending = self.auth_required && !self.connected;
            tokio::select! {
                read = reader.read_into(&mut buf) => match read {
                    Ok(0) | Err(_) => return CloseReason::ClientClosed,
                    Ok(read) => {
                        if let Err(reason) = self.handle_input(&mut buf, read).await {
                            return reason;
                        }
                    }
                },
                _ = ping.tick() => {
                    if self.pings_out >= config.ping_max {
                        return CloseReason::Protocol("Stale Connection".into());
                    }
                    self.pings_out += 1;
                    self.out.send_raw(wire::PING);
                }
                _ = tokio::time::sleep_until(auth_deadline), if auth_pending => {
                    return CloseReason::Protocol("Authentication Timeout".into());
                }
                reason = self.out.closed() => return reason,
                _ = shutdown.changed() => return CloseReason::ServerShutdown,
            }
        }
    }

    /// Handles every complete op in `buf`, which the last read added `read` bytes to.
    async fn handle_input(&mut self, buf: &mut BytesMut, read: usize) -> Result<(), CloseReason> {
        let handled = self.handle_ops(buf, read).await;
        self.add_to_counters();
        handled
    }

    async fn handle_ops(&mut self, buf: &mut BytesMut, read: usize) -> Result<(), CloseReason> {
        loop {
            let op = match self.parser.parse_frame(buf) {
                Ok(Some(ClientFrame::Op(op))) => op,
                Ok(Some(ClientFrame::Pub(view))) => {
                    self.handle_pub(view).await?;
                    continue;
                }
                Ok(None) => {
                    // One read's worth of ops handled: wake every writer they queued for, and
                    // let the subscribers they filled catch up before the next read.
                    self.flush.flush_noting_backlog(&mut self.backlogged);
                    self.hand_over_publishes().await;
                    self.wait_for_backlog(read).await;
                    return Ok(());
                }
                Err(err) => {
                    tracing::debug!(client = self.id(), %err, "protocol error");
                    self.hand_over_publishes().await;
                    return Err(CloseReason::Protocol(err.err_text().into()));
                }
            };
            // Publishes before the op reach the engine before it is handled (a PONG says
            // they were taken).
            self.hand_over_publishes().await;
            self.handle_op(op).await?;
        }
    }

    /// Fast-producer stall (see the `outbox` module doc): waits, at most [`stall_budget`] for
    /// the `read` bytes in all, for the outboxes they filled past half of their `max_pending` to
    /// be taken by their writers.
    async fn wait_for_backlog(&mut self, read: usize) {
        if self.backlogged.is_empty() {
            return;
        }
        let deadline = tokio::time::Instant::now() + stall_budget(read);
        let mut backlogged = std::mem::take(&mut self.backlogged);
        for out in backlogged.drain(..) {
            if tokio::time::timeout_at(deadline, out.backlog_taken())
                .await
                .is_err()
            {
                // The drain drops the rest: the budget is spent.
                break;
            }
        }
        self.backlogged = backlogged;
    }

    /// Hands the JetStream publishes parsed so far to the engine, waking the writers first
    /// (this may wait while the engine is busy).
    async fn hand_over_publishes(&mut self) {
        if self.js_batch.is_empty() {
            return;
        }
        let client = self.id();
        match &self.account.js {
            Some(js) => {
                self.flush.flush_noting_backlog(&mut self.backlogged);
                js.publish(client, &mut self.js_batch).await;
            }
            // Only a connection whose account has JetStream fills the batch.
            None => self.js_batch = PublishBatch::default(),
        }
    }

    /// Adds what this connection received since the last call to its counters.
    fn add_to_counters(&mut self) {
        let (msgs, bytes) = std::mem::take(&mut self.uncounted);
        if msgs > 0 {
            let counters = &self.out.counters;
            counters.in_msgs.fetch_add(msgs, Ordering::Relaxed);
            counters.in_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Authorizes an op from a client that has not authenticated yet: CONNECT only.
    fn check_connected(&self, connecting: bool) -> Result<(), CloseReason> {
        if !self.connected && self.auth_required && !connecting {
            return Err(CloseReason::Protocol("Authorization Violation".into()));
        }
        Ok(())
    }

    /// Publishes a PUB or HPUB read as `view`, where it lies in the input buffer. Routing it to
    /// subscribers copies nothing out; JetStream, which keeps the message, gets a copy, in
    /// the batch handed over at the end of the read (`jetstream/batch.rs`).
    async fn handle_pub(&mut self, view: MsgView<'_>) -> Result<(), CloseReason> {
        self.check_connected(false)?;
        let ok = match self.publish(&view) {
            Published::Done(ok) => ok,
            Published::ToJetStream(origin) => {
                if self.js_batch.push(view.to_message(), origin) {
                    self.hand_over_publishes().await;
                }
                true
            }
        };
        if ok && self.opts.verbose {
            self.out.send_raw(wire::OK);
        }
        Ok(())
    }

    async fn handle_op(&mut self, op: ClientOp) -> Result<(), CloseReason> {
        self.check_connected(matches!(op, ClientOp::Connect(_)))?;
        // `ok`: whether a verbose client gets +OK (not after an -ERR, as nats-server).
        let ok = match op {
            ClientOp::Connect(connect) => {
                self.connect(*connect).await?;
                true
            }
            ClientOp::Ping => {
                self.out.send_raw(wire::PONG);
                return Ok(());
            }
            ClientOp::Pong => {
                self.pings_out = 0;
                return Ok(());
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(&subject, queue.as_deref(), &sid),
            ClientOp::Unsub { sid, max } => {
                self.unsubscribe(&sid, max);
                true
            }
            ClientOp::Pub(msg) => {
                // Not from `parse_frame`, which hands publishes over as views.
                return self.handle_pub(MsgView::of(&msg)).await;
            }
        };
        if ok && self.opts.verbose {
            self.out.send_raw(wire::OK);
        }
        Ok(())
    }

    async fn connect(&mut self, opts: Connect) -> Result<(), CloseReason> {
        // nats-server authenticates the first CONNECT only; later ones just update options.
        if self.auth_required && !self.connected {
            let identity = self.authenticate(&opts).await?;
            let Some(account) = self.shared.accounts.get(&identity.account).cloned() else {
                tracing::error!(client = self.id(), account = %identity.account, "unknown account");
                return Err(CloseReason::Protocol("Authorization Violation".into()));
            };
            if let Ok(mut shown) = self.info.account.lock() {
                shown.clone_from(&account.name);
            }
            if let Ok(mut shown) = self.info.user.lock() {
                shown.clone_from(&identity.user);
            }
            self.account = account;
            // Another account's router and JetStream: their generations mean nothing here.
            self.route_cache = RouteCache::default();
            self.wants_cache = WantsCache::default();
            self.perms = identity
                .permissions
                .as_deref()
                .map(|p| Arc::new(ClientPerms::new(p)));
        }
        if let Ok(mut shown) = self.info.opts.lock() {
            *shown = opts.clone();
        }
        self.opts = opts;
        self.connected = true;
        Ok(())
    }

    /// Checks the credentials of a CONNECT. Off the reader's thread: a bcrypt check takes tens
    /// of milliseconds.
    async fn authenticate(&self, opts: &Connect) -> Result<Identity, CloseReason> {
        let config = self.shared.config.clone();
        let (connect, nonce, websocket) = (opts.clone(), self.nonce.clone(), self.websocket);
        let checked = tokio::task::spawn_blocking(move || {
            config
                .auth
                .authenticate(&connect, nonce.as_deref(), websocket)
        })
        .await;
        match checked {
            Ok(Ok(identity)) => Ok(identity),
            Ok(Err(err)) => {
                tracing::info!(client = self.id(), %err, "authorization violation");
                Err(CloseReason::Protocol("Authorization Violation".into()))
            }
            Err(_) => Err(CloseReason::Protocol("Authorization Violation".into())),
        }
    }

    /// `false` when the subject was refused (the client got `-ERR 'Invalid Subject'`).
    fn subscribe(&mut self, subject: &str, queue: Option<&str>, sid: &str) -> bool {
        if self.subs.contains_key(sid) {
            // nats-server ignores a SUB that reuses a live sid.
            return true;
        }
        let mut sub = Sub::new(
            self.id(),
            sid,
            subject,
            queue,
            self.out.clone(),
            self.opts.echo,
        );
        if let Some(perms) = &self.perms {
            if !perms.can_subscribe(subject, queue) {
                let text = match queue {
                    Some(q) => format!(
                        "Permissions Violation for Subscription to {subject:?} using queue {q:?}"
                    ),
                    None => format!("Permissions Violation for Subscription to {subject:?}"),
                };
                tracing::info!(client = self.id(), subject, "subscription violation");
                self.out.send_raw(&wire::err_line(&text));
                return false;
            }
            let filter = perms.needs_delivery_filter(subject, queue);
            if filter || perms.tracks_replies() {
                sub = sub.with_perms(perms.clone(), filter);
            }
        }
        let sub = Arc::new(sub);
        if self.account.router.subscribe(sub.clone()).is_err() {
            self.out.send_raw(&wire::err_line("Invalid Subject"));
            return false;
        }
        self.subs.insert(sid.to_string(), sub);
        self.info.subs.store(self.subs.len(), Ordering::Relaxed);
        true
    }

    fn unsubscribe(&mut self, sid: &str, max: Option<u64>) {
        let Some(sub) = self.subs.get(sid).cloned() else {
            return;
        };
        let remove_now = match max {
            Some(max) if max > 0 => sub.set_max(max),
            _ => true,
        };
        if remove_now {
            self.account.router.unsubscribe(&sub);
            self.subs.remove(sid);
        }
        // Subscriptions that hit their limit leave the router by themselves; forget those too
        // so the map stays bounded.
        if self.subs.len() % 64 == 0 {
            self.subs.retain(|_, s| !s.is_done());
        }
        self.info.subs.store(self.subs.len(), Ordering::Relaxed);
    }

    /// Routes a publish to subscribers, imports, links and remotes, and says whether JetStream
    /// takes it too (the caller hands it over: that may wait, and needs the message owned).
    fn publish(&mut self, msg: &MsgView<'_>) -> Published {
        let MsgView {
            subject,
            reply,
            headers,
            payload,
        } = *msg;
        self.uncounted.0 += 1;
        self.uncounted.1 += (payload.len() + headers.map_or(0, <[u8]>::len)) as u64;
        if self.opts.pedantic && subject::validate_subject(subject).is_err() {
            self.out
                .send_raw(&wire::err_line("Invalid Publish Subject"));
            return Published::Done(false);
        }
        if let Some(perms) = &self.perms {
            if !perms.can_publish(subject) {
                tracing::info!(client = self.id(), subject, "publish violation");
                let text = format!("Permissions Violation for Publish to {subject:?}");
                self.out.send_raw(&wire::err_line(&text));
                return Published::Done(false);
            }
        }
        // `_R_.` replies are the server's own, for service imports (nats-server: reserved).
        if let Some(reply) = reply.filter(|r| r.starts_with("_R_.")) {
            let text = format!("Permissions Violation for Publish with Reply of {reply:?}");
            self.out.send_raw(&wire::err_line(&text));
            return Published::Done(false);
        }
        let client = self.id();
        let mut delivered =
            self.account
                .router
                .deliver_cached(&mut self.route_cache, msg, client, &mut self.flush);
        if !self.account.links.is_empty() || subject.starts_with("_R_.") {
            let publish = super::auth::imports::Publish {
                subject,
                reply,
                headers,
                payload,
            };
            let own = &self.account.router;
            delivered += self.account.links.forward(own, &publish, &mut self.flush);
        }
        // A request to a linked JetStream domain, or a publish on a forwarded subject, goes over
        // the account's link (which answers the 503 itself when it cannot take it).
        let mut link_owned = false;
        if !self.shared.remotes.is_empty() {
            if let Some(remote) = self.shared.remotes.route(&self.account.name, subject) {
                // An ack the link rewrote is the far server's, never the local engine's.
                link_owned = remote.owns(subject);
                let forwarded = super::remotes::Forwarded {
                    subject,
                    reply,
                    headers,
                    payload,
                    client: self.id(),
                    no_responders: self.opts.no_responders && self.opts.headers,
                };
                remote.forward(&forwarded, &self.account.router);
                delivered += 1;
            }
        }
        let wants_no_responders =
            reply.is_some() && delivered == 0 && self.opts.no_responders && self.opts.headers;
        let wants_cache = &mut self.wants_cache;
        let to_jetstream = !link_owned
            && (self.account.js.as_ref()).is_some_and(|js| js.wants_cached(wants_cache, subject));
        if to_jetstream {
            return Published::ToJetStream(Origin {
                client: self.id(),
                no_responders: wants_no_responders,
            });
        }
        // A JetStream request in an account without JetStream, that nobody else answered.
        let js_not_enabled = match (&self.account.js, delivered, reply) {
            (None, 0, Some(reply)) => {
                super::auth::account::js_not_enabled_response(subject).map(|body| (reply, body))
            }
            _ => None,
        };
        if let Some((reply, body)) = js_not_enabled {
            self.reply_to_self(reply, &body);
        } else if wants_no_responders {
            if let Some(reply) = reply {
                super::jetstream::no_responders(
                    &self.account.router,
                    reply,
                    self.id(),
                    &mut self.flush,
                );
            }
        }
        Published::Done(true)
    }

    /// Delivers `body` on `reply` to this client only (its subscription on its inbox).
    fn reply_to_self(&mut self, reply: &str, body: &[u8]) {
        let view = MsgView {
            subject: reply,
            reply: None,
            headers: None,
            payload: body,
        };
        let client = Some(self.id());
        self.account
            .router
            .deliver(reply, None, &view, None, client, &mut self.flush);
    }
}
