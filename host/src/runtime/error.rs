//! What goes wrong with a strategy: at load time ([`LoadError`]) and during a call
//! ([`StrategyFailure`]). Every message names the strategy and says what to do.

use std::path::PathBuf;
use std::time::Duration;

/// Why a component file could not be loaded as a strategy.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The file is larger than the component size limit.
    #[error("{path} is {size} bytes; the limit for a strategy component is {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file stem cannot be a strategy name.
    #[error(
        "{path}: `{stem}` is not a valid strategy name; use lowercase letters, digits and `-`, \
         starting with a letter"
    )]
    InvalidName {
        /// The file.
        path: PathBuf,
        /// Its stem.
        stem: String,
    },
    /// The bytes are not a WebAssembly component.
    #[error(
        "{path} is not a WebAssembly component{detail}; build strategies with \
         `make strategies` (cargo build --target wasm32-wasip2)"
    )]
    NotAComponent {
        /// The file.
        path: PathBuf,
        /// What it is instead, when known.
        detail: String,
    },
    /// Compilation failed (truncated or invalid component).
    #[error("{path} is not a valid component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The compiler's reason.
        reason: String,
    },
    /// The component was built against a WIT version this host does not know.
    #[error(
        "{path} was built against {found}; this host implements {supported}. Rebuild it against \
         the host's wit/ folder"
    )]
    UnsupportedWitVersion {
        /// The file.
        path: PathBuf,
        /// The package version the component imports.
        found: String,
        /// What the host supports.
        supported: String,
    },
    /// The component imports something the sandbox does not grant.
    #[error(
        "{path} imports {imports}, which strategies are not granted (they get only wasi:io, \
         wasi:cli stdio and spoke:batches/host); remove the code that uses them"
    )]
    ForbiddenImports {
        /// The file.
        path: PathBuf,
        /// The imports, comma-separated.
        imports: String,
    },
    /// The component does not implement the `strategy` world.
    #[error("{path} does not implement the spoke:batches `strategy` world: {reason}")]
    NotAStrategy {
        /// The file.
        path: PathBuf,
        /// What is missing or mistyped.
        reason: String,
    },
    /// `name()` or `display-name()` failed while loading.
    #[error("{path}: {failure}")]
    ProbeFailed {
        /// The file.
        path: PathBuf,
        /// The failure.
        failure: Box<StrategyFailure>,
    },
    /// `name()` disagrees with the file stem.
    #[error(
        "{path}: name() returns `{name}` but the file is {stem}.wasm. The directory, the package \
         name and name() must agree: set `name = \"{stem}\"` in strategies/{stem}/Cargo.toml \
         (name() returns the package name), then run `make strategies`"
    )]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// The file stem.
        stem: String,
        /// What `name()` returned.
        name: String,
    },
}

/// A failed call into a strategy: which strategy, which version, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("strategy `{strategy}` (version {version}) failed: {kind}")]
pub struct StrategyFailure {
    /// The strategy's name.
    pub strategy: String,
    /// The first 12 hex digits of the component's SHA-256.
    pub version: String,
    /// Why it failed.
    pub kind: FailureKind,
}

/// Why a strategy call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FailureKind {
    /// The call burned its fuel.
    #[error("it ran out of fuel (limit: {limit} units per call); it may loop forever")]
    OutOfFuel {
        /// The fuel limit.
        limit: u64,
    },
    /// The call ran past its wall-clock deadline.
    #[error("it ran past its deadline of {} ms per call", limit.as_millis())]
    Deadline {
        /// The deadline.
        limit: Duration,
    },
    /// The instance tried to grow its memory past the limit.
    #[error("it tried to grow its memory to {desired} bytes; the limit is {limit} bytes per instance")]
    Memory {
        /// The size asked for.
        desired: usize,
        /// The limit.
        limit: usize,
    },
    /// The call made too many host calls.
    #[error("it made more than {limit} host calls in one call")]
    TooManyHostCalls {
        /// The limit.
        limit: u32,
    },
    /// A WebAssembly trap (a panic shows as `unreachable`, with its message when printed).
    #[error("it trapped: {trap}{}", panic.as_ref().map(|p| format!(" ({p})")).unwrap_or_default())]
    Trap {
        /// The trap.
        trap: String,
        /// The panic message the strategy printed, if any.
        panic: Option<String>,
    },
    /// The strategy returned `err(message)`.
    #[error("it returned an error: {0}")]
    ErrorResult(String),
    /// The strategy sent a descriptor or value the host refuses.
    #[error("it returned an invalid value: {0}")]
    InvalidValue(String),
    /// Every instance slot is busy.
    #[error("all {limit} sandbox instance slots are busy; retry shortly")]
    Busy {
        /// The number of slots.
        limit: u32,
    },
    /// The host failed while answering one of the strategy's questions.
    #[error("the host failed while answering it: {0}")]
    Host(String),
}

impl FailureKind {
    /// A short, stable label for metrics and JSON error codes.
    pub fn code(&self) -> &'static str {
        match self {
            FailureKind::OutOfFuel { .. } => "fuel",
            FailureKind::Deadline { .. } => "deadline",
            FailureKind::Memory { .. } => "memory",
            FailureKind::TooManyHostCalls { .. } => "host-calls",
            FailureKind::Trap { .. } => "trap",
            FailureKind::ErrorResult(_) => "error-result",
            FailureKind::InvalidValue(_) => "invalid-value",
            FailureKind::Busy { .. } => "busy",
            FailureKind::Host(_) => "host",
        }
    }
}
