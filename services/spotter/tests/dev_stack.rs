//! The foundation, as a user of the dev stack meets it: health, auth at every
//! service, problem+json for bad input, one OpenAPI document, readiness that
//! follows the broker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use spotter_auth::Role;
use spotter_auth::testing::TestAuth;
use spotter_messaging::testing::{BrokerRestart, close_connections_named};
use std::time::Duration;
use support::{TestStack, problem};
use uuid::Uuid;

#[tokio::test]
async fn stack_is_live_and_ready_with_every_dependency_checked() {
    let stack = TestStack::start().await;
    let live = stack.client.get(stack.url("/livez")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = stack.wait_for_readiness(200, Duration::from_secs(15)).await;
    for check in [
        "referral.database",
        "referral.broker",
        "booking.database",
        "booking.broker",
        "notification.database",
        "notification.broker",
    ] {
        assert_eq!(ready["checks"][check], "ok", "{ready}");
    }
    let metrics = stack
        .client
        .get(stack.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("spotter_http_requests_total"), "{text}");
}

#[tokio::test]
async fn each_service_accepts_our_tokens_and_refuses_another_key() {
    let stack = TestStack::start().await;
    let trainer = Uuid::now_v7();
    let admin = Uuid::now_v7();
    let trainer_token = stack.token(Role::Trainer, trainer, None);
    let admin_token = stack.token(Role::PlatformAdmin, admin, None);

    // referral: a trainer's own profile
    let profile = json!({"display_name": "Sam", "location": {"lat": 51.5, "lon": -0.12}, "certifications": ["REPs L3"]});
    let put = stack
        .client
        .put(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer_token)
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let got: serde_json::Value = stack
        .client
        .get(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], trainer.to_string());
    assert_eq!(got["location"]["lat"], 51.5);

    // booking: a platform admin creates a clinic
    let clinic = json!({"name": "Knee Clinic", "timezone": "Europe/London", "location": {"lat": 51.5, "lon": -0.1}, "service_radius_km": 10.0, "accepts_referrals": true});
    let created = stack
        .client
        .post(stack.url("/admin/v1/clinics"))
        .bearer_auth(&admin_token)
        .json(&clinic)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // notification: the caller's inbox
    let inbox: serde_json::Value = stack
        .client
        .get(stack.url("/v1/notifications"))
        .bearer_auth(&trainer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["items"], json!([]));

    // The same calls with a token from a key we don't trust.
    let stranger = TestAuth::new();
    let forged = stranger.token(Role::PlatformAdmin, admin, None);
    for (method, path) in [
        (reqwest::Method::GET, "/v1/trainers/me"),
        (reqwest::Method::POST, "/admin/v1/clinics"),
        (reqwest::Method::GET, "/v1/notifications"),
    ] {
        let response = stack
            .client
            .request(method, stack.url(path))
            .bearer_auth(&forged)
            .json(&clinic)
            .send()
            .await
            .unwrap();
        problem(response, 401).await;
    }
}

#[tokio::test]
async fn roles_and_clinics_are_enforced() {
    let stack = TestStack::start().await;
    let admin_token = stack.token(Role::PlatformAdmin, Uuid::now_v7(), None);
    let clinic = json!({"name": "A", "timezone": "Europe/London", "location": {"lat": 51.5, "lon": -0.1}, "service_radius_km": 10.0});
    let created: serde_json::Value = stack
        .client
        .post(stack.url("/admin/v1/clinics"))
        .bearer_auth(&admin_token)
        .json(&clinic)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let clinic_id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/admin/v1/clinics/{clinic_id}");

    let own_admin = stack.token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic_id));
    let response = stack
        .client
        .get(stack.url(&path))
        .bearer_auth(&own_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let other_admin = stack.token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    let response = stack
        .client
        .get(stack.url(&path))
        .bearer_auth(&other_admin)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    let response = stack
        .client
        .get(stack.url(&path))
        .bearer_auth(&trainer)
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let response = stack
        .client
        .post(stack.url("/admin/v1/clinics"))
        .bearer_auth(&own_admin)
        .json(&clinic)
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
}

#[tokio::test]
async fn bad_input_is_problem_json_naming_the_field_and_changes_nothing() {
    let stack = TestStack::start().await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    let admin = stack.token(Role::PlatformAdmin, Uuid::now_v7(), None);

    let response = stack
        .client
        .get(stack.url("/v1/nowhere"))
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    let response = stack
        .client
        .put(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer)
        .header("content-type", "application/json")
        .body("{\"display_name\": ")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;

    let response = stack
        .client
        .put(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer)
        .json(&json!({"display_name": "Sam", "location": {"lat": 123.0, "lon": "east"}}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "location.lon", "{body}");

    let response = stack
        .client
        .put(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer)
        .json(&json!({"display_name": " ", "location": {"lat": 123.0, "lon": 0.0}}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["display_name", "location.lat"]);

    let response = stack
        .client
        .post(stack.url("/admin/v1/clinics"))
        .bearer_auth(&admin)
        .json(&json!({"name": "A", "timezone": "Mars/Olympus", "location": {"lat": 0.0, "lon": 0.0}, "service_radius_km": 10.0}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "timezone");

    // Nothing was written by any of the refused requests.
    let response = stack
        .client
        .get(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    assert_eq!(count_rows(&stack, "booking", "clinics").await, 0);

    let response = stack
        .client
        .get(stack.url("/v1/notifications?limit=500"))
        .bearer_auth(&trainer)
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_before_parsing() {
    let stack = TestStack::start().await;
    let trainer = stack.token(Role::Trainer, Uuid::now_v7(), None);
    // Valid JSON, just too large: the default limit is 64 KiB.
    let padding = "x".repeat(70 * 1024);
    let body = json!({"display_name": padding, "location": {"lat": 0.0, "lon": 0.0}});
    let response = stack
        .client
        .put(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
    let response = stack
        .client
        .get(stack.url("/v1/trainers/me"))
        .bearer_auth(&trainer)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
}

#[tokio::test]
async fn one_openapi_document_covers_every_service() {
    let stack = TestStack::start().await;
    let doc: serde_json::Value = stack
        .client
        .get(stack.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/v1/trainers/me", "/admin/v1/clinics", "/v1/notifications"] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn readiness_follows_the_broker_connection() {
    let stack = TestStack::start().await;
    stack.wait_for_readiness(200, Duration::from_secs(15)).await;
    let closed = close_connections_named(&stack.prefix).unwrap();
    assert_eq!(closed, 3, "one connection per service");
    let down = stack.wait_for_readiness(503, Duration::from_secs(5)).await;
    assert!(
        down["detail"].as_str().unwrap().contains("broker"),
        "{down}"
    );
    stack.wait_for_readiness(200, Duration::from_secs(15)).await;
}

/// A full restart of RabbitMQ: must run alone (`make test-serial`).
#[tokio::test]
#[ignore = "serial: restarts RabbitMQ"]
async fn readiness_follows_a_broker_restart() {
    let stack = TestStack::start().await;
    stack.wait_for_readiness(200, Duration::from_secs(15)).await;
    let _restart = BrokerRestart::stop().unwrap();
    stack.wait_for_readiness(503, Duration::from_secs(10)).await;
    drop(_restart);
    stack.wait_for_readiness(200, Duration::from_secs(30)).await;
}

#[tokio::test]
async fn platform_admins_list_and_replay_each_services_dead_letters() {
    let stack = TestStack::start().await;
    let admin = stack.token(Role::PlatformAdmin, Uuid::now_v7(), None);
    for service in ["referral", "booking", "notification"] {
        let page: serde_json::Value = stack
            .client
            .get(stack.url(&format!("/admin/v1/dead-letters/{service}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"], json!([]), "{service}");
    }
    let clinic_admin = stack.token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    let response = stack
        .client
        .get(stack.url("/admin/v1/dead-letters/booking"))
        .bearer_auth(&clinic_admin)
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let response = stack
        .client
        .get(stack.url("/admin/v1/dead-letters/nobody"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    // A message the booking service's consumer parked earlier.
    let id = Uuid::now_v7();
    let message_id = Uuid::now_v7();
    execute(
        &stack,
        "booking",
        &format!(
            "INSERT INTO dead_letters (id, parking_key, queue, message_id, message_type, routing_key, \
             correlation_id, payload, reason, attempts) VALUES ('{id}', 'k1', '{}booking.referrals', \
             '{message_id}', 'spotter.referral.v1.ReferralRequested', 'referral.referral_requested.v1', \
             'r-1', '\\x0a01', 'permanent: no such clinic', 1)",
            stack.prefix
        ),
    )
    .await;
    let page: serde_json::Value = stack
        .client
        .get(stack.url("/admin/v1/dead-letters/booking"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["id"], id.to_string());
    assert_eq!(page["items"][0]["reason"], "permanent: no such clinic");
    assert!(page["items"][0]["replayed_at"].is_null());

    let replay = stack.url(&format!("/admin/v1/dead-letters/booking/{id}/replay"));
    let response = stack
        .client
        .post(&replay)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let replayed: serde_json::Value = response.json().await.unwrap();
    assert!(replayed["replayed_at"].is_string());
    let response = stack
        .client
        .post(&replay)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(response, 409).await;
    // Another service does not know this id.
    let elsewhere = stack.url(&format!("/admin/v1/dead-letters/referral/{id}/replay"));
    let response = stack
        .client
        .post(&elsewhere)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    // The replay is on its way to the parked message's own queue, not the exchange.
    assert_eq!(
        count_rows(
            &stack,
            "booking",
            &format!("outbox WHERE message_id = '{message_id}' AND exchange = ''"),
        )
        .await,
        1
    );
}

async fn execute(stack: &TestStack, service: &str, sql: &str) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use secrecy::ExposeSecret;
    let url = stack.databases[service]
        .settings
        .url
        .expose_secret()
        .to_owned();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

/// `SELECT count(*) FROM <from_where>` in one service's database.
async fn count_rows(stack: &TestStack, service: &str, from_where: &str) -> i64 {
    use diesel::sql_types::BigInt;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use secrecy::ExposeSecret;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let url = stack.databases[service]
        .settings
        .url
        .expose_secret()
        .to_owned();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let count: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {from_where}"))
        .get_result(&mut conn)
        .await
        .unwrap();
    count.n
}
