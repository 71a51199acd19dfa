//! The referral service alone, with helpers shaped like its users: a trainer
//! with a profile and a client, and the booking service's events.

use chrono::Utc;
use referral_service::Referral as ReferralService;
use serde_json::{Value, json};
use spotter_auth::Role;
use spotter_contracts::booking::v1::{AppointmentBooked, AppointmentCompleted};
pub use spotter_service::testing::service::{TestService, body, problem};
use uuid::Uuid;

pub const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// `ReferralRequested` rows written: what booking would be asked, counted
/// where it is written (a queue drained too early would miss one).
pub const BOOKING_REQUESTS: &str =
    "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.referral.v1.ReferralRequested'";

pub struct ReferralApp(TestService<ReferralService>);

impl std::ops::Deref for ReferralApp {
    type Target = TestService<ReferralService>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A trainer with a profile near central London and one client.
pub struct TrainerWithClient {
    pub id: Uuid,
    pub token: String,
    pub client: Uuid,
}

/// Where booking put the referral (as its `AppointmentBooked` said).
pub struct Booked {
    pub appointment: Uuid,
    pub physio: Uuid,
    pub clinic: Uuid,
}

impl ReferralApp {
    pub async fn start() -> Self {
        Self(TestService::start().await)
    }

    pub async fn start_with(configure: impl FnOnce(&mut spotter_platform::Settings)) -> Self {
        Self(TestService::start_with(configure).await)
    }

    pub async fn trainer(&self) -> TrainerWithClient {
        let id = Uuid::now_v7();
        let token = self.auth.token(Role::Trainer, id, None);
        let profile = json!({"display_name": "Sam", "location": {"lat": 51.5, "lon": -0.12}});
        body(self.put("/v1/trainers/me", &token, &profile).await, 200).await;
        let client = body(
            self.post(
                "/v1/clients",
                &token,
                &json!({"display_name": "Jo Client", "email": "jo@example.org"}),
            )
            .await,
            201,
        )
        .await;
        TrainerWithClient {
            id,
            token,
            client: client["id"].as_str().unwrap().parse().unwrap(),
        }
    }

    /// A valid report for `trainer`'s client: knee, pain 5, a gradual
    /// onset, screened all clear (routine).
    pub fn report(trainer: &TrainerWithClient) -> Value {
        json!({
            "client_id": trainer.client,
            "body_region": "knee",
            "side": "left",
            "pain_level": 5,
            "onset_date": Utc::now().date_naive().to_string(),
            "mechanism": "ache building over weeks of box jumps",
            "description": "pain on the inside of the knee after sessions",
            "screening": all_clear("knee"),
            "consent": {"obtained": true, "method": "in_app"}
        })
    }

    /// The same report for another body region: a client has one open
    /// referral per region (the quota), so a second referral needs another.
    pub fn report_on(trainer: &TrainerWithClient, region: &str) -> Value {
        let mut report = Self::report(trainer);
        report["body_region"] = json!(region);
        report["screening"] = all_clear(region);
        report
    }

    /// A report through the deprecated red-flag checklist instead of the
    /// questionnaire.
    pub fn legacy_report(trainer: &TrainerWithClient, red_flags: Value) -> Value {
        let mut report = Self::report(trainer);
        report.as_object_mut().unwrap().remove("screening");
        report["red_flags"] = red_flags;
        report
    }

    /// Reports `body` and returns the new referral's id.
    pub async fn refer(&self, trainer: &TrainerWithClient, report: &Value) -> Uuid {
        let created = body(
            self.post("/v1/injury-reports", &trainer.token, report)
                .await,
            201,
        )
        .await;
        created["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn referral(&self, id: Uuid, token: &str) -> Value {
        body(self.get(&format!("/v1/referrals/{id}"), token).await, 200).await
    }

    /// Waits (bounded) for the referral to reach `status`, as `token` sees it.
    pub async fn wait_for_status(&self, id: Uuid, token: &str, status: &str) -> Value {
        self.wait_for_referral(id, token, |r| r["status"] == status)
            .await
    }

    /// Waits (bounded) until the referral, as `token` sees it, is `ready`.
    pub async fn wait_for_referral(
        &self,
        id: Uuid,
        token: &str,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let referral = self.referral(id, token).await;
            if ready(&referral) {
                return referral;
            }
            assert!(tokio::time::Instant::now() < deadline, "still {referral}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Booking books the referral.
    pub async fn book(&self, referral: Uuid, trainer: &TrainerWithClient) -> Booked {
        let booked = Booked {
            appointment: Uuid::now_v7(),
            physio: Uuid::now_v7(),
            clinic: Uuid::now_v7(),
        };
        self.publish(&booked_event(referral, trainer, &booked))
            .await;
        booked
    }

    /// A referral of the trainer's, booked; its booking and its physio's token.
    pub async fn booked(&self, trainer: &TrainerWithClient) -> (Uuid, Booked, String) {
        let id = self.refer(trainer, &Self::report(trainer)).await;
        let booked = self.book(id, trainer).await;
        self.wait_for_status(id, &trainer.token, "booked").await;
        let physio = self.auth.token(
            spotter_auth::Role::Physio,
            booked.physio,
            Some(booked.clinic),
        );
        (id, booked, physio)
    }

    /// A referral of the trainer's, booked and assessed; its booking and its
    /// physio's token.
    /// The clinic's referral list, as one of its admins reads it.
    pub async fn clinic_referrals(&self, clinic: Uuid) -> Value {
        let admin = self.auth.token(
            spotter_auth::Role::ClinicAdmin,
            Uuid::now_v7(),
            Some(clinic),
        );
        let path = format!("/admin/v1/clinics/{clinic}/referrals");
        body(self.get(&path, &admin).await, 200).await
    }

    pub async fn assessed(&self, trainer: &TrainerWithClient) -> (Uuid, Booked, String) {
        let (id, booked, physio) = self.booked(trainer).await;
        self.complete(id, trainer, &booked).await;
        self.wait_for_status(id, &trainer.token, "assessed").await;
        (id, booked, physio)
    }

    pub async fn complete(&self, referral: Uuid, trainer: &TrainerWithClient, booked: &Booked) {
        self.publish(&AppointmentCompleted {
            appointment_id: booked.appointment.to_string(),
            referral_id: referral.to_string(),
            trainer_id: trainer.id.to_string(),
            physio_id: booked.physio.to_string(),
            clinic_id: booked.clinic.to_string(),
            completed_at: None,
            ..Default::default()
        })
        .await;
    }
}

pub fn booked_event(
    referral: Uuid,
    trainer: &TrainerWithClient,
    booked: &Booked,
) -> AppointmentBooked {
    let now = Utc::now().timestamp();
    AppointmentBooked {
        appointment_id: booked.appointment.to_string(),
        referral_id: referral.to_string(),
        trainer_id: trainer.id.to_string(),
        client_id: trainer.client.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        starts_at: Some(prost_types::Timestamp {
            seconds: now + 86_400,
            nanos: 0,
        }),
        ends_at: Some(prost_types::Timestamp {
            seconds: now + 86_400 + 2_700,
            nanos: 0,
        }),
        target_missed: false,
        ..Default::default()
    }
}

/// Questionnaire version 1 answered "no" to everything asked about a
/// gradual problem in `region`, with everyday life unaffected.
pub fn all_clear(region: &str) -> Value {
    let mut answers = json!({
        "exertional_chest_symptoms": false,
        "head_impact": false,
        "obvious_deformity": false,
        "onset": "gradual",
        "nerve_symptoms": false,
        "unrelenting_night_pain": false,
        "function": "training_limited",
    });
    if region == "lower_back" {
        answers["saddle_numbness_or_bladder_bowel"] = json!(false);
    }
    if matches!(region, "neck" | "upper_back" | "lower_back") {
        answers["fever_or_unwell"] = json!(false);
        answers["cancer_history"] = json!(false);
    }
    json!({"questionnaire_version": 1, "answers": answers})
}

pub fn guidance() -> Value {
    json!({
        "clearance": "modified_training",
        "avoid": [{"movement": "deep squats", "reason": "loads the healing ligament"}],
        "exercises": [{"name": "terminal knee extension", "sets": 3, "reps": 15, "hold_seconds": 2, "per_week": 5, "notes": "slow"}],
        "load_limits": {"max_rpe": 6, "pain_ceiling": 3},
        "review_on": (Utc::now().date_naive() + chrono::Duration::days(21)).to_string(),
        "notes_for_trainer": "Upper body and hip work as normal."
    })
}
