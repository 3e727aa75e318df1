//! What a strategy, a broken component or a stale read can never make the engine do: assign
//! another texter's or an opted-out contact, see the organization's secrets, silently hand out
//! nothing, or unassign a contact that changed since it was read.

use std::sync::Arc;

use spoke_batches::db::{Database, Dialect, Queries};
use spoke_batches::engine::{Caller, Engine, EngineError};
use spoke_batches::metrics::Metrics;
use spoke_batches::registry::{SharedRegistry, StrategyRegistry};
use spoke_batches::sandbox::{FailureKind, LoadError};
use spoke_batches::spoke_config::Environment;

use spoke_batches::model::MessageStatus;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::support::loaded;
use super::support::server::{ServerOptions, TestServer};
use super::{CAMPAIGN, MINE, NEWCOMER, OTHERS, TEXTER, held, now, request, seed, set_campaign};
use crate::on_both_databases;

on_both_databases!(
    a_strategy_can_claim_neither_other_texters_nor_opted_out_contacts,
    a_has_current_filter_may_read_any_contact,
    secret_looking_features_never_reach_a_strategy,
    an_enabled_strategy_that_failed_to_load_is_a_clear_error,
    outbound_unassign_leaves_a_contact_that_changed_since_it_was_read,
    a_join_token_must_match_exactly,
);

/// `overreach` decides for CAMPAIGN, in the mode named by `title`.
async fn overreach(db: &TestDb, title: &str) {
    set_campaign(
        db,
        &format!(r#"title = '{title}', features = '{{"DYNAMICASSIGNMENT_BATCHES":"overreach"}}'"#),
    )
    .await;
}

/// Two `messaged` contacts of another texter, three opted-out ones nobody holds, and five
/// available ones.
async fn contacts_a_strategy_may_not_take(db: &TestDb) {
    Contacts::new(2)
        .held_by(OTHERS)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(3).opted_out().add_to_campaign(db, CAMPAIGN).await;
    Contacts::new(5).add_to_campaign(db, CAMPAIGN).await;
}

async fn a_strategy_can_claim_neither_other_texters_nor_opted_out_contacts(db: &TestDb) {
    seed(db).await;
    contacts_a_strategy_may_not_take(db).await;
    let engine = db.engine(&[]).await;
    let refusals = [
        ("any-contact", "assignment `any`; it must be `unassigned`"),
        (
            "this-assignment",
            "assignment `this-assignment`; it must be `unassigned`",
        ),
        ("opted-out", "opted-out `some(true)`; it must be `some(false)`"),
        ("opted-out-unset", "opted-out `none`; it must be `some(false)`"),
    ];
    for (mode, reason) in refusals {
        overreach(db, mode).await;
        let error = engine
            .request_batch(request(MINE, Caller::User(TEXTER)))
            .await
            .expect_err(mode);
        let EngineError::Strategy(failure) = &error else {
            panic!("{mode}: {error}");
        };
        assert_eq!(error.code(), "STRATEGY_FAILED");
        assert!(
            matches!(&failure.kind, FailureKind::InvalidValue(message) if message.contains(reason)),
            "{mode}: {error}"
        );
        assert_eq!(held(db, MINE).await, 0, "{mode}: nothing was assigned");
        assert_eq!(held(db, OTHERS).await, 2, "{mode}: the other texter keeps theirs");
    }
    // The same component with the host's batch query takes only the five available contacts.
    overreach(db, "ok").await;
    let outcome = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap();
    assert_eq!(outcome.assigned, 5);
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = 100 AND is_opted_out = FALSE")
            .await,
        5
    );
}

/// The claim's own SQL takes only unassigned contacts that are not opted out, whatever filter
/// reaches it (defence in depth behind the validation above).
async fn claim_directly<T: Queries>(mut tx: T) -> Vec<i64> {
    use spoke_batches::filter::{AssignmentScope, ContactFilter, RequestScope, StatusFilter, TimezoneScope};
    let anything = ContactFilter {
        status: StatusFilter::Any,
        assignment: AssignmentScope::Any,
        opted_out: None,
        timezone: TimezoneScope::Any,
    };
    let scope = RequestScope {
        campaign_id: CAMPAIGN,
        assignment_id: MINE,
        offsets: Default::default(),
    };
    let claimed = tx.claim(&anything, &scope, 100, now()).await.expect("claim");
    tx.commit().await.expect("commit");
    claimed
}

async fn a_has_current_filter_may_read_any_contact(db: &TestDb) {
    seed(db).await;
    contacts_a_strategy_may_not_take(db).await;
    overreach(db, "has-current-anything").await;
    // Without the bulk-send sidebox the has-current filter is not asked: a batch.
    let engine = db.engine(&[]).await;
    assert_eq!(
        engine
            .request_batch(request(MINE, Caller::User(TEXTER)))
            .await
            .unwrap()
            .assigned,
        5
    );
    db.exec("UPDATE campaign_contact SET assignment_id = NULL WHERE assignment_id = 100")
        .await;
    // With it, the filter counts every contact of the campaign (10, at least the batch of 5):
    // a valid answer, "finish your batch first", not a failure.
    let strict = db.engine(&[("TEXTER_SIDEBOXES", "per-campaign-bulk-send")]).await;
    let outcome = strict
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap();
    assert!(!outcome.found);
    assert_eq!(held(db, MINE).await, 0);

    let claimed = match &db.db {
        Database::Postgres(pool) => claim_directly(sqlx::Postgres::begin_write(pool).await.unwrap()).await,
        Database::Sqlite(pool) => claim_directly(sqlx::Sqlite::begin_write(pool).await.unwrap()).await,
    };
    assert_eq!(
        claimed.len(),
        5,
        "the five available contacts, nothing else: {claimed:?}"
    );
    assert_eq!(held(db, OTHERS).await, 2);
    assert_eq!(
        db.int(
            "SELECT COUNT(*) FROM campaign_contact WHERE is_opted_out = TRUE AND assignment_id IS NOT NULL"
        )
        .await,
        0
    );
}

async fn secret_looking_features_never_reach_a_strategy(db: &TestDb) {
    seed(db).await;
    db.exec(
        r#"UPDATE organization SET features = '{"TWILIO_AUTH_TOKEN_ENCRYPTED":"s3cr3t-twilio","TWILIO_API_KEY":"s3cr3t-key","Slack_Password":"s3cr3t-pw","ORG_SETTING":"visible-org"}' WHERE id = 1"#,
    )
    .await;
    set_campaign(
        db,
        r#"title = 'echo-features', features = '{"DYNAMICASSIGNMENT_BATCHES":"overreach","webhookSecret":"s3cr3t-hook","FEWER_THAN_N_REPLIES":"4"}'"#,
    )
    .await;
    let engine = db.engine(&[]).await;
    let error = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .expect_err("the component echoes what it saw");
    let message = error.to_string();
    assert!(message.contains("visible-org"), "{message}");
    assert!(message.contains("FEWER_THAN_N_REPLIES"), "{message}");
    assert!(message.contains("DYNAMICASSIGNMENT_BATCHES"), "{message}");
    for secret in [
        "s3cr3t",
        "TWILIO_AUTH_TOKEN_ENCRYPTED",
        "TWILIO_API_KEY",
        "Slack_Password",
        "webhookSecret",
    ] {
        assert!(
            !message.contains(secret),
            "{secret} reached the strategy: {message}"
        );
    }
}

/// An engine on `db` serving the test strategies, with `broken` failed to load and nothing
/// serving under its name, counting into `metrics`.
async fn engine_with_a_broken_strategy(db: &TestDb, metrics: &Arc<Metrics>, env: &[(&str, &str)]) -> Engine {
    let mut registry = StrategyRegistry::default();
    for strategy in &loaded().await.strategies {
        registry.insert(strategy.path(), Ok(Arc::clone(strategy)));
    }
    let file = std::path::Path::new("/srv/spoke/strategies/broken.wasm");
    registry.insert(
        file,
        Err(LoadError::NotAComponent {
            path: file.to_path_buf(),
            detail: " (it is a core module)".to_string(),
        }),
    );
    // A stale strategy (its new file failed; the previous version serves) still serves.
    let stale = loaded().await.get("all-texters");
    registry.insert(
        stale.path(),
        Err(LoadError::NotAComponent {
            path: stale.path().to_path_buf(),
            detail: String::new(),
        }),
    );
    Engine::new(
        db.db.clone(),
        SharedRegistry::new(registry),
        Environment::from_pairs(env.iter().copied()),
    )
    .with_metrics(Arc::clone(metrics))
}

async fn an_enabled_strategy_that_failed_to_load_is_a_clear_error(db: &TestDb) {
    seed(db).await;
    Contacts::new(20).add_to_campaign(db, CAMPAIGN).await;
    let metrics = Arc::new(Metrics::default());
    let engine =
        engine_with_a_broken_strategy(db, &metrics, &[("DYNAMICASSIGNMENT_BATCHES", "broken")]).await;
    let error = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .expect_err("the default strategy failed to load");
    assert_eq!(error.code(), "STRATEGY_UNAVAILABLE");
    let message = error.to_string();
    assert!(
        message.starts_with("strategy `broken`, enabled for campaign 10, failed to load"),
        "{message}"
    );
    assert!(
        message.contains("broken.wasm is not a WebAssembly component (it is a core module)"),
        "{message}"
    );
    assert!(
        !message.contains("/srv/spoke"),
        "the folder stays private: {message}"
    );
    let count = engine.has_unassigned(MINE, Caller::User(TEXTER), now()).await;
    assert_eq!(
        count.map_err(|error| error.code().as_str()),
        Err("STRATEGY_UNAVAILABLE")
    );
    assert_eq!(metrics.stats("broken").unavailable, 2);
    assert_eq!(held(db, MINE).await, 0);

    // A campaign listing it second still serves its default; asking for it by name fails.
    set_campaign(
        db,
        r#"features = '{"DYNAMICASSIGNMENT_BATCHES":"all-texters,broken"}'"#,
    )
    .await;
    let outcome = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap();
    assert_eq!(
        (outcome.assigned, outcome.strategy.as_deref()),
        (10, Some("all-texters"))
    );
    let mut by_name = request(MINE, Caller::User(TEXTER));
    by_name.batch_type = Some("broken".to_string());
    assert_eq!(
        engine.request_batch(by_name).await.unwrap_err().code(),
        "STRATEGY_UNAVAILABLE"
    );
    // A name with no component at all is skipped, as Spoke skips a handler it cannot find.
    set_campaign(db, r#"features = '{"DYNAMICASSIGNMENT_BATCHES":"nowhere"}'"#).await;
    assert!(
        !engine
            .request_batch(request(MINE, Caller::User(TEXTER)))
            .await
            .unwrap()
            .found
    );
    assert_eq!(metrics.stats("broken").unavailable, 3);
}

/// The service answers 503 `STRATEGY_UNAVAILABLE`, and its dashboard shows the load error
/// beside the campaign's strategy.
#[tokio::test]
async fn the_service_and_its_dashboard_tell_of_a_strategy_that_failed_to_load() {
    let db = TestDb::sqlite().await;
    seed(&db).await;
    let metrics = Arc::new(Metrics::default());
    let engine =
        engine_with_a_broken_strategy(&db, &metrics, &[("DYNAMICASSIGNMENT_BATCHES", "broken")]).await;
    let server = TestServer::serve(engine, ServerOptions::default()).await;
    let client = reqwest::Client::new();
    let answer = client
        .post(server.url("/v1/assignments/100/batches"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "STRATEGY_UNAVAILABLE", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("strategy `broken`"), "{message}");
    let dashboard: serde_json::Value = client
        .get(server.url("/v1/dashboard"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let strategy = &dashboard["campaigns"][0]["strategies"][0];
    assert_eq!(
        (&strategy["name"], &strategy["loaded"]),
        (&"broken".into(), &false.into()),
        "{dashboard}"
    );
    assert!(
        strategy["loadError"]
            .as_str()
            .is_some_and(|error| error.contains("is not a WebAssembly component")),
        "{dashboard}"
    );
    db.cleanup().await;
}

/// The update of an outbound unassign on its own: whether it unassigned contact `id`.
async fn unassign<T: Queries>(mut tx: T, id: i64) -> bool {
    let unassigned = tx.unassign_initial_contact(id).await.expect("update");
    tx.commit().await.expect("commit");
    unassigned
}

async fn outbound_unassign_leaves_a_contact_that_changed_since_it_was_read(db: &TestDb) {
    seed(db).await;
    Contacts::new(1)
        .held_by(MINE)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(1).add_to_campaign(db, CAMPAIGN).await;
    Contacts::new(1).held_by(MINE).add_to_campaign(db, CAMPAIGN).await;
    let first = db.int("SELECT MIN(id) FROM campaign_contact").await;
    // What the update does once its read is stale: the first contact was answered, the
    // second released, since.
    for (id, expected) in [(first, false), (first + 1, false), (first + 2, true)] {
        let unassigned = match &db.db {
            Database::Postgres(pool) => unassign(sqlx::Postgres::begin_write(pool).await.unwrap(), id).await,
            Database::Sqlite(pool) => unassign(sqlx::Sqlite::begin_write(pool).await.unwrap(), id).await,
        };
        assert_eq!(unassigned, expected, "contact {id}");
    }
    assert_eq!(
        held(db, MINE).await,
        1,
        "the answered contact stays with its texter"
    );
}

async fn a_join_token_must_match_exactly(db: &TestDb) {
    seed(db).await;
    let engine = db.engine(&[]).await;
    for wrong in ["", "to", "tokk", "TOK", "tok ", "xok"] {
        assert_eq!(
            engine
                .join(CAMPAIGN, NEWCOMER, wrong, now())
                .await
                .unwrap_err()
                .code(),
            "INVALID_JOIN",
            "{wrong:?}"
        );
    }
    assert!(
        engine
            .join(CAMPAIGN, NEWCOMER, "tok", now())
            .await
            .unwrap()
            .created
    );
    set_campaign(db, "join_token = NULL").await;
    assert_eq!(
        engine
            .join(CAMPAIGN, NEWCOMER, "", now())
            .await
            .unwrap_err()
            .code(),
        "INVALID_JOIN",
        "a campaign without a token takes none"
    );
}
