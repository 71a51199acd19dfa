//! The referral's life as booking's events drive it — duplicates and events
//! out of order included — then guidance back to the trainer.

use crate::support::{ReferralApp, WAIT, body, booked_event, guidance, problem};
use serde_json::json;
use spotter_auth::Role;
use spotter_contracts::booking::v1::{AppointmentCancelled, AppointmentNoShow, ReferralWaitlisted};
use spotter_contracts::referral::v1::{
    GuidanceAcknowledged, GuidanceShared, ReferralCancellationReason, ReferralCancelled,
    ReferralRequested,
};
use uuid::Uuid;

#[tokio::test]
async fn booking_events_move_the_referral_and_duplicates_change_nothing() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    app.publish(&ReferralWaitlisted {
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        ..Default::default()
    })
    .await;
    app.wait_for_status(id, &trainer.token, "waitlisted").await;

    let booked = app.book(id, &trainer).await;
    let referral = app.wait_for_status(id, &trainer.token, "booked").await;
    assert_eq!(
        referral["appointment"]["id"],
        booked.appointment.to_string()
    );
    assert_eq!(
        referral["appointment"]["physio_id"],
        booked.physio.to_string()
    );
    // The same booking again (a redelivery under a new id): nothing changes.
    app.publish(&booked_event(id, &trainer, &booked)).await;
    app.complete(id, &trainer, &booked).await;
    let referral = app.wait_for_status(id, &trainer.token, "assessed").await;
    let causes: Vec<&str> = referral["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        [
            "injury_reported",
            "waitlisted",
            "appointment_booked",
            "appointment_completed"
        ]
    );
}

#[tokio::test]
async fn a_queued_referral_says_when_it_should_be_booked_at_the_recent_pace() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    // Nothing booked lately: queued, with no pace to go by.
    let first = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let waiting = app.referral(first, &trainer.token).await;
    assert_eq!(waiting["status"], "awaiting_booking");
    assert_eq!(waiting["booking_queue"]["state"], "queued");
    assert!(waiting["booking_queue"]["typical_wait_seconds"].is_null());
    assert!(waiting["booking_queue"]["expected_by"].is_null());

    // The first is booked (having waited a little); the next one is expected
    // at that pace, and a booked referral is no longer queued.
    app.execute(&format!(
        "UPDATE referrals SET created_at = now() - interval '90 seconds' WHERE id = '{first}'"
    ))
    .await
    .unwrap();
    app.book(first, &trainer).await;
    let booked = app.wait_for_status(first, &trainer.token, "booked").await;
    assert!(booked["booking_queue"].is_null());
    let second = app
        .refer(&trainer, &ReferralApp::report_on(&trainer, "shoulder"))
        .await;
    let queued = app.referral(second, &trainer.token).await;
    let typical = queued["booking_queue"]["typical_wait_seconds"]
        .as_i64()
        .unwrap();
    assert!((90..120).contains(&typical), "{typical}");
    let expected: chrono::DateTime<chrono::Utc> = queued["booking_queue"]["expected_by"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let flagged: chrono::DateTime<chrono::Utc> =
        queued["created_at"].as_str().unwrap().parse().unwrap();
    // Just flagged, so at the pace of the last booking: flag time + its wait.
    let at_pace = flagged + chrono::Duration::seconds(typical);
    assert!(
        (expected - at_pace).num_milliseconds().abs() < 1000,
        "{expected} vs {at_pace}"
    );
}

#[tokio::test]
async fn an_event_ahead_of_its_predecessor_waits_for_it() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let booked = crate::support::Booked {
        appointment: Uuid::now_v7(),
        physio: Uuid::now_v7(),
        clinic: Uuid::now_v7(),
    };
    // Completed arrives first (its booking is, say, being retried): it is
    // retried too, and applies once the booking is in.
    app.complete(id, &trainer, &booked).await;
    app.wait_for_count("SELECT count(*) AS n FROM inbox", 0)
        .await;
    app.publish(&booked_event(id, &trainer, &booked)).await;
    let referral = app.wait_for_status(id, &trainer.token, "assessed").await;
    let causes: Vec<&str> = referral["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        [
            "injury_reported",
            "appointment_booked",
            "appointment_completed"
        ]
    );
}

#[tokio::test]
async fn a_clinic_cancellation_asks_booking_again_and_a_no_show_ends_it() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let first: ReferralRequested = app.tap.next(WAIT).await.unwrap();
    assert_eq!(first.attempt, 1);
    let booked = app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    let mut cancelled = AppointmentCancelled {
        appointment_id: booked.appointment.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        rebook: true,
        ..Default::default()
    };
    app.publish(&cancelled).await;
    let again: ReferralRequested = app.tap.next(WAIT).await.unwrap();
    assert_eq!(again.referral_id, id.to_string());
    assert_eq!(again.attempt, 2, "a new attempt, not a duplicate");
    let referral = app
        .wait_for_status(id, &trainer.token, "awaiting_booking")
        .await;
    assert!(referral["appointment"].is_null());
    // The old appointment's cancellation again: stale, ignored.
    cancelled.rebook = true;
    app.publish(&cancelled).await;
    let rebooked = app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    app.publish(&AppointmentNoShow {
        appointment_id: rebooked.appointment.to_string(),
        referral_id: id.to_string(),
        ..Default::default()
    })
    .await;
    app.wait_for_status(id, &trainer.token, "no_show").await;
    assert!(
        app.tap
            .drain::<ReferralRequested>()
            .await
            .unwrap()
            .is_empty(),
        "asked once more only"
    );
}

#[tokio::test]
async fn trainers_cancel_until_the_client_is_seen() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    let path = format!("/v1/referrals/{id}/cancel");
    let bad = problem(
        app.post(&path, &trainer.token, &json!({"reason": "bored"}))
            .await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "reason");
    let cancelled = body(
        app.post(
            &path,
            &trainer.token,
            &json!({"reason": "consent_withdrawn"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    let event: ReferralCancelled = app.tap.next(WAIT).await.unwrap();
    assert_eq!(event.referral_id, id.to_string());
    assert_eq!(
        event.reason_code(),
        ReferralCancellationReason::ConsentWithdrawn
    );
    problem(
        app.post(
            &path,
            &trainer.token,
            &json!({"reason": "trainer_cancelled"}),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn guidance_is_the_assigned_physios_once_assessed_and_versioned() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let booked = app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    let physio = app
        .auth
        .token(Role::Physio, booked.physio, Some(booked.clinic));
    let other_physio = app
        .auth
        .token(Role::Physio, Uuid::now_v7(), Some(booked.clinic));
    let path = format!("/v1/referrals/{id}/guidance");

    // Before the assessment: too early.
    problem(app.post(&path, &physio, &guidance()).await, 409).await;
    app.complete(id, &trainer, &booked).await;
    app.wait_for_status(id, &trainer.token, "assessed").await;
    problem(app.post(&path, &other_physio, &guidance()).await, 404).await;
    problem(app.post(&path, &trainer.token, &guidance()).await, 403).await;
    // Each value out of its declared range is refused, naming its field
    // (a value the types refuse is reported alone: the body stops there).
    let cases = [
        ("/clearance", json!("go_wild"), "clearance"),
        ("/exercises/0/sets", json!(0), "exercises[0].sets"),
        ("/load_limits/max_rpe", json!(11), "load_limits.max_rpe"),
        ("/notes_for_trainer", json!("\u{0}"), "notes_for_trainer"),
        ("/review_on", json!("2020-01-01"), "review_on"),
    ];
    for (pointer, value, field) in cases {
        let mut invalid = guidance();
        *invalid.pointer_mut(pointer).unwrap() = value;
        let refused = problem(app.post(&path, &physio, &invalid).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{refused}");
    }

    let v1 = body(app.post(&path, &physio, &guidance()).await, 201).await;
    assert_eq!(v1["version"], 1);
    let shared: GuidanceShared = app.tap.next(WAIT).await.unwrap();
    assert_eq!(shared.version, 1);
    // The clinic it is booked with: its webhooks hear of the guidance.
    assert_eq!(shared.clinic_id, booked.clinic.to_string());
    let referral = app.referral(id, &trainer.token).await;
    assert_eq!(referral["status"], "guidance_shared");
    assert_eq!(referral["guidance"]["load_limits"]["max_rpe"], 6);

    let ack = format!("/v1/referrals/{id}/guidance/acknowledge");
    problem(app.post(&ack, &physio, &json!({})).await, 403).await;
    let acknowledged = body(app.post(&ack, &trainer.token, &json!({})).await, 200).await;
    assert!(acknowledged["acknowledged_at"].is_string());
    let event: GuidanceAcknowledged = app.tap.next(WAIT).await.unwrap();
    assert_eq!(event.physio_id, booked.physio.to_string());
    problem(app.post(&ack, &trainer.token, &json!({})).await, 409).await;

    // A second version becomes current; the first stays readable.
    let mut update = guidance();
    update["clearance"] = json!("full_training");
    let v2 = body(app.post(&path, &physio, &update).await, 201).await;
    assert_eq!(v2["version"], 2);
    let history = body(app.get(&path, &trainer.token).await, 200).await;
    assert_eq!(history["current"]["version"], 2);
    let versions: Vec<i64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(
        app.referral(id, &trainer.token).await["status"],
        "guidance_shared"
    );
    // The acknowledgement belonged to version 1; version 2 awaits its own.
    assert!(history["versions"][1]["acknowledged_at"].is_string());
    assert!(history["current"]["acknowledged_at"].is_null());
}

#[tokio::test]
async fn a_retried_guidance_post_shares_one_version() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");

    let first = body(app.post_once(&path, &physio, "g-1", &guidance()).await, 201).await;
    let retry = body(app.post_once(&path, &physio, "g-1", &guidance()).await, 201).await;
    assert_eq!(first, retry);
    assert_eq!(app.count("SELECT count(*) AS n FROM guidance").await, 1);
    let shared: GuidanceShared = app.tap.next(WAIT).await.unwrap();
    assert_eq!(shared.version, 1);
    // One GuidanceShared only: the trainer is told once.
    assert!(app.tap.drain::<GuidanceShared>().await.unwrap().is_empty());

    let mut changed = guidance();
    changed["notes_for_trainer"] = json!("Something else.");
    let refused = problem(app.post_once(&path, &physio, "g-1", &changed).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "Idempotency-Key");
    // A new key is a new version.
    let v2 = body(app.post_once(&path, &physio, "g-2", &changed).await, 201).await;
    assert_eq!(v2["version"], 2);
}
