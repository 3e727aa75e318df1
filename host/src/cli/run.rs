//! Runs one parsed command line: sets up logging, dispatches to the command and prints its
//! one answer.

use std::process::ExitCode;

use super::args::{Cli, Command};
use super::error::CliError;
use super::load::Setup;
use super::output::{Answer, print_answer};
use super::{authoring, database, operations, serve, strategies};
use crate::demo::SeedOptions;
use crate::spoke_config::Environment;

/// Runs one command and prints its JSON answer.
pub async fn run(cli: Cli) -> ExitCode {
    init_logging(matches!(cli.command, Command::Serve(_)));
    if print_answer(execute(cli).await) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Logs go to stderr (stdout carries the JSON answer): `RUST_LOG` filters them (default `info`
/// for `serve`, `warn` otherwise); `SPOKE_BATCHES_LOG_FORMAT=json` makes them JSON lines.
fn init_logging(serving: bool) {
    use tracing_subscriber::EnvFilter;
    let env = Environment::from_process();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(if serving { "info" } else { "warn" }));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _ = if env.get("SPOKE_BATCHES_LOG_FORMAT") == Some("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs the command; what it answers.
pub(super) async fn execute(cli: Cli) -> Result<Answer, CliError> {
    let setup = Setup {
        limits: cli.limits(),
        database_url: cli.database_url,
        strategies_dir: cli.strategies_dir,
    };
    match cli.command {
        Command::Serve(args) => serve::serve(&setup, args).await,
        Command::Migrate {
            claim_index,
            holdings,
        } => database::migrate(&setup, claim_index, holdings).await,
        Command::Seed {
            contacts,
            if_empty,
            add,
            texters,
            quiet,
        } => {
            let options = SeedOptions {
                contacts,
                progress: !quiet,
                extra_texters: texters,
                add,
            };
            database::seed(&setup, options, if_empty).await
        }
        Command::Strategies => strategies::strategies(&setup).await,
        Command::New {
            name,
            from,
            lang,
            sources,
        } => authoring::new_strategy(&setup, &name, from.as_deref(), lang, &sources),
        Command::Test {
            strategy,
            fixtures,
            sources,
            json,
        } => authoring::test(&setup, &strategy, fixtures, &sources, json).await,
        Command::Check { file, json } => authoring::check(&setup, &file, json).await,
        Command::RequestBatch(args) => operations::request_batch(&setup, args).await,
        Command::Explain(args) => operations::explain(&setup, args).await,
        Command::Replay {
            assignment,
            strategy,
            texter,
            count,
            now,
        } => operations::replay(&setup, assignment, strategy, texter, count, now).await,
        Command::Decision {
            assignment,
            strategy,
            mode,
            texter,
            plan,
            now,
        } => operations::decision(&setup, assignment, strategy, mode, texter, plan, now).await,
        Command::SpokeExtension {
            out,
            names,
            prefix,
            force,
        } => strategies::spoke_extension(&setup, &out, &names, &prefix, force).await,
        Command::HasUnassigned {
            assignment,
            texter,
            now,
        } => operations::has_unassigned(&setup, assignment, texter, now).await,
        Command::Release {
            assignment,
            conversations,
            texter,
        } => operations::release(&setup, assignment, conversations, texter).await,
        Command::Join {
            campaign_id,
            user_id,
            join_token,
        } => operations::join(&setup, campaign_id, user_id, &join_token).await,
        Command::MessageSent { contact_id } => operations::message_sent(&setup, contact_id).await,
    }
}
