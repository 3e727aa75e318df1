//! The dashboard in a real headless Chromium: the page served at `/` renders the loaded
//! strategies with their statistics and the campaigns with their enabled strategies.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::process::Command;

use support::db::TestDb;
use support::server::TestServer;

/// The Chromium binary, or `None` outside CI when it is not installed (CI installs it).
fn chromium() -> Option<&'static str> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").map(|ci| ci != "true").unwrap_or(true),
            "CI=true but Chromium is not installed: .ci/run installs Debian's chromium package"
        );
        eprintln!("chromium is not installed: skipping the dashboard test");
    }
    found
}

/// The page's DOM after its scripts ran.
fn rendered(url: &str, browser: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_strategies_statistics_and_campaigns() {
    let Some(browser) = chromium() else { return };
    let db = TestDb::sqlite().await;
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES (5, 'a', 'T', 'T', '1', 'e');
        INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, features)
          VALUES (10, 1, 'Dashboard campaign', TRUE, FALSE, TRUE, 5,
                  '{"DYNAMICASSIGNMENT_BATCHES":"vetted-texters,vetted-takeconversations"}');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10);
        INSERT INTO campaign_contact (campaign_id, cell) VALUES (10, '1'), (10, '2');
        "#,
    )
    .await;
    let server = TestServer::start(&db, &[], None).await;
    // One call, so the statistics have something to show.
    let engine = db.engine(&[]).await;
    engine
        .has_unassigned(
            100,
            spoke_batches::engine::Caller::User(5),
            "2026-03-02T15:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();

    let url = server.url("/");
    let dom = tokio::task::spawn_blocking(move || rendered(&url, browser))
        .await
        .unwrap();
    assert!(dom.contains(r#"<tr data-strategy="vetted-texters">"#), "{dom}");
    assert!(dom.contains("Vetted Texters can request a new batch"), "{dom}");
    assert!(dom.contains(r#"<td class="status-loaded">loaded</td>"#), "{dom}");
    assert!(dom.contains(r#"<tr data-campaign="10"><td>#10 Dashboard campaign</td><td>vetted-texters, vetted-takeconversations</td></tr>"#), "{dom}");
    assert!(dom.contains("Database: sqlite."), "{dom}");
    // The statistics of the strategy that was called: a call count and latencies.
    let row_start = dom.find(r#"<tr data-strategy="vetted-texters">"#).unwrap();
    let row = &dom[row_start..row_start + dom[row_start..].find("</tr>").unwrap()];
    assert!(
        row.contains(" µs</td>") || row.contains(" ms</td>"),
        "latency shown: {row}"
    );
    assert!(
        !row.contains(r#"<td class="num">0</td><td class="num">0"#),
        "calls counted: {row}"
    );
}
