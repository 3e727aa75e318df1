//! The on-disk cache of compiled components, so a restart does not recompile. An entry is keyed
//! by the component's content hash and the engine's compatibility hash, and stored with the
//! SHA-256 of the compiled bytes; an entry whose bytes do not match (corrupt, truncated, or put
//! there by something else) is ignored, removed and rebuilt, never loaded.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A folder of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// A cache in `dir` (created when missing) for components compiled by `engine`.
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
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
        let bytes = std::fs::read(&artifact).ok()?;
        let expected = std::fs::read_to_string(&digest).ok();
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

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// Loads compiled machine code.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the bytes to come from `Component::serialize` of a compatible
    // engine. They do: the file name carries this engine's compatibility hash, the bytes match
    // the SHA-256 written next to them when this host serialized them, and wasmtime itself
    // checks the header and engine settings before using them. The cache folder must be
    // writable only by the service (as any folder of executable code).
    unsafe { Component::deserialize(engine, bytes) }
}
