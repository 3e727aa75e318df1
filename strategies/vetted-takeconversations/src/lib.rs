//! `vetted-takeconversations`: "Vetted Texters can take unassigned conversations".
//!
//! Meant as a secondary strategy, for split assignments: one group of texters sends the
//! initial texts (with the outbound-unassign handler releasing each contact as it is texted),
//! and vetted texters then take the conversations that come back. It hands out unassigned
//! contacts that are past their initial text (neither `needsMessage` nor `messaged`).

wit_bindgen::generate!({
    path: "../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::{assignment_user_has_role, count_contacts};
use spoke::batches::types::{
    AssignmentFilter, ContactFilter, ContactQuery, MessageStatus, Role, StatusFilter, TimezoneFilter,
};

/// Unassigned conversations: contacts past their initial text that nobody holds.
fn unassigned_conversations() -> ContactFilter {
    ContactFilter {
        status: StatusFilter::NoneOf(vec![MessageStatus::NeedsMessage, MessageStatus::Messaged]),
        assignment: AssignmentFilter::Unassigned,
        opted_out: Some(false),
        timezone: TimezoneFilter::Any,
    }
}

struct VettedTakeConversations;

impl Guest for VettedTakeConversations {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Vetted Texters can take unassigned conversations".to_string()
    }

    fn request_new_batch_count(request: BatchRequest) -> Result<u32, String> {
        // BASE-LINE CHECKS, deliberately narrower than the usual ones: conversations may be
        // taken whether or not the campaign uses dynamic assignment or has a batch size.
        if request.campaign.is_archived {
            return Ok(0);
        }
        if request.assignment.max_contacts == Some(0) {
            return Ok(0);
        }
        // ACCESS: only vetted texters take conversations.
        if !assignment_user_has_role(Role::VettedTexter) {
            return Ok(0);
        }
        // Spoke counts here even in has-any mode, so the count is kept (capped) in both.
        Ok(count_contacts(
            &unassigned_conversations(),
            Some(request.count_cap),
        ))
    }

    fn select_contacts(_request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        // Take from the unassigned conversations, and count as "current" both the initials and
        // the replies this texter holds.
        let current = ContactFilter {
            status: StatusFilter::OneOf(vec![MessageStatus::NeedsMessage, MessageStatus::NeedsResponse]),
            assignment: AssignmentFilter::ThisAssignment,
            opted_out: Some(false),
            timezone: TimezoneFilter::Any,
        };
        Ok(ContactSelection {
            batch_query: Some(ContactQuery {
                filter: unassigned_conversations(),
                limit: None,
            }),
            has_current_query: Some(current),
        })
    }
}

export!(VettedTakeConversations);
