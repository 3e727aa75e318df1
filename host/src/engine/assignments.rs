//! The operations that change who holds what without a strategy: joining a campaign by its
//! link, releasing an assignment's contacts, and the message-sent handler (outbound unassign).

use chrono::{DateTime, Utc};

use super::access::{campaign_and_organization, load_and_authorize};
use super::error::{EngineError, commit, found};
use super::request::{Caller, JoinOutcome};
use super::state::Engine;
use crate::db::Queries;
use crate::model::{MessageStatus, Role};
use crate::spoke_config::CampaignSettings;

pub(super) async fn release<T: Queries>(
    engine: &Engine,
    mut tx: T,
    assignment_id: i64,
    caller: Caller,
    conversations: bool,
) -> Result<u64, EngineError> {
    let context = load_and_authorize(&mut tx, assignment_id, caller, true).await?;
    engine.pass_point_of_no_return()?;
    let released = tx
        .release(
            context.assignment.id,
            context.assignment.campaign_id,
            conversations,
        )
        .await?;
    commit(tx).await?;
    Ok(released)
}

pub(super) async fn join<T: Queries>(
    engine: &Engine,
    mut tx: T,
    campaign_id: i64,
    user_id: i64,
    join_token: &str,
    now: DateTime<Utc>,
) -> Result<JoinOutcome, EngineError> {
    // Locking the campaign row makes count-then-insert one atomic step per campaign (SQLite's
    // immediate transaction already serializes every writer).
    let campaign = tx
        .campaign(campaign_id, true)
        .await?
        .ok_or(EngineError::InvalidJoin)?;
    let token_matches = campaign
        .join_token
        .as_deref()
        .is_some_and(|expected| same_token(expected, join_token));
    if !token_matches || !campaign.use_dynamic_assignment || !campaign.is_started {
        return Err(EngineError::InvalidJoin);
    }
    // Locking the organization row makes "is the user a member? if not, add them" one step
    // per organization: concurrent joins of one user to two of its campaigns add one
    // membership, not two (Spoke's table has no unique index to lean on).
    let organization = tx
        .organization(campaign.organization_id, true)
        .await?
        .ok_or(EngineError::InvalidJoin)?;
    let settings = CampaignSettings::resolve(&organization, &campaign, &engine.env)?;
    found(tx.user(user_id).await?, "user", user_id)?;
    let role = tx.highest_role(user_id, organization.id).await?;
    if role == Some(Role::Suspended) {
        return Err(EngineError::Forbidden(format!(
            "user {user_id} is suspended in organization {} and cannot join its campaigns",
            organization.id
        )));
    }
    // A texter who already belongs to the campaign gets their assignment back, full or not.
    if let Some(existing) = tx.assignment_of(campaign.id, user_id).await? {
        return Ok(JoinOutcome {
            assignment_id: existing.id,
            created: false,
        });
    }
    if let Some(max) = settings.max_texters_per_campaign
        && tx.assignment_count(campaign.id).await? >= max
    {
        return Err(EngineError::TooManyTexters);
    }
    if role.is_none() && settings.invites_current_users_only {
        return Err(EngineError::InvalidJoin);
    }
    engine.pass_point_of_no_return()?;
    if role.is_none() {
        tx.insert_membership(user_id, organization.id, Role::Texter)
            .await?;
    }
    let assignment_id = tx
        .insert_assignment(campaign.id, user_id, settings.max_contacts_per_texter, now)
        .await?;
    commit(tx).await?;
    Ok(JoinOutcome {
        assignment_id,
        created: true,
    })
}

pub(super) async fn message_sent<T: Queries>(
    engine: &Engine,
    mut tx: T,
    contact_id: i64,
) -> Result<bool, EngineError> {
    let contact = found(tx.contact(contact_id).await?, "contact", contact_id)?;
    if contact.assignment_id.is_none() || contact.message_status != MessageStatus::NeedsMessage {
        return Ok(false);
    }
    let (campaign, organization) = campaign_and_organization(&mut tx, contact.campaign_id).await?;
    let settings = CampaignSettings::resolve(&organization, &campaign, &engine.env)?;
    if !settings.outbound_unassign {
        return Ok(false);
    }
    engine.pass_point_of_no_return()?;
    // The update repeats the conditions read above: the contact may have changed since.
    let unassigned = tx.unassign_initial_contact(contact.id).await?;
    commit(tx).await?;
    Ok(unassigned)
}

/// Whether a join token matches the campaign's, in time that depends on neither: the digests
/// are compared, in constant time, so not even the token's length shows.
fn same_token(expected: &str, given: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (expected, given): ([u8; 32], [u8; 32]) =
        (Sha256::digest(expected).into(), Sha256::digest(given).into());
    constant_time_eq::constant_time_eq_32(&expected, &given)
}
