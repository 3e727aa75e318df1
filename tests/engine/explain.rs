//! Explaining a batch request: what would happen and why, with every question the strategy
//! asked, rolled back.

use spoke_batches::engine::Caller;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{CAMPAIGN, MINE, TEXTER, VETTED, VETTED_ASSIGNMENT, ask, held, request, seed};
use crate::on_both_databases;

on_both_databases!(explain_shows_the_decision_and_changes_nothing,);

async fn explain_shows_the_decision_and_changes_nothing(db: &TestDb) {
    use spoke_batches::engine::Decision;
    use spoke_batches::sandbox::HostCall;
    seed(db).await;
    Contacts::new(30).add_to_campaign(db, CAMPAIGN).await;
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
    let all_texters = super::support::loaded().await.get("all-texters");
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
        .explain_batch(mine, Some(super::support::loaded().await.get("all-texters")))
        .await
        .unwrap();
    assert_eq!(trace.decision, Decision::MaxContactsReached);
}
