//! Pull requests nobody listens to any more: dropped rather than served or counted, as
//! nats-server drops them, when the shell answers for reply subjects; kept without an answer.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use super::support::*;
use crate::core::consumer::{Consumer, PullRequest, ReplyInterest};
use crate::core::store::memory::MemoryStore;

/// The inboxes someone listens on; tests add and remove them as clients come and go.
#[derive(Clone, Default)]
struct Listeners(Rc<RefCell<BTreeSet<String>>>);

impl Listeners {
    fn of(inboxes: &[&str]) -> Self {
        let listeners = Listeners::default();
        for inbox in inboxes {
            listeners.listen(inbox);
        }
        listeners
    }

    fn listen(&self, inbox: &str) {
        self.0.borrow_mut().insert(inbox.to_string());
    }

    fn leave(&self, inbox: &str) {
        self.0.borrow_mut().remove(inbox);
    }

    fn interest(&self) -> ReplyInterest {
        let set = Rc::clone(&self.0);
        ReplyInterest::new(Rc::new(move |reply: &str| set.borrow().contains(reply)))
    }
}

fn waiting_for(inbox: &str, c: &mut Consumer, store: &MemoryStore, batch: usize) {
    let req = PullRequest {
        batch,
        expires: secs(30),
        ..Default::default()
    };
    let out = request(c, store, req, inbox, T0);
    assert!(out.is_empty(), "nothing to send yet: {out:?}");
}

#[test]
fn a_message_goes_to_the_live_request_and_the_abandoned_one_is_not_counted() {
    let mut store = store_n(0);
    let mut c = consumer(&store, pull_config("d"));
    let listeners = Listeners::of(&["inbox.a", "inbox.b"]);
    c.set_reply_interest(listeners.interest());
    waiting_for("inbox.a", &mut c, &store, 1);
    waiting_for("inbox.b", &mut c, &store, 1);
    assert_eq!(c.info(&store, T0).num_waiting, 2);

    listeners.leave("inbox.a");
    assert_eq!(
        c.info(&store, T0).num_waiting,
        1,
        "A's request is abandoned"
    );

    publish(&mut store, "orders.new", T0 + secs(1));
    let out = poll(&mut c, &store, T0 + secs(1));
    let to: Vec<&str> = out.iter().map(|o| o.to.as_str()).collect();
    assert_eq!(
        to,
        vec!["inbox.b"],
        "only the live request gets the message"
    );
    assert_eq!(seqs(&out), vec![1]);
    assert_eq!(c.info(&store, T0 + secs(1)).num_waiting, 0);

    // A's request is gone, not merely skipped: the next message waits for a new request.
    publish(&mut store, "orders.new", T0 + secs(2));
    assert!(poll(&mut c, &store, T0 + secs(2)).is_empty());
    listeners.listen("inbox.a");
    assert_eq!(c.info(&store, T0 + secs(2)).num_waiting, 0);
}

#[test]
fn without_an_oracle_every_request_is_presumed_listened_to() {
    let mut store = store_n(0);
    let mut c = consumer(&store, pull_config("d"));
    waiting_for("inbox.a", &mut c, &store, 1);
    waiting_for("inbox.b", &mut c, &store, 1);
    publish(&mut store, "orders.new", T0 + secs(1));
    let out = poll(&mut c, &store, T0 + secs(1));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to, "inbox.a", "the first request, as before");
    assert_eq!(c.info(&store, T0 + secs(1)).num_waiting, 1);
}

#[test]
fn an_abandoned_request_gets_no_heartbeat_and_leaves() {
    let store = store_n(0);
    let mut c = consumer(&store, pull_config("d"));
    let listeners = Listeners::of(&["inbox.a", "inbox.b"]);
    c.set_reply_interest(listeners.interest());
    for inbox in ["inbox.a", "inbox.b"] {
        let req = PullRequest {
            batch: 1,
            expires: secs(30),
            idle_heartbeat: secs(1),
            ..Default::default()
        };
        assert!(request(&mut c, &store, req, inbox, T0).is_empty());
    }
    listeners.leave("inbox.a");
    let out = poll(&mut c, &store, T0 + secs(1));
    let to: Vec<&str> = out.iter().map(|o| o.to.as_str()).collect();
    assert_eq!(to, vec!["inbox.b"], "a heartbeat for the live request only");
    listeners.listen("inbox.a");
    assert_eq!(
        c.info(&store, T0 + secs(1)).num_waiting,
        1,
        "A's request left"
    );
}

#[test]
fn no_wait_counts_only_what_live_requests_want() {
    let mut store = store_n(0);
    let mut c = consumer(&store, pull_config("d"));
    let listeners = Listeners::of(&["inbox.a", "inbox.b"]);
    c.set_reply_interest(listeners.interest());
    waiting_for("inbox.a", &mut c, &store, 5);
    listeners.leave("inbox.a");
    // Stored without a poll: the abandoned request is still queued when B asks.
    publish(&mut store, "orders.new", T0 + secs(1));
    let req = PullRequest {
        batch: 1,
        no_wait: true,
        ..Default::default()
    };
    let out = request(&mut c, &store, req, "inbox.b", T0 + secs(1));
    assert!(
        statuses(&out).is_empty(),
        "no 408 Requests Pending: {out:?}"
    );
    assert_eq!(seqs(&out), vec![1]);
    assert_eq!(out[0].to, "inbox.b");
}

#[test]
fn an_abandoned_request_does_not_keep_a_consumer_alive() {
    let store = store_n(0);
    let mut config = pull_config("d");
    config.inactive_threshold = secs(5);
    let mut c = consumer(&store, config);
    let listeners = Listeners::of(&["inbox.a"]);
    c.set_reply_interest(listeners.interest());
    waiting_for("inbox.a", &mut c, &store, 1);
    assert!(!c.is_inactive(T0 + secs(6)), "a live request keeps it");
    listeners.leave("inbox.a");
    assert!(c.is_inactive(T0 + secs(6)), "an abandoned one does not");
}
