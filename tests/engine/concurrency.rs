//! Concurrent requests of one assignment (double clicks, retries, several service processes)
//! and concurrent joins of one user: the rules that count before they write hold whatever the
//! interleaving.

use spoke_batches::engine::{BatchRequest, Caller, Engine, EngineError};

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::{CAMPAIGN, MINE, OTHERS, VETTED_ASSIGNMENT, held, now, request, seed};
use crate::on_both_databases;

on_both_databases!(
    concurrent_texters_never_share_or_lose_contacts,
    concurrent_requests_of_one_assignment_never_exceed_max_contacts,
    concurrent_double_clicks_get_one_batch_under_the_finish_first_rule,
    concurrent_joins_of_one_user_make_one_membership,
);

/// Three of the seeded assignments.
const ASSIGNMENTS: [i64; 3] = [MINE, VETTED_ASSIGNMENT, OTHERS];

/// Sends `per_assignment` copies of each assignment's request at once; returns how many
/// contacts each request was given, by assignment.
async fn at_once(engine: &Engine, per_assignment: usize, number_contacts: Option<i64>) -> Vec<Vec<u64>> {
    let mut requests = tokio::task::JoinSet::new();
    for (index, assignment_id) in ASSIGNMENTS.into_iter().enumerate() {
        for _ in 0..per_assignment {
            let engine = engine.clone();
            let request = BatchRequest {
                number_contacts,
                ..request(assignment_id, Caller::Operator)
            };
            requests.spawn(async move { (index, engine.request_batch(request).await) });
        }
    }
    let mut assigned = vec![Vec::new(); ASSIGNMENTS.len()];
    while let Some(joined) = requests.join_next().await {
        let (index, outcome) = joined.expect("request task");
        assigned[index].push(outcome.expect("every request succeeds").assigned);
    }
    assigned
}

async fn concurrent_requests_of_one_assignment_never_exceed_max_contacts(db: &TestDb) {
    seed(db).await;
    db.exec("UPDATE assignment SET max_contacts = 5").await;
    Contacts::new(200).add_to_campaign(db, CAMPAIGN).await;
    let engine = db.engine(&[("DYNAMICASSIGNMENT_BATCHES", "all-texters")]).await;
    let assigned = at_once(&engine, 8, Some(5)).await;
    for (assignment_id, given) in ASSIGNMENTS.into_iter().zip(assigned) {
        assert_eq!(
            held(db, assignment_id).await,
            5,
            "assignment {assignment_id}: {given:?}"
        );
        assert_eq!(
            given.iter().sum::<u64>(),
            5,
            "assignment {assignment_id}: {given:?}"
        );
    }
}

async fn concurrent_double_clicks_get_one_batch_under_the_finish_first_rule(db: &TestDb) {
    seed(db).await;
    Contacts::new(200).add_to_campaign(db, CAMPAIGN).await;
    let engine = db
        .engine(&[
            ("DYNAMICASSIGNMENT_BATCHES", "all-texters"),
            ("TEXTER_SIDEBOXES", "per-campaign-bulk-send"),
        ])
        .await;
    let assigned = at_once(&engine, 6, None).await;
    for (assignment_id, given) in ASSIGNMENTS.into_iter().zip(assigned) {
        let batches = given.iter().filter(|&&count| count > 0).count();
        assert_eq!(batches, 1, "assignment {assignment_id}: {given:?}");
        assert_eq!(held(db, assignment_id).await, 10, "one batch of 10");
    }
}

async fn concurrent_joins_of_one_user_make_one_membership(db: &TestDb) {
    const USERS: i64 = 6;
    const CAMPAIGNS: [i64; 4] = [CAMPAIGN, 20, 30, 40];
    seed(db).await;
    db.exec(
        "INSERT INTO campaign (id, organization_id, title, is_started, is_archived, use_dynamic_assignment, \
         batch_size, join_token) VALUES (20, 1, 'Second', TRUE, FALSE, TRUE, 10, 'tok'), \
         (30, 1, 'Third', TRUE, FALSE, TRUE, 10, 'tok'), (40, 1, 'Fourth', TRUE, FALSE, TRUE, 10, 'tok')",
    )
    .await;
    db.add_users(4000, USERS).await;
    let engine = db.engine(&[]).await;
    let mut joins = tokio::task::JoinSet::new();
    for user_id in 4000..4000 + USERS {
        for campaign_id in CAMPAIGNS {
            let engine = engine.clone();
            joins.spawn(async move { engine.join(campaign_id, user_id, "tok", now()).await });
        }
    }
    while let Some(joined) = joins.join_next().await {
        let outcome: Result<_, EngineError> = joined.expect("join task");
        assert!(outcome.expect("every join succeeds").created);
    }
    for user_id in 4000..4000 + USERS {
        assert_eq!(
            db.int(&format!(
                "SELECT COUNT(*) FROM user_organization WHERE user_id = {user_id} AND organization_id = 1"
            ))
            .await,
            1,
            "user {user_id} is a member once"
        );
        assert_eq!(
            db.int(&format!(
                "SELECT COUNT(*) FROM assignment WHERE user_id = {user_id}"
            ))
            .await,
            CAMPAIGNS.len() as i64
        );
    }
}

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
    Contacts::new(TOTAL as usize).add_to_campaign(db, CAMPAIGN).await;
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
