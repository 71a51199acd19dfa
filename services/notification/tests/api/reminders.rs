//! Reminders 24 h and 2 h before an appointment: planned on booking, moved on
//! reschedule, dropped on cancellation, never for a past time, and sent once
//! even with two replicas racing for them.

use chrono::{Duration, Utc};
use notification_service::Notification;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancelled, AppointmentRescheduled,
};
use spotter_service::testing::service::TestService;
use uuid::Uuid;

type App = TestService<Notification>;

fn ts(at: chrono::DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    })
}

struct Booking {
    appointment: Uuid,
    referral: Uuid,
    trainer: Uuid,
    physio: Uuid,
}

impl Booking {
    fn new() -> Self {
        Self {
            appointment: Uuid::now_v7(),
            referral: Uuid::now_v7(),
            trainer: Uuid::now_v7(),
            physio: Uuid::now_v7(),
        }
    }

    fn booked(&self, starts_at: chrono::DateTime<Utc>) -> AppointmentBooked {
        AppointmentBooked {
            appointment_id: self.appointment.to_string(),
            referral_id: self.referral.to_string(),
            trainer_id: self.trainer.to_string(),
            client_id: Uuid::now_v7().to_string(),
            physio_id: self.physio.to_string(),
            clinic_id: Uuid::now_v7().to_string(),
            starts_at: ts(starts_at),
            ends_at: ts(starts_at + Duration::minutes(45)),
            ..Default::default()
        }
    }
}

const SENT: &str = "SELECT count(*) AS n FROM notifications WHERE kind = 'appointment_reminder'";

/// Once the 2 h reminders are planned, ten minutes pass: they fall due now,
/// and the workers are woken (as a new reminder would wake them).
async fn two_hour_reminders_fall_due(app: &App) {
    let planned = "SELECT count(*) AS n FROM reminders WHERE lead = '2h' AND sent_at IS NULL";
    app.wait_for_count(planned, 2).await;
    app.execute("UPDATE reminders SET due_at = now() WHERE lead = '2h'")
        .await
        .unwrap();
    app.execute("SELECT pg_notify('spotter_reminders', '')")
        .await
        .unwrap();
}

#[tokio::test]
async fn the_two_hour_reminder_goes_to_both_and_a_past_one_is_never_planned() {
    let app = App::start().await;
    let b = Booking::new();
    // Starts in just over 2 hours: the 24 h reminder is already past.
    app.publish(&b.booked(Utc::now() + Duration::hours(2) + Duration::minutes(10)))
        .await;
    two_hour_reminders_fall_due(&app).await;
    app.wait_for_count(SENT, 2).await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reminders WHERE lead = '24h'")
            .await,
        0
    );
    for person in [b.trainer, b.physio] {
        let n =
            format!("{SENT} AND recipient_id = '{person}' AND title = 'Appointment in 2 hours'");
        assert_eq!(app.count(&n).await, 1);
    }
}

#[tokio::test]
async fn a_reschedule_moves_the_reminders_and_a_cancellation_drops_them() {
    let app = App::start().await;
    let b = Booking::new();
    app.publish(&b.booked(Utc::now() + Duration::hours(26)))
        .await;
    app.wait_for_count(
        "SELECT count(*) AS n FROM reminders WHERE sent_at IS NULL",
        4,
    )
    .await;
    // Moved to just over two hours from now: only the 2 h reminders remain,
    // and go out when due.
    let new_start = Utc::now() + Duration::hours(2) + Duration::minutes(10);
    app.publish(&AppointmentRescheduled {
        appointment_id: b.appointment.to_string(),
        referral_id: b.referral.to_string(),
        trainer_id: b.trainer.to_string(),
        physio_id: b.physio.to_string(),
        starts_at: ts(new_start),
        ..Default::default()
    })
    .await;
    // The move is handled once the 24 h reminders (now past) are gone; only
    // then are the 2 h ones the moved ones, whose due time this test brings on.
    app.wait_for_count("SELECT count(*) AS n FROM reminders WHERE lead = '24h'", 0)
        .await;
    two_hour_reminders_fall_due(&app).await;
    app.wait_for_count(SENT, 2).await;

    let other = Booking::new();
    app.publish(&other.booked(Utc::now() + Duration::hours(30)))
        .await;
    let planned = format!(
        "SELECT count(*) AS n FROM reminders WHERE appointment_id = '{}'",
        other.appointment
    );
    app.wait_for_count(&planned, 4).await;
    app.publish(&AppointmentCancelled {
        appointment_id: other.appointment.to_string(),
        referral_id: other.referral.to_string(),
        trainer_id: other.trainer.to_string(),
        physio_id: other.physio.to_string(),
        ..Default::default()
    })
    .await;
    app.wait_for_count(&format!("{planned} AND cancelled_at IS NOT NULL"), 4)
        .await;
}

#[tokio::test]
async fn two_replicas_send_each_reminder_once() {
    let mut app = App::start().await;
    app.start_replica().await;
    let b = Booking::new();
    app.publish(&b.booked(Utc::now() + Duration::hours(2) + Duration::minutes(10)))
        .await;
    two_hour_reminders_fall_due(&app).await;
    app.wait_for_count(
        "SELECT count(*) AS n FROM reminders WHERE sent_at IS NOT NULL",
        2,
    )
    .await;
    // Both replicas' workers woke for the same rows; each row went out once.
    assert_eq!(app.count(SENT).await, 2);
}
