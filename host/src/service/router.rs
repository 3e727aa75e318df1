//! The service's routes: the `/v1` API behind the token check, `/metrics`, `/healthz` and the
//! dashboard page, with the body limit and the browser checks around them all.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

use super::error::ApiError;
use super::state::AppState;
use super::{api, auth, browser, page};
use crate::error_code::ErrorCode;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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
        .route("/dashboard", get(api::dashboard).layer(CompressionLayer::new()))
        .route_layer(middleware::from_fn(browser::require_json_posts))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A layer, not a route layer: unknown /v1 paths need the token too (401 before 404).
        .layer(middleware::from_fn_with_state(
            state.tokens.clone(),
            auth::require_token,
        ));
    let mut metrics_route = Router::new().route("/metrics", get(metrics));
    if !state.public_metrics {
        metrics_route = metrics_route.route_layer(middleware::from_fn_with_state(
            state.tokens.clone(),
            auth::require_token,
        ));
    }
    Router::new()
        .nest("/v1", v1)
        .merge(metrics_route)
        // The dashboard's page and files, gzipped for browsers that ask (all of them).
        .route("/", get(page::index).layer(CompressionLayer::new()))
        .route(
            &format!("{}/{{file}}", page::ASSETS),
            get(page::file).layer(CompressionLayer::new()),
        )
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
