//! Benchmark 10: a JavaScript strategy beside its Rust twin, with either JavaScript engine.
//!
//! `js-vetted-texters` (componentize-js, built by `make js-strategies`), the same source built
//! with componentize-qjs (`qjs-vetted-texters`, a test component) and the Rust `vetted-texters`
//! (`make strategies`):
//! - compile: loading each component without a compile cache, the cold start's cost, and
//!   loading another strategy built with the same engine after the first, with the incremental
//!   compile cache `make dev` uses (what a rebuilt strategy costs there);
//! - memory: the process's resident memory before and after compiling and loading each
//!   JavaScript component;
//! - per request, end to end on a 100,000-contact campaign (PostgreSQL and SQLite): the
//!   JavaScript strategy against the same rules compiled natively and against the Rust
//!   component, through the engine's `Policy` seam, in interleaved rounds as benchmark 2;
//! - per call: each strategy's median and p99 call time and fuel over those requests.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spoke_batches::db::Database;
use spoke_batches::engine::{Engine, Policy, Sandboxed};
use spoke_batches::registry::{SharedRegistry, StrategyRegistry};
use spoke_batches::sandbox::{Sandbox, SandboxLimits, StrategyComponent};
use spoke_batches::spoke_config::Environment;

use common::{
    Interleaved, NativeVettedTexters, Spread, fresh_postgres_schema, fresh_sqlite_file, interleave, seed,
    texter,
};

const ROUNDS: usize = 50;
const PER_ROUND: usize = 10;
const COMPILES: usize = 2;

fn main() {
    common::runtime().block_on(run());
}

/// Where `make js-strategies` builds the JavaScript components.
fn js_dir() -> PathBuf {
    std::env::var_os("SPOKE_BATCHES_JS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|dir| PathBuf::from(dir).join("js-strategies")))
        .unwrap_or_else(|| common::strategies_dir().join("../../target/js-strategies"))
}

/// The resident memory of this process, in KiB.
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Loads `path` in `sandbox`, timed.
async fn load(sandbox: &Arc<Sandbox>, path: &Path) -> (Arc<StrategyComponent>, Duration) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|error| panic!("{}: {error} (run `make js-strategies`)", path.display()));
    let started = Instant::now();
    let component = sandbox
        .load_bytes(path, bytes)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    (component, started.elapsed())
}

/// Loads `path` `COMPILES` times in fresh sandboxes (no cache); the times.
async fn compile(path: &Path, limits: &SandboxLimits) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..COMPILES {
        let sandbox = Sandbox::new(limits.clone()).expect("sandbox");
        times.push(load(&sandbox, path).await.1);
    }
    times
}

/// With the incremental compile cache (`make dev`): loading `first` fills it, then loading
/// `rebuilt` (another strategy from the same engine, as an edit makes) is timed, with the
/// cache's size after both.
async fn recompile(first: &Path, rebuilt: &Path, limits: &SandboxLimits) -> (Duration, Duration, usize) {
    let sandbox = Sandbox::with_caches(limits.clone(), None, true).expect("sandbox");
    let (_, cold) = load(&sandbox, first).await;
    let (_, warm) = load(&sandbox, rebuilt).await;
    (cold, warm, sandbox.incremental_cache_bytes().unwrap_or(0))
}

struct Measured {
    name: &'static str,
    js_vs_native: Interleaved,
    js_vs_rust: Interleaved,
    qjs_vs_native: Interleaved,
    qjs_vs_rust: Interleaved,
}

async fn run() {
    let limits = SandboxLimits {
        compile_timeout: Duration::from_secs(600),
        ..SandboxLimits::default()
    };
    let js_path = js_dir().join("js-vetted-texters.wasm");
    let qjs_path = js_dir().join("qjs-vetted-texters.wasm");
    let rust_path = common::strategies_dir().join("vetted-texters.wasm");
    let rust_compiles = compile(&rust_path, &limits).await;
    let js_compiles = compile(&js_path, &limits).await;
    let qjs_compiles = compile(&qjs_path, &limits).await;
    let incremental = recompile(&js_path, &js_dir().join("ts-finished-replies-tz.wasm"), &limits).await;

    // The engine's own sandbox, holding all three, with the memory each JavaScript one adds.
    let sandbox = Sandbox::new(limits).expect("sandbox");
    let registry = StrategyRegistry::load_dir(&sandbox, &common::strategies_dir())
        .await
        .expect("strategies folder (run `make strategies`)");
    let rust = registry
        .get("vetted-texters")
        .cloned()
        .expect("vetted-texters.wasm");
    let before = resident_kib();
    let (qjs, _) = load(&sandbox, &qjs_path).await;
    let qjs_memory = resident_kib().saturating_sub(before);
    let before = resident_kib();
    let (js, _) = load(&sandbox, &js_path).await;
    let js_memory = resident_kib().saturating_sub(before);
    let shared = SharedRegistry::new(registry);
    let engine_on = |db: Database| Engine::new(db, shared.clone(), Environment::from_process());
    let js: Arc<dyn Policy> = Arc::new(Sandboxed(js));
    let qjs: Arc<dyn Policy> = Arc::new(Sandboxed(qjs));
    let rust: Arc<dyn Policy> = Arc::new(Sandboxed(rust));
    let native: Arc<dyn Policy> = Arc::new(NativeVettedTexters);

    let mut databases = Vec::new();
    let mut measure = async |name: &'static str, url: String| {
        let summary = seed(&url, 100_000, 0, false);
        let engine = engine_on(Database::connect(&url).await.expect("connect"));
        // The admin: `vetted-texters` lets an admin have any number of batches.
        let (assignment, _) = texter(&summary, 0);
        let js_vs_native = interleave(&engine, assignment, &js, &native, ROUNDS, PER_ROUND).await;
        let js_vs_rust = interleave(&engine, assignment, &js, &rust, ROUNDS, PER_ROUND).await;
        let qjs_vs_native = interleave(&engine, assignment, &qjs, &native, ROUNDS, PER_ROUND).await;
        let qjs_vs_rust = interleave(&engine, assignment, &qjs, &rust, ROUNDS, PER_ROUND).await;
        databases.push(Measured {
            name,
            js_vs_native,
            js_vs_rust,
            qjs_vs_native,
            qjs_vs_rust,
        });
    };
    match fresh_postgres_schema("bench_javascript").await {
        Ok(url) => {
            measure("PostgreSQL", url).await;
            common::drop_postgres_schema("bench_javascript").await;
        }
        Err(error) => eprintln!("PostgreSQL benchmark skipped: {error}"),
    }
    measure("SQLite", fresh_sqlite_file("bench-javascript.sqlite")).await;

    let metrics = sandbox.metrics();
    let calls = [
        (
            "js-vetted-texters (componentize-js)",
            metrics.stats("js-vetted-texters"),
            &js_compiles,
            js_path,
        ),
        (
            "qjs-vetted-texters (componentize-qjs)",
            metrics.stats("qjs-vetted-texters"),
            &qjs_compiles,
            qjs_path,
        ),
        (
            "vetted-texters (Rust)",
            metrics.stats("vetted-texters"),
            &rust_compiles,
            rust_path,
        ),
    ];
    let mut out = format!(
        "## 10. A JavaScript strategy beside its Rust twin\n\n\
         `js-vetted-texters` built with componentize-js 0.23 (SpiderMonkey; every WASI feature \
         disabled) and the same source built with componentize-qjs 0.4.5 (QuickJS; `qjs`), \
         against the Rust `vetted-texters` and the same rules compiled natively, through the \
         engine's `Policy` seam: a 100,000-contact campaign, batches of 100, {ROUNDS} interleaved \
         rounds of {PER_ROUND} requests per contender (as benchmark 2). Target (issue 20): \
         JavaScript / native at most 1.5x on PostgreSQL for the whole request.\n\n\
         | database | engine | JS / native (IQR) | JS / Rust (IQR) | JS p50 / p99 ms | Rust p50 ms | native p50 ms |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for database in &databases {
        for (engine, vs_native, vs_rust) in [
            ("componentize-js", &database.js_vs_native, &database.js_vs_rust),
            ("componentize-qjs", &database.qjs_vs_native, &database.qjs_vs_rust),
        ] {
            let native_ratio = Spread::of(&vs_native.round_ratios);
            let rust_ratio = Spread::of(&vs_rust.round_ratios);
            let js = Spread::of_ms(&vs_native.first);
            out.push_str(&format!(
                "| {} | {engine} | **{:.2}x** ({:.2} – {:.2}) | {:.2}x ({:.2} – {:.2}) | {:.2} / {:.2} | {:.2} | {:.2} |\n",
                database.name,
                native_ratio.p50,
                native_ratio.p25,
                native_ratio.p75,
                rust_ratio.p50,
                rust_ratio.p25,
                rust_ratio.p75,
                js.p50,
                js.p99,
                Spread::of_ms(&vs_rust.second).p50,
                Spread::of_ms(&vs_native.second).p50,
            ));
        }
    }
    let (first_compile, rebuilt_compile, cache_bytes) = incremental;
    out.push_str(&format!(
        "\nThe process's resident memory grew by {:.1} MiB while the componentize-qjs component \
         was compiled and loaded, then by {:.1} MiB for the componentize-js one (the compile's \
         working memory included, which the allocator keeps; a warm compile cache skips the \
         compile). With the incremental compile cache `make dev` turns on (`--incremental-compile`), \
         the first componentize-js strategy compiled in {:.2} s and another one built with the same \
         engine (`ts-finished-replies-tz`, as a rebuilt strategy) in {:.2} s; the cache then held \
         {:.1} MiB of compiled functions.\n",
        qjs_memory as f64 / 1024.0,
        js_memory as f64 / 1024.0,
        first_compile.as_secs_f64(),
        rebuilt_compile.as_secs_f64(),
        cache_bytes as f64 / (1024.0 * 1024.0),
    ));
    out.push_str(
        "\n| strategy | component bytes | compile without cache, each | call median / p99 | fuel median / p99 |\n\
         |---|---|---|---|---|\n",
    );
    for (name, stats, compiles, path) in calls {
        let bytes = std::fs::metadata(&path).map_or(0, |meta| meta.len());
        let compiles: Vec<String> = compiles
            .iter()
            .map(|time| format!("{:.2} s", time.as_secs_f64()))
            .collect();
        out.push_str(&format!(
            "| {name} | {bytes} | {} | {} / {} µs | {} / {} |\n",
            compiles.join(", "),
            stats.median_micros.unwrap_or(0),
            stats.p99_micros.unwrap_or(0),
            stats.median_fuel.unwrap_or(0),
            stats.p99_fuel.unwrap_or(0),
        ));
    }
    common::write_section("10-javascript.md", &out);
}
