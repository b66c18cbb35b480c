//! Runs a [`core::link::Link`](crate::core::link::Link) over TCP: the server shell's driver for
//! outbound links to another NATS server (Contrail or nats-server), for mirrors and sources.
//!
//! One tokio task owns the socket and the link. It dials when the link asks, writes what the
//! link transmits, feeds it what it reads, runs its timers, and routes its events: replies to
//! the request that awaits them, everything else to [`LinkHandle::next_event`]. The event
//! channel is bounded, so an application that stops reading stops the task reading the socket
//! (the far server then sees a slow consumer) instead of buffering without end.
//!
//! TLS is done here, when the link says (see [`LinkTls`]): after the server's plaintext INFO
//! (the link's [`TransportCommand::StartTls`]: a `tls://` URL, a `tls {}` block, or an INFO that
//! says `tls_required`), or right after the TCP connect with `handshake_first`. The handshake is
//! bounded (the block's `timeout`, else the connect timeout) and its failure is the
//! connection's end, reported and retried like any other. Without a block the hub's
//! certificate is checked against the system's roots and the URL's host.
//!
//! Not yet: several URLs, and a write timeout (a write to a server that stops reading waits
//! until the keepalive cannot get through and the OS gives up).

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::client::TlsStream;

use crate::core::link::{
    Auth, DisconnectReason, Link, LinkConfig, LinkError, LinkEvent, LinkState, LinkTls,
    RequestError, RequestId, Sid, TransportCommand,
};
use crate::core::message::Message;
use crate::core::time::Nanos;
use crate::server::tls::LinkTlsClient;

/// Events held for the application before the task stops reading the socket.
const EVENT_QUEUE: usize = 1024;

/// Calls queued for the task.
const COMMAND_QUEUE: usize = 256;

/// Why a call on a [`LinkHandle`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkCallError {
    /// The link refused the call (not connected, buffer full, too large, bad subject...).
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The request ended without a reply.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The link's task has ended (the handle was closed).
    #[error("the link task has ended")]
    Gone,
    /// The link's queue of calls is full (the caller did not wait for room).
    #[error("the link is busy: its queue of calls is full")]
    Busy,
}

/// Why an nkey seed could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid nkey seed: {0}")]
pub struct NkeySeedError(String);

enum Command {
    Subscribe {
        subject: String,
        queue: Option<String>,
        done: oneshot::Sender<Result<Sid, LinkError>>,
    },
    Unsubscribe {
        sid: Sid,
        done: oneshot::Sender<Result<(), LinkError>>,
    },
    Publish {
        msg: Message,
        done: oneshot::Sender<Result<(), LinkError>>,
    },
    Request {
        msg: Message,
        timeout: Duration,
        done: oneshot::Sender<Result<Message, LinkCallError>>,
    },
    RequestMany {
        msg: Message,
        timeout: Duration,
        replies: mpsc::Sender<Result<Message, LinkCallError>>,
    },
}

/// Where the replies of the requests in flight go.
#[derive(Default)]
struct Waiters {
    /// Requests of one reply.
    one: HashMap<RequestId, oneshot::Sender<Result<Message, LinkCallError>>>,
    /// Requests of many replies: each reply is offered without waiting (a relay that falls
    /// behind loses replies, as a slow consumer does); an error ends the request.
    many: HashMap<RequestId, mpsc::Sender<Result<Message, LinkCallError>>>,
}

impl Waiters {
    /// Hands a reply to its request; a request of many whose receiver is gone ends.
    fn reply(&mut self, link: &mut Link, id: RequestId, msg: Message) {
        if let Some(done) = self.one.remove(&id) {
            let _ = done.send(Ok(msg));
        } else if let Some(replies) = self.many.get(&id) {
            if let Err(mpsc::error::TrySendError::Closed(_)) = replies.try_send(Ok(msg)) {
                self.many.remove(&id);
                link.end_request(id);
            }
        }
    }

    /// Ends a request with `error`.
    fn fail(&mut self, id: RequestId, error: LinkCallError) {
        if let Some(done) = self.one.remove(&id) {
            let _ = done.send(Err(error));
        } else if let Some(replies) = self.many.remove(&id) {
            let _ = replies.try_send(Err(error));
        }
    }

    /// Ends the requests of many whose receivers are gone (their relays ended).
    fn sweep(&mut self, link: &mut Link) {
        self.many.retain(|id, replies| {
            let open = !replies.is_closed();
            if !open {
                link.end_request(*id);
            }
            open
        });
    }
}

/// A running link. Dropping it (or [`LinkHandle::close`], which also waits) ends the task: the
/// task sees its command channel close, closes the connection and returns.
pub struct LinkHandle {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<LinkEvent>,
    status: watch::Receiver<LinkStatus>,
    counters: Arc<LinkCounters>,
    task: tokio::task::JoinHandle<()>,
}

/// A second way into a running link, for requests and publishes from elsewhere than the
/// handle's owner (the server forwards clients' requests with it while the engine's task owns
/// the handle). It does not keep the link alive: once the handle is dropped its calls fail with
/// [`LinkCallError::Gone`].
#[derive(Clone)]
pub struct LinkClient {
    commands: mpsc::WeakSender<Command>,
    status: watch::Receiver<LinkStatus>,
    counters: Arc<LinkCounters>,
}

/// Traffic over a link since it started, over every connection it made.
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Bytes read from the far server.
    pub in_bytes: AtomicU64,
    /// Bytes written to it.
    pub out_bytes: AtomicU64,
    /// Messages received (on subscriptions and as replies).
    pub in_msgs: AtomicU64,
    /// Messages sent (publishes and requests).
    pub out_msgs: AtomicU64,
}

/// What monitoring shows of a link: up or down, since when, the far server, the last error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStatus {
    /// The handshake completed and the connection is up.
    pub connected: bool,
    /// The link will not reconnect on its own (closed, or authorization refused twice).
    pub stopped: bool,
    /// When `connected` last changed (Unix nanoseconds; 0 before the first change).
    pub since: Nanos,
    /// The far server's id and name, from the INFO of the last connection.
    pub server: Option<(String, String)>,
    /// The far server's version, from the same INFO.
    pub version: Option<String>,
    /// Connections completed (the handshake done) since the link started.
    pub connects: u64,
    /// Why the last connection or attempt ended.
    pub last_error: Option<DisconnectReason>,
}

impl LinkHandle {
    /// Starts a link to `addr` (`host:port`). A `config.seed` of 0 is replaced by one from the
    /// OS, so every link has its own jitter and inbox. TLS, if the config or the server asks
    /// for it, trusts the system's roots.
    pub fn spawn(addr: String, config: LinkConfig) -> LinkHandle {
        LinkHandle::spawn_with_tls(addr, config, None)
    }

    /// As [`LinkHandle::spawn`], making TLS connections with `tls` (its roots, client
    /// certificate and server name).
    pub fn spawn_with_tls(
        addr: String,
        mut config: LinkConfig,
        tls: Option<LinkTlsClient>,
    ) -> LinkHandle {
        if config.seed == 0 {
            let mut seed = [0u8; 8];
            // Without OS randomness the jitter is merely less spread; the link still works.
            let _ = getrandom::getrandom(&mut seed);
            config.seed = u64::from_le_bytes(seed) | 1;
        }
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (status_tx, status) = watch::channel(LinkStatus::default());
        let counters = Arc::new(LinkCounters::default());
        let io = Io {
            commands: command_rx,
            events: event_tx,
            status: status_tx,
            counters: counters.clone(),
        };
        let task = tokio::spawn(drive(addr, config, tls, io));
        LinkHandle {
            commands,
            events,
            status,
            counters,
            task,
        }
    }

    /// A [`LinkClient`] for this link.
    pub fn client(&self) -> LinkClient {
        LinkClient {
            commands: self.commands.downgrade(),
            status: self.status.clone(),
            counters: self.counters.clone(),
        }
    }

    /// The link's status now (updated before the events that change it are delivered).
    pub fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// The next event: connected, disconnected, a message, an error, stopped. `None` once the
    /// task has ended.
    pub async fn next_event(&mut self) -> Option<LinkEvent> {
        self.events.recv().await
    }

    /// Subscribes (kept across reconnects).
    pub async fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<Sid, LinkCallError> {
        let (done, result) = oneshot::channel();
        self.call(Command::Subscribe {
            subject: subject.to_owned(),
            queue: queue.map(str::to_owned),
            done,
        })
        .await?;
        Ok(result.await.map_err(|_| LinkCallError::Gone)??)
    }

    /// Ends a subscription.
    pub async fn unsubscribe(&self, sid: Sid) -> Result<(), LinkCallError> {
        let (done, result) = oneshot::channel();
        self.call(Command::Unsubscribe { sid, done }).await?;
        Ok(result.await.map_err(|_| LinkCallError::Gone)??)
    }

    /// Publishes a message (refused while not connected).
    pub async fn publish(&self, msg: Message) -> Result<(), LinkCallError> {
        let (done, result) = oneshot::channel();
        self.call(Command::Publish { msg, done }).await?;
        Ok(result.await.map_err(|_| LinkCallError::Gone)??)
    }

    /// Sends a request and waits for its reply, at most `timeout`.
    pub async fn request(&self, msg: Message, timeout: Duration) -> Result<Message, LinkCallError> {
        let (done, result) = oneshot::channel();
        self.call(Command::Request { msg, timeout, done }).await?;
        result.await.map_err(|_| LinkCallError::Gone)?
    }

    /// Closes the connection and waits for the task to end.
    pub async fn close(self) {
        let LinkHandle {
            commands,
            events,
            status,
            task,
            ..
        } = self;
        // Unread events must not hold the task in a full queue while it closes.
        drop((events, status, commands));
        let _ = task.await;
    }

    async fn call(&self, command: Command) -> Result<(), LinkCallError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| LinkCallError::Gone)
    }
}

impl LinkClient {
    /// The link's status now.
    pub fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees each change of the status.
    pub fn status_changes(&self) -> watch::Receiver<LinkStatus> {
        self.status.clone()
    }

    /// Its traffic so far.
    pub fn counters(&self) -> &LinkCounters {
        &self.counters
    }

    /// Queues a publish without waiting: calls queued from one caller reach the far server in
    /// the order they were made. A publish the link then refuses (not connected) is lost, as a
    /// core NATS publish may be.
    pub fn try_publish(&self, msg: Message) -> Result<(), LinkCallError> {
        let (done, _) = oneshot::channel();
        self.try_call(Command::Publish { msg, done })
    }

    /// Queues a request without waiting (in order, as [`LinkClient::try_publish`]); the
    /// returned receiver gets the reply, or why there is none, within `timeout`.
    pub fn try_request(
        &self,
        msg: Message,
        timeout: Duration,
    ) -> Result<oneshot::Receiver<Result<Message, LinkCallError>>, LinkCallError> {
        let (done, result) = oneshot::channel();
        self.try_call(Command::Request { msg, timeout, done })?;
        Ok(result)
    }

    /// Queues a request answered by many messages (a pull request) without waiting: each
    /// reply goes to `replies` (offered, never awaited: when it is full the reply is lost)
    /// until `timeout`, the connection's end or an error (sent last), or until `replies`'
    /// receiver is dropped.
    pub fn try_request_many(
        &self,
        msg: Message,
        timeout: Duration,
        replies: mpsc::Sender<Result<Message, LinkCallError>>,
    ) -> Result<(), LinkCallError> {
        self.try_call(Command::RequestMany {
            msg,
            timeout,
            replies,
        })
    }

    fn try_call(&self, command: Command) -> Result<(), LinkCallError> {
        let commands = self.commands.upgrade().ok_or(LinkCallError::Gone)?;
        commands.try_send(command).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => LinkCallError::Busy,
            mpsc::error::TrySendError::Closed(_) => LinkCallError::Gone,
        })
    }
}

/// Credentials from an nkey seed (`SU...`): the public key and a signer of the server's nonce.
pub fn nkey_auth(seed: &str) -> Result<Auth, NkeySeedError> {
    let pair = nkeys::KeyPair::from_seed(seed).map_err(|e| NkeySeedError(e.to_string()))?;
    let public = pair.public_key();
    let signer = std::sync::Arc::new(move |nonce: &[u8]| {
        pair.sign(nonce)
            .map(|sig| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig))
            .map_err(|e| e.to_string())
    });
    Ok(Auth::NKey { public, signer })
}

/// Wall-clock nanoseconds, the time the core's link runs on.
fn now() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| Nanos::try_from(d.as_nanos()).unwrap_or(Nanos::MAX))
        .unwrap_or(0)
}

/// The task's ends of its channels, and the counters it keeps.
struct Io {
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<LinkEvent>,
    status: watch::Sender<LinkStatus>,
    counters: Arc<LinkCounters>,
}

/// The task: one link, one socket at a time.
async fn drive(addr: String, config: LinkConfig, tls: Option<LinkTlsClient>, io: Io) {
    let Io {
        mut commands,
        events,
        status,
        counters,
    } = io;
    let count = |counter: &AtomicU64, n: usize| {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    };
    let connect_timeout = Duration::from_nanos(u64::try_from(config.connect_timeout).unwrap_or(0));
    let handshake_first = config.tls == LinkTls::HandshakeFirst;
    let mut tls = Upgrader {
        client: tls,
        addr: addr.clone(),
        timeout: connect_timeout,
    };
    let mut link = Link::new(config, now());
    let mut stream: Option<Stream> = None;
    let mut waiting = Waiters::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    loop {
        while let Some(command) = link.poll_transport() {
            match command {
                TransportCommand::Open => {
                    stream = None;
                    match dial(&addr, connect_timeout).await {
                        Err(err) => link.transport_closed(&err.to_string(), now()),
                        Ok(socket) if handshake_first => match tls.upgrade(socket).await {
                            Ok(secure) => {
                                stream = Some(secure);
                                link.transport_opened(now());
                            }
                            Err(err) => link.tls_failed(&err.to_string(), now()),
                        },
                        Ok(socket) => {
                            stream = Some(Stream::Plain(socket));
                            link.transport_opened(now());
                        }
                    }
                }
                TransportCommand::Close => stream = None,
                TransportCommand::StartTls => match stream.take() {
                    Some(Stream::Plain(socket)) => match tls.upgrade(socket).await {
                        Ok(secure) => {
                            stream = Some(secure);
                            link.tls_established(now());
                        }
                        Err(err) => link.tls_failed(&err.to_string(), now()),
                    },
                    // Already TLS (or gone): nothing to upgrade; the link's deadline decides.
                    other => stream = other,
                },
            }
        }
        while let Some(bytes) = link.poll_transmit() {
            let Some(socket) = stream.as_mut() else {
                break; // the link dropped the connection; its bytes go with it
            };
            if let Err(err) = socket.write_all(&bytes).await {
                stream = None;
                link.transport_closed(&err.to_string(), now());
            } else {
                count(&counters.out_bytes, bytes.len());
            }
        }
        status.send_if_modified(|status| update_status(status, &link));
        while let Some(event) = link.poll_event() {
            match event {
                LinkEvent::Reply { id, msg } => {
                    count(&counters.in_msgs, 1);
                    waiting.reply(&mut link, id, msg);
                }
                LinkEvent::RequestFailed { id, error } => waiting.fail(id, error.into()),
                // Nobody listening is fine: the link still serves requests and publishes.
                other => {
                    if matches!(other, LinkEvent::Message { .. }) {
                        count(&counters.in_msgs, 1);
                    }
                    // Commands are taken while the event waits for room: the events' reader
                    // may itself be waiting for this task to take one of its calls, and
                    // neither would move (the link stopped reading its socket meanwhile).
                    let room = loop {
                        tokio::select! {
                            permit = events.reserve() => break permit.ok(),
                            command = commands.recv(), if open => match command {
                                Some(command) => {
                                    if apply(&mut link, command, &mut waiting) {
                                        count(&counters.out_msgs, 1);
                                    }
                                }
                                None => {
                                    link.close();
                                    open = false;
                                }
                            },
                        }
                    };
                    if let Some(permit) = room {
                        permit.send(other);
                    }
                }
            }
        }
        if !open {
            return;
        }
        waiting.sweep(&mut link);
        if link.pending_bytes() > 0 {
            // What the sweep or an ended request queued (its UNSUB) goes out now, not with the
            // next traffic: the far server must see a relay's client gone, or it keeps the pull.
            continue;
        }
        let mut sleep = match link.poll_timeout() {
            Some(at) => Duration::from_nanos(u64::try_from(at - now()).unwrap_or(0)),
            None => Duration::from_secs(3600),
        };
        if !waiting.many.is_empty() {
            // A relay that ended is noticed within a second, so its slot is freed.
            sleep = sleep.min(Duration::from_secs(1));
        }
        tokio::select! {
            read = read_some(&mut stream, &mut buf) => match read {
                Ok(0) => {
                    stream = None;
                    link.transport_closed("closed by the server", now());
                }
                Ok(n) => {
                    count(&counters.in_bytes, n);
                    link.handle_input(buf.get(..n).unwrap_or_default(), now());
                }
                Err(err) => {
                    stream = None;
                    link.transport_closed(&err.to_string(), now());
                }
            },
            command = commands.recv() => match command {
                Some(command) => {
                    if apply(&mut link, command, &mut waiting) {
                        count(&counters.out_msgs, 1);
                    }
                }
                None => {
                    link.close();
                    open = false;
                }
            },
            _ = tokio::time::sleep(sleep) => link.handle_timeout(now()),
        }
    }
}

/// Brings `status` up to date with `link`; true if anything changed.
fn update_status(status: &mut LinkStatus, link: &Link) -> bool {
    let connected = link.state() == LinkState::Connected;
    let info = link.server_info();
    let next = LinkStatus {
        connected,
        stopped: link.state() == LinkState::Stopped,
        since: if connected == status.connected {
            status.since
        } else {
            now()
        },
        server: info.map(|info| (info.server_id.clone(), info.server_name.clone())),
        version: info.map(|info| info.version.clone()),
        connects: status.connects + u64::from(connected && !status.connected),
        last_error: link.last_error().cloned(),
    };
    let changed = next != *status;
    *status = next;
    changed
}

/// Carries out one call from the handle; true when it sent a message (a publish or request
/// the link took).
fn apply(link: &mut Link, command: Command, waiting: &mut Waiters) -> bool {
    match command {
        Command::Subscribe {
            subject,
            queue,
            done,
        } => {
            let _ = done.send(link.subscribe(&subject, queue.as_deref()));
            false
        }
        Command::Unsubscribe { sid, done } => {
            let _ = done.send(link.unsubscribe(sid));
            false
        }
        Command::Publish { msg, done } => {
            let result = link.publish(&msg);
            let sent = result.is_ok();
            let _ = done.send(result);
            sent
        }
        Command::Request { msg, timeout, done } => {
            let timeout = Nanos::try_from(timeout.as_nanos()).unwrap_or(Nanos::MAX);
            match link.request(msg, timeout, now()) {
                Ok(id) => {
                    waiting.one.insert(id, done);
                    true
                }
                Err(err) => {
                    let _ = done.send(Err(err.into()));
                    false
                }
            }
        }
        Command::RequestMany {
            msg,
            timeout,
            replies,
        } => {
            let timeout = Nanos::try_from(timeout.as_nanos()).unwrap_or(Nanos::MAX);
            match link.request_many(msg, timeout, now()) {
                Ok(id) => {
                    waiting.many.insert(id, replies);
                    true
                }
                Err(err) => {
                    let _ = replies.try_send(Err(err.into()));
                    false
                }
            }
        }
    }
}

/// The connection: plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(socket) => socket.read(buf).await,
            Stream::Tls(socket) => socket.read(buf).await,
        }
    }

    /// Writes all of `bytes`; over TLS the records are flushed to the socket too (rustls may
    /// hold the last ones until asked).
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(socket) => socket.write_all(bytes).await,
            Stream::Tls(socket) => {
                socket.write_all(bytes).await?;
                socket.flush().await
            }
        }
    }
}

/// Makes the TLS connections of one link: with its configured client, or (a `nats://` link to a
/// server that requires TLS) one that trusts the system's roots and the address's host.
struct Upgrader {
    client: Option<LinkTlsClient>,
    addr: String,
    /// The bound when the link's block gives none (the connect timeout).
    timeout: Duration,
}

impl Upgrader {
    async fn upgrade(&mut self, socket: TcpStream) -> io::Result<Stream> {
        if self.client.is_none() {
            let host = host_of(&self.addr);
            let client =
                LinkTlsClient::system("client configuration", host, LinkTls::IfRequired)
                    .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;
            self.client = Some(client);
        }
        let Some(client) = &self.client else {
            return Err(io::Error::other("no TLS configuration"));
        };
        let timeout = client.timeout.unwrap_or(self.timeout);
        let secure = client.connect(socket, timeout).await?;
        Ok(Stream::Tls(Box::new(secure)))
    }
}

/// The host of `host:port`. An IPv6 one keeps its brackets, which the TLS client's server name
/// drops (`server_name_of`).
fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(host, _)| host)
}

async fn dial(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let socket = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = socket.set_nodelay(true);
    Ok(socket)
}

/// Reads from the socket, or waits forever when there is none (the other branches run).
async fn read_some(stream: &mut Option<Stream>, buf: &mut [u8]) -> io::Result<usize> {
    match stream {
        Some(socket) => socket.read(buf).await,
        None => std::future::pending().await,
    }
}
