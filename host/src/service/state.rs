//! What every handler shares: the engine, the sandbox, the tokens, the request timeout and
//! the few settings the routes read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::auth::AccessTokens;
use crate::engine::Engine;
use crate::sandbox::Sandbox;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(super) engine: Engine,
    pub(super) sandbox: Arc<Sandbox>,
    pub(super) tokens: AccessTokens,
    pub(super) request_timeout: Duration,
    /// A fixed time for every request (tests); `None` reads the clock.
    pub(super) fixed_now: Option<DateTime<Utc>>,
    /// Whether `/metrics` answers without a token when one is configured.
    pub(super) public_metrics: bool,
    /// The address served, a name requests may be addressed to (set by [`super::serve_until`]).
    pub(super) listen: Option<SocketAddr>,
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
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }
}
