//! The host imports a strategy calls (`spoke:batches/host`): its questions answered from the
//! session's [`ContactSource`] under the per-call host-call budget, its log lines kept within the
//! log budget and written to the host's log, and the typed errors an import raises to end the
//! call (told apart after it by downcasting).

use super::bindings;
use super::call::{CallState, HostCall, LogLine};
use crate::filter::ContactFilter;
use crate::model::Role;
use crate::source::ContactSource;

use super::bindings::v0_1_0::spoke::batches::{host as wit_host, types as wit};

/// The fields of a strategy's lines in the host's log.
pub(super) struct LogTag {
    /// The strategy's name.
    pub(super) strategy: String,
    /// Its version.
    pub(super) version: String,
    /// The assignment of the request being decided (none for the load-time probe).
    pub(super) assignment: Option<i64>,
}

/// Raised by a host import when the strategy exceeds its host-call budget.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} host calls")]
pub(super) struct HostCallLimit(pub(super) u32);

/// Raised by a host import when the strategy passed a value the host refuses.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct InvalidArgument(pub(super) String);

/// The source of a session not yet attached to a request's data: every question fails.
pub(super) struct Detached;

#[async_trait::async_trait]
impl ContactSource for Detached {
    async fn count_contacts(&mut self, _filter: &ContactFilter, _cap: Option<u32>) -> anyhow::Result<u32> {
        Err(Detached::error())
    }

    async fn any_contact(&mut self, _filter: &ContactFilter) -> anyhow::Result<bool> {
        Err(Detached::error())
    }

    async fn assignment_user_has_role(&mut self, _role: Role) -> anyhow::Result<bool> {
        Err(Detached::error())
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

impl Detached {
    fn error() -> anyhow::Error {
        anyhow::anyhow!("the session has no request data yet (a host bug: attach comes before any call)")
    }
}

/// Raised by a host import when the data source failed: the source's own error, carried
/// whole through the WebAssembly call and taken back out when the call is classified.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub(super) struct SourceFailure(pub(super) anyhow::Error);

impl CallState {
    fn charge_host_call(&mut self) -> wasmtime::Result<()> {
        self.host_calls_this_call += 1;
        if self.host_calls_this_call > self.limits.host_calls_per_call {
            return Err(wasmtime::Error::new(HostCallLimit(
                self.limits.host_calls_per_call,
            )));
        }
        Ok(())
    }

    fn filter(&self, filter: wit::ContactFilter) -> wasmtime::Result<ContactFilter> {
        bindings::contact_filter(filter, &self.limits)
            .map_err(|reason| wasmtime::Error::new(InvalidArgument(reason)))
    }
}

fn source_failure(error: anyhow::Error) -> wasmtime::Error {
    wasmtime::Error::new(SourceFailure(error))
}

impl wit::Host for CallState {}

impl wit_host::Host for CallState {
    async fn count_contacts(
        &mut self,
        filter: wit::ContactFilter,
        cap: Option<u32>,
    ) -> wasmtime::Result<u32> {
        self.charge_host_call()?;
        let filter = self.filter(filter)?;
        let answer = self
            .source
            .count_contacts(&filter, cap)
            .await
            .map_err(source_failure)?;
        self.journal
            .host_calls
            .push(HostCall::CountContacts { filter, cap, answer });
        Ok(answer)
    }

    async fn any_contact(&mut self, filter: wit::ContactFilter) -> wasmtime::Result<bool> {
        self.charge_host_call()?;
        let filter = self.filter(filter)?;
        let answer = self.source.any_contact(&filter).await.map_err(source_failure)?;
        self.journal
            .host_calls
            .push(HostCall::AnyContact { filter, answer });
        Ok(answer)
    }

    async fn assignment_user_has_role(&mut self, role: wit::Role) -> wasmtime::Result<bool> {
        self.charge_host_call()?;
        let role = Role::from(role);
        let answer = self
            .source
            .assignment_user_has_role(role)
            .await
            .map_err(source_failure)?;
        self.journal
            .host_calls
            .push(HostCall::AssignmentUserHasRole { role, answer });
        Ok(answer)
    }

    async fn log(&mut self, level: wit::LogLevel, message: String) -> wasmtime::Result<()> {
        self.charge_host_call()?;
        let level = match level {
            wit::LogLevel::Debug => "debug",
            wit::LogLevel::Info => "info",
            wit::LogLevel::Warn => "warn",
            wit::LogLevel::Error => "error",
        };
        if self.log_bytes + message.len() > self.limits.log_bytes_per_call {
            self.journal.dropped_log_bytes += message.len();
            return Ok(());
        }
        self.log_bytes += message.len();
        self.log_tag.emit(level, &message);
        self.journal.logs.push(LogLine { level, message });
        Ok(())
    }
}

impl LogTag {
    /// Writes a line the strategy logged (within its budget) to the host's log, at its level.
    fn emit(&self, level: &'static str, message: &str) {
        let LogTag {
            strategy,
            version,
            assignment,
        } = self;
        macro_rules! line {
            ($macro:ident) => {
                tracing::$macro!(
                    target: "spoke_batches::strategy",
                    strategy = %strategy,
                    version = %version,
                    assignment = *assignment,
                    "{message}"
                )
            };
        }
        match level {
            "debug" => line!(debug),
            "warn" => line!(warn),
            "error" => line!(error),
            _ => line!(info),
        }
    }
}
