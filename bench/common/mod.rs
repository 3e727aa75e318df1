//! What the benchmarks share: statistics, the results files, the benchmark databases (seeded
//! by the project's own `seed` command) and `vetted-texters` compiled natively.
#![allow(dead_code)] // Each benchmark binary uses its own part of this module.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;
use spoke_batches::engine::{BatchRequest, Caller, Engine, NativeSession, Policy, PolicyInstance};
use spoke_batches::filter::{AssignmentScope, ContactFilter, ContactSelection, StatusFilter, TimezoneScope};
use spoke_batches::model::Role;
use spoke_batches::sandbox::{
    BatchPlan, CallJournal, CallReport, HostCall, LimitOverrides, StrategyFailure, StrategyRequest,
};
use spoke_batches::source::{ContactSource, SourceError};

/// A single-threaded runtime: one request at a time, measured without cross-thread wake-ups.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The PostgreSQL server the benchmarks use (`BENCH_DATABASE_URL`, else the local one).
pub fn postgres_server() -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A fresh, empty schema `name` on the benchmark server (dropped first if a previous run left
/// it); returns a URL whose connections use it.
pub async fn fresh_postgres_schema(name: &str) -> Result<String, sqlx::Error> {
    let server = postgres_server();
    let pool = sqlx::PgPool::connect(&server).await?;
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
    ))
    .execute(&pool)
    .await?;
    pool.close().await;
    let separator = if server.contains('?') { '&' } else { '?' };
    Ok(format!("{server}{separator}options=-c%20search_path%3D{name}"))
}

/// Drops schema `name` from the benchmark server, so that no autovacuum of its tables runs
/// under the next benchmark.
pub async fn drop_postgres_schema(name: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(&postgres_server()).await {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

/// A fresh SQLite file `name` under the system's temporary folder.
pub fn fresh_sqlite_file(name: &str) -> String {
    let dir = std::env::temp_dir().join("spoke-batches-bench");
    let _ = std::fs::create_dir_all(&dir);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
    }
    format!("sqlite://{}", dir.join(name).display())
}

/// The `spoke-batches` binary built with the benchmarks.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_spoke-batches")
}

/// The one JSON object `spoke-batches serve` prints on stdout once it listens (`child` was
/// spawned with a piped stdout).
pub fn announcement(child: &mut Child) -> Value {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the serve line");
    serde_json::from_str(&line).expect("serve prints JSON")
}

/// The built strategy components (`make strategies`).
pub fn strategies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../strategies/dist")
}

/// Seeds a demo with the project's `seed` command and returns its JSON summary.
pub fn seed(database_url: &str, contacts: u64, texters: u32, add: bool) -> Value {
    let mut command = Command::new(binary());
    command
        .args(["--database-url", database_url, "seed", "--quiet"])
        .args([
            "--contacts",
            &contacts.to_string(),
            "--texters",
            &texters.to_string(),
        ]);
    if add {
        command.arg("--add");
    }
    let started = Instant::now();
    let output = command.output().expect("run spoke-batches seed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "seed failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "seeded {contacts} contacts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    serde_json::from_str(&stdout).expect("seed prints JSON")
}

/// `(assignment id, user id)` of texter `index` in a seed summary (0 is the admin, 1 and 2 are
/// vetted texters, 7.. are the `--texters` ones).
pub fn texter(summary: &Value, index: usize) -> (i64, i64) {
    let texter = &summary["texters"][index];
    (
        texter["assignmentId"].as_i64().expect("assignmentId"),
        texter["userId"].as_i64().expect("userId"),
    )
}

/// A batch request for `assignment_id` by the operator, a full batch, now.
pub fn batch(assignment_id: i64) -> BatchRequest {
    BatchRequest {
        assignment_id,
        caller: Caller::Operator,
        number_contacts: None,
        batch_type: None,
        now: Utc::now(),
    }
}

/// Times one engine request that must assign a full batch.
pub async fn timed_batch(engine: &Engine, assignment_id: i64, policy: Option<&Arc<dyn Policy>>) -> Duration {
    let started = Instant::now();
    let outcome = match policy {
        Some(policy) => {
            engine
                .request_batch_with(batch(assignment_id), Arc::clone(policy))
                .await
        }
        None => engine.request_batch(batch(assignment_id)).await,
    }
    .expect("batch request");
    let elapsed = started.elapsed();
    assert_eq!(outcome.assigned, 100, "a full batch: {outcome:?}");
    elapsed
}

/// Two contenders' latencies and the ratio of their medians in each round.
pub struct Interleaved {
    /// The first contender's latencies.
    pub first: Vec<Duration>,
    /// The second's.
    pub second: Vec<Duration>,
    /// Each round's first median over its second median.
    pub round_ratios: Vec<f64>,
}

/// Full batches for `assignment` deciding with `first` and with `second` in turn: `rounds`
/// rounds of `per_round` requests each (which goes first alternates), after a warm-up; the
/// round's batches are released after it (not timed), so the campaign keeps its size.
pub async fn interleave(
    engine: &Engine,
    assignment: i64,
    first: &Arc<dyn Policy>,
    second: &Arc<dyn Policy>,
    rounds: usize,
    per_round: usize,
) -> Interleaved {
    for _ in 0..4 {
        timed_batch(engine, assignment, Some(first)).await;
        timed_batch(engine, assignment, Some(second)).await;
    }
    let mut result = Interleaved {
        first: Vec::new(),
        second: Vec::new(),
        round_ratios: Vec::new(),
    };
    for round in 0..rounds {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for turn in 0..2 {
            let first_turn = (round + turn) % 2 == 0;
            for _ in 0..per_round {
                if first_turn {
                    a.push(timed_batch(engine, assignment, Some(first)).await);
                } else {
                    b.push(timed_batch(engine, assignment, Some(second)).await);
                }
            }
        }
        result
            .round_ratios
            .push(Spread::of_ms(&a).p50 / Spread::of_ms(&b).p50);
        result.first.extend(a);
        result.second.extend(b);
        engine
            .release(assignment, Caller::Operator, false)
            .await
            .expect("release");
    }
    result
}

/// Percentiles of a sample.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
    pub count: usize,
}

impl Spread {
    /// The percentiles of `values` (nearest rank).
    pub fn of(values: &[f64]) -> Spread {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        };
        Spread {
            p25: at(0.25),
            p50: at(0.50),
            p75: at(0.75),
            p90: at(0.90),
            p99: at(0.99),
            count: sorted.len(),
        }
    }

    /// Of durations, in milliseconds.
    pub fn of_ms(durations: &[Duration]) -> Spread {
        Spread::of(
            &durations
                .iter()
                .map(|d| d.as_secs_f64() * 1e3)
                .collect::<Vec<_>>(),
        )
    }
}

/// Every order of `n` contenders (each a permutation of `0..n`). Taking one order per round,
/// each contender runs in every position and right after each of the others equally often, so
/// what the one before leaves behind (warm caches, a full-table scan) weighs on all alike.
pub fn every_order(n: usize) -> Vec<Vec<usize>> {
    let mut orders = vec![Vec::new()];
    for contender in 0..n {
        orders = orders
            .into_iter()
            .flat_map(|order: Vec<usize>| {
                (0..=order.len()).map(move |at| {
                    let mut longer = order.clone();
                    longer.insert(at, contender);
                    longer
                })
            })
            .collect();
    }
    orders
}

/// Writes one benchmark's section of `bench/RESULTS.md` (and prints it).
pub fn write_section(file: &str, markdown: &str) {
    println!("{markdown}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/out");
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(out.join(file), markdown);
    }
}

/// `vetted-texters`' rules compiled natively, behind the engine's [`Policy`] seam. Its session
/// records its questions in the journal as a component's does, so the engine asks them ahead
/// for it too and the two contenders send the same statements.
pub struct NativeVettedTexters;

/// A session of [`NativeVettedTexters`]: it asks the source the engine lends each call.
pub struct NativeVettedSession {
    journal: CallJournal,
}

/// `vetted-texters`' `request-new-batch-count`, natively.
pub async fn vetted_texters_count(request: &StrategyRequest, source: &mut dyn ContactSource) -> u32 {
    let campaign = &request.campaign;
    if !campaign.use_dynamic_assignment || campaign.is_archived {
        return 0;
    }
    if request.assignment.max_contacts == Some(0) || campaign.batch_size.unwrap_or(0) == 0 {
        return 0;
    }
    if !source
        .assignment_user_has_role(Role::VettedTexter)
        .await
        .unwrap_or(false)
    {
        let previous = ContactFilter {
            status: StatusFilter::Any,
            assignment: AssignmentScope::ThisAssignment,
            opted_out: None,
            timezone: TimezoneScope::Any,
        };
        if source.any_contact(&previous).await.unwrap_or(true) {
            return 0;
        }
    }
    let available = ContactFilter::available();
    if request.has_any {
        return u32::from(source.any_contact(&available).await.unwrap_or(false));
    }
    source
        .count_contacts(&available, Some(request.count_cap))
        .await
        .unwrap_or(0)
}

/// A source that records each question and its answer, as the sandbox's host imports do.
struct Recording<'a> {
    source: &'a mut dyn ContactSource,
    calls: &'a mut Vec<HostCall>,
}

#[async_trait]
impl ContactSource for Recording<'_> {
    async fn count_contacts(&mut self, filter: &ContactFilter, cap: Option<u32>) -> Result<u32, SourceError> {
        let answer = self.source.count_contacts(filter, cap).await?;
        self.calls.push(HostCall::CountContacts {
            filter: filter.clone(),
            cap,
            answer,
        });
        Ok(answer)
    }

    async fn any_contact(&mut self, filter: &ContactFilter) -> Result<bool, SourceError> {
        let answer = self.source.any_contact(filter).await?;
        self.calls.push(HostCall::AnyContact {
            filter: filter.clone(),
            answer,
        });
        Ok(answer)
    }

    async fn assignment_user_has_role(&mut self, role: Role) -> Result<bool, SourceError> {
        let answer = self.source.assignment_user_has_role(role).await?;
        self.calls.push(HostCall::AssignmentUserHasRole { role, answer });
        Ok(answer)
    }
}

#[async_trait]
impl Policy for NativeVettedTexters {
    fn name(&self) -> &str {
        "vetted-texters"
    }

    fn version(&self) -> &str {
        "native"
    }

    async fn start(&self, _overrides: &LimitOverrides) -> Result<PolicyInstance, StrategyFailure> {
        Ok(PolicyInstance::native(Box::new(NativeVettedSession {
            journal: CallJournal::default(),
        })))
    }
}

#[async_trait]
impl NativeSession for NativeVettedSession {
    async fn request_new_batch_count(
        &mut self,
        request: &StrategyRequest,
        source: &mut (dyn ContactSource + '_),
    ) -> Result<CallReport<u32>, StrategyFailure> {
        let started = Instant::now();
        let mut recording = Recording {
            source,
            calls: &mut self.journal.host_calls,
        };
        let value = vetted_texters_count(request, &mut recording).await;
        Ok(CallReport {
            value,
            fuel_used: 0,
            duration: started.elapsed(),
        })
    }

    async fn select_contacts(
        &mut self,
        _request: &StrategyRequest,
        _plan: BatchPlan,
        _source: &mut (dyn ContactSource + '_),
    ) -> Result<CallReport<ContactSelection>, StrategyFailure> {
        Ok(CallReport {
            value: ContactSelection::default(),
            fuel_used: 0,
            duration: Duration::ZERO,
        })
    }

    fn journal(&self) -> &CallJournal {
        &self.journal
    }

    fn take_journal(&mut self) -> CallJournal {
        std::mem::take(&mut self.journal)
    }
}
