//! The shipped strategies deciding inside the engine's transaction: their rules, a strategy
//! that fails, the questions asked ahead, and an organization's own sandbox limits.

use spoke_batches::engine::Caller;

use spoke_batches::model::MessageStatus;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{
    ADMIN, CAMPAIGN, MINE, TEXTER, VETTED, VETTED_ASSIGNMENT, ask, held, now, request, seed, set_campaign,
};
use crate::on_both_databases;

on_both_databases!(
    vetted_texters_gives_one_batch_to_a_texter_who_is_not_vetted,
    finished_replies_tz_waits_for_replies_and_keeps_to_texting_hours,
    vetted_takeconversations_takes_unassigned_conversations,
    a_strategy_that_traps_after_counting_changes_nothing,
    a_strategys_usual_questions_are_answered_ahead_and_fresh,
    an_organization_can_override_the_sandbox_limits,
);

async fn vetted_texters_gives_one_batch_to_a_texter_who_is_not_vetted(db: &TestDb) {
    seed(db).await;
    Contacts::new(60).add_to_campaign(db, CAMPAIGN).await;
    let engine = db
        .engine(&[("DYNAMICASSIGNMENT_BATCHES", "vetted-texters")])
        .await;
    assert!(ask(&engine, MINE).await.found, "a first batch");
    assert!(!ask(&engine, MINE).await.found, "no second batch for a texter");
    let vetted = request(VETTED_ASSIGNMENT, Caller::User(VETTED));
    assert!(engine.request_batch(vetted.clone()).await.unwrap().found);
    assert!(
        engine.request_batch(vetted).await.unwrap().found,
        "a vetted texter may go on"
    );
    // The role of the assignment's owner counts, not the caller's.
    assert!(
        !engine
            .request_batch(request(MINE, Caller::User(ADMIN)))
            .await
            .unwrap()
            .found
    );
}

async fn finished_replies_tz_waits_for_replies_and_keeps_to_texting_hours(db: &TestDb) {
    seed(db).await;
    db.exec("UPDATE organization SET texting_hours_enforced = TRUE, texting_hours_start = 9, texting_hours_end = 21")
        .await;
    // 10:00 in -5, 07:00 in -8: only -5 is within texting hours.
    Contacts::new(4)
        .in_zone("-5_1")
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(6)
        .in_zone("-8_1")
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(1)
        .held_by(MINE)
        .status(MessageStatus::NeedsResponse)
        .in_zone("-5_1")
        .add_to_campaign(db, CAMPAIGN)
        .await;
    let engine = db.engine(&[]).await;
    assert!(
        !ask(&engine, MINE).await.found,
        "a reply waits in a valid timezone"
    );
    db.exec("UPDATE campaign_contact SET timezone_offset = '-8_1' WHERE assignment_id = 100")
        .await;
    let outcome = ask(&engine, MINE).await;
    assert_eq!(
        outcome.assigned, 4,
        "the waiting reply is outside texting hours; only -5 contacts"
    );
    assert_eq!(
        db.int(
            "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = 100 AND timezone_offset = '-5_1'"
        )
        .await,
        4
    );
    assert!(
        !ask(&engine, MINE).await.found,
        "the -8 contacts wait for their morning"
    );
}

async fn vetted_takeconversations_takes_unassigned_conversations(db: &TestDb) {
    seed(db).await;
    set_campaign(
        db,
        r#"features = '{"DYNAMICASSIGNMENT_BATCHES":"finished-replies-tz,vetted-takeconversations"}'"#,
    )
    .await;
    Contacts::new(3)
        .status(MessageStatus::NeedsResponse)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(20).add_to_campaign(db, CAMPAIGN).await;
    let engine = db.engine(&[]).await;
    let mut take = request(VETTED_ASSIGNMENT, Caller::User(VETTED));
    take.batch_type = Some("vetted-takeconversations".to_string());
    let outcome = engine.request_batch(take.clone()).await.unwrap();
    assert_eq!(
        (outcome.assigned, outcome.strategy.as_deref()),
        (3, Some("vetted-takeconversations"))
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = 101 AND message_status = 'needsResponse'").await,
        3
    );
    take.assignment_id = MINE;
    take.caller = Caller::User(TEXTER);
    assert!(!engine.request_batch(take).await.unwrap().found, "not vetted");
}

async fn a_strategy_that_traps_after_counting_changes_nothing(db: &TestDb) {
    seed(db).await;
    set_campaign(
        db,
        r#"title = 'select-panic', features = '{"DYNAMICASSIGNMENT_BATCHES":"hostile"}'"#,
    )
    .await;
    Contacts::new(20).add_to_campaign(db, CAMPAIGN).await;
    let engine = db.engine(&[]).await;
    let before = db
        .int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NULL")
        .await;
    let error = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "STRATEGY_FAILED");
    assert!(
        error.to_string().starts_with("strategy `hostile` (version "),
        "{error}"
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id IS NULL")
            .await,
        before
    );
    // The host goes on serving.
    set_campaign(db, "title = 'ok'").await;
    assert_eq!(ask(&engine, MINE).await.assigned, 10);
}

/// The engine asks a strategy's questions of last time before it runs, in one statement; the
/// answers are read then, never kept from an earlier request.
async fn a_strategys_usual_questions_are_answered_ahead_and_fresh(db: &TestDb) {
    use spoke_batches::sandbox::HostCall;
    seed(db).await;
    Contacts::new(30).add_to_campaign(db, CAMPAIGN).await;
    let engine = db
        .engine(&[("DYNAMICASSIGNMENT_BATCHES", "vetted-texters")])
        .await;
    let explain = || async {
        engine
            .explain_batch(request(MINE, Caller::User(TEXTER)), None)
            .await
            .unwrap()
            .1
    };
    let first = explain().await;
    assert_eq!(first.answered_ahead, 0, "nothing is known of the strategy yet");
    assert_eq!(first.host_calls.len(), 3, "{:?}", first.host_calls);
    let second = explain().await;
    assert_eq!(second.answered_ahead, 3);
    assert_eq!(second.host_calls, first.host_calls, "the same answers");
    // Each question's own record: asked of the database the first time, answered ahead the
    // second, each with how long its answer took.
    let ahead = |trace: &spoke_batches::engine::Trace| {
        trace
            .host_call_times
            .iter()
            .map(|time| time.ahead)
            .collect::<Vec<_>>()
    };
    assert_eq!(ahead(&first), [false, false, false]);
    assert_eq!(ahead(&second), [true, true, true]);
    assert!(
        first
            .host_call_times
            .iter()
            .chain(&second.host_call_times)
            .all(|time| time.micros.is_some()),
        "{:?}",
        first.host_call_times
    );

    // The texter becomes vetted: the role asked ahead is read again, and the question the
    // strategy no longer asks is not remembered.
    db.exec("INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'VETTED_TEXTER')")
        .await;
    let vetted = explain().await;
    assert!(
        matches!(
            vetted.host_calls[..],
            [
                HostCall::AssignmentUserHasRole { answer: true, .. },
                HostCall::CountContacts { answer: 10, .. }
            ]
        ),
        "{:?}",
        vetted.host_calls
    );
    assert_eq!(vetted.answered_ahead, 2);
    assert_eq!(vetted.host_call_times.len(), vetted.host_calls.len());

    // Contacts taken by another texter change the count asked ahead.
    db.exec("UPDATE campaign_contact SET assignment_id = 102 WHERE id IN (SELECT id FROM campaign_contact ORDER BY id LIMIT 25)")
        .await;
    let fewer = explain().await;
    assert!(
        matches!(fewer.host_calls[1], HostCall::CountContacts { answer: 5, .. }),
        "{:?}",
        fewer.host_calls
    );
    assert_eq!(fewer.answered_ahead, 2);
    assert_eq!(fewer.contact_ids.len(), 5);

    // The request button asks its own questions ("any at all", answered 1), remembered apart.
    let button = || engine.has_unassigned(MINE, Caller::User(TEXTER), now());
    assert_eq!(button().await.unwrap(), 1);
    assert_eq!(button().await.unwrap(), 1);
    db.exec("UPDATE campaign_contact SET assignment_id = 102 WHERE assignment_id IS NULL")
        .await;
    assert_eq!(button().await.unwrap(), 0, "read again, not remembered");
    assert!(!ask(&engine, MINE).await.found);
}

async fn an_organization_can_override_the_sandbox_limits(db: &TestDb) {
    seed(db).await;
    Contacts::new(20).add_to_campaign(db, CAMPAIGN).await;
    set_campaign(
        db,
        r#"title = 'loop', features = '{"DYNAMICASSIGNMENT_BATCHES":"hostile"}'"#,
    )
    .await;
    db.exec(r#"UPDATE organization SET features = '{"SPOKE_BATCHES_FUEL_PER_CALL": 1000000}' WHERE id = 1"#)
        .await;
    let engine = db.engine(&[]).await;
    let error = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ran out of fuel (limit: 1000000 units per call)"),
        "{error}"
    );
    set_campaign(db, "title = 'host-call-flood'").await;
    db.exec(
        r#"UPDATE organization SET features = '{"SPOKE_BATCHES_HOST_CALLS_PER_CALL": "5"}' WHERE id = 1"#,
    )
    .await;
    let error = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("made more than 5 host calls"),
        "{error}"
    );
    db.exec(r#"UPDATE organization SET features = '{"SPOKE_BATCHES_DEADLINE_MS": "soon"}' WHERE id = 1"#)
        .await;
    let error = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "BAD_CONFIG");
    assert!(
        error.to_string().contains("SPOKE_BATCHES_DEADLINE_MS is `soon`"),
        "{error}"
    );
    assert_eq!(held(db, MINE).await, 0);
}
