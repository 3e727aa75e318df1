//! The host functions a strategy calls, in the host's version-free types (each WIT version's
//! bindings forward to these): its questions answered from the attached [`ContactSource`]
//! under the per-call host-call budget, its log lines kept within the log budget, and the
//! typed errors a host function raises to end the call (told apart after it by type). A
//! source's own [`SourceError`] is raised as it is, so the call's failure stays the host's.
//!
//! [`ContactSource`]: crate::source::ContactSource

use std::time::Instant;

use super::journal::{HostCall, LogLine};
use super::state::CallState;
use super::validate::UncheckedFilter;
use crate::model::Role;
use crate::source::SourceError;

/// Raised when the strategy exceeds its host-call budget.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} host calls")]
pub(super) struct HostCallLimit(pub(super) u32);

/// Raised when the strategy passed a value the host refuses.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct InvalidArgument(pub(super) String);

/// Raised when the strategy asks a question while it is being instantiated: there is no
/// request yet to answer about.
#[derive(Debug, thiserror::Error)]
#[error("it asked the host a question while being instantiated, before any request")]
pub(super) struct AskedWhileInstantiated;

/// Counts a host call against the budget, refusing it past the limit.
pub(super) fn charge_host_call(state: &mut CallState) -> wasmtime::Result<()> {
    state.host_calls_this_call += 1;
    if state.host_calls_this_call > state.limits.host_calls_per_call {
        return Err(wasmtime::Error::new(HostCallLimit(
            state.limits.host_calls_per_call,
        )));
    }
    Ok(())
}

/// The filter a strategy sent, validated.
fn checked(state: &CallState, filter: UncheckedFilter) -> wasmtime::Result<crate::filter::ContactFilter> {
    filter
        .check(&state.limits)
        .map_err(|reason| wasmtime::Error::new(InvalidArgument(reason)))
}

fn source_failure(error: SourceError) -> wasmtime::Error {
    wasmtime::Error::new(error)
}

fn no_source() -> wasmtime::Error {
    wasmtime::Error::new(AskedWhileInstantiated)
}

/// `count-contacts`.
pub(super) async fn count_contacts(
    state: &mut CallState,
    filter: UncheckedFilter,
    cap: Option<u32>,
) -> wasmtime::Result<u32> {
    charge_host_call(state)?;
    let filter = checked(state, filter)?;
    let source = state.source().ok_or_else(no_source)?;
    let started = Instant::now();
    let answer = source
        .count_contacts(&filter, cap)
        .await
        .map_err(source_failure)?;
    record(state, HostCall::CountContacts { filter, cap, answer }, started);
    Ok(answer)
}

/// `any-contact`.
pub(super) async fn any_contact(state: &mut CallState, filter: UncheckedFilter) -> wasmtime::Result<bool> {
    charge_host_call(state)?;
    let filter = checked(state, filter)?;
    let source = state.source().ok_or_else(no_source)?;
    let started = Instant::now();
    let answer = source.any_contact(&filter).await.map_err(source_failure)?;
    record(state, HostCall::AnyContact { filter, answer }, started);
    Ok(answer)
}

/// `assignment-user-has-role`.
pub(super) async fn assignment_user_has_role(state: &mut CallState, role: Role) -> wasmtime::Result<bool> {
    charge_host_call(state)?;
    let source = state.source().ok_or_else(no_source)?;
    let started = Instant::now();
    let answer = source
        .assignment_user_has_role(role)
        .await
        .map_err(source_failure)?;
    record(state, HostCall::AssignmentUserHasRole { role, answer }, started);
    Ok(answer)
}

/// Journals a host call that was answered, with how long its answer took since `started`.
fn record(state: &mut CallState, call: HostCall, started: Instant) {
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    state.journal.host_calls.push(call);
    state.journal.host_call_micros.push(micros);
}

/// `log`, at `level` (`debug`, `info`, `warn` or `error`).
pub(super) fn log(state: &mut CallState, level: &'static str, message: String) -> wasmtime::Result<()> {
    charge_host_call(state)?;
    if state.log_bytes + message.len() > state.limits.log_bytes_per_call {
        state.journal.dropped_log_bytes += message.len();
        return Ok(());
    }
    state.log_bytes += message.len();
    state.log_tag.emit(level, &message);
    state.journal.logs.push(LogLine { level, message });
    Ok(())
}
