//! Loading a strategy: read (a regular file, with a bound), check it is a component of a known
//! WIT version with nothing but granted imports, compile (off the async threads, one at a time,
//! within the compile timeout), link once into an `InstancePre`, and ask it its name, which
//! must equal the file stem.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use super::bindings::{WIT_VERSION, v0_1_0};
use super::cache::CompileCache;
use super::call::{CallState, StrategySession};
use super::engine;
use super::error::{FailureKind, LoadError, StrategyFailure};
use super::files::{self, FileError, Links};
use super::limits::SandboxLimits;
use super::wasi;
use crate::filter::RequestScope;
use crate::metrics::Metrics;
use crate::source::{ContactSource, MemorySource};

/// The engine, the linker, the limits, the compile cache and the metrics every strategy
/// shares.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Arc<SandboxLimits>,
    cache: Option<CompileCache>,
    metrics: Arc<Metrics>,
    compilations: AtomicU64,
    /// One compile at a time: a component's compile takes every core it can get (its
    /// functions compile in parallel), so a second one would only slow both down, and a
    /// hostile one holds up the others for at most the compile timeout.
    compile_slot: tokio::sync::Semaphore,
    /// The content hashes being compiled now, including compiles that ran past the timeout
    /// (Cranelift cannot be interrupted, so they finish in the background): the same bytes
    /// are not compiled again until their compile ends, however often they are loaded.
    compiling: Arc<Mutex<HashSet<String>>>,
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
        let engine = engine::build_engine(&limits)?;
        let cache = cache_dir.and_then(|dir| match CompileCache::new(dir, &engine) {
            Ok(cache) => Some(cache),
            Err(error) => {
                tracing::warn!(%error, "the compile cache is disabled");
                None
            }
        });
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        v0_1_0::Strategy::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(anyhow::Error::from)?;
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
        }))
    }

    /// Whether compiled components are kept in a cache folder (one was given and accepted).
    pub fn has_cache(&self) -> bool {
        self.cache.is_some()
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

    /// Loads the component at `path` as the strategy named by its file stem.
    pub async fn load_file(self: &Arc<Self>, path: &Path) -> Result<Arc<StrategyComponent>, LoadError> {
        let bytes = read_component(path, self.limits.component_bytes).await?;
        self.load_bytes(path, bytes).await
    }

    /// Refuses a component of `size` bytes above the limit.
    fn check_size(&self, path: &Path, size: u64) -> Result<(), LoadError> {
        if size > self.limits.component_bytes {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: self.limits.component_bytes,
            });
        }
        Ok(())
    }

    /// Loads `bytes` as the strategy named by the stem of `path`.
    pub async fn load_bytes(
        self: &Arc<Self>,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Arc<StrategyComponent>, LoadError> {
        self.check_size(path, bytes.len() as u64)?;
        let path = path.to_path_buf();
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !is_valid_name(&stem) {
            return Err(LoadError::InvalidName { path, stem });
        }
        if !wasmparser::Parser::is_component(&bytes) {
            let detail = if wasmparser::Parser::is_core_wasm(&bytes) {
                " (it is a core WebAssembly module)".to_string()
            } else {
                String::new()
            };
            return Err(LoadError::NotAComponent { path, detail });
        }
        let content_hash = content_hash(&bytes);
        let component = self.compiled(&path, &content_hash, bytes).await?;
        self.check_imports(&path, &component)?;
        let instance_pre =
            self.linker
                .instantiate_pre(&component)
                .map_err(|error| LoadError::NotAStrategy {
                    path: path.clone(),
                    reason: format!("{error:#}"),
                })?;
        let pre = v0_1_0::StrategyPre::new(instance_pre).map_err(|error| LoadError::NotAStrategy {
            path: path.clone(),
            reason: format!("{error:#}"),
        })?;
        let strategy = Arc::new(StrategyComponent {
            name: stem.clone(),
            display_name: OnceLock::new(),
            content_hash,
            wit_version: WIT_VERSION,
            path: path.clone(),
            pre,
            exports_checked: OnceLock::new(),
            sandbox: Arc::clone(self),
        });
        let (name, display_name) = probe(&strategy).await.map_err(|failure| LoadError::ProbeFailed {
            path: path.clone(),
            failure: Box::new(failure),
        })?;
        if name != stem {
            return Err(LoadError::NameMismatch { path, stem, name });
        }
        strategy.display_name.get_or_init(|| display_name);
        Ok(strategy)
    }

    /// The compiled component, from the cache when it holds a verified entry, else compiled
    /// on a thread of its own (off the async runtime), one compile at a time, failing the load
    /// when the compile runs past the compile timeout.
    async fn compiled(
        self: &Arc<Self>,
        path: &Path,
        content_hash: &str,
        bytes: Vec<u8>,
    ) -> Result<Component, LoadError> {
        let invalid = |reason: String| LoadError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(cache) = &self.cache {
            let (cache, engine, key) = (cache.clone(), self.engine.clone(), content_hash.to_string());
            if let Ok(Some(component)) = tokio::task::spawn_blocking(move || cache.get(&engine, &key)).await {
                return Ok(component);
            }
        }
        let timed_out = || LoadError::CompileTimeout {
            path: path.to_path_buf(),
            limit: self.limits.compile_timeout,
        };
        // The semaphore is never closed; should it be, compiling unserialized is still safe.
        let _slot = self.compile_slot.acquire().await.ok();
        if !lock(&self.compiling).insert(content_hash.to_string()) {
            // Its compile ran past the timeout and is still running.
            return Err(timed_out());
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let (engine, compiling, key) = (
            self.engine.clone(),
            Arc::clone(&self.compiling),
            content_hash.to_string(),
        );
        // A thread of its own rather than the runtime's blocking pool: a compile abandoned at
        // the timeout must not keep the runtime from shutting down.
        let spawned = std::thread::Builder::new()
            .name("spoke-batches-compile".to_string())
            .spawn(move || {
                let compiled = compile_on_own_workers(&engine, &bytes);
                lock(&compiling).remove(&key);
                let _ = sender.send(compiled);
            });
        if let Err(error) = spawned {
            lock(&self.compiling).remove(content_hash);
            return Err(invalid(format!("cannot start the compiler thread: {error}")));
        }
        let component = match tokio::time::timeout(self.limits.compile_timeout, receiver).await {
            Ok(Ok(compiled)) => compiled.map_err(|error| invalid(format!("{error:#}")))?,
            Ok(Err(_)) => return Err(invalid("the compiler stopped".to_string())),
            Err(_) => {
                tracing::warn!(file = %path.display(), timeout_ms = self.limits.compile_timeout.as_millis() as u64, "compiling a component ran past the compile timeout; its load fails");
                return Err(timed_out());
            }
        };
        self.compilations.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            let (cache, key, stored) = (cache.clone(), content_hash.to_string(), component.clone());
            // Writing the cache only saves a compile next time; its failure is logged by `put`.
            let _ = tokio::task::spawn_blocking(move || cache.put(&key, &stored)).await;
        }
        Ok(component)
    }

    /// Refuses WIT versions the host does not implement and imports it does not grant, naming
    /// them, before linking would report only the first.
    fn check_imports(&self, path: &Path, component: &Component) -> Result<(), LoadError> {
        let mut forbidden = Vec::new();
        for (name, item) in component.component_type().imports(&self.engine) {
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                forbidden.push(name.to_string());
                continue;
            }
            let (interface, version) = name.split_once('@').unwrap_or((name, ""));
            if interface.starts_with("spoke:batches/") && !WIT_VERSION.ends_with(&format!("@{version}")) {
                return Err(LoadError::UnsupportedWitVersion {
                    path: path.to_path_buf(),
                    found: format!("spoke:batches@{version}"),
                    supported: WIT_VERSION.to_string(),
                });
            }
            if !wasi::GRANTED_INTERFACES.contains(&interface) {
                forbidden.push(name.to_string());
            }
        }
        if forbidden.is_empty() {
            Ok(())
        } else {
            Err(LoadError::ForbiddenImports {
                path: path.to_path_buf(),
                imports: forbidden.join(", "),
            })
        }
    }
}

/// Asks a freshly compiled strategy its name and display name, with no data to see.
async fn probe(strategy: &Arc<StrategyComponent>) -> Result<(String, String), StrategyFailure> {
    let nothing = MemorySource {
        scope: RequestScope {
            campaign_id: 0,
            assignment_id: 0,
            offsets: Default::default(),
        },
        contacts: Arc::default(),
        assignment_user_role: None,
    };
    let mut session = strategy.start(Box::new(nothing)).await?;
    let name = session.name().await?.value;
    let display_name = session.display_name().await?.value;
    Ok((name, display_name))
}

/// A loaded strategy: compiled, linked and named. Cheap to share; every call gets a fresh
/// instance.
pub struct StrategyComponent {
    name: String,
    /// Set once, by the load-time probe.
    display_name: OnceLock<String>,
    content_hash: String,
    wit_version: &'static str,
    path: PathBuf,
    pre: v0_1_0::StrategyPre<CallState>,
    /// Set once an instance's exports passed the type check (the load-time probe's).
    exports_checked: OnceLock<()>,
    sandbox: Arc<Sandbox>,
}

impl std::fmt::Debug for StrategyComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyComponent")
            .field("name", &self.name)
            .field("version", &self.version())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StrategyComponent {
    /// `name()`, equal to the file stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `display-name()`.
    pub fn display_name(&self) -> &str {
        self.display_name.get().map_or("", String::as_str)
    }

    /// SHA-256 of the component file, in hex.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The short version shown in errors: the first 12 hex digits of the content hash.
    pub fn version(&self) -> &str {
        &self.content_hash[..12]
    }

    /// The WIT package version the component implements.
    pub fn wit_version(&self) -> &'static str {
        self.wit_version
    }

    /// Where the component was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a session for one request whose host imports answer from `source`, under the
    /// sandbox's limits.
    pub async fn start(
        self: &Arc<Self>,
        source: Box<dyn ContactSource>,
    ) -> Result<StrategySession, StrategyFailure> {
        let mut session = self.prepare(Arc::clone(self.sandbox.limits())).await?;
        session.attach(source);
        Ok(session)
    }

    /// A fresh instance under `limits` (the sandbox's, or an organization's overrides) whose
    /// data comes later, with [`StrategySession::attach`].
    pub async fn prepare(
        self: &Arc<Self>,
        limits: Arc<SandboxLimits>,
    ) -> Result<StrategySession, StrategyFailure> {
        StrategySession::prepare(Arc::clone(self), limits).await
    }

    /// A fresh instance in `store` with its exports. The first instance's exports are
    /// type-checked (the generated bindings check on every instance); later ones skip the
    /// check, whose answer depends only on the component.
    pub(crate) async fn instantiate(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<v0_1_0::Strategy> {
        if self.exports_checked.get().is_some() {
            // SAFETY: `exports_checked` is set only after `instantiate_async` on this same
            // `pre` succeeded, which is what `instantiate_async_checked_before` requires.
            #[allow(unsafe_code)]
            return unsafe { self.pre.instantiate_async_checked_before(store).await };
        }
        let exports = self.pre.instantiate_async(store).await?;
        self.exports_checked.set(()).ok();
        Ok(exports)
    }

    pub(crate) fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    pub(crate) fn failure(&self, kind: FailureKind) -> StrategyFailure {
        StrategyFailure {
            strategy: self.name.clone(),
            version: self.version().to_string(),
            kind,
        }
    }
}

/// Compiles `bytes` on a rayon pool of its own. wasmtime compiles a component's functions in
/// parallel on the current rayon pool; on the global one, a compile abandoned at the timeout
/// (one enormous function) would keep a worker busy that every later compile needs, and a few
/// such files would stall all compiles. The pool's threads end with the compile.
fn compile_on_own_workers(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|index| format!("spoke-batches-compile-{index}"))
        .build();
    match pool {
        Ok(pool) => pool.install(|| Component::new(engine, bytes)),
        // Without threads of its own it still compiles, on the global pool.
        Err(_) => Component::new(engine, bytes),
    }
}

/// The set, even if a thread panicked while holding it (it holds only hashes).
fn lock(set: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    set.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the component file at `path` as the host loads it: only a regular file (opened
/// without blocking, so a FIFO or device named `x.wasm` is refused instead of stalling the
/// reader; its type is taken from the opened file), and at most `limit` bytes, even if it
/// grows while being read.
pub async fn read_component(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        let (file, metadata) = files::open_regular(&owned, Links::Follow)?;
        files::read_bounded(file, &metadata, limit)
    })
    .await;
    let path = path.to_path_buf();
    match read {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(FileError::NotRegular(kind))) => Err(LoadError::NotAFile { path, kind }),
        Ok(Err(FileError::TooLarge { size, limit })) => Err(LoadError::TooLarge { path, size, limit }),
        Ok(Err(error)) => Err(LoadError::Unreadable {
            path,
            reason: error.to_string(),
        }),
        Err(error) => Err(LoadError::Unreadable {
            path,
            reason: format!("the reader stopped: {error}"),
        }),
    }
}

/// The SHA-256 of a component file, in hex: its identity in the registry, the cache and errors.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Whether `name` can name a strategy: lowercase ASCII letters, digits and `-`, starting with
/// a letter (a valid directory name, package name and WIT-friendly identifier).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::is_valid_name;

    #[test]
    fn strategy_names_are_lowercase_kebab_case() {
        for good in ["vetted-texters", "a", "fewer-than-3-replies"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "Vetted", "3-replies", "a_b", "a--b", "a-", "a b", "a.b"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
