//! The commit of a flush, and what a failed one does.
//!
//! A flush's batch is committed in one IndexedDB transaction, in flush order ([`Shell::settle`]).
//! When a commit fails, the engine in memory is ahead of the database. Most often the failed
//! batch only appended, and the engine takes it back itself ([`Shell::roll_back`]: the core's
//! `Engine::flush_failed`, the IdbStore's `queued_sync_failed` and `discard_unsynced`), as on the
//! file store. Otherwise the shell rebuilds the engine from the database and replays the core's
//! journal ([`Shell::recover`]); only when the commit after either fails too is everything since
//! the last commit lost ([`Shell::lose`]).

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::{drain, refusal, release, Batch, Shell};
use crate::core::engine::{Engine, FlushTicket};
use crate::core::error::ApiError;
use crate::core::message::Outbound;
use crate::core::store::StoreError;
use crate::wasm::error::Error;
use crate::wasm::idb::db::Commit;
use crate::wasm::idb::Database;
use crate::wasm::released;

impl Shell {
    /// The rest of a flush: waits for the flush before it, commits (unless `begun` already
    /// did), and resolves to the release buffer; recovers from a failed commit (see
    /// [`Shell::recover`]). `end` is the journal's end when the batch was taken.
    pub(super) async fn settle(
        &self,
        batch: Result<Batch, Error>,
        begun: Option<Result<Commit, Error>>,
        previous: Option<Promise>,
        generation: u64,
        end: u64,
        number: u64,
    ) -> Result<JsValue, JsValue> {
        if let Some(previous) = previous {
            // Its outcome is its own caller's; this flush only waits its turn.
            let _ = JsFuture::from(previous).await;
        }
        let waiting = self.waiting.borrow_mut().remove(&number);
        let mut batch = batch?;
        if let Some(waiting) = waiting {
            batch.acks = waiting.acks;
        }
        let Some(db) = &self.db else {
            return Ok(release(self, &batch.acks, &batch.out));
        };
        let committed = match begun {
            Some(Ok(commit)) => commit.finished().await,
            Some(Err(e)) => Err(e),
            None => {
                if self.needs_reload.get() {
                    self.reload(db).await?;
                    self.journal.borrow_mut().clear();
                }
                if self.generation.get() != generation {
                    // Taken from an engine a rollback discarded.
                    if generation < self.lost_before.get() {
                        return Err(Error::RolledBack.into());
                    }
                    // Its inputs were replayed; the flush that replayed them answers them.
                    return Ok(release(self, &[], &[]));
                }
                if self.taken_back.get() != batch.epoch {
                    // Taken before a failed commit the engine took back, which failed this
                    // batch's ticket too: its writes were built on that commit (the flush that
                    // took it back committed what is left), its publishes were taken back
                    // with it and its acks say so.
                    return Ok(release(self, &batch.acks, &batch.out));
                }
                db.commit(std::mem::take(&mut batch.writes)).await
            }
        };
        match committed {
            Ok(()) => {
                self.journal.borrow_mut().committed(end);
                Ok(self.committed(batch.ticket, &batch.acks, batch.out))
            }
            Err(err) if self.can_roll_back(&batch) => self.roll_back(db, err, batch, end).await,
            Err(err) => self.recover(db, err, end).await,
        }
    }

    /// Whether a failed commit of `batch` may be taken back by the engine itself
    /// ([`Shell::roll_back`]) rather than by rebuilding it from the database: its stores
    /// queued syncs the engine can fail, the shell wrote nothing of its own in it nor in a
    /// batch queued behind it (those are dropped with it), and the engine is whole.
    fn can_roll_back(&self, batch: &Batch) -> bool {
        batch.ticket.is_some()
            && batch.stores_only
            && self.waiting.borrow().values().all(|w| w.stores_only)
            && self.partial.borrow().is_none()
            && !self.engine().has_failing_streams()
    }

    /// After the commit of `batch` failed with `err`: the engine fails its ticket
    /// ([`Engine::flush_failed`]), so every stream it carried takes back the publishes not yet
    /// committed (their PubAcks leave as refusals) and carries everything else again in its
    /// next sync. When a stream could not go back (it wrote more than appends since its last
    /// commit), its refused publishes would still be stored, so the engine is rebuilt from
    /// the database instead ([`Shell::recover`]). Otherwise what the engine now holds is
    /// committed at once, in a second transaction, as the rebuild would; the flush resolves to
    /// the refusals and that commit's release, and rejects when it fails too.
    /// `failed_end` is the journal's end when the batch was taken.
    async fn roll_back(
        &self,
        db: &Database,
        err: Error,
        batch: Batch,
        failed_end: u64,
    ) -> Result<JsValue, JsValue> {
        let Batch {
            ticket,
            mut acks,
            mut out,
            ..
        } = batch;
        let taken_back = {
            let mut engine = self.engine_mut();
            if let Some(ticket) = ticket {
                engine.flush_failed(ticket, to_store_error(&err));
            }
            let taken_back = !engine.has_failing_streams();
            if taken_back {
                // Ticketed publishes answer through the shell: those whose message went back
                // are refused as the engine refused the others.
                let refused = refusal(&err);
                refuse_taken_back(&engine, &mut acks, &refused);
                refuse_taken_back(&engine, &mut self.acks.borrow_mut(), &refused);
                for waiting in self.waiting.borrow_mut().values_mut() {
                    refuse_taken_back(&engine, &mut waiting.acks, &refused);
                }
            }
            taken_back
        };
        if !taken_back {
            return self.recover(db, err, failed_end).await;
        }
        self.taken_back.set(self.taken_back.get() + 1);
        // No await from the rollback to the retry's begin: nothing is handled between.
        let retry = self.retry_commit(db).await?;
        acks.extend(retry.acks);
        out.extend(retry.out);
        Ok(self.committed(retry.ticket, &acks, out))
    }

    /// Commits at once what the engine holds after a failed commit was taken back or rebuilt
    /// (the caller awaits nothing between that and this call, so nothing is handled between).
    /// Resolves to the committed batch, whose release the caller makes; when this commit
    /// fails too, everything since the last commit is lost ([`Shell::lose`]) and it rejects.
    async fn retry_commit(&self, db: &Database) -> Result<Batch, JsValue> {
        let end = self.journal.borrow().end();
        let retry = self.take_batch().and_then(|mut retry| {
            let writes = std::mem::take(&mut retry.writes);
            Ok((retry, db.begin(writes)?))
        });
        let retried = match retry {
            Ok((retry, commit)) => commit.finished().await.map(|()| retry),
            Err(e) => Err(e),
        };
        match retried {
            Ok(retry) => {
                self.journal.borrow_mut().committed(end);
                Ok(retry)
            }
            Err(again) => {
                self.lose(db).await;
                Err(again.into())
            }
        }
    }

    /// The release of a batch whose commit succeeded: its ticket completed, then what the
    /// engine released (see [`Shell::take_batch`]).
    fn committed(
        &self,
        ticket: Option<FlushTicket>,
        acks: &[released::TicketAck],
        mut out: Vec<Outbound>,
    ) -> JsValue {
        if let Some(ticket) = ticket {
            let mut engine = self.engine_mut();
            engine.flush_done(ticket);
            drain(&mut engine, &mut out);
        }
        release(self, acks, &out)
    }

    /// After the commit of the batch ending at journal number `failed_end` failed with `err`
    /// and the engine could not take it back ([`Shell::roll_back`]): rebuilds the engine from
    /// the database, replays the journal (that batch's publishes refused, see
    /// [`Journal::replay`](crate::core::engine::journal::Journal::replay)) and commits the
    /// result at once. Resolves to the refusals and that commit's release; if it fails too,
    /// everything since the last commit is lost and the flush rejects.
    async fn recover(
        &self,
        db: &Database,
        err: Error,
        failed_end: u64,
    ) -> Result<JsValue, JsValue> {
        if self.reload(db).await.is_err() {
            // The next flush reads back before anything (see `settle`); the inputs are lost.
            self.needs_reload.set(true);
            self.lost_before.set(self.generation.get() + 1);
            *self.partial.borrow_mut() = None;
            return Err(err.into());
        }
        // No await from the rebuilt engine to the retry's begin: nothing is handled between.
        // The rebuilt engine is whole; a partial phase's deferred inputs are in the journal.
        *self.partial.borrow_mut() = None;
        {
            let mut front = self.front.borrow_mut();
            let mut acks = self.acks.borrow_mut();
            let mut journal = self.journal.borrow_mut();
            journal.replay(&mut front, failed_end, &refusal(&err), &mut acks);
        }
        let retry = self.retry_commit(db).await?;
        Ok(self.committed(retry.ticket, &retry.acks, retry.out))
    }

    /// Rolls back to the database, dropping everything handled since the last commit: every
    /// flush not settled yet rejects.
    async fn lose(&self, db: &Database) {
        self.needs_reload.set(true);
        self.lost_before.set(self.generation.get() + 1);
        *self.partial.borrow_mut() = None;
        // If reading back fails, the next flush tries again before anything (see `settle`).
        if self.reload(db).await.is_ok() {
            self.journal.borrow_mut().clear();
        }
    }
}

/// Refuses with `refusal` the ticketed publishes in `acks` whose message the engine took back
/// after a failed commit (its stream's sequences end before it now).
fn refuse_taken_back(engine: &Engine, acks: &mut [released::TicketAck], refusal: &ApiError) {
    for (_, result) in acks.iter_mut() {
        let taken_back = match result {
            Ok(ack) => engine
                .stream(&ack.stream)
                .is_none_or(|s| s.state().last_seq < ack.seq),
            Err(_) => false,
        };
        if taken_back {
            *result = Err(refusal.clone());
        }
    }
}

/// The store error a failed commit stands for, for [`Engine::flush_failed`].
fn to_store_error(err: &Error) -> StoreError {
    match err {
        Error::QuotaExceeded => StoreError::QuotaExceeded,
        Error::Store(err) => err.clone(),
        other => StoreError::Io(other.to_string()),
    }
}
