//! A new strategy without recompiling the host: copy the template, make the one documented
//! rename, build it, and the unchanged `spoke-batches` binary serves it. Before the rename, the
//! host says exactly what to rename.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::cli::{copy_of_the_repository, run_in};
use support::workspace_root;

/// Builds the strategy crate at `crate_dir` to a component and returns the `.wasm` path.
fn build_strategy(crate_dir: &Path, package: &str) -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("template-test");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {} failed", crate_dir.display());
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Runs the host binary's `strategies` command on `dir` and returns the entry for `name`.
fn listed(dir: &Path, name: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
        .arg("--strategies")
        .arg(dir)
        .arg("strategies")
        .output()
        .expect("run spoke-batches");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    answer["strategies"]
        .as_array()
        .expect("a strategies list")
        .iter()
        .find(|entry| entry["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not listed: {answer}"))
}

fn run(command: &mut Command) {
    let status = command.status().expect("run command");
    assert!(status.success(), "{command:?} failed");
}

#[test]
fn a_copied_template_is_served_by_the_unchanged_host_after_the_documented_rename() {
    let root = workspace_root();
    let work = tempfile::tempdir().unwrap();
    let strategies = work.path().join("strategies");
    let dist = strategies.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    // The layout of this repository: strategies/<name>/ next to wit/.
    run(Command::new("cp")
        .arg("-rp")
        .arg(root.join("wit"))
        .arg(work.path()));
    let new = strategies.join("my-policy");
    run(Command::new("cp")
        .arg("-rp")
        .arg(root.join("strategies/vetted-texters"))
        .arg(&new));
    // Resolve the same dependency versions as the workspace.
    std::fs::copy(root.join("Cargo.lock"), new.join("Cargo.lock")).unwrap();

    // Forgetting the rename: the host says what to rename, in which file.
    let built = build_strategy(&new, "vetted-texters");
    std::fs::copy(&built, dist.join("my-policy.wasm")).unwrap();
    let entry = listed(&dist, "my-policy");
    assert_eq!(entry["status"], "failed", "{entry}");
    let error = entry["error"].as_str().unwrap();
    assert!(
        error.contains("name() returns `vetted-texters` but the file is my-policy.wasm"),
        "{error}"
    );
    assert!(
        error.contains("set `name = \"my-policy\"` in strategies/my-policy/Cargo.toml"),
        "{error}"
    );

    // The documented rename, and an edit of the policy itself.
    let manifest = new.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("name = \"vetted-texters\"", "name = \"my-policy\""),
    )
    .unwrap();
    let source = new.join("src/lib.rs");
    let text = std::fs::read_to_string(&source).unwrap();
    assert!(text.contains("\"Vetted Texters can request a new batch\""));
    std::fs::write(
        &source,
        text.replace("\"Vetted Texters can request a new batch\"", "\"My own policy\""),
    )
    .unwrap();

    let built = build_strategy(&new, "my-policy");
    std::fs::copy(&built, dist.join("my-policy.wasm")).unwrap();
    let entry = listed(&dist, "my-policy");
    assert_eq!(entry["status"], "loaded", "{entry}");
    assert_eq!(entry["displayName"], "My own policy");
    assert_eq!(entry["witVersion"], "spoke:batches@0.1.0");
}

#[test]
fn new_scaffolds_a_strategy_from_the_template_and_builds_it() {
    let root = workspace_root();
    let work = tempfile::tempdir().unwrap();
    let strategies = work.path().join("strategies");
    std::fs::create_dir_all(&strategies).unwrap();
    run(Command::new("cp")
        .arg("-rp")
        .arg(root.join("wit"))
        .arg(work.path()));
    run(Command::new("cp")
        .arg("-rp")
        .arg(root.join("strategies/vetted-texters"))
        .arg(strategies.join("vetted-texters")));
    std::fs::copy(
        root.join("Cargo.lock"),
        strategies.join("vetted-texters/Cargo.lock"),
    )
    .unwrap();
    let dist = strategies.join("dist");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("template-test");
    let new = |name: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
            .arg("--strategies")
            .arg(&dist)
            .args(["new", name, "--sources"])
            .arg(&strategies)
            .env("CARGO_TARGET_DIR", &target_dir)
            .output()
            .expect("run spoke-batches new");
        let answer: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
        (output.status.success(), answer)
    };
    let (ok, answer) = new("door-knockers");
    assert!(ok, "{answer}");
    assert_eq!(
        answer["created"],
        strategies.join("door-knockers").display().to_string()
    );
    assert!(
        strategies.join("door-knockers/fixtures/rules.json").is_file(),
        "a starter fixture"
    );
    let manifest = std::fs::read_to_string(strategies.join("door-knockers/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"door-knockers\""), "{manifest}");
    let entry = listed(&dist, "door-knockers");
    assert_eq!(entry["status"], "loaded", "{entry}");
    assert_eq!(entry["displayName"], "Vetted Texters can request a new batch");

    let (ok, answer) = new("door-knockers");
    assert!(!ok);
    assert_eq!(answer["error"]["code"], "EXISTS", "{answer}");
    let (ok, answer) = new("Door_Knockers");
    assert!(!ok);
    assert_eq!(answer["error"]["code"], "BAD_NAME", "{answer}");
    assert!(!strategies.join("Door_Knockers").exists());
}

/// The README's "Writing a strategy" commands, copied as they are and run from the root of a
/// copy of the repository with default flags: `spoke-batches new my-policy`, then
/// `spoke-batches check strategies/dist/my-policy.wasm`.
#[test]
fn the_readme_author_commands_work_from_the_repository_root_with_default_flags() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for command in [
        "spoke-batches new my-policy",
        "spoke-batches check strategies/dist/my-policy.wasm",
    ] {
        assert!(readme.contains(command), "the README shows `{command}`");
    }
    let copy = copy_of_the_repository();
    let (ok, answer) = run_in(copy.path(), &["new", "my-policy"]);
    assert!(ok, "{answer}");
    assert_eq!(answer["created"], "strategies/my-policy", "{answer}");
    assert_eq!(answer["component"], "strategies/dist/my-policy.wasm", "{answer}");
    assert!(copy.path().join("strategies/dist/my-policy.wasm").is_file());

    let (ok, report) = run_in(
        copy.path(),
        &["check", "strategies/dist/my-policy.wasm", "--json"],
    );
    assert!(ok, "{report}");
    let (ok, listed) = run_in(copy.path(), &["strategies"]);
    assert!(ok, "{listed}");
    let entry = listed["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == "my-policy")
        .cloned()
        .unwrap_or_else(|| panic!("my-policy not listed: {listed}"));
    assert_eq!(entry["status"], "loaded", "{entry}");
}
