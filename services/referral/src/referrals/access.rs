//! Who may see a referral, and who may see the health data in it.

use super::model::Referral;
use spotter_auth::{Caller, Role};

/// A trainer their own, a physio those whose appointment is theirs, a clinic
/// admin those booked at their clinic; anything else does not exist for them.
pub fn visible_to(caller: &Caller, r: &Referral) -> bool {
    match caller.role {
        Role::Trainer => r.trainer_id == caller.user_id,
        Role::Physio => r.physio_id == Some(caller.user_id),
        Role::ClinicAdmin => r.clinic_id.is_some() && r.clinic_id == caller.clinic_id,
        Role::PlatformAdmin => true,
    }
}

/// The injury, the client and the guidance: only for the trainer and the
/// physio treating the client. Admins see status and timing, never health detail.
pub fn sees_health_detail(caller: &Caller, r: &Referral) -> bool {
    match caller.role {
        Role::Trainer => r.trainer_id == caller.user_id,
        Role::Physio => r.physio_id == Some(caller.user_id),
        Role::ClinicAdmin | Role::PlatformAdmin => false,
    }
}
