//! `finished-replies`: "After finishing current replies".
//!
//! A texter may request a new batch only once they have answered every reply that is waiting
//! for them in a timezone where texting is allowed now.

wit_bindgen::generate!({
    path: "../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::{any_contact, count_contacts};
use spoke::batches::types::{AssignmentFilter, ContactFilter, MessageStatus, StatusFilter, TimezoneFilter};

struct FinishedReplies;

impl Guest for FinishedReplies {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "After finishing current replies".to_string()
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
        let available_count = if request.has_any {
            u32::from(any_contact(&available))
        } else {
            count_contacts(&available, Some(request.count_cap))
        };

        // Make sure they don't have any replies waiting that they may answer now.
        if available_count > 0 {
            let open_replies = ContactFilter {
                status: StatusFilter::OneOf(vec![MessageStatus::NeedsResponse]),
                assignment: AssignmentFilter::ThisAssignment,
                opted_out: Some(false),
                timezone: TimezoneFilter::ValidNow,
            };
            if any_contact(&open_replies) {
                return Ok(0);
            }
        }
        Ok(available_count)
    }

    fn select_contacts(_request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        Ok(ContactSelection {
            batch_query: None,
            has_current_query: None,
        })
    }
}

export!(FinishedReplies);
