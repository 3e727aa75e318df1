//! What answers a strategy's host imports: a [`ContactSource`] scoped to one request. The
//! assignment engine implements it on the request's database transaction; [`MemorySource`]
//! implements it over rows in memory (for tests, `check` and fixtures). A source's failure is a
//! [`SourceError`], kept typed through the strategy's call so that the host's failure is never
//! taken for the strategy's.

use std::sync::Arc;

use async_trait::async_trait;

use crate::filter::{ContactFilter, RequestScope};
use crate::model::{CampaignContact, Role};

/// Why a [`ContactSource`] could not answer: the host's failure, never the strategy's.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The database failed; its error is kept whole, for the caller to inspect (a closed pool,
    /// a lost connection and a refused statement call for different answers).
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The host's answer did not fit the question it asked: a bug in the host.
    #[error("{0}")]
    Inconsistent(String),
}

/// The data one request may see. Every method is already confined to the request's campaign
/// and assignment; an error aborts the strategy call (it is a host failure, not the
/// strategy's).
#[async_trait]
pub trait ContactSource: Send {
    /// Counts the contacts matching `filter`, stopping at `cap` when given.
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> Result<u32, SourceError>;

    /// Whether any contact matches `filter`.
    async fn any_contact(&mut self, filter: &ContactFilter) -> Result<bool, SourceError>;

    /// Whether the assignment's user has `role` or above in the campaign's organization.
    async fn assignment_user_has_role(&mut self, role: Role) -> Result<bool, SourceError>;
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
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> Result<u32, SourceError> {
        let cap = cap.map_or(usize::MAX, |cap| cap as usize);
        let count = self.matching(filter).take(cap).count();
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn any_contact(&mut self, filter: &ContactFilter) -> Result<bool, SourceError> {
        Ok(self.matching(filter).next().is_some())
    }

    async fn assignment_user_has_role(&mut self, role: Role) -> Result<bool, SourceError> {
        Ok(self
            .assignment_user_role
            .is_some_and(|held| held.has_at_least(role)))
    }
}
