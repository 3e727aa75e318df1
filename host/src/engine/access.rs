//! Loading an assignment with its campaign and organization, and deciding whether the caller
//! may act on it.

use super::error::EngineError;
use super::error::found;
use super::request::Caller;
use crate::db::Queries;
use crate::model::{Assignment, Campaign, Organization, Role, User};

/// The rows one assignment operation works on.
pub(super) struct Context {
    pub(super) assignment: Assignment,
    pub(super) campaign: Campaign,
    pub(super) organization: Organization,
    pub(super) texter: User,
}

/// Loads campaign `campaign_id` and its organization.
pub(super) async fn campaign_and_organization<T: Queries>(
    tx: &mut T,
    campaign_id: i64,
) -> Result<(Campaign, Organization), EngineError> {
    let campaign = found(tx.campaign(campaign_id, false).await?, "campaign", campaign_id)?;
    let organization_id = campaign.organization_id;
    let organization = found(
        tx.organization(organization_id, false).await?,
        "organization",
        organization_id,
    )?;
    Ok((campaign, organization))
}

/// Loads an assignment with its campaign and organization, and checks that `caller` may act
/// on it (Spoke's `assignmentRequiredOrAdminRole`: its texter, a SUPERVOLUNTEER or higher of
/// the organization, or a superadmin; never a SUSPENDED user). With `lock`, the assignment's
/// row stays locked until the transaction ends; the caller's roles come in the same statement.
pub(super) async fn load_and_authorize<T: Queries>(
    tx: &mut T,
    assignment_id: i64,
    caller: Caller,
    lock: bool,
) -> Result<Context, EngineError> {
    let caller_id = match caller {
        Caller::Operator => None,
        Caller::User(id) => Some(id),
    };
    let loaded = found(
        tx.assignment_context(assignment_id, caller_id, lock).await?,
        "assignment",
        assignment_id,
    )?;
    let assignment = loaded.assignment;
    let campaign = found(loaded.campaign, "campaign", assignment.campaign_id)?;
    let organization = found(loaded.organization, "organization", campaign.organization_id)?;
    let texter = found(loaded.texter, "user", caller_id.unwrap_or(assignment.user_id))?;
    if let Caller::User(id) = caller
        && !texter.is_superadmin
    {
        // The texter read is the caller, so its role is the caller's.
        let role = loaded.texter_role;
        if role == Some(Role::Suspended) {
            return Err(EngineError::Forbidden(format!(
                "user {id} is suspended in organization {}",
                organization.id
            )));
        }
        let owner = id == assignment.user_id;
        if !owner && !role.is_some_and(|role| role.has_at_least(Role::Supervolunteer)) {
            return Err(EngineError::Forbidden(format!(
                "user {id} may not act on assignment {assignment_id}: only its texter or a SUPERVOLUNTEER, \
                 ADMIN or OWNER of organization {} may",
                organization.id
            )));
        }
    }
    Ok(Context {
        assignment,
        campaign,
        organization,
        texter,
    })
}
