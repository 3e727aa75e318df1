//! The HTTP service Spoke (or any client) calls: the `/v1` JSON API, `/healthz`, `/metrics`
//! and the dashboard at `/`.
//!
//! - `auth`: the tokens, who a request is from, and the `texterId` rule.
//! - `browser`: `Host`, `Origin` and `Content-Type` checks against pages in a browser.
//! - `error`: the API's one error type and the status each code maps to.
//! - `extract`: extractors that answer every malformed request with a JSON 4xx.
//! - `api`: the `/v1` handlers.
//! - `page`: the dashboard page and its embedded files (its charting library included).
//! - `state`: what every handler shares ([`AppState`]).
//! - `router`: the routes and the layers around them.
//! - `listen`: where the service may listen, and binding it.
//! - `server`: the accept loop with its header read timeout, connection cap and shutdown
//!   deadline.
//! - `run`: the whole service from its typed configuration ([`run`]): database, strategies,
//!   hot reload, listener, accept loop.
//!
//! This file only declares the modules and re-exports their public items.

mod api;
mod auth;
mod browser;
mod error;
mod extract;
mod listen;
mod page;
mod router;
mod run;
mod server;
mod state;

pub use auth::{
    AccessTokens, Authenticated, MIN_TOKEN_CHARS, OPERATOR_TOKEN_VAR, SERVICE_TOKEN_VAR, TokenError,
};
pub use error::ApiError;
pub use listen::{ServeError, bind, check_exposure};
pub use router::{MAX_BODY_BYTES, router};
pub use run::{Listening, RunError, ServiceConfig, run};
pub use server::{ServeLimits, serve, serve_until};
pub use state::AppState;
