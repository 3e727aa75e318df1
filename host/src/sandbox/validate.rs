//! What a strategy sends the host, in the host's version-free types but not yet validated
//! (each WIT version's bindings convert into these), and its validation under the limits: a
//! filter's status lists within bounds, a batch query within the plan and for claimable
//! contacts only.

use std::collections::BTreeSet;

use super::limits::SandboxLimits;
use super::request::BatchPlan;
use crate::filter::{
    AssignmentScope, ContactFilter, ContactQuery, ContactSelection, StatusFilter, TimezoneScope,
};
use crate::model::MessageStatus;

/// A filter as a strategy sent it: its status lists as sent, duplicates and all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UncheckedFilter {
    /// The status condition.
    pub(crate) status: UncheckedStatus,
    /// The assignment condition.
    pub(crate) assignment: AssignmentScope,
    /// The opted-out condition.
    pub(crate) opted_out: Option<bool>,
    /// The timezone condition.
    pub(crate) timezone: TimezoneScope,
}

/// A status condition as sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UncheckedStatus {
    /// Any status.
    Any,
    /// One of these.
    OneOf(Vec<MessageStatus>),
    /// None of these.
    NoneOf(Vec<MessageStatus>),
}

/// A batch query as sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UncheckedQuery {
    /// Which contacts.
    pub(crate) filter: UncheckedFilter,
    /// How many at most.
    pub(crate) limit: Option<u32>,
}

/// The answer of `select-contacts` as sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UncheckedSelection {
    /// The replacement of the batch query, if any.
    pub(crate) batch_query: Option<UncheckedQuery>,
    /// The replacement of the has-current query, if any.
    pub(crate) has_current_query: Option<UncheckedFilter>,
}

fn statuses(list: Vec<MessageStatus>, limits: &SandboxLimits) -> Result<BTreeSet<MessageStatus>, String> {
    if list.len() > limits.max_list_len {
        return Err(format!(
            "a status list has {} entries; the limit is {} (there are only {} statuses)",
            list.len(),
            limits.max_list_len,
            MessageStatus::ALL.len()
        ));
    }
    Ok(list.into_iter().collect())
}

impl UncheckedFilter {
    /// Validates a filter a strategy sent.
    pub(crate) fn check(self, limits: &SandboxLimits) -> Result<ContactFilter, String> {
        let status = match self.status {
            UncheckedStatus::Any => StatusFilter::Any,
            UncheckedStatus::OneOf(list) => StatusFilter::OneOf(statuses(list, limits)?),
            UncheckedStatus::NoneOf(list) => StatusFilter::NoneOf(statuses(list, limits)?),
        };
        Ok(ContactFilter {
            status,
            assignment: self.assignment,
            opted_out: self.opted_out,
            timezone: self.timezone,
        })
    }
}

/// Refuses a batch query that could take contacts a claim never may: another texter's (or this
/// texter's own) or opted-out ones. The claim itself also takes only unassigned contacts that
/// are not opted out ([`ContactFilter::claimable`]); this check tells the strategy's author.
fn claimable_only(filter: &ContactFilter) -> Result<(), String> {
    let assignment = match filter.assignment {
        AssignmentScope::Unassigned => None,
        AssignmentScope::Any => Some("any"),
        AssignmentScope::ThisAssignment => Some("this-assignment"),
    };
    if let Some(assignment) = assignment {
        return Err(format!(
            "the batch query's filter has assignment `{assignment}`; it must be `unassigned`: \
             a batch may only take contacts no texter holds"
        ));
    }
    let opted_out = match filter.opted_out {
        Some(false) => None,
        Some(true) => Some("some(true)"),
        None => Some("none"),
    };
    if let Some(opted_out) = opted_out {
        return Err(format!(
            "the batch query's filter has opted-out `{opted_out}`; it must be `some(false)`: \
             opted-out contacts are never assigned"
        ));
    }
    Ok(())
}

impl UncheckedSelection {
    /// Validates the answer of `select-contacts` against the plan it was given. Every caller
    /// of a strategy's `select-contacts` gets this check: a batch query's limit within the
    /// plan, and a batch query for unassigned contacts that are not opted out (the
    /// has-current filter only reads, so it may ask about any contact of the campaign).
    pub(crate) fn check(self, plan: BatchPlan, limits: &SandboxLimits) -> Result<ContactSelection, String> {
        let batch_query = match self.batch_query {
            None => None,
            Some(query) => {
                if let Some(limit) = query.limit.filter(|&limit| limit > plan.number_contacts) {
                    return Err(format!(
                        "the batch query's limit {limit} is above the plan's number-contacts {}",
                        plan.number_contacts
                    ));
                }
                let filter = query.filter.check(limits)?;
                claimable_only(&filter)?;
                Some(ContactQuery {
                    filter,
                    limit: query.limit,
                })
            }
        };
        let has_current_query = self
            .has_current_query
            .map(|filter| filter.check(limits))
            .transpose()?;
        Ok(ContactSelection {
            batch_query,
            has_current_query,
        })
    }
}
