//! What answers a strategy's host imports: a [`ContactSource`] scoped to one request. The
//! assignment engine implements it on the request's database transaction; [`MemorySource`]
//! implements it over rows in memory (for tests, `check` and fixtures).

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;

use crate::filter::{ContactFilter, RequestScope};
use crate::model::{CampaignContact, Role};

/// The data one request may see. Every method is already confined to the request's campaign
/// and assignment; an error aborts the strategy call (it is a host failure, not the
/// strategy's).
#[async_trait]
pub trait ContactSource: Send {
    /// Counts the contacts matching `filter`, stopping at `cap` when given.
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> anyhow::Result<u32>;

    /// Whether any contact matches `filter`.
    async fn any_contact(&mut self, filter: &ContactFilter) -> anyhow::Result<bool>;

    /// Whether the assignment's user has `role` or above in the campaign's organization.
    async fn assignment_user_has_role(&mut self, role: Role) -> anyhow::Result<bool>;

    /// The source itself, for the caller that created it to take back (e.g. its transaction).
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// A [`ContactSource`] over contacts held in memory.
#[derive(Debug, Clone)]
pub struct MemorySource {
    /// What confines every question.
    pub scope: RequestScope,
    /// The contact table (any campaigns; the scope picks the request's).
    pub contacts: Arc<Vec<CampaignContact>>,
    /// The highest role of the assignment's user in the organization, if any.
    pub assignment_user_role: Option<Role>,
}

impl MemorySource {
    fn matching<'a>(&'a self, filter: &'a ContactFilter) -> impl Iterator<Item = &'a CampaignContact> {
        self.contacts
            .iter()
            .filter(|contact| filter.matches(contact, &self.scope))
    }
}

#[async_trait]
impl ContactSource for MemorySource {
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> anyhow::Result<u32> {
        let cap = cap.map_or(usize::MAX, |cap| cap as usize);
        let count = self.matching(filter).take(cap).count();
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn any_contact(&mut self, filter: &ContactFilter) -> anyhow::Result<bool> {
        Ok(self.matching(filter).next().is_some())
    }

    async fn assignment_user_has_role(&mut self, role: Role) -> anyhow::Result<bool> {
        Ok(self
            .assignment_user_role
            .is_some_and(|held| held.has_at_least(role)))
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}
