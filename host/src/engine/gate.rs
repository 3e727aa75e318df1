//! A few claims at a time per campaign in this process. Concurrent claims on PostgreSQL skip
//! each other's locked rows (`SKIP LOCKED`), and every claim of a campaign starts at the claim
//! index's first entries, so each claim steps over the rows of every other claim not yet
//! committed: with the whole connection pool claiming at once, that is some 1,500 row-lock
//! attempts per batch, which is where a busy campaign's CPU goes. A gate held from the claim to
//! the commit bounds that to [`CLAIMS_IN_FLIGHT`] claims per campaign and process, enough to
//! overlap commits; the rest of each request (loading, authorizing, the strategy's questions)
//! runs unbounded. Other processes sharing the database stay correct through `SKIP LOCKED`.
//! The measurement behind 4 is in `bench/RESULTS.md` ("Measurements behind design choices").

use tokio::sync::{Semaphore, SemaphorePermit};

/// Claims of one campaign in flight at once in this process.
const CLAIMS_IN_FLIGHT: usize = 4;

/// Gates are striped by campaign id: a fixed set, so nothing grows with the number of
/// campaigns; campaigns sharing a stripe share its permits.
const STRIPES: usize = 64;

/// The claim gates of one engine.
pub(super) struct ClaimGates {
    stripes: Vec<Semaphore>,
}

impl ClaimGates {
    pub(super) fn new() -> Self {
        ClaimGates {
            stripes: (0..STRIPES).map(|_| Semaphore::new(CLAIMS_IN_FLIGHT)).collect(),
        }
    }

    /// Waits for a place at campaign `campaign_id`'s gate; it is given back when the permit is
    /// dropped.
    pub(super) async fn enter(&self, campaign_id: i64) -> Option<SemaphorePermit<'_>> {
        let stripe = campaign_id.rem_euclid(STRIPES as i64) as usize;
        // The semaphores are never closed, so acquiring only waits.
        self.stripes[stripe].acquire().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_campaign_has_at_most_its_claims_in_flight_and_others_pass() {
        let gates = ClaimGates::new();
        let mut held = Vec::new();
        for _ in 0..CLAIMS_IN_FLIGHT {
            held.push(gates.enter(7).await);
        }
        let waiting = tokio::time::timeout(Duration::from_millis(20), gates.enter(7)).await;
        assert!(waiting.is_err(), "a fifth claim of campaign 7 waits");
        let other = tokio::time::timeout(Duration::from_millis(20), gates.enter(8)).await;
        assert!(other.is_ok(), "another campaign does not wait");
        held.pop();
        let next = tokio::time::timeout(Duration::from_millis(20), gates.enter(7)).await;
        assert!(next.is_ok(), "a claim ending lets the next one in");
    }
}
