//! One answer kept for the last subject a connection asked about.
//!
//! A client usually publishes to the same subject again and again. Who a subject reaches (the
//! router's subscriptions) and whether JetStream wants it (the streams' and the engine's
//! subjects) only change when their owner changes, and each owner counts its changes in a
//! generation counter. So a connection keeps its last subject's answer with the generation it
//! was computed at, and asks again only when the subject or the generation differs.

/// The answer for the subject asked about last, and the owner's generation then.
#[derive(Debug, Default)]
pub struct LastSubject<T> {
    subject: String,
    generation: Option<u64>,
    answer: T,
}

impl<T> LastSubject<T> {
    /// The kept answer when `subject` was asked last at `generation`; otherwise `fill` rewrites
    /// it first (it gets the old answer to reuse its allocation).
    ///
    /// Read `generation` before what the answer is computed from: a change that lands after
    /// that read then bumps the counter, and the next call computes again.
    pub fn get_or_fill(&mut self, generation: u64, subject: &str, fill: impl FnOnce(&mut T)) -> &T {
        if self.generation != Some(generation) || self.subject != subject {
            fill(&mut self.answer);
            self.subject.clear();
            self.subject.push_str(subject);
            self.generation = Some(generation);
        }
        &self.answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_until_the_subject_or_the_generation_changes() {
        let mut last = LastSubject::<u32>::default();
        let mut computed = 0;
        let mut ask = |last: &mut LastSubject<u32>, generation, subject: &str| {
            *last.get_or_fill(generation, subject, |a| {
                computed += 1;
                *a = computed;
            })
        };
        assert_eq!(ask(&mut last, 0, "a"), 1);
        assert_eq!(ask(&mut last, 0, "a"), 1, "same subject, same generation");
        assert_eq!(ask(&mut last, 1, "a"), 2, "the owner changed");
        assert_eq!(ask(&mut last, 1, "b"), 3, "another subject");
        assert_eq!(ask(&mut last, 1, "a"), 4, "only the last subject is kept");
    }
}
