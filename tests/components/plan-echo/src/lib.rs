//! `plan-echo`: counts like `all-texters` without the base checks, and selects with a batch
//! limit of `number-contacts - contacts-count` of the plan it was given, so a test reads both
//! fields of that plan from the selection.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::count_contacts;
use spoke::batches::types::{
    AssignmentFilter, ContactFilter, ContactQuery, MessageStatus, StatusFilter, TimezoneFilter,
};

fn available() -> ContactFilter {
    ContactFilter {
        status: StatusFilter::OneOf(vec![MessageStatus::NeedsMessage]),
        assignment: AssignmentFilter::Unassigned,
        opted_out: Some(false),
        timezone: TimezoneFilter::Any,
    }
}

struct PlanEcho;

impl Guest for PlanEcho {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Echoes its plan (tests only)".to_string()
    }

    fn request_new_batch_count(request: BatchRequest) -> Result<u32, String> {
        Ok(count_contacts(&available(), Some(request.count_cap)))
    }

    fn select_contacts(_request: BatchRequest, plan: BatchPlan) -> Result<ContactSelection, String> {
        Ok(ContactSelection {
            batch_query: Some(ContactQuery {
                filter: available(),
                limit: Some(plan.number_contacts.saturating_sub(plan.contacts_count)),
            }),
            has_current_query: None,
        })
    }
}

export!(PlanEcho);
