//! `vetted-texters`: "Vetted Texters can request a new batch".
//!
//! A texter who is not vetted gets exactly one batch; a vetted texter (VETTED_TEXTER or a higher
//! role in the campaign's organization) may keep requesting batches while contacts remain.
//!
//! This crate is the template for new strategies. Copy it with
//! `cp -rp strategies/vetted-texters strategies/NEW`, set `name = "NEW"` in its Cargo.toml, edit
//! this file and run `make strategies`. See strategies/README.md for the whole contract.

wit_bindgen::generate!({
    path: "../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::{any_contact, assignment_user_has_role, count_contacts};
use spoke::batches::types::{
    AssignmentFilter, ContactFilter, MessageStatus, Role, StatusFilter, TimezoneFilter,
};

struct VettedTexters;

impl Guest for VettedTexters {
    /// The package name from Cargo.toml, so that renaming the package is the only rename a copy
    /// of this template needs.
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Vetted Texters can request a new batch".to_string()
    }

    fn request_new_batch_count(request: BatchRequest) -> Result<u32, String> {
        let campaign = &request.campaign;
        let assignment = &request.assignment;

        // START WITH SOME BASE-LINE THINGS EVERY POLICY SHOULD HAVE.
        // A strategy owns ALL restrictions, even the obvious ones: keep these checks in every
        // strategy unless it deliberately makes an exception to them.
        if !campaign.use_dynamic_assignment || campaign.is_archived {
            return Ok(0);
        }
        if assignment.max_contacts == Some(0) || campaign.batch_size.unwrap_or(0) == 0 {
            return Ok(0);
        }
        // END OF THE BASE-LINE CHECKS.

        // ACCESS: a texter who is not vetted gets one batch only, so refuse them as soon as
        // their assignment holds any contact of this campaign. The role checked is the one of
        // the assignment's owner, not of whoever made the request.
        if !assignment_user_has_role(Role::VettedTexter) {
            let any_previous = ContactFilter {
                status: StatusFilter::Any,
                assignment: AssignmentFilter::ThisAssignment,
                opted_out: None,
                timezone: TimezoneFilter::Any,
            };
            if any_contact(&any_previous) {
                return Ok(0);
            }
        }

        // The contacts a new batch is drawn from: unassigned, not yet texted, not opted out.
        let available = ContactFilter {
            status: StatusFilter::OneOf(vec![MessageStatus::NeedsMessage]),
            assignment: AssignmentFilter::Unassigned,
            opted_out: Some(false),
            timezone: TimezoneFilter::Any,
        };
        if request.has_any {
            return Ok(u32::from(any_contact(&available)));
        }
        // The host hands out at most `count_cap` contacts, so counting further is wasted work.
        Ok(count_contacts(&available, Some(request.count_cap)))
    }

    fn select_contacts(_request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        // Keep the host's default queries: a batch of unassigned needsMessage contacts that are
        // not opted out, and "has current" = this assignment's needsMessage contacts.
        Ok(ContactSelection {
            batch_query: None,
            has_current_query: None,
        })
    }
}

export!(VettedTexters);
