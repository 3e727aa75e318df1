//! What decides a batch inside the engine's transaction: a strategy component in the sandbox,
//! or native code behind the same calls. The engine only sees [`Policy`] and its typed states:
//! a [`PolicyInstance`] built without data, a [`PolicySession`] once the request's source is
//! attached, and [`Finished`], which gives the source back as the type the engine gave. The
//! benchmarks compare a component with the same rules compiled natively through this seam.

use std::sync::Arc;

use async_trait::async_trait;

use crate::filter::ContactSelection;
use crate::sandbox::{
    self, BatchPlan, CallJournal, CallReport, LimitOverrides, SpentInstance, StrategyComponent,
    StrategyFailure, StrategyInstance, StrategyRequest, StrategySession,
};
use crate::source::ContactSource;

/// A batch strategy, as the engine calls it.
#[async_trait]
pub trait Policy: Send + Sync {
    /// The strategy's name (`batch_type`).
    fn name(&self) -> &str;

    /// Its version, for explanations.
    fn version(&self) -> &str;

    /// Builds an instance for one request under the organization's limit `overrides`. It has
    /// no data until [`PolicyInstance::attach`], so the engine builds it while the database
    /// works on another query of the request.
    async fn start(&self, overrides: &LimitOverrides) -> Result<PolicyInstance, StrategyFailure>;
}

/// Native code behind the [`Policy`] seam: the strategy's two calls, each asking the
/// request's source it is lent. It owns no source, so it cannot ask before one is attached or
/// after the session finished.
#[async_trait]
pub trait NativeSession: Send {
    /// How many contacts the texter may get (`requestNewBatchCount`).
    async fn request_new_batch_count(
        &mut self,
        request: &StrategyRequest,
        source: &mut (dyn ContactSource + '_),
    ) -> Result<CallReport<u32>, StrategyFailure>;

    /// Which contacts, as descriptors (`selectContacts`).
    async fn select_contacts(
        &mut self,
        request: &StrategyRequest,
        plan: BatchPlan,
        source: &mut (dyn ContactSource + '_),
    ) -> Result<CallReport<ContactSelection>, StrategyFailure>;

    /// What the strategy asked and logged so far.
    fn journal(&self) -> &CallJournal;

    /// Takes what the strategy asked and logged, leaving the journal empty.
    fn take_journal(&mut self) -> CallJournal;
}

/// A policy's instance for one request, built without data: its only move is
/// [`attach`](PolicyInstance::attach).
pub struct PolicyInstance(Built);

enum Built {
    Sandboxed(StrategyInstance),
    Native(Box<dyn NativeSession>),
}

impl PolicyInstance {
    /// An instance of native code.
    pub fn native(session: Box<dyn NativeSession>) -> Self {
        PolicyInstance(Built::Native(session))
    }

    /// Gives the instance the request's data: every question the strategy asks afterwards is
    /// answered from `source`, which [`PolicySession::finish`] gives back.
    pub fn attach<S: ContactSource + 'static>(self, source: S) -> PolicySession<S> {
        PolicySession(match self.0 {
            Built::Sandboxed(instance) => Attached::Sandboxed(instance.attach(source)),
            Built::Native(session) => Attached::Native { session, source },
        })
    }
}

impl From<StrategyInstance> for PolicyInstance {
    fn from(instance: StrategyInstance) -> Self {
        PolicyInstance(Built::Sandboxed(instance))
    }
}

/// One request's session of a [`Policy`], its source attached.
pub struct PolicySession<S>(Attached<S>);

enum Attached<S> {
    Sandboxed(StrategySession<S>),
    Native {
        session: Box<dyn NativeSession>,
        source: S,
    },
}

impl<S: ContactSource + 'static> PolicySession<S> {
    /// How many contacts the texter may get (`requestNewBatchCount`).
    pub async fn request_new_batch_count(
        &mut self,
        request: &StrategyRequest,
    ) -> Result<CallReport<u32>, StrategyFailure> {
        match &mut self.0 {
            Attached::Sandboxed(session) => session.request_new_batch_count(request).await,
            Attached::Native { session, source } => session.request_new_batch_count(request, source).await,
        }
    }

    /// Which contacts, as descriptors (`selectContacts`).
    pub async fn select_contacts(
        &mut self,
        request: &StrategyRequest,
        plan: BatchPlan,
    ) -> Result<CallReport<ContactSelection>, StrategyFailure> {
        match &mut self.0 {
            Attached::Sandboxed(session) => session.select_contacts(request, plan).await,
            Attached::Native { session, source } => session.select_contacts(request, plan, source).await,
        }
    }

    /// What the strategy asked and logged so far.
    pub fn journal(&self) -> &CallJournal {
        match &self.0 {
            Attached::Sandboxed(session) => session.journal(),
            Attached::Native { session, .. } => session.journal(),
        }
    }

    /// Ends the session: the source back (and with it the transaction), the journal, and the
    /// spent instance to drop when convenient: the engine drops a component's instance while
    /// the claim runs, so its teardown costs the request no time.
    pub fn finish(self) -> Finished<S> {
        match self.0 {
            Attached::Sandboxed(session) => {
                let sandbox::Finished {
                    source,
                    journal,
                    instance,
                } = session.finish();
                Finished {
                    source,
                    journal,
                    instance: Spent {
                        _held: SpentKind::Sandboxed(instance),
                    },
                }
            }
            Attached::Native { mut session, source } => Finished {
                source,
                journal: session.take_journal(),
                instance: Spent {
                    _held: SpentKind::Native(session),
                },
            },
        }
    }
}

/// What a finished [`PolicySession`] gives back.
pub struct Finished<S> {
    /// The source the session was attached to.
    pub source: S,
    /// What the strategy asked and logged.
    pub journal: CallJournal,
    /// The spent instance, to drop when convenient.
    pub instance: Spent,
}

/// A finished session's instance: nothing calls it any more, and dropping it tears it down.
pub struct Spent {
    _held: SpentKind,
}

/// Held only to be dropped.
#[allow(dead_code)]
enum SpentKind {
    Sandboxed(SpentInstance),
    Native(Box<dyn NativeSession>),
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

    async fn start(&self, overrides: &LimitOverrides) -> Result<PolicyInstance, StrategyFailure> {
        let base = self.0.sandbox().limits();
        let limits = if overrides.is_empty() {
            Arc::clone(base)
        } else {
            Arc::new(base.with_overrides(overrides))
        };
        Ok(self.0.prepare(limits).await?.into())
    }
}
