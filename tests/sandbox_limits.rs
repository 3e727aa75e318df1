//! The sandbox's own limits, each as an obeyed/violated pair: an organization's override only
//! lowers a limit; a guest that spins yields its runtime worker on every epoch tick and still
//! hits its deadline; a strategy's log lines reach the host's log, tagged, within the budget;
//! and the host's own failure while answering a strategy is the host's (503 `DATABASE`), not
//! the strategy's.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use spoke_batches::engine::{EngineError, Policy as _, Sandboxed};
use spoke_batches::filter::ContactFilter;
use spoke_batches::model::Role;
use spoke_batches::sandbox::{FailureKind, LimitOverrides, Sandbox, SandboxLimits};
use spoke_batches::service::ApiError;
use spoke_batches::source::{ContactSource, SourceError};
use support::contacts::Contacts;
use support::{Scenario, loaded, test_limits};

/// A `hostile` request whose campaign title picks the misbehaviour.
fn hostile(mode: &str) -> Scenario {
    let mut scenario = Scenario::new().with(Contacts::new(20).in_zone("-5_1"));
    scenario.campaign.title = mode.to_string();
    scenario
}

/// Runs `request-new-batch-count` of `hostile` in `mode` through the engine's seam, under the
/// test limits with an organization's `overrides`.
async fn hostile_under(overrides: LimitOverrides, mode: &str) -> Result<u32, FailureKind> {
    let policy = Sandboxed(loaded().await.get("hostile"));
    let scenario = hostile(mode);
    let instance = policy.start(&overrides).await.map_err(|failure| failure.kind)?;
    let mut session = instance.attach(scenario.source());
    let count = session
        .request_new_batch_count(&scenario.request())
        .await
        .map(|report| report.value)
        .map_err(|failure| failure.kind);
    drop(session.finish());
    count
}

#[tokio::test]
async fn an_organization_may_lower_the_fuel_limit() {
    let lowered = LimitOverrides {
        fuel_per_call: Some(1_000_000),
        ..LimitOverrides::default()
    };
    assert_eq!(
        hostile_under(lowered, "loop").await,
        Err(FailureKind::OutOfFuel { limit: 1_000_000 })
    );
}

#[tokio::test]
async fn an_organization_cannot_raise_fuel_or_the_deadline_above_the_process_setting() {
    // Features asking for 10^12 units and an hour: the loop still stops at the process's fuel.
    let raised = LimitOverrides {
        fuel_per_call: Some(1_000_000_000_000),
        deadline: Some(Duration::from_secs(3_600)),
        ..LimitOverrides::default()
    };
    let started = Instant::now();
    assert_eq!(
        hostile_under(raised, "loop").await,
        Err(FailureKind::OutOfFuel {
            limit: test_limits().fuel_per_call
        })
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // And a well-behaved call under the same overrides is unaffected.
    assert_eq!(hostile_under(LimitOverrides::default(), "ok").await, Ok(10));
}

/// Limits under which `hostile`'s loop spins until its deadline: fuel it cannot burn first.
fn spinning_limits(deadline: Duration) -> Arc<SandboxLimits> {
    Arc::new(SandboxLimits {
        fuel_per_call: u64::MAX / 4,
        deadline,
        ..test_limits()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_spinning_on_every_worker_leave_healthz_answering() {
    let db = support::db::TestDb::sqlite().await;
    let server = support::server::TestServer::start(&db, &[], None).await;
    let client = reqwest::Client::new();
    let healthz = server.url("/healthz");
    assert_eq!(client.get(&healthz).send().await.unwrap().status(), 200);

    let deadline = Duration::from_millis(1_500);
    let strategy = loaded().await.get("hostile");
    let started = Instant::now();
    let finished = Arc::new(AtomicUsize::new(0));
    let mut spinners = tokio::task::JoinSet::new();
    // Twice as many spinning guests as the runtime has workers.
    for _ in 0..4 {
        let (strategy, finished) = (Arc::clone(&strategy), Arc::clone(&finished));
        spinners.spawn(async move {
            let scenario = hostile("loop");
            let instance = strategy.prepare(spinning_limits(deadline)).await?;
            let mut session = instance.attach(scenario.source());
            let outcome = session.request_new_batch_count(&scenario.request()).await;
            finished.fetch_add(1, Ordering::SeqCst);
            outcome
        });
    }
    // Give them time to start spinning.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut answered = Vec::new();
    for _ in 0..5 {
        let asked = Instant::now();
        let response = client.get(&healthz).send().await.unwrap();
        assert_eq!(response.text().await.unwrap().trim(), "ok");
        answered.push(asked.elapsed());
    }
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "every probe was answered while all the guests were still spinning"
    );
    assert!(started.elapsed() < deadline);
    answered.sort();
    let median = answered[answered.len() / 2];
    assert!(
        median < Duration::from_millis(50),
        "/healthz took {answered:?} while guests spun"
    );
    // The spinning calls still fail with their deadline.
    while let Some(joined) = spinners.join_next().await {
        let failure = joined.unwrap().unwrap_err();
        assert_eq!(
            failure.kind,
            FailureKind::Deadline { limit: deadline },
            "{failure}"
        );
    }
}

/// Collects what a tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The JSON lines written by strategies.
    fn strategy_lines(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|line| line["target"] == "spoke_batches::strategy")
            .collect()
    }
}

#[tokio::test]
async fn strategy_log_lines_reach_the_host_log_tagged_and_within_the_budget() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    // This test's thread only (the current-thread runtime runs the call here).
    let _guard = tracing::subscriber::set_default(subscriber);

    let strategy = loaded().await.get("hostile");
    let scenario = hostile("log-flood");
    let mut session = strategy.start(scenario.source()).await.unwrap();
    session
        .request_new_batch_count(&scenario.request())
        .await
        .unwrap();
    let journal = session.finish().journal;

    let lines = captured.strategy_lines();
    // What was kept within the budget is logged, in order; what was dropped is not.
    assert!(journal.dropped_log_bytes > 0, "the flood exceeds the budget");
    assert_eq!(lines.len(), journal.logs.len());
    assert!(lines.len() < 900, "{} of 900 lines logged", lines.len());
    for (line, kept) in lines.iter().zip(&journal.logs) {
        assert_eq!(line["fields"]["message"], kept.message.as_str());
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["strategy"], "hostile");
        assert_eq!(line["fields"]["version"], strategy.version());
        assert_eq!(line["fields"]["assignment"], scenario.assignment.id);
    }
    assert_eq!(lines[0]["fields"]["message"], "line 0 of a flood of log lines");

    // A call that logs nothing adds no line.
    let quiet = hostile("ok");
    let mut session = strategy.start(quiet.source()).await.unwrap();
    session.request_new_batch_count(&quiet.request()).await.unwrap();
    assert_eq!(captured.strategy_lines().len(), journal.logs.len());
}

/// A data source whose every question fails with `error()`.
struct Failing(fn() -> SourceError);

#[async_trait::async_trait]
impl ContactSource for Failing {
    async fn count_contacts(
        &mut self,
        _filter: &ContactFilter,
        _cap: Option<u32>,
    ) -> Result<u32, SourceError> {
        Err((self.0)())
    }

    async fn any_contact(&mut self, _filter: &ContactFilter) -> Result<bool, SourceError> {
        Err((self.0)())
    }

    async fn assignment_user_has_role(&mut self, _role: Role) -> Result<bool, SourceError> {
        Err((self.0)())
    }
}

/// The database's failure when its pool is closed.
fn closed_database() -> SourceError {
    SourceError::Database(sqlx::Error::PoolClosed)
}

/// A sandbox of its own (its metrics count only this test's calls) with `name` loaded.
async fn alone(name: &str) -> (Arc<Sandbox>, Arc<spoke_batches::sandbox::StrategyComponent>) {
    let sandbox = Sandbox::new(test_limits()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let strategy = sandbox
        .load_file(&support::install(name, dir.path(), name))
        .await
        .unwrap();
    (sandbox, strategy)
}

#[tokio::test]
async fn a_database_failure_during_a_strategy_question_is_the_hosts_503_not_the_strategys() {
    let (sandbox, strategy) = alone("all-texters").await;
    let scenario = Scenario::new();
    let mut session = strategy.start(Failing(closed_database)).await.unwrap();
    let failure = session
        .request_new_batch_count(&scenario.request())
        .await
        .unwrap_err();
    let FailureKind::Host(host) = &failure.kind else {
        panic!("expected a host failure, got {failure}");
    };
    assert!(
        matches!(host.error(), SourceError::Database(sqlx::Error::PoolClosed)),
        "the database's own error is carried through the call, typed: {host}"
    );
    assert!(!failure.kind.blames_strategy());
    let error = EngineError::from(failure);
    assert!(
        matches!(error, EngineError::Database(sqlx::Error::PoolClosed)),
        "{error}"
    );
    assert_eq!(error.code(), "DATABASE");
    assert_eq!(ApiError::from(error).status(), StatusCode::SERVICE_UNAVAILABLE);
    let stats = sandbox.metrics().stats("all-texters");
    assert_eq!(
        (stats.calls, stats.failures),
        (3, 0),
        "name, display-name, the count"
    );
    assert!(
        !sandbox.metrics().encode().contains("kind=\"host\""),
        "no failure kind counts it"
    );
}

#[tokio::test]
async fn the_strategys_own_failure_stays_a_counted_422() {
    let (sandbox, strategy) = alone("hostile").await;
    let scenario = hostile("err");
    let mut session = strategy.start(scenario.source()).await.unwrap();
    let failure = session
        .request_new_batch_count(&scenario.request())
        .await
        .unwrap_err();
    let error = EngineError::from(failure);
    assert_eq!(error.code(), "STRATEGY_FAILED");
    assert_eq!(ApiError::from(error).status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(sandbox.metrics().stats("hostile").failures, 1);
}

#[tokio::test]
async fn a_host_bug_during_a_strategy_question_is_internal_not_the_strategys() {
    // A source whose answer does not fit its question fails with a host error that is no
    // database's.
    let (sandbox, strategy) = alone("all-texters").await;
    let inconsistent = || SourceError::Inconsistent("a question got an answer of another kind".to_string());
    let mut session = strategy.start(Failing(inconsistent)).await.unwrap();
    let failure = session
        .request_new_batch_count(&Scenario::new().request())
        .await
        .unwrap_err();
    let FailureKind::Host(host) = &failure.kind else {
        panic!("expected a host failure, got {failure}");
    };
    assert!(matches!(host.error(), SourceError::Inconsistent(_)), "{host}");
    let error = EngineError::from(failure);
    assert_eq!(error.code(), "INTERNAL", "{error}");
    assert_eq!(sandbox.metrics().stats("all-texters").failures, 0);
}

// Obeyed twins of the limits: a call that goes up to a limit without crossing it succeeds, and
// the same call just past it fails with that limit's typed failure.

#[tokio::test]
async fn a_call_that_burns_just_its_fuel_succeeds_and_one_percent_less_fuel_stops_it() {
    let (report, _) = hostile("burn:500000").count_report("hostile").await.unwrap();
    let burned = report.fuel_used;
    assert!(
        burned > 1_000_000 && burned < test_limits().fuel_per_call,
        "{burned}"
    );
    let with_fuel = |fuel| LimitOverrides {
        fuel_per_call: Some(fuel),
        ..LimitOverrides::default()
    };
    assert_eq!(hostile_under(with_fuel(burned), "burn:500000").await, Ok(0));
    let short = burned * 99 / 100;
    assert_eq!(
        hostile_under(with_fuel(short), "burn:500000").await,
        Err(FailureKind::OutOfFuel { limit: short })
    );
}

#[tokio::test]
async fn a_call_making_as_many_host_calls_as_allowed_succeeds_and_one_more_fails() {
    let limit = test_limits().host_calls_per_call;
    assert_eq!(
        hostile_under(LimitOverrides::default(), &format!("host-calls:{limit}")).await,
        Ok(1)
    );
    assert_eq!(
        hostile_under(LimitOverrides::default(), &format!("host-calls:{}", limit + 1)).await,
        Err(FailureKind::TooManyHostCalls { limit })
    );
}

#[tokio::test]
async fn memory_grown_to_the_limit_succeeds_and_one_page_more_fails() {
    const PAGE: usize = 65_536;
    let limit = test_limits().memory_bytes;
    assert_eq!(
        hostile_under(LimitOverrides::default(), &format!("memory-to:{limit}")).await,
        Ok(u32::try_from(limit / PAGE).unwrap())
    );
    assert_eq!(
        hostile_under(LimitOverrides::default(), &format!("memory-to:{}", limit + PAGE)).await,
        Err(FailureKind::Memory {
            desired: limit + PAGE,
            limit
        })
    );
}
