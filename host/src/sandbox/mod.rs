//! The sandbox: wasmtime configured once ([`engine`](self)), the WIT bindings of each released
//! version side by side, the granted WASI, component loading (with its compile cache and the
//! guarded reading of files) and the per-request session in its typed states, with its limits.

mod bindings;
mod budget;
mod cache;
mod classify;
mod component;
mod engine;
mod error;
mod files;
mod footprint;
mod host;
mod incremental;
mod journal;
mod limiter;
pub(crate) mod limits;
mod load;
mod log_tag;
mod request;
mod session;
mod shared;
mod state;
mod validate;
mod wasi;

pub use bindings::WIT_VERSION;
pub use cache::{CacheError, CompileCache};
pub use component::StrategyComponent;
pub use error::{FailureKind, HostFailure, LoadError, StrategyFailure};
pub use footprint::{Footprint, SlotSize};
pub use journal::{CallJournal, CallReport, HostCall, LogLine};
pub use limits::{LimitOverrides, SandboxLimits};
pub use load::{content_hash, is_valid_name, read_component};
pub use request::{BatchPlan, StrategyRequest};
pub use session::{Finished, SpentInstance, StrategyInstance, StrategySession};
pub use shared::Sandbox;
