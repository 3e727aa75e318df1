//! The data of a strategy's store ([`CallState`]): WASI, the memory limiter, the limits, the
//! request's data source once attached, the per-call counters and the journal.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::journal::CallJournal;
use super::limiter::MemoryLimiter;
use super::limits::SandboxLimits;
use super::log_tag::LogTag;
use crate::source::ContactSource;

/// A [`ContactSource`] the store can hold and give back as the type it was given: every
/// `'static` source is one. The store's data has one type for every request (the linker and
/// the pre-instances are built for it), so the source is held type-erased here and taken back
/// by [`CallState::take_source`].
pub(super) trait AttachedSource: ContactSource + Any {}

impl<S: ContactSource + Any> AttachedSource for S {}

/// The data of a store.
pub(crate) struct CallState {
    /// Built on the guest's first WASI call.
    wasi: Option<WasiCtx>,
    /// Where the guest's stdout and stderr go.
    pub(super) output: MemoryOutputPipe,
    table: ResourceTable,
    pub(super) memory: MemoryLimiter,
    pub(super) limits: Arc<SandboxLimits>,
    /// The request's data: none while the instance is built, then the attached source until
    /// the session finishes (a host import that finds none was called during instantiation).
    source: Option<Box<dyn AttachedSource + Send>>,
    pub(super) host_calls_this_call: u32,
    pub(super) log_bytes: usize,
    pub(super) journal: CallJournal,
    /// When the current call's deadline passes (checked on every epoch tick).
    pub(super) deadline_at: Instant,
    /// Who the strategy's log lines are tagged with in the host's log.
    pub(super) log_tag: LogTag,
}

impl CallState {
    /// A store's data under `limits`, with no source yet.
    pub(super) fn new(limits: Arc<SandboxLimits>, log_tag: LogTag, deadline_at: Instant) -> Self {
        CallState {
            wasi: None,
            output: MemoryOutputPipe::new(limits.log_bytes_per_call),
            table: ResourceTable::new(),
            memory: MemoryLimiter {
                limit: limits.memory_bytes,
            },
            limits,
            source: None,
            host_calls_this_call: 0,
            log_bytes: 0,
            journal: CallJournal::default(),
            deadline_at,
            log_tag,
        }
    }

    /// The attached source, if any.
    pub(super) fn source(&mut self) -> Option<&mut (dyn AttachedSource + Send)> {
        self.source.as_deref_mut()
    }

    /// Holds `source` for the host imports.
    pub(super) fn attach<S: ContactSource + 'static>(&mut self, source: S) {
        self.source = Some(Box::new(source));
    }

    /// Gives back the source [`CallState::attach`] was given, as its own type.
    ///
    /// This is the sandbox's only downcast, and it cannot fail: a session
    /// (`StrategySession<S>`) exists only by attaching an `S` to an instance that had no
    /// source (attach consumes the instance), and only its `finish`, which consumes it, calls
    /// this, once. So the source is here, and it is an `S`.
    pub(super) fn take_source<S: ContactSource + 'static>(&mut self) -> S {
        // Trait upcasting: the source as `Any`, to take back as `S`.
        let source: Option<Box<dyn Any + Send>> =
            self.source.take().map(|source| source as Box<dyn Any + Send>);
        match source.map(<Box<dyn Any + Send>>::downcast::<S>) {
            Some(Ok(source)) => *source,
            _ => unreachable!("a session's source is the one its attach was given (see take_source)"),
        }
    }
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
