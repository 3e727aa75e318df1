//! The API's one error type: a stable code, a message, and the status it maps to. Nothing a
//! client sends produces a 500.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::EngineError;
use crate::runtime::FailureKind;

/// An error answered as `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
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
        if status.is_server_error() {
            tracing::error!(code = error.code(), %error, "request failed on the server side");
        }
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
