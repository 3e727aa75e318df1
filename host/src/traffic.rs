//! The last hour of batch requests in this process, minute by minute, for the dashboard: how
//! many ended in each outcome, their latency's median and p99, and how many contacts each
//! campaign handed out. Kept in memory and bounded: [`MINUTES`] minutes, each with at most
//! [`SAMPLES`] latencies (a uniform sample of the minute's requests once it has more).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rand::Rng;
use serde::Serialize;

/// How many minutes are kept.
pub const MINUTES: usize = 60;

/// The most latencies kept for one minute.
pub const SAMPLES: usize = 1_024;

/// How a batch request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Contacts were assigned.
    Assigned,
    /// It succeeded and assigned nothing (nothing to give, the strategy said zero, a limit).
    Nothing,
    /// It was refused before or without running a strategy (not found, forbidden, bad input,
    /// an unknown batch type).
    Refused,
    /// The strategy failed, or was enabled but failed to load.
    StrategyFailed,
    /// The host failed: the database, a timeout, an internal error.
    Failed,
}

impl Outcome {
    /// The outcome's label in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Assigned => "assigned",
            Outcome::Nothing => "nothing",
            Outcome::Refused => "refused",
            Outcome::StrategyFailed => "strategy-failed",
            Outcome::Failed => "failed",
        }
    }
}

/// One minute's figures, as the dashboard's data gives them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteSummary {
    /// The minute's first instant.
    pub minute: DateTime<Utc>,
    /// Requests that assigned contacts.
    pub assigned: u64,
    /// Requests that assigned nothing.
    pub nothing: u64,
    /// Requests refused.
    pub refused: u64,
    /// Requests whose strategy failed.
    pub strategy_failed: u64,
    /// Requests the host failed.
    pub failed: u64,
    /// Median latency of the minute's requests, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: Option<f64>,
    /// Contacts handed out, by campaign id.
    pub contacts_by_campaign: BTreeMap<i64, u64>,
    /// Batches handed out (requests that assigned contacts), by campaign id.
    pub batches_by_campaign: BTreeMap<i64, u64>,
}

#[derive(Debug)]
struct Minute {
    /// Unix minute (seconds / 60).
    index: i64,
    outcomes: [u64; 5],
    latencies: Vec<f64>,
    seen: u64,
    contacts: BTreeMap<i64, u64>,
    batches: BTreeMap<i64, u64>,
}

impl Minute {
    fn new(index: i64) -> Self {
        Minute {
            index,
            outcomes: [0; 5],
            latencies: Vec::new(),
            seen: 0,
            contacts: BTreeMap::new(),
            batches: BTreeMap::new(),
        }
    }

    fn summary(&self) -> MinuteSummary {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted.get(rank - 1).copied()
        };
        let [assigned, nothing, refused, strategy_failed, failed] = self.outcomes;
        MinuteSummary {
            minute: Utc.timestamp_opt(self.index * 60, 0).single().unwrap_or_default(),
            assigned,
            nothing,
            refused,
            strategy_failed,
            failed,
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
            contacts_by_campaign: self.contacts.clone(),
            batches_by_campaign: self.batches.clone(),
        }
    }
}

/// The last hour of batch requests.
#[derive(Debug, Default)]
pub struct Traffic {
    minutes: Mutex<VecDeque<Minute>>,
}

impl Traffic {
    /// Counts a batch request that ended at `at` with `outcome` after `latency`.
    pub fn record(&self, at: DateTime<Utc>, outcome: Outcome, latency: Duration) {
        self.with_minute(at, |minute| {
            minute.outcomes[outcome as usize] += 1;
            minute.seen += 1;
            let ms = latency.as_secs_f64() * 1e3;
            if minute.latencies.len() < SAMPLES {
                minute.latencies.push(ms);
            } else {
                // Reservoir sampling: each of the minute's requests is kept with equal chance.
                let slot = rand::rng().random_range(0..minute.seen);
                if let Some(kept) = minute.latencies.get_mut(slot as usize) {
                    *kept = ms;
                }
            }
        });
    }

    /// Counts a batch of `contacts` handed out by `campaign` at `at`.
    pub fn record_batch(&self, at: DateTime<Utc>, campaign: i64, contacts: u64) {
        self.with_minute(at, |minute| {
            *minute.contacts.entry(campaign).or_default() += contacts;
            *minute.batches.entry(campaign).or_default() += 1;
        });
    }

    /// The minutes of the last hour before `now` that saw a request, oldest first.
    pub fn last_hour(&self, now: DateTime<Utc>) -> Vec<MinuteSummary> {
        let oldest = minute_index(now) - MINUTES as i64 + 1;
        let minutes = self
            .minutes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        minutes
            .iter()
            .filter(|minute| minute.index >= oldest)
            .map(Minute::summary)
            .collect()
    }

    fn with_minute(&self, at: DateTime<Utc>, change: impl FnOnce(&mut Minute)) {
        let index = minute_index(at);
        let mut minutes = self
            .minutes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Requests end in time order, give or take a clock step; a late one joins its minute
        // if that is still kept, else the newest.
        let position = match minutes.iter().rposition(|minute| minute.index <= index) {
            Some(position) if minutes[position].index == index => position,
            _ if minutes.back().is_none_or(|newest| newest.index < index) => {
                minutes.push_back(Minute::new(index));
                minutes.len() - 1
            }
            _ => minutes.len() - 1,
        };
        change(&mut minutes[position]);
        while minutes.len() > MINUTES {
            minutes.pop_front();
        }
    }
}

fn minute_index(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64, second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 / 60 * 60 + minute * 60 + second, 0)
            .unwrap()
    }

    #[test]
    fn requests_are_counted_by_minute_and_outcome_with_their_latencies() {
        let traffic = Traffic::default();
        for ms in 1..=100 {
            traffic.record(at(0, 10), Outcome::Assigned, Duration::from_millis(ms));
        }
        traffic.record(at(0, 59), Outcome::Refused, Duration::from_millis(1));
        traffic.record(at(1, 0), Outcome::StrategyFailed, Duration::from_millis(7));
        traffic.record_batch(at(1, 5), 10, 25);
        traffic.record_batch(at(1, 6), 10, 5);
        let hour = traffic.last_hour(at(1, 30));
        assert_eq!(hour.len(), 2);
        assert_eq!((hour[0].assigned, hour[0].refused, hour[0].nothing), (100, 1, 0));
        assert_eq!(hour[0].p50_ms, Some(50.0));
        assert_eq!(hour[0].p99_ms, Some(99.0));
        assert_eq!(hour[1].strategy_failed, 1);
        assert_eq!(hour[1].contacts_by_campaign, BTreeMap::from([(10, 30)]));
        assert_eq!(hour[1].batches_by_campaign, BTreeMap::from([(10, 2)]));
        assert_eq!(hour[1].minute, at(1, 0));
    }

    #[test]
    fn only_the_last_hour_is_kept_and_a_minute_keeps_a_bounded_sample() {
        let traffic = Traffic::default();
        for minute in 0..90 {
            traffic.record(at(minute, 0), Outcome::Nothing, Duration::from_millis(2));
        }
        let hour = traffic.last_hour(at(89, 0));
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(hour[0].minute, at(30, 0));
        assert!(traffic.last_hour(at(200, 0)).is_empty(), "an hour later, nothing");
        for _ in 0..3 * SAMPLES {
            traffic.record(at(89, 1), Outcome::Assigned, Duration::from_millis(3));
        }
        let minutes = traffic.minutes.lock().unwrap();
        let newest = minutes.back().unwrap();
        assert_eq!(newest.latencies.len(), SAMPLES);
        assert_eq!(newest.outcomes[Outcome::Assigned as usize], 3 * SAMPLES as u64);
    }

    #[test]
    fn a_late_request_joins_its_minute() {
        let traffic = Traffic::default();
        traffic.record(at(0, 0), Outcome::Assigned, Duration::from_millis(1));
        traffic.record(at(1, 0), Outcome::Assigned, Duration::from_millis(1));
        traffic.record(at(0, 30), Outcome::Nothing, Duration::from_millis(1));
        let hour = traffic.last_hour(at(1, 0));
        assert_eq!((hour[0].assigned, hour[0].nothing), (1, 1));
        assert_eq!((hour[1].assigned, hour[1].nothing), (1, 0));
    }
}
