//! The on-disk cache of compiled components, so a restart does not recompile. An entry is keyed
//! by the component's content hash and the engine's compatibility hash, and stored with the
//! SHA-256 of the compiled bytes; an entry whose bytes do not match (corrupt, truncated, or put
//! there by something else) is ignored, removed and rebuilt, never loaded.
//!
//! The cache holds native code the service runs, so a digest beside an entry proves nothing
//! against someone who can write the folder (they recompute it). What keeps planted code out is
//! who can write: the folder must belong to the service's user and be writable by no one else,
//! and so must every entry, opened without following symbolic links. A folder that fails this
//! is not used at all (the service compiles instead); an entry that fails it is a miss.

use std::fs::{DirBuilder, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::files::{self, FileError, Links};

/// Why a compile-cache folder is not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The folder could not be created or inspected.
    #[error("cannot use the compile cache {path}: {reason}; compiling every component instead")]
    Unusable {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The folder could be written by someone other than the service.
    #[error(
        "refusing the compile cache {path}: it is {reason}. It holds native code the service \
         runs, so it must be a folder owned by the service's user and writable by no one else \
         (`chmod go-w` and `chown` it, or pass --cache-dir with a private folder); compiling \
         every component instead"
    )]
    NotPrivate {
        /// The folder.
        path: PathBuf,
        /// Who owns it or who may write it.
        reason: String,
    },
}

/// A folder of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// A cache in `dir` (created private when missing) for components compiled by `engine`.
    /// Refuses a folder that is not a directory owned by the service's user, or that its
    /// group or others may write.
    pub fn new(dir: &Path, engine: &Engine) -> Result<Self, CacheError> {
        let unusable = |error: std::io::Error| CacheError::Unusable {
            path: dir.to_path_buf(),
            reason: error.to_string(),
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(unusable)?;
        let metadata = std::fs::metadata(dir).map_err(unusable)?;
        if !metadata.is_dir() {
            return Err(CacheError::Unusable {
                path: dir.to_path_buf(),
                reason: "it is not a directory".to_string(),
            });
        }
        files::check_private(&metadata).map_err(|reason| CacheError::NotPrivate {
            path: dir.to_path_buf(),
            reason: reason.to_string(),
        })?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    fn paths(&self, content_hash: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{content_hash}-{}", self.engine_key);
        (
            self.dir.join(format!("{stem}.cwasm")),
            self.dir.join(format!("{stem}.sha256")),
        )
    }

    /// The compiled component for `content_hash`, if a verified entry exists.
    pub fn get(&self, engine: &Engine, content_hash: &str) -> Option<Component> {
        let (artifact, digest) = self.paths(content_hash);
        let bytes = match read_entry(&artifact) {
            Ok(bytes) => bytes,
            Err(EntryMiss::Absent) => return None,
            Err(EntryMiss::Refused(reason)) => {
                tracing::warn!(file = %artifact.display(), %reason, "refusing a compiled-component cache entry; compiling instead");
                return None;
            }
        };
        let expected = match read_entry(&digest) {
            Ok(expected) => String::from_utf8(expected).ok(),
            Err(EntryMiss::Absent) => None,
            Err(EntryMiss::Refused(reason)) => {
                tracing::warn!(file = %digest.display(), %reason, "refusing a compiled-component cache digest; compiling instead");
                return None;
            }
        };
        let actual = format!("{:x}", Sha256::digest(&bytes));
        if expected.as_deref().map(str::trim) != Some(actual.as_str()) {
            tracing::warn!(file = %artifact.display(), "compiled-component cache entry does not match its digest; rebuilding");
            self.remove(content_hash);
            return None;
        }
        match deserialize(engine, &bytes) {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(file = %artifact.display(), %error, "compiled-component cache entry unusable; rebuilding");
                self.remove(content_hash);
                None
            }
        }
    }

    /// Stores `component` compiled from content `content_hash`. Failures only cost a
    /// recompilation next time, so they are logged, not returned.
    pub fn put(&self, content_hash: &str, component: &Component) {
        let (artifact, digest) = self.paths(content_hash);
        let stored = component
            .serialize()
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                let sum = format!("{:x}\n", Sha256::digest(&bytes));
                write_atomically(&artifact, &bytes)
                    .and_then(|()| write_atomically(&digest, sum.as_bytes()))
                    .map_err(|error| error.to_string())
            });
        if let Err(error) = stored {
            tracing::warn!(file = %artifact.display(), %error, "could not write the compiled-component cache");
        }
    }

    fn remove(&self, content_hash: &str) {
        let (artifact, digest) = self.paths(content_hash);
        let _ = std::fs::remove_file(artifact);
        let _ = std::fs::remove_file(digest);
    }
}

/// Why a cache entry was not read.
enum EntryMiss {
    /// There is none.
    Absent,
    /// There is one, and it is not to be trusted (a link, not a regular file, not private) or
    /// cannot be read.
    Refused(String),
}

/// Reads a cache entry, never through a symbolic link, only from a regular file the service's
/// user owns and no one else may write (all decided on the opened file).
fn read_entry(path: &Path) -> Result<Vec<u8>, EntryMiss> {
    let (file, metadata) = match files::open_regular(path, Links::Refuse) {
        Ok(opened) => opened,
        Err(FileError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(EntryMiss::Absent);
        }
        Err(FileError::NotRegular(kind)) => {
            return Err(EntryMiss::Refused(format!(
                "it is {kind}, not a regular file (links are not followed)"
            )));
        }
        Err(error) => return Err(EntryMiss::Refused(error.to_string())),
    };
    files::check_private(&metadata).map_err(|error| EntryMiss::Refused(error.to_string()))?;
    files::read_bounded(file, &metadata, u64::MAX).map_err(|error| EntryMiss::Refused(error.to_string()))
}

/// Writes `bytes` to a fresh private file beside `path` (never through an existing file or
/// link) and renames it over `path`, so a reader sees the old entry or the new one, whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    // A temporary left by a crashed run of this process id is ours to replace.
    let _ = std::fs::remove_file(&temporary);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// Loads compiled machine code.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the bytes to come from `Component::serialize` of a compatible
    // engine. They do: the file name carries this engine's compatibility hash, the bytes match
    // the SHA-256 written next to them when this host serialized them, and wasmtime itself
    // checks the header and engine settings before using them. Only the service's user can
    // have written them: the folder and the entry belong to it and no one else may write
    // either (checked on the opened file, which was not reached through a link).
    unsafe { Component::deserialize(engine, bytes) }
}
