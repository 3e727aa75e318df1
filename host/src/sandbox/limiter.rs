//! The per-instance memory and table limit. Growing past it traps with a typed error
//! ([`MemoryLimitHit`]), so the failure names the limit instead of surfacing as the guest's
//! allocation abort.

use wasmtime::ResourceLimiter;

/// The limiter of one store.
pub(super) struct MemoryLimiter {
    /// The most bytes an instance's memory may grow to.
    pub(super) limit: usize,
}

/// Raised from the limiter; told apart after the call by its type.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes hit growing to {desired} bytes")]
pub(super) struct MemoryLimitHit {
    /// The size the guest asked for.
    pub(super) desired: usize,
    /// The limit.
    pub(super) limit: usize,
}

impl MemoryLimiter {
    const MAX_TABLE_ELEMENTS: usize = 100_000;
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitHit {
                desired,
                limit: self.limit,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= Self::MAX_TABLE_ELEMENTS)
    }
}
