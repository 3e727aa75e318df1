//! Operations run within a time limit (`Engine::within`, what the service's request timeout
//! uses): `TIMEOUT` means nothing was changed, and a change that was made is always told.

use std::time::Duration;

use spoke_batches::db::Database;
use spoke_batches::engine::{Caller, Engine, EngineError};

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{CAMPAIGN, MINE, TEXTER, held, now, request, seed, set_campaign};
use crate::on_both_databases;

on_both_databases!(
    a_timeout_never_hides_a_change_that_was_made,
    an_operation_still_reading_when_time_runs_out_changes_nothing,
);

/// Limits from "before the first statement" to "after the commit" of a debug build's request.
const LIMITS_MS: [u64; 9] = [0, 1, 2, 3, 4, 6, 8, 12, 20];

/// Rounds of [`LIMITS_MS`] at most; the sweep stops once both kinds of answer were seen often
/// enough (which limit runs out where depends on the machine).
const ROUNDS: usize = 12;

/// Turns outbound unassign on for CAMPAIGN.
async fn outbound_unassign(db: &TestDb) {
    set_campaign(
        db,
        r#"features = '{"TEXTER_UI_SETTINGS":"{\"takeConversationsOutboundUnassign\":true}"}'"#,
    )
    .await;
}

/// Batch requests, releases, outbound unassigns and joins under limits that run out anywhere
/// from before the first statement to after the commit: each answer is either `TIMEOUT` with
/// the database as it was, or the operation's own answer with the database changed by exactly
/// that.
async fn a_timeout_never_hides_a_change_that_was_made(db: &TestDb) {
    seed(db).await;
    outbound_unassign(db).await;
    Contacts::new(1_000).add_to_campaign(db, CAMPAIGN).await;
    db.add_users(5000, (LIMITS_MS.len() * ROUNDS) as i64).await;
    let engine = db.engine(&[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    let (mut timeouts, mut answers) = (0, 0);
    let mut next_user = 5000;
    for round in 0..ROUNDS {
        if round >= 2 && timeouts >= 3 && answers >= 3 {
            break;
        }
        for limit in LIMITS_MS.map(Duration::from_millis) {
            let before = held(db, MINE).await;
            let asked = engine
                .within(limit, |engine| async move {
                    engine.request_batch(request(MINE, Caller::User(TEXTER))).await
                })
                .await;
            let after = held(db, MINE).await;
            match asked {
                Ok(outcome) => {
                    answers += 1;
                    assert_eq!(after - before, outcome.assigned as i64, "{limit:?}")
                }
                Err(EngineError::Timeout { .. }) => {
                    timeouts += 1;
                    assert_eq!(
                        after, before,
                        "TIMEOUT after assigning ({limit:?}, round {round})"
                    );
                }
                Err(other) => panic!("{limit:?}: {other}"),
            }

            let contact = db
                .int("SELECT COALESCE(MIN(id), 0) FROM campaign_contact WHERE assignment_id = 100")
                .await;
            if contact > 0 {
                let sent = engine
                    .within(
                        limit,
                        move |engine| async move { engine.message_sent(contact).await },
                    )
                    .await;
                let still_held = db
                    .int(&format!(
                        "SELECT COUNT(*) FROM campaign_contact WHERE id = {contact} AND assignment_id = 100"
                    ))
                    .await;
                match sent {
                    Ok(unassigned) => assert_eq!(unassigned, still_held == 0, "{limit:?}"),
                    Err(EngineError::Timeout { .. }) => {
                        assert_eq!(still_held, 1, "TIMEOUT after unassigning ({limit:?})")
                    }
                    Err(other) => panic!("{limit:?}: {other}"),
                }
            }

            let before = held(db, MINE).await;
            let released = engine
                .within(limit, |engine| async move {
                    engine.release(MINE, Caller::User(TEXTER), false).await
                })
                .await;
            let after = held(db, MINE).await;
            match released {
                Ok(count) => assert_eq!(before - after, count as i64, "{limit:?}"),
                Err(EngineError::Timeout { .. }) => {
                    assert_eq!(after, before, "TIMEOUT after releasing ({limit:?})")
                }
                Err(other) => panic!("{limit:?}: {other}"),
            }

            let user_id = next_user;
            next_user += 1;
            let joined = engine
                .within(limit, move |engine| async move {
                    engine.join(CAMPAIGN, user_id, "tok", now()).await
                })
                .await;
            let assignments = db
                .int(&format!(
                    "SELECT COUNT(*) FROM assignment WHERE user_id = {user_id}"
                ))
                .await;
            let memberships = db
                .int(&format!(
                    "SELECT COUNT(*) FROM user_organization WHERE user_id = {user_id}"
                ))
                .await;
            match joined {
                Ok(outcome) => assert_eq!((outcome.created, assignments, memberships), (true, 1, 1)),
                Err(EngineError::Timeout { .. }) => {
                    assert_eq!(
                        (assignments, memberships),
                        (0, 0),
                        "TIMEOUT after joining ({limit:?})"
                    )
                }
                Err(other) => panic!("{limit:?}: {other}"),
            }
        }
    }
    assert!(
        timeouts > 0 && answers > 0,
        "the sweep saw {timeouts} batch requests time out and {answers} answer"
    );
}

/// Another transaction holds what the operation needs first (PostgreSQL: the assignment's
/// row; SQLite: the write lock), so time runs out before it reads: `TIMEOUT`, and once the
/// holder lets go the abandoned operation still writes nothing.
async fn an_operation_still_reading_when_time_runs_out_changes_nothing(db: &TestDb) {
    seed(db).await;
    Contacts::new(20).add_to_campaign(db, CAMPAIGN).await;
    let engine = db.engine(&[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    let limit = Duration::from_millis(50);
    async fn ask(
        engine: &Engine,
        limit: Duration,
    ) -> Result<spoke_batches::engine::BatchOutcome, EngineError> {
        engine
            .within(limit, |engine| async move {
                engine.request_batch(request(MINE, Caller::User(TEXTER))).await
            })
            .await
    }
    match &db.db {
        Database::Postgres(pool) => {
            let mut holder = pool.begin().await.unwrap();
            sqlx::query("SELECT id FROM assignment WHERE id = 100 FOR UPDATE")
                .execute(&mut *holder)
                .await
                .unwrap();
            let answer = ask(&engine, limit).await;
            assert!(matches!(answer, Err(EngineError::Timeout { .. })), "{answer:?}");
            holder.rollback().await.unwrap();
        }
        Database::Sqlite(pool) => {
            let holder = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let answer = ask(&engine, limit).await;
            assert!(matches!(answer, Err(EngineError::Timeout { .. })), "{answer:?}");
            holder.rollback().await.unwrap();
        }
    }
    // The abandoned request had its turn by now; the next one gets the first batch.
    let outcome = ask(&engine, limit).await.expect("in time");
    assert_eq!(outcome.assigned, 10);
    assert_eq!(held(db, MINE).await, 10);
}

/// The PostgreSQL triggers that make every write of `campaign_contact` and `assignment` wait
/// while the test holds advisory lock [`HOLD`].
const HOLD_WRITES: &str = r#"
    CREATE FUNCTION hold_writes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_advisory_xact_lock_shared(73556081); RETURN NULL; END $$;
    CREATE TRIGGER hold_contact_writes BEFORE UPDATE ON campaign_contact
      FOR EACH STATEMENT EXECUTE FUNCTION hold_writes();
    CREATE TRIGGER hold_assignment_writes BEFORE INSERT ON assignment
      FOR EACH STATEMENT EXECUTE FUNCTION hold_writes();
"#;

/// The advisory lock the triggers wait for.
const HOLD: i64 = 73556081;

/// Runs `operation` within a limit its reads keep to easily while every write waits; once the
/// write is waiting and the limit is long past, lets the write go, and returns the
/// operation's answer.
async fn answer_of_a_write_held_past_its_limit<T, F>(
    db: &TestDb,
    engine: &Engine,
    operation: impl FnOnce(Engine) -> F + Send + 'static,
) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, EngineError>> + Send + 'static,
{
    let Database::Postgres(pool) = &db.db else {
        unreachable!("PostgreSQL only");
    };
    let limit = Duration::from_millis(300);
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(HOLD)
        .execute(&mut *holder)
        .await
        .unwrap();
    let engine = engine.clone();
    let started = tokio::time::Instant::now();
    let answering = tokio::spawn(async move { engine.within(limit, operation).await });
    let waiting = format!(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {HOLD} AND NOT granted"
    );
    let mut polls = 0;
    while db.int(&waiting).await == 0 {
        polls += 1;
        if answering.is_finished() {
            panic!(
                "answered before its write was held: {:?}",
                answering
                    .await
                    .map(|answer| answer.err().map(|error| error.to_string()))
            );
        }
        assert!(polls < 1_000, "the write never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep_until(started + limit * 2).await;
    assert!(!answering.is_finished(), "the caller waits for a write under way");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(HOLD)
        .execute(&mut *holder)
        .await
        .unwrap();
    answering.await.expect("caller task")
}

/// PostgreSQL only (its triggers can wait): each write is held until long after the time
/// limit ran out, and each operation still answers what it did.
#[tokio::test]
async fn a_write_under_way_when_time_runs_out_is_answered_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    seed(&db).await;
    outbound_unassign(&db).await;
    Contacts::new(20).add_to_campaign(&db, CAMPAIGN).await;
    db.add_users(6000, 1).await;
    let engine = db.engine(&[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    // Connections and the strategy warm, so every operation reads well within its limit.
    let (rehearsal, _) = engine
        .explain_batch(request(MINE, Caller::User(TEXTER)), None)
        .await
        .unwrap();
    assert_eq!(rehearsal.assigned, 10, "rolled back");
    db.exec(HOLD_WRITES).await;

    let outcome = answer_of_a_write_held_past_its_limit(&db, &engine, |engine| async move {
        engine.request_batch(request(MINE, Caller::User(TEXTER))).await
    })
    .await
    .expect("the batch's answer");
    assert_eq!((outcome.found, outcome.assigned), (true, 10));
    assert_eq!(held(&db, MINE).await, 10);

    let contact = db
        .int("SELECT MIN(id) FROM campaign_contact WHERE assignment_id = 100")
        .await;
    let unassigned = answer_of_a_write_held_past_its_limit(&db, &engine, move |engine| async move {
        engine.message_sent(contact).await
    })
    .await
    .expect("the outbound unassign's answer");
    assert!(unassigned);
    assert_eq!(held(&db, MINE).await, 9);

    let released = answer_of_a_write_held_past_its_limit(&db, &engine, |engine| async move {
        engine.release(MINE, Caller::User(TEXTER), false).await
    })
    .await
    .expect("the release's answer");
    assert_eq!(released, 9);
    assert_eq!(held(&db, MINE).await, 0);

    let joined = answer_of_a_write_held_past_its_limit(&db, &engine, |engine| async move {
        engine.join(CAMPAIGN, 6000, "tok", now()).await
    })
    .await
    .expect("the join's answer");
    assert!(joined.created);
    assert_eq!(
        db.int("SELECT COUNT(*) FROM assignment WHERE user_id = 6000")
            .await,
        1
    );
    db.cleanup().await;
}
