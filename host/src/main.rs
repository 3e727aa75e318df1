//! The `spoke-batches` command: see `spoke-batches --help`.

use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;
use spoke_batches::cli::{Cli, print_error};
use spoke_batches::error_code::ErrorCode;

fn main() -> ExitCode {
    let args = match Cli::try_parse() {
        Ok(args) => args,
        Err(error) if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            // Help and version are for people: print them as clap formats them.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let message = error.render().to_string();
            print_error(
                ErrorCode::BadArgument,
                message.trim().trim_start_matches("error: "),
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            print_error(
                ErrorCode::Runtime,
                &format!("cannot start the async runtime: {error}"),
            );
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(spoke_batches::cli::run(args))
}
