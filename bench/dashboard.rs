//! Benchmark 9: what the dashboard costs the service.
//!
//! The page refreshes every 3 s; each refresh is one `GET /v1/dashboard`, which must do no work
//! that grows with a campaign (its contact counts are taken in the background, at most every
//! `--progress-interval-ms`). For a campaign of 1,000 and one of 1,000,000 contacts (PostgreSQL
//! and SQLite, each seeded by the project's `seed` command), this measures the background count
//! itself, the refresh's latency over HTTP (the service in this process, gzip asked for as a
//! browser does) after some batch requests, and the bytes a refresh sends. The refresh at
//! 1,000,000 contacts over the refresh at 1,000 is the figure that shows it does not read the
//! campaign. Needs `make strategies`.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use spoke_batches::db::Database;
use spoke_batches::engine::Engine;
use spoke_batches::registry::{SharedRegistry, StrategyRegistry};
use spoke_batches::sandbox::{Sandbox, SandboxLimits};
use spoke_batches::service::{AccessTokens, AppState, ServeLimits, serve_until};
use spoke_batches::spoke_config::Environment;

use common::{Spread, batch, fresh_postgres_schema, fresh_sqlite_file, seed, texter};

const SIZES: [u64; 2] = [1_000, 1_000_000];
const COUNTS: usize = 7;
const REFRESHES: usize = 300;
const BATCHES: usize = 20;

fn main() {
    common::runtime().block_on(run());
}

/// One campaign size on one database.
struct Measured {
    contacts: u64,
    counts: Vec<Duration>,
    refreshes: Vec<Duration>,
    sent: usize,
    unpacked: usize,
}

async fn run() {
    let sandbox = Arc::new(Sandbox::new(SandboxLimits::default()).expect("sandbox"));
    let registry = StrategyRegistry::load_dir(&sandbox, &common::strategies_dir())
        .await
        .expect("strategies folder (run `make strategies`)");
    let shared = SharedRegistry::new(registry);
    let mut sections = Vec::new();
    let mut postgres = Vec::new();
    for contacts in SIZES {
        let schema = format!("bench_dashboard_{contacts}");
        match fresh_postgres_schema(&schema).await {
            Ok(url) => {
                postgres.push(measure(&sandbox, &shared, &url, contacts).await);
                common::drop_postgres_schema(&schema).await;
            }
            Err(error) => eprintln!("PostgreSQL benchmark skipped: {error}"),
        }
    }
    sections.push(("PostgreSQL", postgres));
    let mut sqlite = Vec::new();
    for contacts in SIZES {
        let url = fresh_sqlite_file(&format!("bench-dashboard-{contacts}.sqlite"));
        sqlite.push(measure(&sandbox, &shared, &url, contacts).await);
    }
    sections.push(("SQLite", sqlite));
    common::write_section("9-dashboard.md", &section(&sections));
}

async fn measure(sandbox: &Arc<Sandbox>, shared: &SharedRegistry, url: &str, contacts: u64) -> Measured {
    let summary = seed(url, contacts, 4, false);
    let db = Database::connect(url).await.expect("connect");
    let engine = Engine::new(db, shared.clone(), Environment::from_process());
    // The background count, as the service's progress task runs it.
    let mut counts = Vec::new();
    for _ in 0..COUNTS {
        let started = Instant::now();
        engine.refresh_progress(Duration::ZERO).await.expect("count");
        counts.push(started.elapsed());
    }
    // Some traffic for the data to carry, from the four texters in turn (not timed here; at
    // 1,000 contacts the last ones find nothing, which is traffic too).
    for request in 0..BATCHES {
        let (assignment, _) = texter(&summary, 7 + request % 4);
        engine
            .request_batch(batch(assignment))
            .await
            .expect("batch request");
    }
    let state = AppState::new(
        engine,
        Arc::clone(sandbox),
        AccessTokens::new(None, None).expect("no tokens"),
        Duration::from_secs(10),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_until(listener, state, ServeLimits::default(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let dashboard = format!("http://{address}/v1/dashboard");
    let get = |gzip: bool| {
        let request = client.get(&dashboard);
        let request = if gzip {
            request.header("accept-encoding", "gzip")
        } else {
            request
        };
        async move {
            let response = request.send().await.expect("GET /v1/dashboard");
            assert!(response.status().is_success(), "{}", response.status());
            response.bytes().await.expect("body").len()
        }
    };
    let unpacked = get(false).await;
    let mut refreshes = Vec::new();
    let mut sent = 0;
    for _ in 0..REFRESHES {
        let started = Instant::now();
        sent = get(true).await;
        refreshes.push(started.elapsed());
    }
    let _ = stop.send(());
    let _ = server.await;
    Measured {
        contacts,
        counts,
        refreshes,
        sent,
        unpacked,
    }
}

fn section(databases: &[(&str, Vec<Measured>)]) -> String {
    let mut out = format!(
        "## 9. The dashboard's cost\n\n\
         One campaign of 1,000 and one of 1,000,000 contacts; the background count of its \
         contacts by state and its texters ({COUNTS} counts), then {BATCHES} batch requests, then \
         {REFRESHES} page refreshes (`GET /v1/dashboard` over HTTP, gzip asked for as a browser \
         does, one at a time). Target: a refresh does no work that grows with the campaign (its \
         p50 at 1,000,000 contacts over its p50 at 1,000 stays about 1x).\n\n\
         | database | contacts | background count p50 / max ms | refresh p50 / p99 ms | refresh p50 at this size / at 1,000 | bytes sent (unpacked) per refresh |\n\
         |---|---|---|---|---|---|\n"
    );
    for (database, sizes) in databases {
        let base = sizes.first().map(|first| Spread::of_ms(&first.refreshes).p50);
        for size in sizes {
            let counts = Spread::of_ms(&size.counts);
            let max = size.counts.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3);
            let refresh = Spread::of_ms(&size.refreshes);
            let ratio = base.map_or("–".to_string(), |base| {
                format!("**{:.2}x**", refresh.p50 / base)
            });
            out.push_str(&format!(
                "| {database} | {} | {:.1} / {max:.1} | {:.2} / {:.2} | {ratio} | {} ({}) |\n",
                size.contacts, counts.p50, refresh.p50, refresh.p99, size.sent, size.unpacked
            ));
        }
    }
    out
}
