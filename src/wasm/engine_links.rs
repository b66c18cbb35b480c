//! The links attached to the browser's engine: `RemoteLink`s (server connections JavaScript
//! made with `connect()`) that the engine speaks through as `Destination::Link(id)`, as the
//! server's engine speaks through its links (`server/jetstream/links.rs`).
//!
//! The engine names subscriptions with its own [`SubId`]s, the link with its [`Sid`]s; the maps
//! between them live here. A link's news (up, down, a message on an engine subscription) is
//! queued by the link's observer and handed to the engine at the start of the next flush: the
//! observer runs inside the link's driver, which may be inside a call the shell made with the
//! engine borrowed, so it only queues and asks JavaScript (the `wake` callback) for a flush.
//! What the engine sends over a link leaves once the engine released it: with the flush's
//! release after the commit, or before the commit of a flush when nothing earlier is still to
//! be sent (`wasm/engine.rs`). The engine releases nothing that describes a write not yet
//! durable (an upload reads only committed messages), so a server never holds what this
//! database could still take back. A flush's messages leave in one frame per link.
//!
//! An API route may name the server's prefix for it: the local name `$JS.hub.API` (a mirror's
//! `domain: 'hub'`) served by a server's plain `$JS.API`, as a leafnode maps a domain. The
//! engine keeps speaking its own prefix; the subject is rewritten as it leaves over the link.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use js_sys::Function;
use wasm_bindgen::JsValue;

use super::link::{LinkObserver, LinkPort};
use crate::core::engine::{Engine, EngineEvent, SubId};
use crate::core::front::JetStream;
use crate::core::link::{LinkError, LinkEvent, Sid};
use crate::core::message::{Destination, LinkId, Message, Outbound};
use crate::core::time::Nanos;

/// A link's news for the engine.
enum News {
    Up,
    Down,
    Message(SubId, Message),
}

/// Where a JetStream API prefix is served.
struct ApiRoute {
    link: LinkId,
    /// The server's prefix for it (the same as the local one unless mapped).
    remote: String,
}

/// What the observers share with the shell.
#[derive(Default)]
struct Shared {
    /// News in arrival order, with the link it came from.
    news: RefCell<VecDeque<(LinkId, News)>>,
    /// Called (with nothing) when news arrived: JavaScript flushes soon.
    wake: RefCell<Option<Function>>,
}

impl Shared {
    fn tell(&self, id: LinkId, news: News) {
        let mut queue = self.news.borrow_mut();
        queue.push_back((id, news));
        // Woken already when news was waiting: the flush that wake asked for takes it all
        // (a frame of 1,000 PubAcks called JavaScript once, not 1,000 times).
        let woken = queue.len() > 1;
        drop(queue);
        if woken {
            return;
        }
        let wake = self.wake.borrow().clone();
        if let Some(wake) = wake {
            // A throwing callback must not stop the link; the next flush takes the news.
            let _ = wake.call0(&JsValue::NULL);
        }
    }
}

/// One attached link.
struct Attached {
    port: LinkPort,
    /// Link sid → engine sid, shared with the observer (which decides what is the engine's).
    by_link: Rc<RefCell<HashMap<Sid, SubId>>>,
    by_engine: HashMap<SubId, Sid>,
}

/// The observer set on an attached link.
struct Observer {
    id: LinkId,
    by_link: Rc<RefCell<HashMap<Sid, SubId>>>,
    shared: Rc<Shared>,
}

impl LinkObserver for Observer {
    fn on_event(&self, event: &LinkEvent) -> bool {
        match event {
            LinkEvent::Connected(_) => self.shared.tell(self.id, News::Up),
            LinkEvent::Disconnected(_) | LinkEvent::Stopped(_) => {
                self.shared.tell(self.id, News::Down)
            }
            LinkEvent::Message { sid, msg } => {
                let Some(&engine_sid) = self.by_link.borrow().get(sid) else {
                    return false;
                };
                self.shared
                    .tell(self.id, News::Message(engine_sid, msg.clone()));
                return true;
            }
            _ => {}
        }
        false
    }
}

/// Every link attached to one engine.
#[derive(Default)]
pub(crate) struct Links {
    attached: BTreeMap<LinkId, Attached>,
    /// JetStream API prefixes served over a link (`Engine::set_api_route`), set again on an
    /// engine rebuilt from the database, each with the prefix the server answers on.
    api_routes: BTreeMap<String, ApiRoute>,
    shared: Rc<Shared>,
    next_id: u32,
}

impl Links {
    /// Sets the callback that asks JavaScript for a flush.
    pub(crate) fn set_wake(&self, wake: Option<Function>) {
        *self.shared.wake.borrow_mut() = wake;
    }

    /// Attaches `port` and returns its id (the same id again for a link already attached).
    pub(crate) fn attach(&mut self, port: LinkPort) -> LinkId {
        if let Some((id, _)) = self.attached.iter().find(|(_, a)| a.port.same(&port)) {
            return *id;
        }
        self.next_id += 1;
        let id = LinkId(self.next_id);
        let by_link = Rc::new(RefCell::new(HashMap::new()));
        port.set_observer(Some(Rc::new(Observer {
            id,
            by_link: by_link.clone(),
            shared: self.shared.clone(),
        })));
        if port.connected() {
            self.shared.tell(id, News::Up);
        }
        self.attached.insert(
            id,
            Attached {
                port,
                by_link,
                by_engine: HashMap::new(),
            },
        );
        id
    }

    /// Routes the JetStream API prefix `api` (`$JS.<domain>.API`, a source's `external.api`) to
    /// link `id`, where the server answers it on `remote` (default: `api` itself), or forgets
    /// the route with `None`.
    pub(crate) fn route_api(
        &mut self,
        engine: &mut Engine,
        api: &str,
        id: Option<LinkId>,
        remote: Option<&str>,
    ) {
        match id {
            Some(id) => {
                engine.set_api_route(api, Destination::Link(id));
                let route = ApiRoute {
                    link: id,
                    remote: remote.unwrap_or(api).to_string(),
                };
                self.api_routes.insert(api.to_string(), route);
            }
            None => {
                engine.remove_api_route(api);
                self.api_routes.remove(api);
            }
        }
    }

    /// Detaches link `id`: its engine subscriptions end and the engine hears it is down.
    pub(crate) fn detach(&mut self, id: LinkId) {
        if let Some(attached) = self.attached.remove(&id) {
            attached.port.set_observer(None);
            for sid in attached.by_engine.values() {
                attached.port.unsubscribe(*sid);
            }
            self.shared.tell(id, News::Down);
        }
    }

    /// Hands the engine every piece of news since the last call.
    pub(crate) fn deliver(&self, front: &mut JetStream, now: Nanos) {
        let news: Vec<(LinkId, News)> = self.shared.news.borrow_mut().drain(..).collect();
        for (id, news) in news {
            match news {
                News::Up => front.engine_mut().link_up(id, now),
                News::Down => front.engine_mut().link_down(id, now),
                News::Message(sid, msg) => {
                    front.handle_subscribed(sid, msg, now);
                }
            }
        }
    }

    /// Carries out an engine event addressed to a link (local ones are the shell's).
    pub(crate) fn apply(&mut self, event: &EngineEvent) {
        match event {
            EngineEvent::Subscribe {
                sid,
                subject,
                dest: Destination::Link(id),
            } => {
                let Some(attached) = self.attached.get_mut(id) else {
                    return; // not attached (yet): its requests fail as the link is down
                };
                if let Ok(link_sid) = attached.port.subscribe(subject) {
                    attached.by_link.borrow_mut().insert(link_sid, *sid);
                    attached.by_engine.insert(*sid, link_sid);
                }
            }
            EngineEvent::Unsubscribe {
                sid,
                dest: Destination::Link(id),
            } => {
                if let Some(attached) = self.attached.get_mut(id) {
                    if let Some(link_sid) = attached.by_engine.remove(sid) {
                        attached.by_link.borrow_mut().remove(&link_sid);
                        attached.port.unsubscribe(link_sid);
                    }
                }
            }
            _ => {}
        }
    }

    /// Publishes each of `outs` on its link, then drives each link used once, so a flush's
    /// messages leave in one WebSocket frame per link. A refusal (disconnected, buffer full)
    /// loses a message, as a core NATS publish: the engine's request fails on the link's down
    /// news or times out.
    pub(crate) fn send_all<'a>(&self, outs: impl IntoIterator<Item = &'a Outbound>) {
        let mut used: Vec<LinkId> = Vec::new();
        for out in outs {
            let Destination::Link(id) = out.dest else {
                continue;
            };
            let Some(attached) = self.attached.get(&id) else {
                continue;
            };
            let renamed = self.remote_subject(id, &out.msg.subject).map(|subject| {
                let mut msg = out.msg.clone();
                msg.subject = subject;
                msg
            });
            let msg = renamed.as_ref().unwrap_or(&out.msg);
            if let Err(LinkError::BufferFull { .. }) = attached.port.publish_later(msg) {
                // Large messages filled the link's buffer before the batch's end: hand what is
                // there to the socket and try once more, as driving after each publish did.
                attached.port.drive();
                let _ = attached.port.publish_later(msg);
            }
            if !used.contains(&id) {
                used.push(id);
            }
        }
        for id in used {
            if let Some(attached) = self.attached.get(&id) {
                attached.port.drive();
            }
        }
    }

    /// The server's subject for `subject` sent on link `id`, when it is under an API prefix
    /// routed there with another name on the server.
    fn remote_subject(&self, id: LinkId, subject: &str) -> Option<String> {
        self.api_routes.iter().find_map(|(api, route)| {
            if route.link != id || route.remote == *api {
                return None;
            }
            let rest = subject.strip_prefix(api.as_str())?.strip_prefix('.')?;
            Some(format!("{}.{rest}", route.remote))
        })
    }

    /// After the engine was rebuilt from the database: the old engine's subscriptions end and
    /// its queued messages are dropped (their sids mean nothing to the new one), and the new
    /// engine hears which links are up and which API prefixes they serve.
    pub(crate) fn restart(&mut self, engine: &mut Engine, now: Nanos) {
        for (api, route) in &self.api_routes {
            engine.set_api_route(api, Destination::Link(route.link));
        }
        self.shared
            .news
            .borrow_mut()
            .retain(|(_, news)| !matches!(news, News::Message(..)));
        for (id, attached) in &mut self.attached {
            for (_, link_sid) in attached.by_engine.drain() {
                attached.port.unsubscribe(link_sid);
            }
            attached.by_link.borrow_mut().clear();
            if attached.port.connected() {
                engine.link_up(*id, now);
            }
        }
    }
}
