//! Bad input over HTTP, generated: malformed JSON, wrong types, huge and negative numbers,
//! unknown ids and fields, odd paths, oversized bodies and bad tokens. Every answer is a JSON
//! error below 500, or a success, and no failed request changes the database.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Client, Method};
use serde_json::{Value, json};
use support::db::TestDb;
use support::server::{ServerOptions, TestServer};

const TOKEN: &str = "fuzz-service-token";
const OPERATOR: &str = "fuzz-operator-token";

async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES (5, 'a', 'T', 'T', '1', 'e');
        INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, batch_size, join_token)
          VALUES (10, 1, 'C', TRUE, FALSE, TRUE, 3, 'tok');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10);
        INSERT INTO campaign_contact (campaign_id, cell) VALUES (10, '1'), (10, '2'), (10, '3'), (10, '4');
        "#,
    )
    .await;
}

/// Everything a request could change, summed up.
async fn fingerprint(db: &TestDb) -> (i64, i64, i64) {
    (
        db.int("SELECT COALESCE(SUM(COALESCE(assignment_id, 0) * id), 0) FROM campaign_contact")
            .await,
        db.int("SELECT COUNT(*) FROM assignment").await,
        db.int("SELECT COUNT(*) FROM user_organization").await,
    )
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("100".to_string()),
        Just("10".to_string()),
        Just("1".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("9223372036854775807".to_string()),
        Just("abc".to_string()),
        Just("1e5".to_string()),
        Just("%00".to_string()),
        "[a-z0-9%]{0,12}",
    ]
}

fn path() -> impl Strategy<Value = (Method, String)> {
    let templates = prop::sample::select(vec![
        (Method::POST, "/v1/assignments/{}/batches"),
        (Method::GET, "/v1/assignments/{}/unassigned-count"),
        (Method::POST, "/v1/assignments/{}/release"),
        (Method::POST, "/v1/campaigns/{}/join"),
        (Method::POST, "/v1/contacts/{}/message-sent"),
        (Method::GET, "/v1/campaigns/{}/texter-ui"),
        (Method::GET, "/v1/strategies"),
        (Method::GET, "/v1/assignments/{}/explain"),
        (Method::GET, "/v1/dashboard"),
        (Method::GET, "/metrics"),
        (Method::DELETE, "/v1/assignments/{}/batches"),
        (Method::GET, "/v1/{}"),
    ]);
    (templates, id(), prop::option::of("[a-zA-Z=&0-9%-]{0,20}")).prop_map(
        |((method, template), id, query)| {
            let mut path = template.replace("{}", &id);
            if let Some(query) = query {
                path = format!("{path}?{query}");
            }
            (method, path)
        },
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(Value::from),
        Just(json!(1e300)),
        Just(json!(-1)),
        "[ -~]{0,30}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        let keys = prop::sample::select(vec![
            "texterId",
            "numberContacts",
            "batchType",
            "now",
            "conversations",
            "userId",
            "joinToken",
            "unknown",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// A request body: JSON, or bytes that are not JSON at all.
fn body() -> impl Strategy<Value = (Option<&'static str>, Vec<u8>)> {
    prop_oneof![
        json_value().prop_map(|value| (Some("application/json"), value.to_string().into_bytes())),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| (Some("application/json"), bytes)),
        json_value().prop_map(|value| (None, value.to_string().into_bytes())),
        Just((Some("application/json"), vec![b' '; 70_000])),
    ]
}

fn token() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(Some(TOKEN.to_string())),
        1 => Just(Some(OPERATOR.to_string())),
        1 => Just(None),
        1 => "[ -~]{0,20}".prop_map(Some),
    ]
}

#[test]
fn no_input_gets_a_server_error_or_changes_data_when_refused() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::sqlite());
    runtime.block_on(seed(&db));
    let server = runtime.block_on(TestServer::start_with(
        &db,
        ServerOptions {
            env: &[("DYNAMICASSIGNMENT_BATCHES", "all-texters")],
            token: Some(TOKEN),
            operator_token: Some(OPERATOR),
            ..ServerOptions::default()
        },
    ));
    let client = Client::new();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &(path(), body(), token()),
        |((method, path), (content_type, bytes), token)| {
            runtime.block_on(async {
                let before = fingerprint(&db).await;
                let mut request = client.request(method.clone(), server.url(&path)).body(bytes);
                if let Some(content_type) = content_type {
                    request = request.header("content-type", content_type);
                }
                if let Some(token) = &token {
                    request = request.header("authorization", format!("Bearer {token}"));
                }
                let Ok(response) = request.send().await else {
                    // reqwest refuses to send some generated paths; nothing reached the server.
                    return Ok(());
                };
                let status = response.status();
                let text = response.text().await.unwrap();
                prop_assert!(status.as_u16() < 500, "{method} {path} -> {status}: {text}");
                if !status.is_success() {
                    let answer: Value = serde_json::from_str(&text).map_err(|error| {
                        TestCaseError::fail(format!(
                            "{method} {path} -> {status}: not JSON ({error}): {text}"
                        ))
                    })?;
                    prop_assert!(
                        answer["error"]["code"].is_string(),
                        "{method} {path} -> {status}: {text}"
                    );
                    prop_assert_eq!(
                        fingerprint(&db).await,
                        before,
                        "{} {} -> {} changed data",
                        method,
                        path,
                        status
                    );
                }
                Ok(())
            })
        },
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
