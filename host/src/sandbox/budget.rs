//! The budget of one call: its fuel and its wall-clock deadline, armed before the call, and
//! what a running guest does on each epoch tick (yield, or trap once past the deadline).

use std::time::{Duration, Instant};

use wasmtime::{Store, StoreContextMut, UpdateDeadline};

use super::limits::SandboxLimits;
use super::state::CallState;

/// The fuel one call was given, to tell what it used.
pub(super) struct Budget {
    fuel: u64,
}

impl Budget {
    /// Gives the next call the full fuel and deadline of `limits`.
    pub(super) fn arm(store: &mut Store<CallState>, limits: &SandboxLimits) -> Self {
        // Fuel is enabled on the engine, so this cannot fail.
        store.set_fuel(limits.fuel_per_call).ok();
        store.data_mut().deadline_at = deadline_from_now(limits.deadline);
        // The next tick calls `on_epoch_tick`, which checks the deadline and yields.
        store.set_epoch_deadline(1);
        Budget {
            fuel: limits.fuel_per_call,
        }
    }

    /// The fuel burned since [`Budget::arm`].
    pub(super) fn used(&self, store: &Store<CallState>) -> u64 {
        self.fuel.saturating_sub(store.get_fuel().unwrap_or(0))
    }
}

/// What a running guest does on each epoch tick: past its call's deadline it traps
/// (`Trap::Interrupt`, reported as the deadline); before it, it yields to the async runtime
/// and runs on at the next tick. Without the yield a guest that spins would keep its runtime
/// worker thread for the whole deadline, and every other task queued on that worker (other
/// requests, `/healthz`) would wait for it.
pub(super) fn on_epoch_tick(store: StoreContextMut<'_, CallState>) -> wasmtime::Result<UpdateDeadline> {
    if Instant::now() >= store.data().deadline_at {
        return Ok(UpdateDeadline::Interrupt);
    }
    Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
}

/// The instant `deadline` from now; a deadline too far to represent never passes.
pub(super) fn deadline_from_now(deadline: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(deadline)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}
