//! Spoke's dynamic-assignment operations through the engine, on SQLite and (with
//! `TEST_DATABASE_URL`) PostgreSQL, with the real strategy components: one file per operation
//! under `tests/engine/`, sharing the seed and helpers below.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

#[path = "engine/access.rs"]
mod access;
#[path = "engine/batches.rs"]
mod batches;
#[path = "engine/concurrency.rs"]
mod concurrency;
#[path = "engine/confinement.rs"]
mod confinement;
#[path = "engine/explain.rs"]
mod explain;
#[path = "engine/holdings.rs"]
mod holdings;
#[path = "engine/membership.rs"]
mod membership;
#[path = "engine/progress.rs"]
mod progress;
#[path = "engine/schema.rs"]
mod schema;
#[path = "engine/strategies.rs"]
mod strategies;
#[path = "engine/timeouts.rs"]
mod timeouts;

use chrono::{DateTime, TimeZone, Utc};
use spoke_batches::engine::{BatchOutcome, BatchRequest, Caller, Engine};
use support::db::TestDb;

/// 2026-03-02T15:00:00Z: 10:00 in US/Eastern (no DST yet), 07:00 in US/Pacific.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0)
        .single()
        .expect("valid time")
}

const TEXTER: i64 = 5;
const ADMIN: i64 = 6;
const VETTED: i64 = 7;
const SUSPENDED: i64 = 8;
const OTHER_TEXTER: i64 = 9;
const SUPERADMIN: i64 = 11;
const NEWCOMER: i64 = 12;
const CAMPAIGN: i64 = 10;
/// The assignments of TEXTER, VETTED, OTHER_TEXTER and SUSPENDED in CAMPAIGN.
const MINE: i64 = 100;
const VETTED_ASSIGNMENT: i64 = 101;
const OTHERS: i64 = 102;
const SUSPENDED_ASSIGNMENT: i64 = 103;

/// An organization, its users, a started dynamic campaign with batch size 10 and join token
/// `tok`, and four assignments; no contacts yet.
async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name, features) VALUES (1, 'Org', '');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email, is_superadmin) VALUES
          (5, 'a5', 'Tex', 'Ter', '+15550005', 't5@example.org', FALSE),
          (6, 'a6', 'Ad', 'Min', '+15550006', 't6@example.org', FALSE),
          (7, 'a7', 'Vet', 'Ted', '+15550007', 't7@example.org', FALSE),
          (8, 'a8', 'Sus', 'Pended', '+15550008', 't8@example.org', FALSE),
          (9, 'a9', 'Oth', 'Er', '+15550009', 't9@example.org', FALSE),
          (11, 'a11', 'Super', 'Admin', '+15550011', 't11@example.org', TRUE),
          (12, 'a12', 'New', 'Comer', '+15550012', 't12@example.org', FALSE);
        INSERT INTO user_organization (user_id, organization_id, role) VALUES
          (5, 1, 'TEXTER'), (6, 1, 'ADMIN'), (7, 1, 'VETTED_TEXTER'), (8, 1, 'SUSPENDED'), (9, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment,
                              batch_size, join_token)
          VALUES (10, 1, 'Campaign', TRUE, FALSE, TRUE, 10, 'tok');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10), (101, 7, 10), (102, 9, 10), (103, 8, 10);
        "#,
    )
    .await;
}

/// The `updated_at` of seeded contacts.
const OLD: &str = support::contacts::LONG_AGO;

fn request(assignment_id: i64, caller: Caller) -> BatchRequest {
    BatchRequest {
        assignment_id,
        caller,
        number_contacts: None,
        batch_type: None,
        now: now(),
    }
}

async fn ask(engine: &Engine, assignment_id: i64) -> BatchOutcome {
    engine
        .request_batch(request(assignment_id, Caller::User(TEXTER)))
        .await
        .expect("request succeeds")
}

async fn held(db: &TestDb, assignment_id: i64) -> i64 {
    db.int(&format!(
        "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = {assignment_id}"
    ))
    .await
}

async fn set_campaign(db: &TestDb, assignments: &str) {
    db.exec(&format!("UPDATE campaign SET {assignments} WHERE id = 10"))
        .await;
}

/// The test support's own guarantee: a PostgreSQL test that panics, even inside a transaction,
/// leaves no schema behind.
#[test]
fn a_panicking_postgres_test_drops_its_schema() {
    let (named, name) = std::sync::mpsc::channel();
    let panicked = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let Some(db) = TestDb::postgres().await else {
                return;
            };
            named.send(db.schema().unwrap().to_string()).unwrap();
            let spoke_batches::db::Database::Postgres(pool) = &db.db else {
                unreachable!("TestDb::postgres is on PostgreSQL")
            };
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("LOCK TABLE campaign_contact IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .unwrap();
            panic!("the test fails while its transaction holds a lock");
        });
    })
    .join();
    let Ok(schema) = name.recv() else {
        return; // no TEST_DATABASE_URL: nothing ran on PostgreSQL
    };
    assert!(panicked.is_err(), "the test panicked");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sqlx::Connection as _;
        let base = std::env::var("TEST_DATABASE_URL").unwrap();
        let mut connection = sqlx::PgConnection::connect(&base).await.unwrap();
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1")
                .bind(&schema)
                .fetch_one(&mut connection)
                .await
                .unwrap();
        assert_eq!(left, 0, "schema {schema} was dropped");
    });
}
