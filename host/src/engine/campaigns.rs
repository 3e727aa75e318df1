//! Read-only views of campaigns: one campaign's configuration (the texter UI), the dashboard's
//! list and its progress counts, and an example assignment for the service's start-up hint.

use super::access::campaign_and_organization;
use super::error::EngineError;
use super::error::found;
use super::state::Engine;
use crate::db::{ContactStates, Queries};
use crate::model::Campaign;
use crate::spoke_config::CampaignSettings;

/// A campaign and its resolved configuration.
#[derive(Debug, Clone)]
pub struct CampaignView {
    /// The campaign.
    pub campaign: Campaign,
    /// Its configuration.
    pub settings: CampaignSettings,
}

/// A campaign in the dashboard's list.
#[derive(Debug)]
pub struct CampaignOverview {
    /// The campaign.
    pub campaign: Campaign,
    /// Its configuration, or why it cannot be resolved.
    pub settings: Result<CampaignSettings, EngineError>,
}

pub(super) async fn campaign_view<T: Queries>(
    engine: &Engine,
    mut tx: T,
    campaign_id: i64,
) -> Result<CampaignView, EngineError> {
    let (campaign, organization) = campaign_and_organization(&mut tx, campaign_id).await?;
    let settings = CampaignSettings::resolve(&organization, &campaign, &engine.env)?;
    tx.rollback().await?;
    Ok(CampaignView { campaign, settings })
}

pub(super) async fn dynamic_campaigns<T: Queries>(
    engine: &Engine,
    mut tx: T,
    limit: u32,
) -> Result<Vec<CampaignOverview>, EngineError> {
    let campaigns = tx.dynamic_campaigns(limit).await?;
    let mut organizations = std::collections::BTreeMap::new();
    let mut overviews = Vec::with_capacity(campaigns.len());
    for campaign in campaigns {
        let organization = match organizations.get(&campaign.organization_id) {
            Some(organization) => Option::clone(organization),
            None => {
                let organization = tx.organization(campaign.organization_id, false).await?;
                organizations.insert(campaign.organization_id, organization.clone());
                organization
            }
        };
        let settings =
            found(organization.as_ref(), "organization", campaign.organization_id).and_then(|organization| {
                CampaignSettings::resolve(organization, &campaign, &engine.env).map_err(EngineError::from)
            });
        overviews.push(CampaignOverview { campaign, settings });
    }
    tx.rollback().await?;
    Ok(overviews)
}

/// The contacts of `campaign_id` by state and its texters, read as of now (O(campaign)).
pub(super) async fn campaign_progress<T: Queries>(
    _engine: &Engine,
    mut tx: T,
    campaign_id: i64,
) -> Result<(ContactStates, i64), EngineError> {
    let contacts = tx.contact_states(campaign_id).await?;
    let texters = tx.assignment_count(campaign_id).await?;
    tx.rollback().await?;
    Ok((contacts, texters))
}

pub(super) async fn example_assignment<T: Queries>(
    _engine: &Engine,
    mut tx: T,
) -> Result<Option<(i64, i64)>, EngineError> {
    let Some(campaign) = tx.dynamic_campaigns(1).await?.into_iter().next() else {
        return Ok(None);
    };
    let assignment = tx.first_assignment(campaign.id).await?;
    tx.rollback().await?;
    Ok(assignment.map(|assignment| (assignment.id, assignment.user_id)))
}
