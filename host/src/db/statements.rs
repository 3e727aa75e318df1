//! Every statement [`super::queries::Queries`] runs, built once for both dialects: each
//! function returns the statement with its binds, ready to execute; the descriptor-driven
//! parts (conditions, counts, the claim, questions) come from [`super::compile`].

use chrono::{DateTime, Utc};
use sqlx::{Encode, QueryBuilder, Type};

use super::compile::{push_claim, push_count, push_questions};
use super::dialect::Dialect;
use super::rows::{
    ASSIGNMENT_SELECT, CAMPAIGN_COLUMNS, CONTACT_COLUMNS, CONTACT_STATES_FROM, CONTACT_STATES_SELECT,
    ORGANIZATION_SELECT, USER_SELECT,
};
use crate::filter::{ContactFilter, RequestScope};
use crate::model::Role;
use crate::question::{Question, QuestionScope};

/// A statement of the host, binding values for `'static`.
type Statement<DB> = QueryBuilder<'static, DB>;

/// `SELECT columns FROM table WHERE id = ?` followed by `suffix`.
fn by_id<DB>(columns: &str, table: &str, id: i64, suffix: &str) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!("SELECT {columns} FROM {table} WHERE id = "));
    query.push_bind(id).push(suffix);
    query
}

/// The row lock appended to a `SELECT` of one row when `lock`.
fn row_lock<DB: Dialect>(lock: bool) -> &'static str {
    if lock { DB::ROW_LOCK } else { "" }
}

/// The organization `id`, locked with `lock`.
pub(super) fn organization<DB>(id: i64, lock: bool) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    by_id(&ORGANIZATION_SELECT, "organization", id, row_lock::<DB>(lock))
}

/// The campaign `id`, locked with `lock`.
pub(super) fn campaign<DB>(id: i64, lock: bool) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let columns = format!("{CAMPAIGN_COLUMNS}, {}", DB::DUE_BY);
    by_id(&columns, "campaign", id, row_lock::<DB>(lock))
}

/// The assignment `id` with its campaign, organization, texter (`texter_id`, else the
/// assignment's user) and the texter's roles, its row locked with `lock`.
pub(super) fn assignment_context<DB>(id: i64, texter_id: Option<i64>, lock: bool) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let [head, tail] = DB::assignment_context_sql();
    let mut query = QueryBuilder::new(head.as_str());
    query.push_bind(id);
    // Inside the assignment's own subquery, the one side of the joins never null.
    query.push(row_lock::<DB>(lock));
    query.push(tail);
    match texter_id {
        Some(texter_id) => query.push_bind(texter_id),
        None => query.push("a.a_user_key"),
    };
    query
}

/// The user `id`.
pub(super) fn user<DB>(id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    by_id(&USER_SELECT, "\"user\"", id, "")
}

/// The contact `id`.
pub(super) fn contact<DB>(id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    by_id(CONTACT_COLUMNS, "campaign_contact", id, "")
}

/// The oldest assignment of `user_id` in `campaign_id`.
pub(super) fn assignment_of<DB>(campaign_id: i64, user_id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!(
        "SELECT {} FROM assignment WHERE campaign_id = ",
        *ASSIGNMENT_SELECT
    ));
    query
        .push_bind(campaign_id)
        .push(" AND user_id = ")
        .push_bind(user_id)
        .push(" ORDER BY id LIMIT 1");
    query
}

/// The contacts of `campaign_id` by state, in one pass over the campaign's rows.
pub(super) fn contact_states<DB>(campaign_id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!(
        "SELECT {CONTACT_STATES_SELECT} FROM {CONTACT_STATES_FROM}"
    ));
    query.push_bind(campaign_id).push(") AS contact");
    query
}

/// Every role `user_id` holds in `organization_id` (Spoke may keep several rows).
pub(super) fn roles<DB>(user_id: i64, organization_id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("SELECT role FROM user_organization WHERE user_id = ");
    query
        .push_bind(user_id)
        .push(" AND organization_id = ")
        .push_bind(organization_id);
    query
}

/// The count of the contacts matching `filter` in `scope`, stopping at `cap`.
pub(super) fn count_contacts<DB>(
    filter: &ContactFilter,
    scope: &RequestScope,
    cap: Option<u32>,
) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
    bool: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("");
    push_count(&mut query, filter, scope, cap);
    query
}

/// How the texter's count of contacts is read ahead of the questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeldCount {
    /// Not at all.
    None,
    /// Counted: every contact the assignment holds (in any campaign, as Spoke counts).
    Counted,
    /// Read from the holdings table (`db/holdings.rs`), which keeps that count.
    Kept,
}

/// One row: the texter's count of contacts first, as `held` says, then the answer to each of
/// `questions` in order, each the SQL it runs when asked alone.
pub(super) fn questions<DB>(held: HeldCount, questions: &[Question], scope: &QuestionScope) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
    bool: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("SELECT ");
    let count = match held {
        HeldCount::None => None,
        HeldCount::Counted => Some("(SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = "),
        // No row yet: the assignment never held a contact.
        HeldCount::Kept => {
            Some("(SELECT COALESCE(MAX(held), 0) FROM spoke_batches_holdings WHERE assignment_id = ")
        }
    };
    if let Some(count) = count {
        query.push(count).push_bind(scope.request.assignment_id).push(")");
        if !questions.is_empty() {
            query.push(", ");
        }
    }
    push_questions(&mut query, questions, scope);
    query
}

/// The claim of up to `limit` contacts matching `filter` for the scope's assignment.
pub(super) fn claim<DB>(
    filter: &ContactFilter,
    scope: &RequestScope,
    limit: u32,
    now: DateTime<Utc>,
) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
    bool: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    DateTime<Utc>: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("");
    push_claim(&mut query, filter, scope, limit, now);
    query
}

/// Unassigns the `needsMessage` contacts of `assignment_id` in `campaign_id`, or all of them
/// with `conversations`.
pub(super) fn release<DB>(assignment_id: i64, campaign_id: i64, conversations: bool) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query =
        QueryBuilder::new("UPDATE campaign_contact SET assignment_id = NULL WHERE assignment_id = ");
    query
        .push_bind(assignment_id)
        .push(" AND campaign_id = ")
        .push_bind(campaign_id);
    if !conversations {
        query.push(" AND message_status = 'needsMessage'");
    }
    query
}

/// Unassigns contact `id` if it is assigned and still needs its first message.
pub(super) fn unassign_initial_contact<DB>(id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("UPDATE campaign_contact SET assignment_id = NULL WHERE id = ");
    query
        .push_bind(id)
        .push(" AND assignment_id IS NOT NULL AND message_status = 'needsMessage'");
    query
}

/// How many assignments `campaign_id` has.
pub(super) fn assignment_count<DB>(campaign_id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("SELECT COUNT(*) FROM assignment WHERE campaign_id = ");
    query.push_bind(campaign_id);
    query
}

/// Creates an assignment, returning its id.
pub(super) fn insert_assignment<DB>(
    campaign_id: i64,
    user_id: i64,
    max_contacts: Option<i32>,
    now: DateTime<Utc>,
) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
    Option<i32>: Encode<'static, DB> + Type<DB>,
    DateTime<Utc>: Encode<'static, DB> + Type<DB>,
{
    let mut query =
        QueryBuilder::new("INSERT INTO assignment (user_id, campaign_id, max_contacts, created_at) VALUES (");
    let mut values = query.separated(", ");
    values
        .push_bind(user_id)
        .push_bind(campaign_id)
        .push_bind(max_contacts)
        .push_bind(now);
    query.push(") RETURNING CAST(id AS BIGINT)");
    query
}

/// The first assignment of `campaign_id`.
pub(super) fn first_assignment<DB>(campaign_id: i64) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!(
        "SELECT {} FROM assignment WHERE campaign_id = ",
        *ASSIGNMENT_SELECT
    ));
    query.push_bind(campaign_id).push(" ORDER BY id LIMIT 1");
    query
}

/// The newest unarchived campaigns that use dynamic assignment, at most `limit`.
pub(super) fn dynamic_campaigns<DB>(limit: u32) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!(
        "SELECT {CAMPAIGN_COLUMNS}, {} FROM campaign WHERE use_dynamic_assignment = TRUE \
         AND COALESCE(is_archived, FALSE) = FALSE ORDER BY id DESC LIMIT ",
        DB::DUE_BY
    ));
    query.push_bind(i64::from(limit));
    query
}

/// Makes `user_id` a member of `organization_id` with `role`.
pub(super) fn insert_membership<DB>(user_id: i64, organization_id: i64, role: Role) -> Statement<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
{
    let mut query =
        QueryBuilder::new("INSERT INTO user_organization (user_id, organization_id, role) VALUES (");
    let mut values = query.separated(", ");
    values
        .push_bind(user_id)
        .push_bind(organization_id)
        .push_bind(role.as_str().to_string());
    query.push(")");
    query
}

#[cfg(test)]
mod tests {
    use sqlx::{Postgres, Sqlite};

    use super::*;
    use crate::filter::TimezoneOffsets;

    fn scope() -> QuestionScope {
        QuestionScope {
            request: RequestScope {
                campaign_id: 7,
                assignment_id: 3,
                offsets: TimezoneOffsets::default().into(),
            },
            user_id: 5,
            organization_id: 1,
        }
    }

    #[test]
    fn a_locked_read_of_one_row_ends_with_the_dialects_row_lock() {
        let locked = organization::<Postgres>(1, true);
        assert!(
            locked
                .sql()
                .starts_with("SELECT CAST(id AS BIGINT) AS id, name AS name, "),
            "{}",
            locked.sql()
        );
        assert!(
            locked
                .sql()
                .ends_with(" FROM organization WHERE id = $1 FOR NO KEY UPDATE"),
            "{}",
            locked.sql()
        );
        assert!(
            organization::<Postgres>(1, false)
                .sql()
                .ends_with(" FROM organization WHERE id = $1")
        );
        // SQLite's write transaction already keeps other writers out.
        assert!(
            campaign::<Sqlite>(1, true)
                .sql()
                .ends_with("ELSE datetime(due_by) END AS due_by FROM campaign WHERE id = ?")
        );
    }

    #[test]
    fn the_assignment_context_locks_inside_the_assignments_subquery_and_binds_the_texter() {
        let named = assignment_context::<Postgres>(4, Some(9), true);
        assert!(
            named
                .sql()
                .contains("FROM assignment WHERE id = $1 FOR NO KEY UPDATE) AS a LEFT JOIN"),
            "{}",
            named.sql()
        );
        assert!(named.sql().ends_with("AS u ON u.u_key = $2"), "{}", named.sql());
        // The texter's roles ride on the same statement.
        assert!(
            named
                .sql()
                .contains("string_agg(role, ',') FROM user_organization")
        );
        let own = assignment_context::<Sqlite>(4, None, false);
        assert!(
            own.sql().contains("FROM assignment WHERE id = ?) AS a LEFT JOIN"),
            "{}",
            own.sql()
        );
        assert!(
            own.sql().ends_with("AS u ON u.u_key = a.a_user_key"),
            "{}",
            own.sql()
        );
    }

    #[test]
    fn questions_asked_ahead_are_the_statements_they_run_alone_after_the_held_count() {
        let count = Question::Count {
            filter: ContactFilter::available(),
            cap: Some(10),
        };
        let scope = scope();
        let alone = count_contacts::<Postgres>(&ContactFilter::available(), &scope.request, Some(10));
        assert_eq!(
            questions::<Postgres>(HeldCount::None, std::slice::from_ref(&count), &scope).sql(),
            format!("SELECT ({}) AS q0", alone.sql())
        );
        let ahead = questions::<Postgres>(
            HeldCount::Counted,
            &[count, Question::HasRole(Role::Admin)],
            &scope,
        );
        assert_eq!(
            ahead.sql(),
            "SELECT (SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = $1), \
             (SELECT COUNT(*) FROM (SELECT 1 AS one FROM campaign_contact WHERE campaign_id = $2 \
             AND message_status IN ($3) AND assignment_id IS NULL AND is_opted_out = $4 \
             ORDER BY CAST(id AS BIGINT) LIMIT $5) AS matching) AS q0, \
             EXISTS (SELECT 1 FROM user_organization WHERE user_id = $6 AND organization_id = $7 \
             AND role = ANY($8)) AS q1"
        );
        assert_eq!(
            questions::<Sqlite>(HeldCount::Counted, &[], &scope).sql(),
            "SELECT (SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = ?)"
        );
        // Kept by the holdings table, the count is one primary-key read.
        assert_eq!(
            questions::<Sqlite>(HeldCount::Kept, &[], &scope).sql(),
            "SELECT (SELECT COALESCE(MAX(held), 0) FROM spoke_batches_holdings WHERE assignment_id = ?)"
        );
    }

    #[test]
    fn a_release_keeps_conversations_unless_asked_to_release_them() {
        assert_eq!(
            release::<Sqlite>(3, 7, false).sql(),
            "UPDATE campaign_contact SET assignment_id = NULL WHERE assignment_id = ? \
             AND campaign_id = ? AND message_status = 'needsMessage'"
        );
        assert_eq!(
            release::<Postgres>(3, 7, true).sql(),
            "UPDATE campaign_contact SET assignment_id = NULL WHERE assignment_id = $1 \
             AND campaign_id = $2"
        );
    }

    #[test]
    fn inserts_bind_every_value_and_return_the_new_id() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            insert_assignment::<Postgres>(7, 5, None, now).sql(),
            "INSERT INTO assignment (user_id, campaign_id, max_contacts, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING CAST(id AS BIGINT)"
        );
        assert_eq!(
            insert_membership::<Sqlite>(5, 1, Role::Texter).sql(),
            "INSERT INTO user_organization (user_id, organization_id, role) VALUES (?, ?, ?)"
        );
    }
}
