//! Which `campaign_contact.timezone_offset` values are within texting hours ("valid now") at an
//! injected `now`, as Spoke's `getCampaignOffsets` (`src/server/api/assignment.js`) computes with
//! `getOffsets`, `isBetweenTextingHours` and `defaultTimezoneIsBetweenTextingHours`
//! (`src/lib/timezones.js`) and `DstHelper` (`src/lib/dst-helper.js`).
//!
//! Offsets are stored as `{hours}_{dst}`, e.g. `-5_1`: hours east of UTC formatted like a
//! JavaScript number (`convertOffsetsToStrings`, `getTimezoneByZip` in `src/workers/jobs.js`;
//! `zip_code.timezone_offset` is a float, so India would be `5.5_0`, Newfoundland `-3.5_1`),
//! then `1` when the zone observes DST; `""` is an unknown zone.
//!
//! Candidate offsets: Spoke classifies a fixed US-centred list (`ALL_OFFSETS`) unless the
//! campaign carries `contactTimezones`, which its warm campaign cache fills with every offset
//! present in the campaign. We reproduce the warm-cache behaviour without scanning the
//! campaign: [`TimezoneRules::offsets_at`] classifies every well-formed offset on the
//! quarter-hour grid from -12 to +14, with both DST flags, plus `""`. Any other string (say
//! `+5_0`) is in neither set, as in Spoke. Like Spoke's `parseInt`, a fractional offset is
//! judged by its whole-hour part truncated toward zero (`5.5_0` as `5`, `-3.5_1` as `-3`), which
//! is also what Spoke's send-time check (`getSendBeforeTimeUtc`) uses. Spoke itself would put
//! `5.5_0` in neither list (it emits `5_0`); classifying it is our one deliberate difference.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::filter::TimezoneOffsets;
use crate::model::{Campaign, Organization};

/// `TIMEZONE_US_FALLBACK_WINDOW.missingTimeZone`: UTC-5 (in minutes) with DST, 12:00 to 21:00.
const FALLBACK: (i32, bool, i32, i32) = (-5 * 60, true, 12, 21);
/// `getProcessEnvDstReferenceTimezone`'s default.
const DEFAULT_DST_REFERENCE: Tz = chrono_tz::US::Eastern;
/// The candidate offsets, in quarter hours: -12 to +14.
const QUARTERS: std::ops::RangeInclusive<i32> = -48..=56;

/// A timezone setting whose value is not a zone name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} is `{value}`, which is not a known timezone; use an IANA name such as `US/Eastern`")]
pub struct TimezoneError {
    setting: String,
    value: String,
}

/// Texting-hours configuration of one campaign, resolved from campaign + organization
/// (`getCampaignOffsets`' `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextingHours {
    /// Whether texting hours are enforced; when not, every offset is valid.
    pub enforced: bool,
    /// First hour (inclusive) of the texting window.
    pub start: i32,
    /// Hour (exclusive) at which the window ends.
    pub end: i32,
    /// The campaign's `timezone` when the campaign's own hours apply and are enforced
    /// (`campaignTextingHours`). It then is the zone of unknown offsets and the DST reference.
    pub campaign_timezone: Option<Tz>,
}

/// Resolves the texting hours: the campaign's when `override_organization_texting_hours`, else
/// the organization's. Fails only when the campaign's hours apply, are enforced and its
/// `timezone` is not a zone name (Spoke throws there too).
pub fn texting_hours(
    campaign: &Campaign,
    organization: &Organization,
) -> Result<TextingHours, TimezoneError> {
    if !campaign.override_organization_texting_hours {
        return Ok(TextingHours {
            enforced: organization.texting_hours_enforced,
            start: organization.texting_hours_start,
            end: organization.texting_hours_end,
            campaign_timezone: None,
        });
    }
    let campaign_timezone = if campaign.texting_hours_enforced {
        let setting = format!("campaign.timezone of campaign {}", campaign.id);
        Some(parse_zone(&setting, &campaign.timezone)?)
    } else {
        None
    };
    Ok(TextingHours {
        enforced: campaign.texting_hours_enforced,
        start: campaign.texting_hours_start,
        end: campaign.texting_hours_end,
        campaign_timezone,
    })
}

/// The process-wide timezone settings: the default timezone for unknown offsets and the zone
/// whose DST decides whether `_1` offsets are shifted an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimezoneRules {
    default_tz: Option<Tz>,
    dst_reference: Tz,
}

impl TimezoneRules {
    /// `default_tz` is Spoke's `getProcessEnvTz(getConfig("DEFAULT_TZ", organization))`: the
    /// organization's `DEFAULT_TZ` feature, else the `DEFAULT_TZ` variable, else `TZ` unless it
    /// is `:UTC`. `dst_reference_tz` is `DST_REFERENCE_TIMEZONE` (default `US/Eastern`). Empty
    /// values count as unset, as in JavaScript.
    pub fn new(default_tz: Option<&str>, dst_reference_tz: Option<&str>) -> Result<Self, TimezoneError> {
        let default_tz = match default_tz.filter(|name| !name.is_empty()) {
            Some(name) => Some(parse_zone("DEFAULT_TZ", name)?),
            None => None,
        };
        let dst_reference = match dst_reference_tz.filter(|name| !name.is_empty()) {
            Some(name) => parse_zone("DST_REFERENCE_TIMEZONE", name)?,
            None => DEFAULT_DST_REFERENCE,
        };
        Ok(TimezoneRules {
            default_tz,
            dst_reference,
        })
    }

    /// Classifies every candidate offset (see the module documentation) and `""` at `now`.
    pub fn offsets_at(&self, hours: &TextingHours, now: DateTime<Utc>) -> TimezoneOffsets {
        // parseInt truncates toward zero, as does integer division.
        let candidates = QUARTERS.flat_map(|quarters| {
            [true, false].map(|dst| {
                (
                    format!("{}_{}", js_hours(quarters), u8::from(dst)),
                    Some((quarters / 4, dst)),
                )
            })
        });
        let mut offsets = TimezoneOffsets::default();
        for (offset, parsed) in candidates.chain([(String::new(), None)]) {
            let list = if self.is_valid(hours, parsed, now) {
                &mut offsets.valid
            } else {
                &mut offsets.invalid
            };
            list.insert(offset);
        }
        offsets
    }

    /// `isBetweenTextingHours(offsetData, config)`; `None` is the unknown zone (`null`).
    fn is_valid(&self, hours: &TextingHours, offset: Option<(i32, bool)>, now: DateTime<Utc>) -> bool {
        if !hours.enforced {
            return true;
        }
        if let (None, None, Some(zone)) = (offset, hours.campaign_timezone, self.default_tz) {
            // Only `null` (not offset 0) reaches the default timezone.
            return default_zone_contains(zone, hours, now);
        }
        let (start, end) = (hours.start, hours.end);
        // `isOffsetBetweenTextingHours(offsetData, start, end, missingTimezoneConfig, dstReference)`.
        let (offset_minutes, has_dst, dst_reference, start, end) = match (offset, hours.campaign_timezone) {
            // `offsetData.offset` is truthy: the contact's own offset.
            (Some((offset, has_dst)), zone) if offset != 0 => (
                offset * 60,
                has_dst,
                zone.unwrap_or(self.dst_reference),
                start,
                end,
            ),
            // Unknown zone or offset 0 under campaign hours: the campaign's zone and hours.
            (_, Some(zone)) => {
                let (standard, has_dst) = standard_offset_and_dst(zone, now.year());
                (standard, has_dst, zone, start, end)
            }
            // Otherwise Spoke's fixed fallback, hours included.
            _ => {
                let (offset_minutes, has_dst, start, end) = FALLBACK;
                (offset_minutes, has_dst, self.dst_reference, start, end)
            }
        };
        let hour = local_hour(now, offset_minutes, has_dst, dst_reference);
        start <= hour && hour < end
    }
}

/// `getLocalTime`: the hour at `offset_minutes`, plus one hour when the zone has DST and DST is
/// in effect in `dst_reference`.
fn local_hour(now: DateTime<Utc>, offset_minutes: i32, has_dst: bool, dst_reference: Tz) -> i32 {
    let shift = if has_dst && is_dst(dst_reference, now) {
        60
    } else {
        0
    };
    let seconds = i64::from(now.num_seconds_from_midnight()) + i64::from(offset_minutes + shift) * 60;
    // Below 24, so the cast is lossless.
    (seconds.rem_euclid(86_400) / 3_600) as i32
}

/// `DstHelper.isDateDst`: `zone` has DST and its offset now is its standard offset plus 60.
fn is_dst(zone: Tz, now: DateTime<Utc>) -> bool {
    let (standard, has_dst) = standard_offset_and_dst(zone, now.year());
    has_dst && offset_minutes(zone, now) == standard + 60
}

/// `DstHelper.ensureTimezoneDstCalculated`: the smaller of the offsets at local midnight on
/// January 1 and June 1, and whether they differ. Spoke uses the server's current year (cached
/// for the process lifetime); we use the year of `now` in UTC.
fn standard_offset_and_dst(zone: Tz, year: i32) -> (i32, bool) {
    let at = |month| {
        NaiveDate::from_ymd_opt(year, month, 1)
            .map_or(0, |day| offset_minutes(zone, local_midnight(zone, day)))
    };
    let (january, june) = (at(1), at(6));
    (january.min(june), january != june)
}

fn offset_minutes(zone: Tz, at: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
        / 60
}

/// Local midnight of `day` as moment-timezone reads it: the earlier instant when ambiguous, and
/// with the offset before the gap when skipped.
fn local_midnight(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_time(NaiveTime::MIN);
    if let Some(instant) = zone.from_local_datetime(&naive).earliest() {
        return instant.with_timezone(&Utc);
    }
    let before = naive.checked_sub_signed(TimeDelta::days(1)).unwrap_or(naive);
    let offset = zone.offset_from_utc_datetime(&before).fix().local_minus_utc();
    Utc.from_utc_datetime(&(naive - TimeDelta::seconds(i64::from(offset))))
}

/// The `DEFAULT_TZ` branch of `isBetweenTextingHours`: today's local midnight plus `start` and
/// `end` elapsed hours (moment's `add(n, "hours")`), inclusive at both ends (`"[]"`).
fn default_zone_contains(zone: Tz, hours: &TextingHours, now: DateTime<Utc>) -> bool {
    let midnight = local_midnight(zone, now.with_timezone(&zone).date_naive());
    let start = midnight + TimeDelta::hours(i64::from(hours.start));
    let stop = midnight + TimeDelta::hours(i64::from(hours.end));
    start <= now && now <= stop
}

/// `quarters / 4` hours as JavaScript's `Number.prototype.toString` writes it.
fn js_hours(quarters: i32) -> String {
    let sign = if quarters < 0 { "-" } else { "" };
    let fraction = ["", ".25", ".5", ".75"][(quarters.unsigned_abs() % 4) as usize];
    format!("{sign}{}{fraction}", quarters.unsigned_abs() / 4)
}

fn parse_zone(setting: &str, value: &str) -> Result<Tz, TimezoneError> {
    value.parse().map_err(|_| TimezoneError {
        setting: setting.to_string(),
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn at(time: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(time)
            .expect("test time")
            .with_timezone(&Utc)
    }

    /// Organization hours (or campaign hours without enforcement).
    fn org(start: i32, end: i32, enforced: bool) -> TextingHours {
        TextingHours {
            enforced,
            start,
            end,
            campaign_timezone: None,
        }
    }

    /// Enforced campaign hours in `zone`.
    fn camp(start: i32, end: i32, zone: &str) -> TextingHours {
        TextingHours {
            enforced: true,
            start,
            end,
            campaign_timezone: Some(zone.parse().expect("zone")),
        }
    }

    fn rules(default_tz: Option<&str>) -> TimezoneRules {
        TimezoneRules::new(default_tz, None).expect("test rules")
    }

    /// Whether `offset` is valid at `now`; panics unless it is in exactly one list.
    fn valid(rules: &TimezoneRules, hours: &TextingHours, now: &str, offset: &str) -> bool {
        let offsets = rules.offsets_at(hours, at(now));
        let valid = offsets.valid.contains(offset);
        assert_ne!(
            valid,
            offsets.invalid.contains(offset),
            "{offset} must be in exactly one list"
        );
        valid
    }

    /// Spoke's `ALL_OFFSETS`, both DST flags, and the ones `getOffsets` finds valid.
    fn spoke_valid(now: &str, hours: &TextingHours) -> Vec<String> {
        let all = [-4, -5, -6, -7, -8, -9, -10, -11, 10];
        let candidates = [1, 0]
            .into_iter()
            .flat_map(|dst| all.map(|hour| format!("{hour}_{dst}")));
        candidates
            .filter(|offset| valid(&rules(None), hours, now, offset))
            .collect()
    }

    #[test]
    fn get_local_time_follows_dst_in_the_reference_zone() {
        let (winter, summer) = (at("2018-02-01T15:00:00Z"), at("2018-07-21T15:00:00Z"));
        assert_eq!(local_hour(winter, -300, true, DEFAULT_DST_REFERENCE), 10);
        assert_eq!(local_hour(summer, -300, true, DEFAULT_DST_REFERENCE), 11);
        assert_eq!(local_hour(summer, -300, false, DEFAULT_DST_REFERENCE), 10);
        assert!(
            is_dst(chrono_tz::Australia::Sydney, winter) && !is_dst(chrono_tz::Australia::Sydney, summer)
        );
        assert!(!is_dst(chrono_tz::Asia::Kathmandu, summer) && !is_dst(chrono_tz::US::Arizona, summer));
        assert_eq!(
            standard_offset_and_dst(chrono_tz::US::Eastern, 2018),
            (-300, true)
        );
        assert_eq!(
            standard_offset_and_dst(chrono_tz::US::Arizona, 2018),
            (-420, false)
        );
        assert_eq!(
            standard_offset_and_dst(chrono_tz::Europe::London, 2018),
            (0, true)
        );
    }

    #[test]
    fn get_offsets_in_july_and_january() {
        let hours = org(10, 12, true);
        assert_eq!(
            spoke_valid("2018-07-21T17:00:00Z", &hours),
            ["-7_1", "-8_1", "-6_0", "-7_0"]
        );
        assert_eq!(
            spoke_valid("2018-02-01T17:00:00Z", &hours),
            ["-6_1", "-7_1", "-6_0", "-7_0"]
        );
    }

    #[test]
    fn offset_zero_uses_the_fallback_window_as_in_spokes_campaign_offsets_test() {
        let (hours, now) = (org(10, 12, true), "2018-02-01T17:00:00Z");
        for offset in ["0_1", "0_0", "-0.5_1"] {
            assert!(valid(&rules(None), &hours, now, offset), "{offset}");
        }
        for offset in [
            "-12_1", "-11_1", "-5_1", "-4_1", "5_1", "10_1", "-12_0", "-11_0", "5_0", "10_0",
        ] {
            assert!(!valid(&rules(None), &hours, now, offset), "{offset}");
        }
        // Even with DEFAULT_TZ set, offset 0 keeps the hard-coded fallback.
        assert!(valid(&rules(Some("America/Los_Angeles")), &hours, now, "0_0"));
    }

    #[test]
    fn unknown_zone_with_default_tz_is_inclusive_at_both_ends() {
        let (la, noon) = (rules(Some("America/Los_Angeles")), "2018-02-01T20:00:00Z");
        assert!(valid(&la, &org(1, 1, false), noon, ""));
        for (start, end, expected) in [(5, 7, false), (14, 21, false), (10, 21, true), (12, 21, true)] {
            assert_eq!(
                valid(&la, &org(start, end, true), noon, ""),
                expected,
                "{start}-{end}"
            );
        }
        assert!(valid(&la, &org(10, 12, true), noon, ""));
        assert!(!valid(&la, &org(10, 12, true), "2018-02-01T20:00:01Z", ""));
        assert!(!valid(&la, &org(13, 21, true), "2018-02-01T20:59:59Z", ""));
    }

    #[test]
    fn unknown_zone_without_default_tz_uses_eastern_noon_to_nine() {
        let hours = org(0, 0, true); // ignored: the fallback has its own hours
        assert!(valid(&rules(None), &org(0, 0, false), "2018-02-01T16:00:00Z", ""));
        for (now, expected) in [
            ("2018-02-01T17:00:00Z", true),  // 12:00 EST
            ("2018-02-01T16:59:59Z", false), // 11:59 EST
            ("2018-02-02T01:59:59Z", true),  // 20:59 EST
            ("2018-02-02T02:00:00Z", false), // 21:00 EST
            ("2018-07-01T16:00:00Z", true),  // 12:00 EDT
            ("2018-07-01T15:59:59Z", false), // 11:59 EDT
        ] {
            assert_eq!(valid(&rules(None), &hours, now, ""), expected, "{now}");
        }
    }

    #[test]
    fn contact_offset_under_organization_hours() {
        let noon = "2018-02-01T20:00:00Z"; // 12:00 at -8
        assert!(valid(&rules(None), &org(0, 0, false), noon, "-8_1"));
        for (start, end, expected) in [
            (5, 7, false),
            (14, 21, false),
            (10, 21, true),
            (12, 21, true),
            (10, 12, false),
            (10, 13, true),
        ] {
            assert_eq!(
                valid(&rules(None), &org(start, end, true), noon, "-8_1"),
                expected,
                "{start}-{end}"
            );
        }
    }

    #[test]
    fn campaign_hours_use_the_campaign_zone_for_dst_and_unknown_offsets() {
        for (now, zone, offset, last_valid_start) in [
            ("2018-01-01T20:00:00Z", "US/Eastern", "-5_1", 15),
            ("2018-06-01T20:00:00Z", "US/Eastern", "-5_1", 16),
            ("2018-01-01T22:00:00Z", "US/Arizona", "-7_1", 15),
            ("2018-06-01T22:00:00Z", "US/Arizona", "-7_1", 15),
        ] {
            for start in 14..18 {
                let expected = start <= last_valid_start;
                assert_eq!(
                    valid(&rules(None), &camp(start, 18, zone), now, offset),
                    expected,
                    "{now} {start}"
                );
            }
        }
        let noon = "2018-02-01T20:00:00Z"; // 12:00 PST, 15:00 EST
        for (start, end, expected) in [
            (5, 7, false),
            (14, 21, false),
            (10, 21, true),
            (12, 21, true),
            (10, 12, false),
        ] {
            let hours = camp(start, end, "America/Los_Angeles");
            assert_eq!(
                valid(&rules(None), &hours, noon, "-8_1"),
                expected,
                "{start}-{end}"
            );
        }
        assert!(!valid(&rules(None), &camp(16, 21, "US/Eastern"), noon, ""));
        assert!(valid(&rules(None), &camp(9, 21, "US/Eastern"), noon, ""));
        // A campaign in Arizona never shifts `_1` offsets, even in July (11:30 instead of 12:30).
        let july = "2018-07-01T16:30:00Z";
        assert!(!valid(&rules(None), &camp(12, 21, "US/Arizona"), july, "-5_1"));
        assert!(valid(&rules(None), &camp(12, 21, "US/Eastern"), july, "-5_1"));
    }

    #[test]
    fn campaign_override_replaces_organization_hours() {
        let organization = Organization {
            id: 1,
            name: "org".into(),
            features: "{}".into(),
            texting_hours_enforced: true,
            texting_hours_start: 9,
            texting_hours_end: 21,
        };
        let mut campaign = Campaign {
            id: 7,
            organization_id: 1,
            title: "c".into(),
            is_started: true,
            is_archived: false,
            use_dynamic_assignment: true,
            due_by: None,
            batch_size: None,
            join_token: None,
            features: None,
            response_window: None,
            override_organization_texting_hours: false,
            texting_hours_enforced: false,
            texting_hours_start: 14,
            texting_hours_end: 16,
            timezone: "Not/AZone".into(),
        };
        assert_eq!(texting_hours(&campaign, &organization), Ok(org(9, 21, true)));
        campaign.override_organization_texting_hours = true;
        let relaxed = texting_hours(&campaign, &organization).expect("not enforced: zone unused");
        let everything = rules(None).offsets_at(&relaxed, at("2018-02-01T08:00:00Z"));
        assert!(
            everything.invalid.is_empty() && everything.valid.len() == 211 && everything.valid.contains("")
        );
        campaign.texting_hours_enforced = true;
        let error = texting_hours(&campaign, &organization)
            .expect_err("bad zone")
            .to_string();
        assert!(
            error.contains("campaign.timezone of campaign 7 is `Not/AZone`"),
            "{error}"
        );
        campaign.timezone = "US/Eastern".into();
        let hours = texting_hours(&campaign, &organization).expect("valid zone");
        assert_eq!(hours, camp(14, 16, "US/Eastern"));
        let now = "2018-02-01T19:30:00Z"; // 14:30 EST
        assert!(valid(&rules(None), &hours, now, "-5_0"));
        assert!(!valid(&rules(None), &org(9, 13, true), now, "-5_0"));
    }

    #[test]
    fn boundaries_are_start_inclusive_end_exclusive() {
        let hours = org(9, 21, true);
        for (now, offset, expected) in [
            ("2018-02-01T13:59:59Z", "-5_0", false),
            ("2018-02-01T14:00:00Z", "-5_0", true),
            ("2018-02-02T01:59:59Z", "-5_0", true),
            ("2018-02-02T02:00:00Z", "-5_0", false),
            ("2018-07-02T01:30:00Z", "-5_0", true),  // 20:30, no DST
            ("2018-07-02T01:30:00Z", "-5_1", false), // 21:30 EDT
        ] {
            assert_eq!(
                valid(&rules(None), &hours, now, offset),
                expected,
                "{now} {offset}"
            );
        }
    }

    #[test]
    fn fractional_offsets_are_written_like_javascript_and_truncated_like_parse_int() {
        let offsets = rules(None).offsets_at(&org(9, 21, true), at("2018-02-01T03:45:00Z"));
        assert!(offsets.valid.is_disjoint(&offsets.invalid));
        let all: BTreeSet<_> = offsets.valid.union(&offsets.invalid).cloned().collect();
        assert_eq!(all.len(), 105 * 2 + 1);
        let whole = (-12..=14).flat_map(|hour| [format!("{hour}_0"), format!("{hour}_1")]);
        assert!(whole.chain(["".into()]).all(|offset| all.contains(&offset)));
        for offset in [
            "-3.5_1", "5.75_0", "-9.5_0", "12.75_1", "-0.25_0", "0.5_0", "14_1", "-12_0",
        ] {
            assert!(all.contains(offset), "{offset}");
        }
        // 09:15 in India, but judged as UTC+5 (08:45), like Spoke's parseInt.
        assert!(offsets.invalid.contains("5.5_0") && offsets.invalid.contains("5_0"));
        assert!(offsets.valid.contains("6_0"));
        // A campaign zone's fractional offset is used in full (330 minutes).
        let india = camp(9, 21, "Asia/Kolkata");
        assert!(!valid(&rules(None), &india, "2018-02-01T03:29:00Z", ""));
        assert!(valid(&rules(None), &india, "2018-02-01T03:30:00Z", ""));
    }

    #[test]
    fn dst_reference_zone_is_configurable_and_zone_names_are_checked() {
        let sydney = TimezoneRules::new(None, Some("Australia/Sydney")).expect("zone");
        // February: DST in Sydney, not in New York; -5_1 reads 12:00 instead of 11:00.
        let (hours, now) = (org(12, 21, true), "2018-02-01T16:00:00Z");
        assert!(valid(&sydney, &hours, now, "-5_1") && !valid(&rules(None), &hours, now, "-5_1"));
        assert_eq!(TimezoneRules::new(Some(""), Some("")), Ok(rules(None)));
        let error = TimezoneRules::new(Some("Eastern"), None)
            .expect_err("bad zone")
            .to_string();
        assert!(
            error.contains("DEFAULT_TZ is `Eastern`") && error.contains("US/Eastern"),
            "{error}"
        );
        let error = TimezoneRules::new(None, Some("EST5"))
            .expect_err("bad zone")
            .to_string();
        assert!(error.contains("DST_REFERENCE_TIMEZONE is `EST5`"), "{error}");
    }

    #[test]
    #[ignore]
    fn zz_differential_against_spoke() {
        #[derive(serde::Deserialize)]
        struct Case {
            now: i64,
            default_tz: Option<String>,
            dst_ref: Option<String>,
            enforced: bool,
            start: i32,
            end: i32,
            campaign_tz: Option<String>,
            valid: Vec<String>,
        }
        let cases: Vec<Case> =
            serde_json::from_str(&std::fs::read_to_string("/tmp/spoke-diff/cases.json").expect("read"))
                .expect("json");
        let mut failures = 0;
        for case in &cases {
            let rules =
                TimezoneRules::new(case.default_tz.as_deref(), case.dst_ref.as_deref()).expect("rules");
            let hours = TextingHours {
                enforced: case.enforced,
                start: case.start,
                end: case.end,
                campaign_timezone: case.campaign_tz.as_deref().map(|z| z.parse().expect("tz")),
            };
            let now = DateTime::from_timestamp_millis(case.now).expect("now");
            let ours = rules.offsets_at(&hours, now);
            let theirs: BTreeSet<String> = case.valid.iter().cloned().collect();
            if ours.valid != theirs {
                failures += 1;
                if failures < 15 {
                    eprintln!(
                        "{now} def={:?} ref={:?} enf={} {}-{} camp={:?}\n  only ours: {:?}\n  only spoke: {:?}",
                        case.default_tz,
                        case.dst_ref,
                        case.enforced,
                        case.start,
                        case.end,
                        case.campaign_tz,
                        ours.valid.difference(&theirs).collect::<Vec<_>>(),
                        theirs.difference(&ours.valid).collect::<Vec<_>>()
                    );
                }
            }
        }
        assert_eq!(failures, 0, "of {}", cases.len());
    }
}
