//! The statements the engine runs, as one trait on the unit of work ([`Tx`]), implemented once
//! for both dialects: each method builds its statement ([`super::statements`]), executes it
//! the dialect's way ([`Dialect::fetch_one`] and its siblings) and reads the row back
//! ([`super::rows`]).

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, FromRow, Row, Type};

use super::dialect::Dialect;
use super::rows::{
    AssignmentContext, ContactStates, read_answers, read_assignment_context, read_contact_states,
};
use super::statements::{self, HeldCount};
use super::tx::Tx;
use crate::filter::{ContactFilter, RequestScope};
use crate::model::{Assignment, Campaign, CampaignContact, Organization, Role, User};
use crate::question::{Answer, Question, QuestionScope};

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

    /// The assignment `id` with its campaign, organization, texter (`texter_id`, else the
    /// assignment's user) and the texter's highest role in the organization, in one round
    /// trip; with `lock`, the assignment's row stays locked until the transaction ends.
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

    /// The answers to `questions` asked within `scope`, in the same order, in one statement
    /// (none for no questions).
    fn answers(
        &mut self,
        questions: &[Question],
        scope: &QuestionScope,
    ) -> impl Future<Output = sqlx::Result<Vec<Answer>>> + Send;

    /// How many contacts the scope's assignment holds (in any campaign, as Spoke counts), with
    /// the answers to `questions`, in one statement. With `kept` (the holdings table exists,
    /// [`super::Database::has_holdings`]) the count is read from it by primary key, else every
    /// held contact is counted.
    fn held_count_with(
        &mut self,
        questions: &[Question],
        scope: &QuestionScope,
        kept: bool,
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

    /// The contacts of `campaign_id` by state: one pass over the campaign, O(campaign), for the
    /// dashboard's background count, never a request's.
    fn contact_states(
        &mut self,
        campaign_id: i64,
    ) -> impl Future<Output = sqlx::Result<ContactStates>> + Send;

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

/// The one implementation, for any dialect whose driver binds and decodes the host's value
/// types (both do; the bounds only spell that out for the compiler).
impl<DB> Queries for Tx<DB>
where
    DB: Dialect,
    i64: Encode<'static, DB> + Type<DB>,
    bool: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Option<i32>: Encode<'static, DB> + Type<DB>,
    DateTime<Utc>: Encode<'static, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> i32: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB>,
    for<'r> String: Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
    for<'r> Organization: FromRow<'r, DB::Row>,
    for<'r> Campaign: FromRow<'r, DB::Row>,
    for<'r> Assignment: FromRow<'r, DB::Row>,
    for<'r> User: FromRow<'r, DB::Row>,
    for<'r> CampaignContact: FromRow<'r, DB::Row>,
{
    async fn commit(self) -> sqlx::Result<()> {
        self.end(true).await
    }

    async fn rollback(self) -> sqlx::Result<()> {
        self.end(false).await
    }

    async fn organization(&mut self, id: i64, lock: bool) -> sqlx::Result<Option<Organization>> {
        self.fetch_as(statements::organization(id, lock)).await
    }

    async fn campaign(&mut self, id: i64, lock: bool) -> sqlx::Result<Option<Campaign>> {
        self.fetch_as(statements::campaign(id, lock)).await
    }

    async fn assignment_context(
        &mut self,
        id: i64,
        texter_id: Option<i64>,
        lock: bool,
    ) -> sqlx::Result<Option<AssignmentContext>> {
        let statement = statements::assignment_context(id, texter_id, lock);
        match DB::fetch_optional(self.connection(), statement).await? {
            Some(row) => read_assignment_context(&row).map(Some),
            None => Ok(None),
        }
    }

    async fn user(&mut self, id: i64) -> sqlx::Result<Option<User>> {
        self.fetch_as(statements::user(id)).await
    }

    async fn contact(&mut self, id: i64) -> sqlx::Result<Option<CampaignContact>> {
        self.fetch_as(statements::contact(id)).await
    }

    async fn assignment_of(&mut self, campaign_id: i64, user_id: i64) -> sqlx::Result<Option<Assignment>> {
        self.fetch_as(statements::assignment_of(campaign_id, user_id))
            .await
    }

    async fn highest_role(&mut self, user_id: i64, organization_id: i64) -> sqlx::Result<Option<Role>> {
        let rows = DB::fetch_all(self.connection(), statements::roles(user_id, organization_id)).await?;
        let roles = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Role::highest(roles.iter().map(String::as_str)))
    }

    async fn count_contacts(
        &mut self,
        filter: &ContactFilter,
        scope: &RequestScope,
        cap: Option<u32>,
    ) -> sqlx::Result<u32> {
        let row = DB::fetch_one(self.connection(), statements::count_contacts(filter, scope, cap)).await?;
        let count: i64 = row.try_get(0)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn answers(&mut self, questions: &[Question], scope: &QuestionScope) -> sqlx::Result<Vec<Answer>> {
        if questions.is_empty() {
            return Ok(Vec::new());
        }
        let statement = statements::questions(HeldCount::None, questions, scope);
        let row = DB::fetch_one(self.connection(), statement).await?;
        read_answers(&row, 0, questions)
    }

    async fn held_count_with(
        &mut self,
        questions: &[Question],
        scope: &QuestionScope,
        kept: bool,
    ) -> sqlx::Result<(i64, Vec<Answer>)> {
        let held = if kept { HeldCount::Kept } else { HeldCount::Counted };
        let row = DB::fetch_one(self.connection(), statements::questions(held, questions, scope)).await?;
        Ok((row.try_get(0)?, read_answers(&row, 1, questions)?))
    }

    async fn claim(
        &mut self,
        filter: &ContactFilter,
        scope: &RequestScope,
        limit: u32,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<i64>> {
        let statement = statements::claim(filter, scope, limit, now);
        let rows = DB::fetch_all(self.connection(), statement).await?;
        rows.iter().map(|row| row.try_get(0)).collect()
    }

    async fn release(
        &mut self,
        assignment_id: i64,
        campaign_id: i64,
        conversations: bool,
    ) -> sqlx::Result<u64> {
        let statement = statements::release(assignment_id, campaign_id, conversations);
        DB::execute(self.connection(), statement).await
    }

    async fn unassign_initial_contact(&mut self, id: i64) -> sqlx::Result<bool> {
        let changed = DB::execute(self.connection(), statements::unassign_initial_contact(id)).await?;
        Ok(changed > 0)
    }

    async fn contact_states(&mut self, campaign_id: i64) -> sqlx::Result<ContactStates> {
        let row = DB::fetch_one(self.connection(), statements::contact_states(campaign_id)).await?;
        read_contact_states(&row)
    }

    async fn assignment_count(&mut self, campaign_id: i64) -> sqlx::Result<i64> {
        let row = DB::fetch_one(self.connection(), statements::assignment_count(campaign_id)).await?;
        row.try_get(0)
    }

    async fn insert_assignment(
        &mut self,
        campaign_id: i64,
        user_id: i64,
        max_contacts: Option<i32>,
        now: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        let statement = statements::insert_assignment(campaign_id, user_id, max_contacts, now);
        let row = DB::fetch_one(self.connection(), statement).await?;
        row.try_get(0)
    }

    async fn first_assignment(&mut self, campaign_id: i64) -> sqlx::Result<Option<Assignment>> {
        self.fetch_as(statements::first_assignment(campaign_id)).await
    }

    async fn dynamic_campaigns(&mut self, limit: u32) -> sqlx::Result<Vec<Campaign>> {
        let rows = DB::fetch_all(self.connection(), statements::dynamic_campaigns(limit)).await?;
        rows.iter().map(Campaign::from_row).collect()
    }

    async fn insert_membership(
        &mut self,
        user_id: i64,
        organization_id: i64,
        role: Role,
    ) -> sqlx::Result<()> {
        let statement = statements::insert_membership(user_id, organization_id, role);
        DB::execute(self.connection(), statement).await?;
        Ok(())
    }
}

impl<DB: Dialect> Tx<DB> {
    /// Runs `statement`, which reads at most one row, as a `T`.
    async fn fetch_as<T>(&mut self, statement: sqlx::QueryBuilder<'static, DB>) -> sqlx::Result<Option<T>>
    where
        T: for<'r> FromRow<'r, DB::Row>,
    {
        match DB::fetch_optional(self.connection(), statement).await? {
            Some(row) => T::from_row(&row).map(Some),
            None => Ok(None),
        }
    }
}
