//! Core NATS routing: which subscriptions receive a message published on a subject.
//!
//! Subscriptions live in a [`SubjectIndex`] (a token trie, like nats-server's sublist), so a
//! publish costs time in proportion to its subject's tokens, not to the number of
//! subscriptions. Delivery follows nats-server: every plain subscription gets a copy, each queue
//! group gets one copy (one member picked at random), a client with `echo: false` never gets its
//! own messages, and a subscription with an auto-unsubscribe limit goes away after its last
//! message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::core::subject::SubjectError;
use crate::core::subject_index::SubjectIndex;

use super::auth::permissions::ClientPerms;
use super::last_subject::LastSubject;
use super::outbox::{FlushList, Outbox};

/// One client subscription.
pub struct Sub {
    /// Id of the client connection that owns it.
    pub client: u64,
    /// The client's subscription id.
    pub sid: Box<str>,
    /// The subject filter (may hold wildcards).
    pub subject: Box<str>,
    /// Queue group, if any.
    pub queue: Option<Box<str>>,
    /// The owner's outbound buffer.
    pub out: Arc<Outbox>,
    /// Whether the owner wants its own publishes (`echo` in CONNECT).
    pub echo: bool,
    /// Messages delivered so far; changed only under `out`'s lock ([`Outbox::queue_counted`]).
    delivered: AtomicU64,
    /// Auto-unsubscribe after this many messages (0: never).
    max: AtomicU64,
    /// Set once the auto-unsubscribe limit was reached.
    done: std::sync::atomic::AtomicBool,
    /// The owner's permissions, when delivery must consult them: to drop messages a deny
    /// entry covers (`filter_denied`), and to note reply subjects it may answer.
    perms: Option<Arc<ClientPerms>>,
    filter_denied: bool,
}

impl Sub {
    /// A subscription with no auto-unsubscribe limit.
    pub fn new(
        client: u64,
        sid: &str,
        subject: &str,
        queue: Option<&str>,
        out: Arc<Outbox>,
        echo: bool,
    ) -> Sub {
        Sub {
            client,
            sid: sid.into(),
            subject: subject.into(),
            queue: queue.map(Into::into),
            out,
            echo,
            delivered: AtomicU64::new(0),
            max: AtomicU64::new(0),
            done: Default::default(),
            perms: None,
            filter_denied: false,
        }
    }

    /// Has delivery consult the owner's permissions: with `filter_denied`, messages its
    /// subscribe deny list covers are not delivered (a wildcard subscription may overlap one);
    /// reply subjects are noted when the owner may answer requests (`allow_responses`).
    pub fn with_perms(mut self, perms: Arc<ClientPerms>, filter_denied: bool) -> Sub {
        self.perms = Some(perms);
        self.filter_denied = filter_denied;
        self
    }

    /// Whether it reached its auto-unsubscribe limit (and left the router).
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    /// Sets the auto-unsubscribe limit (`UNSUB <sid> <max>`). `true` when the subscription has
    /// already received that many and must go now.
    pub fn set_max(&self, max: u64) -> bool {
        self.max.store(max, Ordering::Relaxed);
        max > 0 && self.delivered.load(Ordering::Relaxed) >= max
    }
}

impl PartialEq for Sub {
    fn eq(&self, other: &Self) -> bool {
        self.client == other.client && self.sid == other.sid
    }
}

/// A message as delivered: borrowed parts (the core's encoder writes them as MSG/HMSG).
pub use crate::core::proto::MsgView;

/// Called with (literal subject, has subscribers) when the first subscription on a subject
/// appears or the last one goes; the JetStream task forwards it to the engine's push consumers.
pub type InterestHook = Box<dyn Fn(&str, bool) + Send + Sync>;

struct Inner {
    index: SubjectIndex<Arc<Sub>>,
    /// Subscriptions per exact filter text, to see the first and last on each.
    counts: HashMap<Box<str>, usize>,
}

/// Every subscription of the server.
pub struct Router {
    inner: RwLock<Inner>,
    on_interest: Option<InterestHook>,
    rng: AtomicU64,
    /// Counts changes of the index (under its write lock), so a [`RouteCache`] knows it is stale.
    generation: AtomicU64,
}

impl Router {
    /// An empty router; `on_interest` hears about subjects gaining or losing subscribers.
    pub fn new(on_interest: Option<InterestHook>) -> Router {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9);
        Router {
            inner: RwLock::new(Inner {
                index: SubjectIndex::new(),
                counts: HashMap::new(),
            }),
            on_interest,
            rng: AtomicU64::new(seed | 1),
            generation: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a subscription; an invalid subject filter is refused.
    pub fn subscribe(&self, sub: Arc<Sub>) -> Result<(), SubjectError> {
        let subject = sub.subject.clone();
        let first = {
            let mut inner = self.write();
            inner.index.insert(&subject, sub)?;
            self.generation.fetch_add(1, Ordering::Release);
            let count = inner.counts.entry(subject.clone()).or_insert(0);
            *count += 1;
            *count == 1
        };
        if first {
            if let Some(hook) = &self.on_interest {
                hook(&subject, true);
            }
        }
        Ok(())
    }

    /// Removes a subscription. `false` when it was not there (already auto-unsubscribed).
    pub fn unsubscribe(&self, sub: &Arc<Sub>) -> bool {
        let (removed, last) = {
            let mut inner = self.write();
            if !inner.index.remove(&sub.subject, sub) {
                return false;
            }
            self.generation.fetch_add(1, Ordering::Release);
            let last = match inner.counts.get_mut(&sub.subject) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                _ => {
                    inner.counts.remove(&sub.subject);
                    true
                }
            };
            (true, last)
        };
        if last {
            if let Some(hook) = &self.on_interest {
                hook(&sub.subject, false);
            }
        }
        removed
    }

    /// Whether any subscription matches `subject`.
    pub fn has_interest(&self, subject: &str) -> bool {
        let mut any = false;
        self.read().index.for_each_match(subject, |_| any = true);
        any
    }

    /// Number of subscriptions.
    pub fn len(&self) -> usize {
        self.read().counts.values().sum()
    }

    /// Whether there are no subscriptions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Delivers `msg` to the subscriptions matching `to`. With `group`, only that queue group's
    /// members are candidates (push consumers' `deliver_group`). `publisher` is the sending
    /// client, whose own subscriptions are skipped when it turned echo off. With `only_client`,
    /// only that client's subscriptions are candidates (no-responders replies). Returns how
    /// many subscriptions received it.
    pub fn deliver(
        &self,
        to: &str,
        group: Option<&str>,
        msg: &MsgView<'_>,
        publisher: Option<u64>,
        only_client: Option<u64>,
        flush: &mut FlushList,
    ) -> usize {
        let mut delivery = Delivery::new(group, msg, publisher, only_client, flush);
        let inner = self.read();
        inner.index.for_each_match(to, |sub| delivery.consider(sub));
        let finished = delivery.send_to_queues(self);
        drop(inner);
        self.finish(finished)
    }

    /// As [`Router::deliver`] for a client's publish, with the subscriptions that matched its
    /// last subject kept in `cache`: a client publishing to the same subject again, with no
    /// subscribe or unsubscribe anywhere in between, skips the lock and the index walk.
    pub fn deliver_cached(
        &self,
        cache: &mut RouteCache,
        msg: &MsgView<'_>,
        publisher: u64,
        flush: &mut FlushList,
    ) -> usize {
        // Read before the index: a change that lands after this read is seen at the next call.
        let generation = self.generation.load(Ordering::Acquire);
        let subs = cache.get_or_fill(generation, msg.subject, |subs| {
            subs.clear();
            self.read()
                .index
                .for_each_match(msg.subject, |sub| subs.push(sub.clone()));
        });
        let mut delivery = Delivery::new(None, msg, Some(publisher), None, flush);
        for sub in subs {
            delivery.consider(sub);
        }
        let finished = delivery.send_to_queues(self);
        self.finish(finished)
    }

    /// Removes the subscriptions that reached their auto-unsubscribe limit; returns how many
    /// deliveries were queued.
    fn finish(&self, (delivered, finished): (usize, Vec<Arc<Sub>>)) -> usize {
        for sub in finished {
            self.unsubscribe(&sub);
        }
        delivered
    }

    fn random(&self) -> u64 {
        // xorshift64; races between threads only make it more random.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        x
    }
}

/// The subscriptions one client's publishes last matched, and the router's generation then
/// (see [`Router::deliver_cached`]).
pub type RouteCache = LastSubject<Vec<Arc<Sub>>>;

/// One message on its way to the subscriptions that match it.
struct Delivery<'a, 'm> {
    group: Option<&'a str>,
    msg: &'a MsgView<'m>,
    publisher: Option<u64>,
    only_client: Option<u64>,
    flush: &'a mut FlushList,
    delivered: usize,
    /// Subscriptions that took their last message (auto-unsubscribe).
    finished: Vec<Arc<Sub>>,
    /// Queue groups seen, each a list of members. Few groups per subject: a Vec beats a map.
    queues: Vec<Vec<Arc<Sub>>>,
}

impl<'a, 'm> Delivery<'a, 'm> {
    fn new(
        group: Option<&'a str>,
        msg: &'a MsgView<'m>,
        publisher: Option<u64>,
        only_client: Option<u64>,
        flush: &'a mut FlushList,
    ) -> Self {
        Delivery {
            group,
            msg,
            publisher,
            only_client,
            flush,
            delivered: 0,
            finished: Vec::new(),
            queues: Vec::new(),
        }
    }

    /// A matching subscription: sent to at once, or remembered as a queue group member.
    fn consider(&mut self, sub: &Arc<Sub>) {
        if self.only_client.is_some_and(|c| c != sub.client) {
            return;
        }
        if !sub.echo && self.publisher == Some(sub.client) {
            return;
        }
        match (&sub.queue, self.group) {
            (None, None) => {
                if send_to(sub, self.msg, &mut self.finished, self.flush) {
                    self.delivered += 1;
                }
            }
            (None, Some(_)) => {}
            (Some(q), wanted) => {
                if wanted.is_some_and(|g| g != &**q) {
                    return;
                }
                let same = |members: &&mut Vec<Arc<Sub>>| {
                    members.first().and_then(|m| m.queue.as_deref()) == Some(&**q)
                };
                match self.queues.iter_mut().find(same) {
                    Some(members) => members.push(sub.clone()),
                    None => self.queues.push(vec![sub.clone()]),
                }
            }
        }
    }

    /// One member of each queue group seen, from a random start, skipping any that refuse
    /// (closing, full). Returns the deliveries and the subscriptions that finished.
    fn send_to_queues(mut self, router: &Router) -> (usize, Vec<Arc<Sub>>) {
        for members in &self.queues {
            let start = router.random() as usize % members.len();
            for i in 0..members.len() {
                let sub = &members[(start + i) % members.len()];
                if send_to(sub, self.msg, &mut self.finished, self.flush) {
                    self.delivered += 1;
                    break;
                }
            }
        }
        (self.delivered, self.finished)
    }
}

/// Sends to one subscription, honouring its auto-unsubscribe limit.
fn send_to(
    sub: &Arc<Sub>,
    msg: &MsgView<'_>,
    finished: &mut Vec<Arc<Sub>>,
    flush: &mut FlushList,
) -> bool {
    if let Some(perms) = &sub.perms {
        if sub.filter_denied && perms.deny_delivery(msg.subject) {
            return false;
        }
    }
    let max = sub.max.load(Ordering::Relaxed);
    let (n, sent) = sub
        .out
        .queue_counted(&sub.sid, msg, &sub.delivered, max, flush);
    if max > 0 && n == max {
        sub.done.store(true, Ordering::Relaxed);
        finished.push(sub.clone());
    }
    if let (true, Some(perms), Some(reply)) = (sent, &sub.perms, msg.reply) {
        perms.note_reply(reply);
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn sub(client: u64, sid: &str, subject: &str, queue: Option<&str>) -> (Arc<Sub>, Arc<Outbox>) {
        let out = Arc::new(Outbox::new(1 << 20));
        let s = Arc::new(Sub::new(client, sid, subject, queue, out.clone(), true));
        (s, out)
    }

    fn view(payload: &[u8]) -> MsgView<'_> {
        MsgView {
            subject: "a.b",
            reply: None,
            headers: None,
            payload,
        }
    }

    #[test]
    fn wildcard_and_literal_subscriptions_all_receive() {
        let router = Router::new(None);
        let subs = [
            sub(1, "1", "a.b", None),
            sub(2, "1", "a.*", None),
            sub(3, "1", ">", None),
        ];
        for (s, _) in &subs {
            router.subscribe(s.clone()).expect("valid");
        }
        let (other, _) = sub(4, "1", "a.c", None);
        router.subscribe(other).expect("valid");
        assert_eq!(
            router.deliver("a.b", None, &view(b"x"), None, None, &mut FlushList::new()),
            3
        );
        for (_, out) in &subs {
            assert!(out.pending_bytes() > 0);
        }
    }

    #[test]
    fn a_queue_group_receives_each_message_once() {
        let router = Router::new(None);
        let members: Vec<_> = (0..3)
            .map(|c| sub(c, "1", "a.b", Some("workers")))
            .collect();
        for (s, _) in &members {
            router.subscribe(s.clone()).expect("valid");
        }
        for _ in 0..30 {
            assert_eq!(
                router.deliver("a.b", None, &view(b"x"), None, None, &mut FlushList::new()),
                1
            );
        }
        let total: usize = members.iter().map(|(_, o)| o.pending_bytes()).sum();
        assert_eq!(total, 30 * b"MSG a.b 1 1\r\nx\r\n".len());
    }

    #[test]
    fn a_deliver_group_reaches_only_that_group() {
        let router = Router::new(None);
        let (plain, plain_out) = sub(1, "1", "d", None);
        let (member, member_out) = sub(2, "1", "d", Some("g"));
        router.subscribe(plain).expect("valid");
        router.subscribe(member).expect("valid");
        assert_eq!(
            router.deliver(
                "d",
                Some("g"),
                &view(b"x"),
                None,
                None,
                &mut FlushList::new()
            ),
            1
        );
        assert_eq!(plain_out.pending_bytes(), 0);
        assert!(member_out.pending_bytes() > 0);
    }

    #[test]
    fn echo_off_skips_the_publishers_own_subscriptions() {
        let router = Router::new(None);
        let out = Arc::new(Outbox::new(1 << 20));
        router
            .subscribe(Arc::new(Sub::new(1, "1", "a.b", None, out.clone(), false)))
            .expect("valid");
        assert_eq!(
            router.deliver(
                "a.b",
                None,
                &view(b"x"),
                Some(1),
                None,
                &mut FlushList::new()
            ),
            0
        );
        assert_eq!(
            router.deliver(
                "a.b",
                None,
                &view(b"x"),
                Some(2),
                None,
                &mut FlushList::new()
            ),
            1
        );
    }

    #[test]
    fn auto_unsubscribe_stops_after_max_messages() {
        let router = Router::new(None);
        let (s, out) = sub(1, "1", "a.b", None);
        router.subscribe(s.clone()).expect("valid");
        assert!(!s.set_max(2));
        let delivered: usize = (0..5)
            .map(|_| router.deliver("a.b", None, &view(b"x"), None, None, &mut FlushList::new()))
            .sum();
        assert_eq!(delivered, 2);
        assert!(router.is_empty());
        assert_eq!(out.pending_bytes(), 2 * b"MSG a.b 1 1\r\nx\r\n".len());
    }

    #[test]
    fn publishers_on_many_threads_stop_at_the_limit_together() {
        // The count is kept under the subscriber's outbox lock, not by an atomic add: racing
        // publishers must still deliver exactly the limit, no more and no fewer.
        let router = Arc::new(Router::new(None));
        let (s, out) = sub(1, "1", "a.b", None);
        router.subscribe(s.clone()).expect("valid");
        assert!(!s.set_max(1_000));
        let publishers: Vec<_> = (0..4)
            .map(|_| {
                let router = router.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .map(|_| {
                            router.deliver(
                                "a.b",
                                None,
                                &view(b"x"),
                                None,
                                None,
                                &mut FlushList::new(),
                            )
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        let delivered: usize = publishers
            .into_iter()
            .map(|p| p.join().expect("publisher"))
            .sum();
        assert_eq!(delivered, 1_000);
        assert_eq!(out.pending_bytes(), 1_000 * b"MSG a.b 1 1\r\nx\r\n".len());
        assert!(router.is_empty());
    }

    #[test]
    fn a_cached_route_follows_every_subscribe_and_unsubscribe() {
        let router = Router::new(None);
        let mut cache = RouteCache::default();
        let publish = |cache: &mut RouteCache, subject: &str| {
            let msg = MsgView {
                subject,
                ..view(b"x")
            };
            router.deliver_cached(cache, &msg, 9, &mut FlushList::new())
        };
        assert_eq!(publish(&mut cache, "a.b"), 0);
        let (first, first_out) = sub(1, "1", "a.*", None);
        router.subscribe(first.clone()).expect("valid");
        assert_eq!(publish(&mut cache, "a.b"), 1, "a new subscription is seen");
        let (member, _) = sub(2, "1", "a.b", Some("q"));
        let (other, _) = sub(3, "1", "a.b", Some("q"));
        router.subscribe(member).expect("valid");
        router.subscribe(other).expect("valid");
        assert_eq!(
            publish(&mut cache, "a.b"),
            2,
            "one queue member and the plain one"
        );
        assert_eq!(publish(&mut cache, "a.b"), 2, "from the cache, the same");
        assert_eq!(
            publish(&mut cache, "a.c"),
            1,
            "another subject is walked anew"
        );
        assert!(router.unsubscribe(&first));
        let before = first_out.pending_bytes();
        assert_eq!(
            publish(&mut cache, "a.c"),
            0,
            "a removed subscription is not sent to"
        );
        assert_eq!(first_out.pending_bytes(), before);
        assert_eq!(publish(&mut cache, "a.b"), 1);
    }

    #[test]
    fn interest_hook_hears_first_and_last_subscription_only() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        let router = Router::new(Some(Box::new(move |s: &str, on| {
            h.lock().expect("lock").push((s.to_string(), on))
        })));
        let (a, _) = sub(1, "1", "d.x", None);
        let (b, _) = sub(2, "1", "d.x", None);
        router.subscribe(a.clone()).expect("valid");
        router.subscribe(b.clone()).expect("valid");
        router.unsubscribe(&a);
        router.unsubscribe(&b);
        assert_eq!(
            *heard.lock().expect("lock"),
            vec![("d.x".to_string(), true), ("d.x".to_string(), false)]
        );
    }

    #[test]
    fn invalid_filters_are_refused() {
        let router = Router::new(None);
        for bad in ["", "a..b", "a.>.b", "a b"] {
            let (s, _) = sub(1, "1", bad, None);
            assert!(router.subscribe(s).is_err(), "{bad:?}");
        }
    }
}
