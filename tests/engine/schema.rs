//! Spoke's own schema left alone, and the indexes the claim and the strategies' usual
//! questions read.

use spoke_batches::model::MessageStatus;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{CAMPAIGN, MINE, OTHERS, ask, held, now, seed};
use crate::on_both_databases;

on_both_databases!(
    an_existing_spoke_schema_is_left_alone,
    the_claim_reads_the_claim_index_and_takes_the_lowest_ids,
    a_busy_texters_replies_are_found_through_the_assignment_status_index,
);

async fn an_existing_spoke_schema_is_left_alone(db: &TestDb) {
    use spoke_batches::db::{HostIndex, SchemaState};
    seed(db).await;
    // Without sqlx's table and our indexes, the schema is one Spoke created itself.
    db.exec("DROP TABLE _sqlx_migrations").await;
    for index in HostIndex::ALL {
        db.exec(&format!("DROP INDEX {}", index.name())).await;
    }
    assert_eq!(db.db.prepare_schema().await.unwrap(), SchemaState::ExistingSpoke);
    for index in HostIndex::ALL {
        assert!(
            !db.db.has_index(index).await.unwrap(),
            "prepare_schema adds nothing"
        );
    }
    let error = db.db.migrate().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("never alters an existing Spoke schema"),
        "{error}"
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM assignment").await,
        4,
        "data untouched"
    );
    // The engine works on it as it is.
    Contacts::new(12).add_to_campaign(db, CAMPAIGN).await;
    assert_eq!(ask(&db.engine(&[]).await, MINE).await.assigned, 10);
    // On request (`migrate --claim-index`), our indexes and nothing else are added, once.
    for index in HostIndex::ALL {
        assert!(db.db.create_index(index).await.unwrap(), "created");
        assert!(db.db.has_index(index).await.unwrap());
        assert!(!db.db.create_index(index).await.unwrap(), "already there");
    }
    assert_eq!(db.db.prepare_schema().await.unwrap(), SchemaState::ExistingSpoke);
    assert_eq!(held(db, MINE).await, 10, "data untouched");
}

async fn the_claim_reads_the_claim_index_and_takes_the_lowest_ids(db: &TestDb) {
    seed(db).await;
    // A bigger campaign first in the table, whose rows a claim on CAMPAIGN must not walk.
    db.exec(
        "INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, \
         batch_size) VALUES (11, 1, 'Big', TRUE, FALSE, TRUE, 10)",
    )
    .await;
    db.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
         INSERT INTO campaign_contact (campaign_id, cell, message_status, is_opted_out, timezone_offset) \
         SELECT 11, '+15550000000', 'needsMessage', FALSE, '' FROM n",
    )
    .await;
    Contacts::new(30)
        .held_by(OTHERS)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(200).add_to_campaign(db, CAMPAIGN).await;
    db.exec("ANALYZE").await;
    let plan = claim_plan(db).await;
    assert!(
        plan.contains("campaign_contact_claim_index"),
        "the claim's plan:\n{plan}"
    );

    assert_eq!(ask(&db.engine(&[]).await, MINE).await.assigned, 10);
    let first_available =
        "SELECT MIN(id) FROM campaign_contact WHERE campaign_id = 10 AND assignment_id IS NULL";
    let before_mine = db.int(first_available).await;
    assert_eq!(
        db.int("SELECT MAX(id) FROM campaign_contact WHERE assignment_id = 100")
            .await,
        before_mine - 1,
        "the batch is the 10 lowest ids"
    );
}

async fn a_busy_texters_replies_are_found_through_the_assignment_status_index(db: &TestDb) {
    use spoke_batches::db::{Database, push_where};
    use spoke_batches::filter::{AssignmentScope, ContactFilter, RequestScope, StatusFilter};
    use spoke_batches::model::MessageStatus;
    use sqlx::{QueryBuilder, Row};
    seed(db).await;
    // A texter who has texted 2,000 contacts (they stay assigned) and has one reply waiting.
    Contacts::new(2000)
        .held_by(MINE)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(1)
        .held_by(MINE)
        .status(MessageStatus::NeedsResponse)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(500).add_to_campaign(db, CAMPAIGN).await;
    db.exec("ANALYZE").await;
    let replies = ContactFilter {
        status: StatusFilter::OneOf([MessageStatus::NeedsResponse].into()),
        assignment: AssignmentScope::ThisAssignment,
        ..ContactFilter::available()
    };
    let scope = RequestScope {
        campaign_id: CAMPAIGN,
        assignment_id: MINE,
        offsets: Default::default(),
    };
    let plan = match &db.db {
        Database::Postgres(pool) => {
            let mut query = QueryBuilder::new("EXPLAIN SELECT id FROM campaign_contact");
            push_where(&mut query, &replies, &scope);
            let lines: Vec<String> = query.build_query_scalar().fetch_all(pool).await.unwrap();
            lines.join("\n")
        }
        Database::Sqlite(pool) => {
            let mut query = QueryBuilder::new("EXPLAIN QUERY PLAN SELECT id FROM campaign_contact");
            push_where(&mut query, &replies, &scope);
            let rows = query.build().fetch_all(pool).await.unwrap();
            rows.iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    // SQLite's planner sees two equally long equality matches and keeps Spoke's
    // (campaign_id, assignment_id) index; PostgreSQL weighs the statistics.
    let expected = match &db.db {
        Database::Postgres(_) => "campaign_contact_assignment_status_index",
        Database::Sqlite(_) => "USING INDEX",
    };
    assert!(plan.contains(expected), "the plan of 'replies waiting':\n{plan}");
    // And the strategy's answer is right: a reply is waiting, so no new batch.
    assert!(!ask(&db.engine(&[]).await, MINE).await.found);
}

/// The claim the engine runs, with EXPLAIN in front: the plan's lines.
async fn claim_plan(db: &TestDb) -> String {
    use spoke_batches::db::{Database, push_claim};
    use spoke_batches::filter::{ContactFilter, RequestScope};
    use sqlx::{QueryBuilder, Row};
    let scope = RequestScope {
        campaign_id: CAMPAIGN,
        assignment_id: MINE,
        offsets: Default::default(),
    };
    match &db.db {
        Database::Postgres(pool) => {
            let mut query = QueryBuilder::new("EXPLAIN ");
            push_claim(&mut query, &ContactFilter::available(), &scope, 10, now());
            let lines: Vec<String> = query.build_query_scalar().fetch_all(pool).await.unwrap();
            lines.join("\n")
        }
        Database::Sqlite(pool) => {
            let mut query = QueryBuilder::new("EXPLAIN QUERY PLAN ");
            push_claim(&mut query, &ContactFilter::available(), &scope, 10, now());
            let rows = query.build().fetch_all(pool).await.unwrap();
            rows.iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}
