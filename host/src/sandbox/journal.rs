//! What a session records and reports: the strategy's questions with their answers, its log
//! lines ([`CallJournal`]), and what each call returned with its cost ([`CallReport`]).

use std::time::Duration;

use serde::Serialize;

use crate::filter::ContactFilter;
use crate::model::Role;

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
    /// How long each host call took to answer, in microseconds, in the same order.
    pub host_call_micros: Vec<u64>,
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
