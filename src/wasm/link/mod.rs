//! `RemoteLink` for JavaScript: the core's NATS client link
//! ([`crate::core::link::Link`]) driven over the browser's `WebSocket`, for `pkg/remote.js`.
//!
//! NATS over WebSocket is the plain NATS protocol in binary frames, so the driver only moves
//! bytes: it opens a socket when the link asks (`Open`), feeds every received frame to
//! `handle_input`, sends what `poll_transmit` hands out, reports a close or error as
//! `transport_closed`, and arms one `setTimeout` for `poll_timeout`. Reconnects, keepalive,
//! request deadlines and resubscription all happen in the link; its backoff jitter is seeded from
//! `crypto.getRandomValues`. Time is `Date.now()` as nanoseconds.
//!
//! Events reach JavaScript through one callback, called synchronously with a plain object per
//! event, in order; nothing is queued here. A callback may call back into the link (publish from
//! a message handler): such calls only mark the driver to run again, so events keep their order.
//! Memory stays bounded: bytes are handed to the socket only while its `bufferedAmount` is under
//! a bound, so a slow socket fills the link's own bounded buffer and publishes are refused.
//!
//! Writes are coalesced as nats.js coalesces them: a JavaScript `publish` or `request` only
//! queues its encoded op in the link's buffer ([`LinkPort::publish_later`]) and asks for one
//! drive in a microtask, so every op of the same turn leaves in one WebSocket frame (one `send`
//! per op cost a frame and a timer re-arm each: connect()'s JetStream publish ran at 0.5-0.9x
//! nats.js's rate from the same page). Once 32 KiB are queued (nats.js's `FLUSH_THRESHOLD`)
//! they are handed over at once, so a long synchronous loop of publishes does not fill the
//! buffer. Order is kept: subscribe, unsubscribe, publish and request all append to the one
//! buffer, and anything that drives the link (an incoming frame, a subscribe, a timer, the
//! engine's batch) sends what is queued so far. `close` hands what is queued to the socket before
//! closing it, and a WebSocket sends data given to `send` before its close frame, so a publish
//! right before `close()` reaches the server; a flush (a message to the connection's own inbox)
//! is an op like any other, so it comes back only after everything queued before it.
//!
//! The few browser APIs it needs are bound here directly rather than through web-sys features,
//! so this file adds nothing to the shared web-sys feature list.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::link::{Link, LinkError, LinkEvent, LinkState, Sid, TransportCommand};
use crate::core::message::Message;
use crate::core::time::{Nanos, MILLIS};
use convert::{config_from, event, js_text, link_error, message, state_name, to_js};

mod convert;

/// Bytes the socket may hold unsent before the driver stops handing it more (the link's own
/// buffer, bounded by its config, takes the rest).
const MAX_SOCKET_BUFFERED: f64 = 4.0 * 1024.0 * 1024.0;

/// How soon to look again at a socket whose buffer was over the bound.
const DRAIN_RETRY_MS: f64 = 10.0;

/// Queued bytes that are handed to the socket at once rather than at the end of the turn
/// (nats.js's `FLUSH_THRESHOLD`).
const FRAME_BYTES: usize = 32 * 1024;

/// setTimeout's longest delay (2^31 - 1 ms); longer waits are armed again when they fire.
const MAX_TIMER_MS: f64 = 2_147_483_647.0;

#[wasm_bindgen]
extern "C" {
    /// The browser's (or Node's) WebSocket.
    #[wasm_bindgen(js_name = WebSocket)]
    type Socket;

    #[wasm_bindgen(constructor, catch)]
    fn new(url: &str) -> Result<Socket, JsValue>;

    #[wasm_bindgen(method, setter = binaryType)]
    fn set_binary_type(this: &Socket, kind: &str);

    #[wasm_bindgen(method, getter = bufferedAmount)]
    fn buffered_amount(this: &Socket) -> f64;

    #[wasm_bindgen(method, catch)]
    fn send(this: &Socket, data: &[u8]) -> Result<(), JsValue>;

    #[wasm_bindgen(method, catch)]
    fn close(this: &Socket) -> Result<(), JsValue>;

    #[wasm_bindgen(method, setter = onopen)]
    fn set_onopen(this: &Socket, f: Option<&Function>);

    #[wasm_bindgen(method, setter = onmessage)]
    fn set_onmessage(this: &Socket, f: Option<&Function>);

    #[wasm_bindgen(method, setter = onclose)]
    fn set_onclose(this: &Socket, f: Option<&Function>);

    #[wasm_bindgen(method, setter = onerror)]
    fn set_onerror(this: &Socket, f: Option<&Function>);

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);

    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(f: &Function);

    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Wall-clock nanoseconds, the time the core's link runs on.
fn now() -> Nanos {
    (js_sys::Date::now() * 1_000_000.0) as Nanos
}

fn ms_to_nanos(ms: f64) -> Nanos {
    (ms * MILLIS as f64) as Nanos
}

/// One WebSocket and its handlers. Dropping it detaches the handlers (nothing calls into freed
/// closures) and closes the socket.
struct Connection {
    socket: Socket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        self.socket.set_onerror(None);
        let _ = self.socket.close();
    }
}

/// The link and everything the driver keeps beside it.
struct Driver {
    url: String,
    link: RefCell<Link>,
    connection: RefCell<Option<Connection>>,
    /// Counts sockets: a handler of an older socket finds its number stale and does nothing.
    generation: Cell<u64>,
    /// The armed timer's handle and when it fires.
    timer: RefCell<Option<(JsValue, f64)>>,
    /// The timer's callback, made once.
    on_timer: RefCell<Option<Closure<dyn FnMut()>>>,
    on_event: Function,
    /// The state after the last run, to tell a failed attempt from one in progress.
    last_state: Cell<LinkState>,
    /// A run is in progress (a callback called back in).
    running: Cell<bool>,
    /// Something changed during the run: go round again.
    again: Cell<bool>,
    /// A drive is queued as a microtask (ops queued this turn leave together).
    drive_queued: Cell<bool>,
    /// The engine this link is attached to, which sees every event first.
    observer: RefCell<Option<Rc<dyn LinkObserver>>>,
}

/// Sees a link's events before JavaScript does: the engine a link is attached to
/// (`wasm/engine_links.rs`). It must not call back into the link.
pub(crate) trait LinkObserver {
    /// Takes `event`; true when it was the observer's alone (a message on one of its
    /// subscriptions), so JavaScript does not see it.
    fn on_event(&self, event: &LinkEvent) -> bool;
}

/// The engine's handle on a `RemoteLink` JavaScript made: what the engine needs of it, with
/// the link driven after each call like the JavaScript methods do.
#[derive(Clone)]
pub(crate) struct LinkPort(Rc<Driver>);

impl LinkPort {
    /// Subscribes `subject` (kept across reconnects).
    pub(crate) fn subscribe(&self, subject: &str) -> Result<Sid, LinkError> {
        let sid = self.0.link.borrow_mut().subscribe(subject, None)?;
        self.0.run();
        Ok(sid)
    }

    /// Ends subscription `sid`.
    pub(crate) fn unsubscribe(&self, sid: Sid) {
        let done = self.0.link.borrow_mut().unsubscribe(sid);
        if done.is_ok() {
            self.0.run();
        }
    }

    /// Queues `msg` in the link's buffer (refused while disconnected or when the buffer is
    /// full) without driving the link: [`LinkPort::drive`] after the last of a batch sends them
    /// all in one WebSocket frame (driving after each message sent one frame per publish, and
    /// re-armed the link's timer each time).
    pub(crate) fn publish_later(&self, msg: &Message) -> Result<(), LinkError> {
        self.0.link.borrow_mut().publish(msg)
    }

    /// Drives the link: sends what [`LinkPort::publish_later`] queued.
    pub(crate) fn drive(&self) {
        self.0.run();
    }

    /// Whether the link is connected now.
    pub(crate) fn connected(&self) -> bool {
        self.0.link.borrow().state() == LinkState::Connected
    }

    /// Sets (or with `None` removes) the observer.
    pub(crate) fn set_observer(&self, observer: Option<Rc<dyn LinkObserver>>) {
        *self.0.observer.borrow_mut() = observer;
    }

    /// Whether both are the same link.
    pub(crate) fn same(&self, other: &LinkPort) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// A NATS connection over WebSocket, driven by the core's link. See the module docs.
#[wasm_bindgen]
pub struct RemoteLink {
    driver: Rc<Driver>,
}

#[wasm_bindgen]
impl RemoteLink {
    /// Connects to `url` (`ws://` or `wss://`) with `options`: `name`, `token`, `user`,
    /// `pass`, `pingInterval` and `timeout` (ms), `maxPingOut`, `reconnectTimeWait`,
    /// `reconnectTimeWaitMax` and `reconnectJitter` (ms), `maxPendingBytes`. `onEvent` is called
    /// with every event (`{type: "connected" | "disconnected" | "attemptFailed" | "message" |
    /// "reply" | "requestFailed" | "error" | "stopped", ...}`).
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, options: JsValue, on_event: Function) -> RemoteLink {
        let config = config_from(&options);
        let link = Link::new(config, now());
        let driver = Rc::new(Driver {
            url,
            last_state: Cell::new(link.state()),
            link: RefCell::new(link),
            connection: RefCell::new(None),
            generation: Cell::new(0),
            timer: RefCell::new(None),
            on_timer: RefCell::new(None),
            on_event,
            running: Cell::new(false),
            again: Cell::new(false),
            drive_queued: Cell::new(false),
            observer: RefCell::new(None),
        });
        let weak = Rc::downgrade(&driver);
        let on_timer = Closure::<dyn FnMut()>::new(move || {
            if let Some(driver) = weak.upgrade() {
                driver.timer.borrow_mut().take();
                driver.link.borrow_mut().handle_timeout(now());
                driver.run();
            }
        });
        driver.on_timer.replace(Some(on_timer));
        // Run once the caller holds the object, so the first events find its handlers set.
        let later = Rc::downgrade(&driver);
        let start = Closure::once_into_js(move || {
            if let Some(driver) = later.upgrade() {
                driver.run();
            }
        });
        if let Some(start) = start.dyn_ref::<Function>() {
            set_timeout(start, 0.0);
        }
        RemoteLink { driver }
    }

    /// Subscribes to `subject` (in queue group `queue`); returns the subscription id. Kept
    /// across reconnects.
    pub fn subscribe(&self, subject: &str, queue: Option<String>) -> Result<f64, JsValue> {
        let sid = self
            .driver
            .link
            .borrow_mut()
            .subscribe(subject, queue.as_deref())
            .map_err(link_error)?;
        self.driver.run();
        Ok(sid as f64)
    }

    /// Ends subscription `sid`.
    pub fn unsubscribe(&self, sid: f64) -> Result<(), JsValue> {
        self.driver
            .link
            .borrow_mut()
            .unsubscribe(sid as u64)
            .map_err(link_error)?;
        self.driver.run();
        Ok(())
    }

    /// Starts draining subscription `sid`: its UNSUB is sent, and its messages the server sent
    /// before reading it still arrive until `unsubscribe(sid)` (after a flush).
    #[wasm_bindgen(js_name = drainSubscription)]
    pub fn drain_subscription(&self, sid: f64) -> Result<(), JsValue> {
        self.driver
            .link
            .borrow_mut()
            .drain_subscription(sid as u64)
            .map_err(link_error)?;
        self.driver.run();
        Ok(())
    }

    /// Publishes `payload` to `subject` with an optional reply subject and `NATS/1.0` header
    /// block. Refused while not connected, when too large, or when the buffer is full. Sent
    /// with the turn's other ops in one frame (see the module docs).
    pub fn publish(
        &self,
        subject: String,
        payload: &[u8],
        reply: Option<String>,
        headers: Option<Vec<u8>>,
    ) -> Result<(), JsValue> {
        let msg = message(subject, payload, reply, headers);
        let port = self.port();
        if let Err(err) = port.publish_later(&msg) {
            if !matches!(err, LinkError::BufferFull { .. }) {
                return Err(link_error(err));
            }
            // The turn's ops filled the buffer: hand them to the socket and try once more.
            port.drive();
            port.publish_later(&msg).map_err(link_error)?;
        }
        self.driver.drive_soon();
        Ok(())
    }

    /// Sends a request; returns its id, named again in its `reply` or `requestFailed` event.
    pub fn request(
        &self,
        subject: String,
        payload: &[u8],
        headers: Option<Vec<u8>>,
        timeout_ms: f64,
    ) -> Result<f64, JsValue> {
        let msg = message(subject, payload, None, headers);
        let id = self
            .driver
            .link
            .borrow_mut()
            .request(msg, ms_to_nanos(timeout_ms), now())
            .map_err(link_error)?;
        self.driver.drive_soon();
        Ok(id as f64)
    }

    /// Stops the link: what is queued is handed to the socket, then the socket closes, waiting
    /// requests fail, nothing reconnects.
    pub fn close(&self) {
        // Not `run`: close may be called from an event callback, while a run is in progress.
        self.driver.transmit();
        self.driver.link.borrow_mut().close();
        self.driver.run();
        if let Some((handle, _)) = self.driver.timer.borrow_mut().take() {
            clear_timeout(&handle);
        }
    }

    /// `"connected"`, `"connecting"`, `"waiting"` (to reconnect) or `"stopped"`.
    pub fn state(&self) -> String {
        state_name(self.driver.link.borrow().state()).into()
    }

    /// The current connection's INFO as JSON, once received.
    #[wasm_bindgen(js_name = serverInfo)]
    pub fn server_info(&self) -> Option<String> {
        let link = self.driver.link.borrow();
        serde_json::to_string(link.server_info()?).ok()
    }

    /// Why the last connection or attempt ended.
    #[wasm_bindgen(js_name = lastError)]
    pub fn last_error(&self) -> Option<String> {
        Some(self.driver.link.borrow().last_error()?.to_string())
    }

    /// The prefix of the link's reply subjects (`_INBOX.<token>`).
    #[wasm_bindgen(js_name = inboxPrefix)]
    pub fn inbox_prefix(&self) -> String {
        self.driver.link.borrow().inbox_prefix().to_owned()
    }

    /// The server URL.
    pub fn url(&self) -> String {
        self.driver.url.clone()
    }
}

impl RemoteLink {
    /// The engine's handle on this link (see `JsEngine::attach_link`).
    pub(crate) fn port(&self) -> LinkPort {
        LinkPort(self.driver.clone())
    }
}

impl Drop for RemoteLink {
    fn drop(&mut self) {
        self.close();
        // The stopped event reached the engine; nothing it held keeps the driver alive now.
        self.driver.observer.borrow_mut().take();
        self.driver.connection.borrow_mut().take();
        self.driver.on_timer.borrow_mut().take();
    }
}

impl Driver {
    /// Does everything the link asks until it asks nothing: transport commands, bytes to send,
    /// events to deliver, then arms the timer. Re-entrant calls (from an event callback) make
    /// the running call go round again instead.
    fn run(self: &Rc<Self>) {
        if self.running.replace(true) {
            self.again.set(true);
            return;
        }
        loop {
            self.again.set(false);
            self.transport();
            let blocked = self.transmit();
            self.deliver();
            self.note_failed_attempt();
            if !self.again.get() {
                self.arm_timer(blocked);
                break;
            }
        }
        self.running.set(false);
    }

    /// Sends what is queued at the end of this turn (one microtask), or now once
    /// [`FRAME_BYTES`] are queued.
    fn drive_soon(self: &Rc<Self>) {
        if self.link.borrow().pending_bytes() >= FRAME_BYTES {
            self.run();
            return;
        }
        if self.drive_queued.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let drive = Closure::once_into_js(move || {
            if let Some(driver) = weak.upgrade() {
                driver.drive_queued.set(false);
                driver.run();
            }
        });
        if let Some(drive) = drive.dyn_ref::<Function>() {
            queue_microtask(drive);
        }
    }

    fn transport(self: &Rc<Self>) {
        loop {
            let command = self.link.borrow_mut().poll_transport();
            match command {
                Some(TransportCommand::Open) => self.open(),
                Some(TransportCommand::Close) => {
                    self.connection.borrow_mut().take();
                }
                // Browser links leave TLS to the WebSocket (`wss://`) and never ask for an
                // upgrade (their config's `tls` is off); refuse one rather than hang.
                Some(TransportCommand::StartTls) => self
                    .link
                    .borrow_mut()
                    .transport_closed("a TLS upgrade is not possible over a WebSocket", now()),
                None => break,
            }
        }
    }

    /// Opens a new socket; a constructor error (bad URL, blocked port) is a closed transport.
    fn open(self: &Rc<Self>) {
        self.connection.borrow_mut().take();
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let socket = match Socket::new(&self.url) {
            Ok(socket) => socket,
            Err(err) => {
                let why = js_text(&err);
                self.link.borrow_mut().transport_closed(&why, now());
                return;
            }
        };
        socket.set_binary_type("arraybuffer");
        let on_open = self.handler(generation, |driver, _| {
            driver.link.borrow_mut().transport_opened(now());
        });
        let on_message = self.handler(generation, |driver, event| {
            let data = Reflect::get(&event, &"data".into()).unwrap_or(JsValue::UNDEFINED);
            if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                let bytes = Uint8Array::new(buffer).to_vec();
                driver.link.borrow_mut().handle_input(&bytes, now());
            }
            // A text frame is not NATS over WebSocket; servers send binary only.
        });
        let on_close = self.handler(generation, |driver, event| {
            let code = Reflect::get(&event, &"code".into())
                .ok()
                .and_then(|c| c.as_f64());
            let reason = Reflect::get(&event, &"reason".into())
                .ok()
                .and_then(|r| r.as_string())
                .filter(|r| !r.is_empty());
            let why = match (code, reason) {
                (Some(code), Some(reason)) => format!("WebSocket closed ({code}: {reason})"),
                (Some(code), None) => format!("WebSocket closed ({code})"),
                _ => "WebSocket closed".to_owned(),
            };
            driver.connection.borrow_mut().take();
            driver.link.borrow_mut().transport_closed(&why, now());
        });
        // The browser says nothing about why (by design); a close event follows, but the link
        // learns of the failure now.
        let on_error = self.handler(generation, |driver, _| {
            driver.connection.borrow_mut().take();
            driver
                .link
                .borrow_mut()
                .transport_closed("WebSocket error", now());
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        self.connection.replace(Some(Connection {
            socket,
            _handlers: [on_open, on_message, on_close, on_error],
        }));
    }

    /// A socket handler that acts only while its socket is the current one, then runs the link.
    fn handler(
        self: &Rc<Self>,
        generation: u64,
        act: impl Fn(&Rc<Driver>, JsValue) + 'static,
    ) -> Closure<dyn FnMut(JsValue)> {
        let weak: Weak<Driver> = Rc::downgrade(self);
        Closure::new(move |event: JsValue| {
            let Some(driver) = weak.upgrade() else {
                return;
            };
            if driver.generation.get() != generation || driver.connection.borrow().is_none() {
                return;
            }
            act(&driver, event);
            driver.run();
        })
    }

    /// Hands the link's bytes to the socket while its buffer has room; true when bytes had to
    /// wait for room.
    fn transmit(&self) -> bool {
        let sent = {
            let guard = self.connection.borrow();
            let mut link = self.link.borrow_mut();
            let Some(connection) = guard.as_ref() else {
                // No socket: the link dropped the connection and its bytes go with it.
                let _ = link.poll_transmit();
                return false;
            };
            if link.pending_bytes() == 0 {
                return false;
            }
            if connection.socket.buffered_amount() > MAX_SOCKET_BUFFERED {
                return true;
            }
            match link.poll_transmit() {
                // send copies the bytes; a closing socket drops them and reports the close.
                Some(bytes) => connection.socket.send(&bytes),
                None => Ok(()),
            }
        };
        if let Err(err) = sent {
            self.connection.borrow_mut().take();
            self.link
                .borrow_mut()
                .transport_closed(&js_text(&err), now());
        }
        false
    }

    /// Reports an attempt that ended before the handshake completed (the link reports only the
    /// end of established connections), so the first connect can fail fast.
    fn note_failed_attempt(&self) {
        let (state, error) = {
            let link = self.link.borrow();
            (link.state(), link.last_error().map(ToString::to_string))
        };
        let before = self.last_state.replace(state);
        let ended = matches!(state, LinkState::Waiting { .. } | LinkState::Stopped);
        if before == LinkState::Connecting && ended {
            let reason = error.unwrap_or_else(|| "connection attempt failed".into());
            self.emit(&event(
                "attemptFailed",
                &[
                    ("reason", reason.into()),
                    ("state", state_name(state).into()),
                ],
            ));
        }
    }

    fn deliver(&self) {
        loop {
            let next = self.link.borrow_mut().poll_event();
            let Some(next) = next else { break };
            if matches!(next, LinkEvent::Connected(_)) {
                // An attempt that got this far did not fail, whatever the state is by now.
                self.last_state.set(LinkState::Connected);
            }
            let observer = self.observer.borrow().clone();
            if observer.is_some_and(|o| o.on_event(&next)) {
                continue;
            }
            self.emit(&to_js(next));
        }
    }

    fn emit(&self, value: &JsValue) {
        // A throwing handler must not stop the link; the page sees the error in its console.
        if let Err(err) = self.on_event.call1(&JsValue::NULL, value) {
            web_log(&err);
        }
    }

    fn arm_timer(&self, blocked: bool) {
        let at = self.link.borrow().poll_timeout();
        let now_ms = js_sys::Date::now();
        let mut delay = at.map(|at| ((at - now()) as f64 / MILLIS as f64).max(0.0));
        if blocked {
            delay = Some(delay.map_or(DRAIN_RETRY_MS, |d| d.min(DRAIN_RETRY_MS)));
        }
        let mut timer = self.timer.borrow_mut();
        let Some(delay) = delay else {
            if let Some((handle, _)) = timer.take() {
                clear_timeout(&handle);
            }
            return;
        };
        let fire_at = now_ms + delay;
        if let Some((_, armed)) = timer.as_ref() {
            if (*armed - fire_at).abs() < 1.0 {
                return; // already armed for then
            }
        }
        if let Some((handle, _)) = timer.take() {
            clear_timeout(&handle);
        }
        if let Some(on_timer) = self.on_timer.borrow().as_ref() {
            let handle = set_timeout(on_timer.as_ref().unchecked_ref(), delay.min(MAX_TIMER_MS));
            *timer = Some((handle, fire_at));
        }
    }
}

fn web_log(value: &JsValue) {
    let console = Reflect::get(&js_sys::global(), &"console".into()).ok();
    if let Some(error) = console
        .as_ref()
        .and_then(|c| Reflect::get(c, &"error".into()).ok())
        .and_then(|f| f.dyn_into::<Function>().ok())
    {
        let _ = error.call1(&JsValue::NULL, value);
    }
}
