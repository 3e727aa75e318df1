//! Each assignment's count of contacts, kept by triggers whoever writes `campaign_contact`, read
//! by a batch request instead of counting; and a schema without it, counted as Spoke counts.

use spoke_batches::db::Database;
use spoke_batches::engine::{Caller, Engine};
use spoke_batches::model::MessageStatus;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{CAMPAIGN, MINE, OTHERS, TEXTER, held, request, seed};
use crate::on_both_databases;

on_both_databases!(
    the_holdings_follow_every_writer_of_campaign_contact,
    a_batch_request_reads_the_texters_count_from_the_holdings,
    a_spoke_schema_is_counted_until_migrate_holdings_adds_them,
);

/// `(assignment, count)` rows of `sql`, in order.
async fn pairs(db: &TestDb, sql: &str) -> Vec<(i64, i64)> {
    match &db.db {
        Database::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        Database::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
    }
}

/// Asserts that the holdings table says what counting says, after `step`.
async fn assert_holdings_exact(db: &TestDb, step: &str) {
    let counted = pairs(
        db,
        "SELECT CAST(assignment_id AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM campaign_contact \
         WHERE assignment_id IS NOT NULL GROUP BY assignment_id ORDER BY 1",
    )
    .await;
    let kept = pairs(
        db,
        "SELECT CAST(assignment_id AS BIGINT), CAST(held AS BIGINT) FROM spoke_batches_holdings \
         WHERE held <> 0 ORDER BY 1",
    )
    .await;
    assert_eq!(kept, counted, "after {step}");
}

async fn the_holdings_follow_every_writer_of_campaign_contact(db: &TestDb) {
    seed(db).await;
    assert!(
        db.db.has_holdings().await.unwrap(),
        "the host's migrations add them"
    );
    Contacts::new(20)
        .held_by(MINE)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(5)
        .held_by(OTHERS)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(40).add_to_campaign(db, CAMPAIGN).await;
    assert_holdings_exact(db, "inserts").await;
    let engine = db.engine(&[]).await;
    assert!(
        engine
            .request_batch(request(OTHERS, Caller::Operator))
            .await
            .unwrap()
            .found
    );
    assert_holdings_exact(db, "a batch").await;
    let steps = [
        (
            "a reassignment",
            "UPDATE campaign_contact SET assignment_id = 102 WHERE assignment_id = 100 AND id % 2 = 0",
        ),
        (
            "a status change",
            "UPDATE campaign_contact SET message_status = 'messaged' WHERE assignment_id = 102",
        ),
        (
            "a swap in one statement",
            "UPDATE campaign_contact SET assignment_id = CASE WHEN assignment_id = 100 THEN 102 ELSE 100 END \
             WHERE assignment_id IN (100, 102)",
        ),
        (
            "deletes",
            "DELETE FROM campaign_contact WHERE assignment_id = 102 AND id % 3 = 0",
        ),
        (
            "an insert of held contacts",
            "INSERT INTO campaign_contact (campaign_id, cell, assignment_id) VALUES (10, '+15559990000', 103), (10, '+15559990001', 103)",
        ),
    ];
    for (step, sql) in steps {
        db.exec(sql).await;
        assert_holdings_exact(db, step).await;
    }
    let released = engine.release(OTHERS, Caller::Operator, true).await.unwrap();
    assert!(released > 0);
    assert_holdings_exact(db, "a release").await;
    db.exec("UPDATE campaign_contact SET assignment_id = NULL").await;
    assert_holdings_exact(db, "unassigning everyone").await;
    if matches!(db.db, Database::Postgres(_)) {
        Contacts::new(3).held_by(MINE).add_to_campaign(db, CAMPAIGN).await;
        db.exec("TRUNCATE campaign_contact").await;
        assert_eq!(
            db.int("SELECT COUNT(*) FROM spoke_batches_holdings").await,
            0,
            "a TRUNCATE empties it"
        );
    }
}

/// The engine's count of MINE's contacts in an explained request, and the batch it allows.
async fn explained_count(engine: &Engine) -> (Option<i64>, Option<u32>) {
    let (_, trace) = engine
        .explain_batch(request(MINE, Caller::User(TEXTER)), None)
        .await
        .unwrap();
    (trace.contacts_count, trace.batch_size)
}

async fn a_batch_request_reads_the_texters_count_from_the_holdings(db: &TestDb) {
    seed(db).await;
    db.exec("UPDATE assignment SET max_contacts = 30 WHERE id = 100")
        .await;
    Contacts::new(25)
        .held_by(MINE)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(30).add_to_campaign(db, CAMPAIGN).await;
    let engine = db.engine(&[]).await;
    assert_eq!(explained_count(&engine).await, (Some(25), Some(5)));
    // The request reads the table: a count the table says differently is the count it uses.
    db.exec("UPDATE spoke_batches_holdings SET held = 27 WHERE assignment_id = 100")
        .await;
    assert_eq!(explained_count(&engine).await, (Some(27), Some(3)));
    // An engine told there are no holdings counts the contacts instead.
    let counting = db.engine(&[]).await;
    counting.know_holdings(false);
    assert_eq!(explained_count(&counting).await, (Some(25), Some(5)));
    assert_eq!(held(db, MINE).await, 25, "explaining changes nothing");
}

async fn a_spoke_schema_is_counted_until_migrate_holdings_adds_them(db: &TestDb) {
    use spoke_batches::db::SchemaState;
    seed(db).await;
    Contacts::new(12)
        .held_by(MINE)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(30).add_to_campaign(db, CAMPAIGN).await;
    // A schema Spoke created has neither sqlx's table nor the holdings.
    db.exec("DROP TABLE _sqlx_migrations").await;
    match db.db {
        Database::Postgres(_) => {
            db.exec("DROP TABLE spoke_batches_holdings; DROP FUNCTION spoke_batches_count_holdings() CASCADE")
                .await
        }
        Database::Sqlite(_) => {
            db.exec(
                "DROP TRIGGER spoke_batches_holdings_insert; DROP TRIGGER spoke_batches_holdings_update; \
                 DROP TRIGGER spoke_batches_holdings_delete; DROP TABLE spoke_batches_holdings",
            )
            .await
        }
    }
    assert!(!db.db.has_holdings().await.unwrap());
    assert_eq!(db.db.prepare_schema().await.unwrap(), SchemaState::ExistingSpoke);
    assert!(!db.db.has_holdings().await.unwrap(), "nothing added unasked");
    assert_eq!(
        explained_count(&db.engine(&[]).await).await.0,
        Some(12),
        "counted"
    );
    // `migrate --holdings` adds them and counts what is there; again, it counts afresh.
    assert!(db.db.install_holdings().await.unwrap(), "created");
    assert!(db.db.has_holdings().await.unwrap());
    assert_holdings_exact(db, "installing").await;
    db.exec("UPDATE spoke_batches_holdings SET held = 99").await;
    assert!(!db.db.install_holdings().await.unwrap(), "already there");
    assert_holdings_exact(db, "counting afresh").await;
    let engine = db.engine(&[]).await;
    assert!(
        engine
            .request_batch(request(MINE, Caller::User(TEXTER)))
            .await
            .unwrap()
            .found
    );
    assert_holdings_exact(db, "a batch on the Spoke schema").await;
    assert_eq!(explained_count(&engine).await.0, Some(held(db, MINE).await));
    assert_eq!(db.db.prepare_schema().await.unwrap(), SchemaState::ExistingSpoke);
}
