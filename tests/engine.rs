//! Spoke's dynamic-assignment operations through the engine, on SQLite and (with
//! `TEST_DATABASE_URL`) PostgreSQL, with the real strategy components.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

#[path = "engine/concurrency.rs"]
mod concurrency;
#[path = "engine/confinement.rs"]
mod confinement;
#[path = "engine/timeouts.rs"]
mod timeouts;

use chrono::{DateTime, TimeZone, Utc};
use spoke_batches::engine::{BatchOutcome, BatchRequest, Caller, Engine, EngineError};
use support::db::TestDb;

/// 2026-03-02T15:00:00Z: 10:00 in US/Eastern (no DST yet), 07:00 in US/Pacific.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0)
        .single()
        .expect("valid time")
}

const TEXTER: i64 = 5;
const ADMIN: i64 = 6;
const VETTED: i64 = 7;
const SUSPENDED: i64 = 8;
const OTHER_TEXTER: i64 = 9;
const SUPERADMIN: i64 = 11;
const NEWCOMER: i64 = 12;
const CAMPAIGN: i64 = 10;
/// The assignments of TEXTER, VETTED, OTHER_TEXTER and SUSPENDED in CAMPAIGN.
const MINE: i64 = 100;
const VETTED_ASSIGNMENT: i64 = 101;
const OTHERS: i64 = 102;
const SUSPENDED_ASSIGNMENT: i64 = 103;

/// An organization, its users, a started dynamic campaign with batch size 10 and join token
/// `tok`, and four assignments; no contacts yet.
async fn seed(db: &TestDb) {
    db.exec(
        r#"
        INSERT INTO organization (id, name, features) VALUES (1, 'Org', '');
        INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email, is_superadmin) VALUES
          (5, 'a5', 'Tex', 'Ter', '+15550005', 't5@example.org', FALSE),
          (6, 'a6', 'Ad', 'Min', '+15550006', 't6@example.org', FALSE),
          (7, 'a7', 'Vet', 'Ted', '+15550007', 't7@example.org', FALSE),
          (8, 'a8', 'Sus', 'Pended', '+15550008', 't8@example.org', FALSE),
          (9, 'a9', 'Oth', 'Er', '+15550009', 't9@example.org', FALSE),
          (11, 'a11', 'Super', 'Admin', '+15550011', 't11@example.org', TRUE),
          (12, 'a12', 'New', 'Comer', '+15550012', 't12@example.org', FALSE);
        INSERT INTO user_organization (user_id, organization_id, role) VALUES
          (5, 1, 'TEXTER'), (6, 1, 'ADMIN'), (7, 1, 'VETTED_TEXTER'), (8, 1, 'SUSPENDED'), (9, 1, 'TEXTER');
        INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment,
                              batch_size, join_token)
          VALUES (10, 1, 'Campaign', TRUE, FALSE, TRUE, 10, 'tok');
        INSERT INTO assignment (id, user_id, campaign_id) VALUES (100, 5, 10), (101, 7, 10), (102, 9, 10), (103, 8, 10);
        "#,
    )
    .await;
}

/// The `updated_at` of seeded contacts.
const OLD: &str = "2020-01-01 00:00:00";

/// Adds `count` contacts to CAMPAIGN.
async fn contacts(
    db: &TestDb,
    count: usize,
    assignment: Option<i64>,
    status: &str,
    opted_out: bool,
    offset: &str,
) {
    let assignment = assignment.map_or("NULL".to_string(), |id| id.to_string());
    let rows: Vec<String> = (0..count)
        .map(|i| format!("(10, '+1555{i:07}', '{status}', {assignment}, {opted_out}, '{offset}', '{OLD}')"))
        .collect();
    db.exec(&format!(
        "INSERT INTO campaign_contact (campaign_id, cell, message_status, assignment_id, is_opted_out, timezone_offset, \
         updated_at) VALUES {}",
        rows.join(", ")
    ))
    .await;
}

fn request(assignment_id: i64, caller: Caller) -> BatchRequest {
    BatchRequest {
        assignment_id,
        caller,
        number_contacts: None,
        batch_type: None,
        now: now(),
    }
}

async fn ask(engine: &Engine, assignment_id: i64) -> BatchOutcome {
    engine
        .request_batch(request(assignment_id, Caller::User(TEXTER)))
        .await
        .expect("request succeeds")
}

async fn held(db: &TestDb, assignment_id: i64) -> i64 {
    db.int(&format!(
        "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = {assignment_id}"
    ))
    .await
}

async fn set_campaign(db: &TestDb, assignments: &str) {
    db.exec(&format!("UPDATE campaign SET {assignments} WHERE id = 10"))
        .await;
}

on_both_databases!(
    a_null_batch_size_is_capped_by_what_the_strategy_returned,
    a_request_assigns_a_batch_of_available_contacts,
    the_texters_number_and_max_contacts_limit_the_batch,
    a_texter_above_max_contacts_gets_nothing,
    max_contacts_zero_and_archived_campaigns_get_nothing,
    unknown_ids_and_batch_types_are_clear_errors,
    only_the_texter_an_organizer_or_a_superadmin_may_act_on_an_assignment,
    vetted_texters_gives_one_batch_to_a_texter_who_is_not_vetted,
    finished_replies_tz_waits_for_replies_and_keeps_to_texting_hours,
    a_campaign_a_day_past_due_hands_out_nothing,
    the_bulk_send_sidebox_makes_texters_finish_their_batch_first,
    has_unassigned_drives_the_request_button,
    release_frees_initials_or_everything,
    joining_by_link_follows_spokes_rules,
    the_texter_limit_refuses_new_texters_but_not_existing_ones,
    outbound_unassign_frees_a_contact_after_its_first_message,
    vetted_takeconversations_takes_unassigned_conversations,
    a_strategy_that_traps_after_counting_changes_nothing,
    malformed_features_are_a_clear_configuration_error,
    the_highest_of_several_roles_wins,
    a_strategys_usual_questions_are_answered_ahead_and_fresh,
);

async fn a_request_assigns_a_batch_of_available_contacts(db: &TestDb) {
    seed(db).await;
    contacts(db, 25, None, "needsMessage", false, "-5_1").await;
    contacts(db, 5, None, "needsMessage", true, "-5_1").await;
    contacts(db, 5, None, "messaged", false, "-5_1").await;
    let engine = db.engine(&[]).await;
    let outcome = ask(&engine, MINE).await;
    assert!(outcome.found);
    assert_eq!(outcome.assigned, 10);
    assert_eq!(outcome.assignment.id, MINE);
    assert_eq!(outcome.assignment.has_unassigned_contacts_for_texter, 0);
    assert_eq!(
        outcome.strategy.as_deref(),
        Some("finished-replies-tz"),
        "Spoke's default strategy"
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = 100 AND message_status = 'needsMessage' AND is_opted_out = FALSE").await,
        10,
        "only available contacts are assigned"
    );
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM campaign_contact WHERE assignment_id = 100 AND updated_at > '{OLD}'"
        ))
        .await,
        10,
        "updated_at is set on the assigned contacts"
    );
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM campaign_contact WHERE updated_at > '{OLD}'"
        ))
        .await,
        10
    );
    // Later requests take what is left, then nothing.
    assert_eq!(ask(&engine, MINE).await.assigned, 10);
    assert_eq!(ask(&engine, MINE).await.assigned, 5);
    let empty = ask(&engine, MINE).await;
    assert!(!empty.found);
    assert_eq!(empty.assigned, 0);
    assert_eq!(held(db, MINE).await, 25);
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact").await,
        35,
        "no contact lost"
    );
}

async fn a_null_batch_size_is_capped_by_what_the_strategy_returned(db: &TestDb) {
    seed(db).await;
    set_campaign(
        db,
        r#"batch_size = NULL, features = '{"DYNAMICASSIGNMENT_BATCHES":"vetted-takeconversations"}'"#,
    )
    .await;
    contacts(db, 6, None, "needsResponse", false, "").await;
    let engine = db.engine(&[]).await;
    let mut take = request(VETTED_ASSIGNMENT, Caller::User(VETTED));
    assert_eq!(
        engine.request_batch(take.clone()).await.unwrap().assigned,
        1,
        "numberContacts || batch_size || 1"
    );
    take.number_contacts = Some(4);
    assert_eq!(engine.request_batch(take.clone()).await.unwrap().assigned, 4);
    take.number_contacts = Some(40);
    assert_eq!(
        engine.request_batch(take).await.unwrap().assigned,
        1,
        "capped by what the strategy counted"
    );
    assert_eq!(held(db, VETTED_ASSIGNMENT).await, 6);
}

async fn the_texters_number_and_max_contacts_limit_the_batch(db: &TestDb) {
    seed(db).await;
    contacts(db, 50, None, "needsMessage", false, "").await;
    let engine = db.engine(&[]).await;
    let mut small = request(MINE, Caller::User(TEXTER));
    small.number_contacts = Some(3);
    assert_eq!(engine.request_batch(small.clone()).await.unwrap().assigned, 3);
    small.number_contacts = Some(0);
    assert_eq!(
        engine.request_batch(small.clone()).await.unwrap().assigned,
        10,
        "0 means a full batch"
    );
    small.number_contacts = Some(40);
    assert_eq!(
        engine.request_batch(small).await.unwrap().assigned,
        10,
        "capped by batch_size"
    );
    db.exec("UPDATE assignment SET max_contacts = 27 WHERE id = 100")
        .await;
    assert_eq!(
        ask(&engine, MINE).await.assigned,
        4,
        "max_contacts 27 leaves 4 after 23"
    );
    assert!(!ask(&engine, MINE).await.found);
    assert_eq!(held(db, MINE).await, 27);
}

async fn a_texter_above_max_contacts_gets_nothing(db: &TestDb) {
    seed(db).await;
    contacts(db, 12, Some(MINE), "messaged", false, "").await;
    contacts(db, 30, None, "needsMessage", false, "").await;
    db.exec("UPDATE assignment SET max_contacts = 5 WHERE id = 100")
        .await;
    let engine = db.engine(&[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    let outcome = ask(&engine, MINE).await;
    assert!(
        !outcome.found,
        "Spoke computes a negative batch here; nothing is assigned"
    );
    assert_eq!(held(db, MINE).await, 12);
}

async fn max_contacts_zero_and_archived_campaigns_get_nothing(db: &TestDb) {
    seed(db).await;
    contacts(db, 30, None, "needsMessage", false, "").await;
    let engine = db.engine(&[]).await;
    db.exec("UPDATE assignment SET max_contacts = 0 WHERE id = 100")
        .await;
    assert!(!ask(&engine, MINE).await.found);
    db.exec("UPDATE assignment SET max_contacts = NULL WHERE id = 100")
        .await;
    set_campaign(db, "is_archived = TRUE").await;
    assert!(!ask(&engine, MINE).await.found);
    set_campaign(db, "is_archived = FALSE, use_dynamic_assignment = FALSE").await;
    assert!(!ask(&engine, MINE).await.found);
    set_campaign(db, "use_dynamic_assignment = TRUE, batch_size = NULL").await;
    assert!(
        !ask(&engine, MINE).await.found,
        "the strategies read a null batch size as 'off'"
    );
    assert_eq!(held(db, MINE).await, 0);
}

async fn unknown_ids_and_batch_types_are_clear_errors(db: &TestDb) {
    seed(db).await;
    let engine = db.engine(&[]).await;
    // An unknown assignment; then a caller who is no user (the assignment exists, the user
    // does not).
    for (asked, missing, id) in [
        (request(999, Caller::Operator), "assignment", 999),
        (request(MINE, Caller::User(4242)), "user", 4242),
    ] {
        let error = engine.request_batch(asked).await.unwrap_err();
        assert!(
            matches!(error, EngineError::NotFound { what, id: got } if what == missing && got == id),
            "{error}"
        );
        assert_eq!(error.code(), "NOT_FOUND");
    }
    let mut typed = request(MINE, Caller::User(TEXTER));
    typed.batch_type = Some("vetted-texters".to_string());
    let error = engine.request_batch(typed).await.unwrap_err();
    assert_eq!(error.code(), "UNKNOWN_BATCH_TYPE");
    assert_eq!(
        error.to_string(),
        "batch type `vetted-texters` is not enabled for campaign 10; enabled: finished-replies-tz"
    );
    let mut absurd = request(MINE, Caller::User(TEXTER));
    absurd.number_contacts = Some(-1);
    assert_eq!(
        engine.request_batch(absurd).await.unwrap_err().code(),
        "BAD_REQUEST"
    );
    let error = engine.release(999, Caller::Operator, false).await.unwrap_err();
    assert_eq!(error.code(), "NOT_FOUND");
    let error = engine.message_sent(424_242).await.unwrap_err();
    assert_eq!(error.to_string(), "contact 424242 does not exist");
}

async fn only_the_texter_an_organizer_or_a_superadmin_may_act_on_an_assignment(db: &TestDb) {
    seed(db).await;
    contacts(db, 60, None, "needsMessage", false, "").await;
    let engine = db.engine(&[]).await;
    let error = engine
        .request_batch(request(MINE, Caller::User(OTHER_TEXTER)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "FORBIDDEN");
    assert!(
        error.to_string().contains("user 9 may not act on assignment 100"),
        "{error}"
    );
    assert_eq!(
        engine
            .release(MINE, Caller::User(OTHER_TEXTER), true)
            .await
            .unwrap_err()
            .code(),
        "FORBIDDEN"
    );
    assert_eq!(
        engine
            .has_unassigned(MINE, Caller::User(OTHER_TEXTER), now())
            .await
            .unwrap_err()
            .code(),
        "FORBIDDEN"
    );
    let error = engine
        .request_batch(request(SUSPENDED_ASSIGNMENT, Caller::User(SUSPENDED)))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("suspended"), "{error}");
    assert_eq!(held(db, MINE).await, 0, "refused requests assign nothing");
    for caller in [
        Caller::User(TEXTER),
        Caller::User(ADMIN),
        Caller::User(SUPERADMIN),
        Caller::Operator,
    ] {
        assert!(
            engine.request_batch(request(MINE, caller)).await.unwrap().found,
            "{caller:?}"
        );
    }
}

async fn vetted_texters_gives_one_batch_to_a_texter_who_is_not_vetted(db: &TestDb) {
    seed(db).await;
    contacts(db, 60, None, "needsMessage", false, "").await;
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
    contacts(db, 4, None, "needsMessage", false, "-5_1").await;
    contacts(db, 6, None, "needsMessage", false, "-8_1").await;
    contacts(db, 1, Some(MINE), "needsResponse", false, "-5_1").await;
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

async fn a_campaign_a_day_past_due_hands_out_nothing(db: &TestDb) {
    seed(db).await;
    contacts(db, 20, None, "needsMessage", false, "-5_1").await;
    set_campaign(db, "due_by = '2026-02-28 12:00:00+00:00'").await;
    let engine = db.engine(&[]).await;
    let outcome = ask(&engine, MINE).await;
    assert!(!outcome.found, "Spoke crashes here; we answer not found");
    set_campaign(db, "due_by = '2026-03-02 00:00:00+00:00'").await;
    assert!(ask(&engine, MINE).await.found, "within a day of the due date");
}

async fn the_bulk_send_sidebox_makes_texters_finish_their_batch_first(db: &TestDb) {
    seed(db).await;
    contacts(db, 10, Some(MINE), "needsMessage", false, "").await;
    contacts(db, 30, None, "needsMessage", false, "").await;
    let sidebox = [
        ("DYNAMICASSIGNMENT_BATCHES", "all-texters"),
        ("TEXTER_SIDEBOXES", "per-campaign-bulk-send"),
    ];
    let strict = db.engine(&sidebox).await;
    assert!(
        !strict
            .request_batch(request(MINE, Caller::User(TEXTER)))
            .await
            .unwrap()
            .found
    );
    set_campaign(
        db,
        r#"features = '{"TEXTER_UI_SETTINGS":"{\"per-campaign-bulk-send\":true}"}'"#,
    )
    .await;
    assert!(
        strict
            .request_batch(request(MINE, Caller::User(TEXTER)))
            .await
            .unwrap()
            .found
    );
    set_campaign(db, "features = NULL").await;
    let default = db.engine(&[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    assert!(
        default
            .request_batch(request(MINE, Caller::User(TEXTER)))
            .await
            .unwrap()
            .found
    );
}

async fn has_unassigned_drives_the_request_button(db: &TestDb) {
    seed(db).await;
    contacts(db, 3, None, "needsMessage", false, "").await;
    let engine = db.engine(&[]).await;
    let count = |caller| engine.has_unassigned(MINE, caller, now());
    assert_eq!(
        count(Caller::User(TEXTER)).await.unwrap(),
        1,
        "has-any mode answers 1"
    );
    db.exec("UPDATE assignment SET max_contacts = 0 WHERE id = 100")
        .await;
    assert_eq!(count(Caller::User(TEXTER)).await.unwrap(), 0);
    db.exec("UPDATE assignment SET max_contacts = NULL WHERE id = 100")
        .await;
    ask(&engine, MINE).await;
    assert_eq!(count(Caller::User(TEXTER)).await.unwrap(), 0, "nothing left");
    contacts(db, 3, None, "needsMessage", false, "").await;
    set_campaign(db, "is_archived = TRUE").await;
    assert_eq!(count(Caller::Operator).await.unwrap(), 0);
}

async fn release_frees_initials_or_everything(db: &TestDb) {
    seed(db).await;
    contacts(db, 4, Some(MINE), "needsMessage", false, "").await;
    contacts(db, 2, Some(MINE), "needsMessage", true, "").await;
    contacts(db, 3, Some(MINE), "convo", false, "").await;
    contacts(db, 5, Some(OTHERS), "needsMessage", false, "").await;
    let engine = db.engine(&[]).await;
    assert_eq!(
        engine.release(MINE, Caller::User(TEXTER), false).await.unwrap(),
        6,
        "opted-out initials too"
    );
    assert_eq!(held(db, MINE).await, 3);
    assert_eq!(engine.release(MINE, Caller::User(TEXTER), true).await.unwrap(), 3);
    assert_eq!(held(db, MINE).await, 0);
    assert_eq!(held(db, OTHERS).await, 5, "another assignment is untouched");
}

async fn joining_by_link_follows_spokes_rules(db: &TestDb) {
    seed(db).await;
    let engine = db.engine(&[("MAX_CONTACTS_PER_TEXTER", "40")]).await;
    let joined = engine.join(CAMPAIGN, NEWCOMER, "tok", now()).await.unwrap();
    assert!(joined.created);
    assert_eq!(
        db.int("SELECT COUNT(*) FROM user_organization WHERE user_id = 12 AND role = 'TEXTER'")
            .await,
        1
    );
    assert_eq!(
        db.int(&format!(
            "SELECT max_contacts FROM assignment WHERE id = {}",
            joined.assignment_id
        ))
        .await,
        40
    );
    let again = engine.join(CAMPAIGN, NEWCOMER, "tok", now()).await.unwrap();
    assert_eq!(
        (again.assignment_id, again.created),
        (joined.assignment_id, false)
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM user_organization WHERE user_id = 12")
            .await,
        1
    );
    assert_eq!(
        engine
            .join(CAMPAIGN, NEWCOMER, "wrong", now())
            .await
            .unwrap_err()
            .code(),
        "INVALID_JOIN"
    );
    assert_eq!(
        engine.join(77, NEWCOMER, "tok", now()).await.unwrap_err().code(),
        "INVALID_JOIN"
    );
    assert_eq!(
        engine
            .join(CAMPAIGN, SUSPENDED, "tok", now())
            .await
            .unwrap_err()
            .code(),
        "FORBIDDEN"
    );
    set_campaign(db, "is_started = FALSE").await;
    assert_eq!(
        engine
            .join(CAMPAIGN, ADMIN, "tok", now())
            .await
            .unwrap_err()
            .code(),
        "INVALID_JOIN"
    );
    set_campaign(db, "is_started = TRUE").await;
    let admin = engine.join(CAMPAIGN, ADMIN, "tok", now()).await.unwrap();
    assert!(admin.created, "a member of the organization gets an assignment");
    assert_eq!(
        db.int("SELECT COUNT(*) FROM user_organization WHERE user_id = 6")
            .await,
        1,
        "no new membership"
    );
    let members_only = db
        .engine(&[("CAMPAIGN_INVITES_CURRENT_USERS_ONLY", "true")])
        .await;
    db.exec(r#"INSERT INTO "user" (id, auth0_id, first_name, last_name, cell, email) VALUES (13, 'a13', 'A', 'B', '1', 'x')"#)
        .await;
    assert_eq!(
        members_only
            .join(CAMPAIGN, 13, "tok", now())
            .await
            .unwrap_err()
            .code(),
        "INVALID_JOIN"
    );
}

async fn the_texter_limit_refuses_new_texters_but_not_existing_ones(db: &TestDb) {
    seed(db).await;
    // The campaign already has 4 texters.
    let engine = db.engine(&[("MAX_TEXTERS_PER_CAMPAIGN", "4")]).await;
    let error = engine.join(CAMPAIGN, NEWCOMER, "tok", now()).await.unwrap_err();
    assert_eq!(error.code(), "FAILEDJOIN_TOOMANYTEXTERS");
    assert_eq!(
        error.to_string(),
        "Sorry, this campaign has too many texters already"
    );
    let existing = engine.join(CAMPAIGN, TEXTER, "tok", now()).await.unwrap();
    assert_eq!(
        (existing.assignment_id, existing.created),
        (MINE, false),
        "Spoke refuses this; we do not"
    );
    let roomier = db.engine(&[("MAX_TEXTERS_PER_CAMPAIGN", "5")]).await;
    assert!(
        roomier
            .join(CAMPAIGN, NEWCOMER, "tok", now())
            .await
            .unwrap()
            .created
    );
    assert_eq!(
        db.int("SELECT COUNT(*) FROM assignment WHERE campaign_id = 10")
            .await,
        5
    );
}

async fn outbound_unassign_frees_a_contact_after_its_first_message(db: &TestDb) {
    seed(db).await;
    contacts(db, 1, Some(MINE), "needsMessage", false, "").await;
    contacts(db, 1, Some(MINE), "messaged", false, "").await;
    let first = db.int("SELECT MIN(id) FROM campaign_contact").await;
    let engine = db.engine(&[]).await;
    assert!(!engine.message_sent(first).await.unwrap(), "the setting is off");
    set_campaign(
        db,
        r#"features = '{"TEXTER_UI_SETTINGS":"{\"takeConversationsOutboundUnassign\":true}"}'"#,
    )
    .await;
    assert!(engine.message_sent(first).await.unwrap());
    assert_eq!(
        db.int(&format!(
            "SELECT COUNT(*) FROM campaign_contact WHERE id = {first} AND assignment_id IS NULL"
        ))
        .await,
        1
    );
    assert!(!engine.message_sent(first).await.unwrap(), "already unassigned");
    assert!(
        !engine.message_sent(first + 1).await.unwrap(),
        "only needsMessage contacts"
    );
    assert_eq!(held(db, MINE).await, 1);
}

async fn vetted_takeconversations_takes_unassigned_conversations(db: &TestDb) {
    seed(db).await;
    set_campaign(
        db,
        r#"features = '{"DYNAMICASSIGNMENT_BATCHES":"finished-replies-tz,vetted-takeconversations"}'"#,
    )
    .await;
    contacts(db, 3, None, "needsResponse", false, "").await;
    contacts(db, 20, None, "needsMessage", false, "").await;
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
    contacts(db, 20, None, "needsMessage", false, "").await;
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

async fn malformed_features_are_a_clear_configuration_error(db: &TestDb) {
    seed(db).await;
    db.exec("UPDATE organization SET features = '{not json' WHERE id = 1")
        .await;
    let engine = db.engine(&[]).await;
    let error = engine
        .request_batch(request(MINE, Caller::User(TEXTER)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "BAD_CONFIG");
    assert!(
        error
            .to_string()
            .contains("organization 1 features: features is not valid JSON"),
        "{error}"
    );
}

async fn the_highest_of_several_roles_wins(db: &TestDb) {
    seed(db).await;
    db.exec("INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'VETTED_TEXTER')")
        .await;
    contacts(db, 40, None, "needsMessage", false, "").await;
    let engine = db
        .engine(&[("DYNAMICASSIGNMENT_BATCHES", "vetted-texters")])
        .await;
    assert!(ask(&engine, MINE).await.found);
    assert!(
        ask(&engine, MINE).await.found,
        "TEXTER and VETTED_TEXTER rows: vetted"
    );
}

/// The engine asks a strategy's questions of last time before it runs, in one statement; the
/// answers are read then, never kept from an earlier request.
async fn a_strategys_usual_questions_are_answered_ahead_and_fresh(db: &TestDb) {
    use spoke_batches::sandbox::HostCall;
    seed(db).await;
    contacts(db, 30, None, "needsMessage", false, "").await;
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

on_both_databases!(concurrent_texters_never_share_or_lose_contacts);

/// 32 texters request batches at once from one campaign, with releases interleaved.
async fn concurrent_texters_never_share_or_lose_contacts(db: &TestDb) {
    const TEXTERS: i64 = 32;
    const TOTAL: i64 = 2_000;
    seed(db).await;
    db.add_users(1000, TEXTERS).await;
    let roles: Vec<String> = (0..TEXTERS)
        .map(|i| format!("({}, 1, 'TEXTER')", 1000 + i))
        .collect();
    db.exec(&format!(
        "INSERT INTO user_organization (user_id, organization_id, role) VALUES {}",
        roles.join(", ")
    ))
    .await;
    let assignments: Vec<String> = (0..TEXTERS)
        .map(|i| format!("({}, {}, 10, 45)", 2000 + i, 1000 + i))
        .collect();
    db.exec(&format!(
        "INSERT INTO assignment (id, user_id, campaign_id, max_contacts) VALUES {}",
        assignments.join(", ")
    ))
    .await;
    contacts(db, TOTAL as usize, None, "needsMessage", false, "").await;
    let engine = db.engine(&[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;

    let mut texters = tokio::task::JoinSet::new();
    for i in 0..TEXTERS {
        let engine = engine.clone();
        texters.spawn(async move {
            let (assignment_id, caller) = (2000 + i, Caller::User(1000 + i));
            let mut held = 0;
            for round in 0..8 {
                let outcome = engine.request_batch(request(assignment_id, caller)).await?;
                held += outcome.assigned;
                if round % 3 == 2 {
                    held -= engine.release(assignment_id, caller, false).await?;
                }
            }
            Ok::<u64, EngineError>(held)
        });
    }
    let mut total_held = 0;
    while let Some(joined) = texters.join_next().await {
        total_held += joined.expect("texter task").expect("every request succeeds");
    }
    // Had two claims taken the same contact, the texters' own tallies would add up to more
    // than the table holds.
    let held_in_table = db
        .int("SELECT COUNT(*) FROM campaign_contact WHERE assignment_id >= 2000")
        .await;
    assert_eq!(total_held as i64, held_in_table, "no contact was claimed twice");
    assert_eq!(
        db.int("SELECT COUNT(*) FROM campaign_contact").await,
        TOTAL,
        "every contact still there"
    );
    let over_max = db
        .int(
            "SELECT COUNT(*) FROM (SELECT a.id FROM assignment a JOIN campaign_contact c ON c.assignment_id = a.id \
             GROUP BY a.id, a.max_contacts HAVING COUNT(*) > a.max_contacts) AS over",
        )
        .await;
    assert_eq!(over_max, 0, "no assignment above max_contacts");
    let holders = db
        .int("SELECT COUNT(DISTINCT assignment_id) FROM campaign_contact WHERE assignment_id >= 2000")
        .await;
    assert_eq!(holders, TEXTERS, "every texter got contacts");
}

on_both_databases!(
    an_existing_spoke_schema_is_left_alone,
    concurrent_joins_never_exceed_the_texter_limit
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
    contacts(db, 12, None, "needsMessage", false, "").await;
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

on_both_databases!(the_claim_reads_the_claim_index_and_takes_the_lowest_ids);

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
    contacts(db, 30, Some(OTHERS), "messaged", false, "").await;
    contacts(db, 200, None, "needsMessage", false, "").await;
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

on_both_databases!(a_busy_texters_replies_are_found_through_the_assignment_status_index);

async fn a_busy_texters_replies_are_found_through_the_assignment_status_index(db: &TestDb) {
    use spoke_batches::db::{Database, push_where};
    use spoke_batches::filter::{AssignmentScope, ContactFilter, RequestScope, StatusFilter};
    use spoke_batches::model::MessageStatus;
    use sqlx::{QueryBuilder, Row};
    seed(db).await;
    // A texter who has texted 2,000 contacts (they stay assigned) and has one reply waiting.
    contacts(db, 2000, Some(MINE), "messaged", false, "").await;
    contacts(db, 1, Some(MINE), "needsResponse", false, "").await;
    contacts(db, 500, None, "needsMessage", false, "").await;
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

async fn concurrent_joins_never_exceed_the_texter_limit(db: &TestDb) {
    seed(db).await;
    db.add_users(3000, 20).await;
    // 4 texters already; room for 6 more.
    let engine = db.engine(&[("MAX_TEXTERS_PER_CAMPAIGN", "10")]).await;
    let mut joins = tokio::task::JoinSet::new();
    for i in 0..20 {
        let engine = engine.clone();
        joins.spawn(async move { engine.join(CAMPAIGN, 3000 + i, "tok", now()).await });
    }
    let (mut created, mut refused) = (0, 0);
    while let Some(joined) = joins.join_next().await {
        match joined.expect("join task") {
            Ok(outcome) => {
                assert!(outcome.created);
                created += 1;
            }
            Err(EngineError::TooManyTexters) => refused += 1,
            Err(other) => panic!("unexpected join error: {other}"),
        }
    }
    assert_eq!((created, refused), (6, 14));
    assert_eq!(
        db.int("SELECT COUNT(*) FROM assignment WHERE campaign_id = 10")
            .await,
        10
    );
}

on_both_databases!(an_organization_can_override_the_sandbox_limits);

async fn an_organization_can_override_the_sandbox_limits(db: &TestDb) {
    seed(db).await;
    contacts(db, 20, None, "needsMessage", false, "").await;
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

on_both_databases!(explain_shows_the_decision_and_changes_nothing);

async fn explain_shows_the_decision_and_changes_nothing(db: &TestDb) {
    use spoke_batches::engine::Decision;
    use spoke_batches::sandbox::HostCall;
    seed(db).await;
    contacts(db, 30, None, "needsMessage", false, "").await;
    let engine = db
        .engine(&[("DYNAMICASSIGNMENT_BATCHES", "vetted-texters")])
        .await;
    let (outcome, trace) = engine
        .explain_batch(request(MINE, Caller::User(TEXTER)), None)
        .await
        .unwrap();
    assert!(outcome.found);
    assert_eq!(trace.decision, Decision::Assigned);
    assert_eq!(trace.strategy.as_deref(), Some("vetted-texters"));
    assert_eq!(
        (trace.strategy_count, trace.batch_size, trace.contacts_count),
        (Some(10), Some(10), Some(0))
    );
    assert_eq!(trace.contact_ids.len(), 10);
    assert!(trace.dry_run);
    assert!(trace.fuel_used > 0);
    assert!(
        matches!(
            trace.host_calls[0],
            HostCall::AssignmentUserHasRole { answer: false, .. }
        ),
        "{:?}",
        trace.host_calls
    );
    assert!(trace.host_calls.iter().any(|call| matches!(
        call,
        HostCall::CountContacts {
            cap: Some(10),
            answer: 10,
            ..
        }
    )));
    assert_eq!(held(db, MINE).await, 0, "explain changes nothing");

    // After a real batch, a texter who is not vetted gets 0, and explain says why.
    ask(&engine, MINE).await;
    let (outcome, trace) = engine
        .explain_batch(request(MINE, Caller::User(TEXTER)), None)
        .await
        .unwrap();
    assert!(!outcome.found);
    assert_eq!(trace.decision, Decision::StrategySaidZero);
    assert_eq!(
        trace.reason,
        "the strategy answered 0: this texter may not get contacts now"
    );
    // Replaying with another component shows what it would decide on the same data.
    let all_texters = support::loaded().await.get("all-texters");
    let (outcome, trace) = engine
        .explain_batch(request(MINE, Caller::User(TEXTER)), Some(all_texters))
        .await
        .unwrap();
    assert!(outcome.found);
    assert_eq!(trace.strategy.as_deref(), Some("all-texters"));
    assert_eq!(held(db, MINE).await, 10, "replay changes nothing either");
    db.exec("UPDATE assignment SET max_contacts = 10 WHERE id = 100")
        .await;
    let (_, trace) = engine
        .explain_batch(request(VETTED_ASSIGNMENT, Caller::User(VETTED)), None)
        .await
        .unwrap();
    assert_eq!(trace.decision, Decision::Assigned);
    let mut mine = request(MINE, Caller::User(TEXTER));
    mine.batch_type = None;
    let (_, trace) = engine
        .explain_batch(mine, Some(support::loaded().await.get("all-texters")))
        .await
        .unwrap();
    assert_eq!(trace.decision, Decision::MaxContactsReached);
}
