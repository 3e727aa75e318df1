//! A batch request (`findNewCampaignContact`) and the count behind the "request texts" button
//! (`hasUnassignedContactsForTexter`): the two operations that run a strategy, each inside its
//! transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::access::{Context, load_and_authorize};
use super::ahead::{Operation, PrefetchedAnswers};
use super::error::EngineError;
use super::error::commit;
use super::explain::{Decision, Trace};
use super::policy::{Finished, Policy};
use super::request::{AssignmentSummary, BatchOutcome, BatchRequest, Caller, Run};
use super::sizing;
use super::source::TxSource;
use super::state::{Enabled, Engine};
use crate::db::Queries;
use crate::filter::ContactFilter;
use crate::question::QuestionScope;
use crate::sandbox::{BatchPlan, StrategyRequest};

pub(super) fn strategy_request(
    context: &Context,
    has_any: bool,
    number_contacts: Option<i64>,
    count_cap: u32,
    now: DateTime<Utc>,
) -> StrategyRequest {
    StrategyRequest {
        organization: context.organization.clone(),
        campaign: context.campaign.clone(),
        assignment: context.assignment.clone(),
        texter: context.texter.clone(),
        has_any,
        number_contacts: number_contacts
            .filter(|&n| n > 0)
            .and_then(|n| u32::try_from(n).ok()),
        count_cap,
        now,
    }
    .without_secrets()
}

/// The answer for `context`: nothing assigned yet, and the button hidden (Spoke's
/// `hasUnassignedContactsForTexter: 0`).
fn answer(context: &Context, strategy: Option<&str>) -> BatchOutcome {
    BatchOutcome {
        found: false,
        assigned: 0,
        assignment: AssignmentSummary {
            id: context.assignment.id,
            has_unassigned_contacts_for_texter: 0,
        },
        strategy: strategy.map(str::to_string),
    }
}

/// What the engine remembers a strategy's questions by: its name and version.
pub(super) fn version_key(policy: &dyn Policy) -> String {
    format!("{}@{}", policy.name(), policy.version())
}

pub(super) async fn request_batch<T: Queries>(
    engine: &Engine,
    mut tx: T,
    request: BatchRequest,
    run: Run,
) -> Result<(BatchOutcome, Trace), EngineError> {
    let mut trace = Trace::new(run.dry_run);
    // The assignment's row stays locked until the transaction ends: this request's count of
    // the texter's contacts, its has-current check and its claim see every earlier request's
    // claim of the same assignment, in this process or another.
    let context = load_and_authorize(&mut tx, request.assignment_id, request.caller, true).await?;
    if context.assignment.max_contacts == Some(0) {
        trace.decide(Decision::MaxContactsZero);
        return Ok((answer(&context, None), trace));
    }
    engine.stop_if_abandoned()?;
    let settings = engine.settings(&context)?;
    let campaign = context.campaign.id;
    let policy: Option<Arc<dyn Policy>> = match (run.strategy, &request.batch_type) {
        (Some(replacement), _) => Some(replacement),
        (None, batch_type) => {
            let enabled = engine.enabled(&settings);
            let chosen = match batch_type {
                None => enabled.first(),
                Some(name) => enabled.iter().find(|strategy| strategy.name() == name),
            };
            match (chosen, batch_type) {
                (Some(strategy), _) => Some(engine.serving(strategy, campaign)?),
                (None, None) => None,
                (None, Some(name)) => {
                    return Err(EngineError::UnknownBatchType {
                        name: name.clone(),
                        campaign,
                        enabled: enabled
                            .iter()
                            .filter(|strategy| matches!(strategy, Enabled::Serving(_)))
                            .map(Enabled::name)
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            }
        }
    };
    let Some(policy) = policy else {
        trace.decide(Decision::NoStrategy);
        return Ok((answer(&context, None), trace));
    };
    trace.strategy = Some(policy.name().to_string());
    trace.version = Some(policy.version().to_string());
    let scope = engine.scope(&context, &settings, request.now)?;
    let cap = sizing::request_cap(request.number_contacts, context.campaign.batch_size);
    trace.count_cap = Some(cap);
    let strategy_request = strategy_request(&context, false, request.number_contacts, cap, request.now);

    // Spoke counts after asking the strategy; nothing writes in between, so counting first on
    // the same connection is the same number and lets one strategy instance serve both calls.
    // The count goes to the database first (read from the holdings table where the database
    // keeps it, else counted), with the questions the strategy asked last time (`ahead`); the
    // strategy's instance is built while it runs.
    let question_scope = QuestionScope {
        request: scope.clone(),
        user_id: context.assignment.user_id,
        organization_id: context.organization.id,
    };
    let version = version_key(policy.as_ref());
    let questions = engine.question_memory.recall(&version, Operation::RequestBatch);
    let (counted, session) = tokio::join!(
        tx.held_count_with(&questions, &question_scope, engine.known_holdings()),
        policy.start(&settings.limits)
    );
    let ((contacts_count, answers), instance) = (counted?, session?);
    trace.contacts_count = Some(contacts_count);
    let mut session = instance.attach(TxSource {
        tx,
        question_scope,
        ahead: PrefetchedAnswers::new(&questions, answers),
    });
    let counted = session.request_new_batch_count(&strategy_request).await?;
    let available = counted.value;
    trace.strategy_count = Some(available);
    trace.fuel_used = counted.fuel_used;
    let size = sizing::batch_size(
        request.number_contacts,
        context.campaign.batch_size,
        available,
        context.assignment.max_contacts,
        contacts_count,
    );
    trace.batch_size = Some(size);
    if size == 0 {
        let finished = session.finish();
        engine
            .question_memory
            .remember(&version, Operation::RequestBatch, &finished.journal);
        trace.record(&finished.journal, finished.source.ahead.answered_ahead());
        trace.decide(if available == 0 {
            Decision::StrategySaidZero
        } else {
            Decision::MaxContactsReached
        });
        return Ok((answer(&context, Some(policy.name())), trace));
    }
    let plan = BatchPlan {
        number_contacts: size,
        contacts_count: u32::try_from(contacts_count).unwrap_or(u32::MAX),
    };
    let selected = session.select_contacts(&strategy_request, plan).await?;
    trace.fuel_used += selected.fuel_used;
    let selection = selected.value;
    // The spent instance is kept until the claim is on its way (see below).
    let Finished {
        source,
        journal,
        instance,
    } = session.finish();
    engine
        .question_memory
        .remember(&version, Operation::RequestBatch, &journal);
    trace.record(&journal, source.ahead.answered_ahead());
    let mut tx = source.tx;

    let batch = selection
        .batch_query
        .unwrap_or_else(|| crate::filter::ContactQuery {
            filter: ContactFilter::available(),
            limit: None,
        });
    let limit = batch.limit.unwrap_or(size);
    if settings.requires_finishing_current() {
        let current = selection
            .has_current_query
            .unwrap_or_else(ContactFilter::current_initials);
        if tx.count_contacts(&current, &scope, Some(size)).await? >= size {
            trace.decide(Decision::MustFinishCurrent);
            return Ok((answer(&context, Some(policy.name())), trace));
        }
    }
    if limit == 0 {
        trace.decide(Decision::BatchQueryLimitZero);
        return Ok((answer(&context, Some(policy.name())), trace));
    }
    let gate = engine.gates.enter(context.campaign.id).await;
    if !run.dry_run {
        engine.pass_point_of_no_return()?;
    }
    // The instance is torn down (its pool slot resets the pages it wrote) while the database
    // claims: `join!` polls the claim first, which sends it, then drops the instance.
    let (claimed, ()) = tokio::join!(tx.claim(&batch.filter, &scope, limit, request.now), async move {
        drop(instance)
    });
    let claimed = claimed?;
    if run.dry_run {
        tx.rollback().await?;
    } else {
        commit(tx).await?;
    }
    drop(gate);
    trace.decide(if claimed.is_empty() {
        Decision::NothingMatched
    } else {
        Decision::Assigned
    });
    if !run.dry_run && !claimed.is_empty() {
        let campaign = context.campaign.id;
        engine
            .metrics
            .record_batch_assigned(Utc::now(), campaign, claimed.len() as u64);
    }
    let mut outcome = answer(&context, Some(policy.name()));
    outcome.found = !claimed.is_empty();
    outcome.assigned = claimed.len() as u64;
    trace.contact_ids = claimed;
    Ok((outcome, trace))
}

pub(super) async fn has_unassigned<T: Queries>(
    engine: &Engine,
    mut tx: T,
    assignment_id: i64,
    caller: Caller,
    now: DateTime<Utc>,
) -> Result<u32, EngineError> {
    // It only reads, so it takes no lock and waits for no batch request.
    let context = load_and_authorize(&mut tx, assignment_id, caller, false).await?;
    if context.campaign.is_archived {
        return Ok(0);
    }
    engine.stop_if_abandoned()?;
    let settings = engine.settings(&context)?;
    let Some(first) = engine.enabled(&settings).into_iter().next() else {
        return Ok(0);
    };
    let policy = engine.serving(&first, context.campaign.id)?;
    let scope = engine.scope(&context, &settings, now)?;
    let cap = sizing::has_any_cap(context.assignment.max_contacts, context.campaign.batch_size);
    let request = strategy_request(&context, true, None, cap, now);
    let question_scope = QuestionScope {
        request: scope,
        user_id: context.assignment.user_id,
        organization_id: context.organization.id,
    };
    let version = version_key(policy.as_ref());
    let questions = engine.question_memory.recall(&version, Operation::HasUnassigned);
    let (answers, session) = tokio::join!(
        tx.answers(&questions, &question_scope),
        policy.start(&settings.limits)
    );
    let (answers, instance) = (answers?, session?);
    let mut session = instance.attach(TxSource {
        tx,
        question_scope,
        ahead: PrefetchedAnswers::new(&questions, answers),
    });
    let available = session.request_new_batch_count(&request).await?.value;
    let finished = session.finish();
    engine
        .question_memory
        .remember(&version, Operation::HasUnassigned, &finished.journal);
    finished.source.tx.rollback().await?;
    Ok(sizing::has_any_count(
        context.assignment.max_contacts,
        context.campaign.batch_size,
        available,
    ))
}
