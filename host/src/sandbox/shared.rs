//! The [`Sandbox`]: what every strategy shares (the wasmtime engine with its epoch ticker, the
//! linker of the granted WASI and of every WIT version's host interface, the limits, the
//! compile cache, the metrics and the compile slot). Loading a component is `load.rs`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wasmtime::Engine;
use wasmtime::component::Linker;

use super::bindings;
use super::cache::CompileCache;
use super::engine;
use super::incremental::FunctionCache;
use super::limits::SandboxLimits;
use super::state::CallState;
use super::wasi;
use crate::metrics::Metrics;

/// The engine, the linker, the limits, the compile cache and the metrics every strategy
/// shares.
pub struct Sandbox {
    pub(super) engine: Engine,
    pub(super) linker: Linker<CallState>,
    pub(super) limits: Arc<SandboxLimits>,
    pub(super) cache: Option<CompileCache>,
    metrics: Arc<Metrics>,
    pub(super) compilations: AtomicU64,
    /// One compile at a time: a component's compile takes every core it can get (its
    /// functions compile in parallel), so a second one would only slow both down, and a
    /// hostile one holds up the others for at most the compile timeout.
    pub(super) compile_slot: tokio::sync::Semaphore,
    /// The content hashes being compiled now, including compiles that ran past the timeout
    /// (Cranelift cannot be interrupted, so they finish in the background): the same bytes
    /// are not compiled again until their compile ends, however often they are loaded.
    pub(super) compiling: Arc<Mutex<HashSet<String>>>,
    /// Cranelift's incremental cache, when on.
    functions: Option<Arc<FunctionCache>>,
}

impl Sandbox {
    /// Configures wasmtime for `limits` and starts the epoch ticker; compiles every component.
    pub fn new(limits: SandboxLimits) -> anyhow::Result<Arc<Self>> {
        Self::with_cache(limits, None)
    }

    /// Like [`Sandbox::new`], keeping compiled components in `cache_dir` across restarts. A
    /// cache folder that cannot be used or that others could write is not used: the sandbox
    /// logs why and compiles every component instead (see [`Sandbox::has_cache`]).
    pub fn with_cache(limits: SandboxLimits, cache_dir: Option<&Path>) -> anyhow::Result<Arc<Self>> {
        Self::with_caches(limits, cache_dir, false)
    }

    /// Like [`Sandbox::with_cache`]; with `incremental`, Cranelift also keeps every function it
    /// compiled in memory and reuses it in later compiles (see `incremental.rs`): a rebuilt
    /// component then compiles only its changed functions, at the cost of the memory they take.
    pub fn with_caches(
        limits: SandboxLimits,
        cache_dir: Option<&Path>,
        incremental: bool,
    ) -> anyhow::Result<Arc<Self>> {
        let functions = incremental.then(|| Arc::new(FunctionCache::default()));
        let engine = engine::build_engine(&limits, functions.clone())?;
        let cache = cache_dir.and_then(|dir| match CompileCache::new(dir, &engine) {
            Ok(cache) => Some(cache),
            Err(error) => {
                tracing::warn!(%error, "the compile cache is disabled");
                None
            }
        });
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        bindings::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        engine::start_epoch_ticker(&engine)?;
        Ok(Arc::new(Sandbox {
            engine,
            linker,
            limits: Arc::new(limits),
            cache,
            metrics: Arc::new(Metrics::default()),
            compilations: AtomicU64::new(0),
            compile_slot: tokio::sync::Semaphore::new(1),
            compiling: Arc::default(),
            functions,
        }))
    }

    /// Whether compiled components are kept in a cache folder (one was given and accepted).
    pub fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// Bytes of compiled functions the incremental compile cache holds (`None`: it is off).
    pub fn incremental_cache_bytes(&self) -> Option<usize> {
        self.functions.as_deref().map(FunctionCache::bytes)
    }

    /// The metrics of every call and load.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// How many components this sandbox compiled (cache hits excluded).
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Arc<SandboxLimits> {
        &self.limits
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }
}
