//! The booking service's events, built from its rows. Ids and coded values
//! only: no free text (a cancellation's free-text reason stays here).

use crate::appointments::model::Appointment;
use crate::engine::cancel::{Cancellation, Then};
use crate::engine::requests::ReferralRequest;
use chrono::{DateTime, Utc};
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow,
    AppointmentRescheduled, DeadlineReached, PhysioAccessEnded, ReferralWaitlisted, WaitlistReason,
};
pub use spotter_contracts::convert::timestamp;
use spotter_platform::vocabulary::{DeadlineKind, DeadlineStage};
use uuid::Uuid;

pub fn booked(a: &Appointment) -> AppointmentBooked {
    let mut event = AppointmentBooked {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        client_id: a.client_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        starts_at: timestamp(a.starts_at),
        ends_at: timestamp(a.ends_at),
        target_missed: a.target_missed,
        booked_at: timestamp(a.created_at),
        ..Default::default()
    };
    event.set_priority(a.priority.into());
    event
}

pub fn waitlisted(
    r: &ReferralRequest,
    reason: WaitlistReason,
    at: DateTime<Utc>,
    covering_clinics: &[Uuid],
) -> ReferralWaitlisted {
    let mut event = ReferralWaitlisted {
        referral_id: r.referral_id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        waitlisted_at: timestamp(at),
        clinic_ids: covering_clinics.iter().map(Uuid::to_string).collect(),
        ..Default::default()
    };
    event.set_priority(r.priority.into());
    event.set_reason(reason);
    event
}

/// `covering_clinics`: those that could still take it (not those that
/// refused it).
pub fn deadline_reached(
    r: &ReferralRequest,
    target_by: DateTime<Utc>,
    stage: DeadlineStage,
    covering_clinics: &[Uuid],
) -> DeadlineReached {
    let mut event = DeadlineReached {
        referral_id: r.referral_id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        target_by: timestamp(target_by),
        clinic_ids: covering_clinics.iter().map(Uuid::to_string).collect(),
        reached_at: timestamp(Utc::now()),
        ..Default::default()
    };
    event.set_kind(DeadlineKind::Booking.into());
    event.set_priority(r.priority.into());
    event.set_stage(stage.into());
    event
}

/// `rebook` when the clinic side cancelled, so the referral goes back to be
/// booked again; a trainer's cancellation ends it.
pub fn cancelled(a: &Appointment, how: &Cancellation<'_>) -> AppointmentCancelled {
    let mut event = AppointmentCancelled {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        cancelled_at: timestamp(a.updated_at),
        rebook: how.then.rebooks(),
        ..Default::default()
    };
    event.set_cancelled_by(how.by);
    event.set_reason_code(how.reason);
    if let Then::Refused(Some(decline)) = how.then {
        event.set_decline_reason(decline.into());
    }
    event
}

pub fn physio_access_ended(
    referral: Uuid,
    physio: Uuid,
    clinic: Uuid,
    at: DateTime<Utc>,
) -> PhysioAccessEnded {
    PhysioAccessEnded {
        referral_id: referral.to_string(),
        physio_id: physio.to_string(),
        clinic_id: clinic.to_string(),
        ended_at: timestamp(at),
    }
}

pub fn rescheduled(a: &Appointment, previous_start: DateTime<Utc>) -> AppointmentRescheduled {
    AppointmentRescheduled {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        previous_starts_at: timestamp(previous_start),
        starts_at: timestamp(a.starts_at),
        ends_at: timestamp(a.ends_at),
        rescheduled_at: timestamp(a.updated_at),
    }
}

pub fn completed(a: &Appointment) -> AppointmentCompleted {
    AppointmentCompleted {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        completed_at: timestamp(a.updated_at),
    }
}

/// `no_shows`: the referral's missed appointments, this one included.
pub fn no_show(a: &Appointment, no_shows: u32) -> AppointmentNoShow {
    AppointmentNoShow {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        recorded_at: timestamp(a.updated_at),
        no_shows,
    }
}
