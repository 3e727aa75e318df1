//! Every statement the host runs on Spoke's tables, on one transaction, for both dialects.
//! Columns are read with casts and defaults that make Spoke's nullable or narrow columns
//! decode the same way on PostgreSQL and SQLite.

use std::future::Future;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{FromRow, QueryBuilder, Row, Transaction};

use super::compile::{push_claim, push_count, push_questions};
use super::dialect::Dialect;
use crate::filter::{ContactFilter, RequestScope};
use crate::model::{Assignment, Campaign, CampaignContact, Organization, Role, User};

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

const CAMPAIGN_COLUMNS: &str = "CAST(id AS BIGINT) AS id, \
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

const CONTACT_COLUMNS: &str = "CAST(id AS BIGINT) AS id, CAST(campaign_id AS BIGINT) AS campaign_id, \
     CAST(assignment_id AS BIGINT) AS assignment_id, message_status, \
     COALESCE(is_opted_out, FALSE) AS is_opted_out, COALESCE(timezone_offset, '') AS timezone_offset";

/// `columns` as a select list, each read as `prefix` + its name.
fn columns(columns: Columns, prefix: &str) -> String {
    columns
        .iter()
        .map(|(expression, name)| format!("{expression} AS {prefix}{name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The select lists read under their plain names, rendered once.
static ORGANIZATION_SELECT: LazyLock<String> = LazyLock::new(|| columns(ORGANIZATION_COLUMNS, ""));
static ASSIGNMENT_SELECT: LazyLock<String> = LazyLock::new(|| columns(ASSIGNMENT_COLUMNS, ""));
static USER_SELECT: LazyLock<String> = LazyLock::new(|| columns(USER_COLUMNS, ""));

/// The statement of [`Queries::assignment_context`] for a dialect whose `due_by` column reads
/// as `due_by`, split around its two binds (the assignment id, then the texter's id or the
/// assignment's own user). Each table is read in a subquery of its own, so the campaign's
/// columns keep their plain names and the others are prefixed; the joins compare raw keys, so
/// every row comes through its primary key.
fn assignment_context_sql(due_by: &str) -> [String; 2] {
    [
        format!(
            "SELECT c.*, a.*, o.*, u.* FROM \
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

/// Reads `Model { field, ... }` from the columns named `prefix` + each field.
macro_rules! read_prefixed {
    ($row:expr, $prefix:literal, $model:ident { $($field:ident),+ $(,)? }) => {
        $model {
            $($field: $row.try_get(concat!($prefix, stringify!($field)))?,)+
        }
    };
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
}

/// A question a strategy can ask about its request's data, as the database answers it. The
/// engine asks some ahead of the strategy, in one statement (`Queries::held_count_with`).
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// `count-contacts(filter, cap)`.
    Count {
        /// The contacts counted.
        filter: ContactFilter,
        /// Where counting stops.
        cap: Option<u32>,
    },
    /// `any-contact(filter)`.
    Any {
        /// The contacts looked for.
        filter: ContactFilter,
    },
    /// `assignment-user-has-role(role)`.
    HasRole(Role),
}

/// The answer to a [`Question`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// To [`Question::Count`].
    Count(u32),
    /// To [`Question::Any`] and [`Question::HasRole`].
    Flag(bool),
}

/// Whose questions: the request's scope and the assignment's user in its organization.
#[derive(Debug, Clone)]
pub struct Asker {
    /// The campaign, assignment and valid timezone offsets.
    pub scope: RequestScope,
    /// The assignment's user (whose role is asked about).
    pub user_id: i64,
    /// The campaign's organization.
    pub organization_id: i64,
}

/// A unit of work on Spoke's tables: a transaction, or a connection in autocommit where the
/// work only reads. Dropping it rolls an open transaction back.
pub struct Tx<DB: Dialect> {
    work: Work<DB>,
}

enum Work<DB: Dialect> {
    Transaction(Transaction<'static, DB>),
    Autocommit(PoolConnection<DB>),
}

impl<DB: Dialect> Tx<DB> {
    /// Wraps an open transaction.
    pub fn new(transaction: Transaction<'static, DB>) -> Self {
        Tx {
            work: Work::Transaction(transaction),
        }
    }

    /// Wraps a connection in autocommit: every statement commits as it completes.
    pub fn autocommit(connection: PoolConnection<DB>) -> Self {
        Tx {
            work: Work::Autocommit(connection),
        }
    }

    fn connection(&mut self) -> &mut DB::Connection {
        match &mut self.work {
            Work::Transaction(transaction) => transaction,
            Work::Autocommit(connection) => connection,
        }
    }

    async fn end(self, commit: bool) -> sqlx::Result<()> {
        match self.work {
            Work::Transaction(transaction) if commit => transaction.commit().await,
            Work::Transaction(transaction) => transaction.rollback().await,
            Work::Autocommit(_) => Ok(()),
        }
    }
}

/// The statements the engine runs, on one transaction.
pub trait Queries: Send + 'static {
    /// Commits.
    fn commit(self) -> impl Future<Output = sqlx::Result<()>> + Send;

    /// Rolls back (dropping a `Tx` does too).
    fn rollback(self) -> impl Future<Output = sqlx::Result<()>> + Send;

    /// The organization `id`; with `lock`, the row stays locked until the transaction ends.
    fn organization(
        &mut self,
        id: i64,
        lock: bool,
    ) -> impl Future<Output = sqlx::Result<Option<Organization>>> + Send;

    /// The campaign `id`; with `lock`, the row stays locked until the transaction ends.
    fn campaign(
        &mut self,
        id: i64,
        lock: bool,
    ) -> impl Future<Output = sqlx::Result<Option<Campaign>>> + Send;

    /// The assignment `id` with its campaign, organization and texter (`texter_id`, else the
    /// assignment's user), in one round trip; with `lock`, the assignment's row stays locked
    /// until the transaction ends.
    fn assignment_context(
        &mut self,
        id: i64,
        texter_id: Option<i64>,
        lock: bool,
    ) -> impl Future<Output = sqlx::Result<Option<AssignmentContext>>> + Send;

    /// The user `id`.
    fn user(&mut self, id: i64) -> impl Future<Output = sqlx::Result<Option<User>>> + Send;

    /// The contact `id`.
    fn contact(&mut self, id: i64) -> impl Future<Output = sqlx::Result<Option<CampaignContact>>> + Send;

    /// The assignment of `user_id` in `campaign_id`, if any (the oldest when several).
    fn assignment_of(
        &mut self,
        campaign_id: i64,
        user_id: i64,
    ) -> impl Future<Output = sqlx::Result<Option<Assignment>>> + Send;

    /// The highest role `user_id` holds in `organization_id` (the highest of several rows;
    /// roles Spoke's hierarchy does not rank, such as ORG_SUPERADMIN, are ignored).
    fn highest_role(
        &mut self,
        user_id: i64,
        organization_id: i64,
    ) -> impl Future<Output = sqlx::Result<Option<Role>>> + Send;

    /// Counts the contacts matching `filter` in `scope`, stopping at `cap`.
    fn count_contacts(
        &mut self,
        filter: &ContactFilter,
        scope: &RequestScope,
        cap: Option<u32>,
    ) -> impl Future<Output = sqlx::Result<u32>> + Send;

    /// The answers to `questions` asked for `asker`, in the same order, in one statement (none
    /// for no questions).
    fn answers(
        &mut self,
        questions: &[Question],
        asker: &Asker,
    ) -> impl Future<Output = sqlx::Result<Vec<Answer>>> + Send;

    /// How many contacts the asker's assignment holds (in any campaign, as Spoke counts), with
    /// the answers to `questions`, in one statement.
    fn held_count_with(
        &mut self,
        questions: &[Question],
        asker: &Asker,
    ) -> impl Future<Output = sqlx::Result<(i64, Vec<Answer>)>> + Send;

    /// Assigns up to `limit` contacts matching `filter` to the scope's assignment, setting
    /// `updated_at`; returns their ids.
    fn claim(
        &mut self,
        filter: &ContactFilter,
        scope: &RequestScope,
        limit: u32,
        now: DateTime<Utc>,
    ) -> impl Future<Output = sqlx::Result<Vec<i64>>> + Send;

    /// Unassigns the `needsMessage` contacts of `assignment_id` in `campaign_id`, or all of
    /// them with `conversations`; returns how many.
    fn release(
        &mut self,
        assignment_id: i64,
        campaign_id: i64,
        conversations: bool,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;

    /// Unassigns contact `id` if it is assigned and still needs its first message (the
    /// conditions are the update's own, so a contact that changed since it was read stays as
    /// it is); returns whether it changed.
    fn unassign_initial_contact(&mut self, id: i64) -> impl Future<Output = sqlx::Result<bool>> + Send;

    /// How many assignments (texters) `campaign_id` has.
    fn assignment_count(&mut self, campaign_id: i64) -> impl Future<Output = sqlx::Result<i64>> + Send;

    /// Creates an assignment and returns its id.
    fn insert_assignment(
        &mut self,
        campaign_id: i64,
        user_id: i64,
        max_contacts: Option<i32>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = sqlx::Result<i64>> + Send;

    /// The first assignment of `campaign_id`, if any.
    fn first_assignment(
        &mut self,
        campaign_id: i64,
    ) -> impl Future<Output = sqlx::Result<Option<Assignment>>> + Send;

    /// The newest unarchived campaigns that use dynamic assignment, at most `limit`.
    fn dynamic_campaigns(&mut self, limit: u32) -> impl Future<Output = sqlx::Result<Vec<Campaign>>> + Send;

    /// Makes `user_id` a member of `organization_id` with `role`.
    fn insert_membership(
        &mut self,
        user_id: i64,
        organization_id: i64,
        role: Role,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;
}

/// `SELECT columns FROM table WHERE id = ? suffix` on `self`'s transaction.
macro_rules! fetch_by_id {
    ($tx:expr, $columns:expr, $table:expr, $id:expr, $suffix:expr) => {{
        let mut query = QueryBuilder::new(format!("SELECT {} FROM {} WHERE id = ", $columns, $table));
        query.push_bind($id).push($suffix);
        query.build_query_as().fetch_optional($tx.connection()).await
    }};
}

/// Implements [`Queries`] for one dialect. The statements are the same for both; the macro
/// only spares spelling them twice (sqlx's generic executor bounds cannot express a query
/// builder borrowed for exactly one statement).
macro_rules! impl_queries {
    ($db:ty) => {
        impl Tx<$db> {
            /// One statement: with `count_held`, the asker's assignment's contact count first,
            /// then the answers to `questions` in order, each the SQL it runs when asked alone.
            async fn ask(
                &mut self,
                count_held: bool,
                questions: &[Question],
                asker: &Asker,
            ) -> sqlx::Result<(Option<i64>, Vec<Answer>)> {
                let mut query = QueryBuilder::<$db>::new("SELECT ");
                if count_held {
                    query
                        .push("(SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = ")
                        .push_bind(asker.scope.assignment_id)
                        .push(")");
                    if !questions.is_empty() {
                        query.push(", ");
                    }
                }
                push_questions(&mut query, questions, asker);
                let row = query.build().fetch_one(self.connection()).await?;
                let held = if count_held {
                    Some(row.try_get::<i64, _>(0)?)
                } else {
                    None
                };
                let first = usize::from(count_held);
                let mut answers = Vec::with_capacity(questions.len());
                for (index, question) in questions.iter().enumerate() {
                    answers.push(match question {
                        Question::Count { .. } => {
                            let count: i64 = row.try_get(first + index)?;
                            Answer::Count(u32::try_from(count).unwrap_or(u32::MAX))
                        }
                        Question::Any { .. } | Question::HasRole(_) => {
                            Answer::Flag(row.try_get(first + index)?)
                        }
                    });
                }
                Ok((held, answers))
            }
        }

        impl Queries for Tx<$db> {
            /// Commits.
            async fn commit(self) -> sqlx::Result<()> {
                self.end(true).await
            }

            /// Rolls back (dropping a `Tx` does too).
            async fn rollback(self) -> sqlx::Result<()> {
                self.end(false).await
            }

            /// The organization `id`; with `lock`, the row stays locked until the transaction ends.
            async fn organization(&mut self, id: i64, lock: bool) -> sqlx::Result<Option<Organization>> {
                let suffix = if lock { <$db as Dialect>::ROW_LOCK } else { "" };
                fetch_by_id!(self, *ORGANIZATION_SELECT, "organization", id, suffix)
            }

            /// The campaign `id`; with `lock`, the row stays locked until the transaction ends.
            async fn campaign(&mut self, id: i64, lock: bool) -> sqlx::Result<Option<Campaign>> {
                let suffix = if lock { <$db as Dialect>::ROW_LOCK } else { "" };
                let columns = format!("{CAMPAIGN_COLUMNS}, {}", <$db as Dialect>::DUE_BY);
                fetch_by_id!(self, columns, "campaign", id, suffix)
            }

            /// The assignment `id` with its campaign, organization and texter (`texter_id`, else
            /// the assignment's user), in one round trip; with `lock`, the assignment's row
            /// stays locked until the transaction ends.
            async fn assignment_context(
                &mut self,
                id: i64,
                texter_id: Option<i64>,
                lock: bool,
            ) -> sqlx::Result<Option<AssignmentContext>> {
                static SQL: LazyLock<[String; 2]> =
                    LazyLock::new(|| assignment_context_sql(<$db as Dialect>::DUE_BY));
                let [head, tail] = &*SQL;
                let mut query = QueryBuilder::<$db>::new(head.as_str());
                query.push_bind(id);
                // Inside the assignment's own subquery, the one side of the joins never null.
                if lock {
                    query.push(<$db as Dialect>::ROW_LOCK);
                }
                query.push(tail);
                match texter_id {
                    Some(texter_id) => query.push_bind(texter_id),
                    None => query.push("a.a_user_key"),
                };
                let Some(row) = query.build().fetch_optional(self.connection()).await? else {
                    return Ok(None);
                };
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
                    Some(Campaign::from_row(&row)?)
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
                Ok(Some(AssignmentContext {
                    assignment,
                    campaign,
                    organization,
                    texter,
                }))
            }

            /// The user `id`.
            async fn user(&mut self, id: i64) -> sqlx::Result<Option<User>> {
                fetch_by_id!(self, *USER_SELECT, "\"user\"", id, "")
            }

            /// The contact `id`.
            async fn contact(&mut self, id: i64) -> sqlx::Result<Option<CampaignContact>> {
                fetch_by_id!(self, CONTACT_COLUMNS, "campaign_contact", id, "")
            }

            /// The assignment of `user_id` in `campaign_id`, if any (the oldest when several).
            async fn assignment_of(
                &mut self,
                campaign_id: i64,
                user_id: i64,
            ) -> sqlx::Result<Option<Assignment>> {
                let mut query = QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM assignment WHERE campaign_id = ",
                    *ASSIGNMENT_SELECT
                ));
                query
                    .push_bind(campaign_id)
                    .push(" AND user_id = ")
                    .push_bind(user_id)
                    .push(" ORDER BY id LIMIT 1");
                query
                    .build_query_as::<Assignment>()
                    .fetch_optional(self.connection())
                    .await
            }

            /// The highest role `user_id` holds in `organization_id` (the highest of several rows;
            /// roles Spoke's hierarchy does not rank, such as ORG_SUPERADMIN, are ignored).
            async fn highest_role(
                &mut self,
                user_id: i64,
                organization_id: i64,
            ) -> sqlx::Result<Option<Role>> {
                let mut query =
                    QueryBuilder::<$db>::new("SELECT role FROM user_organization WHERE user_id = ");
                query
                    .push_bind(user_id)
                    .push(" AND organization_id = ")
                    .push_bind(organization_id);
                let roles: Vec<String> = query
                    .build_query_scalar()
                    .fetch_all(self.connection())
                    .await?;
                Ok(roles
                    .iter()
                    .filter_map(|role| role.parse::<Role>().ok())
                    .max())
            }

            /// Counts the contacts matching `filter` in `scope`, stopping at `cap`.
            async fn count_contacts(
                &mut self,
                filter: &ContactFilter,
                scope: &RequestScope,
                cap: Option<u32>,
            ) -> sqlx::Result<u32> {
                let mut query = QueryBuilder::<$db>::new("");
                push_count(&mut query, filter, scope, cap);
                let count: i64 = query
                    .build_query_scalar()
                    .fetch_one(self.connection())
                    .await?;
                Ok(u32::try_from(count).unwrap_or(u32::MAX))
            }

            /// The answers to `questions` asked for `asker`, in the same order, in one statement
            /// (none for no questions).
            async fn answers(&mut self, questions: &[Question], asker: &Asker) -> sqlx::Result<Vec<Answer>> {
                if questions.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(self.ask(false, questions, asker).await?.1)
            }

            /// How many contacts the asker's assignment holds (in any campaign, as Spoke counts),
            /// with the answers to `questions`, in one statement.
            async fn held_count_with(
                &mut self,
                questions: &[Question],
                asker: &Asker,
            ) -> sqlx::Result<(i64, Vec<Answer>)> {
                let (held, answers) = self.ask(true, questions, asker).await?;
                Ok((held.unwrap_or(0), answers))
            }

            /// Assigns up to `limit` contacts matching `filter` to the scope's assignment, setting
            /// `updated_at`; returns their ids.
            async fn claim(
                &mut self,
                filter: &ContactFilter,
                scope: &RequestScope,
                limit: u32,
                now: DateTime<Utc>,
            ) -> sqlx::Result<Vec<i64>> {
                let mut query = QueryBuilder::<$db>::new("");
                push_claim(&mut query, filter, scope, limit, now);
                query
                    .build_query_scalar()
                    .fetch_all(self.connection())
                    .await
            }

            /// Unassigns the `needsMessage` contacts of `assignment_id` in `campaign_id`, or all of
            /// them with `conversations`; returns how many.
            async fn release(
                &mut self,
                assignment_id: i64,
                campaign_id: i64,
                conversations: bool,
            ) -> sqlx::Result<u64> {
                let mut query = QueryBuilder::<$db>::new(
                    "UPDATE campaign_contact SET assignment_id = NULL WHERE assignment_id = ",
                );
                query
                    .push_bind(assignment_id)
                    .push(" AND campaign_id = ")
                    .push_bind(campaign_id);
                if !conversations {
                    query.push(" AND message_status = 'needsMessage'");
                }
                let done = query.build().execute(self.connection()).await?;
                Ok(<$db as Dialect>::rows_affected(&done))
            }

            /// Unassigns contact `id` if it is assigned and still needs its first message;
            /// returns whether it changed.
            async fn unassign_initial_contact(&mut self, id: i64) -> sqlx::Result<bool> {
                let mut query =
                    QueryBuilder::<$db>::new("UPDATE campaign_contact SET assignment_id = NULL WHERE id = ");
                query
                    .push_bind(id)
                    .push(" AND assignment_id IS NOT NULL AND message_status = 'needsMessage'");
                let done = query.build().execute(self.connection()).await?;
                Ok(<$db as Dialect>::rows_affected(&done) > 0)
            }

            /// How many assignments (texters) `campaign_id` has.
            async fn assignment_count(&mut self, campaign_id: i64) -> sqlx::Result<i64> {
                let mut query =
                    QueryBuilder::<$db>::new("SELECT COUNT(*) FROM assignment WHERE campaign_id = ");
                query.push_bind(campaign_id);
                query
                    .build_query_scalar()
                    .fetch_one(self.connection())
                    .await
            }

            /// Creates an assignment and returns its id.
            async fn insert_assignment(
                &mut self,
                campaign_id: i64,
                user_id: i64,
                max_contacts: Option<i32>,
                now: DateTime<Utc>,
            ) -> sqlx::Result<i64> {
                let mut query = QueryBuilder::<$db>::new(
                    "INSERT INTO assignment (user_id, campaign_id, max_contacts, created_at) VALUES (",
                );
                let mut values = query.separated(", ");
                values
                    .push_bind(user_id)
                    .push_bind(campaign_id)
                    .push_bind(max_contacts)
                    .push_bind(now);
                query.push(") RETURNING CAST(id AS BIGINT)");
                query
                    .build_query_scalar()
                    .fetch_one(self.connection())
                    .await
            }

            /// The first assignment of `campaign_id`, if any.
            async fn first_assignment(&mut self, campaign_id: i64) -> sqlx::Result<Option<Assignment>> {
                let mut query = QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM assignment WHERE campaign_id = ",
                    *ASSIGNMENT_SELECT
                ));
                query.push_bind(campaign_id).push(" ORDER BY id LIMIT 1");
                query
                    .build_query_as::<Assignment>()
                    .fetch_optional(self.connection())
                    .await
            }

            /// The newest unarchived campaigns that use dynamic assignment, at most `limit`.
            async fn dynamic_campaigns(&mut self, limit: u32) -> sqlx::Result<Vec<Campaign>> {
                let mut query = QueryBuilder::<$db>::new(format!(
                    "SELECT {CAMPAIGN_COLUMNS}, {} FROM campaign WHERE use_dynamic_assignment = TRUE \
                     AND COALESCE(is_archived, FALSE) = FALSE ORDER BY id DESC LIMIT ",
                    <$db as Dialect>::DUE_BY
                ));
                query.push_bind(i64::from(limit));
                query
                    .build_query_as::<Campaign>()
                    .fetch_all(self.connection())
                    .await
            }

            /// Makes `user_id` a member of `organization_id` with `role`.
            async fn insert_membership(
                &mut self,
                user_id: i64,
                organization_id: i64,
                role: Role,
            ) -> sqlx::Result<()> {
                let mut query = QueryBuilder::<$db>::new(
                    "INSERT INTO user_organization (user_id, organization_id, role) VALUES (",
                );
                let mut values = query.separated(", ");
                values
                    .push_bind(user_id)
                    .push_bind(organization_id)
                    .push_bind(role.as_str().to_string());
                query.push(")");
                query.build().execute(self.connection()).await?;
                Ok(())
            }
        }
    };
}

impl_queries!(sqlx::Postgres);
impl_queries!(sqlx::Sqlite);
