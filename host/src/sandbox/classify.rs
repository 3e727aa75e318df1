//! Why a call failed, told from typed errors only ([`classify`]): the host's own failure (a
//! [`SourceError`] raised by a host function), the limits (memory, host calls, fuel, deadline,
//! busy slots), a refused argument, or the guest's trap with the panic message it printed.

use wasmtime::Trap;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::error::{FailureKind, HostFailure};
use super::host::{AskedWhileInstantiated, HostCallLimit, InvalidArgument};
use super::limiter::MemoryLimitHit;
use super::limits::SandboxLimits;
use crate::source::SourceError;

/// Maps a wasmtime error to why the call failed.
pub(super) fn classify(
    error: wasmtime::Error,
    limits: &SandboxLimits,
    output: &MemoryOutputPipe,
) -> FailureKind {
    let error = match error.downcast::<SourceError>() {
        Ok(source) => return FailureKind::Host(HostFailure::new(source)),
        Err(error) => error,
    };
    if let Some(hit) = error.downcast_ref::<MemoryLimitHit>() {
        return FailureKind::Memory {
            desired: hit.desired,
            limit: hit.limit,
        };
    }
    if let Some(HostCallLimit(limit)) = error.downcast_ref::<HostCallLimit>() {
        return FailureKind::TooManyHostCalls { limit: *limit };
    }
    if let Some(InvalidArgument(reason)) = error.downcast_ref::<InvalidArgument>() {
        return FailureKind::InvalidValue(reason.clone());
    }
    if let Some(asked) = error.downcast_ref::<AskedWhileInstantiated>() {
        return FailureKind::Trap {
            trap: asked.to_string(),
            panic: None,
        };
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return FailureKind::Busy {
            limit: limits.concurrent_instances,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => FailureKind::OutOfFuel {
            limit: limits.fuel_per_call,
        },
        Some(Trap::Interrupt) => FailureKind::Deadline {
            limit: limits.deadline,
        },
        Some(trap) => FailureKind::Trap {
            trap: trap.to_string(),
            panic: panic_message(output),
        },
        None => FailureKind::Trap {
            trap: format!("{error:#}"),
            panic: panic_message(output),
        },
    }
}

/// The panic message a Rust guest printed to stderr, if any.
fn panic_message(output: &MemoryOutputPipe) -> Option<String> {
    let printed = String::from_utf8_lossy(&output.contents()).into_owned();
    let start = printed.find("panicked at")?;
    let message = printed[start..].trim().replace('\n', " ");
    Some(message.chars().take(500).collect())
}
