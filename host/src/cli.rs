//! The `spoke-batches` command line. Every command prints exactly one JSON object on stdout;
//! on failure it prints `{"error":{"code":"...","message":"..."}}` and exits non-zero.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::registry::{RegistryEntry, StrategyRegistry};
use crate::runtime::{Sandbox, SandboxLimits};

/// Runs Spoke's dynamic-assignment batch strategies as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "spoke-batches", version)]
pub struct Cli {
    /// The folder of strategy components (`<name>.wasm`).
    #[arg(
        long = "strategies",
        env = "SPOKE_BATCHES_STRATEGIES",
        default_value = "strategies/dist",
        global = true
    )]
    pub strategies_dir: PathBuf,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists the strategies in the strategies folder: name, display name, file, status or load
    /// error.
    Strategies,
}

/// A failed command: a stable code and a message saying what was wrong and what to do.
#[derive(Debug)]
pub struct CliError {
    code: &'static str,
    message: String,
}

impl CliError {
    fn new(code: &'static str, message: impl std::fmt::Display) -> Self {
        CliError {
            code,
            message: message.to_string(),
        }
    }
}

/// Runs one command and prints its JSON answer.
pub async fn run(cli: Cli) -> ExitCode {
    match execute(cli).await {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!(
                "{}",
                json!({"error": {"code": error.code, "message": error.message}})
            );
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<Value, CliError> {
    match cli.command {
        Command::Strategies => {
            let registry = load_registry(&cli.strategies_dir).await?;
            Ok(json!({ "strategies": strategies_json(&registry) }))
        }
    }
}

async fn load_registry(dir: &std::path::Path) -> Result<StrategyRegistry, CliError> {
    let sandbox: Arc<Sandbox> = Sandbox::new(SandboxLimits::default())
        .map_err(|error| CliError::new("SANDBOX", format!("{error:#}")))?;
    StrategyRegistry::load_dir(&sandbox, dir)
        .await
        .map_err(|error| CliError::new("STRATEGIES_FOLDER", error))
}

/// The strategies of `registry` as JSON, one object each.
pub fn strategies_json(registry: &StrategyRegistry) -> Vec<Value> {
    registry
        .entries()
        .map(|(name, entry)| match entry {
            RegistryEntry::Loaded(component) => json!({
                "name": name,
                "displayName": component.display_name(),
                "file": component.path(),
                "status": "loaded",
                "contentHash": component.content_hash(),
                "witVersion": component.wit_version(),
            }),
            RegistryEntry::Failed(error) => json!({
                "name": name,
                "status": "failed",
                "error": error.to_string(),
            }),
        })
        .collect()
}
