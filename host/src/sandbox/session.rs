//! One request's run of a strategy, in three typed states: a [`StrategyInstance`] built
//! without data (its only move is [`StrategyInstance::attach`]), a [`StrategySession`] whose
//! calls ask the attached source, and [`Finished`], which gives the source back as the type it
//! was given, with the journal and the spent instance to drop when convenient. A call before
//! attach or after finish does not compile. Each call runs under the per-call budgets; a
//! running guest yields to the async runtime on every epoch tick, so a strategy that spins
//! holds no runtime thread, and the deadline still traps it.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use tokio::time::error::Elapsed;
use wasmtime::Store;

use super::bindings::Exports;
use super::budget::{self, Budget};
use super::classify::classify;
use super::component::StrategyComponent;
use super::error::{FailureKind, StrategyFailure};
use super::journal::{CallJournal, CallReport};
use super::limits::SandboxLimits;
use super::log_tag::LogTag;
use super::request::{BatchPlan, StrategyRequest};
use super::state::CallState;
use crate::filter::ContactSelection;
use crate::source::ContactSource;

impl StrategyComponent {
    /// A session for one request whose host imports answer from `source`, under the
    /// sandbox's limits.
    pub async fn start<S: ContactSource + 'static>(
        self: &Arc<Self>,
        source: S,
    ) -> Result<StrategySession<S>, StrategyFailure> {
        let instance = self.prepare(Arc::clone(self.sandbox().limits())).await?;
        Ok(instance.attach(source))
    }

    /// A fresh instance under `limits` (the sandbox's, or an organization's overrides) whose
    /// data comes later, with [`StrategyInstance::attach`]: building it needs none, so a
    /// caller can build it while the database answers another query.
    pub async fn prepare(
        self: &Arc<Self>,
        limits: Arc<SandboxLimits>,
    ) -> Result<StrategyInstance, StrategyFailure> {
        let tag = LogTag {
            strategy: self.name().to_string(),
            version: self.version().to_string(),
            assignment: None,
        };
        let state = CallState::new(
            Arc::clone(&limits),
            tag,
            budget::deadline_from_now(limits.deadline),
        );
        let mut store = Store::new(self.sandbox().engine(), state);
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_callback(budget::on_epoch_tick);
        Budget::arm(&mut store, &limits);
        let instantiated = tokio::time::timeout(limits.deadline, self.exports_in(&mut store)).await;
        let exports = match instantiated {
            Ok(Ok(exports)) => exports,
            Ok(Err(error)) => {
                return Err(self.failure(classify(error, &limits, &store.data().output)));
            }
            Err(_) => {
                return Err(self.failure(FailureKind::Deadline {
                    limit: limits.deadline,
                }));
            }
        };
        Ok(StrategyInstance {
            component: Arc::clone(self),
            limits,
            store,
            exports,
        })
    }
}

/// A strategy's fresh instance for one request, with no data yet: all it can do is
/// [`attach`](StrategyInstance::attach) the request's data, which gives the session to call:
///
/// ```no_run
/// # async fn with_data(
/// #     component: std::sync::Arc<spoke_batches::sandbox::StrategyComponent>,
/// #     limits: std::sync::Arc<spoke_batches::sandbox::SandboxLimits>,
/// #     request: spoke_batches::sandbox::StrategyRequest,
/// #     source: spoke_batches::source::MemorySource,
/// # ) {
/// let instance = component.prepare(limits).await.unwrap();
/// let mut session = instance.attach(source);
/// session.request_new_batch_count(&request).await.unwrap();
/// # }
/// ```
///
/// Calling the strategy before does not compile:
///
/// ```compile_fail
/// # async fn no_data(
/// #     component: std::sync::Arc<spoke_batches::sandbox::StrategyComponent>,
/// #     limits: std::sync::Arc<spoke_batches::sandbox::SandboxLimits>,
/// #     request: spoke_batches::sandbox::StrategyRequest,
/// # ) {
/// let mut instance = component.prepare(limits).await.unwrap();
/// instance.request_new_batch_count(&request).await; // no such method: attach first
/// # }
/// ```
pub struct StrategyInstance {
    component: Arc<StrategyComponent>,
    limits: Arc<SandboxLimits>,
    store: Store<CallState>,
    exports: Exports,
}

/// What started a call: its budget and the time.
struct Started {
    budget: Budget,
    at: Instant,
}

impl StrategyInstance {
    /// Gives the instance the data its host imports answer from: every question the strategy
    /// asks in the session's calls is answered from `source`, which [`StrategySession::finish`]
    /// gives back.
    pub fn attach<S: ContactSource + 'static>(mut self, source: S) -> StrategySession<S> {
        self.store.data_mut().attach(source);
        StrategySession {
            instance: self,
            source: PhantomData,
        }
    }

    /// Resets the per-call counters and arms the budget for the next call.
    fn begin(&mut self) -> Started {
        let state = self.store.data_mut();
        state.host_calls_this_call = 0;
        state.log_bytes = 0;
        let budget = Budget::arm(&mut self.store, &self.limits);
        Started {
            budget,
            at: Instant::now(),
        }
    }

    /// The report of the call `begin` started, counted in the metrics.
    fn end<T>(
        &mut self,
        function: &'static str,
        started: Started,
        outcome: Result<wasmtime::Result<T>, Elapsed>,
    ) -> Result<CallReport<T>, StrategyFailure> {
        let duration = started.at.elapsed();
        let fuel_used = started.budget.used(&self.store);
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(classify(error, &self.limits, &self.store.data().output)),
            Err(_) => Err(FailureKind::Deadline {
                limit: self.limits.deadline,
            }),
        };
        // A host failure is counted nowhere against the strategy: the caller reports it as
        // the host's (a database failure is a 503, not a strategy failure).
        let failure = result
            .as_ref()
            .err()
            .filter(|kind| kind.blames_strategy())
            .map(FailureKind::code);
        self.component.sandbox().metrics().record_call(
            self.component.name(),
            function,
            duration,
            fuel_used,
            failure,
        );
        match result {
            Ok(value) => Ok(CallReport {
                value,
                fuel_used,
                duration,
            }),
            Err(kind) => Err(self.component.failure(kind)),
        }
    }

    /// A failure decided after the call returned: counted, then reported.
    fn refuse(&self, kind: FailureKind) -> StrategyFailure {
        self.component
            .sandbox()
            .metrics()
            .record_refused(self.component.name(), kind.code());
        self.component.failure(kind)
    }

    /// The value of a call that returned `result<T, string>`; its `err` is the strategy's.
    fn returned<T>(&self, report: CallReport<Result<T, String>>) -> Result<CallReport<T>, StrategyFailure> {
        match report.value {
            Ok(value) => Ok(CallReport {
                value,
                fuel_used: report.fuel_used,
                duration: report.duration,
            }),
            Err(message) => {
                let limit = self.limits.max_string_bytes;
                Err(self.refuse(FailureKind::ErrorResult(truncate(message, limit))))
            }
        }
    }

    fn check_string(
        &self,
        report: CallReport<String>,
        what: &str,
    ) -> Result<CallReport<String>, StrategyFailure> {
        let limit = self.limits.max_string_bytes;
        if report.value.len() > limit {
            return Err(self.refuse(FailureKind::InvalidValue(format!(
                "{what} returned {} bytes; the limit is {limit} bytes",
                report.value.len()
            ))));
        }
        Ok(report)
    }
}

/// One request's instance of a strategy with the request's data attached. Calls made through
/// it share the instance (and the journal); each call gets the full fuel, deadline and
/// host-call budget. A failed call poisons the instance, so a session ends at its first
/// failure. [`finish`](StrategySession::finish) consumes it, giving back the source as the
/// type it was attached as:
///
/// ```no_run
/// # async fn finished(
/// #     component: std::sync::Arc<spoke_batches::sandbox::StrategyComponent>,
/// #     source: spoke_batches::source::MemorySource,
/// # ) {
/// let mut session = component.start(source).await.unwrap();
/// session.name().await.unwrap();
/// let finished = session.finish();
/// let source: spoke_batches::source::MemorySource = finished.source;
/// # }
/// ```
///
/// so nothing calls it after:
///
/// ```compile_fail
/// # async fn after_finish(
/// #     component: std::sync::Arc<spoke_batches::sandbox::StrategyComponent>,
/// #     source: spoke_batches::source::MemorySource,
/// # ) {
/// let mut session = component.start(source).await.unwrap();
/// let finished = session.finish();
/// session.name().await; // the session was consumed by finish
/// # }
/// ```
pub struct StrategySession<S> {
    instance: StrategyInstance,
    /// The type of the attached source, which the store holds type-erased.
    source: PhantomData<S>,
}

impl<S: ContactSource + 'static> StrategySession<S> {
    /// Calls `name`.
    pub async fn name(&mut self) -> Result<CallReport<String>, StrategyFailure> {
        let instance = &mut self.instance;
        let started = instance.begin();
        let call = instance.exports.call_name(&mut instance.store);
        let outcome = tokio::time::timeout(instance.limits.deadline, call).await;
        let report = instance.end("name", started, outcome)?;
        instance.check_string(report, "name()")
    }

    /// Calls `display-name`.
    pub async fn display_name(&mut self) -> Result<CallReport<String>, StrategyFailure> {
        let instance = &mut self.instance;
        let started = instance.begin();
        let call = instance.exports.call_display_name(&mut instance.store);
        let outcome = tokio::time::timeout(instance.limits.deadline, call).await;
        let report = instance.end("display-name", started, outcome)?;
        instance.check_string(report, "display-name()")
    }

    /// Calls `request-new-batch-count`.
    pub async fn request_new_batch_count(
        &mut self,
        request: &StrategyRequest,
    ) -> Result<CallReport<u32>, StrategyFailure> {
        let instance = &mut self.instance;
        instance.store.data_mut().log_tag.assignment = Some(request.assignment.id);
        let started = instance.begin();
        let call = instance
            .exports
            .call_request_new_batch_count(&mut instance.store, request);
        let outcome = tokio::time::timeout(instance.limits.deadline, call).await;
        let report = instance.end("request-new-batch-count", started, outcome)?;
        instance.returned(report)
    }

    /// Calls `select-contacts` and validates the descriptors it returns against `plan`.
    pub async fn select_contacts(
        &mut self,
        request: &StrategyRequest,
        plan: BatchPlan,
    ) -> Result<CallReport<ContactSelection>, StrategyFailure> {
        let instance = &mut self.instance;
        instance.store.data_mut().log_tag.assignment = Some(request.assignment.id);
        let started = instance.begin();
        let call = instance
            .exports
            .call_select_contacts(&mut instance.store, request, plan);
        let outcome = tokio::time::timeout(instance.limits.deadline, call).await;
        let report = instance.end("select-contacts", started, outcome)?;
        let report = instance.returned(report)?;
        let selection = report
            .value
            .check(plan, &instance.limits)
            .map_err(|reason| instance.refuse(FailureKind::InvalidValue(reason)))?;
        Ok(CallReport {
            value: selection,
            fuel_used: report.fuel_used,
            duration: report.duration,
        })
    }

    /// The journal so far.
    pub fn journal(&self) -> &CallJournal {
        &self.instance.store.data().journal
    }

    /// Ends the session: the source back (e.g. to commit its transaction), what the strategy
    /// asked and logged, and the spent instance, whose drop only tears it down (the pool slot
    /// resets the pages it wrote), so its owner can drop it while it waits on something else.
    pub fn finish(mut self) -> Finished<S> {
        let state = self.instance.store.data_mut();
        let journal = std::mem::take(&mut state.journal);
        let source = state.take_source::<S>();
        Finished {
            source,
            journal,
            instance: SpentInstance {
                _instance: self.instance,
            },
        }
    }
}

/// What a finished session gives back.
pub struct Finished<S> {
    /// The source [`StrategyInstance::attach`] was given.
    pub source: S,
    /// What the strategy asked and logged.
    pub journal: CallJournal,
    /// The instance, to drop when convenient.
    pub instance: SpentInstance,
}

/// A finished session's instance: nothing calls it any more, and dropping it tears it down.
pub struct SpentInstance {
    _instance: StrategyInstance,
}

fn truncate(mut message: String, limit: usize) -> String {
    if message.len() > limit {
        let mut end = limit;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}
