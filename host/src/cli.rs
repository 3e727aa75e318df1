//! The `spoke-batches` command line. Every command prints exactly one JSON object on stdout;
//! on failure it prints `{"error":{"code":"...","message":"..."}}` and exits non-zero.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::config::Environment;
use crate::db::{DEFAULT_DATABASE_URL, Database, DbError};
use crate::engine::{BatchRequest, Caller, Engine, EngineError};
use crate::registry::StrategyRegistry;
use crate::runtime::{Sandbox, SandboxLimits};

/// Runs Spoke's dynamic-assignment batch strategies as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "spoke-batches", version)]
pub struct Cli {
    /// The database: postgres://… or sqlite:… (a SQLite file is created on first use).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

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
    /// Creates Spoke's tables in the database (never alters tables Spoke created).
    Migrate,
    /// Lists the strategies in the strategies folder: name, display name, file, status or load
    /// error.
    Strategies,
    /// Requests a batch of contacts for an assignment (Spoke's findNewCampaignContact).
    RequestBatch {
        /// The assignment.
        #[arg(long)]
        assignment_id: i64,
        /// The user asking; without it the command acts as an administrator.
        #[arg(long)]
        texter_id: Option<i64>,
        /// How many contacts; 0 or absent means a full batch.
        #[arg(long, allow_negative_numbers = true)]
        number_contacts: Option<i64>,
        /// The strategy to use; absent means the campaign's default.
        #[arg(long)]
        batch_type: Option<String>,
        /// The time of the request (RFC 3339); absent means now.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
    },
    /// How many contacts the "request texts" button offers (hasUnassignedContactsForTexter).
    HasUnassigned {
        /// The assignment.
        #[arg(long)]
        assignment_id: i64,
        /// The user asking; without it the command acts as an administrator.
        #[arg(long)]
        texter_id: Option<i64>,
        /// The time of the request (RFC 3339); absent means now.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
    },
    /// Releases an assignment's unsent contacts (and its conversations with --conversations).
    Release {
        /// The assignment.
        #[arg(long)]
        assignment_id: i64,
        /// Release conversations too, not only needsMessage contacts.
        #[arg(long)]
        conversations: bool,
        /// The user asking; without it the command acts as an administrator.
        #[arg(long)]
        texter_id: Option<i64>,
    },
    /// Joins a campaign by its dynamic-assignment link.
    Join {
        /// The campaign.
        #[arg(long)]
        campaign_id: i64,
        /// The user joining.
        #[arg(long)]
        user_id: i64,
        /// The campaign's join token.
        #[arg(long)]
        join_token: String,
    },
    /// The initial message to a contact was sent (the outbound-unassign handler).
    MessageSent {
        /// The contact.
        #[arg(long)]
        contact_id: i64,
    },
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

impl From<EngineError> for CliError {
    fn from(error: EngineError) -> Self {
        CliError::new(error.code(), error)
    }
}

impl From<DbError> for CliError {
    fn from(error: DbError) -> Self {
        CliError::new("DATABASE", error)
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
            print_error(error.code, &error.message);
            ExitCode::FAILURE
        }
    }
}

/// Prints the one JSON object of a failed command.
pub fn print_error(code: &str, message: &str) {
    println!("{}", json!({"error": {"code": code, "message": message}}));
}

fn caller(texter_id: Option<i64>) -> Caller {
    texter_id.map_or(Caller::Operator, Caller::User)
}

async fn execute(cli: Cli) -> Result<Value, CliError> {
    match cli.command {
        Command::Strategies => {
            let registry = load_registry(&cli.strategies_dir).await?;
            Ok(json!({ "strategies": strategies_json(&registry) }))
        }
        Command::Migrate => {
            let db = Database::connect(&cli.database_url).await?;
            db.migrate().await?;
            Ok(json!({ "migrated": true, "database": db.dialect_name() }))
        }
        Command::RequestBatch {
            assignment_id,
            texter_id,
            number_contacts,
            batch_type,
            now,
        } => {
            let engine = engine(&cli.database_url, Some(&cli.strategies_dir)).await?;
            let outcome = engine
                .request_batch(BatchRequest {
                    assignment_id,
                    caller: caller(texter_id),
                    number_contacts,
                    batch_type,
                    now: now.unwrap_or_else(Utc::now),
                })
                .await?;
            Ok(serde_json::to_value(outcome).unwrap_or_default())
        }
        Command::HasUnassigned {
            assignment_id,
            texter_id,
            now,
        } => {
            let engine = engine(&cli.database_url, Some(&cli.strategies_dir)).await?;
            let count = engine
                .has_unassigned(assignment_id, caller(texter_id), now.unwrap_or_else(Utc::now))
                .await?;
            Ok(json!({ "count": count }))
        }
        Command::Release {
            assignment_id,
            conversations,
            texter_id,
        } => {
            let engine = engine(&cli.database_url, None).await?;
            let released = engine
                .release(assignment_id, caller(texter_id), conversations)
                .await?;
            Ok(json!({ "released": released }))
        }
        Command::Join {
            campaign_id,
            user_id,
            join_token,
        } => {
            let engine = engine(&cli.database_url, None).await?;
            let outcome = engine.join(campaign_id, user_id, &join_token, Utc::now()).await?;
            Ok(serde_json::to_value(outcome).unwrap_or_default())
        }
        Command::MessageSent { contact_id } => {
            let engine = engine(&cli.database_url, None).await?;
            let unassigned = engine.message_sent(contact_id).await?;
            Ok(json!({ "unassigned": unassigned }))
        }
    }
}

/// Connects (creating Spoke's tables where absent) and loads the strategies when the command
/// runs any.
async fn engine(database_url: &str, strategies_dir: Option<&Path>) -> Result<Engine, CliError> {
    let db = Database::connect(database_url).await?;
    db.prepare_schema().await?;
    let registry = match strategies_dir {
        Some(dir) => load_registry(dir).await?,
        None => StrategyRegistry::default(),
    };
    Ok(Engine::new(
        db,
        Arc::new(RwLock::new(Arc::new(registry))),
        Environment::from_process(),
    ))
}

async fn load_registry(dir: &Path) -> Result<StrategyRegistry, CliError> {
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
        .map(|(name, entry)| {
            let serving = entry.serving.as_ref();
            json!({
                "name": name,
                "displayName": serving.map(|component| component.display_name()),
                "file": entry.file,
                "status": entry.status(),
                "contentHash": serving.map(|component| component.content_hash()),
                "witVersion": serving.map(|component| component.wit_version()),
                "loadedAt": entry.loaded_at,
                "error": entry.error.as_ref().map(|error| error.to_string()),
            })
        })
        .collect()
}
