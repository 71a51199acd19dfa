//! Booking through the saga, against the real PostgreSQL and RabbitMQ: the
//! referral service's requests come in over the broker, the appointment and
//! the events go out.

use crate::support::{
    BookingApp, Referral, WAIT, at, body, morning_tomorrow, problem, timestamp_of, weekday_in,
};
use serde_json::json;
use spotter_auth::Role;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow,
    AppointmentRescheduled, ReferralWaitlisted, WaitlistReason,
};
use spotter_contracts::common::v1::{BodyRegion, CancelledBy, Priority};
use uuid::Uuid;

#[tokio::test]
async fn a_request_is_booked_at_the_earliest_slot_and_announced() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee", "general"]).await;
    app.hours(physio, morning_tomorrow()).await;
    let referral = Referral::knee();
    app.request(&referral).await;

    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, referral.id.to_string());
    assert_eq!(booked.physio_id, physio.to_string());
    assert_eq!(booked.clinic_id, clinic.to_string());
    assert_eq!(booked.trainer_id, referral.trainer.to_string());
    assert_eq!(timestamp_of(&booked.starts_at), at(1, 9, 0));
    assert_eq!(timestamp_of(&booked.ends_at), at(1, 9, 45));
    assert_eq!(booked.priority(), Priority::Routine);
    assert!(!booked.target_missed);
    assert_eq!(app.count("SELECT count(*) AS n FROM appointments").await, 1);
}

/// The referral service counts a client's training weeks where the clinic
/// is: the booking names the clinic's zone.
#[tokio::test]
async fn a_booking_names_the_clinic_s_time_zone() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    body(
        app.patch(
            &format!("/admin/v1/clinics/{clinic}"),
            &app.admin,
            &json!({"timezone": "Asia/Kolkata"}),
        )
        .await,
        200,
    )
    .await;
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, morning_tomorrow()).await;
    app.request(&Referral::knee()).await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.clinic_timezone, "Asia/Kolkata");
}

#[tokio::test]
async fn a_slot_after_triages_target_is_booked_and_flagged() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, morning_tomorrow()).await;
    // Triage's target, not a window of booking's own, decides: here it is
    // an hour away, and the only slot is tomorrow.
    let referral = Referral::knee();
    let mut request = referral.event();
    request.target_by = Some(prost_types::Timestamp {
        seconds: (chrono::Utc::now() + chrono::Duration::hours(1)).timestamp(),
        nanos: 0,
    });
    app.publish(&request).await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, referral.id.to_string());
    assert!(booked.target_missed);
}

#[tokio::test]
async fn a_shorter_buffer_still_keeps_clear_the_buffer_an_appointment_was_booked_with() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    app.policy(clinic, 30, 14).await;
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, morning_tomorrow()).await;
    let first = Referral::knee();
    app.request(&first).await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(timestamp_of(&booked.starts_at), at(1, 9, 0));
    // 09:00–09:45 holds the diary until 10:15; the clinic now wants 10 minutes.
    app.policy(clinic, 10, 14).await;
    let second = Referral::knee();
    app.request(&second).await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, second.id.to_string());
    assert_eq!(timestamp_of(&booked.starts_at), at(1, 10, 15));
}

#[tokio::test]
async fn a_redelivered_or_repeated_request_books_once() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, morning_tomorrow()).await;
    let referral = Referral::knee();
    let first = app.request(&referral).await;
    app.request_as(&referral, first).await; // the broker redelivers it
    app.request(&referral).await; // the same request sent again under a new id
    app.tap.next::<AppointmentBooked>(WAIT).await.unwrap();
    // Both distinct messages handled (the duplicate id was skipped before that).
    let handled = "SELECT count(*) AS n FROM inbox WHERE consumer = 'booking.referrals.routine'";
    for _ in 0..400 {
        if app.count(handled).await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(handled).await, 2);
    assert_eq!(app.count("SELECT count(*) AS n FROM appointments").await, 1);
    assert!(
        app.tap
            .drain::<AppointmentBooked>()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn without_capacity_it_waits_and_books_when_hours_are_added() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    // A clinic in Manchester does not cover a London trainer.
    let far = json!({"name": "Far Physio", "timezone": "UTC", "location": {"lat": 53.48, "lon": -2.24}, "service_radius_km": 20.0});
    body(app.post("/admin/v1/clinics", &app.admin, &far).await, 201).await;
    let referral = Referral::knee();
    app.request(&referral).await;
    let waiting: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    assert_eq!(waiting.referral_id, referral.id.to_string());
    assert_eq!(waiting.reason(), WaitlistReason::NoFreeSlotInHorizon);
    // The clinics whose waitlist shows it, to be told.
    assert_eq!(waiting.clinic_ids, [clinic.to_string()]);
    let list = body(
        app.get(&format!("/admin/v1/clinics/{clinic}/waitlist"), &app.admin)
            .await,
        200,
    )
    .await;
    // Counts in coarse bands only: no id, time or exact distance (the
    // referral sits about 3 km from the clinic).
    assert_eq!(
        list,
        json!({"total": 1, "groups": [{"priority": "routine", "body_region": "knee", "distance_from_km": 0, "count": 1}]})
    );

    app.hours(physio, morning_tomorrow()).await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, referral.id.to_string());
    let list = body(
        app.get(&format!("/admin/v1/clinics/{clinic}/waitlist"), &app.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(list, json!({"total": 0, "groups": []}));
}

#[tokio::test]
async fn no_physio_for_the_body_region_means_waitlisted_for_lack_of_a_candidate() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(physio, morning_tomorrow()).await;
    let mut shoulder = Referral::knee();
    shoulder.region = BodyRegion::Shoulder;
    app.request(&shoulder).await;
    let waiting: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    assert_eq!(waiting.reason(), WaitlistReason::NoCandidatePhysio);
}

#[tokio::test]
async fn a_trainers_cancellation_cancels_the_appointment_for_good() {
    let app = BookingApp::start().await;
    let referral = Referral::knee();
    let booked = app.booked(&referral).await.event;
    app.cancel_referral(&referral).await;
    let cancelled: AppointmentCancelled = app.tap.next(WAIT).await.unwrap();
    assert_eq!(cancelled.appointment_id, booked.appointment_id);
    assert_eq!(cancelled.cancelled_by(), CancelledBy::Trainer);
    assert!(!cancelled.rebook);
    // A late retry of the same referral books nothing.
    let mut retry = referral.clone();
    retry.attempt = 2;
    let retry_id = app.request(&retry).await;
    // Handled (the consumer records each message it has acted on).
    app.wait_for_count(
        &format!("SELECT count(*) AS n FROM inbox WHERE message_id = '{retry_id}'"),
        1,
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM appointments WHERE referral_id = '{}' AND status = 'booked'",
            referral.id
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn physios_act_on_their_appointments_through_a_state_machine() {
    let app = BookingApp::start().await;
    let referral = Referral::knee();
    let crate::support::Booked {
        clinic,
        physio,
        event: booked,
    } = app.booked(&referral).await;
    let id = booked.appointment_id.clone();
    let physio_token = app.auth.token(Role::Physio, physio, Some(clinic));
    let trainer_token = app.auth.token(Role::Trainer, referral.trainer, None);
    let stranger = app.auth.token(Role::Physio, Uuid::now_v7(), Some(clinic));

    let mine = body(app.get("/v1/appointments", &physio_token).await, 200).await;
    assert_eq!(mine["items"][0]["id"], id);
    let theirs = body(
        app.get(&format!("/v1/appointments/{id}"), &trainer_token)
            .await,
        200,
    )
    .await;
    assert_eq!(theirs["status"], "booked");
    problem(
        app.get(&format!("/v1/appointments/{id}"), &stranger).await,
        404,
    )
    .await;
    problem(
        app.post(
            &format!("/v1/appointments/{id}/complete"),
            &stranger,
            &json!({}),
        )
        .await,
        404,
    )
    .await;
    // An id that names nothing is the same 404 as another's, not a 500.
    let unknown = Uuid::now_v7();
    problem(
        app.get(&format!("/v1/appointments/{unknown}"), &physio_token)
            .await,
        404,
    )
    .await;
    problem(
        app.post(
            &format!("/v1/appointments/{unknown}/cancel"),
            &physio_token,
            &json!({"reason": "clinic_unavailable"}),
        )
        .await,
        404,
    )
    .await;
    problem(
        app.post(
            &format!("/v1/appointments/{id}/complete"),
            &trainer_token,
            &json!({}),
        )
        .await,
        403,
    )
    .await;

    // Reschedule: to a free quarter-hour, then to somewhere not in the diary.
    let moved = body(
        app.post(
            &format!("/v1/appointments/{id}/reschedule"),
            &physio_token,
            &json!({"starts_at": at(1, 10, 0)}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["starts_at"], json!(at(1, 10, 0)));
    let rescheduled: AppointmentRescheduled = app.tap.next(WAIT).await.unwrap();
    assert_eq!(timestamp_of(&rescheduled.previous_starts_at), at(1, 9, 0));
    problem(
        app.post(
            &format!("/v1/appointments/{id}/reschedule"),
            &physio_token,
            &json!({"starts_at": at(1, 18, 0)}),
        )
        .await,
        409,
    )
    .await;

    body(
        app.post(
            &format!("/v1/appointments/{id}/complete"),
            &physio_token,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let completed: AppointmentCompleted = app.tap.next(WAIT).await.unwrap();
    assert_eq!(completed.appointment_id, id);
    // Final states stay final.
    problem(
        app.post(
            &format!("/v1/appointments/{id}/complete"),
            &physio_token,
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    let cancel = json!({"reason": "clinic closed"});
    problem(
        app.post(
            &format!("/v1/appointments/{id}/cancel"),
            &physio_token,
            &cancel,
        )
        .await,
        409,
    )
    .await;
    problem(
        app.post(
            &format!("/v1/appointments/{id}/no-show"),
            &physio_token,
            &json!({}),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn a_clinic_cancellation_sends_the_referral_back_to_be_rebooked() {
    let app = BookingApp::start().await;
    let crate::support::Booked {
        clinic,
        event: booked,
        ..
    } = app.booked(&Referral::knee()).await;
    let admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic));
    let path = format!("/v1/appointments/{}/cancel", booked.appointment_id);
    problem(app.post(&path, &admin, &json!({"reason": " "})).await, 422).await;
    body(
        app.post(&path, &admin, &json!({"reason": "physio is ill"}))
            .await,
        200,
    )
    .await;
    let cancelled: AppointmentCancelled = app.tap.next(WAIT).await.unwrap();
    assert_eq!(cancelled.cancelled_by(), CancelledBy::ClinicAdmin);
    assert!(cancelled.rebook, "the referral service books it again");

    // The reason is the clinic's own note: its admins read it, the trainer
    // whose client it was never does, alone or in a list.
    let one = format!("/v1/appointments/{}", booked.appointment_id);
    let seen = body(app.get(&one, &admin).await, 200).await;
    assert_eq!(seen["cancel_reason"], "physio is ill");
    let trainer_id: Uuid = booked.trainer_id.parse().unwrap();
    let trainer = app.auth.token(Role::Trainer, trainer_id, None);
    let seen = body(app.get(&one, &trainer).await, 200).await;
    assert_eq!(seen["status"], "cancelled");
    assert_eq!(seen["cancel_reason"], serde_json::Value::Null);
    let listed = body(app.get("/v1/appointments", &trainer).await, 200).await;
    assert_eq!(listed["items"][0]["id"], booked.appointment_id);
    assert_eq!(listed["items"][0]["cancel_reason"], serde_json::Value::Null);
}

#[tokio::test]
async fn time_off_moves_appointments_out_and_its_removal_frees_the_slot() {
    let app = BookingApp::start().await;
    let crate::support::Booked {
        physio,
        event: booked,
        ..
    } = app.booked(&Referral::knee()).await;
    // Away for the whole booking horizon (14 days), so nothing else is free.
    let off = json!({"start": at(0, 0, 0), "end": at(15, 0, 0), "reason": "training course"});
    let created = body(
        app.post(
            &format!("/admin/v1/physios/{physio}/time-off"),
            &app.admin,
            &off,
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        created["cancelled_appointments"],
        json!([booked.appointment_id])
    );
    let cancelled: AppointmentCancelled = app.tap.next(WAIT).await.unwrap();
    assert!(cancelled.rebook);

    // While away, a new referral waits; when the time off is removed it is booked.
    let referral = Referral::knee();
    app.request(&referral).await;
    let waiting: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    assert_eq!(waiting.referral_id, referral.id.to_string());
    let time_off = created["id"].as_str().unwrap();
    let response = app
        .send(
            reqwest::Method::DELETE,
            &format!("/admin/v1/physios/{physio}/time-off/{time_off}"),
            &app.admin,
            None,
        )
        .await;
    assert_eq!(response.status(), 204);
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, referral.id.to_string());
}

#[tokio::test]
async fn the_waitlist_is_served_most_urgent_then_oldest_first() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    let older_routine = Referral::knee();
    let mut newer_urgent = Referral::knee();
    newer_urgent.priority = Priority::Urgent;
    app.request(&older_routine).await;
    app.tap.next::<ReferralWaitlisted>(WAIT).await.unwrap();
    app.request(&newer_urgent).await;
    app.tap.next::<ReferralWaitlisted>(WAIT).await.unwrap();
    // Capacity for exactly one appointment.
    app.hours(
        physio,
        json!([{"weekday": weekday_in(1), "start": "09:00", "end": "09:45"}]),
    )
    .await;
    let booked: AppointmentBooked = app.tap.next(WAIT).await.unwrap();
    assert_eq!(booked.referral_id, newer_urgent.id.to_string());
    assert_eq!(booked.priority(), Priority::Urgent);
}

#[tokio::test]
async fn a_physios_diary_pages_in_start_order_within_a_date_range() {
    let app = BookingApp::start().await;
    let clinic = app.clinic().await;
    let physio = app.physio(clinic, &["knee"]).await;
    app.hours(
        physio,
        json!([{"weekday": weekday_in(1), "start": "09:00", "end": "12:00"}]),
    )
    .await;
    for _ in 0..4 {
        app.request(&Referral::knee()).await;
        app.tap.next::<AppointmentBooked>(WAIT).await.unwrap();
    }
    let token = app.auth.token(Role::Physio, physio, Some(clinic));
    let first = body(app.get("/v1/appointments?limit=3", &token).await, 200).await;
    let starts: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(starts.len(), 3);
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = body(
        app.get(&format!("/v1/appointments?limit=3&cursor={cursor}"), &token)
            .await,
        200,
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    let from = at(1, 9, 30).to_rfc3339().replace('+', "%2B");
    let ranged = body(
        app.get(&format!("/v1/appointments?from={from}"), &token)
            .await,
        200,
    )
    .await;
    // Booked back to back: 09:00, 09:45, 10:30, 11:15.
    assert_eq!(
        ranged["items"].as_array().unwrap().len(),
        3,
        "three start after 09:30"
    );
    problem(app.get("/v1/appointments?status=lost", &token).await, 422).await;
    problem(
        app.get("/v1/appointments?cursor=nonsense", &token).await,
        422,
    )
    .await;
}

#[tokio::test]
async fn a_no_show_is_recorded_only_once_the_appointment_has_started() {
    let app = BookingApp::start().await;
    let crate::support::Booked {
        clinic,
        physio,
        event: booked,
    } = app.booked(&Referral::knee()).await;
    let id = booked.appointment_id.clone();
    let physio_token = app.auth.token(Role::Physio, physio, Some(clinic));
    let path = format!("/v1/appointments/{id}/no-show");

    let early = problem(app.post(&path, &physio_token, &json!({})).await, 409).await;
    assert!(early["detail"].as_str().unwrap().contains("not started"));
    // Tomorrow comes: the appointment began ten minutes ago.
    app.appointment_began(&id).await;
    let missed = body(app.post(&path, &physio_token, &json!({})).await, 200).await;
    assert_eq!(missed["status"], "no_show");
    let event: AppointmentNoShow = app.tap.next(WAIT).await.unwrap();
    assert_eq!(event.appointment_id, id);
    assert_eq!(event.no_shows, 1, "the referral's first missed appointment");
}
