//! Spoke's rows, as the host reads them: `organization`, `user`, `assignment`, `campaign` and
//! `campaign_contact`, with Spoke's enums (`message_status`, `user_organization.role`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An `organization` row (the columns dynamic assignment reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Organization {
    /// `organization.id`.
    pub id: i64,
    /// `organization.name`.
    pub name: String,
    /// `organization.features`: JSON object text; empty or `{}` when unset.
    pub features: String,
    /// `organization.texting_hours_enforced`.
    pub texting_hours_enforced: bool,
    /// `organization.texting_hours_start`.
    pub texting_hours_start: i32,
    /// `organization.texting_hours_end`.
    pub texting_hours_end: i32,
}

/// A `campaign` row (the columns dynamic assignment reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Campaign {
    /// `campaign.id`.
    pub id: i64,
    /// `campaign.organization_id`.
    pub organization_id: i64,
    /// `campaign.title`.
    pub title: String,
    /// `campaign.is_started`.
    pub is_started: bool,
    /// `campaign.is_archived`.
    pub is_archived: bool,
    /// `campaign.use_dynamic_assignment`.
    pub use_dynamic_assignment: bool,
    /// `campaign.due_by`.
    pub due_by: Option<DateTime<Utc>>,
    /// `campaign.batch_size`.
    pub batch_size: Option<i32>,
    /// `campaign.join_token`.
    pub join_token: Option<String>,
    /// `campaign.features`: JSON object text, when set.
    pub features: Option<String>,
    /// `campaign.response_window`, in hours.
    pub response_window: Option<f64>,
    /// `campaign.override_organization_texting_hours`.
    pub override_organization_texting_hours: bool,
    /// `campaign.texting_hours_enforced`.
    pub texting_hours_enforced: bool,
    /// `campaign.texting_hours_start`.
    pub texting_hours_start: i32,
    /// `campaign.texting_hours_end`.
    pub texting_hours_end: i32,
    /// `campaign.timezone`.
    pub timezone: String,
}

/// An `assignment` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Assignment {
    /// `assignment.id`.
    pub id: i64,
    /// `assignment.user_id`.
    pub user_id: i64,
    /// `assignment.campaign_id`.
    pub campaign_id: i64,
    /// `assignment.max_contacts`.
    pub max_contacts: Option<i32>,
}

/// A `user` row (the columns a strategy is told about).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct User {
    /// `user.id`.
    pub id: i64,
    /// `user.first_name`.
    pub first_name: String,
    /// `user.last_name`.
    pub last_name: String,
    /// `user.is_superadmin`: may act on any assignment.
    pub is_superadmin: bool,
}

/// A `campaign_contact` row (the columns dynamic assignment filters on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CampaignContact {
    /// `campaign_contact.id`.
    pub id: i64,
    /// `campaign_contact.campaign_id`.
    pub campaign_id: i64,
    /// `campaign_contact.assignment_id`.
    pub assignment_id: Option<i64>,
    /// `campaign_contact.message_status`.
    #[sqlx(try_from = "String")]
    pub message_status: MessageStatus,
    /// `campaign_contact.is_opted_out`.
    pub is_opted_out: bool,
    /// `campaign_contact.timezone_offset`, like `-5_1`; empty when unknown.
    pub timezone_offset: String,
}

/// Error for a value that is not one of Spoke's names for an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct UnknownName {
    kind: &'static str,
    value: String,
    expected: String,
}

/// Declares an enum whose values are stored in Spoke's tables under fixed names.
macro_rules! spoke_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name Spoke stores in its tables.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownName;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName {
                        kind: $kind,
                        value: value.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

spoke_enum! {
    /// `campaign_contact.message_status`.
    MessageStatus, "message_status" {
        /// The initial text has not been sent.
        NeedsMessage => "needsMessage",
        /// The contact replied and waits for the texter.
        NeedsResponse => "needsResponse",
        /// An ongoing conversation.
        Convo => "convo",
        /// The initial text was sent, no reply yet.
        Messaged => "messaged",
        /// The conversation is over.
        Closed => "closed",
        /// Being changed by another operation.
        Updating => "UPDATING",
    }
}

spoke_enum! {
    /// `user_organization.role`, ordered from least to most privileged as in Spoke's
    /// `ROLE_HIERARCHY`, so `Ord` answers "has role R or above".
    Role, "role" {
        /// May not text in the organization.
        Suspended => "SUSPENDED",
        /// A texter.
        Texter => "TEXTER",
        /// A vetted texter.
        VettedTexter => "VETTED_TEXTER",
        /// A supervolunteer.
        Supervolunteer => "SUPERVOLUNTEER",
        /// An administrator.
        Admin => "ADMIN",
        /// An owner.
        Owner => "OWNER",
    }
}

impl Role {
    /// Whether a user whose highest role is `self` "has role" `wanted`.
    pub fn has_at_least(self, wanted: Role) -> bool {
        self >= wanted
    }

    /// The highest of `roles` as `user_organization` spells them (Spoke may keep several rows
    /// for one user in one organization); a role Spoke's hierarchy does not rank, such as
    /// `ORG_SUPERADMIN`, is ignored.
    pub fn highest<'a>(roles: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        roles.into_iter().filter_map(|role| role.parse().ok()).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_round_trip_through_spokes_spelling() {
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>(), Ok(*status));
        }
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        let error = "needsmessage".parse::<MessageStatus>().unwrap_err();
        assert!(error.to_string().contains("needsMessage, needsResponse"));
    }

    #[test]
    fn roles_follow_spokes_hierarchy() {
        assert!(Role::Supervolunteer.has_at_least(Role::VettedTexter));
        assert!(Role::Owner.has_at_least(Role::Admin));
        assert!(!Role::Texter.has_at_least(Role::VettedTexter));
        assert!(!Role::Suspended.has_at_least(Role::Texter));
        assert_eq!(
            Role::highest(["TEXTER", "ORG_SUPERADMIN", "ADMIN", "SUSPENDED"]),
            Some(Role::Admin)
        );
        assert_eq!(Role::highest(["ORG_SUPERADMIN"]), None);
    }
}
