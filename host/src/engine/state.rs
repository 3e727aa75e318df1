//! The engine value every operation reads (the database, the strategies served, Spoke's
//! environment, the claim gates and caches, the metrics, the operation's point of no return),
//! and the steps every operation shares: its strategies, its campaign's settings and scope.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::access::Context;
use super::ahead::QuestionMemory;
use super::commit_point::CommitPoint;
use super::error::EngineError;
use super::gate::ClaimGates;
use super::policy::{Policy, Sandboxed};
use super::progress::ProgressBoard;
use crate::db::Database;
use crate::filter::RequestScope;
use crate::metrics::Metrics;
use crate::registry::{SharedRegistry, StrategyRegistry};
use crate::spoke_config::{CampaignSettings, Environment};
use crate::timezones::{OffsetsCache, TimezoneRules, texting_hours};

/// The engine: the database, the strategies and the environment.
#[derive(Clone)]
pub struct Engine {
    pub(super) db: Database,
    pub(super) registry: SharedRegistry,
    pub(super) env: Arc<Environment>,
    pub(super) gates: Arc<ClaimGates>,
    pub(super) offsets: Arc<OffsetsCache>,
    pub(super) question_memory: Arc<QuestionMemory>,
    /// Whether `campaign_contact_claim_index` exists: looked up once (by `serve` at start, else
    /// by the first decision), not per request.
    pub(super) claim_index: Arc<tokio::sync::OnceCell<bool>>,
    /// Whether the holdings table and its triggers exist (`db/holdings.rs`), looked up the
    /// same way: with them a request reads the texter's count of contacts, without them it
    /// counts.
    pub(super) holdings: Arc<tokio::sync::OnceCell<bool>>,
    pub(super) metrics: Arc<Metrics>,
    /// The dashboard's progress counts, taken in the background.
    pub(super) progress: Arc<ProgressBoard>,
    /// The point of no return of the one operation this copy runs ([`Engine::within`]).
    pub(super) commit_point: Option<Arc<CommitPoint>>,
}

/// An enabled strategy of a campaign, as the registry has it.
pub(super) enum Enabled {
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

impl Engine {
    /// An engine on `db` serving the strategies of `registry`.
    pub fn new(db: Database, registry: SharedRegistry, env: Environment) -> Self {
        Engine {
            db,
            registry,
            env: Arc::new(env),
            gates: Arc::new(ClaimGates::new()),
            offsets: Arc::new(OffsetsCache::default()),
            question_memory: Arc::new(QuestionMemory::default()),
            claim_index: Arc::new(tokio::sync::OnceCell::new()),
            holdings: Arc::new(tokio::sync::OnceCell::new()),
            metrics: Arc::new(Metrics::default()),
            progress: Arc::new(ProgressBoard::default()),
            commit_point: None,
        }
    }

    /// Tells the engine whether the database has the claim index (`serve` checks at start),
    /// so no decision has to ask; a later call changes nothing.
    pub fn know_claim_index(&self, present: bool) {
        let _ = self.claim_index.set(present);
    }

    /// Tells the engine whether the database keeps each assignment's count of contacts
    /// (`serve` checks at start), so no request has to ask; a later call changes nothing.
    pub fn know_holdings(&self, present: bool) {
        let _ = self.holdings.set(present);
    }

    /// Looks up, once, whether the holdings table and its triggers exist. Every operation that
    /// reads a texter's count of contacts calls it before its transaction begins: the lookup
    /// takes a connection of its own, and an operation holding SQLite's write lock while it
    /// waits for one would wait for the operations waiting for that lock.
    pub(super) async fn look_up_holdings(&self) -> Result<(), EngineError> {
        self.holdings.get_or_try_init(|| self.db.has_holdings()).await?;
        Ok(())
    }

    /// Whether the holdings table keeps the texters' counts ([`Engine::look_up_holdings`];
    /// not looked up yet, the count is counted, which is always right).
    pub(super) fn known_holdings(&self) -> bool {
        self.holdings.get().copied().unwrap_or(false)
    }

    /// The engine counting into `metrics` (the service's, which `/metrics` shows) instead of
    /// metrics of its own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// What the engine counts (the service's metrics, when it serves).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The strategies served now.
    pub fn strategies(&self) -> Arc<StrategyRegistry> {
        self.registry.current()
    }

    /// The enabled strategies of a campaign, the default first: each one serving, or failed
    /// to load (a request that would use it fails, never silently gets nothing). A name with
    /// no component file at all is skipped (and logged), as Spoke skips a handler it cannot
    /// find.
    pub(super) fn enabled(&self, settings: &CampaignSettings) -> Vec<Enabled> {
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
    pub(super) fn serving(&self, enabled: &Enabled, campaign: i64) -> Result<Arc<dyn Policy>, EngineError> {
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
    pub(super) fn name(&self) -> &str {
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
    pub(super) fn settings(&self, context: &Context) -> Result<CampaignSettings, EngineError> {
        Ok(CampaignSettings::resolve(
            &context.organization,
            &context.campaign,
            &self.env,
        )?)
    }

    pub(super) fn scope(
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

    /// Passes this operation's point of no return, right before its first write; refuses when
    /// its caller already gave up. An operation run without [`Engine::within`] always passes.
    pub(super) fn pass_point_of_no_return(&self) -> Result<(), EngineError> {
        self.commit_point.as_ref().map_or(Ok(()), |point| point.pass())
    }

    /// Stops an operation whose caller already gave up (before it runs a strategy, say), so
    /// abandoned work ends early; the point of no return is what makes that safe, this only
    /// saves the work.
    pub(super) fn stop_if_abandoned(&self) -> Result<(), EngineError> {
        self.commit_point
            .as_ref()
            .map_or(Ok(()), |point| point.stop_if_abandoned())
    }
}
