//! The point of no return of an operation that writes, and running an operation within a time
//! limit without ever answering "nothing was changed" for a change that was made.
//!
//! An operation runs in a task of its own on a copy of the engine that carries a
//! [`CommitPoint`]. Right before its first write (a batch's claim, a release's update, a join's
//! insert, an outbound unassign), the engine passes the point; from then on its caller waits
//! for its real answer. A caller whose time runs out before that abandons the operation
//! instead: the engine then refuses to pass the point (and stops early where it looks), so the
//! operation writes nothing and its transaction rolls back as any failed one does.
//!
//! The task is never cancelled: a future dropped in the middle of a statement leaves its
//! connection's state unknown (sqlx's SQLite connection can even go back to the pool inside
//! a transaction, failing every later request on it), so an abandoned operation runs to its
//! point of no return, or to its end if it only reads, and stops there by itself.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::task::{JoinError, JoinHandle};
use tracing::Instrument;

use super::error::EngineError;

/// The operation runs, and has written nothing.
const RUNNING: u8 = 0;
/// Its caller gave up; it must write nothing.
const ABANDONED: u8 = 1;
/// It is writing: it finishes, and its caller waits for its answer.
const COMMITTING: u8 = 2;

/// Where one operation stands: running, abandoned by its caller, or past the point of no
/// return. Each side moves it once, atomically, so exactly one of "abandoned" and "committing"
/// happens.
#[derive(Debug)]
pub(super) struct CommitPoint {
    state: AtomicU8,
    /// The caller's time limit, for the error an abandoned operation ends with.
    limit: Duration,
}

impl CommitPoint {
    pub(super) fn new(limit: Duration) -> Self {
        CommitPoint {
            state: AtomicU8::new(RUNNING),
            limit,
        }
    }

    /// The engine's side, right before its first write: passes the point, or refuses when the
    /// caller already gave up.
    pub(super) fn pass(&self) -> Result<(), EngineError> {
        match self
            .state
            .compare_exchange(RUNNING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) | Err(COMMITTING) => Ok(()),
            Err(_) => Err(EngineError::Timeout { limit: self.limit }),
        }
    }

    /// The caller's side: gives up on the operation unless it is past the point of no return;
    /// returns whether it did.
    fn abandon(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) | Err(ABANDONED) => true,
            Err(_) => false,
        }
    }

    fn committing(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMMITTING
    }

    fn abandoned(&self) -> bool {
        self.state.load(Ordering::Acquire) == ABANDONED
    }

    /// Refuses to go on once the caller gave up (see `Engine::stop_if_abandoned`).
    pub(super) fn stop_if_abandoned(&self) -> Result<(), EngineError> {
        if self.abandoned() {
            return Err(EngineError::Timeout { limit: self.limit });
        }
        Ok(())
    }
}

/// An operation's task and its point. Dropped before the task passed the point (its caller
/// timed out, or was itself dropped), it abandons the operation; past the point, the task
/// finishes and nobody hears of it.
struct Watched<T> {
    task: JoinHandle<Result<T, EngineError>>,
    point: Arc<CommitPoint>,
}

impl<T> Drop for Watched<T> {
    fn drop(&mut self) {
        self.point.abandon();
    }
}

/// The operation's answer, or what its task's end means.
fn answer<T>(
    joined: Result<Result<T, EngineError>, JoinError>,
    point: &CommitPoint,
) -> Result<T, EngineError> {
    joined.unwrap_or_else(|failure| {
        tracing::error!(%failure, "an engine operation's task failed");
        Err(if point.committing() {
            EngineError::OutcomeUnknown
        } else {
            EngineError::Internal("the operation's task failed".to_string())
        })
    })
}

/// Runs `operation` in a task of its own under `point` (see [`Engine::within`]).
///
/// [`Engine::within`]: super::Engine::within
pub(super) async fn run_within<T, F>(point: Arc<CommitPoint>, operation: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, EngineError>> + Send + 'static,
{
    let limit = point.limit;
    // The task logs within the caller's span (the HTTP request's, say).
    let task = tokio::spawn(operation.instrument(tracing::Span::current()));
    let mut watched = Watched { task, point };
    match tokio::time::timeout(limit, &mut watched.task).await {
        Ok(joined) => answer(joined, &watched.point),
        Err(_elapsed) if watched.point.abandon() => Err(EngineError::Timeout { limit }),
        Err(_elapsed) => {
            tracing::info!(
                limit_ms = limit.as_millis(),
                "the operation was writing when its time ran out; waiting for its answer"
            );
            let joined = (&mut watched.task).await;
            answer(joined, &watched.point)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use tokio::sync::oneshot;

    use super::*;
    use crate::db::Database;
    use crate::engine::Engine;
    use crate::registry::{SharedRegistry, StrategyRegistry};
    use crate::spoke_config::Environment;

    async fn engine() -> Engine {
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("in-memory database");
        let registry = SharedRegistry::new(StrategyRegistry::default());
        Engine::new(db, registry, Environment::default())
    }

    const LIMIT: Duration = Duration::from_millis(20);

    #[tokio::test]
    async fn an_operation_past_its_point_of_no_return_is_waited_for() {
        let engine = engine().await;
        let (passed, on_passed) = oneshot::channel();
        let (finish, on_finish) = oneshot::channel::<()>();
        let answering = tokio::spawn(async move {
            engine
                .within(LIMIT, |engine| async move {
                    engine.pass_point_of_no_return()?;
                    let _ = passed.send(());
                    // "Writing" until the test has seen the time limit go by.
                    let _ = on_finish.await;
                    Ok(7)
                })
                .await
        });
        on_passed.await.expect("the operation passed its point");
        tokio::time::sleep(LIMIT * 3).await;
        assert!(!answering.is_finished(), "past the point, the caller waits");
        let _ = finish.send(());
        let answer = answering.await.expect("caller task");
        assert!(matches!(answer, Ok(7)), "{answer:?}");
    }

    #[tokio::test]
    async fn an_operation_timed_out_before_its_point_of_no_return_never_writes() {
        let engine = engine().await;
        let wrote = Arc::new(AtomicBool::new(false));
        let (start, on_start) = oneshot::channel::<()>();
        let written = Arc::clone(&wrote);
        let answer: Result<(), EngineError> = engine
            .within(LIMIT, |engine| async move {
                // Still reading when the time runs out.
                let _ = on_start.await;
                engine.pass_point_of_no_return()?;
                written.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(
            matches!(answer, Err(EngineError::Timeout { limit }) if limit == LIMIT),
            "{answer:?}"
        );
        // The abandoned operation goes on, and finds it may not write.
        let _ = start.send(());
        tokio::time::sleep(LIMIT).await;
        assert!(
            !wrote.load(Ordering::SeqCst),
            "the abandoned operation wrote nothing"
        );
    }

    #[tokio::test]
    async fn an_operation_in_time_answers_for_itself() {
        let engine = engine().await;
        let answer: Result<u8, EngineError> = engine
            .within(LIMIT * 50, |engine| async move {
                engine.pass_point_of_no_return()?;
                Err(EngineError::InvalidJoin)
            })
            .await;
        assert!(matches!(answer, Err(EngineError::InvalidJoin)), "{answer:?}");
    }

    #[test]
    fn exactly_one_of_abandoning_and_committing_happens() {
        let point = CommitPoint::new(Duration::from_millis(5));
        assert!(point.pass().is_ok());
        assert!(!point.abandon(), "past the point, the caller cannot give up");
        assert!(point.pass().is_ok(), "passing again is harmless");

        let point = CommitPoint::new(Duration::from_millis(5));
        assert!(point.abandon());
        assert!(point.abandon(), "abandoning again is harmless");
        assert!(
            matches!(point.pass(), Err(EngineError::Timeout { limit }) if limit == Duration::from_millis(5)),
            "an abandoned operation may not write"
        );
    }
}
