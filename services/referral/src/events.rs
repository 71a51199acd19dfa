//! The referral service's events. Ids and coded values only: descriptions,
//! mechanisms and notes never leave this service (docs/architecture.md,
//! "Messaging").

use crate::domain::lifecycle::Status;
use crate::domain::training::flare::FlareSign;
use crate::domain::training::outcomes::{Change, Comparison};
use crate::domain::vocabulary::{BodyRegion, CancelReason, Clearance};
use crate::referrals::model::Referral;
use crate::training::measures::Measurement;
use chrono::{DateTime, Utc};
use spotter_contracts::common::v1::Location;
use spotter_contracts::referral::v1::{
    Clearance as WireClearance, DeadlineReached, DoctorAdvised, EmergencyAdvised,
    FlareSign as WireFlareSign, GuidanceAcknowledged, GuidanceShared, OutcomeImproved,
    ReferralCancellationReason, ReferralCancelled, ReferralDischarged, ReferralNotAttended,
    ReferralRequested, TrainingBehind, TrainingFlared,
};
use spotter_platform::vocabulary::{DeadlineKind, DeadlineStage};
use uuid::Uuid;

pub use spotter_contracts::convert::timestamp;

pub struct Where {
    pub lat: f64,
    pub lon: f64,
}

pub fn requested(r: &Referral, region: BodyRegion, trainer_at: Where) -> ReferralRequested {
    let mut event = ReferralRequested {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        client_id: r.client_id.to_string(),
        trainer_location: Some(Location {
            lat: trainer_at.lat,
            lon: trainer_at.lon,
        }),
        requested_at: timestamp(r.created_at),
        target_by: r.target_by.and_then(timestamp),
        attempt: u32::try_from(r.attempt).unwrap_or(1),
        ..Default::default()
    };
    event.set_priority(r.priority.into());
    event.set_body_region(region.into());
    event
}

pub fn emergency_advised(r: &Referral) -> EmergencyAdvised {
    EmergencyAdvised {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        client_id: r.client_id.to_string(),
        advised_at: timestamp(r.created_at),
    }
}

pub fn doctor_advised(r: &Referral) -> DoctorAdvised {
    DoctorAdvised {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        client_id: r.client_id.to_string(),
        advised_at: timestamp(r.created_at),
    }
}

pub fn cancelled(r: &Referral, reason: CancelReason) -> ReferralCancelled {
    let mut event = ReferralCancelled {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        cancelled_at: timestamp(r.updated_at),
        ..Default::default()
    };
    event.set_reason_code(match reason {
        CancelReason::ConsentWithdrawn => ReferralCancellationReason::ConsentWithdrawn,
        CancelReason::TrainerCancelled => ReferralCancellationReason::TrainerCancelled,
    });
    event
}

pub struct GuidanceFacts {
    pub guidance_id: Uuid,
    pub version: i32,
    pub physio_id: Uuid,
    pub clearance: Clearance,
    pub review_on: Option<chrono::NaiveDate>,
    pub at: DateTime<Utc>,
}

pub fn guidance_shared(r: &Referral, g: &GuidanceFacts) -> GuidanceShared {
    let mut event = GuidanceShared {
        referral_id: r.id.to_string(),
        guidance_id: g.guidance_id.to_string(),
        version: u32::try_from(g.version).unwrap_or(1),
        trainer_id: r.trainer_id.to_string(),
        physio_id: g.physio_id.to_string(),
        review_on: g
            .review_on
            .map(|day| day.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        shared_at: timestamp(g.at),
        discharges: r.status == Status::Discharged,
        clinic_id: r.clinic_id.map(|c| c.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    event.set_clearance(wire_clearance(g.clearance));
    event
}

pub fn guidance_acknowledged(r: &Referral, g: &GuidanceFacts) -> GuidanceAcknowledged {
    GuidanceAcknowledged {
        referral_id: r.id.to_string(),
        guidance_id: g.guidance_id.to_string(),
        version: u32::try_from(g.version).unwrap_or(1),
        trainer_id: r.trainer_id.to_string(),
        physio_id: g.physio_id.to_string(),
        acknowledged_at: timestamp(g.at),
    }
}

/// `r` as discharged, with its final summary `g`.
pub fn discharged(r: &Referral, g: &GuidanceFacts) -> ReferralDischarged {
    ReferralDischarged {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        physio_id: g.physio_id.to_string(),
        clinic_id: r.clinic_id.map(|id| id.to_string()).unwrap_or_default(),
        guidance_id: g.guidance_id.to_string(),
        guidance_version: u32::try_from(g.version).unwrap_or(1),
        discharged_at: timestamp(g.at),
    }
}

pub fn not_attended(r: &Referral, at: DateTime<Utc>) -> ReferralNotAttended {
    ReferralNotAttended {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        clinic_id: r.clinic_id.map(|id| id.to_string()).unwrap_or_default(),
        closed_at: timestamp(at),
    }
}

fn wire_clearance(clearance: Clearance) -> WireClearance {
    match clearance {
        Clearance::NoTraining => WireClearance::NoTraining,
        Clearance::ModifiedTraining => WireClearance::ModifiedTraining,
        Clearance::FullTraining => WireClearance::FullTraining,
    }
}

/// A care deadline's stage that fell due (`crate::deadlines`).
pub struct CareWait {
    pub kind: DeadlineKind,
    pub stage: DeadlineStage,
    pub physio_id: Uuid,
    pub clinic_id: Uuid,
    pub since: DateTime<Utc>,
    /// The guidance awaiting acknowledgement; 0 while guidance is awaited.
    pub guidance_version: i32,
}

pub fn deadline_reached(r: &Referral, wait: CareWait) -> DeadlineReached {
    let mut event = DeadlineReached {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        physio_id: wait.physio_id.to_string(),
        clinic_id: wait.clinic_id.to_string(),
        waiting_since: timestamp(wait.since),
        guidance_version: u32::try_from(wait.guidance_version).unwrap_or(0),
        reached_at: timestamp(Utc::now()),
        ..Default::default()
    };
    event.set_kind(wait.kind.into());
    event.set_stage(wait.stage.into());
    event
}

/// A flare as the event tells it: ids, codes and counts.
pub struct FlareFacts<'a> {
    pub session_id: Uuid,
    pub signs: &'a [FlareSign],
    pub flares_in_week: i64,
    pub earlier_review_suggested: bool,
    pub follow_up_appointment_id: Option<Uuid>,
    pub drop_back_to_session_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// What a week that fell short of the guidance came to (ids and counts).
pub struct BehindFacts {
    pub guidance_version: i32,
    /// The ISO week, e.g. `2026-W49`.
    pub week: String,
    pub exercises_behind: usize,
    pub week_ended_at: DateTime<Utc>,
}

pub fn training_behind(r: &Referral, f: &BehindFacts) -> TrainingBehind {
    TrainingBehind {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        client_id: r.client_id.to_string(),
        guidance_version: u32::try_from(f.guidance_version).unwrap_or(0),
        week: f.week.clone(),
        exercises_behind: u32::try_from(f.exercises_behind).unwrap_or(u32::MAX),
        week_ended_at: timestamp(f.week_ended_at),
    }
}

pub fn training_flared(r: &Referral, f: &FlareFacts) -> TrainingFlared {
    // The physio treating the client now; none once their access ended.
    let physio = r
        .physio_id
        .filter(|id| r.physio_access_ended_for != Some(*id));
    let id = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    TrainingFlared {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        client_id: r.client_id.to_string(),
        physio_id: id(physio),
        session_id: f.session_id.to_string(),
        signs: f
            .signs
            .iter()
            .map(|sign| {
                let wire = match sign {
                    FlareSign::PainAboveCeiling => WireFlareSign::PainAboveCeiling,
                    FlareSign::RpeAboveMax => WireFlareSign::RpeAboveMax,
                };
                wire as i32
            })
            .collect(),
        flares_in_week: u32::try_from(f.flares_in_week).unwrap_or(u32::MAX),
        earlier_review_suggested: f.earlier_review_suggested,
        follow_up_appointment_id: id(f.follow_up_appointment_id),
        drop_back_to_session_id: id(f.drop_back_to_session_id),
        flared_at: timestamp(f.at),
    }
}

/// The physio's measurement improved on the baseline by at least the MCID.
pub fn outcome_improved(
    r: &Referral,
    physio_id: Uuid,
    m: &Measurement,
    c: &Comparison,
) -> OutcomeImproved {
    OutcomeImproved {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        physio_id: physio_id.to_string(),
        measurement_id: m.id.to_string(),
        nprs_improved: c.nprs.change == Change::Improved,
        psfs_improved: c.psfs.is_some_and(|p| p.change == Change::Improved),
        recorded_at: timestamp(m.recorded_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clearance_has_its_own_wire_name() {
        for clearance in Clearance::ALL {
            assert_eq!(
                wire_clearance(*clearance).as_str_name(),
                format!("CLEARANCE_{}", clearance.as_str().to_ascii_uppercase())
            );
        }
    }
}
