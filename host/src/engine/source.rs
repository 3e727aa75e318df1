//! The host imports of a strategy answered on the request's own connection: the strategy sees
//! exactly the rows the assignment will be made from. Questions asked ahead
//! ([`super::ahead`]) are answered from their statement.

use std::any::Any;

use async_trait::async_trait;

use super::ahead::Answered;
use crate::db::{Asker, Queries};
use crate::filter::ContactFilter;
use crate::model::Role;
use crate::source::ContactSource;

/// A [`ContactSource`] that owns the request's unit of work while the strategy runs.
pub(crate) struct TxSource<T: Queries> {
    pub(crate) tx: T,
    pub(crate) asker: Asker,
    pub(crate) ahead: Answered,
}

#[async_trait]
impl<T: Queries> ContactSource for TxSource<T> {
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> anyhow::Result<u32> {
        if let Some(count) = self.ahead.count(filter, cap) {
            return Ok(count);
        }
        Ok(self.tx.count_contacts(filter, &self.asker.scope, cap).await?)
    }

    async fn any_contact(&mut self, filter: &ContactFilter) -> anyhow::Result<bool> {
        if let Some(found) = self.ahead.any(filter) {
            return Ok(found);
        }
        Ok(self.tx.any_contact(filter, &self.asker.scope).await?)
    }

    async fn assignment_user_has_role(&mut self, role: Role) -> anyhow::Result<bool> {
        if let Some(held) = self.ahead.has_role(role) {
            return Ok(held);
        }
        let held = self
            .tx
            .highest_role(self.asker.user_id, self.asker.organization_id)
            .await?;
        Ok(held.is_some_and(|held| held.has_at_least(role)))
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}
