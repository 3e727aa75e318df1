//! The fixture runner (`spoke-batches test STRATEGY [FIXTURES...]`): declarative cases — the
//! rows of a campaign, the request and what must happen — each run on a throwaway embedded
//! SQLite database through the real engine and the real component.
//!
//! A fixture file is JSON: one case, a list of cases, or `{"cases": [...]}`. A case:
//!
//! ```json
//! {
//!   "name": "a texter who is not vetted gets one batch",
//!   "campaign": {"batch_size": 10, "features": {"FEWER_THAN_N_REPLIES": 2}},
//!   "organization": {"texting_hours_enforced": true},
//!   "texter": {"role": "TEXTER"},
//!   "assignment": {"max_contacts": null},
//!   "contacts": [{"count": 20}, {"count": 1, "status": "closed", "mine": true}],
//!   "request": {"numberContacts": 5, "now": "2026-03-02T15:00:00Z", "hasAny": false},
//!   "expect": {"assigned": 0, "decision": "strategy-said-zero"}
//! }
//! ```
//!
//! Contacts default to unassigned `needsMessage`, not opted out, timezone `-5_1`; `mine` puts
//! them on the texter's assignment and `assignedToOther` on another texter's. `expect` may give
//! `assigned`, `found`, `decision` (a batch request) or `count` (with `hasAny`: the request
//! button's count). A case must assert something, and only what its request answers: an
//! empty `expect`, or one naming a field the request does not answer, is refused when the file
//! is read, naming the file and the case (such a case would pass whatever the strategy did).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::db::Database;
use crate::engine::{BatchRequest, Caller, Engine};
use crate::registry::{SharedRegistry, StrategyRegistry};
use crate::sandbox::StrategyComponent;
use crate::spoke_config::Environment;

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// `campaign` columns to set (`features` may be a JSON object).
    #[serde(default)]
    pub campaign: Map<String, Value>,
    /// `organization` columns to set.
    #[serde(default)]
    pub organization: Map<String, Value>,
    /// The texter (`role`, default TEXTER; `null` for no membership).
    #[serde(default)]
    pub texter: Map<String, Value>,
    /// `assignment` columns to set.
    #[serde(default)]
    pub assignment: Map<String, Value>,
    /// Groups of contacts.
    #[serde(default)]
    pub contacts: Vec<ContactGroup>,
    /// The request.
    #[serde(default)]
    pub request: RequestSpec,
    /// What must happen.
    pub expect: Expect,
}

/// `count` contacts alike.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactGroup {
    /// How many.
    #[serde(default = "one")]
    pub count: u32,
    /// `message_status`, default `needsMessage`.
    #[serde(default = "needs_message")]
    pub status: String,
    /// On the texter's assignment.
    #[serde(default)]
    pub mine: bool,
    /// On another texter's assignment.
    #[serde(default)]
    pub assigned_to_other: bool,
    /// `is_opted_out`.
    #[serde(default)]
    pub opted_out: bool,
    /// `timezone_offset`, default `-5_1`.
    #[serde(default = "eastern")]
    pub timezone: String,
}

fn one() -> u32 {
    1
}
fn needs_message() -> String {
    "needsMessage".to_string()
}
fn eastern() -> String {
    "-5_1".to_string()
}

/// The request of a case.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestSpec {
    /// How many contacts the texter asks for.
    pub number_contacts: Option<i64>,
    /// The time (default 2026-03-02T15:00:00Z, 10:00 in US/Eastern).
    pub now: Option<DateTime<Utc>>,
    /// Ask for the request button's count instead of a batch.
    #[serde(default)]
    pub has_any: bool,
}

/// What must happen.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// Contacts assigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned: Option<u64>,
    /// Whether any was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// The decision (as `explain` names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The request button's count (with `hasAny`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl Expect {
    /// Whether it asserts nothing.
    fn is_empty(&self) -> bool {
        self.assigned.is_none() && self.found.is_none() && self.decision.is_none() && self.count.is_none()
    }
}

impl Case {
    /// Why the case's `expect` asserts nothing, or something its request does not answer.
    fn vacuous_expectation(&self) -> Option<String> {
        let expect = &self.expect;
        if expect.is_empty() {
            return Some(if self.request.has_any {
                "`expect` is empty, so the case passes whatever happens; give `count`".to_string()
            } else {
                "`expect` is empty, so the case passes whatever happens; give `assigned`, `found` or \
                 `decision`"
                    .to_string()
            });
        }
        let batch_only = [
            ("assigned", expect.assigned.is_some()),
            ("found", expect.found.is_some()),
            ("decision", expect.decision.is_some()),
        ];
        if self.request.has_any {
            let named: Vec<&str> = batch_only
                .iter()
                .filter(|(_, given)| *given)
                .map(|(field, _)| *field)
                .collect();
            if !named.is_empty() {
                return Some(format!(
                    "`expect` gives {}, which a `hasAny` request does not answer (it answers `count`)",
                    named.join(", ")
                ));
            }
        } else if expect.count.is_some() {
            return Some(
                "`expect` gives count, which only a `hasAny` request answers (a batch request \
                 answers `assigned`, `found` and `decision`)"
                    .to_string(),
            );
        }
        None
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    /// The fixture file.
    pub file: PathBuf,
    /// The case.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was expected.
    pub expected: Expect,
    /// What happened (or the error).
    pub actual: Value,
    /// Fuel the strategy burned.
    pub fuel_used: u64,
}

/// Reads the cases of a fixture file.
pub fn read_cases(path: &Path) -> Result<Vec<Case>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not valid JSON: {error}", path.display()))?;
    let list = match value {
        Value::Array(cases) => cases,
        Value::Object(mut object) if object.contains_key("cases") => match object.remove("cases") {
            Some(Value::Array(cases)) => cases,
            _ => return Err(format!("{}: `cases` must be a list", path.display())),
        },
        case @ Value::Object(_) => vec![case],
        _ => {
            return Err(format!(
                "{}: a fixture is a case, a list of cases or {{\"cases\": [...]}}",
                path.display()
            ));
        }
    };
    list.into_iter()
        .enumerate()
        .map(|(index, case)| {
            let case: Case = serde_json::from_value(case)
                .map_err(|error| format!("{} case {}: {error}", path.display(), index + 1))?;
            match case.vacuous_expectation() {
                Some(why) => Err(format!(
                    "{} case {} (`{}`): {why}",
                    path.display(),
                    index + 1,
                    case.name
                )),
                None => Ok(case),
            }
        })
        .collect()
}

/// SQL literal for a JSON value (fixture data, written by the strategy's author).
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Bool(flag) => flag.to_string().to_uppercase(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

fn column_name(key: &str) -> Result<&str, String> {
    if key.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !key.is_empty() {
        Ok(key)
    } else {
        Err(format!("`{key}` is not a column name"))
    }
}

fn updates(table: &str, id: i64, columns: &Map<String, Value>) -> Result<String, String> {
    if columns.is_empty() {
        return Ok(String::new());
    }
    let sets: Result<Vec<String>, String> = columns
        .iter()
        .map(|(key, value)| Ok(format!("{} = {}", column_name(key)?, literal(value))))
        .collect();
    Ok(format!(
        "UPDATE {table} SET {} WHERE id = {id};",
        sets?.join(", ")
    ))
}

/// Builds the case's rows in a fresh in-memory database.
async fn database(case: &Case, strategy: &str) -> Result<Database, String> {
    let db = Database::connect("sqlite::memory:")
        .await
        .map_err(|error| error.to_string())?;
    db.prepare_schema().await.map_err(|error| error.to_string())?;
    let role = match case.texter.get("role") {
        None => Some("TEXTER".to_string()),
        Some(Value::Null) => None,
        Some(Value::String(role)) => Some(role.clone()),
        Some(other) => return Err(format!("texter.role must be a role name, not {other}")),
    };
    let mut campaign = case.campaign.clone();
    let mut features = match campaign.remove("features") {
        Some(Value::Object(features)) => features,
        Some(Value::Null) | None => Map::new(),
        Some(other) => return Err(format!("campaign.features must be an object, not {other}")),
    };
    features
        .entry("DYNAMICASSIGNMENT_BATCHES")
        .or_insert_with(|| Value::String(strategy.to_string()));
    campaign.insert(
        "features".into(),
        Value::String(Value::Object(features).to_string()),
    );
    let mut sql = String::from(
        r#"INSERT INTO organization (id, name, features) VALUES (1, 'Fixture organization', '{}');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES
          (1, 'f1', 'Fixture', 'Texter', '+15550000001', 'texter@example.org'),
          (2, 'f2', 'Other', 'Texter', '+15550000002', 'other@example.org');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token)
          VALUES (1, 1, 'Fixture campaign', TRUE, FALSE, TRUE, 10, 'fixture');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (1, 1, 1), (2, 2, 1);
        INSERT INTO user_organization (user_id, organization_id, role) VALUES (2, 1, 'TEXTER');
        "#,
    );
    if let Some(role) = role {
        sql.push_str(&format!(
            "INSERT INTO user_organization (user_id, organization_id, role) VALUES (1, 1, {});",
            literal(&Value::String(role))
        ));
    }
    sql.push_str(&updates("organization", 1, &case.organization)?);
    sql.push_str(&updates("campaign", 1, &campaign)?);
    sql.push_str(&updates("assignment", 1, &case.assignment)?);
    let mut cell = 0;
    for group in &case.contacts {
        let assignment = match (group.mine, group.assigned_to_other) {
            (true, _) => "1",
            (false, true) => "2",
            (false, false) => "NULL",
        };
        for _ in 0..group.count {
            cell += 1;
            sql.push_str(&format!(
                "INSERT INTO campaign_contact (campaign_id, assignment_id, cell, message_status, is_opted_out, timezone_offset) \
                 VALUES (1, {assignment}, '+1666{cell:07}', {}, {}, {});",
                literal(&Value::String(group.status.clone())),
                literal(&Value::Bool(group.opted_out)),
                literal(&Value::String(group.timezone.clone())),
            ));
        }
    }
    if let Database::Sqlite(pool) = &db {
        sqlx::raw_sql(&sql)
            .execute(pool)
            .await
            .map_err(|error| format!("cannot build the case's rows: {error}"))?;
    }
    Ok(db)
}

/// Runs `case` with `strategy`.
pub async fn run_case(file: &Path, case: &Case, strategy: &Arc<StrategyComponent>) -> CaseResult {
    let mut result = CaseResult {
        file: file.to_path_buf(),
        name: case.name.clone(),
        passed: false,
        expected: case.expect.clone(),
        actual: Value::Null,
        fuel_used: 0,
    };
    let db = match database(case, strategy.name()).await {
        Ok(db) => db,
        Err(error) => {
            result.actual = json!({ "error": error });
            return result;
        }
    };
    let mut registry = StrategyRegistry::default();
    registry.insert(strategy.path(), Ok(Arc::clone(strategy)));
    let engine = Engine::new(db, SharedRegistry::new(registry), Environment::default());
    let now = case
        .request
        .now
        .unwrap_or_else(|| "2026-03-02T15:00:00Z".parse().unwrap_or_default());
    if case.request.has_any {
        match engine.has_unassigned(1, Caller::User(1), now).await {
            Ok(count) => {
                result.actual = json!({ "count": count });
                result.passed = case.expect.count.is_none_or(|expected| expected == count);
            }
            Err(error) => result.actual = json!({ "error": error.to_string(), "code": error.code() }),
        }
        return result;
    }
    let request = BatchRequest {
        assignment_id: 1,
        caller: Caller::User(1),
        number_contacts: case.request.number_contacts,
        batch_type: None,
        now,
    };
    match engine.explain_batch(request, None).await {
        Ok((outcome, trace)) => {
            result.fuel_used = trace.fuel_used;
            let decision = serde_json::to_value(trace.decision).unwrap_or_default();
            result.actual = json!({ "assigned": outcome.assigned, "found": outcome.found, "decision": decision,
                                    "reason": trace.reason });
            let expect = &case.expect;
            result.passed = expect
                .assigned
                .is_none_or(|assigned| assigned == outcome.assigned)
                && expect.found.is_none_or(|found| found == outcome.found)
                && expect
                    .decision
                    .as_ref()
                    .is_none_or(|wanted| Some(wanted.as_str()) == decision.as_str())
                && expect.count.is_none();
        }
        Err(error) => result.actual = json!({ "error": error.to_string(), "code": error.code() }),
    }
    result
}

/// The fixture files of a strategy's source folder (`strategies/NAME/fixtures/*.json`).
pub fn default_fixtures(sources: &Path, strategy: &str) -> Vec<PathBuf> {
    let folder = sources.join(strategy).join("fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The results for people: one line per case, and for a failure what differed.
pub fn human(results: &[CaseResult]) -> String {
    let mut lines = Vec::new();
    for result in results {
        if result.passed {
            lines.push(format!("PASS  {} ({} fuel)", result.name, result.fuel_used));
        } else {
            lines.push(format!("FAIL  {}  [{}]", result.name, result.file.display()));
            lines.push(format!(
                "        expected {}",
                serde_json::to_string(&result.expected).unwrap_or_default()
            ));
            lines.push(format!("        actual   {}", result.actual));
        }
    }
    let failed = results.iter().filter(|result| !result.passed).count();
    lines.push(format!(
        "{} cases, {} passed, {failed} failed",
        results.len(),
        results.len() - failed
    ));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::read_cases;

    /// The error reading a fixture file holding `json`, which must name the file and the case.
    fn refusal(json: &str) -> String {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let file = dir.path().join("vacuous.json");
        std::fs::write(&file, json).unwrap_or_else(|error| panic!("{error}"));
        let error = read_cases(&file).map(|cases| cases.len()).unwrap_err();
        assert!(error.contains(&file.display().to_string()), "{error}");
        error
    }

    #[test]
    fn a_case_that_asserts_nothing_is_refused_naming_its_file_and_case() {
        let error =
            refusal(r#"[{"name": "fine", "expect": {"assigned": 0}}, {"name": "empty", "expect": {}}]"#);
        assert!(error.contains("case 2 (`empty`)"), "{error}");
        assert!(error.contains("`expect` is empty"), "{error}");
        let error = refusal(r#"{"name": "empty has-any", "request": {"hasAny": true}, "expect": {}}"#);
        assert!(error.contains("give `count`"), "{error}");
    }

    #[test]
    fn an_expectation_the_request_does_not_answer_is_refused() {
        for field in [
            r#""assigned": 1"#,
            r#""found": true"#,
            r#""decision": "full-batch""#,
        ] {
            let error = refusal(&format!(
                r#"{{"name": "has-any", "request": {{"hasAny": true}}, "expect": {{"count": 1, {field}}}}}"#
            ));
            assert!(error.contains("case 1 (`has-any`)"), "{error}");
            assert!(error.contains("does not answer"), "{error}");
        }
        let error = refusal(r#"{"name": "batch", "expect": {"assigned": 1, "count": 1}}"#);
        assert!(error.contains("only a `hasAny` request answers"), "{error}");
    }
}
