//! Query descriptors as validated Rust values: the typed filters a strategy returns (or asks the
//! host about), confined to one request's campaign, and their plain in-memory meaning.
//!
//! The SQL compiler turns these into queries; [`ContactFilter::matches`] is the reference
//! semantics those queries must agree with.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use crate::model::{CampaignContact, MessageStatus};

/// A condition on `message_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "statuses")]
pub enum StatusFilter {
    /// Any status.
    Any,
    /// `message_status IN (...)`; empty matches nothing.
    OneOf(BTreeSet<MessageStatus>),
    /// `message_status NOT IN (...)`; empty matches everything.
    NoneOf(BTreeSet<MessageStatus>),
}

/// A condition on `assignment_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AssignmentScope {
    /// Assigned or not.
    Any,
    /// `assignment_id IS NULL`.
    Unassigned,
    /// `assignment_id` = the request's assignment.
    ThisAssignment,
}

/// A condition on the contact's timezone at the request's `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TimezoneScope {
    /// Any timezone.
    Any,
    /// Within texting hours now.
    ValidNow,
    /// Outside texting hours now.
    InvalidNow,
}

/// A typed filter over one campaign's `campaign_contact` rows; all conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactFilter {
    /// Condition on `message_status`.
    pub status: StatusFilter,
    /// Condition on `assignment_id`.
    pub assignment: AssignmentScope,
    /// `Some(b)`: `is_opted_out = b`.
    pub opted_out: Option<bool>,
    /// Condition on `timezone_offset`.
    pub timezone: TimezoneScope,
}

impl ContactFilter {
    /// Spoke's "available" contacts: unassigned, `needsMessage`, not opted out. The default
    /// batch query.
    pub fn available() -> Self {
        ContactFilter {
            status: StatusFilter::OneOf([MessageStatus::NeedsMessage].into()),
            assignment: AssignmentScope::Unassigned,
            opted_out: Some(false),
            timezone: TimezoneScope::Any,
        }
    }

    /// Spoke's default "has current" query: this assignment's `needsMessage` contacts that
    /// are not opted out.
    pub fn current_initials() -> Self {
        ContactFilter {
            status: StatusFilter::OneOf([MessageStatus::NeedsMessage].into()),
            assignment: AssignmentScope::ThisAssignment,
            opted_out: Some(false),
            timezone: TimezoneScope::Any,
        }
    }

    /// The contacts a claim may take of those this filter selects: the same conditions, and
    /// always unassigned and not opted out, whatever the filter says. The claim compiles this
    /// instead of the strategy's filter, so a strategy can never take another texter's contact
    /// or an opted-out one, even past the validation of its batch query.
    pub fn claimable(&self) -> ContactFilter {
        ContactFilter {
            assignment: AssignmentScope::Unassigned,
            opted_out: Some(false),
            ..self.clone()
        }
    }

    /// Whether `contact` matches this filter within `scope`. This is the reference meaning
    /// of a descriptor; the SQL compiled from it must select exactly these rows.
    pub fn matches(&self, contact: &CampaignContact, scope: &RequestScope) -> bool {
        let status = match &self.status {
            StatusFilter::Any => true,
            StatusFilter::OneOf(set) => set.contains(&contact.message_status),
            StatusFilter::NoneOf(set) => !set.contains(&contact.message_status),
        };
        let assignment = match self.assignment {
            AssignmentScope::Any => true,
            AssignmentScope::Unassigned => contact.assignment_id.is_none(),
            AssignmentScope::ThisAssignment => contact.assignment_id == Some(scope.assignment_id),
        };
        let opted_out = self.opted_out.is_none_or(|b| contact.is_opted_out == b);
        let timezone = match scope.offsets.condition(self.timezone) {
            OffsetCondition::All => true,
            OffsetCondition::Nothing => false,
            OffsetCondition::OneOf(offsets) => offsets.contains(&contact.timezone_offset),
        };
        contact.campaign_id == scope.campaign_id && status && assignment && opted_out && timezone
    }
}

/// The `timezone_offset` values that are within (valid) and outside (invalid) texting hours at
/// the request's `now`. As in Spoke, an offset may be in neither list (Spoke only considers a
/// fixed set of offsets), and then it matches neither `valid-now` nor `invalid-now`, except
/// when one list is empty: then every offset, listed or not, is on the other side (texting
/// hours not enforced make every contact valid, as in Spoke, and no query needs to test the
/// column at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TimezoneOffsets {
    /// Offsets within texting hours now.
    pub valid: BTreeSet<String>,
    /// Offsets outside texting hours now.
    pub invalid: BTreeSet<String>,
}

/// Which `timezone_offset` values a [`TimezoneScope`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetCondition<'a> {
    /// Every value (no condition on the column).
    All,
    /// No value.
    Nothing,
    /// These values only.
    OneOf(&'a BTreeSet<String>),
}

impl TimezoneOffsets {
    /// The offsets `timezone` accepts now.
    pub fn condition(&self, timezone: TimezoneScope) -> OffsetCondition<'_> {
        let (wanted, others) = match timezone {
            TimezoneScope::Any => return OffsetCondition::All,
            TimezoneScope::ValidNow => (&self.valid, &self.invalid),
            TimezoneScope::InvalidNow => (&self.invalid, &self.valid),
        };
        if others.is_empty() {
            OffsetCondition::All
        } else if wanted.is_empty() {
            OffsetCondition::Nothing
        } else {
            OffsetCondition::OneOf(wanted)
        }
    }
}

/// What confines every query of one request: its campaign, its assignment and the timezone
/// offsets valid at its `now`. The host, never the strategy, sets these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestScope {
    /// The request's campaign; every query has `campaign_id = campaign_id`.
    pub campaign_id: i64,
    /// The request's assignment, for [`AssignmentScope::ThisAssignment`].
    pub assignment_id: i64,
    /// The timezone offsets valid and invalid now (shared: every request of a minute has the
    /// same).
    pub offsets: Arc<TimezoneOffsets>,
}

/// Which contacts to assign: a filter and an optional limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactQuery {
    /// The contacts that may be assigned.
    pub filter: ContactFilter,
    /// At most this many; `None` means the plan's batch size.
    pub limit: Option<u32>,
}

/// A strategy's replacements for the default queries of a batch request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactSelection {
    /// Replaces the default batch query when set.
    pub batch_query: Option<ContactQuery>,
    /// Replaces the default "has current" filter when set.
    pub has_current_query: Option<ContactFilter>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(assignment_id: Option<i64>, status: MessageStatus, offset: &str) -> CampaignContact {
        CampaignContact {
            id: 1,
            campaign_id: 7,
            assignment_id,
            message_status: status,
            is_opted_out: false,
            timezone_offset: offset.to_string(),
        }
    }

    fn scope() -> RequestScope {
        RequestScope {
            campaign_id: 7,
            assignment_id: 3,
            offsets: TimezoneOffsets {
                valid: ["-5_1".to_string()].into(),
                invalid: ["-8_1".to_string()].into(),
            }
            .into(),
        }
    }

    #[test]
    fn an_empty_side_puts_every_offset_on_the_other() {
        let unlisted = contact(None, MessageStatus::NeedsMessage, "-3_0");
        let mut filter = ContactFilter::available();
        let mut scope = scope();
        // Texting hours not enforced: nothing is invalid, so everything is valid.
        Arc::make_mut(&mut scope.offsets).invalid.clear();
        filter.timezone = TimezoneScope::ValidNow;
        assert_eq!(
            scope.offsets.condition(TimezoneScope::ValidNow),
            OffsetCondition::All
        );
        assert!(filter.matches(&unlisted, &scope));
        filter.timezone = TimezoneScope::InvalidNow;
        assert_eq!(
            scope.offsets.condition(TimezoneScope::InvalidNow),
            OffsetCondition::Nothing
        );
        assert!(!filter.matches(&unlisted, &scope));
        // Night everywhere: nothing is valid.
        let offsets = Arc::make_mut(&mut scope.offsets);
        offsets.invalid = std::mem::take(&mut offsets.valid);
        assert!(filter.matches(&unlisted, &scope));
        filter.timezone = TimezoneScope::ValidNow;
        assert!(!filter.matches(&contact(None, MessageStatus::NeedsMessage, "-5_1"), &scope));
    }

    #[test]
    fn available_means_unassigned_needs_message_not_opted_out() {
        let available = ContactFilter::available();
        assert!(available.matches(&contact(None, MessageStatus::NeedsMessage, ""), &scope()));
        assert!(!available.matches(&contact(Some(3), MessageStatus::NeedsMessage, ""), &scope()));
        assert!(!available.matches(&contact(None, MessageStatus::Messaged, ""), &scope()));
        let mut opted_out = contact(None, MessageStatus::NeedsMessage, "");
        opted_out.is_opted_out = true;
        assert!(!available.matches(&opted_out, &scope()));
    }

    #[test]
    fn a_claim_takes_only_unassigned_contacts_not_opted_out() {
        let anything = ContactFilter {
            status: StatusFilter::Any,
            assignment: AssignmentScope::Any,
            opted_out: None,
            timezone: TimezoneScope::Any,
        };
        let claimable = anything.claimable();
        assert_eq!(claimable.assignment, AssignmentScope::Unassigned);
        assert_eq!(claimable.opted_out, Some(false));
        let mut opted_out = contact(None, MessageStatus::Messaged, "");
        opted_out.is_opted_out = true;
        assert!(anything.matches(&opted_out, &scope()));
        assert!(!claimable.matches(&opted_out, &scope()));
        let held = contact(Some(4), MessageStatus::Messaged, "");
        assert!(anything.matches(&held, &scope()));
        assert!(!claimable.matches(&held, &scope()));
        assert!(claimable.matches(&contact(None, MessageStatus::Convo, ""), &scope()));
        assert_eq!(ContactFilter::available().claimable(), ContactFilter::available());
    }

    #[test]
    fn another_campaign_never_matches() {
        let mut other = contact(None, MessageStatus::NeedsMessage, "");
        other.campaign_id = 8;
        let anything = ContactFilter {
            status: StatusFilter::Any,
            assignment: AssignmentScope::Any,
            opted_out: None,
            timezone: TimezoneScope::Any,
        };
        assert!(!anything.matches(&other, &scope()));
    }

    #[test]
    fn offsets_outside_both_lists_match_neither_timezone_condition() {
        let mut filter = ContactFilter::available();
        filter.timezone = TimezoneScope::ValidNow;
        let unknown = contact(None, MessageStatus::NeedsMessage, "-3_0");
        assert!(!filter.matches(&unknown, &scope()));
        filter.timezone = TimezoneScope::InvalidNow;
        assert!(!filter.matches(&unknown, &scope()));
        assert!(filter.matches(&contact(None, MessageStatus::NeedsMessage, "-8_1"), &scope()));
    }

    #[test]
    fn empty_status_lists_match_nothing_or_everything() {
        let mut filter = ContactFilter::available();
        filter.status = StatusFilter::OneOf(BTreeSet::new());
        assert!(!filter.matches(&contact(None, MessageStatus::NeedsMessage, ""), &scope()));
        filter.status = StatusFilter::NoneOf(BTreeSet::new());
        assert!(filter.matches(&contact(None, MessageStatus::Closed, ""), &scope()));
    }
}
