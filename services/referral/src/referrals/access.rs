//! Who may see a referral, and who may see the health data in it.

use super::model::Referral;
use crate::domain::lifecycle::Status;
use crate::schema::referrals;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use spotter_auth::{Caller, Role};

/// A trainer their own, a physio those whose appointment is theirs, a clinic
/// admin those booked at their clinic; anything else does not exist for them.
pub fn visible_to(caller: &Caller, r: &Referral) -> bool {
    match caller.role {
        Role::Trainer => r.trainer_id == caller.user_id,
        Role::Physio => treats(caller, r),
        Role::ClinicAdmin => r.clinic_id.is_some() && r.clinic_id == caller.clinic_id,
        Role::PlatformAdmin => true,
    }
}

/// The injury, the client and the guidance: only for the trainer and the
/// physio treating the client. Admins see status and timing, never health detail.
pub fn sees_health_detail(caller: &Caller, r: &Referral) -> bool {
    match caller.role {
        Role::Trainer => r.trainer_id == caller.user_id,
        Role::Physio => treats(caller, r),
        Role::ClinicAdmin | Role::PlatformAdmin => false,
    }
}

/// A clinic's physios and admins see the visits at their own clinic only
/// (not those at a clinic that declined or cancelled the referral before).
pub fn sees_visit_at(caller: &Caller, clinic: uuid::Uuid) -> bool {
    match caller.role {
        Role::Trainer | Role::PlatformAdmin => true,
        Role::Physio | Role::ClinicAdmin => caller.clinic_id == Some(clinic),
    }
}

/// Whether the caller is the physio treating the client now: assigned to
/// the referral, still at the clinic it is booked with (a physio whose
/// token names another clinic has moved on), not deactivated by that clinic
/// since (booking's `PhysioAccessEnded`; their token may still be valid),
/// and the referral not closed (a cancellation, including the client
/// withdrawing consent, ends the physio's access at once). The clinic keeps
/// the appointment in booking for its records, without injury detail.
fn treats(caller: &Caller, r: &Referral) -> bool {
    r.physio_id == Some(caller.user_id)
        && r.clinic_id.is_some()
        && r.clinic_id == caller.clinic_id
        && r.physio_access_ended_for != Some(caller.user_id)
        && !CLOSED_TO_THE_PHYSIO.contains(&r.status)
}

/// A referral that ended without care going on: cancelled (the trainer, or
/// the client withdrawing consent) or missed (a no-show, rebooked or not;
/// not attended). An acknowledged referral stays open to its physio, who may
/// share a new version of the guidance.
const CLOSED_TO_THE_PHYSIO: [Status; 3] = [Status::Cancelled, Status::NoShow, Status::NotAttended];

/// [`treats`] as a filter on the referrals table (the physio's list).
pub fn treated_by(
    caller: &Caller,
) -> Box<dyn BoxableExpression<referrals::table, Pg, SqlType = Bool>> {
    let Some(clinic) = caller.clinic_id else {
        return Box::new(diesel::dsl::sql::<Bool>("false"));
    };
    Box::new(
        referrals::physio_id
            .eq(caller.user_id)
            .and(referrals::clinic_id.eq(clinic))
            .and(referrals::physio_access_ended_for.is_distinct_from(caller.user_id))
            .and(referrals::status.ne_all(CLOSED_TO_THE_PHYSIO.map(Status::as_str)))
            .assume_not_null(),
    )
}
