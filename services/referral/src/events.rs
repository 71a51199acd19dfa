//! The referral service's events. Ids and coded values only: descriptions,
//! mechanisms and notes never leave this service (docs/architecture.md,
//! "Messaging").

use crate::referrals::model::Referral;
use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use spotter_contracts::common::v1::{BodyRegion, Location, Priority};
use spotter_contracts::referral::v1::{
    Clearance, EmergencyAdvised, GuidanceAcknowledged, GuidanceShared, ReferralCancellationReason,
    ReferralCancelled, ReferralRequested,
};
use uuid::Uuid;

pub fn timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

fn priority(name: &str) -> Priority {
    match name {
        "emergency" => Priority::Emergency,
        "urgent" => Priority::Urgent,
        "routine" => Priority::Routine,
        _ => Priority::Unspecified,
    }
}

/// `wrist_hand` → `BodyRegion::WristHand`.
fn body_region(name: &str) -> BodyRegion {
    BodyRegion::from_str_name(&format!("BODY_REGION_{}", name.to_ascii_uppercase()))
        .unwrap_or(BodyRegion::Unspecified)
}

pub struct Where {
    pub lat: f64,
    pub lon: f64,
}

pub fn requested(r: &Referral, region: &str, trainer_at: Where) -> ReferralRequested {
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
    event.set_priority(priority(&r.priority));
    event.set_body_region(body_region(region));
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

pub fn cancelled(r: &Referral, consent_withdrawn: bool) -> ReferralCancelled {
    let mut event = ReferralCancelled {
        referral_id: r.id.to_string(),
        trainer_id: r.trainer_id.to_string(),
        cancelled_at: timestamp(r.updated_at),
        ..Default::default()
    };
    event.set_reason_code(if consent_withdrawn {
        ReferralCancellationReason::ConsentWithdrawn
    } else {
        ReferralCancellationReason::TrainerCancelled
    });
    event
}

pub struct GuidanceFacts<'a> {
    pub guidance_id: Uuid,
    pub version: i32,
    pub physio_id: Uuid,
    pub clearance: &'a str,
    pub review_on: chrono::NaiveDate,
    pub at: DateTime<Utc>,
}

pub fn guidance_shared(r: &Referral, g: &GuidanceFacts<'_>) -> GuidanceShared {
    let mut event = GuidanceShared {
        referral_id: r.id.to_string(),
        guidance_id: g.guidance_id.to_string(),
        version: u32::try_from(g.version).unwrap_or(1),
        trainer_id: r.trainer_id.to_string(),
        physio_id: g.physio_id.to_string(),
        review_on: g.review_on.format("%Y-%m-%d").to_string(),
        shared_at: timestamp(g.at),
        ..Default::default()
    };
    event.set_clearance(
        Clearance::from_str_name(&format!("CLEARANCE_{}", g.clearance.to_ascii_uppercase()))
            .unwrap_or(Clearance::Unspecified),
    );
    event
}

pub fn guidance_acknowledged(r: &Referral, g: &GuidanceFacts<'_>) -> GuidanceAcknowledged {
    GuidanceAcknowledged {
        referral_id: r.id.to_string(),
        guidance_id: g.guidance_id.to_string(),
        version: u32::try_from(g.version).unwrap_or(1),
        trainer_id: r.trainer_id.to_string(),
        physio_id: g.physio_id.to_string(),
        acknowledged_at: timestamp(g.at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_words_map_onto_the_contract_enums() {
        assert_eq!(body_region("wrist_hand"), BodyRegion::WristHand);
        assert_eq!(body_region("knee"), BodyRegion::Knee);
        assert_eq!(priority("urgent"), Priority::Urgent);
        for region in crate::domain::vocabulary::BODY_REGIONS {
            assert_ne!(body_region(region), BodyRegion::Unspecified, "{region}");
        }
    }
}
