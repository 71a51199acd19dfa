//! The booking deadline (docs/architecture.md, "Deadlines"): a referral
//! still waiting near its target tells the clinics that could take it, and
//! past its target the trainer, each once; a booking or a cancellation ends
//! it. The clock is moved by moving the deadline's due time, never by
//! sleeping.

use crate::support::{BookingApp, Referral, WAIT, morning_tomorrow};
use spotter_contracts::booking::v1::{AppointmentBooked, DeadlineReached, ReferralWaitlisted};
use spotter_contracts::common::v1::{DeadlineKind, DeadlineStage};
use uuid::Uuid;

/// Every `DeadlineReached` written, published or not: the exact
/// count, where draining the tap could miss a late duplicate.
const EVENTS_WRITTEN: &str =
    "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.booking.v1.DeadlineReached'";

fn deadline_rows(referral: Uuid, condition: &str) -> String {
    format!(
        "SELECT count(*) AS n FROM deadlines WHERE subject_id = '{referral}' AND kind = 'booking' {condition}"
    )
}

async fn reached(app: &BookingApp, referral: Uuid) -> DeadlineReached {
    let id = referral.to_string();
    app.tap
        .next_matching::<DeadlineReached>(WAIT, |e| e.referral_id == id)
        .await
        .unwrap()
}

/// A clinic covering the test trainer whose knee physio has no hours yet.
async fn clinic_without_room(app: &BookingApp) -> (Uuid, Uuid) {
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    (clinic, physio)
}

#[tokio::test]
async fn a_waiting_referral_tells_the_covering_clinics_then_the_trainer_once_each() {
    let app = BookingApp::start().await;
    let (clinic, _) = clinic_without_room(&app).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let _: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    // Routine: 7 days to the target; the clinics hear when a quarter is
    // left, 5¼ days (5 d 6 h) after the flag.
    let reminder_in_5d6h = "AND stage = 'reminder' AND due_at BETWEEN now() + interval '5 days 5 hours' AND now() + interval '5 days 7 hours'";
    assert_eq!(
        app.count(&deadline_rows(referral.id, reminder_in_5d6h))
            .await,
        1
    );

    app.deadline_falls_due(referral.id).await;
    let reminder = reached(&app, referral.id).await;
    assert_eq!(reminder.kind(), DeadlineKind::Booking);
    assert_eq!(reminder.stage(), DeadlineStage::Reminder);
    assert_eq!(reminder.clinic_ids, [clinic.to_string()]);
    assert_eq!(reminder.trainer_id, referral.trainer.to_string());
    // Next: the target itself, 7 days after the flag (only the deadline's
    // clock moved, not the real one).
    let escalation_at_target = "AND stage = 'escalation' AND due_at BETWEEN now() + interval '6 days 23 hours' AND now() + interval '7 days'";
    assert_eq!(
        app.count(&deadline_rows(referral.id, escalation_at_target))
            .await,
        1
    );

    app.deadline_falls_due(referral.id).await;
    let escalation = reached(&app, referral.id).await;
    assert_eq!(escalation.stage(), DeadlineStage::Escalation);
    assert_eq!(escalation.target_by, reminder.target_by);
    // Nothing further: the deadline is gone, and neither stage came twice.
    assert_eq!(app.count(&deadline_rows(referral.id, "")).await, 0);
    assert_eq!(app.count(EVENTS_WRITTEN).await, 2);
}

#[tokio::test]
async fn booking_the_referral_ends_its_deadline_and_a_left_over_one_tells_no_one() {
    let app = BookingApp::start().await;
    let (_, physio) = clinic_without_room(&app).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let _: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    assert_eq!(app.count(&deadline_rows(referral.id, "")).await, 1);

    app.hours(physio, morning_tomorrow()).await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, referral.id.to_string());
    assert_eq!(app.count(&deadline_rows(referral.id, "")).await, 0);

    // Had the booking not cleared it (an older replica, an operator's
    // insert), the deadline finds the referral booked and tells no one.
    app.execute(&format!(
        "INSERT INTO deadlines (subject_id, kind, stage, started_at, due_at, escalate_at) VALUES ('{}', 'booking', 'reminder', now(), now(), now())",
        referral.id
    ))
    .await
    .unwrap();
    app.wait_for_count(&deadline_rows(referral.id, ""), 0).await;
    assert_eq!(app.count(EVENTS_WRITTEN).await, 0);
}

#[tokio::test]
async fn a_cancelled_referral_has_no_deadline_left() {
    let app = BookingApp::start().await;
    clinic_without_room(&app).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let _: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    app.cancel_referral(&referral).await;
    app.wait_for_count(&deadline_rows(referral.id, ""), 0).await;
}

#[tokio::test]
async fn with_two_replicas_each_referral_hears_each_stage_once() {
    let mut app = BookingApp::start().await;
    app.start_replica().await;
    clinic_without_room(&app).await;
    let referrals: Vec<Referral> = (0..12).map(|_| Referral::knee()).collect();
    for referral in &referrals {
        app.request(referral).await;
    }
    for _ in &referrals {
        let _: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    }
    app.wait_for_count("SELECT count(*) AS n FROM deadlines", 12)
        .await;
    app.execute("UPDATE deadlines SET due_at = now()")
        .await
        .unwrap();
    let mut heard = Vec::new();
    for _ in &referrals {
        let e: DeadlineReached = app.tap.next(WAIT).await.unwrap();
        assert_eq!(e.stage(), DeadlineStage::Reminder);
        heard.push(e.referral_id);
    }
    // Both replicas' workers woke: still no stage fired twice.
    app.wait_for_count(
        "SELECT count(*) AS n FROM deadlines WHERE stage = 'escalation'",
        12,
    )
    .await;
    assert_eq!(app.count(EVENTS_WRITTEN).await, 12);
    heard.sort();
    let mut expected: Vec<String> = referrals.iter().map(|r| r.id.to_string()).collect();
    expected.sort();
    assert_eq!(heard, expected);
}
