//! The configured links (`links [...]`, `--link`) at run time: each is started at server start,
//! attached to its account's engine (which then reaches `$JS.<domain>.API` over it), and serves
//! that account's clients: a request to `$JS.<domain>.API.>` goes over the link to the far
//! server's API, a publish to a `forward` subject goes over as it is, and a request's reply
//! comes back to the client's reply subject.
//!
//! What a client sends is queued for the link at once, never awaited on the client's
//! connection, so one client's publishes and requests reach the far server in the order it sent
//! them. Forwarded requests are bounded: at most [`MAX_IN_FLIGHT`] per link wait for replies,
//! each at most [`REQUEST_TIMEOUT`]. A request the link cannot take (down, its queue full, or
//! too many in flight) is answered at once with the 503 no-responders status (when the client
//! asked for those), as a request nobody serves is; a plain publish it cannot take is dropped,
//! as core NATS may drop one. A request that times out over the link gets no answer, so the
//! client's own timeout speaks, as with a responder that never replies.
//!
//! Pull consumers work through a link as through a leaf node (`pull.rs`): a `MSG.NEXT` (or an
//! ack's `+NXT`) has every message the far server sends relayed to the client until the pull
//! ends (its batch, a 404/408/409 status, its `expires` passed, or the client gone), each relay
//! holding one of the link's [`MAX_IN_FLIGHT`] slots and at most `pull::RELAY_QUEUE` replies.
//! A relayed message's ack subject is rewritten into a form the link owns
//! (`$JS.ACK.<domain>._link_....`), so the client's acks (`+ACK`, `-NAK`, `+WPI`, `+TERM`,
//! `+NXT`, and acks awaiting a reply) go back over the link, renamed to the far server's
//! subject, instead of to the local engine. Other requests take their first reply.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{oneshot, Semaphore};

mod pull;

use super::auth::account::Accounts;
use super::config::links::LinkSpec;
use super::jetstream::ApiRename;
use super::link::{LinkCallError, LinkClient, LinkHandle, LinkStatus};
use super::outbox::FlushList;
use super::router::Router;
use crate::core::link::{
    DisconnectReason, LinkConfig, LinkError, LinkEvent, LinkTls, RequestError,
};
use crate::core::message::{Destination, LinkId, Message};
use crate::core::subject;

/// Requests of one link's clients that may await replies at once.
pub const MAX_IN_FLIGHT: usize = 256;

/// Longest a forwarded request waits for the far server's reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Every configured link.
#[derive(Default)]
pub struct Remotes {
    links: Vec<Arc<Remote>>,
    /// Links no engine owns (an account without JetStream): each one's task reads its events
    /// (an unread event queue would stop the link) until told to close it, at shutdown.
    held: Mutex<Vec<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>>,
}

/// One running link.
pub struct Remote {
    /// Its configuration.
    pub spec: LinkSpec,
    /// Its id as the engine's destination.
    pub id: LinkId,
    client: LinkClient,
    /// `$JS.<domain>.API.` when the link has a domain.
    api_prefix: Option<String>,
    /// `$JS.ACK.<domain>.`, the acks this link owns, when it has a domain.
    ack_prefix: Option<String>,
    in_flight: Arc<Semaphore>,
}

/// What a client sent, in the form the forwarder takes.
pub struct Forwarded<'a> {
    /// The subject published to.
    pub subject: &'a str,
    /// The client's reply subject.
    pub reply: Option<&'a str>,
    /// Header block.
    pub headers: Option<&'a [u8]>,
    /// Payload.
    pub payload: &'a [u8],
    /// The sending client.
    pub client: u64,
    /// Whether it takes 503 statuses (headers and no_responders in CONNECT).
    pub no_responders: bool,
}

impl Remotes {
    /// Starts every link of `specs`, attaching each to its account's engine when it has one.
    /// Link ids count from 1 in config order.
    pub async fn start(specs: &[LinkSpec], accounts: &Accounts) -> Remotes {
        let remotes = Remotes::default();
        let mut links = Vec::new();
        for (n, spec) in specs.iter().enumerate() {
            let id = LinkId(u32::try_from(n + 1).unwrap_or(u32::MAX));
            let config = LinkConfig {
                name: spec.name.clone(),
                auth: spec.auth.clone(),
                // Without a `tls` block, TLS when the far server requires it (as nats clients).
                tls: spec
                    .tls
                    .as_ref()
                    .map_or(LinkTls::IfRequired, |tls| tls.mode),
                ..LinkConfig::default()
            };
            let handle = LinkHandle::spawn_with_tls(spec.addr.clone(), config, spec.tls.clone());
            let client = handle.client();
            let api_prefix = spec.domain.as_ref().map(|d| format!("$JS.{d}.API."));
            let js = accounts.get(&spec.account).and_then(|a| a.js.clone());
            match js {
                Some(js) => {
                    let local_api = spec.domain.as_ref().map(|d| format!("$JS.{d}.API"));
                    // The engine sends to `$JS.<domain>.API`; the far server may know it as
                    // its `remote_api`.
                    let rename =
                        local_api
                            .clone()
                            .filter(|api| *api != spec.remote_api)
                            .map(|local| ApiRename {
                                local,
                                remote: spec.remote_api.clone(),
                            });
                    js.attach_link_renaming(id, handle, rename).await;
                    if let Some(api) = &local_api {
                        js.route_api(api, Destination::Link(id)).await;
                    }
                }
                None => {
                    let (close, closed) = oneshot::channel();
                    let task = tokio::spawn(hold(spec.name.clone(), handle, closed));
                    remotes
                        .held
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((close, task));
                }
            }
            tracing::info!(link = %spec.name, url = %spec.url, account = %spec.account, "link started");
            tokio::spawn(log_changes(spec.name.clone(), client.status_changes()));
            links.push(Arc::new(Remote {
                spec: spec.clone(),
                id,
                client,
                api_prefix,
                ack_prefix: spec.domain.as_ref().map(|d| format!("$JS.ACK.{d}.")),
                in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            }));
        }
        Remotes { links, ..remotes }
    }

    /// Whether there are none (the publish path skips the lookup).
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// The link of `account` that takes a publish on `subject`, if any.
    pub fn route(&self, account: &str, subject: &str) -> Option<&Arc<Remote>> {
        self.links
            .iter()
            .filter(|r| r.spec.account == account)
            .find(|r| r.takes(subject))
    }

    /// `/linkz`: every link's state.
    pub fn linkz(&self) -> Value {
        Value::Array(self.links.iter().map(|r| r.status_json()).collect())
    }

    /// Closes the links no engine owns (the engines close theirs when they stop).
    pub async fn close(&self) {
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
        for (close, task) in held {
            let _ = close.send(());
            let _ = task.await;
        }
    }
}

impl Remote {
    /// Whether a publish on `subject` goes over this link.
    fn takes(&self, subject: &str) -> bool {
        self.owns(subject)
            || self
                .api_prefix
                .as_deref()
                .is_some_and(|prefix| subject.starts_with(prefix))
            || self
                .spec
                .forward
                .iter()
                .any(|filter| subject::matches(filter, subject))
    }

    /// Whether `subject` is an ack only this link serves (the local engine must not take it).
    pub fn owns(&self, subject: &str) -> bool {
        self.ack_prefix
            .as_deref()
            .is_some_and(|prefix| subject.starts_with(prefix))
    }

    /// The subject at the far server: the API request renamed to the far API, an ack this
    /// link rewrote restored, others as sent.
    fn far_subject(&self, subject: &str) -> String {
        if let Some(far) = self
            .ack_prefix
            .as_deref()
            .and_then(|prefix| subject.strip_prefix(prefix))
            .and_then(pull::far_ack)
        {
            return far;
        }
        match self
            .api_prefix
            .as_deref()
            .and_then(|prefix| subject.strip_prefix(prefix))
        {
            Some(rest) => format!("{}.{rest}", self.spec.remote_api),
            None => subject.to_string(),
        }
    }

    /// Sends `msg` over the link; a request's reply (or its 503) is delivered through `router`.
    /// Never waits on the link: the message is queued for it at once (so one client's publishes
    /// and requests leave in the order it sent them), and a task awaits the reply, bounded by
    /// [`MAX_IN_FLIGHT`].
    pub fn forward(&self, msg: &Forwarded<'_>, router: &Arc<Router>) {
        let far = self.far_subject(msg.subject);
        let pull = pull::Pull::of_request(&far, &self.spec.remote_api, msg.payload)
            .or_else(|| pull::Pull::of_ack(&far, msg.payload));
        let mut out = Message::new(far, bytes::Bytes::copy_from_slice(msg.payload));
        out.headers = msg.headers.map(bytes::Bytes::copy_from_slice);
        let Some(reply) = msg.reply.map(str::to_string) else {
            // A core publish the link cannot take now is dropped, as NATS may drop one.
            if let Err(err) = self.client.try_publish(out) {
                tracing::debug!(link = %self.spec.name, %err, "forwarded publish dropped");
            }
            return;
        };
        let answer_503 = msg.no_responders;
        let client_id = msg.client;
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            if answer_503 {
                no_responders(router, &reply, client_id);
            }
            return;
        };
        if let Some(pull) = pull {
            let (replies, relayed) = pull::channel();
            if let Err(err) = self.client.try_request_many(out, pull.lasts, replies) {
                if answer_503 && unserved(&err) {
                    no_responders(router, &reply, client_id);
                }
                return;
            }
            let relay = pull::Relay {
                reply,
                domain: self.spec.domain.clone(),
                pull,
                client: (client_id, answer_503),
                permit,
            };
            tokio::spawn(relay.run(router.clone(), relayed));
            return;
        }
        let waiting = match self.client.try_request(out, REQUEST_TIMEOUT) {
            Ok(waiting) => waiting,
            Err(err) => {
                if answer_503 && unserved(&err) {
                    no_responders(router, &reply, client_id);
                }
                return;
            }
        };
        let router = router.clone();
        let domain = self.spec.domain.clone();
        tokio::spawn(async move {
            let result = waiting.await.unwrap_or(Err(LinkCallError::Gone));
            drop(permit);
            match result {
                Ok(answer) => {
                    pull::deliver(&router, &reply, &answer, domain.as_deref());
                }
                Err(err) if answer_503 && unserved(&err) => {
                    no_responders(&router, &reply, client_id)
                }
                Err(_) => {}
            }
        });
    }

    /// This link in `/linkz`.
    fn status_json(&self) -> Value {
        let status = self.client.status();
        let counters = self.client.counters();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let (server_id, server_name) = status.server.clone().unwrap_or_default();
        let since = (status.since > 0).then(|| crate::core::time::format_rfc3339(status.since));
        json!({
            "name": self.spec.name,
            "url": self.spec.url,
            "account": self.spec.account,
            "domain": self.spec.domain,
            "remote_api": self.spec.remote_api,
            "forward": self.spec.forward,
            "state": if status.connected { "up" } else if status.stopped { "stopped" } else { "down" },
            "since": since,
            "reconnects": status.connects.saturating_sub(1),
            "last_error": status.last_error.as_ref().map(ToString::to_string),
            "server_id": server_id,
            "server_name": server_name,
            "version": status.version,
            "in_msgs": load(&counters.in_msgs),
            "out_msgs": load(&counters.out_msgs),
            "in_bytes": load(&counters.in_bytes),
            "out_bytes": load(&counters.out_bytes),
        })
    }
}

/// Logs a link's state when it changes: up, down, or a new reason it cannot connect (the same
/// failure at every retry is logged once). Ends with the link.
async fn log_changes(name: String, mut status: tokio::sync::watch::Receiver<LinkStatus>) {
    let mut last: (bool, Option<String>) = (false, None);
    while status.changed().await.is_ok() {
        let now = status.borrow_and_update().clone();
        if now.last_error == Some(DisconnectReason::Closed) {
            tracing::info!(link = %name, "link closed");
            return;
        }
        let error = now.last_error.as_ref().map(ToString::to_string);
        let (server, version) = (
            now.server.unwrap_or_default().1,
            now.version.unwrap_or_default(),
        );
        match (last.0, now.connected) {
            (false, true) => tracing::info!(link = %name, %server, %version, "link up"),
            (true, false) => {
                tracing::warn!(link = %name, error = error.as_deref().unwrap_or(""), "link down")
            }
            (false, false) if error.is_some() && error != last.1 => tracing::warn!(
                link = %name,
                error = error.as_deref().unwrap_or(""),
                stopped = now.stopped,
                "link cannot connect"
            ),
            _ => {}
        }
        last = (now.connected, error);
    }
}

/// Owns a link no engine owns: reads (and logs) its events until `closed`, then closes it.
async fn hold(name: String, mut handle: LinkHandle, mut closed: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut closed => break,
            event = handle.next_event() => match event {
                None => return,
                    Some(LinkEvent::Error(err)) => tracing::warn!(link = %name, %err, "link error"),
                Some(_) => {}
            },
        }
    }
    handle.close().await;
}

/// Whether a failed request was never served (so a 503 is the truth): the link could not send
/// it, or the far server said nobody listens.
fn unserved(err: &LinkCallError) -> bool {
    matches!(
        err,
        LinkCallError::Gone
            | LinkCallError::Busy
            | LinkCallError::Request(RequestError::NoResponders)
            | LinkCallError::Link(
                LinkError::NotConnected | LinkError::Stopped | LinkError::TooManyRequests(_)
            )
    )
}

fn no_responders(router: &Router, reply: &str, client: u64) {
    let mut flush = FlushList::new();
    super::jetstream::no_responders(router, reply, client, &mut flush);
    flush.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::links;

    /// A link (to nowhere: only its routing is looked at) for `spec`.
    fn remote(spec: LinkSpec, handle: &LinkHandle) -> Remote {
        Remote {
            api_prefix: spec.domain.as_ref().map(|d| format!("$JS.{d}.API.")),
            ack_prefix: spec.domain.as_ref().map(|d| format!("$JS.ACK.{d}.")),
            spec,
            id: LinkId(1),
            client: handle.client(),
            in_flight: Arc::new(Semaphore::new(1)),
        }
    }

    #[tokio::test]
    async fn the_domain_api_is_renamed_and_forward_subjects_pass_as_they_are() {
        let mut spec = links::from_flag("nats://127.0.0.1:1", None, Some("hub")).expect("valid");
        spec.forward = vec!["orders.>".into()];
        let handle = LinkHandle::spawn(spec.addr.clone(), LinkConfig::default());
        let hub = remote(spec.clone(), &handle);
        assert!(hub.takes("$JS.hub.API.STREAM.INFO.X"));
        assert_eq!(
            hub.far_subject("$JS.hub.API.STREAM.INFO.X"),
            "$JS.API.STREAM.INFO.X"
        );
        let ack = "$JS.ACK.hub._link_.S.C.1.2.3.4.5.0";
        assert!(hub.takes(ack) && hub.owns(ack));
        assert_eq!(hub.far_subject(ack), "$JS.ACK.S.C.1.2.3.4.5");
        assert!(!hub.owns("$JS.ACK.S.C.1.2.3.4.5"));
        assert!(hub.takes("orders.eu.1"));
        assert_eq!(hub.far_subject("orders.eu.1"), "orders.eu.1");
        for local in [
            "$JS.API.INFO",
            "$JS.hubx.API.INFO",
            "$JS.hub.APIX",
            "orders",
        ] {
            assert!(!hub.takes(local), "{local}");
        }

        spec.remote_api = "$JS.central.API".into();
        let mapped = remote(spec, &handle);
        assert_eq!(
            mapped.far_subject("$JS.hub.API.INFO"),
            "$JS.central.API.INFO"
        );
        handle.close().await;
    }
}
