//! The booking service alone, on a test's own database and broker names, with
//! a tap on the exchange to hear what it tells the saga and a channel to play
//! the referral service.

use booking_service::Booking;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use spotter_contracts::booking::v1::AppointmentBooked;
use spotter_contracts::common::v1::{BodyRegion, Location, Priority};
use spotter_contracts::referral::v1::{ReferralCancelled, ReferralRequested};
pub use spotter_service::testing::service::{TestService, body, problem};
use uuid::Uuid;

pub const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The booking service under test, with booking-shaped helpers on top of the
/// generic harness (which it dereferences to).
pub struct BookingApp(TestService<Booking>);

impl std::ops::Deref for BookingApp {
    type Target = TestService<Booking>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for BookingApp {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl BookingApp {
    pub async fn start() -> Self {
        Self(TestService::start().await)
    }

    /// A clinic in UTC (so wall clock = UTC in assertions) near central London,
    /// with no minimum notice.
    pub async fn clinic(&self) -> Uuid {
        let created = body(
            self.post(
                "/admin/v1/clinics",
                &self.admin,
                &json!({"name": "Thames Physio", "timezone": "UTC", "location": {"lat": 51.5, "lon": -0.12}, "service_radius_km": 20.0}),
            )
            .await,
            201,
        )
        .await;
        let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
        self.policy(id, 0, 14).await;
        id
    }

    /// 45-minute assessments, no minimum notice; the given buffer and horizon.
    pub async fn policy(&self, clinic: Uuid, buffer_minutes: u32, horizon_days: u32) {
        let policy = json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": buffer_minutes, "min_notice_minutes": 0, "horizon_days": horizon_days});
        body(
            self.put(
                &format!("/admin/v1/clinics/{clinic}/booking-policy"),
                &self.admin,
                &policy,
            )
            .await,
            200,
        )
        .await;
    }

    /// A clinic with one knee physio working tomorrow 09:00–12:00, and
    /// `referral` booked with them.
    pub async fn booked(&self, referral: &Referral) -> Booked {
        let clinic = self.clinic().await;
        let physio = self.physio(clinic, &["knee"]).await;
        self.hours(physio, morning_tomorrow()).await;
        self.request(referral).await;
        let event: AppointmentBooked = self.tap.next(WAIT).await.unwrap();
        Booked {
            clinic,
            physio,
            event,
        }
    }

    pub async fn physio(&self, clinic: Uuid, specialties: &[&str]) -> Uuid {
        let id = Uuid::now_v7();
        let new = json!({"user_id": id, "display_name": "Alex Physio", "specialties": specialties});
        body(
            self.post(
                &format!("/admin/v1/clinics/{clinic}/physios"),
                &self.admin,
                &new,
            )
            .await,
            201,
        )
        .await;
        id
    }

    pub async fn hours(&self, physio: Uuid, hours: Value) {
        body(
            self.put(
                &format!("/admin/v1/physios/{physio}/weekly-hours"),
                &self.admin,
                &json!({"hours": hours}),
            )
            .await,
            200,
        )
        .await;
    }

    /// Publishes a `ReferralRequested` as the referral service would.
    pub async fn request(&self, referral: &Referral) -> Uuid {
        self.publish(&referral.event()).await
    }

    pub async fn request_as(&self, referral: &Referral, message_id: Uuid) {
        self.publish_as(&referral.event(), message_id).await;
    }

    /// A clinic whose one knee physio works 09:00–12:00 `days_ahead` days
    /// from now, so clinics with smaller `days_ahead` offer earlier slots.
    pub async fn clinic_open_in(&self, days_ahead: i64) -> (Uuid, Uuid) {
        let clinic = self.clinic().await;
        let physio = self.physio(clinic, &["knee"]).await;
        self.hours(
            physio,
            json!([{"weekday": weekday_in(days_ahead), "start": "09:00", "end": "12:00"}]),
        )
        .await;
        (clinic, physio)
    }

    /// The next booking of `referral` the saga hears of.
    pub async fn booked_at(&self, referral: &Referral) -> AppointmentBooked {
        let id = referral.id.to_string();
        self.tap
            .next_matching::<AppointmentBooked>(WAIT, |e| e.referral_id == id)
            .await
            .unwrap()
    }

    /// The appointment's time comes: it began ten minutes ago.
    pub async fn appointment_began(&self, appointment_id: &str) {
        self.execute(&format!(
            "UPDATE appointments SET starts_at = now() - interval '10 minutes', \
             ends_at = now() + interval '35 minutes', blocked_until = now() + interval '35 minutes' \
             WHERE id = '{appointment_id}'"
        ))
        .await
        .unwrap();
    }

    pub async fn cancel_referral(&self, referral: &Referral) {
        let event = ReferralCancelled {
            referral_id: referral.id.to_string(),
            trainer_id: referral.trainer.to_string(),
            ..Default::default()
        };
        self.publish(&event).await;
    }
}

pub struct Booked {
    pub clinic: Uuid,
    pub physio: Uuid,
    pub event: AppointmentBooked,
}

/// Tomorrow 09:00–12:00 (UTC).
pub fn morning_tomorrow() -> Value {
    json!([{"weekday": weekday_in(1), "start": "09:00", "end": "12:00"}])
}

/// A referral as the referral service would ask booking to book it.
#[derive(Clone)]
pub struct Referral {
    pub id: Uuid,
    pub trainer: Uuid,
    pub client: Uuid,
    pub region: BodyRegion,
    pub priority: Priority,
    pub lat: f64,
    pub lon: f64,
    pub attempt: u32,
}

impl Referral {
    /// A routine knee referral from a trainer a few km from the test clinic.
    pub fn knee() -> Self {
        Self {
            id: Uuid::now_v7(),
            trainer: Uuid::now_v7(),
            client: Uuid::now_v7(),
            region: BodyRegion::Knee,
            priority: Priority::Routine,
            lat: 51.52,
            lon: -0.10,
            attempt: 1,
        }
    }

    pub fn event(&self) -> ReferralRequested {
        let mut event = ReferralRequested {
            referral_id: self.id.to_string(),
            trainer_id: self.trainer.to_string(),
            client_id: self.client.to_string(),
            trainer_location: Some(Location {
                lat: self.lat,
                lon: self.lon,
            }),
            requested_at: Some(prost_types::Timestamp {
                seconds: Utc::now().timestamp(),
                nanos: 0,
            }),
            // As triage sets it: 48 h for urgent, 7 days for routine.
            target_by: Some(prost_types::Timestamp {
                seconds: (Utc::now()
                    + match self.priority {
                        Priority::Urgent => Duration::hours(48),
                        _ => Duration::days(7),
                    })
                .timestamp(),
                nanos: 0,
            }),
            attempt: self.attempt,
            ..Default::default()
        };
        event.set_priority(self.priority);
        event.set_body_region(self.region);
        event
    }
}

pub use spotter_service::testing::clock::{at, weekday_in};

pub fn timestamp_of(t: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    let t = t.as_ref().unwrap();
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap()).unwrap()
}
