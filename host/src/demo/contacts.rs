//! The demo's contacts, one row after another from the seeded RNG, and the other generated
//! values (UUIDs, cells).

use rand::Rng;
use rand::rngs::StdRng;

use super::data::{FIRST_NAMES, LAST_NAMES, STATUSES, ZONES};
use crate::model::MessageStatus;

/// A random (version 4) UUID from the seeded RNG, for `organization.uuid`.
pub(super) fn demo_uuid(rng: &mut StdRng) -> String {
    let (time_low, time_mid, version, variant, node) = (
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>(),
        rng.random::<u16>(),
        rng.random::<u64>(),
    );
    let (version, variant, node) = (
        0x4000 | (version & 0x0fff),
        0x8000 | (variant & 0x3fff),
        node >> 16,
    );
    format!("{time_low:08x}-{time_mid:04x}-{version:04x}-{variant:04x}-{node:012x}")
}

/// One `campaign_contact` row, less the campaign.
pub(super) struct ContactRow {
    pub(super) assignment_id: Option<i64>,
    pub(super) first_name: &'static str,
    pub(super) last_name: &'static str,
    pub(super) cell: String,
    pub(super) zip: String,
    pub(super) message_status: MessageStatus,
    pub(super) is_opted_out: bool,
    pub(super) timezone_offset: &'static str,
}

/// The contacts, one after another, from the seeded RNG.
pub(super) struct ContactGenerator {
    pub(super) rng: StdRng,
    /// The assignments that hold the contacts already texted.
    pub(super) texted_owners: Vec<i64>,
    /// The assignments that hold the replies waiting for an answer.
    pub(super) reply_owners: Vec<i64>,
    pub(super) first_names: Vec<&'static str>,
    pub(super) last_names: Vec<&'static str>,
    /// How many rows were generated so far.
    pub(super) generated: u64,
}

impl ContactGenerator {
    pub(super) fn new(rng: StdRng, texted_owners: Vec<i64>, reply_owners: Vec<i64>) -> Self {
        ContactGenerator {
            rng,
            texted_owners,
            reply_owners,
            first_names: FIRST_NAMES.split_whitespace().collect(),
            last_names: LAST_NAMES.split_whitespace().collect(),
            generated: 0,
        }
    }

    pub(super) fn next_row(&mut self) -> ContactRow {
        let rng = &mut self.rng;
        let zone = weighted(rng, &ZONES, |zone| zone.weight);
        let zip = match zone.zip_prefixes {
            [] => String::new(),
            prefixes => {
                let prefix = prefixes[rng.random_range(0..prefixes.len())];
                format!("{:05}", prefix * 100 + rng.random_range(0..100))
            }
        };
        let &(message_status, _) = weighted(rng, &STATUSES, |&(_, weight)| weight);
        // A contact who was texted belongs to a texter, in conversation or not.
        let owners = match message_status {
            MessageStatus::NeedsMessage => &[][..],
            MessageStatus::NeedsResponse => &self.reply_owners[..],
            _ => &self.texted_owners[..],
        };
        let assignment_id = match owners {
            [] => None,
            owners => Some(owners[rng.random_range(0..owners.len())]),
        };
        let row = ContactRow {
            assignment_id,
            first_name: self.first_names[rng.random_range(0..self.first_names.len())],
            last_name: self.last_names[rng.random_range(0..self.last_names.len())],
            cell: demo_cell(self.generated),
            zip,
            message_status,
            is_opted_out: rng.random_ratio(1, 100),
            timezone_offset: zone.offset,
        };
        self.generated += 1;
        row
    }
}

/// Picks one of `items` with probability `weight(item) / total weight`.
pub(super) fn weighted<'a, T>(rng: &mut StdRng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut ticket = rng.random_range(0..total);
    for item in items {
        let item_weight = weight(item);
        if ticket < item_weight {
            return item;
        }
        ticket -= item_weight;
    }
    // Unreachable: the tickets are fewer than the total weight.
    &items[items.len() - 1]
}

/// The cell of contact `index`: `+1555` (an area code not in service) and 7 digits, distinct
/// for the first ten million contacts and scattered rather than counting up (multiplying by a
/// number prime to 10^7 permutes the 7-digit numbers); further blocks of ten million use area
/// codes 556, 557, ….
pub(super) fn demo_cell(index: u64) -> String {
    const LINES: u64 = 10_000_000;
    let area = 555 + index / LINES;
    let line = ((index % LINES) * 3_967_483 + 1_234_567) % LINES;
    format!("+1{area}{line:07}")
}
