//! The engine's operations as commands (the same as the `/v1` API's): batch requests, explain
//! and replay, decisions, the unassigned count, release, join and message-sent.

use chrono::Utc;
use serde_json::json;

use super::args::{AssignmentArg, BatchArgs, CountArg, NowArg, PlanArgs, TexterArg};
use super::error::CliError;
use super::load::Setup;
use super::output::{Answer, to_json};
use crate::engine::{BatchRequest, DecisionMode, DecisionRequest};

/// `request-batch`.
pub async fn request_batch(setup: &Setup, args: BatchArgs) -> Result<Answer, CliError> {
    // Checked before anything loads: a time out of range is the caller's mistake.
    let request = args.request()?;
    let engine = setup.engine().await?;
    Ok(Answer::Json(to_json(engine.request_batch(request).await?)?))
}

/// `explain`.
pub async fn explain(setup: &Setup, args: BatchArgs) -> Result<Answer, CliError> {
    let request = args.request()?;
    let engine = setup.engine().await?;
    let (outcome, trace) = engine.explain_batch(request, None).await?;
    Ok(Answer::Json(json!({ "outcome": outcome, "trace": trace })))
}

/// `replay`: explain, deciding with another component when one is given.
pub async fn replay(
    setup: &Setup,
    assignment: AssignmentArg,
    strategy: Option<std::path::PathBuf>,
    texter: TexterArg,
    count: CountArg,
    now: NowArg,
) -> Result<Answer, CliError> {
    let now = now.time()?;
    let engine = setup.engine().await?;
    let replacement = match strategy {
        Some(file) => Some(setup.component(&file).await?),
        None => None,
    };
    let request = BatchRequest {
        assignment_id: assignment.assignment_id,
        caller: texter.caller(),
        number_contacts: count.number_contacts,
        batch_type: None,
        now,
    };
    let (outcome, trace) = engine.explain_batch(request, replacement).await?;
    Ok(Answer::Json(json!({ "outcome": outcome, "trace": trace })))
}

/// `decision`.
pub async fn decision(
    setup: &Setup,
    assignment: AssignmentArg,
    strategy: Option<String>,
    mode: DecisionMode,
    texter: TexterArg,
    plan: PlanArgs,
    now: NowArg,
) -> Result<Answer, CliError> {
    let now = now.time()?;
    let engine = setup.engine().await?;
    let decision = engine
        .decide(DecisionRequest {
            assignment_id: assignment.assignment_id,
            caller: texter.caller(),
            strategy,
            mode,
            plan: plan.plan(),
            now,
        })
        .await?;
    Ok(Answer::Json(to_json(decision)?))
}

/// `has-unassigned`.
pub async fn has_unassigned(
    setup: &Setup,
    assignment: AssignmentArg,
    texter: TexterArg,
    now: NowArg,
) -> Result<Answer, CliError> {
    let now = now.time()?;
    let engine = setup.engine().await?;
    let count = engine
        .has_unassigned(assignment.assignment_id, texter.caller(), now)
        .await?;
    Ok(Answer::Json(json!({ "count": count })))
}

/// `release`.
pub async fn release(
    setup: &Setup,
    assignment: AssignmentArg,
    conversations: bool,
    texter: TexterArg,
) -> Result<Answer, CliError> {
    let engine = setup.engine_without_strategies().await?;
    let released = engine
        .release(assignment.assignment_id, texter.caller(), conversations)
        .await?;
    Ok(Answer::Json(json!({ "released": released })))
}

/// `join`.
pub async fn join(
    setup: &Setup,
    campaign_id: i64,
    user_id: i64,
    join_token: &str,
) -> Result<Answer, CliError> {
    let engine = setup.engine_without_strategies().await?;
    let outcome = engine.join(campaign_id, user_id, join_token, Utc::now()).await?;
    Ok(Answer::Json(to_json(outcome)?))
}

/// `message-sent`.
pub async fn message_sent(setup: &Setup, contact_id: i64) -> Result<Answer, CliError> {
    let engine = setup.engine_without_strategies().await?;
    let unassigned = engine.message_sent(contact_id).await?;
    Ok(Answer::Json(json!({ "unassigned": unassigned })))
}
