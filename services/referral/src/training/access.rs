//! Who reaches a referral's training data, and the guidance it is held to.

use crate::domain::lifecycle::Status;
use crate::domain::training::check::{AvoidedPattern, Limits};
use crate::domain::training::flare::LoadLimits;
use crate::domain::vocabulary::Clearance;
use crate::guidance::{self, GuidanceView};
use crate::referrals::model::Referral;
use crate::referrals::store::find_visible;
use diesel_async::AsyncPgConnection;
use spotter_auth::{Caller, Role};
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

/// Who reaches training data: the referral's trainer and its treating
/// physio.
pub const CARE: [Role; 2] = [Role::Trainer, Role::Physio];

/// The referral, for a caller in one of `roles` who may see it (its
/// trainer, its treating physio); for anyone else (another trainer, another
/// physio, any admin) it does not exist.
pub async fn for_roles(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Uuid,
    lock: bool,
    roles: &[Role],
) -> ApiResult<Referral> {
    if !roles.contains(&caller.role) {
        return Err(ApiError::NotFound);
    }
    find_visible(conn, caller, id, lock).await
}

/// A referral under the physio's care: assessed and not yet closed. A
/// discharged client trains without limits; a cancelled or missed
/// referral has no physio watching.
pub const UNDER_CARE: [Status; 3] = [
    Status::Assessed,
    Status::GuidanceShared,
    Status::Acknowledged,
];

/// The guidance version a session is held to: the current one.
pub struct InForce {
    pub guidance: GuidanceView,
    pub limits: Limits,
    pub load: LoadLimits,
}

/// The current guidance, or a 409 when there is none yet.
pub async fn guidance_in_force(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<InForce> {
    let Some(guidance) = guidance::current(conn, id).await? else {
        return Err(ApiError::Conflict(
            "the physio has not shared guidance for this referral yet".to_owned(),
        ));
    };
    Ok(InForce {
        limits: limits_of(&guidance),
        load: load_of(&guidance),
        guidance,
    })
}

/// The guidance in force for a session the trainer logs now: the referral
/// must still be under care.
pub async fn for_logging(conn: &mut AsyncPgConnection, referral: &Referral) -> ApiResult<InForce> {
    require_care(referral)?;
    guidance_in_force(conn, referral.id).await
}

/// A 409 unless the referral is under a physio's care.
pub fn require_care(referral: &Referral) -> ApiResult<()> {
    if UNDER_CARE.contains(&referral.status) {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "sessions are logged while the client is under a physio's care; this referral is {}",
            referral.status
        )))
    }
}

pub fn limits_of(g: &GuidanceView) -> Limits {
    Limits {
        clearance: g.clearance,
        avoid: g
            .avoid
            .iter()
            .filter_map(|a| {
                a.pattern.map(|pattern| AvoidedPattern {
                    pattern,
                    max_load: a.max_load_kg,
                })
            })
            .collect(),
        max_rpe: g.load_limits.max_rpe.get(),
    }
}

pub fn load_of(g: &GuidanceView) -> LoadLimits {
    LoadLimits {
        max_rpe: g.load_limits.max_rpe.get(),
        // Not cleared to train: any pain in a session is past the limit.
        pain_ceiling: if g.clearance == Clearance::NoTraining {
            0
        } else {
            g.load_limits.pain_ceiling.get()
        },
    }
}
