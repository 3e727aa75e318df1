//! What the host counts about strategies and batch requests: Prometheus metrics
//! (`GET /metrics`), the recent latencies the dashboard shows as median and p99, and the last
//! hour of batch requests ([`Traffic`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::traffic::{Outcome, Traffic};

/// How many recent call latencies per strategy the dashboard statistics use.
const RECENT_CALLS: usize = 1_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    strategy: String,
    function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    strategy: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    strategy: String,
    mode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StrategyLabels {
    strategy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// One strategy's figures for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyStats {
    /// Calls made.
    pub calls: u64,
    /// Calls that failed (load failures not included).
    pub failures: u64,
    /// Load failures.
    pub load_failures: u64,
    /// Requests refused because it failed to load.
    pub unavailable: u64,
    /// Median latency of the recent calls, in microseconds.
    pub median_micros: Option<u64>,
    /// 99th percentile latency of the recent calls, in microseconds.
    pub p99_micros: Option<u64>,
    /// Failures by kind (the kinds of `spoke_batches_strategy_failures_total`, `load` included).
    pub failures_by_kind: BTreeMap<String, u64>,
    /// Median fuel burned by the recent calls.
    pub median_fuel: Option<u64>,
    /// 99th percentile fuel burned by the recent calls.
    pub p99_fuel: Option<u64>,
}

#[derive(Default)]
struct Recent {
    calls: u64,
    failures: u64,
    load_failures: u64,
    unavailable: u64,
    failures_by_kind: BTreeMap<String, u64>,
    latencies: VecDeque<u64>,
    fuel: VecDeque<u64>,
}

/// Appends `value` to the last [`RECENT_CALLS`] values.
fn keep_recent(values: &mut VecDeque<u64>, value: u64) {
    if values.len() == RECENT_CALLS {
        values.pop_front();
    }
    values.push_back(value);
}

/// The `p`-quantile of `values` (nearest rank), `None` when there are none.
fn quantile(values: &VecDeque<u64>, p: f64) -> Option<u64> {
    let mut sorted: Vec<u64> = values.iter().copied().collect();
    sorted.sort_unstable();
    let last = sorted.len().checked_sub(1)?;
    sorted.get(((last as f64) * p).round() as usize).copied()
}

/// The host's metrics.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    unavailable: Family<StrategyLabels, Counter>,
    durations: Family<StrategyLabels, Histogram, fn() -> Histogram>,
    fuel: Family<StrategyLabels, Histogram, fn() -> Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    batch_requests: Family<OutcomeLabels, Counter>,
    batch_durations: Histogram,
    contacts_assigned: Counter,
    recent: Mutex<BTreeMap<String, Recent>>,
    traffic: Traffic,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn duration_histogram() -> Histogram {
    // 10 µs to ~10 s.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 21))
}

fn fuel_histogram() -> Histogram {
    // 100 to ~10^10 units.
    Histogram::new(exponential_buckets(100.0, 4.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let calls = Family::<CallLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let unavailable = Family::<StrategyLabels, Counter>::default();
        let durations = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        let fuel = Family::new_with_constructor(fuel_histogram as fn() -> Histogram);
        let decisions = Family::<DecisionLabels, Counter>::default();
        let batch_requests = Family::<OutcomeLabels, Counter>::default();
        let batch_durations = duration_histogram();
        let contacts_assigned = Counter::default();
        registry.register(
            "spoke_batches_strategy_calls",
            "Calls into strategies",
            calls.clone(),
        );
        registry.register(
            "spoke_batches_strategy_failures",
            "Failed strategy calls and loads, by kind (trap, fuel, deadline, memory, error-result, \
             invalid-value, host-calls, busy, load); the host's own failures are not counted",
            failures.clone(),
        );
        registry.register(
            "spoke_batches_strategy_unavailable",
            "Requests refused because the strategy they would use is enabled but failed to load",
            unavailable.clone(),
        );
        registry.register(
            "spoke_batches_strategy_call_duration_seconds",
            "Wall-clock time of strategy calls, host calls included",
            durations.clone(),
        );
        registry.register(
            "spoke_batches_strategy_fuel_used",
            "Fuel burned per strategy call",
            fuel.clone(),
        );
        registry.register(
            "spoke_batches_decisions",
            "Decisions answered to a Spoke bridge (POST /v1/assignments/{id}/decision), by strategy \
             and mode (batch, has-any)",
            decisions.clone(),
        );
        registry.register(
            "spoke_batches_batch_requests",
            "Batch requests (findNewCampaignContact) by outcome: assigned, nothing, refused, \
             strategy-failed, failed",
            batch_requests.clone(),
        );
        registry.register(
            "spoke_batches_batch_request_duration_seconds",
            "Wall-clock time of batch requests, from the engine's start to its answer",
            batch_durations.clone(),
        );
        registry.register(
            "spoke_batches_contacts_assigned",
            "Contacts handed out by batch requests",
            contacts_assigned.clone(),
        );
        Metrics {
            registry,
            calls,
            failures,
            unavailable,
            durations,
            fuel,
            decisions,
            batch_requests,
            batch_durations,
            contacts_assigned,
            recent: Mutex::default(),
            traffic: Traffic::default(),
        }
    }
}

impl Metrics {
    /// Records one call of `function` on `strategy`; `failure` is the failure kind's code.
    pub fn record_call(
        &self,
        strategy: &str,
        function: &str,
        duration: Duration,
        fuel: u64,
        failure: Option<&str>,
    ) {
        self.calls
            .get_or_create(&CallLabels {
                strategy: strategy.to_string(),
                function: function.to_string(),
            })
            .inc();
        let labels = StrategyLabels {
            strategy: strategy.to_string(),
        };
        self.durations
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
        self.fuel.get_or_create(&labels).observe(fuel as f64);
        if let Some(kind) = failure {
            self.count_failure(strategy, kind);
        }
        self.with_recent(strategy, |entry| {
            entry.calls += 1;
            entry.failures += u64::from(failure.is_some());
            keep_recent(
                &mut entry.latencies,
                u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            );
            keep_recent(&mut entry.fuel, fuel);
        });
    }

    /// Records that a call of `strategy` that returned was then refused (an `err` result or an
    /// invalid value); the call itself was recorded by [`Metrics::record_call`].
    pub fn record_refused(&self, strategy: &str, kind: &str) {
        self.count_failure(strategy, kind);
        self.with_recent(strategy, |entry| entry.failures += 1);
    }

    /// Records a decision `strategy` answered to a Spoke bridge in `mode`.
    pub fn record_decision(&self, strategy: &str, mode: &str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                strategy: strategy.to_string(),
                mode: mode.to_string(),
            })
            .inc();
    }

    /// Records a failed load of `strategy`.
    pub fn record_load_failure(&self, strategy: &str) {
        self.count_failure(strategy, "load");
        self.with_recent(strategy, |entry| entry.load_failures += 1);
    }

    /// Records a request refused because `strategy`, enabled for its campaign, failed to load.
    pub fn record_unavailable(&self, strategy: &str) {
        self.unavailable
            .get_or_create(&StrategyLabels {
                strategy: strategy.to_string(),
            })
            .inc();
        self.with_recent(strategy, |entry| entry.unavailable += 1);
    }

    fn count_failure(&self, strategy: &str, kind: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                strategy: strategy.to_string(),
                kind: kind.to_string(),
            })
            .inc();
        self.with_recent(strategy, |entry| {
            *entry.failures_by_kind.entry(kind.to_string()).or_default() += 1;
        });
    }

    /// Changes the dashboard figures of `strategy`.
    fn with_recent(&self, strategy: &str, change: impl FnOnce(&mut Recent)) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(recent.entry(strategy.to_string()).or_default());
    }

    /// Records a batch request that ended at `at` with `outcome` after `latency`.
    pub fn record_batch_request(
        &self,
        at: chrono::DateTime<chrono::Utc>,
        outcome: Outcome,
        latency: Duration,
    ) {
        self.batch_requests
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
        self.batch_durations.observe(latency.as_secs_f64());
        self.traffic.record(at, outcome, latency);
    }

    /// Records a batch of `contacts` handed out by `campaign` at `at`.
    pub fn record_batch_assigned(&self, at: chrono::DateTime<chrono::Utc>, campaign: i64, contacts: u64) {
        self.contacts_assigned.inc_by(contacts);
        self.traffic.record_batch(at, campaign, contacts);
    }

    /// The last hour of batch requests.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The dashboard figures of `strategy`.
    pub fn stats(&self, strategy: &str) -> StrategyStats {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(entry) = recent.get(strategy) else {
            return StrategyStats::default();
        };
        StrategyStats {
            calls: entry.calls,
            failures: entry.failures,
            load_failures: entry.load_failures,
            unavailable: entry.unavailable,
            median_micros: quantile(&entry.latencies, 0.5),
            p99_micros: quantile(&entry.latencies, 0.99),
            failures_by_kind: entry.failures_by_kind.clone(),
            median_fuel: quantile(&entry.fuel, 0.5),
            p99_fuel: quantile(&entry.fuel, 0.99),
        }
    }

    /// The metrics in the Prometheus (OpenMetrics) text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_failures_and_latencies_are_counted() {
        let metrics = Metrics::default();
        for micros in [10, 20, 30, 40, 1_000] {
            metrics.record_call(
                "all-texters",
                "request-new-batch-count",
                Duration::from_micros(micros),
                500,
                None,
            );
        }
        metrics.record_call(
            "all-texters",
            "select-contacts",
            Duration::from_micros(25),
            300,
            Some("trap"),
        );
        metrics.record_load_failure("broken");
        metrics.record_decision("all-texters", "has-any");
        metrics.record_decision("all-texters", "has-any");
        metrics.record_unavailable("broken");
        metrics.record_unavailable("broken");
        let stats = metrics.stats("all-texters");
        assert_eq!((stats.calls, stats.failures), (6, 1));
        assert_eq!(stats.median_micros, Some(30));
        assert_eq!(stats.p99_micros, Some(1_000));
        assert_eq!((stats.median_fuel, stats.p99_fuel), (Some(500), Some(500)));
        metrics.record_refused("all-texters", "error-result");
        let stats = metrics.stats("all-texters");
        assert_eq!(
            stats.failures_by_kind,
            BTreeMap::from([("error-result".to_string(), 1), ("trap".to_string(), 1)])
        );
        assert_eq!(stats.failures, 2);
        assert_eq!(metrics.stats("broken").load_failures, 1);
        assert_eq!(
            metrics.stats("broken").failures_by_kind,
            BTreeMap::from([("load".to_string(), 1)])
        );
        assert_eq!(metrics.stats("broken").unavailable, 2);
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"spoke_batches_strategy_calls_total{strategy="all-texters",function="select-contacts"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"spoke_batches_strategy_failures_total{strategy="broken",kind="load"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"spoke_batches_decisions_total{strategy="all-texters",mode="has-any"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"spoke_batches_strategy_unavailable_total{strategy="broken"} 2"#),
            "{text}"
        );
        assert!(
            text.contains("spoke_batches_strategy_call_duration_seconds_bucket"),
            "{text}"
        );
    }

    #[test]
    fn batch_requests_are_counted_for_prometheus_and_the_dashboards_traffic() {
        let metrics = Metrics::default();
        let now = chrono::Utc::now();
        metrics.record_batch_request(now, Outcome::Assigned, Duration::from_millis(4));
        metrics.record_batch_request(now, Outcome::Assigned, Duration::from_millis(6));
        metrics.record_batch_request(now, Outcome::StrategyFailed, Duration::from_millis(2));
        metrics.record_batch_assigned(now, 10, 200);
        let text = metrics.encode();
        for line in [
            r#"spoke_batches_batch_requests_total{outcome="assigned"} 2"#,
            r#"spoke_batches_batch_requests_total{outcome="strategy-failed"} 1"#,
            "spoke_batches_batch_request_duration_seconds_count 3",
            "spoke_batches_contacts_assigned_total 200",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        let hour = metrics.traffic().last_hour(now);
        assert_eq!(hour.len(), 1);
        assert_eq!((hour[0].assigned, hour[0].strategy_failed), (2, 1));
        assert_eq!(hour[0].contacts_by_campaign.get(&10), Some(&200));
    }

    #[test]
    fn the_grafana_dashboard_plots_only_metrics_the_service_exposes() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../grafana/spoke-batches.json")).expect("valid JSON");
        // One sample of every family, so each shows in the text.
        let metrics = Metrics::default();
        let now = chrono::Utc::now();
        metrics.record_call(
            "s",
            "request-new-batch-count",
            Duration::from_micros(5),
            10,
            Some("trap"),
        );
        metrics.record_unavailable("s");
        metrics.record_decision("s", "batch");
        metrics.record_batch_request(now, Outcome::Assigned, Duration::from_millis(3));
        metrics.record_batch_assigned(now, 1, 1);
        let exposed = metrics.encode();
        let mut plotted = 0;
        for panel in dashboard["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().expect("a PromQL expression");
                let names = expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|word| word.starts_with("spoke_batches_"));
                for name in names {
                    assert!(
                        exposed.lines().any(|line| line
                            .strip_prefix(name)
                            .is_some_and(|rest| rest.starts_with(['{', ' ']))),
                        "{name} (panel {}) is not in /metrics:\n{exposed}",
                        panel["title"]
                    );
                    plotted += 1;
                }
            }
        }
        assert!(plotted >= 10, "{plotted} series plotted");
    }
}
