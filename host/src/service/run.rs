//! The whole service from its typed configuration: connect and prepare the database, warn of
//! missing indexes, load the strategies, watch them (and their sources) for changes, bind the
//! address, announce it, and serve until Ctrl-C or SIGTERM. The command line only builds a
//! [`ServiceConfig`] from its flags and calls [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::auth::{AccessTokens, OPERATOR_TOKEN_VAR, SERVICE_TOKEN_VAR, TokenError};
use super::listen::{ServeError, bind, check_exposure};
use super::server::{ServeLimits, serve};
use super::state::AppState;
use crate::db::{Database, DbError, HOLDINGS_TABLE, HostIndex};
use crate::engine::Engine;
use crate::error_code::ErrorCode;
use crate::registry::{FolderError, SharedRegistry, StrategyRegistry};
use crate::reload::{Reloader, watch_sources};
use crate::sandbox::{Sandbox, SandboxLimits};
use crate::spoke_config::Environment;

/// How the service runs, resolved from flags and environment.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The database URL.
    pub database_url: String,
    /// The folder of strategy components.
    pub strategies_dir: PathBuf,
    /// What one strategy call may use.
    pub sandbox_limits: SandboxLimits,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where compiled components are kept across restarts; `None` compiles every one at start.
    pub cache_dir: Option<PathBuf>,
    /// Whether to watch the strategies folder and reload what changes.
    pub watch: bool,
    /// A command rebuilding the strategies whenever their sources change (`make dev`).
    pub rebuild_command: Option<String>,
    /// Whether compiled functions are kept in memory for later compiles (`make dev`).
    pub incremental_compile: bool,
    /// The longest time one request may take.
    pub request_timeout: Duration,
    /// What clients may hold and for how long.
    pub limits: ServeLimits,
    /// Whether `/metrics` answers without a token when one is set.
    pub public_metrics: bool,
    /// How often, at most, each campaign's progress is counted for the dashboard (zero: never).
    pub progress_interval: Duration,
    /// The process environment (tokens, Spoke's settings).
    pub env: Environment,
}

/// What the service announces once it listens: the command's one JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct Listening {
    /// `http://ADDRESS`.
    pub listening: String,
    /// The dashboard's URL.
    pub dashboard: String,
    /// How many components were compiled (not taken from the cache) at start.
    pub compiled: u64,
    /// A working `curl` batch request, when the database has a dynamic campaign with a texter.
    pub example: Option<String>,
}

/// Why the service did not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A configured token cannot be used.
    #[error(transparent)]
    BadToken(#[from] TokenError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The sandbox could not be set up.
    #[error("{0}")]
    Sandbox(String),
    /// The strategies folder cannot be read.
    #[error(transparent)]
    StrategiesFolder(#[from] FolderError),
    /// A public address without a token.
    #[error(transparent)]
    UnsafeListen(ServeError),
    /// The address cannot be bound.
    #[error(transparent)]
    Listen(ServeError),
    /// A folder cannot be watched.
    #[error(transparent)]
    Watch(#[from] notify::Error),
    /// The accept loop failed.
    #[error(transparent)]
    Serve(std::io::Error),
}

impl RunError {
    /// The stable code clients match on.
    pub fn code(&self) -> ErrorCode {
        match self {
            RunError::BadToken(_) => ErrorCode::BadToken,
            RunError::Database(_) => ErrorCode::Database,
            RunError::Sandbox(_) => ErrorCode::Sandbox,
            RunError::StrategiesFolder(_) => ErrorCode::StrategiesFolder,
            RunError::UnsafeListen(_) => ErrorCode::UnsafeListen,
            RunError::Listen(_) => ErrorCode::Listen,
            RunError::Watch(_) => ErrorCode::Watch,
            RunError::Serve(_) => ErrorCode::Serve,
        }
    }
}

/// Runs the service as `config` says: calls `announce` once it listens, then serves until
/// Ctrl-C or SIGTERM and the requests in flight are done (or the shutdown deadline passes).
pub async fn run(config: ServiceConfig, announce: impl FnOnce(&Listening)) -> Result<(), RunError> {
    let env = config.env;
    let tokens = AccessTokens::from_env(&env)?;
    // The variable whose token the example request sends, if the service needs one.
    let token_var = if env.get(SERVICE_TOKEN_VAR).is_some() {
        Some(SERVICE_TOKEN_VAR)
    } else if tokens.any() {
        Some(OPERATOR_TOKEN_VAR)
    } else {
        None
    };
    let db = Database::connect(&config.database_url).await?;
    db.prepare_schema().await?;
    let claim_index = warn_of_missing_indexes(&db).await?;
    let holdings = db.has_holdings().await?;
    if !holdings {
        tracing::warn!(
            "the database does not keep each assignment's count of contacts (table {HOLDINGS_TABLE}): \
             every batch request counts all the contacts its texter holds, which slows down as \
             texters text more; run `spoke-batches migrate --holdings` once"
        );
    }
    let sandbox = Sandbox::with_caches(
        config.sandbox_limits,
        config.cache_dir.as_deref(),
        config.incremental_compile,
    )
    .map_err(|error| RunError::Sandbox(format!("{error:#}")))?;
    let registry = StrategyRegistry::load_dir(&sandbox, &config.strategies_dir).await?;
    for (name, entry) in registry.entries() {
        if let Some(error) = &entry.error {
            tracing::warn!(strategy = name, %error, "strategy failed to load");
        }
    }
    let shared = SharedRegistry::new(registry);
    let engine = Engine::new(db, shared.clone(), env).with_metrics(Arc::clone(sandbox.metrics()));
    engine.know_claim_index(claim_index);
    engine.know_holdings(holdings);
    count_progress_in_background(engine.clone(), config.progress_interval);
    let state = AppState::new(
        engine.clone(),
        Arc::clone(&sandbox),
        tokens,
        config.request_timeout,
    )
    .with_public_metrics(config.public_metrics);
    check_exposure(config.listen, &state).map_err(RunError::UnsafeListen)?;
    let listener = bind(config.listen).await.map_err(RunError::Listen)?;
    let address = listener.local_addr().unwrap_or(config.listen);
    let _watch = if config.watch {
        let reloader = Reloader::new(Arc::clone(&sandbox), &config.strategies_dir, shared);
        Some(reloader.watch()?)
    } else {
        None
    };
    let _rebuild = match config.rebuild_command {
        Some(command) => {
            let dir = &config.strategies_dir;
            Some(watch_sources(dir.parent().unwrap_or(dir), command)?)
        }
        None => None,
    };
    announce(&Listening {
        listening: format!("http://{address}"),
        dashboard: format!("http://{address}/"),
        compiled: sandbox.compilations(),
        example: example_request(&engine, address, token_var).await,
    });
    tracing::info!(%address, "serving");
    serve(listener, state, config.limits)
        .await
        .map_err(RunError::Serve)
}

/// Counts each dynamic campaign's progress for the dashboard, one round every `every`, for as
/// long as the service runs; a failed round is logged and the next one tries again.
fn count_progress_in_background(engine: Engine, every: Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        loop {
            if let Err(error) = engine.refresh_progress(every).await {
                tracing::warn!(%error, "counting the campaigns' progress failed; trying again later");
            }
            tokio::time::sleep(every).await;
        }
    });
}

/// Warns of each of the host's indexes the database lacks; whether the claim index is there.
async fn warn_of_missing_indexes(db: &Database) -> Result<bool, DbError> {
    let mut claim_index = true;
    for index in HostIndex::ALL {
        if !db.has_index(index).await? {
            claim_index &= index != HostIndex::Claim;
            tracing::warn!(
                "campaign_contact has no index {}: batch requests slow down as campaigns grow and \
                 texters hold more contacts; run `spoke-batches migrate --claim-index` (it builds \
                 the host's indexes without blocking Spoke)",
                index.name()
            );
        }
    }
    Ok(claim_index)
}

/// A working `curl` batch request for the newest dynamic campaign's first texter, if any.
async fn example_request(engine: &Engine, address: SocketAddr, token_var: Option<&str>) -> Option<String> {
    let (assignment_id, user_id) = engine.example_assignment().await.ok().flatten()?;
    let auth = token_var.map_or_else(String::new, |var| format!(" -H \"Authorization: Bearer ${var}\""));
    Some(format!(
        "curl -s -X POST http://{address}/v1/assignments/{assignment_id}/batches{auth} \
         -H 'Content-Type: application/json' -d '{{\"texterId\": {user_id}}}'"
    ))
}
