//! The strategies folder, loaded: every `*.wasm` file in it becomes a strategy named by its
//! file stem, or a load error that names the file and what to fix. One bad file never keeps
//! the others from loading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::runtime::{LoadError, Sandbox, StrategyComponent};

/// The strategies found in one folder.
#[derive(Debug, Default)]
pub struct StrategyRegistry {
    entries: BTreeMap<String, RegistryEntry>,
}

/// One file of the strategies folder.
#[derive(Debug, Clone)]
pub enum RegistryEntry {
    /// Loaded and ready to call.
    Loaded(Arc<StrategyComponent>),
    /// Failed to load.
    Failed(Arc<LoadError>),
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

impl StrategyRegistry {
    /// Loads every `*.wasm` file in `dir` (not recursively), in parallel.
    pub async fn load_dir(sandbox: &Arc<Sandbox>, dir: &Path) -> Result<Self, FolderError> {
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
        let mut loads = tokio::task::JoinSet::new();
        for path in files {
            let sandbox = Arc::clone(sandbox);
            loads.spawn(async move {
                let loaded = sandbox.load_file(&path).await;
                (path, loaded)
            });
        }
        let mut registry = StrategyRegistry::default();
        while let Some(joined) = loads.join_next().await {
            // A load task only ends by returning: loading reports errors as values.
            let Ok((path, loaded)) = joined else { continue };
            registry.insert(&path, loaded);
        }
        Ok(registry)
    }

    /// Records the outcome of loading `path`, replacing what was there for its stem.
    pub fn insert(&mut self, path: &Path, loaded: Result<Arc<StrategyComponent>, LoadError>) {
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let entry = match loaded {
            Ok(component) => RegistryEntry::Loaded(component),
            Err(error) => RegistryEntry::Failed(Arc::new(error)),
        };
        self.entries.insert(stem, entry);
    }

    /// The loaded strategy called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<StrategyComponent>> {
        match self.entries.get(name)? {
            RegistryEntry::Loaded(component) => Some(component),
            RegistryEntry::Failed(_) => None,
        }
    }

    /// Every file, by name, loaded or not.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &RegistryEntry)> {
        self.entries.iter().map(|(name, entry)| (name.as_str(), entry))
    }
}
