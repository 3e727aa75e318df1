//! A batch request's sizes and rules (`findNewCampaignContact`) and the count behind the
//! "request texts" button (`hasUnassignedContactsForTexter`).

use spoke_batches::engine::{Caller, EngineError};

use spoke_batches::model::MessageStatus;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{
    CAMPAIGN, MINE, OLD, TEXTER, VETTED, VETTED_ASSIGNMENT, ask, held, now, request, seed, set_campaign,
};
use crate::on_both_databases;

on_both_databases!(
    a_request_assigns_a_batch_of_available_contacts,
    a_null_batch_size_is_capped_by_what_the_strategy_returned,
    the_texters_number_and_max_contacts_limit_the_batch,
    a_texter_above_max_contacts_gets_nothing,
    max_contacts_zero_and_archived_campaigns_get_nothing,
    unknown_ids_and_batch_types_are_clear_errors,
    a_campaign_a_day_past_due_hands_out_nothing,
    the_bulk_send_sidebox_makes_texters_finish_their_batch_first,
    has_unassigned_drives_the_request_button,
    malformed_features_are_a_clear_configuration_error,
);

async fn a_request_assigns_a_batch_of_available_contacts(db: &TestDb) {
    seed(db).await;
    Contacts::new(25)
        .in_zone("-5_1")
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(5)
        .opted_out()
        .in_zone("-5_1")
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(5)
        .status(MessageStatus::Messaged)
        .in_zone("-5_1")
        .add_to_campaign(db, CAMPAIGN)
        .await;
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
    Contacts::new(6)
        .status(MessageStatus::NeedsResponse)
        .add_to_campaign(db, CAMPAIGN)
        .await;
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
    Contacts::new(50).add_to_campaign(db, CAMPAIGN).await;
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
    Contacts::new(12)
        .held_by(MINE)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(30).add_to_campaign(db, CAMPAIGN).await;
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
    Contacts::new(30).add_to_campaign(db, CAMPAIGN).await;
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

async fn a_campaign_a_day_past_due_hands_out_nothing(db: &TestDb) {
    seed(db).await;
    Contacts::new(20)
        .in_zone("-5_1")
        .add_to_campaign(db, CAMPAIGN)
        .await;
    set_campaign(db, "due_by = '2026-02-28 12:00:00+00:00'").await;
    let engine = db.engine(&[]).await;
    let outcome = ask(&engine, MINE).await;
    assert!(!outcome.found, "Spoke crashes here; we answer not found");
    set_campaign(db, "due_by = '2026-03-02 00:00:00+00:00'").await;
    assert!(ask(&engine, MINE).await.found, "within a day of the due date");
}

async fn the_bulk_send_sidebox_makes_texters_finish_their_batch_first(db: &TestDb) {
    seed(db).await;
    Contacts::new(10)
        .held_by(MINE)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(30).add_to_campaign(db, CAMPAIGN).await;
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
    Contacts::new(3).add_to_campaign(db, CAMPAIGN).await;
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
    Contacts::new(3).add_to_campaign(db, CAMPAIGN).await;
    set_campaign(db, "is_archived = TRUE").await;
    assert_eq!(count(Caller::Operator).await.unwrap(), 0);
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
