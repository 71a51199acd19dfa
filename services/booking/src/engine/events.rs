//! The booking service's events, built from its rows. Ids and coded values
//! only: no free text (a cancellation's free-text reason stays here).

use crate::appointments::model::Appointment;
use crate::engine::cancel::{Cancellation, Then};
use crate::engine::follow_up::FollowUpRequest;
use crate::engine::requests::ReferralRequest;
use chrono::{DateTime, Utc};
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow,
    AppointmentRescheduled, DeadlineReached, FollowUpBooked, FollowUpMoved, FollowUpWaitlisted,
    PhysioAccessEnded, ReferralWaitlisted, WaitlistReason,
};
pub use spotter_contracts::convert::timestamp;
use spotter_platform::vocabulary::{AppointmentKind, DeadlineKind, DeadlineStage};
use uuid::Uuid;

/// `clinic_timezone`: the IANA name of the clinic's zone.
pub fn booked(a: &Appointment, clinic_timezone: &str) -> AppointmentBooked {
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
        clinic_timezone: clinic_timezone.to_owned(),
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

/// `rebook` when the clinic side cancelled an assessment, so the referral
/// goes back to be booked again; a trainer's cancellation ends it, and a
/// follow-up booking rebooks itself.
pub fn cancelled(a: &Appointment, how: &Cancellation<'_>) -> AppointmentCancelled {
    let mut event = AppointmentCancelled {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        cancelled_at: timestamp(a.updated_at),
        rebook: how.then.rebooks() && a.kind == AppointmentKind::Assessment,
        ..Default::default()
    };
    event.set_kind(a.kind.into());
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
    let mut event = AppointmentCompleted {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        completed_at: timestamp(a.updated_at),
        ..Default::default()
    };
    event.set_kind(a.kind.into());
    event
}

/// `no_shows`: the referral's missed appointments, this one included.
pub fn no_show(a: &Appointment, no_shows: u32) -> AppointmentNoShow {
    let mut event = AppointmentNoShow {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        recorded_at: timestamp(a.updated_at),
        no_shows,
        ..Default::default()
    };
    event.set_kind(a.kind.into());
    event
}

/// `replaces`: the follow-up the clinic cancelled, when this rebooks it.
pub fn follow_up_booked(
    a: &Appointment,
    follow_up: &FollowUpRequest,
    replaces: Option<Uuid>,
) -> FollowUpBooked {
    FollowUpBooked {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        client_id: a.client_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        starts_at: timestamp(a.starts_at),
        ends_at: timestamp(a.ends_at),
        review_on: review_day(follow_up),
        guidance_version: u32::try_from(follow_up.guidance_version).unwrap_or(0),
        replaces_appointment_id: replaces.map(|id| id.to_string()).unwrap_or_default(),
        booked_at: timestamp(a.created_at),
    }
}

pub fn follow_up_moved(a: &Appointment, previous_start: DateTime<Utc>) -> FollowUpMoved {
    FollowUpMoved {
        appointment_id: a.id.to_string(),
        referral_id: a.referral_id.to_string(),
        trainer_id: a.trainer_id.to_string(),
        physio_id: a.physio_id.to_string(),
        clinic_id: a.clinic_id.to_string(),
        previous_starts_at: timestamp(previous_start),
        starts_at: timestamp(a.starts_at),
        ends_at: timestamp(a.ends_at),
        moved_at: timestamp(a.updated_at),
    }
}

pub fn follow_up_waitlisted(
    r: &ReferralRequest,
    follow_up: &FollowUpRequest,
    at: DateTime<Utc>,
) -> FollowUpWaitlisted {
    FollowUpWaitlisted {
        referral_id: r.referral_id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        physio_id: follow_up.physio_id.to_string(),
        clinic_id: follow_up.clinic_id.to_string(),
        review_on: review_day(follow_up),
        guidance_version: u32::try_from(follow_up.guidance_version).unwrap_or(0),
        waitlisted_at: timestamp(at),
    }
}

/// `YYYY-MM-DD`, as the contracts write dates.
fn review_day(follow_up: &FollowUpRequest) -> String {
    follow_up
        .review_on
        .map(|day| day.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
