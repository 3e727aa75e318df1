//! The sandbox limits every strategy call runs under, with their defaults.

use std::time::Duration;

use serde::Serialize;

/// Limits applied to every call into a strategy. One value per host; per-organization
/// overrides come from the configuration module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxLimits {
    /// WebAssembly fuel (roughly instructions) one call may burn. A `request-new-batch-count`
    /// of the shipped strategies uses well under 10,000.
    pub fuel_per_call: u64,
    /// Wall-clock time one call may take, host calls included. Enforced by epoch interruption
    /// inside WebAssembly and by a timeout around the whole call.
    #[serde(with = "duration_ms", rename = "deadlineMs")]
    pub deadline: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Instances that may run at the same time (the size of the pooling allocator).
    pub concurrent_instances: u32,
    /// Host imports one call may make (`count-contacts`, `any-contact`, roles, `log`).
    pub host_calls_per_call: u32,
    /// Bytes of `log` messages and standard error kept per call; the rest is dropped.
    pub log_bytes_per_call: usize,
    /// Bytes a component file may have.
    pub component_bytes: u64,
    /// Entries a status list in a descriptor may have.
    pub max_list_len: usize,
    /// Bytes a string returned by a strategy may have (name, display name, error message).
    pub max_string_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            fuel_per_call: 100_000_000,
            deadline: Duration::from_secs(2),
            memory_bytes: 32 << 20,
            concurrent_instances: 128,
            host_calls_per_call: 1_000,
            log_bytes_per_call: 16 << 10,
            component_bytes: 16 << 20,
            max_list_len: 64,
            max_string_bytes: 4 << 10,
        }
    }
}

/// An organization's changes to the per-call limits (organization `features` keys
/// `SPOKE_BATCHES_FUEL_PER_CALL`, `SPOKE_BATCHES_DEADLINE_MS`, `SPOKE_BATCHES_MEMORY_MIB`,
/// `SPOKE_BATCHES_HOST_CALLS_PER_CALL`, `SPOKE_BATCHES_LOG_BYTES_PER_CALL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// Fuel per call.
    pub fuel_per_call: Option<u64>,
    /// Deadline per call.
    pub deadline: Option<Duration>,
    /// Memory per instance, in bytes; never above the process's own limit (the size of the
    /// pooling allocator's slots).
    pub memory_bytes: Option<usize>,
    /// Host calls per call.
    pub host_calls_per_call: Option<u32>,
    /// Log bytes per call.
    pub log_bytes_per_call: Option<usize>,
}

impl LimitOverrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == LimitOverrides::default()
    }
}

impl SandboxLimits {
    /// These limits with `overrides` applied; memory stays within these limits' own.
    pub fn with_overrides(&self, overrides: &LimitOverrides) -> SandboxLimits {
        SandboxLimits {
            fuel_per_call: overrides.fuel_per_call.unwrap_or(self.fuel_per_call),
            deadline: overrides.deadline.unwrap_or(self.deadline),
            memory_bytes: overrides
                .memory_bytes
                .map_or(self.memory_bytes, |bytes| bytes.min(self.memory_bytes)),
            host_calls_per_call: overrides.host_calls_per_call.unwrap_or(self.host_calls_per_call),
            log_bytes_per_call: overrides.log_bytes_per_call.unwrap_or(self.log_bytes_per_call),
            ..self.clone()
        }
    }

    /// How often the epoch ticker advances: the granularity of the wall-clock deadline.
    pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

    /// The deadline in epoch ticks, at least one.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        let ticks = self.deadline.as_nanos() / Self::EPOCH_TICK.as_nanos();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

mod duration_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u128(value.as_millis())
    }
}
