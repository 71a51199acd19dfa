//! Care deadlines (docs/architecture.md, "Deadlines"): guidance awaited
//! from the physio after an assessment, and the trainer's acknowledgement of
//! new guidance, each with a reminder and an escalation that fire once, and
//! end when the awaited thing happens. The clock is moved by moving a
//! deadline's due time, never by sleeping. Booking's deadline, past its
//! target, marks the referral overdue.

use crate::support::{ReferralApp, WAIT, guidance};
use serde_json::json;
use spotter_contracts::booking::v1::DeadlineReached as BookingDeadlineReached;
use spotter_contracts::common::v1::{DeadlineKind, DeadlineStage};
use spotter_contracts::referral::v1::DeadlineReached;
use uuid::Uuid;

const EVENTS_WRITTEN: &str =
    "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.referral.v1.DeadlineReached'";

/// The referral's care deadlines: not the weekly adherence one, which runs
/// beside them while guidance has exercises (tests/api/training.rs).
fn rows(referral: Uuid, condition: &str) -> String {
    format!(
        "SELECT count(*) AS n FROM deadlines \
         WHERE subject_id = '{referral}' AND kind <> 'adherence_week' {condition}"
    )
}

async fn reached(app: &ReferralApp, referral: Uuid) -> DeadlineReached {
    let id = referral.to_string();
    app.tap
        .next_matching::<DeadlineReached>(WAIT, |e| e.referral_id == id)
        .await
        .unwrap()
}

#[tokio::test]
async fn guidance_not_shared_reminds_the_physio_then_tells_the_clinic_once_each() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, _) = app.assessed(&trainer).await;
    let in_24h = "AND kind = 'guidance' AND stage = 'reminder' AND due_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'";
    assert_eq!(app.count(&rows(id, in_24h)).await, 1);
    // The referral says what it waits for, from whom, and when it is chased.
    let detail = app.referral(id, &trainer.token).await;
    assert_eq!(detail["awaiting"].as_array().unwrap().len(), 1);
    assert_eq!(detail["awaiting"][0]["awaited"], "guidance");

    app.deadline_falls_due(id).await;
    let reminder = reached(&app, id).await;
    assert_eq!(reminder.kind(), DeadlineKind::Guidance);
    assert_eq!(reminder.stage(), DeadlineStage::Reminder);
    assert_eq!(reminder.physio_id, booked.physio.to_string());
    assert_eq!(reminder.clinic_id, booked.clinic.to_string());
    // The escalation counts from the assessment: 72 h after it.
    let at_72h = "AND stage = 'escalation' AND due_at BETWEEN now() + interval '71 hours' AND now() + interval '73 hours'";
    assert_eq!(app.count(&rows(id, at_72h)).await, 1);

    app.deadline_falls_due(id).await;
    let escalation = reached(&app, id).await;
    assert_eq!(escalation.stage(), DeadlineStage::Escalation);
    assert_eq!(app.count(&rows(id, "")).await, 0);
    assert_eq!(app.count(EVENTS_WRITTEN).await, 2);
}

#[tokio::test]
async fn guidance_shared_just_in_time_ends_its_wait_and_starts_the_acknowledgements() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _, physio) = app.assessed(&trainer).await;
    let shared = app
        .post(
            &format!("/v1/referrals/{id}/guidance"),
            &physio,
            &guidance(),
        )
        .await;
    assert_eq!(shared.status(), 201);
    assert_eq!(app.count(&rows(id, "AND kind = 'guidance'")).await, 0);
    let in_48h = "AND kind = 'acknowledgement' AND stage = 'reminder' AND due_at BETWEEN now() + interval '47 hours' AND now() + interval '49 hours'";
    assert_eq!(app.count(&rows(id, in_48h)).await, 1);

    app.deadline_falls_due(id).await;
    let reminder = reached(&app, id).await;
    assert_eq!(reminder.kind(), DeadlineKind::Acknowledgement);
    assert_eq!(reminder.stage(), DeadlineStage::Reminder);
    assert_eq!(reminder.trainer_id, trainer.id.to_string());
    assert_eq!(reminder.guidance_version, 1);
    // The physio looking at what they shared is no acknowledgement.
    let history = format!("/v1/referrals/{id}/guidance");
    assert_eq!(app.get(&history, &physio).await.status(), 200);
    assert_eq!(
        app.count(&rows(
            id,
            "AND kind = 'acknowledgement' AND stage = 'escalation'"
        ))
        .await,
        1
    );

    let path = format!("/v1/referrals/{id}/guidance/acknowledge");
    assert_eq!(
        app.post(&path, &trainer.token, &json!({})).await.status(),
        200
    );
    assert_eq!(app.count(&rows(id, "")).await, 0);
    let detail = app.referral(id, &trainer.token).await;
    assert_eq!(detail["awaiting"], json!([]));

    // Had the acknowledgement not cleared it, the deadline finds nothing
    // awaited and tells no one.
    app.execute(&format!(
        "INSERT INTO deadlines (subject_id, kind, stage, started_at, due_at, escalate_at) VALUES ('{id}', 'acknowledgement', 'escalation', now(), now(), now())"
    ))
    .await
    .unwrap();
    app.wait_for_count(&rows(id, ""), 0).await;
    assert_eq!(app.count(EVENTS_WRITTEN).await, 1);
}

#[tokio::test]
async fn a_referral_booking_could_not_place_by_its_target_is_marked_overdue_once() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let mut event = BookingDeadlineReached {
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        ..Default::default()
    };
    event.set_kind(DeadlineKind::Booking);
    // The reminder goes to clinics only: nothing changes here.
    event.set_stage(DeadlineStage::Reminder);
    app.publish(&event).await;
    event.set_stage(DeadlineStage::Escalation);
    app.publish(&event).await;
    app.publish(&event).await;
    let overdue = format!(
        "SELECT count(*) AS n FROM referral_timeline WHERE referral_id = '{id}' AND cause = 'booking_overdue'"
    );
    app.wait_for_count(&overdue, 1).await;
    // Both escalations were handled (one referral's events one at a time).
    app.wait_for_count(
        "SELECT count(*) AS n FROM inbox WHERE message_type = 'spotter.booking.v1.DeadlineReached'",
        3,
    )
    .await;
    assert_eq!(app.count(&overdue).await, 1);
    let detail = app.referral(id, &trainer.token).await;
    assert!(detail["overdue_since"].is_string(), "{detail}");
    assert_eq!(detail["status"], "awaiting_booking");
    assert_eq!(detail["awaiting"][0]["awaited"], "booking");
}

#[tokio::test]
async fn guidance_left_unread_is_told_to_the_physio_after_the_trainers_reminder() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    assert_eq!(app.post(&path, &physio, &guidance()).await.status(), 201);
    app.deadline_falls_due(id).await;
    assert_eq!(reached(&app, id).await.stage(), DeadlineStage::Reminder);
    // 96 h after it was shared.
    let at_96h = "AND stage = 'escalation' AND due_at BETWEEN now() + interval '95 hours' AND now() + interval '97 hours'";
    assert_eq!(app.count(&rows(id, at_96h)).await, 1);
    app.deadline_falls_due(id).await;
    let escalation = reached(&app, id).await;
    assert_eq!(escalation.kind(), DeadlineKind::Acknowledgement);
    assert_eq!(escalation.stage(), DeadlineStage::Escalation);
    assert_eq!(escalation.physio_id, booked.physio.to_string());
    assert_eq!(app.count(&rows(id, "")).await, 0);
}

#[tokio::test]
async fn a_deadline_never_fires_on_a_referral_being_changed_at_that_moment() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use secrecy::ExposeSecret;
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _, _) = app.assessed(&trainer).await;
    // Another transaction (the guidance being shared, say) holds the referral.
    let url = app.db.settings.url.expose_secret().to_owned();
    let mut holder = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut holder)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM referrals WHERE id = '{id}' FOR UPDATE"
    ))
    .execute(&mut holder)
    .await
    .unwrap();
    app.deadline_falls_due(id).await;
    // The worker looked, found it busy and put the stage off a moment,
    // telling no one meanwhile.
    app.wait_for_count(&rows(id, "AND stage = 'reminder' AND due_at > now()"), 1)
        .await;
    assert_eq!(app.count(EVENTS_WRITTEN).await, 0);
    diesel::sql_query("COMMIT")
        .execute(&mut holder)
        .await
        .unwrap();
    // Free again, it fires (the referral is still assessed).
    assert_eq!(reached(&app, id).await.stage(), DeadlineStage::Reminder);
}
