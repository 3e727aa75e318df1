//! A second version of `all-texters` (tests only): installed as `all-texters.wasm` it replaces
//! the shipped one on hot reload. It hands out at most one contact per request.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::count_contacts;
use spoke::batches::types::{AssignmentFilter, ContactFilter, MessageStatus, StatusFilter, TimezoneFilter};

struct NextVersion;

impl Guest for NextVersion {
    fn name() -> String {
        // Deliberately not the package name: this component stands in for all-texters.
        "all-texters".to_string()
    }

    fn display_name() -> String {
        "Everyone can request a new batch (version 2)".to_string()
    }

    fn request_new_batch_count(request: BatchRequest) -> Result<u32, String> {
        if !request.campaign.use_dynamic_assignment || request.campaign.is_archived {
            return Ok(0);
        }
        let available = ContactFilter {
            status: StatusFilter::OneOf(vec![MessageStatus::NeedsMessage]),
            assignment: AssignmentFilter::Unassigned,
            opted_out: Some(false),
            timezone: TimezoneFilter::Any,
        };
        Ok(count_contacts(&available, Some(1)))
    }

    fn select_contacts(_request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        Ok(ContactSelection {
            batch_query: None,
            has_current_query: None,
        })
    }
}

export!(NextVersion);
