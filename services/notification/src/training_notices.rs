//! Who hears of the client's training (docs/training.md, "Flares"): the
//! treating physio of a flare at once, the trainer to drop back. Like every
//! notice, no health detail: no pain, effort or body part, only that a
//! session went past the guidance's limits, that a week fell short of the
//! plan, or that the client improved.

use crate::notices::{Audience, Notice, NoticeKind, notice};
use serde_json::json;
use spotter_contracts::convert::{Malformed, uuid};
use spotter_contracts::referral::v1::{OutcomeImproved, TrainingBehind, TrainingFlared};

pub fn flared(e: &TrainingFlared) -> Result<Vec<Notice>, Malformed> {
    let mut notices = vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::TrainingDropBack,
        "Drop back to the last session within limits",
        "The session you logged went past the physio's limits, and the physio has been told. Next time, drop back to the last session that stayed within them."
            .to_owned(),
        json!({
            "referral_id": e.referral_id,
            "session_id": e.session_id,
            "drop_back_to_session_id": non_empty(&e.drop_back_to_session_id),
        }),
    )];
    if !e.physio_id.is_empty() {
        let mut body = "A session the trainer logged with your client went past the limits in your guidance. The session log has the details.".to_owned();
        if e.earlier_review_suggested {
            body.push_str(" It is not the first such session this week: you may want to see the client sooner.");
        }
        // The app offers the one-tap earlier follow-up when one is booked.
        notices.push(notice(
            Audience::User(uuid("physio_id", &e.physio_id)?),
            NoticeKind::TrainingFlare,
            "A client's session went past your limits",
            body,
            json!({
                "referral_id": e.referral_id,
                "session_id": e.session_id,
                "earlier_review_suggested": e.earlier_review_suggested,
                "follow_up_appointment_id": non_empty(&e.follow_up_appointment_id),
            }),
        ));
    }
    Ok(notices)
}

/// The trainer hears the client is meaningfully better than at the flag;
/// which measure and by how much stays in the referral.
pub fn improved(e: &OutcomeImproved) -> Result<Vec<Notice>, Malformed> {
    Ok(vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::OutcomeImproved,
        "Your client is making progress",
        "The physio recorded a meaningful improvement since the flag. The referral has the details."
            .to_owned(),
        json!({"referral_id": e.referral_id, "measurement_id": e.measurement_id}),
    )])
}

/// The trainer hears a week fell short of the plan; which exercises, and
/// by how much, the adherence view shows them (docs/training.md,
/// "Adherence").
pub fn behind(e: &TrainingBehind) -> Result<Vec<Notice>, Malformed> {
    Ok(vec![notice(
        Audience::User(uuid("trainer_id", &e.trainer_id)?),
        NoticeKind::TrainingBehind,
        "Last week's training fell short of the plan",
        "Your client did fewer than half the sessions the physio planned for at least one exercise last week. The adherence view has the details."
            .to_owned(),
        json!({"referral_id": e.referral_id, "week": e.week}),
    )])
}

fn non_empty(id: &str) -> Option<&str> {
    (!id.is_empty()).then_some(id)
}
