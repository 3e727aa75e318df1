//! Spoke's batch-size arithmetic (`findNewCampaignContact`, `hasUnassignedContactsForTexter`),
//! with JavaScript's falsy `0`/`null` made explicit, and the two fixes: a negative result
//! assigns nothing, and a null batch size is capped by what the strategy returned.

/// JavaScript's `a || b` for optional numbers: `0` and `null` are falsy.
fn or(value: Option<i64>, fallback: Option<i64>) -> Option<i64> {
    value.filter(|&v| v != 0).or(fallback)
}

/// The most a request can hand out before the strategy answers:
/// `min(numberContacts || batch_size || 1, batch_size ?? ∞)`, at least 0. A strategy count
/// above it changes nothing.
pub fn request_cap(number_contacts: Option<i64>, batch_size: Option<i32>) -> u32 {
    let batch_size = batch_size.map(i64::from);
    let wanted = or(number_contacts, or(batch_size, Some(1))).unwrap_or(1);
    clamp_u32(wanted.min(batch_size.unwrap_or(i64::MAX)))
}

/// How many contacts to assign (`numberContacts` in Spoke after clamping): 0 means none.
pub fn batch_size(
    number_contacts: Option<i64>,
    batch_size: Option<i32>,
    available: u32,
    max_contacts: Option<i32>,
    contacts_count: i64,
) -> u32 {
    // Spoke goes negative when the texter already holds more than max_contacts; nothing then.
    clamp_u32(spoke_number_contacts(
        number_contacts,
        batch_size,
        available,
        max_contacts,
        contacts_count,
    ))
}

/// Spoke's own `numberContacts` before it builds the batch query, negative values included
/// (`findNewCampaignContact`): what a Spoke bridge's plan says, so the decision endpoint
/// reports it as Spoke will compute it.
pub fn spoke_number_contacts(
    number_contacts: Option<i64>,
    batch_size: Option<i32>,
    available: u32,
    max_contacts: Option<i32>,
    contacts_count: i64,
) -> i64 {
    let available = i64::from(available);
    let batch = batch_size.map(i64::from);
    let wanted = or(number_contacts, or(batch, Some(1))).unwrap_or(1);
    // A null batch size means "no cap" to Spoke here: the strategy's answer caps it.
    let size = wanted.min(batch.unwrap_or(available)).min(available);
    match max_contacts.map(i64::from).filter(|&max| max != 0) {
        Some(max) if contacts_count + size > max => max - contacts_count,
        _ => size,
    }
}

/// What Spoke's default texter sidebox asks for: the campaign's batch size, or 300 without one
/// (`batch_size || 300`).
pub fn default_sidebox_number(batch_size: Option<i32>) -> i64 {
    or(batch_size.map(i64::from), Some(300)).unwrap_or(300)
}

/// `hasUnassignedContactsForTexter`'s cap: `min(max_contacts || batch_size, batch_size)`, where
/// JavaScript's `Math.min` reads `null` as 0.
pub fn has_any_cap(max_contacts: Option<i32>, batch_size: Option<i32>) -> u32 {
    let batch = batch_size.map(i64::from);
    let first = or(max_contacts.map(i64::from), batch).unwrap_or(0);
    clamp_u32(first.min(batch.unwrap_or(0)))
}

/// `min(cap, available)`: the count that drives the "request texts" button.
pub fn has_any_count(max_contacts: Option<i32>, batch_size: Option<i32>, available: u32) -> u32 {
    has_any_cap(max_contacts, batch_size).min(available)
}

fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_texters_number_wins_when_below_the_batch_size() {
        assert_eq!(batch_size(Some(3), Some(10), 50, None, 0), 3);
        assert_eq!(batch_size(Some(30), Some(10), 50, None, 0), 10);
    }

    #[test]
    fn zero_or_no_number_means_a_full_batch() {
        assert_eq!(batch_size(Some(0), Some(10), 50, None, 0), 10);
        assert_eq!(batch_size(None, Some(10), 50, None, 0), 10);
    }

    #[test]
    fn the_strategys_count_caps_the_batch() {
        assert_eq!(batch_size(None, Some(10), 4, None, 0), 4);
        assert_eq!(batch_size(None, Some(10), 0, None, 0), 0);
    }

    #[test]
    fn a_null_batch_size_is_capped_by_the_strategy() {
        assert_eq!(batch_size(Some(25), None, 7, None, 0), 7);
        assert_eq!(
            batch_size(None, None, 7, None, 0),
            1,
            "numberContacts || batch_size || 1"
        );
        assert_eq!(request_cap(None, None), 1);
        assert_eq!(request_cap(Some(25), None), 25);
    }

    #[test]
    fn max_contacts_limits_what_is_left() {
        assert_eq!(batch_size(None, Some(10), 50, Some(12), 5), 7);
        assert_eq!(batch_size(None, Some(10), 50, Some(12), 12), 0);
        assert_eq!(
            batch_size(None, Some(10), 50, Some(0), 5),
            10,
            "0 is falsy: no cap here"
        );
    }

    #[test]
    fn a_texter_above_max_contacts_gets_nothing_not_a_negative_batch() {
        assert_eq!(batch_size(None, Some(10), 50, Some(12), 20), 0);
    }

    #[test]
    fn a_negative_batch_size_assigns_nothing() {
        assert_eq!(batch_size(None, Some(-5), 50, None, 0), 0);
        assert_eq!(request_cap(None, Some(-5)), 0);
    }

    #[test]
    fn spokes_own_number_goes_negative_where_the_engine_assigns_nothing() {
        assert_eq!(spoke_number_contacts(None, Some(10), 50, Some(12), 20), -8);
        assert_eq!(batch_size(None, Some(10), 50, Some(12), 20), 0);
        assert_eq!(spoke_number_contacts(Some(3), Some(10), 50, None, 0), 3);
    }

    #[test]
    fn the_default_sidebox_asks_for_the_batch_size_or_300() {
        assert_eq!(default_sidebox_number(Some(25)), 25);
        assert_eq!(default_sidebox_number(Some(0)), 300);
        assert_eq!(default_sidebox_number(None), 300);
    }

    #[test]
    fn has_any_follows_spokes_math_min_with_nulls_as_zero() {
        assert_eq!(has_any_count(None, Some(10), 1), 1);
        assert_eq!(has_any_count(Some(3), Some(10), 50), 3);
        assert_eq!(has_any_count(Some(30), Some(10), 50), 10);
        assert_eq!(has_any_count(None, None, 50), 0);
        assert_eq!(has_any_count(Some(0), Some(10), 50), 10);
    }
}
