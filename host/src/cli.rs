//! The `spoke-batches` command line. Every command prints exactly one JSON object on stdout;
//! on failure it prints `{"error":{"code":"...","message":"..."}}` and exits non-zero.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::authoring::check;
use crate::authoring::fixtures;
use crate::authoring::scaffold;
use crate::db::{DEFAULT_DATABASE_URL, Database, DbError, HostIndex, SchemaState};
use crate::demo::{self, SeedOptions};
use crate::engine::{BatchRequest, Caller, DecisionMode, DecisionPlan, DecisionRequest, Engine, EngineError};
use crate::registry::{SharedRegistry, StrategyRegistry};
use crate::reload::{Reloader, watch_sources};
use crate::request_time::RequestTime;
use crate::sandbox::{Sandbox, SandboxLimits};
use crate::service::{self, AccessTokens, AppState, ServeLimits, bind, check_exposure};
use crate::spoke_config::Environment;
use crate::spoke_extension::{self, ExtensionError};

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

    /// Fuel (WebAssembly instructions, roughly) one strategy call may burn.
    #[arg(long, env = "SPOKE_BATCHES_FUEL_PER_CALL", global = true)]
    pub fuel_per_call: Option<u64>,

    /// Wall-clock milliseconds one strategy call may take, host calls included.
    #[arg(long, env = "SPOKE_BATCHES_DEADLINE_MS", global = true)]
    pub deadline_ms: Option<u64>,

    /// Linear memory one strategy instance may grow to, in MiB.
    #[arg(long, env = "SPOKE_BATCHES_MEMORY_MIB", global = true)]
    pub memory_mib: Option<usize>,

    /// Host calls one strategy call may make.
    #[arg(long, env = "SPOKE_BATCHES_HOST_CALLS_PER_CALL", global = true)]
    pub host_calls_per_call: Option<u32>,

    /// Bytes of log lines and output one strategy call may keep.
    #[arg(long, env = "SPOKE_BATCHES_LOG_BYTES_PER_CALL", global = true)]
    pub log_bytes_per_call: Option<usize>,

    /// Bytes a strategy component file may have.
    #[arg(long, env = "SPOKE_BATCHES_COMPONENT_BYTES", global = true)]
    pub component_bytes: Option<u64>,

    /// Milliseconds compiling one strategy component may take before its load fails.
    #[arg(long, env = "SPOKE_BATCHES_COMPILE_TIMEOUT_MS", global = true)]
    pub compile_timeout_ms: Option<u64>,

    /// Strategy instances that may run at once (the pooling allocator's slots).
    #[arg(long, env = "SPOKE_BATCHES_CONCURRENT_INSTANCES", global = true)]
    pub concurrent_instances: Option<u32>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The sandbox limits: the defaults, with what the flags or environment override.
    pub fn limits(&self) -> SandboxLimits {
        let defaults = SandboxLimits::default();
        SandboxLimits {
            fuel_per_call: self.fuel_per_call.unwrap_or(defaults.fuel_per_call),
            deadline: self.deadline_ms.map_or(defaults.deadline, Duration::from_millis),
            memory_bytes: self
                .memory_mib
                .map_or(defaults.memory_bytes, |mib| mib.saturating_mul(1 << 20)),
            host_calls_per_call: self.host_calls_per_call.unwrap_or(defaults.host_calls_per_call),
            log_bytes_per_call: self.log_bytes_per_call.unwrap_or(defaults.log_bytes_per_call),
            component_bytes: self.component_bytes.unwrap_or(defaults.component_bytes),
            compile_timeout: self
                .compile_timeout_ms
                .map_or(defaults.compile_timeout, Duration::from_millis),
            concurrent_instances: self.concurrent_instances.unwrap_or(defaults.concurrent_instances),
            ..defaults
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the HTTP service (the `/v1` API, `/metrics`, `/healthz` and the dashboard at `/`).
    /// Prints one JSON line with its address, then logs to stderr until Ctrl-C or SIGTERM.
    Serve {
        /// The address to listen on; a non-loopback address needs SPOKE_BATCHES_TOKEN.
        #[arg(long, env = "SPOKE_BATCHES_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where compiled components are kept across restarts (default: ~/.cache/spoke-batches).
        #[arg(long, env = "SPOKE_BATCHES_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
        /// Compile every component at start instead of using the cache.
        #[arg(long)]
        no_cache: bool,
        /// Do not watch the strategies folder for changes.
        #[arg(long)]
        no_watch: bool,
        /// Longest time one request may take, in milliseconds.
        #[arg(long, env = "SPOKE_BATCHES_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
        request_timeout_ms: u64,
        /// Rebuild the strategies with this command whenever their sources change (make dev).
        #[arg(long)]
        rebuild_command: Option<String>,
        /// Longest time a connection may go without a request being answered on it (a request
        /// head must arrive within it), in milliseconds.
        #[arg(long, env = "SPOKE_BATCHES_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000,
              value_parser = clap::value_parser!(u64).range(1..))]
        header_read_timeout_ms: u64,
        /// Connections open at once; more wait to be accepted.
        #[arg(long, env = "SPOKE_BATCHES_MAX_CONNECTIONS", default_value_t = 1_024,
              value_parser = clap::value_parser!(u32).range(1..))]
        max_connections: u32,
        /// How long a shutdown waits for the requests in flight before dropping them, in
        /// milliseconds.
        #[arg(long, env = "SPOKE_BATCHES_SHUTDOWN_TIMEOUT_MS", default_value_t = 30_000)]
        shutdown_timeout_ms: u64,
        /// Serve /metrics without a token even when one is set.
        #[arg(long)]
        public_metrics: bool,
    },
    /// Creates Spoke's tables in the database (never alters tables Spoke created).
    Migrate {
        /// On a schema Spoke created, add only the host's two indexes that keep batch requests
        /// fast on big campaigns and busy texters (the claim index and the assignment status
        /// index; built CONCURRENTLY on PostgreSQL: Spoke keeps writing meanwhile).
        #[arg(long)]
        claim_index: bool,
    },
    /// Seeds a realistic demo (an organization, vetted and other texters, a dynamic campaign
    /// with contacts across US time zones) into an empty database.
    Seed {
        /// How many contacts the demo campaign gets.
        #[arg(long, default_value_t = 5_000)]
        contacts: u64,
        /// Succeed without seeding when the database already has campaigns.
        #[arg(long, conflicts_with = "add")]
        if_empty: bool,
        /// Add another demo organization and campaign to a database that has campaigns.
        #[arg(long)]
        add: bool,
        /// Texters to create beyond the demo's seven people, each with an empty assignment.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000))]
        texters: u32,
        /// Do not draw a progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Lists the strategies in the strategies folder: name, display name, file, status or load
    /// error.
    Strategies,
    /// Creates `strategies/NAME` from a template (renaming its package) and builds it.
    New {
        /// The new strategy's name: lowercase letters, digits and `-`.
        name: String,
        /// The strategy to start from.
        #[arg(long, default_value = "vetted-texters")]
        from: String,
        /// The folder of strategy sources.
        #[arg(long, default_value = "strategies")]
        sources: PathBuf,
    },
    /// Runs a strategy against declarative fixtures, each on a throwaway SQLite database.
    Test {
        /// The strategy (its component is `<strategies>/<STRATEGY>.wasm`).
        strategy: String,
        /// Fixture files; default `<sources>/<STRATEGY>/fixtures/*.json`.
        fixtures: Vec<PathBuf>,
        /// The folder of strategy sources.
        #[arg(long, default_value = "strategies")]
        sources: PathBuf,
        /// Print the results as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Validates a strategy component without a database and runs it once on a built-in
    /// fixture. Prints a report for people, or JSON with --json; exits non-zero on failure.
    Check {
        /// The component file (`<name>.wasm`).
        file: PathBuf,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
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
    /// Runs a batch request and rolls it back: what would happen and why, with every question
    /// the strategy asked the host and its answers, its log lines, the clamping and the reason.
    Explain {
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
    /// Like explain, deciding with the component FILE.wasm instead of the campaign's strategy:
    /// compare a new version with the current one on real data before shipping it. Read-only.
    Replay {
        /// The assignment.
        #[arg(long)]
        assignment_id: i64,
        /// The component to decide with; absent means the campaign's own strategy.
        #[arg(long)]
        strategy: Option<PathBuf>,
        /// The user asking; without it the command acts as an administrator.
        #[arg(long)]
        texter_id: Option<i64>,
        /// How many contacts; 0 or absent means a full batch.
        #[arg(long, allow_negative_numbers = true)]
        number_contacts: Option<i64>,
        /// The time of the request (RFC 3339); absent means now.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
    },
    /// What the strategy decides for an assignment, as a Spoke bridge asks it (the JSON of
    /// POST /v1/assignments/{id}/decision): its count and, in batch mode, its selection for
    /// the plan. Claims and writes nothing.
    Decision {
        /// The assignment.
        #[arg(long)]
        assignment_id: i64,
        /// The strategy Spoke chose (any loaded one); absent means the campaign's default.
        #[arg(long)]
        strategy: Option<String>,
        /// batch (findNewCampaignContact) or has-any (hasUnassignedContactsForTexter).
        #[arg(long, default_value = "batch")]
        mode: DecisionMode,
        /// The user asking; without it the command acts as an administrator.
        #[arg(long)]
        texter_id: Option<i64>,
        /// Spoke's plan: numberContacts (with --contacts-count); absent means the plan of
        /// Spoke's default sidebox.
        #[arg(long, allow_negative_numbers = true, requires = "contacts_count")]
        number_contacts: Option<i64>,
        /// Spoke's plan: contactsCount (with --number-contacts).
        #[arg(long, requires = "number_contacts")]
        contacts_count: Option<i64>,
        /// The time of the request (RFC 3339); absent means now.
        #[arg(long)]
        now: Option<DateTime<Utc>>,
    },
    /// Writes the folders a Spoke admin copies into Spoke's dynamicassignment-batches
    /// extensions: the bridge (`spoke-batches/`) and one folder per strategy.
    SpokeExtension {
        /// The folder to write into (refused when it has files, unless --force).
        #[arg(long)]
        out: PathBuf,
        /// The strategies to write folders for, comma-separated; default: every loaded one.
        #[arg(long, value_delimiter = ',')]
        names: Vec<String>,
        /// Put before each folder name (e.g. sb-), so no folder replaces one of Spoke's own.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Write into a folder that has files, replacing only the folders written.
        #[arg(long)]
        force: bool,
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

impl CliError {
    /// A failure whose report was already printed.
    fn silent() -> Self {
        CliError::new("", "")
    }
}

impl From<EngineError> for CliError {
    fn from(error: EngineError) -> Self {
        CliError::new(error.code().as_str(), error)
    }
}

impl From<DbError> for CliError {
    fn from(error: DbError) -> Self {
        CliError::new("DATABASE", error)
    }
}

/// Runs one command and prints its JSON answer.
pub async fn run(cli: Cli) -> ExitCode {
    init_logging(matches!(cli.command, Command::Serve { .. }));
    match execute(cli).await {
        Ok(Value::Null) => ExitCode::SUCCESS,
        Ok(answer) => {
            print_stdout(&answer.to_string());
            ExitCode::SUCCESS
        }
        Err(error) if error.code.is_empty() => ExitCode::FAILURE,
        Err(error) => {
            print_error(error.code, &error.message);
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout carries the JSON answer): `RUST_LOG` filters them (default `info`
/// for `serve`, `warn` otherwise); `SPOKE_BATCHES_LOG_FORMAT=json` makes them JSON lines.
fn init_logging(serving: bool) {
    use tracing_subscriber::EnvFilter;
    let env = Environment::from_process();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(if serving { "info" } else { "warn" }));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _ = if env.get("SPOKE_BATCHES_LOG_FORMAT") == Some("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Prints the one JSON object of a failed command.
pub fn print_error(code: &str, message: &str) {
    print_stdout(&json!({"error": {"code": code, "message": message}}).to_string());
}

/// Writes `text` and a newline to stderr, dropping it quietly when stderr is closed.
fn print_stderr(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Writes `text` and a newline to stdout. A reader that went away (`seed ... | head`) is not an
/// error of the command's: the work is done, so the line is dropped quietly instead of
/// panicking as `println!` would.
pub fn print_stdout(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

fn caller(texter_id: Option<i64>) -> Caller {
    texter_id.map_or(Caller::Operator, Caller::User)
}

/// `--now` within the range a request time may have, or now.
fn request_time(now: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, CliError> {
    match now {
        Some(now) => RequestTime::new(now)
            .map(RequestTime::get)
            .map_err(|error| CliError::new("BAD_REQUEST", format!("--now: {error}"))),
        None => Ok(Utc::now()),
    }
}

async fn execute(cli: Cli) -> Result<Value, CliError> {
    let limits = cli.limits();
    match cli.command {
        Command::Serve {
            listen,
            cache_dir,
            no_cache,
            no_watch,
            request_timeout_ms,
            rebuild_command,
            header_read_timeout_ms,
            max_connections,
            shutdown_timeout_ms,
            public_metrics,
        } => {
            let env = Environment::from_process();
            let cache_dir = if no_cache {
                None
            } else {
                cache_dir.or_else(|| default_cache_dir(&env))
            };
            let options = ServeOptions {
                listen,
                cache_dir,
                watch: !no_watch,
                request_timeout: Duration::from_millis(request_timeout_ms),
                rebuild_command,
                limits: ServeLimits {
                    header_read_timeout: Duration::from_millis(header_read_timeout_ms),
                    max_connections: max_connections as usize,
                    shutdown_timeout: Duration::from_millis(shutdown_timeout_ms),
                },
                public_metrics,
            };
            serve(&cli.database_url, &cli.strategies_dir, limits, options, env).await?;
            Ok(Value::Null)
        }
        Command::New { name, from, sources } => {
            let created =
                scaffold::scaffold(&sources, &cli.strategies_dir, &name, &from).map_err(|error| {
                    let code = match error {
                        scaffold::ScaffoldError::BadName(_) => "BAD_NAME",
                        scaffold::ScaffoldError::Exists(_) => "EXISTS",
                        scaffold::ScaffoldError::Build { .. } => "BUILD_FAILED",
                        _ => "SCAFFOLD",
                    };
                    CliError::new(code, error)
                })?;
            Ok(serde_json::to_value(created).unwrap_or_default())
        }
        Command::Test {
            strategy,
            fixtures: files,
            sources,
            json,
        } => {
            let sandbox =
                Sandbox::new(limits).map_err(|error| CliError::new("SANDBOX", format!("{error:#}")))?;
            let component = sandbox
                .load_file(&cli.strategies_dir.join(format!("{strategy}.wasm")))
                .await
                .map_err(|error| CliError::new("LOAD_FAILED", error))?;
            let files = if files.is_empty() {
                fixtures::default_fixtures(&sources, &strategy)
            } else {
                files
            };
            if files.is_empty() {
                return Err(CliError::new(
                    "NO_FIXTURES",
                    format!(
                        "no fixtures given and none in {}",
                        sources.join(&strategy).join("fixtures").display()
                    ),
                ));
            }
            let mut results = Vec::new();
            for file in &files {
                let cases =
                    fixtures::read_cases(file).map_err(|error| CliError::new("BAD_FIXTURE", error))?;
                for case in &cases {
                    results.push(fixtures::run_case(file, case, &component).await);
                }
            }
            let passed = results.iter().all(|result| result.passed);
            if json {
                print_stdout(&json!({ "passed": passed, "cases": results }).to_string());
            } else {
                print_stdout(&fixtures::human(&results));
            }
            if passed {
                Ok(Value::Null)
            } else {
                Err(CliError::silent())
            }
        }
        Command::Check { file, json } => {
            let report = check::check(&file, limits).await;
            if json {
                print_stdout(&serde_json::to_value(&report).unwrap_or_default().to_string());
            } else {
                print_stdout(&check::human(&report));
            }
            if report.ok {
                Ok(Value::Null)
            } else {
                Err(CliError::silent())
            }
        }
        Command::Strategies => {
            let registry = load_registry(&cli.strategies_dir, limits).await?;
            Ok(json!({ "strategies": registry.summaries() }))
        }
        Command::Seed {
            contacts,
            if_empty,
            add,
            texters,
            quiet,
        } => {
            let db = Database::connect(&cli.database_url).await?;
            db.prepare_schema().await?;
            if if_empty && demo::has_data(&db).await.map_err(DbError::from)? {
                return Ok(json!({ "seeded": false, "reason": "the database already has campaigns" }));
            }
            let options = SeedOptions {
                contacts,
                progress: !quiet,
                extra_texters: texters,
                add,
            };
            let summary = demo::seed_demo(&db, &options)
                .await
                .map_err(|error| CliError::new("SEED", error))?;
            let mut answer = serde_json::to_value(summary).unwrap_or_default();
            answer["seeded"] = Value::Bool(true);
            Ok(answer)
        }
        Command::Migrate { claim_index: true } => {
            let db = Database::connect(&cli.database_url).await?;
            let migrated = db.prepare_schema().await? == SchemaState::Migrated;
            let state = |created: bool| if created { "created" } else { "present" };
            let claim = db.create_index(HostIndex::Claim).await?;
            let assignment = db.create_index(HostIndex::AssignmentStatus).await?;
            Ok(json!({ "migrated": migrated, "database": db.dialect_name(),
                       "claimIndex": state(claim), "assignmentIndex": state(assignment) }))
        }
        Command::Migrate { claim_index: false } => {
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
            // Checked before anything loads: a time out of range is the caller's mistake.
            let now = request_time(now)?;
            let engine = engine(&cli.database_url, Some((&cli.strategies_dir, limits.clone()))).await?;
            let outcome = engine
                .request_batch(BatchRequest {
                    assignment_id,
                    caller: caller(texter_id),
                    number_contacts,
                    batch_type,
                    now,
                })
                .await?;
            Ok(serde_json::to_value(outcome).unwrap_or_default())
        }
        Command::Explain {
            assignment_id,
            texter_id,
            number_contacts,
            batch_type,
            now,
        } => {
            // Checked before anything loads: a time out of range is the caller's mistake.
            let now = request_time(now)?;
            let engine = engine(&cli.database_url, Some((&cli.strategies_dir, limits.clone()))).await?;
            let request = BatchRequest {
                assignment_id,
                caller: caller(texter_id),
                number_contacts,
                batch_type,
                now,
            };
            let (outcome, trace) = engine.explain_batch(request, None).await?;
            Ok(json!({ "outcome": outcome, "trace": trace }))
        }
        Command::Replay {
            assignment_id,
            strategy,
            texter_id,
            number_contacts,
            now,
        } => {
            // Checked before anything loads: a time out of range is the caller's mistake.
            let now = request_time(now)?;
            let engine = engine(&cli.database_url, Some((&cli.strategies_dir, limits.clone()))).await?;
            let replacement = match strategy {
                Some(file) => {
                    let sandbox = Sandbox::new(limits)
                        .map_err(|error| CliError::new("SANDBOX", format!("{error:#}")))?;
                    Some(
                        sandbox
                            .load_file(&file)
                            .await
                            .map_err(|error| CliError::new("LOAD_FAILED", error))?,
                    )
                }
                None => None,
            };
            let request = BatchRequest {
                assignment_id,
                caller: caller(texter_id),
                number_contacts,
                batch_type: None,
                now,
            };
            let (outcome, trace) = engine.explain_batch(request, replacement).await?;
            Ok(json!({ "outcome": outcome, "trace": trace }))
        }
        Command::Decision {
            assignment_id,
            strategy,
            mode,
            texter_id,
            number_contacts,
            contacts_count,
            now,
        } => {
            let now = request_time(now)?;
            let engine = engine(&cli.database_url, Some((&cli.strategies_dir, limits.clone()))).await?;
            let plan = number_contacts
                .zip(contacts_count)
                .map(|(number_contacts, contacts_count)| DecisionPlan {
                    number_contacts,
                    contacts_count,
                });
            let decision = engine
                .decide(DecisionRequest {
                    assignment_id,
                    caller: caller(texter_id),
                    strategy,
                    mode,
                    plan,
                    now,
                })
                .await?;
            Ok(serde_json::to_value(decision).unwrap_or_default())
        }
        Command::SpokeExtension {
            out,
            names,
            prefix,
            force,
        } => {
            let registry = load_registry(&cli.strategies_dir, limits).await?;
            let written = spoke_extension::bridged_strategies(&registry, &names, &cli.strategies_dir)
                .and_then(|strategies| spoke_extension::write_extension(&out, &strategies, &prefix, force))
                .map_err(|error| {
                    let code = match error {
                        ExtensionError::UnknownStrategy { .. } => "UNKNOWN_STRATEGY",
                        ExtensionError::NoStrategies(_) => "NO_STRATEGIES",
                        ExtensionError::BadName(_) | ExtensionError::ReservedName => "BAD_NAME",
                        ExtensionError::Exists(_) => "EXISTS",
                        ExtensionError::Io { .. } => "IO",
                    };
                    CliError::new(code, error)
                })?;
            Ok(serde_json::to_value(written).unwrap_or_default())
        }
        Command::HasUnassigned {
            assignment_id,
            texter_id,
            now,
        } => {
            // Checked before anything loads: a time out of range is the caller's mistake.
            let now = request_time(now)?;
            let engine = engine(&cli.database_url, Some((&cli.strategies_dir, limits.clone()))).await?;
            let count = engine
                .has_unassigned(assignment_id, caller(texter_id), now)
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

/// How `serve` runs.
struct ServeOptions {
    listen: SocketAddr,
    cache_dir: Option<PathBuf>,
    watch: bool,
    request_timeout: Duration,
    rebuild_command: Option<String>,
    limits: ServeLimits,
    public_metrics: bool,
}

fn default_cache_dir(env: &Environment) -> Option<PathBuf> {
    let base = env
        .get("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|home| Path::new(home).join(".cache")))?;
    Some(base.join("spoke-batches"))
}

async fn serve(
    database_url: &str,
    strategies_dir: &Path,
    limits: SandboxLimits,
    options: ServeOptions,
    env: Environment,
) -> Result<(), CliError> {
    let tokens = AccessTokens::from_env(&env).map_err(|error| CliError::new("BAD_TOKEN", error))?;
    // The variable whose token the example request sends, if the service needs one.
    let token_var = if env.get(service::SERVICE_TOKEN_VAR).is_some() {
        Some(service::SERVICE_TOKEN_VAR)
    } else if tokens.any() {
        Some(service::OPERATOR_TOKEN_VAR)
    } else {
        None
    };
    let db = Database::connect(database_url).await?;
    db.prepare_schema().await?;
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
    let sandbox = Sandbox::with_cache(limits, options.cache_dir.as_deref())
        .map_err(|error| CliError::new("SANDBOX", format!("{error:#}")))?;
    let registry = StrategyRegistry::load_dir(&sandbox, strategies_dir)
        .await
        .map_err(|error| CliError::new("STRATEGIES_FOLDER", error))?;
    for (name, entry) in registry.entries() {
        if let Some(error) = &entry.error {
            tracing::warn!(strategy = name, %error, "strategy failed to load");
        }
    }
    let shared = SharedRegistry::new(registry);
    let engine = Engine::new(db, shared.clone(), env).with_metrics(Arc::clone(sandbox.metrics()));
    engine.know_claim_index(claim_index);
    let state_engine = engine.clone();
    let state = AppState::new(engine, Arc::clone(&sandbox), tokens, options.request_timeout)
        .with_public_metrics(options.public_metrics);
    check_exposure(options.listen, &state).map_err(|error| CliError::new("UNSAFE_LISTEN", error))?;
    let listener = bind(options.listen)
        .await
        .map_err(|error| CliError::new("LISTEN", error))?;
    let address = listener.local_addr().unwrap_or(options.listen);
    let _watch = if options.watch {
        let reloader = Reloader::new(Arc::clone(&sandbox), strategies_dir, shared);
        Some(reloader.watch().map_err(|error| CliError::new("WATCH", error))?)
    } else {
        None
    };
    let _rebuild = match options.rebuild_command {
        Some(command) => {
            let root = strategies_dir.parent().unwrap_or(strategies_dir);
            Some(watch_sources(root, command).map_err(|error| CliError::new("WATCH", error))?)
        }
        None => None,
    };
    let example = example_request(&state_engine, address, token_var).await;
    print_stdout(
        &json!({"listening": format!("http://{address}"), "dashboard": format!("http://{address}/"),
               "compiled": sandbox.compilations(), "example": example})
        .to_string(),
    );
    print_stderr(&format!("Dashboard: http://{address}/"));
    if let Some(example) = &example {
        print_stderr(&format!("Try:       {example}"));
    }
    tracing::info!(%address, "serving");
    service::serve(listener, state, options.limits)
        .await
        .map_err(|error| CliError::new("SERVE", error))
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

/// Connects (creating Spoke's tables where absent) and loads the strategies when the command
/// runs any.
async fn engine(database_url: &str, strategies: Option<(&Path, SandboxLimits)>) -> Result<Engine, CliError> {
    let db = Database::connect(database_url).await?;
    db.prepare_schema().await?;
    let registry = match strategies {
        Some((dir, limits)) => load_registry(dir, limits).await?,
        None => StrategyRegistry::default(),
    };
    Ok(Engine::new(
        db,
        SharedRegistry::new(registry),
        Environment::from_process(),
    ))
}

async fn load_registry(dir: &Path, limits: SandboxLimits) -> Result<StrategyRegistry, CliError> {
    let sandbox: Arc<Sandbox> =
        Sandbox::new(limits).map_err(|error| CliError::new("SANDBOX", format!("{error:#}")))?;
    StrategyRegistry::load_dir(&sandbox, dir)
        .await
        .map_err(|error| CliError::new("STRATEGIES_FOLDER", error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_flag_reaches_the_sandbox_limits() {
        let cli = Cli::parse_from([
            "spoke-batches",
            "--fuel-per-call",
            "7",
            "--deadline-ms",
            "8",
            "--memory-mib",
            "9",
            "--host-calls-per-call",
            "10",
            "--log-bytes-per-call",
            "11",
            "--component-bytes",
            "12",
            "--concurrent-instances",
            "13",
            "--compile-timeout-ms",
            "14",
            "strategies",
        ]);
        let limits = cli.limits();
        let expected = SandboxLimits {
            fuel_per_call: 7,
            deadline: Duration::from_millis(8),
            memory_bytes: 9 << 20,
            host_calls_per_call: 10,
            log_bytes_per_call: 11,
            component_bytes: 12,
            concurrent_instances: 13,
            compile_timeout: Duration::from_millis(14),
            ..SandboxLimits::default()
        };
        assert_eq!(limits, expected);
        let defaults = Cli::parse_from(["spoke-batches", "strategies"]).limits();
        assert_eq!(defaults, SandboxLimits::default());
    }

    #[test]
    fn the_serve_edge_flags_have_their_defaults_and_take_values() {
        let edges = |args: &[&str]| match Cli::parse_from(args).command {
            Command::Serve {
                header_read_timeout_ms,
                max_connections,
                shutdown_timeout_ms,
                public_metrics,
                ..
            } => (
                header_read_timeout_ms,
                max_connections,
                shutdown_timeout_ms,
                public_metrics,
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(edges(&["spoke-batches", "serve"]), (10_000, 1_024, 30_000, false));
        let set = [
            "spoke-batches",
            "serve",
            "--header-read-timeout-ms",
            "5",
            "--max-connections",
            "7",
            "--shutdown-timeout-ms",
            "0",
            "--public-metrics",
        ];
        assert_eq!(edges(&set), (5, 7, 0, true));
        for zero in ["--header-read-timeout-ms", "--max-connections"] {
            assert!(
                Cli::try_parse_from(["spoke-batches", "serve", zero, "0"]).is_err(),
                "{zero} 0"
            );
        }
    }

    #[tokio::test]
    async fn a_now_out_of_range_is_a_bad_request_before_anything_loads() {
        for now in [
            "+262142-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "2200-01-01T00:00:00Z",
        ] {
            for command in ["request-batch", "explain", "replay", "has-unassigned"] {
                // A database and a strategies folder that do not exist: the check comes first.
                let cli = Cli::parse_from([
                    "spoke-batches",
                    "--database-url",
                    "postgres://nobody@127.0.0.1:1/none",
                    "--strategies",
                    "/nonexistent",
                    command,
                    "--assignment-id",
                    "1",
                    "--now",
                    now,
                ]);
                let error = execute(cli).await.unwrap_err();
                assert_eq!(
                    error.code, "BAD_REQUEST",
                    "{command} --now {now}: {}",
                    error.message
                );
                assert!(error.message.contains("2200-01-01"), "{}", error.message);
            }
        }
        let inside = request_time(Some("2199-12-31T23:59:59Z".parse().unwrap())).unwrap();
        assert_eq!(inside.to_rfc3339(), "2199-12-31T23:59:59+00:00");
    }
}
