//! The database's commands: `migrate` (Spoke's tables, or only the host's indexes) and `seed`
//! (a demo).

use serde_json::{Value, json};

use super::error::CliError;
use super::load::Setup;
use super::output::{Answer, to_json};
use crate::db::{Database, DbError, HostIndex, SchemaState};
use crate::demo::{self, SeedOptions};
use crate::error_code::ErrorCode;

/// `migrate`: Spoke's tables; on a schema Spoke created, with `claim_index` the host's two
/// indexes and with `holdings` its count of each assignment's contacts.
pub async fn migrate(setup: &Setup, claim_index: bool, holdings: bool) -> Result<Answer, CliError> {
    let db = Database::connect(&setup.database_url).await?;
    if !claim_index && !holdings {
        db.migrate().await?;
        return Ok(Answer::Json(
            json!({ "migrated": true, "database": db.dialect_name() }),
        ));
    }
    let migrated = db.prepare_schema().await? == SchemaState::Migrated;
    let mut answer = json!({ "migrated": migrated, "database": db.dialect_name() });
    let state = |created: bool| if created { "created" } else { "present" };
    if claim_index {
        answer["claimIndex"] = state(db.create_index(HostIndex::Claim).await?).into();
        answer["assignmentIndex"] = state(db.create_index(HostIndex::AssignmentStatus).await?).into();
    }
    if holdings {
        let created = db.install_holdings().await?;
        answer["holdings"] = if created { "created" } else { "recounted" }.into();
    }
    Ok(Answer::Json(answer))
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
