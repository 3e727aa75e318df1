//! The command line's flags, as clap types: the global options (the database, the strategies
//! folder and the sandbox limits), the commands, and the argument groups several commands
//! share (`#[command(flatten)]`), each converted once into what the rest of the crate takes.
//!
//! The flags, their environment variables, defaults and help texts are a contract (the README
//! and `tests/cli.rs` drive them): a field's doc comment is its help text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use super::error::CliError;
use crate::authoring::Language;
use crate::db::DEFAULT_DATABASE_URL;
use crate::engine::{BatchRequest, Caller, DecisionMode, DecisionPlan};
use crate::error_code::ErrorCode;
use crate::request_time::RequestTime;
use crate::sandbox::SandboxLimits;

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

    // What one strategy call may use.
    #[command(flatten)]
    #[allow(missing_docs)]
    pub limits: LimitArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sandbox limits, each overriding its default when given.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
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

    /// Core module instances each instance slot holds; a component needing more is refused.
    #[arg(long, env = "SPOKE_BATCHES_CORE_INSTANCES_PER_SLOT", global = true)]
    pub core_instances_per_slot: Option<u32>,

    /// Linear memories each instance slot holds; a component needing more is refused.
    #[arg(long, env = "SPOKE_BATCHES_MEMORIES_PER_SLOT", global = true)]
    pub memories_per_slot: Option<u32>,

    /// Tables each instance slot holds; a component needing more is refused.
    #[arg(long, env = "SPOKE_BATCHES_TABLES_PER_SLOT", global = true)]
    pub tables_per_slot: Option<u32>,
}

impl LimitArgs {
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
            core_instances_per_slot: self
                .core_instances_per_slot
                .unwrap_or(defaults.core_instances_per_slot),
            memories_per_slot: self.memories_per_slot.unwrap_or(defaults.memories_per_slot),
            tables_per_slot: self.tables_per_slot.unwrap_or(defaults.tables_per_slot),
            ..defaults
        }
    }
}

impl Cli {
    /// The sandbox limits: the defaults, with what the flags or environment override.
    pub fn limits(&self) -> SandboxLimits {
        self.limits.limits()
    }
}

/// The assignment a command acts on.
#[derive(Debug, Clone, Args)]
pub struct AssignmentArg {
    /// The assignment.
    #[arg(long)]
    pub assignment_id: i64,
}

/// Who is asking.
#[derive(Debug, Clone, Args)]
pub struct TexterArg {
    /// The user asking; without it the command acts as an administrator.
    #[arg(long)]
    pub texter_id: Option<i64>,
}

impl TexterArg {
    /// The engine's caller: the texter named, else the operator (the CLI runs as the operator).
    pub fn caller(&self) -> Caller {
        self.texter_id.map_or(Caller::Operator, Caller::User)
    }
}

/// How many contacts a batch request asks for.
#[derive(Debug, Clone, Args)]
pub struct CountArg {
    /// How many contacts; 0 or absent means a full batch.
    #[arg(long, allow_negative_numbers = true)]
    pub number_contacts: Option<i64>,
}

/// The time of a request.
#[derive(Debug, Clone, Args)]
pub struct NowArg {
    /// The time of the request (RFC 3339); absent means now.
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
}

impl NowArg {
    /// `--now` within the range a request time may have, or now. Checked before anything loads:
    /// a time out of range is the caller's mistake.
    pub fn time(&self) -> Result<DateTime<Utc>, CliError> {
        request_time(self.now)
    }
}

/// `--now` within the range a request time may have, or now.
pub(super) fn request_time(now: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, CliError> {
    match now {
        Some(now) => RequestTime::new(now)
            .map(RequestTime::get)
            .map_err(|error| CliError::new(ErrorCode::BadRequest, format!("--now: {error}"))),
        None => Ok(Utc::now()),
    }
}

/// The five arguments of a batch request (`request-batch`, `explain`).
#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub assignment: AssignmentArg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub texter: TexterArg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub count: CountArg,
    /// The strategy to use; absent means the campaign's default.
    #[arg(long)]
    pub batch_type: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub now: NowArg,
}

impl BatchArgs {
    /// The engine's batch request these arguments name.
    pub fn request(self) -> Result<BatchRequest, CliError> {
        Ok(BatchRequest {
            assignment_id: self.assignment.assignment_id,
            caller: self.texter.caller(),
            number_contacts: self.count.number_contacts,
            batch_type: self.batch_type,
            now: self.now.time()?,
        })
    }
}

/// `serve`'s own flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address to listen on; a non-loopback address needs SPOKE_BATCHES_TOKEN.
    #[arg(long, env = "SPOKE_BATCHES_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where compiled components are kept across restarts (default: ~/.cache/spoke-batches).
    #[arg(long, env = "SPOKE_BATCHES_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every component at start instead of using the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not watch the strategies folder for changes.
    #[arg(long)]
    pub no_watch: bool,
    /// Longest time one request may take, in milliseconds.
    #[arg(long, env = "SPOKE_BATCHES_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Rebuild the strategies with this command whenever their sources change (make dev).
    #[arg(long)]
    pub rebuild_command: Option<String>,
    /// Keep every compiled function in memory and reuse it when a rebuilt component is loaded,
    /// so a reload compiles only what changed (make dev; costs the memory of the functions).
    #[arg(long, env = "SPOKE_BATCHES_INCREMENTAL_COMPILE")]
    pub incremental_compile: bool,
    /// Longest time a connection may go without a request being answered on it (a request
    /// head must arrive within it), in milliseconds.
    #[arg(long, env = "SPOKE_BATCHES_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// Connections open at once; more wait to be accepted.
    #[arg(long, env = "SPOKE_BATCHES_MAX_CONNECTIONS", default_value_t = 1_024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// How long a shutdown waits for the requests in flight before dropping them, in
    /// milliseconds.
    #[arg(long, env = "SPOKE_BATCHES_SHUTDOWN_TIMEOUT_MS", default_value_t = 30_000)]
    pub shutdown_timeout_ms: u64,
    /// Serve /metrics without a token even when one is set.
    #[arg(long)]
    pub public_metrics: bool,
    /// How often, at most, each dynamic campaign's progress (its contacts by state, for the
    /// dashboard) is counted in the background, in milliseconds; each count reads all of a
    /// campaign's contacts. 0 never counts.
    #[arg(long, env = "SPOKE_BATCHES_PROGRESS_INTERVAL_MS", default_value_t = 30_000)]
    pub progress_interval_ms: u64,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the HTTP service (the `/v1` API, `/metrics`, `/healthz` and the dashboard at `/`).
    /// Prints one JSON line with its address, then logs to stderr until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Creates Spoke's tables in the database (never alters tables Spoke created).
    Migrate {
        /// On a schema Spoke created, add only the host's two indexes that keep batch requests
        /// fast on big campaigns and busy texters (the claim index and the assignment status
        /// index; built CONCURRENTLY on PostgreSQL: Spoke keeps writing meanwhile).
        #[arg(long)]
        claim_index: bool,
        /// On a schema Spoke created, add only the host's count of each assignment's contacts
        /// (a table kept exact by triggers on campaign_contact), so a batch request never
        /// counts every contact a busy texter holds. Run again to count afresh. Writers of
        /// campaign_contact wait while it counts (0.2-0.4 s for a million contacts, measured).
        #[arg(long)]
        holdings: bool,
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
        /// The strategy to start from (default: vetted-texters, or with --lang js
        /// js-vetted-texters, with --lang ts ts-vetted-texters).
        #[arg(long)]
        from: Option<String>,
        /// The language to write it in: rust (the default), js or ts.
        #[arg(long, value_enum)]
        lang: Option<Language>,
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
    RequestBatch(BatchArgs),
    /// Runs a batch request and rolls it back: what would happen and why, with every question
    /// the strategy asked the host and its answers, its log lines, the clamping and the reason.
    Explain(BatchArgs),
    /// Like explain, deciding with the component FILE.wasm instead of the campaign's strategy:
    /// compare a new version with the current one on real data before shipping it. Read-only.
    Replay {
        #[command(flatten)]
        #[allow(missing_docs)]
        assignment: AssignmentArg,
        /// The component to decide with; absent means the campaign's own strategy.
        #[arg(long)]
        strategy: Option<PathBuf>,
        #[command(flatten)]
        #[allow(missing_docs)]
        texter: TexterArg,
        #[command(flatten)]
        #[allow(missing_docs)]
        count: CountArg,
        #[command(flatten)]
        #[allow(missing_docs)]
        now: NowArg,
    },
    /// What the strategy decides for an assignment, as a Spoke bridge asks it (the JSON of
    /// POST /v1/assignments/{id}/decision): its count and, in batch mode, its selection for
    /// the plan. Claims and writes nothing.
    Decision {
        #[command(flatten)]
        #[allow(missing_docs)]
        assignment: AssignmentArg,
        /// The strategy Spoke chose (any loaded one); absent means the campaign's default.
        #[arg(long)]
        strategy: Option<String>,
        /// batch (findNewCampaignContact) or has-any (hasUnassignedContactsForTexter).
        #[arg(long, default_value = "batch")]
        mode: DecisionMode,
        #[command(flatten)]
        #[allow(missing_docs)]
        texter: TexterArg,
        #[command(flatten)]
        #[allow(missing_docs)]
        plan: PlanArgs,
        #[command(flatten)]
        #[allow(missing_docs)]
        now: NowArg,
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
        #[command(flatten)]
        #[allow(missing_docs)]
        assignment: AssignmentArg,
        #[command(flatten)]
        #[allow(missing_docs)]
        texter: TexterArg,
        #[command(flatten)]
        #[allow(missing_docs)]
        now: NowArg,
    },
    /// Releases an assignment's unsent contacts (and its conversations with --conversations).
    Release {
        #[command(flatten)]
        #[allow(missing_docs)]
        assignment: AssignmentArg,
        /// Release conversations too, not only needsMessage contacts.
        #[arg(long)]
        conversations: bool,
        #[command(flatten)]
        #[allow(missing_docs)]
        texter: TexterArg,
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

/// Spoke's plan, as `decision` takes it: both flags or neither.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Spoke's plan: numberContacts (with --contacts-count); absent means the plan of
    /// Spoke's default sidebox.
    #[arg(long, allow_negative_numbers = true, requires = "contacts_count")]
    pub number_contacts: Option<i64>,
    /// Spoke's plan: contactsCount (with --number-contacts).
    #[arg(long, requires = "number_contacts")]
    pub contacts_count: Option<i64>,
}

impl PlanArgs {
    /// The plan, when both flags are given (clap refuses one without the other).
    pub fn plan(&self) -> Option<DecisionPlan> {
        self.number_contacts
            .zip(self.contacts_count)
            .map(|(number_contacts, contacts_count)| DecisionPlan {
                number_contacts,
                contacts_count,
            })
    }
}
