//! The course of a referral after the first guidance (docs/architecture.md,
//! "Follow-ups", "Discharge"): follow-ups keep the status and show as
//! visits, a completed one awaits new guidance, full clearance without a
//! review discharges, and a new flag after a discharge links back to it.

use crate::support::{Booked, ReferralApp, TrainerWithClient, WAIT, body, guidance, problem};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use spotter_contracts::booking::v1::{
    AppointmentCompleted, AppointmentNoShow, FollowUpBooked, FollowUpMoved,
};
use spotter_contracts::common::v1::AppointmentKind;
use spotter_contracts::convert::timestamp;
use spotter_contracts::referral::v1::{GuidanceShared, ReferralDischarged, ReferralNotAttended};
use uuid::Uuid;

fn follow_up_event(
    referral: Uuid,
    trainer: &TrainerWithClient,
    booked: &Booked,
    id: Uuid,
) -> FollowUpBooked {
    let starts = Utc::now() + Duration::days(21);
    FollowUpBooked {
        appointment_id: id.to_string(),
        referral_id: referral.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        starts_at: timestamp(starts),
        ends_at: timestamp(starts + Duration::minutes(30)),
        guidance_version: 1,
        ..Default::default()
    }
}

fn kinds(referral: &Value) -> Vec<(String, String)> {
    referral["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits (bounded) until the referral's visits read `expected`.
async fn wait_for_visits(
    app: &ReferralApp,
    id: Uuid,
    token: &str,
    expected: &[(&str, &str)],
) -> Value {
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, s)| ((*k).to_owned(), (*s).to_owned()))
        .collect();
    app.wait_for_referral(id, token, |r| kinds(r) == expected)
        .await
}

#[tokio::test]
async fn follow_ups_are_visits_and_full_clearance_without_review_discharges() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    body(app.post(&path, &physio, &guidance()).await, 201).await;
    let shared: GuidanceShared = app.tap.next(WAIT).await.unwrap();
    assert!(!shared.discharges);
    let ack = format!("/v1/referrals/{id}/guidance/acknowledge");
    body(app.post(&ack, &trainer.token, &json!({})).await, 200).await;

    // Booking books the follow-up: the referral keeps its status and shows
    // the visit, and a move follows the visit.
    let follow_up = Uuid::now_v7();
    app.publish(&follow_up_event(id, &trainer, &booked, follow_up))
        .await;
    wait_for_visits(
        &app,
        id,
        &trainer.token,
        &[("assessment", "completed"), ("follow_up", "booked")],
    )
    .await;
    let later = Utc::now() + Duration::days(23);
    app.publish(&FollowUpMoved {
        appointment_id: follow_up.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        starts_at: timestamp(later),
        ends_at: timestamp(later + Duration::minutes(30)),
        ..Default::default()
    })
    .await;
    let mut completed = AppointmentCompleted {
        appointment_id: follow_up.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        completed_at: timestamp(Utc::now()),
        ..Default::default()
    };
    completed.set_kind(AppointmentKind::FollowUp);
    app.publish(&completed).await;
    let assessed = app.wait_for_status(id, &trainer.token, "assessed").await;
    let causes: Vec<&str> = assessed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cause"].as_str().unwrap())
        .collect();
    assert!(
        causes.ends_with(&[
            "guidance_acknowledged",
            "follow_up_booked",
            "follow_up_moved",
            "follow_up_completed"
        ]),
        "{causes:?}"
    );
    let moved_to: chrono::DateTime<Utc> = assessed["visits"][1]["starts_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (moved_to - later).abs() < Duration::seconds(1),
        "{moved_to} vs {later}"
    );

    // Full clearance and no review date: discharged, and this version is
    // the final summary, which the trainer still acknowledges.
    let mut last = guidance();
    last["clearance"] = json!("full_training");
    last.as_object_mut().unwrap().remove("review_on");
    let final_summary = body(app.post(&path, &physio, &last).await, 201).await;
    assert_eq!(final_summary["version"], 2);
    assert!(final_summary["review_on"].is_null());
    let shared: GuidanceShared = app.tap.next(WAIT).await.unwrap();
    assert!(shared.discharges);
    assert!(shared.review_on.is_empty());
    let discharged: ReferralDischarged = app.tap.next(WAIT).await.unwrap();
    assert_eq!(discharged.guidance_version, 2);
    let closed = app.referral(id, &trainer.token).await;
    assert_eq!(closed["status"], "discharged");
    // The final summary's acknowledgement is awaited (and chased) as any.
    assert_eq!(closed["awaiting"][0]["awaited"], "acknowledgement");
    assert_eq!(closed["guidance_versions"].as_array().unwrap().len(), 2);
    assert!(
        closed["durations"]["to_discharge_seconds"]
            .as_i64()
            .unwrap()
            >= 0
    );
    assert!(closed["durations"]["to_acknowledgement_seconds"].is_i64());
    problem(app.post(&path, &physio, &guidance()).await, 409).await;
    let read = body(app.post(&ack, &trainer.token, &json!({})).await, 200).await;
    assert_eq!(read["version"], 2);
    let still = app.referral(id, &trainer.token).await;
    assert_eq!(still["status"], "discharged");
    assert!(still["awaiting"].as_array().unwrap().is_empty());
    problem(app.post(&ack, &trainer.token, &json!({})).await, 409).await;

    // The client hurts the same knee again: a new referral, linked.
    let again = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let linked = app.referral(again, &trainer.token).await;
    assert_eq!(linked["previous_referral_id"], id.to_string());
    let other = app
        .refer(&trainer, &ReferralApp::report_on(&trainer, "shoulder"))
        .await;
    assert!(app.referral(other, &trainer.token).await["previous_referral_id"].is_null());
}

#[tokio::test]
async fn a_second_missed_visit_closes_the_referral_and_says_so() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    body(app.post(&path, &physio, &guidance()).await, 201).await;
    let follow_up = Uuid::now_v7();
    app.publish(&follow_up_event(id, &trainer, &booked, follow_up))
        .await;
    wait_for_visits(
        &app,
        id,
        &trainer.token,
        &[("assessment", "completed"), ("follow_up", "booked")],
    )
    .await;
    let mut missed = AppointmentNoShow {
        appointment_id: follow_up.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        no_shows: 1,
        ..Default::default()
    };
    missed.set_kind(AppointmentKind::FollowUp);
    app.publish(&missed).await;
    app.wait_for_status(id, &trainer.token, "no_show").await;
    // The trainer rebooks (an assessment at the same clinic), which is
    // booked and missed again: closed.
    body(
        app.post(
            &format!("/v1/referrals/{id}/rebook"),
            &trainer.token,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let rebooked = app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    app.publish(&AppointmentNoShow {
        appointment_id: rebooked.appointment.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: rebooked.physio.to_string(),
        clinic_id: rebooked.clinic.to_string(),
        no_shows: 2,
        ..Default::default()
    })
    .await;
    app.wait_for_status(id, &trainer.token, "not_attended")
        .await;
    let id_text = id.to_string();
    let closed = app
        .tap
        .next_matching::<ReferralNotAttended>(WAIT, |e| e.referral_id == id_text)
        .await
        .unwrap();
    assert_eq!(closed.trainer_id, trainer.id.to_string());
}

#[tokio::test]
async fn a_rescheduled_visit_shows_its_new_time() {
    use spotter_contracts::booking::v1::AppointmentRescheduled;
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, _) = app.booked(&trainer).await;
    let later = Utc::now() + Duration::days(3);
    app.publish(&AppointmentRescheduled {
        appointment_id: booked.appointment.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        starts_at: timestamp(later),
        ends_at: timestamp(later + Duration::minutes(45)),
        ..Default::default()
    })
    .await;
    let shown = |v: &Value| {
        v.as_str()
            .map(|s| s.parse::<chrono::DateTime<Utc>>().unwrap())
    };
    let near = |at: Option<chrono::DateTime<Utc>>| {
        at.is_some_and(|at| (at - later).abs() < Duration::seconds(1))
    };
    // The view reads the referral and its visits in two statements, so it
    // is read until both show the move.
    let moved = app
        .wait_for_referral(id, &trainer.token, |r| {
            near(shown(&r["visits"][0]["starts_at"])) && near(shown(&r["appointment"]["starts_at"]))
        })
        .await;
    assert_eq!(moved["status"], "booked");
}

#[tokio::test]
async fn news_of_a_follow_up_ahead_of_its_booking_waits_for_it() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    body(app.post(&path, &physio, &guidance()).await, 201).await;
    // The follow-up's completion comes first (its booking was retried):
    // it waits for the booking rather than being dropped.
    let follow_up = Uuid::now_v7();
    let mut completed = AppointmentCompleted {
        appointment_id: follow_up.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        completed_at: timestamp(Utc::now()),
        ..Default::default()
    };
    completed.set_kind(AppointmentKind::FollowUp);
    app.publish(&completed).await;
    app.publish(&follow_up_event(id, &trainer, &booked, follow_up))
        .await;
    let assessed = app.wait_for_status(id, &trainer.token, "assessed").await;
    let causes: Vec<&str> = assessed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cause"].as_str().unwrap())
        .collect();
    assert!(
        causes.ends_with(&["follow_up_booked", "follow_up_completed"]),
        "{causes:?}"
    );
    wait_for_visits(
        &app,
        id,
        &trainer.token,
        &[("assessment", "completed"), ("follow_up", "completed")],
    )
    .await;
}

#[tokio::test]
async fn a_clinic_sees_its_own_visits_only() {
    use spotter_contracts::booking::v1::AppointmentCancelled;
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, first, _) = app.booked(&trainer).await;
    app.publish(&AppointmentCancelled {
        appointment_id: first.appointment.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: first.physio.to_string(),
        clinic_id: first.clinic.to_string(),
        rebook: true,
        ..Default::default()
    })
    .await;
    app.wait_for_status(id, &trainer.token, "awaiting_booking")
        .await;
    let second = app.book(id, &trainer).await;
    wait_for_visits(
        &app,
        id,
        &trainer.token,
        &[("assessment", "cancelled"), ("assessment", "booked")],
    )
    .await;
    let admin = app.auth.token(
        spotter_auth::Role::ClinicAdmin,
        Uuid::now_v7(),
        Some(second.clinic),
    );
    let seen = app.referral(id, &admin).await;
    let clinics: Vec<&str> = seen["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["clinic_id"].as_str().unwrap())
        .collect();
    assert_eq!(clinics, [second.clinic.to_string()]);
    assert!(seen["previous_referral_id"].is_null());
}
