//! The one place wasmtime is configured: the engine (fuel, epochs, pooling allocator) and the
//! epoch ticker that turns wall-clock deadlines into traps.

use std::sync::Arc;
use std::thread;

use anyhow::Context as _;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::incremental::FunctionCache;
use super::limits::SandboxLimits;

/// Bytes of each memory slot reset in place rather than released: a strategy built with the
/// template's 64 KiB stack keeps its whole working set below this.
const KEEP_RESIDENT_BYTES: usize = 256 << 10;

/// The same for each table slot.
const TABLE_KEEP_RESIDENT_BYTES: usize = 16 << 10;

/// Builds the engine every strategy is compiled for and runs in.
pub(crate) fn build_engine(
    limits: &SandboxLimits,
    functions: Option<Arc<FunctionCache>>,
) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    if let Some(functions) = functions {
        config
            .enable_incremental_compilation(functions)
            .map_err(anyhow::Error::from)
            .context("failed to turn on incremental compilation")?;
    }
    // Fuel bounds the work of one call deterministically: an infinite loop traps with
    // `Trap::OutOfFuel` however fast the machine is.
    config.consume_fuel(true);
    // Fuel is not a clock (a tight loop burns ~1e10 units a second), so epochs give the
    // wall-clock deadline: a ticker thread advances the epoch and a store past its deadline
    // traps with `Trap::Interrupt`.
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    // Host imports are async (they query the database inside the request's transaction).
    // Pooling: instantiation reuses pre-reserved slots, so a fresh instance per call costs
    // microseconds instead of mmap/munmap round trips.
    // Every slot holds what one instance of any loadable component needs: a component needing
    // more per instance is refused at load (by `footprint.rs`, and by wasmtime's per-component
    // maximums after compiling), so `slots` instances of loaded components always fit and a
    // request fails as "busy" only when `slots` instances really run at once.
    let slots = limits.concurrent_instances.max(1);
    let slot = limits.slot_size();
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(slot.core_instances))
        .total_memories(slots.saturating_mul(slot.memories))
        .total_tables(slots.saturating_mul(slot.tables))
        .max_core_instances_per_component(slot.core_instances)
        .max_memories_per_component(slot.memories)
        .max_tables_per_component(slot.tables)
        .total_stacks(slots)
        .max_memory_size(limits.memory_bytes)
        // A strategy writes a few pages per request (stack, data, the start of its heap). When
        // an instance ends, the pages it wrote are zeroed or copied back from the data image in
        // place (found with one PAGEMAP_SCAN where the kernel has it) instead of being released
        // with madvise, so the next instance takes no page faults on them. No page keeps a
        // previous request's data: every written page is reset before the slot is reused.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
        .pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("failed to configure the WebAssembly engine")
}

/// Advances the engine's epoch every [`SandboxLimits::EPOCH_TICK`] until the engine is dropped.
pub(crate) fn start_epoch_ticker(engine: &Engine) -> anyhow::Result<()> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("spoke-batches-epoch".to_string())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(SandboxLimits::EPOCH_TICK);
            }
        })
        .context("failed to start the epoch ticker thread")?;
    Ok(())
}
