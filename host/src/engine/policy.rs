//! What decides a batch inside the engine's transaction: a strategy component in the sandbox,
//! or native code behind the same two calls. The engine only sees [`Policy`]; the benchmarks
//! compare a component with the same rules compiled natively through this seam.

use std::sync::Arc;

use async_trait::async_trait;

use crate::filter::ContactSelection;
use crate::sandbox::{
    BatchPlan, CallJournal, CallReport, LimitOverrides, StrategyComponent, StrategyFailure, StrategyRequest,
    StrategySession,
};
use crate::source::ContactSource;

/// A batch strategy, as the engine calls it.
#[async_trait]
pub trait Policy: Send + Sync {
    /// The strategy's name (`batch_type`).
    fn name(&self) -> &str;

    /// Its version, for explanations.
    fn version(&self) -> &str;

    /// Starts a session for one request under the organization's limit `overrides`. It has no
    /// data until [`PolicySession::attach`], so the engine starts it while the database works
    /// on another query of the request.
    async fn start(&self, overrides: &LimitOverrides) -> Result<Box<dyn PolicySession>, StrategyFailure>;
}

/// One request's session of a [`Policy`].
#[async_trait]
pub trait PolicySession: Send {
    /// Gives the session the request's data: every question the strategy asks afterwards is
    /// answered from `source`.
    fn attach(&mut self, source: Box<dyn ContactSource>);

    /// How many contacts the texter may get (`requestNewBatchCount`).
    async fn request_new_batch_count(
        &mut self,
        request: &StrategyRequest,
    ) -> Result<CallReport<u32>, StrategyFailure>;

    /// Which contacts, as descriptors (`selectContacts`).
    async fn select_contacts(
        &mut self,
        request: &StrategyRequest,
        plan: BatchPlan,
    ) -> Result<CallReport<ContactSelection>, StrategyFailure>;

    /// What the strategy asked and logged so far.
    fn journal(&self) -> &CallJournal;

    /// Gives back the data source (and with it the transaction) and the journal, leaving the
    /// session to be dropped when convenient: the engine drops a component's session while the
    /// claim runs, so the instance's teardown costs the request no time.
    fn detach(&mut self) -> (Box<dyn ContactSource>, CallJournal);

    /// Ends the session, giving back the data source and the journal.
    fn finish(mut self: Box<Self>) -> (Box<dyn ContactSource>, CallJournal) {
        self.detach()
    }
}

/// A strategy component, run in the sandbox: what the engine serves.
pub struct Sandboxed(pub Arc<StrategyComponent>);

#[async_trait]
impl Policy for Sandboxed {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn version(&self) -> &str {
        self.0.version()
    }

    async fn start(&self, overrides: &LimitOverrides) -> Result<Box<dyn PolicySession>, StrategyFailure> {
        let base = self.0.sandbox().limits();
        let limits = if overrides.is_empty() {
            Arc::clone(base)
        } else {
            Arc::new(base.with_overrides(overrides))
        };
        let session = self.0.prepare(limits).await?;
        Ok(Box::new(session))
    }
}

#[async_trait]
impl PolicySession for StrategySession {
    fn attach(&mut self, source: Box<dyn ContactSource>) {
        StrategySession::attach(self, source);
    }

    async fn request_new_batch_count(
        &mut self,
        request: &StrategyRequest,
    ) -> Result<CallReport<u32>, StrategyFailure> {
        StrategySession::request_new_batch_count(self, request).await
    }

    async fn select_contacts(
        &mut self,
        request: &StrategyRequest,
        plan: BatchPlan,
    ) -> Result<CallReport<ContactSelection>, StrategyFailure> {
        StrategySession::select_contacts(self, request, plan).await
    }

    fn journal(&self) -> &CallJournal {
        StrategySession::journal(self)
    }

    fn detach(&mut self) -> (Box<dyn ContactSource>, CallJournal) {
        StrategySession::detach(self)
    }
}
