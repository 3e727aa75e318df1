//! The HTTP API end to end over a real socket, on SQLite and (with `TEST_DATABASE_URL`)
//! PostgreSQL: every operation's JSON and every error status.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use support::db::TestDb;
use support::server::TestServer;

const TOKEN: &str = "s3cret-token";
const NOW: &str = "2026-03-02T15:00:00Z";

async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name, features) VALUES (1, 'Org', '');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES
          (5, 'a5', 'T', 'T', '1', 'e5'), (6, 'a6', 'N', 'N', '2', 'e6'), (9, 'a9', 'O', 'O', '3', 'e9');
        INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'TEXTER'), (9, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token)
          VALUES (10, 1, 'Campaign', TRUE, FALSE, TRUE, 3, 'tok'), (20, 1, 'select-panic', TRUE, FALSE, TRUE, 3, 'tok2');
        UPDATE campaign SET features = '{"DYNAMICASSIGNMENT_BATCHES":"hostile"}' WHERE id = 20;
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10), (102, 9, 10), (200, 5, 20);
        "#,
    )
    .await;
    let contacts: Vec<String> = (0..8)
        .map(|i| format!("(10, '+1555000{i}', 'needsMessage')"))
        .collect();
    let hostile: Vec<String> = (0..4)
        .map(|i| format!("(20, '+1556000{i}', 'needsMessage')"))
        .collect();
    db.exec(&format!(
        "INSERT INTO campaign_contact (campaign_id, cell, message_status) VALUES {}, {}",
        contacts.join(", "),
        hostile.join(", ")
    ))
    .await;
}

struct Api {
    server: TestServer,
    client: Client,
}

impl Api {
    async fn start(db: &TestDb, env: &[(&str, &str)]) -> Api {
        seed(db).await;
        Api {
            server: TestServer::start(db, env, Some(TOKEN)).await,
            client: Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.server.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.server.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

on_both_databases!(
    every_operation_answers_the_clis_json,
    every_error_has_its_status_and_a_json_body
);

async fn every_operation_answers_the_clis_json(db: &TestDb) {
    let api = Api::start(db, &[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    let (status, body) = api
        .post("/v1/assignments/100/batches", json!({"texterId": 5, "now": NOW}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"found": true, "assigned": 3, "assignment": {"id": 100, "hasUnassignedContactsForTexter": 0},
               "strategy": "all-texters"})
    );
    let (status, body) = api
        .get(&format!(
            "/v1/assignments/100/unassigned-count?texterId=5&now={NOW}"
        ))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"count": 1})));
    let (status, body) = api
        .post("/v1/assignments/100/release", json!({"texterId": 5}))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"released": 3})));
    let (status, body) = api
        .post("/v1/campaigns/10/join", json!({"userId": 6, "joinToken": "tok"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["created"], true);
    let (status, body) = api.post("/v1/contacts/1/message-sent", json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"unassigned": false})));
    let (status, body) = api.get("/v1/strategies").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"all-texters") && names.contains(&"vetted-texters"),
        "{names:?}"
    );
    let entry = body["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "all-texters")
        .unwrap();
    assert_eq!(entry["status"], "loaded");
    assert_eq!(entry["displayName"], "Everyone can request a new batch");
    assert_eq!(entry["contentHash"].as_str().map(str::len), Some(64));
    let (status, body) = api.get("/v1/campaigns/10/texter-ui").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["strategies"],
        json!([{"name": "all-texters", "displayName": "Everyone can request a new batch", "default": true, "loaded": true}])
    );
    assert_eq!(
        body["settings"]["dynamicAssignmentRequestMoreLabel"],
        "Send more texts"
    );
    assert_eq!(body["settings"]["releaseContactsBatchLabel"], "Done for the day");
    assert_eq!(
        body["settings"]["releaseContactsConvosLabel"],
        "Release all my contacts"
    );
    // Unauthenticated endpoints.
    let health = api.client.get(api.server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (health.status(), health.text().await.unwrap()),
        (StatusCode::OK, "ok\n".to_string())
    );
    let metrics = api
        .client
        .get(api.server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"spoke_batches_strategy_calls_total{strategy="all-texters",function="request-new-batch-count"}"#
        ),
        "{metrics}"
    );
}

async fn every_error_has_its_status_and_a_json_body(db: &TestDb) {
    let api = Api::start(db, &[("MAX_TEXTERS_PER_CAMPAIGN", "2")]).await;
    let url = api.server.url("/v1/assignments/100/batches");
    // 401: no token, wrong token.
    let response = api.client.post(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(code(&response.json().await.unwrap()), "UNAUTHORIZED");
    let response = api
        .client
        .post(&url)
        .bearer_auth("wrong")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // 400: malformed JSON, wrong types, unknown fields, bad ids, negative numbers.
    let malformed = api
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"texterId\": 5,")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&malformed.json().await.unwrap()), "BAD_REQUEST");
    for (path, body) in [
        ("/v1/assignments/100/batches", json!({"texterId": "five"})),
        ("/v1/assignments/100/batches", json!({"texterID": 5})),
        ("/v1/assignments/100/batches", json!({"numberContacts": -3})),
        ("/v1/assignments/100/batches", json!({"numberContacts": 1e30})),
        ("/v1/assignments/abc/batches", json!({})),
        ("/v1/assignments/100/batches", json!({"batchType": "nope"})),
        (
            "/v1/campaigns/10/join",
            json!({"userId": 6, "joinToken": "wrong"}),
        ),
        ("/v1/campaigns/10/join", json!({"userId": 6})),
    ] {
        let (status, answer) = api.post(path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert!(
            !answer["error"]["message"].as_str().unwrap_or_default().is_empty(),
            "{answer}"
        );
    }
    // 415: no content type.
    let untyped = api
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(code(&untyped.json().await.unwrap()), "UNSUPPORTED_MEDIA_TYPE");
    // 413: oversized body.
    let huge = json!({"batchType": "x".repeat(100_000)});
    let (status, answer) = api.post("/v1/assignments/100/batches", huge).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
    // 403: another texter's assignment.
    let (status, answer) = api
        .post("/v1/assignments/100/batches", json!({"texterId": 9}))
        .await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    // 404: unknown ids and routes.
    let (status, answer) = api.post("/v1/assignments/999/batches", json!({})).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, answer) = api.get("/v1/campaigns/999/texter-ui").await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, _) = api.get("/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // 409: the campaign is full (it has 2 texters).
    let (status, answer) = api
        .post("/v1/campaigns/10/join", json!({"userId": 6, "joinToken": "tok"}))
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::CONFLICT, "FAILEDJOIN_TOOMANYTEXTERS")
    );
    assert_eq!(
        answer["error"]["message"],
        "Sorry, this campaign has too many texters already"
    );
    // 422: the strategy failed; nothing was assigned.
    let (status, answer) = api
        .post("/v1/assignments/200/batches", json!({"texterId": 5}))
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "STRATEGY_FAILED")
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("strategy `hostile`"),
        "{answer}"
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn without_a_token_the_api_is_open_only_on_loopback() {
    use spoke_batches::service::{AppState, check_exposure};
    let db = TestDb::sqlite().await;
    let engine = db.engine(&[]).await;
    let sandbox = std::sync::Arc::clone(&support::loaded().await.sandbox);
    let open = AppState::new(
        engine.clone(),
        std::sync::Arc::clone(&sandbox),
        None,
        std::time::Duration::from_secs(1),
    );
    assert!(check_exposure("127.0.0.1:8080".parse().unwrap(), &open).is_ok());
    let error = check_exposure("0.0.0.0:8080".parse().unwrap(), &open).unwrap_err();
    assert!(error.to_string().contains("set SPOKE_BATCHES_TOKEN"), "{error}");
    let guarded = AppState::new(
        engine,
        sandbox,
        Some(TOKEN.into()),
        std::time::Duration::from_secs(1),
    );
    assert!(check_exposure("0.0.0.0:8080".parse().unwrap(), &guarded).is_ok());
    // Without a token, loopback clients need no Authorization header.
    seed(&db).await;
    let server = TestServer::start(&db, &[], None).await;
    let response = Client::new()
        .get(server.url("/v1/strategies"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

on_both_databases!(no_answer_carries_contact_data_and_tokens_are_checked_whole);

/// No endpoint returns contact data (cells, names) of any organization, and a token of the
/// right length but the wrong content is refused like any wrong token.
async fn no_answer_carries_contact_data_and_tokens_are_checked_whole(db: &TestDb) {
    let api = Api::start(db, &[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (2, 'Other org');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token)
          VALUES (30, 2, 'Other', TRUE, FALSE, TRUE, 3, 'other');
        INSERT INTO campaign_contact (campaign_id, cell, first_name, last_name)
          VALUES (30, '+19998887777', 'Secret', 'Person');
        "#,
    )
    .await;
    let mut answers = Vec::new();
    answers.push(
        api.post("/v1/assignments/100/batches", json!({"texterId": 5, "now": NOW}))
            .await
            .1,
    );
    answers.push(api.get("/v1/assignments/100/unassigned-count?texterId=5").await.1);
    answers.push(api.get("/v1/campaigns/30/texter-ui").await.1);
    answers.push(api.get("/v1/dashboard").await.1);
    answers.push(api.get("/v1/strategies").await.1);
    answers.push(api.post("/v1/contacts/9/message-sent", json!({})).await.1);
    answers.push(
        api.post(
            "/v1/assignments/100/release",
            json!({"texterId": 5, "conversations": true}),
        )
        .await
        .1,
    );
    for answer in &answers {
        let text = answer.to_string();
        for secret in ["+1555000", "+19998887777", "Secret", "Person"] {
            assert!(
                !text.contains(secret),
                "an answer carries contact data ({secret}): {text}"
            );
        }
    }
    let same_length = "x".repeat(TOKEN.len());
    let response = api
        .client
        .get(api.server.url("/v1/strategies"))
        .bearer_auth(&same_length)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let prefix = api
        .client
        .get(api.server.url("/v1/strategies"))
        .bearer_auth(&TOKEN[..TOKEN.len() - 1])
        .send()
        .await
        .unwrap();
    assert_eq!(prefix.status(), StatusCode::UNAUTHORIZED);
}
