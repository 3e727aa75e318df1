//! Benchmarks 4 and 5: the `spoke-batches serve` process over HTTP on loopback.
//!
//! 4. Concurrency: 1, 8, 32 and 128 texters requesting batches of 100 from one campaign of
//!    1,000,000 contacts on PostgreSQL, each level for a bounded time, with one service process
//!    and with two sharing the database. After each level the database is checked: the contacts
//!    held equal the contacts the answers reported (a contact claimed twice would be counted
//!    twice in the answers and once in the table), and no answer came back short.
//! 5. Start and reload: process start to the first answered request with a cold and a warm
//!    compile cache; replacing a component file to the first answer from the new version;
//!    resident memory idle and under load; the same starts and idle memory with the two
//!    JavaScript ports (`js-vetted-texters`, `ts-finished-replies-tz`) beside the six Rust
//!    strategies.
//!
//! The load driver is this file's own: tokio tasks, one per texter, bounded in time and count,
//! on loopback only. Data comes from the project's `seed` command into a fresh schema
//! `bench_service`. Needs `make strategies`.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{Spread, fresh_postgres_schema, seed, texter};

/// How long each concurrency level runs.
const LEVEL_TIME: Duration = Duration::from_secs(6);
/// The most requests one level may send.
const LEVEL_MAX_REQUESTS: usize = 4_000;
const LEVELS: [usize; 4] = [1, 8, 32, 128];
const TEXTERS: u32 = 128;
const STARTS: usize = 5;
const RELOADS: usize = 5;
/// The JavaScript strategies served beside the Rust ones in 5's second table.
const JAVASCRIPT: [&str; 2] = ["js-vetted-texters", "ts-finished-replies-tz"];

fn main() {
    common::runtime().block_on(run());
}

async fn run() {
    let url = match fresh_postgres_schema("bench_service").await {
        Ok(url) => url,
        Err(error) => {
            let note = format!(
                "Not run: PostgreSQL was unreachable at {} ({error}).\n",
                common::postgres_server()
            );
            common::write_section("4-concurrency.md", &format!("## 4. Concurrency\n\n{note}"));
            common::write_section("5-start-reload.md", &format!("## 5. Start and reload\n\n{note}"));
            return;
        }
    };
    let summary = seed(&url, 1_000_000, TEXTERS, false);
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    sqlx::raw_sql("VACUUM ANALYZE campaign_contact")
        .execute(&pool)
        .await
        .expect("vacuum");
    // The bench's texters: the `--texters` ones, after the demo's seven people.
    let texters: Vec<(i64, i64)> = (7..7 + TEXTERS as usize).map(|i| texter(&summary, i)).collect();
    let campaign = summary["campaignId"].as_i64().expect("campaignId");
    let work = tempfile::tempdir().expect("temp dir");
    let strategies = work.path().join("strategies");
    copy_components(&strategies, is_rust);
    let with_javascript = work.path().join("strategies-with-javascript");
    copy_components(&with_javascript, |name| {
        is_rust(name) || JAVASCRIPT.contains(&name)
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .expect("http client");

    // 5a. Start, cold then warm.
    let cache = work.path().join("cache");
    let mut cold = Vec::new();
    for attempt in 0..STARTS {
        let fresh = work.path().join(format!("cold-cache-{attempt}"));
        cold.extend(starts(&url, &strategies, &fresh, texters[0], &client, 1).await.0);
    }
    // The first start fills the cache.
    starts(&url, &strategies, &cache, texters[0], &client, 1).await;
    let (warm, _) = starts(&url, &strategies, &cache, texters[0], &client, STARTS).await;

    // 5c. The same starts with two JavaScript strategies more (they compile in seconds each).
    let mixed_cache = work.path().join("cache-with-javascript");
    let (cold_with_javascript, _) =
        starts(&url, &with_javascript, &mixed_cache, texters[0], &client, 1).await;
    let (warm_with_javascript, idle_rss_with_javascript) =
        starts(&url, &with_javascript, &mixed_cache, texters[0], &client, STARTS).await;
    let mixed = Mixed {
        cold: cold_with_javascript[0],
        warm: warm_with_javascript,
        idle_rss: idle_rss_with_javascript,
    };

    // 4. Concurrency, one process then two.
    let (first, _) = Server::start(&url, &strategies, &cache, texters[0], &client).await;
    let idle_rss = first.rss_kib();
    let warmup = drive(
        &client,
        &[first.base()],
        &texters,
        8,
        Duration::from_secs(1),
        1_000,
    )
    .await;
    settle(&pool, campaign, &texters, &warmup).await;
    let mut one = Vec::new();
    let peak = Arc::new(AtomicU64::new(0));
    for &level in &LEVELS {
        let sampler = first.sample_rss(Arc::clone(&peak));
        let result = drive(
            &client,
            &[first.base()],
            &texters,
            level,
            LEVEL_TIME,
            LEVEL_MAX_REQUESTS,
        )
        .await;
        sampler.store(false, Ordering::Relaxed);
        let check = settle(&pool, campaign, &texters, &result).await;
        one.push((level, result, check));
    }
    let loaded_rss = peak.load(Ordering::Relaxed);
    let (second, _) = Server::start(&url, &strategies, &cache, texters[0], &client).await;
    let mut two = Vec::new();
    for &level in &LEVELS {
        let bases = [first.base(), second.base()];
        let result = drive(&client, &bases, &texters, level, LEVEL_TIME, LEVEL_MAX_REQUESTS).await;
        let check = settle(&pool, campaign, &texters, &result).await;
        two.push((level, result, check));
    }
    drop(second);

    // 5b. Reload: replace the campaign's strategy file, wait for an answer from the new version.
    let mut reloads = Vec::new();
    for attempt in 0..RELOADS {
        reloads.push(reload_once(&client, &first, &strategies, texters[0], attempt).await);
    }
    drop(first);
    pool.close().await;
    common::drop_postgres_schema("bench_service").await;

    common::write_section("4-concurrency.md", &concurrency_section(&one, &two));
    common::write_section(
        "5-start-reload.md",
        &start_section(&cold, &warm, &reloads, idle_rss, loaded_rss, &mixed),
    );
}

/// Starts with the JavaScript strategies beside the Rust ones, and the idle memory then.
struct Mixed {
    cold: (Duration, u64),
    warm: Vec<(Duration, u64)>,
    idle_rss: u64,
}

/// Starts the service `n` times, one after the other, on `strategies` with the compile cache
/// `cache`: each start's time to its first answer and the components it compiled, and the
/// resident memory of the last one once it answered.
async fn starts(
    url: &str,
    strategies: &Path,
    cache: &Path,
    texter: (i64, i64),
    client: &reqwest::Client,
    n: usize,
) -> (Vec<(Duration, u64)>, u64) {
    let mut runs = Vec::new();
    let mut rss = 0;
    for _ in 0..n {
        let (server, elapsed) = Server::start(url, strategies, cache, texter, client).await;
        runs.push((elapsed, server.compiled));
        rss = server.rss_kib();
    }
    (runs, rss)
}

/// Whether the built strategy `name` is a Rust one (its source folder has a Cargo.toml).
fn is_rust(name: &str) -> bool {
    common::strategies_dir()
        .join("..")
        .join(name)
        .join("Cargo.toml")
        .is_file()
}

/// Copies the built components whose name `keep` accepts into `to` (the reload benchmark
/// rewrites the copies).
fn copy_components(to: &Path, keep: impl Fn(&str) -> bool) {
    std::fs::create_dir_all(to).expect("strategies copy");
    let from = common::strategies_dir();
    for entry in std::fs::read_dir(&from).expect("strategies/dist (run `make strategies`)") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.extension().is_some_and(|extension| extension == "wasm") && keep(&name) {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy component");
        }
    }
}

// ---- The service processes --------------------------------------------------------------------

struct Server {
    child: Child,
    address: String,
    compiled: u64,
}

impl Server {
    /// Starts `spoke-batches serve` and returns it once it answered a request that runs a
    /// strategy, with the time from spawn to that answer.
    async fn start(
        url: &str,
        strategies: &Path,
        cache: &Path,
        (assignment, user): (i64, i64),
        client: &reqwest::Client,
    ) -> (Server, Duration) {
        let started = Instant::now();
        let mut child = Command::new(common::binary())
            .args(["--database-url", url, "--strategies"])
            .arg(strategies)
            .args(["serve", "--listen", "127.0.0.1:0", "--cache-dir"])
            .arg(cache)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn spoke-batches serve");
        let printed = common::announcement(&mut child);
        let address = printed["listening"].as_str().expect("listening").to_string();
        let compiled = printed["compiled"].as_u64().unwrap_or(0);
        let server = Server {
            child,
            address,
            compiled,
        };
        let probe = format!(
            "{}/v1/assignments/{assignment}/unassigned-count?texterId={user}",
            server.address
        );
        loop {
            if let Ok(response) = client.get(&probe).send().await
                && response.status().is_success()
            {
                break;
            }
            // A cold start with JavaScript strategies compiles each for seconds.
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the service did not answer"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let elapsed = started.elapsed();
        (server, elapsed)
    }

    fn base(&self) -> String {
        self.address.clone()
    }

    /// Resident memory now, in KiB.
    fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }

    /// Samples resident memory every 50 ms into `peak` until the returned flag is cleared.
    fn sample_rss(&self, peak: Arc<AtomicU64>) -> Arc<AtomicBool> {
        let running = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&running);
        let pid = self.child.id();
        std::thread::spawn(move || {
            while flag.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        running
    }
}

/// Resident memory of process `pid`, in KiB (0 once it is gone).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- The load driver --------------------------------------------------------------------------

/// What one level's requests came back with.
#[derive(Default)]
struct Load {
    latencies: Vec<Duration>,
    assigned: u64,
    short: u64,
    failed: u64,
    elapsed: Duration,
}

/// `concurrency` texters, each in a loop on its own assignment (spread over `bases`), until
/// `time` passes or `max_requests` were sent.
async fn drive(
    client: &reqwest::Client,
    bases: &[String],
    texters: &[(i64, i64)],
    concurrency: usize,
    time: Duration,
    max_requests: usize,
) -> Load {
    let started = Instant::now();
    let deadline = started + time;
    let sent = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (worker, &(assignment, user)) in texters.iter().take(concurrency).enumerate() {
        let client = client.clone();
        let url = format!(
            "{}/v1/assignments/{assignment}/batches",
            bases[worker % bases.len()]
        );
        let sent = Arc::clone(&sent);
        tasks.spawn(async move {
            let mut load = Load::default();
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < max_requests {
                let asked = Instant::now();
                let answer = client.post(&url).json(&json!({ "texterId": user })).send().await;
                let assigned = match answer {
                    Ok(response) if response.status().is_success() => response
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|body| body["assigned"].as_u64()),
                    _ => None,
                };
                load.latencies.push(asked.elapsed());
                match assigned {
                    Some(count) => {
                        load.assigned += count;
                        load.short += u64::from(count < 100);
                    }
                    None => load.failed += 1,
                }
            }
            load
        });
    }
    let mut total = Load::default();
    while let Some(done) = tasks.join_next().await {
        let load = done.expect("driver task");
        total.latencies.extend(load.latencies);
        total.assigned += load.assigned;
        total.short += load.short;
        total.failed += load.failed;
    }
    total.elapsed = started.elapsed();
    total
}

/// What the database says after a level.
struct Check {
    /// Contacts the bench's texters hold (must equal the contacts the answers reported).
    held: i64,
    /// Whether contacts were still available (so a short answer would be a fault).
    remaining: bool,
}

/// Checks a level against the database, then hands every contact back so each level starts
/// from the same campaign.
async fn settle(pool: &sqlx::PgPool, campaign: i64, texters: &[(i64, i64)], load: &Load) -> Check {
    let assignments: Vec<i64> = texters.iter().map(|&(assignment, _)| assignment).collect();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = ANY($1)")
        .bind(&assignments)
        .fetch_one(pool)
        .await
        .expect("count held");
    let remaining: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM campaign_contact WHERE campaign_id = $1 AND assignment_id IS NULL \
         AND message_status = 'needsMessage' AND is_opted_out = FALSE)",
    )
    .bind(campaign)
    .fetch_one(pool)
    .await
    .expect("remaining");
    assert_eq!(
        held, load.assigned as i64,
        "the contacts held differ from the contacts the answers reported"
    );
    sqlx::query("UPDATE campaign_contact SET assignment_id = NULL WHERE assignment_id = ANY($1)")
        .bind(&assignments)
        .execute(pool)
        .await
        .expect("hand back");
    sqlx::raw_sql("VACUUM ANALYZE campaign_contact")
        .execute(pool)
        .await
        .expect("vacuum");
    Check { held, remaining }
}

fn concurrency_section(one: &[(usize, Load, Check)], two: &[(usize, Load, Check)]) -> String {
    let mut out = format!(
        "## 4. Concurrency\n\n\
         PostgreSQL, one campaign of 1,000,000 contacts, the campaign's default strategy, batches \
         of 100 over HTTP on loopback; each level runs {} s (at most {LEVEL_MAX_REQUESTS} \
         requests), every texter on its own assignment; the campaign is restored between levels. \
         \"Duplicates\" compares the contacts the texters hold with the contacts the answers \
         reported. Spoke: ~9 batches/s at every level (p50 0.7 s at 8, 3.4 s at 32, 13.8 s at \
         128). Targets: at least 180 batches/s at 32; at 128 at least 80% of the best; zero \
         duplicates.\n\n",
        LEVEL_TIME.as_secs()
    );
    for (title, rows) in [("One service process", one), ("Two service processes", two)] {
        let best = rows
            .iter()
            .map(|(_, load, _)| load.latencies.len() as f64 / load.elapsed.as_secs_f64())
            .fold(0.0, f64::max);
        out.push_str(&format!(
            "{title}:\n\n\
             | texters | batches/s | vs Spoke (9/s) | of best | p50 ms | p99 ms | requests | short | failed | duplicates |\n\
             |---|---|---|---|---|---|---|---|---|---|\n"
        ));
        for (level, load, check) in rows {
            let rate = load.latencies.len() as f64 / load.elapsed.as_secs_f64();
            let spread = Spread::of_ms(&load.latencies);
            let short = if check.remaining {
                load.short.to_string()
            } else {
                format!("{} (campaign exhausted)", load.short)
            };
            out.push_str(&format!(
                "| {level} | **{rate:.0}** | {:.0}x | {:.0}% | {:.1} | {:.1} | {} | {short} | {} | {} |\n",
                rate / 9.0,
                100.0 * rate / best,
                spread.p50,
                spread.p99,
                load.latencies.len(),
                load.failed,
                load.assigned as i64 - check.held,
            ));
        }
        out.push('\n');
    }
    out
}

// ---- Reload -----------------------------------------------------------------------------------

/// Rewrites the campaign's strategy with a new version (the same code plus a custom section
/// naming the attempt) and times until an answer comes from it.
async fn reload_once(
    client: &reqwest::Client,
    server: &Server,
    strategies: &Path,
    (assignment, user): (i64, i64),
    attempt: usize,
) -> Duration {
    let explain = format!(
        "{}/v1/assignments/{assignment}/explain?texterId={user}",
        server.address
    );
    let current: Value = client
        .get(&explain)
        .send()
        .await
        .expect("explain")
        .json()
        .await
        .expect("explain JSON");
    let name = current["trace"]["strategy"]
        .as_str()
        .expect("strategy")
        .to_string();
    let file: PathBuf = strategies.join(format!("{name}.wasm"));
    let mut bytes = std::fs::read(&file).expect("component");
    append_custom_section(
        &mut bytes,
        "spoke-batches-bench",
        format!("reload {attempt}").as_bytes(),
    );
    let version = spoke_batches::sandbox::content_hash(&bytes)[..12].to_string();
    let staging = strategies.join(format!(".{name}.wasm.new"));
    std::fs::write(&staging, &bytes).expect("write new version");
    let started = Instant::now();
    std::fs::rename(&staging, &file).expect("replace component");
    loop {
        let answer: Value = match client.get(&explain).send().await {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => Value::Null,
        };
        if answer["trace"]["version"].as_str() == Some(version.as_str()) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the new version was never served"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Appends a custom section (id 0) to a component: a new file, the same code.
fn append_custom_section(bytes: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut content = Vec::new();
    leb128(&mut content, name.len());
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    bytes.push(0);
    leb128(bytes, content.len());
    bytes.extend_from_slice(&content);
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn start_section(
    cold: &[(Duration, u64)],
    warm: &[(Duration, u64)],
    reloads: &[Duration],
    idle_rss: u64,
    loaded_rss: u64,
    mixed: &Mixed,
) -> String {
    let row = |label: &str, runs: &[(Duration, u64)]| {
        let times: Vec<Duration> = runs.iter().map(|(time, _)| *time).collect();
        let spread = Spread::of_ms(&times);
        let compiled = runs.first().map_or(0, |(_, compiled)| *compiled);
        format!(
            "| {label} | **{:.0}** | {:.0} – {:.0} | {compiled} |\n",
            spread.p50, spread.p25, spread.p75
        )
    };
    let reload = Spread::of_ms(reloads);
    format!(
        "## 5. Start and reload\n\n\
         Start: from spawning `spoke-batches serve` (release build, PostgreSQL, the six Rust \
         strategies of `strategies/dist`) to the first answered `unassigned-count` (which runs the campaign's \
         strategy); {STARTS} starts each. Reload: from renaming a new version of the campaign's \
         strategy file into the watched folder to the first `explain` answer whose trace names \
         the new version; {RELOADS} reloads. Targets: warm start under 150 ms; reload under 1 s.\n\n\
         | start | p50 ms | IQR ms | components compiled |\n|---|---|---|---|\n{}{}\n\
         | reload | p50 ms | IQR ms | max ms |\n|---|---|---|---|\n\
         | replace file → new version answers | **{:.0}** | {:.0} – {:.0} | {:.0} |\n\n\
         | resident memory | MiB |\n|---|---|\n\
         | idle, after start | {:.1} |\n| peak under load (up to 128 texters) | {:.1} |\n\n\
         With the two JavaScript ports beside them ({}; componentize-js, 12 MB each), one cold \
         start and {STARTS} warm ones; the idle memory after a warm start is {:.1} MiB ({:+.1} MiB \
         for the two).\n\n\
         | start, six Rust + two JavaScript strategies | p50 ms | IQR ms | components compiled |\n\
         |---|---|---|---|\n{}{}",
        row("cold cache", cold),
        row("warm cache", warm),
        reload.p50,
        reload.p25,
        reload.p75,
        Spread::of_ms(reloads).p99,
        idle_rss as f64 / 1024.0,
        loaded_rss as f64 / 1024.0,
        JAVASCRIPT.join(", "),
        mixed.idle_rss as f64 / 1024.0,
        (mixed.idle_rss as f64 - idle_rss as f64) / 1024.0,
        row("cold cache", std::slice::from_ref(&mixed.cold)),
        row("warm cache", &mixed.warm),
    )
}
