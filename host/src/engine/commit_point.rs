//! The point of no return of an operation that writes, and running an operation within a time
//! limit without ever answering "nothing was changed" for a change that was made.
//!
//! An operation runs in a task of its own on a copy of the engine that carries a
//! [`CommitPoint`]. Right before its first write (a batch's claim, a release's update, a join's
//! insert, an outbound unassign), the engine passes the point; from then on the operation is
//! never cancelled and its caller waits for its real answer. A caller whose time runs out
//! before that abandons the operation instead: the engine then refuses to pass the point, so
//! the operation writes nothing, and the task is aborted (its transaction rolls back).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::task::{JoinError, JoinHandle};

use super::{Engine, EngineError};

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
    fn new(limit: Duration) -> Self {
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
}

/// An operation's task and its point. Dropped before the task passed the point (its caller
/// timed out, or was itself dropped), it abandons and aborts the task; past the point, the
/// task finishes on its own.
struct Watched<T> {
    task: JoinHandle<Result<T, EngineError>>,
    point: Arc<CommitPoint>,
}

impl<T> Drop for Watched<T> {
    fn drop(&mut self) {
        if self.point.abandon() {
            self.task.abort();
        }
    }
}

/// The operation's answer, or what its task's end means.
fn answer<T>(joined: Result<Result<T, EngineError>, JoinError>, point: &CommitPoint) -> Result<T, EngineError> {
    joined.unwrap_or_else(|failure| {
        tracing::error!(%failure, "an engine operation's task failed");
        Err(if point.committing() {
            EngineError::OutcomeUnknown
        } else {
            EngineError::Internal("the operation's task failed".to_string())
        })
    })
}

impl Engine {
    /// Runs `operation` on a copy of this engine, in a task of its own, answering within
    /// `limit`: its answer when it comes in time; [`EngineError::Timeout`] when time runs out
    /// before the operation's first write (it then writes nothing); and when time runs out
    /// after that, its answer whenever it comes, since what it wrote must be told.
    pub async fn within<T, F>(
        &self,
        limit: Duration,
        operation: impl FnOnce(Engine) -> F,
    ) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, EngineError>> + Send + 'static,
    {
        let point = Arc::new(CommitPoint::new(limit));
        let engine = Engine {
            commit_point: Some(Arc::clone(&point)),
            ..self.clone()
        };
        let mut watched = Watched {
            task: tokio::spawn(operation(engine)),
            point,
        };
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

    /// Passes this operation's point of no return, right before its first write; refuses when
    /// its caller already gave up. An operation run without [`Engine::within`] always passes.
    pub(super) fn pass_point_of_no_return(&self) -> Result<(), EngineError> {
        self.commit_point.as_ref().map_or(Ok(()), |point| point.pass())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
