//! One request's run of a strategy: a fresh store and instance, the host imports answered from
//! a [`ContactSource`], the per-call budgets, and the mapping of every way a call can fail to a
//! [`FailureKind`]. A running guest yields to the async runtime on every epoch tick, so a
//! strategy that spins holds no runtime thread; the deadline still traps it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, StoreContextMut, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{self, v0_1_0};
use super::component::StrategyComponent;
use super::error::{FailureKind, HostFailure, StrategyFailure};
use super::imports::{Detached, HostCallLimit, InvalidArgument, LogTag, SourceFailure};
use super::limits::SandboxLimits;
use super::request::{BatchPlan, StrategyRequest};
use crate::filter::{ContactFilter, ContactSelection};
use crate::model::Role;
use crate::source::ContactSource;

use v0_1_0::spoke::batches::types as wit;

/// One question a strategy asked the host, with the answer it got.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "call")]
pub enum HostCall {
    /// `count-contacts`.
    CountContacts {
        /// The filter.
        filter: ContactFilter,
        /// The cap.
        cap: Option<u32>,
        /// The answer.
        answer: u32,
    },
    /// `any-contact`.
    AnyContact {
        /// The filter.
        filter: ContactFilter,
        /// The answer.
        answer: bool,
    },
    /// `assignment-user-has-role`.
    AssignmentUserHasRole {
        /// The role asked about.
        role: Role,
        /// The answer.
        answer: bool,
    },
}

/// A line the strategy logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The message.
    pub message: String,
}

/// What a session recorded: the strategy's questions and log lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallJournal {
    /// Every host call, in order.
    pub host_calls: Vec<HostCall>,
    /// Every log line kept, in order.
    pub logs: Vec<LogLine>,
    /// Log bytes dropped for exceeding the budget.
    pub dropped_log_bytes: usize,
}

/// The result of one call with what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallReport<T> {
    /// What the strategy returned.
    pub value: T,
    /// Fuel burned by the call.
    pub fuel_used: u64,
    /// Wall-clock time of the call, host calls included.
    #[serde(serialize_with = "micros")]
    pub duration: Duration,
}

fn micros<S: serde::Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(value.as_micros())
}

/// The data of a store: WASI, limits, the request's data and the journal.
pub(crate) struct CallState {
    /// Built on the guest's first WASI call.
    wasi: Option<WasiCtx>,
    /// Where the guest's stdout and stderr go.
    output: MemoryOutputPipe,
    table: ResourceTable,
    memory: MemoryLimiter,
    pub(super) limits: Arc<SandboxLimits>,
    pub(super) source: Box<dyn ContactSource>,
    pub(super) host_calls_this_call: u32,
    pub(super) log_bytes: usize,
    pub(super) journal: CallJournal,
    /// When the current call's deadline passes (checked on every epoch tick).
    deadline_at: Instant,
    /// Who the strategy's log lines are tagged with in the host's log.
    pub(super) log_tag: LogTag,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Built on first use: a strategy touches WASI only to print (a panic message), and
        // building a context costs more than the rest of a store's setup.
        let output = &self.output;
        WasiCtxView {
            ctx: self
                .wasi
                .get_or_insert_with(|| super::wasi::empty_context(output)),
            table: &mut self.table,
        }
    }
}

/// The per-instance memory and table limit. Growing past it traps with a typed error, so the
/// failure names the limit instead of surfacing as the guest's allocation abort.
struct MemoryLimiter {
    limit: usize,
}

/// Raised from the limiter; downcast after the call.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes hit growing to {desired} bytes")]
struct MemoryLimitHit {
    desired: usize,
    limit: usize,
}

impl MemoryLimiter {
    const MAX_TABLE_ELEMENTS: usize = 100_000;
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitHit {
                desired,
                limit: self.limit,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= Self::MAX_TABLE_ELEMENTS)
    }
}

/// One request's instance of a strategy. Calls made through it share the instance (and the
/// journal); each call gets the full fuel, deadline and host-call budget. A failed call poisons
/// the instance, so a session ends at its first failure.
pub struct StrategySession {
    component: Arc<StrategyComponent>,
    limits: Arc<SandboxLimits>,
    store: Store<CallState>,
    bindings: Arc<v0_1_0::Strategy>,
}

impl StrategySession {
    /// Instantiates `component` in a fresh store. Its host imports have no data until
    /// [`StrategySession::attach`]: building the instance needs none, so a caller can build it
    /// while the database answers another query.
    pub(crate) async fn prepare(
        component: Arc<StrategyComponent>,
        limits: Arc<SandboxLimits>,
    ) -> Result<Self, StrategyFailure> {
        let sandbox = component.sandbox();
        let state = CallState {
            wasi: None,
            output: MemoryOutputPipe::new(limits.log_bytes_per_call),
            table: ResourceTable::new(),
            memory: MemoryLimiter {
                limit: limits.memory_bytes,
            },
            limits: Arc::clone(&limits),
            source: Box::new(Detached),
            host_calls_this_call: 0,
            log_bytes: 0,
            journal: CallJournal::default(),
            deadline_at: deadline_from_now(limits.deadline),
            log_tag: LogTag {
                strategy: component.name().to_string(),
                version: component.version().to_string(),
                assignment: None,
            },
        };
        let mut store = Store::new(sandbox.engine(), state);
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_callback(on_epoch_tick);
        Budget::arm(&mut store, &limits);
        let instantiated = tokio::time::timeout(limits.deadline, component.instantiate(&mut store)).await;
        let bindings = match instantiated {
            Ok(Ok(bindings)) => Arc::new(bindings),
            Ok(Err(error)) => {
                return Err(component.failure(classify(error, &limits, &store.data().output)));
            }
            Err(_) => {
                return Err(component.failure(FailureKind::Deadline {
                    limit: limits.deadline,
                }));
            }
        };
        Ok(StrategySession {
            component,
            limits,
            store,
            bindings,
        })
    }

    /// Gives the session the data its host imports answer from, for the calls that follow.
    pub fn attach(&mut self, source: Box<dyn ContactSource>) {
        self.store.data_mut().source = source;
    }

    /// Calls `name`.
    pub async fn name(&mut self) -> Result<CallReport<String>, StrategyFailure> {
        let bindings = Arc::clone(&self.bindings);
        let report = self
            .call("name", |store| {
                Box::pin(async move { bindings.call_name(store).await })
            })
            .await?;
        self.check_string(report, "name()")
    }

    /// Calls `display-name`.
    pub async fn display_name(&mut self) -> Result<CallReport<String>, StrategyFailure> {
        let bindings = Arc::clone(&self.bindings);
        let report = self
            .call("display-name", |store| {
                Box::pin(async move { bindings.call_display_name(store).await })
            })
            .await?;
        self.check_string(report, "display-name()")
    }

    /// Calls `request-new-batch-count`.
    pub async fn request_new_batch_count(
        &mut self,
        request: &StrategyRequest,
    ) -> Result<CallReport<u32>, StrategyFailure> {
        let bindings = Arc::clone(&self.bindings);
        self.store.data_mut().log_tag.assignment = Some(request.assignment.id);
        let request = wit::BatchRequest::from(request);
        let report = self
            .call("request-new-batch-count", move |store| {
                Box::pin(async move { bindings.call_request_new_batch_count(store, &request).await })
            })
            .await?;
        self.returned(report)
    }

    /// Calls `select-contacts` and validates the descriptors it returns against `plan`.
    pub async fn select_contacts(
        &mut self,
        request: &StrategyRequest,
        plan: BatchPlan,
    ) -> Result<CallReport<ContactSelection>, StrategyFailure> {
        let bindings = Arc::clone(&self.bindings);
        self.store.data_mut().log_tag.assignment = Some(request.assignment.id);
        let request = wit::BatchRequest::from(request);
        let report = self
            .call("select-contacts", move |store| {
                Box::pin(async move { bindings.call_select_contacts(store, &request, plan.into()).await })
            })
            .await?;
        let report = self.returned(report)?;
        let limits = Arc::clone(&self.limits);
        let selection = bindings::contact_selection(report.value, plan, &limits)
            .map_err(|reason| self.refuse(FailureKind::InvalidValue(reason)))?;
        Ok(CallReport {
            value: selection,
            fuel_used: report.fuel_used,
            duration: report.duration,
        })
    }

    /// Ends the session, giving back the data source (e.g. to commit its transaction) and
    /// what the strategy asked and logged.
    pub fn finish(mut self) -> (Box<dyn ContactSource>, CallJournal) {
        self.detach()
    }

    /// Gives back the data source and what the strategy asked and logged, keeping the instance:
    /// dropping the session afterwards only tears the instance down (the pool slot resets the
    /// pages it wrote), so its owner can do that while it waits on something else. Calls made
    /// after this have no data to ask about.
    pub fn detach(&mut self) -> (Box<dyn ContactSource>, CallJournal) {
        let state = self.store.data_mut();
        (
            std::mem::replace(&mut state.source, Box::new(Detached)),
            std::mem::take(&mut state.journal),
        )
    }

    /// The journal so far.
    pub fn journal(&self) -> &CallJournal {
        &self.store.data().journal
    }

    async fn call<T, F>(
        &mut self,
        function: &'static str,
        invoke: F,
    ) -> Result<CallReport<T>, StrategyFailure>
    where
        F: for<'a> FnOnce(
            &'a mut Store<CallState>,
        )
            -> std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<T>> + Send + 'a>>,
    {
        let limits = Arc::clone(&self.limits);
        self.store.data_mut().host_calls_this_call = 0;
        self.store.data_mut().log_bytes = 0;
        let budget = Budget::arm(&mut self.store, &limits);
        let started = Instant::now();
        let outcome = tokio::time::timeout(limits.deadline, invoke(&mut self.store)).await;
        let duration = started.elapsed();
        let fuel_used = budget.used(&self.store);
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(classify(error, &limits, &self.store.data().output)),
            Err(_) => Err(FailureKind::Deadline {
                limit: limits.deadline,
            }),
        };
        // A host failure is counted nowhere against the strategy: the caller reports it as
        // the host's (a database failure is a 503, not a strategy failure).
        let failure = result
            .as_ref()
            .err()
            .filter(|kind| kind.blames_strategy())
            .map(FailureKind::code);
        let sandbox = self.component.sandbox();
        sandbox
            .metrics()
            .record_call(self.component.name(), function, duration, fuel_used, failure);
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

/// What a running guest does on each epoch tick: past its call's deadline it traps
/// (`Trap::Interrupt`, reported as the deadline); before it, it yields to the async runtime
/// and runs on at the next tick. Without the yield a guest that spins would keep its runtime
/// worker thread for the whole deadline, and every other task queued on that worker (other
/// requests, `/healthz`) would wait for it.
fn on_epoch_tick(store: StoreContextMut<'_, CallState>) -> wasmtime::Result<UpdateDeadline> {
    if Instant::now() >= store.data().deadline_at {
        return Ok(UpdateDeadline::Interrupt);
    }
    Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
}

/// The instant `deadline` from now; a deadline too far to represent never passes.
fn deadline_from_now(deadline: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(deadline)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The fuel and wall-clock deadline of one call.
struct Budget {
    fuel: u64,
}

impl Budget {
    fn arm(store: &mut Store<CallState>, limits: &SandboxLimits) -> Self {
        // Fuel is enabled on the engine, so this cannot fail.
        store.set_fuel(limits.fuel_per_call).ok();
        store.data_mut().deadline_at = deadline_from_now(limits.deadline);
        // The next tick calls `on_epoch_tick`, which checks the deadline and yields.
        store.set_epoch_deadline(1);
        Budget {
            fuel: limits.fuel_per_call,
        }
    }

    fn used(&self, store: &Store<CallState>) -> u64 {
        self.fuel.saturating_sub(store.get_fuel().unwrap_or(0))
    }
}

/// Maps a wasmtime error to why the call failed, from typed errors only.
fn classify(error: wasmtime::Error, limits: &SandboxLimits, output: &MemoryOutputPipe) -> FailureKind {
    let error = match error.downcast::<SourceFailure>() {
        Ok(SourceFailure(source)) => return FailureKind::Host(HostFailure::new(source)),
        Err(error) => error,
    };
    if let Some(hit) = error.downcast_ref::<MemoryLimitHit>() {
        return FailureKind::Memory {
            desired: hit.desired,
            limit: hit.limit,
        };
    }
    if let Some(HostCallLimit(limit)) = error.downcast_ref::<HostCallLimit>() {
        return FailureKind::TooManyHostCalls { limit: *limit };
    }
    if let Some(InvalidArgument(reason)) = error.downcast_ref::<InvalidArgument>() {
        return FailureKind::InvalidValue(reason.clone());
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return FailureKind::Busy {
            limit: limits.concurrent_instances,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => FailureKind::OutOfFuel {
            limit: limits.fuel_per_call,
        },
        Some(Trap::Interrupt) => FailureKind::Deadline {
            limit: limits.deadline,
        },
        Some(trap) => FailureKind::Trap {
            trap: trap.to_string(),
            panic: panic_message(output),
        },
        None => FailureKind::Trap {
            trap: format!("{error:#}"),
            panic: panic_message(output),
        },
    }
}

/// The panic message a Rust guest printed to stderr, if any.
fn panic_message(output: &MemoryOutputPipe) -> Option<String> {
    let printed = String::from_utf8_lossy(&output.contents()).into_owned();
    let start = printed.find("panicked at")?;
    let message = printed[start..].trim().replace('\n', " ");
    Some(message.chars().take(500).collect())
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
