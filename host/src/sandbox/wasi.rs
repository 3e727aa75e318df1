//! The WASI a strategy gets: only what Rust's standard library needs to start (`wasi:io`
//! streams and `wasi:cli` exit, environment and stdio), with no capabilities. There is no
//! filesystem, no socket, no clock and no randomness to import: a component that imports any
//! of them fails to load with an error naming the import.

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::p2::bindings::cli;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiView};

/// The interfaces (without version) a strategy may import: what [`add_to_linker`] links and
/// the spoke:batches package itself.
pub(crate) const GRANTED_INTERFACES: &[&str] = &[
    "spoke:batches/types",
    "spoke:batches/host",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/exit",
    "wasi:cli/environment",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

/// Links the granted WASI interfaces into `linker`.
pub(crate) fn add_to_linker<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    use wasmtime_wasi_io::bindings::wasi::io;

    io::error::add_to_linker::<T, Table>(linker, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, Table>(linker, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, Table>(linker, |t| t.ctx().table)?;
    cli::exit::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    Ok(())
}

/// A WASI context with nothing in it: no arguments, no environment, empty stdin, and stdout
/// and stderr captured into `output` (so a panic message can be reported).
pub(crate) fn empty_context(output: &MemoryOutputPipe) -> WasiCtx {
    WasiCtx::builder()
        .stdout(output.clone())
        .stderr(output.clone())
        .build()
}

/// Gives the `wasi:io` bindings the store's resource table.
struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
}
