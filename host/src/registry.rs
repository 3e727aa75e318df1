//! The strategies folder, loaded: every `*.wasm` file in it becomes a strategy named by its
//! file stem, or a load error that names the file and what to fix. One bad file never keeps
//! the others from loading, and a version that fails to load leaves the previous one serving.
//! A `*.wasm` entry that is not a regular file (a FIFO, a directory) is listed too, and fails
//! its load with an error saying what it is: it is never waited on.
//!
//! A registry is an immutable snapshot; reloading builds a new one from the old and swaps it in
//! whole ([`SharedRegistry`]), so a call that started on a version finishes on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::sandbox::{LoadError, Sandbox, StrategyComponent};

/// The strategies found in one folder.
#[derive(Debug, Default, Clone)]
pub struct StrategyRegistry {
    entries: BTreeMap<String, StrategyEntry>,
}

/// One file of the strategies folder.
#[derive(Debug, Clone)]
pub struct StrategyEntry {
    /// The file.
    pub file: PathBuf,
    /// The version answering calls, if any loaded.
    pub serving: Option<Arc<StrategyComponent>>,
    /// When `serving` was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the file's current content failed to load, if it did.
    pub error: Option<Arc<LoadError>>,
    /// Its last loads, oldest first, at most [`LOAD_HISTORY`].
    pub history: Vec<LoadEvent>,
}

/// How many loads of each strategy its history keeps.
pub const LOAD_HISTORY: usize = 20;

/// One load of a strategy's file, as its history shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadEvent {
    /// When it was loaded.
    pub at: DateTime<Utc>,
    /// How the strategy stood after it: loaded, stale (it failed and an earlier version still
    /// serves) or failed.
    pub status: StrategyStatus,
    /// The version this load made serve (its name and content hash), when it loaded.
    pub version: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// How a strategy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyStatus {
    /// Loaded; the file's current content is serving.
    Loaded,
    /// The file's current content failed to load; the previous version still serves.
    Stale,
    /// Failed to load; nothing serves under this name.
    Failed,
}

impl StrategyEntry {
    /// How this strategy stands.
    pub fn status(&self) -> StrategyStatus {
        match (&self.serving, &self.error) {
            (Some(_), None) => StrategyStatus::Loaded,
            (Some(_), Some(_)) => StrategyStatus::Stale,
            (None, _) => StrategyStatus::Failed,
        }
    }
}

/// What the CLI's `strategies` command and `GET /v1/strategies` show of one strategy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategySummary {
    /// The name (file stem).
    pub name: String,
    /// `display-name()` of the serving version.
    pub display_name: Option<String>,
    /// The component file.
    pub file: PathBuf,
    /// How it stands.
    pub status: StrategyStatus,
    /// SHA-256 of the serving version.
    pub content_hash: Option<String>,
    /// The WIT package version it implements.
    pub wit_version: Option<&'static str>,
    /// When the serving version was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the file's current content failed to load.
    pub error: Option<String>,
    /// Its last loads, oldest first (at most [`LOAD_HISTORY`]), kept across reloads.
    pub history: Vec<LoadEvent>,
}

/// The strategies folder itself is unusable.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read the strategies folder {path}: {reason}. Build the strategies with `make \
     strategies` or pass --strategies DIR"
)]
pub struct FolderError {
    /// The folder.
    pub path: PathBuf,
    /// The I/O error.
    pub reason: String,
}

/// The `*.wasm` files of `dir`.
pub async fn component_files(dir: &Path) -> Result<Vec<PathBuf>, FolderError> {
    let folder_error = |error: std::io::Error| FolderError {
        path: dir.to_path_buf(),
        reason: error.to_string(),
    };
    let mut files = Vec::new();
    let mut listing = tokio::fs::read_dir(dir).await.map_err(folder_error)?;
    while let Some(entry) = listing.next_entry().await.map_err(folder_error)? {
        let path = entry.path();
        if path.extension().is_some_and(|extension| extension == "wasm") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads `files` in parallel, each from the bytes already read when given, else from its
/// file, returning each outcome.
pub async fn load_files(
    sandbox: &Arc<Sandbox>,
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
) -> Vec<(PathBuf, Result<Arc<StrategyComponent>, LoadError>)> {
    let mut loads = tokio::task::JoinSet::new();
    for (path, bytes) in files {
        let sandbox = Arc::clone(sandbox);
        loads.spawn(async move {
            let loaded = match bytes {
                Some(bytes) => sandbox.load_bytes(&path, bytes).await,
                None => sandbox.load_file(&path).await,
            };
            (path, loaded)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = loads.join_next().await {
        // A load task only ends by returning: loading reports errors as values.
        if let Ok(outcome) = joined {
            outcomes.push(outcome);
        }
    }
    outcomes
}

/// The name a file serves under: its stem.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl StrategyRegistry {
    /// Loads every `*.wasm` file in `dir` (not recursively), in parallel.
    pub async fn load_dir(sandbox: &Arc<Sandbox>, dir: &Path) -> Result<Self, FolderError> {
        let files = component_files(dir).await?;
        let mut registry = StrategyRegistry::default();
        let files = files.into_iter().map(|path| (path, None)).collect();
        for (path, loaded) in load_files(sandbox, files).await {
            if loaded.is_err() {
                sandbox.metrics().record_load_failure(&stem(&path));
            }
            registry.insert(&path, loaded);
        }
        Ok(registry)
    }

    /// Records the outcome of loading `path`: a success replaces what serves under its stem;
    /// a failure keeps the previous version serving and records the error.
    pub fn insert(&mut self, path: &Path, loaded: Result<Arc<StrategyComponent>, LoadError>) {
        let entry = self.entries.entry(stem(path)).or_insert_with(|| StrategyEntry {
            file: path.to_path_buf(),
            serving: None,
            loaded_at: None,
            error: None,
            history: Vec::new(),
        });
        entry.file = path.to_path_buf();
        let version = loaded
            .as_ref()
            .ok()
            .map(|component| component.version().to_string());
        match loaded {
            Ok(component) => {
                entry.serving = Some(component);
                entry.loaded_at = Some(Utc::now());
                entry.error = None;
            }
            Err(error) => entry.error = Some(Arc::new(error)),
        }
        if entry.history.len() == LOAD_HISTORY {
            entry.history.remove(0);
        }
        let event = LoadEvent {
            at: Utc::now(),
            status: entry.status(),
            version,
            error: entry.error.as_ref().map(|error| error.to_string()),
        };
        entry.history.push(event);
    }

    /// Forgets the strategy called `name` (its file was removed).
    pub fn remove(&mut self, name: &str) {
        self.entries.remove(name);
    }

    /// The version of `name` that serves calls.
    pub fn get(&self, name: &str) -> Option<&Arc<StrategyComponent>> {
        self.entries.get(name)?.serving.as_ref()
    }

    /// The entry of `name`.
    pub fn entry(&self, name: &str) -> Option<&StrategyEntry> {
        self.entries.get(name)
    }

    /// One summary per file, by name.
    pub fn summaries(&self) -> Vec<StrategySummary> {
        self.entries()
            .map(|(name, entry)| {
                let serving = entry.serving.as_ref();
                StrategySummary {
                    name: name.to_string(),
                    display_name: serving.map(|component| component.display_name().to_string()),
                    file: entry.file.clone(),
                    status: entry.status(),
                    content_hash: serving.map(|component| component.content_hash().to_string()),
                    wit_version: serving.map(|component| component.wit_version()),
                    loaded_at: entry.loaded_at,
                    error: entry.error.as_ref().map(|error| error.to_string()),
                    history: entry.history.clone(),
                }
            })
            .collect()
    }

    /// Every file, by name, loaded or not.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &StrategyEntry)> {
        self.entries.iter().map(|(name, entry)| (name.as_str(), entry))
    }
}

/// The registry served now, shared by the engine and the reloader: readers take a snapshot
/// ([`SharedRegistry::current`]), a reload swaps in a whole new one
/// ([`SharedRegistry::replace`]). Clones share the one registry.
#[derive(Debug, Clone, Default)]
pub struct SharedRegistry(Arc<RwLock<Arc<StrategyRegistry>>>);

impl SharedRegistry {
    /// A shared handle serving `registry`.
    pub fn new(registry: StrategyRegistry) -> Self {
        SharedRegistry(Arc::new(RwLock::new(Arc::new(registry))))
    }

    /// The registry served now; a later [`SharedRegistry::replace`] does not change it.
    pub fn current(&self) -> Arc<StrategyRegistry> {
        // The lock only guards a pointer swap, which cannot leave it half-written: a writer
        // that panicked left either the old registry or the new one, so poison is ignored.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Serves `registry` from now on; calls already running keep the one they started with.
    pub fn replace(&self, registry: StrategyRegistry) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::{SharedRegistry, StrategyRegistry};

    #[test]
    fn a_poisoned_lock_still_serves_and_swaps() {
        let shared = SharedRegistry::new(StrategyRegistry::default());
        let writer = shared.clone();
        // A thread that panics while holding the write lock poisons it.
        let _ = std::thread::spawn(move || {
            let _guard = writer.0.write();
            panic!("poisoning the lock");
        })
        .join();
        assert!(shared.0.is_poisoned());
        let before = shared.current();
        shared.replace(StrategyRegistry::default());
        assert!(
            !std::sync::Arc::ptr_eq(&before, &shared.current()),
            "replace swaps in a new snapshot"
        );
    }
}
