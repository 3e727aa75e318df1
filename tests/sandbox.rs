//! The sandbox under misbehaving strategies: each failure fails that one call with an error
//! naming the strategy, its version and the reason, and the host goes on serving. Also the
//! load-time checks of the strategies folder: bad files, FIFOs and directories, the size
//! limit, and a component that compiles past the compile timeout.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::sync::Arc;
use std::time::Duration;

use spoke_batches::registry::{StrategyRegistry, StrategyStatus};
use spoke_batches::sandbox::{
    BatchPlan, FailureKind, LoadError, Sandbox, SandboxLimits, StrategyComponent, StrategyFailure,
    StrategySession, WIT_VERSION,
};
use spoke_batches::source::MemorySource;
use support::contacts::Contacts;
use support::{Scenario, install, loaded, test_limits};

/// A `hostile` request whose campaign title picks the misbehaviour.
fn hostile(mode: &str) -> Scenario {
    let mut scenario = Scenario::new().with(Contacts::new(20).in_zone("-5_1"));
    scenario.campaign.title = mode.to_string();
    scenario
}

const PLAN: BatchPlan = BatchPlan {
    number_contacts: 5,
    contacts_count: 0,
};

/// Runs `mode` and returns its failure, then checks that a normal request right after it on
/// the same host still succeeds.
async fn count_failure(mode: &str) -> StrategyFailure {
    let failure = hostile(mode).count("hostile").await.expect_err(mode);
    assert_healthy().await;
    failure
}

async fn select_failure(mode: &str) -> StrategyFailure {
    let failure = hostile(mode).select("hostile", PLAN).await.expect_err(mode);
    assert_healthy().await;
    failure
}

async fn assert_healthy() {
    assert_eq!(
        hostile("ok")
            .count("hostile")
            .await
            .expect("healthy hostile call"),
        10
    );
    assert_eq!(
        Scenario::new()
            .with(Contacts::new(3))
            .count("all-texters")
            .await
            .expect("healthy all-texters call"),
        3
    );
}

#[tokio::test]
async fn a_well_behaved_call_succeeds() {
    assert_healthy().await;
}

#[tokio::test]
async fn a_panic_is_a_trap_that_carries_the_panic_message() {
    let failure = count_failure("panic").await;
    let FailureKind::Trap { trap, panic } = &failure.kind else {
        panic!("expected a trap, got {failure}");
    };
    assert!(trap.contains("unreachable"), "{trap}");
    assert!(
        panic
            .as_deref()
            .unwrap_or_default()
            .contains("hostile strategy panicked on purpose"),
        "{panic:?}"
    );
    let version = &loaded().await.get("hostile").version().to_string();
    assert_eq!(failure.strategy, "hostile");
    assert_eq!(&failure.version, version);
    let message = failure.to_string();
    assert!(
        message.starts_with(&format!(
            "strategy `hostile` (version {version}) failed: it trapped"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn an_infinite_loop_runs_out_of_fuel() {
    let failure = count_failure("loop").await;
    assert_eq!(
        failure.kind,
        FailureKind::OutOfFuel {
            limit: test_limits().fuel_per_call
        }
    );
    assert!(
        failure
            .to_string()
            .contains("ran out of fuel (limit: 20000000 units per call)"),
        "{failure}"
    );
}

#[tokio::test]
async fn an_infinite_loop_with_plenty_of_fuel_hits_the_deadline() {
    let limits = SandboxLimits {
        fuel_per_call: u64::MAX / 4,
        deadline: Duration::from_millis(150),
        concurrent_instances: 4,
        ..SandboxLimits::default()
    };
    let sandbox = Sandbox::new(limits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let strategy = sandbox
        .load_file(&install("hostile", dir.path(), "hostile"))
        .await
        .unwrap();
    let scenario = hostile("loop");
    let started = std::time::Instant::now();
    let mut session = strategy.start(scenario.source()).await.unwrap();
    let failure = session
        .request_new_batch_count(&scenario.request())
        .await
        .unwrap_err();
    assert_eq!(
        failure.kind,
        FailureKind::Deadline {
            limit: Duration::from_millis(150)
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped after {:?}",
        started.elapsed()
    );
    // The same host serves the next call.
    let ok = hostile("ok");
    let mut session = strategy.start(ok.source()).await.unwrap();
    assert_eq!(
        session
            .request_new_batch_count(&ok.request())
            .await
            .unwrap()
            .value,
        10
    );
}

#[tokio::test]
async fn unbounded_memory_growth_hits_the_memory_limit() {
    let failure = count_failure("grow-memory").await;
    let FailureKind::Memory { limit, desired } = failure.kind else {
        panic!("expected the memory limit, got {failure}");
    };
    assert_eq!(limit, test_limits().memory_bytes);
    assert!(desired > limit);
}

#[tokio::test]
async fn deep_recursion_exhausts_the_stack_as_a_trap() {
    let failure = count_failure("recurse").await;
    let FailureKind::Trap { trap, .. } = &failure.kind else {
        panic!("expected a trap, got {failure}");
    };
    assert!(trap.contains("call stack exhausted"), "{trap}");
}

#[tokio::test]
async fn an_err_result_fails_the_call_with_its_message() {
    let failure = count_failure("err").await;
    assert_eq!(
        failure.kind,
        FailureKind::ErrorResult("refused on purpose".into())
    );
}

#[tokio::test]
async fn a_huge_error_message_is_cut_to_the_string_limit() {
    let failure = count_failure("huge-error").await;
    let FailureKind::ErrorResult(message) = &failure.kind else {
        panic!("expected an error result, got {failure}");
    };
    assert!(
        message.len() <= test_limits().max_string_bytes + '…'.len_utf8(),
        "{} bytes",
        message.len()
    );
    assert!(message.ends_with('…'));
}

#[tokio::test]
async fn a_flood_of_host_calls_hits_the_host_call_limit() {
    let failure = count_failure("host-call-flood").await;
    assert_eq!(
        failure.kind,
        FailureKind::TooManyHostCalls {
            limit: test_limits().host_calls_per_call
        }
    );
}

#[tokio::test]
async fn a_flood_of_log_lines_is_cut_to_the_log_budget() {
    let (report, journal) = hostile("log-flood").count_report("hostile").await.unwrap();
    assert_eq!(report.value, 10);
    let kept: usize = journal.logs.iter().map(|line| line.message.len()).sum();
    assert!(kept <= test_limits().log_bytes_per_call, "{kept} bytes kept");
    assert!(kept > test_limits().log_bytes_per_call / 2, "{kept} bytes kept");
    assert!(journal.dropped_log_bytes > 0);
    assert_eq!(journal.logs[0].message, "line 0 of a flood of log lines");
    assert_eq!(journal.logs[0].level, "info");
}

#[tokio::test]
async fn a_batch_limit_above_the_plan_is_refused() {
    let failure = select_failure("limit-above-plan").await;
    assert_eq!(
        failure.kind,
        FailureKind::InvalidValue("the batch query's limit 6 is above the plan's number-contacts 5".into())
    );
}

#[tokio::test]
async fn a_huge_status_list_is_refused() {
    let failure = select_failure("huge-list").await;
    let FailureKind::InvalidValue(reason) = &failure.kind else {
        panic!("expected an invalid value, got {failure}");
    };
    assert!(reason.contains("1000000 entries; the limit is 64"), "{reason}");
}

#[tokio::test]
async fn a_panic_in_select_contacts_is_a_trap() {
    let failure = select_failure("select-panic").await;
    assert!(matches!(failure.kind, FailureKind::Trap { .. }), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_healthy_calls_run_side_by_side() {
    let mut calls = tokio::task::JoinSet::new();
    for round in 0..8 {
        calls.spawn(async move {
            (
                round,
                hostile(if round % 2 == 0 { "panic" } else { "ok" })
                    .count("hostile")
                    .await,
            )
        });
    }
    while let Some(joined) = calls.join_next().await {
        let (round, result) = joined.unwrap();
        if round % 2 == 0 {
            assert!(matches!(result.unwrap_err().kind, FailureKind::Trap { .. }));
        } else {
            assert_eq!(result.unwrap(), 10);
        }
    }
}

fn load_error<'a>(registry: &'a StrategyRegistry, name: &str) -> &'a LoadError {
    let entry = registry
        .entry(name)
        .unwrap_or_else(|| panic!("{name} is not in the registry"));
    assert_eq!(entry.status(), StrategyStatus::Failed, "{name}");
    entry
        .error
        .as_deref()
        .unwrap_or_else(|| panic!("{name} has no error"))
}

#[tokio::test]
async fn bad_files_fail_to_load_with_clear_errors_while_the_others_load() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    install("vetted-texters", folder, "vetted-texters");
    install("hostile", folder, "liar");
    std::fs::write(folder.join("junk.wasm"), b"this is not wasm").unwrap();
    std::fs::write(folder.join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let component = std::fs::read(support::component_path("all-texters")).unwrap();
    std::fs::write(folder.join("truncated.wasm"), &component[..component.len() / 2]).unwrap();
    install("all-texters", folder, "Bad_Name");
    std::fs::write(folder.join("README.txt"), b"not a component, not loaded").unwrap();

    let sandbox = Sandbox::new(test_limits()).unwrap();
    let registry = StrategyRegistry::load_dir(&sandbox, folder).await.unwrap();

    assert_eq!(
        registry.get("vetted-texters").map(|s| s.display_name()),
        Some("Vetted Texters can request a new batch")
    );
    assert_eq!(registry.entries().count(), 6, "README.txt is ignored");

    let liar = load_error(&registry, "liar").to_string();
    assert!(
        liar.contains("name() returns `hostile` but the file is liar.wasm"),
        "{liar}"
    );
    assert!(
        liar.contains("set `name = \"liar\"` in strategies/liar/Cargo.toml"),
        "{liar}"
    );

    assert!(
        matches!(load_error(&registry, "junk"), LoadError::NotAComponent { detail, .. } if detail.is_empty())
    );
    let core = load_error(&registry, "core");
    assert!(
        core.to_string()
            .contains("is not a WebAssembly component (it is a core WebAssembly module)"),
        "{core}"
    );
    assert!(matches!(
        load_error(&registry, "truncated"),
        LoadError::Invalid { .. }
    ));
    assert!(matches!(
        load_error(&registry, "Bad_Name"),
        LoadError::InvalidName { .. }
    ));
    // The strategy that loaded serves a request on the same host.
    let strategy = registry.get("vetted-texters").unwrap();
    let scenario = Scenario::new().with(Contacts::new(4));
    let mut session = strategy.start(scenario.source()).await.unwrap();
    assert_eq!(
        session
            .request_new_batch_count(&scenario.request())
            .await
            .unwrap()
            .value,
        4
    );
}

/// Makes a FIFO (named pipe) at `path`: opening it for reading blocks until a writer comes.
fn make_fifo(path: &std::path::Path) {
    use rustix::fs::{CWD, FileType, Mode, mknodat};
    mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
}

#[tokio::test]
async fn a_fifo_or_a_directory_named_like_a_component_fails_to_load_while_the_others_load() {
    let dir = tempfile::tempdir().unwrap();
    install("all-texters", dir.path(), "all-texters");
    make_fifo(&dir.path().join("x.wasm"));
    std::fs::create_dir(dir.path().join("folder.wasm")).unwrap();
    let sandbox = Sandbox::new(test_limits()).unwrap();
    // Reading a FIFO whole would wait for a writer forever.
    let registry = tokio::time::timeout(
        Duration::from_secs(30),
        StrategyRegistry::load_dir(&sandbox, dir.path()),
    )
    .await
    .expect("loading the folder never waits on a FIFO")
    .unwrap();
    let fifo = load_error(&registry, "x");
    assert!(
        matches!(fifo, LoadError::NotAFile { kind, .. } if kind.contains("FIFO")),
        "{fifo}"
    );
    assert!(fifo.to_string().contains("not a regular file"), "{fifo}");
    let folder = load_error(&registry, "folder");
    assert!(
        matches!(
            folder,
            LoadError::NotAFile {
                kind: "a directory",
                ..
            }
        ),
        "{folder}"
    );
    assert!(registry.get("all-texters").is_some(), "the others load");
}

#[tokio::test]
async fn a_component_file_at_the_size_limit_loads_and_one_byte_more_is_refused() {
    let component = std::fs::read(support::component_path("all-texters")).unwrap();
    let size = component.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let path = install("all-texters", dir.path(), "all-texters");
    let at_limit = Sandbox::new(SandboxLimits {
        component_bytes: size,
        ..test_limits()
    })
    .unwrap();
    assert!(at_limit.load_file(&path).await.is_ok());
    let below = Sandbox::new(SandboxLimits {
        component_bytes: size - 1,
        ..test_limits()
    })
    .unwrap();
    let error = below.load_file(&path).await.unwrap_err();
    assert!(
        matches!(error, LoadError::TooLarge { size: s, limit, .. } if s == size && limit == size - 1),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_strategies_folder_is_an_error_that_says_what_to_do() {
    let sandbox = Sandbox::new(test_limits()).unwrap();
    let error = StrategyRegistry::load_dir(&sandbox, std::path::Path::new("/nonexistent/strategies"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("make strategies"), "{error}");
}

#[tokio::test]
async fn an_oversized_component_is_refused_before_compiling() {
    let limits = SandboxLimits {
        component_bytes: 1_000,
        concurrent_instances: 2,
        ..SandboxLimits::default()
    };
    let sandbox = Sandbox::new(limits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let error = sandbox
        .load_file(&install("all-texters", dir.path(), "all-texters"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LoadError::TooLarge { limit: 1_000, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_component_importing_files_sockets_or_clocks_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    install("escape", dir.path(), "escape");
    install("all-texters", dir.path(), "all-texters");
    let sandbox = Sandbox::new(test_limits()).unwrap();
    let registry = StrategyRegistry::load_dir(&sandbox, dir.path()).await.unwrap();
    let error = load_error(&registry, "escape");
    let LoadError::ForbiddenImports { imports, .. } = error else {
        panic!("expected forbidden imports, got {error}");
    };
    for interface in ["wasi:filesystem/", "wasi:sockets/", "wasi:clocks/wall-clock"] {
        assert!(imports.contains(interface), "{interface} not named in: {imports}");
    }
    assert!(
        error.to_string().contains("remove the code that uses them"),
        "{error}"
    );
    assert!(registry.get("all-texters").is_some(), "the others still load");
}

#[tokio::test]
async fn an_instance_built_ahead_of_its_data_answers_from_the_data_attached() {
    // The engine builds the instance while the database works, then attaches the request's
    // data. (Calling it before attaching does not compile: see `StrategyInstance`.)
    let strategy = loaded().await.get("all-texters");
    let scenario = Scenario::new().with(Contacts::new(5).in_zone("-5_1"));
    counted_session(&strategy, &scenario).await;
}

/// A fresh session of `strategy` with `scenario`'s data attached, after a first call that
/// counted the scenario's 5 contacts.
async fn counted_session(
    strategy: &Arc<StrategyComponent>,
    scenario: &Scenario,
) -> StrategySession<MemorySource> {
    let instance = strategy.prepare(Arc::new(test_limits())).await.unwrap();
    let mut session = instance.attach(scenario.source());
    let counted = session
        .request_new_batch_count(&scenario.request())
        .await
        .unwrap();
    assert_eq!(counted.value, 5);
    session
}

#[tokio::test]
async fn a_finished_session_gives_back_its_source_as_given_with_the_journal() {
    let strategy = loaded().await.get("all-texters");
    let scenario = Scenario::new().with(Contacts::new(5).in_zone("-5_1"));
    let session = counted_session(&strategy, &scenario).await;
    // The engine finishes before its claim and drops the spent instance while the claim runs.
    // (Calling the session after `finish` does not compile: see `StrategySession`.)
    let finished = session.finish();
    // The source comes back as its own type, with no downcast.
    assert_eq!(
        finished.source.contacts.len(),
        5,
        "the attached source comes back"
    );
    assert!(
        !finished.journal.host_calls.is_empty(),
        "with the questions the strategy asked"
    );
    drop(finished.instance);
}

/// A component importing `interface` (an empty instance), and nothing else.
fn importing(interface: &str) -> Vec<u8> {
    use wasm_encoder::{ComponentImportSection, ComponentTypeRef, ComponentTypeSection, InstanceType};
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    let mut imports = ComponentImportSection::new();
    imports.import(interface, ComponentTypeRef::Instance(0));
    let mut component = wasm_encoder::Component::new();
    component.section(&types).section(&imports);
    component.finish()
}

#[tokio::test]
async fn a_component_of_another_wit_version_is_refused_naming_it() {
    let sandbox = Sandbox::new(test_limits()).unwrap();
    for (interface, found) in [
        ("spoke:batches/host@0.2.0", "spoke:batches@0.2.0"),
        ("spoke:batches/types@0.1.1", "spoke:batches@0.1.1"),
        ("spoke:batches/host@0.1.0-rc.1", "spoke:batches@0.1.0-rc.1"),
    ] {
        let error = sandbox
            .load_bytes(std::path::Path::new("newer.wasm"), importing(interface))
            .await
            .unwrap_err();
        let LoadError::UnsupportedWitVersion {
            found: named,
            supported,
            ..
        } = &error
        else {
            panic!("{interface}: expected an unsupported WIT version, got {error}");
        };
        assert_eq!(named, found);
        assert_eq!(supported, WIT_VERSION);
        assert!(error.to_string().contains(found), "{error}");
    }
    // A version that is not semver cannot be in a valid component: the parser refuses it,
    // naming it, before any check of the host's.
    let error = sandbox
        .load_bytes(
            std::path::Path::new("short.wasm"),
            importing("spoke:batches/host@0.1"),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, LoadError::Invalid { .. }), "{error}");
    assert!(error.to_string().contains("spoke:batches/host@0.1`"), "{error}");
}

/// A component holding one core module with one function of `additions` steps: valid, quick
/// to build, slow to compile.
fn enormous_component(additions: usize) -> Vec<u8> {
    use wasm_encoder::{CodeSection, Function, FunctionSection, Module, ModuleSection, TypeSection, ValType};
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut body = Function::new([]);
    for step in 0..additions {
        body.instructions()
            .local_get(0)
            .i32_const(step as i32)
            .i32_add()
            .local_set(0);
    }
    body.instructions().local_get(0).end();
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    let mut component = wasm_encoder::Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_compiles_past_the_timeout_fails_while_the_others_load() {
    // A debug build of the compiler takes about 40 s over this function (1 MiB); the real
    // strategies compile in about a second.
    let timeout = Duration::from_secs(5);
    let limits = SandboxLimits {
        compile_timeout: timeout,
        ..test_limits()
    };
    let dir = tempfile::tempdir().unwrap();
    let enormous = enormous_component(120_000);
    std::fs::write(dir.path().join("enormous.wasm"), &enormous).unwrap();
    install("all-texters", dir.path(), "all-texters");
    install("vetted-texters", dir.path(), "vetted-texters");
    let sandbox = Sandbox::new(limits).unwrap();
    let started = std::time::Instant::now();
    let registry = StrategyRegistry::load_dir(&sandbox, dir.path()).await.unwrap();
    let took = started.elapsed();

    let error = load_error(&registry, "enormous");
    assert!(
        matches!(error, LoadError::CompileTimeout { limit, .. } if *limit == timeout),
        "{error}"
    );
    assert!(
        error.to_string().contains("took longer than 5000 ms to compile")
            && error.to_string().contains("--compile-timeout-ms"),
        "{error}"
    );
    for name in ["all-texters", "vetted-texters"] {
        assert!(registry.get(name).is_some(), "{name} loads beside it");
    }
    assert!(
        took < Duration::from_secs(30),
        "the others waited {took:?}: the enormous compile held them up past its timeout"
    );
    // Loading the same bytes again while their abandoned compile still runs fails at once,
    // without starting a second compile of them.
    let again = std::time::Instant::now();
    let error = sandbox
        .load_bytes(&dir.path().join("enormous.wasm"), enormous)
        .await
        .unwrap_err();
    assert!(matches!(error, LoadError::CompileTimeout { .. }), "{error}");
    assert!(again.elapsed() < timeout, "it waited {:?}", again.elapsed());
}
