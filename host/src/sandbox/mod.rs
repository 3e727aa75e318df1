//! The sandbox: wasmtime configured once ([`engine`](self)), the WIT bindings, the granted
//! WASI, component loading (with its compile cache and the guarded reading of files) and the
//! per-request call session with its limits.

mod bindings;
mod cache;
mod call;
mod component;
mod engine;
mod error;
mod files;
mod imports;
mod limits;
mod request;
mod wasi;

pub use bindings::WIT_VERSION;
pub use cache::{CacheError, CompileCache};
pub use call::{CallJournal, CallReport, HostCall, LogLine, StrategySession};
pub use component::{Sandbox, StrategyComponent, content_hash, is_valid_name, read_component};
pub use error::{FailureKind, HostFailure, LoadError, StrategyFailure};
pub use limits::{LimitOverrides, SandboxLimits};
pub use request::{BatchPlan, StrategyRequest};
