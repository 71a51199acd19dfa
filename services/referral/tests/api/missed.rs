//! Missed appointments (docs/architecture.md, "Missed appointments"): the
//! first offers one rebooking with the same clinic, which only the trainer
//! confirms; the second closes the referral as `not_attended`.

use crate::support::{Booked, ReferralApp, TrainerWithClient, WAIT};
use serde_json::json;
use spotter_contracts::booking::v1::AppointmentNoShow;
use spotter_contracts::referral::v1::ReferralRequested;
use uuid::Uuid;

async fn missed(
    app: &ReferralApp,
    id: Uuid,
    trainer: &TrainerWithClient,
    booked: &Booked,
    no_shows: u32,
) {
    app.publish(&AppointmentNoShow {
        appointment_id: booked.appointment.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        recorded_at: None,
        no_shows,
        ..Default::default()
    })
    .await;
}

#[tokio::test]
async fn a_first_no_show_may_be_rebooked_with_the_same_clinic_and_a_second_closes_it() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.booked(&trainer).await;
    let rebook = format!("/v1/referrals/{id}/rebook");
    // Nothing to rebook while it is booked.
    assert_eq!(
        app.post(&rebook, &trainer.token, &json!({})).await.status(),
        409
    );

    missed(&app, id, &trainer, &booked, 1).await;
    app.wait_for_status(id, &trainer.token, "no_show").await;
    // Only the referral's own trainer: another trainer and the physio find nothing.
    let other = app.trainer().await;
    assert_eq!(
        app.post(&rebook, &other.token, &json!({})).await.status(),
        404
    );
    assert_eq!(app.post(&rebook, &physio, &json!({})).await.status(), 403);

    let response = app.post(&rebook, &trainer.token, &json!({})).await;
    assert_eq!(response.status(), 200);
    let summary: serde_json::Value = response.json().await.unwrap();
    assert_eq!(summary["status"], "awaiting_booking");
    let wanted = id.to_string();
    let request = app
        .tap
        .next_matching::<ReferralRequested>(WAIT, |e| e.referral_id == wanted && e.attempt == 2)
        .await
        .unwrap();
    assert_eq!(request.only_clinic_id, booked.clinic.to_string());
    // One rebooking only.
    assert_eq!(
        app.post(&rebook, &trainer.token, &json!({})).await.status(),
        409
    );

    let again = app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    missed(&app, id, &trainer, &again, 2).await;
    let detail = app
        .wait_for_status(id, &trainer.token, "not_attended")
        .await;
    assert_eq!(
        app.post(&rebook, &trainer.token, &json!({})).await.status(),
        409
    );
    let causes: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cause"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"rebooked_after_no_show"), "{causes:?}");
    // Closed: it no longer counts as open, and asks nothing of anyone.
    assert_eq!(detail["awaiting"], json!([]));
}
