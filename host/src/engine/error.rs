//! Why an operation failed, with a stable code for the CLI and HTTP API.

use std::time::Duration;

use crate::error_code::ErrorCode;
use crate::sandbox::{FailureKind, HostFailure, StrategyFailure};
use crate::source::SourceError;
use crate::spoke_config::ConfigError;
use crate::timezones::TimezoneError;
use crate::traffic::Outcome;

/// `row`, or the error naming the `what` with `id` that was not found.
pub(super) fn found<T>(row: Option<T>, what: &'static str, id: i64) -> Result<T, EngineError> {
    row.ok_or(EngineError::NotFound { what, id })
}

/// The error for committing `tx`'s change: the database's refusal (the change was rolled back,
/// so nothing was changed), or, when the connection failed, [`EngineError::OutcomeUnknown`].
pub(super) async fn commit<T: crate::db::Queries>(tx: T) -> Result<(), EngineError> {
    tx.commit().await.map_err(|error| match error {
        sqlx::Error::Database(_) => EngineError::Database(error),
        other => {
            tracing::error!(error = %other, "committing failed; whether the change was made is unknown");
            EngineError::OutcomeUnknown
        }
    })
}

/// A failed operation.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An id names no row.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// The kind of row.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// An argument is out of range.
    #[error("{0}")]
    BadRequest(String),
    /// The batch type is not among the campaign's enabled strategies.
    #[error("batch type `{name}` is not enabled for campaign {campaign}; enabled: {enabled}")]
    UnknownBatchType {
        /// The batch type asked for.
        name: String,
        /// The campaign.
        campaign: i64,
        /// The enabled (and loaded) strategies, comma-separated.
        enabled: String,
    },
    /// The strategy asked for by name (or the campaign's default) is not loaded.
    #[error("{wanted} is not loaded; loaded strategies: {loaded}")]
    UnknownStrategy {
        /// What was asked for, in words.
        wanted: String,
        /// The loaded strategies, comma-separated.
        loaded: String,
    },
    /// Spoke's INVALID_JOIN.
    #[error("Invalid join request")]
    InvalidJoin,
    /// Spoke's FAILEDJOIN_TOOMANYTEXTERS.
    #[error("Sorry, this campaign has too many texters already")]
    TooManyTexters,
    /// The strategy failed; nothing was assigned. (A host failure while the strategy ran is
    /// not this: it becomes [`EngineError::Database`] or [`EngineError::Internal`].)
    #[error("{0}")]
    Strategy(StrategyFailure),
    /// The strategy the request would use is enabled for the campaign but failed to load, so
    /// nothing serves under its name.
    #[error(
        "strategy `{strategy}`, enabled for campaign {campaign}, failed to load, so it cannot \
         hand out contacts: {error}. Fix or replace its component (GET /v1/strategies shows \
         every load error), or enable another strategy"
    )]
    StrategyUnavailable {
        /// The strategy's name.
        strategy: String,
        /// The campaign.
        campaign: i64,
        /// Why it failed to load (naming its file, not its folder).
        error: String,
    },
    /// The caller's time ran out before the operation wrote anything; nothing was changed.
    #[error("the request took longer than {} ms; nothing was changed", limit.as_millis())]
    Timeout {
        /// The caller's time limit.
        limit: Duration,
    },
    /// The operation failed while its change was being committed: whether the change was
    /// made is unknown (the reason is logged, not told).
    #[error(
        "the database failed while the change was being committed, so whether it was made is \
         unknown; look at the assignment before retrying"
    )]
    OutcomeUnknown,
    /// The organization's or campaign's configuration cannot be used.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A timezone setting cannot be used.
    #[error("invalid configuration: {0}")]
    Timezone(#[from] TimezoneError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A bug in the host; the transaction was rolled back.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StrategyFailure> for EngineError {
    /// A strategy's own failure stays the strategy's; the host's failure while answering its
    /// question is the host's, told apart by type: the database's error becomes
    /// [`EngineError::Database`] (503 `DATABASE`), anything else a host bug.
    fn from(failure: StrategyFailure) -> Self {
        match failure.kind {
            FailureKind::Host(host) => host_failure(host, &failure.strategy),
            kind => EngineError::Strategy(StrategyFailure { kind, ..failure }),
        }
    }
}

impl From<crate::db::DbError> for EngineError {
    /// A statement the engine sends outside a strategy's call (looking up what the schema
    /// has) failed: the database's error stays the database's.
    fn from(error: crate::db::DbError) -> Self {
        match error {
            crate::db::DbError::Sql(error) => EngineError::Database(error),
            other => EngineError::Internal(other.to_string()),
        }
    }
}

fn host_failure(host: HostFailure, strategy: &str) -> EngineError {
    let error = match host.into_error() {
        Ok(error) => error,
        // Held elsewhere too (a clone of the failure): the error itself cannot be taken, so
        // the database's is carried as its message.
        Err(shared) => match shared.error() {
            SourceError::Database(database) => {
                return EngineError::Database(sqlx::Error::Protocol(database.to_string()));
            }
            SourceError::Inconsistent(_) => {
                return EngineError::Internal(format!("while strategy `{strategy}` ran: {shared}"));
            }
        },
    };
    match error {
        SourceError::Database(database) => EngineError::Database(database),
        other => EngineError::Internal(format!("while strategy `{strategy}` ran: {other}")),
    }
}

impl EngineError {
    /// How a batch request that failed with this error ended, for the dashboard's traffic:
    /// refused (the caller's request or the campaign's setup could not be served as asked),
    /// the strategy's failure, or the host's.
    pub fn outcome(&self) -> Outcome {
        match self {
            EngineError::NotFound { .. }
            | EngineError::Forbidden(_)
            | EngineError::BadRequest(_)
            | EngineError::UnknownBatchType { .. }
            | EngineError::UnknownStrategy { .. }
            | EngineError::InvalidJoin
            | EngineError::TooManyTexters
            | EngineError::Config(_)
            | EngineError::Timezone(_) => Outcome::Refused,
            EngineError::Strategy(_) | EngineError::StrategyUnavailable { .. } => Outcome::StrategyFailed,
            EngineError::Timeout { .. }
            | EngineError::OutcomeUnknown
            | EngineError::Database(_)
            | EngineError::Internal(_) => Outcome::Failed,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::NotFound { .. } => ErrorCode::NotFound,
            EngineError::Forbidden(_) => ErrorCode::Forbidden,
            EngineError::BadRequest(_) => ErrorCode::BadRequest,
            EngineError::UnknownBatchType { .. } => ErrorCode::UnknownBatchType,
            EngineError::UnknownStrategy { .. } => ErrorCode::UnknownStrategy,
            EngineError::InvalidJoin => ErrorCode::InvalidJoin,
            EngineError::TooManyTexters => ErrorCode::FailedJoinTooManyTexters,
            EngineError::Strategy(_) => ErrorCode::StrategyFailed,
            EngineError::StrategyUnavailable { .. } => ErrorCode::StrategyUnavailable,
            EngineError::Timeout { .. } => ErrorCode::Timeout,
            EngineError::OutcomeUnknown => ErrorCode::OutcomeUnknown,
            EngineError::Config(_) | EngineError::Timezone(_) => ErrorCode::BadConfig,
            EngineError::Database(_) => ErrorCode::Database,
            EngineError::Internal(_) => ErrorCode::Internal,
        }
    }
}
