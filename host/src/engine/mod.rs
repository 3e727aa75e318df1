//! The assignment engine: Spoke's dynamic-assignment operations, each one transaction on
//! Spoke's own tables, with the strategy deciding inside it.

mod access;
mod ahead;
mod batch;
mod campaigns;
mod commit_point;
mod decision;
mod error;
mod explain;
mod gate;
mod policy;
mod sizing;
mod source;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, Sqlite};

pub use campaigns::{CampaignOverview, CampaignView};
pub use decision::{
    ClaimOrder, DecisionMode, DecisionPlan, DecisionRequest, MAX_CONTACTS_COUNT, StrategyDecision,
};
pub use error::EngineError;
pub use explain::{Decision, Trace};
pub use policy::{Policy, PolicySession, Sandboxed};

use access::{Context, campaign_and_organization, load_and_authorize};
use campaigns::{campaign_view, dynamic_campaigns, example_assignment};
use commit_point::CommitPoint;
use error::{commit, found};

use crate::config::{CampaignSettings, Environment};
use crate::db::{Database, Dialect, HostIndex, Queries};
use crate::filter::RequestScope;
use crate::metrics::Metrics;
use crate::model::{MessageStatus, Role};
use crate::registry::StrategyRegistry;
use crate::runtime::StrategyComponent;
use crate::timezones::{OffsetsCache, TimezoneRules, texting_hours};
use ahead::Foresight;
use batch::{has_unassigned, request_batch};
use decision::decide;
use gate::ClaimGates;

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The operator (CLI without `--texter-id`, or a trusted service): acts as an administrator.
    Operator,
    /// A Spoke user.
    User(i64),
}

/// A request for a batch (`findNewCampaignContact`).
#[derive(Debug, Clone)]
pub struct BatchRequest {
    /// The assignment asking.
    pub assignment_id: i64,
    /// Who asks.
    pub caller: Caller,
    /// How many contacts the texter asks for; `None` or 0 means a full batch.
    pub number_contacts: Option<i64>,
    /// The strategy to use; `None` means the campaign's default.
    pub batch_type: Option<String>,
    /// The time of the request.
    pub now: DateTime<Utc>,
}

/// What a batch request did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutcome {
    /// Whether any contact was assigned.
    pub found: bool,
    /// How many contacts were assigned.
    pub assigned: u64,
    /// The assignment, with `hasUnassignedContactsForTexter: 0` as Spoke answers.
    pub assignment: AssignmentSummary,
    /// The strategy that decided, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
}

/// The assignment part of a batch answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentSummary {
    /// `assignment.id`.
    pub id: i64,
    /// Always 0 right after a request, so the button hides (Spoke's behaviour).
    pub has_unassigned_contacts_for_texter: u32,
}

/// What a join did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinOutcome {
    /// The texter's assignment in the campaign.
    pub assignment_id: i64,
    /// Whether it was created by this join.
    pub created: bool,
}

/// How a batch request runs.
#[derive(Default)]
struct Run {
    /// Roll back at the end.
    dry_run: bool,
    /// Decide with this policy instead of the campaign's strategy.
    strategy: Option<Arc<dyn Policy>>,
}

/// The largest `numberContacts` a client may ask for.
pub const MAX_NUMBER_CONTACTS: i64 = 1_000_000;

/// The strategies currently served; replaced as a whole on reload.
pub type SharedRegistry = Arc<RwLock<Arc<StrategyRegistry>>>;

/// The engine: the database, the strategies and the environment.
#[derive(Clone)]
pub struct Engine {
    db: Database,
    registry: SharedRegistry,
    env: Arc<Environment>,
    gates: Arc<ClaimGates>,
    offsets: Arc<OffsetsCache>,
    foresight: Arc<Foresight>,
    /// Whether `campaign_contact_claim_index` exists: looked up once (by `serve` at start, else
    /// by the first decision), not per request.
    claim_index: Arc<tokio::sync::OnceCell<bool>>,
    metrics: Arc<Metrics>,
    /// The point of no return of the one operation this copy runs ([`Engine::within`]).
    commit_point: Option<Arc<CommitPoint>>,
}

/// An enabled strategy of a campaign, as the registry has it.
enum Enabled {
    /// A version of it serves.
    Serving(Arc<dyn Policy>),
    /// It failed to load, and no earlier version serves.
    Failed {
        /// Its name.
        name: String,
        /// Why it failed, naming its file (not the folder).
        error: String,
    },
}

/// Runs `$op(engine, tx, ...)` on new work of the engine's database, begun with the
/// [`Dialect`]'s `$begin` (a write transaction, work that writes once, or reads).
macro_rules! in_transaction {
    ($engine:expr, $begin:ident, $op:ident($($arg:expr),*)) => {
        match &$engine.db {
            Database::Postgres(pool) => {
                let tx = <Postgres as Dialect>::$begin(pool).await?;
                $op($engine, tx, $($arg),*).await
            }
            Database::Sqlite(pool) => {
                let tx = <Sqlite as Dialect>::$begin(pool).await?;
                $op($engine, tx, $($arg),*).await
            }
        }
    };
}

impl Engine {
    /// An engine on `db` serving the strategies of `registry`.
    pub fn new(db: Database, registry: SharedRegistry, env: Environment) -> Self {
        Engine {
            db,
            registry,
            env: Arc::new(env),
            gates: Arc::new(ClaimGates::new()),
            offsets: Arc::new(OffsetsCache::default()),
            foresight: Arc::new(Foresight::default()),
            claim_index: Arc::new(tokio::sync::OnceCell::new()),
            metrics: Arc::new(Metrics::default()),
            commit_point: None,
        }
    }

    /// Tells the engine whether the database has the claim index (`serve` checks at start),
    /// so no decision has to ask; a later call changes nothing.
    pub fn know_claim_index(&self, present: bool) {
        let _ = self.claim_index.set(present);
    }

    /// The engine counting into `metrics` (the service's, which `/metrics` shows) instead of
    /// metrics of its own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The strategies served now.
    pub fn strategies(&self) -> Arc<StrategyRegistry> {
        match self.registry.read() {
            Ok(registry) => Arc::clone(&registry),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Requests a batch of contacts for an assignment (`findNewCampaignContact`).
    pub async fn request_batch(&self, request: BatchRequest) -> Result<BatchOutcome, EngineError> {
        self.request_batch_run(request, Run::default()).await
    }

    /// Like [`Engine::request_batch`], with `policy` deciding instead of the campaign's
    /// strategy (the benchmarks compare a component with the same rules compiled natively).
    pub async fn request_batch_with(
        &self,
        request: BatchRequest,
        policy: Arc<dyn Policy>,
    ) -> Result<BatchOutcome, EngineError> {
        let run = Run {
            dry_run: false,
            strategy: Some(policy),
        };
        self.request_batch_run(request, run).await
    }

    async fn request_batch_run(&self, request: BatchRequest, run: Run) -> Result<BatchOutcome, EngineError> {
        if let Some(number) = request.number_contacts
            && !(0..=MAX_NUMBER_CONTACTS).contains(&number)
        {
            return Err(EngineError::BadRequest(format!(
                "numberContacts is {number}; it must be between 0 and {MAX_NUMBER_CONTACTS} (0 means a full batch)"
            )));
        }
        let started = std::time::Instant::now();
        let assignment = request.assignment_id;
        // One transaction that locks the assignment first: requests of one assignment take
        // turns, so `max_contacts` and the has-current rule hold under any concurrency.
        let result =
            in_transaction!(self, begin_write, request_batch(request, run)).map(|(outcome, _)| outcome);
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(outcome) => tracing::info!(
                assignment,
                strategy = outcome.strategy.as_deref().unwrap_or("none"),
                decision = if outcome.found { "assigned" } else { "nothing" },
                assigned = outcome.assigned,
                duration_ms,
                "batch request"
            ),
            Err(error) => {
                tracing::warn!(assignment, code = error.code(), %error, duration_ms, "batch request failed")
            }
        }
        result
    }

    /// Runs a batch request to the end and rolls it back: what would happen, and why, with every
    /// question the strategy asked. With `strategy`, that component decides instead of the
    /// campaign's (to compare a new version on real data before shipping it).
    pub async fn explain_batch(
        &self,
        request: BatchRequest,
        strategy: Option<Arc<StrategyComponent>>,
    ) -> Result<(BatchOutcome, Trace), EngineError> {
        let run = Run {
            dry_run: true,
            strategy: strategy.map(|component| Arc::new(Sandboxed(component)) as Arc<dyn Policy>),
        };
        in_transaction!(self, begin_write, request_batch(request, run))
    }

    /// The strategy's decision alone, for a Spoke bridge: its count and, for a batch, its
    /// selection for the plan; nothing is claimed or written.
    pub async fn decide(&self, request: DecisionRequest) -> Result<StrategyDecision, EngineError> {
        request.validate()?;
        let started = std::time::Instant::now();
        let (assignment, mode) = (request.assignment_id, request.mode);
        let result = async {
            let present = *self
                .claim_index
                .get_or_try_init(|| self.db.has_index(HostIndex::Claim))
                .await
                .map_err(|error| match error {
                    crate::db::DbError::Sql(error) => EngineError::Database(error),
                    other => EngineError::Internal(other.to_string()),
                })?;
            let order = present.then_some(ClaimOrder::ClaimIndex);
            in_transaction!(self, begin_read, decide(request, order))
        }
        .await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(decision) => tracing::info!(
                assignment,
                strategy = %decision.strategy,
                %mode,
                count = decision.count,
                number_contacts = decision.plan.map(|plan| plan.number_contacts),
                selected = decision.selection.is_some(),
                bridge = true,
                duration_ms,
                "decision"
            ),
            Err(error) => tracing::warn!(
                assignment,
                %mode,
                bridge = true,
                code = error.code(),
                %error,
                duration_ms,
                "decision failed"
            ),
        }
        result
    }

    /// `hasUnassignedContactsForTexter`: how many contacts the "request texts" button offers.
    pub async fn has_unassigned(
        &self,
        assignment_id: i64,
        caller: Caller,
        now: DateTime<Utc>,
    ) -> Result<u32, EngineError> {
        in_transaction!(self, begin_read, has_unassigned(assignment_id, caller, now))
    }

    /// Releases an assignment's `needsMessage` contacts, or all of them with `conversations`.
    pub async fn release(
        &self,
        assignment_id: i64,
        caller: Caller,
        conversations: bool,
    ) -> Result<u64, EngineError> {
        in_transaction!(self, begin_write, release(assignment_id, caller, conversations))
    }

    /// Joins a campaign by its dynamic-assignment link.
    pub async fn join(
        &self,
        campaign_id: i64,
        user_id: i64,
        join_token: &str,
        now: DateTime<Utc>,
    ) -> Result<JoinOutcome, EngineError> {
        in_transaction!(self, begin_write, join(campaign_id, user_id, join_token, now))
    }

    /// The outbound-unassign message handler: the initial message to `contact_id` was sent.
    pub async fn message_sent(&self, contact_id: i64) -> Result<bool, EngineError> {
        in_transaction!(self, begin_write, message_sent(contact_id))
    }

    /// A campaign with its resolved configuration.
    pub async fn campaign_view(&self, campaign_id: i64) -> Result<CampaignView, EngineError> {
        in_transaction!(self, begin_read, campaign_view(campaign_id))
    }

    /// The newest unarchived dynamic-assignment campaigns (at most `limit`), each with its
    /// resolved configuration or the reason it cannot be resolved.
    pub async fn dynamic_campaigns(&self, limit: u32) -> Result<Vec<CampaignOverview>, EngineError> {
        in_transaction!(self, begin_read, dynamic_campaigns(limit))
    }

    /// `(assignment id, its user id)` of a texter in the newest dynamic campaign, for examples.
    pub async fn example_assignment(&self) -> Result<Option<(i64, i64)>, EngineError> {
        in_transaction!(self, begin_read, example_assignment())
    }

    /// The enabled strategies of a campaign, the default first: each one serving, or failed
    /// to load (a request that would use it fails, never silently gets nothing). A name with
    /// no component file at all is skipped (and logged), as Spoke skips a handler it cannot
    /// find.
    fn enabled(&self, settings: &CampaignSettings) -> Vec<Enabled> {
        let registry = self.strategies();
        settings
            .strategies
            .iter()
            .filter_map(|name| {
                let Some(entry) = registry.entry(name) else {
                    tracing::warn!(strategy = %name, "enabled strategy has no component; skipped");
                    return None;
                };
                Some(match (&entry.serving, &entry.error) {
                    (Some(component), _) => Enabled::Serving(Arc::new(Sandboxed(Arc::clone(component)))),
                    (None, error) => {
                        let error = error.as_ref().map_or_else(
                            || "it has not loaded".to_string(),
                            |error| load_error_text(&error.to_string(), &entry.file),
                        );
                        Enabled::Failed {
                            name: name.clone(),
                            error,
                        }
                    }
                })
            })
            .collect()
    }

    /// The policy of an enabled strategy, or the error a request that would use a strategy
    /// that failed to load gets (counted in the metrics).
    fn serving(&self, enabled: &Enabled, campaign: i64) -> Result<Arc<dyn Policy>, EngineError> {
        match enabled {
            Enabled::Serving(policy) => Ok(Arc::clone(policy)),
            Enabled::Failed { name, error } => {
                self.metrics.record_unavailable(name);
                Err(EngineError::StrategyUnavailable {
                    strategy: name.clone(),
                    campaign,
                    error: error.clone(),
                })
            }
        }
    }
}

impl Enabled {
    /// The strategy's name.
    fn name(&self) -> &str {
        match self {
            Enabled::Serving(policy) => policy.name(),
            Enabled::Failed { name, .. } => name,
        }
    }
}

/// A load error as a client may read it: the component's file by its name, not its folder.
fn load_error_text(error: &str, file: &std::path::Path) -> String {
    match file.file_name() {
        Some(name) => error.replace(&file.display().to_string(), &name.to_string_lossy()),
        None => error.to_string(),
    }
}

impl Engine {
    fn settings(&self, context: &Context) -> Result<CampaignSettings, EngineError> {
        Ok(CampaignSettings::resolve(
            &context.organization,
            &context.campaign,
            &self.env,
        )?)
    }

    fn scope(
        &self,
        context: &Context,
        settings: &CampaignSettings,
        now: DateTime<Utc>,
    ) -> Result<RequestScope, EngineError> {
        let rules = TimezoneRules::new(
            settings.default_tz.as_deref(),
            settings.dst_reference_tz.as_deref(),
        )?;
        let hours = texting_hours(&context.campaign, &context.organization)?;
        Ok(RequestScope {
            campaign_id: context.campaign.id,
            assignment_id: context.assignment.id,
            offsets: self.offsets.offsets_at(&rules, &hours, now),
        })
    }
}

async fn release<T: Queries>(
    engine: &Engine,
    mut tx: T,
    assignment_id: i64,
    caller: Caller,
    conversations: bool,
) -> Result<u64, EngineError> {
    let context = load_and_authorize(&mut tx, assignment_id, caller, true).await?;
    engine.pass_point_of_no_return()?;
    let released = tx
        .release(
            context.assignment.id,
            context.assignment.campaign_id,
            conversations,
        )
        .await?;
    commit(tx).await?;
    Ok(released)
}

async fn join<T: Queries>(
    engine: &Engine,
    mut tx: T,
    campaign_id: i64,
    user_id: i64,
    join_token: &str,
    now: DateTime<Utc>,
) -> Result<JoinOutcome, EngineError> {
    // Locking the campaign row makes count-then-insert one atomic step per campaign (SQLite's
    // immediate transaction already serializes every writer).
    let campaign = tx
        .campaign(campaign_id, true)
        .await?
        .ok_or(EngineError::InvalidJoin)?;
    let token_matches = campaign
        .join_token
        .as_deref()
        .is_some_and(|expected| same_token(expected, join_token));
    if !token_matches || !campaign.use_dynamic_assignment || !campaign.is_started {
        return Err(EngineError::InvalidJoin);
    }
    // Locking the organization row makes "is the user a member? if not, add them" one step
    // per organization: concurrent joins of one user to two of its campaigns add one
    // membership, not two (Spoke's table has no unique index to lean on).
    let organization = tx
        .organization(campaign.organization_id, true)
        .await?
        .ok_or(EngineError::InvalidJoin)?;
    let settings = CampaignSettings::resolve(&organization, &campaign, &engine.env)?;
    found(tx.user(user_id).await?, "user", user_id)?;
    let role = tx.highest_role(user_id, organization.id).await?;
    if role == Some(Role::Suspended) {
        return Err(EngineError::Forbidden(format!(
            "user {user_id} is suspended in organization {} and cannot join its campaigns",
            organization.id
        )));
    }
    // A texter who already belongs to the campaign gets their assignment back, full or not.
    if let Some(existing) = tx.assignment_of(campaign.id, user_id).await? {
        return Ok(JoinOutcome {
            assignment_id: existing.id,
            created: false,
        });
    }
    if let Some(max) = settings.max_texters_per_campaign
        && tx.assignment_count(campaign.id).await? >= max
    {
        return Err(EngineError::TooManyTexters);
    }
    if role.is_none() && settings.invites_current_users_only {
        return Err(EngineError::InvalidJoin);
    }
    engine.pass_point_of_no_return()?;
    if role.is_none() {
        tx.insert_membership(user_id, organization.id, Role::Texter)
            .await?;
    }
    let assignment_id = tx
        .insert_assignment(campaign.id, user_id, settings.max_contacts_per_texter, now)
        .await?;
    commit(tx).await?;
    Ok(JoinOutcome {
        assignment_id,
        created: true,
    })
}

async fn message_sent<T: Queries>(engine: &Engine, mut tx: T, contact_id: i64) -> Result<bool, EngineError> {
    let contact = found(tx.contact(contact_id).await?, "contact", contact_id)?;
    if contact.assignment_id.is_none() || contact.message_status != MessageStatus::NeedsMessage {
        return Ok(false);
    }
    let (campaign, organization) = campaign_and_organization(&mut tx, contact.campaign_id).await?;
    let settings = CampaignSettings::resolve(&organization, &campaign, &engine.env)?;
    if !settings.outbound_unassign {
        return Ok(false);
    }
    engine.pass_point_of_no_return()?;
    // The update repeats the conditions read above: the contact may have changed since.
    let unassigned = tx.unassign_initial_contact(contact.id).await?;
    commit(tx).await?;
    Ok(unassigned)
}

/// Whether a join token matches the campaign's, in time that depends on neither: the digests
/// are compared, in constant time, so not even the token's length shows.
fn same_token(expected: &str, given: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (expected, given): ([u8; 32], [u8; 32]) =
        (Sha256::digest(expected).into(), Sha256::digest(given).into());
    constant_time_eq::constant_time_eq_32(&expected, &given)
}
