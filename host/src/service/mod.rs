//! The HTTP service Spoke (or any client) calls: the `/v1` JSON API, `/healthz`, `/metrics`
//! and the dashboard at `/`.
//!
//! - `auth`: the tokens, who a request is from, and the `texterId` rule.
//! - `browser`: `Host`, `Origin` and `Content-Type` checks against pages in a browser.
//! - `server`: the accept loop with its header read timeout, connection cap and shutdown
//!   deadline.

mod api;
mod auth;
mod browser;
mod error;
mod extract;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

pub use auth::{
    AccessTokens, Authenticated, MIN_TOKEN_CHARS, OPERATOR_TOKEN_VAR, SERVICE_TOKEN_VAR, TokenError,
};
pub use error::ApiError;
pub use server::{ServeLimits, serve, serve_until};

use crate::engine::Engine;
use crate::sandbox::Sandbox;
use crate::error_code::ErrorCode;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    engine: Engine,
    sandbox: Arc<Sandbox>,
    tokens: AccessTokens,
    request_timeout: Duration,
    /// A fixed time for every request (tests); `None` reads the clock.
    fixed_now: Option<DateTime<Utc>>,
    /// Whether `/metrics` answers without a token when one is configured.
    public_metrics: bool,
    /// The address served, a name requests may be addressed to (set by [`serve_until`]).
    listen: Option<SocketAddr>,
}

impl AppState {
    /// The state of a service answering with `engine`; `/v1` needs one of `tokens` when any
    /// is configured.
    pub fn new(
        engine: Engine,
        sandbox: Arc<Sandbox>,
        tokens: AccessTokens,
        request_timeout: Duration,
    ) -> Self {
        AppState {
            engine,
            sandbox,
            tokens,
            request_timeout,
            fixed_now: None,
            public_metrics: false,
            listen: None,
        }
    }

    /// The same state with every request at `now` instead of the wall clock (for tests).
    pub fn with_fixed_now(mut self, now: DateTime<Utc>) -> Self {
        self.fixed_now = Some(now);
        self
    }

    /// The same state with `/metrics` open to anyone who reaches it, token or not.
    pub fn with_public_metrics(mut self, public: bool) -> Self {
        self.public_metrics = public;
        self
    }

    /// Whether any token is configured.
    pub fn has_token(&self) -> bool {
        self.tokens.any()
    }

    /// The time of a request: the fixed time, else the clock.
    fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/assignments/{id}/batches", post(api::request_batch))
        .route("/assignments/{id}/unassigned-count", get(api::unassigned_count))
        .route("/assignments/{id}/release", post(api::release))
        .route("/assignments/{id}/explain", get(api::explain))
        .route("/assignments/{id}/decision", post(api::decision))
        .route("/campaigns/{id}/join", post(api::join))
        .route("/contacts/{id}/message-sent", post(api::message_sent))
        .route("/strategies", get(api::strategies))
        .route("/campaigns/{id}/texter-ui", get(api::texter_ui))
        .route("/dashboard", get(api::dashboard))
        .route_layer(middleware::from_fn(browser::require_json_posts))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A layer, not a route layer: unknown /v1 paths need the token too (401 before 404).
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    let mut metrics_route = Router::new().route("/metrics", get(metrics));
    if !state.public_metrics {
        metrics_route =
            metrics_route.route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    }
    Router::new()
        .nest("/v1", v1)
        .merge(metrics_route)
        .route("/", get(dashboard_page))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            browser::refuse_foreign_pages,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint; see the README's HTTP reference",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method; see the README's HTTP reference",
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.sandbox.metrics().encode();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn dashboard_page() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}

/// Why the service would not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A public address without a token.
    #[error(
        "refusing to listen on {0} without a token: set SPOKE_BATCHES_TOKEN, or listen on a loopback \
         address such as 127.0.0.1"
    )]
    PublicWithoutToken(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {reason}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// Checks that the service may listen on `address`.
pub fn check_exposure(address: SocketAddr, state: &AppState) -> Result<(), ServeError> {
    if !state.tokens.any() && !address.ip().is_loopback() {
        return Err(ServeError::PublicWithoutToken(address));
    }
    Ok(())
}

/// Binds `address`.
pub async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| ServeError::Bind {
            address,
            reason: error.to_string(),
        })
}
