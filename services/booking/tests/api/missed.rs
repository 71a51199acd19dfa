//! Missed appointments (docs/architecture.md, "Missed appointments"): the
//! rebooking a trainer confirms goes to the clinic whose appointment was
//! missed, and only there; each no-show says how many the referral has had.

use crate::support::{BookingApp, Referral, WAIT, body};
use serde_json::json;
use spotter_auth::Role;
use spotter_contracts::booking::v1::{AppointmentBooked, AppointmentNoShow};

/// The appointment's time comes and goes without the client.
async fn miss(app: &BookingApp, appointment: &AppointmentBooked) -> AppointmentNoShow {
    let id = &appointment.appointment_id;
    app.appointment_began(id).await;
    let physio = app.auth.token(
        Role::Physio,
        appointment.physio_id.parse().unwrap(),
        Some(appointment.clinic_id.parse().unwrap()),
    );
    let path = format!("/v1/appointments/{id}/no-show");
    body(app.post(&path, &physio, &json!({})).await, 200).await;
    app.tap
        .next_matching::<AppointmentNoShow>(WAIT, |e| &e.appointment_id == id)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rebooking_after_a_missed_appointment_goes_to_that_clinic_only() {
    let app = BookingApp::start().await;
    let (sooner, _) = app.clinic_open_in(1).await;
    let (later, _) = app.clinic_open_in(3).await;
    let mut referral = Referral::knee();
    app.request(&referral).await;
    let first = app.booked_at(&referral).await;
    assert_eq!(first.clinic_id, sooner.to_string());
    assert_eq!(miss(&app, &first).await.no_shows, 1);

    // The trainer rebooks with the clinic of a missed appointment (here
    // the later one, to tell "that clinic only" from "the earliest slot").
    referral.attempt += 1;
    let mut request = referral.event();
    request.only_clinic_id = later.to_string();
    app.publish(&request).await;
    let second = app.booked_at(&referral).await;
    assert_eq!(second.clinic_id, later.to_string());
    assert_eq!(miss(&app, &second).await.no_shows, 2);
}
