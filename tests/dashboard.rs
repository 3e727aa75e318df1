//! The dashboard in a real headless Chromium: the page served at `/` draws each campaign's
//! contacts by state as the database holds them, the last hour's batch requests including the
//! test's own, the strategies with their figures and load history, and the explain timeline of a
//! request from `#explain=A:T`, with no problem reported by the browser; with a token, it asks
//! for it once per tab and shows nothing without it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

#[path = "dashboard/browser.rs"]
mod browser;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::contacts::Contacts;
use support::db::TestDb;
use support::server::{ServerOptions, TestServer};

use spoke_batches::model::MessageStatus;

const CAMPAIGN: i64 = 10;
const TEXTER: i64 = 5;
const ASSIGNMENT: i64 = 100;
const OPERATOR: &str = "operator-token-for-the-dashboard-test";

/// A dynamic campaign whose texter 5 (vetted, assignment 100) may ask for batches of 4, and
/// contacts in every state the bars show.
async fn seed(db: &TestDb) {
    db.exec(&format!(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email)
          VALUES ({TEXTER}, 'a', 'T', 'T', '1', 'e'), (6, 'b', 'U', 'U', '2', 'f');
        INSERT INTO user_organization (user_id, organization_id, role)
          VALUES ({TEXTER}, 1, 'VETTED_TEXTER'), (6, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, features)
          VALUES ({CAMPAIGN}, 1, 'Dashboard campaign', TRUE, FALSE, TRUE, 4,
                  '{{"DYNAMICASSIGNMENT_BATCHES":"vetted-texters,all-texters"}}');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES ({ASSIGNMENT}, {TEXTER}, {CAMPAIGN}), (101, 6, {CAMPAIGN});
        "#
    ))
    .await;
    let held = |count, status| Contacts::new(count).held_by(101).status(status);
    for contacts in [
        Contacts::new(30),
        held(3, MessageStatus::Messaged),
        held(2, MessageStatus::NeedsResponse),
        held(1, MessageStatus::Convo),
        held(2, MessageStatus::Closed),
        Contacts::new(2).opted_out(),
    ] {
        contacts.add_to_campaign(db, CAMPAIGN).await;
    }
}

/// The campaign's contacts by state, counted here from the rows themselves.
async fn states_in_database(db: &TestDb) -> BTreeMap<String, i64> {
    let count = |condition: &str| {
        format!("SELECT COUNT(*) FROM campaign_contact WHERE campaign_id = {CAMPAIGN} AND {condition}")
    };
    let live = "COALESCE(is_opted_out, FALSE) = FALSE";
    let mut states = BTreeMap::new();
    for (state, condition) in [
        (
            "unassigned",
            format!("{live} AND message_status = 'needsMessage' AND assignment_id IS NULL"),
        ),
        (
            "assignedUntexted",
            format!("{live} AND message_status = 'needsMessage' AND assignment_id IS NOT NULL"),
        ),
        ("messaged", format!("{live} AND message_status = 'messaged'")),
        (
            "conversations",
            format!("{live} AND message_status IN ('needsResponse', 'convo')"),
        ),
        ("closed", format!("{live} AND message_status = 'closed'")),
        ("optedOut", "is_opted_out = TRUE".to_string()),
    ] {
        states.insert(state.to_string(), db.int(&count(&condition)).await);
    }
    states
}

async fn request_batch(server: &TestServer) -> Value {
    let response = reqwest::Client::new()
        .post(server.url(&format!("/v1/assignments/{ASSIGNMENT}/batches")))
        .json(&json!({ "texterId": TEXTER }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

on_both_databases!(the_page_draws_progress_traffic_strategies_and_an_explanation,);

async fn the_page_draws_progress_traffic_strategies_and_an_explanation(db: &TestDb) {
    let Some(executable) = browser::executable() else {
        return;
    };
    seed(db).await;
    let engine = db.engine(&[]).await;
    let server = TestServer::serve(engine.clone(), ServerOptions::default()).await;
    let mut assigned = 0;
    for _ in 0..3 {
        assigned += request_batch(&server).await["assigned"].as_u64().unwrap();
    }
    assert_eq!(assigned, 3 * 4, "three batches of 4");
    // What the service's background task does every --progress-interval-ms.
    engine.refresh_progress(Duration::ZERO).await.unwrap();
    let in_database = states_in_database(db).await;
    assert_eq!(in_database["assignedUntexted"], 12);

    let chromium = browser::Chromium::launch(executable).await;
    let tab = chromium
        .open(&server.url(&format!("/#explain={ASSIGNMENT}:{TEXTER}")))
        .await;
    tab.wait_for(
        "document.querySelector('#campaign-10 .legend') && document.querySelector('#explain-timeline')",
        "the campaign's bar and the explanation",
    )
    .await;

    // The bar's segments and its legend carry the counts the database holds.
    let legend: BTreeMap<String, i64> = tab
        .eval("Object.fromEntries([...document.querySelectorAll('#campaign-10 .legend li[data-state]')].map(li => [li.dataset.state, Number(li.dataset.count)]))")
        .await;
    assert_eq!(legend, in_database);
    let segments: BTreeMap<String, i64> = tab
        .eval("Object.fromEntries([...document.querySelectorAll('#campaign-10 .bar .segment')].map(s => [s.dataset.state, Number(s.style.flexGrow)]))")
        .await;
    let nonzero: BTreeMap<String, i64> = in_database.into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(segments, nonzero, "one segment per state, as wide as its count");
    let texters: String = tab
        .eval("document.querySelector('#campaign-10 [data-texters]').textContent")
        .await;
    assert!(texters.contains("Texters joined: 2"), "{texters}");

    // The time series include the test's three requests, and the campaign's batches too.
    let assigned_requests: i64 = tab
        .eval("Number(document.querySelector('#traffic-totals [data-outcome=assigned]').dataset.total)")
        .await;
    assert!(assigned_requests >= 3, "{assigned_requests}");
    let batches: i64 = tab
        .eval("Number(document.querySelector('#campaign-10 .batches-caption').dataset.batches)")
        .await;
    assert_eq!(batches, 3);
    let drawn: i64 = tab
        .eval("document.querySelectorAll('.chart canvas').length")
        .await;
    assert!(drawn >= 3, "the request, latency and batches charts: {drawn}");

    // The strategy that decided shows its calls; the load history shows its load.
    let strategy_row: String = tab
        .eval("document.querySelector('tr[data-strategy=\"vetted-texters\"]').innerText")
        .await;
    assert!(strategy_row.contains("loaded"), "{strategy_row}");
    assert!(!strategy_row.contains("\t0\t"), "calls counted: {strategy_row}");

    // The explain timeline: every host call in order, as the trace has them.
    let explained: Value =
        reqwest::get(server.url(&format!("/v1/assignments/{ASSIGNMENT}/explain?texterId={TEXTER}")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let calls: Vec<String> = explained["trace"]["hostCalls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| call["call"].as_str().unwrap().to_string())
        .collect();
    assert!(!calls.is_empty(), "{explained}");
    let drawn_calls: Vec<String> = tab
        .eval("[...document.querySelectorAll('#explain-timeline .host-call')].map(li => li.dataset.call)")
        .await;
    assert_eq!(drawn_calls, calls);
    let verdict: String = tab
        .eval("document.getElementById('explain-verdict').dataset.decision")
        .await;
    assert_eq!(verdict, explained["trace"]["decision"].as_str().unwrap());
    let link: String = tab.eval("document.getElementById('explain-link').value").await;
    assert_eq!(link, server.url(&format!("/#explain={ASSIGNMENT}:{TEXTER}")));
    let batch_size: String = tab
        .eval("document.querySelector('#explain-clamp [data-step=batch-size] b').textContent")
        .await;
    assert_eq!(batch_size, explained["trace"]["batchSize"].to_string());

    let database = if db.schema().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let screenshot = tab.screenshot(&format!("dashboard-{database}")).await;
    eprintln!("dashboard screenshot: {}", screenshot.display());
    let problems = tab.problems();
    assert!(problems.is_empty(), "the browser reported problems: {problems:?}");
    drop(tab);
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_page_asks_for_it_once_per_tab_and_shows_nothing_without_it() {
    let Some(executable) = browser::executable() else {
        return;
    };
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let server = TestServer::start_with(
        &db,
        ServerOptions {
            operator_token: Some(OPERATOR),
            ..ServerOptions::default()
        },
    )
    .await;
    let chromium = browser::Chromium::launch(executable).await;
    let tab = chromium.open(&server.url("/")).await;
    tab.wait_for("!document.getElementById('auth').hidden", "the token form")
        .await;
    let shown: bool = tab
        .eval("!document.getElementById('content').hidden || !!document.querySelector('.campaign')")
        .await;
    assert!(!shown, "nothing is shown without the token");

    // A wrong token is refused and the form stays.
    tab.type_into("#token", "not-the-operator-token").await;
    tab.click("#auth button").await;
    tab.wait_for(
        "document.getElementById('auth-reason').textContent.includes('refused')",
        "the refusal",
    )
    .await;
    assert!(tab.eval::<bool>("!document.querySelector('.campaign')").await);

    tab.type_into("#token", OPERATOR).await;
    tab.click("#auth button").await;
    tab.wait_for(
        "document.querySelector('#campaign-10')",
        "the campaign once the token is entered",
    )
    .await;
    let kept: Option<String> = tab
        .eval("sessionStorage.getItem('spoke-batches-operator-token')")
        .await;
    assert_eq!(kept.as_deref(), Some(OPERATOR));
    let address: String = tab.eval("location.href").await;
    assert!(!address.contains(OPERATOR), "never in the address: {address}");
    let everywhere: bool = tab.eval("localStorage.length === 0").await;
    assert!(everywhere, "nothing in local storage");

    // Asked once: the tab keeps it across a reload (the marker is gone once the page reloaded)...
    tab.eval::<i64>("window.beforeReload = 1").await;
    tab.reload().await;
    tab.wait_for(
        "!window.beforeReload && document.querySelector('#campaign-10')",
        "the campaign after a reload",
    )
    .await;
    assert!(tab.eval::<bool>("document.getElementById('auth').hidden").await);
    // ...and another tab asks again.
    let other = chromium.open(&server.url("/")).await;
    other
        .wait_for(
            "!document.getElementById('auth').hidden",
            "the token form in a new tab",
        )
        .await;

    // The only problems are the refused data requests themselves.
    for problem in tab.problems().into_iter().chain(other.problems()) {
        assert!(
            problem.source == "network" && (problem.text.contains("401") || problem.text.contains("403")),
            "{problem:?}"
        );
    }
    drop((tab, other));
    chromium.close().await;
}

/// The page, every file it loads and its data in the busiest case the data can describe: as
/// many campaigns as it lists, each handing out batches in every minute of the hour.
#[tokio::test]
async fn the_page_its_files_and_its_busiest_data_stay_under_200_kb() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let campaigns = spoke_batches::engine::PROGRESS_CAMPAIGNS as i64;
    let others: Vec<String> = (1..campaigns)
        .map(|id| {
            format!(
                "({}, 1, 'A campaign with a long enough title {id}', TRUE, FALSE, TRUE, 200, \
                 '{{\"DYNAMICASSIGNMENT_BATCHES\":\"vetted-texters,all-texters\"}}')",
                1000 + id
            )
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO campaign (id, organization_id, title, is_started, is_archived, \
         use_dynamic_assignment, batch_size, features) VALUES {}",
        others.join(", ")
    ))
    .await;
    let engine = db.engine(&[]).await;
    engine.refresh_progress(Duration::ZERO).await.unwrap();
    let now = chrono::Utc::now();
    let metrics = engine.metrics();
    // Oldest first, as time goes.
    for minute in (0..60).rev() {
        let at = now - chrono::Duration::minutes(minute);
        for campaign in std::iter::once(CAMPAIGN).chain((1..campaigns).map(|id| 1000 + id)) {
            for outcome in [
                spoke_batches::traffic::Outcome::Assigned,
                spoke_batches::traffic::Outcome::Nothing,
            ] {
                metrics.record_batch_request(at, outcome, Duration::from_micros(1234 + minute as u64));
            }
            metrics.record_batch_assigned(at, campaign, 200);
        }
    }
    let server = TestServer::serve(engine, ServerOptions::default()).await;
    let client = reqwest::Client::new();
    // What a browser receives (it asks for gzip) and what that is unpacked, per path.
    let fetch = |path: String| {
        let request = client.get(server.url(&path));
        async move {
            let plain = request.try_clone().unwrap().send().await.unwrap();
            assert_eq!(plain.status(), reqwest::StatusCode::OK, "{path}");
            let headers = plain.headers().clone();
            let plain = plain.bytes().await.unwrap();
            let packed = request.header("accept-encoding", "gzip").send().await.unwrap();
            assert_eq!(
                packed
                    .headers()
                    .get("content-encoding")
                    .map(|v| v.to_str().unwrap().to_string()),
                Some("gzip".to_string()),
                "{path} is gzipped"
            );
            let packed = packed.bytes().await.unwrap().len();
            (
                path,
                headers,
                String::from_utf8_lossy(&plain).into_owned(),
                packed,
            )
        }
    };
    let (_, headers, html, packed) = fetch("/".to_string()).await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let mut sizes = vec![("/".to_string(), html.len(), packed)];
    let loaded: Vec<String> = html
        .split('"')
        .filter(|text| text.starts_with("/dashboard/"))
        .map(str::to_string)
        .collect();
    assert!(loaded.len() >= 4, "{loaded:?}");
    for path in loaded {
        let (path, _, body, packed) = fetch(path).await;
        sizes.push((path, body.len(), packed));
    }
    let (_, _, data, packed) = fetch("/v1/dashboard".to_string()).await;
    sizes.push(("/v1/dashboard".to_string(), data.len(), packed));
    let listed = serde_json::from_str::<Value>(&data).unwrap()["campaigns"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed as i64, campaigns);
    let minutes = serde_json::from_str::<Value>(&data).unwrap()["traffic"]
        .as_array()
        .unwrap()
        .len();
    assert!(minutes >= 59, "a busy hour: {minutes} minutes");
    let sent: usize = sizes.iter().map(|(_, _, packed)| packed).sum();
    let unpacked: usize = sizes.iter().map(|(_, plain, _)| plain).sum();
    eprintln!("the page's bytes (path, unpacked, sent): {sizes:?}; {unpacked} unpacked, {sent} sent");
    assert!(sent < 200_000, "{sent} bytes sent: {sizes:?}");
    assert!(unpacked < 200_000, "{unpacked} bytes unpacked: {sizes:?}");
}
