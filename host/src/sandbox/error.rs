//! What goes wrong with a strategy: at load time ([`LoadError`]) and during a call
//! ([`StrategyFailure`]). Every message names the strategy and says what to do.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::footprint::TooBig;
use crate::source::SourceError;

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
    /// The path is not a regular file (a directory, a FIFO, a device, a socket).
    #[error(
        "{path} is {kind}, not a regular file; the strategies folder may hold only component \
         files (remove it or give it another extension)"
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
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
    /// One instance of the component needs more of the pool than a slot holds.
    #[error("{path} is refused: {short}")]
    TooBigForSlot {
        /// The file.
        path: PathBuf,
        /// What is short.
        short: TooBig,
    },
    /// Compilation failed (truncated or invalid component).
    #[error("{path} is not a valid component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The compiler's reason.
        reason: String,
    },
    /// Compiling took longer than the compile timeout.
    #[error(
        "{path} took longer than {} ms to compile (the compile timeout); a component this large \
         or complex is refused. Make its functions smaller, or raise --compile-timeout-ms \
         (SPOKE_BATCHES_COMPILE_TIMEOUT_MS) if it is trusted", limit.as_millis()
    )]
    CompileTimeout {
        /// The file.
        path: PathBuf,
        /// The timeout.
        limit: Duration,
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
    /// The host failed while answering one of the strategy's questions (its database, or a
    /// host bug): not the strategy's failure, and not counted against it.
    #[error("the host failed while answering it: {0}")]
    Host(HostFailure),
}

/// The host's own error while it answered a strategy's question ([`SourceError`]), kept typed
/// through the WebAssembly call so the caller tells a database failure from a host bug by its
/// variant, never by its text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct HostFailure {
    /// Shared: a [`FailureKind`] is cloned, and a database error cannot be.
    error: Arc<SourceError>,
}

impl HostFailure {
    /// Wraps the error a [`ContactSource`](crate::source::ContactSource) returned.
    pub fn new(error: SourceError) -> Self {
        HostFailure {
            error: Arc::new(error),
        }
    }

    /// The error, to inspect.
    pub fn error(&self) -> &SourceError {
        &self.error
    }

    /// The error itself when this is its only holder, else this failure back.
    pub fn into_error(self) -> Result<SourceError, Self> {
        Arc::try_unwrap(self.error).map_err(|error| HostFailure { error })
    }
}

/// Two host failures are equal when they are the same error (one failure and its clones).
impl PartialEq for HostFailure {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.error, &other.error)
    }
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

    /// Whether the strategy is to blame (and the failure is counted against it in the
    /// metrics): every kind but a host failure.
    pub fn blames_strategy(&self) -> bool {
        !matches!(self, FailureKind::Host(_))
    }
}
