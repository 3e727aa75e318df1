//! The database's commands: `migrate` (Spoke's tables, or only the host's indexes) and `seed`
//! (a demo).

use serde_json::{Value, json};

use super::error::CliError;
use super::load::Setup;
use super::output::{Answer, to_json};
use crate::db::{Database, DbError, HostIndex, SchemaState};
use crate::demo::{self, SeedOptions};
use crate::error_code::ErrorCode;

/// `migrate`: Spoke's tables; with `claim_index`, on a schema Spoke created, the host's two
/// indexes.
pub async fn migrate(setup: &Setup, claim_index: bool) -> Result<Answer, CliError> {
    let db = Database::connect(&setup.database_url).await?;
    if !claim_index {
        db.migrate().await?;
        return Ok(Answer::Json(
            json!({ "migrated": true, "database": db.dialect_name() }),
        ));
    }
    let migrated = db.prepare_schema().await? == SchemaState::Migrated;
    let state = |created: bool| if created { "created" } else { "present" };
    let claim = db.create_index(HostIndex::Claim).await?;
    let assignment = db.create_index(HostIndex::AssignmentStatus).await?;
    Ok(Answer::Json(
        json!({ "migrated": migrated, "database": db.dialect_name(),
                           "claimIndex": state(claim), "assignmentIndex": state(assignment) }),
    ))
}

/// `seed`: the demo, unless `if_empty` and the database has campaigns.
pub async fn seed(setup: &Setup, options: SeedOptions, if_empty: bool) -> Result<Answer, CliError> {
    let db = setup.database().await?;
    if if_empty && demo::has_data(&db).await.map_err(DbError::from)? {
        return Ok(Answer::Json(
            json!({ "seeded": false, "reason": "the database already has campaigns" }),
        ));
    }
    let summary = demo::seed_demo(&db, &options)
        .await
        .map_err(|error| CliError::new(ErrorCode::Seed, error))?;
    let mut answer = to_json(summary)?;
    if let Value::Object(fields) = &mut answer {
        fields.insert("seeded".to_string(), Value::Bool(true));
    }
    Ok(Answer::Json(answer))
}
