//! `overreach`: a strategy that reaches past what a strategy may, for the engine tests. The
//! campaign title picks how:
//! - `any-contact`: a batch query of any status, assignment and opt-out (other texters'
//!   contacts and opted-out ones included);
//! - `opted-out` / `opted-out-unset`: unassigned contacts that are opted out / of either kind;
//! - `this-assignment`: the texter's own contacts;
//! - `has-current-anything`: the default batch query, with a has-current filter over every
//!   contact of the campaign (allowed: it only reads);
//! - `echo-features`: fails with the organization's and campaign's `features` as it sees them.
//!
//! Any other title behaves like `all-texters` without the base checks.

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

fn anything() -> ContactFilter {
    ContactFilter {
        status: StatusFilter::Any,
        assignment: AssignmentFilter::Any,
        opted_out: None,
        timezone: TimezoneFilter::Any,
    }
}

fn batch(filter: ContactFilter) -> ContactSelection {
    ContactSelection {
        batch_query: Some(ContactQuery { filter, limit: None }),
        has_current_query: None,
    }
}

struct Overreach;

impl Guest for Overreach {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Reaches past what a strategy may (tests only)".to_string()
    }

    fn request_new_batch_count(request: BatchRequest) -> Result<u32, String> {
        if request.campaign.title == "echo-features" {
            return Err(format!(
                "organization features: {}; campaign features: {}",
                request.organization.features,
                request.campaign.features.unwrap_or_default()
            ));
        }
        Ok(count_contacts(&available(), Some(request.count_cap)))
    }

    fn select_contacts(request: BatchRequest, _plan: BatchPlan) -> Result<ContactSelection, String> {
        Ok(match request.campaign.title.as_str() {
            "any-contact" => batch(anything()),
            "opted-out" => batch(ContactFilter {
                opted_out: Some(true),
                ..available()
            }),
            "opted-out-unset" => batch(ContactFilter {
                opted_out: None,
                ..available()
            }),
            "this-assignment" => batch(ContactFilter {
                assignment: AssignmentFilter::ThisAssignment,
                status: StatusFilter::Any,
                ..available()
            }),
            "has-current-anything" => ContactSelection {
                batch_query: None,
                has_current_query: Some(anything()),
            },
            _ => ContactSelection {
                batch_query: None,
                has_current_query: None,
            },
        })
    }
}

export!(Overreach);
