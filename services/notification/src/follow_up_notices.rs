//! Who hears of a referral's course after the first guidance
//! (docs/architecture.md, "Follow-ups", "Discharge"): follow-ups booked,
//! moved, waiting or cancelled, and the discharge. No health detail: what
//! happened and when.

use crate::notices::{Audience, Notice, NoticeKind, notice, on};
use serde_json::json;
use spotter_contracts::booking::v1::{
    AppointmentCancellationReason, AppointmentCancelled, FollowUpBooked, FollowUpMoved,
    FollowUpWaitlisted,
};
use spotter_contracts::convert::{Malformed, optional_time, uuid};
use spotter_contracts::referral::v1::ReferralDischarged;

/// The trainer and the physio the follow-up is with.
pub fn booked(e: &FollowUpBooked) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "appointment_id": e.appointment_id, "starts_at": optional_time(e.starts_at)});
    let rebooked = !e.replaces_appointment_id.is_empty();
    let title = if rebooked {
        "Follow-up booked again"
    } else {
        "Follow-up booked"
    };
    Ok(vec![
        notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::FollowUpBooked,
            title,
            format!(
                "Your client's follow-up with the physio is on {}.",
                on(&e.starts_at)
            ),
            data.clone(),
        ),
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::FollowUpBooked,
            title,
            format!(
                "A follow-up with a client you are treating is on {}.",
                on(&e.starts_at)
            ),
            data,
        ),
    ])
}

pub fn moved(e: &FollowUpMoved) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "appointment_id": e.appointment_id, "starts_at": optional_time(e.starts_at)});
    let body = format!("The follow-up now starts on {}.", on(&e.starts_at));
    Ok(vec![
        notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::FollowUpMoved,
            "Follow-up moved",
            body.clone(),
            data.clone(),
        ),
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::FollowUpMoved,
            "Follow-up moved",
            body,
            data,
        ),
    ])
}

/// The physio and the clinic's admins: more hours would book it. The
/// trainer hears once it is booked.
pub fn waitlisted(e: &FollowUpWaitlisted) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "review_on": e.review_on});
    let body = format!(
        "No follow-up slot is free from the review date ({}) within the clinic's booking horizon. It will be booked as soon as one opens.",
        e.review_on
    );
    Ok(vec![
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::FollowUpWaitlisted,
            "A follow-up is waiting for a slot",
            body.clone(),
            data.clone(),
        ),
        notice(
            Audience::Clinic(uuid("clinic_id", &e.clinic_id)?),
            NoticeKind::FollowUpWaitlisted,
            "A follow-up is waiting for a slot",
            body,
            data,
        ),
    ])
}

/// A cancelled follow-up: no longer wanted, or cancelled by the clinic and
/// booked again by booking (the trainer then hears of the new one). One a
/// discharge cancelled is told by the discharge's own notices. (A trainer
/// cannot cancel a referral whose client has been seen, so no follow-up is
/// cancelled from their side.)
pub fn cancelled(e: &AppointmentCancelled) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "appointment_id": e.appointment_id});
    let to_trainer = match e.reason_code() {
        AppointmentCancellationReason::Discharged => return Ok(Vec::new()),
        AppointmentCancellationReason::ReviewNotNeeded => {
            "The physio's latest guidance plans no review, so the follow-up is cancelled."
        }
        _ => "The clinic cancelled the follow-up. We're booking another one automatically.",
    };
    Ok(vec![
        notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::FollowUpCancelled,
            "Follow-up cancelled",
            to_trainer.to_owned(),
            data.clone(),
        ),
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::FollowUpCancelled,
            "Follow-up cancelled",
            "A follow-up in your diary was cancelled.".to_owned(),
            data,
        ),
    ])
}

/// The trainer reads the final summary (and acknowledges it); the physio
/// learns the referral is closed.
pub fn discharged(e: &ReferralDischarged) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "guidance_id": e.guidance_id, "version": e.guidance_version});
    Ok(vec![
        notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::ReferralDischarged,
            "Your client is discharged",
            "The physio has cleared your client for full training. Read and acknowledge the final summary in the app.".to_owned(),
            data.clone(),
        ),
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::ReferralDischarged,
            "Referral closed as discharged",
            "Your final summary has been sent to the trainer.".to_owned(),
            data,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notices::guidance_shared;
    use spotter_contracts::referral::v1::GuidanceShared;
    use uuid::Uuid;

    fn ids() -> (String, String) {
        (Uuid::now_v7().to_string(), Uuid::now_v7().to_string())
    }

    #[test]
    fn a_follow_up_is_told_to_trainer_and_physio_and_a_rebooking_says_so() {
        let (trainer, physio) = ids();
        let mut event = FollowUpBooked {
            referral_id: Uuid::now_v7().to_string(),
            appointment_id: Uuid::now_v7().to_string(),
            trainer_id: trainer.clone(),
            physio_id: physio.clone(),
            ..Default::default()
        };
        let told = booked(&event).unwrap();
        let to: Vec<Audience> = told.iter().map(|n| n.to.clone()).collect();
        assert_eq!(
            to,
            [
                Audience::User(trainer.parse().unwrap()),
                Audience::User(physio.parse().unwrap())
            ]
        );
        assert!(told.iter().all(|n| n.title == "Follow-up booked"));
        event.replaces_appointment_id = Uuid::now_v7().to_string();
        assert!(
            booked(&event)
                .unwrap()
                .iter()
                .all(|n| n.title == "Follow-up booked again")
        );
    }

    #[test]
    fn a_follow_up_a_discharge_cancelled_is_not_told_again() {
        let mut event = AppointmentCancelled {
            referral_id: Uuid::now_v7().to_string(),
            appointment_id: Uuid::now_v7().to_string(),
            trainer_id: Uuid::now_v7().to_string(),
            physio_id: Uuid::now_v7().to_string(),
            ..Default::default()
        };
        event.set_reason_code(AppointmentCancellationReason::Discharged);
        assert!(cancelled(&event).unwrap().is_empty());
        event.set_reason_code(AppointmentCancellationReason::ReviewNotNeeded);
        assert_eq!(cancelled(&event).unwrap().len(), 2);
    }

    #[test]
    fn a_discharge_is_told_once_not_also_as_new_guidance() {
        let (trainer, physio) = ids();
        let mut shared = GuidanceShared {
            referral_id: Uuid::now_v7().to_string(),
            trainer_id: trainer.clone(),
            physio_id: physio.clone(),
            ..Default::default()
        };
        assert_eq!(guidance_shared(&shared).unwrap().len(), 1);
        shared.discharges = true;
        assert!(guidance_shared(&shared).unwrap().is_empty());
        let discharge = ReferralDischarged {
            referral_id: shared.referral_id.clone(),
            trainer_id: trainer,
            physio_id: physio,
            ..Default::default()
        };
        let told = discharged(&discharge).unwrap();
        assert_eq!(told.len(), 2);
        assert!(
            told.iter()
                .all(|n| n.kind == NoticeKind::ReferralDischarged)
        );
    }
}
