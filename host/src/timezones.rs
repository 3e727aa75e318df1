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
//!
//! Spoke's quirks are kept, not fixed: offset `0` is judged as an unknown zone (by the fixed
//! fallback window, or the campaign's zone), and DST is decided as `DstHelper` does on a server
//! whose clock is in UTC, switching at the transition's wall-clock time read in UTC.

use std::sync::{Arc, Mutex};

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
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

/// Classified offsets shared by the requests of one minute: classifying the 422 candidates
/// takes 50-100 µs, every request needs them, and they can change only when a minute begins
/// (texting hours start and end on whole hours, offsets are whole quarter hours, DST and years
/// switch on the hour), except that `DEFAULT_TZ`'s window includes its last instant. The key
/// holds the minute and whether `now` is that minute's first instant, so a cached answer is
/// always the one [`TimezoneRules::offsets_at`] would compute.
#[derive(Debug, Default)]
pub struct OffsetsCache {
    entries: Mutex<Vec<(OffsetsKey, Arc<TimezoneOffsets>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OffsetsKey {
    rules: TimezoneRules,
    hours: TextingHours,
    minute: i64,
    first_instant: bool,
}

impl OffsetsCache {
    /// More configurations than campaigns usually have; past it the cache starts over.
    const CAPACITY: usize = 256;

    /// [`TimezoneRules::offsets_at`], computed once per minute and configuration.
    pub fn offsets_at(
        &self,
        rules: &TimezoneRules,
        hours: &TextingHours,
        now: DateTime<Utc>,
    ) -> Arc<TimezoneOffsets> {
        let seconds = now.timestamp();
        let key = OffsetsKey {
            rules: *rules,
            hours: *hours,
            minute: seconds.div_euclid(60),
            first_instant: seconds.rem_euclid(60) == 0 && now.timestamp_subsec_nanos() == 0,
        };
        let cached = self
            .lock()
            .iter()
            .find(|(entry, _)| *entry == key)
            .map(|(_, offsets)| Arc::clone(offsets));
        if let Some(offsets) = cached {
            return offsets;
        }
        let offsets = Arc::new(rules.offsets_at(hours, now));
        let mut entries = self.lock();
        // Minutes other than this one and the previous are over (or a request's `now` is far
        // from the clock, as in an explain of another time: it gets its own entry).
        entries.retain(|(entry, _)| (key.minute - 1..=key.minute).contains(&entry.minute));
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.push((key, Arc::clone(&offsets)));
        offsets
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(OffsetsKey, Arc<TimezoneOffsets>)>> {
        // A panic elsewhere cannot leave the list half-written: every change is one call.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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

/// `DstHelper.isDateDst`: `zone` has DST and its offset is its standard offset plus 60. Spoke
/// reads the server's local wall clock as a wall-clock time in `zone` (`DateFunctions.Get`), so
/// on a server in UTC, as we assume, DST starts and ends at the transition's wall-clock time in
/// UTC (01:00 or 02:00 UTC), hours away from the real instant.
fn is_dst(zone: Tz, now: DateTime<Utc>) -> bool {
    let (standard, has_dst) = standard_offset_and_dst(zone, now.year());
    has_dst && offset_minutes(zone, from_wall_clock(zone, now.naive_utc())) == standard + 60
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

/// The instant of a wall-clock time in `zone` as moment-timezone and timezonecomplete read it:
/// the earlier one when ambiguous, and with the offset before the gap when skipped.
fn from_wall_clock(zone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    if let Some(instant) = zone.from_local_datetime(&wall).earliest() {
        return instant.with_timezone(&Utc);
    }
    let before = wall.checked_sub_signed(TimeDelta::days(1)).unwrap_or(wall);
    let offset = zone.offset_from_utc_datetime(&before).fix().local_minus_utc();
    Utc.from_utc_datetime(&(wall - TimeDelta::seconds(i64::from(offset))))
}

fn local_midnight(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    from_wall_clock(zone, day.and_time(NaiveTime::MIN))
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

    /// Each `(hours, now, offset, valid)`: `offset` is in exactly the expected list.
    fn check(rules: &TimezoneRules, cases: &[(TextingHours, &str, &str, bool)]) {
        for (hours, now, offset, expected) in cases {
            let offsets = rules.offsets_at(hours, at(now));
            let valid = offsets.valid.contains(*offset);
            assert_ne!(
                valid,
                offsets.invalid.contains(*offset),
                "{offset} in exactly one list"
            );
            assert_eq!(valid, *expected, "{offset} at {now} with {hours:?}");
        }
    }

    /// Spoke's `ALL_OFFSETS`, both DST flags, and the ones `getOffsets` finds valid.
    fn spoke_valid(now: &str, hours: TextingHours) -> Vec<String> {
        let all = [-4, -5, -6, -7, -8, -9, -10, -11, 10];
        let offsets = rules(None).offsets_at(&hours, at(now));
        let candidates = [1, 0]
            .into_iter()
            .flat_map(|dst| all.map(|hour| format!("{hour}_{dst}")));
        candidates
            .filter(|offset| offsets.valid.contains(offset))
            .collect()
    }

    #[test]
    fn local_time_and_dst_as_in_spokes_get_local_time_and_dst_helper_tests() {
        let (winter, summer) = (at("2018-02-01T15:00:00Z"), at("2018-07-21T15:00:00Z"));
        assert_eq!(local_hour(winter, -300, true, DEFAULT_DST_REFERENCE), 10);
        assert_eq!(local_hour(summer, -300, true, DEFAULT_DST_REFERENCE), 11);
        assert_eq!(local_hour(summer, -300, false, DEFAULT_DST_REFERENCE), 10);
        use chrono_tz::{Asia::Kathmandu, Australia::Sydney, Europe::London, US::Arizona, US::Eastern};
        assert!(is_dst(Sydney, winter) && !is_dst(Sydney, summer) && !is_dst(Kathmandu, summer));
        assert!(!is_dst(Arizona, summer) && is_dst(Eastern, summer) && !is_dst(Eastern, winter));
        let zones = [Eastern, Arizona, London].map(|zone| standard_offset_and_dst(zone, 2018));
        assert_eq!(zones, [(-300, true), (-420, false), (0, true)]);
    }

    #[test]
    fn get_offsets_in_july_and_january() {
        assert_eq!(
            spoke_valid("2018-07-21T17:00:00Z", org(10, 12, true)),
            ["-7_1", "-8_1", "-6_0", "-7_0"]
        );
        assert_eq!(
            spoke_valid("2018-02-01T17:00:00Z", org(10, 12, true)),
            ["-6_1", "-7_1", "-6_0", "-7_0"]
        );
    }

    #[test]
    fn is_between_texting_hours_under_organization_hours() {
        let noon = "2018-02-01T20:00:00Z"; // 12:00 at -8 and in Los Angeles
        let by_offset = [
            (5, 7, false),
            (14, 21, false),
            (10, 21, true),
            (12, 21, true),
            (10, 12, false),
        ];
        let cases = by_offset
            .iter()
            .map(|&(start, end, valid)| (org(start, end, true), noon, "-8_1", valid));
        check(
            &rules(None),
            &cases
                .chain([(org(10, 13, true), noon, "-8_1", true)])
                .collect::<Vec<_>>(),
        );
        check(
            &rules(None),
            &[
                (org(0, 0, false), noon, "-8_1", true),
                (org(0, 0, false), noon, "", true),
            ],
        );
        // Unknown zone, no DEFAULT_TZ: UTC-5 with DST, 12:00 to 21:00 whatever the hours.
        check(
            &rules(None),
            &[
                (org(0, 0, true), "2018-02-01T17:00:00Z", "", true), // 12:00 EST
                (org(0, 0, true), "2018-02-01T16:59:59Z", "", false), // 11:59 EST
                (org(0, 0, true), "2018-02-02T01:59:59Z", "", true), // 20:59 EST
                (org(0, 0, true), "2018-02-02T02:00:00Z", "", false), // 21:00 EST
                (org(0, 0, true), "2018-07-01T16:00:00Z", "", true), // 12:00 EDT
                (org(0, 0, true), "2018-07-01T15:59:59Z", "", false), // 11:59 EDT
            ],
        );
        // Unknown zone with DEFAULT_TZ: the organization's hours there, inclusive at both ends.
        let by_default_tz = by_offset
            .iter()
            .map(|&(start, end, valid)| (org(start, end, true), noon, "", valid || end == 12));
        let edges = [
            (org(10, 12, true), "2018-02-01T20:00:01Z", "", false),
            (org(13, 21, true), "2018-02-01T20:59:59Z", "", false),
        ];
        check(
            &rules(Some("America/Los_Angeles")),
            &by_default_tz.chain(edges).collect::<Vec<_>>(),
        );
    }

    #[test]
    fn the_offsets_cache_answers_what_offsets_at_computes() {
        let cache = OffsetsCache::default();
        let rules = rules(Some("America/Los_Angeles"));
        let hours = org(10, 12, true);
        // DEFAULT_TZ's window includes its last instant (12:00:00 PST) and nothing after it,
        // even within that minute.
        for (time, unknown_valid) in [
            ("2018-02-01T20:00:00Z", true),
            ("2018-02-01T20:00:01Z", false),
            ("2018-02-01T20:00:00Z", true),
            ("2018-02-01T19:59:59.5Z", true),
        ] {
            let cached = cache.offsets_at(&rules, &hours, at(time));
            assert_eq!(cached.valid.contains(""), unknown_valid, "at {time}");
            assert_eq!(*cached, rules.offsets_at(&hours, at(time)), "at {time}");
        }
        // Across an hour of seconds, hours that change at every quarter hour and DST: the
        // cache never differs from the computation.
        let start = at("2018-03-11T06:59:00Z");
        for step in (0..3_600).step_by(7) {
            let now = start + TimeDelta::seconds(step);
            for hours in [org(9, 21, true), org(2, 3, true), org(0, 0, false)] {
                assert_eq!(
                    *cache.offsets_at(&rules, &hours, now),
                    rules.offsets_at(&hours, now),
                    "at {now}"
                );
            }
        }
        // The same minute and configuration share one classification.
        let now = at("2018-02-01T20:10:30Z");
        assert!(Arc::ptr_eq(
            &cache.offsets_at(&rules, &hours, now),
            &cache.offsets_at(&rules, &hours, now + TimeDelta::seconds(20)),
        ));
    }

    #[test]
    fn is_between_texting_hours_under_campaign_hours() {
        // The campaign's zone is the DST reference: Arizona never shifts `_1` offsets.
        for (now, zone, offset, last_valid_start) in [
            ("2018-01-01T20:00:00Z", "US/Eastern", "-5_1", 15),
            ("2018-06-01T20:00:00Z", "US/Eastern", "-5_1", 16),
            ("2018-01-01T22:00:00Z", "US/Arizona", "-7_1", 15),
            ("2018-06-01T22:00:00Z", "US/Arizona", "-7_1", 15),
            ("2018-07-01T20:30:00Z", "US/Arizona", "-5_1", 15),
        ] {
            let cases = (14..18).map(|start| (camp(start, 18, zone), now, offset, start <= last_valid_start));
            check(&rules(None), &cases.collect::<Vec<_>>());
        }
        let noon = "2018-02-01T20:00:00Z"; // 12:00 PST, 15:00 EST
        let la = |start, end| camp(start, end, "America/Los_Angeles");
        check(
            &rules(Some("America/Los_Angeles")),
            &[
                (la(5, 7), noon, "-8_1", false),
                (la(14, 21), noon, "-8_1", false),
                (la(10, 21), noon, "-8_1", true),
                (la(12, 21), noon, "-8_1", true),
                (la(10, 12), noon, "-8_1", false),
                // Unknown zones and offset 0 are in the campaign's zone, with its hours.
                (camp(16, 21, "US/Eastern"), noon, "", false),
                (camp(9, 21, "US/Eastern"), noon, "", true),
                (camp(15, 16, "US/Eastern"), noon, "0_1", true),
                (camp(9, 21, "Asia/Kolkata"), "2018-02-01T03:29:00Z", "", false),
                (camp(9, 21, "Asia/Kolkata"), "2018-02-01T03:30:00Z", "", true),
            ],
        );
    }

    #[test]
    fn offset_zero_uses_the_fallback_window_as_in_spokes_campaign_offsets_test() {
        let (hours, now) = (org(10, 12, true), "2018-02-01T17:00:00Z"); // 12:00 EST, 17:00 at UTC
        let valid = ["0_1", "0_0", "-0.5_1"].map(|offset| (hours, now, offset, true));
        let invalid = [
            "-12_1", "-11_1", "-5_1", "-4_1", "5_1", "10_1", "-12_0", "-11_0", "5_0", "10_0",
        ];
        let cases: Vec<_> = valid
            .into_iter()
            .chain(invalid.map(|offset| (hours, now, offset, false)))
            .collect();
        check(&rules(None), &cases);
        // Even with DEFAULT_TZ set, offset 0 keeps the hard-coded fallback.
        check(&rules(Some("America/Los_Angeles")), &cases);
    }

    #[test]
    fn texting_hours_come_from_the_campaign_when_it_overrides() {
        let organization: Organization = serde_json::from_str(
            r#"{"id": 1, "name": "o", "features": "{}", "texting_hours_enforced": true,
                "texting_hours_start": 9, "texting_hours_end": 21}"#,
        )
        .expect("organization");
        let mut campaign: Campaign = serde_json::from_str(
            r#"{"id": 7, "organization_id": 1, "title": "c", "is_started": true, "is_archived": false,
                "use_dynamic_assignment": true, "due_by": null, "batch_size": null, "join_token": null,
                "features": null, "response_window": null, "override_organization_texting_hours": false,
                "texting_hours_enforced": false, "texting_hours_start": 14, "texting_hours_end": 16,
                "timezone": "Not/AZone"}"#,
        )
        .expect("campaign");
        assert_eq!(texting_hours(&campaign, &organization), Ok(org(9, 21, true)));
        campaign.override_organization_texting_hours = true;
        let relaxed = texting_hours(&campaign, &organization).expect("not enforced: zone unused");
        let all = rules(None).offsets_at(&relaxed, at("2018-02-01T08:00:00Z"));
        assert!(all.invalid.is_empty() && all.valid.len() == 211 && all.valid.contains(""));
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
        check(
            &rules(None),
            &[(hours, now, "-5_0", true), (org(9, 13, true), now, "-5_0", false)],
        );
    }

    #[test]
    fn boundaries_are_start_inclusive_end_exclusive() {
        let hours = org(9, 21, true);
        check(
            &rules(None),
            &[
                (hours, "2018-02-01T13:59:59Z", "-5_0", false),
                (hours, "2018-02-01T14:00:00Z", "-5_0", true),
                (hours, "2018-02-02T01:59:59Z", "-5_0", true),
                (hours, "2018-02-02T02:00:00Z", "-5_0", false),
                (hours, "2018-07-02T01:30:00Z", "-5_0", true), // 20:30, no DST
                (hours, "2018-07-02T01:30:00Z", "-5_1", false), // 21:30 EDT
            ],
        );
    }

    #[test]
    fn fractional_offsets_are_written_like_javascript_and_truncated_like_parse_int() {
        let offsets = rules(None).offsets_at(&org(9, 21, true), at("2018-02-01T03:45:00Z"));
        assert!(offsets.valid.is_disjoint(&offsets.invalid));
        let all: BTreeSet<_> = offsets.valid.union(&offsets.invalid).cloned().collect();
        assert_eq!(all.len(), 105 * 2 + 1);
        let whole = (-12..=14).flat_map(|hour| [format!("{hour}_0"), format!("{hour}_1")]);
        assert!(whole.chain(["".into()]).all(|offset| all.contains(&offset)));
        let fractional = ["-3.5_1", "5.75_0", "-9.5_0", "12.75_1", "-0.25_0", "0.5_0"];
        assert!(fractional.iter().all(|offset| all.contains(*offset)));
        // 09:15 in India, but judged as UTC+5 (08:45), like Spoke's parseInt.
        assert!(offsets.invalid.contains("5.5_0") && offsets.invalid.contains("5_0"));
        assert!(offsets.valid.contains("6_0"));
    }

    #[test]
    fn dst_reference_zone_is_configurable_and_zone_names_are_checked() {
        let sydney = TimezoneRules::new(None, Some("Australia/Sydney")).expect("zone");
        // February: DST in Sydney, not in New York; -5_1 reads 12:00 instead of 11:00.
        let (hours, now) = (org(12, 21, true), "2018-02-01T16:00:00Z");
        check(
            &sydney,
            &[(hours, now, "-5_1", true), (hours, now, "-5_0", false)],
        );
        check(&rules(None), &[(hours, now, "-5_1", false)]);
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
    fn dst_switches_when_the_utc_wall_clock_passes_the_transition_as_in_spoke() {
        // Really from 2021-03-14T07:00Z to 2021-11-07T06:00Z; Spoke on a UTC server: 02:00Z to 02:00Z.
        let eastern = chrono_tz::US::Eastern;
        assert!(!is_dst(eastern, at("2021-03-14T01:59:59Z")) && is_dst(eastern, at("2021-03-14T02:00:00Z")));
        assert!(is_dst(eastern, at("2021-11-07T01:59:59Z")) && !is_dst(eastern, at("2021-11-07T02:00:00Z")));
        // 20:30 CST on Saturday evening, but read as 21:30.
        check(
            &rules(None),
            &[(org(4, 21, true), "2021-03-14T02:30:00Z", "-6_1", false)],
        );
    }
}
