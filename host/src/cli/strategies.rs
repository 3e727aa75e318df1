//! The strategies folder's commands: `strategies` (what loads) and `spoke-extension` (the
//! folders a Spoke admin copies into Spoke).

use std::path::Path;

use serde_json::json;

use super::error::CliError;
use super::load::Setup;
use super::output::{Answer, to_json};
use crate::spoke_extension;

/// `strategies`: every file of the folder, loaded or not.
pub async fn strategies(setup: &Setup) -> Result<Answer, CliError> {
    let registry = setup.registry().await?;
    Ok(Answer::Json(json!({ "strategies": registry.summaries() })))
}

/// `spoke-extension`: writes the bridge and one folder per strategy named (or loaded) into `out`.
pub async fn spoke_extension(
    setup: &Setup,
    out: &Path,
    names: &[String],
    prefix: &str,
    force: bool,
) -> Result<Answer, CliError> {
    let registry = setup.registry().await?;
    let strategies = spoke_extension::bridged_strategies(&registry, names, &setup.strategies_dir)?;
    let written = spoke_extension::write_extension(out, &strategies, prefix, force)?;
    Ok(Answer::Json(to_json(written)?))
}
