//! Host bindings of the WIT package, one module per released version, and the conversions
//! between the generated types and the host's own. A released version is never edited; a new
//! one gets its own module here.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::limits::SandboxLimits;
use super::request::{BatchPlan, StrategyRequest};
use crate::filter::{
    AssignmentScope, ContactFilter, ContactQuery, ContactSelection, StatusFilter, TimezoneScope,
};
use crate::model::{self, MessageStatus};

/// Bindings of `spoke:batches@0.1.0` (`wit/0.1.0`).
pub(crate) mod v0_1_0 {
    wasmtime::component::bindgen!({
        world: "strategy",
        path: "../wit/0.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });

    impl<T: Send + 'static> StrategyPre<T> {
        /// Like the generated `instantiate_async`, without its check of every export's type.
        /// That check costs a few microseconds per instance (a walk of the `batch-request`
        /// record's type), and its answer is the component's: the same for every instance.
        ///
        /// # Safety
        ///
        /// An instance of this same `StrategyPre` must have been loaded by `instantiate_async`
        /// before (so the check passed): the generated calls convert arguments and results
        /// with the checked types without checking again.
        #[allow(unsafe_code)]
        pub(crate) async unsafe fn instantiate_async_checked_before(
            &self,
            mut store: impl wasmtime::AsContextMut<Data = T>,
        ) -> wasmtime::Result<Strategy> {
            let mut store = store.as_context_mut();
            let instance = self.instance_pre.instantiate_async(&mut store).await?;
            let indices = &self.indices;
            let mut export = |index| {
                instance
                    .get_func(&mut store, index)
                    .ok_or_else(|| wasmtime::format_err!("the instance lacks a checked export"))
            };
            Ok(Strategy {
                name: export(&indices.name)?,
                display_name: export(&indices.display_name)?,
                request_new_batch_count: export(&indices.request_new_batch_count)?,
                select_contacts: export(&indices.select_contacts)?,
            })
        }
    }
}

use v0_1_0::spoke::batches::types as wit;

/// The WIT package version these bindings implement.
pub const WIT_VERSION: &str = "spoke:batches@0.1.0";

fn timestamp(at: DateTime<Utc>) -> wit::Timestamp {
    wit::Timestamp {
        seconds: at.timestamp(),
        nanoseconds: at.timestamp_subsec_nanos(),
    }
}

impl From<&StrategyRequest> for wit::BatchRequest {
    fn from(request: &StrategyRequest) -> Self {
        let organization = &request.organization;
        let campaign = &request.campaign;
        let assignment = &request.assignment;
        wit::BatchRequest {
            organization: wit::Organization {
                id: organization.id,
                name: organization.name.clone(),
                features: organization.features.clone(),
                texting_hours_enforced: organization.texting_hours_enforced,
                texting_hours_start: organization.texting_hours_start,
                texting_hours_end: organization.texting_hours_end,
            },
            campaign: wit::Campaign {
                id: campaign.id,
                organization_id: campaign.organization_id,
                title: campaign.title.clone(),
                is_started: campaign.is_started,
                is_archived: campaign.is_archived,
                use_dynamic_assignment: campaign.use_dynamic_assignment,
                due_by: campaign.due_by.map(timestamp),
                batch_size: campaign.batch_size,
                features: campaign.features.clone(),
                response_window: campaign.response_window,
                override_organization_texting_hours: campaign.override_organization_texting_hours,
                texting_hours_enforced: campaign.texting_hours_enforced,
                texting_hours_start: campaign.texting_hours_start,
                texting_hours_end: campaign.texting_hours_end,
                timezone: campaign.timezone.clone(),
            },
            assignment: wit::Assignment {
                id: assignment.id,
                user_id: assignment.user_id,
                campaign_id: assignment.campaign_id,
                max_contacts: assignment.max_contacts,
            },
            texter: wit::Texter {
                id: request.texter.id,
                first_name: request.texter.first_name.clone(),
                last_name: request.texter.last_name.clone(),
            },
            has_any: request.has_any,
            number_contacts: request.number_contacts,
            count_cap: request.count_cap,
            now: timestamp(request.now),
        }
    }
}

impl From<BatchPlan> for wit::BatchPlan {
    fn from(plan: BatchPlan) -> Self {
        wit::BatchPlan {
            number_contacts: plan.number_contacts,
            contacts_count: plan.contacts_count,
        }
    }
}

impl From<wit::MessageStatus> for MessageStatus {
    fn from(status: wit::MessageStatus) -> Self {
        match status {
            wit::MessageStatus::NeedsMessage => MessageStatus::NeedsMessage,
            wit::MessageStatus::NeedsResponse => MessageStatus::NeedsResponse,
            wit::MessageStatus::Convo => MessageStatus::Convo,
            wit::MessageStatus::Messaged => MessageStatus::Messaged,
            wit::MessageStatus::Closed => MessageStatus::Closed,
            wit::MessageStatus::Updating => MessageStatus::Updating,
        }
    }
}

impl From<wit::Role> for model::Role {
    fn from(role: wit::Role) -> Self {
        match role {
            wit::Role::Suspended => model::Role::Suspended,
            wit::Role::Texter => model::Role::Texter,
            wit::Role::VettedTexter => model::Role::VettedTexter,
            wit::Role::Supervolunteer => model::Role::Supervolunteer,
            wit::Role::Admin => model::Role::Admin,
            wit::Role::Owner => model::Role::Owner,
        }
    }
}

fn statuses(
    list: Vec<wit::MessageStatus>,
    limits: &SandboxLimits,
) -> Result<BTreeSet<MessageStatus>, String> {
    if list.len() > limits.max_list_len {
        return Err(format!(
            "a status list has {} entries; the limit is {} (there are only {} statuses)",
            list.len(),
            limits.max_list_len,
            MessageStatus::ALL.len()
        ));
    }
    Ok(list.into_iter().map(MessageStatus::from).collect())
}

/// Validates a filter a strategy sent.
pub(crate) fn contact_filter(
    filter: wit::ContactFilter,
    limits: &SandboxLimits,
) -> Result<ContactFilter, String> {
    let status = match filter.status {
        wit::StatusFilter::Any => StatusFilter::Any,
        wit::StatusFilter::OneOf(list) => StatusFilter::OneOf(statuses(list, limits)?),
        wit::StatusFilter::NoneOf(list) => StatusFilter::NoneOf(statuses(list, limits)?),
    };
    let assignment = match filter.assignment {
        wit::AssignmentFilter::Any => AssignmentScope::Any,
        wit::AssignmentFilter::Unassigned => AssignmentScope::Unassigned,
        wit::AssignmentFilter::ThisAssignment => AssignmentScope::ThisAssignment,
    };
    let timezone = match filter.timezone {
        wit::TimezoneFilter::Any => TimezoneScope::Any,
        wit::TimezoneFilter::ValidNow => TimezoneScope::ValidNow,
        wit::TimezoneFilter::InvalidNow => TimezoneScope::InvalidNow,
    };
    Ok(ContactFilter {
        status,
        assignment,
        opted_out: filter.opted_out,
        timezone,
    })
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

/// Validates the answer of `select-contacts` against the plan it was given. Every caller of a
/// strategy's `select-contacts` gets this check: a batch query's limit within the plan, and a
/// batch query for unassigned contacts that are not opted out (the has-current filter only
/// reads, so it may ask about any contact of the campaign).
pub(crate) fn contact_selection(
    selection: wit::ContactSelection,
    plan: BatchPlan,
    limits: &SandboxLimits,
) -> Result<ContactSelection, String> {
    let batch_query = match selection.batch_query {
        None => None,
        Some(query) => {
            if let Some(limit) = query.limit.filter(|&limit| limit > plan.number_contacts) {
                return Err(format!(
                    "the batch query's limit {limit} is above the plan's number-contacts {}",
                    plan.number_contacts
                ));
            }
            let filter = contact_filter(query.filter, limits)?;
            claimable_only(&filter)?;
            Some(ContactQuery {
                filter,
                limit: query.limit,
            })
        }
    };
    let has_current_query = selection
        .has_current_query
        .map(|filter| contact_filter(filter, limits))
        .transpose()?;
    Ok(ContactSelection {
        batch_query,
        has_current_query,
    })
}
