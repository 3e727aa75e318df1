//! The host imports of a strategy answered on the request's own transaction: the strategy sees
//! exactly the rows the assignment will be made from.

use std::any::Any;

use async_trait::async_trait;

use crate::db::Queries;
use crate::filter::{ContactFilter, RequestScope};
use crate::model::Role;
use crate::source::ContactSource;

/// A [`ContactSource`] that owns the request's transaction while the strategy runs.
pub(crate) struct TxSource<T: Queries> {
    pub(crate) tx: T,
    pub(crate) scope: RequestScope,
    pub(crate) assignment_user_id: i64,
    pub(crate) organization_id: i64,
}

#[async_trait]
impl<T: Queries> ContactSource for TxSource<T> {
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> anyhow::Result<u32> {
        Ok(self.tx.count_contacts(filter, &self.scope, cap).await?)
    }

    async fn any_contact(&mut self, filter: &ContactFilter) -> anyhow::Result<bool> {
        Ok(self.tx.any_contact(filter, &self.scope).await?)
    }

    async fn assignment_user_has_role(&mut self, role: Role) -> anyhow::Result<bool> {
        let held = self
            .tx
            .highest_role(self.assignment_user_id, self.organization_id)
            .await?;
        Ok(held.is_some_and(|held| held.has_at_least(role)))
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}
