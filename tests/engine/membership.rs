//! Joining a campaign by its link, the texter limit, releasing contacts and the message-sent
//! handler (outbound unassign).

use spoke_batches::engine::{Caller, EngineError};

use spoke_batches::model::MessageStatus;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{ADMIN, CAMPAIGN, MINE, NEWCOMER, OTHERS, SUSPENDED, TEXTER, held, now, seed, set_campaign};
use crate::on_both_databases;

on_both_databases!(
    joining_by_link_follows_spokes_rules,
    the_texter_limit_refuses_new_texters_but_not_existing_ones,
    concurrent_joins_never_exceed_the_texter_limit,
    release_frees_initials_or_everything,
    outbound_unassign_frees_a_contact_after_its_first_message,
);

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

async fn release_frees_initials_or_everything(db: &TestDb) {
    seed(db).await;
    Contacts::new(4).held_by(MINE).add_to_campaign(db, CAMPAIGN).await;
    Contacts::new(2)
        .held_by(MINE)
        .opted_out()
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(3)
        .held_by(MINE)
        .status(MessageStatus::Convo)
        .add_to_campaign(db, CAMPAIGN)
        .await;
    Contacts::new(5)
        .held_by(OTHERS)
        .add_to_campaign(db, CAMPAIGN)
        .await;
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

async fn outbound_unassign_frees_a_contact_after_its_first_message(db: &TestDb) {
    seed(db).await;
    Contacts::new(1).held_by(MINE).add_to_campaign(db, CAMPAIGN).await;
    Contacts::new(1)
        .held_by(MINE)
        .status(MessageStatus::Messaged)
        .add_to_campaign(db, CAMPAIGN)
        .await;
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
