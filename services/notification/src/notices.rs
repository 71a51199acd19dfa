//! Who hears what (docs/architecture.md, "The saga"), as plain
//! functions from an event to the notices it causes. Titles and bodies never
//! carry health detail — no body region, pain or description — only what
//! happened and when; the app fetches details with the user's own token.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancellationReason, AppointmentCancelled, AppointmentNoShow,
    AppointmentRescheduled, ReferralWaitlisted, WaitlistReason,
};
use spotter_contracts::convert::{Malformed, optional_time, uuid};
use spotter_contracts::referral::v1::{
    DoctorAdvised, EmergencyAdvised, GuidanceAcknowledged, GuidanceShared,
};
use spotter_platform::vocabulary::DeclineReason;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    User(Uuid),
    /// Every admin of the clinic.
    Clinic(Uuid),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub to: Audience,
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    pub data: Value,
}

spotter_platform::coded! {
    /// What a notification is about. Push can be turned on or off per kind
    /// (`/v1/notification-preferences`); the inbox always records.
    pub enum NoticeKind {
        AppointmentBooked = "appointment_booked",
        AppointmentReminder = "appointment_reminder",
        TargetMissed = "target_missed",
        ReferralWaitlisted = "referral_waitlisted",
        EmergencyAdvised = "emergency_advised",
        DoctorAdvised = "doctor_advised",
        AppointmentCancelled = "appointment_cancelled",
        AppointmentDeclined = "appointment_declined",
        AppointmentRescheduled = "appointment_rescheduled",
        AppointmentMissed = "appointment_missed",
        GuidanceShared = "guidance_shared",
        GuidanceAcknowledged = "guidance_acknowledged",
        ReferralDeadlineNear = "referral_deadline_near",
        ReferralOverdue = "referral_overdue",
        GuidanceDue = "guidance_due",
        GuidanceUnread = "guidance_unread",
        FollowUpBooked = "follow_up_booked",
        FollowUpMoved = "follow_up_moved",
        FollowUpWaitlisted = "follow_up_waitlisted",
        FollowUpCancelled = "follow_up_cancelled",
        ReferralDischarged = "referral_discharged",
        /// A session the trainer logged went past the guidance's limits
        /// (the treating physio).
        TrainingFlare = "training_flare",
        /// The trainer: drop back to the last session within limits.
        TrainingDropBack = "training_drop_back",
        /// The physio's measures show a meaningful improvement (the trainer).
        OutcomeImproved = "outcome_improved",
        /// A week of training ended with an exercise done in under half
        /// its prescribed sessions (the trainer).
        TrainingBehind = "training_behind",
        /// One of the clinic's webhook endpoints failed for a day and was
        /// turned off (the clinic's admins).
        WebhookDisabled = "webhook_disabled",
    }
}

// Read straight from a text column by raw SQL (the push queue).
spotter_db::text_coded!(NoticeKind);

impl NoticeKind {
    /// Kinds that cannot wait for the next time the app is opened: pushed at
    /// high priority, waking a dozing phone.
    pub fn is_time_critical(self) -> bool {
        matches!(
            self,
            Self::EmergencyAdvised
                | Self::DoctorAdvised
                | Self::AppointmentBooked
                | Self::AppointmentCancelled
                | Self::AppointmentRescheduled
                | Self::AppointmentReminder
                | Self::FollowUpBooked
                | Self::FollowUpCancelled
                | Self::FollowUpMoved
                | Self::TrainingFlare
        )
    }
}

fn when(t: &Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    optional_time(*t)
}

pub(crate) fn on(t: &Option<prost_types::Timestamp>) -> String {
    when(t).map_or_else(
        || "soon".to_owned(),
        |at| at.format("%a %-d %b, %H:%M UTC").to_string(),
    )
}

pub(crate) fn notice(
    to: Audience,
    kind: NoticeKind,
    title: &str,
    body: String,
    data: Value,
) -> Notice {
    Notice {
        to,
        kind,
        title: title.to_owned(),
        body,
        data,
    }
}

pub fn booked(e: &AppointmentBooked) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "appointment_id": e.appointment_id, "starts_at": when(&e.starts_at)});
    let trainer = Audience::User(uuid("trainer_id", &e.trainer_id)?);
    let mut notices = vec![
        notice(
            trainer.clone(),
            NoticeKind::AppointmentBooked,
            "Appointment booked for your client",
            format!(
                "Your client is booked with a physio on {}.",
                on(&e.starts_at)
            ),
            data.clone(),
        ),
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::AppointmentBooked,
            "New appointment booked with you",
            format!(
                "A referred client is booked with you on {}.",
                on(&e.starts_at)
            ),
            data.clone(),
        ),
    ];
    if e.target_missed {
        let body =
            "The first free appointment is later than the referral's target time.".to_owned();
        notices.push(notice(
            trainer,
            NoticeKind::TargetMissed,
            "Booked later than hoped",
            body.clone(),
            data.clone(),
        ));
        notices.push(notice(
            Audience::Clinic(uuid("clinic_id", &e.clinic_id)?),
            NoticeKind::TargetMissed,
            "A referral was booked past its target time",
            body,
            data,
        ));
    }
    Ok(notices)
}

/// The trainer, and the admins of every clinic whose area covers them (more
/// hours there would book it).
pub fn waitlisted(e: &ReferralWaitlisted) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id});
    let to_trainer = if e.reason() == WaitlistReason::NeedsReview {
        "Clinics nearby could not take this referral, so it no longer books by itself. Our team is reviewing it; you may also cancel it and seek care elsewhere."
    } else {
        "No physio nearby is free yet. We'll book automatically as soon as one is."
    };
    let mut notices = vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::ReferralWaitlisted,
        "Referral waitlisted",
        to_trainer.to_owned(),
        data.clone(),
    )];
    if e.reason() == WaitlistReason::NeedsReview {
        return Ok(notices); // no clinic is asked to take it
    }
    for clinic in &e.clinic_ids {
        notices.push(notice(
            Audience::Clinic(uuid("clinic_ids", clinic)?),
            NoticeKind::ReferralWaitlisted,
            "A referral is waiting for a free slot",
            "A referral in your area could not be booked: no physio is free. It is on your waitlist and will be booked as soon as a slot opens.".to_owned(),
            // No referral id: a clinic sees the waitlist only as counts in
            // distance bands, and an id arriving with each change would let
            // it follow one referral across them.
            json!({}),
        ));
    }
    Ok(notices)
}

pub fn emergency(e: &EmergencyAdvised) -> Result<Vec<Notice>, Malformed> {
    Ok(vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::EmergencyAdvised,
        "Urgent care advised for your client",
        "Call emergency services for your client now if you have not already. No physio appointment was booked; once a doctor clears them for physio, record it in the app."
            .to_owned(),
        json!({"referral_id": e.referral_id}),
    )])
}

/// Triage says a doctor today, not a physio. Like the emergency advice,
/// it names no symptom: the trainer sees why in the referral.
pub fn doctor(e: &DoctorAdvised) -> Result<Vec<Notice>, Malformed> {
    Ok(vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::DoctorAdvised,
        "A doctor should see your client today",
        "Please send your client to their GP or an urgent care centre today. No physio appointment was booked; once a doctor clears them for physio, record it in the app."
            .to_owned(),
        json!({"referral_id": e.referral_id}),
    )])
}

pub fn cancelled(e: &AppointmentCancelled) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "appointment_id": e.appointment_id});
    let to_trainer = if e.reason_code() == AppointmentCancellationReason::Declined {
        declined(e, data.clone())?
    } else {
        let body = if e.rebook {
            "The appointment was cancelled by the clinic. We're booking a new one automatically."
        } else {
            "The appointment was cancelled."
        };
        notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::AppointmentCancelled,
            "Appointment cancelled",
            body.to_owned(),
            data.clone(),
        )
    };
    Ok(vec![
        to_trainer,
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::AppointmentCancelled,
            "Appointment cancelled",
            "An appointment in your diary was cancelled.".to_owned(),
            data,
        ),
    ])
}

/// The clinic declined: the trainer hears the coded reason in plain words
/// (never the clinic's own text) and that another clinic is being found.
fn declined(e: &AppointmentCancelled, mut data: Value) -> Result<Notice, Malformed> {
    // A reason this service does not know yet is still a decline to tell.
    let reason = DeclineReason::try_from(e.decline_reason()).ok();
    let why = match reason {
        Some(DeclineReason::OutsideScope) => "it is outside what they treat",
        Some(DeclineReason::NotSuitableForClinic) => {
            "they cannot serve this client at their clinic"
        }
        Some(DeclineReason::NoCapacity) => "they have no room for it in time",
        None => "they cannot take it",
    };
    data["reason"] = json!(reason.map(DeclineReason::as_str));
    Ok(notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::AppointmentDeclined,
        "The clinic could not take this referral",
        format!(
            "The clinic declined the appointment: {why}. We're booking another clinic automatically."
        ),
        data,
    ))
}

pub fn rescheduled(e: &AppointmentRescheduled) -> Result<Vec<Notice>, Malformed> {
    let data = json!({"referral_id": e.referral_id, "appointment_id": e.appointment_id, "starts_at": when(&e.starts_at)});
    let body = format!("The appointment now starts on {}.", on(&e.starts_at));
    Ok(vec![
        notice(
            Audience::User(uuid("trainer_id", &e.trainer_id)?),
            NoticeKind::AppointmentRescheduled,
            "Appointment moved",
            body.clone(),
            data.clone(),
        ),
        notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::AppointmentRescheduled,
            "Appointment moved",
            body,
            data,
        ),
    ])
}

/// The first missed appointment offers one rebooking with the same clinic,
/// which the trainer confirms in the app; the second closes the referral.
/// (An event without `no_shows`, from an older booking service, counts as
/// the first.)
pub fn no_show(e: &AppointmentNoShow) -> Result<Vec<Notice>, Malformed> {
    let closed = e.no_shows >= 2;
    let body = if closed {
        "The clinic recorded a second no-show, so this referral is closed. Flag the injury again if your client still needs a physio."
    } else {
        "The clinic recorded a no-show. You can rebook once with the same clinic from the referral in the app."
    };
    Ok(vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::AppointmentMissed,
        "Your client missed their appointment",
        body.to_owned(),
        json!({"referral_id": e.referral_id, "appointment_id": e.appointment_id, "rebook_offered": !closed}),
    )])
}

/// A discharge's final summary is told by `ReferralDischarged` instead.
pub fn guidance_shared(e: &GuidanceShared) -> Result<Vec<Notice>, Malformed> {
    if e.discharges {
        return Ok(Vec::new());
    }
    Ok(vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::GuidanceShared,
        "New guidance from the physio",
        "The physio has shared how your client should train. Read and acknowledge it in the app."
            .to_owned(),
        json!({"referral_id": e.referral_id, "guidance_id": e.guidance_id, "version": e.version}),
    )])
}

pub fn guidance_acknowledged(e: &GuidanceAcknowledged) -> Result<Vec<Notice>, Malformed> {
    Ok(vec![notice(
        Audience::User(uuid("physio_id", &e.physio_id)?),
        NoticeKind::GuidanceAcknowledged,
        "The trainer acknowledged your guidance",
        "The trainer has read your guidance and will train the client within it.".to_owned(),
        json!({"referral_id": e.referral_id, "guidance_id": e.guidance_id, "version": e.version}),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booked_event(target_missed: bool) -> AppointmentBooked {
        AppointmentBooked {
            appointment_id: Uuid::now_v7().to_string(),
            referral_id: Uuid::now_v7().to_string(),
            trainer_id: Uuid::now_v7().to_string(),
            client_id: Uuid::now_v7().to_string(),
            physio_id: Uuid::now_v7().to_string(),
            clinic_id: Uuid::now_v7().to_string(),
            starts_at: Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            }),
            target_missed,
            ..Default::default()
        }
    }

    #[test]
    fn a_booking_tells_the_trainer_and_the_physio() {
        let event = booked_event(false);
        let notices = booked(&event).unwrap();
        let to: Vec<&Audience> = notices.iter().map(|n| &n.to).collect();
        assert_eq!(
            to,
            [
                &Audience::User(event.trainer_id.parse().unwrap()),
                &Audience::User(event.physio_id.parse().unwrap())
            ]
        );
        assert!(
            notices[0].body.contains("Fri 15 Jan, 08:00 UTC"),
            "{}",
            notices[0].body
        );
    }

    #[test]
    fn a_missed_target_also_tells_the_clinic() {
        let event = booked_event(true);
        let notices = booked(&event).unwrap();
        assert!(notices.iter().any(
            |n| n.to == Audience::Clinic(event.clinic_id.parse().unwrap())
                && n.kind == NoticeKind::TargetMissed
        ));
    }

    #[test]
    fn a_waitlisting_tells_the_trainer_and_each_covering_clinic() {
        let clinics = [Uuid::now_v7(), Uuid::now_v7()];
        let event = ReferralWaitlisted {
            referral_id: Uuid::now_v7().to_string(),
            trainer_id: Uuid::now_v7().to_string(),
            clinic_ids: clinics.iter().map(Uuid::to_string).collect(),
            ..Default::default()
        };
        let notices = waitlisted(&event).unwrap();
        let to: Vec<&Audience> = notices.iter().map(|n| &n.to).collect();
        assert_eq!(
            to,
            [
                &Audience::User(event.trainer_id.parse().unwrap()),
                &Audience::Clinic(clinics[0]),
                &Audience::Clinic(clinics[1]),
            ]
        );
    }

    #[test]
    fn garbage_ids_are_refused() {
        let mut event = booked_event(false);
        event.trainer_id = "nobody".to_owned();
        assert!(booked(&event).is_err());
    }

    #[test]
    fn a_decline_tells_the_trainer_its_coded_reason_and_that_another_clinic_is_sought() {
        let mut event = AppointmentCancelled {
            appointment_id: Uuid::now_v7().to_string(),
            referral_id: Uuid::now_v7().to_string(),
            trainer_id: Uuid::now_v7().to_string(),
            physio_id: Uuid::now_v7().to_string(),
            clinic_id: Uuid::now_v7().to_string(),
            rebook: true,
            ..Default::default()
        };
        event.set_reason_code(AppointmentCancellationReason::Declined);
        event.set_decline_reason(DeclineReason::NoCapacity.into());
        let notices = cancelled(&event).unwrap();
        let trainer = &notices[0];
        assert_eq!(
            trainer.to,
            Audience::User(event.trainer_id.parse().unwrap())
        );
        assert_eq!(trainer.kind, NoticeKind::AppointmentDeclined);
        assert_eq!(trainer.data["reason"], "no_capacity");
        assert!(trainer.body.contains("no room"), "{}", trainer.body);
        assert!(trainer.body.contains("another clinic"), "{}", trainer.body);
        // An ordinary clinic cancellation keeps its own wording.
        event.set_reason_code(AppointmentCancellationReason::Other);
        assert_eq!(
            cancelled(&event).unwrap()[0].kind,
            NoticeKind::AppointmentCancelled
        );
    }

    #[test]
    fn a_referral_held_for_review_tells_the_trainer_it_no_longer_books_by_itself() {
        let mut event = ReferralWaitlisted {
            referral_id: Uuid::now_v7().to_string(),
            trainer_id: Uuid::now_v7().to_string(),
            ..Default::default()
        };
        event.clinic_ids = vec![Uuid::now_v7().to_string()];
        let notices = waitlisted(&event).unwrap();
        assert_eq!(notices.len(), 2, "the trainer and the covering clinic");
        assert_eq!(
            notices[1].data,
            json!({}),
            "no referral id reaches a clinic"
        );
        event.set_reason(WaitlistReason::NeedsReview);
        let notices = waitlisted(&event).unwrap();
        assert_eq!(notices.len(), 1, "no clinic is asked");
        assert!(notices[0].body.contains("reviewing"), "{}", notices[0].body);
    }
}
