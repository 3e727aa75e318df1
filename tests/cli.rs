//! The `spoke-batches` command-line contract: one JSON object on stdout per command, an
//! `{"error":{"code","message"}}` object and a non-zero exit on failure.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::cli::{run, seed_one_campaign as seed};
use support::db::TestDb;

#[tokio::test]
async fn every_command_prints_its_json_answer() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let now = "2026-03-02T15:00:00Z";
    assert_eq!(
        run(
            &db,
            &[
                "request-batch",
                "--assignment-id",
                "100",
                "--texter-id",
                "5",
                "--now",
                now
            ]
        ),
        (
            true,
            json!({"found": true, "assigned": 4, "assignment": {"id": 100, "hasUnassignedContactsForTexter": 0},
                   "strategy": "finished-replies-tz"})
        )
    );
    assert_eq!(
        run(&db, &["has-unassigned", "--assignment-id", "100", "--now", now]),
        (true, json!({"count": 1}))
    );
    assert_eq!(
        run(&db, &["release", "--assignment-id", "100"]),
        (true, json!({"released": 5}))
    );
    assert_eq!(
        run(
            &db,
            &[
                "join",
                "--campaign-id",
                "10",
                "--user-id",
                "6",
                "--join-token",
                "tok"
            ]
        ),
        (true, json!({"assignmentId": 101, "created": true}))
    );
    assert_eq!(
        run(&db, &["message-sent", "--contact-id", "1"]),
        (true, json!({"unassigned": false}))
    );
    assert_eq!(
        run(&db, &["migrate"]),
        (true, json!({"migrated": true, "database": "sqlite"}))
    );
    // The schema is ours, so its migrations already made both indexes.
    assert_eq!(
        run(&db, &["migrate", "--claim-index"]),
        (
            true,
            json!({"migrated": true, "database": "sqlite", "claimIndex": "present",
                   "assignmentIndex": "present"})
        )
    );
    // Its migrations keep the holdings too; asked again, they are counted afresh.
    assert_eq!(
        run(&db, &["migrate", "--holdings"]),
        (
            true,
            json!({"migrated": true, "database": "sqlite", "holdings": "recounted"})
        )
    );
    let (ok, listed) = run(&db, &["strategies"]);
    assert!(ok);
    assert_eq!(listed["strategies"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn failures_print_a_coded_error_and_exit_non_zero() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let cases: [(&[&str], &str); 7] = [
        (&["request-batch", "--assignment-id", "999"], "NOT_FOUND"),
        (
            &[
                "request-batch",
                "--assignment-id",
                "100",
                "--number-contacts",
                "-4",
            ],
            "BAD_REQUEST",
        ),
        (
            &["request-batch", "--assignment-id", "100", "--batch-type", "nope"],
            "UNKNOWN_BATCH_TYPE",
        ),
        (
            &["request-batch", "--assignment-id", "100", "--texter-id", "6"],
            "FORBIDDEN",
        ),
        (&["request-batch", "--assignment-id", "ten"], "BAD_ARGUMENT"),
        (
            &[
                "join",
                "--campaign-id",
                "10",
                "--user-id",
                "6",
                "--join-token",
                "nope",
            ],
            "INVALID_JOIN",
        ),
        (&["no-such-command"], "BAD_ARGUMENT"),
    ];
    for (args, code) in cases {
        let (ok, answer) = run(&db, args);
        assert!(!ok, "{args:?} should fail");
        assert_eq!(answer["error"]["code"], code, "{args:?}: {answer}");
        assert!(
            answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_bad_database_url_says_what_a_good_one_looks_like() {
    let db = TestDb::sqlite().await;
    let output = Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
        .args([
            "--database-url",
            "mysql://nope",
            "release",
            "--assignment-id",
            "1",
        ])
        .output()
        .expect("run spoke-batches");
    assert!(!output.status.success());
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(answer["error"]["code"], "DATABASE");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("postgres://"),
        "{answer}"
    );
    db.cleanup().await;
}

/// Random command lines: every run prints exactly one JSON object, exits 0 with an answer or
/// non-zero with `{"error":{"code","message"}}`, and never panics.
#[test]
fn any_command_line_gets_one_json_answer() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::sqlite());
    runtime.block_on(seed(&db));
    let empty_strategies = tempfile::tempdir().unwrap();
    let command = prop::sample::select(vec![
        "request-batch",
        "has-unassigned",
        "release",
        "join",
        "message-sent",
        "strategies",
        "migrate",
        "frobnicate",
    ]);
    let flag = prop::sample::select(vec![
        "--assignment-id",
        "--texter-id",
        "--number-contacts",
        "--batch-type",
        "--now",
        "--campaign-id",
        "--user-id",
        "--join-token",
        "--contact-id",
        "--conversations",
        "--bogus",
    ]);
    let value = prop_oneof![
        Just("100".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("2026-03-02T15:00:00Z".to_string()),
        Just("not-a-date".to_string()),
        "[ -~]{0,12}",
    ];
    let args = (command, prop::collection::vec((flag, value), 0..4));
    let mut runner = TestRunner::new(Config {
        cases: 60,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&args, |(command, pairs)| {
        let mut line = vec![command.to_string()];
        for (flag, value) in pairs {
            line.push(flag.to_string());
            line.push(value);
        }
        let output = Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
            .arg("--database-url")
            .arg(&db.url)
            .arg("--strategies")
            .arg(empty_strategies.path())
            .args(&line)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        prop_assert_ne!(
            output.status.code(),
            Some(101),
            "panicked on {:?}: {}",
            line,
            String::from_utf8_lossy(&output.stderr)
        );
        prop_assert_eq!(stdout.lines().count(), 1, "{:?}: {}", line, stdout);
        let answer: Value = serde_json::from_str(&stdout)
            .map_err(|error| TestCaseError::fail(format!("{line:?}: {error}")))?;
        if output.status.success() {
            prop_assert!(answer.get("error").is_none(), "{:?}: {}", line, answer);
        } else {
            prop_assert!(
                answer["error"]["code"].is_string() && answer["error"]["message"].is_string(),
                "{:?}: {}",
                line,
                answer
            );
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn check_validates_a_component_and_runs_it_on_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let good = support::install("vetted-texters", dir.path(), "vetted-texters");
    let liar = support::install("hostile", dir.path(), "liar");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
            .args(args)
            .output()
            .expect("run spoke-batches")
    };
    let output = run(&["check", good.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains(": OK"), "{text}");
    assert!(
        text.contains("request-new-batch-count on the fixture: 10 ("),
        "{text}"
    );
    let output = run(&["check", "--json", good.to_str().unwrap()]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["name"], "vetted-texters");
    assert_eq!(report["witVersion"], "spoke:batches@0.1.0");
    assert!(report["requestNewBatchCount"]["fuelUsed"].as_u64().unwrap() > 0);
    let output = run(&["check", "--json", liar.to_str().unwrap()]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("set `name = \"liar\"`"),
        "{report}"
    );
}

#[tokio::test]
async fn explain_and_replay_show_the_decision_read_only() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let now = "2026-03-02T15:00:00Z";
    let (ok, answer) = run(
        &db,
        &[
            "explain",
            "--assignment-id",
            "100",
            "--texter-id",
            "5",
            "--now",
            now,
        ],
    );
    assert!(ok, "{answer}");
    assert_eq!(answer["trace"]["strategy"], "finished-replies-tz");
    assert_eq!(answer["trace"]["decision"], "assigned");
    assert_eq!(answer["trace"]["contactIds"].as_array().map(Vec::len), Some(4));
    let component = support::component_path("vetted-texters");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("vetted-texters.wasm");
    std::fs::copy(component, &copy).unwrap();
    let (ok, answer) = run(
        &db,
        &[
            "replay",
            "--assignment-id",
            "100",
            "--strategy",
            copy.to_str().unwrap(),
            "--now",
            now,
        ],
    );
    assert!(ok, "{answer}");
    assert_eq!(answer["trace"]["strategy"], "vetted-texters");
    // The texter is not vetted and already holds a contact: the new version would say 0.
    assert_eq!(answer["trace"]["decision"], "strategy-said-zero");
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
            .await,
        1
    );
}

/// `seed ... | head` closes stdout before the answer is written: the command finishes its work
/// and exits without panicking.
#[tokio::test]
async fn a_closed_stdout_is_not_a_panic() {
    let db = TestDb::sqlite().await;
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
        .arg("--database-url")
        .arg(&db.url)
        .args(["seed", "--contacts", "20", "--quiet"])
        .stdout(writer)
        .output()
        .expect("run spoke-batches");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    let (ok, listed) = run(&db, &["has-unassigned", "--assignment-id", "1"]);
    assert!(ok, "the seed's work is done: {listed}");
}
