//! The inputs of a strategy call, in the host's own types.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Assignment, Campaign, Organization, User};
use crate::spoke_config::strategy_features;

/// Everything a strategy is told about one request (the WIT `batch-request`). Built from the
/// database's rows, it goes through [`StrategyRequest::without_secrets`] first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyRequest {
    /// The campaign's organization (its `features` without secret-looking keys).
    pub organization: Organization,
    /// The campaign (its `features` without secret-looking keys).
    pub campaign: Campaign,
    /// The assignment asking for contacts.
    pub assignment: Assignment,
    /// Who asked (the assignment's user, or an administrator acting for them).
    pub texter: User,
    /// Only "is there at least one?" is wanted.
    pub has_any: bool,
    /// How many contacts the texter asked for, if they said.
    pub number_contacts: Option<u32>,
    /// The most this request can hand out whatever the strategy says.
    pub count_cap: u32,
    /// The request's time; the only clock a strategy sees.
    pub now: DateTime<Utc>,
}

impl StrategyRequest {
    /// The request with the organization's and the campaign's `features` stripped of every
    /// secret-looking key ([`crate::spoke_config::is_secret_key`]): Spoke keeps credentials there,
    /// and a sandboxed strategy could hand them back in an error message or a log line.
    pub fn without_secrets(mut self) -> Self {
        self.organization.features = strategy_features(&self.organization.features);
        self.campaign.features = self.campaign.features.as_deref().map(strategy_features);
        self
    }
}

/// What the host decided after `request-new-batch-count` (the WIT `batch-plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPlan {
    /// How many contacts will be assigned at most.
    pub number_contacts: u32,
    /// How many contacts the assignment already holds.
    pub contacts_count: u32,
}
