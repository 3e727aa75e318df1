//! Loading a strategy: read (a regular file, with a bound), check it is a component of a WIT
//! version the host implements (parsed with `semver`) with nothing but granted imports,
//! compile (off the async threads, one at a time, within the compile timeout), link once into
//! the version's pre-instance, and ask it its name, which must equal the file stem.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

use semver::Version;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::bindings::{StrategyPre, WitVersion};
use super::component::StrategyComponent;
use super::error::{LoadError, StrategyFailure};
use super::files::{self, FileError, Links};
use super::footprint::Footprint;
use super::shared::Sandbox;
use super::wasi;
use crate::filter::RequestScope;
use crate::source::MemorySource;

impl Sandbox {
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
        let footprint = Footprint::of_component(&bytes);
        if let Some(short) = footprint.and_then(|footprint| footprint.exceeds(&self.limits.slot_size())) {
            return Err(LoadError::TooBigForSlot { path, short });
        }
        let content_hash = content_hash(&bytes);
        let component = self.compiled(&path, &content_hash, bytes).await?;
        let version = self.check_imports(&path, &component)?;
        let not_a_strategy = |error: wasmtime::Error| LoadError::NotAStrategy {
            path: path.clone(),
            reason: format!("{error:#}"),
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(not_a_strategy)?;
        let pre = StrategyPre::new(version, instance_pre).map_err(not_a_strategy)?;
        let strategy = Arc::new(StrategyComponent {
            name: stem.clone(),
            display_name: OnceLock::new(),
            content_hash,
            path: path.clone(),
            pre,
            footprint,
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
    /// them, before linking would report only the first; returns the version the component
    /// implements (the newest when it imports nothing of the package).
    fn check_imports(&self, path: &Path, component: &Component) -> Result<WitVersion, LoadError> {
        let mut forbidden = Vec::new();
        let mut implemented = None;
        for (name, item) in component.component_type().imports(&self.engine) {
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                forbidden.push(name.to_string());
                continue;
            }
            let (interface, version) = name.split_once('@').unwrap_or((name, ""));
            if interface.starts_with("spoke:batches/") {
                let unsupported = || LoadError::UnsupportedWitVersion {
                    path: path.to_path_buf(),
                    found: format!("spoke:batches@{version}"),
                    supported: WitVersion::supported(),
                };
                let known = Version::parse(version)
                    .ok()
                    .as_ref()
                    .and_then(WitVersion::of)
                    .ok_or_else(unsupported)?;
                // Two interfaces of the package at different versions: neither world fits.
                if implemented.is_some_and(|seen| seen != known) {
                    return Err(unsupported());
                }
                implemented = Some(known);
            }
            if !wasi::GRANTED_INTERFACES.contains(&interface) {
                forbidden.push(name.to_string());
            }
        }
        if forbidden.is_empty() {
            Ok(implemented.unwrap_or(WitVersion::NEWEST))
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
    let mut session = strategy.start(nothing).await?;
    let name = session.name().await?.value;
    let display_name = session.display_name().await?.value;
    Ok((name, display_name))
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
