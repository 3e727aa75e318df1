//! Benchmark 7: a batch request's latency by how many contacts its texter already holds.
//!
//! Contacts stay assigned after they are texted, so a busy texter in a big campaign holds tens
//! of thousands. On a 1,000,000-contact campaign (PostgreSQL and SQLite, each seeded by the
//! project's `seed` command), four texters hold 0, 1,000, 10,000 and 100,000 texted
//! (`messaged`) contacts; their requests run in interleaved rounds (one order per round, the
//! round's batches released after it, not timed), with `max_contacts` unset and then set (to
//! 1,000,000: the clamp is computed, never binding). A third pass runs with the engine told the
//! database keeps no holdings, so it counts the texter's contacts on every request as Spoke
//! does: the design this benchmark replaced, measured in the same run. Needs `make strategies`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use serde_json::Value;
use spoke_batches::db::Database;
use spoke_batches::engine::{Caller, Engine};
use spoke_batches::registry::{SharedRegistry, StrategyRegistry};
use spoke_batches::sandbox::{Sandbox, SandboxLimits};
use spoke_batches::spoke_config::Environment;

use common::{Spread, fresh_postgres_schema, fresh_sqlite_file, seed, texter, timed_batch};

/// How many texted contacts each of the four texters holds.
const HOLDINGS: [i64; 4] = [0, 1_000, 10_000, 100_000];
const ROUNDS: usize = 48;
const PER_ROUND: usize = 5;
const CONTACTS: u64 = 1_000_000;

fn main() {
    common::runtime().block_on(run());
}

/// One pass's latencies, per texter, and the rounds' ratios of the busiest texter's median
/// over the idle one's.
struct Pass {
    label: &'static str,
    samples: Vec<Vec<Duration>>,
    ratios: Vec<f64>,
}

async fn run() {
    let sandbox = Sandbox::new(SandboxLimits::default()).expect("sandbox");
    let registry = StrategyRegistry::load_dir(&sandbox, &common::strategies_dir())
        .await
        .expect("strategies folder (run `make strategies`)");
    let shared = SharedRegistry::new(registry);
    let engine_on = |db: Database| Engine::new(db, shared.clone(), Environment::from_process());

    let mut sections = Vec::new();
    match fresh_postgres_schema("bench_holdings").await {
        Ok(url) => {
            let summary = seed(&url, CONTACTS, 4, false);
            let db = Database::connect(&url).await.expect("connect");
            sections.push(("PostgreSQL", measure(&engine_on, db, &summary).await));
            common::drop_postgres_schema("bench_holdings").await;
        }
        Err(error) => eprintln!("PostgreSQL benchmark skipped: {error}"),
    }
    let url = fresh_sqlite_file("bench-holdings.sqlite");
    let summary = seed(&url, CONTACTS, 4, false);
    let db = Database::connect(&url).await.expect("connect");
    sections.push(("SQLite", measure(&engine_on, db, &summary).await));
    common::write_section("7-holdings.md", &section(&sections));
}

/// Gives each texter its holdings, then runs the three passes.
async fn measure(engine_on: &impl Fn(Database) -> Engine, db: Database, summary: &Value) -> Vec<Pass> {
    let campaign = summary["campaignId"].as_i64().expect("campaignId");
    let assignments: Vec<i64> = (0..HOLDINGS.len()).map(|i| texter(summary, 7 + i).0).collect();
    for (&assignment, &count) in assignments.iter().zip(&HOLDINGS) {
        // The campaign's last contacts, so the claim's first free contacts stay where they were.
        exec(
            &db,
            &format!(
                "UPDATE campaign_contact SET assignment_id = {assignment}, message_status = 'messaged' \
                 WHERE id IN (SELECT id FROM campaign_contact WHERE campaign_id = {campaign} \
                 AND assignment_id IS NULL ORDER BY id DESC LIMIT {count})"
            ),
        )
        .await;
    }
    exec(
        &db,
        match db {
            Database::Postgres(_) => "VACUUM ANALYZE",
            Database::Sqlite(_) => "ANALYZE",
        },
    )
    .await;
    let engine = engine_on(db.clone());
    let mut passes = vec![timed_pass(&engine, &assignments, "unset").await];
    exec(&db, &max_contacts(&assignments, "1000000")).await;
    passes.push(timed_pass(&engine, &assignments, "1,000,000").await);
    let counting = engine_on(db.clone());
    counting.know_holdings(false);
    let mut without = timed_pass(&counting, &assignments, "1,000,000").await;
    without.label = "1,000,000, counted on every request (no holdings table)";
    passes.push(without);
    exec(&db, &max_contacts(&assignments, "NULL")).await;
    if let Database::Postgres(pool) = &db {
        pool.close().await;
    }
    passes
}

fn max_contacts(assignments: &[i64], value: &str) -> String {
    let ids: Vec<String> = assignments.iter().map(i64::to_string).collect();
    format!(
        "UPDATE assignment SET max_contacts = {value} WHERE id IN ({})",
        ids.join(", ")
    )
}

async fn exec(db: &Database, sql: &str) {
    match db {
        Database::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Database::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
    .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

async fn timed_pass(engine: &Engine, assignments: &[i64], label: &'static str) -> Pass {
    for &assignment in assignments {
        for _ in 0..3 {
            timed_batch(engine, assignment, None).await;
        }
        release(engine, assignment).await;
    }
    let mut pass = Pass {
        label,
        samples: vec![Vec::new(); assignments.len()],
        ratios: Vec::new(),
    };
    let orders = common::every_order(assignments.len());
    for round in 0..ROUNDS {
        let mut medians = vec![0.0; assignments.len()];
        for &which in &orders[round % orders.len()] {
            let mut times = Vec::with_capacity(PER_ROUND);
            for _ in 0..PER_ROUND {
                times.push(timed_batch(engine, assignments[which], None).await);
            }
            medians[which] = Spread::of_ms(&times).p50;
            pass.samples[which].extend(times);
        }
        pass.ratios.push(medians[assignments.len() - 1] / medians[0]);
        for &assignment in assignments {
            release(engine, assignment).await;
        }
    }
    pass
}

/// Hands the texter's untexted contacts back (their texted holdings stay).
async fn release(engine: &Engine, assignment_id: i64) {
    engine
        .release(assignment_id, Caller::Operator, false)
        .await
        .expect("release");
}

fn section(databases: &[(&str, Vec<Pass>)]) -> String {
    let mut out = format!(
        "## 7. Latency by what a texter holds\n\n\
         A campaign of 1,000,000 contacts, the campaign's default strategy, batches of 100; four \
         texters holding 0, 1,000, 10,000 and 100,000 texted contacts; {ROUNDS} interleaved \
         rounds of {PER_ROUND} requests per texter (each round in another order of the four), \
         each round's batches released after it (not timed). `max_contacts` unset, then set to \
         1,000,000 (computed, never binding); the last pass is the engine without the holdings \
         table, counting the texter's contacts on every request (the earlier design, same run). \
         The ratio is each round's median at 100,000 held over its median at 0 held; the table \
         gives the median of those ratios and their interquartile range. Target: p50 at 100,000 \
         held at most 1.2x p50 at 0 held, with `max_contacts` unset and set.\n\n\
         | database | max_contacts | 0 held p50 / p99 ms | 1,000 | 10,000 | 100,000 | p50 at 100,000 / at 0 (IQR) |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for (database, passes) in databases {
        for pass in passes {
            let spreads: Vec<Spread> = pass.samples.iter().map(|s| Spread::of_ms(s)).collect();
            let cells: Vec<String> = spreads
                .iter()
                .map(|s| format!("{:.2} / {:.2}", s.p50, s.p99))
                .collect();
            let ratio = Spread::of(&pass.ratios);
            out.push_str(&format!(
                "| {database} | {} | {} | **{:.2}x** ({:.2} – {:.2}) |\n",
                pass.label,
                cells.join(" | "),
                ratio.p50,
                ratio.p25,
                ratio.p75
            ));
        }
    }
    out
}
