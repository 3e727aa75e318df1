//! Crash safety on PostgreSQL: several service processes share one database while many
//! clients request, release, join and send; one process is killed with SIGKILL mid-run and
//! restarted. Afterwards no assignment holds more than max_contacts, no campaign has more
//! texters than MAX_TEXTERS_PER_CAMPAIGN, every contact is still there, and every request that
//! reached a live process got an answer (never a 500).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::json;
use support::db::TestDb;

const TEXTERS: i64 = 40;
const MAX_TEXTERS: i64 = 30;
const MAX_CONTACTS: i64 = 60;
const CONTACTS: i64 = 5_000;

async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token, features)
          VALUES (10, 1, 'Stress', TRUE, FALSE, TRUE, 10, 'tok',
                  '{"TEXTER_UI_SETTINGS":"{\"takeConversationsOutboundUnassign\":true}"}');
        "#,
    )
    .await;
    db.add_users(1000, TEXTERS).await;
    db.exec(&format!(
        "INSERT INTO campaign_contact (campaign_id, cell) SELECT 10, CAST(n AS TEXT) FROM generate_series(1, {CONTACTS}) AS n"
    ))
    .await;
}

fn start_service(url: &str, strategies: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spoke-batches"))
        .args(["--database-url", url])
        .arg("--strategies")
        .arg(strategies)
        .args([
            "serve",
            "--no-cache",
            "--no-watch",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("DYNAMICASSIGNMENT_BATCHES", "all-texters")
        .env("MAX_TEXTERS_PER_CAMPAIGN", MAX_TEXTERS.to_string())
        .env("MAX_CONTACTS_PER_TEXTER", MAX_CONTACTS.to_string())
        .env_remove("SPOKE_BATCHES_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_until_up(client: &Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "service on {port} did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    refused: AtomicU64,
    unreachable: AtomicU64,
    server_errors: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_service_mid_run_loses_and_corrupts_nothing() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    seed(&db).await;
    let strategies = tempfile::tempdir().unwrap();
    support::install("all-texters", strategies.path(), "all-texters");
    let ports = [free_port(), free_port(), free_port()];
    let mut services: Vec<Child> = ports
        .iter()
        .map(|port| start_service(&db.url, strategies.path(), *port))
        .collect();
    let client = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    for port in ports {
        wait_until_up(&client, port).await;
    }

    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut workers = tokio::task::JoinSet::new();
    for texter in 0..TEXTERS {
        let (client, tally) = (client.clone(), Arc::clone(&tally));
        workers.spawn(async move {
            let user_id = 1000 + texter;
            let mut assignment_id = None;
            let mut round = 0_u64;
            while Instant::now() < deadline {
                round += 1;
                let port = ports[(texter as usize + round as usize) % ports.len()];
                let base = format!("http://127.0.0.1:{port}/v1");
                let request = match (assignment_id, round % 7) {
                    (None, _) => client
                        .post(format!("{base}/campaigns/10/join"))
                        .json(&json!({"userId": user_id, "joinToken": "tok"})),
                    (Some(id), 3) => client
                        .post(format!("{base}/assignments/{id}/release"))
                        .json(&json!({"texterId": user_id})),
                    (Some(_), 5) => client.post(format!(
                        "{base}/contacts/{}/message-sent",
                        1 + (round * 37 + texter as u64) % CONTACTS as u64
                    )),
                    (Some(id), _) => client
                        .post(format!("{base}/assignments/{id}/batches"))
                        .json(&json!({"texterId": user_id})),
                };
                let Ok(response) = request.send().await else {
                    tally.unreachable.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if status.is_server_error() && status.as_u16() != 503 {
                    tally.server_errors.fetch_add(1, Ordering::Relaxed);
                } else if status.is_success() {
                    tally.answered.fetch_add(1, Ordering::Relaxed);
                    if let Some(id) = body["assignmentId"].as_i64() {
                        assignment_id = Some(id);
                    }
                } else {
                    tally.refused.fetch_add(1, Ordering::Relaxed);
                    if body["error"]["code"] == "FAILEDJOIN_TOOMANYTEXTERS" {
                        // A full campaign: this texter waits a little and tries again.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    // Kill one service in the middle of the run, then bring it back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    services[1].kill().unwrap();
    services[1].wait().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    services[1] = start_service(&db.url, strategies.path(), ports[1]);
    wait_until_up(&client, ports[1]).await;
    while workers.join_next().await.is_some() {}
    for service in &mut services {
        service.kill().unwrap();
        service.wait().unwrap();
    }

    let answered = tally.answered.load(Ordering::Relaxed);
    eprintln!(
        "stress: {answered} answered, {} refused (4xx), {} unreachable (killed process), {} server errors",
        tally.refused.load(Ordering::Relaxed),
        tally.unreachable.load(Ordering::Relaxed),
        tally.server_errors.load(Ordering::Relaxed)
    );
    assert!(answered > 200, "the run did real work: {answered} answers");
    assert_eq!(tally.server_errors.load(Ordering::Relaxed), 0, "no 500s");
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact").await,
        CONTACTS,
        "every contact is still there"
    );
    let texters = db
        .int("SELECT COUNT(*) FROM assignment WHERE campaign_id = 10")
        .await;
    assert!(
        texters <= MAX_TEXTERS,
        "{texters} texters joined a campaign limited to {MAX_TEXTERS}"
    );
    assert_eq!(texters, MAX_TEXTERS, "the campaign filled up");
    let over = db
        .int(&format!(
            "SELECT COUNT(*) FROM (SELECT assignment_id FROM campaign_contact WHERE assignment_id IS NOT NULL \
             GROUP BY assignment_id HAVING COUNT(*) > {MAX_CONTACTS}) AS over"
        ))
        .await;
    assert_eq!(over, 0, "no assignment above max_contacts");
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM assignment WHERE max_contacts IS DISTINCT FROM {MAX_CONTACTS}"
        ))
        .await,
        0
    );
    db.cleanup().await;
}
