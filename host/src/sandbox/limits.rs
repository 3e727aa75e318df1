//! The sandbox limits every strategy call runs under, with their defaults, and how an
//! organization's overrides apply: they may lower a limit, never raise it.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::footprint::SlotSize;

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
    /// Core module instances each of those slots holds (the pool reserves this many times
    /// `concurrent_instances`). A component needing more per instance is refused at load.
    pub core_instances_per_slot: u32,
    /// Linear memories each slot holds (each reserves address space, not memory).
    pub memories_per_slot: u32,
    /// Tables each slot holds.
    pub tables_per_slot: u32,
    /// Host imports one call may make (`count-contacts`, `any-contact`, roles, `log`).
    pub host_calls_per_call: u32,
    /// Bytes of `log` messages and standard error kept per call; the rest is dropped.
    pub log_bytes_per_call: usize,
    /// Bytes a component file may have.
    pub component_bytes: u64,
    /// Wall-clock time compiling one component may take before its load fails. Components
    /// are compiled one at a time, so this also bounds how long one file can hold up the
    /// others. The default (120 s) leaves room for a 12 MB JavaScript component, which takes
    /// 10 s in the release host and 25-60 s in a debug build on two busy cores.
    #[serde(with = "duration_ms", rename = "compileTimeoutMs")]
    pub compile_timeout: Duration,
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
            // What the hungrier supported engine needs, with room: a Rust strategy and a
            // componentize-js one take 3 core instances, 1 memory and 2 tables; a
            // componentize-qjs one 13 (wasmtime's count), 3 and 3.
            core_instances_per_slot: 16,
            memories_per_slot: 4,
            tables_per_slot: 4,
            host_calls_per_call: 1_000,
            log_bytes_per_call: 16 << 10,
            component_bytes: 16 << 20,
            compile_timeout: Duration::from_secs(120),
            max_list_len: 64,
            max_string_bytes: 4 << 10,
        }
    }
}

/// An organization's changes to the per-call limits (organization `features` keys
/// `SPOKE_BATCHES_FUEL_PER_CALL`, `SPOKE_BATCHES_DEADLINE_MS`, `SPOKE_BATCHES_MEMORY_MIB`,
/// `SPOKE_BATCHES_HOST_CALLS_PER_CALL`, `SPOKE_BATCHES_LOG_BYTES_PER_CALL`). Each may only
/// lower the process's own limit: a value above it is clamped to it (and logged once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// Fuel per call.
    pub fuel_per_call: Option<u64>,
    /// Deadline per call.
    pub deadline: Option<Duration>,
    /// Memory per instance, in bytes.
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
    /// These limits with `overrides` applied. An override can only lower a limit: the process
    /// setting is what the operator grants any strategy, and an organization's `features` are
    /// edited by that organization's admins, who must not be able to give a strategy a minute
    /// of CPU per call. A raised value is clamped to the process setting and logged once.
    pub fn with_overrides(&self, overrides: &LimitOverrides) -> SandboxLimits {
        SandboxLimits {
            fuel_per_call: lowered(
                "SPOKE_BATCHES_FUEL_PER_CALL",
                overrides.fuel_per_call,
                self.fuel_per_call,
            ),
            deadline: lowered_deadline(overrides.deadline, self.deadline),
            memory_bytes: lowered_shown(
                "SPOKE_BATCHES_MEMORY_MIB",
                overrides.memory_bytes,
                self.memory_bytes,
                |bytes| (bytes >> 20).to_string(),
            ),
            host_calls_per_call: lowered(
                "SPOKE_BATCHES_HOST_CALLS_PER_CALL",
                overrides.host_calls_per_call,
                self.host_calls_per_call,
            ),
            log_bytes_per_call: lowered(
                "SPOKE_BATCHES_LOG_BYTES_PER_CALL",
                overrides.log_bytes_per_call,
                self.log_bytes_per_call,
            ),
            ..self.clone()
        }
    }

    /// What the pool reserves for each instance.
    pub fn slot_size(&self) -> SlotSize {
        SlotSize {
            core_instances: self.core_instances_per_slot,
            memories: self.memories_per_slot,
            tables: self.tables_per_slot,
        }
    }

    /// How often the epoch ticker advances: the granularity of the wall-clock deadline.
    pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);
}

/// The raised overrides already logged, by setting and value: each is logged once per process,
/// not on every request of the organization.
static RAISED_LOGGED: Mutex<BTreeSet<(&'static str, String)>> = Mutex::new(BTreeSet::new());

/// `requested` when it does not exceed `process`, else `process` (logging the refusal once).
fn lowered<T: Ord + Copy + Display>(setting: &'static str, requested: Option<T>, process: T) -> T {
    lowered_shown(setting, requested, process, T::to_string)
}

fn lowered_deadline(requested: Option<Duration>, process: Duration) -> Duration {
    lowered_shown("SPOKE_BATCHES_DEADLINE_MS", requested, process, |deadline| {
        deadline.as_millis().to_string()
    })
}

fn lowered_shown<T: Ord + Copy>(
    setting: &'static str,
    requested: Option<T>,
    process: T,
    show: impl Fn(&T) -> String,
) -> T {
    match requested {
        Some(value) if value > process => {
            log_raised_once(setting, &show(&value), &show(&process));
            process
        }
        Some(value) => value,
        None => process,
    }
}

fn log_raised_once(setting: &'static str, requested: &str, process: &str) {
    let first = match RAISED_LOGGED.lock() {
        Ok(mut logged) => logged.insert((setting, requested.to_string())),
        Err(poisoned) => poisoned.into_inner().insert((setting, requested.to_string())),
    };
    if first {
        tracing::warn!(
            setting,
            requested,
            process_limit = process,
            "an organization's features raise a sandbox limit above the process setting; \
             the process setting applies (an organization may only lower a limit; raise the \
             process setting with its flag or environment variable instead)"
        );
    }
}

mod duration_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u128(value.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn process() -> SandboxLimits {
        SandboxLimits::default()
    }

    #[test]
    fn an_organization_may_lower_every_per_call_limit() {
        let lower = LimitOverrides {
            fuel_per_call: Some(1_000),
            deadline: Some(Duration::from_millis(100)),
            memory_bytes: Some(1 << 20),
            host_calls_per_call: Some(3),
            log_bytes_per_call: Some(10),
        };
        let limits = process().with_overrides(&lower);
        assert_eq!(
            (
                limits.fuel_per_call,
                limits.deadline,
                limits.memory_bytes,
                limits.host_calls_per_call,
                limits.log_bytes_per_call
            ),
            (1_000, Duration::from_millis(100), 1 << 20, 3, 10)
        );
    }

    #[test]
    fn an_organization_cannot_raise_any_limit_above_the_process_setting() {
        let raise = LimitOverrides {
            fuel_per_call: Some(1_000_000_000_000),
            deadline: Some(Duration::from_secs(3_600)),
            memory_bytes: Some(1 << 40),
            host_calls_per_call: Some(u32::MAX),
            log_bytes_per_call: Some(1 << 30),
        };
        assert_eq!(process().with_overrides(&raise), process());
    }

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_raised_override_is_logged_once_not_on_every_request() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        // A value no other test uses, so the once-per-process memory starts empty for it.
        let raise = LimitOverrides {
            host_calls_per_call: Some(4_000_000_001),
            ..LimitOverrides::default()
        };
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                assert_eq!(process().with_overrides(&raise).host_calls_per_call, 1_000);
            }
        });
        let text = String::from_utf8(captured.0.lock().map(|bytes| bytes.clone()).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(text.matches("raise a sandbox limit").count(), 1, "{text}");
        assert!(text.contains("SPOKE_BATCHES_HOST_CALLS_PER_CALL"), "{text}");
        assert!(text.contains("4000000001"), "{text}");
    }
}
