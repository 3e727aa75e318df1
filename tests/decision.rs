//! The decision endpoint a Spoke bridge calls (`POST /v1/assignments/{id}/decision`) and its CLI
//! twin, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL: the contract's shapes in both
//! modes, Spoke's default plan, an explicit plan, the claim order, errors, and that nothing is
//! ever written; and `spoke-extension`, run as a user runs it from the repository root.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::path::Path;
use std::sync::Arc;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use spoke_batches::db::{Database, HostIndex};
use spoke_batches::engine::Engine;
use spoke_batches::registry::{SharedRegistry, StrategyRegistry};
use spoke_batches::sandbox::{LoadError, StrategyComponent};
use spoke_batches::spoke_config::Environment;

use support::cli::{copy_of_the_repository, run, run_in};
use support::db::TestDb;
use support::loaded;
use support::server::{ServerOptions, TestServer};
use tokio::sync::OnceCell;

/// 10:00 in US/Eastern, 07:00 in US/Pacific: `-5_1` is within texting hours, `-8_1` is not.
const NOW: &str = "2026-03-02T15:00:00Z";

static PLAN_ECHO: OnceCell<Arc<StrategyComponent>> = OnceCell::const_new();

/// The `plan-echo` test component, in the shared sandbox.
async fn plan_echo() -> Arc<StrategyComponent> {
    let component = PLAN_ECHO
        .get_or_init(|| async {
            let path = support::component_path("plan-echo");
            let bytes = std::fs::read(&path).unwrap();
            let sandbox = &loaded().await.sandbox;
            sandbox
                .load_bytes(&path.with_file_name("plan-echo.wasm"), bytes)
                .await
                .unwrap_or_else(|error| panic!("{error}"))
        })
        .await;
    Arc::clone(component)
}

/// An engine on `db` serving the shipped strategies, `hostile` and `plan-echo`.
async fn engine(db: &TestDb, env: &[(&str, &str)]) -> Engine {
    let mut registry = StrategyRegistry::default();
    for strategy in &loaded().await.strategies {
        registry.insert(strategy.path(), Ok(Arc::clone(strategy)));
    }
    let echo = plan_echo().await;
    registry.insert(echo.path(), Ok(Arc::clone(&echo)));
    Engine::new(
        db.db.clone(),
        SharedRegistry::new(registry),
        Environment::from_pairs(env.iter().copied()),
    )
}

/// The service on a real socket (the binary's own accept loop), with no token (loopback);
/// stops when dropped.
struct Service {
    server: TestServer,
    client: Client,
}

impl Service {
    async fn start(engine: Engine) -> Service {
        Service {
            server: TestServer::serve(engine, ServerOptions::default()).await,
            client: Client::new(),
        }
    }

    async fn decide(&self, assignment: i64, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.server.url(&format!("/v1/assignments/{assignment}/decision")))
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn metrics(&self) -> String {
        let response = self.client.get(self.server.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }
}

/// An organization enforcing texting hours (9 to 21); texters 5 and 9 (TEXTER) and 7
/// (VETTED_TEXTER); campaign 10 (batch size 3) with assignments 100 (texter 5, holding one
/// contact) and 107 (texter 7); 6 available contacts at `-5_1`, 2 at `-8_1` and 2 unassigned
/// conversations; and one campaign per hostile misbehaviour, each with an assignment of texter 5.
async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name, features, texting_hours_enforced, texting_hours_start, texting_hours_end)
          VALUES (1, 'Org', '', TRUE, 9, 21);
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES
          (5, 'a5', 'T', 'T', '1', 'e5'), (7, 'a7', 'V', 'V', '2', 'e7'), (9, 'a9', 'O', 'O', '3', 'e9');
        INSERT INTO user_organization (user_id, organization_id, role) VALUES
          (5, 1, 'TEXTER'), (7, 1, 'VETTED_TEXTER'), (9, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token)
          VALUES (10, 1, 'Campaign', TRUE, FALSE, TRUE, 3, 'tok'),
                 (20, 1, 'select-panic', TRUE, FALSE, TRUE, 3, 't20'),
                 (21, 1, 'limit-above-plan', TRUE, FALSE, TRUE, 3, 't21'),
                 (22, 1, 'err', TRUE, FALSE, TRUE, 3, 't22');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES
          (100, 5, 10), (107, 7, 10), (200, 5, 20), (201, 5, 21), (202, 5, 22);
        INSERT INTO campaign_contact (campaign_id, cell, message_status, assignment_id, timezone_offset) VALUES
          (10, '1', 'needsMessage', NULL, '-5_1'), (10, '2', 'needsMessage', NULL, '-5_1'),
          (10, '3', 'needsMessage', NULL, '-5_1'), (10, '4', 'needsMessage', NULL, '-5_1'),
          (10, '5', 'needsMessage', NULL, '-5_1'), (10, '6', 'needsMessage', NULL, '-5_1'),
          (10, '7', 'needsMessage', NULL, '-8_1'), (10, '8', 'needsMessage', NULL, '-8_1'),
          (10, '9', 'convo', NULL, '-5_1'), (10, '10', 'convo', NULL, '-5_1'),
          (10, '11', 'needsMessage', 100, '-5_1'),
          (20, '12', 'needsMessage', NULL, ''), (21, '13', 'needsMessage', NULL, ''),
          (22, '14', 'needsMessage', NULL, '');
        "#,
    )
    .await;
}

/// Every row of `campaign_contact` and `assignment`, as text: equal before and after means
/// nothing was written.
async fn rows(db: &TestDb) -> String {
    let contacts = "SELECT CAST(id AS BIGINT), CAST(assignment_id AS BIGINT), message_status, \
                    CAST(CAST(is_opted_out AS INTEGER) AS BIGINT), CAST(updated_at AS TEXT) \
                    FROM campaign_contact ORDER BY id";
    let assignments = "SELECT CAST(id AS BIGINT), CAST(user_id AS BIGINT), CAST(campaign_id AS BIGINT), \
                       CAST(max_contacts AS BIGINT), CAST(created_at AS TEXT) FROM assignment ORDER BY id";
    type Contact = (i64, Option<i64>, String, i64, Option<String>);
    type Assignment = (i64, i64, i64, Option<i64>, Option<String>);
    let (contacts, assignments): (Vec<Contact>, Vec<Assignment>) = match &db.db {
        Database::Postgres(pool) => (
            sqlx::query_as(contacts).fetch_all(pool).await.unwrap(),
            sqlx::query_as(assignments).fetch_all(pool).await.unwrap(),
        ),
        Database::Sqlite(pool) => (
            sqlx::query_as(contacts).fetch_all(pool).await.unwrap(),
            sqlx::query_as(assignments).fetch_all(pool).await.unwrap(),
        ),
    };
    format!("{contacts:?}\n{assignments:?}")
}

/// The version the loaded component `name` reports.
async fn version(name: &str) -> String {
    loaded().await.get(name).version().to_string()
}

fn available_valid_now() -> Value {
    json!({"status": {"kind": "oneOf", "statuses": ["needsMessage"]}, "assignment": "unassigned",
           "optedOut": false, "timezone": "validNow"})
}

on_both_databases!(
    both_modes_answer_the_contracts_shape_and_write_nothing,
    spokes_default_plan_follows_its_formula,
    an_explicit_plan_is_the_one_select_contacts_saw,
    a_failing_strategy_is_a_422_and_writes_nothing,
    bad_requests_are_refused_like_the_other_endpoints,
    the_claim_order_is_sent_only_with_the_claim_index,
    the_cli_prints_the_same_json_as_http,
    a_default_strategy_that_failed_to_load_is_unavailable_not_skipped
);

async fn both_modes_answer_the_contracts_shape_and_write_nothing(db: &TestDb) {
    seed(db).await;
    let before = rows(db).await;
    let service = Service::start(engine(db, &[]).await).await;
    let (status, body) = service
        .decide(
            100,
            json!({"strategy": "finished-replies-tz", "mode": "batch", "texterId": 5, "now": NOW}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The default sidebox asks for batch_size (3); the texter holds 1 contact.
    let mut expected = json!({
        "strategy": "finished-replies-tz",
        "version": version("finished-replies-tz").await,
        "count": 3,
        "countCap": 3,
        "plan": {"numberContacts": 3, "contactsCount": 1},
        "selection": {"batchQuery": {"filter": available_valid_now(), "limit": null}, "hasCurrentQuery": null},
        "claimOrder": "claim-index",
        "offsets": body["offsets"].clone(),
    });
    assert_eq!(body, expected);
    let offsets = |side: &str| -> Vec<String> {
        body["offsets"][side]
            .as_array()
            .unwrap()
            .iter()
            .map(|offset| offset.as_str().unwrap().to_string())
            .collect()
    };
    assert!(offsets("valid").contains(&"-5_1".to_string()), "{body}");
    assert!(offsets("invalid").contains(&"-8_1".to_string()), "{body}");
    assert!(!offsets("valid").contains(&"-8_1".to_string()), "{body}");

    // Without a name: the campaign's default, which is finished-replies-tz here.
    let (status, default) = service
        .decide(
            100,
            json!({"strategy": null, "mode": "batch", "texterId": 5, "now": NOW}),
        )
        .await;
    assert_eq!((status, &default), (StatusCode::OK, &expected));

    // has-any: the count alone (finished-replies-tz answers 1 for "any"), with the button's cap.
    let (status, body) = service
        .decide(
            100,
            json!({"strategy": "finished-replies-tz", "mode": "has-any", "texterId": 5, "now": NOW}),
        )
        .await;
    expected["count"] = json!(1);
    expected["plan"] = Value::Null;
    expected["selection"] = Value::Null;
    assert_eq!((status, body), (StatusCode::OK, expected));

    // A strategy the campaign does not enable: Spoke chose it, so it decides; both queries
    // replaced, with a none-of status list.
    let (status, body) = service
        .decide(
            107,
            json!({"strategy": "vetted-takeconversations", "mode": "batch", "texterId": 7, "now": NOW}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 2, "the two unassigned conversations");
    assert_eq!(body["plan"], json!({"numberContacts": 2, "contactsCount": 0}));
    assert_eq!(
        body["selection"],
        json!({
            "batchQuery": {"filter": {"status": {"kind": "noneOf", "statuses": ["needsMessage", "messaged"]},
                                      "assignment": "unassigned", "optedOut": false, "timezone": "any"},
                           "limit": null},
            "hasCurrentQuery": {"status": {"kind": "oneOf", "statuses": ["needsMessage", "needsResponse"]},
                                "assignment": "thisAssignment", "optedOut": false, "timezone": "any"},
        })
    );
    // Spoke's default queries stay Spoke's: null, not a filter.
    let (status, body) = service
        .decide(
            100,
            json!({"strategy": "all-texters", "mode": "batch", "texterId": 5, "now": NOW}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["selection"],
        json!({"batchQuery": null, "hasCurrentQuery": null})
    );
    assert_eq!(rows(db).await, before, "a decision writes nothing");
}

/// Spoke's `numberContacts` for the default sidebox (`batch_size || 300`):
/// `min(N || batch_size || 1, batch_size === null ? count : batch_size, count)`, then
/// `max_contacts - contactsCount` when that is exceeded (`max_contacts` 0 means no limit).
async fn spokes_default_plan_follows_its_formula(db: &TestDb) {
    seed(db).await;
    struct Case {
        batch_size: Option<i32>,
        max_contacts: Option<i32>,
        held: i64,
        available: i64,
        count_cap: u32,
        count: u32,
        number_contacts: i64,
    }
    let cases = [
        // N = 3: min(3, 3, 3).
        Case {
            batch_size: Some(3),
            max_contacts: None,
            held: 0,
            available: 8,
            count_cap: 3,
            count: 3,
            number_contacts: 3,
        },
        // No batch size: N = 300, the count caps it: min(300, 8, 8).
        Case {
            batch_size: None,
            max_contacts: None,
            held: 0,
            available: 8,
            count_cap: 300,
            count: 8,
            number_contacts: 8,
        },
        // 4 held + 5 > 6: 6 - 4.
        Case {
            batch_size: Some(5),
            max_contacts: Some(6),
            held: 4,
            available: 8,
            count_cap: 5,
            count: 5,
            number_contacts: 2,
        },
        // Already above max_contacts: Spoke's number goes negative.
        Case {
            batch_size: Some(5),
            max_contacts: Some(3),
            held: 4,
            available: 8,
            count_cap: 5,
            count: 5,
            number_contacts: -1,
        },
        // Batch size 0: N = 300 (0 is falsy) but the batch size caps everything at 0.
        Case {
            batch_size: Some(0),
            max_contacts: None,
            held: 0,
            available: 8,
            count_cap: 0,
            count: 0,
            number_contacts: 0,
        },
        // max_contacts 0 is falsy: no limit.
        Case {
            batch_size: Some(10),
            max_contacts: Some(0),
            held: 2,
            available: 4,
            count_cap: 10,
            count: 4,
            number_contacts: 4,
        },
    ];
    let service = Service::start(engine(db, &[]).await).await;
    for (i, case) in cases.iter().enumerate() {
        let campaign = 30 + i as i64;
        let assignment = 300 + i as i64;
        let sql_int = |value: Option<i32>| value.map_or("NULL".to_string(), |value| value.to_string());
        db.exec(&format!(
            "INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size) \
               VALUES ({campaign}, 1, 'Case', TRUE, FALSE, TRUE, {}); \
             INSERT INTO assignment (id, user_id, campaign_id, max_contacts) VALUES ({assignment}, 5, {campaign}, {});",
            sql_int(case.batch_size),
            sql_int(case.max_contacts)
        ))
        .await;
        let held = (0..case.held).map(|_| format!("({campaign}, 'h', 'messaged', {assignment})"));
        let free = (0..case.available).map(|_| format!("({campaign}, 'f', 'needsMessage', NULL)"));
        let values: Vec<String> = held.chain(free).collect();
        db.exec(&format!(
            "INSERT INTO campaign_contact (campaign_id, cell, message_status, assignment_id) VALUES {}",
            values.join(", ")
        ))
        .await;
        let (status, body) = service
            .decide(
                assignment,
                json!({"strategy": "plan-echo", "mode": "batch", "texterId": 5, "now": NOW}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "case {i}: {body}");
        assert_eq!(body["countCap"], case.count_cap, "case {i}: {body}");
        assert_eq!(body["count"], case.count, "case {i}: {body}");
        assert_eq!(
            body["plan"],
            json!({"numberContacts": case.number_contacts, "contactsCount": case.held}),
            "case {i}"
        );
        if case.number_contacts > 0 {
            // plan-echo's limit is the plan's numberContacts - contactsCount.
            let limit = (case.number_contacts - case.held).max(0);
            assert_eq!(
                body["selection"]["batchQuery"]["limit"], limit,
                "case {i}: {body}"
            );
        } else {
            assert_eq!(
                body["selection"],
                Value::Null,
                "case {i}: no selection for no contacts"
            );
        }
    }
}

async fn an_explicit_plan_is_the_one_select_contacts_saw(db: &TestDb) {
    seed(db).await;
    db.exec(
        "INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size) \
           VALUES (40, 1, 'Plans', TRUE, FALSE, TRUE, 10); \
         INSERT INTO assignment (id, user_id, campaign_id) VALUES (400, 5, 40);",
    )
    .await;
    let free: Vec<String> = (0..12).map(|i| format!("(40, '{i}', 'needsMessage')")).collect();
    db.exec(&format!(
        "INSERT INTO campaign_contact (campaign_id, cell, message_status) VALUES {}",
        free.join(", ")
    ))
    .await;
    let service = Service::start(engine(db, &[]).await).await;
    let decide = |plan: Value| {
        service.decide(
            400,
            json!({"strategy": "plan-echo", "mode": "batch", "texterId": 5, "plan": plan, "now": NOW}),
        )
    };
    let (status, body) = decide(json!({"numberContacts": 7, "contactsCount": 3})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["plan"], json!({"numberContacts": 7, "contactsCount": 3}));
    assert_eq!(
        body["countCap"], 7,
        "the plan's number is what the texter asks for"
    );
    assert_eq!(body["count"], 7);
    assert_eq!(
        body["selection"]["batchQuery"]["limit"], 4,
        "7 - 3: select-contacts saw both"
    );
    let (_, body) = decide(json!({"numberContacts": 9, "contactsCount": 0})).await;
    assert_eq!(body["selection"]["batchQuery"]["limit"], 9);
    // No contacts to claim: Spoke claims nothing, so the strategy is not asked to select.
    let (status, body) = decide(json!({"numberContacts": -2, "contactsCount": 5})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["plan"], json!({"numberContacts": -2, "contactsCount": 5}));
    assert_eq!(body["selection"], Value::Null);
    assert_eq!(body["countCap"], 10, "the default sidebox's number");
}

async fn a_failing_strategy_is_a_422_and_writes_nothing(db: &TestDb) {
    seed(db).await;
    let before = rows(db).await;
    let service = Service::start(engine(db, &[]).await).await;
    let hostile = |assignment: i64, mode: &str| {
        service.decide(
            assignment,
            json!({"strategy": "hostile", "mode": mode, "texterId": 5, "now": NOW}),
        )
    };
    let hostile_version = version("hostile").await;
    for (assignment, mode) in [(200, "batch"), (201, "batch"), (202, "batch"), (202, "has-any")] {
        let (status, body) = hostile(assignment, mode).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{assignment} {mode}: {body}"
        );
        assert_eq!(body["error"]["code"], "STRATEGY_FAILED");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("strategy `hostile` (version {hostile_version})")),
            "{message}"
        );
    }
    // Only select-contacts panics there: the count alone succeeds.
    let (status, body) = hostile(200, "has-any").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 1);
    assert_eq!(rows(db).await, before, "a failed decision writes nothing");
}

/// `strategy: null` picks the campaign's default as a batch request does: a default that failed
/// to load is 503 `STRATEGY_UNAVAILABLE`, not silently replaced by the next enabled strategy;
/// a named strategy that is loaded still answers.
async fn a_default_strategy_that_failed_to_load_is_unavailable_not_skipped(db: &TestDb) {
    seed(db).await;
    let mut registry = StrategyRegistry::default();
    for strategy in &loaded().await.strategies {
        registry.insert(strategy.path(), Ok(Arc::clone(strategy)));
    }
    let file = Path::new("/srv/spoke/strategies/broken.wasm");
    registry.insert(
        file,
        Err(LoadError::NotAComponent {
            path: file.to_path_buf(),
            detail: " (it is a core module)".to_string(),
        }),
    );
    let engine = Engine::new(
        db.db.clone(),
        SharedRegistry::new(registry),
        Environment::from_pairs([("DYNAMICASSIGNMENT_BATCHES", "broken")]),
    );
    let service = Service::start(engine).await;
    let (status, body) = service
        .decide(
            200,
            json!({"strategy": null, "mode": "batch", "texterId": 5, "now": NOW}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "STRATEGY_UNAVAILABLE", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("strategy `broken`"), "{message}");
    let (status, body) = service
        .decide(
            200,
            json!({"strategy": "all-texters", "mode": "has-any", "texterId": 5, "now": NOW}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn bad_requests_are_refused_like_the_other_endpoints(db: &TestDb) {
    seed(db).await;
    let service = Service::start(engine(db, &[]).await).await;
    let cases = [
        (
            100,
            json!({"strategy": "nope", "mode": "batch", "texterId": 5}),
            StatusCode::BAD_REQUEST,
            "UNKNOWN_STRATEGY",
        ),
        (
            100,
            json!({"strategy": "all-texters", "mode": "batch", "texterId": 5, "extra": 1}),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            100,
            json!({"strategy": "all-texters", "mode": "hasAny", "texterId": 5}),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            100,
            json!({"strategy": "all-texters", "texterId": 5}),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            100,
            json!({"strategy": "all-texters", "mode": "has-any", "texterId": 5,
                   "plan": {"numberContacts": 3, "contactsCount": 0}}),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            100,
            json!({"strategy": "all-texters", "mode": "batch", "texterId": 5,
                   "plan": {"numberContacts": 3, "contactsCount": -1}}),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            100,
            json!({"strategy": "all-texters", "mode": "batch", "texterId": 5,
                   "plan": {"numberContacts": 3, "contactsCount": 0, "more": true}}),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            100,
            json!({"strategy": "all-texters", "mode": "batch", "texterId": 9}),
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        ),
        (
            999,
            json!({"strategy": "all-texters", "mode": "batch", "texterId": 5}),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
    ];
    for (assignment, body, status, code) in cases {
        let (answered, answer) = service.decide(assignment, body.clone()).await;
        assert_eq!(
            (answered, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let (_, answer) = service
        .decide(100, json!({"strategy": "nope", "mode": "batch", "texterId": 5}))
        .await;
    let message = answer["error"]["message"].as_str().unwrap();
    for name in support::SHIPPED.iter().chain(&["hostile", "plan-echo"]) {
        assert!(message.contains(name), "the loaded names are listed: {message}");
    }
    // None of the campaign's enabled strategies is loaded, and no name was given.
    db.exec(r#"UPDATE campaign SET features = '{"DYNAMICASSIGNMENT_BATCHES":"gone"}' WHERE id = 10"#)
        .await;
    let (status, answer) = service
        .decide(100, json!({"strategy": null, "mode": "batch", "texterId": 5}))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("UNKNOWN_STRATEGY"))
    );
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("(gone)"),
        "{answer}"
    );
}

async fn the_claim_order_is_sent_only_with_the_claim_index(db: &TestDb) {
    seed(db).await;
    let body = json!({"strategy": "all-texters", "mode": "batch", "texterId": 5, "now": NOW});
    let first = Service::start(engine(db, &[]).await).await;
    let (_, answer) = first.decide(100, body.clone()).await;
    assert_eq!(
        answer["claimOrder"], "claim-index",
        "our migrations create the index"
    );
    // A schema Spoke created: no host migrations, no host indexes.
    db.exec("DROP TABLE _sqlx_migrations").await;
    for index in HostIndex::ALL {
        db.exec(&format!("DROP INDEX {}", index.name())).await;
    }
    let (_, answer) = first.decide(100, body.clone()).await;
    assert_eq!(
        answer["claimOrder"], "claim-index",
        "looked up once, not per request"
    );
    let without = Service::start(engine(db, &[]).await).await;
    let (status, answer) = without.decide(100, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("claimOrder").is_none(), "{answer}");
    // `migrate --claim-index` adds it.
    assert!(db.db.create_index(HostIndex::Claim).await.unwrap());
    let with = Service::start(engine(db, &[]).await).await;
    let (_, answer) = with.decide(100, body).await;
    assert_eq!(answer["claimOrder"], "claim-index");
    // What `serve` found at start stands.
    let told = engine(db, &[]).await;
    told.know_claim_index(false);
    let told = Service::start(told).await;
    let (_, answer) = told
        .decide(100, json!({"strategy": "all-texters", "mode": "has-any"}))
        .await;
    assert!(answer.get("claimOrder").is_none(), "{answer}");
}

async fn the_cli_prints_the_same_json_as_http(db: &TestDb) {
    seed(db).await;
    let service = Service::start(engine(db, &[]).await).await;
    let cases = [
        (
            vec!["--strategy", "finished-replies-tz", "--texter-id", "5"],
            json!({"strategy": "finished-replies-tz", "mode": "batch", "texterId": 5}),
        ),
        (
            vec!["--mode", "has-any"],
            json!({"strategy": null, "mode": "has-any"}),
        ),
        (
            vec![
                "--strategy",
                "all-texters",
                "--number-contacts",
                "2",
                "--contacts-count",
                "1",
            ],
            json!({"strategy": "all-texters", "mode": "batch", "plan": {"numberContacts": 2, "contactsCount": 1}}),
        ),
    ];
    for (flags, mut body) in cases {
        body["now"] = json!(NOW);
        let (status, http) = service.decide(100, body).await;
        assert_eq!(status, StatusCode::OK, "{http}");
        let mut args = vec!["decision", "--assignment-id", "100", "--now", NOW];
        args.extend(flags.iter().copied());
        let (ok, cli) = run(db, &args);
        assert!(ok, "{cli}");
        assert_eq!(cli, http, "{flags:?}");
    }
    let (ok, answer) = run(db, &["decision", "--assignment-id", "100", "--strategy", "nope"]);
    assert!(!ok);
    assert_eq!(answer["error"]["code"], "UNKNOWN_STRATEGY");
    let (ok, answer) = run(
        db,
        &["decision", "--assignment-id", "100", "--number-contacts", "3"],
    );
    assert!(!ok, "a plan needs both numbers");
    assert_eq!(answer["error"]["code"], "BAD_ARGUMENT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_counted_by_strategy_and_mode() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let service = Service::start(engine(&db, &[]).await).await;
    // No other test asks vetted-texters in has-any mode, so the count is this test's own.
    for _ in 0..3 {
        let (status, body) = service
            .decide(
                100,
                json!({"strategy": "vetted-texters", "mode": "has-any", "texterId": 5, "now": NOW}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let text = service.metrics().await;
    assert!(
        text.contains(r#"spoke_batches_decisions_total{strategy="vetted-texters",mode="has-any"} 3"#),
        "{text}"
    );
    db.cleanup().await;
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                found.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoke_extension_writes_the_bridge_and_one_line_per_strategy() {
    let root = support::workspace_root();
    let checkout = copy_of_the_repository();
    let repo = checkout.path();
    // What `make strategies` puts in the default strategies folder.
    let dist = repo.join("strategies/dist");
    std::fs::create_dir_all(&dist).unwrap();
    for name in support::SHIPPED {
        support::install(name, &dist, name);
    }
    let (ok, answer) = run_in(repo, &["spoke-extension", "--out", "spoke-extension"]);
    assert!(ok, "{answer}");
    let out = repo.join("spoke-extension");
    assert_eq!(answer["out"], "spoke-extension");
    assert_eq!(answer["bridge"], "spoke-extension/spoke-batches");
    assert_eq!(
        files(&out.join("spoke-batches")),
        files(&root.join("bridge/spoke/spoke-batches")),
        "the bridge folder, file for file"
    );
    let shared = loaded().await;
    let mut names: Vec<&str> = support::SHIPPED.to_vec();
    names.sort_unstable();
    let written: Vec<Value> = names
        .iter()
        .map(|name| {
            let display = shared.get(name).display_name().to_string();
            json!({"folder": name, "strategy": name, "displayName": display})
        })
        .collect();
    assert_eq!(answer["strategies"], json!(written));
    for name in &names {
        let display = shared.get(name).display_name().to_string();
        let module = std::fs::read_to_string(out.join(name).join("index.js")).unwrap();
        assert_eq!(
            module,
            format!(
                "module.exports = require(\"../spoke-batches\").strategy({{ name: \"{name}\", strategy: \"{name}\", \
                 displayName: {} }});\n",
                serde_json::to_string(&display).unwrap()
            )
        );
    }
    let steps = answer["nextSteps"].to_string();
    for setting in [
        "SPOKE_BATCHES_URL",
        "SPOKE_BATCHES_TOKEN",
        "SPOKE_BATCHES_TIMEOUT_MS",
        "DYNAMICASSIGNMENT_BATCHES",
        "replace Spoke's own",
    ] {
        assert!(steps.contains(setting), "{setting}: {steps}");
    }
    assert!(
        !repo.join("spoke-batches.sqlite").exists(),
        "no database is needed or created"
    );

    // A folder with files is refused without --force.
    let (ok, answer) = run_in(repo, &["spoke-extension", "--out", "spoke-extension"]);
    assert!(!ok);
    assert_eq!(answer["error"]["code"], "EXISTS");
    // --force with a prefix: only the folders written are replaced; none replaces Spoke's own.
    std::fs::write(out.join("spoke-batches/stale.js"), "old").unwrap();
    let (ok, answer) = run_in(
        repo,
        &[
            "spoke-extension",
            "--out",
            "spoke-extension",
            "--names",
            "vetted-texters",
            "--prefix",
            "sb-",
            "--force",
        ],
    );
    assert!(ok, "{answer}");
    assert_eq!(answer["strategies"][0]["folder"], "sb-vetted-texters");
    assert!(
        !out.join("spoke-batches/stale.js").exists(),
        "the bridge folder is written afresh"
    );
    assert!(
        out.join("all-texters/index.js").is_file(),
        "other folders are left alone"
    );
    let module = std::fs::read_to_string(out.join("sb-vetted-texters/index.js")).unwrap();
    assert!(
        module.contains(r#"name: "sb-vetted-texters", strategy: "vetted-texters""#),
        "{module}"
    );
    assert!(!answer["nextSteps"].to_string().contains("replace Spoke's own"));

    let fresh = |extra: &[&'static str]| {
        let mut args = vec!["spoke-extension", "--out", "elsewhere"];
        args.extend_from_slice(extra);
        run_in(repo, &args)
    };
    let (ok, answer) = fresh(&["--names", "vetted-texters,nope"]);
    assert!(!ok);
    assert_eq!(answer["error"]["code"], "UNKNOWN_STRATEGY");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("all-texters, finished-replies"),
        "{answer}"
    );
    let (ok, answer) = fresh(&["--prefix", "SB_"]);
    assert!(!ok);
    assert_eq!(answer["error"]["code"], "BAD_NAME");
    assert!(
        !repo.join("elsewhere").exists(),
        "nothing written for a refused command"
    );
}
