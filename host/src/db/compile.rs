//! The one compiler from query descriptors to SQL, for both dialects: every value is a bind
//! (`push_bind`), every identifier comes from the fixed list below, and every condition starts
//! with the request's `campaign_id`.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::dialect::Dialect;
use crate::filter::{AssignmentScope, ContactFilter, OffsetCondition, RequestScope, StatusFilter};
use crate::model::Role;
use crate::question::{Question, QuestionScope};

/// Appends ` WHERE <conditions>` selecting the rows of `campaign_contact` that match `filter`
/// within `scope`.
pub fn push_where<'a, DB>(query: &mut QueryBuilder<'a, DB>, filter: &ContactFilter, scope: &RequestScope)
where
    DB: Dialect,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    query.push(" WHERE campaign_id = ").push_bind(scope.campaign_id);
    match &filter.status {
        StatusFilter::Any => {}
        StatusFilter::OneOf(statuses) if statuses.is_empty() => {
            query.push(" AND 1 = 0");
        }
        StatusFilter::NoneOf(statuses) if statuses.is_empty() => {}
        StatusFilter::OneOf(statuses) | StatusFilter::NoneOf(statuses) => {
            let negated = matches!(filter.status, StatusFilter::NoneOf(_));
            query.push(if negated {
                " AND message_status NOT IN ("
            } else {
                " AND message_status IN ("
            });
            push_list(query, statuses.iter().map(|status| status.as_str().to_string()));
            query.push(")");
        }
    }
    match filter.assignment {
        AssignmentScope::Any => {}
        AssignmentScope::Unassigned => {
            query.push(" AND assignment_id IS NULL");
        }
        AssignmentScope::ThisAssignment => {
            query.push(" AND assignment_id = ").push_bind(scope.assignment_id);
        }
    }
    if let Some(opted_out) = filter.opted_out {
        query.push(" AND is_opted_out = ").push_bind(opted_out);
    }
    match scope.offsets.condition(filter.timezone) {
        OffsetCondition::All => {}
        OffsetCondition::Nothing => {
            query.push(" AND 1 = 0");
        }
        OffsetCondition::OneOf(offsets) => {
            DB::push_in_list(query, "timezone_offset", offsets.iter().cloned().collect());
        }
    }
}

/// Appends the claim: an `UPDATE` giving the scope's assignment up to `limit` contacts matching
/// `filter` that are unassigned and not opted out ([`ContactFilter::claimable`], whatever
/// `filter` says), the lowest ids first, returning their ids. In id order the claim index
/// (migration 0002) hands over its first entries and the scan stops at the limit; on
/// PostgreSQL concurrent claims skip each other's locked rows.
pub fn push_claim<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    filter: &ContactFilter,
    scope: &RequestScope,
    limit: u32,
    now: DateTime<Utc>,
) where
    DB: Dialect,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    DateTime<Utc>: Encode<'a, DB> + Type<DB>,
{
    query
        .push("UPDATE campaign_contact SET assignment_id = ")
        .push_bind(scope.assignment_id)
        .push(", updated_at = ")
        .push_bind(now)
        .push(" WHERE id IN (SELECT id FROM campaign_contact");
    let claimable = filter.claimable();
    push_where(query, &claimable, scope);
    push_index_order(query, &claimable);
    query
        .push(" LIMIT ")
        .push_bind(i64::from(limit))
        .push(DB::CLAIM_LOCK)
        .push(") RETURNING CAST(id AS BIGINT)");
}

/// For unassigned contacts, appends ` ORDER BY` the claim index's `CAST(id AS BIGINT)` (the
/// lowest ids first), an order no other index provides: a limited query then always reads that
/// index's first entries, however the planner estimates the primary key's scan (which walks
/// every assigned contact ahead of the first unassigned one). Returns whether it did.
pub fn push_index_order<DB: Database>(query: &mut QueryBuilder<'_, DB>, filter: &ContactFilter) -> bool {
    let unassigned = filter.assignment == AssignmentScope::Unassigned;
    if unassigned {
        query.push(" ORDER BY CAST(id AS BIGINT)");
    }
    unassigned
}

/// Appends a count of the contacts matching `filter` in `scope`, stopping at `cap`: ordered
/// like the claim, a capped count reads at most `cap` entries of an index.
pub(super) fn push_count<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    filter: &ContactFilter,
    scope: &RequestScope,
    cap: Option<u32>,
) where
    DB: Dialect,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    query.push("SELECT COUNT(*) FROM (SELECT 1 AS one FROM campaign_contact");
    push_where(query, filter, scope);
    if let Some(cap) = cap {
        push_index_order(query, filter);
        query.push(" LIMIT ").push_bind(i64::from(cap));
    }
    query.push(") AS matching");
}

/// Appends a select of the first contact matching `filter` in `scope` (its id): "is there
/// any" reads one index entry.
fn push_first<'a, DB>(query: &mut QueryBuilder<'a, DB>, filter: &ContactFilter, scope: &RequestScope)
where
    DB: Dialect,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    query.push("SELECT CAST(id AS BIGINT) FROM campaign_contact");
    push_where(query, filter, scope);
    push_index_order(query, filter);
    query.push(" LIMIT 1");
}

/// Appends `questions` as a select list, `(…) AS q0, (…) AS q1, …`: each the count, first
/// contact or role check it is, within `scope`.
pub fn push_questions<'a, DB>(query: &mut QueryBuilder<'a, DB>, questions: &[Question], scope: &QuestionScope)
where
    DB: Dialect,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    for (index, question) in questions.iter().enumerate() {
        if index > 0 {
            query.push(", ");
        }
        match question {
            Question::Count { filter, cap } => {
                query.push("(");
                push_count(query, filter, &scope.request, *cap);
                query.push(")");
            }
            Question::Any { filter } => {
                query.push("(");
                push_first(query, filter, &scope.request);
                query.push(") IS NOT NULL");
            }
            Question::HasRole(role) => push_has_role(query, scope.user_id, scope.organization_id, *role),
        }
        query.push(format!(" AS q{index}"));
    }
}

/// Appends whether `user_id` holds `role` or a higher one in `organization_id`: the highest of
/// their roles is at least `role` exactly when one of them is (roles Spoke does not rank never
/// count).
fn push_has_role<'a, DB>(query: &mut QueryBuilder<'a, DB>, user_id: i64, organization_id: i64, role: Role)
where
    DB: Dialect,
    i64: Encode<'a, DB> + Type<DB>,
{
    query
        .push("EXISTS (SELECT 1 FROM user_organization WHERE user_id = ")
        .push_bind(user_id)
        .push(" AND organization_id = ")
        .push_bind(organization_id);
    let held = Role::ALL
        .iter()
        .filter(|held| held.has_at_least(role))
        .map(|held| held.as_str().to_string())
        .collect();
    DB::push_in_list(query, "role", held);
    query.push(")");
}

fn push_list<'a, DB>(query: &mut QueryBuilder<'a, DB>, values: impl Iterator<Item = String>)
where
    DB: Database,
    String: Encode<'a, DB> + Type<DB>,
{
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use sqlx::{Postgres, Sqlite};

    use super::*;
    use crate::filter::{TimezoneOffsets, TimezoneScope};
    use crate::model::MessageStatus;

    fn scope() -> RequestScope {
        RequestScope {
            campaign_id: 7,
            assignment_id: 3,
            offsets: TimezoneOffsets {
                valid: ["-5_1".to_string(), "-6_1".to_string()].into(),
                invalid: ["-8_1".to_string()].into(),
            }
            .into(),
        }
    }

    #[test]
    fn the_available_filter_compiles_to_binds_only() {
        let mut query = QueryBuilder::<Postgres>::new("SELECT id FROM campaign_contact");
        push_where(&mut query, &ContactFilter::available(), &scope());
        assert_eq!(
            query.sql(),
            "SELECT id FROM campaign_contact WHERE campaign_id = $1 AND message_status IN ($2) \
             AND assignment_id IS NULL AND is_opted_out = $3"
        );
    }

    #[test]
    fn the_claim_takes_only_unassigned_contacts_not_opted_out_whatever_the_filter_says() {
        let anything = ContactFilter {
            status: StatusFilter::Any,
            assignment: AssignmentScope::Any,
            opted_out: None,
            timezone: TimezoneScope::Any,
        };
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let mut permissive = QueryBuilder::<Postgres>::new("");
        push_claim(&mut permissive, &anything, &scope(), 5, now);
        assert_eq!(
            permissive.sql(),
            "UPDATE campaign_contact SET assignment_id = $1, updated_at = $2 WHERE id IN \
             (SELECT id FROM campaign_contact WHERE campaign_id = $3 AND assignment_id IS NULL \
             AND is_opted_out = $4 ORDER BY CAST(id AS BIGINT) LIMIT $5 FOR UPDATE SKIP LOCKED) \
             RETURNING CAST(id AS BIGINT)"
        );
        let mine = ContactFilter {
            assignment: AssignmentScope::ThisAssignment,
            opted_out: Some(true),
            ..anything
        };
        let mut held = QueryBuilder::<Sqlite>::new("");
        push_claim(&mut held, &mine, &scope(), 5, now);
        assert!(
            held.sql()
                .contains("WHERE campaign_id = ? AND assignment_id IS NULL AND is_opted_out = ? ORDER BY"),
            "{}",
            held.sql()
        );
    }

    #[test]
    fn every_condition_compiles_for_sqlite() {
        let filter = ContactFilter {
            status: StatusFilter::NoneOf([MessageStatus::NeedsMessage, MessageStatus::Messaged].into()),
            assignment: AssignmentScope::ThisAssignment,
            opted_out: Some(true),
            timezone: TimezoneScope::ValidNow,
        };
        let mut query = QueryBuilder::<Sqlite>::new("SELECT 1 FROM campaign_contact");
        push_where(&mut query, &filter, &scope());
        assert_eq!(
            query.sql(),
            "SELECT 1 FROM campaign_contact WHERE campaign_id = ? AND message_status NOT IN (?, ?) \
             AND assignment_id = ? AND is_opted_out = ? AND timezone_offset IN (?, ?)"
        );
    }

    #[test]
    fn postgres_binds_the_offsets_as_one_array() {
        let filter = ContactFilter {
            timezone: TimezoneScope::ValidNow,
            ..ContactFilter::available()
        };
        let mut query = QueryBuilder::<Postgres>::new("SELECT id FROM campaign_contact");
        push_where(&mut query, &filter, &scope());
        push_index_order(&mut query, &filter);
        assert_eq!(
            query.sql(),
            "SELECT id FROM campaign_contact WHERE campaign_id = $1 AND message_status IN ($2) \
             AND assignment_id IS NULL AND is_opted_out = $3 AND timezone_offset = ANY($4) \
             ORDER BY CAST(id AS BIGINT)"
        );
    }

    #[test]
    fn without_invalid_offsets_valid_now_tests_no_column() {
        let filter = ContactFilter {
            timezone: TimezoneScope::ValidNow,
            ..ContactFilter::available()
        };
        let mut scope = scope();
        Arc::make_mut(&mut scope.offsets).invalid.clear();
        let mut query = QueryBuilder::<Postgres>::new("SELECT id FROM campaign_contact");
        push_where(&mut query, &filter, &scope);
        assert_eq!(
            query.sql(),
            "SELECT id FROM campaign_contact WHERE campaign_id = $1 AND message_status IN ($2) \
             AND assignment_id IS NULL AND is_opted_out = $3"
        );
    }

    #[test]
    fn empty_sets_match_nothing_or_everything() {
        let filter = ContactFilter {
            status: StatusFilter::NoneOf(BTreeSet::new()),
            assignment: AssignmentScope::Any,
            opted_out: None,
            timezone: TimezoneScope::InvalidNow,
        };
        let mut scope = scope();
        Arc::make_mut(&mut scope.offsets).invalid.clear();
        let mut query = QueryBuilder::<Sqlite>::new("SELECT 1 FROM campaign_contact");
        push_where(&mut query, &filter, &scope);
        assert_eq!(
            query.sql(),
            "SELECT 1 FROM campaign_contact WHERE campaign_id = ? AND 1 = 0"
        );
    }
}
