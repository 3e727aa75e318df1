//! Contacts for a test to add, described by what differs from the usual contact: unassigned,
//! `needsMessage`, not opted out and with no timezone offset unless said otherwise. The same
//! description fills an in-memory [`Scenario`](super::Scenario) or a test database's campaign.

use spoke_batches::model::MessageStatus;

use super::db::TestDb;

/// The `updated_at` of every contact a test adds: long before any test's `now`.
pub const LONG_AGO: &str = "2020-01-01 00:00:00";

/// `count` contacts alike.
#[derive(Debug, Clone)]
pub struct Contacts {
    /// How many.
    pub count: usize,
    /// The assignment holding them, if any.
    pub assignment: Option<i64>,
    /// Spoke's `message_status`.
    pub status: MessageStatus,
    /// Whether they opted out.
    pub opted_out: bool,
    /// Spoke's `timezone_offset` (e.g. `-5_1`; empty for none).
    pub offset: String,
}

impl Contacts {
    /// `count` usual contacts.
    pub fn new(count: usize) -> Self {
        Contacts {
            count,
            assignment: None,
            status: MessageStatus::NeedsMessage,
            opted_out: false,
            offset: String::new(),
        }
    }

    /// Held by `assignment`.
    pub fn held_by(self, assignment: i64) -> Self {
        Contacts {
            assignment: Some(assignment),
            ..self
        }
    }

    /// With `status`.
    pub fn status(self, status: MessageStatus) -> Self {
        Contacts { status, ..self }
    }

    /// Opted out.
    pub fn opted_out(self) -> Self {
        Contacts {
            opted_out: true,
            ..self
        }
    }

    /// In the timezone `offset` (Spoke's `-5_1` form).
    pub fn in_zone(self, offset: &str) -> Self {
        Contacts {
            offset: offset.to_string(),
            ..self
        }
    }

    /// Inserts them into campaign `campaign_id` of `db`, last updated long ago.
    pub async fn add_to_campaign(&self, db: &TestDb, campaign_id: i64) {
        let Contacts {
            count,
            assignment,
            status,
            opted_out,
            offset,
        } = self;
        let assignment = assignment.map_or("NULL".to_string(), |id| id.to_string());
        let status = status.as_str();
        let rows: Vec<String> = (0..*count)
            .map(|i| {
                format!(
                    "({campaign_id}, '+1555{i:07}', '{status}', {assignment}, {opted_out}, '{offset}', \
                     '{LONG_AGO}')"
                )
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO campaign_contact (campaign_id, cell, message_status, assignment_id, is_opted_out, \
             timezone_offset, updated_at) VALUES {}",
            rows.join(", ")
        ))
        .await;
    }
}
