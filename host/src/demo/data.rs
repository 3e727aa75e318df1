//! The demo's fixed data: its people, the US time zones contacts live in (with their weights and
//! ZIP prefixes), the message statuses and the names contacts are drawn from.

use std::borrow::Cow;

use crate::model::{MessageStatus, Role};

/// A demo user: name, role and what they hold when the demo starts.
pub(super) struct DemoUser {
    pub(super) first_name: &'static str,
    pub(super) last_name: Cow<'static, str>,
    pub(super) role: Role,
    pub(super) inbox: Inbox,
}

/// The contacts a demo user already holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Inbox {
    /// None.
    Empty,
    /// Contacts texted before (`messaged`, `convo`, `closed`).
    Texted,
    /// Those, and replies waiting for an answer (`needsResponse`).
    RepliesWaiting,
}

/// The demo's people, each with an assignment in the campaign (an admin may text too). Half
/// the texters have replies waiting, so Spoke's default strategy (`finished-replies-tz`: no
/// new batch while a reply waits) shows both of its answers.
pub(super) const USERS: [DemoUser; 7] = [
    demo_user("Alex", "Rivera", Role::Admin, Inbox::Empty),
    demo_user("Jordan", "Lee", Role::VettedTexter, Inbox::Texted),
    demo_user("Samira", "Okafor", Role::VettedTexter, Inbox::RepliesWaiting),
    demo_user("Maria", "Garcia", Role::Texter, Inbox::Texted),
    demo_user("Wei", "Chen", Role::Texter, Inbox::RepliesWaiting),
    demo_user("Priya", "Patel", Role::Texter, Inbox::Texted),
    demo_user("Chris", "Johnson", Role::Texter, Inbox::RepliesWaiting),
];

/// The demo's seven people, then `extra` texters named "Texter 1", "Texter 2", ….
pub(super) fn demo_people(extra: u32) -> Vec<DemoUser> {
    USERS
        .into_iter()
        .chain((1..=extra).map(|number| DemoUser {
            first_name: "Texter",
            last_name: Cow::Owned(number.to_string()),
            role: Role::Texter,
            inbox: Inbox::Empty,
        }))
        .collect()
}

pub(super) const fn demo_user(
    first_name: &'static str,
    last_name: &'static str,
    role: Role,
    inbox: Inbox,
) -> DemoUser {
    DemoUser {
        first_name,
        last_name: Cow::Borrowed(last_name),
        role,
        inbox,
    }
}

/// A US time zone as Spoke stores it in `campaign_contact.timezone_offset`, its share of the
/// contacts (per 10,000, roughly by population) and 3-digit zip prefixes of cities in it.
pub(super) struct Zone {
    pub(super) offset: &'static str,
    pub(super) weight: u32,
    pub(super) zip_prefixes: &'static [u32],
}

/// Spoke derives a contact's zone from the zip code, so contacts of unknown zone (`""`) have
/// no zip.
pub(super) const ZONES: [Zone; 8] = [
    // New York, Brooklyn, Philadelphia, Baltimore, Raleigh, Atlanta, Miami, Cleveland, Detroit,
    // Boston.
    zone("-5_1", 4_700, &[100, 112, 191, 212, 276, 303, 331, 441, 482, 21]),
    // Chicago, Houston, Dallas, Minneapolis, Milwaukee, New Orleans, Nashville.
    zone("-6_1", 2_900, &[606, 770, 752, 554, 532, 701, 372]),
    // Denver, Salt Lake City, Albuquerque, Boise.
    zone("-7_1", 600, &[802, 841, 871, 837]),
    // Phoenix, Tucson: Arizona keeps standard time all year.
    zone("-7_0", 200, &[850, 857]),
    // Los Angeles, San Francisco, San Diego, Seattle, Portland, Las Vegas.
    zone("-8_1", 1_300, &[900, 941, 921, 981, 972, 891]),
    // Anchorage, Fairbanks.
    zone("-9_1", 100, &[995, 997]),
    // Honolulu.
    zone("-10_0", 100, &[968]),
    zone("", 100, &[]),
];

pub(super) const fn zone(offset: &'static str, weight: u32, zip_prefixes: &'static [u32]) -> Zone {
    Zone {
        offset,
        weight,
        zip_prefixes,
    }
}

/// Where the campaign stands, per 10,000 contacts: nearly all still to be texted, a few
/// conversations under way.
pub(super) const STATUSES: [(MessageStatus, u32); 5] = [
    (MessageStatus::NeedsMessage, 9_700),
    (MessageStatus::Messaged, 150),
    (MessageStatus::NeedsResponse, 60),
    (MessageStatus::Convo, 50),
    (MessageStatus::Closed, 40),
];

/// Contacts' first names, separated by spaces.
pub(super) const FIRST_NAMES: &str = "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William \
     Barbara Richard Susan Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy Anthony Betty \
     Luis Sandra Mark Ashley DeShawn Kimberly Kevin Emily Hiroshi Donna Tyrone Michelle Mohammed Aaliyah";

/// Contacts' last names, separated by spaces.
pub(super) const LAST_NAMES: &str = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez \
     Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White \
     Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Nguyen Kim Patel Washington \
     Yazzie";
