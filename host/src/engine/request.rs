//! What an engine operation is asked and what it answers: the caller, a batch request and its
//! outcome, a join's outcome, and how a batch request runs (for real, or rolled back to explain).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::policy::Policy;

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
pub(super) struct Run {
    /// Roll back at the end.
    pub(super) dry_run: bool,
    /// Decide with this policy instead of the campaign's strategy.
    pub(super) strategy: Option<Arc<dyn Policy>>,
}

/// The largest `numberContacts` a client may ask for.
pub const MAX_NUMBER_CONTACTS: i64 = 1_000_000;
