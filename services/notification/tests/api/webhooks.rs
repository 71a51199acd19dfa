//! Webhooks to a clinic's own systems, against a receiver on this machine
//! whose requests the Standard Webhooks reference library verifies: who
//! may manage them, what is refused, signatures, retries, the timeout,
//! `Retry-After`, no redirects, rotation, redelivery, and turning off an
//! endpoint that fails for a day (its clock moved in the database).

use crate::notifications::{booked, people};
use crate::support::receiver::{Receiver, verify};
use diesel_async::SimpleAsyncConnection;
use notification_service::Notification;
use notification_service::webhooks::endpoints::subscribed;
use notification_service::webhooks::events::{ClinicEvent, WebhookType};
use serde_json::{Value, json};
use spotter_auth::Role;
use spotter_contracts::referral::v1::GuidanceShared;
use spotter_service::testing::plans_of;
use spotter_service::testing::service::{TestService, body, problem};
use uuid::Uuid;

type App = TestService<Notification>;

/// The receiver runs on this machine: the test setting allows it, and a
/// 1 s timeout keeps the slow receiver's test short.
async fn app() -> App {
    App::start_with(|s| {
        s.webhooks.allow_private_addresses = true;
        s.webhooks.timeout_seconds = 1;
    })
    .await
}

/// A clinic of the test's own and a token of one of its admins.
fn a_clinic(app: &App) -> (Uuid, String) {
    let clinic = Uuid::now_v7();
    let admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic));
    (clinic, admin)
}

fn hooks(clinic: Uuid) -> String {
    format!("/admin/v1/clinics/{clinic}/webhooks")
}

/// Registers `url` for `types`; the endpoint and its secret.
async fn register(
    app: &App,
    admin: &str,
    clinic: Uuid,
    url: &str,
    types: Value,
) -> (Value, String) {
    let made = body(
        app.post(
            &hooks(clinic),
            admin,
            &json!({"url": url, "event_types": types}),
        )
        .await,
        201,
    )
    .await;
    let secret = made["secret"].as_str().unwrap().to_owned();
    (made["endpoint"].clone(), secret)
}

async fn log(app: &App, admin: &str, clinic: Uuid, endpoint: &Value) -> Vec<Value> {
    let path = format!(
        "{}/{}/deliveries",
        hooks(clinic),
        endpoint["id"].as_str().unwrap()
    );
    body(app.get(&path, admin).await, 200).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn test_send(app: &App, admin: &str, clinic: Uuid, endpoint: &Value) -> Value {
    let path = format!(
        "{}/{}/test",
        hooks(clinic),
        endpoint["id"].as_str().unwrap()
    );
    body(app.post(&path, admin, &json!({})).await, 202).await
}

#[tokio::test]
async fn a_clinic_admin_manages_its_endpoints_and_bad_ones_are_refused() {
    // The shipped setting: https to public addresses only.
    let app = App::start().await;
    let (clinic, admin) = a_clinic(&app);
    let (endpoint, secret) = register(
        &app,
        &admin,
        clinic,
        "https://ehr.example.org/spotter",
        json!(["appointment.booked", "guidance.shared"]),
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    assert_eq!(endpoint["enabled"], true);
    let listed = body(app.get(&hooks(clinic), &admin).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&secret),
        "a secret is shown once only"
    );

    let one = format!("{}/{}", hooks(clinic), endpoint["id"].as_str().unwrap());
    let changed = body(
        app.patch(
            &one,
            &admin,
            &json!({"event_types": ["referral.overdue"], "description": "EHR"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["event_types"], json!(["referral.overdue"]));
    assert_eq!(changed["description"], "EHR");

    let refused = [
        (
            json!({"url": "http://ehr.example.org/x", "event_types": ["appointment.booked"]}),
            "url",
        ),
        (
            json!({"url": "https://127.0.0.1/x", "event_types": ["appointment.booked"]}),
            "url",
        ),
        (
            json!({"url": "https://localhost:8443/x", "event_types": ["appointment.booked"]}),
            "url",
        ),
        (
            json!({"url": "https://169.254.169.254/latest", "event_types": ["appointment.booked"]}),
            "url",
        ),
        (
            json!({"url": "https://10.0.0.7/x", "event_types": ["appointment.booked"]}),
            "url",
        ),
        (
            json!({"url": "https://[::1]/x", "event_types": ["appointment.booked"]}),
            "url",
        ),
        (
            json!({"url": "https://ehr.example.org/x", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://ehr.example.org/x", "event_types": ["guidance.shared", "guidance.shared"]}),
            "event_types[1]",
        ),
        (
            json!({"url": "https://ehr.example.org/x", "event_types": ["pain.reported"]}),
            "event_types[0]",
        ),
    ];
    for (request, field) in refused {
        let answer = problem(app.post(&hooks(clinic), &admin, &request).await, 422).await;
        assert_eq!(answer["errors"][0]["field"], field, "{request}");
    }
    let private = problem(
        app.patch(&one, &admin, &json!({"url": "https://192.168.0.10/x"}))
            .await,
        422,
    )
    .await;
    assert_eq!(private["errors"][0]["field"], "url");
    // Nothing refused was stored or changed.
    let listed = body(app.get(&hooks(clinic), &admin).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["url"], "https://ehr.example.org/spotter");

    let deleted = app.send(reqwest::Method::DELETE, &one, &admin, None).await;
    assert_eq!(deleted.status(), 204);
    problem(app.get(&one, &admin).await, 404).await;
}

/// Every route under one endpoint (`one`), naming `message` to redeliver.
fn endpoint_routes(one: &str, message: &str) -> Vec<(reqwest::Method, String)> {
    vec![
        (reqwest::Method::GET, one.to_owned()),
        (reqwest::Method::PATCH, one.to_owned()),
        (reqwest::Method::DELETE, one.to_owned()),
        (reqwest::Method::POST, format!("{one}/rotate-secret")),
        (reqwest::Method::POST, format!("{one}/test")),
        (reqwest::Method::GET, format!("{one}/deliveries")),
        (
            reqwest::Method::POST,
            format!("{one}/messages/{message}/redeliver"),
        ),
    ]
}

#[tokio::test]
async fn no_one_but_the_clinic_s_admins_reaches_its_webhooks() {
    let app = app().await;
    let (clinic, admin) = a_clinic(&app);
    let (endpoint, _) = register(
        &app,
        &admin,
        clinic,
        "http://127.0.0.1:9/x",
        json!(["appointment.booked"]),
    )
    .await;
    let one = format!("{}/{}", hooks(clinic), endpoint["id"].as_str().unwrap());
    let test = body(
        app.post(&format!("{one}/test"), &admin, &json!({})).await,
        202,
    )
    .await;
    let message = test["message_id"].as_str().unwrap();
    let mut routes = vec![
        (reqwest::Method::GET, hooks(clinic)),
        (reqwest::Method::POST, hooks(clinic)),
    ];
    routes.extend(endpoint_routes(&one, message));
    let body_of = |method: &reqwest::Method| {
        (*method == reqwest::Method::POST || *method == reqwest::Method::PATCH)
            .then(|| json!({"url": "http://127.0.0.1:9/y", "event_types": ["appointment.booked"]}))
    };
    let another_clinic = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    let physio = app.auth.token(Role::Physio, Uuid::now_v7(), Some(clinic));
    for (method, path) in &routes {
        let answer = app
            .send(
                method.clone(),
                path,
                &another_clinic,
                body_of(method).as_ref(),
            )
            .await;
        assert_eq!(answer.status(), 404, "{method} {path}");
        let answer = app
            .send(method.clone(), path, &physio, body_of(method).as_ref())
            .await;
        assert_eq!(answer.status(), 403, "{method} {path}");
        let answer = app.anonymous(method.clone(), path).await;
        assert_eq!(answer.status(), 401, "{method} {path}");
    }
    // Another clinic's admin under their own clinic's path, naming this
    // clinic's endpoint and message: nothing either.
    let theirs = Uuid::now_v7();
    let their_admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(theirs));
    let borrowed = format!("{}/{}", hooks(theirs), endpoint["id"].as_str().unwrap());
    for (method, path) in endpoint_routes(&borrowed, message) {
        let answer = app
            .send(
                method.clone(),
                &path,
                &their_admin,
                body_of(&method).as_ref(),
            )
            .await;
        assert_eq!(answer.status(), 404, "{method} {path}");
    }
    // Still there, unchanged.
    let still = body(app.get(&one, &admin).await, 200).await;
    assert_eq!(still["url"], "http://127.0.0.1:9/x");
}

#[tokio::test]
async fn an_event_reaches_the_subscribed_endpoints_signed_and_is_retried_under_one_id() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let p = people();
    let admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(p.clinic));
    let (flaky, secret) = register(
        &app,
        &admin,
        p.clinic,
        &receiver.url("/flaky"),
        json!(["appointment.booked"]),
    )
    .await;
    let (other_type, _) = register(
        &app,
        &admin,
        p.clinic,
        &receiver.url("/ok"),
        json!(["guidance.shared"]),
    )
    .await;
    let elsewhere = Uuid::now_v7();
    let elsewhere_admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(elsewhere));
    register(
        &app,
        &elsewhere_admin,
        elsewhere,
        &receiver.url("/ok"),
        json!(["appointment.booked"]),
    )
    .await;

    let event = booked(&p, false);
    app.publish(&event).await;
    // A 500, then (5 s later, give or take the jitter) a 204.
    let got = receiver.wait_for("/flaky", 2).await;
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    assert_ne!(got[0].headers["webhook-timestamp"], "");
    assert_eq!(verify(&secret, &got), [None, None]);
    let sent: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(sent["type"], "appointment.booked");
    assert_eq!(sent["data"]["appointment_id"], event.appointment_id);
    assert_eq!(sent["data"]["clinic_id"], p.clinic.to_string());
    let data_keys: Vec<&str> = sent["data"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        data_keys,
        [
            "appointment_id",
            "clinic_id",
            "ends_at",
            "kind",
            "physio_id",
            "referral_id",
            "starts_at"
        ]
    );
    // The other clinic and the other type planned nothing.
    assert!(receiver.all("/ok").is_empty());
    let other = format!(
        "SELECT count(*) AS n FROM webhook_messages WHERE endpoint_id = '{}'",
        other_type["id"].as_str().unwrap()
    );
    assert_eq!(app.count(&other).await, 0);

    let entries = log(&app, &admin, p.clinic, &flaky).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["status"], "delivered");
    assert_eq!(entry["webhook_id"], got[0].headers["webhook-id"]);
    assert_eq!(entry["attempts"][0]["outcome"], "retry");
    assert_eq!(entry["attempts"][0]["http_status"], 500);
    assert!(
        entry["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("receiver down")
    );
    assert_eq!(entry["attempts"][1]["outcome"], "delivered");
    assert_eq!(entry["attempts"][1]["http_status"], 204);

    // Sent again by hand: the same message, the same webhook-id.
    let again = format!(
        "{}/{}/messages/{}/redeliver",
        hooks(p.clinic),
        flaky["id"].as_str().unwrap(),
        entry["message_id"].as_str().unwrap()
    );
    assert_eq!(app.post(&again, &admin, &json!({})).await.status(), 202);
    let got = receiver.wait_for("/flaky", 3).await;
    assert_eq!(got[2].headers["webhook-id"], got[0].headers["webhook-id"]);
    assert_eq!(verify(&secret, &got[2..]), [None]);
}

#[tokio::test]
async fn guidance_shared_reaches_the_clinic_it_is_booked_with() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let p = people();
    let admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(p.clinic));
    let (_, secret) = register(
        &app,
        &admin,
        p.clinic,
        &receiver.url("/ok"),
        json!(["guidance.shared"]),
    )
    .await;
    app.publish(&GuidanceShared {
        referral_id: Uuid::now_v7().to_string(),
        guidance_id: Uuid::now_v7().to_string(),
        version: 2,
        trainer_id: p.trainer.to_string(),
        physio_id: p.physio.to_string(),
        clinic_id: p.clinic.to_string(),
        review_on: "2026-12-24".into(),
        ..Default::default()
    })
    .await;
    let got = receiver.wait_for("/ok", 1).await;
    assert_eq!(verify(&secret, &got), [None]);
    let sent: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(sent["type"], "guidance.shared");
    assert_eq!(sent["data"]["version"], 2);
    assert_eq!(sent["data"]["review_on"], "2026-12-24");
    // Codes and ids only: the clearance is the guidance's content.
    assert!(sent["data"].get("clearance").is_none());
}

#[tokio::test]
async fn a_slow_answer_times_out_retry_after_is_honoured_and_redirects_are_not_followed() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (clinic, admin) = a_clinic(&app);
    let any = json!(["appointment.booked"]);
    let (slow, _) = register(&app, &admin, clinic, &receiver.url("/slow"), any.clone()).await;
    let (busy, _) = register(&app, &admin, clinic, &receiver.url("/busy"), any.clone()).await;
    let (redirect, _) = register(&app, &admin, clinic, &receiver.url("/redirect"), any).await;
    for endpoint in [&slow, &busy, &redirect] {
        test_send(&app, &admin, clinic, endpoint).await;
    }
    receiver.wait_for("/slow", 2).await;
    receiver.wait_for("/busy", 2).await;
    receiver.wait_for("/redirect", 2).await;
    let first = |entries: Vec<Value>| entries[0]["attempts"][0].clone();

    let timed_out = first(log(&app, &admin, clinic, &slow).await);
    assert_eq!(timed_out["outcome"], "retry");
    assert_eq!(timed_out["http_status"], Value::Null);
    assert_eq!(timed_out["error"], "no answer within the timeout");

    let told_to_wait = first(log(&app, &admin, clinic, &busy).await);
    assert_eq!(told_to_wait["http_status"], 503);
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let waited = at(&told_to_wait["retry_at"]) - at(&told_to_wait["attempted_at"]);
    assert!(
        (900..2000).contains(&waited.num_milliseconds()),
        "Retry-After: 1 gave a wait of {waited}"
    );

    let moved = first(log(&app, &admin, clinic, &redirect).await);
    assert_eq!(moved["outcome"], "retry");
    assert_eq!(moved["http_status"], 302);
    assert!(receiver.all("/ok").is_empty(), "a redirect was followed");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (clinic, admin) = a_clinic(&app);
    let (endpoint, old) = register(
        &app,
        &admin,
        clinic,
        &receiver.url("/ok"),
        json!(["appointment.booked"]),
    )
    .await;
    let one = format!("{}/{}", hooks(clinic), endpoint["id"].as_str().unwrap());
    let rotated = body(
        app.post(&format!("{one}/rotate-secret"), &admin, &json!({}))
            .await,
        200,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["endpoint"]["previous_secret_valid_until"].is_string());

    test_send(&app, &admin, clinic, &endpoint).await;
    let got = receiver.wait_for("/ok", 1).await;
    assert_eq!(got[0].headers["webhook-signature"].split(' ').count(), 2);
    assert_eq!(verify(&old, &got), [None]);
    assert_eq!(verify(&new, &got), [None]);
    let stranger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(verify(stranger, &got)[0].is_some(), "any secret would do");

    // The overlap ends: only the new secret signs.
    app.execute(&format!(
        "UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second' WHERE id = '{}'",
        endpoint["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    test_send(&app, &admin, clinic, &endpoint).await;
    let got = receiver.wait_for("/ok", 2).await;
    assert_eq!(verify(&new, &got[1..]), [None]);
    assert!(verify(&old, &got[1..])[0].is_some());
}

#[tokio::test]
async fn an_endpoint_failing_for_a_day_is_turned_off_and_its_admins_told() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (clinic, admin) = a_clinic(&app);
    let (endpoint, _) = register(
        &app,
        &admin,
        clinic,
        &receiver.url("/fail"),
        json!(["appointment.booked"]),
    )
    .await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let one = format!("{}/{id}", hooks(clinic));

    test_send(&app, &admin, clinic, &endpoint).await;
    receiver.wait_for("/fail", 1).await;
    let failing = body(app.get(&one, &admin).await, 200).await;
    assert!(failing["failing_since"].is_string());
    assert_eq!(failing["enabled"], true);

    // A day of failures: its clock moved back in the database. The message
    // is a day old too, so this attempt is its last.
    app.execute(&format!(
        "UPDATE webhook_endpoints SET failing_since = now() - interval '25 hours' WHERE id = '{id}'"
    ))
    .await
    .unwrap();
    app.execute(&format!(
        "UPDATE webhook_messages SET created_at = now() - interval '25 hours', next_attempt_at = now() \
         WHERE endpoint_id = '{id}'"
    ))
    .await
    .unwrap();
    app.execute("SELECT pg_notify('spotter_webhooks', '')")
        .await
        .unwrap();
    receiver.wait_for("/fail", 2).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let off = loop {
        let now = body(app.get(&one, &admin).await, 200).await;
        if now["enabled"] == false {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "still on: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(off["disabled_reason"], "failing");
    let entries = log(&app, &admin, clinic, &endpoint).await;
    assert_eq!(entries[0]["status"], "failed");
    assert_eq!(entries[0]["attempts"][1]["outcome"], "gave_up");
    let told = format!(
        "SELECT count(*) AS n FROM notifications WHERE kind = 'webhook_disabled' AND clinic_id = '{clinic}'"
    );
    assert_eq!(app.count(&told).await, 1);
    // Off means off, until an admin turns it back on.
    problem(
        app.post(&format!("{one}/test"), &admin, &json!({})).await,
        409,
    )
    .await;
    let on = body(
        app.patch(&one, &admin, &json!({"enabled": true})).await,
        200,
    )
    .await;
    assert_eq!(
        (on["enabled"].clone(), on["failing_since"].clone()),
        (json!(true), Value::Null)
    );
}

/// A receiver that is slow to answer holds one of the worker's slots, not
/// the next message of every other endpoint: another endpoint's messages,
/// even one planned while the slow attempt runs, are delivered before it
/// ends.
#[tokio::test]
async fn a_slow_receiver_does_not_hold_back_other_endpoints() {
    let app = App::start_with(|s| {
        s.webhooks.allow_private_addresses = true;
        s.webhooks.timeout_seconds = 10;
    })
    .await;
    let receiver = Receiver::start().await;
    let (clinic, admin) = a_clinic(&app);
    let any = json!(["appointment.booked"]);
    // "/slow" answers its first request after 3 s.
    let (slow, _) = register(&app, &admin, clinic, &receiver.url("/slow"), any.clone()).await;
    let (quick, _) = register(&app, &admin, clinic, &receiver.url("/quick"), any).await;
    test_send(&app, &admin, clinic, &slow).await;
    test_send(&app, &admin, clinic, &quick).await;
    receiver.wait_for("/slow", 1).await;
    test_send(&app, &admin, clinic, &quick).await;
    receiver.wait_for("/quick", 2).await;

    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let slow_answered = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow attempt was never recorded"
        );
        if let Some(attempt) = log(&app, &admin, clinic, &slow).await[0]["attempts"]
            .as_array()
            .and_then(|a| a.first().cloned())
        {
            break at(&attempt["attempted_at"]);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let quick_log = log(&app, &admin, clinic, &quick).await;
    assert_eq!(quick_log.len(), 2);
    for message in &quick_log {
        let delivered = at(&message["attempts"][0]["attempted_at"]);
        assert!(
            delivered < slow_answered,
            "{message} waited for the slow receiver ({slow_answered})"
        );
    }
}

/// Finding who takes an event, once per event, keeps one plan on its
/// connection. Seen as values (an array of one clinic), a fresh plan looked
/// cheaper every time, and the database planned the lookup anew for every
/// event.
#[tokio::test]
async fn finding_the_subscribed_endpoints_keeps_one_plan() {
    let app = App::start().await;
    let (clinic, admin) = a_clinic(&app);
    let (endpoint, _) = register(
        &app,
        &admin,
        clinic,
        "https://ehr.example.org/spotter",
        json!(["appointment.booked"]),
    )
    .await;
    let mut conn = app.db.connection().await.unwrap();
    // A network's endpoints, 2,000 of 400 other clinics, and what the
    // planner knows of them: against these statistics a plan made for an
    // array of two clinics looks cheaper than the kept one, every time.
    conn.batch_execute(
        "INSERT INTO webhook_endpoints (id, clinic_id, url, event_types, secret) \
         SELECT gen_random_uuid(), md5((g % 400)::text)::uuid, 'https://ehr.example.org/x', \
                ARRAY['appointment.booked', 'referral.overdue'], 'whsec_seeded' \
           FROM generate_series(1, 2000) g; \
         ANALYZE webhook_endpoints;",
    )
    .await
    .unwrap();
    let event = |event_type| ClinicEvent {
        event_type,
        clinics: vec![clinic, Uuid::now_v7()],
        timestamp: chrono::Utc::now(),
        data: json!({}),
    };
    for _ in 0..6 {
        let booked = subscribed(&mut conn, &event(WebhookType::AppointmentBooked)).await;
        assert_eq!(
            booked.unwrap(),
            [endpoint["id"].as_str().unwrap().parse::<Uuid>().unwrap()]
        );
        let overdue = subscribed(&mut conn, &event(WebhookType::ReferralOverdue)).await;
        assert_eq!(overdue.unwrap(), Vec::<Uuid>::new());
    }
    let lookup = plans_of(&mut conn, "webhook_endpoints").await.unwrap();
    assert!(
        lookup.kept > 0,
        "planned afresh on all {} runs, never kept a plan",
        lookup.planned_afresh
    );
}
