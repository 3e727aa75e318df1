//! The inputs of a strategy call, in the host's own types.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Assignment, Campaign, Organization, User};

/// Everything a strategy is told about one request (the WIT `batch-request`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyRequest {
    /// The campaign's organization.
    pub organization: Organization,
    /// The campaign.
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

/// What the host decided after `request-new-batch-count` (the WIT `batch-plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPlan {
    /// How many contacts will be assigned at most.
    pub number_contacts: u32,
    /// How many contacts the assignment already holds.
    pub contacts_count: u32,
}
