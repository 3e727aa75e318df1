//! A loaded strategy ([`StrategyComponent`]): compiled, linked once for the WIT version it
//! implements, named, and cheap to share; every request gets a fresh instance of it (see
//! `session.rs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use wasmtime::Store;

use super::bindings::{Exports, StrategyPre};
use super::error::{FailureKind, StrategyFailure};
use super::footprint::Footprint;
use super::shared::Sandbox;
use super::state::CallState;

/// A loaded strategy: compiled, linked and named. Cheap to share; every call gets a fresh
/// instance.
pub struct StrategyComponent {
    pub(super) name: String,
    /// Set once, by the load-time probe.
    pub(super) display_name: OnceLock<String>,
    pub(super) content_hash: String,
    pub(super) path: PathBuf,
    pub(super) pre: StrategyPre,
    /// What one instance takes from the pool, when its bytes tell.
    pub(super) footprint: Option<Footprint>,
    /// Set once an instance's exports passed the type check (the load-time probe's).
    pub(super) exports_checked: OnceLock<()>,
    pub(super) sandbox: Arc<Sandbox>,
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

    /// The WIT package version the component implements (`spoke:batches@0.1.0`).
    pub fn wit_version(&self) -> &'static str {
        self.pre.version().package()
    }

    /// What one instance takes from the pool (core instances, memories, tables), as read from
    /// its bytes; `None` when it imports or aliases a module or component (see `footprint.rs`).
    pub fn footprint(&self) -> Option<Footprint> {
        self.footprint
    }

    /// Where the component was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh instance in `store` with its exports. The first instance's exports are
    /// type-checked (the generated bindings check on every instance); later ones skip the
    /// check, whose answer depends only on the component.
    pub(super) async fn exports_in(&self, store: &mut Store<CallState>) -> wasmtime::Result<Exports> {
        let checked_before = self.exports_checked.get().is_some();
        // SAFETY: `exports_checked` is set only after an unchecked-before instantiation of
        // this same `pre` succeeded, which is what skipping the check requires.
        #[allow(unsafe_code)]
        let exports = unsafe { self.pre.instantiate(store, checked_before).await? };
        if !checked_before {
            self.exports_checked.set(()).ok();
        }
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
