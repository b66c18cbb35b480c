//! Requests over the link's inbox: one wildcard subscription, replies muxed by id.

use super::*;

#[test]
fn requests_share_one_inbox_subscription_and_replies_find_their_request() {
    let mut h = Harness::new(config());
    h.connect();
    let one = h
        .link
        .request(Message::new("svc.a", "1"), SECONDS, h.now)
        .unwrap();
    let two = h
        .link
        .request(Message::new("svc.b", "2"), SECONDS, h.now)
        .unwrap();
    let sent = h.sent();
    assert_eq!(
        sent,
        "SUB _INBOX.t.* 1\r\nPUB svc.a _INBOX.t.1 1\r\n1\r\nPUB svc.b _INBOX.t.2 1\r\n2\r\n"
    );
    h.feed(
        "MSG _INBOX.t.2 1 3\r\ntwo\r\nMSG _INBOX.t.1 1 3\r\none\r\nMSG _INBOX.t.1 1 4\r\nlate\r\n",
    );
    let events = h.events();
    assert!(
        matches!(&events[..], [
        LinkEvent::Reply { id: a, msg: ma },
        LinkEvent::Reply { id: b, msg: mb },
    ] if *a == two && &ma.payload[..] == b"two" && *b == one && &mb.payload[..] == b"one"),
        "{events:?}"
    );
}

#[test]
fn no_responders_timeouts_and_disconnects_fail_requests() {
    let mut h = Harness::new(config());
    h.connect();
    let nobody = h
        .link
        .request(Message::new("nobody", ""), SECONDS, h.now)
        .unwrap();
    h.feed("HMSG _INBOX.t.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    assert_eq!(
        h.events(),
        vec![LinkEvent::RequestFailed {
            id: nobody,
            error: RequestError::NoResponders
        }]
    );
    let slow = h
        .link
        .request(Message::new("slow", ""), SECONDS, h.now)
        .unwrap();
    assert_eq!(h.link.poll_timeout(), Some(h.now + SECONDS));
    h.advance(SECONDS);
    assert_eq!(
        h.events(),
        vec![LinkEvent::RequestFailed {
            id: slow,
            error: RequestError::TimedOut
        }]
    );
    let cut = h
        .link
        .request(Message::new("cut", ""), SECONDS, h.now)
        .unwrap();
    h.link.transport_closed("reset", h.now);
    let events = h.events();
    assert_eq!(
        events[0],
        LinkEvent::RequestFailed {
            id: cut,
            error: RequestError::Disconnected
        }
    );
    assert_eq!(
        h.link.request(Message::new("x", ""), SECONDS, h.now),
        Err(LinkError::NotConnected)
    );
    // The inbox subscription comes back with the others.
    h.wait_for_dial();
    assert_eq!(h.connect(), "SUB _INBOX.t.* 1\r\n");
}

#[test]
fn pending_requests_are_bounded() {
    let mut h = Harness::new(LinkConfig {
        max_pending_requests: 2,
        ..config()
    });
    h.connect();
    h.link
        .request(Message::new("a", ""), SECONDS, h.now)
        .unwrap();
    h.link
        .request(Message::new("a", ""), SECONDS, h.now)
        .unwrap();
    assert_eq!(
        h.link.request(Message::new("a", ""), SECONDS, h.now),
        Err(LinkError::TooManyRequests(2))
    );
}

#[test]
fn the_default_inbox_is_random_per_seed() {
    let a = Link::new(
        LinkConfig {
            seed: 1,
            ..LinkConfig::default()
        },
        T0,
    );
    let b = Link::new(
        LinkConfig {
            seed: 2,
            ..LinkConfig::default()
        },
        T0,
    );
    assert!(a.inbox_prefix().starts_with("_INBOX."));
    assert_eq!(a.inbox_prefix().len(), "_INBOX.".len() + 22);
    assert_ne!(a.inbox_prefix(), b.inbox_prefix());
}

#[test]
fn a_request_of_many_replies_takes_them_all_on_its_own_subscription_until_it_ends() {
    let mut h = Harness::new(config());
    h.connect();
    let pull = h
        .link
        .request_many(
            Message::new("$JS.API.CONSUMER.MSG.NEXT.S.C", "2"),
            SECONDS,
            h.now,
        )
        .unwrap();
    // Its own subscription (a pull's messages keep their stream subjects), outside `_INBOX.t.*`.
    assert_eq!(
        h.sent(),
        "SUB _INBOX.t.* 1\r\nSUB _INBOX.t.m.1 2\r\nPUB $JS.API.CONSUMER.MSG.NEXT.S.C _INBOX.t.m.1 1\r\n2\r\n"
    );
    h.feed("MSG s.a 2 $JS.ACK.S.C.1.1.1.0.1 1\r\na\r\nMSG s.b 2 $JS.ACK.S.C.1.2.2.0.0 1\r\nb\r\n");
    let events = h.events();
    assert!(
        matches!(&events[..], [
            LinkEvent::Reply { id: a, msg: ma },
            LinkEvent::Reply { id: b, msg: mb },
        ] if *a == pull && *b == pull && ma.subject == "s.a" && mb.subject == "s.b"
            && ma.reply.as_deref() == Some("$JS.ACK.S.C.1.1.1.0.1")),
        "{events:?}"
    );
    // Ended by its owner: unsubscribed, and what comes after is dropped.
    h.link.end_request(pull);
    assert_eq!(h.sent(), "UNSUB 2\r\n");
    h.feed("MSG s.c 2 1\r\nc\r\n");
    assert_eq!(h.events(), vec![]);

    // Ended by its deadline: a timeout, and unsubscribed.
    let slow = h
        .link
        .request_many(Message::new("slow", ""), SECONDS, h.now)
        .unwrap();
    h.sent();
    h.advance(SECONDS);
    assert_eq!(
        h.events(),
        vec![LinkEvent::RequestFailed {
            id: slow,
            error: RequestError::TimedOut
        }]
    );
    assert!(h.sent().contains("UNSUB 3\r\n"));

    // Ended by the connection: not restored on the next one.
    let cut = h
        .link
        .request_many(Message::new("cut", ""), SECONDS, h.now)
        .unwrap();
    h.link.transport_closed("reset", h.now);
    assert_eq!(
        h.events()[0],
        LinkEvent::RequestFailed {
            id: cut,
            error: RequestError::Disconnected
        }
    );
    h.wait_for_dial();
    assert_eq!(h.connect(), "SUB _INBOX.t.* 1\r\n");
}
