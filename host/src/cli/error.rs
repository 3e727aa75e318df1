//! A failed command: a stable [`ErrorCode`] and a message saying what was wrong and what to do,
//! printed as `{"error":{"code","message"}}`.

use crate::db::DbError;
use crate::engine::EngineError;
use crate::error_code::ErrorCode;
use crate::service::RunError;
use crate::spoke_extension::ExtensionError;

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    /// The code clients match on.
    pub code: ErrorCode,
    /// What was wrong and what to do.
    pub message: String,
}

impl CliError {
    /// A failure with `code`, told by `message`.
    pub fn new(code: ErrorCode, message: impl std::fmt::Display) -> Self {
        CliError {
            code,
            message: message.to_string(),
        }
    }
}

impl From<EngineError> for CliError {
    fn from(error: EngineError) -> Self {
        CliError::new(error.code(), error)
    }
}

impl From<DbError> for CliError {
    fn from(error: DbError) -> Self {
        CliError::new(ErrorCode::Database, error)
    }
}

impl From<ExtensionError> for CliError {
    fn from(error: ExtensionError) -> Self {
        CliError::new(error.code(), error)
    }
}

impl From<RunError> for CliError {
    fn from(error: RunError) -> Self {
        CliError::new(error.code(), error)
    }
}
