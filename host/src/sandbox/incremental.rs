//! Cranelift's incremental compilation cache, kept in this process's memory
//! (`--incremental-compile`, which `make dev` turns on). Cranelift keys each compiled function by
//! its body, so a rebuilt component recompiles only the functions that changed: an edited
//! JavaScript strategy changes its snapshot's data, not the engine's thousands of functions, and
//! its compile drops from seconds to a fraction. The entries are machine code, so they live in
//! memory only (nothing another user could plant), within a bound.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::CacheStore;

/// The most bytes of compiled functions kept: a componentize-js strategy's functions take
/// about 60 MiB; the bound holds a few such engines' worth.
const MAX_BYTES: usize = 256 << 20;

/// Compiled functions by Cranelift's key, within [`MAX_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct FunctionCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl FunctionCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The map holds plain bytes: a thread that panicked while holding it left it whole.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many bytes of keys and compiled functions it holds.
    pub(crate) fn bytes(&self) -> usize {
        self.entries().bytes
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        self.entries()
            .by_key
            .get(key)
            .map(|value| Cow::Owned(value.clone()))
    }

    /// Keeps the entry unless the bound is reached: once full, the functions already kept
    /// (an engine's, which edits do not change) keep serving, and new ones compile as usual.
    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entries = self.entries();
        let size = key.len() + value.len();
        if entries.bytes + size > MAX_BYTES || entries.by_key.contains_key(key) {
            return false;
        }
        entries.bytes += size;
        entries.by_key.insert(key.to_vec(), value);
        true
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::CacheStore;

    use super::{FunctionCache, MAX_BYTES};

    #[test]
    fn keeps_entries_until_the_bound_then_refuses_new_ones() {
        let cache = FunctionCache::default();
        assert!(cache.insert(b"a", vec![1; 10]));
        assert_eq!(cache.get(b"a").as_deref(), Some(&[1u8; 10][..]));
        assert_eq!(cache.get(b"b"), None);
        assert!(!cache.insert(b"b", vec![0; MAX_BYTES]));
        assert_eq!(cache.get(b"b"), None);
        assert_eq!(cache.bytes(), 11);
        assert_eq!(cache.get(b"a").as_deref(), Some(&[1u8; 10][..]));
    }
}
