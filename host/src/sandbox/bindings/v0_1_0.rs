//! The bindings of `spoke:batches@0.1.0` (`wit/0.1.0`, never edited): the generated types and
//! pre-instance, the conversions between its types and the host's version-free ones, and its
//! host interface implemented by forwarding to the version-free host functions (`host.rs`).

use chrono::{DateTime, Utc};
use semver::Version;

use super::super::host;
// The world re-exports its types (`BatchPlan` among them) at this module's root.
use super::super::request::{BatchPlan as HostBatchPlan, StrategyRequest};
use super::super::state::CallState;
use super::super::validate::{UncheckedFilter, UncheckedQuery, UncheckedSelection, UncheckedStatus};
use crate::filter::{AssignmentScope, TimezoneScope};
use crate::model::{self, MessageStatus};

wasmtime::component::bindgen!({
    world: "strategy",
    path: "../wit/0.1.0",
    imports: { default: async | trappable },
    exports: { default: async },
});

use spoke::batches::{host as wit_host, types as wit};

/// The package version these bindings implement.
pub(crate) const VERSION: Version = Version::new(0, 1, 0);

/// The package with its version, as errors and reports name it.
pub(crate) const PACKAGE: &str = "spoke:batches@0.1.0";

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

/// Links this version's host interface, answered by [`CallState`].
pub(crate) fn add_to_linker(linker: &mut wasmtime::component::Linker<CallState>) -> wasmtime::Result<()> {
    Strategy::add_to_linker::<CallState, wasmtime::component::HasSelf<CallState>>(linker, |state| state)
}

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

impl From<HostBatchPlan> for wit::BatchPlan {
    fn from(plan: HostBatchPlan) -> Self {
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

fn statuses(list: Vec<wit::MessageStatus>) -> Vec<MessageStatus> {
    // Both are one-byte enums: the vector is converted in place.
    list.into_iter().map(MessageStatus::from).collect()
}

impl From<wit::ContactFilter> for UncheckedFilter {
    fn from(filter: wit::ContactFilter) -> Self {
        UncheckedFilter {
            status: match filter.status {
                wit::StatusFilter::Any => UncheckedStatus::Any,
                wit::StatusFilter::OneOf(list) => UncheckedStatus::OneOf(statuses(list)),
                wit::StatusFilter::NoneOf(list) => UncheckedStatus::NoneOf(statuses(list)),
            },
            assignment: match filter.assignment {
                wit::AssignmentFilter::Any => AssignmentScope::Any,
                wit::AssignmentFilter::Unassigned => AssignmentScope::Unassigned,
                wit::AssignmentFilter::ThisAssignment => AssignmentScope::ThisAssignment,
            },
            opted_out: filter.opted_out,
            timezone: match filter.timezone {
                wit::TimezoneFilter::Any => TimezoneScope::Any,
                wit::TimezoneFilter::ValidNow => TimezoneScope::ValidNow,
                wit::TimezoneFilter::InvalidNow => TimezoneScope::InvalidNow,
            },
        }
    }
}

impl From<wit::ContactSelection> for UncheckedSelection {
    fn from(selection: wit::ContactSelection) -> Self {
        UncheckedSelection {
            batch_query: selection.batch_query.map(|query| UncheckedQuery {
                filter: query.filter.into(),
                limit: query.limit,
            }),
            has_current_query: selection.has_current_query.map(UncheckedFilter::from),
        }
    }
}

fn level(level: wit::LogLevel) -> &'static str {
    match level {
        wit::LogLevel::Debug => "debug",
        wit::LogLevel::Info => "info",
        wit::LogLevel::Warn => "warn",
        wit::LogLevel::Error => "error",
    }
}

impl wit::Host for CallState {}

impl wit_host::Host for CallState {
    async fn count_contacts(
        &mut self,
        filter: wit::ContactFilter,
        cap: Option<u32>,
    ) -> wasmtime::Result<u32> {
        host::count_contacts(self, filter.into(), cap).await
    }

    async fn any_contact(&mut self, filter: wit::ContactFilter) -> wasmtime::Result<bool> {
        host::any_contact(self, filter.into()).await
    }

    async fn assignment_user_has_role(&mut self, role: wit::Role) -> wasmtime::Result<bool> {
        host::assignment_user_has_role(self, role.into()).await
    }

    async fn log(&mut self, level: wit::LogLevel, message: String) -> wasmtime::Result<()> {
        host::log(self, self::level(level), message)
    }
}
