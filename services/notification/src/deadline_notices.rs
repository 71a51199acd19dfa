//! Who hears of a deadline (docs/architecture.md, "Deadlines"): the one who
//! owes the awaited thing first, then someone further up. Like every notice,
//! no health detail: only that something is awaited, and since when.

use crate::notices::{Audience, Notice, NoticeKind, notice, on};
use serde_json::json;
use spotter_contracts::booking::v1::DeadlineReached as BookingDeadlineReached;
use spotter_contracts::convert::{Malformed, optional_time, uuid};
use spotter_contracts::referral::v1::DeadlineReached as CareDeadlineReached;
use spotter_platform::vocabulary::{DeadlineKind, DeadlineStage};

/// A referral still unbooked near its target: the clinics that could take
/// it are asked for room; past it, the trainer is told to consider care
/// elsewhere.
pub fn booking(e: &BookingDeadlineReached) -> Result<Vec<Notice>, Malformed> {
    match DeadlineStage::try_from(e.stage())? {
        DeadlineStage::Reminder => e
            .clinic_ids
            .iter()
            .map(|clinic| {
                Ok(notice(
                    Audience::Clinic(uuid("clinic_ids", clinic)?),
                    NoticeKind::ReferralDeadlineNear,
                    "A waiting referral is close to its target",
                    format!(
                        "A referral in your area is still waiting for a free slot and should be seen by {}. More hours at your clinic would book it at once.",
                        day(&e.target_by)
                    ),
                    // No referral id, priority or exact time: a clinic sees the
                    // waitlist only as counts, and any of these arriving with
                    // each notice would let it follow one referral.
                    json!({}),
                ))
            })
            .collect(),
        DeadlineStage::Escalation => Ok(vec![notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::ReferralOverdue,
            "Still no appointment in time",
            "No physio nearby could see your client within the time they should be seen. Please consider seeking care elsewhere, and cancel this referral if you do.".to_owned(),
            json!({"referral_id": e.referral_id, "target_by": optional_time(e.target_by)}),
        )]),
    }
}

/// The day only (`Tue 8 Dec`): enough to plan hours, too coarse to follow
/// one referral by.
fn day(t: &Option<prost_types::Timestamp>) -> String {
    optional_time(*t).map_or_else(
        || "soon".to_owned(),
        |at| at.format("%a %-d %b").to_string(),
    )
}

/// Guidance awaited from the physio, or an acknowledgement from the
/// trainer.
pub fn care(e: &CareDeadlineReached) -> Result<Vec<Notice>, Malformed> {
    let data = json!({
        "referral_id": e.referral_id,
        "waiting_since": optional_time(e.waiting_since),
    });
    let since = on(&e.waiting_since);
    let stage = DeadlineStage::try_from(e.stage())?;
    let told = match (DeadlineKind::try_from(e.kind())?, stage) {
        (DeadlineKind::Guidance, DeadlineStage::Reminder) => notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::GuidanceDue,
            "Exercise guidance is awaited",
            format!(
                "A client you assessed on {since} is waiting for your exercise guidance; their trainer cannot adapt training until you share it."
            ),
            data,
        ),
        (DeadlineKind::Guidance, DeadlineStage::Escalation) => notice(
            Audience::Clinic(uuid("clinic_id", &e.clinic_id)?),
            NoticeKind::GuidanceDue,
            "Exercise guidance is overdue",
            format!("A client assessed at your clinic on {since} still has no exercise guidance."),
            data,
        ),
        (DeadlineKind::Acknowledgement, DeadlineStage::Reminder) => notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::GuidanceUnread,
            "New guidance to read",
            format!(
                "The physio shared exercise guidance for your client on {since}. Please read it before the next session."
            ),
            json!({"referral_id": e.referral_id, "version": e.guidance_version}),
        ),
        (DeadlineKind::Acknowledgement, DeadlineStage::Escalation) => notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::GuidanceUnread,
            "Your guidance has not been read",
            format!("The trainer has not yet read the guidance you shared on {since}."),
            json!({"referral_id": e.referral_id, "version": e.guidance_version}),
        ),
        (
            DeadlineKind::Booking | DeadlineKind::MedicalClearance | DeadlineKind::AdherenceWeek,
            _,
        ) => {
            return Err(Malformed::new(
                "kind",
                "not a care deadline that tells anyone",
            ));
        }
    };
    Ok(vec![told])
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ids() -> [String; 4] {
        [(); 4].map(|_| Uuid::now_v7().to_string())
    }

    #[test]
    fn a_booking_reminder_goes_to_each_covering_clinic_without_the_referral_id() {
        let [referral, trainer, a, b] = ids();
        let mut e = BookingDeadlineReached {
            referral_id: referral.clone(),
            trainer_id: trainer,
            clinic_ids: vec![a.clone(), b.clone()],
            ..Default::default()
        };
        e.set_stage(DeadlineStage::Reminder.into());
        let told = booking(&e).unwrap();
        let to: Vec<Audience> = told.iter().map(|n| n.to.clone()).collect();
        assert_eq!(to, [a, b].map(|c| Audience::Clinic(c.parse().unwrap())));
        assert!(told.iter().all(|n| n.data == json!({})));
    }

    #[test]
    fn past_the_target_only_the_trainer_is_told() {
        let [referral, trainer, clinic, _] = ids();
        let mut e = BookingDeadlineReached {
            referral_id: referral,
            trainer_id: trainer.clone(),
            clinic_ids: vec![clinic],
            ..Default::default()
        };
        e.set_stage(DeadlineStage::Escalation.into());
        let told = booking(&e).unwrap();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].to, Audience::User(trainer.parse().unwrap()));
        assert_eq!(told[0].kind, NoticeKind::ReferralOverdue);
    }

    #[test]
    fn each_care_stage_goes_to_whoever_owes_it_then_further_up() {
        let [referral, trainer, physio, clinic] = ids();
        let user = |id: &str| Audience::User(id.parse().unwrap());
        let cases = [
            (
                DeadlineKind::Guidance,
                DeadlineStage::Reminder,
                user(&physio),
            ),
            (
                DeadlineKind::Guidance,
                DeadlineStage::Escalation,
                Audience::Clinic(clinic.parse().unwrap()),
            ),
            (
                DeadlineKind::Acknowledgement,
                DeadlineStage::Reminder,
                user(&trainer),
            ),
            (
                DeadlineKind::Acknowledgement,
                DeadlineStage::Escalation,
                user(&physio),
            ),
        ];
        for (deadline, stage, expected) in cases {
            let mut e = CareDeadlineReached {
                referral_id: referral.clone(),
                trainer_id: trainer.clone(),
                physio_id: physio.clone(),
                clinic_id: clinic.clone(),
                ..Default::default()
            };
            e.set_kind(deadline.into());
            e.set_stage(stage.into());
            let told = care(&e).unwrap();
            assert_eq!(told.len(), 1);
            assert_eq!(told[0].to, expected, "{deadline:?} {stage:?}");
        }
    }

    #[test]
    fn an_unspecified_stage_is_refused_as_malformed() {
        let mut e = CareDeadlineReached::default();
        e.set_kind(DeadlineKind::Guidance.into());
        assert!(care(&e).is_err());
        assert!(booking(&BookingDeadlineReached::default()).is_err());
    }
}
