//! The engine hosts its streams' mirrors and sources: one [`Sourcing`] machine per mirror and
//! per source, fed with what arrives on its subscriptions, its timers and its links, and whose
//! actions are carried out on the stream.
//!
//! - A machine is made when its stream is created, restored or updated (a mirror resumes from
//!   the stream's last sequence, a source from the last `Nats-Stream-Source` it stored), and
//!   stopped when the stream is deleted or an update drops it.
//! - Its subjects (the deliver subject, the create inbox) become engine subscriptions on the
//!   destination that serves the origin's API: local for `$JS.API` and the engine's own domain,
//!   a link for an `external.api` routed with [`Engine::set_api_route`]. What arrives on them
//!   comes out of the surface's hosted queue and goes to the machine at once. A deliver
//!   subscription is interest for the origin's push consumer only once the create is answered
//!   (locally it stays quiet until then, on a link it is made then), as nats-server subscribes
//!   it then: a catch-up never overtakes the answer (the machine would have to hold it, and it
//!   holds only a bounded prefix).
//! - A mirrored message is stored at the origin's sequence and time
//!   ([`crate::core::stream::Stream::store_mirrored`]), a sourced one as a publish with its
//!   `Nats-Stream-Source` header; both go through the same store path as a client's publish, so
//!   limits, usage, consumers and durability are those of any message.
//! - Replies to the origin that vouch for what was stored (flow-control replies, the answer to
//!   a stalled consumer) are queued in the stream's outbox behind every write so far
//!   ([`super::outbox::Need::Writes`]): they leave after the sync that makes those messages
//!   durable, and a failing store holds them as it holds PubAcks. Consumer creates leave at once.
//! - A failed flush that took a stream's batch back (`rollback.rs`) may have dropped mirrored or
//!   sourced messages: its machines recreate their consumers from what the store really holds.
//!
//! What a machine asks is carried out in `sourcing_actions.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;

use super::Engine;
use crate::core::message::{Destination, LinkId};
use crate::core::sourcing::{
    resume_points, Event, LocalState, Role, Sourcing, SourcingSetup, StreamSource, StreamSourceInfo,
};
use crate::core::store::StreamStore;
use crate::core::stream::StreamInfo;
use crate::core::time::Nanos;

use super::surface::SubId;

/// The account a machine names in its consumer's metadata and hash when the engine's config
/// names none (nats-server's global account).
const GLOBAL_ACCOUNT: &str = "$G";

/// Which machine: its stream and its source's index name ("" for the mirror).
///
/// Looked up several times per mirrored or sourced message (the subscription's machine, then
/// the machine again for each action it asks), so the names are shared: a clone is two count
/// increments, and a key compared with a clone of itself is equal by pointer, without comparing
/// the names (string comparisons of these keys were a quarter of the engine thread's time in a
/// mirror catch-up).
#[derive(Clone, Debug)]
pub(super) struct Key {
    stream: Arc<str>,
    index: Arc<str>,
}

impl Key {
    pub(super) fn new(stream: &str, index: &str) -> Key {
        Key {
            stream: stream.into(),
            index: index.into(),
        }
    }

    /// The stream the machine belongs to.
    pub(super) fn stream(&self) -> &str {
        &self.stream
    }

    /// The source's index name; empty for the mirror.
    pub(super) fn index(&self) -> &str {
        &self.index
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    /// By stream, then index (a stream's machines are neighbours); names shared by pointer are
    /// equal without a look at their bytes.
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        fn names(a: &Arc<str>, b: &Arc<str>) -> std::cmp::Ordering {
            if Arc::ptr_eq(a, b) {
                return std::cmp::Ordering::Equal;
            }
            a.cmp(b)
        }
        names(&self.stream, &other.stream).then_with(|| names(&self.index, &other.index))
    }
}

/// One hosted mirror or source.
pub(super) struct Follower {
    pub(super) machine: Sourcing,
    pub(super) source: StreamSource,
    /// Where the origin's API is reached and the prefix to use there; `None` while no route
    /// is known (the machine is held as if its link were down).
    pub(super) route: Option<(Destination, String)>,
    /// The machine's subjects and their engine subscriptions.
    pub(super) sids: BTreeMap<String, SubId>,
    /// Which of those are create inboxes (their messages are responses).
    pub(super) inboxes: BTreeSet<String>,
    /// Deliver subjects on a link not subscribed yet (until the create is answered).
    pub(super) deferred: BTreeSet<String>,
}

/// The hosted machines of every stream.
#[derive(Default)]
pub(crate) struct Host {
    pub(super) followers: BTreeMap<Key, Follower>,
    pub(super) by_sid: BTreeMap<SubId, Key>,
    /// Streams a failed flush took back since the machines last looked.
    rolled_back: BTreeSet<String>,
    /// API routes changed: every machine's route is looked up again at the next timeout.
    routes_changed: bool,
}

impl Host {
    /// Notes that a failed flush took back the unsynced writes of `stream`.
    pub(crate) fn rolled_back(&mut self, stream: &str) {
        if self.followers.keys().any(|key| key.stream() == stream) {
            self.rolled_back.insert(stream.to_string());
        }
    }

    /// Notes that the API routes changed.
    pub(crate) fn routes_changed(&mut self) {
        self.routes_changed = !self.followers.is_empty();
    }
}

/// A stream's state as a machine needs it.
pub(super) fn local_state(store: &dyn StreamStore) -> LocalState {
    let state = store.state();
    LocalState {
        msgs: state.msgs,
        first_seq: state.first_seq,
        last_seq: state.last_seq,
        last_time: state.last_ts,
    }
}

impl Engine {
    /// Starts, keeps or stops the machines of `stream` so they match its config: after a create,
    /// a restore or an update (unchanged mirrors and sources keep running).
    pub(super) fn follow(&mut self, stream: &str, now: Nanos) {
        let Some(slot) = self.streams.get(stream) else {
            self.unfollow(stream);
            return;
        };
        let config = slot.stream.config();
        let mut wanted: Vec<(String, Role, StreamSource)> = Vec::new();
        if let Some(mirror) = &config.mirror {
            wanted.push((String::new(), Role::Mirror, mirror.clone()));
        }
        for source in &config.sources {
            wanted.push((source.index_name(), Role::Source, source.clone()));
        }
        let stale: Vec<Key> = self
            .sourcing
            .followers
            .iter()
            .filter(|(key, f)| {
                key.stream() == stream
                    && !wanted
                        .iter()
                        .any(|(i, _, src)| i == key.index() && *src == f.source)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            self.stop_follower(&key);
        }
        let new: Vec<_> = wanted
            .into_iter()
            .filter(|(index, _, _)| {
                !self
                    .sourcing
                    .followers
                    .contains_key(&Key::new(stream, index))
            })
            .collect();
        if new.is_empty() {
            return;
        }
        let Some(slot) = self.streams.get(stream) else {
            return;
        };
        let store = slot.stream.store();
        let local = local_state(store);
        let sources = &slot.stream.config().sources;
        let resume = if new.iter().any(|(_, role, _)| *role == Role::Source) {
            resume_points(sources, newest_first_headers(store))
        } else {
            Default::default()
        };
        let twice: BTreeSet<String> = sources
            .iter()
            .filter(|s| sources.iter().filter(|o| o.name == s.name).count() > 1)
            .map(|s| s.name.clone())
            .collect();
        let domain = self.config.domain.clone().unwrap_or_default();
        let account = self
            .config
            .account
            .clone()
            .unwrap_or_else(|| GLOBAL_ACCOUNT.to_string());
        for (index, role, source) in new {
            let setup = SourcingSetup {
                role,
                origin_sourced_twice: twice.contains(&source.name),
                source: source.clone(),
                stream: stream.to_string(),
                account: account.clone(),
                domain: domain.clone(),
                seed: self.next_random(),
            };
            let mut machine = Sourcing::new(setup);
            let route = self.origin_route(&source);
            let up = route
                .as_ref()
                .is_some_and(|(dest, _)| self.surface_is_up(*dest));
            if !up {
                // Held until its link is up or its route is known.
                machine.handle(now, Event::LinkDown);
            }
            machine.start(now, local, resume.get(&index).copied());
            let key = Key::new(stream, &index);
            let follower = Follower {
                machine,
                source,
                route,
                sids: BTreeMap::new(),
                inboxes: BTreeSet::new(),
                deferred: BTreeSet::new(),
            };
            self.sourcing.followers.insert(key.clone(), follower);
            self.carry_out(&key, now);
        }
    }

    /// Stops every machine of `stream` (deleted).
    pub(super) fn unfollow(&mut self, stream: &str) {
        let keys: Vec<Key> = self
            .sourcing
            .followers
            .keys()
            .filter(|key| key.stream() == stream)
            .cloned()
            .collect();
        for key in keys {
            self.stop_follower(&key);
        }
        self.sourcing.rolled_back.remove(stream);
    }

    fn stop_follower(&mut self, key: &Key) {
        let Some(mut follower) = self.sourcing.followers.remove(key) else {
            return;
        };
        follower.machine.stop();
        // Its subscriptions go; nothing else it asks for matters any more.
        for (subject, sid) in std::mem::take(&mut follower.sids) {
            let local = matches!(follower.route, Some((Destination::Local, _)));
            self.drop_hosted_subscription(sid, &subject, local);
        }
    }

    /// Where the origin of `source` is reached, if a route is known.
    fn origin_route(&self, source: &StreamSource) -> Option<(Destination, String)> {
        let api = source
            .external
            .as_ref()
            .map(|e| e.api.as_str())
            .filter(|a| !a.is_empty());
        self.api_destination(api, None)
    }

    /// Hands what arrived on the machines' subscriptions to them, and carries out what they
    /// ask in return.
    pub(super) fn pump_sourcing(&mut self, now: Nanos) {
        while let Some((sid, msg)) = self.surface.take_hosted() {
            let Some(key) = self.sourcing.by_sid.get(&sid).cloned() else {
                continue;
            };
            let Some(follower) = self.sourcing.followers.get_mut(&key) else {
                continue;
            };
            // Borrowed, not cloned: the machine is another field of the follower.
            let Some(via) = follower
                .sids
                .iter()
                .find(|(_, s)| **s == sid)
                .map(|(subject, _)| subject.as_str())
            else {
                continue;
            };
            let event = if follower.inboxes.contains(via) {
                Event::Response {
                    subject: via,
                    payload: &msg.payload,
                }
            } else {
                Event::Delivery {
                    via,
                    subject: &msg.subject,
                    reply: msg.reply.as_deref().unwrap_or(""),
                    headers: msg.headers.as_deref().unwrap_or(b""),
                    payload: &msg.payload,
                }
            };
            follower.machine.handle(now, event);
            self.carry_out(&key, now);
        }
    }

    /// The earliest time a machine needs [`Engine::sourcing_timeout`] (0: at once).
    pub(super) fn sourcing_deadline(&self) -> Option<Nanos> {
        let changed = self.sourcing.routes_changed || !self.sourcing.rolled_back.is_empty();
        if changed {
            return Some(0);
        }
        self.sourcing
            .followers
            .values()
            .filter_map(|f| f.machine.poll_timeout())
            .min()
    }

    /// The machines' timers, and what changed under them (routes, rolled-back stores).
    pub(super) fn sourcing_timeout(&mut self, now: Nanos) {
        if std::mem::take(&mut self.sourcing.routes_changed) {
            self.reroute_followers(now);
        }
        for stream in std::mem::take(&mut self.sourcing.rolled_back) {
            let Some(slot) = self.streams.get(&stream) else {
                continue;
            };
            let local = local_state(slot.stream.store());
            let keys = self.keys_of(&stream);
            let resume = resume_points(
                &slot.stream.config().sources,
                newest_first_headers(slot.stream.store()),
            );
            for key in keys {
                if let Some(f) = self.sourcing.followers.get_mut(&key) {
                    // What it stored past the durable state is gone: start again after it.
                    let origin_seq = resume.get(key.index()).copied().unwrap_or(0) + 1;
                    f.machine.store_failed(now, local, origin_seq);
                }
                self.carry_out(&key, now);
            }
        }
        let due: Vec<Key> = self
            .sourcing
            .followers
            .iter()
            .filter(|(_, f)| f.machine.poll_timeout().is_some_and(|at| at <= now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            if let Some(f) = self.sourcing.followers.get_mut(&key) {
                f.machine.handle_timeout(now);
            }
            self.carry_out(&key, now);
        }
    }

    fn keys_of(&self, stream: &str) -> Vec<Key> {
        self.sourcing
            .followers
            .keys()
            .filter(|key| key.stream() == stream)
            .cloned()
            .collect()
    }

    /// Link `id` went up or down: the machines reaching their origin through it follow.
    pub(super) fn sourcing_link(&mut self, id: LinkId, up: bool, now: Nanos) {
        let keys: Vec<Key> = self
            .sourcing
            .followers
            .iter()
            .filter(|(_, f)| matches!(f.route, Some((Destination::Link(l), _)) if l == id))
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            if let Some(f) = self.sourcing.followers.get_mut(&key) {
                let event = if up { Event::LinkUp } else { Event::LinkDown };
                f.machine.handle(now, event);
            }
            self.carry_out(&key, now);
        }
    }

    /// Looks up every machine's route again; one whose route changed starts over on the new one.
    fn reroute_followers(&mut self, now: Nanos) {
        let keys: Vec<Key> = self.sourcing.followers.keys().cloned().collect();
        for key in keys {
            let Some(f) = self.sourcing.followers.get(&key) else {
                continue;
            };
            let route = self.origin_route(&f.source);
            if route == f.route {
                continue;
            }
            let up = route
                .as_ref()
                .is_some_and(|(dest, _)| self.surface_is_up(*dest));
            if let Some(f) = self.sourcing.followers.get_mut(&key) {
                f.machine.handle(now, Event::LinkDown);
            }
            // The old subscriptions go on the old route.
            self.carry_out(&key, now);
            if let Some(f) = self.sourcing.followers.get_mut(&key) {
                f.route = route;
                if up {
                    f.machine.handle(now, Event::LinkUp);
                }
            }
            self.carry_out(&key, now);
        }
    }

    /// Adds the mirror's and sources' progress to a stream's info.
    pub(super) fn add_sourcing_info(&self, info: &mut StreamInfo, now: Nanos) {
        let stream = info.config.name.as_str();
        let mut sources: Vec<StreamSourceInfo> = Vec::new();
        for (key, f) in self.sourcing.followers.range(stream_range(stream)) {
            if key.stream() != stream {
                break;
            }
            if key.index().is_empty() {
                info.mirror = Some(f.machine.info(now));
            } else {
                sources.push(f.machine.info(now));
            }
        }
        info.sources = sources;
    }
}

/// The keys of one stream's machines.
fn stream_range(stream: &str) -> std::ops::RangeFrom<Key> {
    Key::new(stream, "")..
}

/// A stream's header blocks from its newest message back (for the sources' resume points).
fn newest_first_headers(store: &dyn StreamStore) -> impl Iterator<Item = Bytes> + '_ {
    let state = store.state();
    let (first, last) = (state.first_seq, state.last_seq);
    let mut seq = last;
    let mut remaining = state.msgs;
    std::iter::from_fn(move || {
        while remaining > 0 && seq >= first && seq > 0 {
            let current = seq;
            seq -= 1;
            if let Ok(msg) = store.load_msg(current) {
                remaining -= 1;
                return Some(msg.headers.unwrap_or_default());
            }
        }
        None
    })
}

#[cfg(test)]
#[path = "sourcing_host_tests.rs"]
mod tests;
