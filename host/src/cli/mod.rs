//! The `spoke-batches` command line. Every command ends with one answer, printed once: a JSON
//! object on stdout (or, for `test` and `check` without `--json`, a report for people); on
//! failure `{"error":{"code":"...","message":"..."}}` and a non-zero exit.
//!
//! - `args`: the clap types, with the argument groups several commands share.
//! - `load`: what the commands set up (sandbox, strategies, engine) from the global options.
//! - `operations`, `authoring`, `database`, `strategies`, `serve`: the commands, by group.
//! - `output`: the [`Answer`] type and the printing that never panics.
//! - `error`: [`CliError`].
//! - `run`: logging, dispatch, exit status.
//!
//! This file only declares the modules and re-exports their public items.

mod args;
mod authoring;
mod database;
mod error;
mod load;
mod operations;
mod output;
mod run;
mod serve;
mod strategies;
#[cfg(test)]
mod tests;

pub use args::{
    AssignmentArg, BatchArgs, Cli, Command, CountArg, LimitArgs, NowArg, PlanArgs, ServeArgs, TexterArg,
};
pub use error::CliError;
pub use output::{Answer, Report, print_error, print_stderr, print_stdout};
pub use run::run;
