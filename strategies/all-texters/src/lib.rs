//! `all-texters`: "Everyone can request a new batch".
//!
//! No requirement beyond the base checks: any texter in the campaign may request batches while
//! unassigned contacts remain.

wit_bindgen::generate!({
    path: "../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::{any_contact, count_contacts};
use spoke::batches::types::{AssignmentFilter, ContactFilter, MessageStatus, StatusFilter, TimezoneFilter};

struct AllTexters;

impl Guest for AllTexters {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Everyone can request a new batch".to_string()
    }

    fn request_new_batch_count(request: BatchRequest) -> Result<u32, String> {
        let campaign = &request.campaign;
        // START WITH SOME BASE-LINE THINGS EVERY POLICY SHOULD HAVE
        if !campaign.use_dynamic_assignment || campaign.is_archived {
            return Ok(0);
        }
        if request.assignment.max_contacts == Some(0) || campaign.batch_size.unwrap_or(0) == 0 {
            return Ok(0);
        }

        let available = ContactFilter {
            status: StatusFilter::OneOf(vec![MessageStatus::NeedsMessage]),
            assignment: AssignmentFilter::Unassigned,
            opted_out: Some(false),
            timezone: TimezoneFilter::Any,
        };
        if request.has_any {
            return Ok(u32::from(any_contact(&available)));
        }
        Ok(count_contacts(&available, Some(request.count_cap)))
    }

    fn select_contacts(_request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        Ok(ContactSelection {
            batch_query: None,
            has_current_query: None,
        })
    }
}

export!(AllTexters);
