//! What the referral shows when clinics refuse it: a decline on the
//! timeline and a new booking attempt; held for a platform admin's review
//! after too many refusals.

use crate::support::{ReferralApp, WAIT};
use spotter_contracts::booking::v1::{
    AppointmentCancellationReason, AppointmentCancelled, DeclineReason, ReferralWaitlisted,
    WaitlistReason,
};
use spotter_contracts::common::v1::CancelledBy;
use spotter_contracts::referral::v1::ReferralRequested;

fn causes(referral: &serde_json::Value) -> Vec<String> {
    referral["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["cause"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_decline_is_on_the_timeline_and_asks_booking_again() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, _) = app.booked(&trainer).await;
    app.tap.next::<ReferralRequested>(WAIT).await.unwrap(); // the first ask
    let mut declined = AppointmentCancelled {
        appointment_id: booked.appointment.to_string(),
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        rebook: true,
        ..Default::default()
    };
    declined.set_cancelled_by(CancelledBy::Physio);
    declined.set_reason_code(AppointmentCancellationReason::Declined);
    declined.set_decline_reason(DeclineReason::OutsideScope);
    app.publish(&declined).await;
    let again: ReferralRequested = app.tap.next(WAIT).await.unwrap();
    assert_eq!(again.attempt, 2);
    let referral = app
        .wait_for_status(id, &trainer.token, "awaiting_booking")
        .await;
    assert_eq!(
        causes(&referral),
        [
            "injury_reported",
            "appointment_booked",
            "appointment_declined"
        ]
    );

    // Refused too often: booking holds it for review, and the timeline says so.
    let mut held = ReferralWaitlisted {
        referral_id: id.to_string(),
        trainer_id: trainer.id.to_string(),
        ..Default::default()
    };
    held.set_reason(WaitlistReason::NeedsReview);
    app.publish(&held).await;
    let referral = app.wait_for_status(id, &trainer.token, "waitlisted").await;
    assert_eq!(causes(&referral).last().unwrap(), "waiting_for_review");
}
