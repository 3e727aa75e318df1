//! `finished-replies-tz`: "After finishing current replies, within Texting Hours". Spoke's
//! default strategy.
//!
//! Like `finished-replies`, and a batch holds only contacts whose timezone is within texting
//! hours now. The count it answers covers all timezones (as in Spoke); only the selection
//! keeps the valid ones.

wit_bindgen::generate!({
    path: "../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::{any_contact, count_contacts};
use spoke::batches::types::{
    AssignmentFilter, ContactFilter, ContactQuery, MessageStatus, StatusFilter, TimezoneFilter,
};

/// Spoke stops handing out initial texts this long after a campaign's `due_by`.
const PAST_DUE_GRACE_SECONDS: i64 = 24 * 60 * 60;

struct FinishedRepliesTz;

impl Guest for FinishedRepliesTz {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "After finishing current replies, within Texting Hours".to_string()
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

    fn select_contacts(request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        // A campaign more than a day past its due date hands out no new initial contacts
        // (Spoke meant this; its code crashes instead).
        let past_due = request
            .campaign
            .due_by
            .is_some_and(|due_by| request.now.seconds > due_by.seconds + PAST_DUE_GRACE_SECONDS);
        let within_texting_hours = ContactFilter {
            status: StatusFilter::OneOf(vec![MessageStatus::NeedsMessage]),
            assignment: AssignmentFilter::Unassigned,
            opted_out: Some(false),
            timezone: TimezoneFilter::ValidNow,
        };
        Ok(ContactSelection {
            batch_query: Some(ContactQuery {
                filter: within_texting_hours,
                limit: past_due.then_some(0),
            }),
            has_current_query: None,
        })
    }
}

export!(FinishedRepliesTz);
