//! The whole loop, end to end, through the public HTTP API only — as the
//! mobile app and the admin tools use it — in both shapes: the dev stack
//! (three services in one process) and three separate service processes
//! behind the nginx gateway of `deploy/nginx/`. Each has three databases and
//! RabbitMQ between the services.

use crate::support::{Shape, Stack};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use spotter_auth::Role;
use spotter_service::testing::service::body;
use std::time::Instant;
use uuid::Uuid;

/// Generous bounds: these wait for the saga, they do not time it.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

struct World {
    stack: Stack,
    clinic: Uuid,
    clinic_admin: String,
    physio: Uuid,
    physio_token: String,
    trainer_token: String,
    client: Uuid,
}

use spotter_service::testing::clock::weekday_in;

fn tomorrow_at(hour: u32) -> String {
    spotter_service::testing::clock::at(1, hour, 0)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl World {
    /// A clinic (UTC, no minimum notice) with a knee physio working `hours`,
    /// and a trainer nearby with one client.
    async fn new(shape: Shape, hours: Value) -> Self {
        let stack = Stack::start(shape).await;
        let admin = stack.token(Role::PlatformAdmin, Uuid::now_v7(), None);
        let clinic = json!({"name": "Thames Physio", "timezone": "UTC", "location": {"lat": 51.51, "lon": -0.12}, "service_radius_km": 15.0, "accepts_referrals": true});
        let clinic: Uuid = body(stack.post("/admin/v1/clinics", &admin, &clinic).await, 201).await
            ["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let clinic_admin = stack.token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic));
        let policy = json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": 0, "min_notice_minutes": 0, "horizon_days": 14});
        body(
            stack
                .put(
                    &format!("/admin/v1/clinics/{clinic}/booking-policy"),
                    &clinic_admin,
                    &policy,
                )
                .await,
            200,
        )
        .await;
        let physio = Uuid::now_v7();
        let new_physio = json!({"user_id": physio, "display_name": "Alex Morgan", "specialties": ["knee", "general"]});
        body(
            stack
                .post(
                    &format!("/admin/v1/clinics/{clinic}/physios"),
                    &clinic_admin,
                    &new_physio,
                )
                .await,
            201,
        )
        .await;
        body(
            stack
                .put(
                    &format!("/admin/v1/physios/{physio}/weekly-hours"),
                    &clinic_admin,
                    &json!({"hours": hours}),
                )
                .await,
            200,
        )
        .await;
        let trainer = Uuid::now_v7();
        let trainer_token = stack.token(Role::Trainer, trainer, None);
        let profile = json!({"display_name": "Sam Carter", "location": {"lat": 51.52, "lon": -0.10}, "certifications": ["REPs L3"]});
        body(
            stack.put("/v1/trainers/me", &trainer_token, &profile).await,
            200,
        )
        .await;
        let client = json!({"display_name": "Jo Client", "email": "jo.client@example.test", "phone": "+44 7700 900123"});
        let client = created_id(stack.post("/v1/clients", &trainer_token, &client).await).await;
        Self {
            physio_token: stack.token(Role::Physio, physio, Some(clinic)),
            stack,
            clinic,
            clinic_admin,
            physio,
            trainer_token,
            client,
        }
    }

    fn morning_tomorrow() -> Value {
        json!([{"weekday": weekday_in(1), "start": "09:00", "end": "12:00"}])
    }

    /// The trainer takes on another client and flags their knee: a client
    /// has one open referral per body region (the fair-use quota).
    async fn flag_new_client(&mut self, pain: i64) -> Uuid {
        let client = json!({"display_name": "Another Client"});
        self.client = created_id(
            self.stack
                .post("/v1/clients", &self.trainer_token, &client)
                .await,
        )
        .await;
        self.flag(pain, json!([])).await
    }

    /// The trainer flags a knee injury; the new referral's id.
    async fn flag(&self, pain: i64, red_flags: Value) -> Uuid {
        let report = json!({
            "client_id": self.client, "body_region": "knee", "side": "right", "pain_level": pain,
            "onset_date": Utc::now().date_naive().to_string(),
            "mechanism": "landed awkwardly from a box jump",
            "description": "sharp knee pain on the inner side, swelling within the hour",
            "red_flags": red_flags, "consent": {"obtained": true, "method": "in_app"}
        });
        created_id(
            self.stack
                .post("/v1/injury-reports", &self.trainer_token, &report)
                .await,
        )
        .await
    }

    async fn referral(&self, id: Uuid) -> Value {
        body(
            self.stack
                .get(&format!("/v1/referrals/{id}"), &self.trainer_token)
                .await,
            200,
        )
        .await
    }

    async fn wait_for_status(&self, id: Uuid, status: &str) -> Value {
        let wanted = format!("status {status}");
        self.wait_for_referral(id, &wanted, |r| r["status"] == status)
            .await
    }

    /// Reads the referral until `holds` (bounded; `what` names it when it
    /// never does).
    async fn wait_for_referral(
        &self,
        id: Uuid,
        what: &str,
        holds: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let referral = self.referral(id).await;
            if holds(&referral) {
                return referral;
            }
            assert!(
                Instant::now() < deadline,
                "referral never reached {what}: {referral}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn inbox(&self, token: &str) -> Vec<Value> {
        body(
            self.stack.get("/v1/notifications?limit=100", token).await,
            200,
        )
        .await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until `token`'s inbox holds `count` notifications of `kind`.
    async fn wait_for_notices(&self, token: &str, kind: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let matching: Vec<Value> = self
                .inbox(token)
                .await
                .into_iter()
                .filter(|n| n["kind"] == kind)
                .collect();
            if matching.len() >= count {
                assert_eq!(matching.len(), count, "{kind}: more than expected");
                return matching;
            }
            assert!(
                Instant::now() < deadline,
                "{kind}: {} of {count}",
                matching.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The clock reaches the next step of the referral's `kind` deadline:
    /// its due time is moved to now in the referral service's database.
    async fn deadline_falls_due(&self, id: Uuid, kind: &str) {
        let sql = format!(
            "UPDATE deadlines SET due_at = now() WHERE subject_id = '{id}' AND kind = '{kind}'"
        );
        assert_eq!(
            self.stack.execute("referral", &sql).await,
            1,
            "{kind} running"
        );
    }

    /// The booked appointment's time comes: it began ten minutes ago.
    async fn appointment_began(&self, appointment: &str) {
        let sql = format!(
            "UPDATE appointments SET starts_at = now() - interval '10 minutes', \
             ends_at = now() + interval '35 minutes', blocked_until = now() + interval '35 minutes' \
             WHERE id = '{appointment}'"
        );
        assert_eq!(self.stack.execute("booking", &sql).await, 1);
    }

    /// The physio completes the booked appointment: assessed.
    async fn assessed(&self, id: Uuid) -> String {
        let booked = self.wait_for_status(id, "booked").await;
        let appointment = booked["appointment"]["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/appointments/{appointment}/complete");
        body(
            self.stack.post(&path, &self.physio_token, &json!({})).await,
            200,
        )
        .await;
        self.wait_for_status(id, "assessed").await;
        appointment
    }

    async fn clinic_appointments(&self) -> Vec<Value> {
        body(
            self.stack
                .get(
                    &format!("/admin/v1/clinics/{}/appointments", self.clinic),
                    &self.clinic_admin,
                )
                .await,
            200,
        )
        .await["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

fn causes(referral: &Value) -> Vec<String> {
    referral["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cause"].as_str().unwrap().to_owned())
        .collect()
}

fn no_health_detail(notices: &[Value]) {
    for n in notices {
        let text = format!("{} {}", n["title"], n["body"]).to_lowercase();
        for word in ["knee", "box jump", "swelling", "pain"] {
            assert!(
                !text.contains(word),
                "health detail in a notification: {text}"
            );
        }
    }
}

async fn happy_path_from_flag_through_a_follow_up_to_discharge(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let flagged = Instant::now();
    let id = w.flag(5, json!([])).await;
    let booked = w.wait_for_status(id, "booked").await;
    println!("booked {:?} after the flag", flagged.elapsed());
    assert_eq!(booked["priority"], "routine");
    assert_eq!(
        booked["appointment"]["starts_at"],
        tomorrow_at(9),
        "the earliest allowed slot"
    );
    assert_eq!(booked["appointment"]["physio_id"], w.physio.to_string());
    let appointment = booked["appointment"]["id"].as_str().unwrap().to_owned();
    w.wait_for_notices(&w.trainer_token, "appointment_booked", 1)
        .await;
    w.wait_for_notices(&w.physio_token, "appointment_booked", 1)
        .await;
    assert_eq!(
        w.inbox(&w.trainer_token).await.len(),
        1,
        "exactly one new notification"
    );
    assert_eq!(w.inbox(&w.physio_token).await.len(), 1);

    body(
        w.stack
            .post(
                &format!("/v1/appointments/{appointment}/complete"),
                &w.physio_token,
                &json!({}),
            )
            .await,
        200,
    )
    .await;
    w.wait_for_status(id, "assessed").await;
    let guidance = json!({
        "clearance": "modified_training",
        "avoid": [{"movement": "deep squats", "reason": "protect the healing ligament"}],
        "exercises": [{"name": "terminal knee extension", "sets": 3, "reps": 15, "hold_seconds": 2, "per_week": 5}],
        "load_limits": {"max_rpe": 6, "pain_ceiling": 3},
        // The physio works tomorrow's weekday only: the follow-up falls
        // on day 8, the first such day on or after the review date.
        "review_on": (Utc::now().date_naive() + Duration::days(7)).to_string(),
        "notes_for_trainer": "Upper body as normal."
    });
    body(
        w.stack
            .post(
                &format!("/v1/referrals/{id}/guidance"),
                &w.physio_token,
                &guidance,
            )
            .await,
        201,
    )
    .await;
    w.wait_for_notices(&w.trainer_token, "guidance_shared", 1)
        .await;
    // Booking books the review with the same physio, and both hear of it.
    w.wait_for_notices(&w.trainer_token, "follow_up_booked", 1)
        .await;
    w.wait_for_notices(&w.physio_token, "follow_up_booked", 1)
        .await;
    // The referral records it too (its own consumer, in its own time).
    let two_visits = |r: &Value| r["visits"].as_array().is_some_and(|v| v.len() == 2);
    let read = w.wait_for_referral(id, "two visits", two_visits).await;
    assert_eq!(read["guidance"]["avoid"][0]["movement"], "deep squats");
    let follow_up = &read["visits"][1];
    assert_eq!(follow_up["kind"], "follow_up");
    assert_eq!(follow_up["physio_id"], read["visits"][0]["physio_id"]);
    let review_day: chrono::DateTime<Utc> =
        follow_up["starts_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        review_day.date_naive(),
        Utc::now().date_naive() + Duration::days(8)
    );
    let follow_up_id = follow_up["appointment_id"].as_str().unwrap().to_owned();
    body(
        w.stack
            .post(
                &format!("/v1/referrals/{id}/guidance/acknowledge"),
                &w.trainer_token,
                &json!({}),
            )
            .await,
        200,
    )
    .await;
    w.wait_for_notices(&w.physio_token, "guidance_acknowledged", 1)
        .await;

    w.wait_for_status(id, "acknowledged").await;
    train_around_the_injury(&w, id).await;

    // The review takes place; the physio clears the client for full
    // training with no further review: discharged, and the trainer
    // acknowledges the final summary.
    body(
        w.stack
            .post(
                &format!("/v1/appointments/{follow_up_id}/complete"),
                &w.physio_token,
                &json!({}),
            )
            .await,
        200,
    )
    .await;
    w.wait_for_status(id, "assessed").await;
    let mut discharge = guidance.clone();
    discharge["clearance"] = json!("full_training");
    discharge.as_object_mut().unwrap().remove("review_on");
    body(
        w.stack
            .post(
                &format!("/v1/referrals/{id}/guidance"),
                &w.physio_token,
                &discharge,
            )
            .await,
        201,
    )
    .await;
    w.wait_for_notices(&w.trainer_token, "referral_discharged", 1)
        .await;
    body(
        w.stack
            .post(
                &format!("/v1/referrals/{id}/guidance/acknowledge"),
                &w.trainer_token,
                &json!({}),
            )
            .await,
        200,
    )
    .await;
    w.wait_for_notices(&w.physio_token, "guidance_acknowledged", 2)
        .await;
    let done = w.wait_for_status(id, "discharged").await;
    assert_eq!(
        causes(&done),
        [
            "injury_reported",
            "appointment_booked",
            "appointment_completed",
            "guidance_shared",
            "follow_up_booked",
            "guidance_acknowledged",
            "follow_up_completed",
            "guidance_shared",
            "discharged",
            "guidance_acknowledged"
        ]
    );
    let versions: Vec<_> = done["timeline"].as_array().unwrap()[3..]
        .iter()
        .map(|t| t["guidance_version"].clone())
        .collect();
    assert_eq!(
        versions,
        [
            json!(1),
            Value::Null,
            json!(1),
            Value::Null,
            json!(2),
            json!(2),
            json!(2)
        ]
    );
    let visits: Vec<(&str, &str)> = done["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["kind"].as_str().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        visits,
        [("assessment", "completed"), ("follow_up", "completed")]
    );
    assert!(done["durations"]["to_discharge_seconds"].is_i64());
    // The trainer heard of the discharge once, not also as new guidance
    // (the wait asserts exactly one).
    w.wait_for_notices(&w.trainer_token, "guidance_shared", 1)
        .await;
    no_health_detail(&w.inbox(&w.trainer_token).await);
    no_health_detail(&w.inbox(&w.physio_token).await);
    if let Some(logs) = w.stack.logs() {
        // Everything the processes logged in the whole run, at debug.
        for secret in [
            "landed awkwardly",
            "sharp knee pain",
            "Jo Client",
            "jo.client@example.test",
            "7700 900123",
            "deep squats",
            "protect the healing ligament",
            "terminal knee extension",
            "Upper body as normal",
            &w.trainer_token,
            &w.physio_token,
            &w.clinic_admin,
        ] {
            assert!(!logs.contains(secret), "the logs hold {secret:?}");
            // Also as a byte list, which is how a database driver's debug
            // output prints a statement's parameters.
            let bytes = format!("{:?}", secret.as_bytes());
            let as_bytes = bytes.trim_matches(['[', ']']);
            assert!(
                !logs.contains(as_bytes),
                "the logs hold {secret:?} as bytes"
            );
        }
        // The capture works: every service's start-up is in it.
        assert_eq!(
            logs.matches(r#""message":"listening""#).count(),
            3,
            "{logs}"
        );
    }
}

/// Between guidance and review the client trains around the injury: the
/// trainer checks a plan against the guidance, logs sessions, and one that
/// hurts past the physio's ceiling reaches the physio (once, naming no
/// health detail) and tells the trainer to drop back; adherence counts the
/// sessions for both.
async fn train_around_the_injury(w: &World, id: Uuid) {
    let check = format!("/v1/referrals/{id}/guidance/check");
    let plan = json!({"exercises": [{"pattern": "squat", "sets": 3, "reps": 8, "rpe": 8}]});
    let checked = body(w.stack.post(&check, &w.trainer_token, &plan).await, 200).await;
    assert_eq!(checked["within_guidance"], false);
    assert_eq!(checked["conflicts"][0]["rule"], "rpe_above_max");

    let sessions = format!("/v1/referrals/{id}/sessions");
    // Performed as they are logged: after the guidance, so in a week it counts.
    let session = |pain: i64| {
        json!({
            "performed_at": Utc::now(),
            "exercises": [{"name": "terminal knee extension", "sets": 3, "reps": 15}],
            "session_rpe": 5,
            "pain_during": pain,
        })
    };
    let calm = body(
        w.stack.post(&sessions, &w.trainer_token, &session(2)).await,
        201,
    )
    .await;
    let sore = body(
        w.stack.post(&sessions, &w.trainer_token, &session(6)).await,
        201,
    )
    .await;
    assert_eq!(
        sore["session"]["flare_signs"],
        json!(["pain_above_ceiling"])
    );
    assert_eq!(sore["drop_back_to"]["id"], calm["session"]["id"]);
    let flare = w
        .wait_for_notices(&w.physio_token, "training_flare", 1)
        .await;
    let drop_back = w
        .wait_for_notices(&w.trainer_token, "training_drop_back", 1)
        .await;
    no_health_detail(&flare);
    no_health_detail(&drop_back);
    assert_eq!(flare[0]["data"]["session_id"], sore["session"]["id"]);

    // The physio reads the same log; both see this week's count.
    let log = body(w.stack.get(&sessions, &w.physio_token).await, 200).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 2);
    let adherence = format!("/v1/referrals/{id}/adherence");
    for token in [&w.trainer_token, &w.physio_token] {
        let adherence = body(w.stack.get(&adherence, token).await, 200).await;
        let weeks = adherence["weeks"].as_array().unwrap();
        assert_eq!(weeks[0]["exercises"][0]["name"], "terminal knee extension");
        let sessions: i64 = weeks
            .iter()
            .map(|week| week["exercises"][0]["sessions"].as_i64().unwrap())
            .sum();
        assert_eq!(sessions, 2, "{adherence}");
    }
}

/// The clinic cancels a booked follow-up: booked again with the same
/// physio in the next free slot, the referral's status untouched.
async fn a_clinic_cancelled_follow_up_is_booked_again_with_the_same_physio(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let id = w.flag(5, json!([])).await;
    let booked = w.wait_for_status(id, "booked").await;
    let appointment = booked["appointment"]["id"].as_str().unwrap().to_owned();
    let complete = format!("/v1/appointments/{appointment}/complete");
    body(
        w.stack.post(&complete, &w.physio_token, &json!({})).await,
        200,
    )
    .await;
    w.wait_for_status(id, "assessed").await;
    let guidance = json!({
        "clearance": "no_training",
        "load_limits": {"max_rpe": 3, "pain_ceiling": 2},
        "review_on": (Utc::now().date_naive() + Duration::days(7)).to_string(),
    });
    let share = format!("/v1/referrals/{id}/guidance");
    body(w.stack.post(&share, &w.physio_token, &guidance).await, 201).await;
    let told = w
        .wait_for_notices(&w.physio_token, "follow_up_booked", 1)
        .await;
    let first = told[0]["data"]["appointment_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let cancel = format!("/v1/appointments/{first}/cancel");
    let reason = json!({"reason": "training course that morning"});
    body(w.stack.post(&cancel, &w.clinic_admin, &reason).await, 200).await;
    w.wait_for_notices(&w.trainer_token, "follow_up_cancelled", 1)
        .await;
    let again = w
        .wait_for_notices(&w.trainer_token, "follow_up_booked", 2)
        .await;
    assert!(
        again.iter().any(|n| n["title"] == "Follow-up booked again"),
        "{again:?}"
    );
    let three_visits = |r: &Value| r["visits"].as_array().is_some_and(|v| v.len() == 3);
    let referral = w.wait_for_referral(id, "three visits", three_visits).await;
    assert_eq!(referral["status"], "guidance_shared", "the status stays");
    let visits = referral["visits"].as_array().unwrap();
    assert_eq!(visits[1]["status"], "cancelled");
    assert_eq!(visits[2]["status"], "booked");
    assert_eq!(visits[2]["kind"], "follow_up");
    assert_eq!(visits[2]["physio_id"], w.physio.to_string());
    assert_eq!(referral["appointment"]["id"], visits[2]["appointment_id"]);
    assert!(visits[2]["starts_at"].as_str() > visits[1]["starts_at"].as_str());
    let causes = causes(&referral);
    assert!(
        causes.ends_with(&[
            "follow_up_booked".to_owned(),
            "follow_up_cancelled".to_owned(),
            "follow_up_booked".to_owned()
        ]),
        "{causes:?}"
    );
}

async fn a_red_flag_sends_the_client_to_urgent_care_and_books_nothing(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let id = w.flag(3, json!(["chest_pain_or_breathlessness"])).await;
    let referral = w.referral(id).await;
    assert_eq!(referral["status"], "emergency_advised");
    assert_eq!(referral["priority"], "emergency");
    w.wait_for_notices(&w.trainer_token, "emergency_advised", 1)
        .await;
    assert!(
        w.clinic_appointments().await.is_empty(),
        "no appointment anywhere"
    );
    assert!(w.inbox(&w.physio_token).await.is_empty());
}

/// Triage sends the client to a doctor first (a head knock: a possible
/// concussion); nothing is booked until the trainer records the doctor's
/// clearance, and then booking takes it at the doctor's urgency.
async fn a_doctors_clearance_sends_the_client_on_to_a_physio(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let id = w.flag(4, json!(["head_injury"])).await;
    assert_eq!(w.referral(id).await["status"], "doctor_advised");
    let advised = w
        .wait_for_notices(&w.trainer_token, "doctor_advised", 1)
        .await;
    no_health_detail(&advised);
    assert!(
        w.clinic_appointments().await.is_empty(),
        "nothing booked yet"
    );

    let clearance = json!({
        "cleared_on": Utc::now().date_naive().to_string(),
        "cleared_by": "Dr A. Jones, GP",
        "urgency": "routine",
    });
    let path = format!("/v1/referrals/{id}/medical-clearance");
    let cleared = body(w.stack.post(&path, &w.trainer_token, &clearance).await, 200).await;
    assert_eq!(cleared["status"], "awaiting_booking");
    let booked = w.wait_for_status(id, "booked").await;
    assert_eq!(booked["priority"], "routine");
    w.wait_for_notices(&w.trainer_token, "appointment_booked", 1)
        .await;
    w.wait_for_notices(&w.physio_token, "appointment_booked", 1)
        .await;
    let diary = w.clinic_appointments().await;
    assert_eq!(diary.len(), 1);
    assert_eq!(diary[0]["referral_id"], id.to_string());
}

/// The physio shares no guidance: the clock, moved in the database, reaches
/// the reminder (the physio is told once) and then the escalation (the
/// clinic's admins are told once). Guidance read at once clears the
/// trainer's acknowledgement deadline before it can fire.
async fn a_care_deadline_reminds_then_escalates_once_each(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let id = w.flag(5, json!([])).await;
    w.assessed(id).await;

    w.deadline_falls_due(id, "guidance").await;
    let reminded = w.wait_for_notices(&w.physio_token, "guidance_due", 1).await;
    no_health_detail(&reminded);
    w.deadline_falls_due(id, "guidance").await;
    let escalated = w.wait_for_notices(&w.clinic_admin, "guidance_due", 1).await;
    no_health_detail(&escalated);
    // Each step once: the physio was not told again by the escalation.
    w.wait_for_notices(&w.physio_token, "guidance_due", 1).await;
    let detail = w.referral(id).await;
    assert!(
        detail["awaiting"].as_array().unwrap().is_empty(),
        "{detail}"
    );

    let guidance = json!({
        "clearance": "modified_training", "avoid": [], "exercises": [],
        "load_limits": {"max_rpe": 6, "pain_ceiling": 3},
        "review_on": (Utc::now().date_naive() + Duration::days(7)).to_string(),
    });
    let path = format!("/v1/referrals/{id}/guidance");
    body(w.stack.post(&path, &w.physio_token, &guidance).await, 201).await;
    let acknowledge = format!("/v1/referrals/{id}/guidance/acknowledge");
    body(
        w.stack
            .post(&acknowledge, &w.trainer_token, &json!({}))
            .await,
        200,
    )
    .await;
    let late = format!(
        "UPDATE deadlines SET due_at = now() WHERE subject_id = '{id}' AND kind = 'acknowledgement'"
    );
    assert_eq!(
        w.stack.execute("referral", &late).await,
        0,
        "nothing left to fire"
    );
}

/// A missed appointment tells the trainer, who takes the one rebooking
/// offered; a second missed appointment closes the referral as
/// `not_attended`, and the trainer is told again.
async fn two_missed_appointments_close_the_referral(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let id = w.flag(5, json!([])).await;
    let booked = w.wait_for_status(id, "booked").await;
    let mut appointment = booked["appointment"]["id"].as_str().unwrap().to_owned();
    for missed in 1..=2 {
        w.appointment_began(&appointment).await;
        let path = format!("/v1/appointments/{appointment}/no-show");
        body(w.stack.post(&path, &w.physio_token, &json!({})).await, 200).await;
        let told = w
            .wait_for_notices(&w.trainer_token, "appointment_missed", missed)
            .await;
        no_health_detail(&told);
        if missed == 1 {
            w.wait_for_status(id, "no_show").await;
            let rebook = format!("/v1/referrals/{id}/rebook");
            body(
                w.stack.post(&rebook, &w.trainer_token, &json!({})).await,
                200,
            )
            .await;
            let first = appointment.clone();
            let again = w
                .wait_for_referral(id, "booked again", |r| {
                    r["status"] == "booked" && r["appointment"]["id"] != first.as_str()
                })
                .await;
            appointment = again["appointment"]["id"].as_str().unwrap().to_owned();
        }
    }
    let closed = w.wait_for_status(id, "not_attended").await;
    assert!(
        closed["awaiting"].as_array().unwrap().is_empty(),
        "{closed}"
    );
    // Once closed, it cannot be rebooked again.
    let rebook = format!("/v1/referrals/{id}/rebook");
    assert_eq!(
        w.stack
            .post(&rebook, &w.trainer_token, &json!({}))
            .await
            .status(),
        409
    );
}

async fn without_capacity_it_waits_then_books_when_hours_are_added(shape: Shape) {
    let w = World::new(shape, json!([])).await;
    let id = w.flag(5, json!([])).await;
    w.wait_for_status(id, "waitlisted").await;
    w.wait_for_notices(&w.trainer_token, "referral_waitlisted", 1)
        .await;
    let to_clinic = w
        .wait_for_notices(&w.clinic_admin, "referral_waitlisted", 1)
        .await;
    no_health_detail(&to_clinic);
    let waiting = body(
        w.stack
            .get(
                &format!("/admin/v1/clinics/{}/waitlist", w.clinic),
                &w.clinic_admin,
            )
            .await,
        200,
    )
    .await;
    assert_eq!(waiting["total"], 1, "{waiting}");
    assert!(!waiting.to_string().contains(&id.to_string()), "{waiting}");
    let hours = json!({"hours": World::morning_tomorrow()});
    body(
        w.stack
            .put(
                &format!("/admin/v1/physios/{}/weekly-hours", w.physio),
                &w.clinic_admin,
                &hours,
            )
            .await,
        200,
    )
    .await;
    let booked = w.wait_for_status(id, "booked").await;
    assert_eq!(booked["appointment"]["starts_at"], tomorrow_at(9));
    w.wait_for_notices(&w.trainer_token, "appointment_booked", 1)
        .await;
}

async fn a_physio_cancellation_rebooks_into_another_slot(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let id = w.flag(5, json!([])).await;
    let first = w.wait_for_status(id, "booked").await;
    let first_appointment = first["appointment"]["id"].as_str().unwrap().to_owned();
    // The physio can't make 09:00 after all: that slot becomes time off, so
    // booking must find another one.
    let off = json!({"start": tomorrow_at(9), "end": tomorrow_at(10), "reason": "clinic meeting"});
    body(
        w.stack
            .post(
                &format!("/admin/v1/physios/{}/time-off", w.physio),
                &w.clinic_admin,
                &off,
            )
            .await,
        201,
    )
    .await;
    let deadline = Instant::now() + SETTLE;
    let rebooked = loop {
        let referral = w.referral(id).await;
        if referral["status"] == "booked"
            && referral["appointment"]["id"] != first_appointment.as_str()
        {
            break referral;
        }
        assert!(Instant::now() < deadline, "not rebooked: {referral}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(rebooked["appointment"]["starts_at"], tomorrow_at(10));
    w.wait_for_notices(&w.trainer_token, "appointment_cancelled", 1)
        .await;
    w.wait_for_notices(&w.trainer_token, "appointment_booked", 2)
        .await;
    assert!(causes(&rebooked).contains(&"appointment_cancelled_by_clinic".to_owned()));
}

async fn a_trainers_cancellation_cancels_the_appointment_and_tells_the_physio(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let id = w.flag(5, json!([])).await;
    w.wait_for_status(id, "booked").await;
    w.wait_for_notices(&w.physio_token, "appointment_booked", 1)
        .await;
    let cancelled = body(
        w.stack
            .post(
                &format!("/v1/referrals/{id}/cancel"),
                &w.trainer_token,
                &json!({"reason": "consent_withdrawn"}),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    w.wait_for_notices(&w.physio_token, "appointment_cancelled", 1)
        .await;
    let deadline = Instant::now() + SETTLE;
    while w
        .clinic_appointments()
        .await
        .iter()
        .any(|a| a["status"] == "booked")
    {
        assert!(Instant::now() < deadline, "appointment still booked");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(w.referral(id).await["status"], "cancelled");
}

async fn a_hundred_flags_from_twenty_trainers_against_three_physios(shape: Shape) {
    let w = World::new(shape, World::morning_tomorrow()).await;
    let stack = &w.stack;
    // Two more physios with the same morning: 3 × 4 slots a week, two weeks.
    let mut physios = vec![(w.physio, w.physio_token.clone())];
    for _ in 0..2 {
        let physio = Uuid::now_v7();
        let new = json!({"user_id": physio, "display_name": "Another Physio", "specialties": ["general"]});
        body(
            stack
                .post(
                    &format!("/admin/v1/clinics/{}/physios", w.clinic),
                    &w.clinic_admin,
                    &new,
                )
                .await,
            201,
        )
        .await;
        let hours = json!({"hours": World::morning_tomorrow()});
        body(
            stack
                .put(
                    &format!("/admin/v1/physios/{physio}/weekly-hours"),
                    &w.clinic_admin,
                    &hours,
                )
                .await,
            200,
        )
        .await;
        physios.push((physio, stack.token(Role::Physio, physio, Some(w.clinic))));
    }
    let mut trainers = Vec::new();
    for i in 0..20 {
        let token = stack.token(Role::Trainer, Uuid::now_v7(), None);
        let profile = json!({"display_name": format!("Trainer {i}"), "location": {"lat": 51.5, "lon": -0.11}});
        body(stack.put("/v1/trainers/me", &token, &profile).await, 200).await;
        let client: Uuid = body(
            stack
                .post("/v1/clients", &token, &json!({"display_name": "Client"}))
                .await,
            201,
        )
        .await["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        trainers.push((token, client));
    }
    // Five flags per trainer, all at once (five body regions: a client has
    // one open referral per region).
    let flags = trainers.iter().flat_map(|(token, client)| {
        ["knee", "hip", "shoulder", "ankle_foot", "neck"].map(move |region| {
            let report = json!({
                "client_id": client, "body_region": region, "side": "left", "pain_level": 4,
                "onset_date": Utc::now().date_naive().to_string(), "mechanism": "overuse",
                "description": "ache after long runs", "red_flags": [],
                "consent": {"obtained": true, "method": "verbal"}
            });
            async move { body(stack.post("/v1/injury-reports", token, &report).await, 201).await }
        })
    });
    let created = futures_util::future::join_all(flags).await;
    assert_eq!(created.len(), 100);

    // Every referral ends booked or waitlisted.
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let statuses = loop {
        let mut statuses = Vec::new();
        for (token, _) in &trainers {
            let mine = body(stack.get("/v1/referrals?limit=100", token).await, 200).await;
            statuses.extend(
                mine["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["status"].as_str().unwrap().to_owned()),
            );
        }
        if statuses.iter().all(|s| s == "booked" || s == "waitlisted") {
            break statuses;
        }
        assert!(Instant::now() < deadline, "still settling: {statuses:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let booked = statuses.iter().filter(|s| *s == "booked").count();
    assert_eq!(booked, 24, "3 physios × 4 slots × 2 weeks");

    // No physio double-booked, as the clinic's own diary shows it.
    let diary = body(
        stack
            .get(
                &format!(
                    "/admin/v1/clinics/{}/appointments?status=booked&limit=100",
                    w.clinic
                ),
                &w.clinic_admin,
            )
            .await,
        200,
    )
    .await;
    let appointments = diary["items"].as_array().unwrap();
    assert_eq!(appointments.len(), booked);
    for (i, a) in appointments.iter().enumerate() {
        for b in &appointments[i + 1..] {
            let overlap = a["physio_id"] == b["physio_id"]
                && a["starts_at"].as_str() < b["ends_at"].as_str()
                && b["starts_at"].as_str() < a["ends_at"].as_str();
            assert!(!overlap, "double-booked: {a} and {b}");
        }
    }
    // Every notification delivered once: one per booking to trainer and
    // physio, one per waitlisting to the trainer.
    let count = |items: &[Value], kind: &str| items.iter().filter(|n| n["kind"] == kind).count();
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (mut to_trainers_booked, mut waitlisted, mut to_physios) = (0, 0, 0);
        for (token, _) in &trainers {
            let inbox = w.inbox(token).await;
            to_trainers_booked += count(&inbox, "appointment_booked");
            waitlisted += count(&inbox, "referral_waitlisted");
        }
        for (_, token) in &physios {
            to_physios += count(&w.inbox(token).await, "appointment_booked");
        }
        if (to_trainers_booked, waitlisted, to_physios) == (booked, 100 - booked, booked) {
            break;
        }
        assert!(
            to_trainers_booked <= booked && waitlisted <= 100 - booked && to_physios <= booked,
            "a notification was duplicated"
        );
        assert!(
            Instant::now() < deadline,
            "notifications: {to_trainers_booked} {waitlisted} {to_physios}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn a_killed_booking_process_loses_and_doubles_nothing(shape: Shape) {
    let hours = json!([{"weekday": weekday_in(1), "start": "07:00", "end": "21:00"}]);
    let mut w = World::new(shape, hours).await;
    // Ten referrals flagged, the process holding booking SIGKILLed while
    // the first are in flight, and started again.
    let mut referrals = Vec::new();
    for _ in 0..3 {
        referrals.push(w.flag_new_client(5).await);
    }
    w.stack.kill_booking();
    if matches!(shape, Shape::Dev) {
        // The whole stack died with it: nothing takes a flag until it is back.
        w.stack.restart_booking();
    }
    for _ in 3..10 {
        referrals.push(w.flag_new_client(5).await);
    }
    if matches!(shape, Shape::Processes) {
        // Only booking died: these seven waited in its queue meanwhile.
        w.stack.restart_booking();
    }
    for id in &referrals {
        w.wait_for_status(*id, "booked").await;
    }
    // None booked twice: one appointment per referral in the clinic's diary.
    let mut booked: Vec<String> = w
        .clinic_appointments()
        .await
        .iter()
        .map(|a| a["referral_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(booked.len(), referrals.len());
    booked.sort_unstable();
    booked.dedup();
    assert_eq!(booked.len(), referrals.len(), "a referral was booked twice");
    // One notification per booking, none doubled.
    w.wait_for_notices(&w.trainer_token, "appointment_booked", referrals.len())
        .await;
    w.wait_for_notices(&w.physio_token, "appointment_booked", referrals.len())
        .await;
}

/// Two booking processes share one physio's diary: 18 back-to-back
/// appointments fit the day, and 50 flags arrive at once.
#[tokio::test]
async fn two_booking_processes_fill_one_diary_exactly_without_overlap() {
    let hours = json!([{"weekday": weekday_in(1), "start": "07:00", "end": "20:30"}]);
    let mut w = World::new(Shape::Processes, hours).await;
    w.stack.processes().start_replica("booking");
    // A 7-day horizon holds only tomorrow's hours: 13.5 h of 45 minutes.
    let policy = json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": 0, "min_notice_minutes": 0, "horizon_days": 7});
    let path = format!("/admin/v1/clinics/{}/booking-policy", w.clinic);
    body(w.stack.put(&path, &w.clinic_admin, &policy).await, 200).await;
    // Fifty flags at once from five trainers in the same street: within each
    // trainer's request budget (one account sending a hundred writes in a
    // second is what the rate limit stops).
    let mut flags = Vec::new();
    let mut trainers = Vec::new();
    for t in 0..5 {
        let token = w.stack.token(Role::Trainer, Uuid::now_v7(), None);
        let profile = json!({"display_name": format!("Trainer {t}"), "location": {"lat": 51.52, "lon": -0.10}});
        body(w.stack.put("/v1/trainers/me", &token, &profile).await, 200).await;
        for i in 0..10 {
            let client = json!({"display_name": format!("Client {t}.{i}")});
            let created = body(w.stack.post("/v1/clients", &token, &client).await, 201).await;
            flags.push((token.clone(), created["id"].as_str().unwrap().to_owned()));
        }
        trainers.push(token);
    }
    let flags = flags.iter().map(|(token, client)| {
        let report = json!({
            "client_id": client, "body_region": "knee", "side": "left", "pain_level": 4,
            "onset_date": Utc::now().date_naive().to_string(), "mechanism": "overuse",
            "description": "ache after squats", "red_flags": [],
            "consent": {"obtained": true, "method": "verbal"}
        });
        let stack = &w.stack;
        async move { body(stack.post("/v1/injury-reports", token, &report).await, 201).await }
    });
    let created = futures_util::future::join_all(flags).await;
    assert_eq!(created.len(), 50);
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let statuses = loop {
        // One list per trainer, as the app syncs (not a read per referral).
        let mut statuses = Vec::new();
        for token in &trainers {
            let page = body(w.stack.get("/v1/referrals?limit=100", token).await, 200).await;
            for referral in page["items"].as_array().unwrap() {
                statuses.push(referral["status"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(statuses.len(), 50);
        if statuses.iter().all(|s| s == "booked" || s == "waitlisted") {
            break statuses;
        }
        assert!(Instant::now() < deadline, "still settling: {statuses:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let booked = statuses.iter().filter(|s| *s == "booked").count();
    assert_eq!(
        booked, 18,
        "every slot the day holds, and no one waitlisted while one was free"
    );
    let appointments = w.clinic_appointments().await;
    assert_eq!(appointments.len(), 18);
    for (i, a) in appointments.iter().enumerate() {
        for b in &appointments[i + 1..] {
            let overlap = a["starts_at"].as_str() < b["ends_at"].as_str()
                && b["starts_at"].as_str() < a["ends_at"].as_str();
            assert!(!overlap, "double-booked: {a} and {b}");
        }
    }
}

/// The id of what a `201 Created` answer made.
async fn created_id(response: reqwest::Response) -> Uuid {
    body(response, 201).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Every scenario, in each shape.
macro_rules! in_both_shapes {
    ($($scenario:ident),* $(,)?) => {
        mod dev_stack {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Shape::Dev).await;
            })*
        }
        mod separate_processes {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Shape::Processes).await;
            })*
        }
    };
}

in_both_shapes!(
    happy_path_from_flag_through_a_follow_up_to_discharge,
    a_clinic_cancelled_follow_up_is_booked_again_with_the_same_physio,
    a_red_flag_sends_the_client_to_urgent_care_and_books_nothing,
    a_doctors_clearance_sends_the_client_on_to_a_physio,
    a_care_deadline_reminds_then_escalates_once_each,
    two_missed_appointments_close_the_referral,
    without_capacity_it_waits_then_books_when_hours_are_added,
    a_physio_cancellation_rebooks_into_another_slot,
    a_trainers_cancellation_cancels_the_appointment_and_tells_the_physio,
    a_hundred_flags_from_twenty_trainers_against_three_physios,
    a_killed_booking_process_loses_and_doubles_nothing,
);
