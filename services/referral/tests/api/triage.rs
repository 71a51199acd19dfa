//! Triage by screening questionnaire (docs/triage.md): the questionnaire
//! served, the answers and version a referral keeps, a doctor's clearance
//! that opens booking, the advice window that closes it otherwise, the
//! return-to-training protocol after a possible concussion, and the
//! deprecated checklist.

use crate::support::{BOOKING_REQUESTS, ReferralApp, TrainerWithClient, body, guidance, problem};
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

/// A report of an acute knee injury the client could not walk on: the
/// Ottawa knee rule sends them to a doctor today.
fn cannot_bear_weight(trainer: &TrainerWithClient) -> Value {
    let mut report = ReferralApp::report(trainer);
    let answers = &mut report["screening"]["answers"];
    answers["onset"] = json!("sudden_during_movement");
    answers["suspected_fracture"] = json!(false);
    answers["unable_to_bear_weight"] = json!(true);
    answers["knee_fracture_signs"] = json!(false);
    report
}

/// A head knock with a concussion symptom but no danger sign.
fn possible_concussion(trainer: &TrainerWithClient) -> Value {
    let mut report = ReferralApp::report_on(trainer, "neck");
    let answers = &mut report["screening"]["answers"];
    answers["head_impact"] = json!(true);
    answers["head_impact_danger_signs"] = json!(false);
    answers["concussion_symptoms"] = json!(true);
    report
}

async fn flag(app: &ReferralApp, trainer: &TrainerWithClient, report: &Value) -> Value {
    body(
        app.post("/v1/injury-reports", &trainer.token, report).await,
        201,
    )
    .await
}

fn id_of(created: &Value) -> Uuid {
    created["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_questionnaire_is_served_and_a_released_version_never_changes() {
    let app = ReferralApp::start().await;
    let current = app
        .anonymous(reqwest::Method::GET, "/v1/triage/questionnaire")
        .await;
    assert_eq!(current.status(), 200, "public, like the vocabulary");
    assert!(
        current.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("public")
    );
    let current: Value = current.json().await.unwrap();
    assert_eq!(current["version"], 1);
    assert!(
        current["disclaimer"]
            .as_str()
            .unwrap()
            .contains("not a diagnosis")
    );
    let items = current["items"].as_array().unwrap();
    let item = |id: &str| items.iter().find(|i| i["link_id"] == id).unwrap().clone();
    // A follow-up question says when it is asked.
    assert_eq!(
        item("concussion_symptoms")["enable_when"],
        json!([{"question": "head_impact", "one_of": [true]}])
    );
    assert_eq!(
        item("cancer_history")["enable_when"][0]["question"],
        "report.body_region"
    );
    let onset = item("onset");
    assert_eq!(onset["type"], "choice");
    assert_eq!(onset["options"][0]["code"], "gradual");
    assert!(!item("head_impact")["help"].as_str().unwrap().is_empty());
    let dispositions: Vec<&Value> = current["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["disposition"])
        .collect();
    assert_eq!(
        dispositions,
        [
            &json!("emergency_now"),
            &json!("see_doctor_today"),
            &json!("physio"),
            &json!("physio")
        ]
    );

    let pinned = app
        .anonymous(reqwest::Method::GET, "/v1/triage/questionnaire/1")
        .await;
    assert!(
        pinned.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(pinned.json::<Value>().await.unwrap(), current);
    for unknown in ["2", "0", "one"] {
        let path = format!("/v1/triage/questionnaire/{unknown}");
        let missing = app.anonymous(reqwest::Method::GET, &path).await;
        problem(missing, 404).await;
    }
}

#[tokio::test]
async fn a_referral_keeps_the_answers_and_version_it_was_triaged_with() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let report = cannot_bear_weight(&trainer);
    let created = flag(&app, &trainer, &report).await;
    assert_eq!(created["status"], "doctor_advised");
    assert_eq!(created["priority"], "emergency");
    // Every rule met, most serious first.
    assert_eq!(
        created["triage"]["rules"],
        json!([
            "ottawa_unable_to_bear_weight",
            "acute_injury_with_moderate_pain"
        ])
    );
    assert!(
        created["triage"]["advice"]
            .as_str()
            .unwrap()
            .contains("see a doctor today")
    );
    let id = id_of(&created);

    let detail = app.referral(id, &trainer.token).await;
    let triage = &detail["triage"];
    assert_eq!(triage["questionnaire_version"], 1);
    assert_eq!(triage["source"], "questionnaire");
    assert_eq!(triage["disposition"], "see_doctor_today");
    assert_eq!(triage["answers"], report["screening"]["answers"]);
    // Stored as a FHIR QuestionnaireResponse of that version.
    let stored = format!(
        "SELECT count(*) AS n FROM screenings WHERE referral_id = '{id}' \
         AND response->>'resourceType' = 'QuestionnaireResponse' \
         AND response->>'questionnaire' = 'urn:spotter:questionnaire:injury-screening|1' \
         AND jsonb_array_length(response->'item') = 10"
    );
    assert_eq!(app.count(&stored).await, 1);
    // The view shows what was decided then, never a fresh evaluation: what
    // a later version's rules would say cannot change it.
    app.execute(&format!(
        "UPDATE screenings SET disposition = 'emergency_now', rules = '{{a_later_rule}}' WHERE referral_id = '{id}'"
    ))
    .await
    .unwrap();
    let detail = app.referral(id, &trainer.token).await;
    assert_eq!(detail["triage"]["disposition"], "emergency_now");
    assert_eq!(detail["triage"]["rules"], json!(["a_later_rule"]));

    // Health detail: another trainer does not even learn it exists.
    let other = app.trainer().await;
    problem(
        app.get(&format!("/v1/referrals/{id}"), &other.token).await,
        404,
    )
    .await;
    // Nothing was asked of booking.
    assert_eq!(app.count(BOOKING_REQUESTS).await, 0);
}

#[tokio::test]
async fn a_doctors_clearance_opens_booking_at_the_doctors_urgency() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = id_of(&flag(&app, &trainer, &cannot_bear_weight(&trainer)).await);
    let detail = app.referral(id, &trainer.token).await;
    assert_eq!(detail["awaiting"][0]["awaited"], "medical_clearance");

    let path = format!("/v1/referrals/{id}/medical-clearance");
    let today = Utc::now().date_naive();
    let valid = json!({"cleared_on": today.to_string(), "cleared_by": "Dr A. Jones, GP", "urgency": "urgent"});
    let future = (today + chrono::Duration::days(2)).to_string();
    // The trainer's zone is not known: a date is refused only when it is
    // that date nowhere yet (two days ahead), or before the flag's date
    // everywhere (two days back).
    let before_the_flag = (today - chrono::Duration::days(2)).to_string();
    for (key, value, field) in [
        ("cleared_on", json!(future), "cleared_on"),
        ("cleared_on", json!(before_the_flag), "cleared_on"),
        ("cleared_by", json!("  "), "cleared_by"),
        ("urgency", json!("emergency"), "urgency"),
    ] {
        let mut bad = valid.clone();
        bad[key] = value;
        let refused = problem(app.post(&path, &trainer.token, &bad).await, 422).await;
        assert_eq!(refused["errors"][0]["field"], field, "{key}");
    }
    let other = app.trainer().await;
    problem(app.post(&path, &other.token, &valid).await, 404).await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM medical_clearances")
            .await,
        0
    );

    let cleared = body(app.post(&path, &trainer.token, &valid).await, 200).await;
    assert_eq!(cleared["status"], "awaiting_booking");
    assert_eq!(cleared["priority"], "urgent");
    assert!(!cleared["target_by"].is_null());
    assert_eq!(app.count(BOOKING_REQUESTS).await, 1);
    let detail = app.referral(id, &trainer.token).await;
    let causes: Vec<&Value> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["cause"])
        .collect();
    assert_eq!(
        causes,
        [&json!("injury_reported"), &json!("medically_cleared")]
    );
    // The triage stays what it was; only the booking's urgency is the doctor's.
    assert_eq!(detail["triage"]["disposition"], "see_doctor_today");
    assert_eq!(detail["awaiting"][0]["awaited"], "booking");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM deadlines WHERE subject_id = '{id}'"
        ))
        .await,
        0
    );

    // Once only, and never for a referral triage sent to a physio.
    problem(app.post(&path, &trainer.token, &valid).await, 409).await;
    let physio_referral = app
        .refer(&trainer, &ReferralApp::report_on(&trainer, "hip"))
        .await;
    let path = format!("/v1/referrals/{physio_referral}/medical-clearance");
    problem(app.post(&path, &trainer.token, &valid).await, 409).await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM medical_clearances")
            .await,
        1
    );
}

#[tokio::test]
async fn advice_not_cleared_within_seven_days_closes_the_referral_quietly() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let mut report = ReferralApp::report(&trainer);
    report["screening"]["answers"]["exertional_chest_symptoms"] = json!(true);
    let created = flag(&app, &trainer, &report).await;
    assert_eq!(created["status"], "emergency_advised");
    let id = id_of(&created);
    let in_7_days = format!(
        "SELECT count(*) AS n FROM deadlines WHERE subject_id = '{id}' AND kind = 'medical_clearance' \
         AND due_at BETWEEN now() + interval '6 days 23 hours' AND now() + interval '7 days 1 hour'"
    );
    assert_eq!(app.count(&in_7_days).await, 1);

    app.deadline_falls_due(id).await;
    let closed = app.wait_for_status(id, &trainer.token, "closed").await;
    assert_eq!(closed["timeline"][1]["cause"], "advice_expired");
    assert!(closed["awaiting"].as_array().unwrap().is_empty());
    let clearance = json!({"cleared_on": Utc::now().date_naive().to_string(), "cleared_by": "Dr B", "urgency": "routine"});
    let path = format!("/v1/referrals/{id}/medical-clearance");
    problem(app.post(&path, &trainer.token, &clearance).await, 409).await;
    // Closing tells no one (the trainer was told where to go at the flag),
    // and asks nothing of booking.
    let told = "SELECT count(*) AS n FROM outbox WHERE message_type = 'spotter.referral.v1.DeadlineReached'";
    assert_eq!(app.count(told).await, 0);
    assert_eq!(app.count(BOOKING_REQUESTS).await, 0);
}

#[tokio::test]
async fn a_possible_concussion_carries_the_return_to_training_protocol_until_guidance() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let created = flag(&app, &trainer, &possible_concussion(&trainer)).await;
    assert_eq!(created["status"], "doctor_advised");
    let protocol = &created["triage"]["return_to_training"];
    assert_eq!(protocol["protocol"], "graduated_return_to_sport");
    assert_eq!(protocol["stages"].as_array().unwrap().len(), 6);
    assert!(protocol["rules"][0].as_str().unwrap().contains("24 hours"));
    let id = id_of(&created);
    assert_eq!(
        app.referral(id, &trainer.token).await["triage"]["return_to_training"],
        *protocol
    );

    // Cleared, booked, assessed: the physio's guidance replaces it.
    let path = format!("/v1/referrals/{id}/medical-clearance");
    let clearance = json!({"cleared_on": Utc::now().date_naive().to_string(), "cleared_by": "Dr C, urgent care", "urgency": "routine"});
    body(app.post(&path, &trainer.token, &clearance).await, 200).await;
    let booked = app.book(id, &trainer).await;
    app.wait_for_status(id, &trainer.token, "booked").await;
    // The clinic sees a referral that reached booking, not that triage
    // first sent the client to a doctor.
    let admin = app.auth.token(
        spotter_auth::Role::ClinicAdmin,
        Uuid::now_v7(),
        Some(booked.clinic),
    );
    let seen = app.referral(id, &admin).await;
    assert!(seen["triage"].is_null());
    let timeline = seen["timeline"].to_string();
    assert!(!timeline.contains("doctor_advised"), "{timeline}");
    assert!(!timeline.contains("medically_cleared"), "{timeline}");
    assert_eq!(seen["timeline"][0]["cause"], "injury_reported");
    app.complete(id, &trainer, &booked).await;
    app.wait_for_status(id, &trainer.token, "assessed").await;
    let physio = app.auth.token(
        spotter_auth::Role::Physio,
        booked.physio,
        Some(booked.clinic),
    );
    body(
        app.post(
            &format!("/v1/referrals/{id}/guidance"),
            &physio,
            &guidance(),
        )
        .await,
        201,
    )
    .await;
    let detail = app.referral(id, &trainer.token).await;
    assert!(detail["triage"]["return_to_training"].is_null());
    assert!(!detail["guidance"].is_null());
}

#[tokio::test]
async fn the_deprecated_checklist_goes_through_the_same_rules() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    // Numbness alone now books a physio sooner instead of emergency care.
    let created = flag(
        &app,
        &trainer,
        &ReferralApp::legacy_report(&trainer, json!(["numbness_or_tingling"])),
    )
    .await;
    assert_eq!(created["status"], "awaiting_booking");
    assert_eq!(created["priority"], "urgent");
    assert_eq!(created["triage"]["source"], "legacy_red_flags");
    assert_eq!(created["triage"]["rules"], json!(["stable_nerve_symptoms"]));
    // A head injury the checklist cannot ask about is a possible concussion.
    let mut head = ReferralApp::legacy_report(&trainer, json!(["head_injury"]));
    head["body_region"] = json!("shoulder");
    let created = flag(&app, &trainer, &head).await;
    assert_eq!(created["status"], "doctor_advised");
    assert!(!created["triage"]["return_to_training"].is_null());
    let detail = app.referral(id_of(&created), &trainer.token).await;
    assert_eq!(detail["triage"]["answers"], json!({"head_impact": true}));
}

/// A client sent to a doctor first waits for a physio from the doctor's
/// clearance, not from the flag: the referral's durations, the clinic's
/// timings and the typical-wait estimate other referrals are given all
/// leave out the days with the doctor.
#[tokio::test]
async fn a_cleared_referrals_waits_count_from_the_clearance() {
    use crate::support::{Booked, booked_event};
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let id = id_of(&flag(&app, &trainer, &cannot_bear_weight(&trainer)).await);
    // Three days with the doctor (history the API cannot make any faster).
    app.execute(&format!(
        "UPDATE referrals SET created_at = now() - interval '3 days' WHERE id = '{id}'"
    ))
    .await
    .unwrap();
    let path = format!("/v1/referrals/{id}/medical-clearance");
    let cleared = json!({"cleared_on": Utc::now().date_naive().to_string(), "cleared_by": "Dr A. Jones, GP", "urgency": "urgent"});
    body(app.post(&path, &trainer.token, &cleared).await, 200).await;
    let booked = Booked {
        appointment: Uuid::now_v7(),
        physio: Uuid::now_v7(),
        clinic: Uuid::now_v7(),
    };
    app.publish(&booked_event(id, &trainer, &booked)).await;
    app.wait_for_status(id, &trainer.token, "booked").await;

    let an_hour = 3600;
    let detail = app.referral(id, &trainer.token).await;
    let to_booking = detail["durations"]["to_booking_seconds"].as_i64().unwrap();
    assert!((0..an_hour).contains(&to_booking), "{to_booking}");

    let clinic = app.clinic_referrals(booked.clinic).await;
    let row = &clinic["items"][0];
    assert!(
        (0..an_hour).contains(&row["time_to_book_seconds"].as_i64().unwrap()),
        "{row}"
    );
    let median = clinic["summary"]["time_to_book_median_seconds"]
        .as_f64()
        .unwrap();
    assert!(median < f64::from(an_hour as i32), "{clinic}");

    // The next urgent referral is told the pace of recent bookings: this
    // one took minutes, not three days.
    let next = app.trainer().await;
    let mut urgent = ReferralApp::report(&next);
    urgent["pain_level"] = json!(8);
    let waiting = id_of(&flag(&app, &next, &urgent).await);
    let detail = app.referral(waiting, &next.token).await;
    assert_eq!(detail["priority"], "urgent");
    let typical = detail["booking_queue"]["typical_wait_seconds"]
        .as_i64()
        .unwrap();
    assert!((0..an_hour).contains(&typical), "{typical}");
}
