//! Push consumers deliver only while their deliver subject has subscribers; the shell says when
//! that changes. Subscriptions come and go far more often than consumers, so each change must
//! cost O(consumers on that subject), never O(streams): consumers are indexed by deliver subject.
//!
//! A shell that can answer "does this subject have subscribers?" at any moment (the server's
//! router) installs it with [`Engine::set_interest_oracle`] and then only needs to report changes
//! of subjects some consumer delivers to ([`Engine::has_deliver_subject`]). A shell without one
//! (the browser) reports every subject, and the engine remembers which have subscribers.
//! Pull consumers ask the same oracle whether a waiting request's reply subject is still
//! listened to (`consumer/abandoned.rs`); without one, every request is presumed listened to.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::Engine;
use crate::core::consumer::{Consumer, ReplyInterest, SharedOracle};
use crate::core::subject;
use crate::core::time::Nanos;

/// Answers whether a subject has subscribers now.
pub type InterestOracle = Box<dyn Fn(&str) -> bool>;

/// Which consumers deliver where, and which subjects have subscribers.
#[derive(Default)]
pub(crate) struct PushInterest {
    /// Subjects reported as having subscribers (used when no oracle is installed).
    active: BTreeSet<String>,
    /// Deliver subject → (stream, consumer) of every push consumer delivering there.
    by_deliver: BTreeMap<String, BTreeSet<(String, String)>>,
    oracle: Option<SharedOracle>,
}

impl PushInterest {
    /// Whether `deliver` has subscribers, as far as the engine knows.
    pub(crate) fn has_subscribers(&self, deliver: &str) -> bool {
        match &self.oracle {
            Some(oracle) => oracle(deliver),
            None => self.active.contains(deliver),
        }
    }

    /// The oracle's answer for `subject`, or `None` when the shell installed none.
    pub(crate) fn oracle_says(&self, subject: &str) -> Option<bool> {
        self.oracle.as_ref().map(|oracle| oracle(subject))
    }

    /// What a pull consumer asks whether a request's reply subject is still listened to.
    pub(crate) fn reply_interest(&self) -> ReplyInterest {
        self.oracle
            .as_ref()
            .map(|oracle| ReplyInterest::new(Rc::clone(oracle)))
            .unwrap_or_default()
    }

    /// Lets `consumer` ask the oracle about its pull requests' reply subjects.
    pub(crate) fn attach(&self, consumer: &mut Consumer) {
        consumer.set_reply_interest(self.reply_interest());
    }

    /// Records that consumer `name` of `stream` delivers to `deliver`.
    pub(crate) fn add(&mut self, deliver: Option<&str>, stream: &str, name: &str) {
        if let Some(deliver) = deliver.filter(|d| !d.is_empty()) {
            self.by_deliver
                .entry(deliver.to_string())
                .or_default()
                .insert((stream.to_string(), name.to_string()));
        }
    }

    /// Forgets that consumer `name` of `stream` delivers to `deliver`.
    pub(crate) fn remove(&mut self, deliver: Option<&str>, stream: &str, name: &str) {
        let Some(deliver) = deliver.filter(|d| !d.is_empty()) else {
            return;
        };
        if let Some(set) = self.by_deliver.get_mut(deliver) {
            set.remove(&(stream.to_string(), name.to_string()));
            if set.is_empty() {
                self.by_deliver.remove(deliver);
            }
        }
    }
}

impl Engine {
    /// Installs the shell's live answer to "does this subject have subscribers?"; a push consumer
    /// created later asks it instead of the subjects reported through [`Engine::set_interest`],
    /// and every pull consumer asks it whether a waiting request is still listened to.
    pub fn set_interest_oracle(&mut self, oracle: InterestOracle) {
        self.interest.oracle = Some(Rc::from(oracle));
        let interest = self.interest.reply_interest();
        for slot in self.streams.values_mut() {
            for consumer in slot.consumers.values_mut() {
                consumer.set_reply_interest(interest.clone());
            }
        }
    }

    /// Whether some push consumer delivers to exactly `subject`.
    pub fn has_deliver_subject(&self, subject: &str) -> bool {
        self.interest.by_deliver.contains_key(subject)
    }

    /// Every subject some push consumer delivers to, sorted.
    pub fn deliver_subjects(&self) -> impl Iterator<Item = &str> {
        self.interest.by_deliver.keys().map(String::as_str)
    }

    /// Deliver subjects that a subscription on `filter` (literal or wildcard) would cover.
    pub fn deliver_subjects_matching(&self, filter: &str) -> Vec<String> {
        if subject::is_literal(filter) {
            return self
                .has_deliver_subject(filter)
                .then(|| filter.to_string())
                .into_iter()
                .collect();
        }
        self.deliver_subjects()
            .filter(|d| subject::matches(filter, d))
            .map(str::to_string)
            .collect()
    }

    /// Tells the engine whether `deliver_subject` has subscribers; push consumers deliver only
    /// while it does. Costs O(consumers delivering there).
    pub fn set_interest(&mut self, deliver_subject: &str, active: bool, now: Nanos) {
        if active {
            if !self.interest.active.contains(deliver_subject) {
                self.interest.active.insert(deliver_subject.to_string());
            }
        } else {
            self.interest.active.remove(deliver_subject);
        }
        self.push_interest(deliver_subject, active, now);
    }

    /// Starts or stops the push consumers delivering to `deliver_subject`, without recording
    /// it as the shell's: the engine's own subscriptions (a mirror's deliver subject) are
    /// interest only while they last, so a stopped mirror's consumer must not stay active on
    /// a record of them.
    pub(crate) fn push_interest(&mut self, deliver_subject: &str, active: bool, now: Nanos) {
        let Some(targets) = self.interest.by_deliver.get(deliver_subject) else {
            return;
        };
        let mut produced = Vec::new();
        for (stream, name) in targets {
            let Some(slot) = self.streams.get_mut(stream) else {
                continue;
            };
            let Some(consumer) = slot.consumers.get_mut(name) else {
                continue;
            };
            consumer.set_push_active(active, now);
            let mut out = Vec::new();
            consumer.poll_burst(slot.stream.store(), now, self.push_burst, &mut out);
            if !out.is_empty() {
                produced.push((stream.clone(), out));
            }
        }
        for (stream, out) in produced {
            self.send_from_consumers(&stream, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::consumer::ConsumerConfig;
    use crate::core::engine::{CreateAction, Engine};
    use crate::core::message::Message;
    use crate::core::stream::StreamConfig;

    fn push_consumer(engine: &mut Engine, stream: &str, name: &str, deliver: &str) {
        let config: ConsumerConfig = serde_json::from_value(serde_json::json!({
            "durable_name": name,
            "deliver_subject": deliver,
            "ack_policy": "none",
        }))
        .expect("valid consumer config");
        engine
            .create_consumer(stream, config, CreateAction::Create, 1)
            .expect("consumer created");
    }

    fn engine_with_streams(n: usize) -> Engine {
        let mut engine = Engine::in_memory(7);
        for i in 0..n {
            let config: StreamConfig = serde_json::from_value(serde_json::json!({
                "name": format!("S{i}"),
                "subjects": [format!("s{i}.>")],
            }))
            .expect("valid stream config");
            engine.create_stream(config, 1).expect("stream created");
        }
        engine
    }

    fn publish(engine: &mut Engine, subject: &str) {
        let msg = Message {
            subject: subject.to_string(),
            reply: None,
            headers: None,
            payload: bytes::Bytes::from_static(b"x"),
        };
        assert!(engine.handle(msg, 2));
        engine.flush().result().expect("flush");
    }

    fn delivered_to(engine: &mut Engine) -> Vec<String> {
        std::iter::from_fn(|| engine.poll_outbound())
            .map(|o| o.to)
            .collect()
    }

    #[test]
    fn interest_wakes_only_consumers_on_that_deliver_subject() {
        let mut engine = engine_with_streams(3);
        push_consumer(&mut engine, "S0", "A", "inbox.a");
        push_consumer(&mut engine, "S1", "B", "inbox.b");
        delivered_to(&mut engine);
        publish(&mut engine, "s0.x");
        publish(&mut engine, "s1.x");
        assert!(delivered_to(&mut engine).is_empty(), "no interest yet");

        engine.set_interest("inbox.a", true, 3);
        engine.flush().result().expect("flush");
        assert_eq!(delivered_to(&mut engine), vec!["inbox.a".to_string()]);

        engine.set_interest("inbox.a", false, 4);
        publish(&mut engine, "s0.y");
        assert!(delivered_to(&mut engine).is_empty(), "interest gone");
    }

    #[test]
    fn index_follows_consumer_create_update_and_delete() {
        let mut engine = engine_with_streams(2);
        push_consumer(&mut engine, "S0", "A", "inbox.a");
        assert!(engine.has_deliver_subject("inbox.a"));
        assert_eq!(
            engine.deliver_subjects_matching("inbox.*"),
            vec!["inbox.a".to_string()]
        );
        assert!(engine.deliver_subjects_matching("other.*").is_empty());

        // Same name, new deliver subject: the index moves with it.
        let moved: ConsumerConfig = serde_json::from_value(serde_json::json!({
            "durable_name": "A", "deliver_subject": "inbox.moved", "ack_policy": "none",
        }))
        .expect("valid consumer config");
        engine
            .create_consumer("S0", moved, CreateAction::CreateOrUpdate, 2)
            .expect("consumer updated");
        assert!(!engine.has_deliver_subject("inbox.a"));
        assert!(engine.has_deliver_subject("inbox.moved"));

        engine.delete_consumer("S0", "A", 3).expect("deleted");
        assert!(!engine.has_deliver_subject("inbox.moved"));

        push_consumer(&mut engine, "S1", "B", "inbox.b");
        engine.delete_stream("S1").expect("stream deleted");
        assert_eq!(engine.deliver_subjects().count(), 0);
    }

    #[test]
    fn new_consumer_asks_the_oracle_for_interest() {
        let mut engine = engine_with_streams(1);
        engine.set_interest_oracle(Box::new(|subject| subject == "inbox.live"));
        push_consumer(&mut engine, "S0", "A", "inbox.live");
        push_consumer(&mut engine, "S0", "B", "inbox.dead");
        delivered_to(&mut engine);
        publish(&mut engine, "s0.x");
        assert_eq!(delivered_to(&mut engine), vec!["inbox.live".to_string()]);
    }

    #[test]
    fn pull_requests_nobody_listens_to_are_dropped_by_the_oracle() {
        use std::cell::RefCell;
        use std::rc::Rc;

        let mut engine = engine_with_streams(1);
        let config: ConsumerConfig = serde_json::from_value(serde_json::json!({
            "durable_name": "P", "ack_policy": "explicit",
        }))
        .expect("valid consumer config");
        engine
            .create_consumer("S0", config, CreateAction::Create, 1)
            .expect("consumer created");
        // Installed after the consumer exists, as the server does after a restore.
        let listening = Rc::new(RefCell::new(vec!["inbox.a", "inbox.b"]));
        let oracle_view = Rc::clone(&listening);
        engine.set_interest_oracle(Box::new(move |s| oracle_view.borrow().contains(&s)));
        let thirty_secs = crate::core::consumer::PullRequest {
            batch: 1,
            expires: 30_000_000_000,
            ..Default::default()
        };
        assert!(engine.pull("S0", "P", thirty_secs.clone(), "inbox.a", 2));
        assert!(engine.pull("S0", "P", thirty_secs, "inbox.b", 2));
        listening.borrow_mut().retain(|s| *s != "inbox.a");
        let info = engine.consumer_info("S0", "P", 2).expect("info");
        assert_eq!(info.num_waiting, 1, "the abandoned request is not counted");
        publish(&mut engine, "s0.x");
        assert_eq!(delivered_to(&mut engine), vec!["inbox.b".to_string()]);
        let info = engine.consumer_info("S0", "P", 3).expect("info");
        assert_eq!(info.num_waiting, 0);
        assert_eq!(info.num_ack_pending, 1, "one delivery, to the live request");
    }

    #[test]
    fn interest_without_oracle_is_remembered_for_later_consumers() {
        let mut engine = engine_with_streams(1);
        engine.set_interest("inbox.early", true, 1);
        push_consumer(&mut engine, "S0", "A", "inbox.early");
        delivered_to(&mut engine);
        publish(&mut engine, "s0.x");
        assert_eq!(delivered_to(&mut engine), vec!["inbox.early".to_string()]);
    }

    #[test]
    fn a_bounded_push_burst_leaves_the_rest_due_at_once_and_delivers_all_in_order() {
        let mut engine = engine_with_streams(1);
        push_consumer(&mut engine, "S0", "A", "inbox.a");
        for _ in 0..100 {
            publish(&mut engine, "s0.x");
        }
        engine.set_push_burst(1024);
        engine.set_interest("inbox.a", true, 3);
        let mut seqs = Vec::new();
        let mut bursts = 0;
        loop {
            let burst: Vec<u64> = std::iter::from_fn(|| engine.poll_outbound())
                .filter_map(|o| crate::core::consumer::parse_ack_subject(o.msg.reply.as_deref()?))
                .map(|ack| ack.stream_seq)
                .collect();
            assert!(burst.len() < 100, "one burst is not the whole stream");
            seqs.extend(burst);
            bursts += 1;
            match engine.poll_timeout() {
                // The rest is due at once: the shell writes this burst, then makes the next.
                Some(at) if at <= 3 => engine.handle_timeout(3),
                _ => break,
            }
            assert!(bursts <= 100, "the bursts end");
        }
        assert_eq!(seqs, (1..=100).collect::<Vec<u64>>());
        assert!(bursts > 2, "{bursts} bursts");
    }
}
