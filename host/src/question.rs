//! The questions a strategy asks the host about its request's data (`count-contacts`,
//! `any-contact`, `assignment-user-has-role`) as values: what the engine remembers and asks
//! ahead ([`crate::engine`]) and what the database answers in SQL ([`crate::db`]). A leaf
//! beside [`crate::filter`] and [`crate::model`], so the database layer can compile questions
//! without importing the engine that sits above it.

use crate::filter::{ContactFilter, RequestScope};
use crate::model::Role;

/// A question a strategy can ask about its request's data. Two questions are the same when
/// their arguments are, which is how an answer read ahead is matched to the strategy's call.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// `count-contacts(filter, cap)`.
    Count {
        /// The contacts counted.
        filter: ContactFilter,
        /// Where counting stops.
        cap: Option<u32>,
    },
    /// `any-contact(filter)`.
    Any {
        /// The contacts looked for.
        filter: ContactFilter,
    },
    /// `assignment-user-has-role(role)`.
    HasRole(Role),
}

/// The answer to a [`Question`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// To [`Question::Count`].
    Count(u32),
    /// To [`Question::Any`] and [`Question::HasRole`].
    Flag(bool),
}

/// What every question of one request is confined to: the request's campaign, assignment and
/// valid timezone offsets, and the assignment's user in its organization (whose role
/// [`Question::HasRole`] asks about).
#[derive(Debug, Clone)]
pub struct QuestionScope {
    /// The campaign, assignment and valid timezone offsets.
    pub request: RequestScope,
    /// The assignment's user.
    pub user_id: i64,
    /// The campaign's organization.
    pub organization_id: i64,
}
