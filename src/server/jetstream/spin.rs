//! When the engine thread looks for its next events before parking.
//!
//! A request that waits for its reply (a publisher awaiting each PubAck) pays for every thread
//! wake-up on its path. nats-server handles a publish in the goroutine that read it; here the
//! connection hands it to the engine thread, and waking a parked thread (a futex, and on a VM an
//! interrupt to an idle vCPU) costs about as much as the rest of the round trip. So after a turn
//! that handled events the thread polls its channel for a short while ([`SPIN`]) before it parks,
//! and a publisher that answers each reply at once finds it awake (never past the engine's next
//! timer: a redelivery or a pull request's expiry is not kept waiting by a poll). Measured on 2
//! cores with the benchmark's client (interleaved A/B): sync publish to a memory stream
//! 8-10k/s before, 19-23k/s after; to a file stream 0.54-0.72 of the device's append +
//! fdatasync rate before, 0.77-0.93 after; async publish, pull consume and mirror catch-up
//! unchanged within noise.
//!
//! The poll yields the CPU between looks (`sched_yield`), so a connection's task or a client on
//! the same core runs first: polling with a bare spin loop took 15-20% off async publish, whose
//! connections need that core. It still keeps the core busy when nothing else wants it, so it is
//! adaptive, as a spin-then-park lock is: the thread polls only when the last event came within
//! the window of the turn before it (the gap is measured from the end of that turn, poll
//! included). A server whose events come further apart than [`SPIN`] polls at most once and
//! then parks; one whose events come closer polls at most the gaps between them.

use std::time::Duration;

/// How long the thread polls for the next event after a turn, while events come this close.
pub(super) const SPIN: Duration = Duration::from_micros(200);

/// Whether the next wait polls first.
#[derive(Debug, Default)]
pub(super) struct Spin {
    hot: bool,
}

impl Spin {
    /// Whether to poll before parking, after a turn that handled events (`handled`).
    pub fn should_poll(&self, handled: bool) -> bool {
        self.hot && handled
    }

    /// An event came `gap` after the turn before it ended (polled for or parked for).
    pub fn waited(&mut self, gap: Duration) {
        self.hot = gap < SPIN;
    }
}

/// Polls `ready`, yielding the CPU between looks, until it says an event waits or [`SPIN`] has
/// passed, or `due` (the engine's next timer) has; whether one came. A timer is never kept
/// waiting by a poll.
pub(super) fn poll_for(due: Duration, ready: impl Fn() -> bool) -> bool {
    let until = std::time::Instant::now() + SPIN.min(due);
    loop {
        if ready() {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_thread_parks_at_once() {
        let mut spin = Spin::default();
        assert!(!spin.should_poll(true));
        spin.waited(Duration::from_millis(5));
        assert!(!spin.should_poll(true));
    }

    #[test]
    fn events_that_come_close_make_it_poll_until_one_does_not() {
        let mut spin = Spin::default();
        spin.waited(Duration::from_micros(80));
        assert!(spin.should_poll(true));
        assert!(
            !spin.should_poll(false),
            "a turn that handled nothing parks"
        );
        spin.waited(SPIN + Duration::from_micros(50));
        assert!(
            !spin.should_poll(true),
            "an event that came just after a poll gave up does not start polling again"
        );
    }

    #[test]
    fn a_poll_ends_when_nothing_comes() {
        let calls = std::cell::Cell::new(0u32);
        assert!(!poll_for(SPIN, || {
            calls.set(calls.get() + 1);
            false
        }));
        assert!(calls.get() > 1);
        assert!(poll_for(SPIN, || true));
    }

    #[test]
    fn a_due_timer_ends_a_poll() {
        let calls = std::cell::Cell::new(0u32);
        assert!(!poll_for(Duration::ZERO, || {
            calls.set(calls.get() + 1);
            false
        }));
        assert_eq!(calls.get(), 1, "a timer due now is not kept waiting");
    }
}
