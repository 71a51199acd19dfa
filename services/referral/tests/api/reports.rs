//! Flagging an injury: triage, the event that starts the saga, idempotent
//! retries, and refusals that name the field and write nothing.

use crate::support::{BOOKING_REQUESTS, ReferralApp, WAIT, body, problem};
use chrono::Utc;
use serde_json::json;
use spotter_contracts::common::v1::Priority;
use spotter_contracts::referral::v1::{DoctorAdvised, EmergencyAdvised, ReferralRequested};

#[tokio::test]
async fn triage_decides_priority_and_what_the_saga_hears() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    // (region, pain, answers changed from all clear, priority, status)
    let cases = [
        ("knee", 5, json!({}), "routine", "awaiting_booking"),
        ("hip", 7, json!({}), "urgent", "awaiting_booking"),
        // Numbness alone books a physio sooner; it is not an emergency.
        (
            "neck",
            2,
            json!({"nerve_symptoms": true, "nerve_symptoms_worsening": false}),
            "urgent",
            "awaiting_booking",
        ),
        (
            "shoulder",
            2,
            json!({"obvious_deformity": true}),
            "emergency",
            "emergency_advised",
        ),
        (
            "lower_back",
            3,
            json!({"fever_or_unwell": true}),
            "emergency",
            "doctor_advised",
        ),
    ];
    for (region, pain, answers, priority, status) in cases {
        let mut report = ReferralApp::report_on(&trainer, region);
        report["pain_level"] = json!(pain);
        for (id, answer) in answers.as_object().unwrap() {
            report["screening"]["answers"][id] = answer.clone();
        }
        let created = body(
            app.post("/v1/injury-reports", &trainer.token, &report)
                .await,
            201,
        )
        .await;
        assert_eq!(created["priority"], priority, "{region}");
        assert_eq!(created["status"], status, "{region}");
        assert_eq!(created["triage"]["questionnaire_version"], 1);
        let id = created["id"].as_str().unwrap().to_owned();
        match status {
            "emergency_advised" => {
                let advised: EmergencyAdvised = app.tap.next(WAIT).await.unwrap();
                assert_eq!(advised.referral_id, id);
                assert_eq!(created["triage"]["disposition"], "emergency_now");
                assert!(created["target_by"].is_null());
            }
            "doctor_advised" => {
                let advised: DoctorAdvised = app.tap.next(WAIT).await.unwrap();
                assert_eq!(advised.referral_id, id);
                assert_eq!(created["triage"]["disposition"], "see_doctor_today");
                assert_eq!(
                    created["triage"]["rules"],
                    json!(["spinal_pain_with_fever"])
                );
                assert!(created["target_by"].is_null());
            }
            _ => {
                assert_eq!(created["triage"]["disposition"], "physio");
                let requested: ReferralRequested = app.tap.next(WAIT).await.unwrap();
                assert_eq!(requested.referral_id, id);
                assert_eq!(requested.attempt, 1);
                let location = requested.trainer_location.unwrap();
                assert_eq!((location.lat, location.lon), (51.5, -0.12));
                let expected = if priority == "urgent" {
                    Priority::Urgent
                } else {
                    Priority::Routine
                };
                assert_eq!(requested.priority(), expected);
            }
        }
    }
    // Booking was asked for the three physio referrals only.
    assert_eq!(app.count(BOOKING_REQUESTS).await, 3);
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_first_referral() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let report = ReferralApp::report(&trainer);
    let send = |key: &str, body: serde_json::Value| {
        app.client
            .post(app.url("/v1/injury-reports"))
            .bearer_auth(&trainer.token)
            .header("Idempotency-Key", key.to_owned())
            .json(&body)
            .send()
    };
    let first = body(send("flag-1", report.clone()).await.unwrap(), 201).await;
    let again = body(send("flag-1", report.clone()).await.unwrap(), 201).await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM referrals").await, 1);
    let mut other = report.clone();
    other["pain_level"] = json!(6);
    let refused = problem(send("flag-1", other).await.unwrap(), 422).await;
    assert_eq!(refused["errors"][0]["field"], "Idempotency-Key");
    // Keys are per caller: another trainer's same key is a new request.
    let someone_else = app.trainer().await;
    let theirs = app
        .client
        .post(app.url("/v1/injury-reports"))
        .bearer_auth(&someone_else.token)
        .header("Idempotency-Key", "flag-1")
        .json(&ReferralApp::report(&someone_else))
        .send()
        .await
        .unwrap();
    let theirs = body(theirs, 201).await;
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM referrals").await, 2);
}

#[tokio::test]
async fn every_invalid_report_names_its_field_and_writes_nothing() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let stranger = app.trainer().await;
    // Two days ahead: still in the future if midnight passes mid-test.
    // Two days on: tomorrow is already today in some zones.
    let two_days_on = (Utc::now().date_naive() + chrono::Duration::days(2)).to_string();
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("client_id", json!(stranger.client), "client_id"),
        ("pain_level", json!(11), "pain_level"),
        ("pain_level", json!(-1), "pain_level"),
        ("body_region", json!("spleen"), "body_region"),
        ("side", json!("middle"), "side"),
        ("red_flags", json!(["feeling_sad"]), "red_flags[0]"),
        // Either may be left out, but neither is sent as null.
        ("screening", json!(null), "screening"),
        ("red_flags", json!(null), "red_flags"),
        // The deprecated checklist beside the questionnaire that replaces it.
        ("red_flags", json!(["head_injury"]), "red_flags"),
        (
            "screening",
            json!({"questionnaire_version": 99, "answers": {}}),
            "screening.questionnaire_version",
        ),
        (
            "screening",
            json!({"questionnaire_version": 1, "answers": {"head_impact": true}}),
            "screening.answers.exertional_chest_symptoms",
        ),
        ("onset_date", json!(two_days_on), "onset_date"),
        ("onset_date", json!("last week"), "onset_date"),
        ("description", json!("   "), "description"),
        ("description", json!("x".repeat(2001)), "description"),
        (
            "consent",
            json!({"obtained": false, "method": "verbal"}),
            "consent.obtained",
        ),
        (
            "consent",
            json!({"obtained": true, "method": "telepathy"}),
            "consent.method",
        ),
    ];
    for (key, value, field) in cases {
        let mut report = ReferralApp::report(&trainer);
        report[key] = value;
        let refused = problem(
            app.post("/v1/injury-reports", &trainer.token, &report)
                .await,
            422,
        )
        .await;
        let fields: Vec<&str> = refused["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "{key}: expected {field}, got {fields:?}"
        );
    }
    let mut missing = ReferralApp::report(&trainer);
    missing.as_object_mut().unwrap().remove("consent");
    let refused = problem(
        app.post("/v1/injury-reports", &trainer.token, &missing)
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "consent");
    // Neither the questionnaire nor the deprecated checklist: nothing was
    // screened, and nothing is assumed.
    let mut unscreened = ReferralApp::report(&trainer);
    unscreened.as_object_mut().unwrap().remove("screening");
    let refused = problem(
        app.post("/v1/injury-reports", &trainer.token, &unscreened)
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "screening");
    for table in [
        "referrals",
        "injury_reports",
        "screenings",
        "deadlines",
        "referral_timeline",
        "audit_log",
        "outbox",
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n FROM {table}"))
                .await,
            0,
            "{table}"
        );
    }

    // No profile yet: the referral could not be matched to any clinic.
    let newcomer_id = uuid::Uuid::now_v7();
    let newcomer = app
        .auth
        .token(spotter_auth::Role::Trainer, newcomer_id, None);
    let client = body(
        app.post("/v1/clients", &newcomer, &json!({"display_name": "New"}))
            .await,
        201,
    )
    .await;
    let mut report = ReferralApp::report(&trainer);
    report["client_id"] = client["id"].clone();
    problem(
        app.post("/v1/injury-reports", &newcomer, &report).await,
        409,
    )
    .await;
}

#[tokio::test]
async fn clients_are_their_trainers_only() {
    let app = ReferralApp::start().await;
    let mine = app.trainer().await;
    let theirs = app.trainer().await;
    body(
        app.get(&format!("/v1/clients/{}", mine.client), &mine.token)
            .await,
        200,
    )
    .await;
    problem(
        app.get(&format!("/v1/clients/{}", mine.client), &theirs.token)
            .await,
        404,
    )
    .await;
    let list = body(app.get("/v1/clients", &theirs.token).await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], theirs.client.to_string());
    let bad = problem(
        app.post(
            "/v1/clients",
            &mine.token,
            &json!({"display_name": "A", "email": "nope"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "email");
}

#[tokio::test]
async fn a_retried_client_post_makes_one_client_and_a_key_is_per_route() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let before = app.count("SELECT count(*) AS n FROM clients").await;
    let new = json!({"display_name": "Robin"});
    let first = body(
        app.post_once("/v1/clients", &trainer.token, "c-1", &new)
            .await,
        201,
    )
    .await;
    let retry = body(
        app.post_once("/v1/clients", &trainer.token, "c-1", &new)
            .await,
        201,
    )
    .await;
    assert_eq!(first["id"], retry["id"]);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM clients").await,
        before + 1
    );
    // The same key and body on another route is not a replay of this one.
    let report = ReferralApp::report(&trainer);
    let refused = problem(
        app.post_once("/v1/injury-reports", &trainer.token, "c-1", &report)
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "Idempotency-Key");
    let bad_key = problem(
        app.post_once("/v1/clients", &trainer.token, "", &new).await,
        422,
    )
    .await;
    assert_eq!(bad_key["errors"][0]["field"], "Idempotency-Key");
}
