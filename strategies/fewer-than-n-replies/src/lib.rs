//! `fewer-than-n-replies`: "Fewer than N replies waiting". Beyond Spoke's five: a texter may
//! request a new batch only while fewer than N of their conversations wait for a reply
//! (`needsResponse`, not opted out, in any timezone). N comes from the campaign's features JSON
//! key `FEWER_THAN_N_REPLIES` (a whole number, at least 1), default 3.
//!
//! A worked example of a configurable policy: it keeps the base checks of the template and
//! reads its own setting from `campaign.features`.

wit_bindgen::generate!({
    path: "../../wit/0.1.0",
    world: "strategy",
});

use spoke::batches::host::{any_contact, count_contacts};
use spoke::batches::types::{AssignmentFilter, ContactFilter, MessageStatus, StatusFilter, TimezoneFilter};

/// The campaign features key holding N.
const SETTING: &str = "FEWER_THAN_N_REPLIES";
/// N when the campaign does not set it.
const DEFAULT_N: u32 = 3;

/// N from the campaign's features, or why it cannot be read.
fn replies_allowed(features: Option<&str>) -> Result<u32, String> {
    let Some(text) = features.filter(|text| !text.trim().is_empty()) else {
        return Ok(DEFAULT_N);
    };
    let features: serde_json::Value = serde_json::from_str(text)
        .map_err(|error| format!("campaign features are not valid JSON: {error}"))?;
    match features.get(SETTING) {
        None | Some(serde_json::Value::Null) => Ok(DEFAULT_N),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                format!("campaign features: {SETTING} is {value}; it must be a whole number, at least 1")
            }),
    }
}

struct FewerThanNReplies;

impl Guest for FewerThanNReplies {
    fn name() -> String {
        env!("CARGO_PKG_NAME").to_string()
    }

    fn display_name() -> String {
        "Fewer than N replies waiting".to_string()
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

        // THIS POLICY: fewer than N replies waiting.
        let n = replies_allowed(campaign.features.as_deref())?;
        let waiting = ContactFilter {
            status: StatusFilter::OneOf(vec![MessageStatus::NeedsResponse]),
            assignment: AssignmentFilter::ThisAssignment,
            opted_out: Some(false),
            timezone: TimezoneFilter::Any,
        };
        // Counting stops at N: only "are there N yet?" matters.
        if count_contacts(&waiting, Some(n)) >= n {
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

export!(FewerThanNReplies);
