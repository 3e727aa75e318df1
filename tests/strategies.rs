//! Every rule of Spoke's five strategies, through the real components in the real runtime,
//! with the host imports answered from an in-memory contact table.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod support;

use spoke_batches::filter::{AssignmentScope, ContactFilter, ContactQuery, StatusFilter, TimezoneScope};
use spoke_batches::model::MessageStatus::{self, *};
use spoke_batches::model::Role;
use spoke_batches::sandbox::{BatchPlan, HostCall};
use support::contacts::Contacts;
use support::{SHIPPED, Scenario, loaded};

/// The strategies with Spoke's common base checks.
const WITH_BASE_CHECKS: [&str; 5] = [
    "fewer-than-n-replies",
    "all-texters",
    "finished-replies",
    "finished-replies-tz",
    "vetted-texters",
];

const PLAN: BatchPlan = BatchPlan {
    number_contacts: 5,
    contacts_count: 0,
};

/// A campaign with 25 available contacts, 5 unassigned conversations and a vetted texter.
fn busy_campaign() -> Scenario {
    let mut scenario = Scenario::new()
        .with(Contacts::new(25).in_zone("-5_1"))
        .with(Contacts::new(5).status(Convo).in_zone("-5_1"));
    scenario.role = Some(Role::VettedTexter);
    scenario
}

#[tokio::test]
async fn each_strategy_has_spokes_name_and_display_name() {
    let loaded = loaded().await;
    let expected = [
        ("all-texters", "Everyone can request a new batch"),
        ("finished-replies", "After finishing current replies"),
        (
            "finished-replies-tz",
            "After finishing current replies, within Texting Hours",
        ),
        ("vetted-texters", "Vetted Texters can request a new batch"),
        (
            "vetted-takeconversations",
            "Vetted Texters can take unassigned conversations",
        ),
    ];
    assert_eq!(expected.len(), SHIPPED.len());
    for (name, display_name) in expected {
        let strategy = loaded.get(name);
        assert_eq!(strategy.name(), name);
        assert_eq!(strategy.display_name(), display_name);
    }
}

#[tokio::test]
async fn base_checks_refuse_archived_campaigns() {
    for name in SHIPPED {
        let mut scenario = busy_campaign();
        assert!(
            scenario.count(name).await.unwrap() > 0,
            "{name} counts when not archived"
        );
        scenario.campaign.is_archived = true;
        assert_eq!(scenario.count(name).await.unwrap(), 0, "{name}");
    }
}

#[tokio::test]
async fn base_checks_refuse_when_dynamic_assignment_is_off() {
    for name in WITH_BASE_CHECKS {
        let mut scenario = busy_campaign();
        scenario.campaign.use_dynamic_assignment = false;
        assert_eq!(scenario.count(name).await.unwrap(), 0, "{name}");
    }
}

#[tokio::test]
async fn base_checks_refuse_a_null_or_zero_batch_size() {
    for name in WITH_BASE_CHECKS {
        for batch_size in [None, Some(0)] {
            let mut scenario = busy_campaign();
            scenario.campaign.batch_size = batch_size;
            assert_eq!(
                scenario.count(name).await.unwrap(),
                0,
                "{name} with batch_size {batch_size:?}"
            );
        }
    }
}

#[tokio::test]
async fn base_checks_refuse_max_contacts_zero_but_not_null() {
    for name in SHIPPED {
        let mut scenario = busy_campaign();
        scenario.assignment.max_contacts = Some(0);
        assert_eq!(scenario.count(name).await.unwrap(), 0, "{name}");
        scenario.assignment.max_contacts = Some(3);
        assert!(
            scenario.count(name).await.unwrap() > 0,
            "{name} with max_contacts 3"
        );
    }
}

#[tokio::test]
async fn vetted_takeconversations_ignores_dynamic_assignment_and_batch_size() {
    let mut scenario = busy_campaign().with(Contacts::new(4).status(NeedsResponse));
    scenario.campaign.use_dynamic_assignment = false;
    scenario.campaign.batch_size = None;
    assert_eq!(
        scenario.count("vetted-takeconversations").await.unwrap(),
        9,
        "5 conversations + 4 replies"
    );
}

#[tokio::test]
async fn available_count_is_unassigned_needs_message_not_opted_out_of_this_campaign() {
    let scenario = Scenario::new()
        .with(Contacts::new(3).in_zone("-5_1"))
        .with(Contacts::new(2).opted_out().in_zone("-5_1"))
        .with(Contacts::new(2).held_by(999).in_zone("-5_1"))
        .with(Contacts::new(2).status(Messaged).in_zone("-5_1"))
        .with(Contacts::new(1).in_zone("-8_1"))
        .with_other_campaign_contacts(50);
    for name in [
        "all-texters",
        "finished-replies",
        "finished-replies-tz",
        "vetted-texters",
    ] {
        assert_eq!(scenario.count(name).await.unwrap(), 4, "{name}");
    }
}

#[tokio::test]
async fn counts_stop_at_the_cap_the_host_gives() {
    let mut scenario = busy_campaign();
    scenario.count_cap = 7;
    for name in WITH_BASE_CHECKS {
        let (report, journal) = scenario.count_report(name).await.unwrap();
        assert_eq!(report.value, 7, "{name}");
        let capped = journal
            .host_calls
            .iter()
            .any(|call| matches!(call, HostCall::CountContacts { cap: Some(7), .. }));
        assert!(capped, "{name} asks with the cap: {journal:?}");
    }
}

#[tokio::test]
async fn has_any_mode_answers_one_or_zero() {
    for name in WITH_BASE_CHECKS {
        let mut scenario = busy_campaign();
        scenario.has_any = true;
        assert_eq!(scenario.count(name).await.unwrap(), 1, "{name} with contacts");
        scenario.contacts.clear();
        assert_eq!(scenario.count(name).await.unwrap(), 0, "{name} without contacts");
    }
}

#[tokio::test]
async fn vetted_takeconversations_counts_even_in_has_any_mode() {
    let mut scenario = Scenario::new().with(Contacts::new(6).status(Convo));
    scenario.role = Some(Role::VettedTexter);
    scenario.has_any = true;
    assert_eq!(scenario.count("vetted-takeconversations").await.unwrap(), 6);
}

async fn open_replies_case(name: &str, status: MessageStatus, opted_out: bool, offset: &str) -> u32 {
    let scenario = busy_campaign().with(Contacts {
        status,
        opted_out,
        offset: offset.to_string(),
        ..Contacts::new(1).held_by(100)
    });
    scenario.count(name).await.expect("the call succeeds")
}

#[tokio::test]
async fn finished_replies_waits_for_open_replies_in_valid_timezones() {
    for name in ["finished-replies", "finished-replies-tz"] {
        assert_eq!(
            open_replies_case(name, NeedsResponse, false, "-5_1").await,
            0,
            "{name}: open reply"
        );
        assert_eq!(
            open_replies_case(name, NeedsResponse, false, "").await,
            0,
            "{name}: unknown zone valid"
        );
        assert_eq!(
            open_replies_case(name, NeedsResponse, false, "-8_1").await,
            10,
            "{name}: reply outside hours"
        );
        assert_eq!(
            open_replies_case(name, NeedsResponse, true, "-5_1").await,
            10,
            "{name}: opted out"
        );
        assert_eq!(
            open_replies_case(name, Convo, false, "-5_1").await,
            10,
            "{name}: convo is not open"
        );
        // The other strategies do not care about replies.
        assert_eq!(
            open_replies_case("all-texters", NeedsResponse, false, "-5_1").await,
            10
        );
    }
}

#[tokio::test]
async fn finished_replies_ignores_replies_of_other_assignments() {
    let scenario = busy_campaign().with(
        Contacts::new(3)
            .held_by(101)
            .status(NeedsResponse)
            .in_zone("-5_1"),
    );
    assert_eq!(scenario.count("finished-replies").await.unwrap(), 10);
}

#[tokio::test]
async fn finished_replies_skips_the_reply_check_when_nothing_is_available() {
    let scenario = Scenario::new().with(
        Contacts::new(1)
            .held_by(100)
            .status(NeedsResponse)
            .in_zone("-5_1"),
    );
    let (report, journal) = scenario.count_report("finished-replies").await.unwrap();
    assert_eq!(report.value, 0);
    assert_eq!(
        journal.host_calls.len(),
        1,
        "only the available count: {journal:?}"
    );
}

#[tokio::test]
async fn vetted_texters_gives_a_texter_who_is_not_vetted_one_batch() {
    let mut scenario = Scenario::new().with(Contacts::new(20).in_zone("-5_1"));
    scenario.role = Some(Role::Texter);
    assert_eq!(scenario.count("vetted-texters").await.unwrap(), 10, "first batch");
    // Any earlier contact of this campaign, whatever its status, ends it.
    let holding = scenario
        .clone()
        .with(Contacts::new(1).held_by(100).status(Closed).opted_out());
    assert_eq!(
        holding.count("vetted-texters").await.unwrap(),
        0,
        "second batch refused"
    );
    // A contact of another assignment does not count.
    let other = scenario.clone().with(Contacts::new(1).held_by(101));
    assert_eq!(other.count("vetted-texters").await.unwrap(), 10);
}

#[tokio::test]
async fn vetted_texters_lets_vetted_and_higher_roles_keep_requesting() {
    for role in [Role::VettedTexter, Role::Supervolunteer, Role::Admin, Role::Owner] {
        let mut scenario = busy_campaign().with(Contacts::new(5).held_by(100).status(Messaged));
        scenario.role = Some(role);
        assert_eq!(scenario.count("vetted-texters").await.unwrap(), 10, "{role}");
    }
    for role in [None, Some(Role::Suspended), Some(Role::Texter)] {
        let mut scenario = busy_campaign().with(Contacts::new(5).held_by(100).status(Messaged));
        scenario.role = role;
        assert_eq!(scenario.count("vetted-texters").await.unwrap(), 0, "{role:?}");
    }
}

#[tokio::test]
async fn vetted_takeconversations_is_for_vetted_texters_and_counts_unassigned_conversations() {
    let scenario = Scenario::new()
        .with(Contacts::new(2).status(NeedsResponse))
        .with(Contacts::new(1).status(Convo))
        .with(Contacts::new(1).status(Closed))
        .with(Contacts::new(1).status(Updating))
        .with(Contacts::new(3))
        .with(Contacts::new(3).status(Messaged))
        .with(Contacts::new(2).status(Convo).opted_out())
        .with(Contacts::new(2).held_by(101).status(Convo));
    let mut vetted = scenario.clone();
    vetted.role = Some(Role::VettedTexter);
    assert_eq!(vetted.count("vetted-takeconversations").await.unwrap(), 5);
    assert_eq!(
        scenario.count("vetted-takeconversations").await.unwrap(),
        0,
        "a texter is not vetted"
    );
}

#[tokio::test]
async fn strategies_without_select_contacts_keep_the_default_queries() {
    for name in ["all-texters", "finished-replies", "vetted-texters"] {
        let selection = busy_campaign().select(name, PLAN).await.unwrap();
        assert_eq!(selection.batch_query, None, "{name}");
        assert_eq!(selection.has_current_query, None, "{name}");
    }
}

#[tokio::test]
async fn finished_replies_tz_selects_only_contacts_within_texting_hours() {
    let selection = busy_campaign().select("finished-replies-tz", PLAN).await.unwrap();
    let mut expected = ContactFilter::available();
    expected.timezone = TimezoneScope::ValidNow;
    assert_eq!(
        selection.batch_query,
        Some(ContactQuery {
            filter: expected,
            limit: None
        })
    );
    assert_eq!(selection.has_current_query, None);
}

#[tokio::test]
async fn finished_replies_tz_hands_out_nothing_a_day_past_due() {
    let mut scenario = busy_campaign();
    scenario.campaign.due_by = Some(scenario.now - chrono::Duration::hours(25));
    let selection = scenario.select("finished-replies-tz", PLAN).await.unwrap();
    assert_eq!(selection.batch_query.map(|query| query.limit), Some(Some(0)));
    // Within the day of grace, contacts are still handed out.
    scenario.campaign.due_by = Some(scenario.now - chrono::Duration::hours(23));
    let selection = scenario.select("finished-replies-tz", PLAN).await.unwrap();
    assert_eq!(selection.batch_query.map(|query| query.limit), Some(None));
}

#[tokio::test]
async fn vetted_takeconversations_replaces_both_queries() {
    let selection = busy_campaign()
        .select("vetted-takeconversations", PLAN)
        .await
        .unwrap();
    let batch = selection.batch_query.expect("a batch query");
    assert_eq!(batch.limit, None);
    assert_eq!(
        batch.filter.status,
        StatusFilter::NoneOf([NeedsMessage, Messaged].into())
    );
    assert_eq!(batch.filter.assignment, AssignmentScope::Unassigned);
    assert_eq!(batch.filter.opted_out, Some(false));
    let current = selection.has_current_query.expect("a has-current query");
    assert_eq!(
        current.status,
        StatusFilter::OneOf([NeedsMessage, NeedsResponse].into())
    );
    assert_eq!(current.assignment, AssignmentScope::ThisAssignment);
    assert_eq!(current.opted_out, Some(false));
}

/// The host refuses a batch query for held or opted-out contacts; every strategy shipped asks
/// only for unassigned contacts that are not opted out, in every state of the campaign.
#[tokio::test]
async fn every_shipped_strategys_batch_query_passes_the_hosts_check() {
    let past_due = {
        let mut scenario = busy_campaign();
        scenario.campaign.due_by = Some(scenario.now - chrono::Duration::hours(25));
        scenario
    };
    let not_vetted = {
        let mut scenario = busy_campaign().with(
            Contacts::new(3)
                .held_by(100)
                .status(NeedsResponse)
                .in_zone("-5_1"),
        );
        scenario.role = Some(Role::Texter);
        scenario
    };
    let mut campaign_settings = busy_campaign();
    campaign_settings.campaign.features = Some(r#"{"FEWER_THAN_N_REPLIES":"2"}"#.to_string());
    let scenarios = [busy_campaign(), past_due, not_vetted, campaign_settings];
    for name in SHIPPED.iter().copied().chain(["fewer-than-n-replies"]) {
        for (index, scenario) in scenarios.iter().enumerate() {
            let selection = scenario
                .select(name, PLAN)
                .await
                .unwrap_or_else(|failure| panic!("{name}, scenario {index}: {failure}"));
            if let Some(batch) = selection.batch_query {
                assert_eq!(batch.filter.claimable(), batch.filter, "{name}, scenario {index}");
            }
        }
    }
}

#[tokio::test]
async fn the_host_refuses_a_batch_query_for_held_or_opted_out_contacts() {
    let mut scenario = busy_campaign();
    for (title, field) in [
        ("any-contact", "assignment `any`"),
        ("this-assignment", "assignment `this-assignment`"),
        ("opted-out", "opted-out `some(true)`"),
        ("opted-out-unset", "opted-out `none`"),
    ] {
        scenario.campaign.title = title.to_string();
        let failure = scenario.select("overreach", PLAN).await.expect_err(title);
        assert_eq!(failure.kind.code(), "invalid-value", "{title}");
        assert!(failure.to_string().contains(field), "{title}: {failure}");
    }
    scenario.campaign.title = "has-current-anything".to_string();
    let selection = scenario
        .select("overreach", PLAN)
        .await
        .expect("a has-current filter only reads");
    assert_eq!(
        selection.has_current_query.map(|filter| filter.assignment),
        Some(AssignmentScope::Any)
    );
}

#[tokio::test]
async fn a_call_reports_the_fuel_it_used() {
    let (report, _) = busy_campaign().count_report("vetted-texters").await.unwrap();
    assert!(
        report.fuel_used > 0 && report.fuel_used < 1_000_000,
        "fuel used: {}",
        report.fuel_used
    );
}

#[tokio::test]
async fn fewer_than_n_replies_waits_while_n_replies_wait() {
    let with_waiting = |count: usize, features: Option<&str>| {
        let mut scenario = busy_campaign().with(
            Contacts::new(count)
                .held_by(100)
                .status(NeedsResponse)
                .in_zone("-8_1"),
        );
        scenario.campaign.features = features.map(str::to_string);
        scenario
    };
    assert_eq!(
        with_waiting(2, None).count("fewer-than-n-replies").await.unwrap(),
        10,
        "2 < the default 3"
    );
    assert_eq!(
        with_waiting(3, None).count("fewer-than-n-replies").await.unwrap(),
        0
    );
    let one = Some(r#"{"FEWER_THAN_N_REPLIES": 1}"#);
    assert_eq!(
        with_waiting(1, one).count("fewer-than-n-replies").await.unwrap(),
        0
    );
    assert_eq!(
        with_waiting(0, one).count("fewer-than-n-replies").await.unwrap(),
        10
    );
    let ten = Some(r#"{"FEWER_THAN_N_REPLIES": "10", "OTHER": true}"#);
    assert_eq!(
        with_waiting(9, ten).count("fewer-than-n-replies").await.unwrap(),
        10
    );
    // Opted-out contacts do not wait for anyone.
    let opted_out = busy_campaign().with(Contacts::new(5).held_by(100).status(NeedsResponse).opted_out());
    assert_eq!(opted_out.count("fewer-than-n-replies").await.unwrap(), 10);
    // A bad setting fails the request with a message that says what to fix.
    let failure = with_waiting(0, Some(r#"{"FEWER_THAN_N_REPLIES": 0}"#))
        .count("fewer-than-n-replies")
        .await
        .unwrap_err();
    assert_eq!(
        failure.kind,
        spoke_batches::sandbox::FailureKind::ErrorResult(
            "campaign features: FEWER_THAN_N_REPLIES is 0; it must be a whole number, at least 1".into()
        )
    );
    let (_, journal) = with_waiting(50, None)
        .count_report("fewer-than-n-replies")
        .await
        .unwrap();
    assert!(
        journal.host_calls.iter().any(|call| matches!(
            call,
            HostCall::CountContacts {
                cap: Some(3),
                answer: 3,
                ..
            }
        )),
        "the waiting replies are counted only up to N: {journal:?}"
    );
}
