//! Property test of the descriptor-to-SQL compiler: for random filters and random contact
//! tables, the SQL answers (count with cap, any, claim) equal the plain in-memory evaluation
//! of the same descriptor, on SQLite and on PostgreSQL. A claim takes only the matching contacts
//! that are unassigned and not opted out, whatever the filter says.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use spoke_batches::db::{Database, Dialect, Queries};
use spoke_batches::filter::{
    AssignmentScope, ContactFilter, RequestScope, StatusFilter, TimezoneOffsets, TimezoneScope,
};
use spoke_batches::model::{CampaignContact, MessageStatus};
use spoke_batches::question::{Answer, Question, QuestionScope};
use spoke_batches::source::{ContactSource, MemorySource};
use support::db::TestDb;

const OFFSETS: [&str; 5] = ["", "-5_1", "-8_1", "-3_0", "5.5_0"];
const CAMPAIGN: i64 = 10;
const ASSIGNMENT: i64 = 100;

fn status() -> impl Strategy<Value = MessageStatus> {
    prop::sample::select(MessageStatus::ALL.to_vec())
}

fn filter() -> impl Strategy<Value = ContactFilter> {
    let statuses = || prop::collection::btree_set(status(), 0..4);
    let status_filter = prop_oneof![
        Just(StatusFilter::Any),
        statuses().prop_map(StatusFilter::OneOf),
        statuses().prop_map(StatusFilter::NoneOf),
    ];
    let assignment = prop::sample::select(vec![
        AssignmentScope::Any,
        AssignmentScope::Unassigned,
        AssignmentScope::ThisAssignment,
    ]);
    let timezone = prop::sample::select(vec![
        TimezoneScope::Any,
        TimezoneScope::ValidNow,
        TimezoneScope::InvalidNow,
    ]);
    (
        status_filter,
        assignment,
        prop::option::of(any::<bool>()),
        timezone,
    )
        .prop_map(|(status, assignment, opted_out, timezone)| ContactFilter {
            status,
            assignment,
            opted_out,
            timezone,
        })
}

fn contacts() -> impl Strategy<Value = Vec<CampaignContact>> {
    let row = (
        prop::sample::select(vec![CAMPAIGN, CAMPAIGN + 1]),
        prop::sample::select(vec![None, Some(ASSIGNMENT), Some(ASSIGNMENT + 1)]),
        status(),
        any::<bool>(),
        prop::sample::select(OFFSETS.to_vec()),
    );
    prop::collection::vec(row, 0..40).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(
                |(index, (campaign_id, assignment_id, message_status, is_opted_out, offset))| {
                    CampaignContact {
                        id: index as i64 + 1,
                        campaign_id,
                        assignment_id,
                        message_status,
                        is_opted_out,
                        timezone_offset: offset.to_string(),
                    }
                },
            )
            .collect()
    })
}

/// Each offset is valid, invalid or neither.
fn offsets() -> impl Strategy<Value = TimezoneOffsets> {
    prop::collection::vec(0..3u8, OFFSETS.len()).prop_map(|kinds| {
        let mut offsets = TimezoneOffsets::default();
        for (offset, kind) in OFFSETS.iter().zip(kinds) {
            match kind {
                0 => offsets.valid.insert(offset.to_string()),
                1 => offsets.invalid.insert(offset.to_string()),
                _ => false,
            };
        }
        offsets
    })
}

fn case() -> impl Strategy<
    Value = (
        ContactFilter,
        Vec<CampaignContact>,
        TimezoneOffsets,
        Option<u32>,
        u32,
    ),
> {
    (
        filter(),
        contacts(),
        offsets(),
        prop::option::of(0..50u32),
        1..50u32,
    )
}

async fn load(db: &TestDb, rows: &[CampaignContact]) {
    db.exec("DELETE FROM campaign_contact").await;
    if rows.is_empty() {
        return;
    }
    let values: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "({}, {}, {}, '+1555{:07}', '{}', {}, '{}')",
                row.id,
                row.campaign_id,
                row.assignment_id.map_or("NULL".to_string(), |id| id.to_string()),
                row.id,
                row.message_status,
                row.is_opted_out,
                row.timezone_offset
            )
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO campaign_contact (id, campaign_id, assignment_id, cell, message_status, is_opted_out, \
         timezone_offset) VALUES {}",
        values.join(", ")
    ))
    .await;
}

/// The SQL answers for one case: (count, any, ids claimed, contacts the assignment held).
async fn sql_answers<T: Queries>(
    mut tx: T,
    filter: &ContactFilter,
    scope: &RequestScope,
    cap: Option<u32>,
    limit: u32,
) -> (u32, bool, Vec<i64>, i64) {
    let questions = [
        Question::Count {
            filter: filter.clone(),
            cap,
        },
        Question::Any {
            filter: filter.clone(),
        },
    ];
    let question_scope = QuestionScope {
        request: scope.clone(),
        user_id: 5,
        organization_id: 1,
    };
    // Each question asked alone, as a strategy's question not asked ahead is.
    let mut alone = Vec::new();
    for question in &questions {
        alone.extend(
            tx.answers(std::slice::from_ref(question), &question_scope)
                .await
                .expect("a question alone"),
        );
    }
    let [Answer::Count(count), Answer::Flag(any)] = alone[..] else {
        panic!("answers of the wrong kind: {alone:?}");
    };
    // The same questions asked ahead, in one statement, get the same answers.
    let (held, answers) = tx
        .held_count_with(&questions, &question_scope, false)
        .await
        .expect("questions ahead");
    assert_eq!(answers, [Answer::Count(count), Answer::Flag(any)], "{filter:?}");
    // The holdings table's count is the count.
    let kept = tx
        .held_count_with(&questions, &question_scope, true)
        .await
        .expect("questions ahead, the count kept");
    assert_eq!(kept, (held, answers), "{filter:?}");
    let now = "2026-03-02T15:00:00Z".parse().expect("a valid time");
    let claimed = tx.claim(filter, scope, limit, now).await.expect("claim");
    tx.commit().await.expect("commit");
    (count, any, claimed, held)
}

async fn check(
    db: &TestDb,
    (filter, rows, offsets, cap, limit): (
        ContactFilter,
        Vec<CampaignContact>,
        TimezoneOffsets,
        Option<u32>,
        u32,
    ),
) -> Result<(), TestCaseError> {
    load(db, &rows).await;
    let scope = RequestScope {
        campaign_id: CAMPAIGN,
        assignment_id: ASSIGNMENT,
        offsets: offsets.into(),
    };
    let mut memory = MemorySource {
        scope: scope.clone(),
        contacts: Arc::new(rows.clone()),
        assignment_user_role: None,
    };
    let expected_count = memory.count_contacts(&filter, cap).await.expect("memory count");
    let expected_any = memory.any_contact(&filter).await.expect("memory any");
    let claimable = filter.claimable();
    let matching: BTreeSet<i64> = rows
        .iter()
        .filter(|row| claimable.matches(row, &scope))
        .map(|row| row.id)
        .collect();
    prop_assert!(
        rows.iter()
            .all(|row| !matching.contains(&row.id) || (row.assignment_id.is_none() && !row.is_opted_out)),
        "a claim's filter took a held or opted-out contact"
    );

    let (count, any, claimed, held) = match &db.db {
        Database::Postgres(pool) => {
            let tx = <sqlx::Postgres as Dialect>::begin_write(pool)
                .await
                .expect("begin");
            sql_answers(tx, &filter, &scope, cap, limit).await
        }
        Database::Sqlite(pool) => {
            let tx = <sqlx::Sqlite as Dialect>::begin_write(pool).await.expect("begin");
            sql_answers(tx, &filter, &scope, cap, limit).await
        }
    };
    prop_assert_eq!(count, expected_count, "count of {:?}", filter);
    // Spoke counts an assignment's contacts in every campaign.
    let expected_held = rows
        .iter()
        .filter(|row| row.assignment_id == Some(ASSIGNMENT))
        .count();
    prop_assert_eq!(held, expected_held as i64);
    prop_assert_eq!(any, expected_any, "any of {:?}", filter);
    prop_assert_eq!(
        claimed.len(),
        matching.len().min(limit as usize),
        "claimed by {:?}",
        filter
    );
    for id in &claimed {
        prop_assert!(
            matching.contains(id),
            "claimed contact {} did not match {:?} (unassigned, not opted out)",
            id,
            filter
        );
    }
    // Exactly the claimed rows changed hands, and each one matched the filter.
    let after = db.assignments().await;
    for ((id, assignment), before) in after.iter().zip(&rows) {
        if *assignment != before.assignment_id {
            prop_assert!(
                matching.contains(id),
                "contact {} changed but did not match {:?}",
                id,
                filter
            );
            prop_assert_eq!(*assignment, Some(ASSIGNMENT));
        }
    }
    Ok(())
}

/// The rows the contacts refer to (PostgreSQL enforces the foreign keys).
async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name) VALUES (1, 'Org');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES (5, 'a', 'T', 'T', '1', 'e');
        INSERT INTO campaign (id, organization_id, title) VALUES (10, 1, 'A'), (11, 1, 'B');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10), (101, 5, 10);
        "#,
    )
    .await;
}

fn run_property(db: Option<TestDb>, runtime: &tokio::runtime::Runtime) {
    let Some(db) = db else { return };
    runtime.block_on(seed(&db));
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |case| runtime.block_on(check(&db, case)));
    runtime.block_on(db.cleanup());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn sql_equals_the_in_memory_meaning_on_sqlite() {
    let runtime = runtime();
    let db = runtime.block_on(TestDb::sqlite());
    run_property(Some(db), &runtime);
}

#[test]
fn sql_equals_the_in_memory_meaning_on_postgres() {
    let runtime = runtime();
    let db = runtime.block_on(TestDb::postgres());
    run_property(db, &runtime);
}
