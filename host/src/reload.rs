//! Hot reload: the service watches the strategies folder, and a new, changed or removed
//! component is compiled off the request path and swapped in atomically. Calls already running
//! finish on the version they started with; a component that fails to load leaves the previous
//! version serving and shows its error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use serde::Serialize;

use crate::registry::{FolderError, SharedRegistry, component_files, load_files, stem};
use crate::sandbox::{Sandbox, read_component};

/// What one rescan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// Strategies whose new version now serves.
    pub loaded: Vec<String>,
    /// Strategies whose new version failed to load (the previous one, if any, serves).
    pub failed: Vec<String>,
    /// Strategies whose file was removed.
    pub removed: Vec<String>,
}

/// Keeps a shared registry in step with a strategies folder.
#[derive(Clone)]
pub struct Reloader {
    sandbox: Arc<Sandbox>,
    dir: PathBuf,
    shared: SharedRegistry,
    // One rescan at a time; the watcher coalesces bursts of events before asking.
    rescanning: Arc<tokio::sync::Mutex<()>>,
}

impl Reloader {
    /// A reloader for `dir`, updating `shared`.
    pub fn new(sandbox: Arc<Sandbox>, dir: &Path, shared: SharedRegistry) -> Self {
        Reloader {
            sandbox,
            dir: dir.to_path_buf(),
            shared,
            rescanning: Arc::default(),
        }
    }

    /// Compares the folder with what serves, loads what changed and swaps the result in.
    pub async fn rescan(&self) -> Result<ReloadReport, FolderError> {
        let _one_at_a_time = self.rescanning.lock().await;
        let current = self.shared.current();
        let files = component_files(&self.dir).await?;
        let mut changed = Vec::new();
        let mut unreadable = Vec::new();
        let limit = self.sandbox.limits().component_bytes;
        for file in &files {
            // Read as the loader reads: a FIFO, a directory or an oversized file is reported
            // as a failed load, never read whole and never waited on.
            let bytes = match read_component(file, limit).await {
                Ok(bytes) => bytes,
                Err(error) => {
                    unreadable.push((file.clone(), Err(error)));
                    continue;
                }
            };
            let hash = crate::sandbox::content_hash(&bytes);
            let entry = current.entry(&stem(file));
            // A file whose last load failed is retried on every rescan.
            let unchanged = entry.is_some_and(|entry| {
                entry.error.is_none()
                    && entry.serving.as_ref().map(|component| component.content_hash()) == Some(hash.as_str())
            });
            if !unchanged {
                // Loaded from the bytes just read and hashed, not read again.
                changed.push((file.clone(), Some(bytes)));
            }
        }
        let present: BTreeSet<String> = files.iter().map(|file| stem(file)).collect();
        let mut report = ReloadReport::default();
        let mut next = (*current).clone();
        for (name, _) in current.entries() {
            if !present.contains(name) {
                report.removed.push(name.to_string());
            }
        }
        for name in &report.removed {
            next.remove(name);
        }
        let mut outcomes = load_files(&self.sandbox, changed).await;
        outcomes.extend(unreadable);
        for (path, loaded) in outcomes {
            let name = stem(&path);
            match &loaded {
                Ok(_) => report.loaded.push(name),
                Err(error) => {
                    tracing::warn!(strategy = %name, %error, "strategy failed to load; the previous version, if any, keeps serving");
                    self.sandbox.metrics().record_load_failure(&name);
                    report.failed.push(name);
                }
            }
            next.insert(&path, loaded);
        }
        if report != ReloadReport::default() {
            self.shared.replace(next);
            tracing::info!(loaded = ?report.loaded, failed = ?report.failed, removed = ?report.removed, "strategies reloaded");
        }
        Ok(report)
    }

    /// Watches the folder until the returned guard is dropped, rescanning shortly after every
    /// burst of changes.
    pub fn watch(self) -> notify::Result<WatchGuard> {
        let (events, mut wakeups) = tokio::sync::mpsc::channel::<()>(1);
        let mut debouncer = new_debouncer(
            Duration::from_millis(150),
            None,
            move |result: DebounceEventResult| {
                // A full channel already holds a pending rescan.
                if result.is_ok_and(|batch| batch.iter().any(|event| changes_content(&event.kind))) {
                    let _ = events.try_send(());
                }
            },
        )?;
        debouncer.watch(&self.dir, RecursiveMode::NonRecursive)?;
        let task = tokio::spawn(async move {
            while wakeups.recv().await.is_some() {
                if let Err(error) = self.rescan().await {
                    tracing::warn!(%error, "cannot rescan the strategies folder");
                }
            }
        });
        Ok(WatchGuard {
            _debouncer: Box::new(debouncer),
            task,
        })
    }
}

/// Whether an event can change what a file holds. Reads and metadata changes (access times,
/// which the rescan and the build themselves cause) must not trigger another round.
fn changes_content(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
    )
}

/// Stops watching when dropped.
pub struct WatchGuard {
    _debouncer: Box<dyn std::any::Any + Send>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// File name endings of strategy sources in a strategy's `src/`.
const SOURCE_ENDINGS: [&str; 5] = [".rs", ".js", ".mjs", ".ts", ".mts"];

/// Whether a change to `path` changes a strategy's sources: a Rust, JavaScript or TypeScript
/// file under a `src/` folder, or a manifest (`Cargo.toml`, `package.json`, `tsconfig.json`);
/// never installed packages (`node_modules/`) or build output (`target/`, `.build/`, `dist/`),
/// which the rebuild itself writes.
fn is_strategy_source(path: &Path) -> bool {
    let generated = path.components().any(|part| {
        matches!(
            part.as_os_str().to_str(),
            Some("node_modules" | "target" | ".build" | "dist")
        )
    });
    let text = path.to_string_lossy();
    let source = text.contains("/src/") && SOURCE_ENDINGS.iter().any(|ending| text.ends_with(ending));
    let manifest = ["Cargo.toml", "package.json", "tsconfig.json"]
        .iter()
        .any(|file| path.file_name().is_some_and(|name| name == *file));
    !generated && (source || manifest)
}

/// Watches strategy sources (`<root>/*/src/**`, `<root>/*/Cargo.toml`, `package.json`,
/// `tsconfig.json`) and runs a rebuild
/// command after every burst of changes, for `make dev`: the rebuilt components land in the
/// watched folder and hot reload picks them up.
pub fn watch_sources(root: &Path, command: String) -> notify::Result<WatchGuard> {
    let (events, mut wakeups) = tokio::sync::mpsc::channel::<()>(1);
    let mut debouncer = new_debouncer(
        Duration::from_millis(300),
        None,
        move |result: DebounceEventResult| {
            let Ok(batch) = result else { return };
            let relevant = batch
                .iter()
                .filter(|event| changes_content(&event.kind))
                .flat_map(|event| event.paths.iter())
                .any(|path| is_strategy_source(path));
            if relevant {
                let _ = events.try_send(());
            }
        },
    )?;
    debouncer.watch(root, RecursiveMode::Recursive)?;
    let task = tokio::spawn(async move {
        while wakeups.recv().await.is_some() {
            tracing::info!(%command, "strategy sources changed; rebuilding");
            match tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .output()
                .await
            {
                Ok(output) if output.status.success() => tracing::info!("strategies rebuilt"),
                Ok(output) => tracing::warn!(
                    status = %output.status,
                    stderr = %String::from_utf8_lossy(&output.stderr),
                    "rebuilding the strategies failed; the previous versions keep serving"
                ),
                Err(error) => tracing::warn!(%error, "cannot run the rebuild command"),
            }
        }
    });
    Ok(WatchGuard {
        _debouncer: Box::new(debouncer),
        task,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::is_strategy_source;

    #[test]
    fn sources_of_every_language_trigger_a_rebuild_and_build_output_does_not() {
        for source in [
            "/repo/strategies/vetted-texters/src/lib.rs",
            "/repo/strategies/vetted-texters/Cargo.toml",
            "/repo/strategies/js-vetted-texters/src/strategy.js",
            "/repo/strategies/js-vetted-texters/src/prelude.js",
            "/repo/strategies/ts-vetted-texters/src/strategy.ts",
            "/repo/strategies/ts-vetted-texters/package.json",
            "/repo/strategies/ts-vetted-texters/tsconfig.json",
        ] {
            assert!(is_strategy_source(Path::new(source)), "{source}");
        }
        for output in [
            "/repo/strategies/js-vetted-texters/node_modules/@bytecodealliance/componentize-js/src/api.js",
            "/repo/strategies/js-vetted-texters/node_modules/x/package.json",
            "/repo/strategies/ts-vetted-texters/.build/js/strategy.js",
            "/repo/strategies/vetted-texters/target/src/lib.rs",
            "/repo/strategies/dist/vetted-texters.wasm",
            "/repo/strategies/README.md",
            "/repo/strategies/js-vetted-texters/fixtures/rules.json",
        ] {
            assert!(!is_strategy_source(Path::new(output)), "{output}");
        }
    }
}
