//! The HTTP API end to end over a real socket, on SQLite and (with `TEST_DATABASE_URL`)
//! PostgreSQL: every operation's JSON and every error status.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use support::db::TestDb;
use support::server::{ServerOptions, TestServer};

/// The service token (Spoke's server).
const TOKEN: &str = "s3cret-service-token";
/// The operator token.
const OPERATOR: &str = "s3cret-operator-token";
/// The service's fixed clock in these tests.
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
    /// The seeded database served with both tokens, its clock fixed at [`NOW`].
    async fn start(db: &TestDb, env: &[(&str, &str)]) -> Api {
        seed(db).await;
        let options = ServerOptions {
            env,
            token: Some(TOKEN),
            operator_token: Some(OPERATOR),
            fixed_now: Some(NOW.parse().unwrap()),
            ..ServerOptions::default()
        };
        Api {
            server: TestServer::start_with(db, options).await,
            client: Client::new(),
        }
    }

    /// POSTs `body` with the service token.
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_as(Some(TOKEN), path, body).await
    }

    /// GETs with the service token.
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(Some(TOKEN), path).await
    }

    async fn post_as(&self, token: Option<&str>, path: &str, body: Value) -> (StatusCode, Value) {
        let mut request = self.client.post(self.server.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn get_as(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut request = self.client.get(self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
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
        .post("/v1/assignments/100/batches", json!({"texterId": 5}))
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
    // /healthz needs no token; /metrics takes either token.
    let health = api.client.get(api.server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (health.status(), health.text().await.unwrap()),
        (StatusCode::OK, "ok\n".to_string())
    );
    let metrics = api
        .client
        .get(api.server.url("/metrics"))
        .bearer_auth(TOKEN)
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
        (
            "/v1/assignments/100/batches",
            json!({"texterId": 5, "numberContacts": -3}),
        ),
        (
            "/v1/assignments/100/batches",
            json!({"texterId": 5, "numberContacts": 1e30}),
        ),
        ("/v1/assignments/abc/batches", json!({"texterId": 5})),
        (
            "/v1/assignments/100/batches",
            json!({"texterId": 5, "batchType": "nope"}),
        ),
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
        .body(r#"{"texterId": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(code(&untyped.json().await.unwrap()), "UNSUPPORTED_MEDIA_TYPE");
    // 413: oversized body.
    let huge = json!({"texterId": 5, "batchType": "x".repeat(100_000)});
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
    let (status, answer) = api
        .post("/v1/assignments/999/batches", json!({"texterId": 5}))
        .await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, answer) = api.get("/v1/campaigns/999/texter-ui").await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, answer) = api.get("/v1/nothing-here").await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
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
    use spoke_batches::service::{AccessTokens, AppState, check_exposure};
    let db = TestDb::sqlite().await;
    let engine = db.engine(&[]).await;
    let sandbox = std::sync::Arc::clone(&support::loaded().await.sandbox);
    let open = AppState::new(
        engine.clone(),
        std::sync::Arc::clone(&sandbox),
        AccessTokens::none(),
        std::time::Duration::from_secs(1),
    );
    assert!(check_exposure("127.0.0.1:8080".parse().unwrap(), &open).is_ok());
    let error = check_exposure("0.0.0.0:8080".parse().unwrap(), &open).unwrap_err();
    assert!(error.to_string().contains("set SPOKE_BATCHES_TOKEN"), "{error}");
    for tokens in [
        AccessTokens::new(Some(TOKEN), None).unwrap(),
        AccessTokens::new(None, Some(OPERATOR)).unwrap(),
    ] {
        let guarded = AppState::new(
            engine.clone(),
            std::sync::Arc::clone(&sandbox),
            tokens,
            std::time::Duration::from_secs(1),
        );
        assert!(check_exposure("0.0.0.0:8080".parse().unwrap(), &guarded).is_ok());
    }
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
        api.post("/v1/assignments/100/batches", json!({"texterId": 5}))
            .await
            .1,
    );
    answers.push(api.get("/v1/assignments/100/unassigned-count?texterId=5").await.1);
    answers.push(api.get("/v1/campaigns/30/texter-ui").await.1);
    answers.push(api.get_as(Some(OPERATOR), "/v1/dashboard").await.1);
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

on_both_databases!(
    the_service_token_acts_only_for_the_texter_it_names,
    requests_that_write_refuse_a_client_time,
    read_only_requests_take_a_client_time_within_range
);

/// The service token authenticates Spoke's server, which must name the texter on every texter
/// operation; acting as an administrator takes the operator token.
async fn the_service_token_acts_only_for_the_texter_it_names(db: &TestDb) {
    let api = Api::start(db, &[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    let assigned = "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL";
    // Without texterId, every texter operation is a 400 naming the field, and changes nothing.
    for (status, answer) in [
        api.post("/v1/assignments/100/batches", json!({})).await,
        api.post("/v1/assignments/100/batches", json!({"numberContacts": 2}))
            .await,
        api.post("/v1/assignments/100/release", json!({"conversations": true}))
            .await,
        api.get("/v1/assignments/100/unassigned-count").await,
        api.get("/v1/assignments/100/explain").await,
    ] {
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("texterId is required"), "{message}");
    }
    assert_eq!(db.int(assigned).await, 0);
    // Naming a texter, the service checks them against the assignment.
    let (status, answer) = api
        .post("/v1/assignments/102/batches", json!({"texterId": 5}))
        .await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    assert_eq!(db.int(assigned).await, 0);
    let (status, answer) = api
        .post("/v1/assignments/100/batches", json!({"texterId": 5}))
        .await;
    assert_eq!((status, answer["assigned"].clone()), (StatusCode::OK, json!(3)));
    // The operator token acts as an administrator, with or without a texter.
    let (status, answer) = api
        .post_as(Some(OPERATOR), "/v1/assignments/102/batches", json!({}))
        .await;
    assert_eq!(
        (status, answer["assigned"].clone()),
        (StatusCode::OK, json!(3)),
        "{answer}"
    );
    let (status, answer) = api.get_as(Some(OPERATOR), "/v1/assignments/102/explain").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = api
        .post_as(Some(OPERATOR), "/v1/assignments/102/release", json!({}))
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"released": 3})));
    // The dashboard's data is the operator's; the Spoke server's operations take either token.
    let (status, answer) = api.get("/v1/dashboard").await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SPOKE_BATCHES_OPERATOR_TOKEN"),
        "{answer}"
    );
    let (status, dashboard) = api.get_as(Some(OPERATOR), "/v1/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    // Its traffic counts the batch requests that reached the engine, by outcome (the ones
    // without a texter id were refused before), and the contacts each campaign handed out.
    let minutes = dashboard["traffic"].as_array().expect("traffic minutes");
    let total = |field: &str| {
        minutes
            .iter()
            .map(|minute| minute[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (
            total("assigned"),
            total("refused"),
            total("nothing"),
            total("strategyFailed")
        ),
        (2, 1, 0, 0),
        "{dashboard}"
    );
    let contacts: u64 = minutes
        .iter()
        .map(|minute| minute["contactsByCampaign"]["10"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(contacts, 6, "{dashboard}");
    assert!(
        minutes.iter().all(|minute| minute["p99Ms"].as_f64().is_some()),
        "{dashboard}"
    );
    for token in [TOKEN, OPERATOR] {
        assert_eq!(api.get_as(Some(token), "/v1/strategies").await.0, StatusCode::OK);
        assert_eq!(
            api.get_as(Some(token), "/v1/campaigns/10/texter-ui").await.0,
            StatusCode::OK
        );
        let (status, _) = api
            .post_as(Some(token), "/v1/contacts/1/message-sent", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, answer) = api
        .post("/v1/campaigns/10/join", json!({"userId": 6, "joinToken": "tok"}))
        .await;
    assert_eq!((status, answer["created"].clone()), (StatusCode::OK, json!(true)));
    // Without any token configured (loopback development), texterId stays optional.
    let open = TestServer::start(db, &[("DYNAMICASSIGNMENT_BATCHES", "all-texters")], None).await;
    let response = api
        .client
        .post(open.url("/v1/assignments/102/batches"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// `now` on a request that writes is a 400 and changes nothing: a write runs at the service's
/// clock, so a client cannot move texting hours or due dates or stamp a time of its choosing.
async fn requests_that_write_refuse_a_client_time(db: &TestDb) {
    let api = Api::start(db, &[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    let before = (
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
            .await,
        db.int("SELECT COUNT(*) FROM assignment").await,
    );
    for (path, body) in [
        ("/v1/assignments/100/batches", json!({"texterId": 5, "now": NOW})),
        (
            "/v1/assignments/100/batches",
            json!({"texterId": 5, "now": "2020-01-01T00:00:00Z"}),
        ),
        ("/v1/assignments/100/release", json!({"texterId": 5, "now": NOW})),
        (
            "/v1/campaigns/10/join",
            json!({"userId": 6, "joinToken": "tok", "now": NOW}),
        ),
        ("/v1/contacts/1/message-sent", json!({"now": NOW})),
    ] {
        let (status, answer) = api.post(path, body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            "{path} {body}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`now` is refused on requests that write"),
            "{path}: {message}"
        );
    }
    let after = (
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
            .await,
        db.int("SELECT COUNT(*) FROM assignment").await,
    );
    assert_eq!(after, before);
}

/// Explain and the unassigned count take `now` (they only change an answer), within
/// 1970-01-01 .. 2200-01-01; a time beyond it is a 400, not a panic in the timezone arithmetic.
async fn read_only_requests_take_a_client_time_within_range(db: &TestDb) {
    let api = Api::start(
        db,
        &[
            ("DYNAMICASSIGNMENT_BATCHES", "all-texters"),
            ("DEFAULT_TZ", "US/Eastern"),
        ],
    )
    .await;
    let (status, answer) = api
        .get("/v1/assignments/100/explain?texterId=5&now=2026-03-02T15:00:00Z")
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["trace"]["dryRun"], true);
    let (status, answer) = api
        .get("/v1/assignments/100/unassigned-count?texterId=5&now=2199-12-31T23:59:59Z")
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for now in [
        "%2B262142-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
    ] {
        for path in ["explain", "unassigned-count"] {
            let (status, answer) = api
                .get(&format!("/v1/assignments/100/{path}?texterId=5&now={now}"))
                .await;
            assert_eq!(
                (status, code(&answer)),
                (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
                "{path} {now}"
            );
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("out of range"),
                "{answer}"
            );
        }
    }
    let (status, answer) = api
        .get("/v1/assignments/100/explain?texterId=5&now=yesterday")
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        "{answer}"
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NOT NULL")
            .await,
        0
    );
}
