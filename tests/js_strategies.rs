//! JavaScript strategies. `js-vetted-texters`, the JavaScript template,
//! built with componentize-js by `make js-strategies`, passes its fixtures through the CLI as a
//! user runs them, and answers and asks exactly what its Rust twin `vetted-texters` does on
//! generated requests; so do `ts-finished-replies-tz` (TypeScript, type-checked against
//! declarations generated from the WIT) and `finished-replies-tz`. `js-hostile` (a test component with the template's prelude) shows the
//! sandbox holding for JavaScript: fuel stops a loop, memory stops at its limit, a thrown Error
//! fails the request with its message, `Date` is the request's `now`, `console` reaches the
//! host's log, `Math.random` repeats per request, and no WASI import is granted. The template
//! built with the other engine, componentize-qjs (`qjs-vetted-texters`), answers as its Rust
//! twin too, and fits the pool's slots: as many instances run at once as there are slots, and a
//! component needing more than a slot holds is refused at load, naming the setting.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spoke_batches::model::{MessageStatus, Role};
use spoke_batches::sandbox::{
    BatchPlan, CallJournal, FailureKind, HostCall, Sandbox, SandboxLimits, StrategyComponent, StrategyFailure,
};
use support::contacts::Contacts;
use support::{Scenario, loaded, noon_eastern, workspace_root};
use tokio::sync::OnceCell;

/// Where `make js-strategies` builds the JavaScript components.
fn js_dir() -> PathBuf {
    match std::env::var_os("SPOKE_BATCHES_JS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"))
            .join("js-strategies"),
    }
}

/// The built JavaScript component `name`, or `None` outside CI when it was not built.
fn js_component(name: &str) -> Option<PathBuf> {
    let path = js_dir().join(format!("{name}.wasm"));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map(|ci| ci != "true").unwrap_or(true),
        "CI=true but {} is missing: `make test` builds it (make js-strategies)",
        path.display()
    );
    eprintln!("{} is not built (make js-strategies): skipping", path.display());
    None
}

/// A componentize-js component compiles in 25-60 s in this debug test binary on two cores, more
/// when other test binaries share them. These tests allow five minutes.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(300);

/// The JavaScript components, loaded once for this test binary (each compile takes a while).
struct JsLoaded {
    vetted_texters: Arc<StrategyComponent>,
    ts_vetted_texters: Arc<StrategyComponent>,
    finished_replies_tz: Arc<StrategyComponent>,
    hostile: Arc<StrategyComponent>,
    /// The template built with componentize-qjs (QuickJS).
    quickjs: Arc<StrategyComponent>,
}

static JS: OnceCell<Option<JsLoaded>> = OnceCell::const_new();

/// The compile cache the JavaScript components are loaded with, for this test binary.
static CACHE: std::sync::LazyLock<tempfile::TempDir> =
    std::sync::LazyLock::new(|| tempfile::tempdir().unwrap());

fn js_limits() -> SandboxLimits {
    SandboxLimits {
        compile_timeout: COMPILE_TIMEOUT,
        ..SandboxLimits::default()
    }
}

async fn js() -> Option<&'static JsLoaded> {
    JS.get_or_init(|| async {
        let sandbox = Sandbox::with_cache(js_limits(), Some(CACHE.path())).unwrap();
        let mut loaded = Vec::new();
        for name in [
            "js-vetted-texters",
            "ts-vetted-texters",
            "ts-finished-replies-tz",
            "js-hostile",
            "qjs-vetted-texters",
        ] {
            let path = js_component(name)?;
            let bytes = std::fs::read(&path).unwrap();
            let component = sandbox.load_bytes(&path, bytes).await;
            loaded.push(component.unwrap_or_else(|error| panic!("{error}")));
        }
        let quickjs = loaded.pop()?;
        let hostile = loaded.pop()?;
        let finished_replies_tz = loaded.pop()?;
        let ts_vetted_texters = loaded.pop()?;
        let vetted_texters = loaded.pop()?;
        Some(JsLoaded {
            vetted_texters,
            ts_vetted_texters,
            finished_replies_tz,
            hostile,
            quickjs,
        })
    })
    .await
    .as_ref()
}

/// `js-hostile`'s answer to a request of a campaign titled `mode`, with its journal.
async fn hostile(mode: &str, now: DateTime<Utc>) -> Option<(Result<u32, StrategyFailure>, CallJournal)> {
    let js = js().await?;
    let mut scenario = Scenario::new();
    scenario.campaign.title = mode.to_string();
    scenario.now = now;
    let mut session = js.hostile.start(scenario.source()).await.unwrap();
    let answer = session
        .request_new_batch_count(&scenario.request())
        .await
        .map(|report| report.value);
    Some((answer, session.finish().journal))
}

/// What a strategy answered to `scenario` and what it asked: its count (or failure), the host
/// calls of that count, and its selection for a plan of 5.
async fn answers(
    strategy: &Arc<StrategyComponent>,
    scenario: &Scenario,
) -> (Result<u32, String>, Vec<HostCall>, String) {
    let mut session = strategy.start(scenario.source()).await.unwrap();
    let count = session
        .request_new_batch_count(&scenario.request())
        .await
        .map(|report| report.value)
        .map_err(|failure| failure.to_string());
    let asked = session.finish().journal.host_calls;
    let mut session = strategy.start(scenario.source()).await.unwrap();
    let plan = BatchPlan {
        number_contacts: 5,
        contacts_count: 0,
    };
    let selection = session
        .select_contacts(&scenario.request(), plan)
        .await
        .map(|report| format!("{:?}", report.value))
        .unwrap_or_else(|failure| failure.to_string());
    (count, asked, selection)
}

/// A request the two strategies could both see: any role, campaign flags, limits and contacts.
fn generated(rng: &mut StdRng) -> Scenario {
    let mut scenario = Scenario::new();
    let roles = [
        None,
        Some(Role::Suspended),
        Some(Role::Texter),
        Some(Role::VettedTexter),
        Some(Role::Supervolunteer),
        Some(Role::Admin),
        Some(Role::Owner),
    ];
    scenario.role = roles[rng.random_range(0..roles.len())];
    scenario.campaign.use_dynamic_assignment = rng.random_bool(0.85);
    scenario.campaign.is_archived = rng.random_bool(0.1);
    scenario.campaign.batch_size = [None, Some(0), Some(10), Some(300)][rng.random_range(0..4)];
    scenario.assignment.max_contacts = [None, Some(0), Some(5)][rng.random_range(0..3)];
    scenario.has_any = rng.random_bool(0.3);
    scenario.count_cap = [1, 10, 100][rng.random_range(0..3)];
    // Due long ago, due within the last day, due later, or never.
    let due_hours = [None, Some(-72), Some(-12), Some(48)][rng.random_range(0..4)];
    scenario.campaign.due_by = due_hours.map(|hours| scenario.now + chrono::Duration::hours(hours));
    let statuses = [
        MessageStatus::NeedsMessage,
        MessageStatus::NeedsResponse,
        MessageStatus::Convo,
        MessageStatus::Messaged,
        MessageStatus::Closed,
    ];
    for _ in 0..rng.random_range(0..5) {
        let mut contacts =
            Contacts::new(rng.random_range(0..30)).status(statuses[rng.random_range(0..statuses.len())]);
        match rng.random_range(0..3) {
            0 => contacts = contacts.held_by(scenario.assignment.id),
            1 => contacts = contacts.held_by(scenario.assignment.id + 1),
            _ => {}
        }
        if rng.random_bool(0.2) {
            contacts = contacts.opted_out();
        }
        // Within texting hours now, outside them, or no zone at all.
        contacts = contacts.in_zone(["-5_1", "-8_1", ""][rng.random_range(0..3)]);
        scenario = scenario.with(contacts);
    }
    scenario
}

/// Runs the JavaScript `js` and its Rust twin `rust` on 150 generated requests.
async fn same_as_rust_twin(js: &Arc<StrategyComponent>, rust: &str, seed: u64) {
    let rust = loaded().await.get(rust);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..150 {
        let scenario = generated(&mut rng);
        let expected = answers(&rust, &scenario).await;
        let got = answers(js, &scenario).await;
        assert_eq!(got, expected, "case {case} of seed {seed:#x}: {scenario:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_template_answers_and_asks_what_its_rust_twin_does() {
    let Some(js) = js().await else {
        return;
    };
    same_as_rust_twin(&js.vetted_texters, "vetted-texters", 0x5eed_2026).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_port_answers_and_asks_what_its_rust_twin_does() {
    let Some(js) = js().await else {
        return;
    };
    same_as_rust_twin(&js.finished_replies_tz, "finished-replies-tz", 0x7a5e_2026).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_built_with_quickjs_answers_and_asks_what_its_rust_twin_does() {
    let Some(js) = js().await else {
        return;
    };
    same_as_rust_twin(&js.quickjs, "vetted-texters", 0x9175_2026).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_takes_a_javascript_component_from_the_compile_cache() {
    let Some(js) = js().await else {
        return;
    };
    let path = js_component("js-vetted-texters").unwrap();
    let restarted = Sandbox::with_cache(js_limits(), Some(CACHE.path())).unwrap();
    let component = restarted
        .load_bytes(&path, std::fs::read(&path).unwrap())
        .await
        .unwrap();
    assert_eq!(restarted.compilations(), 0, "the restart compiled it again");
    let scenario = Scenario::new();
    assert_eq!(
        answers(&component, &scenario).await,
        answers(&js.vetted_texters, &scenario).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_runs_a_javascript_strategy_on_a_real_assignment_as_it_runs_its_rust_twin() {
    let Some(js) = js_component("js-vetted-texters") else {
        return;
    };
    let db = support::db::TestDb::sqlite().await;
    support::cli::seed_one_campaign(&db).await;
    let replay = |component: PathBuf| {
        let timeout = COMPILE_TIMEOUT.as_millis().to_string();
        let file = component.to_str().unwrap().to_string();
        support::cli::run(
            &db,
            &[
                "--compile-timeout-ms",
                &timeout,
                "replay",
                "--assignment-id",
                "100",
                "--strategy",
                &file,
                "--now",
                "2026-03-02T15:00:00Z",
            ],
        )
    };
    let (ok, javascript) = replay(js);
    assert!(ok, "{javascript}");
    // The guest artifact is named vetted_texters.wasm; the host loads a file by its strategy name.
    let named = tempfile::tempdir().unwrap();
    let rust_file = named.path().join("vetted-texters.wasm");
    std::fs::copy(support::component_path("vetted-texters"), &rust_file).unwrap();
    let (ok, rust) = replay(rust_file);
    assert!(ok, "{rust}");
    assert_eq!(
        javascript["trace"]["strategy"], "js-vetted-texters",
        "{javascript}"
    );
    // The texter is not vetted and already holds a contact: both say 0, after the same questions.
    assert_eq!(
        javascript["trace"]["decision"], "strategy-said-zero",
        "{javascript}"
    );
    for field in ["decision", "hostCalls", "strategyCount", "countCap", "contactIds"] {
        assert_eq!(
            javascript["trace"][field], rust["trace"][field],
            "{field}: {javascript} {rust}"
        );
    }
    let held = db
        .int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
        .await;
    assert_eq!(held, 1, "a replay changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slot_holds_an_instance_of_the_hungrier_engine() {
    let Some(path) = js_component("qjs-vetted-texters") else {
        return;
    };
    // componentize-qjs needs 13 core instances (wasmtime's count; 11 read from its bytes) and 3
    // memories per instance: with the old sizing (8 and 2 per slot, 24 and 6 for three slots)
    // the second of three instances already did not fit.
    let slots = 3;
    let sandbox = Sandbox::new(SandboxLimits {
        concurrent_instances: slots,
        compile_timeout: COMPILE_TIMEOUT,
        ..SandboxLimits::default()
    })
    .unwrap();
    let quickjs = sandbox
        .load_bytes(&path, std::fs::read(&path).unwrap())
        .await
        .unwrap();
    let needs = quickjs.footprint().unwrap();
    let slot = SandboxLimits::default().slot_size();
    assert!(needs.core_instances > 8 && needs.memories > 2, "{needs:?}");
    assert!(needs.exceeds(&slot).is_none(), "{needs:?} fits {slot:?}");
    let scenario = Scenario::new();
    let rust = loaded().await.get("vetted-texters");
    let mut session = rust.start(scenario.source()).await.unwrap();
    let expected = session
        .request_new_batch_count(&scenario.request())
        .await
        .unwrap()
        .value;
    let mut running = Vec::new();
    for _ in 0..slots {
        running.push(quickjs.start(scenario.source()).await.unwrap());
    }
    let Err(busy) = quickjs.start(scenario.source()).await else {
        panic!("a fourth instance started in three slots");
    };
    assert!(
        matches!(busy.kind, FailureKind::Busy { limit } if limit == slots),
        "{busy}"
    );
    for session in &mut running {
        let answer = session
            .request_new_batch_count(&scenario.request())
            .await
            .unwrap();
        assert_eq!(answer.value, expected);
    }
    drop(running);
    let mut again = quickjs.start(scenario.source()).await.unwrap();
    let answer = again.request_new_batch_count(&scenario.request()).await.unwrap();
    assert_eq!(answer.value, expected);
}

#[test]
fn a_component_needing_more_than_a_slot_is_refused_at_load_naming_the_setting() {
    let Some(path) = js_component("qjs-vetted-texters") else {
        return;
    };
    let file = path.to_str().unwrap();
    let (ok, answer) = support::cli::run_in(
        &workspace_root(),
        &["--core-instances-per-slot", "8", "check", file, "--json"],
    );
    assert!(!ok, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("needs 11 core instances, and a sandbox slot holds 8")
            && error
                .contains("--core-instances-per-slot (SPOKE_BATCHES_CORE_INSTANCES_PER_SLOT) to at least 11"),
        "{answer}"
    );
    let (ok, answer) = support::cli::run_in(&workspace_root(), &["check", file, "--json"]);
    assert!(ok, "{answer}");
    assert_eq!(answer["perInstance"]["coreInstances"], 11, "{answer}");
    assert_eq!(answer["perInstance"]["memories"], 3, "{answer}");
}

/// Runs `spoke-batches test NAME` from the repository root on the built JavaScript component.
fn passes_its_fixtures(name: &str) {
    let Some(path) = js_component(name) else {
        return;
    };
    let strategies = path.parent().unwrap().to_str().unwrap();
    let (ok, answer) = support::cli::run_in(
        &workspace_root(),
        &[
            "test",
            name,
            "--strategies",
            strategies,
            "--compile-timeout-ms",
            &COMPILE_TIMEOUT.as_millis().to_string(),
            "--json",
        ],
    );
    assert!(ok, "{answer}");
    assert_eq!(answer["passed"], true, "{answer}");
    let cases = answer["cases"].as_array().unwrap();
    assert!(cases.len() >= 4, "{answer}");
    assert!(cases.iter().all(|case| case["passed"] == true), "{answer}");
}

#[test]
fn the_javascript_template_passes_its_fixtures_as_a_user_runs_them() {
    passes_its_fixtures("js-vetted-texters");
}

#[test]
fn the_typescript_template_passes_its_fixtures_as_a_user_runs_them() {
    passes_its_fixtures("ts-vetted-texters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_template_answers_and_asks_what_its_rust_twin_does() {
    let Some(js) = js().await else {
        return;
    };
    same_as_rust_twin(&js.ts_vetted_texters, "vetted-texters", 0x75ed_2026).await;
}

#[test]
fn the_typescript_author_path_works_from_the_repository_root_as_the_readme_shows_it() {
    if js_component("ts-vetted-texters").is_none() {
        return;
    }
    let guide = std::fs::read_to_string(workspace_root().join("strategies/README.md")).unwrap();
    for command in [
        "spoke-batches new my-policy --lang ts",
        "spoke-batches test my-policy",
    ] {
        assert!(guide.contains(command), "strategies/README.md shows `{command}`");
    }
    let copy = support::cli::copy_of_the_repository_with(&[
        "vetted-texters",
        "js-vetted-texters",
        "ts-vetted-texters",
    ]);
    let (ok, answer) = support::cli::run_in(copy.path(), &["new", "my-policy", "--lang", "ts"]);
    assert!(ok, "{answer}");
    assert_eq!(answer["created"], "strategies/my-policy", "{answer}");
    assert_eq!(answer["language"], "ts", "{answer}");
    assert!(
        copy.path().join("strategies/dist/my-policy.wasm").is_file(),
        "{answer}"
    );
    let manifest = std::fs::read_to_string(copy.path().join("strategies/my-policy/package.json")).unwrap();
    assert!(manifest.contains("\"name\": \"my-policy\""), "{manifest}");
    // The debug binary compiles a componentize-js component 3-6 times slower than the release
    // one a user runs; only its compile timeout is raised.
    let (ok, answer) = support::cli::run_in_with_env(
        copy.path(),
        &["test", "my-policy", "--json"],
        &[(
            "SPOKE_BATCHES_COMPILE_TIMEOUT_MS",
            &COMPILE_TIMEOUT.as_millis().to_string(),
        )],
    );
    assert!(ok, "{answer}");
    assert_eq!(answer["passed"], true, "{answer}");
    // Every cargo command still works in the copy: the package is in the workspace's exclude.
    let metadata = std::process::Command::new(env!("CARGO"))
        .current_dir(copy.path())
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .output()
        .unwrap();
    assert!(
        metadata.status.success(),
        "{}",
        String::from_utf8_lossy(&metadata.stderr)
    );
}

#[test]
fn the_typescript_port_passes_its_rust_twins_fixtures() {
    passes_its_fixtures("ts-finished-replies-tz");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thrown_error_fails_the_request_with_its_message() {
    let Some((answer, _)) = hostile("throw-error", noon_eastern()).await else {
        return;
    };
    let failure = answer.unwrap_err();
    assert_eq!(
        failure.kind,
        FailureKind::ErrorResult("the campaign is not ready".to_string()),
        "{failure}"
    );
    let (answer, _) = hostile("throw-type-error", noon_eastern()).await.unwrap();
    match answer.unwrap_err().kind {
        FailureKind::ErrorResult(message) => assert!(message.starts_with("TypeError: "), "{message}"),
        other => panic!("a TypeError is an error result with its message, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuel_stops_an_endless_loop_and_memory_stops_at_its_limit() {
    let Some((answer, _)) = hostile("loop", noon_eastern()).await else {
        return;
    };
    let failure = answer.unwrap_err();
    assert!(matches!(failure.kind, FailureKind::OutOfFuel { .. }), "{failure}");
    let (answer, _) = hostile("memory", noon_eastern()).await.unwrap();
    let failure = answer.unwrap_err();
    // SpiderMonkey reports the refused growth as its own out-of-memory error, or the host stops
    // the growth itself: either way the request fails on memory and nothing else.
    let on_memory = match &failure.kind {
        FailureKind::Memory { .. } => true,
        FailureKind::ErrorResult(message) => message.contains("out of memory"),
        _ => false,
    };
    assert!(on_memory, "{failure:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_is_the_requests_now_never_the_build_time_or_the_real_clock() {
    let later = Utc.with_ymd_and_hms(2031, 7, 4, 16, 30, 15).unwrap();
    for now in [noon_eastern(), later] {
        let Some((answer, _)) = hostile("date", now).await else {
            return;
        };
        assert_eq!(answer.unwrap(), 1, "Date.now(), new Date() and Date() at {now}");
    }
    let (answer, _) = hostile("year", later).await.unwrap();
    assert_eq!(answer.unwrap(), 2031);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_writes_to_the_hosts_log() {
    let Some((answer, journal)) = hostile("console", noon_eastern()).await else {
        return;
    };
    assert_eq!(answer.unwrap(), 0);
    let lines: Vec<(&str, &str)> = journal
        .logs
        .iter()
        .map(|line| (line.level, line.message.as_str()))
        .collect();
    assert_eq!(lines[0], ("info", r#"hello {"texter":"5"}"#), "{lines:?}");
    assert_eq!(lines[1], ("warn", "careful"), "{lines:?}");
    assert_eq!(lines[2].0, "error", "{lines:?}");
    assert!(lines[2].1.starts_with("Error: shown\n"), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn math_random_repeats_for_the_same_request_and_differs_for_another() {
    let Some((first, _)) = hostile("random", noon_eastern()).await else {
        return;
    };
    let (again, _) = hostile("random", noon_eastern()).await.unwrap();
    assert_eq!(
        first.clone().unwrap(),
        again.unwrap(),
        "deterministic per request"
    );
    let (other, _) = hostile("random", noon_eastern() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_ne!(first.unwrap(), other.unwrap(), "seeded by the request");
}

#[test]
fn a_javascript_component_imports_nothing_but_the_strategy_host() {
    for name in [
        "js-vetted-texters",
        "ts-vetted-texters",
        "ts-finished-replies-tz",
        "js-hostile",
    ] {
        let Some(path) = js_component(name) else {
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let mut imports = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            if let wasmparser::Payload::ComponentImportSection(section) = payload.unwrap() {
                for import in section {
                    imports.push(import.unwrap().name.name.to_string());
                }
            }
        }
        // Interfaces are named `package/interface@version`; the rest are the types the exports use.
        let interfaces: Vec<&String> = imports.iter().filter(|import| import.contains(':')).collect();
        assert_eq!(
            interfaces,
            ["spoke:batches/types@0.1.0", "spoke:batches/host@0.1.0"],
            "{name}: {imports:?}"
        );
    }
}
