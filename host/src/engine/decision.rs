//! A strategy's decision alone, for a Spoke bridge (`POST /v1/assignments/{id}/decision`):
//! Spoke keeps its own request flow, its own checks and its own claim, and asks the host only
//! what the strategy says. The host runs `request-new-batch-count` and, for a batch, then
//! `select-contacts` in the same instance, exactly as inside a batch request, and writes
//! nothing: every read is autocommit, and there is no claim.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access::load_and_authorize;
use super::ahead::{Operation, PrefetchedAnswers};
use super::batch::{strategy_request, version_key};
use super::error::EngineError;
use super::policy::{Policy, Sandboxed};
use super::request::{Caller, MAX_NUMBER_CONTACTS};
use super::sizing;
use super::source::TxSource;
use super::state::Engine;
use crate::db::Queries;
use crate::filter::{ContactSelection, TimezoneOffsets};
use crate::question::{Answer, Question, QuestionScope};
use crate::registry::StrategyRegistry;
use crate::sandbox::{BatchPlan, StrategyComponent};
use crate::spoke_config::CampaignSettings;

/// The largest `contactsCount` a plan may carry (Spoke counts into a 32-bit integer).
pub const MAX_CONTACTS_COUNT: i64 = i32::MAX as i64;

/// Which of Spoke's two call sites asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionMode {
    /// `findNewCampaignContact`: the count, then the selection for the plan.
    Batch,
    /// `hasUnassignedContactsForTexter`: the count only, asked with `hasAny`.
    HasAny,
}

impl DecisionMode {
    /// The mode as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionMode::Batch => "batch",
            DecisionMode::HasAny => "has-any",
        }
    }
}

impl fmt::Display for DecisionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DecisionMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "batch" => Ok(DecisionMode::Batch),
            "has-any" => Ok(DecisionMode::HasAny),
            other => Err(format!("unknown mode `{other}`; expected batch or has-any")),
        }
    }
}

/// Spoke's plan for `selectContacts`: its `numberContacts` (negative when the texter holds
/// more than `max_contacts`) and `contactsCount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionPlan {
    /// How many contacts Spoke will claim at most.
    pub number_contacts: i64,
    /// How many contacts the assignment holds.
    pub contacts_count: i64,
}

/// What a bridge asks.
#[derive(Debug, Clone)]
pub struct DecisionRequest {
    /// The assignment.
    pub assignment_id: i64,
    /// Who asks (authorized as for a batch request).
    pub caller: Caller,
    /// The strategy Spoke chose; `None` means the campaign's first enabled one.
    pub strategy: Option<String>,
    /// Which call site asks.
    pub mode: DecisionMode,
    /// Spoke's plan (batch mode only); `None` means the plan of Spoke's default sidebox.
    pub plan: Option<DecisionPlan>,
    /// The request's time.
    pub now: DateTime<Utc>,
}

impl DecisionRequest {
    /// Refuses what no call of Spoke's could send.
    pub(super) fn validate(&self) -> Result<(), EngineError> {
        let Some(plan) = self.plan else {
            return Ok(());
        };
        if self.mode == DecisionMode::HasAny {
            return Err(EngineError::BadRequest(
                "a plan belongs to batch mode only; has-any asks for the count alone".to_string(),
            ));
        }
        if !(-MAX_NUMBER_CONTACTS..=MAX_NUMBER_CONTACTS).contains(&plan.number_contacts) {
            return Err(EngineError::BadRequest(format!(
                "plan.numberContacts is {}; it must be between -{MAX_NUMBER_CONTACTS} and {MAX_NUMBER_CONTACTS}",
                plan.number_contacts
            )));
        }
        if !(0..=MAX_CONTACTS_COUNT).contains(&plan.contacts_count) {
            return Err(EngineError::BadRequest(format!(
                "plan.contactsCount is {}; it must be between 0 and {MAX_CONTACTS_COUNT}",
                plan.contacts_count
            )));
        }
        Ok(())
    }
}

/// How Spoke should order its claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimOrder {
    /// `ORDER BY CAST(id AS BIGINT)`, the order of `campaign_contact_claim_index`, which then
    /// reads about a batch's worth of entries (without the index the same order sorts every
    /// match, so it is sent only when the index exists).
    ClaimIndex,
}

/// What the strategy decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyDecision {
    /// The strategy that decided.
    pub strategy: String,
    /// Its version (the first 12 hex digits of its SHA-256).
    pub version: String,
    /// What `request-new-batch-count` answered.
    pub count: u32,
    /// The cap the strategy was given for its counts.
    pub count_cap: u32,
    /// The plan `select-contacts` was called with (batch mode), else `None`.
    pub plan: Option<DecisionPlan>,
    /// The strategy's replacements for Spoke's queries; `None` when `select-contacts` was not
    /// called (has-any mode, or a plan of no contacts).
    pub selection: Option<ContactSelection>,
    /// How to order the claim, when the database has the claim index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_order: Option<ClaimOrder>,
    /// What valid and invalid now meant to the strategy's questions.
    pub offsets: Arc<TimezoneOffsets>,
}

/// The loaded strategies' names, for error messages.
fn loaded_names(registry: &StrategyRegistry) -> String {
    let names: Vec<&str> = registry
        .entries()
        .filter(|(_, entry)| entry.serving.is_some())
        .map(|(name, _)| name)
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// The loaded strategy `name`: Spoke chose it, so it need not be enabled for the campaign.
fn named_strategy(registry: &StrategyRegistry, name: &str) -> Result<Arc<StrategyComponent>, EngineError> {
    registry
        .get(name)
        .cloned()
        .ok_or_else(|| EngineError::UnknownStrategy {
            wanted: format!("strategy `{name}`"),
            loaded: loaded_names(registry),
        })
}

/// The campaign's default strategy, picked as a batch request picks it: the first enabled one
/// that has a component; one that failed to load is `STRATEGY_UNAVAILABLE`, not skipped.
fn default_strategy(
    engine: &Engine,
    registry: &StrategyRegistry,
    settings: &CampaignSettings,
    campaign_id: i64,
) -> Result<Arc<StrategyComponent>, EngineError> {
    let first = engine.enabled(settings).into_iter().next();
    let serving = first
        .map(|enabled| engine.serving(&enabled, campaign_id).map(|_| enabled))
        .transpose()?;
    serving
        .and_then(|enabled| registry.get(enabled.name()).cloned())
        .ok_or_else(|| EngineError::UnknownStrategy {
            wanted: format!(
                "none of campaign {campaign_id}'s enabled strategies ({})",
                settings.strategies.join(", ")
            ),
            loaded: loaded_names(registry),
        })
}

/// The answers to the questions asked ahead, with the texter's contact count when Spoke's
/// plan must be computed (then in the same statement, as a batch request reads them; `kept`
/// where the holdings table keeps it).
async fn read_ahead<T: Queries>(
    tx: &mut T,
    questions: &[Question],
    question_scope: &QuestionScope,
    with_count: bool,
    kept: bool,
) -> sqlx::Result<(Option<i64>, Vec<Answer>)> {
    if with_count {
        let (count, answers) = tx.held_count_with(questions, question_scope, kept).await?;
        Ok((Some(count), answers))
    } else {
        Ok((None, tx.answers(questions, question_scope).await?))
    }
}

pub(super) async fn decide<T: Queries>(
    engine: &Engine,
    mut tx: T,
    request: DecisionRequest,
    claim_order: Option<ClaimOrder>,
) -> Result<StrategyDecision, EngineError> {
    let registry = engine.strategies();
    let named = request
        .strategy
        .as_deref()
        .map(|name| named_strategy(&registry, name))
        .transpose()?;
    let context = load_and_authorize(&mut tx, request.assignment_id, request.caller, false).await?;
    let settings = engine.settings(&context)?;
    let component = match named {
        Some(component) => component,
        None => default_strategy(engine, &registry, &settings, context.campaign.id)?,
    };
    let policy = Sandboxed(Arc::clone(&component));
    let scope = engine.scope(&context, &settings, request.now)?;
    let offsets = Arc::clone(&scope.offsets);
    let (batch_size, max_contacts) = (context.campaign.batch_size, context.assignment.max_contacts);

    // The same request a batch request (or the button's count) gives the strategy; a batch
    // asks for what Spoke's plan asks, else what the default sidebox asks.
    let (operation, wanted, count_cap) = match request.mode {
        DecisionMode::HasAny => (
            Operation::HasUnassigned,
            None,
            sizing::has_any_cap(max_contacts, batch_size),
        ),
        DecisionMode::Batch => {
            let wanted = request
                .plan
                .map(|plan| plan.number_contacts)
                .filter(|&number| number > 0)
                .unwrap_or_else(|| sizing::default_sidebox_number(batch_size));
            let cap = sizing::request_cap(Some(wanted), batch_size);
            (Operation::RequestBatch, Some(wanted), cap)
        }
    };
    let has_any = request.mode == DecisionMode::HasAny;
    let spokes_plan_needed = !has_any && request.plan.is_none();
    let strategy_request = strategy_request(&context, has_any, wanted, count_cap, request.now);
    let question_scope = QuestionScope {
        request: scope,
        user_id: context.assignment.user_id,
        organization_id: context.organization.id,
    };
    let version = version_key(&policy);
    let questions = engine.question_memory.recall(&version, operation);
    let (read, session) = tokio::join!(
        read_ahead(
            &mut tx,
            &questions,
            &question_scope,
            spokes_plan_needed,
            engine.known_holdings()
        ),
        policy.start(&settings.limits)
    );
    let ((held, answers), instance) = (read?, session?);
    let mut session = instance.attach(TxSource {
        tx,
        question_scope,
        ahead: PrefetchedAnswers::new(&questions, answers),
    });
    let count = session.request_new_batch_count(&strategy_request).await?.value;
    let plan = match (request.mode, request.plan) {
        (DecisionMode::HasAny, _) => None,
        (DecisionMode::Batch, Some(plan)) => Some(plan),
        (DecisionMode::Batch, None) => {
            let contacts_count = held.unwrap_or(0);
            Some(DecisionPlan {
                number_contacts: sizing::spoke_number_contacts(
                    wanted,
                    batch_size,
                    count,
                    max_contacts,
                    contacts_count,
                ),
                contacts_count,
            })
        }
    };
    // Spoke claims nothing for a plan of no contacts, so the strategy is not asked to select.
    let selection = match plan {
        Some(plan) if plan.number_contacts > 0 => {
            let batch_plan = BatchPlan {
                number_contacts: u32::try_from(plan.number_contacts).unwrap_or(u32::MAX),
                contacts_count: u32::try_from(plan.contacts_count).unwrap_or(u32::MAX),
            };
            Some(
                session
                    .select_contacts(&strategy_request, batch_plan)
                    .await?
                    .value,
            )
        }
        _ => None,
    };
    let finished = session.finish();
    engine
        .question_memory
        .remember(&version, operation, &finished.journal);
    finished.source.tx.rollback().await?;
    component
        .sandbox()
        .metrics()
        .record_decision(component.name(), request.mode.as_str());
    Ok(StrategyDecision {
        strategy: component.name().to_string(),
        version: component.version().to_string(),
        count,
        count_cap,
        plan,
        selection,
        claim_order,
        offsets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mode: DecisionMode, plan: Option<DecisionPlan>) -> DecisionRequest {
        DecisionRequest {
            assignment_id: 1,
            caller: Caller::Operator,
            strategy: None,
            mode,
            plan,
            now: Utc::now(),
        }
    }

    fn plan(number_contacts: i64, contacts_count: i64) -> Option<DecisionPlan> {
        Some(DecisionPlan {
            number_contacts,
            contacts_count,
        })
    }

    #[test]
    fn a_plan_is_for_batch_mode_and_within_range() {
        assert!(request(DecisionMode::Batch, plan(-8, 20)).validate().is_ok());
        assert!(request(DecisionMode::HasAny, None).validate().is_ok());
        for refused in [
            request(DecisionMode::HasAny, plan(5, 0)),
            request(DecisionMode::Batch, plan(MAX_NUMBER_CONTACTS + 1, 0)),
            request(DecisionMode::Batch, plan(5, -1)),
        ] {
            assert!(
                matches!(refused.validate(), Err(EngineError::BadRequest(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn modes_read_as_the_api_spells_them() {
        for mode in [DecisionMode::Batch, DecisionMode::HasAny] {
            assert_eq!(mode.as_str().parse::<DecisionMode>(), Ok(mode));
            assert_eq!(
                serde_json::to_value(mode).ok(),
                Some(serde_json::json!(mode.as_str()))
            );
        }
        assert!("hasAny".parse::<DecisionMode>().is_err());
    }
}
