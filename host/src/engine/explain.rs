//! The trace of one batch request, for `explain` and `replay`: what the strategy asked the host
//! and was answered, what it logged, what it counted, how the host clamped that, and why the
//! texter got what they got.

use serde::Serialize;

use crate::sandbox::{CallJournal, HostCall, LogLine};

/// Why a request ended as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Contacts were assigned (or would be, in a dry run).
    Assigned,
    /// The assignment's `max_contacts` is 0.
    MaxContactsZero,
    /// No enabled strategy is loaded for the campaign.
    NoStrategy,
    /// The strategy answered 0: the texter is not eligible now.
    StrategySaidZero,
    /// The texter already holds `max_contacts`.
    MaxContactsReached,
    /// The campaign requires finishing the current batch first, and the texter has not.
    MustFinishCurrent,
    /// The strategy's batch query has a limit of 0.
    BatchQueryLimitZero,
    /// The batch query matched no contact.
    NothingMatched,
}

impl Decision {
    /// The reason in words.
    pub fn explanation(self) -> &'static str {
        match self {
            Decision::Assigned => "contacts were assigned",
            Decision::MaxContactsZero => "the assignment's max_contacts is 0",
            Decision::NoStrategy => "no enabled strategy is loaded for this campaign",
            Decision::StrategySaidZero => "the strategy answered 0: this texter may not get contacts now",
            Decision::MaxContactsReached => "the texter already holds max_contacts contacts",
            Decision::MustFinishCurrent => {
                "the campaign requires finishing the current batch first (per-campaign-bulk-send)"
            }
            Decision::BatchQueryLimitZero => "the strategy's batch query has a limit of 0",
            Decision::NothingMatched => "no contact matched the batch query",
        }
    }
}

/// Everything `explain` shows about one request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trace {
    /// The strategy that decided.
    pub strategy: Option<String>,
    /// Its version (first 12 hex digits of its SHA-256).
    pub version: Option<String>,
    /// The count the strategy answered.
    pub strategy_count: Option<u32>,
    /// The cap the host gave the strategy for its counts.
    pub count_cap: Option<u32>,
    /// Contacts the assignment held before.
    pub contacts_count: Option<i64>,
    /// The batch size after clamping by the texter's number, batch_size and max_contacts.
    pub batch_size: Option<u32>,
    /// Every question the strategy asked, with the answers.
    pub host_calls: Vec<HostCall>,
    /// How many of those questions were answered from the statement sent ahead with the
    /// texter's contact count (the questions this strategy version asked last time), without
    /// a round trip of their own.
    pub answered_ahead: u32,
    /// For each of `host_calls`, in the same order: how long its answer took and whether it
    /// came from the statement sent ahead.
    pub host_call_times: Vec<HostCallTime>,
    /// What the strategy logged.
    pub logs: Vec<LogLine>,
    /// Fuel the strategy burned in all.
    pub fuel_used: u64,
    /// Why the request ended as it did.
    pub decision: Decision,
    /// The decision in words.
    pub reason: &'static str,
    /// The contacts assigned (or that would be, in a dry run).
    pub contact_ids: Vec<i64>,
    /// Whether the transaction was rolled back (explain and replay never change anything).
    pub dry_run: bool,
}

impl Trace {
    pub(super) fn new(dry_run: bool) -> Self {
        Trace {
            strategy: None,
            version: None,
            strategy_count: None,
            count_cap: None,
            contacts_count: None,
            batch_size: None,
            host_calls: Vec::new(),
            answered_ahead: 0,
            host_call_times: Vec::new(),
            logs: Vec::new(),
            fuel_used: 0,
            decision: Decision::NothingMatched,
            reason: Decision::NothingMatched.explanation(),
            contact_ids: Vec::new(),
            dry_run,
        }
    }

    pub(super) fn decide(&mut self, decision: Decision) {
        self.decision = decision;
        self.reason = decision.explanation();
    }

    /// Records what the strategy asked and logged, each question with how long its answer
    /// took and whether it was answered ahead (`answered_ahead`, in the order asked).
    pub(super) fn record(&mut self, journal: &CallJournal, answered_ahead: &[bool]) {
        self.host_calls = journal.host_calls.clone();
        self.logs = journal.logs.clone();
        self.answered_ahead = answered_ahead.iter().filter(|&&ahead| ahead).count() as u32;
        self.host_call_times = (0..journal.host_calls.len())
            .map(|index| HostCallTime {
                micros: journal.host_call_micros.get(index).copied(),
                ahead: answered_ahead.get(index).copied().unwrap_or(false),
            })
            .collect();
    }
}

/// How one of a strategy's questions was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostCallTime {
    /// How long the answer took, in microseconds (from the call into the host to its answer).
    pub micros: Option<u64>,
    /// Whether it came from the statement sent ahead, without a round trip of its own.
    pub ahead: bool,
}
