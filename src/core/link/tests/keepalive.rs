//! PING/PONG both ways and stale-connection detection.

use super::*;

#[test]
fn a_server_ping_is_answered_with_pong() {
    let mut h = Harness::new(config());
    h.connect();
    h.feed("PING\r\n");
    assert_eq!(h.sent(), "PONG\r\n");
}

#[test]
fn the_link_pings_every_interval_and_a_pong_keeps_it_alive() {
    let mut h = Harness::new(config());
    h.connect();
    assert_eq!(h.link.poll_timeout(), Some(h.now + 10 * SECONDS));
    for _ in 0..5 {
        h.advance(10 * SECONDS);
        assert_eq!(h.sent(), "PING\r\n");
        h.feed("PONG\r\n");
    }
    assert_eq!(h.link.state(), LinkState::Connected);
    assert!(h.events().is_empty());
}

#[test]
fn max_pings_out_unanswered_means_stale() {
    let mut h = Harness::new(config());
    h.connect();
    h.advance(10 * SECONDS);
    h.advance(10 * SECONDS);
    assert_eq!(h.sent(), "PING\r\nPING\r\n");
    assert_eq!(
        h.link.state(),
        LinkState::Connected,
        "two out is still allowed"
    );
    h.advance(10 * SECONDS);
    assert_eq!(
        h.events(),
        vec![LinkEvent::Disconnected(DisconnectReason::StaleConnection)]
    );
    assert_eq!(h.transports(), vec![TransportCommand::Close]);
    assert!(matches!(h.link.state(), LinkState::Waiting { .. }));
}
