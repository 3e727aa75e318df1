//! The `spoke-batches` command: see `spoke-batches --help`.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = spoke_batches::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("spoke-batches: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(spoke_batches::cli::run(args))
}
