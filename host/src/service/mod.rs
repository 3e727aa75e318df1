//! The HTTP service Spoke (or any client) calls: the `/v1` JSON API, `/healthz`, `/metrics`
//! and the dashboard at `/`.

mod api;
mod error;
mod extract;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

pub use error::ApiError;

use crate::engine::Engine;
use crate::runtime::Sandbox;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    engine: Engine,
    sandbox: Arc<Sandbox>,
    token: Option<Arc<str>>,
    request_timeout: Duration,
    /// A fixed time for every request (tests); `None` reads the clock.
    fixed_now: Option<DateTime<Utc>>,
}

impl AppState {
    /// The state of a service answering with `engine`; `/v1` needs `token` when it is set.
    pub fn new(
        engine: Engine,
        sandbox: Arc<Sandbox>,
        token: Option<String>,
        request_timeout: Duration,
    ) -> Self {
        AppState {
            engine,
            sandbox,
            token: token.filter(|token| !token.is_empty()).map(Arc::from),
            request_timeout,
            fixed_now: None,
        }
    }

    /// The same state with every request at `now` instead of the wall clock (for tests).
    pub fn with_fixed_now(mut self, now: DateTime<Utc>) -> Self {
        self.fixed_now = Some(now);
        self
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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .nest("/v1", v1)
        .route("/", get(dashboard_page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Checks `Authorization: Bearer <token>` in constant time when a token is configured.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = &state.token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let authorized = presented
        .is_some_and(|token| constant_time_eq::constant_time_eq(token.as_bytes(), expected.as_bytes()));
    if authorized {
        return next.run(request).await;
    }
    let message = if presented.is_none() {
        "send Authorization: Bearer <token> (the service's SPOKE_BATCHES_TOKEN)"
    } else {
        "the bearer token is wrong"
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint; see the README's HTTP reference",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
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
    if state.token.is_none() && !address.ip().is_loopback() {
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

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
