//! Follow-ups (docs/architecture.md, "Follow-ups"): guidance's review date
//! books the treating physio, newer guidance moves or cancels it, a clinic's
//! cancellation books it again (a colleague once the physio is gone), and
//! one with no room waits for capacity at its clinic.

use crate::support::{
    BookingApp, Referral, WAIT, body, morning_tomorrow, timestamp_of, weekday_in,
};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::json;
use spotter_auth::Role;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancellationReason, AppointmentCancelled, FollowUpBooked,
    FollowUpMoved, FollowUpWaitlisted,
};
use spotter_contracts::common::v1::AppointmentKind;
use spotter_contracts::referral::v1::GuidanceShared;
use uuid::Uuid;

/// Every day of the week, 09:00–12:00 (UTC).
fn every_morning() -> serde_json::Value {
    json!(
        (1..=7)
            .map(|d| json!({"weekday": d, "start": "09:00", "end": "12:00"}))
            .collect::<Vec<_>>()
    )
}

fn in_days(days: i64) -> NaiveDate {
    Utc::now().date_naive() + Duration::days(days)
}

/// The physio completes the assessment, then shares guidance `version`
/// with `review_on` (none: no review).
async fn guidance(
    app: &BookingApp,
    booked: &AppointmentBooked,
    version: u32,
    review_on: Option<NaiveDate>,
) -> Uuid {
    app.publish(&guidance_event(booked, version, review_on))
        .await
}

fn guidance_event(
    booked: &AppointmentBooked,
    version: u32,
    review_on: Option<NaiveDate>,
) -> GuidanceShared {
    GuidanceShared {
        referral_id: booked.referral_id.clone(),
        guidance_id: Uuid::now_v7().to_string(),
        version,
        trainer_id: booked.trainer_id.clone(),
        physio_id: booked.physio_id.clone(),
        review_on: review_on.map(|d| d.to_string()).unwrap_or_default(),
        ..Default::default()
    }
}

/// The referral's follow-up request is in `state` (polled: what the
/// consumer decided is only in the database when no one is told).
async fn wait_for_state(app: &BookingApp, referral: &Referral, state: &str) {
    let sql = format!(
        "SELECT count(*) AS n FROM follow_up_requests WHERE referral_id = '{}' AND state = '{state}'",
        referral.id
    );
    app.wait_for_count(&sql, 1).await;
}

async fn complete(app: &BookingApp, booked: &AppointmentBooked) {
    let physio = app.auth.token(
        Role::Physio,
        booked.physio_id.parse().unwrap(),
        Some(booked.clinic_id.parse().unwrap()),
    );
    let path = format!("/v1/appointments/{}/complete", booked.appointment_id);
    body(app.post(&path, &physio, &json!({})).await, 200).await;
}

async fn follow_up_booked(app: &BookingApp, referral: &Referral) -> FollowUpBooked {
    let id = referral.id.to_string();
    app.tap
        .next_matching::<FollowUpBooked>(WAIT, |e| e.referral_id == id)
        .await
        .unwrap()
}

async fn cancelled(app: &BookingApp, appointment_id: &str) -> AppointmentCancelled {
    app.tap
        .next_matching::<AppointmentCancelled>(WAIT, |e| e.appointment_id == appointment_id)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_review_date_books_the_same_physio_and_newer_guidance_moves_or_cancels_it() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let treating = app.physio(clinic, &["knee"]).await;
    app.hours(treating, every_morning()).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let assessment = app.booked_at(&referral).await;
    complete(&app, &assessment).await;
    // A colleague free an hour earlier every day is never chosen while the
    // treating physio is there.
    let colleague = app.physio(clinic, &["knee"]).await;
    let earlier = (1..=7)
        .map(|d| json!({"weekday": d, "start": "08:00", "end": "12:00"}))
        .collect::<Vec<_>>();
    app.hours(colleague, json!(earlier)).await;

    guidance(&app, &assessment, 1, Some(in_days(3))).await;
    let follow_up = follow_up_booked(&app, &referral).await;
    assert_eq!(follow_up.physio_id, treating.to_string());
    let (starts, ends) = (
        timestamp_of(&follow_up.starts_at),
        timestamp_of(&follow_up.ends_at),
    );
    // The first free slot on the review date (the clinic is in UTC), for the
    // clinic's 30-minute follow-ups.
    assert_eq!(starts.date_naive(), in_days(3));
    assert_eq!(starts.format("%H:%M").to_string(), "09:00");
    assert_eq!(ends - starts, Duration::minutes(30));
    assert_eq!(follow_up.guidance_version, 1);
    assert!(follow_up.replaces_appointment_id.is_empty());
    let physio = app.auth.token(Role::Physio, treating, Some(clinic));
    let path = format!("/v1/appointments/{}", follow_up.appointment_id);
    let shown = body(app.get(&path, &physio).await, 200).await;
    assert_eq!(shown["kind"], "follow_up");

    // A follow-up is the client's own physio's: it cannot be declined.
    let decline = format!("/v1/appointments/{}/decline", follow_up.appointment_id);
    let refused = app
        .post(&decline, &physio, &json!({"reason": "no_capacity"}))
        .await;
    assert_eq!(refused.status(), 409);

    guidance(&app, &assessment, 2, Some(in_days(5))).await;
    let moved = app
        .tap
        .next_matching::<FollowUpMoved>(WAIT, |e| e.appointment_id == follow_up.appointment_id)
        .await
        .unwrap();
    assert_eq!(timestamp_of(&moved.starts_at).date_naive(), in_days(5));
    assert_eq!(timestamp_of(&moved.previous_starts_at), starts);

    guidance(&app, &assessment, 3, None).await;
    let gone = cancelled(&app, &follow_up.appointment_id).await;
    assert_eq!(gone.kind(), AppointmentKind::FollowUp);
    assert_eq!(
        gone.reason_code(),
        AppointmentCancellationReason::ReviewNotNeeded
    );
    assert!(
        !gone.rebook,
        "nothing for the referral service to send back"
    );
}

#[tokio::test]
async fn a_clinic_cancelled_follow_up_is_booked_again_and_goes_to_a_colleague_once_the_physio_is_gone()
 {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let treating = app.physio(clinic, &["knee"]).await;
    app.hours(treating, every_morning()).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let assessment = app.booked_at(&referral).await;
    complete(&app, &assessment).await;
    let colleague = app.physio(clinic, &["general"]).await;
    app.hours(colleague, every_morning()).await;
    guidance(&app, &assessment, 1, Some(in_days(2))).await;
    let first = follow_up_booked(&app, &referral).await;

    let physio = app.auth.token(Role::Physio, treating, Some(clinic));
    let cancel = format!("/v1/appointments/{}/cancel", first.appointment_id);
    body(
        app.post(&cancel, &physio, &json!({"reason": "course that day"}))
            .await,
        200,
    )
    .await;
    let gone = cancelled(&app, &first.appointment_id).await;
    assert_eq!(gone.kind(), AppointmentKind::FollowUp);
    assert!(!gone.rebook, "booking books it again itself");
    let again = follow_up_booked(&app, &referral).await;
    assert_eq!(again.replaces_appointment_id, first.appointment_id);
    assert_eq!(
        again.physio_id,
        treating.to_string(),
        "still the treating physio"
    );
    assert!(
        timestamp_of(&again.starts_at) >= timestamp_of(&first.ends_at),
        "not the slot just cancelled"
    );

    // The treating physio leaves: the follow-up goes to the colleague.
    let leave = format!("/admin/v1/physios/{treating}");
    body(
        app.patch(&leave, &app.admin, &json!({"active": false}))
            .await,
        200,
    )
    .await;
    cancelled(&app, &again.appointment_id).await;
    let taken_over = follow_up_booked(&app, &referral).await;
    assert_eq!(taken_over.replaces_appointment_id, again.appointment_id);
    assert_eq!(taken_over.physio_id, colleague.to_string());
}

#[tokio::test]
async fn a_follow_up_with_no_room_waits_and_is_booked_when_hours_open() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await; // a 14-day horizon
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, morning_tomorrow()).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let assessment = app.booked_at(&referral).await;
    complete(&app, &assessment).await;

    // From day 10, that weekday next comes on day 15: past the horizon.
    guidance(&app, &assessment, 1, Some(in_days(10))).await;
    let id = referral.id.to_string();
    let waiting = app
        .tap
        .next_matching::<FollowUpWaitlisted>(WAIT, |e| e.referral_id == id)
        .await
        .unwrap();
    assert_eq!(waiting.physio_id, physio.to_string());
    assert_eq!(waiting.review_on, in_days(10).to_string());

    app.hours(
        physio,
        json!([
            {"weekday": weekday_in(1), "start": "09:00", "end": "12:00"},
            {"weekday": weekday_in(11), "start": "14:00", "end": "15:00"},
        ]),
    )
    .await;
    let booked = follow_up_booked(&app, &referral).await;
    let starts = timestamp_of(&booked.starts_at);
    assert_eq!(starts.date_naive(), in_days(11));
    assert_eq!(starts.format("%H:%M").to_string(), "14:00");
}

#[tokio::test]
async fn an_older_guidance_version_arriving_late_books_nothing_a_newer_one_cancelled() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, every_morning()).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let assessment = app.booked_at(&referral).await;
    complete(&app, &assessment).await;

    // Version 2 (a discharge: no review) is handled before version 1.
    let mut discharge = guidance_event(&assessment, 2, None);
    discharge.discharges = true;
    app.publish(&discharge).await;
    wait_for_state(&app, &referral, "closed").await;
    let v1 = guidance(&app, &assessment, 1, Some(in_days(3))).await;
    // Handled before version 3 is sent (the consumer takes two at once,
    // and version 3 first would make version 1 stale whatever it did).
    app.wait_for_count(
        &format!("SELECT count(*) AS n FROM inbox WHERE message_id = '{v1}'"),
        1,
    )
    .await;
    // Then a version 3 with a date: were version 1 booked, this would move
    // it (`FollowUpMoved`); it books afresh, so version 1 booked nothing.
    guidance(&app, &assessment, 3, Some(in_days(4))).await;
    let booked = follow_up_booked(&app, &referral).await;
    assert_eq!(booked.guidance_version, 3);
    assert_eq!(timestamp_of(&booked.starts_at).date_naive(), in_days(4));
}

#[tokio::test]
async fn a_review_beyond_the_horizon_waits_untold_and_is_booked_once_within_it() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await; // a 14-day horizon
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, every_morning()).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let assessment = app.booked_at(&referral).await;
    complete(&app, &assessment).await;

    guidance(&app, &assessment, 1, Some(in_days(20))).await;
    // Scheduled, not waitlisted: no one hears "no room" for a date the
    // clinic does not book yet.
    wait_for_state(&app, &referral, "scheduled").await;
    let bookable = app
        .count(&format!(
            "SELECT count(*) AS n FROM follow_up_requests WHERE referral_id = '{}' \
             AND bookable_from = current_date + 6",
            referral.id
        ))
        .await;
    assert_eq!(bookable, 1, "from the review date less the horizon");
    let untold = "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.booking.v1.FollowUpWaitlisted'";
    assert_eq!(app.count(untold).await, 0, "no one told of 'no room'");

    // The clinic looks further ahead now: the review date is within reach
    // at once, and the waitlist books it.
    app.policy(clinic, 0, 28).await;
    let booked = follow_up_booked(&app, &referral).await;
    assert_eq!(timestamp_of(&booked.starts_at).date_naive(), in_days(20));
}

/// After two flares in a week the physio brings the follow-up forward with
/// one tap: the earliest free time in their own diary before it, told like
/// any move; with nothing earlier free it stays, and only the clinic's side
/// may tap.
#[tokio::test]
async fn a_follow_up_is_brought_forward_to_the_earliest_free_time() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let treating = app.physio(clinic, &["knee"]).await;
    app.hours(treating, every_morning()).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let assessment = app.booked_at(&referral).await;
    complete(&app, &assessment).await;
    guidance(&app, &assessment, 1, Some(in_days(5))).await;
    let follow_up = follow_up_booked(&app, &referral).await;
    let physio = app.auth.token(Role::Physio, treating, Some(clinic));
    let trainer = app.auth.token(Role::Trainer, referral.trainer, None);
    let tap = format!(
        "/v1/appointments/{}/bring-forward",
        follow_up.appointment_id
    );
    crate::support::problem(app.post(&tap, &trainer, &json!({})).await, 403).await;
    let other_clinic = app.clinic().await;
    let stranger = app
        .auth
        .token(Role::Physio, Uuid::now_v7(), Some(other_clinic));
    crate::support::problem(app.post(&tap, &stranger, &json!({})).await, 404).await;

    let moved = body(app.post(&tap, &physio, &json!({})).await, 200).await;
    let told = app
        .tap
        .next_matching::<FollowUpMoved>(WAIT, |e| e.appointment_id == follow_up.appointment_id)
        .await
        .unwrap();
    let starts = timestamp_of(&told.starts_at);
    assert_eq!(moved["starts_at"], json!(starts));
    assert!(starts < timestamp_of(&follow_up.starts_at));
    assert_eq!(moved["kind"], "follow_up");

    // It went to the earliest free time: a second tap finds none earlier.
    crate::support::problem(app.post(&tap, &physio, &json!({})).await, 409).await;
}
