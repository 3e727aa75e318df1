//! A request time named by a client (`now` of explain, replay and the unassigned count) or by
//! the operator (`--now`): validated once, here, for the HTTP API and the command line alike.
//!
//! Texting hours and timezone offsets are computed from this time; a time far outside the
//! range any campaign lives in (year 262142, say) overflows the timezone arithmetic, so it is
//! refused before anything uses it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};

/// A time within [`RequestTime::EARLIEST`] ..< [`RequestTime::end`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestTime(DateTime<Utc>);

/// Why a time cannot be a request's time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestTimeError {
    /// Not an RFC 3339 time.
    #[error("`{text}` is not an RFC 3339 time such as 2026-03-02T15:00:00Z ({reason})")]
    Malformed {
        /// What was given.
        text: String,
        /// What the parser said.
        reason: String,
    },
    /// A valid time, but outside the range a request may name.
    #[error(
        "{0} is out of range: a request time must be from 1970-01-01T00:00:00Z up to (not \
         including) 2200-01-01T00:00:00Z"
    )]
    OutOfRange(DateTime<Utc>),
}

impl RequestTime {
    /// The earliest request time: 1970-01-01T00:00:00Z.
    pub const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;

    /// The first time past the range: 2200-01-01T00:00:00Z.
    pub fn end() -> DateTime<Utc> {
        // 2200-01-01T00:00:00Z is 7,258,118,400 s after the epoch.
        Utc.timestamp_opt(7_258_118_400, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// `time`, if it is within the range.
    pub fn new(time: DateTime<Utc>) -> Result<Self, RequestTimeError> {
        if time < Self::EARLIEST || time >= Self::end() {
            return Err(RequestTimeError::OutOfRange(time));
        }
        Ok(RequestTime(time))
    }

    /// The time.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl FromStr for RequestTime {
    type Err = RequestTimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // chrono's own parser, as serde and clap use for `DateTime<Utc>`: RFC 3339 with its
        // usual relaxations (a space for `T`, years beyond four digits).
        let time = text
            .parse::<DateTime<Utc>>()
            .map_err(|error| RequestTimeError::Malformed {
                text: text.to_string(),
                reason: error.to_string(),
            })?;
        RequestTime::new(time)
    }
}

impl fmt::Display for RequestTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for RequestTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_1970_up_to_2200() {
        assert_eq!(RequestTime::end().to_rfc3339(), "2200-01-01T00:00:00+00:00");
        for inside in [
            "1970-01-01T00:00:00Z",
            "2026-03-02T15:00:00-05:00",
            "2199-12-31T23:59:59Z",
        ] {
            assert!(inside.parse::<RequestTime>().is_ok(), "{inside}");
        }
        for outside in [
            "1969-12-31T23:59:59Z",
            "2200-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let error = outside.parse::<RequestTime>().unwrap_err();
            assert!(
                matches!(error, RequestTimeError::OutOfRange(_)),
                "{outside}: {error}"
            );
            assert!(error.to_string().contains("2200-01-01"), "{error}");
        }
    }

    #[test]
    fn malformed_and_far_away_times_are_refused_with_their_reason() {
        let error = "yesterday".parse::<RequestTime>().unwrap_err();
        assert!(
            error.to_string().contains("`yesterday` is not an RFC 3339 time"),
            "{error}"
        );
        let error = "+262142-12-31T23:59:59Z".parse::<RequestTime>().unwrap_err();
        assert!(matches!(error, RequestTimeError::OutOfRange(_)), "{error}");
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(RequestTime::new(far), Err(RequestTimeError::OutOfRange(far)));
        let early = DateTime::<Utc>::MIN_UTC;
        assert_eq!(RequestTime::new(early), Err(RequestTimeError::OutOfRange(early)));
    }
}
