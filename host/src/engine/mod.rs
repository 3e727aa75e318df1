//! The assignment engine: Spoke's dynamic-assignment operations, each one transaction on
//! Spoke's own tables, with the strategy deciding inside it. This file is the engine's public
//! face: each operation begins its transaction here and runs in the file that owns it.

mod access;
mod ahead;
mod assignments;
mod batch;
mod campaigns;
mod commit_point;
mod decision;
mod error;
mod explain;
mod gate;
mod policy;
mod progress;
mod request;
mod sizing;
mod source;
mod state;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Sqlite};

pub use campaigns::{CampaignOverview, CampaignView};
pub use decision::{
    ClaimOrder, DecisionMode, DecisionPlan, DecisionRequest, MAX_CONTACTS_COUNT, StrategyDecision,
};
pub use error::EngineError;
pub use explain::{Decision, HostCallTime, Trace};
pub use policy::{Finished, NativeSession, Policy, PolicyInstance, PolicySession, Sandboxed, Spent};
pub use progress::{CampaignProgress, PROGRESS_CAMPAIGNS};
pub use request::{AssignmentSummary, BatchOutcome, BatchRequest, Caller, JoinOutcome, MAX_NUMBER_CONTACTS};
pub use state::Engine;

use assignments::{join, message_sent, release};
use batch::{has_unassigned, request_batch};
use campaigns::{campaign_progress, campaign_view, dynamic_campaigns, example_assignment};
use commit_point::{CommitPoint, run_within};
use decision::decide;
use request::Run;

use crate::db::{Database, Dialect, HostIndex};
use crate::sandbox::StrategyComponent;
use crate::traffic::Outcome;

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
        let started = std::time::Instant::now();
        let assignment = request.assignment_id;
        let result = async {
            if let Some(number) = request.number_contacts
                && !(0..=MAX_NUMBER_CONTACTS).contains(&number)
            {
                return Err(EngineError::BadRequest(format!(
                    "numberContacts is {number}; it must be between 0 and {MAX_NUMBER_CONTACTS} (0 means a full batch)"
                )));
            }
            self.look_up_holdings().await?;
            // One transaction that locks the assignment first: requests of one assignment take
            // turns, so `max_contacts` and the has-current rule hold under any concurrency.
            in_transaction!(self, begin_write, request_batch(request, run)).map(|(outcome, _)| outcome)
        }
        .await;
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(outcome) if outcome.found => Outcome::Assigned,
            Ok(_) => Outcome::Nothing,
            Err(error) => error.outcome(),
        };
        self.metrics.record_batch_request(Utc::now(), outcome, elapsed);
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
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
                tracing::warn!(assignment, code = error.code().as_str(), %error, duration_ms, "batch request failed")
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
        self.look_up_holdings().await?;
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
                .await?;
            self.look_up_holdings().await?;
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
                code = error.code().as_str(),
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

    /// Counts the progress (contacts by state, texters) of each of the newest dynamic campaigns
    /// whose last count is older than `max_age` or missing, one campaign at a time, for the
    /// dashboard; returns how many it counted. Each count reads all of a campaign's contacts,
    /// so the service runs this in the background, never for a page.
    pub async fn refresh_progress(&self, max_age: std::time::Duration) -> Result<usize, EngineError> {
        let now = Utc::now();
        let mut counted = 0;
        let campaigns = self.dynamic_campaigns(PROGRESS_CAMPAIGNS).await?;
        let listed: Vec<i64> = campaigns.iter().map(|overview| overview.campaign.id).collect();
        self.progress.keep_only(&listed);
        for overview in campaigns {
            let id = overview.campaign.id;
            let age = |progress: CampaignProgress| (now - progress.counted_at).to_std().unwrap_or_default();
            if self.progress.get(id).map(age).is_some_and(|age| age < max_age) {
                continue;
            }
            let started = std::time::Instant::now();
            let (contacts, texters) = in_transaction!(self, begin_read, campaign_progress(id))?;
            let max_texters = overview
                .settings
                .ok()
                .and_then(|settings| settings.max_texters_per_campaign);
            self.progress.put(
                id,
                CampaignProgress {
                    contacts,
                    texters,
                    max_texters,
                    counted_at: Utc::now(),
                    count_ms: started.elapsed().as_secs_f64() * 1e3,
                },
            );
            counted += 1;
        }
        Ok(counted)
    }

    /// The last count of `campaign_id`'s progress ([`Engine::refresh_progress`]), if any.
    pub fn progress(&self, campaign_id: i64) -> Option<CampaignProgress> {
        self.progress.get(campaign_id)
    }

    /// `(assignment id, its user id)` of a texter in the newest dynamic campaign, for examples.
    pub async fn example_assignment(&self) -> Result<Option<(i64, i64)>, EngineError> {
        in_transaction!(self, begin_read, example_assignment())
    }

    /// Runs `operation` on a copy of this engine, in a task of its own, answering within
    /// `limit`: its answer when it comes in time; [`EngineError::Timeout`] when time runs out
    /// before the operation's first write (it then writes nothing); and when time runs out
    /// after that, its answer whenever it comes, since what it wrote must be told.
    pub async fn within<T, F>(
        &self,
        limit: Duration,
        operation: impl FnOnce(Engine) -> F,
    ) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, EngineError>> + Send + 'static,
    {
        let point = Arc::new(CommitPoint::new(limit));
        let engine = Engine {
            commit_point: Some(Arc::clone(&point)),
            ..self.clone()
        };
        run_within(point, operation(engine)).await
    }
}
