//! Per-user publish and subscribe permissions, as nats-server's `permissions { … }` block.
//!
//! The config ([`Permissions`]) is read once; each connection of a user with permissions gets a
//! [`ClientPerms`]: the same lists plus what nats-server keeps per client — a cache of publish
//! verdicts per subject (a publisher usually repeats a few subjects, so most checks are one map
//! lookup) and the reply subjects it may answer under `allow_responses`.
//!
//! Semantics follow nats-server's sublist matching: an entry is a filter, a subject is compared
//! token by token, and wildcard tokens in a SUB's subject are compared as text (an allow of
//! `foo.>` permits `SUB foo.*`, an allow of `foo.bar` does not). Deny wins over allow. A
//! wildcard subscription that is allowed but overlaps a deny entry gets the denied messages
//! filtered out at delivery, as nats-server does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::core::subject;

/// Publish verdicts cached per connection before the cache is emptied (nats-server keeps 128).
const PUB_CACHE_MAX: usize = 128;
/// Reply subjects remembered per connection for `allow_responses` before old ones are dropped.
const REPLIES_MAX: usize = 4096;

/// `allow` and `deny` lists for one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectPermission {
    /// Subjects allowed; `None` allows everything not denied, `Some([])` allows nothing.
    pub allow: Option<Vec<String>>,
    /// Subjects denied (wins over allow).
    pub deny: Vec<String>,
}

/// What `allow_responses` grants: publishing to reply subjects of received requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Responses allowed per request (nats-server's default: 1; negative: unlimited).
    pub max_msgs: i64,
    /// How long after the request a response is allowed (default 2 minutes; `None`: forever).
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: 1,
            expires: Some(Duration::from_secs(120)),
        }
    }
}

/// A user's permissions as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// What the user may publish to (`None`: anything).
    pub publish: Option<SubjectPermission>,
    /// What the user may subscribe to; entries may name a queue (`"subject queue"`).
    pub subscribe: Option<SubjectPermission>,
    /// Dynamic permission to answer requests the user received.
    pub response: Option<ResponsePermission>,
}

/// A subscribe permission entry: a filter and optionally the only queue group it covers.
#[derive(Debug, Clone)]
struct SubEntry {
    filter: String,
    queue: Option<String>,
}

impl SubEntry {
    fn parse(entry: &str) -> SubEntry {
        match entry.split_once(char::is_whitespace) {
            Some((filter, queue)) => SubEntry {
                filter: filter.to_string(),
                queue: Some(queue.trim().to_string()),
            },
            None => SubEntry {
                filter: entry.to_string(),
                queue: None,
            },
        }
    }
}

/// One connection's permissions, ready to check.
#[derive(Debug)]
pub struct ClientPerms {
    pub_allow: Option<Vec<String>>,
    pub_deny: Vec<String>,
    sub_allow: Option<Vec<SubEntry>>,
    sub_deny: Vec<SubEntry>,
    response: Option<ResponsePermission>,
    pub_cache: Mutex<HashMap<String, bool>>,
    /// Reply subjects of requests delivered to this client: when received and answers so far.
    replies: Mutex<HashMap<String, (Instant, i64)>>,
}

fn any_match(filters: &[String], subject: &str) -> bool {
    filters.iter().any(|f| subject::matches(f, subject))
}

/// Whether a plain entry matches `subject`, and the queue entries that do.
fn matching<'a>(entries: &'a [SubEntry], subject: &str) -> (bool, Vec<&'a SubEntry>) {
    let mut plain = false;
    let mut queued = Vec::new();
    for e in entries
        .iter()
        .filter(|e| subject::matches(&e.filter, subject))
    {
        match e.queue {
            None => plain = true,
            Some(_) => queued.push(e),
        }
    }
    (plain, queued)
}

/// Whether `queue` is named by a queue entry (literally, or by its wildcards).
fn queue_matches(queue: &str, entries: &[&SubEntry]) -> bool {
    entries.iter().any(|e| {
        e.queue
            .as_deref()
            .is_some_and(|q| q == queue || subject::matches(q, queue))
    })
}

impl ClientPerms {
    /// Compiles `perms` for one connection.
    pub fn new(perms: &Permissions) -> ClientPerms {
        let publish = perms.publish.clone().unwrap_or_default();
        let subscribe = perms.subscribe.clone().unwrap_or_default();
        ClientPerms {
            // nats-server builds an allow list only when one is configured (an empty one allows
            // nothing, which `allow_responses` relies on).
            pub_allow: perms.publish.as_ref().and(publish.allow),
            pub_deny: publish.deny,
            // For subscriptions, an empty allow list is no list at all (nats-server).
            sub_allow: subscribe
                .allow
                .filter(|a| !a.is_empty())
                .map(|a| a.iter().map(|e| SubEntry::parse(e)).collect()),
            sub_deny: subscribe.deny.iter().map(|e| SubEntry::parse(e)).collect(),
            response: perms.response,
            pub_cache: Mutex::new(HashMap::new()),
            replies: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the client may publish to `subject`.
    pub fn can_publish(&self, subject: &str) -> bool {
        if self.pub_allow.is_none() && self.pub_deny.is_empty() {
            return true;
        }
        let mut cache = self.pub_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&allowed) = cache.get(subject) {
            return allowed;
        }
        let allowed = self
            .pub_allow
            .as_ref()
            .is_none_or(|allow| any_match(allow, subject))
            && !any_match(&self.pub_deny, subject);
        if !allowed && self.response.is_some() {
            // A reply subject may be allowed now and not later: never cached (as nats-server).
            drop(cache);
            return self.response_allowed(subject);
        }
        if cache.len() >= PUB_CACHE_MAX {
            cache.clear();
        }
        cache.insert(subject.to_string(), allowed);
        allowed
    }

    /// Whether the client may subscribe to `subject` (in `queue`, if given).
    pub fn can_subscribe(&self, subject: &str, queue: Option<&str>) -> bool {
        let queue = queue.filter(|q| !q.is_empty());
        let mut allowed = true;
        if let Some(allow) = &self.sub_allow {
            let (plain, queued) = matching(allow, subject);
            allowed = plain;
            if let Some(q) = queue {
                if !queued.is_empty() {
                    allowed = queue_matches(q, &queued);
                }
            }
        }
        if allowed && !self.sub_deny.is_empty() {
            let (plain, queued) = matching(&self.sub_deny, subject);
            allowed = !plain;
            if let (true, Some(q)) = (allowed, queue) {
                if !queued.is_empty() {
                    allowed = !queue_matches(q, &queued);
                }
            }
        }
        allowed
    }

    /// Whether messages delivered to a subscription on `filter` need [`Self::deny_delivery`]:
    /// a wildcard or queue subscription that a deny entry may overlap.
    pub fn needs_delivery_filter(&self, filter: &str, queue: Option<&str>) -> bool {
        !self.sub_deny.is_empty() && (queue.is_some() || !subject::is_literal(filter))
    }

    /// Whether a message on `subject` must not reach this client's wildcard subscriptions.
    pub fn deny_delivery(&self, subject: &str) -> bool {
        self.sub_deny
            .iter()
            .any(|e| e.queue.is_none() && subject::matches(&e.filter, subject))
    }

    /// Whether this client tracks reply subjects of what it receives.
    pub fn tracks_replies(&self) -> bool {
        self.response.is_some()
    }

    /// Remembers that a request with reply subject `reply` was delivered to this client.
    pub fn note_reply(&self, reply: &str) {
        if self.response.is_none() {
            return;
        }
        let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        if replies.len() >= REPLIES_MAX {
            self.prune(&mut replies);
        }
        replies.insert(reply.to_string(), (Instant::now(), 0));
    }

    /// Drops expired replies; if still full, the oldest half.
    fn prune(&self, replies: &mut HashMap<String, (Instant, i64)>) {
        if let Some(ttl) = self.response.and_then(|r| r.expires) {
            replies.retain(|_, (at, _)| at.elapsed() <= ttl);
        }
        if replies.len() >= REPLIES_MAX {
            let mut ages: Vec<Instant> = replies.values().map(|(at, _)| *at).collect();
            ages.sort();
            let cutoff = ages[ages.len() / 2];
            replies.retain(|_, (at, _)| *at > cutoff);
        }
    }

    fn response_allowed(&self, subject: &str) -> bool {
        let Some(rp) = self.response else {
            return false;
        };
        let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        let Some((at, n)) = replies.get_mut(subject) else {
            return false;
        };
        *n += 1;
        let too_many = rp.max_msgs > 0 && *n > rp.max_msgs;
        let expired = rp.expires.is_some_and(|ttl| at.elapsed() > ttl);
        if too_many || expired {
            replies.remove(subject);
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(
        publish: Option<SubjectPermission>,
        subscribe: Option<SubjectPermission>,
    ) -> ClientPerms {
        ClientPerms::new(&Permissions {
            publish,
            subscribe,
            response: None,
        })
    }

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn deny_wins_over_allow_and_wildcards_match_as_nats_server() {
        let p = perms(
            Some(SubjectPermission {
                allow: Some(list(&["orders.>", "_INBOX.>"])),
                deny: list(&["orders.secret.*"]),
            }),
            None,
        );
        assert!(p.can_publish("orders.new"));
        assert!(p.can_publish("orders.a.b"));
        assert!(!p.can_publish("orders.secret.x"));
        assert!(!p.can_publish("orders"));
        assert!(!p.can_publish("billing.new"));
        // Cached verdicts stay the same.
        assert!(!p.can_publish("orders.secret.x"));
        assert!(p.can_publish("orders.new"));
    }

    #[test]
    fn a_deny_on_the_js_api_stops_subscribing_to_it() {
        let p = perms(
            None,
            Some(SubjectPermission {
                allow: None,
                deny: list(&["$JS.API.>"]),
            }),
        );
        assert!(!p.can_subscribe("$JS.API.>", None));
        assert!(!p.can_subscribe("$JS.API.STREAM.NAMES", None));
        assert!(p.can_subscribe("foo", None));
        // `>` is allowed, but what the deny covers is filtered out at delivery.
        assert!(p.can_subscribe(">", None));
        assert!(p.needs_delivery_filter(">", None));
        assert!(p.deny_delivery("$JS.API.STREAM.CREATE.X"));
        assert!(!p.deny_delivery("foo"));
    }

    #[test]
    fn subscribe_allow_compares_wildcards_as_text() {
        let p = perms(
            None,
            Some(SubjectPermission {
                allow: Some(list(&["foo.>", "bar.baz"])),
                deny: Vec::new(),
            }),
        );
        assert!(p.can_subscribe("foo.*", None));
        assert!(p.can_subscribe("foo.>", None));
        assert!(p.can_subscribe("bar.baz", None));
        assert!(!p.can_subscribe("bar.*", None));
        assert!(!p.can_subscribe(">", None));
    }

    #[test]
    fn queue_entries_limit_the_groups() {
        let p = perms(
            None,
            Some(SubjectPermission {
                allow: Some(list(&["work.* workers", "work.* v1.*"])),
                deny: list(&["work.x bad"]),
            }),
        );
        assert!(p.can_subscribe("work.a", Some("workers")));
        assert!(p.can_subscribe("work.a", Some("v1.blue")));
        assert!(!p.can_subscribe("work.a", Some("others")));
        assert!(!p.can_subscribe("work.a", None));
        assert!(!p.can_subscribe("work.x", Some("bad")));
    }

    #[test]
    fn an_empty_publish_allow_list_allows_nothing() {
        let p = perms(
            Some(SubjectPermission {
                allow: Some(Vec::new()),
                deny: Vec::new(),
            }),
            None,
        );
        assert!(!p.can_publish("anything"));
    }

    #[test]
    fn allow_responses_permits_one_reply_per_request() {
        let p = ClientPerms::new(&Permissions {
            publish: Some(SubjectPermission {
                allow: Some(Vec::new()),
                deny: Vec::new(),
            }),
            subscribe: None,
            response: Some(ResponsePermission::default()),
        });
        assert!(!p.can_publish("_INBOX.abc"));
        p.note_reply("_INBOX.abc");
        assert!(p.can_publish("_INBOX.abc"));
        assert!(
            !p.can_publish("_INBOX.abc"),
            "the default allows one response"
        );
        assert!(!p.can_publish("_INBOX.other"));
    }
}
