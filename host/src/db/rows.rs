//! How the host reads Spoke's rows: each table's columns with the casts and defaults that make
//! Spoke's nullable or narrow columns decode the same way on PostgreSQL and SQLite, and the
//! rows read back from the statements that join or combine several reads (an assignment's
//! context, the answers to several questions).

use std::sync::LazyLock;

use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use crate::model::{Assignment, Campaign, Organization, Role, User};
use crate::question::{Answer, Question};

/// A table's columns as the host reads them: the expression over the table's own columns and
/// the name it is read as. [`columns`] renders one as a select list.
type Columns = &'static [(&'static str, &'static str)];

const ORGANIZATION_COLUMNS: Columns = &[
    ("CAST(id AS BIGINT)", "id"),
    ("name", "name"),
    ("COALESCE(CAST(features AS TEXT), '')", "features"),
    (
        "COALESCE(texting_hours_enforced, FALSE)",
        "texting_hours_enforced",
    ),
    ("COALESCE(texting_hours_start, 9)", "texting_hours_start"),
    ("COALESCE(texting_hours_end, 21)", "texting_hours_end"),
];

/// The campaign's columns but `due_by`, whose reading differs by dialect
/// ([`super::dialect::Dialect::DUE_BY`]).
pub(super) const CAMPAIGN_COLUMNS: &str = "CAST(id AS BIGINT) AS id, \
     CAST(organization_id AS BIGINT) AS organization_id, title, \
     COALESCE(is_started, FALSE) AS is_started, COALESCE(is_archived, FALSE) AS is_archived, \
     COALESCE(use_dynamic_assignment, FALSE) AS use_dynamic_assignment, batch_size, \
     join_token, CAST(features AS TEXT) AS features, \
     CAST(response_window AS DOUBLE PRECISION) AS response_window, \
     COALESCE(override_organization_texting_hours, FALSE) AS override_organization_texting_hours, \
     COALESCE(texting_hours_enforced, TRUE) AS texting_hours_enforced, \
     COALESCE(texting_hours_start, 9) AS texting_hours_start, \
     COALESCE(texting_hours_end, 21) AS texting_hours_end, \
     COALESCE(timezone, 'US/Eastern') AS timezone";

const ASSIGNMENT_COLUMNS: Columns = &[
    ("CAST(id AS BIGINT)", "id"),
    ("CAST(user_id AS BIGINT)", "user_id"),
    ("CAST(campaign_id AS BIGINT)", "campaign_id"),
    ("max_contacts", "max_contacts"),
];

const USER_COLUMNS: Columns = &[
    ("CAST(id AS BIGINT)", "id"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("COALESCE(is_superadmin, FALSE)", "is_superadmin"),
];

/// The contact's columns.
pub(super) const CONTACT_COLUMNS: &str = "CAST(id AS BIGINT) AS id, \
     CAST(campaign_id AS BIGINT) AS campaign_id, CAST(assignment_id AS BIGINT) AS assignment_id, \
     message_status, COALESCE(is_opted_out, FALSE) AS is_opted_out, \
     COALESCE(timezone_offset, '') AS timezone_offset";

/// `columns` as a select list, each read as `prefix` + its name.
fn columns(columns: Columns, prefix: &str) -> String {
    columns
        .iter()
        .map(|(expression, name)| format!("{expression} AS {prefix}{name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The organization's select list under its plain names, rendered once.
pub(super) static ORGANIZATION_SELECT: LazyLock<String> = LazyLock::new(|| columns(ORGANIZATION_COLUMNS, ""));
/// The assignment's select list under its plain names, rendered once.
pub(super) static ASSIGNMENT_SELECT: LazyLock<String> = LazyLock::new(|| columns(ASSIGNMENT_COLUMNS, ""));
/// The user's select list under its plain names, rendered once.
pub(super) static USER_SELECT: LazyLock<String> = LazyLock::new(|| columns(USER_COLUMNS, ""));

/// The statement of an assignment's context, split around its two binds (the assignment id,
/// then the texter's id or the assignment's own user), for a dialect whose `due_by` column
/// reads as `due_by` and whose aggregate of strings is `role_list` over `role`. Each table is
/// read in a subquery of its own, so the campaign's columns keep their plain names and the
/// others are prefixed; the joins compare raw keys, so every row comes through its primary key.
/// The texter's roles in the organization ride along (`texter_roles`, for the caller's
/// authorization), so they cost no round trip of their own. (The texter's count of contacts
/// cannot: on PostgreSQL a statement that waited for the assignment's lock reads its other
/// rows as they were before the wait, so the count comes in the next statement.)
pub(super) fn assignment_context_sql(due_by: &str, role_list: &str) -> [String; 2] {
    [
        format!(
            "SELECT c.*, a.*, o.*, u.*, \
             (SELECT {role_list} FROM user_organization \
              WHERE user_id = u.u_key AND organization_id = o.o_key) AS texter_roles FROM \
             (SELECT campaign_id AS a_campaign_key, user_id AS a_user_key, {} \
              FROM assignment WHERE id = ",
            columns(ASSIGNMENT_COLUMNS, "a_")
        ),
        format!(
            ") AS a \
             LEFT JOIN (SELECT id AS c_key, organization_id AS c_organization_key, \
              {CAMPAIGN_COLUMNS}, {due_by} FROM campaign) AS c ON c.c_key = a.a_campaign_key \
             LEFT JOIN (SELECT id AS o_key, {} FROM organization) AS o \
              ON o.o_key = c.c_organization_key \
             LEFT JOIN (SELECT id AS u_key, {} FROM \"user\") AS u ON u.u_key = ",
            columns(ORGANIZATION_COLUMNS, "o_"),
            columns(USER_COLUMNS, "u_"),
        ),
    ]
}

/// An assignment with its campaign, its organization and the user acting as its texter, read
/// in one statement. A missing row (which Spoke's foreign keys prevent, except for the user
/// a caller names) is `None`.
#[derive(Debug, Clone)]
pub struct AssignmentContext {
    /// The assignment.
    pub assignment: Assignment,
    /// Its campaign.
    pub campaign: Option<Campaign>,
    /// The campaign's organization.
    pub organization: Option<Organization>,
    /// The texter: the user asked for, else the assignment's own.
    pub texter: Option<User>,
    /// The texter's highest role in the campaign's organization, if any.
    pub texter_role: Option<Role>,
}

/// Reads `Model { field, ... }` from the columns named `prefix` + each field (a derived
/// `FromRow` knows only the plain names).
macro_rules! read_prefixed {
    ($row:expr, $prefix:literal, $model:ident { $($field:ident),+ $(,)? }) => {
        $model {
            $($field: $row.try_get(concat!($prefix, stringify!($field)))?,)+
        }
    };
}

/// Reads the row of [`assignment_context_sql`].
pub(super) fn read_assignment_context<R>(row: &R) -> sqlx::Result<AssignmentContext>
where
    R: Row,
    for<'n> &'n str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Campaign: FromRow<'r, R>,
{
    let assignment = read_prefixed!(
        row,
        "a_",
        Assignment {
            id,
            user_id,
            campaign_id,
            max_contacts
        }
    );
    // A joined row is there when its id is.
    let present = |id: &str| row.try_get::<Option<i64>, _>(id).map(|id| id.is_some());
    let campaign = if present("id")? {
        Some(Campaign::from_row(row)?)
    } else {
        None
    };
    let organization = if present("o_id")? {
        Some(read_prefixed!(
            row,
            "o_",
            Organization {
                id,
                name,
                features,
                texting_hours_enforced,
                texting_hours_start,
                texting_hours_end,
            }
        ))
    } else {
        None
    };
    let texter = if present("u_id")? {
        Some(read_prefixed!(
            row,
            "u_",
            User {
                id,
                first_name,
                last_name,
                is_superadmin
            }
        ))
    } else {
        None
    };
    let roles: Option<String> = row.try_get("texter_roles")?;
    Ok(AssignmentContext {
        assignment,
        campaign,
        organization,
        texter,
        texter_role: roles.as_deref().and_then(|roles| Role::highest(roles.split(','))),
    })
}

/// A campaign's contacts by state, counted in one pass ([`super::Queries::contact_states`]).
/// Opted-out contacts count as opted out whatever their status; the others by status, and a
/// contact still to text first by whether someone holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactStates {
    /// `needsMessage`, unassigned: what strategies hand out.
    pub unassigned: i64,
    /// `needsMessage`, assigned: given to a texter, not texted yet.
    pub assigned_untexted: i64,
    /// `messaged`: texted, no reply yet.
    pub messaged: i64,
    /// `needsResponse` or `convo`: in conversation.
    pub conversations: i64,
    /// `closed`.
    pub closed: i64,
    /// Opted out.
    pub opted_out: i64,
    /// Any other status (`UPDATING`).
    pub other: i64,
}

/// The select list of [`ContactStates`], in its fields' order, over [`CONTACT_STATES_FROM`]'s
/// columns `opted_out`, `status` and `assignment_id`.
pub(super) const CONTACT_STATES_SELECT: &str = "\
     COUNT(*) FILTER (WHERE NOT opted_out AND status = 'needsMessage' AND assignment_id IS NULL), \
     COUNT(*) FILTER (WHERE NOT opted_out AND status = 'needsMessage' AND assignment_id IS NOT NULL), \
     COUNT(*) FILTER (WHERE NOT opted_out AND status = 'messaged'), \
     COUNT(*) FILTER (WHERE NOT opted_out AND status IN ('needsResponse', 'convo')), \
     COUNT(*) FILTER (WHERE NOT opted_out AND status = 'closed'), \
     COUNT(*) FILTER (WHERE opted_out), \
     COUNT(*) FILTER (WHERE NOT opted_out AND status NOT IN \
       ('needsMessage', 'messaged', 'needsResponse', 'convo', 'closed'))";

/// The rows [`CONTACT_STATES_SELECT`] counts: one campaign's contacts (its id bound after
/// this text, then `) AS contact`), `is_opted_out`'s null read as false.
pub(super) const CONTACT_STATES_FROM: &str = "(SELECT COALESCE(is_opted_out, FALSE) AS opted_out, \
     message_status AS status, assignment_id FROM campaign_contact WHERE campaign_id = ";

/// Reads the row of [`CONTACT_STATES_SELECT`].
pub(super) fn read_contact_states<R>(row: &R) -> sqlx::Result<ContactStates>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(ContactStates {
        unassigned: row.try_get(0)?,
        assigned_untexted: row.try_get(1)?,
        messaged: row.try_get(2)?,
        conversations: row.try_get(3)?,
        closed: row.try_get(4)?,
        opted_out: row.try_get(5)?,
        other: row.try_get(6)?,
    })
}

/// Reads the answers to `questions` from `row`, one column each from column `first` on, as
/// [`super::statements::questions`] selects them.
pub(super) fn read_answers<R>(row: &R, first: usize, questions: &[Question]) -> sqlx::Result<Vec<Answer>>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut answers = Vec::with_capacity(questions.len());
    for (index, question) in questions.iter().enumerate() {
        answers.push(match question {
            Question::Count { .. } => {
                let count: i64 = row.try_get(first + index)?;
                Answer::Count(u32::try_from(count).unwrap_or(u32::MAX))
            }
            Question::Any { .. } | Question::HasRole(_) => Answer::Flag(row.try_get(first + index)?),
        });
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::*;
    use crate::filter::ContactFilter;
    use crate::model::Role;

    #[test]
    fn a_prefixed_select_list_reads_every_column_under_the_prefix() {
        assert_eq!(
            columns(ASSIGNMENT_COLUMNS, "a_"),
            "CAST(id AS BIGINT) AS a_id, CAST(user_id AS BIGINT) AS a_user_id, \
             CAST(campaign_id AS BIGINT) AS a_campaign_id, max_contacts AS a_max_contacts"
        );
        assert_eq!(
            *USER_SELECT,
            "CAST(id AS BIGINT) AS id, first_name AS first_name, last_name AS last_name, \
             COALESCE(is_superadmin, FALSE) AS is_superadmin"
        );
    }

    #[test]
    fn the_assignment_context_joins_each_table_by_its_raw_key_and_prefixes_all_but_the_campaign() {
        let [head, tail] = assignment_context_sql("due_by", "string_agg(role, ',')");
        assert!(
            head.starts_with(
                "SELECT c.*, a.*, o.*, u.*, (SELECT string_agg(role, ',') FROM user_organization \
                 WHERE user_id = u.u_key AND organization_id = o.o_key) AS texter_roles \
                 FROM (SELECT campaign_id AS a_campaign_key, user_id AS a_user_key, \
                 CAST(id AS BIGINT) AS a_id,"
            ),
            "{head}"
        );
        assert!(head.ends_with("FROM assignment WHERE id = "), "{head}");
        assert!(
            tail.contains(&format!("{CAMPAIGN_COLUMNS}, due_by FROM campaign) AS c")),
            "{tail}"
        );
        assert!(tail.contains("COALESCE(texting_hours_end, 21) AS o_texting_hours_end FROM organization"));
        assert!(tail.contains("ON o.o_key = c.c_organization_key"));
        assert!(tail.ends_with("FROM \"user\") AS u ON u.u_key = "), "{tail}");
    }

    #[tokio::test]
    async fn answers_are_read_in_order_by_kind_and_a_count_past_u32_saturates() {
        let mut connection = SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("sqlite");
        let row = sqlx::query("SELECT 42, 5000000000, 1, 0")
            .fetch_one(&mut connection)
            .await
            .expect("row");
        let count = Question::Count {
            filter: ContactFilter::available(),
            cap: None,
        };
        let any = Question::Any {
            filter: ContactFilter::available(),
        };
        let questions = [count, any, Question::HasRole(Role::Admin)];
        assert_eq!(
            read_answers(&row, 1, &questions).expect("answers"),
            [Answer::Count(u32::MAX), Answer::Flag(true), Answer::Flag(false)]
        );
    }
}
