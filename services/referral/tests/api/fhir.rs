//! The FHIR R4 views: what each resource says of a referral, and that they
//! keep the JSON API's access rules (health detail for the trainer and the
//! treating physio only; everyone else a 404, recorded). That the JSON is
//! valid FHIR R4 is checked from outside by a FHIR library
//! (tests/contract/fhir_check.py), not here.

use crate::support::{ReferralApp, body, guidance};
use serde_json::{Value, json};
use spotter_auth::Role;
use uuid::Uuid;

/// Asserts a FHIR JSON answer with `status` and returns it.
async fn fhir(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/fhir+json"
    );
    body(response, status).await
}

/// A 404 that is an OperationOutcome, as FHIR clients expect.
async fn not_found(response: reqwest::Response) {
    let outcome = fhir(response, 404).await;
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["code"], "not-found");
}

fn of_type<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn guidance_v2() -> Value {
    let mut next = guidance();
    next["avoid"] = json!([{"pattern": "jump_landing", "max_load_kg": 20, "reason": "not yet"}]);
    next.as_object_mut().unwrap().remove("review_on");
    next
}

#[tokio::test]
async fn the_trainer_and_the_physio_read_the_whole_course_as_fhir() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    body(app.post(&path, &physio, &guidance()).await, 201).await;
    body(app.post(&path, &physio, &guidance_v2()).await, 201).await;

    for token in [&trainer.token, &physio] {
        let request = fhir(
            app.get(&format!("/fhir/r4/ServiceRequest/{id}"), token)
                .await,
            200,
        )
        .await;
        assert_eq!(request["status"], "active");
        assert_eq!(request["priority"], "routine");
        assert_eq!(
            request["requester"]["reference"],
            format!("Practitioner/{}", trainer.id)
        );
        assert_eq!(
            request["performer"][0]["reference"],
            format!("Practitioner/{}", booked.physio)
        );
        assert_eq!(
            request["subject"]["reference"],
            format!("Patient/{}", trainer.client)
        );
        assert_eq!(request["subject"]["display"], "Jo Client");
        // The report's knee, as SNOMED CT's knee region structure.
        assert_eq!(request["bodySite"][0]["coding"][0]["code"], "72696002");
        assert_eq!(request["bodySite"][0]["text"], "knee, side: left");
        assert_eq!(
            request["reasonCode"][0]["text"],
            "pain on the inside of the knee after sessions"
        );
    }

    let bundle = fhir(
        app.get(
            &format!("/fhir/r4/ServiceRequest/{id}/$everything"),
            &physio,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["entry"][0]["search"]["mode"], "match");
    assert!(
        bundle["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/fhir/r4/ServiceRequest/{id}"))
    );
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "ServiceRequest",
            "Task",
            "Appointment",
            "Consent",
            "QuestionnaireResponse",
            "CarePlan",
            "CarePlan"
        ]
    );

    let task = &of_type(&bundle, "Task")[0];
    assert_eq!(task["status"], "in-progress");
    assert_eq!(task["businessStatus"]["text"], "guidance_shared");
    // The trainer's acknowledgement of version 2 is awaited.
    assert_eq!(
        task["input"][0]["type"]["coding"][0]["code"],
        "acknowledgement"
    );

    let visit = &of_type(&bundle, "Appointment")[0];
    assert_eq!(visit["id"], booked.appointment.to_string());
    assert_eq!(visit["status"], "fulfilled");
    assert_eq!(
        visit["participant"][0]["actor"]["reference"],
        format!("Practitioner/{}", booked.physio)
    );

    let plans = of_type(&bundle, "CarePlan");
    let (first, second) = (plans[0], plans[1]);
    assert_eq!(first["status"], "completed");
    assert_eq!(second["status"], "active");
    assert_eq!(
        second["replaces"][0]["reference"],
        format!("CarePlan/{}", first["id"].as_str().unwrap())
    );
    // Version 1: the exercise, the avoided movement, then the review.
    let activity = first["activity"].as_array().unwrap();
    assert_eq!(
        activity[0]["detail"]["code"]["text"],
        "terminal knee extension"
    );
    assert_eq!(
        activity[0]["detail"]["scheduledTiming"]["repeat"]["frequency"],
        5
    );
    assert_eq!(activity[1]["detail"]["doNotPerform"], true);
    assert_eq!(activity[1]["detail"]["code"]["text"], "deep squats");
    assert_eq!(
        activity[1]["detail"]["reasonCode"][0]["text"],
        "loads the healing ligament"
    );
    assert_eq!(activity[2]["detail"]["kind"], "Appointment");
    assert_eq!(first["period"]["end"], guidance()["review_on"]);
    // Version 2: a pattern avoided above a load, no review.
    let avoided = &second["activity"][1]["detail"];
    assert_eq!(avoided["code"]["coding"][0]["code"], "jump_landing");
    assert_eq!(avoided["description"], "Above 20 kg");
    assert!(second["period"].get("end").is_none());

    let consent = &of_type(&bundle, "Consent")[0];
    assert_eq!(consent["status"], "active");
    let answers = &of_type(&bundle, "QuestionnaireResponse")[0];
    assert_eq!(
        answers["basedOn"][0]["reference"],
        format!("ServiceRequest/{id}")
    );

    // Each included resource reads on its own, and says the same.
    for entry in bundle["entry"].as_array().unwrap() {
        let url = entry["fullUrl"].as_str().unwrap();
        let path = &url[url.find("/fhir/r4/").unwrap()..];
        let read = fhir(app.get(path, &physio).await, 200).await;
        assert_eq!(read, entry["resource"], "{path}");
    }
    // Every read of health detail is on the record.
    let reads = |action: &str| {
        format!(
            "SELECT count(*) AS n FROM audit_log WHERE referral_id = '{id}' AND action = '{action}' AND actor_id = '{}'",
            booked.physio
        )
    };
    // The physio's: the request, the bundle, the request, consent and
    // answers again; the bundle and both plans.
    assert_eq!(app.count(&reads("injury_report.read")).await, 5);
    assert_eq!(app.count(&reads("guidance.read")).await, 3);
}

#[tokio::test]
async fn a_clinic_admin_reads_the_workflow_without_health_detail() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    let shared = body(app.post(&path, &physio, &guidance()).await, 201).await;
    let admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(booked.clinic));

    let request = fhir(
        app.get(&format!("/fhir/r4/ServiceRequest/{id}"), &admin)
            .await,
        200,
    )
    .await;
    for health in ["bodySite", "reasonCode", "note", "supportingInfo"] {
        assert!(
            request.get(health).is_none(),
            "{health} shown to the clinic"
        );
    }
    assert!(request["subject"].get("display").is_none());
    fhir(app.get(&format!("/fhir/r4/Task/{id}"), &admin).await, 200).await;
    fhir(
        app.get(
            &format!("/fhir/r4/Appointment/{}", booked.appointment),
            &admin,
        )
        .await,
        200,
    )
    .await;
    for path in [
        format!("/fhir/r4/Consent/{id}"),
        format!("/fhir/r4/QuestionnaireResponse/{id}"),
        format!("/fhir/r4/CarePlan/{}", shared["id"].as_str().unwrap()),
    ] {
        not_found(app.get(&path, &admin).await).await;
    }
    let bundle = fhir(
        app.get(&format!("/fhir/r4/ServiceRequest/{id}/$everything"), &admin)
            .await,
        200,
    )
    .await;
    let kinds: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ServiceRequest", "Task", "Appointment"]);
    let health_reads = format!(
        "SELECT count(*) AS n FROM audit_log WHERE referral_id = '{id}' AND actor_role = 'clinic_admin' AND action <> 'referral.access_refused'"
    );
    assert_eq!(app.count(&health_reads).await, 0);
}

#[tokio::test]
async fn no_one_else_reaches_a_referral_through_fhir() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}/guidance");
    let shared = body(app.post(&path, &physio, &guidance()).await, 201).await;
    let plan = shared["id"].as_str().unwrap().to_owned();
    let routes = [
        format!("/fhir/r4/ServiceRequest/{id}"),
        format!("/fhir/r4/ServiceRequest/{id}/$everything"),
        format!("/fhir/r4/Task/{id}"),
        format!("/fhir/r4/Consent/{id}"),
        format!("/fhir/r4/QuestionnaireResponse/{id}"),
        format!("/fhir/r4/CarePlan/{plan}"),
        format!("/fhir/r4/Appointment/{}", booked.appointment),
    ];
    let others = [
        app.trainer().await.token,
        app.auth
            .token(Role::Physio, Uuid::now_v7(), Some(booked.clinic)),
        app.auth
            .token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7())),
    ];
    let refusals = format!(
        "SELECT count(*) AS n FROM audit_log WHERE referral_id = '{id}' AND action = 'referral.access_refused'"
    );
    let before = app.count(&refusals).await;
    for token in &others {
        for route in &routes {
            not_found(app.get(route, token).await).await;
        }
    }
    assert_eq!(
        app.count(&refusals).await - before,
        (others.len() * routes.len()) as i64
    );

    // No token: a 401 OperationOutcome that says how to authenticate.
    let anonymous = app.anonymous(reqwest::Method::GET, &routes[0]).await;
    assert_eq!(
        anonymous.headers().get("www-authenticate").unwrap(),
        "Bearer"
    );
    let outcome = fhir(anonymous, 401).await;
    assert_eq!(outcome["issue"][0]["code"], "login");
    // An id that is none of ours names nothing.
    not_found(
        app.get("/fhir/r4/ServiceRequest/not-a-uuid", &trainer.token)
            .await,
    )
    .await;
    not_found(
        app.get(
            &format!("/fhir/r4/CarePlan/{}", Uuid::now_v7()),
            &trainer.token,
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn withdrawn_consent_reads_inactive_and_the_referral_revoked() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, _, physio) = app.booked(&trainer).await;
    let cancel = format!("/v1/referrals/{id}/cancel");
    body(
        app.post(
            &cancel,
            &trainer.token,
            &json!({"reason": "consent_withdrawn"}),
        )
        .await,
        200,
    )
    .await;

    let consent = fhir(
        app.get(&format!("/fhir/r4/Consent/{id}"), &trainer.token)
            .await,
        200,
    )
    .await;
    assert_eq!(consent["status"], "inactive");
    let request = fhir(
        app.get(&format!("/fhir/r4/ServiceRequest/{id}"), &trainer.token)
            .await,
        200,
    )
    .await;
    assert_eq!(request["status"], "revoked");
    let task = fhir(
        app.get(&format!("/fhir/r4/Task/{id}"), &trainer.token)
            .await,
        200,
    )
    .await;
    assert_eq!(task["status"], "cancelled");
    // The physio's access ended with the consent.
    not_found(
        app.get(&format!("/fhir/r4/ServiceRequest/{id}"), &physio)
            .await,
    )
    .await;
}

#[tokio::test]
async fn the_capability_statement_names_what_is_served() {
    let app = ReferralApp::start().await;
    let statement = fhir(
        app.anonymous(reqwest::Method::GET, "/fhir/r4/metadata")
            .await,
        200,
    )
    .await;
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["fhirVersion"], "4.0.1");
    let trainer = app.trainer().await;
    let document = body(
        app.anonymous(reqwest::Method::GET, "/openapi.json").await,
        200,
    )
    .await;
    let paths = document["paths"].as_object().unwrap();
    for resource in statement["rest"][0]["resource"].as_array().unwrap() {
        let kind = resource["type"].as_str().unwrap();
        // Each type it names has a read route of its own (documented).
        assert!(
            paths.contains_key(&format!("/fhir/r4/{kind}/{{id}}")),
            "{kind} is not served"
        );
    }
    // What is referenced but not served answers as FHIR too.
    not_found(
        app.get(
            &format!("/fhir/r4/Patient/{}", Uuid::now_v7()),
            &trainer.token,
        )
        .await,
    )
    .await;
}
