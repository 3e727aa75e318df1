//! The `spoke-batches` binary run as a user runs it: on a test's database with Spoke's shipped
//! strategies, or from the root of a copy of this repository with default flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::db::TestDb;
use super::{SHIPPED, install, workspace_root};

/// The one JSON object a command printed: (whether it succeeded, the object).
fn answer(output: &std::process::Output) -> (bool, Value) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "exactly one line of JSON: {stdout}");
    let value = serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    (output.status.success(), value)
}

/// One organization, a non-vetted texter (user 5) with assignment 100 in the dynamic campaign
/// 10 (batch size 4), holding one of its six needsMessage contacts.
pub async fn seed_one_campaign(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES
          (5, 'a5', 'T', 'T', '1', 'e5'), (6, 'a6', 'N', 'N', '2', 'e6');
        INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token)
          VALUES (10, 1, 'C', TRUE, FALSE, TRUE, 4, 'tok');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10);
        INSERT INTO campaign_contact (campaign_id, cell, message_status, assignment_id, timezone_offset) VALUES
          (10, '1', 'needsMessage', NULL, ''), (10, '2', 'needsMessage', NULL, ''), (10, '3', 'needsMessage', NULL, ''),
          (10, '4', 'needsMessage', NULL, ''), (10, '5', 'needsMessage', NULL, ''), (10, '6', 'needsMessage', 100, '');
        "#,
    )
    .await;
}

/// Runs the binary on `db` with Spoke's five strategies and `args`.
pub fn run(db: &TestDb, args: &[&str]) -> (bool, Value) {
    let strategies = tempfile::tempdir().expect("strategies folder");
    for name in SHIPPED {
        install(name, strategies.path(), name);
    }
    let output = Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
        .arg("--database-url")
        .arg(&db.url)
        .arg("--strategies")
        .arg(strategies.path())
        .args(args)
        .env_remove("DYNAMICASSIGNMENT_BATCHES")
        .output()
        .expect("run spoke-batches");
    answer(&output)
}

/// A copy of this repository's tracked files in a temporary folder, as a user's clone is, with
/// only the `vetted-texters` strategy (the template; every strategy would be rebuilt in the copy).
pub fn copy_of_the_repository() -> tempfile::TempDir {
    copy_of_the_repository_with(&["vetted-texters"])
}

/// Like [`copy_of_the_repository`], with the strategy folders `strategies` only.
pub fn copy_of_the_repository_with(strategies: &[&str]) -> tempfile::TempDir {
    let root = workspace_root();
    let copy = tempfile::tempdir().expect("a temporary folder");
    let listed = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z"])
        .output()
        .expect("run git ls-files");
    assert!(listed.status.success(), "git ls-files failed");
    for file in listed
        .stdout
        .split(|&byte| byte == 0)
        .filter(|name| !name.is_empty())
    {
        let relative = Path::new(std::str::from_utf8(file).expect("a UTF-8 path"));
        let skipped = relative.starts_with("strategies")
            && relative.components().count() > 2
            && !strategies
                .iter()
                .any(|name| relative.starts_with(Path::new("strategies").join(name)));
        if skipped || !root.join(relative).is_file() {
            continue;
        }
        let target = copy.path().join(relative);
        std::fs::create_dir_all(target.parent().expect("a file has a folder")).expect("create a folder");
        std::fs::copy(root.join(relative), &target).expect("copy a file");
    }
    copy
}

/// Runs the binary in `dir` with `args` only (default flags). Builds go to a target folder of
/// their own: a copy's guest artifacts must not replace the ones other tests are loading.
pub fn run_in(dir: &Path, args: &[&str]) -> (bool, Value) {
    run_in_with_env(dir, args, &[])
}

/// Like [`run_in`], with the environment variables `env` set.
pub fn run_in_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, Value) {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("readme-copy");
    let output = Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("SPOKE_BATCHES_STRATEGIES")
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run spoke-batches");
    answer(&output)
}
