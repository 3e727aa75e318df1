//! Who may act on an assignment: its texter, an organizer, a superadmin; and which of a user's
//! roles counts.

use spoke_batches::engine::Caller;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{
    ADMIN, CAMPAIGN, MINE, OTHER_TEXTER, SUPERADMIN, SUSPENDED, SUSPENDED_ASSIGNMENT, TEXTER, ask, held, now,
    request, seed,
};
use crate::on_both_databases;

on_both_databases!(
    only_the_texter_an_organizer_or_a_superadmin_may_act_on_an_assignment,
    the_highest_of_several_roles_wins,
    a_callers_role_counts_only_in_the_campaigns_organization,
);

async fn only_the_texter_an_organizer_or_a_superadmin_may_act_on_an_assignment(db: &TestDb) {
    seed(db).await;
    Contacts::new(60).add_to_campaign(db, CAMPAIGN).await;
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

async fn the_highest_of_several_roles_wins(db: &TestDb) {
    seed(db).await;
    db.exec("INSERT INTO user_organization (user_id, organization_id, role) VALUES (5, 1, 'VETTED_TEXTER')")
        .await;
    Contacts::new(40).add_to_campaign(db, CAMPAIGN).await;
    let engine = db
        .engine(&[("DYNAMICASSIGNMENT_BATCHES", "vetted-texters")])
        .await;
    assert!(ask(&engine, MINE).await.found);
    assert!(
        ask(&engine, MINE).await.found,
        "TEXTER and VETTED_TEXTER rows: vetted"
    );
}

async fn a_callers_role_counts_only_in_the_campaigns_organization(db: &TestDb) {
    seed(db).await;
    Contacts::new(40).add_to_campaign(db, CAMPAIGN).await;
    let engine = db.engine(&[]).await;
    let others = |engine: &spoke_batches::engine::Engine| {
        let engine = engine.clone();
        async move {
            engine
                .request_batch(request(MINE, Caller::User(OTHER_TEXTER)))
                .await
        }
    };
    // An admin of another organization, and a role Spoke does not rank, are no organizer here.
    db.exec(
        "INSERT INTO organization (id, name, features) VALUES (2, 'Other org', ''); \
         INSERT INTO user_organization (user_id, organization_id, role) VALUES \
           (9, 2, 'ADMIN'), (9, 1, 'ORG_SUPERADMIN')",
    )
    .await;
    assert_eq!(others(&engine).await.unwrap_err().code(), "FORBIDDEN");
    // A SUPERVOLUNTEER row beside the TEXTER one is.
    db.exec("INSERT INTO user_organization (user_id, organization_id, role) VALUES (9, 1, 'SUPERVOLUNTEER')")
        .await;
    assert!(others(&engine).await.unwrap().found);
    assert_eq!(held(db, MINE).await, 10);
}
