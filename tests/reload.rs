//! Hot reload and the compile cache: replacing a component while requests run fails none of
//! them and the new version answers afterwards; a broken component keeps the old one serving;
//! a second start compiles nothing; a corrupt cache entry is rebuilt, never loaded; a FIFO in
//! the folder fails its load without stalling the rescan; a cache folder or entry that someone
//! else could have written (group- or world-writable, another owner, a symbolic link) is never
//! loaded, while a private one hits.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spoke_batches::engine::{Caller, Engine};
use spoke_batches::registry::{SharedRegistry, StrategyRegistry, StrategyStatus};
use spoke_batches::reload::Reloader;
use spoke_batches::sandbox::Sandbox;
use spoke_batches::spoke_config::Environment;
use support::db::TestDb;
use support::{component_path, test_limits};

const NOW: &str = "2026-03-02T15:00:00Z";

/// Replaces `target` atomically with the built component of `crate_name`.
fn replace(crate_name: &str, target: &Path) {
    let staging = target.with_extension("wasm.tmp");
    std::fs::copy(component_path(crate_name), &staging).unwrap();
    std::fs::rename(&staging, target).unwrap();
}

/// Waits until `condition` holds on the served registry, for at most 10 s.
async fn eventually(shared: &SharedRegistry, what: &str, condition: impl Fn(&StrategyRegistry) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let registry = shared.current();
        if condition(&registry) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES (5, 'a', 'T', 'T', '1', 'e');
        INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size)
          VALUES (10, 1, 'C', TRUE, FALSE, TRUE, 5);
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10);
        "#,
    )
    .await;
    let contacts: Vec<String> = (0..3000)
        .map(|i| format!("(10, '+1{i:010}', 'needsMessage')"))
        .collect();
    db.exec(&format!(
        "INSERT INTO campaign_contact (campaign_id, cell, message_status) VALUES {}",
        contacts.join(", ")
    ))
    .await;
}

struct Folder {
    dir: tempfile::TempDir,
    sandbox: Arc<Sandbox>,
    shared: SharedRegistry,
}

async fn folder_with_all_texters() -> Folder {
    let dir = tempfile::tempdir().unwrap();
    support::install("all-texters", dir.path(), "all-texters");
    let sandbox = Sandbox::new(test_limits()).unwrap();
    let registry = StrategyRegistry::load_dir(&sandbox, dir.path()).await.unwrap();
    Folder {
        dir,
        sandbox,
        shared: SharedRegistry::new(registry),
    }
}

fn display_name(registry: &StrategyRegistry) -> Option<String> {
    registry
        .get("all-texters")
        .map(|component| component.display_name().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_component_under_load_fails_no_request() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let folder = folder_with_all_texters().await;
    let engine = Engine::new(
        db.db.clone(),
        folder.shared.clone(),
        Environment::from_pairs([("DYNAMICASSIGNMENT_BATCHES", "all-texters")]),
    );
    let _watch = Reloader::new(
        Arc::clone(&folder.sandbox),
        folder.dir.path(),
        folder.shared.clone(),
    )
    .watch()
    .unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (engine, stop) = (engine.clone(), Arc::clone(&stop));
        load.spawn(async move {
            let mut answers = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                engine
                    .has_unassigned(100, Caller::User(5), NOW.parse().unwrap())
                    .await?;
                answers += 1;
            }
            Ok::<u32, spoke_batches::engine::EngineError>(answers)
        });
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let replaced = Instant::now();
    replace("next-version", &folder.dir.path().join("all-texters.wasm"));
    eventually(&folder.shared, "version 2 serves", |registry| {
        display_name(registry).as_deref() == Some("Everyone can request a new batch (version 2)")
    })
    .await;
    let reload_time = replaced.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while let Some(joined) = load.join_next().await {
        assert!(joined.unwrap().expect("no request fails during the swap") > 0);
    }
    assert!(
        reload_time < Duration::from_secs(5),
        "reload took {reload_time:?}"
    );
    // The new version's behaviour: at most one contact per request.
    let mut request = spoke_batches::engine::BatchRequest {
        assignment_id: 100,
        caller: Caller::User(5),
        number_contacts: None,
        batch_type: None,
        now: NOW.parse().unwrap(),
    };
    assert_eq!(engine.request_batch(request.clone()).await.unwrap().assigned, 1);
    request.number_contacts = Some(5);
    assert_eq!(engine.request_batch(request).await.unwrap().assigned, 1);
}

#[tokio::test]
async fn a_broken_component_keeps_the_previous_version_serving() {
    let folder = folder_with_all_texters().await;
    let reloader = Reloader::new(
        Arc::clone(&folder.sandbox),
        folder.dir.path(),
        folder.shared.clone(),
    );
    let target = folder.dir.path().join("all-texters.wasm");
    let before = folder
        .shared
        .current()
        .get("all-texters")
        .unwrap()
        .content_hash()
        .to_string();
    let bytes = std::fs::read(&target).unwrap();
    std::fs::write(&target, &bytes[..bytes.len() / 3]).unwrap();
    let report = reloader.rescan().await.unwrap();
    assert_eq!(report.failed, ["all-texters"]);
    let registry = folder.shared.current();
    let entry = registry.entry("all-texters").unwrap();
    assert_eq!(entry.status(), StrategyStatus::Stale);
    assert!(
        entry
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("is not a valid component"),
        "{:?}",
        entry.error
    );
    assert_eq!(
        entry.serving.as_ref().unwrap().content_hash(),
        before,
        "the old version still serves"
    );
    // Fixing the file brings it back; removing it unloads it.
    std::fs::write(&target, &bytes).unwrap();
    assert_eq!(reloader.rescan().await.unwrap().loaded, ["all-texters"]);
    assert_eq!(
        folder.shared.current().entry("all-texters").unwrap().status(),
        StrategyStatus::Loaded
    );
    // Its history, kept across the reloads: loaded, then stale with the error, then loaded again.
    let summary = folder
        .shared
        .current()
        .summaries()
        .into_iter()
        .find(|summary| summary.name == "all-texters")
        .unwrap();
    let steps: Vec<_> = summary
        .history
        .iter()
        .map(|event| (event.status, event.version.is_some(), event.error.is_some()))
        .collect();
    assert_eq!(
        steps,
        [
            (StrategyStatus::Loaded, true, false),
            (StrategyStatus::Stale, false, true),
            (StrategyStatus::Loaded, true, false),
        ]
    );
    assert_eq!(
        summary.history[0].version, summary.history[2].version,
        "the same file again"
    );
    std::fs::remove_file(&target).unwrap();
    assert_eq!(reloader.rescan().await.unwrap().removed, ["all-texters"]);
    assert!(folder.shared.current().get("all-texters").is_none());
    // A rescan with nothing changed changes nothing.
    assert_eq!(reloader.rescan().await.unwrap(), Default::default());
}

/// How many strategies of `dir` load in `sandbox`.
async fn loaded_from(sandbox: &Arc<Sandbox>, dir: &Path) -> usize {
    let registry = StrategyRegistry::load_dir(sandbox, dir).await.unwrap();
    registry
        .entries()
        .filter(|(_, entry)| entry.status() == StrategyStatus::Loaded)
        .count()
}

#[tokio::test]
async fn a_second_start_compiles_nothing_and_a_corrupt_cache_entry_is_rebuilt() {
    let strategies = tempfile::tempdir().unwrap();
    for name in support::SHIPPED {
        support::install(name, strategies.path(), name);
    }
    let cache = tempfile::tempdir().unwrap();
    let first = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&first, strategies.path()).await, 5);
    assert_eq!(first.compilations(), 5);

    let second = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&second, strategies.path()).await, 5);
    assert_eq!(second.compilations(), 0, "every component came from the cache");

    // Corrupt one compiled artifact: it is detected, ignored and rebuilt.
    let artifact = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "cwasm"))
        .unwrap();
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&artifact, &bytes).unwrap();
    let third = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&third, strategies.path()).await, 5);
    assert_eq!(third.compilations(), 1, "only the corrupt entry was recompiled");
}

#[tokio::test]
async fn a_fifo_appearing_in_the_folder_fails_its_load_without_stalling_the_rescan() {
    let folder = folder_with_all_texters().await;
    let reloader = Reloader::new(
        Arc::clone(&folder.sandbox),
        folder.dir.path(),
        folder.shared.clone(),
    );
    let fifo = folder.dir.path().join("x.wasm");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(30), reloader.rescan())
        .await
        .expect("a rescan never waits on a FIFO")
        .unwrap();
    assert_eq!(report.failed, ["x"]);
    let registry = folder.shared.current();
    let error = registry.entry("x").unwrap().error.as_ref().unwrap().to_string();
    assert!(
        error.contains("is a FIFO (named pipe), not a regular file"),
        "{error}"
    );
    assert_eq!(
        registry.entry("all-texters").unwrap().status(),
        StrategyStatus::Loaded
    );
}

/// A strategies folder with the shipped strategies, and an empty private cache folder.
fn strategies_and_cache() -> (tempfile::TempDir, tempfile::TempDir) {
    let strategies = tempfile::tempdir().unwrap();
    for name in support::SHIPPED {
        support::install(name, strategies.path(), name);
    }
    (strategies, tempfile::tempdir().unwrap())
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The compiled artifacts in the cache folder.
fn artifacts(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "cwasm"))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn a_cache_folder_others_can_write_is_refused_and_every_component_compiles() {
    let (strategies, cache) = strategies_and_cache();
    // Obeyed: a private folder is used.
    let private = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert!(private.has_cache());
    assert_eq!(loaded_from(&private, strategies.path()).await, 5);
    // Violated: the same folder, group-writable, is not used at all: not read (the entries in
    // it now could have been planted), and the service still starts and compiles instead.
    set_mode(cache.path(), 0o770);
    let shared = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert!(!shared.has_cache(), "a group-writable cache folder is refused");
    assert_eq!(loaded_from(&shared, strategies.path()).await, 5);
    assert_eq!(shared.compilations(), 5, "nothing came from the refused folder");
    set_mode(cache.path(), 0o702);
    let open = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert!(!open.has_cache(), "a world-writable cache folder is refused");
    // The refusal says why and what to do.
    let engine = wasmtime::Engine::default();
    let error = spoke_batches::sandbox::CompileCache::new(cache.path(), &engine).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("writable by its group or by others (mode 0702)"),
        "{message}"
    );
    assert!(
        message.contains("--cache-dir") && message.contains("compiling every component instead"),
        "{message}"
    );
}

#[tokio::test]
async fn a_symlinked_or_shared_cache_entry_is_not_loaded_and_a_private_one_is() {
    let (strategies, cache) = strategies_and_cache();
    let first = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&first, strategies.path()).await, 5);
    let entries = artifacts(cache.path());
    assert_eq!(entries.len(), 5);
    // One entry becomes a link to its own genuine bytes elsewhere (its digest still matches,
    // so only the link itself can refuse it); another becomes group-writable.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("planted.cwasm");
    std::fs::rename(&entries[0], &target).unwrap();
    std::os::unix::fs::symlink(&target, &entries[0]).unwrap();
    set_mode(&entries[1], 0o664);

    let second = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&second, strategies.path()).await, 5);
    assert_eq!(
        second.compilations(),
        2,
        "the linked and the group-writable entries were compiled again, the three private ones hit"
    );
    // The rebuilt entries are private regular files again.
    for entry in &entries[..2] {
        use std::os::unix::fs::PermissionsExt as _;
        let metadata = std::fs::symlink_metadata(entry).unwrap();
        assert!(metadata.file_type().is_file(), "{}", entry.display());
        assert_eq!(
            metadata.permissions().mode() & 0o777,
            0o600,
            "{}",
            entry.display()
        );
    }
    let third = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&third, strategies.path()).await, 5);
    assert_eq!(third.compilations(), 0, "a correct private cache hits");
}

#[tokio::test]
async fn a_cache_folder_or_entry_owned_by_another_user_is_refused() {
    // Only root can give a file away; CI runs as root. Elsewhere the check is the uid
    // comparison the group-writable tests already exercise.
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("skipped: needs root to chown");
        return;
    }
    let nobody = Some(rustix::process::Uid::from_raw(65_534));
    let (strategies, cache) = strategies_and_cache();
    let first = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&first, strategies.path()).await, 5);
    // A planted entry: someone else's file with a correct digest beside it.
    let entries = artifacts(cache.path());
    rustix::fs::chown(&entries[0], nobody, None).unwrap();
    let second = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert_eq!(loaded_from(&second, strategies.path()).await, 5);
    assert_eq!(
        second.compilations(),
        1,
        "the entry owned by another user is not loaded"
    );
    // The folder itself owned by another user: not used.
    rustix::fs::chown(cache.path(), nobody, None).unwrap();
    let third = Sandbox::with_cache(test_limits(), Some(cache.path())).unwrap();
    assert!(!third.has_cache());
    let message = spoke_batches::sandbox::CompileCache::new(cache.path(), &wasmtime::Engine::default())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("owned by uid 65534, not by the service's user (uid 0)"),
        "{message}"
    );
}
