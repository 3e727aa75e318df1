//! The fixtures that document each strategy's rules (`strategies/*/fixtures/*.json`), run
//! through the fixture runner with the real components; and the runner's report of a failure.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use spoke_batches::authoring::fixtures::{default_fixtures, human, read_cases, run_case};
use support::{loaded, workspace_root};

#[tokio::test]
async fn every_strategys_fixtures_pass() {
    let sources = workspace_root().join("strategies");
    let mut ran = 0;
    for name in support::SHIPPED.iter().copied().chain(["fewer-than-n-replies"]) {
        let strategy = loaded().await.get(name);
        let files = default_fixtures(&sources, name);
        assert!(!files.is_empty(), "{name} has no fixtures");
        for file in files {
            for case in read_cases(&file).unwrap() {
                let result = run_case(&file, &case, &strategy).await;
                assert!(result.passed, "{name}: {}", human(&[result]));
                ran += 1;
            }
        }
    }
    assert!(ran >= 30, "{ran} cases");
}

#[tokio::test]
async fn a_failing_case_shows_what_was_expected_and_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.json");
    std::fs::write(
        &file,
        r#"{"name": "expects too much", "contacts": [{"count": 4}], "expect": {"assigned": 10}}"#,
    )
    .unwrap();
    let case = read_cases(&file).unwrap().remove(0);
    let result = run_case(&file, &case, &loaded().await.get("all-texters")).await;
    assert!(!result.passed);
    let report = human(&[result]);
    assert!(report.contains("FAIL  expects too much"), "{report}");
    assert!(report.contains(r#"expected {"assigned":10}"#), "{report}");
    assert!(report.contains(r#""assigned":4"#), "{report}");
    assert!(report.ends_with("1 cases, 0 passed, 1 failed"), "{report}");
    std::fs::write(&file, r#"{"name": "typo", "expect": {"asigned": 1}}"#).unwrap();
    let error = read_cases(&file).unwrap_err();
    assert!(error.contains("unknown field `asigned`"), "{error}");
}
