//! The API's one error type: a stable code, a message, and the status it maps to. Nothing a
//! client sends produces a 500, and no 5xx body carries internal text (database messages,
//! configuration details): those go to the log, the client gets what happened in words it
//! can act on.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::EngineError;
use crate::error_code::ErrorCode;
use crate::sandbox::FailureKind;

/// An error answered as `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let status = match &error {
            EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
            EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
            EngineError::BadRequest(_) | EngineError::UnknownBatchType { .. } | EngineError::InvalidJoin => {
                StatusCode::BAD_REQUEST
            }
            EngineError::UnknownStrategy { .. } => StatusCode::BAD_REQUEST,
            EngineError::TooManyTexters => StatusCode::CONFLICT,
            EngineError::Strategy(failure) if matches!(failure.kind, FailureKind::Busy { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            EngineError::Strategy(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::Database(_)
            | EngineError::StrategyUnavailable { .. }
            | EngineError::Timeout { .. }
            | EngineError::OutcomeUnknown => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Config(_) | EngineError::Timezone(_) | EngineError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if !status.is_server_error() {
            return ApiError::new(status, error.code(), error.to_string());
        }
        tracing::error!(code = error.code().as_str(), %error, "request failed on the server side");
        ApiError::new(status, error.code(), server_side_message(&error))
    }
}

/// What a client is told of a failure on the service's side; the detail is in the log.
fn server_side_message(error: &EngineError) -> String {
    const DATABASE: &str =
        "the database failed or did not answer; try again shortly (the service's log has the details)";
    const CONFIG: &str = "the settings stored in the database for this campaign or organization cannot \
                          be used (malformed features JSON or an unknown timezone); an administrator \
                          must fix them (the service's log names the row and the setting)";
    const INTERNAL: &str =
        "the service failed on its side and rolled the request back (the service's log has the details)";
    match error {
        // The host's own words (every instance slot is busy), no internal text.
        EngineError::Strategy(failure) => failure.to_string(),
        // The engine's own words: which strategy failed to load and why (naming its file, not
        // the folder), or what is known of a timed-out or broken commit.
        EngineError::StrategyUnavailable { .. }
        | EngineError::Timeout { .. }
        | EngineError::OutcomeUnknown => error.to_string(),
        EngineError::Database(_) => DATABASE.to_string(),
        EngineError::Config(_) | EngineError::Timezone(_) => CONFIG.to_string(),
        _ => INTERNAL.to_string(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
