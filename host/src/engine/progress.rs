//! Each dynamic campaign's progress for the dashboard: its contacts by state and its texters
//! against `MAX_TEXTERS_PER_CAMPAIGN`. Counting a campaign reads all of its contacts, so it is
//! never done for a page: [`super::Engine::refresh_progress`] counts, in the background, the
//! campaigns whose count is older than it allows, and a page reads the counts as they were
//! taken ([`super::Engine::progress`]), with the time they were taken.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::ContactStates;

/// How many campaigns the background count covers: the dashboard's list.
pub const PROGRESS_CAMPAIGNS: u32 = 50;

/// A campaign's progress, as counted at `counted_at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgress {
    /// Its contacts by state.
    pub contacts: ContactStates,
    /// Its texters (assignments).
    pub texters: i64,
    /// `MAX_TEXTERS_PER_CAMPAIGN` for it, if set.
    pub max_texters: Option<i64>,
    /// When the count was taken.
    pub counted_at: DateTime<Utc>,
    /// How long the count took, in milliseconds.
    pub count_ms: f64,
}

/// The counts taken so far, by campaign.
#[derive(Debug, Default)]
pub(crate) struct ProgressBoard {
    counted: Mutex<HashMap<i64, CampaignProgress>>,
}

impl ProgressBoard {
    /// The count of `campaign_id`, if one was taken.
    pub(crate) fn get(&self, campaign_id: i64) -> Option<CampaignProgress> {
        let counted = self
            .counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counted.get(&campaign_id).cloned()
    }

    /// Forgets the counts of campaigns not in `listed` (archived, no longer dynamic, or past the
    /// newest [`PROGRESS_CAMPAIGNS`]), so the board stays as small as the list.
    pub(crate) fn keep_only(&self, listed: &[i64]) {
        let mut counted = self
            .counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counted.retain(|campaign_id, _| listed.contains(campaign_id));
    }

    /// Keeps `progress` as `campaign_id`'s count.
    pub(crate) fn put(&self, campaign_id: i64, progress: CampaignProgress) {
        let mut counted = self
            .counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counted.insert(campaign_id, progress);
    }
}
