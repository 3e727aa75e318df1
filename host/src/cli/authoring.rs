//! The strategy author's commands: `new` (a strategy from a template), `test` (its fixtures)
//! and `check` (a component validated without a database).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::error::CliError;
use super::load::Setup;
use super::output::{Answer, Report, to_json};
use crate::authoring::{Language, check, fixtures, scaffold};
use crate::error_code::ErrorCode;

/// `new`: creates `<sources>/<name>` from the template `from` (or `language`'s) and builds it.
pub fn new_strategy(
    setup: &Setup,
    name: &str,
    from: Option<&str>,
    language: Option<Language>,
    sources: &Path,
) -> Result<Answer, CliError> {
    let created =
        scaffold::scaffold(sources, &setup.strategies_dir, name, from, language).map_err(|error| {
            let code = match error {
                scaffold::ScaffoldError::BadName(_) => ErrorCode::BadName,
                scaffold::ScaffoldError::Exists(_) => ErrorCode::Exists,
                scaffold::ScaffoldError::Build { .. } => ErrorCode::BuildFailed,
                _ => ErrorCode::Scaffold,
            };
            CliError::new(code, error)
        })?;
    Ok(Answer::Json(to_json(created)?))
}

/// `test`: runs the strategy's component against fixture files (its own when none are given).
pub async fn test(
    setup: &Setup,
    strategy: &str,
    files: Vec<PathBuf>,
    sources: &Path,
    json: bool,
) -> Result<Answer, CliError> {
    let component = setup
        .component(&setup.strategies_dir.join(format!("{strategy}.wasm")))
        .await?;
    let files = if files.is_empty() {
        fixtures::default_fixtures(sources, strategy)
    } else {
        files
    };
    if files.is_empty() {
        return Err(CliError::new(
            ErrorCode::NoFixtures,
            format!(
                "no fixtures given and none in {}",
                sources.join(strategy).join("fixtures").display()
            ),
        ));
    }
    let mut results = Vec::new();
    for file in &files {
        let cases =
            fixtures::read_cases(file).map_err(|error| CliError::new(ErrorCode::BadFixture, error))?;
        for case in &cases {
            results.push(fixtures::run_case(file, case, &component).await);
        }
    }
    let passed = results.iter().all(|result| result.passed);
    let report = if json {
        Report::Json(json!({ "passed": passed, "cases": results }))
    } else {
        Report::Text(fixtures::human(&results))
    };
    Ok(Answer::Verdict { report, passed })
}

/// `check`: validates a component and runs it once on a built-in fixture.
pub async fn check(setup: &Setup, file: &Path, json: bool) -> Result<Answer, CliError> {
    let report = check::check(file, setup.limits.clone()).await;
    let passed = report.ok;
    let report = if json {
        Report::Json(to_json(&report)?)
    } else {
        Report::Text(check::human(&report))
    };
    Ok(Answer::Verdict { report, passed })
}
