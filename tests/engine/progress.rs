//! The dashboard's progress counts: each dynamic campaign's contacts by state and its texters,
//! counted when asked (in the background, by the service), and read as they were taken.

use std::time::Duration;

use spoke_batches::db::ContactStates;
use spoke_batches::model::MessageStatus;

use super::support::contacts::Contacts;
use super::support::db::TestDb;
use super::support::server::{ServerOptions, TestServer};
use super::{CAMPAIGN, MINE, OTHERS, seed};
use crate::on_both_databases;

on_both_databases!(a_campaigns_progress_is_counted_by_state_and_read_as_it_was_taken,);

async fn a_campaigns_progress_is_counted_by_state_and_read_as_it_was_taken(db: &TestDb) {
    seed(db).await;
    let of = |status| Contacts::new(1).held_by(OTHERS).status(status);
    for contacts in [
        Contacts::new(5),
        Contacts::new(3).held_by(MINE),
        of(MessageStatus::Messaged).held_by(MINE),
        Contacts {
            count: 4,
            ..of(MessageStatus::Messaged)
        },
        Contacts {
            count: 2,
            ..of(MessageStatus::NeedsResponse)
        },
        of(MessageStatus::Convo),
        Contacts {
            count: 2,
            ..of(MessageStatus::Closed)
        },
        Contacts::new(3).opted_out(),
        of(MessageStatus::Closed).opted_out(),
    ] {
        contacts.add_to_campaign(db, CAMPAIGN).await;
    }
    let engine = db.engine(&[("MAX_TEXTERS_PER_CAMPAIGN", "7")]).await;
    assert_eq!(engine.progress(CAMPAIGN), None, "nothing is counted unasked");
    assert_eq!(
        engine.refresh_progress(Duration::from_secs(3600)).await.unwrap(),
        1
    );
    let progress = engine.progress(CAMPAIGN).unwrap();
    assert_eq!(
        progress.contacts,
        ContactStates {
            unassigned: 5,
            assigned_untexted: 3,
            messaged: 5,
            conversations: 3,
            closed: 2,
            opted_out: 4,
            other: 0,
        }
    );
    assert_eq!((progress.texters, progress.max_texters), (4, Some(7)));
    // A count younger than the age asked for is kept; the page reads it as it was taken.
    Contacts::new(10).add_to_campaign(db, CAMPAIGN).await;
    assert_eq!(
        engine.refresh_progress(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert_eq!(engine.progress(CAMPAIGN).unwrap().contacts.unassigned, 5);
    let server = TestServer::serve(engine.clone(), ServerOptions::default()).await;
    let dashboard: serde_json::Value = reqwest::get(server.url("/v1/dashboard"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let campaign = &dashboard["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|campaign| campaign["id"] == CAMPAIGN)
        .unwrap()["progress"];
    assert_eq!(campaign["contacts"]["unassigned"], 5, "{dashboard}");
    assert_eq!(campaign["contacts"]["assignedUntexted"], 3, "{dashboard}");
    assert_eq!(
        (campaign["texters"].clone(), campaign["maxTexters"].clone()),
        (4.into(), 7.into())
    );
    assert!(
        campaign["countedAt"].is_string() && campaign["countMs"].is_f64(),
        "{dashboard}"
    );
    // Once it is older than allowed, it is counted again.
    assert_eq!(engine.refresh_progress(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(engine.progress(CAMPAIGN).unwrap().contacts.unassigned, 15);
}
