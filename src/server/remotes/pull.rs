//! Pull consumers and acks through a link, as a leaf node carries them: a forwarded request
//! whose replies are many (`CONSUMER.MSG.NEXT`, `+NXT` on an ack subject) has every message the
//! far server sends relayed to the client's reply subject until the pull request ends, and each
//! relayed message's ack subject is rewritten into a form the link owns, so the client's ack
//! goes back over the link instead of to the local engine (which takes `$JS.ACK.>`).
//!
//! The ack form is ADR-15's second one, which clients parse as they parse the first:
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (what nats-server
//! and Contrail send) becomes `$JS.ACK.<domain>.<LINK_ACK_MARK>.<the same 7 tokens>.0`, the
//! domain being the link's local one. No table is kept: the subject carries all it needs, and
//! the original is restored when the ack leaves over the link.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::super::link::LinkCallError;
use super::super::outbox::FlushList;
use super::super::router::{MsgView, Router};
use crate::core::headers::Headers;
use crate::core::message::Message;

/// The account-hash token of an ack subject rewritten by a link.
pub const LINK_ACK_MARK: &str = "_link_";

/// Replies a relay holds for its client before the far server's next ones are dropped (the
/// consumer redelivers what was not acked, as after a slow consumer).
pub const RELAY_QUEUE: usize = 256;

/// How long a pull request's relay outlives its `expires`: the far server's 408 comes then.
const EXPIRES_MARGIN: Duration = Duration::from_secs(2);

/// How long a relay of a pull request without `expires` may last (it ends sooner when the
/// client's interest in the reply subject goes).
const NO_EXPIRES_LIMIT: Duration = Duration::from_secs(3600);

/// How often a relay checks that its client still listens.
const INTEREST_CHECK: Duration = Duration::from_secs(1);

/// What a pull request asks for, as far as its relay cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pull {
    /// Messages it ends after.
    pub batch: u64,
    /// How long the relay may last.
    pub lasts: Duration,
}

impl Pull {
    /// A `MSG.NEXT` body (empty, a number, or JSON with `batch`, `expires` in nanoseconds,
    /// `no_wait`), or what follows `+NXT` in an ack. Anything unreadable counts as one
    /// message for a short while: the far server answers it, with an error if need be.
    pub fn parse(body: &[u8]) -> Pull {
        let text = std::str::from_utf8(body).unwrap_or("").trim();
        let one = Pull {
            batch: 1,
            lasts: super::REQUEST_TIMEOUT,
        };
        if text.is_empty() {
            return one;
        }
        if let Ok(batch) = text.parse::<u64>() {
            return Pull {
                batch: batch.max(1),
                ..one
            };
        }
        let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
            return one;
        };
        let batch = json
            .get("batch")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        let expires = json
            .get("expires")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let no_wait = json
            .get("no_wait")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let lasts = if expires > 0 {
            Duration::from_nanos(expires)
                .saturating_add(EXPIRES_MARGIN)
                .min(NO_EXPIRES_LIMIT)
        } else if no_wait {
            super::REQUEST_TIMEOUT
        } else {
            NO_EXPIRES_LIMIT
        };
        Pull {
            batch: batch.max(1),
            lasts,
        }
    }

    /// The pull a forwarded request makes, if its replies are many: `far_subject` is its
    /// subject at the far server.
    pub fn of_request(far_subject: &str, remote_api: &str, payload: &[u8]) -> Option<Pull> {
        let rest = far_subject.strip_prefix(remote_api)?;
        if rest.starts_with(".CONSUMER.MSG.NEXT.") {
            return Some(Pull::parse(payload));
        }
        None
    }

    /// The pull an ack makes (`+NXT`, with its own reply), if it is one.
    pub fn of_ack(far_subject: &str, payload: &[u8]) -> Option<Pull> {
        if !far_subject.starts_with("$JS.ACK.") {
            return None;
        }
        payload.strip_prefix(b"+NXT").map(Pull::parse)
    }
}

/// `reply` rewritten into the link-owned ack form, when it is a first-form `$JS.ACK` subject.
pub fn own_ack(reply: &str, domain: &str) -> Option<String> {
    let rest = reply.strip_prefix("$JS.ACK.")?;
    (rest.split('.').count() == 7).then(|| format!("$JS.ACK.{domain}.{LINK_ACK_MARK}.{rest}.0"))
}

/// The far server's ack subject for a link-owned one (`$JS.ACK.<domain>.` already matched and
/// stripped: `rest` is what follows).
pub fn far_ack(rest: &str) -> Option<String> {
    let tokens = rest.strip_prefix(LINK_ACK_MARK)?.strip_prefix('.')?;
    let mut parts: Vec<&str> = tokens.split('.').collect();
    if parts.len() != 8 {
        return None;
    }
    parts.pop();
    Some(format!("$JS.ACK.{}", parts.join(".")))
}

/// Delivers one reply to the client's reply subject, its ack subject rewritten; returns how
/// many subscriptions took it.
pub fn deliver(router: &Router, reply: &str, answer: &Message, domain: Option<&str>) -> usize {
    let owned = domain.and_then(|d| answer.reply.as_deref().and_then(|r| own_ack(r, d)));
    let view = MsgView {
        subject: reply,
        reply: owned.as_deref().or(answer.reply.as_deref()),
        headers: answer.headers.as_deref(),
        payload: &answer.payload,
    };
    let mut flush = FlushList::new();
    let taken = router.deliver(reply, None, &view, None, None, &mut flush);
    flush.flush();
    taken
}

/// One pull request's relay: what its replies channel gets goes to the client until the pull
/// ends. Dropping the receiver at the end tells the link to stop taking its replies.
pub struct Relay {
    /// The client's reply subject.
    pub reply: String,
    /// The link's local domain (for the ack rewrite).
    pub domain: Option<String>,
    /// What the request asked.
    pub pull: Pull,
    /// The client, and whether it takes 503 statuses.
    pub client: (u64, bool),
    /// The link's slot this relay holds.
    pub permit: OwnedSemaphorePermit,
}

impl Relay {
    /// Runs until the pull ends: its batch delivered, a 404/408/409 status, its time up, the
    /// client no longer listening, or the link giving up on the request.
    pub async fn run(self, router: Arc<Router>, mut replies: mpsc::Receiver<Relayed>) {
        let deadline = tokio::time::Instant::now() + self.pull.lasts;
        let mut check = tokio::time::interval(INTEREST_CHECK);
        check.tick().await; // the first tick is immediate
        let mut delivered = 0u64;
        let mut relayed_any = false;
        loop {
            tokio::select! {
                next = replies.recv() => match next {
                    Some(Ok(answer)) => {
                        relayed_any = true;
                        let status = status_of(&answer);
                        if deliver(&router, &self.reply, &answer, self.domain.as_deref()) == 0 {
                            break; // nobody listens any more
                        }
                        match status {
                            Some(404 | 408 | 409) => break,
                            Some(_) => {} // heartbeats and the like
                            None => {
                                delivered += 1;
                                if delivered >= self.pull.batch {
                                    break;
                                }
                            }
                        }
                    }
                    Some(Err(err)) => {
                        let (client, no_responders) = self.client;
                        if !relayed_any && no_responders && super::unserved(&err) {
                            super::no_responders(&router, &self.reply, client);
                        }
                        break;
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
                _ = check.tick() => if !router.has_interest(&self.reply) {
                    break;
                },
            }
        }
        drop(replies);
        drop(self.permit);
    }
}

/// A status message's code (an empty payload with a `NATS/1.0 <code>` header line).
fn status_of(msg: &Message) -> Option<u16> {
    if !msg.payload.is_empty() {
        return None;
    }
    Headers::parse(msg.headers.as_deref()?).ok()?.status_code()
}

/// What a relay receives: a reply, or why the link gave up on the request (last).
type Relayed = Result<Message, LinkCallError>;

/// A channel for a relay's replies.
pub fn channel() -> (mpsc::Sender<Relayed>, mpsc::Receiver<Relayed>) {
    mpsc::channel(RELAY_QUEUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_bodies_give_their_batch_and_lifetime() {
        assert_eq!(Pull::parse(b"").batch, 1);
        assert_eq!(Pull::parse(b"7").batch, 7);
        let pull = Pull::parse(br#"{"batch":10,"expires":3000000000}"#);
        assert_eq!(pull.batch, 10);
        assert_eq!(pull.lasts, Duration::from_secs(5));
        assert_eq!(Pull::parse(br#"{"batch":2}"#).lasts, NO_EXPIRES_LIMIT);
        assert_eq!(
            Pull::parse(br#"{"batch":2,"no_wait":true}"#).lasts,
            super::super::REQUEST_TIMEOUT
        );
        assert_eq!(Pull::parse(b"{not json").batch, 1);
        assert_eq!(
            Pull::of_ack("$JS.ACK.S.C.1.2.3.4.5", br#"+NXT {"batch":3}"#).map(|p| p.batch),
            Some(3)
        );
        assert_eq!(Pull::of_ack("$JS.ACK.S.C.1.2.3.4.5", b"+ACK"), None);
        assert!(Pull::of_request("$JS.API.CONSUMER.MSG.NEXT.S.C", "$JS.API", b"").is_some());
        assert!(Pull::of_request("$JS.API.CONSUMER.INFO.S.C", "$JS.API", b"").is_none());
    }

    #[test]
    fn ack_subjects_go_round_trip_through_the_link_form() {
        let far = "$JS.ACK.ORDERS.worker.1.5.5.1700000000000000000.4";
        let owned = own_ack(far, "hub").expect("first form");
        assert_eq!(
            owned,
            "$JS.ACK.hub._link_.ORDERS.worker.1.5.5.1700000000000000000.4.0"
        );
        let rest = owned.strip_prefix("$JS.ACK.hub.").expect("prefix");
        assert_eq!(far_ack(rest).as_deref(), Some(far));
        // Not the first form, or not ours: left alone.
        assert_eq!(own_ack("_INBOX.x", "hub"), None);
        assert_eq!(own_ack("$JS.ACK.a.b.c", "hub"), None);
        assert_eq!(far_ack("abcdef.S.C.1.2.3.4.5.0"), None);
    }
}
