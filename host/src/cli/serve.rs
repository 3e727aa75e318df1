//! `serve`: the service's typed configuration built from the flags and the environment; the
//! service itself runs in [`crate::service::run`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::ServeArgs;
use super::error::CliError;
use super::load::Setup;
use super::output::{Answer, print_stderr, print_stdout, to_json};
use crate::service::{self, Listening, ServeLimits, ServiceConfig};
use crate::spoke_config::Environment;

/// The service's configuration: the flags, with the cache folder resolved.
pub fn config(setup: &Setup, args: ServeArgs, env: Environment) -> ServiceConfig {
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.or_else(|| default_cache_dir(&env))
    };
    ServiceConfig {
        database_url: setup.database_url.clone(),
        strategies_dir: setup.strategies_dir.clone(),
        sandbox_limits: setup.limits.clone(),
        listen: args.listen,
        cache_dir,
        watch: !args.no_watch,
        rebuild_command: args.rebuild_command,
        incremental_compile: args.incremental_compile,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        limits: ServeLimits {
            header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
            max_connections: args.max_connections as usize,
            shutdown_timeout: Duration::from_millis(args.shutdown_timeout_ms),
        },
        public_metrics: args.public_metrics,
        progress_interval: Duration::from_millis(args.progress_interval_ms),
        env,
    }
}

/// `$XDG_CACHE_HOME/spoke-batches`, else `~/.cache/spoke-batches`.
fn default_cache_dir(env: &Environment) -> Option<PathBuf> {
    let base = env
        .get("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|home| Path::new(home).join(".cache")))?;
    Some(base.join("spoke-batches"))
}

/// Runs the service until Ctrl-C or SIGTERM; its JSON object is printed once it listens.
pub async fn serve(setup: &Setup, args: ServeArgs) -> Result<Answer, CliError> {
    let config = config(setup, args, Environment::from_process());
    service::run(config, announce).await?;
    Ok(Answer::Stopped)
}

/// The command's one JSON object, and for people on stderr where to look and what to try.
fn announce(listening: &Listening) {
    match to_json(listening) {
        Ok(value) => print_stdout(&value.to_string()),
        Err(error) => super::output::print_error(error.code, &error.message),
    }
    print_stderr(&format!("Dashboard: {}", listening.dashboard));
    if let Some(example) = &listening.example {
        print_stderr(&format!("Try:       {example}"));
    }
}
